#!/bin/bash
# One machine-certificate enrollment, RSA-2048, side by side on the test realm
# (loopback only), median over RUNS each:
#   autoenroll  `autoenroll renew ID --wait` (Kerberos -> NDES challenge page
#               -> SCEP through Apache -> scepserver), file key and SoftHSM key
#   certmonger  private instance, its SCEP helper straight to scepserver
#               (`getcert request -c CA -w` until MONITORING), PEM file key
#   scepclient  micromdm's client straight to scepserver, file key
# and autoenroll's time split into its parts, measured with the test tools
# (ae-key generate, ae-ndes challenge, ae-scep enroll) against the same realm.
# certmonger and scepclient get a one-time challenge made by hand: they do not
# do the Kerberos part at all.
#
#   bench/enroll-compare.sh [-n RUNS] [-b BUILDDIR]
set -u
runs=5
builddir=
while getopts "n:b:" o; do
    case $o in
        n) runs=$OPTARG ;;
        b) builddir=$OPTARG ;;
        *) exit 2 ;;
    esac
done
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=${builddir:-${top_builddir:-$top_srcdir/build}}
export top_srcdir top_builddir
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/realm/softhsm.sh"
. "$top_srcdir/tests/realm/ndes-emulator.sh"
. "$top_srcdir/bench/certmonger.sh"
. "$top_srcdir/bench/stats.sh"
need scepclient certmonger getcert "$top_builddir/tests/tools/ae-key" "$top_builddir/tests/tools/ae-ndes" \
    "$top_builddir/tests/tools/ae-scep"
realm_init
W=$REALM/bench
mkdir -p "$W"
kdc_start
scep_start --ndes-challenges
ndes_start
softhsm_init
daemon_config "file:$REALM/keys" "
[profile hsm]
kind = machine
ca = test
subject = CN=hsm.%{fqdn}
dns = %{fqdn}
key_store = $SOFTHSM_URI
keytab = $REALM/host.keytab
cert_file = $REALM/out/hsm.pem
chain_file = $REALM/out/hsm-chain.pem"
daemon_start
daemon_wait_state machine MONITORING 60 >/dev/null || bail "first machine enrollment failed"
daemon_wait_state hsm MONITORING 60 >/dev/null || bail "first SoftHSM enrollment failed"

# autoenroll: a renewal is a full enrollment (new key, challenge, PKCSReq).
for i in $(seq 1 "$runs"); do
    for id in machine hsm; do
        t0=$(now_ms)
        ae renew "$id" --wait >/dev/null || bail "autoenroll renew $id failed"
        echo $(($(now_ms) - t0)) >>"$W/ae-$id"
    done
done

# The parts, with the test tools (same code as the daemon, run one by one).
AEK=$top_builddir/tests/tools/ae-key AEN=$top_builddir/tests/tools/ae-ndes AES=$top_builddir/tests/tools/ae-scep
mkdir -p "$W/keys"
for i in $(seq 1 "$runs"); do
    t0=$(now_ms)
    ref=$("$AEK" generate "file:$W/keys" --bits 2048 | cut -d" " -f1) || bail "ae-key generate failed"
    t1=$(now_ms)
    "$AEK" generate "$SOFTHSM_URI" --bits 2048 >/dev/null || bail "ae-key generate (SoftHSM) failed"
    t2=$(now_ms)
    with_names "$AEN" challenge --admin-url "$NDES_ADMIN_URL" --keytab "$REALM/host.keytab" --reveal \
        2>/dev/null | sed -n 's/^challenge: [0-9]* chars: //p' >"$W/challenge"
    [ -s "$W/challenge" ] || bail "ae-ndes challenge failed"
    t3=$(now_ms)
    with_names "$AES" enroll --url "$NDES_SCEP_URL" --ca-fingerprint "$SCEP_CA_FINGERPRINT" --allow-des \
        --key "$W/keys/$ref.key" --challenge-file "$W/challenge" --dns "$CLIENT_HOST" \
        --out "$W/part$i.pem" >/dev/null 2>"$W/err" || bail "ae-scep enroll failed: $(cat "$W/err")"
    t4=$(now_ms)
    echo $((t1 - t0)) >>"$W/p-keygen-file"
    echo $((t2 - t1)) >>"$W/p-keygen-hsm"
    echo $((t3 - t2)) >>"$W/p-challenge"
    echo $((t4 - t3)) >>"$W/p-scep"
done

# certmonger, straight to scepserver with a one-time challenge.
cm_start
cm_add_scep_ca bench "$SCEP_URL"
cm_ok=1
for i in $(seq 1 "$runs"); do
    c=$(scep_new_challenge)
    t0=$(now_ms)
    gc request -c bench -G rsa -g 2048 -k "$W/cm$i.key" -f "$W/cm$i.pem" -N "CN=cm$i.$CLIENT_HOST" \
        -D "$CLIENT_HOST" -L "$c" -w >/dev/null 2>&1
    t1=$(now_ms)
    if openssl verify -CAfile "$SCEP_CA_CERT" "$W/cm$i.pem" >/dev/null 2>&1; then
        echo $((t1 - t0)) >>"$W/cm"
    else
        cm_ok=0
        diag "certmonger run $i: no certificate: $(gc list -f "$W/cm$i.pem" 2>&1 | grep -E 'status|ca-error' | tr -s '\t\n' '  ')"
    fi
done

