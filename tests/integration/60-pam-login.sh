#!/bin/bash
# pam_autoenroll against the real daemon: a real Kerberos login (pam_krb5
# against the test KDC, under pam_wrapper + pamtester) hands alice's tickets
# to autoenrolld, which enrolls her user certificate under her uid; a second
# login reuses it; wait= returns once the certificate is saved; users without
# tickets, below minimum_uid, root, and caches the user cannot read herself
# are ignored.
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/realm/pam.sh"
stack_start
daemon_config "file:$REALM/keys"
daemon_start
pam_setup

alice=$(test_uid alice)
bob=$(test_uid bob)
mallory=$(test_uid mallory)
carol=$(test_uid carol)
has_request() { local l; l=$(ae --json list) || return 1; grep -q "\"user-$1\"" <<<"$l"; }
# Fails when the daemon does not answer (not "no request" by accident).
lacks_request() { local l; l=$(ae --json list) || return 1; ! grep -q "\"user-$1\"" <<<"$l"; }
serial() { openssl x509 -in "$1" -noout -serial; }

pam_service login socket="$AE_SOCKET" debug
pam_service loginwait socket="$AE_SOCKET" debug wait=30
pam_service highuid socket="$AE_SOCKET" debug minimum_uid=30000
pam_service_notickets local socket="$AE_SOCKET" debug

# alice logs in: fire and forget, then the daemon enrolls in the background.
ok "alice's Kerberos login with pam_autoenroll succeeds" pam_login login alice
ok "the module reported the login (request user-$alice)" grep -q "user alice: login reported, request user-$alice" "$REALM/pam-alice.log"
ok "her user certificate gets enrolled and tracked" daemon_wait_state "user-$alice" MONITORING 90
ok "the request is under her uid" test "$(ae_field "user-$alice" uid)" = "$alice"
ok "its UPN comes from her login's ticket" test "$(ae_field "user-$alice" sans.upn)" = "['alice@$REALM_NAME']"
cert=$REALM/userout/alice/user.pem
ok "certificate saved, owned by alice" test "$(stat -c %u "$cert" 2>/dev/null)" = "$alice"
ok "certificate chains to the test CA" openssl verify -CAfile "$SCEP_CA_CERT" "$cert"
ok "pam_krb5's session cache is gone after logout (the daemon kept its own copy)" \
    sh -c "! ls '$REALM/krb5cc' | grep -q ."

# A second login reuses the certificate.
first=$(serial "$cert")
: >"$REALM/pam-alice.log"
ok "alice logs in again" pam_login login alice
ok "the second login reached the daemon, which has her certificate in place" \
    grep -q "login reported, request user-$alice is MONITORING" "$REALM/pam-alice.log"
sleep 2
ok "still MONITORING" test "$(ae_field "user-$alice" state)" = MONITORING
ok "same certificate (serial unchanged)" test "$(serial "$cert")" = "$first"
ok "one request for alice" test "$(ae --json list | grep -o "\"user-$alice\"" | wc -l)" = 1

# wait=30: pamtester returns when bob's certificate is on disk.
ok "bob's login with wait=30 succeeds" pam_login loginwait bob
ok "bob's certificate exists when the login returns" test -s "$REALM/userout/bob/user.pem"
ok "... and is tracked under his uid" test "$(ae_field "user-$bob" state)/$(ae_field "user-$bob" uid)" = "MONITORING/$bob"
ok "the module logged it in place" grep -q "user bob: certificate user-$bob in place" "$REALM/pam-bob.log"
ok "bob's certificate chains to the test CA" openssl verify -CAfile "$SCEP_CA_CERT" "$REALM/userout/bob/user.pem"

