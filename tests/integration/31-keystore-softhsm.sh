#!/bin/bash
# SoftHSM token through ae-key and the in-tree OpenSSL provider: generation in
# the token, CSR/X509/PKCS7/CMS signatures, CMS decryption, certificates on the
# token seen by pkcs11-tool/p11tool/p11-kit, renewal, non-extractable keys,
# module selection by path, by p11-kit name and by search.
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/softhsm.sh"
. "$top_srcdir/tests/realm/keystore.sh"
realm_init
need openssl pkcs11-tool p11tool p11-kit
AEKEY=$top_builddir/tests/tools/ae-key
[ -x "$AEKEY" ] || bail "ae-key not built"
softhsm_init
P11_MODULE=$SOFTHSM_MODULE
P11_PIN_FILE=$SOFTHSM_PIN_FILE

keystore_checks "$SOFTHSM_URI" softhsm 2048 p11t
for bits in 3072 4096; do
    out=$("$AEKEY" generate "$SOFTHSM_URI" --bits $bits --label "k$bits") || { fail "RSA-$bits generation" "$out"; continue; }
    r=${out%% *}
    ok "RSA-$bits: CSR verifies" bash -c "'$AEKEY' sign-csr '$SOFTHSM_URI' $r k$bits '$REALM/r$bits.pem' && openssl req -in '$REALM/r$bits.pem' -verify -noout"
    ok "RSA-$bits: deleted" "$AEKEY" delete "$SOFTHSM_URI" "$r"
done

# The module the p11-kit way: registered by name in the (private) user config.
mkdir -p "$XDG_CONFIG_HOME/pkcs11/modules"
printf 'module: %s\n' "$SOFTHSM_MODULE" >"$XDG_CONFIG_HOME/pkcs11/modules/softhsm2.module"
ok "p11-kit lists the registered module" bash -c "p11-kit list-modules | grep -q 'token: autoenroll'"
BYNAME="pkcs11:token=autoenroll?module-name=softhsm2&pin-source=file:$SOFTHSM_PIN_FILE"
SEARCH="pkcs11:token=autoenroll?pin-source=file:$SOFTHSM_PIN_FILE"
out=$("$AEKEY" generate "$BYNAME" --label byname) || fail "generate with module-name=" "$out"
r=${out%% *}
ok "module-name=: CSR verifies" bash -c "'$AEKEY' sign-csr '$BYNAME' $r byname '$REALM/rn.pem' && openssl req -in '$REALM/rn.pem' -verify -noout"
ok "no module in the URI: every registered module is searched" "$AEKEY" sign-csr "$SEARCH" "$r" search "$REALM/rs.pem"
ok "p11tool (through p11-kit's registered modules) sees the private key" \
    bash -c "GNUTLS_PIN=\$(cat '$SOFTHSM_PIN_FILE') p11tool --login --list-privkeys 'pkcs11:token=autoenroll' | grep -q 'object=byname'"
ok "module-name=: delete" "$AEKEY" delete "$BYNAME" "$r"
