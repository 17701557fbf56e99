#!/bin/bash
# autoenrolld enrolls the machine certificate at first start, from config
# alone: host keytab -> NDES challenge (Negotiate) -> scepserver through the
# Apache NDES stand-in; key in the file store, certificate and chain as PEM.
. "$top_srcdir/tests/realm/stack.sh"
stack_start
daemon_config "file:$REALM/keys"
daemon_start

ok "machine request exists at first start" test "$(ae_field machine kind)" = machine
ok "machine certificate enrolled without anyone asking" daemon_wait_state machine MONITORING 60
ok "certificate written" test -s "$AE_OUT/machine.pem"
ok "chain written" grep -q "BEGIN CERTIFICATE" "$AE_OUT/machine-chain.pem"
ok "certificate chains to the test CA" openssl verify -CAfile "$SCEP_CA_CERT" "$AE_OUT/machine.pem"
ok "SAN is the host's FQDN" sh -c "openssl x509 -in '$AE_OUT/machine.pem' -noout -ext subjectAltName | grep -q 'DNS:$CLIENT_HOST'"
ok "subject CN is the host's FQDN" sh -c "openssl x509 -in '$AE_OUT/machine.pem' -noout -subject | grep -q 'CN *= *$CLIENT_HOST'"
ok "EKU is clientAuth" sh -c "openssl x509 -in '$AE_OUT/machine.pem' -noout -ext extendedKeyUsage | grep -q 'TLS Web Client Authentication'"
ref=$(ae_field machine key_ref)
ok "key reference recorded" test -n "$ref"
ok "private key file is 0600" test "$(stat -c %a "$REALM/keys/$ref.key")" = 600
ok "key matches certificate" sh -c "[ \"\$(openssl x509 -in '$AE_OUT/machine.pem' -noout -pubkey)\" = \"\$(openssl pkey -in '$REALM/keys/$ref.key' -pubout)\" ]"
ok "one-time challenge was consumed" sh -c "[ -z \"\$(ls '$NDES_DIR/challenges')\" ]"
ok "not_after recorded" test "$(ae_field machine not_after)" -gt "$(date +%s)"
ok "metrics file has the expiry" grep -q '^autoenroll_cert_not_after_seconds{id="machine"' "$REALM/autoenroll.prom"
ok "state file is 0600" test "$(stat -c %a "$AE_STATE/machine.json")" = 600

# CLI JSON, field by field.
json=$(ae --json list)
ok "list --json is a list with the machine request" /usr/bin/python3 -c '
import json,sys
l=json.loads(sys.argv[1]); r=[x for x in l if x["id"]=="machine"][0]
assert r["state"]=="MONITORING", r
assert r["kind"]=="machine" and r["uid"]==0 and r["ca"]=="test"
assert r["subject"]=="CN='"$CLIENT_HOST"'"
assert r["sans"]["dns"]==["'"$CLIENT_HOST"'"]
assert r["key_bits"]==2048 and r["attempts"]==0 and "last_error" not in r
assert r["not_after"]>r["not_before"]>0 and r["serial"]
assert "transaction" not in r and "cert_pem" not in r
' "$json"
list_text=$(ae list)
ok "list text shows the request" grep -q '^machine .*MONITORING' <<<"$list_text"

# A restart keeps everything: no new enrollment.
serial=$(ae_field machine serial)
daemon_stop
daemon_start
sleep 1
ok "after a restart the request is still MONITORING" test "$(ae_field machine state)" = MONITORING
ok "after a restart the same certificate is kept" test "$(ae_field machine serial)" = "$serial"

# Secrets never reach the log.
ok "the log names no challenge" sh -c "! grep -qiE 'challenge[^ ]*[:=] *[0-9A-F]{16}' '$REALM/autoenrolld.log'"
