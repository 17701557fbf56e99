#!/bin/bash
# A short libFuzzer run of every fuzz/fuzz-*.c target (built by tools/fuzz.sh
# with clang, ASan and UBSan). Longer runs: tools/fuzz.sh -t 3600.
. "$top_srcdir/tests/realm/lib.sh"
realm_init
need clang pkg-config
secs=${FUZZ_SECONDS:-15}
out=$REALM/fuzz
mkdir -p "$out"
# The fuzzers run their own sanitizers; don't inherit the test suite's.
unset ASAN_OPTIONS UBSAN_OPTIONS LD_PRELOAD
for src in "$top_srcdir"/fuzz/fuzz-*.c; do
    name=$(basename "$src" .c)
    ok "$name builds" bash "$top_srcdir/tools/fuzz.sh" -o "$out" -b "$name"
    ok "$name runs ${secs}s without a crash" bash "$top_srcdir/tools/fuzz.sh" -o "$out" -t "$secs" "$name"
    ok "$name executed inputs" grep -q 'Done [0-9]* runs' "$out/$name.log"
done
