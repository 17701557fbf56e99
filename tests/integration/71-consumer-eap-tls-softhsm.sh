#!/bin/bash
# EAP-TLS with the machine key inside SoftHSM, reached by wpa_supplicant
# (eapol_test) through its PKCS#11 URI: libp11's OpenSSL engine over
# p11-kit-proxy, as `autoenroll consumer-config` writes it. Then a renewal:
# the next authentication uses the new certificate and key, and the old key
# is gone from the token (it can no longer authenticate).
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/realm/softhsm.sh"
. "$top_srcdir/tests/realm/radius.sh"
need eapol_test freeradius
# with_pin CONF : the block with the token PIN added (never printed)
with_pin() { sed "s|^}|\tpin=\"$(cat "$SOFTHSM_PIN_FILE")\"\n}|" "$1" >"$1.pin"; }
stack_start
softhsm_init
daemon_config "$SOFTHSM_URI"
daemon_start
testca_init
radius_start

ok "machine certificate enrolled into SoftHSM" daemon_wait_state machine MONITORING 60
k1=$(ae_field machine key_ref)
ok "consumer-config prints a wpa_supplicant block" \
    ae_to "$REALM/wpa.conf" consumer-config machine --for wpa_supplicant
diag "$(sed 's/^/    /' "$REALM/wpa.conf")"
ok "the key is named by its PKCS#11 URI" grep -q "private_key=\"pkcs11:.*id=.*type=private\"" "$REALM/wpa.conf"
ok "the certificate too" grep -q "client_cert=\"pkcs11:.*id=.*type=cert\"" "$REALM/wpa.conf"
ok "the URI is the token's full one" grep -q "private_key=\"pkcs11:.*manufacturer=SoftHSM%20project.*serial=.*token=autoenroll" "$REALM/wpa.conf"
ok "p11-kit-proxy and libp11's engine are set" \
    sh -c "grep -q '^pkcs11_module_path=.*p11-kit-proxy.so' '$REALM/wpa.conf' && grep -q '^pkcs11_engine_path=.*/pkcs11.so' '$REALM/wpa.conf'"
with_pin "$REALM/wpa.conf"
ok "EAP-TLS with the SoftHSM key through p11-kit-proxy: Access-Accept" eap_tls "$REALM/wpa.conf.pin"
ok "FreeRADIUS accepted the machine" grep -q "Login OK: \[host/$CLIENT_HOST\]" "$REALM/radiusd.log"
ok "wpa_supplicant loaded libp11's engine over p11-kit-proxy" grep -q "ENGINE: Loading pkcs11 Engine from .* with module .*p11-kit" "$REALM/eapol_test.log"
diag "eapol_test: $(grep -E 'ENGINE: Loading|CTRL-EVENT-EAP-(METHOD|SUCCESS)|^SUCCESS' "$REALM/eapol_test.log" | tr '\n' '|')"
ok_fails "without the PIN the token key is not usable" eap_tls "$REALM/wpa.conf" "$REALM/eapol_test-nopin.log"

# Renewal: a new key on the token, the fragment follows it.
cp "$REALM/wpa.conf.pin" "$REALM/wpa-old.conf"
ok "renewal" ae_to /dev/null renew machine --wait
k2=$(ae_field machine key_ref)
ok "a new key" test -n "$k2" -a "$k2" != "$k1"
ok "consumer-config follows the new key" \
    ae_to "$REALM/wpa2.conf" consumer-config machine --for wpa_supplicant
ok "the new fragment names the new id" sh -c "! cmp -s '$REALM/wpa.conf' '$REALM/wpa2.conf'"
with_pin "$REALM/wpa2.conf"
lines=$(wc -l <"$REALM/radiusd.log")
before=$(grep -c "Login OK" "$REALM/radiusd.log")
ok "EAP-TLS with the renewed certificate and key: Access-Accept" eap_tls "$REALM/wpa2.conf.pin"
ok "FreeRADIUS accepted it" test "$(grep -c "Login OK" "$REALM/radiusd.log")" -gt "$before"
serial=$(openssl x509 -in "$AE_OUT/machine.pem" -noout -serial | sed 's/.*=0*//' | tr A-F a-f)
ok "the server saw the new certificate's serial ($serial)" \
    sh -c "tail -n +$lines '$REALM/radiusd.log' | grep -q 'TLS-Client-Cert-Serial := \"0*$serial\"'"
ok "the old key is gone from the token" sh -c "! p11t --list-objects 2>/dev/null | grep -qi 'ID: *$k1'"
ok_fails "the old key's URI no longer authenticates" eap_tls "$REALM/wpa-old.conf" "$REALM/eapol_test-old.log"
ok "the PIN is not in the fragments" sh -c "! grep -qF \"\$(cat '$SOFTHSM_PIN_FILE')\" '$REALM/wpa.conf' '$REALM/wpa2.conf'"
