#!/bin/bash
# Kerberos + challenge step: autoenroll's path (keytab -> TGT in a MEMORY
# cache, SPNEGO token in a worker thread, curl multi on sd-event, page parse)
# against stock `kinit -k -t` + `curl --negotiate` on the same private realm.
# Prints the median of N runs (default 21) of each, in milliseconds.
#
#   bench/kerberos-challenge.sh [N]     (top_builddir: where ae-ndes is built)
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/kdc.sh"
. "$top_srcdir/tests/realm/ndes.sh"
N=${1:-21}
AE=$top_builddir/tests/tools/ae-ndes
[ -x "$AE" ] || { echo "build first: make -C \"$top_builddir\" tests/tools/ae-ndes" >&2; exit 1; }
realm_init
need curl kinit
kdc_start
ndes_start

now_ms() { date +%s%N | cut -c1-13; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
use_all() { rm -f "$NDES_DIR"/challenges/*; }

ours() {
    with_names "$AE" challenge --admin-url "$NDES_ADMIN_URL" --keytab "$REALM/host.keytab" >/dev/null
}
stock() {
    local cc=FILE:$REALM/bench.cc
    kinit -k -t "$REALM/host.keytab" -c "$cc" 'CLIENT$' &&
        KRB5CCNAME=$cc with_names curl -sf --negotiate -u : -o "$REALM/page" "$NDES_ADMIN_URL" &&
        kdestroy -c "$cc"
}
# Check both work before timing anything.
ours || bail "ae-ndes challenge failed"
stock || bail "kinit + curl failed"
use_all

run() { # run NAME FUNC
    local i t0 t1
    : >"$REALM/$1.ms"
    for i in $(seq 1 "$N"); do
        use_all # stay under NDES's 5-unused cache
        t0=$(now_ms)
        "$2" || bail "$1 run $i failed"
        t1=$(now_ms)
        echo $((t1 - t0)) >>"$REALM/$1.ms"
    done
}
run ours ours
run stock stock
m_ours=$(median <"$REALM/ours.ms")
m_stock=$(median <"$REALM/stock.ms")
echo "# Kerberos + NDES challenge, median of $N runs (loopback realm, $(nproc) CPUs)"
printf '%-46s %10s\n' "method" "median ms"
printf '%-46s %10s\n' "ae-ndes challenge (keytab, worker, curl multi)" "$m_ours"
printf '%-46s %10s\n' "kinit -k -t + curl --negotiate" "$m_stock"
pass "bench finished"
