#!/bin/bash
# The Kerberos/NDES stand-in realm works with stock tools: kinit from the host
# keytab, curl --negotiate fetches a challenge page that decodes, the
# challenge is one-time and recorded for the SCEP side, negative principals
# fail, and mscep.dll is proxied (with Negotiate under /neg).
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/kdc.sh"
. "$top_srcdir/tests/realm/ndes.sh"
. "$top_srcdir/tests/realm/ndes-cacert.sh"
realm_init
need curl socat
kdc_start
ndes_start

cc=FILE:$REALM/host.cc
ok "kinit CLIENT\$ from the host keytab" kinit -k -t "$REALM/host.keytab" -c "$cc" 'CLIENT$'
ok "kinit host/$CLIENT_HOST from the host keytab" kinit -k -t "$REALM/host.keytab" -c "$REALM/h2.cc" "host/$CLIENT_HOST"
ok "kinit alice with her password" kdc_kinit_user alice "$REALM/alice.cc"
ok_fails "expired user cannot kinit" kdc_kinit_user expired "$REALM/x.cc"
ok_fails "disabled user cannot kinit" kdc_kinit_user disabled "$REALM/x.cc"
ok_fails "EXPIRED\$ keytab cannot kinit" kinit -k -t "$REALM/expired.keytab" -c "$REALM/x.cc" 'EXPIRED$'
ok_fails "DISABLED\$ keytab cannot kinit" kinit -k -t "$REALM/disabled.keytab" -c "$REALM/x.cc" 'DISABLED$'

fetch() { # fetch CCACHE OUTFILE [URL] -> prints the HTTP status
    KRB5CCNAME=$1 with_names curl -s --negotiate -u : -o "$2" -w '%{http_code}' "${3:-$NDES_ADMIN_URL}"
}
challenge_of() { ndes_decode "$1" | sed -n 's/.*challenge password is: <B> \([0-9A-F]*\) <\/B>.*/\1/p'; }

code=$(fetch "$cc" "$REALM/page1")
ok "admin page answers 200 to Negotiate (got $code)" test "$code" = 200
ok "page is UTF-16LE with a BOM" sh -c "head -c 2 '$REALM/page1' | od -An -tx1 | grep -q 'ff fe'"
c1=$(challenge_of "$REALM/page1")
ok "page decodes and carries a 16-char uppercase hex challenge" sh -c "echo '$c1' | grep -Eqx '[0-9A-F]{16}'"
ok "challenge recorded for the SCEP side" test -e "$NDES_DIR/challenges/$c1"
fetch "$cc" "$REALM/page2" >/dev/null
c2=$(challenge_of "$REALM/page2")
ok "second fetch gives a different challenge" test -n "$c2" -a "$c1" != "$c2"

code=$(with_names curl -s -o /dev/null -w '%{http_code}' "$NDES_ADMIN_URL")
ok "no ticket: 401 (got $code)" test "$code" = 401
ok "401 offers Negotiate" sh -c "with_names() { :; }; LD_PRELOAD='$NSS_WRAPPER_LIB' NSS_WRAPPER_HOSTS='$REALM/hosts' curl -s -D - -o /dev/null '$NDES_ADMIN_URL' | grep -qi '^WWW-Authenticate: Negotiate'"
code=$(with_names curl -s -o /dev/null -w '%{http_code}' "${NDES_ADMIN_URL%/}")
ok "admin path without slash: 301 like IIS (got $code)" test "$code" = 301

# Cache: at most 5 unused per user; using one frees a slot.
for i in 3 4 5; do fetch "$cc" "$REALM/page$i" >/dev/null; done
fetch "$cc" "$REALM/page6" >/dev/null
ok "6th unused challenge: no challenge" test -z "$(challenge_of "$REALM/page6")"
ok "cache-full page says so" sh -c "/usr/bin/python3 -c 'import sys; print(open(sys.argv[1],\"rb\").read()[2:].decode(\"utf-16-le\"))' '$REALM/page6' | grep -q 'The password cache is full.'"
rm -f "$NDES_DIR/challenges/$c1"
fetch "$cc" "$REALM/page7" >/dev/null
ok "a used challenge frees a slot" test -n "$(challenge_of "$REALM/page7")"
code=$(fetch "FILE:$REALM/alice.cc" "$REALM/alice1")
ok "alice has her own cache of challenges (got $code)" test -n "$(challenge_of "$REALM/alice1")"

