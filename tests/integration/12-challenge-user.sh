#!/bin/bash
# User challenge fetch with the user's own tickets from a real kinit: the
# cache is passed as an open fd (or exported to a memfd), its principal must
# map to the uid the kernel reports; another user's cache is refused.
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/kdc.sh"
. "$top_srcdir/tests/realm/ndes.sh"
realm_init
AE=$top_builddir/tests/tools/ae-ndes
need "$AE" setpriv
kdc_start
ndes_start

# The test users exist through nss_wrapper (lib.sh); auth_to_local maps
# alice@REALM -> alice, and getpwnam() sees her uid only under with_names.
alice_uid=$(test_uid alice)
bob_uid=$(test_uid bob)
[ -n "$alice_uid" ] && [ -n "$bob_uid" ] || bail "lib.sh test users missing"

ae() { with_names "$AE" "$@"; }
expect_error() {
    local cat=$1 re=$2 out
    shift 2
    if out=$("$@" 2>&1); then echo "succeeded: $out"; return 1; fi
    grep -q "^error \[$cat\]: " <<<"$out" || { echo "wrong category: $out"; return 1; }
    grep -Eq -- "$re" <<<"$out" || { echo "message does not match /$re/: $out"; return 1; }
}

kdc_kinit_user alice "$REALM/alice.cc" || bail "kinit alice"
kdc_kinit_user bob "$REALM/bob.cc" || bail "kinit bob"
chown "$alice_uid" "$REALM/alice.cc"
chown "$bob_uid" "$REALM/bob.cc"

out=$(ae challenge --admin-url "$NDES_ADMIN_URL" --ccache-fd 3 --uid "$alice_uid" 3<"$REALM/alice.cc" 2>&1)
ok "alice's cache passed as an fd, alice's uid: challenge" test "$out" = "challenge: 16 chars"
grep -q ' alice@AUTOENROLL.TEST "GET /certsrv/mscep_admin/' "$NDES_DIR/access.log"
ok "NDES saw alice, not the machine" test $? = 0
out=$(ae challenge --admin-url "$NDES_ADMIN_URL" --ccache "FILE:$REALM/alice.cc" --uid "$alice_uid" 2>&1)
ok "alice's cache exported to a memfd then imported" test "$out" = "challenge: 16 chars"
out=$(as_user alice "$AE" challenge --admin-url "$NDES_ADMIN_URL" --ccache "FILE:$REALM/alice.cc" 2>&1)
ok "running as alice (uid from getuid)" test "$out" = "challenge: 16 chars"
ok "root cannot open alice's cache as alice with another uid" expect_error credentials "belongs to alice@$REALM_NAME, which is not the local user with uid 0" \
    ae challenge --admin-url "$NDES_ADMIN_URL" --ccache-fd 3 --uid 0 3<"$REALM/alice.cc"
ok "bob's cache presented as alice's: refused" expect_error credentials "belongs to bob@$REALM_NAME, which is not the local user with uid $alice_uid" \
    ae challenge --admin-url "$NDES_ADMIN_URL" --ccache-fd 3 --uid "$alice_uid" 3<"$REALM/bob.cc"
ok "bob's own uid: accepted" ae challenge --admin-url "$NDES_ADMIN_URL" --ccache-fd 3 --uid "$bob_uid" 3<"$REALM/bob.cc"
ok "bob running as alice cannot use bob's exported cache" expect_error credentials "belongs to bob" \
    as_user alice "$AE" challenge --admin-url "$NDES_ADMIN_URL" --ccache-fd 3 3<"$REALM/bob.cc"

# Any cache type the client can read is exported: a DIR collection.
mkdir -p "$REALM/ccdir"
kdc_kinit_user alice "DIR:$REALM/ccdir" || bail "kinit DIR"
ok "DIR: cache exported" ae challenge --admin-url "$NDES_ADMIN_URL" --ccache "DIR:$REALM/ccdir" --uid "$alice_uid"

# Expired and missing tickets put the request into "needs credentials".
kinit -l 3s -c "$REALM/short.cc" "alice@$REALM_NAME" <"$REALM/alice.pw" >/dev/null || bail "kinit -l"
sleep 4
ok "expired TGT: category credentials" expect_error credentials "expired" \
    ae challenge --admin-url "$NDES_ADMIN_URL" --ccache-fd 3 --uid "$alice_uid" 3<"$REALM/short.cc"
ok "not a credential cache" expect_error credentials "credential cache" \
    ae challenge --admin-url "$NDES_ADMIN_URL" --ccache-fd 3 --uid "$alice_uid" 3</etc/passwd
ok "a non-file fd" expect_error credentials "not a file" \
    ae challenge --admin-url "$NDES_ADMIN_URL" --ccache-fd 3 --uid "$alice_uid" 3</dev/null
ok "missing cache" expect_error credentials "credential cache" \
    ae challenge --admin-url "$NDES_ADMIN_URL" --ccache "FILE:$REALM/nothing.cc" --uid "$alice_uid"

# Valid tickets, but NDES denies mallory.
ndes_deny mallory
kdc_kinit_user mallory "$REALM/mallory.cc" || bail "kinit mallory"
ok "mallory: NDES no-permission page" expect_error ndes "no permission" \
    ae challenge --admin-url "$NDES_ADMIN_URL" --ccache-fd 3 --uid "$(test_uid mallory)" 3<"$REALM/mallory.cc"

# Machine and a user at once in one process, on one loop (the daemon's case).
rm -f "$NDES_DIR"/challenges/* # "use" earlier ones: NDES caches 5 per user
: >"$NDES_DIR/access.log"
out=$(ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$REALM/host.keytab" --ccache-fd 3 --uid "$alice_uid" --repeat 2 3<"$REALM/alice.cc" 2>&1)
ok "machine + alice concurrently in one process: 4 challenges" sh -c "test \"\$(printf '%s\n' '$out' | grep -c '^challenge: 16 chars\$')\" = 4 || { echo '$out'; exit 1; }"
ok "NDES saw CLIENT\$ twice" test "$(grep -c " CLIENT\\\$@$REALM_NAME \"GET /certsrv/mscep_admin/.* 200 " "$NDES_DIR/access.log")" = 2
ok "NDES saw alice twice" test "$(grep -c " alice@$REALM_NAME \"GET /certsrv/mscep_admin/.* 200 " "$NDES_DIR/access.log")" = 2
rm -f "$NDES_DIR"/challenges/*
# And two processes at once with different identities.
ae challenge --admin-url "$NDES_ADMIN_URL" --ccache-fd 3 --uid "$alice_uid" 3<"$REALM/alice.cc" >"$REALM/p1" 2>&1 &
p1=$!
ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$REALM/host.keytab" >"$REALM/p2" 2>&1 &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
ok "alice and the machine at the same time" test $r1 = 0 -a $r2 = 0
ok "no KRB5CCNAME cache was written by the tool" test ! -e "$REALM/ccache-default"
