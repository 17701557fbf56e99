#!/bin/bash
# scepserver with NDES-like one-time challenges (CSR-verifier hook): a fresh
# challenge enrolls once; reusing it or inventing one is rejected.
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/scep.sh"
realm_init
need openssl
AE=$top_builddir/tests/tools/ae-scep
[ -x "$AE" ] || bail "ae-scep not built"
scep_start --ndes-challenges

W=$REALM/work
mkdir -p "$W"
openssl genrsa -out "$W/key.pem" 2048 2>/dev/null || bail "keygen"
COMMON=(--url "$SCEP_URL" --ca-fingerprint "$SCEP_CA_FINGERPRINT" --allow-des --key "$W/key.pem"
        --dns "$CLIENT_HOST")
enroll() { "$AE" enroll "${COMMON[@]}" --challenge-file "$1" --out "$2"; }
rc_is() { local want=$1 rc; shift; "$@"; rc=$?; echo "exit $rc (want $want)"; [ "$rc" = "$want" ]; }

scep_new_challenge >"$W/c1" || bail "no challenge"
ok "challenge looks like NDES's (16 uppercase hex)" grep -Eqx '[0-9A-F]{16}' "$W/c1"
ok "a fresh one-time challenge enrolls" enroll "$W/c1" "$W/cert1.pem"
ok "the certificate is for our key" test \
    "$(openssl x509 -in "$W/cert1.pem" -noout -pubkey)" = "$(openssl pkey -in "$W/key.pem" -pubout)"
ok "the challenge is consumed" test ! -e "$SCEP_CHALLENGE_DIR/$(cat "$W/c1")"
ok "reusing it is rejected" rc_is 2 enroll "$W/c1" "$W/cert2.pem"
ok "no certificate from the reuse" test ! -e "$W/cert2.pem"
echo 0123456789ABCDEF >"$W/made-up"
ok "an unknown challenge is rejected" rc_is 2 enroll "$W/made-up" "$W/cert3.pem"
scep_new_challenge >"$W/c2"
scep_new_challenge >"$W/c3"
ok "two outstanding challenges: the second works" enroll "$W/c3" "$W/cert4.pem"
ok "and then the first" enroll "$W/c2" "$W/cert5.pem"
ok "the verifier logged no challenge value" sh -c "! grep -q '$(cat "$W/c2")' '$REALM/scepserver.log'"
