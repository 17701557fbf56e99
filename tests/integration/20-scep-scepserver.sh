#!/bin/bash
# The SCEP engine (through tests/tools/ae-scep) against Debian's real
# scepserver: caps, GetCACert pinning, enroll over POST and GET, single-DES
# policy, wrong challenge, RenewalReq and the PKCSReq fallback.
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/scep.sh"
realm_init
need openssl curl
AE=$top_builddir/tests/tools/ae-scep
[ -x "$AE" ] || bail "ae-scep not built"
scep_start --valid-days 2

W=$REALM/work
mkdir -p "$W"
openssl genrsa -out "$W/key.pem" 2048 2>/dev/null || bail "keygen"
openssl genrsa -out "$W/key2.pem" 2>/dev/null 2048 || bail "keygen"
printf '%s\n' "$SCEP_CHALLENGE" >"$W/challenge"
echo WRONGCHALLENGE >"$W/wrong"
COMMON=(--url "$SCEP_URL" --ca-fingerprint "$SCEP_CA_FINGERPRINT")
SID=S-1-5-21-1004336348-1177238915-682003330-1001

same_key() { # CERT KEY
    [ "$(openssl x509 -in "$1" -noout -pubkey)" = "$(openssl pkey -in "$2" -pubout)" ]
}
grep_out() { # PATTERN CMD...: the command's output (stdout+stderr) matches
    local pat=$1 out
    shift
    out=$("$@" 2>&1)
    printf '%s\n' "$out"
    grep -q -- "$pat" <<<"$out"
}
rc_is() { # RC CMD...
    local want=$1 rc
    shift
    "$@"
    rc=$?
    echo "exit $rc (want $want)"
    [ "$rc" = "$want" ]
}

ok "GetCACaps parsed (SCEPStandard implies AES+SHA-256+POST)" \
    grep_out "cipher: AES-128-CBC" "$AE" getcacaps --url "$SCEP_URL"
ok "GetCACert with the pinned fingerprint" \
    grep_out "ca: $SCEP_CA_FINGERPRINT" "$AE" getcacert "${COMMON[@]}" --out "$W/chain.pem"
ok "the saved chain is the CA" cmp <(openssl x509 -in "$W/chain.pem" -outform DER) \
    <(openssl x509 -in "$SCEP_CA_CERT" -outform DER)
ok_fails "GetCACert with another fingerprint fails" \
    "$AE" getcacert --url "$SCEP_URL" --ca-fingerprint "sha256:$(printf '00%.0s' {1..32})"
ok "... and names the server's CA fingerprint" \
    grep_out "no certificate matches the configured CA fingerprint (the server's CA is $SCEP_CA_FINGERPRINT)" \
    "$AE" getcacert --url "$SCEP_URL" --ca-fingerprint "sha256:$(printf 'AB%.0s' {1..32})"

ok "single-DES reply refused without allow_des, with a clear error" \
    grep_out "single DES; refused (set allow_des=true" \
    "$AE" enroll "${COMMON[@]}" --key "$W/key.pem" --challenge-file "$W/challenge" \
    --dns "$CLIENT_HOST" --out "$W/never.pem"
ok "no certificate written then" test ! -e "$W/never.pem"

ok "enroll over POST" \
    grep_out "status: SUCCESS" "$AE" enroll "${COMMON[@]}" --allow-des --key "$W/key.pem" \
    --challenge-file "$W/challenge" --dns "$CLIENT_HOST" --sid "$SID" --out "$W/cert.pem"
ok "the request went by POST with AES and SHA-256" \
    grep -q "PKCSReq .*, SHA256, AES-128-CBC via POST" <("$AE" enroll "${COMMON[@]}" --allow-des \
    --key "$W/key.pem" --challenge-file "$W/challenge" --dns "$CLIENT_HOST" --out "$W/cert-b.pem")
ok "issued certificate chains to the test CA" openssl verify -CAfile "$SCEP_CA_CERT" "$W/cert.pem"
ok "issued certificate carries our key" same_key "$W/cert.pem" "$W/key.pem"
ok "SAN dNSName and the SID URI are in it" sh -c \
    "openssl x509 -in '$W/cert.pem' -noout -ext subjectAltName | grep -q 'DNS:$CLIENT_HOST' &&
     openssl x509 -in '$W/cert.pem' -noout -ext subjectAltName | grep -q 'URI:tag:microsoft.com,2022-09-14:sid:$SID'"
ok "short validity option honoured (2 days)" sh -c \
    "openssl x509 -in '$W/cert.pem' -noout -checkend 86400 && ! openssl x509 -in '$W/cert.pem' -noout -checkend 259200"

ok "enroll over GET (base64 + percent-encoding)" \
    grep_out "via GET" "$AE" enroll "${COMMON[@]}" --allow-des --get --key "$W/key.pem" \
    --challenge-file "$W/challenge" --dns "$CLIENT_HOST" --out "$W/cert-get.pem"
ok "GET enrollment issued a certificate for our key" same_key "$W/cert-get.pem" "$W/key.pem"

ok "wrong challenge: rejected (exit 2)" rc_is 2 "$AE" enroll "${COMMON[@]}" --allow-des \
    --key "$W/key.pem" --challenge-file "$W/wrong" --dns "$CLIENT_HOST" --out "$W/bad.pem"
ok "wrong challenge: the failInfo is reported" \
    grep_out "error \[rejected\]: the CA refused the request: badRequest" "$AE" enroll "${COMMON[@]}" \
    --allow-des --key "$W/key.pem" --challenge-file "$W/wrong" --dns "$CLIENT_HOST"

ok "RenewalReq signed by the current cert, new key" \
    grep_out "request: RenewalReq" "$AE" renew "${COMMON[@]}" --allow-des --renewal-with-challenge \
    --cert "$W/cert.pem" --current-key "$W/key.pem" --key "$W/key2.pem" \
    --challenge-file "$W/challenge" --out "$W/renewed.pem"
ok "renewed certificate carries the new key" same_key "$W/renewed.pem" "$W/key2.pem"
ok "renewed certificate keeps the subject" test \
    "$(openssl x509 -in "$W/renewed.pem" -noout -subject)" = "$(openssl x509 -in "$W/cert.pem" -noout -subject)"
ok "RenewalReq refused (no challenge) falls back to PKCSReq" \
    grep_out "fallback: RenewalReq refused" "$AE" renew "${COMMON[@]}" --allow-des \
    --cert "$W/renewed.pem" --current-key "$W/key2.pem" --key "$W/key.pem" \
    --challenge-file "$W/challenge" --out "$W/renewed2.pem"
ok "fallback issued a certificate for the key" same_key "$W/renewed2.pem" "$W/key.pem"

ok "scepserver saw RenewalReq and PKCSReq" sh -c \
    "grep -q 'RenewalReq (17)' '$REALM/scepserver.log' && grep -q 'PKCSReq (19)' '$REALM/scepserver.log'"
ok "ae-scep never prints the challenge" sh -c \
    "! '$AE' enroll --url '$SCEP_URL' --ca-fingerprint '$SCEP_CA_FINGERPRINT' --allow-des --key '$W/key.pem' \
       --challenge-file '$W/challenge' --dns '$CLIENT_HOST' 2>&1 | grep -q '$SCEP_CHALLENGE'"
ok "scepserver is not reachable outside its namespace except by the relay" sh -c \
    "! ss -Hltn 'sport = :8080' | grep -q ."
