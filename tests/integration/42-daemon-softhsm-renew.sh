#!/bin/bash
# The machine key made inside SoftHSM (never extractable), the certificate
# stored on the token under the key's CKA_ID, and a renewal: a new key, the
# old key and certificate kept until the new certificate is saved, then gone;
# a post-save hook run with the request in its environment.
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/realm/softhsm.sh"
stack_start
softhsm_init
daemon_config "$SOFTHSM_URI" "hook_timeout = 10s"
# The hook belongs to the machine profile: insert it there.
sed -i "/^chain_file = .*machine-chain.pem/a hook = env | grep ^AUTOENROLL_ | sort > $REALM/hook.env; id -u >> $REALM/hook.env" "$AE_CONF"
daemon_start

ok "machine certificate enrolled into SoftHSM" daemon_wait_state machine MONITORING 60
k1=$(ae_field machine key_ref)
s1=$(ae_field machine serial)
objs=$(p11t --list-objects 2>/dev/null)
ok "the private key is on the token under its id" grep -qi "ID: *$k1" <<<"$objs"
ok "the certificate is on the token too" grep -q "Certificate Object" <<<"$objs"
ok "the key is sensitive and not extractable" sh -c "pkcs11-tool --module '$SOFTHSM_MODULE' --token-label autoenroll --login --pin \$(cat '$SOFTHSM_PIN_FILE') --read-object --type privkey --id '$k1' -o '$REALM/stolen.key' 2>/dev/null; test ! -s '$REALM/stolen.key'"
ok "certificate PEM written" openssl verify -CAfile "$SCEP_CA_CERT" "$AE_OUT/machine.pem"
ok "certificate matches the token key" sh -c "[ \"\$(openssl x509 -in '$AE_OUT/machine.pem' -noout -pubkey)\" = \"\$(pkcs11-tool --module '$SOFTHSM_MODULE' --token-label autoenroll --read-object --type pubkey --id '$k1' 2>/dev/null | openssl pkey -pubin -inform DER -pubout)\" ]"
ok "the hook ran after the save" wait_for 10 test -s "$REALM/hook.env"
ok "the hook knows the request" grep -q "^AUTOENROLL_REQUEST_ID=machine" "$REALM/hook.env"
ok "the hook gets the key's PKCS#11 URI" grep -q "^AUTOENROLL_KEY=pkcs11:.*id=" "$REALM/hook.env"
ok "the hook gets the certificate path" grep -q "^AUTOENROLL_CERT_FILE=$AE_OUT/machine.pem" "$REALM/hook.env"
ok "a machine hook runs as root" test "$(tail -n 1 "$REALM/hook.env")" = 0

rm -f "$REALM/hook.env"
out=$(ae --json renew machine --wait)
ok "renew --wait returns with a new certificate in place" test "$(ae_field machine state)" = MONITORING
k2=$(ae_field machine key_ref)
s2=$(ae_field machine serial)
ok "renewal made a new key" test -n "$k2" -a "$k2" != "$k1"
ok "renewal got a new certificate" test -n "$s2" -a "$s2" != "$s1"
ok "PEM file now holds the new certificate" sh -c "openssl x509 -in '$AE_OUT/machine.pem' -noout -serial | grep -qi '=0*$s2\$'"
ok "the old key is gone from the token once the new one is saved" sh -c "! p11t --list-objects 2>/dev/null | grep -qi 'ID: *$k1'"
objs=$(p11t --list-objects 2>/dev/null)
ok "the new key is on the token" grep -qi "ID: *$k2" <<<"$objs"
ok "one certificate left on the token" test "$(grep -c 'Certificate Object' <<<"$objs")" = 1
ok "the hook ran again, for the new key" wait_for 10 grep -q "^AUTOENROLL_KEY_REF=$k2" "$REALM/hook.env"
ok "renewal logged with its message id" grep -q "6a1e2c2b9f5d4b0e8c3f1a7d2e9b4c02" "$REALM/autoenrolld.log"

# The PIN never reaches the log.
ok "the token PIN is not in the log" sh -c "! grep -qF \"\$(cat '$SOFTHSM_PIN_FILE')\" '$REALM/autoenrolld.log'"
