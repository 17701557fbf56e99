#!/bin/bash
# Bad cases, each with a clear error and nothing lost: wrong PIN, locked PIN
# (TPM dictionary-attack lockout; SoftHSM never locks), unsafe PIN file,
# missing PIN, module missing, token absent, token full, unsupported key size,
# unknown key. No message carries a PIN.
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/softhsm.sh"
. "$top_srcdir/tests/realm/tpm.sh"
realm_init
need openssl pkcs11-tool unshare mount
AEKEY=$top_builddir/tests/tools/ae-key
[ -x "$AEKEY" ] || bail "ae-key not built"
softhsm_init
MOD=$SOFTHSM_MODULE
ALL_ERRORS=$REALM/all-errors.txt
: >"$ALL_ERRORS"

# expect_error NAME PATTERN COMMAND... : the command fails and stderr matches.
expect_error() {
    local name=$1 pat=$2 out rc
    shift 2
    out=$("$@" 2>&1)
    rc=$?
    printf '%s\n' "$out" >>"$ALL_ERRORS"
    if [ $rc -eq 0 ]; then
        fail "$name" "command succeeded: $out"
    elif grep -qE -- "$pat" <<<"$out"; then
        pass "$name"
    else
        fail "$name" "no /$pat/ in: $out"
    fi
}

out=$("$AEKEY" generate "$SOFTHSM_URI" --label keep) || bail "generate failed: $out"
KEEP=${out%% *}

(umask 077 && echo "wrong-$RANDOM" >"$REALM/wrong.pin")
WRONG="pkcs11:token=autoenroll?module-path=$MOD&pin-source=file:$REALM/wrong.pin"
expect_error "wrong PIN" "wrong PIN.*Permission denied" "$AEKEY" list "$WRONG"
for _ in 1 2 3 4 5 6 7 8 9 10; do "$AEKEY" list "$WRONG" >/dev/null 2>&1; done
expect_error "SoftHSM: still 'wrong PIN' after 11 tries (it has no lockout)" "wrong PIN" "$AEKEY" list "$WRONG"
ok "SoftHSM: the right PIN still works after them" "$AEKEY" list "$SOFTHSM_URI"

cp "$SOFTHSM_PIN_FILE" "$REALM/open.pin" && chmod 644 "$REALM/open.pin"
expect_error "PIN file readable by others is refused" "group/other.*chmod 600" \
    "$AEKEY" list "pkcs11:token=autoenroll?module-path=$MOD&pin-source=file:$REALM/open.pin"
expect_error "missing PIN file" "PIN file .*No such file" \
    "$AEKEY" list "pkcs11:token=autoenroll?module-path=$MOD&pin-source=file:$REALM/none.pin"
expect_error "no PIN at all" "needs a PIN" "$AEKEY" list "pkcs11:token=autoenroll?module-path=$MOD"
(umask 077 && mkdir -p "$REALM/creds" && cp "$SOFTHSM_PIN_FILE" "$REALM/creds/token-pin")
ok "PIN from a systemd credential" env CREDENTIALS_DIRECTORY="$REALM/creds" \
    "$AEKEY" list "pkcs11:token=autoenroll?module-path=$MOD&pin-source=cred:token-pin"

expect_error "module missing (path)" "module /nonexistent/libnone.so could not be loaded" \
    "$AEKEY" list "pkcs11:token=autoenroll?module-path=/nonexistent/libnone.so&pin-source=file:$SOFTHSM_PIN_FILE"
expect_error "module missing (p11-kit name)" "no registered PKCS#11 module named 'nosuchmodule'" \
    "$AEKEY" list "pkcs11:token=autoenroll?module-name=nosuchmodule&pin-source=file:$SOFTHSM_PIN_FILE"
expect_error "token absent" "no PKCS#11 token 'elsewhere' is present.*No such device" \
    "$AEKEY" list "pkcs11:token=elsewhere?module-path=$MOD&pin-source=file:$SOFTHSM_PIN_FILE"
