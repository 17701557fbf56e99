#!/bin/bash
# The daemon at rest with 0, 1,000 and 10,000 tracked requests (MONITORING,
# nothing due; state files synthesized from one real enrollment): RSS once
# idle, start-up to ready (socket answers `list`), `autoenroll list` latency
# (median of 5, JSON and text), and wake-ups while nothing is due (syscalls
# that wait -- epoll_wait, poll, nanosleep, futex... -- counted with strace
# -f -c over WAKE seconds, scaled to a minute; also the context switches of
# all threads from /proc over 30 s before strace is attached). Beside it: a private certmonger with 1,000
# requests tracked (RSS, start-up, `getcert list`).
#
#   bench/footprint.sh [-s "0 1000 10000"] [-w WAKE_SECONDS] [-c CM_SIZE] [-b BUILDDIR]
set -u
sizes="0 1000 10000"
wake=60
ctx_window=30
cm_size=1000
builddir=
while getopts "s:w:c:b:" o; do
    case $o in
        s) sizes=$OPTARG ;;
        w) wake=$OPTARG ;;
        c) cm_size=$OPTARG ;;
        b) builddir=$OPTARG ;;
        *) exit 2 ;;
    esac
done
[ "$wake" -lt "$ctx_window" ] && ctx_window=$wake
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=${builddir:-${top_builddir:-$top_srcdir/build}}
export top_srcdir top_builddir
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/bench/certmonger.sh"
. "$top_srcdir/bench/stats.sh"
need strace /usr/bin/python3
realm_init
W=$REALM/bench
mkdir -p "$W"
kdc_start
scep_start --ndes-challenges
ndes_start
daemon_config "file:$REALM/keys"
daemon_start
daemon_wait_state machine MONITORING 60 >/dev/null || bail "the template enrollment failed"
daemon_stop
cp "$AE_STATE/machine.json" "$W/template.json"
# From here on nothing enrolls by itself: no autoenroll machine profile.
sed -i 's/^\[profile machine\]/[profile machine]\nautoenroll = no/' "$AE_CONF"
# The KDC, NDES and SCEP are not needed any more: stop them so they cost nothing.
kdc_stop
ndes_stop

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
ctxt() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'; }
start_ready() { # ID: start autoenrolld (not in a subshell: it must stay tracked); READY = ms until it answers
    local t0 probe=(list) end=$((SECONDS + 300))
    [ -n "${1:-}" ] && probe=(status "$1") # `list` itself may fail at large sizes: see the table
    rm -f "$AE_SOCKET"
    t0=$(now_ms)
    realm_spawn autoenrolld env "${NAMES_ENV[@]}" "$AE_DAEMON" --config "$AE_CONF" --conf-d "$REALM/conf.d" \
        --log-target stderr
    AE_PID=$PID_autoenrolld
    until "$AE_CLI" --socket "$AE_SOCKET" "${probe[@]}" >/dev/null 2>&1; do
        kill -0 "$AE_PID" 2>/dev/null || bail "autoenrolld died: $(tail -3 "$REALM/autoenrolld.log")"
        [ $SECONDS -lt $end ] || bail "autoenrolld does not answer ${probe[*]} after 300 s"
        sleep 0.005
    done
    READY=$(($(now_ms) - t0))
}
# list_ms ARGS... : ms of one `autoenroll ARGS list`, or "fail" (the error goes to $W/list.err)
list_ms() {
    local t0
    t0=$(now_ms)
    if ae "$@" list >/dev/null 2>"$W/list.err"; then echo $(($(now_ms) - t0)); else echo fail; fi
}
rows=()
for size in $sizes; do
    rm -rf "$AE_STATE"
    mkdir -p "$AE_STATE"
    [ "$size" -gt 0 ] && python3 "$top_srcdir/tests/tools/synth-state.py" "$W/template.json" "$AE_STATE" "$AE_OUT" "$size" t idle
    start_ready "$([ "$size" -gt 0 ] && echo t00001)"
    ready=$READY
    n=$(ae --json list 2>/dev/null | python3 -c 'import json,sys
l=json.load(sys.stdin); print(len(l) if isinstance(l, list) else "fail")' 2>/dev/null || echo fail)
    [ "$n" = "$size" ] || diag "size $size: autoenroll list lists ${n} requests: $(head -c 200 "$W/list.err" 2>/dev/null; ae list 2>&1 >/dev/null | head -c 200)"
    sleep 3
    rss=$(rss_kb "$AE_PID")
    : >"$W/list-json" ; : >"$W/list-text"
    for i in 1 2 3 4 5; do
        list_ms --json >>"$W/list-json"
        list_ms >>"$W/list-text"
    done
    lj=$(grep -q fail "$W/list-json" && echo fail || median <"$W/list-json")
    lt=$(grep -q fail "$W/list-text" && echo fail || median <"$W/list-text")
    sleep 2
    # context switches first, without strace (its attach/detach switches too)
    c0=$(ctxt "$AE_PID")
    sleep "$ctx_window"
    c1=$(ctxt "$AE_PID")
    timeout -s INT "$wake" strace -f -c -o "$W/strace-$size" -p "$AE_PID" >/dev/null 2>&1
    waits=$(awk '$NF ~ /^(epoll_wait|epoll_pwait|poll|ppoll|select|pselect6|nanosleep|clock_nanosleep|futex)$/ { s += $4 } END { print s + 0 }' "$W/strace-$size")
    total=$(awk '$NF == "total" { print $3 }' "$W/strace-$size")
    rows+=("$(printf '%-28s %8s %9s %9s %9s %10s %10s %10s' "autoenrolld, $size tracked" "$n" "$ready" "$rss" \
        "$lj" "$lt" \
        "$(awk -v w="$waits" -v s="$wake" 'BEGIN { printf "%.1f", w * 60 / s }')" \
        "$(awk -v a="$c0" -v b="$c1" -v s="$ctx_window" 'BEGIN { printf "%.1f", (b - a) * 60 / s }')")")
    diag "${rows[-1]}"
    diag "size $size: syscalls seen in ${wake}s: ${total:-0} ($(awk 'NR > 2 && $NF != "total" && $NF !~ /^-/ { printf "%s x%s ", $NF, $4 }' "$W/strace-$size"))"
    kill -TERM "$AE_PID"; wait_for 20 sh -c "! kill -0 $AE_PID 2>/dev/null"
done

# certmonger with CM_SIZE requests tracked: `getcert start-tracking` on
# existing PEM files (no CA involved), then restart it to time the start-up.
if [ "$cm_size" -gt 0 ]; then
    cm_start
    cert=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cert_pem"], end="")' "$W/template.json")
    key=$REALM/keys/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key_ref"])' "$W/template.json").key
    mkdir -p "$W/cm"
    for i in $(seq 1 "$cm_size"); do
        printf '%s' "$cert" >"$W/cm/$i.pem"
        cp "$key" "$W/cm/$i.key"
        gc start-tracking -f "$W/cm/$i.pem" -k "$W/cm/$i.key" -I "t$i" >/dev/null 2>&1 || bail "getcert start-tracking $i failed"
    done
    wait_for 300 sh -c "[ \$(getcert list 2>/dev/null | grep -c 'status: MONITORING') -ge $cm_size ]"
    cm_stop
    t0=$(now_ms)
    CM_START_WAIT=900 cm_start # with 1,000 requests it rewrites every request file first
    until [ "$(getcert list 2>/dev/null | grep -c '^Request ID')" -ge "$cm_size" ]; do sleep 0.01; done
    cm_ready=$(($(now_ms) - t0))
    sleep 3
    : >"$W/gl"
    for i in 1 2 3 4 5; do t0=$(now_ms); gc list >/dev/null 2>&1; echo $(($(now_ms) - t0)) >>"$W/gl"; done
    n=$(gc list 2>/dev/null | grep -c '^Request ID')
    rows+=("$(printf '%-28s %8s %9s %9s %9s %10s %10s %10s' "certmonger, $cm_size tracked" "$n" "$cm_ready" "$(rss_kb "$CM_PID")" "n/a" "$(median <"$W/gl")" "-" "-")")
    cm_stop
fi

echo
echo "Daemon footprint at rest (nothing due; loopback)"
printf '%-28s %8s %9s %9s %9s %10s %10s %10s\n' "daemon" "listed" "ready ms" "RSS kB" "list-j ms" "list ms" "waits/min" "ctxsw/min"
printf '%s\n' "${rows[@]}"
echo "(ready: from exec to the first answered list; certmonger: to all requests listed. waits: waiting syscalls"
echo " under strace -f over ${wake}s; ctxsw: voluntary+involuntary context switches of all threads over ${ctx_window}s, no strace)"
pass "benchmark finished"