# micromdm scepclient (generates its own key). It keeps its CSR in csr.pem
# beside the key and reuses it (with the old challenge) when it exists: a fresh
# directory each run.
for i in $(seq 1 "$runs"); do
    c=$(scep_new_challenge)
    mkdir -p "$W/sc$i" && cd "$W/sc$i" || bail "cd"
    t0=$(now_ms)
    scepclient -server-url "$SCEP_URL" -private-key "$W/sc$i/key.pem" -certificate "$W/sc$i/cert.pem" \
        -challenge "$c" -cn "sc$i.$CLIENT_HOST" -keySize 2048 >"$W/sc.log" 2>&1 \
        || bail "scepclient failed: $(tail -3 "$W/sc.log")"
    echo $(($(now_ms) - t0)) >>"$W/sc"
    cd "$REALM" || bail "cd"
done

# The same three clients against the NDES emulator (separate RA certificates,
# 3DES, like NDES), where certmonger's SCEP helper works: certmonger and
# scepclient, and autoenroll's engine (ae-key + ae-scep, no daemon, no Kerberos).
ndes_emulator_start --challenge-ttl 3600
esc_ok=1
cm_add_scep_ca emu "$NDES_EMU_URL"
for i in $(seq 1 "$runs"); do
    c=$(ndes_emulator_challenge) || bail "no challenge from the emulator"
    t0=$(now_ms)
    gc request -c emu -G rsa -g 2048 -k "$W/ecm$i.key" -f "$W/ecm$i.pem" -N "CN=ecm$i.$CLIENT_HOST" \
        -D "$CLIENT_HOST" -L "$c" -w >/dev/null 2>&1
    t1=$(now_ms)
    if openssl verify -CAfile "$NDES_EMU_CA_CERT" "$W/ecm$i.pem" >/dev/null 2>&1; then
        echo $((t1 - t0)) >>"$W/e-cm"
    else
        diag "certmonger (emulator) run $i: $(gc list -f "$W/ecm$i.pem" 2>&1 | grep -E 'status|ca-error' | tr -s '\t\n' '  ')"
    fi
    # (a failed run leaves its challenge unused in the emulator's 5-slot cache: stop after one)
    if [ "$esc_ok" = 1 ]; then
    c=$(ndes_emulator_challenge) || bail "no challenge from the emulator"
    mkdir -p "$W/esc$i" && cd "$W/esc$i" || bail "cd"
    t0=$(now_ms)
    if scepclient -server-url "$NDES_EMU_URL" -private-key "$W/esc$i/key.pem" -certificate "$W/esc$i/cert.pem" \
        -challenge "$c" -cn "esc$i.$CLIENT_HOST" -keySize 2048 >"$W/esc.log" 2>&1; then
        echo $(($(now_ms) - t0)) >>"$W/e-sc"
    else
        diag "scepclient (emulator) run $i failed: $(tail -1 "$W/esc.log")"
        esc_ok=0
    fi
    cd "$REALM" || bail "cd"
    fi
    ndes_emulator_challenge >"$W/challenge" || bail "no challenge from the emulator"
    t0=$(now_ms)
    ref=$("$AEK" generate "file:$W/keys" --bits 2048 | cut -d" " -f1) || bail "ae-key generate failed"
    "$AES" enroll --url "$NDES_EMU_URL" --ca-fingerprint "$NDES_EMU_CA_FINGERPRINT" \
        --key "$W/keys/$ref.key" --challenge-file "$W/challenge" --dns "$CLIENT_HOST" \
        --out "$W/eae$i.pem" >/dev/null 2>"$W/err" || bail "ae-scep enroll (emulator) failed: $(cat "$W/err")"
    echo $(($(now_ms) - t0)) >>"$W/e-ae"
done

base=$(median <"$W/ae-machine")
echo
echo "Enrollment of one machine certificate, RSA-2048, loopback, median of $runs (ms)"
printf '%-58s %8s %8s %8s %7s\n' "client" "median" "min" "max" "ratio"
row() { # LABEL FILE
    [ -s "$2" ] || { printf '%-58s %8s\n' "$1" "n/a"; return; }
    printf '%-58s %8s %8s %8s %7s\n' "$1" "$(median <"$2")" "$(sort -n "$2" | head -1)" "$(sort -n "$2" | tail -1)" \
        "$(awk -v a="$(median <"$2")" -v b="$base" 'BEGIN { printf "%.2f", a / b }')"
}
row "autoenroll renew --wait, file key (Kerberos+NDES+SCEP)" "$W/ae-machine"
row "autoenroll renew --wait, SoftHSM key" "$W/ae-hsm"
row "certmonger getcert request -w, PEM key (SCEP only)" "$W/cm"
row "micromdm scepclient, file key (SCEP only)" "$W/sc"
echo
echo "autoenroll's parts (test tools, same code, one at a time)"
row "  key generation, file store" "$W/p-keygen-file"
row "  key generation, SoftHSM" "$W/p-keygen-hsm"
row "  Kerberos (keytab) + NDES challenge page" "$W/p-challenge"
row "  SCEP round trip through Apache (GetCACaps/GetCACert/PKCSReq)" "$W/p-scep"
rest=$(awk -v t="$(median <"$W/ae-machine")" -v a="$(median <"$W/p-keygen-file")" -v b="$(median <"$W/p-challenge")" \
    -v c="$(median <"$W/p-scep")" 'BEGIN { print t - a - b - c }')
printf '%-58s %8s\n' "  rest: saving, hooks, scheduling, IPC (daemon - parts)" "$rest"
echo
echo "Against the NDES emulator (RA certificates apart, 3DES), challenge fetched beforehand; ratio still to autoenroll renew above"
row "autoenroll engine: ae-key generate + ae-scep enroll, file key" "$W/e-ae"
row "certmonger getcert request -w, PEM key" "$W/e-cm"
row "micromdm scepclient, file key" "$W/e-sc"
[ $cm_ok = 1 ] || echo "(certmonger failed: its scep-submit rejects scepserver's CertRep signature, see the diagnostics above)"
pass "benchmark finished"
