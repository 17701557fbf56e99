#!/bin/bash
# User certificates: a user hands the daemon her own tickets (the CLI copies
# her cache into a memfd, as her); the daemon enrolls under her uid with her
# UPN; other users can neither see her request nor pass her tickets off as
# theirs; a user without tickets waits in NEED_CREDENTIALS.
. "$top_srcdir/tests/realm/stack.sh"
stack_start
daemon_config "file:$REALM/keys" "hook = id -u > %{home}/hook.uid; echo \$AUTOENROLL_REQUEST_ID >> %{home}/hook.uid"
daemon_start

alice=$(test_uid alice)
bob=$(test_uid bob)
for u in alice bob mallory; do
    kdc_kinit_user "$u" "$REALM/$u.ccache" || bail "kinit $u"
    chown "$(test_uid $u)" "$REALM/$u.ccache"
    chmod 600 "$REALM/$u.ccache"
done
ae_as() { local u=$1; shift; as_user "$u" env KRB5CCNAME="FILE:$REALM/$u.ccache" "$AE_CLI" --socket "$AE_SOCKET" "$@"; }

out=$(ae_as alice --json request user --wait 2>&1)
ok "alice's request --wait returns with her certificate in place" /usr/bin/python3 -c '
import json,sys; r=json.loads(sys.argv[1]); assert r["state"]=="MONITORING", r' "$out"
ok "her request is hers" test "$(ae_field user-$alice uid)" = "$alice"
cert=$REALM/userout/alice/user.pem
ok "certificate written to her directory" test -s "$cert"
ok "certificate file owned by alice" test "$(stat -c %u "$cert")" = "$alice"
ok "certificate chains to the test CA" openssl verify -CAfile "$SCEP_CA_CERT" "$cert"
ok "subject is CN=alice" sh -c "openssl x509 -in '$cert' -noout -subject | grep -q 'CN *= *alice'"
# scepserver copies DNS names but drops otherName SANs: check what was asked for.
ok "her UPN (from her ticket's principal) is in the request" test "$(ae_field user-$alice sans.upn)" = "['alice@$REALM_NAME']"
ok "her post-save hook ran as her, never as root" wait_for 10 sh -c "[ \"\$(head -n 1 '$REALM/home/alice/hook.uid' 2>/dev/null)\" = $alice ]"
ok "the hook knew the request" grep -q "^user-$alice\$" "$REALM/home/alice/hook.uid"
ref=$(ae_field user-$alice key_ref)
ok "her key file is hers and 0600" test "$(stat -c '%u %a' "$REALM/userkeys/alice/$ref.key")" = "$alice 600"

# What each user sees.
list=$(ae_as alice --json list)
ok "alice sees only her own request" /usr/bin/python3 -c '
import json,sys; l=json.loads(sys.argv[1]); assert [r["id"] for r in l]==["user-'"$alice"'"], l' "$list"
ok_fails "bob cannot see alice's request" ae_as bob status "user-$alice"
err=$(ae_as bob status "user-$alice" 2>&1)
ok "bob is told it does not exist (ids of others stay private)" grep -q "no such request" <<<"$err"
ok_fails "bob cannot stop tracking alice's request" ae_as bob stop-tracking "user-$alice"
ok_fails "bob cannot renew alice's request" ae_as bob renew "user-$alice"
ok_fails "a user cannot request the machine certificate" ae_as bob request machine
n=$(ae --json list | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
ok "root sees everybody" test "$n" -ge 2

# Bob cannot read alice's cache (the kernel says no), and a copy of it does not make him alice.
ok_fails "bob cannot open alice's cache" as_user bob cat "$REALM/alice.ccache"
cp "$REALM/alice.ccache" "$REALM/stolen.ccache"
chown "$bob" "$REALM/stolen.ccache"
err=$(as_user bob env KRB5CCNAME="FILE:$REALM/stolen.ccache" "$AE_CLI" --socket "$AE_SOCKET" request user 2>&1)
rc=$?
ok "alice's tickets presented by bob are refused" test "$rc" -ne 0
ok "the refusal says whose tickets they are not" grep -qi "alice" <<<"$err"
ok_fails "bob got no request from alice's tickets" grep -q "user-$bob" <<<"$(ae --json list)"

# A user without tickets waits for her next login.
out=$(as_user carol env KRB5CCNAME="FILE:$REALM/none.ccache" "$AE_CLI" --socket "$AE_SOCKET" --json request user --wait 2>&1)
carol=$(test_uid carol)
ok "no tickets: NEED_CREDENTIALS" test "$(ae_field user-$carol state)" = NEED_CREDENTIALS
ok "no tickets: the error says so" grep -qi "tickets" <<<"$(ae_field user-$carol last_error.message)"

# NDES refuses mallory: a clear error, not a crash.
ndes_deny mallory
ae_as mallory request user --wait >/dev/null 2>&1
mallory=$(test_uid mallory)
ok "NDES's no-permission page is reported" grep -qi "permission" <<<"$(ae_field user-$mallory last_error.message)"

# Bob enrolls alongside alice: two users' credentials in one daemon.
out=$(ae_as bob --json request user --wait 2>&1)
ok "bob enrolls too" test "$(ae_field user-$bob state)" = MONITORING
ok "bob's request carries bob's UPN" test "$(ae_field user-$bob sans.upn)" = "['bob@$REALM_NAME']"
ok "alice's certificate is still hers" test "$(ae_field user-$alice state)" = MONITORING
