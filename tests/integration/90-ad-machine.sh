#!/bin/bash
# A joined host against a real Active Directory (Samba AD DC, Heimdal KDC):
# `adcli join` writes /etc/krb5.keytab, autoenrolld is given only the NDES URL,
# the CA pin and where to write the certificate, and enrolls the machine
# certificate as CLIENT$ through the NDES stand-in (Apache + mod_auth_gssapi
# with the keytab of an AD service account holding the HTTP/ SPN). The
# computer's objectSid, read over LDAP with the machine's own credentials
# (SASL GSSAPI), ends up as the strong-mapping SAN URI. Everything runs in a
# private network + mount namespace that no packet leaves. Finally the
# computer account is deleted on the DC: renewal fails with a clear error and
# the current certificate stays.
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/samba.sh"
samba_enter "$@"
. "$top_srcdir/tests/realm/scep.sh"
. "$top_srcdir/tests/realm/ndes.sh"
. "$top_srcdir/tests/realm/daemon.sh"
realm_init
samba_realm_start

# --- the namespace ------------------------------------------------------
links=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')
ok "the namespace has only lo and the veth pair (got: $links)" test "$links" = "ae-cl ae-dc lo "
ok "no default route (IPv4)" test -z "$(ip -4 route show default)"
ok "no default route (IPv6)" test -z "$(ip -6 route show default 2>/dev/null)"
ok "every route stays on the veth pair or lo" sh -c "! ip -4 route show table all | grep -vE ' dev (ae-dc|ae-cl|lo)( |\$)'"
ok "the resolver asks the DC only" test "$(sed -n 's/^nameserver //p' /etc/resolv.conf)" = "$AD_DC_IP"
ok "the DC has no DNS forwarder" sh -c "! grep -Eiq '^[[:space:]]*dns forwarder[[:space:]]*=[[:space:]]*[^[:space:]]' '$AD_SMB_CONF'"
ok "the DC listens on its test address only" sh -c "! ss -Htlnp | grep samba | grep -vE '($AD_DC_IP|127\\.0\\.0\\.1|\\[::1\\]):'"

# --- the join ------------------------------------------------------------
kt=$(klist -k /etc/krb5.keytab 2>&1)
ok "adcli join wrote CLIENT\$ to the host keytab" grep -q "CLIENT\\\$@$REALM_NAME" <<<"$kt"
ok "and host/$CLIENT_HOST" grep -q "host/$CLIENT_HOST@$REALM_NAME" <<<"$kt"
ok "the system hostname is the short name" test "$(hostname)" = "$CLIENT_SHORT"
ok "the host's FQDN comes from the resolver" test "$(hostname -f)" = "$CLIENT_HOST"
ok "the machine gets a TGT from the DC with its keytab" kinit -k -c "$REALM/machine.ccache" "CLIENT\$"
dc_sid=$(samba_sid computer CLIENT)
sid=$(ldap_sid "$REALM/machine.ccache" "(sAMAccountName=CLIENT\$)")
ok "the DC knows the computer's objectSid ($dc_sid)" grep -Eq '^S-1-5-21-[0-9]+-[0-9]+-[0-9]+-[0-9]+$' <<<"$dc_sid"
ok "ldapsearch (SASL GSSAPI as CLIENT\$) gives the same objectSid" test "$sid" = "$dc_sid"
# daemon/sid.c (libldap, SASL GSSAPI with sealing) with the machine's own ticket.
AE_SID=$top_builddir/tests/tools/ae-sid
need "$AE_SID"
sid=$("$AE_SID" "ldap://$AD_DC_HOST" "CLIENT\$" "FILE:$REALM/machine.ccache" 2>"$REALM/ae-sid.err")
sid_rc=$?
ok "sid_lookup() as CLIENT\$ gives the DC's objectSid (and exits 0)" test "$sid_rc:$sid" = "0:$dc_sid"
"$AE_SID" "ldap://$AD_DC_HOST" "NOSUCH\$" "FILE:$REALM/machine.ccache" >/dev/null 2>"$REALM/ae-sid.err"
ok "sid_lookup() of an unknown account: 'no account' (exit 2)" \
    sh -c "test $? = 2 && grep -q 'no account NOSUCH' '$REALM/ae-sid.err'"
err=$("$AE_SID" "ldap://$AD_DC_HOST" "CLIENT\$" "FILE:$REALM/empty.ccache" 2>&1)
ok "sid_lookup() without tickets: a Kerberos error, no SID ($err)" grep -q '^kerberos: LDAP SASL GSSAPI bind failed' <<<"$err"

