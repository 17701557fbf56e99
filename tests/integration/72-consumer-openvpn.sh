#!/bin/bash
# OpenVPN 2.6: a TLS server and a client on 127.0.0.1 (--dev null) complete
# the handshake with the certificate autoenrolld enrolled, the client's options
# taken from `autoenroll consumer-config --for openvpn`: the file key (cert/key),
# and the SoftHSM key through pkcs11-helper (pkcs11-providers p11-kit-proxy +
# the pkcs11-id autoenroll computes, checked against `openvpn --show-pkcs11-ids`).
# A certificate from another CA is refused by the server.
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/realm/softhsm.sh"
. "$top_srcdir/tests/realm/radius.sh"
. "$top_srcdir/tests/realm/openvpn.sh"
need openvpn
stack_start
softhsm_init
# Two machine profiles: one with a file key, one with the key in SoftHSM.
daemon_config "file:$REALM/keys" "$(daemon_machine_profile token "$SOFTHSM_URI")"
daemon_start
testca_init

ok "machine certificate (file key) enrolled" daemon_wait_state machine MONITORING 60
ok "consumer-config prints OpenVPN options" ae_to "$REALM/client-file.conf" consumer-config machine --for openvpn
diag "$(sed 's/^/    /' "$REALM/client-file.conf")"
ok "handshake with the enrolled certificate and file key" openvpn_handshake file "$REALM/client-file.conf"
ok "the server verified the machine's certificate" \
    grep -q "VERIFY OK: depth=0, CN=$CLIENT_HOST" "$REALM/openvpn-file-server.log"
diag "server: $(grep -E 'VERIFY OK|Peer Connection Initiated|Initialization Sequence' "$REALM/openvpn-file-server.log" | sed 's/^[0-9-]* [0-9:]* //' | tr '\n' '|')"

other_ca_issue intruder "$CLIENT_HOST"
sed -e "s|^cert .*|cert $REALM/otherca/intruder.pem|" -e "s|^key .*|key $REALM/otherca/intruder.key|" \
    "$REALM/client-file.conf" >"$REALM/client-other.conf"
ok_fails "a certificate from another CA: no handshake" openvpn_handshake other "$REALM/client-other.conf"
ok "the server refused it" grep -q "VERIFY ERROR" "$REALM/openvpn-other-server.log"

ae_to /dev/null request token >/dev/null 2>&1
ok "machine certificate (SoftHSM key) enrolled" daemon_wait_state token MONITORING 60
ok "consumer-config prints PKCS#11 options" ae_to "$REALM/client-p11.conf" consumer-config token --for openvpn
diag "$(sed 's/^/    /' "$REALM/client-p11.conf")"
ok "pkcs11-providers is p11-kit-proxy" grep -q "^pkcs11-providers .*p11-kit-proxy.so$" "$REALM/client-p11.conf"
id=$(sed -n "s/^pkcs11-id '\(.*\)'$/\1/p" "$REALM/client-p11.conf")
openvpn --show-pkcs11-ids "$SOFTHSM_MODULE" >"$REALM/show-ids.log" 2>&1
ok "openvpn lists the same pkcs11-id for the token's certificate" grep -qF "Serialized id:  $id" "$REALM/show-ids.log"
ok "handshake with the SoftHSM key through pkcs11-helper" \
    openvpn_handshake p11 "$REALM/client-p11.conf" "$SOFTHSM_PIN_FILE"
ok "the PIN was asked and answered on the management interface" \
    grep -q "answered the PIN query" "$REALM/ovpn_p11_pin.log"
ok "the server verified the token's certificate" \
    grep -q "VERIFY OK: depth=0, CN=$CLIENT_HOST" "$REALM/openvpn-p11-server.log"
ok_fails "without the PIN: no handshake" openvpn_handshake nopin "$REALM/client-p11.conf"
ok "the PIN is in no log" sh -c "! grep -rqF \"\$(cat '$SOFTHSM_PIN_FILE')\" '$REALM'/openvpn-*.log '$REALM'/ovpn_*.log"
