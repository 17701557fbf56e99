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
    make -C "$top/$dir" -j"$(nproc)" check || return 1
}
# Fresh build directories: configure options differ between passes.
rm -rf "$top/build" "$top/build-asan"
run_pass build || rc=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_pass build-asan --enable-sanitizers || rc=1

bash tools/test-summary.sh build/test-suite.log build-asan/test-suite.log || rc=1
exit $rc
