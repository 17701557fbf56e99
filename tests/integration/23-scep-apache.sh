#!/bin/bash
# The whole NDES stand-in: a one-time challenge fetched with Kerberos from
# Apache's /certsrv/mscep_admin/ (ae-ndes), then enrollment through Apache's
# /certsrv/mscep/mscep.dll proxy to scepserver (which consumes the challenge
# in its CSR verifier): POST, GET via pkiclient.exe, reuse refused, renewal.
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/kdc.sh"
. "$top_srcdir/tests/realm/scep.sh"
. "$top_srcdir/tests/realm/ndes.sh"
realm_init
AE=$top_builddir/tests/tools/ae-scep
NDES=$top_builddir/tests/tools/ae-ndes
need "$AE" "$NDES" openssl
kdc_start
scep_start --ndes-challenges
ndes_start

W=$REALM/work
mkdir -p "$W"
openssl genrsa -out "$W/key.pem" 2048 2>/dev/null || bail "keygen"
openssl genrsa -out "$W/key2.pem" 2048 2>/dev/null || bail "keygen"
challenge() { # NAME: a fresh challenge from the Kerberos-protected admin page into $W/NAME
    with_names "$NDES" challenge --admin-url "$NDES_ADMIN_URL" --keytab "$REALM/host.keytab" --reveal |
        sed -n 's/^challenge: [0-9]* chars: //p' >"$W/$1"
    [ -s "$W/$1" ]
}
scep() { with_names "$AE" "$@" --ca-fingerprint "$SCEP_CA_FINGERPRINT" --allow-des; }
grep_out() { local pat=$1 out; shift; out=$("$@" 2>&1); printf '%s\n' "$out"; grep -q -- "$pat" <<<"$out"; }
rc_is() { local want=$1 rc; shift; "$@"; rc=$?; echo "exit $rc (want $want)"; [ "$rc" = "$want" ]; }
same_key() { [ "$(openssl x509 -in "$1" -noout -pubkey)" = "$(openssl pkey -in "$2" -pubout)" ]; }

ok "GetCACaps through Apache" grep_out "pkioperation: POST" with_names "$AE" getcacaps --url "$NDES_SCEP_URL"
ok "challenge over Negotiate from mscep_admin" challenge c1
ok "the challenge is one the SCEP side will accept" test -e "$NDES_DIR/challenges/$(cat "$W/c1")"
ok "enroll through Apache by POST" grep_out "status: SUCCESS" scep enroll --url "$NDES_SCEP_URL" \
    --key "$W/key.pem" --challenge-file "$W/c1" --dns "$CLIENT_HOST" --out "$W/cert.pem"
ok "the certificate is ours and chains to the CA" sh -c \
    "openssl verify -CAfile '$SCEP_CA_CERT' '$W/cert.pem' && [ \"\$(openssl x509 -in '$W/cert.pem' -noout -pubkey)\" = \"\$(openssl pkey -in '$W/key.pem' -pubout)\" ]"
ok "scepserver consumed the challenge" test ! -e "$NDES_DIR/challenges/$(cat "$W/c1")"
ok "Apache proxied the POST" grep -q '"POST /certsrv/mscep/mscep.dll?operation=PKIOperation' "$NDES_DIR/access.log"
ok "reusing the challenge is refused" rc_is 2 scep enroll --url "$NDES_SCEP_URL" \
    --key "$W/key.pem" --challenge-file "$W/c1" --dns "$CLIENT_HOST" --out "$W/x.pem"

challenge c2
ok "enroll through Apache by GET on pkiclient.exe" grep_out "via GET" scep enroll \
    --url "$NDES_SCEP_URL/pkiclient.exe" --get --key "$W/key.pem" --challenge-file "$W/c2" \
    --dns "$CLIENT_HOST" --out "$W/cert-get.pem"
ok "GET issued our certificate" same_key "$W/cert-get.pem" "$W/key.pem"
ok "Apache saw the GET PKIOperation" grep -q '"GET /certsrv/mscep/mscep.dll/pkiclient.exe?operation=PKIOperation&message=' \
    "$NDES_DIR/access.log"

challenge c3
ok "renewal through Apache (RenewalReq, challenge included for scepserver)" grep_out "status: SUCCESS" \
    scep renew --url "$NDES_SCEP_URL" --renewal-with-challenge --cert "$W/cert.pem" \
    --current-key "$W/key.pem" --key "$W/key2.pem" --challenge-file "$W/c3" --out "$W/renewed.pem"
ok "renewed certificate carries the new key" same_key "$W/renewed.pem" "$W/key2.pem"
ok "no challenge in Apache's or scepserver's logs" sh -c \
    "! grep -q -e \"\$(cat '$W/c2')\" -e \"\$(cat '$W/c3')\" '$NDES_DIR/access.log' '$NDES_DIR/error.log' '$REALM/scepserver.log'"
