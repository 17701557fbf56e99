#!/bin/bash
# pam_autoenroll in a long-lived, multi-threaded login process (like sshd or
# gdm): one process, 30 threads opening sessions at the same moment, three
# users, three rounds. Every session opens, every login reaches the daemon
# with the right user's tickets, and nothing leaks between handles (run it
# under ASan: --enable-sanitizers).
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/realm/pam.sh"
stack_start
daemon_config "file:$REALM/keys"
daemon_start
pam_setup
need "$PAM_AE_DRIVER"

pam_service login socket="$AE_SOCKET" debug timeout=5
pam_users_file "$REALM/users" alice bob mallory
out=$(pam_driver login "$REALM/users" -t 30 -n 3)
rc=$?
if [ "$rc" = 0 ] && [ "$(wc -l <<<"$out")" = 90 ]; then
    pass "90 logins on 30 threads of one process all open their session"
else
    fail "90 logins on 30 threads of one process all open their session (exit $rc, $(wc -l <<<"$out") lines)" \
        "$(grep -vE 'login reported|^$' "$REALM/pam-driver.log" | tail -n 20)"
fi
for u in alice bob mallory; do
    uid=$(test_uid "$u")
    n=$(grep -c "user $u: login reported, request user-$uid " "$REALM/pam-driver.log")
    ok "$u: her 30 logins each reached the daemon as theirs ($n)" test "$n" = 30
done
ok "no login was reported under another user's request" \
    sh -c "! grep -E 'user (alice|bob|mallory): login reported' '$REALM/pam-driver.log' |
           grep -vE 'user alice: .*user-$(test_uid alice) |user bob: .*user-$(test_uid bob) |user mallory: .*user-$(test_uid mallory) '"
# What the module decides: each user's request, under her uid, with the UPN
# of her own tickets. (Whether three enrollments at once all pass is the
# daemon's and the CA's business, tested elsewhere.) Let them settle before
# the daemon stops.
settled() {
    case "$(ae_field "$1" state)" in
        NEED_KEY | GENERATING_KEY | NEED_CSR | SUBMITTING | SAVING | "") return 1 ;;
    esac
}
for u in alice bob mallory; do
    uid=$(test_uid "$u")
    ok "$u's request is under her uid with her own UPN" \
        test "$(ae_field "user-$uid" uid) $(ae_field "user-$uid" sans.upn)" = "$uid ['$u@$REALM_NAME']"
    wait_for 90 settled "user-$uid" || fail "$u's request did not settle: $(ae_field "user-$uid" state)"
done
ok "no sanitizer report" sh -c "! grep -E 'AddressSanitizer|LeakSanitizer|runtime error' '$REALM/pam-driver.log'"
