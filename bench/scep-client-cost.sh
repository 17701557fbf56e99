#!/bin/bash
# Client-side cost of one SCEP enrollment: wall time of ae-scep minus the
# time spent waiting on the server (HTTP round trips on loopback: server
# work) -- key generation is done outside and reported on its own.
# Median over runs.
#
#   bench/scep-client-cost.sh [-n RUNS] [-p emulator|scepserver] [-b BUILDDIR]
#
# The emulator (NDES-like: RA split, 3DES) is the default peer; scepserver
# answers with single DES (allow_des) and a static challenge.
set -u
runs=11
peer=emulator
builddir=
while getopts "n:p:b:" o; do
    case $o in
        n) runs=$OPTARG ;;
        p) peer=$OPTARG ;;
        b) builddir=$OPTARG ;;
        *) exit 2 ;;
    esac
done
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=${builddir:-${top_builddir:-$top_srcdir/build}}
export top_srcdir top_builddir
. "$top_srcdir/tests/realm/lib.sh"
realm_init
AE=$top_builddir/tests/tools/ae-scep
[ -x "$AE" ] || bail "build ae-scep first (make -C $top_builddir tests/tools/ae-scep), or pass -b BUILDDIR"
W=$REALM/bench
mkdir -p "$W"
case $peer in
    emulator)
        . "$top_srcdir/tests/realm/ndes-emulator.sh"
        ndes_emulator_start --challenge-ttl 3600
        URL=$NDES_EMU_URL FP=$NDES_EMU_CA_FINGERPRINT EXTRA=()
        get_challenge() { ndes_emulator_challenge; } ;;
    scepserver)
        . "$top_srcdir/tests/realm/scep.sh"
        scep_start
        URL=$SCEP_URL FP=$SCEP_CA_FINGERPRINT EXTRA=(--allow-des)
        get_challenge() { printf '%s\n' "$SCEP_CHALLENGE"; } ;;
    *) bail "unknown peer $peer" ;;
esac

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
: >"$W/client" ; : >"$W/server" ; : >"$W/keygen" ; : >"$W/total"
for i in $(seq 1 "$runs"); do
    t0=$(now)
    openssl genrsa -out "$W/key$i.pem" 2048 2>/dev/null || bail "keygen"
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}' >>"$W/keygen"
    get_challenge >"$W/challenge" || bail "no challenge"
    "$AE" enroll --url "$URL" --ca-fingerprint "$FP" "${EXTRA[@]}" --key "$W/key$i.pem" \
        --challenge-file "$W/challenge" --dns "$CLIENT_HOST" --out "$W/cert$i.pem" \
        --timing "$W/timing" >/dev/null 2>"$W/err" || bail "enrollment $i failed: $(cat "$W/err")"
    total=$(sed -n 's/.*total=\([0-9.]*\).*/\1/p' "$W/timing")
    server=$(sed -n 's/.*server=\([0-9.]*\).*/\1/p' "$W/timing")
    echo "$total" >>"$W/total"
    echo "$server" >>"$W/server"
    awk -v a="$total" -v b="$server" 'BEGIN {print a - b}' >>"$W/client"
done
ms() { awk '{printf "%.1f", $1 * 1000}'; }
diag "peer: $peer, runs: $runs"
diag "key generation (excluded), median: $(median <"$W/keygen" | ms) ms"
diag "enrollment wall time, median:       $(median <"$W/total" | ms) ms"
diag "server time (HTTP on loopback):     $(median <"$W/server" | ms) ms"
echo "client-side cost of one enrollment: median $(median <"$W/client" | ms) ms over $runs runs" \
     "(min $(sort -g "$W/client" | head -n 1 | ms), max $(sort -g "$W/client" | tail -n 1 | ms))"
pass "benchmark ran $runs enrollments"
