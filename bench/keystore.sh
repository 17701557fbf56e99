#!/bin/bash
# Key store benchmark: key generation and signing times per token and key
# size, median of N runs, side by side with pkcs11-tool / openssl doing the same.
#
#   bench/keystore.sh [BUILDDIR]      (BENCH_N=5 by default)
#
# Needs a build with tests/tools/ae-key (make check builds it, or
# `make tests/tools/ae-key`). Starts its own SoftHSM and swtpm/tpm2-abrmd realm
# (same helpers as the integration tests) and removes it afterwards.
#
# Columns (milliseconds, median):
#   gen      ae-key generate, whole process (module load + login + generate)
#   gen-ref  the same with pkcs11-tool --keypairgen (tokens) or openssl genpkey (file)
#   sign     one SHA-256 signature through the OpenSSL provider, in process
#            (ae-key bench-sign: EVP_DigestSign, averaged over N)
#   sign-p   ae-key sign-data, whole process
#   sign-ref pkcs11-tool --sign -m SHA256-RSA-PKCS (tokens) or openssl dgst -sign (file), whole process
set -u
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=${1:-${top_builddir:-$top_srcdir/build-p11}}
top_builddir=$(cd "$top_builddir" && pwd)
export top_srcdir top_builddir
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/softhsm.sh"
. "$top_srcdir/tests/realm/tpm.sh"
_tap_finish() { :; } # a benchmark, not a TAP test
N=${BENCH_N:-5}
AEKEY=$top_builddir/tests/tools/ae-key
[ -x "$AEKEY" ] || { echo "build ae-key first: make -C $top_builddir tests/tools/ae-key" >&2; exit 2; }
need openssl pkcs11-tool
realm_init
softhsm_init >/dev/null
tpm_start >/dev/null

now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# time_ms COMMAND... : prints the wall time of one run, or "x" if it failed.
time_ms() {
    local a b
    a=$(now_ms)
    "$@" >/dev/null 2>&1 || { echo x; return; }
    b=$(now_ms)
    echo $((b - a))
}
# runs N COMMAND...: median over N runs (failed runs are dropped).
runs() {
    local n=$1 i
    shift
    for i in $(seq 1 "$n"); do time_ms "$@"; done | grep -v x | median
}

head -c 1000 /dev/urandom >"$REALM/data"
printf '%-8s %5s %8s %8s %8s %8s %9s\n' store bits gen gen-ref sign sign-p sign-ref

bench_token() { # NAME URI MODULE PINFILE BITS
    local name=$1 uri=$2 mod=$3 pinf=$4 bits=$5 gen genref sign signp signref ref i
    local refs=()
    gen=$(for i in $(seq 1 "$N"); do
        a=$(now_ms)
        out=$("$AEKEY" generate "$uri" --bits "$bits" --label bench 2>/dev/null) || { echo x; continue; }
        b=$(now_ms)
        echo "${out%% *}" >>"$REALM/bench-refs"
        echo $((b - a))
    done | grep -v x | median)
    genref=$(for i in $(seq 1 "$N"); do
        time_ms pkcs11-tool --module "$mod" --token-label autoenroll --login --pin "$(cat "$pinf")" \
            --keypairgen --key-type "rsa:$bits" --id "$(printf 'fe%04x' "$i")" --label benchref
    done | grep -v x | median)
    ref=$(tail -n 1 "$REALM/bench-refs" 2>/dev/null)
    if [ -z "$ref" ] || [ "$gen" = "-" ]; then
        printf '%-8s %5s %8s %8s %8s %8s %9s\n' "$name" "$bits" "refused" "$genref" - - -
        return
    fi
    sign=$("$AEKEY" bench-sign "$uri" "$ref" "$N" 2>/dev/null || echo x)
    signp=$(runs "$N" "$AEKEY" sign-data "$uri" "$ref" SHA256 "$REALM/data" "$REALM/sig")
    signref=$(runs "$N" pkcs11-tool --module "$mod" --token-label autoenroll --login --pin "$(cat "$pinf")" \
        --sign -m SHA256-RSA-PKCS --id "$ref" -i "$REALM/data" -o "$REALM/sig2")
    printf '%-8s %5s %8s %8s %8s %8s %9s\n' "$name" "$bits" "$gen" "$genref" "$sign" "$signp" "$signref"
    while read -r r; do "$AEKEY" delete "$uri" "$r" >/dev/null 2>&1; done <"$REALM/bench-refs"
    rm -f "$REALM/bench-refs"
    for i in $(seq 1 "$N"); do
        pkcs11-tool --module "$mod" --token-label autoenroll --login --pin "$(cat "$pinf")" \
            --delete-object --type privkey --id "$(printf 'fe%04x' "$i")" >/dev/null 2>&1
        pkcs11-tool --module "$mod" --token-label autoenroll --login --pin "$(cat "$pinf")" \
            --delete-object --type pubkey --id "$(printf 'fe%04x' "$i")" >/dev/null 2>&1
    done
}

bench_file() { # BITS
    local bits=$1 loc=file:$REALM/fkeys gen genref sign signp signref ref
    gen=$(for i in $(seq 1 "$N"); do
        a=$(now_ms)
        out=$("$AEKEY" generate "$loc" --bits "$bits" 2>/dev/null) || { echo x; continue; }
        b=$(now_ms)
        echo "${out%% *}" >"$REALM/fref"
        echo $((b - a))
    done | grep -v x | median)
    genref=$(runs "$N" openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$bits" -out "$REALM/ref.key")
    ref=$(cat "$REALM/fref")
    sign=$("$AEKEY" bench-sign "$loc" "$ref" "$N" 2>/dev/null || echo x)
    signp=$(runs "$N" "$AEKEY" sign-data "$loc" "$ref" SHA256 "$REALM/data" "$REALM/sig")
    signref=$(runs "$N" openssl dgst -sha256 -sign "$REALM/ref.key" -out "$REALM/sig2" "$REALM/data")
    printf '%-8s %5s %8s %8s %8s %8s %9s\n' file "$bits" "$gen" "$genref" "$sign" "$signp" "$signref"
}

for bits in 2048 3072 4096; do bench_file "$bits"; done
for bits in 2048 3072 4096; do bench_token softhsm "$SOFTHSM_URI" "$SOFTHSM_MODULE" "$SOFTHSM_PIN_FILE" "$bits"; done
for bits in 2048 3072 4096; do bench_token tpm "$TPM_URI" "$TPM_MODULE" "$TPM_PIN_FILE" "$bits"; done
echo "# N=$N; times in ms (median); 'refused' = the token cannot make that size"
