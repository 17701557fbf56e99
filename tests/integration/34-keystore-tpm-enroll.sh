#!/bin/bash
# An enrollment through the SCEP engine with the machine key inside the TPM
# (swtpm + tpm2-abrmd + tpm2-pkcs11): the CSR and the SCEP SignedData signed by
# the TPM, the CertRep envelope decrypted by it, the certificate stored on the
# TPM token under the key's id; then a renewal that drops the old key only
# after the new certificate is saved.
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/realm/tpm.sh"
stack_start
tpm_start
daemon_config "$TPM_URI"
daemon_start

ok "machine certificate enrolled with a TPM key" daemon_wait_state machine MONITORING 90
k1=$(ae_field machine key_ref)
s1=$(ae_field machine serial)
objs=$(tpmt --list-objects 2>/dev/null)
ok "the private key is in the TPM token under its id" grep -qi "ID: *$k1" <<<"$objs"
ok "the certificate is on the TPM token too" grep -q "Certificate Object" <<<"$objs"
ok "the key is sensitive and never extractable" \
    bash -c "grep -A4 'Private Key Object' <<<'$objs' | grep -q 'sensitive, always sensitive, never extractable'"
ok "certificate PEM verifies against the CA" openssl verify -CAfile "$SCEP_CA_CERT" "$AE_OUT/machine.pem"
ok "certificate matches the TPM key" bash -c "[ \"\$(openssl x509 -in '$AE_OUT/machine.pem' -noout -pubkey)\" = \
    \"\$(pkcs11-tool --module '$TPM_MODULE' --token-label autoenroll --read-object --type pubkey --id '$k1' 2>/dev/null | openssl pkey -pubin -inform DER -pubout)\" ]"

ae --json renew machine --wait >/dev/null
ok "renewal done" test "$(ae_field machine state)" = MONITORING
k2=$(ae_field machine key_ref)
s2=$(ae_field machine serial)
ok "renewal made a new TPM key" test -n "$k2" -a "$k2" != "$k1"
ok "renewal got a new certificate" test -n "$s2" -a "$s2" != "$s1"
objs=$(tpmt --list-objects 2>/dev/null)
ok "the old key is gone from the TPM token" bash -c "! grep -qi 'ID: *$k1' <<<'$objs'"
ok "the new key is there" grep -qi "ID: *$k2" <<<"$objs"
ok "one certificate left on the token" test "$(grep -c 'Certificate Object' <<<"$objs")" = 1
ok "the TPM PIN is not in the log" bash -c "! grep -qF \"\$(cat '$TPM_PIN_FILE')\" '$REALM/autoenrolld.log'"
