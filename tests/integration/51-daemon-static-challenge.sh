#!/bin/bash
# A plain SCEP server (no NDES, no Kerberos) with a static challenge read from
# a root-only file: refused while the file is readable by others, used once
# it is 0600, never logged.
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/scep.sh"
. "$top_srcdir/tests/realm/daemon.sh"
realm_init
scep_start --challenge "$(openssl rand -hex 8 | tr a-f A-F)"
printf '%s\n' "$SCEP_CHALLENGE" >"$REALM/challenge"
chmod 644 "$REALM/challenge"
NDES_URL=unused daemon_config "file:$REALM/keys"
sed -i "s|^server = .*|server = $SCEP_URL -|; s|^challenge = kerberos|challenge = static\nchallenge_file = $REALM/challenge|" "$AE_CONF"
daemon_start
ok "a challenge file readable by others is refused" daemon_wait_state machine CA_REJECTED 60
ok "and the error says why" grep -qiE "0600|root only" <<<"$(ae_field machine last_error.message)"
chmod 600 "$REALM/challenge"
ae request machine --wait >/dev/null 2>&1
ok "with a 0600 file the machine certificate is enrolled" test "$(ae_field machine state)" = MONITORING
ok "it chains to the SCEP server's CA" openssl verify -CAfile "$SCEP_CA_CERT" "$AE_OUT/machine.pem"
ok "no Kerberos was needed (no keytab used)" sh -c "! grep -qi 'kerberos\|keytab' '$REALM/autoenrolld.log'"
ok "the static challenge is not in the log" sh -c "! grep -q '$SCEP_CHALLENGE' '$REALM/autoenrolld.log'"
