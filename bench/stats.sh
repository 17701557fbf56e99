# shellcheck shell=bash
# Small helpers for the benchmarks (sourced).
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# median of numbers on stdin (one a line)
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# p-th percentile (nearest rank) of numbers on stdin
percentile() { sort -g | awk -v p="$1" '{ a[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; print a[i] }'; }
