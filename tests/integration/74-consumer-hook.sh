#!/bin/bash
# The documented post-save hook (examples/hooks/consumer-refresh) keeps a
# wpa_supplicant configuration in step with the daemon: written after the
# first save, rewritten and "reloaded" after a renewal, and the rewritten file
# authenticates with the new certificate (FreeRADIUS sees the new serial).
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/realm/radius.sh"
need eapol_test freeradius
stack_start
daemon_config "file:$REALM/keys" "hook_timeout = 20s"
# The config's lines are short (inih): a wrapper gives the example the
# test's socket and CLI, as a site would give its reload command.
cat >"$REALM/hook" <<HOOK
#!/bin/sh
export AUTOENROLL_SOCKET=$AE_SOCKET AUTOENROLL_CLI=$AE_CLI
exec $top_srcdir/examples/hooks/consumer-refresh wpa_supplicant $REALM/wpa-hook.conf \
    sh -c 'echo reload >> $REALM/reloads'
HOOK
chmod +x "$REALM/hook"
sed -i "/^chain_file = .*machine-chain.pem/a hook = $REALM/hook" "$AE_CONF"
daemon_start
testca_init
radius_start

ok "machine certificate enrolled" daemon_wait_state machine MONITORING 60
ok "the hook wrote the wpa_supplicant configuration" wait_for 20 test -s "$REALM/wpa-hook.conf"
ok "and reloaded the consumer once" wait_for 10 test "$(wc -l <"$REALM/reloads")" = 1
ok "the file is private (0600)" test "$(stat -c %a "$REALM/wpa-hook.conf")" = 600
ok "EAP-TLS with the hook's file: Access-Accept" eap_tls "$REALM/wpa-hook.conf"
cp "$REALM/wpa-hook.conf" "$REALM/wpa-first.conf"

ae renew machine --wait >/dev/null
ok "renewed" test "$(ae_field machine state)" = MONITORING
ok "the hook rewrote the file for the new key" \
    wait_for 20 sh -c "! cmp -s '$REALM/wpa-first.conf' '$REALM/wpa-hook.conf'"
ok "and reloaded the consumer again" wait_for 10 test "$(wc -l <"$REALM/reloads")" = 2
ok "the new file names the new key" grep -qF "$(ae_field machine key_ref).key\"" "$REALM/wpa-hook.conf"
lines=$(wc -l <"$REALM/radiusd.log")
ok "EAP-TLS with the rewritten file: Access-Accept" eap_tls "$REALM/wpa-hook.conf"
serial=$(openssl x509 -in "$AE_OUT/machine.pem" -noout -serial | sed 's/.*=0*//' | tr A-F a-f)
ok "FreeRADIUS saw the renewed certificate ($serial)" \
    sh -c "tail -n +$lines '$REALM/radiusd.log' | grep -q 'TLS-Client-Cert-Serial := \"0*$serial\"'"
ok "the hook logged no failure" sh -c "! grep -q 'hook for machine exited with status' '$REALM/autoenrolld.log'"