# --- the CA: scepserver behind the NDES stand-in, Samba's KDC -------------
scep_start --ndes-challenges
ndes_start
ok "the NDES stand-in's keytab holds AES keys (not RC4 only)" sh -c "klist -ke '$REALM/http.keytab' | grep -q aes256-cts"

# The whole configuration of a joined host: the NDES URL and the CA pin (plus
# scepserver's single DES, the test's state paths and where the cert goes).
AE_SOCKET=$REALM/autoenrolld.sock AE_STATE=$REALM/state AE_OUT=$REALM/out AE_CONF=$REALM/autoenroll.conf
export AE_SOCKET AE_STATE AE_OUT AE_CONF
mkdir -p "$REALM/conf.d" "$AE_OUT"
cat >"$AE_CONF" <<CONF
[daemon]
state_dir = $AE_STATE
socket = $AE_SOCKET
splay = 0
backoff_min = 2s
backoff_max = 5s
ldap_uri = ldap://$AD_DC_HOST

[ca ad]
server = $NDES_URL
fingerprint = $SCEP_CA_FINGERPRINT
allow_des = yes

[profile machine]
kind = machine
ca = ad
sid = auto
cert_file = $AE_OUT/machine.pem
CONF
# Not through daemon_start: no nss_wrapper, the names come from the
# namespace's own /etc/hosts, hostname and resolver like on a joined host.
need "$AE_DAEMON" "$AE_CLI"
realm_on_exit _daemon_final_check
realm_spawn autoenrolld "$AE_DAEMON" --config "$AE_CONF" --conf-d "$REALM/conf.d" --log-target stderr --debug
AE_PID=$PID_autoenrolld
wait_for 15 test -S "$AE_SOCKET" || bail "autoenrolld did not start: $(tail -5 "$REALM/autoenrolld.log")"

ok "the machine certificate is issued" daemon_wait_state machine MONITORING 60
cert=$AE_OUT/machine.pem
ok "it chains to the CA" openssl verify -CAfile "$SCEP_CA_CERT" "$cert"
ok "subject CN is the FQDN the system gave" sh -c "openssl x509 -in '$cert' -noout -subject | grep -q 'CN *= *$CLIENT_HOST'"
sans=$(openssl x509 -in "$cert" -noout -ext subjectAltName 2>&1)
ok "SAN dNSName is the host" grep -q "DNS:$CLIENT_HOST" <<<"$sans"
ok "the daemon looked the objectSid up itself (sid = auto)" test "$(ae_field machine sans.sid)" = "['$dc_sid']"
ok "SAN URI carries the computer's objectSid (strong mapping)" \
    grep -q "URI:tag:microsoft.com,2022-09-14:sid:$dc_sid" <<<"$sans"
ok "NDES saw the machine account CLIENT\$ from the join's keytab (default principal)" \
    grep -q "CLIENT\\\$@$REALM_NAME \"GET /certsrv/mscep_admin/ " "$NDES_DIR/access.log"
diagnose=$("$AE_CLI" --config "$AE_CONF" diagnose 2>&1)
ok "autoenroll diagnose finds the join's keytab and its CLIENT\$ entry" \
    grep -Eq "keytab .*/etc/krb5.keytab: CLIENT\\\$@$REALM_NAME" <<<"$diagnose"

# --- the computer account is deleted on the DC -----------------------------
serial=$(ae_field machine serial)
sum=$(sha256sum <"$cert")
ok "samba-tool computer delete CLIENT" samba_tool computer delete CLIENT
ok_fails "the keytab no longer gets a TGT" kinit -k -c "$REALM/gone.ccache" "CLIENT\$"
# A fresh daemon (a host rebooted): no TGT left from before the deletion.
daemon_stop
rm -f "$AE_SOCKET"
realm_spawn autoenrolld "$AE_DAEMON" --config "$AE_CONF" --conf-d "$REALM/conf.d" --log-target stderr --debug
AE_PID=$PID_autoenrolld
wait_for 15 test -S "$AE_SOCKET" || bail "autoenrolld did not start again"
ae renew machine >/dev/null 2>&1
ok "renewal fails" wait_for 60 sh -c "'$AE_CLI' --socket '$AE_SOCKET' --json status machine | grep -q '\"last_error\"'"
err=$(ae_field machine last_error.message)
diag "last error: $err"
ok "the error says the machine account is unknown to the KDC" grep -Eiq "not found|unknown|gone|rejoin" <<<"$err"
ok "the current certificate is kept" test "$(sha256sum <"$cert")" = "$sum"
ok "the request still shows the current certificate" test "$(ae_field machine serial)" = "$serial"
