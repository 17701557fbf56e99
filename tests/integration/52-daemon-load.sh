#!/bin/bash
# Load regressions found by the benchmarks (issue 8):
# - many renewals due at once used to start one key-generation thread per
#   request (1,000 threads for 1,000 due); local work is now capped at 8 jobs.
# - `autoenroll list` of 10,000 requests was over the 4 MiB IPC reply cap.
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/tools/fault-lib.sh"
need python3
DUE=${LOAD_DUE:-40}
LISTED=${LOAD_LIST:-10000}
stack_start
daemon_config "file:$REALM/keys"
daemon_start
ok "the template request enrolls" daemon_wait_state machine MONITORING 90
daemon_stop
W=$REALM/load
mkdir -p "$W"
cp "$AE_STATE/machine.json" "$W/template.json"
old_serial=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["serial"])' "$W/template.json")

# --- DUE renewals due at once -------------------------------------------
# One SCEP submission at a time: scepserver's file depot is not safe for
# concurrent signing (its serial file goes back, then every request fails
# "file exists": 12 of 40 renewals ended CA_REJECTED in one CI run).
sed -i 's/^poll_interval = 5s/poll_interval = 5s\nmax_concurrent = 1/' "$AE_CONF"
grep -q '^max_concurrent = 1' "$AE_CONF" || bail "could not set the CA's max_concurrent"
python3 "$top_srcdir/tests/tools/synth-state.py" "$W/template.json" "$AE_STATE" "$AE_OUT" "$DUE" r due "$REALM/keys"
daemon_start
peak_threads=0 peak_jobs=0 base_threads=$(awk '/^Threads:/ {print $2}' "/proc/$AE_PID/status")
renewed() {
    "$AE_CLI" --socket "$AE_SOCKET" --json list | python3 -c "
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r['id'] != 'machine' and r['state'] == 'MONITORING' and r['serial'] != '$old_serial'))"
}
t0=$SECONDS
while [ $((SECONDS - t0)) -lt 600 ]; do
    th=$(awk '/^Threads:/ {print $2}' "/proc/$AE_PID/status" 2>/dev/null) || break
    jobs=$(sed -n 's/^autoenroll_local_jobs_in_flight \([0-9]*\)$/\1/p' "$REALM/autoenroll.prom" 2>/dev/null)
    [ "${th:-0}" -gt $peak_threads ] && peak_threads=$th
    [ "${jobs:-0}" -gt $peak_jobs ] && peak_jobs=$jobs
    [ "$(renewed)" -ge "$DUE" ] && break
    sleep 0.05
done
diag "$DUE renewals due at once: $(renewed) renewed in $((SECONDS - t0)) s; threads at start $base_threads, peak $peak_threads; peak local jobs $peak_jobs"
ok "all $DUE due renewals done" test "$(renewed)" -ge "$DUE"
ok "local jobs never above 8 (peak $peak_jobs)" test "$peak_jobs" -le 8
ok "local jobs did run in parallel (peak $peak_jobs > 1)" test "$peak_jobs" -gt 1
# 8 local jobs + 1 submission (the CA's max_concurrent) and its helper
# threads; without the cap this was one thread per due request.
ok "threads stay bounded (peak $peak_threads <= 16 with $DUE due)" test "$peak_threads" -le 16
ok "one key per request after the renewals" test "$(fault_file_keys "$REALM/keys")" = $((DUE + 1))
daemon_stop

# --- list of LISTED requests -------------------------------------------
rm -f "$AE_STATE"/r*.json
python3 "$top_srcdir/tests/tools/synth-state.py" "$W/template.json" "$AE_STATE" "$AE_OUT" "$LISTED" i idle
daemon_start
t0=$(date +%s%N)
n=$("$AE_CLI" --socket "$AE_SOCKET" --json list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
diag "list of $n requests took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
ok "list --json returns all $((LISTED + 1)) requests" test "$n" = $((LISTED + 1))
ok "text list too" test "$("$AE_CLI" --socket "$AE_SOCKET" list | grep -c '^i[0-9]')" = "$LISTED"
daemon_stop
