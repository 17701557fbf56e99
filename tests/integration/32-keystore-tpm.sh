#!/bin/bash
# The TPM path: swtpm + tpm2-abrmd + tpm2-pkcs11, the same checks as SoftHSM,
# RSA-4096 refused cleanly with nothing left behind, and the TPM going away.
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/tpm.sh"
. "$top_srcdir/tests/realm/keystore.sh"
realm_init
need openssl pkcs11-tool p11tool
AEKEY=$top_builddir/tests/tools/ae-key
[ -x "$AEKEY" ] || bail "ae-key not built"
tpm_start
P11_MODULE=$TPM_MODULE
P11_PIN_FILE=$TPM_PIN_FILE

# The TPM runs one command at a time: a signature waits for a key generation
# in the TPM itself, whatever the key store does. Here the concurrency check
# shows only that both threads finish and every signature is good.
keystore_checks "$TPM_URI" tpm 2048 tpmt 1

out=$("$AEKEY" generate "$TPM_URI" --bits 3072 --label k3072) || fail "RSA-3072 in the TPM" "$out"
r=${out%% *}
ok "RSA-3072: CSR verifies" bash -c "'$AEKEY' sign-csr '$TPM_URI' $r k3072 '$REALM/r3072.pem' && openssl req -in '$REALM/r3072.pem' -verify -noout"
ok "RSA-3072: deleted" "$AEKEY" delete "$TPM_URI" "$r"

before=$(tpmt --list-objects 2>/dev/null | grep -c 'Object;')
out=$("$AEKEY" generate "$TPM_URI" --bits 4096 2>&1)
rc=$?
ok "RSA-4096 is refused" test $rc -ne 0
ok "with a clear message" bash -c "grep -q 'cannot make RSA-4096' <<<'$out' && grep -q 'Operation not supported' <<<'$out'"
ok "and nothing is left on the token" test "$(tpmt --list-objects 2>/dev/null | grep -c 'Object;')" = "$before"

# The TPM goes away under an open key store.
out=$("$AEKEY" generate "$TPM_URI" --label gone) || bail "generate failed: $out"
r=${out%% *}
mkfifo "$REALM/go"
"$AEKEY" sign-wait "$TPM_URI" "$r" gone "$REALM/gone-live.pem" <"$REALM/go" >"$REALM/live.out" 2>"$REALM/live.err" &
live=$!
exec 7>"$REALM/go"
wait_for 20 grep -q ready "$REALM/live.out" || bail "sign-wait did not open the key: $(cat "$REALM/live.err")"
tpm_stop_swtpm
echo go >&7
exec 7>&-
wait $live
ok "TPM removed under an open session: signing fails" test $? -ne 0
diag "$(grep ae-key "$REALM/live.err")"
ok "with a token error naming the operation, not a crash" grep -q "ae-key: token: X509_REQ_sign: PKCS#11 C_Sign on token 'autoenroll'" "$REALM/live.err"
ok "no CSR was written" test ! -s "$REALM/gone-live.pem"
out=$("$AEKEY" sign-csr "$TPM_URI" "$r" gone "$REALM/gone.pem" 2>&1)
ok "with the TPM gone, using the token fails" test $? -ne 0
diag "$out"
ok "with a token error, not a crash" bash -c "grep -q 'ae-key: token:' <<<'$out'"
ok "no PIN in any message" bash -c "! grep -qF '$(cat "$TPM_PIN_FILE")' <<<'$out'"