# Page variants chosen at run time (first "use" the host's challenges).
rm -f "$NDES_DIR"/challenges/*
ndes_mode japanese
fetch "$cc" "$REALM/ja" >/dev/null
ok "japanese page" sh -c "grep -q . '$REALM/ja' && /usr/bin/python3 -c 'import sys; t=open(sys.argv[1],\"rb\").read()[2:].decode(\"utf-16-le\"); sys.exit(0 if \"登録チャレンジ パスワード\" in t else 1)' '$REALM/ja'"
ndes_mode nobom
fetch "$cc" "$REALM/nobom" >/dev/null
ok "nobom page has no BOM but is UTF-16LE" sh -c "head -c 2 '$REALM/nobom' | od -An -tx1 | grep -q '3c 00'"
ndes_mode utf8
fetch "$cc" "$REALM/utf8" >/dev/null
ok "utf8 page" grep -q 'challenge password is: <B> [0-9A-F]* </B>' "$REALM/utf8"
ndes_mode english
ndes_deny mallory
kdc_kinit_user mallory "$REALM/mallory.cc"
fetch "FILE:$REALM/mallory.cc" "$REALM/mallory" >/dev/null
ok "mallory gets the no-permission page" sh -c "ndes_decode() { :; }; /usr/bin/python3 -c 'import sys; print(open(sys.argv[1],\"rb\").read()[2:].decode(\"utf-16-le\"))' '$REALM/mallory' | grep -q 'do not have sufficient permission'"

# HTTPS with the test CA.
code=$(KRB5CCNAME=$cc with_names curl -s --negotiate -u : --cacert "$REALM/tls-ca.pem" -o "$REALM/tls" -w '%{http_code}' "$NDES_TLS_URL/certsrv/mscep_admin/")
ok "HTTPS admin page with the test CA (got $code)" test "$code" = 200
ok_fails "HTTPS refused without the test CA" with_names curl -sf -o /dev/null "$NDES_TLS_URL/certsrv/mscep_admin/"

# mscep.dll proxied to the SCEP socket; a static GetCACaps/GetCACert
# responder stands for the SCEP server here (ndes-cacert.sh).
cacert_start
ok "GetCACaps proxied through mscep.dll" sh -c "LD_PRELOAD='$NSS_WRAPPER_LIB' NSS_WRAPPER_HOSTS='$REALM/hosts' curl -sf '$NDES_SCEP_URL?operation=GetCACaps' | grep -q POSTPKIOperation"
ok "pkiclient.exe path proxied too" sh -c "LD_PRELOAD='$NSS_WRAPPER_LIB' NSS_WRAPPER_HOSTS='$REALM/hosts' curl -sf '$NDES_SCEP_URL/pkiclient.exe?operation=GetCACaps' | grep -q POSTPKIOperation"
code=$(with_names curl -s -o /dev/null -w '%{http_code}' "$NDES_NEG_SCEP_URL?operation=GetCACaps")
ok "Negotiate-only mscep.dll: 401 without a ticket (got $code)" test "$code" = 401
ok "Negotiate-only mscep.dll: 200 with a ticket" sh -c "KRB5CCNAME='$cc' LD_PRELOAD='$NSS_WRAPPER_LIB' NSS_WRAPPER_HOSTS='$REALM/hosts' curl -sf --negotiate -u : '$NDES_NEG_SCEP_URL/pkiclient.exe?operation=GetCACaps' | grep -q POSTPKIOperation"
kdc_stop
ok_fails "KDC stopped: kinit fails" kinit -k -t "$REALM/host.keytab" -c "$REALM/y.cc" 'CLIENT$'
