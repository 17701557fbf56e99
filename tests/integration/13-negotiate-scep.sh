#!/bin/bash
# Negotiate on mscep.dll: when the CA requires it, SCEP requests carry an
# "Authorization: Negotiate" header built from the request's own credentials
# (machine keytab or the user's cache); without it Apache answers 401.
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/kdc.sh"
. "$top_srcdir/tests/realm/ndes.sh"
. "$top_srcdir/tests/realm/ndes-cacert.sh"
realm_init
AE=$top_builddir/tests/tools/ae-ndes
need "$AE"
kdc_start
ndes_start
cacert_start

ae() { with_names "$AE" "$@"; }

# scepget NAME ARGS... : run scep-get, output in $REALM/NAME.out
scepget() { local n=$1; shift; ae scep-get "$@" >"$REALM/$n.out" 2>&1; }
has() { grep -aq -- "$2" "$REALM/$1.out"; }

scepget anon --url "$NDES_SCEP_URL?operation=GetCACaps"
ok "anonymous mscep.dll: GetCACaps without credentials" has anon POSTPKIOperation
scepget noauth --url "$NDES_NEG_SCEP_URL?operation=GetCACaps"
ok "Negotiate-only mscep.dll: 401 without a token" has noauth 'status: 401'
scepget machine --url "$NDES_NEG_SCEP_URL?operation=GetCACaps" --keytab "$REALM/host.keytab"
ok "machine token: 200" has machine 'status: 200'
ok "machine token: GetCACaps body through Negotiate" has machine POSTPKIOperation
ok "Apache logged the machine principal" grep -q " CLIENT\\\$@$REALM_NAME \"GET /neg/certsrv/mscep/mscep.dll" "$NDES_DIR/access.log"
kdc_kinit_user alice "$REALM/alice.cc" || bail "kinit alice"
scepget user --url "$NDES_NEG_SCEP_URL/pkiclient.exe?operation=GetCACert&message=CA" --ccache "FILE:$REALM/alice.cc" --uid "$(test_uid alice)"
ok "user token: GetCACert via pkiclient.exe through Negotiate" has user 'status: 200'
ok "Apache logged alice" grep -q " alice@$REALM_NAME \"GET /neg/certsrv/mscep/mscep.dll/pkiclient.exe" "$NDES_DIR/access.log"
scepget stale --url "$NDES_STALE_URL/certsrv/mscep_admin/" --keytab "$REALM/host.keytab"
ok "a token the server cannot accept: 401" has stale 'status: 401'
