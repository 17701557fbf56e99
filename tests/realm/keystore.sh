# shellcheck shell=bash
# The checks every token must pass (SoftHSM and TPM run the same list).
# Needs AEKEY (the ae-key binary) and a realm.
#
# keystore_checks LOCATION NAME BITS TOOL [MIN-PARALLEL-SIGNATURES]
#   P11_MODULE must name the token's module and P11_PIN_FILE its PIN file.
#   TOOL is a shell function running pkcs11-tool logged in to that token.
#   MIN-PARALLEL-SIGNATURES: how many signatures the main thread must make
#   while a worker generates (default 10; a TPM runs one command at a time).

keystore_checks() {
    local loc=$1 name=$2 bits=$3 tool=$4 minpar=${5:-10} pinfile=$P11_PIN_FILE
    local out ref ref2 uri md

    out=$("$AEKEY" generate "$loc" --bits "$bits" --label "$name-key") || bail "$name: generate failed: $out"
    ref=${out%% *}
    uri=${out#* }
    pass "$name: RSA-$bits key generated in the token"
    ok "$name: key URI is a full RFC 7512 URI" \
        bash -c "[[ '$uri' == pkcs11:*token=*id=*object=$name-key*type=private* ]]"
    ok "$name: no PIN in the URI" bash -c "[[ '$uri' != *pin* ]]"
    ok "$name: no NUL padding (%00) in the token part of the URI" bash -c "[[ '${uri%%;id=*}' != *%00* ]]"

    ok "$name: a consumer (GnuTLS p11tool) signs with the printed key URI" bash -c "
        GNUTLS_PIN=\$(cat '$pinfile') p11tool --provider '$P11_MODULE' --login --test-sign '$uri' 2>&1 |
            grep -q 'Verifying against public key in the token... ok'"
    ok "$name: CSR signed in the token" "$AEKEY" sign-csr "$loc" "$ref" client.autoenroll.test "$REALM/$name-req.pem"
    ok "$name: openssl req -verify accepts the CSR" openssl req -in "$REALM/$name-req.pem" -verify -noout
    ok "$name: CSR with SHA-1 (old NDES) verifies" \
        bash -c "'$AEKEY' sign-csr '$loc' $ref c '$REALM/$name-req1.pem' SHA1 && openssl req -in '$REALM/$name-req1.pem' -verify -noout"
    ok "$name: self-signed certificate (X509_sign)" "$AEKEY" self-sign "$loc" "$ref" client.autoenroll.test "$REALM/$name-cert.pem"
    ok "$name: openssl verify accepts it" openssl verify -CAfile "$REALM/$name-cert.pem" "$REALM/$name-cert.pem"
    ok "$name: public key (i2d_PUBKEY) equals the certificate's" \
        bash -c "'$AEKEY' pubkey '$loc' $ref '$REALM/$name-pub.pem' && cmp '$REALM/$name-pub.pem' <(openssl x509 -in '$REALM/$name-cert.pem' -pubkey -noout)"
    ok "$name: EVP_PKEY_eq matches the certificate" "$AEKEY" match-cert "$loc" "$ref" "$REALM/$name-cert.pem"

    head -c 5000 /dev/urandom >"$REALM/$name-data"
    for md in SHA1 SHA256 SHA512; do
        ok "$name: EVP_DigestSign $md verifies with openssl" bash -c "
            '$AEKEY' sign-data '$loc' $ref $md '$REALM/$name-data' '$REALM/$name-sig' &&
            openssl dgst -${md,,} -verify <(openssl x509 -in '$REALM/$name-cert.pem' -pubkey -noout) \
                -signature '$REALM/$name-sig' '$REALM/$name-data'"
    done
    ok "$name: PKCS7_sign (PARTIAL + signed attribute + final) verifies" bash -c "
        '$AEKEY' sign-p7 '$loc' $ref '$REALM/$name-cert.pem' '$REALM/$name-data' '$REALM/$name-p7.der' &&
        openssl smime -verify -binary -inform DER -in '$REALM/$name-p7.der' -CAfile '$REALM/$name-cert.pem' \
            -content '$REALM/$name-data' -out /dev/null"
    ok "$name: CMS_sign verifies" bash -c "
        '$AEKEY' sign-cms '$loc' $ref '$REALM/$name-cert.pem' '$REALM/$name-data' '$REALM/$name-cms.der' &&
        openssl cms -verify -binary -inform DER -in '$REALM/$name-cms.der' -CAfile '$REALM/$name-cert.pem' \
            -content '$REALM/$name-data' -out /dev/null"

    local cipher
    for cipher in aes128 aes256 des3; do
        openssl cms -encrypt -binary -$cipher -in "$REALM/$name-data" -outform DER \
            -out "$REALM/$name-env.der" "$REALM/$name-cert.pem" || bail "openssl cms -encrypt failed"
        ok "$name: CMS envelope ($cipher) from openssl cms -encrypt decrypts in the token" \
            bash -c "'$AEKEY' decrypt '$loc' $ref '$REALM/$name-env.der' '$REALM/$name-dec' && cmp '$REALM/$name-dec' '$REALM/$name-data'"
    done

    ok "$name: certificate stored on the token" "$AEKEY" store-cert "$loc" "$ref" "$REALM/$name-cert.pem"
    ok "$name: pkcs11-tool sees the certificate under the key's id" \
        bash -c "$(declare -f "$tool"); $tool --list-objects --type cert | grep -q 'ID: *$ref'"
    ok "$name: list shows key and certificate URIs" \
        bash -c "'$AEKEY' list '$loc' | grep -A2 'ref=$ref' | grep -q 'cert=pkcs11:.*type=cert'"
    local certuri
    certuri=$("$AEKEY" uri "$loc" "$ref" | sed -n 2p)
    ok "$name: the certificate URI finds the certificate (p11tool)" bash -c "
        p11tool --provider '$P11_MODULE' --export '$certuri' 2>/dev/null | openssl x509 -noout -fingerprint -sha256 >'$REALM/fp1' &&
        openssl x509 -in '$REALM/$name-cert.pem' -noout -fingerprint -sha256 >'$REALM/fp2' && cmp '$REALM/fp1' '$REALM/fp2'"
    ok "$name: hex key id (strongSwan) is the ref" test "$("$AEKEY" uri "$loc" "$ref" | sed -n 3p)" = "$ref"

    # Storing again replaces: one certificate per id.
    ok "$name: storing a certificate again" "$AEKEY" store-cert "$loc" "$ref" "$REALM/$name-cert.pem"
    ok "$name: still one certificate with that id" \
        test "$($tool --list-objects --type cert 2>/dev/null | grep -c "ID: *$ref")" = 1

    # The private key never leaves the token.
    ok "$name: CKA_PRIVATE_EXPONENT/PRIME/VALUE refused, SENSITIVE and not EXTRACTABLE" \
        "$AEKEY" probe-secret "$loc" "$ref"
    ok_fails "$name: pkcs11-tool --read-object --type privkey is refused" \
        bash -c "$(declare -f "$tool"); $tool --read-object --type privkey --id $ref -o '$REALM/$name-stolen' && test -s '$REALM/$name-stolen'"

    # Renewal: new key + certificate stored first, old key deleted after.
    out=$("$AEKEY" generate "$loc" --bits "$bits" --label "$name-key") || bail "$name: second generate failed: $out"
    ref2=${out%% *}
    "$AEKEY" self-sign "$loc" "$ref2" client.autoenroll.test "$REALM/$name-cert2.pem" || bail "$name: self-sign 2"
    ok_fails "$name: a certificate of another key is refused" "$AEKEY" store-cert "$loc" "$ref" "$REALM/$name-cert2.pem"
    ok "$name: renewed certificate stored" "$AEKEY" store-cert "$loc" "$ref2" "$REALM/$name-cert2.pem"
    ok "$name: both keys present until the old one is dropped" test "$("$AEKEY" list "$loc" | grep -c '^ref=')" = 2
    ok "$name: old key dropped" "$AEKEY" delete "$loc" "$ref"
    ok "$name: old key, public key and certificate are gone" \
        bash -c "! ($(declare -f "$tool"); $tool --list-objects 2>/dev/null) | grep -q 'ID: *$ref'"
    ok "$name: new key and certificate remain" \
        bash -c "'$AEKEY' list '$loc' | grep -A2 'ref=$ref2' | grep -q 'cert=pkcs11:'"
    ok "$name: new key still decrypts" bash -c "
        openssl cms -encrypt -binary -aes256 -in '$REALM/$name-data' -outform DER -out '$REALM/$name-env2.der' '$REALM/$name-cert2.pem' &&
        '$AEKEY' decrypt '$loc' $ref2 '$REALM/$name-env2.der' '$REALM/$name-dec2' && cmp '$REALM/$name-dec2' '$REALM/$name-data'"
    ok_fails "$name: the deleted key cannot be loaded" "$AEKEY" sign-csr "$loc" "$ref" x "$REALM/x.pem"
    ok "$name: a worker thread generates while the main thread signs (same keystore, and its own)" \
        "$AEKEY" concurrent "$loc" "$ref2" "$minpar"
    ok "$name: clean up" "$AEKEY" delete "$loc" "$ref2"
    ok "$name: the token is empty again" bash -c "! ($(declare -f "$tool"); $tool --list-objects 2>/dev/null) | grep -q 'Object;'"
}
