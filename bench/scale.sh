#!/bin/bash
# Many requests at once on the test realm (loopback only):
#   - N first enrollments requested at once (N new requests of the machine
#     profile as state files, daemon start)
#     by autoenroll, and the same N by a private certmonger (SCEP helper,
#     one-time challenges made by hand: no Kerberos for certmonger);
#   - renewal of each SIZE tracked certificates all due at once (state files
#     synthesized from one real enrollment, each with its own key copy).
# Prints wall time, throughput, peak submissions in flight (metrics file,
# sampled every 0.1 s) and the daemon's CPU time (user+sys).
#
#   bench/scale.sh [-n N] [-s "1 100 1000"] [-c CA_MAX_CONCURRENT] [-b BUILDDIR]
set -u
n_at_once=100
ca_concurrent=1
sizes="1 100 1000"
builddir=
while getopts "n:s:c:b:" o; do
    case $o in
        c) ca_concurrent=$OPTARG ;;
        n) n_at_once=$OPTARG ;;
        s) sizes=$OPTARG ;;
        b) builddir=$OPTARG ;;
        *) exit 2 ;;
    esac
done
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=${builddir:-${top_builddir:-$top_srcdir/build}}
export top_srcdir top_builddir
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/tools/fault-lib.sh"
. "$top_srcdir/bench/certmonger.sh"
. "$top_srcdir/bench/stats.sh"
need certmonger getcert /usr/bin/python3
realm_init
W=$REALM/bench
mkdir -p "$W"
kdc_start
scep_start --ndes-challenges
ndes_start
CLK_TCK=$(getconf CLK_TCK)

cpu_ms() { awk -v t="$CLK_TCK" '{ print int(($14 + $15) * 1000 / t) }' "/proc/$1/stat"; }
# sample_inflight OUTFILE : peak of autoenroll_submissions_in_flight until killed
sample_inflight() {
    local peak=0 v
    while :; do
        v=$(sed -n 's/^autoenroll_submissions_in_flight[^ ]* \([0-9]*\).*/\1/p' "$REALM/autoenroll.prom" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
        [ "$v" -gt "$peak" ] && { peak=$v; echo "$peak" >"$1"; }
        sleep 0.1
    done
}
count_monitoring() { ae --json list 2>/dev/null | grep -o '"state": *"MONITORING"' | wc -l; }
# run_until_all TOTAL LABEL : wait (up to 30 min) for TOTAL MONITORING, print a table row
results=()
measure() { # LABEL TOTAL T0_MS CPU0_MS : wait, then record
    local label=$1 total=$2 t0=$3 c0=$4 sp t1 got
    echo 0 >"$W/peak"
    sample_inflight "$W/peak" &
    sp=$!
    # until every request is MONITORING or CA_REJECTED (scepserver's file depot
    # is not safe for concurrent PKCSReqs: some get badRequest under load)
    wait_for 1800 sh -c "[ \$('$AE_CLI' --socket '$AE_SOCKET' --json list | grep -oE '\"state\": *\"(MONITORING|CA_REJECTED)\"' | wc -l) -ge $total ]"
    t1=$(now_ms)
    kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null
    got=$(count_monitoring)
    results+=("$(printf '%-44s %6s %8s %8s %6s %9s' "$label" "$got/$total" "$((t1 - t0))" \
        "$(awk -v n="$total" -v ms="$((t1 - t0))" 'BEGIN { printf "%.1f", n * 1000 / ms }')" \
        "$(cat "$W/peak")" "$(($(cpu_ms "$AE_PID") - c0))")")
    diag "${results[-1]}"
}

# --- N first enrollments at once ------------------------------------------
# One real enrollment first (the template), then N new requests (state files:
# a config holds at most 32 profiles) that the daemon enrolls at start-up.
daemon_config "file:$REALM/keys"
# scepserver's file depot is not safe for concurrent PKCSReqs (its serial file
# gets clobbered, then every later request fails "file exists"): one SCEP
# submission at a time for this CA (-c to change it).
sed -i "s/^poll_interval = 5s/poll_interval = 5s\nmax_concurrent = $ca_concurrent/" "$AE_CONF"
daemon_start
daemon_wait_state machine MONITORING 60 >/dev/null || bail "the template enrollment failed"
daemon_stop
cp "$AE_STATE/machine.json" "$W/template.json"
cp "$REALM/keys/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key_ref"])' "$W/template.json").key" "$W/"
python3 "$top_srcdir/tests/tools/synth-state.py" "$W/template.json" "$AE_STATE" "$AE_OUT" "$n_at_once" e new
t0=$(now_ms)
daemon_start
measure "autoenroll: $n_at_once first enrollments at once" $((n_at_once + 1)) "$t0" 0
gaveup=$(grep -c "cache is full" "$REALM/autoenrolld.log")
diag "autoenroll: CA_REJECTED: $(fault_count_state CA_REJECTED) (scepserver: $(grep -c 'failed to sign CSR' "$REALM/scepserver.log") 'failed to sign CSR', e.g. $(grep -m1 -o 'failed to sign CSR.*' "$REALM/scepserver.log" | sed "s|$REALM/||"))"
diag "autoenroll: NDES answered \"password cache is full\" $gaveup times during the $n_at_once (5 unused challenges per account)"
daemon_stop

