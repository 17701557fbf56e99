#!/bin/bash
# Build and run the libFuzzer targets: every fuzz/fuzz-*.c.
#
#   tools/fuzz.sh [-o OUTDIR] [-t SECONDS | -r RUNS] [-b] [TARGET...]
#
#   -o OUTDIR   build and corpus directory (default: ./build-fuzz)
#   -t SECONDS  run each target this long (default 60)
#   -r RUNS     run each target this many inputs instead
#   -b          build only
#   TARGET      names like fuzz-caps (default: all)
#
# Each target is built with clang -fsanitize=fuzzer,address,undefined against
# the daemon sources it names in a comment line
#   // fuzz-sources: daemon/a.c daemon/b.c      (or inside a /* */ block)
# (default: daemon/<name without "fuzz-">.c) and the pkg-config packages of
# a "fuzz-pkgs:" line (default: openssl). Seeds come from fuzz/corpus/<target>/
# when present; new inputs go to OUTDIR/corpus/<target>/ and crashes to
# OUTDIR/crashes/<target>/. Exit status: non-zero when a build fails or a
# target finds a crash.
#
# A longer run, e.g. before a release:  tools/fuzz.sh -t 3600
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$PWD/build-fuzz
secs=60
runs=
build_only=0
while getopts "o:t:r:b" opt; do
    case $opt in
        o) out=$(mkdir -p "$OPTARG" && cd "$OPTARG" && pwd) ;;
        t) secs=$OPTARG ;;
        r) runs=$OPTARG ;;
        b) build_only=1 ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
CC=${CC_FUZZ:-clang}
command -v "$CC" >/dev/null || { echo "fuzz.sh: $CC not found (package clang)" >&2; exit 1; }
mkdir -p "$out"
# The daemon sources expect config.h (force-included by automake builds).
cat >"$out/config.h" <<'EOF'
#pragma once
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#define PACKAGE_VERSION "fuzz"
#define SYSCONFDIR "/etc"
#define LOCALSTATEDIR "/var"
#define RUNSTATEDIR "/run"
#define LIBEXECDIR "/usr/libexec"
EOF

targets=()
if [ $# -gt 0 ]; then
    for t in "$@"; do targets+=("$top/fuzz/${t%.c}.c"); done
else
    targets=("$top"/fuzz/fuzz-*.c)
fi

field() { # FILE NAME: the words after "NAME:" in a comment line
    sed -n "s|^[[:space:]/*]*$2:[[:space:]]*||p" "$1" | head -n 1 | sed "s|[*]/.*||; s|[[:space:]]*$||"
}

rc=0
for src in "${targets[@]}"; do
    [ -f "$src" ] || { echo "fuzz.sh: no such target $src" >&2; rc=1; continue; }
    name=$(basename "$src" .c)
    sources=$(field "$src" fuzz-sources)
    [ -n "$sources" ] || sources=daemon/${name#fuzz-}.c
    pkgs=$(field "$src" fuzz-pkgs)
    [ -n "$pkgs" ] || pkgs=openssl
    srcs=()
    for s in $sources; do srcs+=("$top/$s"); done
    # shellcheck disable=SC2046
    if ! "$CC" -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED -include "$out/config.h" -I"$top" \
        $(pkg-config --cflags $pkgs) "$src" "${srcs[@]}" $(pkg-config --libs $pkgs) \
        -o "$out/$name" 2>"$out/$name.build.log"; then
        echo "not built: $name"
        sed 's/^/  /' "$out/$name.build.log" | tail -n 20
        rc=1
        continue
    fi
    echo "built: $name"
    [ $build_only = 1 ] && continue
    mkdir -p "$out/corpus/$name" "$out/crashes/$name"
    seeds=()
    [ -d "$top/fuzz/corpus/$name" ] && seeds=("$top/fuzz/corpus/$name")
    limit=(-max_total_time="$secs")
    [ -n "$runs" ] && limit=(-runs="$runs")
    if "$out/$name" "${limit[@]}" -max_len=16384 -timeout=20 -rss_limit_mb=2048 \
        -artifact_prefix="$out/crashes/$name/" "$out/corpus/$name" "${seeds[@]}" \
        >"$out/$name.log" 2>&1; then
        echo "ok: $name ($(grep -o 'Done [0-9]* runs' "$out/$name.log" | tail -n 1 || echo 'no stats'))"
    else
        echo "FAILED: $name (see $out/$name.log)"
        grep -m 5 -E 'ERROR|SUMMARY|Test unit written' "$out/$name.log" | sed 's/^/  /'
        rc=1
    fi
done
exit $rc
