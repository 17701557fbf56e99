#!/bin/bash
# The diagnostic walk on a working realm and on broken ones: each step's
# verdict, text and JSON, and the challenge never printed.
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/kdc.sh"
. "$top_srcdir/tests/realm/ndes.sh"
. "$top_srcdir/tests/realm/ndes-cacert.sh"
realm_init
AE=$top_builddir/tests/tools/ae-ndes
need "$AE" /usr/bin/python3
kdc_start
ndes_start
cacert_start

run_diag() { with_names "$AE" diagnose "$@"; }
# step FILE NAME STATUS : the text report has that verdict for that step
step() { grep -Eq "^\[ ?$3 ?\] $2 " "$1" || { cat "$1"; return 1; }; }
json_step() { # FILE NAME STATUS
    /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
s = {x["name"]: x["status"] for x in r["steps"]}
sys.exit(0 if s.get(sys.argv[2]) == sys.argv[3] else 1)' "$@" || { cat "$1"; return 1; }
}

# --- working realm ---------------------------------------------------------
run_diag --admin-url "$NDES_ADMIN_URL" --scep-url "$NDES_SCEP_URL" --keytab "$REALM/host.keytab" >"$REALM/good.txt" 2>&1
ok "working realm: exit 0" test $? = 0
diag_show() { sed 's/^/#   /' "$1"; }
diag_show "$REALM/good.txt"
for s in resolve keytab kdc service-ticket mscep-admin getcacaps getcacert clock; do
    ok "working realm: $s OK" step "$REALM/good.txt" "$s" OK
done
ok "keytab step names the NAME\$ principal and kvno" grep -q "CLIENT\\\$@$REALM_NAME (kvno" "$REALM/good.txt"
ok "GetCACert: CA and both RA certs with their key usages" \
    grep -q "3 certificate(s), 2 RA: CA 'Autoenroll Test Issuing CA'.*RA 'NDES-RA Exchange' until [0-9-]* \[keyEncipherment\].*RA 'NDES-RA Signature' until [0-9-]* \[digitalSignature\]" "$REALM/good.txt"
ok "GetCACaps listed" grep -q "POSTPKIOperation, Renewal, SHA-256" "$REALM/good.txt"
ok "result: working" grep -qx "result: working" "$REALM/good.txt"
leak=0
for c in "$NDES_DIR"/challenges/*; do grep -q "$(basename "$c")" "$REALM/good.txt" && leak=1; done
ok "the challenge is not printed" test $leak = 0 -a -n "$(ls "$NDES_DIR/challenges")"

run_diag --admin-url "$NDES_ADMIN_URL" --scep-url "$NDES_SCEP_URL" --keytab "$REALM/host.keytab" --json >"$REALM/good.json"
ok "JSON parses, ok=true" /usr/bin/python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["ok"] is True else 1)' "$REALM/good.json"
ok "JSON: mscep-admin ok" json_step "$REALM/good.json" mscep-admin ok

kdc_kinit_user alice "$REALM/alice.cc" || bail "kinit alice"
run_diag --admin-url "$NDES_ADMIN_URL" --scep-url "$NDES_SCEP_URL" --ccache "FILE:$REALM/alice.cc" --uid "$(test_uid alice)" >"$REALM/user.txt" 2>&1
ok "user's cache: credentials OK" step "$REALM/user.txt" credentials OK
ok "user's cache: admin page OK" step "$REALM/user.txt" mscep-admin OK

run_diag --admin-url "$NDES_NEG_URL/certsrv/mscep_admin/" --scep-url "$NDES_NEG_SCEP_URL" --scep-negotiate --keytab "$REALM/host.keytab" >"$REALM/neg.txt" 2>&1
ok "Negotiate on mscep.dll: GetCACert OK" step "$REALM/neg.txt" getcacert OK

# --- broken realms ---------------------------------------------------------
run_diag --admin-url "$NDES_STALE_URL/certsrv/mscep_admin/" --scep-url "$NDES_SCEP_URL" --keytab "$REALM/host.keytab" >"$REALM/stale.txt" 2>&1
ok "NDES rejects our ticket: exit 1" test $? = 1
diag_show "$REALM/stale.txt"
ok "service ticket still OK" step "$REALM/stale.txt" service-ticket OK
ok "mscep-admin FAIL with the SPN/Extended Protection hint" sh -c "grep '^\[FAIL\] mscep-admin' '$REALM/stale.txt' | grep -q 'Extended Protection'"
ok "result: BROKEN" grep -qx "result: BROKEN" "$REALM/stale.txt"

run_diag --admin-url "http://$CLIENT_HOST:$NDES_PORT/certsrv/mscep_admin/" --keytab "$REALM/host.keytab" >"$REALM/spn.txt" 2>&1
ok "no SPN for the host: service-ticket FAIL names setspn" sh -c "grep '^\[FAIL\] service-ticket' '$REALM/spn.txt' | grep -q setspn"

# A name nss_wrapper does not know falls through to libc's NSS (no DEEPBIND
# dlopen: it aborts under ASan).
NSS_WRAPPER_DISABLE_DEEPBIND=1 run_diag --admin-url "http://nosuchhost.$REALM_DOMAIN:$NDES_PORT/certsrv/mscep_admin/" --keytab "$REALM/host.keytab" >"$REALM/dns.txt" 2>&1
ok "unresolvable NDES host: resolve FAIL" step "$REALM/dns.txt" resolve FAIL

cacert_stop
run_diag --admin-url "$NDES_ADMIN_URL" --scep-url "$NDES_SCEP_URL" --keytab "$REALM/host.keytab" >"$REALM/noscep.txt" 2>&1
ok "SCEP backend gone: getcacaps FAIL" step "$REALM/noscep.txt" getcacaps FAIL
ok "SCEP backend gone: admin page still OK" step "$REALM/noscep.txt" mscep-admin OK
ok "clock from the admin page's Date" step "$REALM/noscep.txt" clock OK

kdc_stop
run_diag --admin-url "$NDES_ADMIN_URL" --scep-url "$NDES_SCEP_URL" --keytab "$REALM/host.keytab" --json >"$REALM/nokdc.json" 2>&1
ok "KDC down: exit 1" test $? = 1
with_names "$AE" diagnose --admin-url "$NDES_ADMIN_URL" --scep-url "$NDES_SCEP_URL" --keytab "$REALM/host.keytab" >"$REALM/nokdc.txt" 2>&1
diag_show "$REALM/nokdc.txt"
ok "KDC down: kdc fail" json_step "$REALM/nokdc.json" kdc fail
ok "KDC down: service ticket skipped" json_step "$REALM/nokdc.json" service-ticket skip
ok "KDC down: admin page skipped" json_step "$REALM/nokdc.json" mscep-admin skip
ok "KDC down: message says unreachable" grep -q "KDC unreachable" "$REALM/nokdc.txt"
run_diag --admin-url "$NDES_ADMIN_URL" --keytab "$REALM/none.keytab" >"$REALM/nokt.txt" 2>&1
ok "missing keytab: keytab FAIL, kdc skipped" sh -c "grep -q '^\[FAIL\] keytab' '$REALM/nokt.txt' && grep -q '^\[SKIP\] kdc' '$REALM/nokt.txt'"