expect_error "RSA-1024 is not offered" "RSA-1024 is not offered" "$AEKEY" generate "$SOFTHSM_URI" --bits 1024
expect_error "unknown key" "no private key with this id" "$AEKEY" sign-csr "$SOFTHSM_URI" 0badc0de x "$REALM/x.pem"
expect_error "same id twice" "already has a key with id" "$AEKEY" generate "$SOFTHSM_URI" --id "$KEEP"
ok "the kept key still signs after all that" "$AEKEY" sign-csr "$SOFTHSM_URI" "$KEEP" keep "$REALM/keep.pem"

# Token full: a SoftHSM token on a 48 KiB tmpfs in a private mount namespace.
mkdir -p "$REALM/full"
cat >"$REALM/full.sh" <<SCRIPT
set -u
mount -t tmpfs -o size=48k,mode=0700 tmpfs "$REALM/full" || exit 90
mkdir -p "$REALM/full/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$REALM/full/tokens" >"$REALM/full.conf"
export SOFTHSM2_CONF="$REALM/full.conf"
softhsm2-util --init-token --free --label full --pin 123456 --so-pin 654321 >/dev/null || exit 91
URI="pkcs11:token=full?module-path=$MOD&pin-source=file:$REALM/full.pin"
n=0
while [ \$n -lt 40 ] && "$AEKEY" generate "\$URI" >>"$REALM/full-refs" 2>"$REALM/full-err"; do n=\$((n + 1)); done
[ \$n -lt 40 ] || exit 92
echo "made \$n keys" >"$REALM/full-made"
pkcs11-tool --module "$MOD" --token-label full --login --pin 123456 -O 2>/dev/null | grep -c 'Object;' >"$REALM/full-objects"
# Every key made before the token filled up still works.
while read -r ref _; do "$AEKEY" sign-csr "\$URI" "\$ref" full "$REALM/full-req.pem" || exit 93; done <"$REALM/full-refs"
SCRIPT
(umask 077 && echo 123456 >"$REALM/full.pin")
unshare -m bash "$REALM/full.sh"
rc=$?
ok "token full: filled a small token until generation failed (rc $rc)" test $rc -eq 0
ok "token full: a clear message" grep -q "may be full" "$REALM/full-err"
diag "$(cat "$REALM/full-made" "$REALM/full-err" 2>/dev/null)"
ok "token full: no half key pair left (objects = 2 x keys)" \
    test "$(cat "$REALM/full-objects")" = "$((2 * $(wc -l <"$REALM/full-refs")))"
cat "$REALM/full-err" >>"$ALL_ERRORS"

# The TPM: RSA-4096 refused (32-keystore-tpm.sh), the PIN locks after 3 tries.
tpm_start
TWRONG="pkcs11:token=autoenroll?module-path=$TPM_MODULE&pin-source=file:$REALM/wrong.pin"
ok "TPM: the right PIN works" "$AEKEY" list "$TPM_URI"
expect_error "TPM: wrong PIN" "wrong PIN" "$AEKEY" list "$TWRONG"
"$AEKEY" list "$TWRONG" >/dev/null 2>&1
"$AEKEY" list "$TWRONG" >/dev/null 2>&1
expect_error "TPM: locked after three wrong PINs" "PIN locked.*Operation not permitted" "$AEKEY" list "$TWRONG"
expect_error "TPM: locked also for the right PIN" "PIN locked" "$AEKEY" list "$TPM_URI"
ok "TPM: the owner clears the lockout" tpm2_dictionarylockout --clear-lockout
ok "TPM: the right PIN works again" "$AEKEY" list "$TPM_URI"

ok "no PIN in any error message" bash -c "! grep -qFf <(cat '$SOFTHSM_PIN_FILE' '$TPM_PIN_FILE' '$REALM/wrong.pin' '$REALM/full.pin') '$ALL_ERRORS'"
