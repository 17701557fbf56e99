#!/bin/bash
# Domain users of a real Active Directory (Samba AD DC): alice logs in with
# her AD password through pam_krb5 (Heimdal KDC), pam_autoenroll hands her
# tickets to autoenrolld, and her user certificate is issued through the NDES
# stand-in with her UPN and, as the strong-mapping SAN URI, her objectSid read
# over LDAP with her own credentials (SASL GSSAPI). A user whose password has
# expired and a disabled user get clear errors from the DC and no request.
# Everything runs in the private network + mount namespace of samba.sh.
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/samba.sh"
samba_enter "$@"
. "$top_srcdir/tests/realm/scep.sh"
. "$top_srcdir/tests/realm/ndes.sh"
. "$top_srcdir/tests/realm/daemon.sh"
. "$top_srcdir/tests/realm/pam.sh"
realm_init
samba_realm_start
ok "no default route in the test namespace" test -z "$(ip -4 route show default)$(ip -6 route show default 2>/dev/null)"

# Her SID over LDAP, as her; the DC's own view to compare.
ok "alice gets a TGT from the DC with her AD password" samba_kinit_user alice "$REALM/alice-ldap.ccache"
sid=$(ldap_sid "$REALM/alice-ldap.ccache" "(sAMAccountName=alice)")
dc_sid=$(samba_sid user alice)
ok "ldapsearch (SASL GSSAPI as alice) gives her objectSid ($sid)" grep -Eq '^S-1-5-21-[0-9-]+$' <<<"$sid"
ok "it is the objectSid samba-tool shows" test "$sid" = "$dc_sid"
sid2=$("$top_builddir/tests/tools/ae-sid" "ldap://$AD_DC_HOST" alice "FILE:$REALM/alice-ldap.ccache" 2>&1)
ok "sid_lookup() (daemon/sid.c) as alice gives the same" test "$sid2" = "$dc_sid"
upn=$(samba_tool user show alice --attributes=userPrincipalName 2>/dev/null | sed -n 's/^userPrincipalName: //p')
ok "the DC gave alice a UPN ($upn)" test -n "$upn"

scep_start --ndes-challenges
ndes_start
AE_SOCKET=$REALM/autoenrolld.sock AE_STATE=$REALM/state AE_CONF=$REALM/autoenroll.conf AE_OUT=$REALM/out
export AE_SOCKET AE_STATE AE_CONF AE_OUT
mkdir -p "$REALM/conf.d" "$AE_OUT"
cat >"$AE_CONF" <<CONF
[daemon]
state_dir = $AE_STATE
socket = $AE_SOCKET
splay = 0
ldap_uri = ldap://$AD_DC_HOST

[ca ad]
server = $NDES_URL
fingerprint = $SCEP_CA_FINGERPRINT
allow_des = yes

[profile user]
kind = user
ca = ad
autoenroll = yes
sid = auto
key_store = file:$REALM/userkeys/%{user}
cert_file = $REALM/userout/%{user}/user.pem
CONF
daemon_start
pam_setup
pam_service login socket="$AE_SOCKET" debug wait=60
# pam_krb5 with debug: it logs the KDC's reason for a refused login.
sed 's/\(pam_krb5\.so\) /\1 debug /' "$REALM/pam.d/login" >"$REALM/pam.d/logindebug"

alice=$(test_uid alice)
ok "alice's login (pam_krb5 with her AD password) succeeds" pam_login login alice
ok "her user certificate is issued" daemon_wait_state "user-$alice" MONITORING 60
cert=$REALM/userout/alice/user.pem
ok "it chains to the CA" openssl verify -CAfile "$SCEP_CA_CERT" "$cert"
ok "it is hers" test "$(stat -c %u "$cert")" = "$alice"
ok "subject CN=alice" sh -c "openssl x509 -in '$cert' -noout -subject | grep -q 'CN *= *alice'"
# scepserver drops otherName SANs (the UPN): check what was asked for, and the URI in the certificate.
ok "the request carries her UPN from the DC's ticket" test "$(ae_field "user-$alice" sans.upn)" = "['alice@$REALM_NAME']"
sans=$(openssl x509 -in "$cert" -noout -ext subjectAltName 2>&1)
ok "SAN URI carries her objectSid (strong mapping)" grep -q "URI:tag:microsoft.com,2022-09-14:sid:$dc_sid" <<<"$sans"
ok "NDES saw alice's own ticket" grep -q "alice@$REALM_NAME \"GET /certsrv/mscep_admin/ " "$NDES_DIR/access.log"

# Negative users.
out=$(kinit -c "$REALM/x.ccache" "expired@$REALM_NAME" <"$REALM/expired.pw" 2>&1)
diag "expired: $(head -n 2 <<<"$out" | tr '\n' ' ')"
ok "the DC says the password of 'expired' has expired" grep -qi "expired" <<<"$out"
ok_fails "her login fails" pam_login logindebug expired
ok "pam_krb5 asked her for a new password (expired)" grep -q "Enter new password" "$REALM/pam-expired.log"
out=$(kinit -c "$REALM/x.ccache" "disabled@$REALM_NAME" <"$REALM/disabled.pw" 2>&1)
diag "disabled: $out"
ok "the DC says the disabled account is revoked" grep -qi "revoked" <<<"$out"
ok_fails "his login fails" pam_login logindebug disabled
ok "pam_krb5 says why: credentials revoked" grep -qi "revoked" "$REALM/pam-disabled.log"
lst=$(ae --json list)
ok "no request for the expired or the disabled user" \
    _negate grep -Eq "\"user-($(test_uid expired)|$(test_uid disabled))\"" <<<"$lst"
