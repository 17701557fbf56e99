#!/bin/bash
# tools/valgrind.sh [BUILDDIR]: `make check` with every program of ours under
# valgrind memcheck. Plain build (no sanitizers: valgrind and ASan do not mix)
# in BUILDDIR (default build-vg), then:
#   - the C unit tests (tests/unit/test-*, pam/test-*) through LOG_COMPILER;
#   - autoenrolld and the autoenroll CLI through AE_DAEMON / AE_CLI
#     (tests/realm/daemon.sh), which point at small scripts that exec valgrind:
#     this also covers the tests that call "$AE_CLI"/"$AE_DAEMON" directly;
#   - pamtester (and so pam_autoenroll.so inside it) through a `pamtester`
#     script first in PATH (tests/realm/pam.sh runs it by name).
# Every process writes $LOGDIR/vg.PID.log (forked children too). At the end:
#   valgrind: N processes checked, E with errors, L with definite leaks
# and the logs with errors; exit status non-zero on any error, definite leak
# or failed test.
#
# Which tests: VG_TESTS (a list of test paths relative to BUILDDIR, or "all").
# Default: every unit test and the daemon/CLI/PAM/fault integration tests
# 40-47, 49-51, 60-62, 80-82 (48-daemon-systemd checks /proc/PID/comm, which is
# valgrind's own under valgrind). The realm's waits are scaled by
# AE_TIMEOUT_SCALE (default 4 here); 80-fault-kill9 does FAULT_KILLS=4 kills
# (not 40). VG_JOBS: make -j (default 2). Timing assertions (SIGTERM within N s,
# N logins in parallel under M ms) fail under valgrind: read the valgrind line.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-$top/build-vg}
mkdir -p "$builddir"
builddir=$(cd "$builddir" && pwd)
LOGDIR=${VG_LOGDIR:-$builddir/valgrind}
VALGRIND=${VALGRIND:-$(command -v valgrind)} || { echo "valgrind not installed (tools/deps.txt)"; exit 1; }

bash "$top/tools/build.sh" "$builddir" || exit 1
# Build the check programs without running anything.
make -C "$builddir" -j"${VG_JOBS:-2}" check TESTS= >/dev/null || exit 1

rm -rf "$LOGDIR"
mkdir -p "$LOGDIR/bin"
chmod 1777 "$LOGDIR" # the CLI also runs as the realm's test users
cat >"$LOGDIR/bin/vg" <<EOF
#!/bin/sh
# Runs "\$@" under memcheck; a libtool wrapper script runs its real binary.
vg="$VALGRIND --tool=memcheck --error-exitcode=99 --leak-check=full \\
    --errors-for-leak-kinds=definite --show-leak-kinds=definite --track-origins=no \\
    --num-callers=30 --suppressions=$top/tools/valgrind.supp --log-file=$LOGDIR/vg.%p.log"
if [ -f "\$1" ] && head -c 2 "\$1" | grep -q '#!' && grep -q 'libtool' "\$1"; then
    exec "$builddir/libtool" --mode=execute \$vg "\$@"
fi
exec \$vg "\$@"
EOF
wrap() { # wrap NAME PROGRAM
    printf '#!/bin/sh\nexec %s %s "$@"\n' "$LOGDIR/bin/vg" "$2" >"$LOGDIR/bin/$1"
}
wrap autoenrolld "$builddir/daemon/autoenrolld"
wrap autoenroll "$builddir/daemon/autoenroll"
pamtester=$(command -v pamtester) && wrap pamtester "$pamtester"
chmod +x "$LOGDIR/bin/"*

# Every test of the build (TESTS from its Makefile).
all_tests=$(make -s -C "$builddir" -f Makefile -f <(printf 'vg-print-tests:\n\t@echo $(TESTS)\n') vg-print-tests)
tests=${VG_TESTS:-}
if [ "$tests" = all ]; then
    tests=$all_tests
elif [ -z "$tests" ]; then
    tests=$(tr ' ' '\n' <<<"$all_tests" | grep -E '(^|/)test-[^/]*$|/(4[0-7]|49|5[01]|6[0-2]|8[0-2])-[^/]*\.sh$' | tr '\n' ' ')
fi

start=$SECONDS
rc=0
PATH=$LOGDIR/bin:$PATH AE_DAEMON=$LOGDIR/bin/autoenrolld AE_CLI=$LOGDIR/bin/autoenroll \
    AE_TIMEOUT_SCALE=${AE_TIMEOUT_SCALE:-4} FAULT_KILLS=${FAULT_KILLS:-4} \
    make -C "$builddir" -j"${VG_JOBS:-2}" check TESTS="$tests" LOG_COMPILER="$LOGDIR/bin/vg" || rc=1
elapsed=$((SECONDS - start))

# Per log: errors other than leaks, definite leaks. A log without a summary is
# a forked child that exec'd another program (system(), hooks) or a process
# SIGKILLed by a test: counted apart, its errors before that still count.
n=0 nerr=0 nleak=0 nkill=0
bad=()
for f in "$LOGDIR"/vg.*.log; do
    [ -e "$f" ] || continue
    total=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$f" | tail -n 1)
    if [ -n "$total" ]; then
        n=$((n + 1))
    else
        nkill=$((nkill + 1))
        total=$(grep -cE '^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and dest|Argument)' "$f")
    fi
    leaks=$(grep -c 'are definitely lost in loss record' "$f")
    other=$((total - leaks))
    [ $other -gt 0 ] && nerr=$((nerr + 1))
    [ $leaks -gt 0 ] && nleak=$((nleak + 1))
    if [ $total -gt 0 ]; then
        bad+=("$f: $(sed -n 's/^==[0-9]*== Command: //p' "$f" | head -n 1 | cut -c1-100) ($other errors, $leaks definite leaks)")
    fi
done
echo "valgrind: $n processes checked, $nerr with errors, $nleak with definite leaks" \
    "($nkill more exec'd or were killed before exit; ${elapsed}s; logs in $LOGDIR)"
for b in "${bad[@]}"; do echo "  $b"; done
[ -f "$builddir/test-suite.log" ] && bash "$top/tools/test-summary.sh" "$builddir/test-suite.log"
[ ${#bad[@]} -gt 0 ] && rc=1
exit $rc
