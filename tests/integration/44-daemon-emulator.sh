#!/bin/bash
# Against the NDES emulator (separate RA certificates, 3DES + SHA-1 replies,
# PENDING then SUCCESS, short-lived certificates): autoenrolld polls a PENDING
# request with the same transaction until it is issued, and renews by itself
# when the renewal time comes (no command, no restart). When the CA refuses
# the RenewalReq, the daemon enrolls afresh with a PKCSReq (and, under ASan,
# frees the first attempt: that rebuild once leaked its key).
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/kdc.sh"
. "$top_srcdir/tests/realm/ndes-emulator.sh"
. "$top_srcdir/tests/realm/daemon.sh"
realm_init
kdc_start
ndes_emulator_start --pending --pending-polls 2 --valid-seconds 60
NDES_URL=unused SCEP_CA_FINGERPRINT=$NDES_EMU_CA_FINGERPRINT daemon_config "file:$REALM/keys"
sed -i "/^chain_file = .*machine-chain.pem/a sid = S-1-5-21-1004336348-1177238915-682003330-1105" "$AE_CONF"
# The emulator's two URLs, and a renewal window of 5% (about 33 s of these 11-minute lifetimes).
sed -i "s|^server = .*|server = $NDES_EMU_URL $NDES_EMU_ADMIN_URL|; s|^allow_des = yes|allow_des = no|; s|^\[daemon\]|[daemon]\nrenew_percent = 5|" "$AE_CONF"
daemon_start

ok "the CA first answers PENDING" daemon_wait_state machine PENDING 60
tid=$(ae --json status machine >/dev/null; /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["transaction"]["transaction_id"])' "$AE_STATE/machine.json")
ok "the pending transaction is kept in the state file" test -n "$tid"
ok "polling gets the certificate" daemon_wait_state machine MONITORING 60
ok "CertPoll used the same transaction" grep -q "CertPoll transaction ${tid:0:16}" "$NDES_EMU_LOG"
ok "the certificate chains to the emulator's CA" openssl verify -CAfile "$NDES_EMU_CA_CERT" "$AE_OUT/machine.pem"
ok "the chain file holds the CA, not the RA certificates" test "$(grep -c 'BEGIN CERTIFICATE' "$AE_OUT/machine-chain.pem")" = 1
sans=$(openssl x509 -in "$AE_OUT/machine.pem" -noout -ext subjectAltName)
ok "SAN dNSName is the host" grep -q "DNS:$CLIENT_HOST" <<<"$sans"
ok "SAN carries the strong-mapping SID URI" grep -q "URI:tag:microsoft.com,2022-09-14:sid:S-1-5-21-1004336348-1177238915-682003330-1105" <<<"$sans"
ok "no single DES was needed (3DES replies)" sh -c "! grep -q 'single DES' '$REALM/autoenrolld.log'"

s1=$(ae_field machine serial)
due=$(ae_field machine due)
na=$(ae_field machine not_after)
ok "renewal is scheduled inside the last 5% of the lifetime" test "$due" -lt "$na" -a "$due" -gt $((na - 60))
ok "the daemon renews by itself when the time comes" wait_for 120 sh -c "s=\$('$AE_CLI' --socket '$AE_SOCKET' --json status machine | grep -o '\"serial\": *\"[^\"]*\"'); [ -n \"\$s\" ] && ! echo \"\$s\" | grep -q '\"$s1\"'"
ok "and is back to MONITORING" daemon_wait_state machine MONITORING 60
ok "the renewed certificate is valid" openssl verify -CAfile "$NDES_EMU_CA_CERT" "$AE_OUT/machine.pem"
ok "renewal was logged as such" grep -q "renewed" "$REALM/autoenrolld.log"

# NDES refuses the RenewalReq: a fresh PKCSReq (PENDING here, then polled).
s2=$(ae_field machine serial)
renewed_again() { [ "$(ae_field machine state)" = MONITORING ] && [ "$(ae_field machine serial)" != "$s2" ]; }
touch "$NDES_EMU_DIR/refuse-renewal"
ae renew machine >/dev/null
ok "a refused RenewalReq: the renewal still gets a new certificate" wait_for 120 renewed_again
ok "the daemon logged the refusal and its fallback" grep -q "RenewalReq refused .*falling back to PKCSReq" "$REALM/autoenrolld.log"
ok "the emulator refused a RenewalReq, then took a PKCSReq" \
    awk '/refuse-renewal/ { r = 1 } r && /PKCSReq transaction/ { p = 1 } END { exit !p }' "$NDES_EMU_LOG"
key=$REALM/keys/$(ae_field machine key_ref).key
ok "the new certificate is valid and matches its key" sh -c \
    "openssl verify -CAfile '$NDES_EMU_CA_CERT' '$AE_OUT/machine.pem' &&
     [ \"\$(openssl x509 -in '$AE_OUT/machine.pem' -noout -pubkey)\" = \"\$(openssl pkey -in '$key' -pubout)\" ]"
