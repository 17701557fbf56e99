# shellcheck shell=bash
# autoenrolld for a test: a private config, state dir and socket under $REALM,
# run with nss_wrapper names and the realm's KRB5_CONFIG.
#
#   daemon_config [EXTRA-INI-FILE]   write $REALM/autoenroll.conf for the realm's
#                                    CA (scep.sh + ndes.sh) and a machine profile
#   daemon_start                     start autoenrolld (log: $REALM/autoenrolld.log)
#   daemon_stop / daemon_kill9       stop it (TERM, or SIGKILL)
#   ae ARGS...                       the autoenroll CLI on the daemon's socket
#   ae_to FILE ARGS...               the same, its output into FILE
#   daemon_machine_profile NAME KEY_STORE   INI text of one more machine profile
#                                    (for daemon_config's EXTRA), outputs in $REALM/out
#   ae_field ID FIELD                one field of `autoenroll status --json`
#   daemon_wait_state ID STATE SECS  wait until the request reaches STATE

AE_DAEMON=${AE_DAEMON:-$top_builddir/daemon/autoenrolld}
AE_CLI=${AE_CLI:-$top_builddir/daemon/autoenroll}

# daemon_config KEY_STORE [EXTRA-INI-TEXT]
daemon_config() {
    local key_store=${1:-file:$REALM/keys} extra=${2:-}
    AE_SOCKET=$REALM/autoenrolld.sock
    AE_CONF=$REALM/autoenroll.conf
    AE_STATE=$REALM/state
    AE_OUT=$REALM/out
    export AE_SOCKET AE_CONF AE_STATE AE_OUT
    mkdir -p "$REALM/conf.d" "$AE_OUT"
    cat >"$AE_CONF" <<CONF
[daemon]
state_dir = $AE_STATE
socket = $AE_SOCKET
hostname = $CLIENT_HOST
metrics_file = $REALM/autoenroll.prom
backoff_min = 2s
backoff_max = 10s
splay = 0

[ca test]
server = $NDES_URL
fingerprint = $SCEP_CA_FINGERPRINT
challenge = kerberos
allow_des = yes
timeout = 20s
poll_interval = 5s

[profile machine]
kind = machine
ca = test
subject = CN=%{fqdn}
dns = %{fqdn}
key_store = $key_store
keytab = $REALM/host.keytab
cert_file = $AE_OUT/machine.pem
chain_file = $AE_OUT/machine-chain.pem

[profile user]
kind = user
ca = test
autoenroll = yes
subject = CN=%{user}
key_store = file:$REALM/userkeys/%{user}
cert_file = $REALM/userout/%{user}/user.pem
chain_file = $REALM/userout/%{user}/chain.pem
$extra
CONF
}

# At the end of a test: stop the daemon cleanly and look for sanitizer reports
# (leaks are reported at exit) in everything it logged.
_daemon_final_check() {
    [ -n "${AE_PID:-}" ] && daemon_stop
    if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$REALM/autoenrolld.log" 2>/dev/null; then
        fail "autoenrolld ran clean under the sanitizers" "$(grep -A12 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$REALM/autoenrolld.log" | head -40)"
    fi
}

daemon_start() {
    need "$AE_DAEMON" "$AE_CLI"
    if [ -z "${_daemon_check_registered:-}" ]; then
        realm_on_exit _daemon_final_check
        _daemon_check_registered=1
    fi
    rm -f "$AE_SOCKET"
    realm_spawn autoenrolld env "${NAMES_ENV[@]}" "$AE_DAEMON" --config "$AE_CONF" --conf-d "$REALM/conf.d" \
        --log-target stderr --debug
    AE_PID=$PID_autoenrolld
    wait_for 30 test -S "$AE_SOCKET" || bail "autoenrolld did not start: $(tail -5 "$REALM/autoenrolld.log")"
    wait_for 30 ae list || bail "autoenrolld does not answer: $(tail -5 "$REALM/autoenrolld.log")"
}

daemon_stop() {
    local running=0
    kill -0 "$AE_PID" 2>/dev/null && running=1
    kill -TERM "$AE_PID" 2>/dev/null
    wait_for 10 sh -c "! kill -0 $AE_PID 2>/dev/null"
    # A crash while shutting down leaves no other trace (the kernel logs the
    # segfault, the test goes on): a clean stop ends with "stopped".
    if [ $running = 1 ] && ! kill -0 "$AE_PID" 2>/dev/null &&
        ! awk '/stopping on signal/ { s = 1 } /\]: stopped/ { s = 0 } END { exit s }' "$REALM/autoenrolld.log"; then
        fail "autoenrolld stopped cleanly on SIGTERM" "$(tail -n 5 "$REALM/autoenrolld.log")"
    fi
}

daemon_kill9() {
    kill -KILL "$AE_PID" 2>/dev/null
    wait_for 10 sh -c "! kill -0 $AE_PID 2>/dev/null"
}

ae() { with_names "$AE_CLI" --socket "$AE_SOCKET" "$@"; }
ae_to() { local f=$1; shift; ae "$@" >"$f"; }

daemon_machine_profile() {
    cat <<PROFILE
[profile $1]
kind = machine
ca = test
subject = CN=%{fqdn}
dns = %{fqdn}
key_store = $2
keytab = $REALM/host.keytab
cert_file = $REALM/out/$1.pem
chain_file = $REALM/out/$1-chain.pem
PROFILE
}

# ae_field ID FIELD : print one field of the request (empty if absent)
ae_field() {
    ae --json status "$1" 2>/dev/null |
        /usr/bin/python3 -c 'import json,sys
d=json.load(sys.stdin); v=d
for k in sys.argv[1].split("."): v=v.get(k) if isinstance(v,dict) else None
print("" if v is None else v)' "$2"
}

daemon_wait_state() { # ID STATE SECONDS
    local id=$1 want=$2 secs=$((${3:-60} * ${AE_TIMEOUT_SCALE:-1})) got=""
    local end=$((SECONDS + secs))
    while [ $SECONDS -lt $end ]; do
        got=$(ae_field "$id" state)
        [ "$got" = "$want" ] && return 0
        sleep 0.3
    done
    echo "request $id is in state '${got}', not $want after ${secs}s"
    echo "last error: $(ae_field "$id" last_error.message)"
    tail -n 15 "$REALM/autoenrolld.log"
    return 1
}
