# shellcheck shell=bash
# Helpers for the fault tests (tests/integration/8x-*.sh) and the benchmarks
# (bench/*.sh): many machine profiles, a whole-state check, key counts, and a
# TCP relay whose behaviour can be changed while it runs (tests/tools/fault-proxy.py).
#
#   fault_profiles PREFIX N KEY_STORE [EXTRA]  write conf.d/PREFIX.conf with
#                                     N machine profiles PREFIX01..PREFIXnn
#   fault_states                      "id state" per request (sorted)
#   fault_count_state STATE           how many requests are in STATE
#   fault_file_keys DIR               number of *.key files in a file store
#   fault_token_keys                  number of private key objects on SoftHSM
#   fault_check_outputs               every MONITORING request: its cert file
#                                     verifies against the CA and matches its key
#   fault_proxy_start NAME TARGET_PORT  relay 127.0.0.1:$FP_PORT_NAME -> TARGET
#   fault_proxy_mode NAME MODE        pass | down | reset | hang | delay SECS | garbage

fault_profiles() { # PREFIX N KEY_STORE [EXTRA-LINES]
    local prefix=$1 n=$2 store=$3 extra=${4:-} i id
    mkdir -p "$REALM/conf.d"
    : >"$REALM/conf.d/$prefix.conf"
    for i in $(seq 1 "$n"); do
        id=$(printf '%s%02d' "$prefix" "$i")
        cat >>"$REALM/conf.d/$prefix.conf" <<CONF

[profile $id]
kind = machine
ca = test
subject = CN=$id.%{fqdn}
dns = %{fqdn}
key_store = $store
keytab = $REALM/host.keytab
cert_file = $AE_OUT/$id.pem
chain_file = $AE_OUT/$id-chain.pem
$extra
CONF
    done
}

# FIELDS: extra fields printed after id and state (empty if absent)
fault_states() {
    ae --json list 2>/dev/null | /usr/bin/python3 -c 'import json,sys
l=json.load(sys.stdin)
if not isinstance(l, list): sys.exit(1)
for r in sorted(l, key=lambda r: r["id"]):
    print(r["id"], r["state"], *[r.get(f) or "-" for f in sys.argv[1:]])' "$@"
}

fault_count_state() { fault_states | awk -v s="$1" '$2 == s { n++ } END { print n + 0 }'; }

fault_file_keys() { find "$1" -maxdepth 1 -name '*.key' 2>/dev/null | wc -l; }

fault_token_keys() {
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label autoenroll --login \
        --pin "$(cat "$SOFTHSM_PIN_FILE")" --list-objects --type privkey 2>/dev/null |
        grep -c '^Private Key Object'
}

# Prints one line per problem; returns 1 if there was any.
fault_check_outputs() {
    local bad=0 n=0 id state ref store cert pub kpub
    while read -r id state cert ref store; do
        n=$((n + 1))
        [ "$state" = MONITORING ] || continue
        if ! openssl verify -CAfile "$CA_CERT_FOR_CHECK" "$cert" >/dev/null 2>&1; then
            echo "$id: certificate $cert does not verify"; bad=1; continue
        fi
        pub=$(openssl x509 -in "$cert" -noout -pubkey)
        case $store in
            file:*) kpub=$(openssl pkey -in "${store#file:}/$ref.key" -pubout 2>/dev/null) ;;
            pkcs11:*) kpub=$(pkcs11-tool --module "$SOFTHSM_MODULE" --token-label autoenroll \
                --read-object --type pubkey --id "$ref" 2>/dev/null | openssl pkey -pubin -inform DER -pubout 2>/dev/null) ;;
        esac
        [ "$pub" = "$kpub" ] || { echo "$id: certificate does not match key $ref in $store"; bad=1; }
    done < <(fault_states cert_file key_ref key_store)
    [ $n -gt 0 ] || { echo "the daemon lists no request"; bad=1; }
    return $bad
}

fault_proxy_start() { # NAME TARGET_PORT
    local name=$1 target=$2 port
    port=$(free_port) || bail "no free port"
    printf 'pass\n' >"$REALM/fp-$name.mode"
    realm_spawn "fp-$name" /usr/bin/python3 "$top_srcdir/tests/tools/fault-proxy.py" \
        "$port" "$target" "$REALM/fp-$name.mode"
    eval "FP_PORT_${name//[^A-Za-z0-9_]/_}=$port"
    wait_for 10 port_open "$port" || bail "fault proxy $name did not start: $(tail -3 "$REALM/fp-$name.log")"
}

fault_proxy_mode() { # NAME MODE [ARG]
    local name=$1
    shift
    printf '%s\n' "$*" >"$REALM/fp-$name.mode.tmp" && mv "$REALM/fp-$name.mode.tmp" "$REALM/fp-$name.mode"
    sleep 0.3 # the proxy looks at the file 10 times a second
}

# ok_todo DESCRIPTION REASON COMMAND... : a known bug, reported as TAP TODO
# (the harness counts a failure as XFAIL and a pass as XPASS, i.e. "fixed:
# drop the TODO").
ok_todo() {
    local what=$1 why=$2 out rc
    shift 2
    _tap_n=$((_tap_n + 1))
    out=$("$@" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        echo "ok $_tap_n - $what # TODO $why"
    else
        echo "not ok $_tap_n - $what # TODO $why"
        printf '%s\n' "$out" | tail -n 10 | sed 's/^/#   /'
    fi
    return 0
}
