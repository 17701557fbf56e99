#!/bin/bash
# Sum automake's test-suite.log files into one line "N passed, N failed".
# A missing log, or a run that counted nothing, is a failure.
passed=0
failed=0
for log in "$@"; do
    if [ ! -f "$log" ]; then
        echo "# $log is missing: that pass did not run its tests" >&2
        failed=$((failed + 1))
        continue
    fi
    p=$(sed -n 's/^# PASS: *\([0-9]*\)/\1/p' "$log" | head -n 1)
    f=0
    for k in FAIL XPASS ERROR; do
        n=$(sed -n "s/^# $k: *\([0-9]*\)/\1/p" "$log" | head -n 1)
        f=$((f + ${n:-0}))
    done
    passed=$((passed + ${p:-0}))
    failed=$((failed + f))
done
[ $((passed + failed)) -gt 0 ] || failed=1
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
