#!/bin/bash
# File key store through ae-key: generation (0600, owner), CSR, signatures,
# CMS decryption, certificate beside the key, renewal, deletion.
. "$top_srcdir/tests/realm/lib.sh"
realm_init
need openssl
AEKEY=$top_builddir/tests/tools/ae-key
[ -x "$AEKEY" ] || bail "ae-key not built"

LOC=file:$REALM/keys
D=$REALM/keys
# A non-root owner: the key belongs to whoever owns the certificate.
OWNER=$(id -u nobody):$(id -g nobody)

out=$("$AEKEY" generate "$LOC" --bits 3072 --owner "$OWNER") || bail "generate failed: $out"
ref=${out%% *}
uri=${out#* }
ok "ref is 40 hex digits" bash -c "[[ '$ref' =~ ^[0-9a-f]{40}\$ ]]"
ok "key URI names the file" test "$uri" = "file:$D/$ref.key"
ok "key file is 0600" test "$(stat -c %a "$D/$ref.key")" = 600
ok "key file is owned by the certificate's owner" test "$(stat -c %u:%g "$D/$ref.key")" = "$OWNER"
ok "key file is a PEM private key of 3072 bits" \
    bash -c "openssl pkey -in '$D/$ref.key' -noout -text | grep -q 'Private-Key: (3072 bit'"
ok "no temp file left" bash -c "! ls -a '$D' | grep -q tmp"

ok "CSR signed by the key" "$AEKEY" sign-csr "$LOC" "$ref" client.autoenroll.test "$REALM/req.pem"
ok "openssl req -verify accepts the CSR" openssl req -in "$REALM/req.pem" -verify -noout
ok "self-signed certificate" "$AEKEY" self-sign "$LOC" "$ref" client.autoenroll.test "$REALM/cert.pem"
ok "openssl verify accepts it" openssl verify -CAfile "$REALM/cert.pem" "$REALM/cert.pem"

head -c 3000 /dev/urandom >"$REALM/data"
for md in SHA1 SHA256 SHA512; do
    ok "EVP_DigestSign $md" "$AEKEY" sign-data "$LOC" "$ref" "$md" "$REALM/data" "$REALM/sig.$md"
    ok "openssl dgst verifies $md" openssl dgst "-${md,,}" -verify <(openssl x509 -in "$REALM/cert.pem" -pubkey -noout) \
        -signature "$REALM/sig.$md" "$REALM/data"
done
openssl cms -encrypt -binary -aes256 -in "$REALM/data" -outform DER -out "$REALM/env.der" "$REALM/cert.pem" \
    || bail "openssl cms -encrypt failed"
ok "CMS envelope from openssl decrypts" "$AEKEY" decrypt "$LOC" "$ref" "$REALM/env.der" "$REALM/dec"
ok "content matches" cmp "$REALM/dec" "$REALM/data"

ok "store the certificate" "$AEKEY" store-cert "$LOC" "$ref" "$REALM/cert.pem"
ok "certificate written beside the key, same owner" \
    test "$(stat -c %u:%g:%a "$D/$ref.crt")" = "$OWNER:644"
ok "list shows key and certificate" bash -c "'$AEKEY' list '$LOC' | grep -q 'cert=file:$D/$ref.crt'"

# Renewal: new key and certificate first, then the old key goes.
out=$("$AEKEY" generate "$LOC") || bail "second generate failed"
ref2=${out%% *}
"$AEKEY" self-sign "$LOC" "$ref2" client.autoenroll.test "$REALM/cert2.pem" || bail "self-sign 2"
ok_fails "a certificate of another key is refused" "$AEKEY" store-cert "$LOC" "$ref" "$REALM/cert2.pem"
ok "old certificate untouched after the refusal" cmp <(openssl x509 -in "$D/$ref.crt") <(openssl x509 -in "$REALM/cert.pem")
ok "store the renewed certificate" "$AEKEY" store-cert "$LOC" "$ref2" "$REALM/cert2.pem"
ok "delete the old key" "$AEKEY" delete "$LOC" "$ref"
ok "old key and certificate gone" bash -c "[ ! -e '$D/$ref.key' ] && [ ! -e '$D/$ref.crt' ]"
ok "new key still signs" "$AEKEY" sign-csr "$LOC" "$ref2" client.autoenroll.test "$REALM/req2.pem"
ok "one key left" test "$("$AEKEY" list "$LOC" | grep -c '^ref=')" = 1
ok_fails "deleting a missing key fails" "$AEKEY" delete "$LOC" "$ref"
