#!/bin/bash
# Machine challenge fetch with the host keytab through the daemon's code path
# (ae-ndes: sd-event + curl multi + worker thread + GSSAPI), against the real
# KDC and Apache+mod_auth_gssapi: page variants, negative principals, NDES
# errors, KDC down.
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/kdc.sh"
. "$top_srcdir/tests/realm/ndes.sh"
realm_init
AE=$top_builddir/tests/tools/ae-ndes
need "$AE"
kdc_start
ndes_start
KT=$REALM/host.keytab

ae() { with_names "$AE" "$@"; }
# expect_error CATEGORY REGEX COMMAND... : fails, with that category and text
expect_error() {
    local cat=$1 re=$2 out
    shift 2
    if out=$("$@" 2>&1); then echo "succeeded: $out"; return 1; fi
    grep -q "^error \[$cat\]: " <<<"$out" || { echo "wrong category: $out"; return 1; }
    grep -Eq -- "$re" <<<"$out" || { echo "message does not match /$re/: $out"; return 1; }
}
# fetch_revealed : print the challenge value (tests only)
fetch_revealed() { ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$KT" --reveal | sed -n 's/^challenge: [0-9]* chars: //p'; }
use_all() { rm -f "$NDES_DIR"/challenges/*; }

out=$(ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$KT" 2>&1)
ok "machine fetch with the default CLIENT\$ principal" test "$out" = "challenge: 16 chars"
ok "explicit principal" ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$KT" --principal "CLIENT\$@$REALM_NAME"
ok "keytab given as FILE:path" ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "FILE:$KT"
c=$(fetch_revealed)
ok "challenge is the one NDES issued (recorded for SCEP)" test -n "$c" -a -e "$NDES_DIR/challenges/$c"
ok "challenge never printed without --reveal" sh -c "! grep -rq '$c' '$NDES_DIR/error.log' '$REALM/apache2.log'"
use_all

# Page variants chosen at run time.
for m in english japanese nobom utf8; do
    ndes_mode "$m"
    out=$(ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$KT" 2>&1)
    ok "page variant $m: challenge found" test "$out" = "challenge: 16 chars"
done
ndes_mode long
out=$(ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$KT" 2>&1)
ok "32-char challenge" test "$out" = "challenge: 32 chars"
use_all
ndes_mode cachefull
ok "cache-full page" expect_error ndes "password cache is full" ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$KT"
ndes_mode nopermission
ok "no-permission page" expect_error ndes "no permission to enroll" ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$KT"
ndes_mode garbage
ok "garbage page names what it saw" expect_error ndes 'unrecognised NDES admin page .*Runtime Error' ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$KT"
ndes_mode english

# The real cache limit: 5 unused, then the cache-full page.
use_all
ok "5 concurrent fetches on one loop" ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$KT" --repeat 5
ok "6th unused challenge: cache full" expect_error ndes "cache is full" ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$KT"
use_all

# HTTPS with the test CA; without it the TLS error is named.
ok "HTTPS with --cafile" ae challenge --admin-url "$NDES_TLS_URL/certsrv/mscep_admin/" --keytab "$KT" --cafile "$REALM/tls-ca.pem"
ok "HTTPS without the CA: network/TLS error" expect_error network "TLS" ae challenge --admin-url "$NDES_TLS_URL/certsrv/mscep_admin/" --keytab "$KT"

# Negative principals and keytabs.
ok "expired principal" expect_error kerberos "expired" ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$REALM/expired.keytab"
ok "disabled principal" expect_error kerberos "disabled" ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$REALM/disabled.keytab"
ok "missing keytab" expect_error kerberos "missing" ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$REALM/none.keytab"
ok "principal not in keytab" expect_error kerberos "not found in the keytab|unknown" ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$KT" --principal "nobody\$"
ok "keytab without a NAME\$ entry" expect_error kerberos 'no NAME\$ machine principal' ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$REALM/http.keytab"

# NDES-side errors, each with its hint.
ok "401 offering NTLM only" expect_error ndes "only NTLM" ae challenge --admin-url "$NDES_NTLM_URL/certsrv/mscep_admin/" --keytab "$KT"
ok "401 after our token (SPN key mismatch / Extended Protection)" expect_error ndes "rejected our Kerberos ticket" ae challenge --admin-url "$NDES_STALE_URL/certsrv/mscep_admin/" --keytab "$KT"
ok "403: policy module" expect_error ndes "policy module" ae challenge --admin-url "$NDES_INTUNE_URL/certsrv/mscep_admin/" --keytab "$KT"
ok "503: NDES down" expect_error ndes "down" ae challenge --admin-url "$NDES_DOWN_URL/certsrv/mscep_admin/" --keytab "$KT"
ok "404" expect_error ndes "not found \(404\)" ae challenge --admin-url "$NDES_URL/certsrv/nothing/" --keytab "$KT"
ok "301 without the trailing slash" expect_error ndes "redirects \(301\)" ae challenge --admin-url "${NDES_ADMIN_URL%/}" --keytab "$KT"
ok "no SPN for the host" expect_error kerberos "no service principal HTTP/$CLIENT_HOST" ae challenge --admin-url "http://$CLIENT_HOST:$NDES_PORT/certsrv/mscep_admin/" --keytab "$KT"
ok "nothing listening" expect_error network "cannot connect" ae challenge --admin-url "http://$NDES_HOST:$(free_port)/certsrv/mscep_admin/" --keytab "$KT"

# Static and no-challenge modes.
(umask 077 && echo " STATICSECRET " >"$REALM/static")
out=$(ae challenge --static-file "$REALM/static" --reveal 2>&1)
ok "static challenge from a root-only file" test "$out" = "challenge: 12 chars: STATICSECRET"
chmod 644 "$REALM/static"
ok "static file readable by others: refused" expect_error config "root only" ae challenge --static-file "$REALM/static"
out=$(ae challenge --no-challenge 2>&1)
ok "no-challenge mode" test "$out" = "challenge: none"

# Wrong key in the keytab (the KDC's key changed: kvno mismatch).
cp "$KT" "$REALM/old.keytab"
kdc_kadmin "cpw -randkey CLIENT\$" 'randomized' || bail "cpw"
ok "stale keytab (kvno) is named" expect_error kerberos "key does not match|kvno" ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$REALM/old.keytab"

kdc_stop
ok "KDC stopped" expect_error kerberos "KDC unreachable" ae challenge --admin-url "$NDES_ADMIN_URL" --keytab "$KT"