# Users the module leaves alone.
ok "mallory below minimum_uid logs in" pam_login highuid mallory
ok "... is ignored (logged)" grep -q "user mallory: uid $mallory below minimum_uid 30000, ignored" "$REALM/pam-mallory.log"
ok "... and gets no request" lacks_request "$mallory"
ok "carol (local, no tickets) logs in" pam_login local carol
ok "... is ignored (no KRB5CCNAME)" grep -q "user carol: no KRB5CCNAME in the session, ignored" "$REALM/pam-carol.log"
ok "... and gets no request" lacks_request "$carol"
kdc_kinit_user alice "$REALM/alice.ccache" || bail "kinit alice"
ok "root logs in with a ticket cache in the environment" pam_login local root -E "KRB5CCNAME=FILE:$REALM/alice.ccache"
ok "... is ignored" grep -q "user root: uid 0 below minimum_uid" "$REALM/pam-root.log"
ok "... and gets no request" lacks_request 0

# The kernel decides whose tickets a login may hand over: a cache the user
# cannot read is refused in the module, even with her own principal in it.
kdc_kinit_user mallory "$REALM/mallory-root.ccache" || bail "kinit mallory"
chmod 600 "$REALM/mallory-root.ccache"
ok "mallory's login pointing at a root-only copy of her tickets succeeds" \
    pam_login local mallory -E "KRB5CCNAME=FILE:$REALM/mallory-root.ccache"
ok "... the module could not read it as mallory" \
    grep -q "user mallory: cannot read the session's tickets as the user" "$REALM/pam-mallory.log"
ok "... so nothing reached the daemon" lacks_request "$mallory"
cp "$REALM/mallory-root.ccache" "$REALM/mallory-rootgroup.ccache"
chgrp 0 "$REALM/mallory-rootgroup.ccache" && chmod 640 "$REALM/mallory-rootgroup.ccache"
: >"$REALM/pam-mallory.log"
ok "a copy only root's group may read: the login succeeds" \
    pam_login local mallory -E "KRB5CCNAME=FILE:$REALM/mallory-rootgroup.ccache"
ok "... the login process's groups do not lend mallory access" \
    grep -q "user mallory: cannot read the session's tickets as the user: .*Permission denied" "$REALM/pam-mallory.log"
ok "... so nothing reached the daemon" lacks_request "$mallory"
mkfifo "$REALM/mallory.fifo" && chown "$mallory" "$REALM/mallory.fifo"
t0=$(date +%s%3N)
ok "KRB5CCNAME naming her own FIFO: the login succeeds" pam_login local mallory -E "KRB5CCNAME=FILE:$REALM/mallory.fifo"
t=$(($(date +%s%3N) - t0))
ok "... at once (${t} ms; a FIFO is never opened for reading)" test "$t" -lt 1000
ok "... and says why" grep -q "mallory.fifo: not a regular file" "$REALM/pam-mallory.log"
cp "$REALM/mallory-root.ccache" "$REALM/mallory.ccache"
chown "$mallory" "$REALM/mallory.ccache"
ok "with her own cache, the same login is handed over" pam_login local mallory -E "KRB5CCNAME=FILE:$REALM/mallory.ccache"
ok "... and the daemon tracks a request for her" has_request "$mallory"
ok "... and enrolls her certificate" daemon_wait_state "user-$mallory" MONITORING 90
chown "$bob" "$REALM/alice.ccache"
ok "carol's login pointing at bob's cache succeeds" pam_login local carol -E "KRB5CCNAME=FILE:$REALM/alice.ccache"
ok "... and hands nothing over" lacks_request "$carol"
ok "a KCM cache in the environment: the login succeeds" pam_login local carol -E KRB5CCNAME=KCM:
ok "... and KCM is refused (found by the caller's uid, not the user's)" grep -q "user carol: .*type not supported" "$REALM/pam-carol.log"

# Nothing secret in any log.
secrets_ok=1
for u in alice bob mallory; do
    pw=$(cat "$REALM/$u.pw")
    grep -rqF -- "$pw" "$REALM"/pam-*.log "$REALM/autoenrolld.log" && secrets_ok=0
done
ok "no password in the PAM or daemon logs" test $secrets_ok = 1
