#!/bin/bash
# EAP-TLS with the certificate autoenrolld enrolled (file key store): the
# wpa_supplicant fragment from `autoenroll consumer-config` drives eapol_test
# against a private FreeRADIUS that trusts the test SCEP CA and checks its
# CRL. Refused: the same key with an expired certificate, a certificate from
# another CA, and the enrolled certificate once revoked. The NetworkManager
# fragment is read and rewritten by `nmcli --offline`.
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/realm/radius.sh"
need nmcli eapol_test freeradius
# ae_to FILE ARGS... : the CLI's output into FILE
json_check() { ae consumer-config machine --for openvpn --json >"$REALM/c.json" &&
    /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert d["key"] == sys.argv[2] and d["fragment"].startswith("# OpenVPN"), d' "$REALM/c.json" "$1"; }
stack_start
daemon_config "file:$REALM/keys"
daemon_start
testca_init
radius_start --crl

ok "machine certificate enrolled" daemon_wait_state machine MONITORING 60
ok "consumer-config prints a wpa_supplicant block" \
    ae_to "$REALM/wpa.conf" consumer-config machine --for wpa_supplicant
diag "$(sed 's/^/    /' "$REALM/wpa.conf")"
key=$(ae_field machine key_store | sed 's/^file://')/$(ae_field machine key_ref).key
ok "the block names the file key" grep -qF "private_key=\"$key\"" "$REALM/wpa.conf"
ok "the block trusts the chain from GetCACert" grep -qF "ca_cert=\"$AE_OUT/machine-chain.pem\"" "$REALM/wpa.conf"
ok "the machine identity is host/FQDN" grep -qF "identity=\"host/$CLIENT_HOST\"" "$REALM/wpa.conf"
ok "EAP-TLS with the enrolled certificate: Access-Accept" eap_tls "$REALM/wpa.conf"
ok "FreeRADIUS saw the machine's certificate" grep -q "Login OK: \[host/$CLIENT_HOST\]" "$REALM/radiusd.log"
diag "eapol_test: $(grep -E 'CTRL-EVENT-EAP-(METHOD|SUCCESS)|^SUCCESS' "$REALM/eapol_test.log" | tr '\n' '|')"

# The same key with an expired certificate from the same CA.
testca_issue expired "$CLIENT_HOST" --key "$key" --expired
sed "s|client_cert=\".*\"|client_cert=\"$TESTCA/expired.pem\"|" "$REALM/wpa.conf" >"$REALM/wpa-expired.conf"
ok_fails "an expired certificate is refused" eap_tls "$REALM/wpa-expired.conf"
ok "FreeRADIUS says why" grep -q "certificate has expired" "$REALM/radiusd.log"

# A certificate (and key) from another CA.
other_ca_issue intruder "$CLIENT_HOST"
sed -e "s|client_cert=\".*\"|client_cert=\"$REALM/otherca/intruder.pem\"|" \
    -e "s|private_key=\".*\"|private_key=\"$REALM/otherca/intruder.key\"|" "$REALM/wpa.conf" >"$REALM/wpa-other.conf"
ok_fails "a certificate from another CA is refused" eap_tls "$REALM/wpa-other.conf"
ok "FreeRADIUS says why" grep -q "unable to get local issuer certificate" "$REALM/radiusd.log"

# The enrolled certificate, revoked: FreeRADIUS reads the new CRL at start.
testca_revoke "$AE_OUT/machine.pem"
radius_stop
radius_start --crl
ok_fails "the revoked certificate is refused" eap_tls "$REALM/wpa.conf"
ok "FreeRADIUS says why" grep -q "certificate revoked" "$REALM/radiusd.log"

# NetworkManager: the keyfile fragment goes through nmcli's own keyfile
# reader and writer (nmcli --offline, NetworkManager 1.42) unchanged.
ok "consumer-config prints a NetworkManager keyfile" \
    ae_to "$REALM/nm.nmconnection" consumer-config machine --for networkmanager
ok "nmcli --offline accepts it" \
    sh -c "nmcli --offline connection modify connection.autoconnect yes < '$REALM/nm.nmconnection' > '$REALM/nm.out'"
ok "nmcli kept the private key" grep -qxF "private-key=$key" "$REALM/nm.out"
ok "nmcli kept the client certificate" grep -qxF "client-cert=$AE_OUT/machine.pem" "$REALM/nm.out"
ok "nmcli kept EAP-TLS" grep -qx "eap=tls;" "$REALM/nm.out"
sed 's/^eap=tls;/eap=tlss;/' "$REALM/nm.nmconnection" >"$REALM/nm-bad.nmconnection"
ok_fails "nmcli --offline rejects a broken keyfile (the check can fail)" \
    sh -c "nmcli --offline connection modify connection.autoconnect yes < '$REALM/nm-bad.nmconnection'"

ok "--json carries the fragment and the paths" json_check "$key"

# A user certificate: alice enrolls with her tickets, asks for her own
# fragment, and authenticates with it as herself (FreeRADIUS, now checking the
# CRL with the machine's certificate in it, still accepts hers).
alice=$(test_uid alice)
kdc_kinit_user alice "$REALM/alice.ccache" || bail "kinit alice"
chown "$alice" "$REALM/alice.ccache"
chmod 600 "$REALM/alice.ccache"
ae_as() { local u=$1; shift; as_user "$u" env KRB5CCNAME="FILE:$REALM/$u.ccache" "$AE_CLI" --socket "$AE_SOCKET" "$@"; }
ae_as_to() { local f=$1; shift; ae_as "$@" >"$f"; }
ok "alice's certificate enrolled" ae_as_to /dev/null alice request user --wait
ok "alice gets her own fragment" \
    ae_as_to "$REALM/home/alice/wpa.conf" alice consumer-config "user-$alice" --for wpa_supplicant
ok "her identity is her UPN" grep -qF "identity=\"alice@$REALM_NAME\"" "$REALM/home/alice/wpa.conf"
ok "her key is her file" grep -qF "private_key=\"$REALM/userkeys/alice/" "$REALM/home/alice/wpa.conf"
ok "EAP-TLS as alice with her certificate: Access-Accept" \
    as_user alice eapol_test -c "$REALM/home/alice/wpa.conf" -a 127.0.0.1 -p "$RADIUS_PORT" -s "$RADIUS_SECRET" -r 0 -t 15
ok "FreeRADIUS accepted alice" grep -q "Login OK: \[alice@$REALM_NAME\]" "$REALM/radiusd.log"
ok_fails "bob cannot get alice's fragment" ae_as bob consumer-config "user-$alice" --for wpa_supplicant
ok_fails "an unknown consumer is a usage error" ae consumer-config machine --for ipsec
ok_fails "an unknown request fails" ae consumer-config nosuch --for openvpn
