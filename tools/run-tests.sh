#!/bin/bash
# The whole test suite, as CI runs it: install packages, build, run `make check`
# once as a normal build and once under ASan+UBSan, then print one line
# "N passed, N failed" summed over both passes.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

bash tools/install-deps.sh || { echo "package installation failed"; exit 1; }

rc=0
run_pass() { # run_pass BUILDDIR [configure options]
    local dir=$1
    shift
    echo "=== make check in $dir $* ==="
    bash tools/build.sh "$top/$dir" "$@" || return 1
    make -C "$top/$dir" -j"$(nproc)" check && return 0
    show_failures "$top/$dir"
    return 1
}
# What failed and why, from each failed test's own log: CI keeps only this output.
show_failures() {
    local trs log
    for trs in $(grep -lE '^:test-result: (FAIL|ERROR|XPASS)' $(find "$1/tests" -name '*.trs')); do
        log=${trs%.trs}.log
        echo "--- ${log#"$1"/} (failed checks and their diagnostics) ---"
        grep -E -A12 '^not ok' "$log" | head -n 80
        echo "--- its last lines ---"
        tail -n 15 "$log"
    done
}
# Fresh build directories: configure options differ between passes.
rm -rf "$top/build" "$top/build-asan"
run_pass build || rc=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_pass build-asan --enable-sanitizers || rc=1

bash tools/test-summary.sh build/test-suite.log build-asan/test-suite.log || rc=1
exit $rc