# --- certmonger: the same N at once ----------------------------------------
cm_start
cm_add_scep_ca bench "$SCEP_URL"
t0=$(now_ms)
c0=$(cpu_ms "$CM_PID")
for i in $(seq 1 "$n_at_once"); do
    gc request -c bench -G rsa -g 2048 -k "$W/cm$i.key" -f "$W/cm$i.pem" -N "CN=cm$i.$CLIENT_HOST" \
        -D "$CLIENT_HOST" -L "$(scep_new_challenge)" >/dev/null 2>&1
done
t_submitted=$(now_ms)
# until every request is MONITORING or stuck in a state certmonger only leaves
# after a long retry delay (CA_UNREACHABLE, CA_REJECTED, NEED_GUIDANCE ...)
wait_for 900 sh -c "[ \$(getcert list 2>/dev/null | grep -cE 'status: (MONITORING|CA_UNREACHABLE|CA_REJECTED|NEED_GUIDANCE|CA_UNCONFIGURED)') -ge $n_at_once ]"
t1=$(now_ms)
got=$(gc list 2>/dev/null | grep -c 'status: MONITORING')
results+=("$(printf '%-44s %6s %8s %8s %6s %9s' "certmonger: $n_at_once getcert request at once" "$got/$n_at_once" \
    "$((t1 - t0))" "$(awk -v n="$n_at_once" -v ms="$((t1 - t0))" 'BEGIN { printf "%.1f", n * 1000 / ms }')" \
    "n/a" "$(($(cpu_ms "$CM_PID") - c0))")")
diag "${results[-1]}"
gc list 2>/dev/null | grep -m1 'ca-error' | sed 's/^[[:space:]]*/# certmonger: e.g. /'
diag "certmonger: the $n_at_once getcert request calls themselves took $((t_submitted - t0)) ms; states: $(gc list 2>/dev/null | sed -n 's/.*status: //p' | sort | uniq -c | tr -s ' \n' ' ')"
cm_stop

# --- renewals of SIZE certificates due at once ---------------------------
for size in $sizes; do
    rm -rf "$AE_STATE" "$REALM/keys" "$AE_OUT"
    mkdir -p "$AE_STATE" "$REALM/keys" "$AE_OUT"
    cp "$W"/*.key "$REALM/keys/" 2>/dev/null
    python3 "$top_srcdir/tests/tools/synth-state.py" "$W/template.json" "$AE_STATE" "$AE_OUT" "$size" r due "$REALM/keys"
    # the machine profile's own request: keep it monitoring, not due
    python3 "$top_srcdir/tests/tools/synth-state.py" "$W/template.json" "$W/m" "$AE_OUT" 1 x idle
    sed 's/"x00001"/"machine"/' "$W/m/x00001.json" >"$AE_STATE/machine.json"
    t0=$(now_ms)
    daemon_start
    # wait until the renewals have replaced the synthesized (old) serial
    old=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["serial"])' "$W/template.json")
    echo 0 >"$W/peak"
    sample_inflight "$W/peak" &
    sp=$!
    wait_for 3600 sh -c "[ \$('$AE_CLI' --socket '$AE_SOCKET' --json list | python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r[\"id\"] != \"machine\" and (r[\"state\"] == \"CA_REJECTED\" or r[\"state\"] == \"MONITORING\" and r[\"serial\"] != \"$old\")))') -ge $size ]"
    t1=$(now_ms)
    kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null
    got=$(ae --json list | python3 -c "import json,sys; print(sum(1 for r in json.load(sys.stdin) if r['state'] == 'MONITORING' and r['serial'] != '$old'))")
    results+=("$(printf '%-44s %6s %8s %8s %6s %9s' "autoenroll: renewal of $size due at once" "$got/$size" "$((t1 - t0))" \
        "$(awk -v n="$size" -v ms="$((t1 - t0))" 'BEGIN { printf "%.1f", n * 1000 / ms }')" "$(cat "$W/peak")" "$(cpu_ms "$AE_PID")")")
    diag "${results[-1]}"
    diag "renewal of $size: CA_REJECTED: $(fault_count_state CA_REJECTED)"
    daemon_stop
done

echo
echo "Many at once (loopback; daemon max_concurrent 16, the CA's max_concurrent $ca_concurrent; wall time from daemon start or first request)"
printf '%-44s %6s %8s %8s %6s %9s\n' "case" "done" "wall ms" "per s" "peak" "cpu ms"
printf '%s\n' "${results[@]}"
echo "(peak = highest autoenroll_submissions_in_flight seen; cpu = the daemon's (or certmonger's) user+sys, not its helpers')"
pass "benchmark finished"
