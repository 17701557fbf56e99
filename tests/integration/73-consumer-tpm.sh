#!/bin/bash
# The machine key inside the TPM (swtpm + tpm2-abrmd + tpm2-pkcs11): EAP-TLS
# with eapol_test (libp11 engine over p11-kit-proxy, which loads the
# registered tpm2_pkcs11 module) and an OpenVPN handshake (pkcs11-helper),
# both configured from `autoenroll consumer-config`.
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/realm/tpm.sh"
. "$top_srcdir/tests/realm/radius.sh"
. "$top_srcdir/tests/realm/openvpn.sh"
need eapol_test freeradius openvpn
with_pin() { sed "s|^}|\tpin=\"$(cat "$TPM_PIN_FILE")\"\n}|" "$1" >"$1.pin"; }
stack_start
tpm_start
daemon_config "$TPM_URI"
daemon_start
testca_init
radius_start

ok "machine certificate enrolled with a TPM key" daemon_wait_state machine MONITORING 90
ok "consumer-config prints a wpa_supplicant block" \
    ae_to "$REALM/wpa.conf" consumer-config machine --for wpa_supplicant
diag "$(sed 's/^/    /' "$REALM/wpa.conf")"
with_pin "$REALM/wpa.conf"
ok "EAP-TLS with the TPM key: Access-Accept" eap_tls "$REALM/wpa.conf.pin"
ok "FreeRADIUS accepted the machine" grep -q "Login OK: \[host/$CLIENT_HOST\]" "$REALM/radiusd.log"
diag "eapol_test: $(grep -E 'ENGINE: Loading pkcs11|CTRL-EVENT-EAP-(METHOD|SUCCESS|FAILURE)|^SUCCESS|^FAILURE' "$REALM/eapol_test.log" | tr '\n' '|')"

ok "consumer-config prints OpenVPN options" ae_to "$REALM/client.conf" consumer-config machine --for openvpn
diag "$(sed 's/^/    /' "$REALM/client.conf")"
openvpn --show-pkcs11-ids "$TPM_MODULE" >"$REALM/show-ids.log" 2>&1
id=$(sed -n "s/^pkcs11-id '\(.*\)'$/\1/p" "$REALM/client.conf")
ok "openvpn lists the same pkcs11-id" grep -qF "Serialized id:  $id" "$REALM/show-ids.log"
ok "OpenVPN handshake with the TPM key" openvpn_handshake tpm "$REALM/client.conf" "$TPM_PIN_FILE"
ok "the server verified the machine's certificate" \
    grep -q "VERIFY OK: depth=0, CN=$CLIENT_HOST" "$REALM/openvpn-tpm-server.log"
