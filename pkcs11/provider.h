/* A small OpenSSL 3 provider that signs and decrypts with RSA keys held in a
 * PKCS#11 token (no ENGINE, nothing deprecated).
 *
 * It offers keymgmt "RSA" (import/export of the public half only), signature
 * "RSA" (PKCS#1 v1.5 with SHA-1/224/256/384/512, plain and digest-sign) and
 * asym-cipher "RSA" (PKCS#1 v1.5 decryption), each calling C_Sign/C_Decrypt
 * with CKM_RSA_PKCS through the token's shared session.
 *
 * The provider lives in a private OSSL_LIB_CTX of its own (with the default
 * provider beside it for digests and encoders), so it never answers fetches
 * made for ordinary keys. The EVP_PKEYs it makes still work with the plain
 * APIs in the default library context: OpenSSL 3 runs an operation on a key
 * in the provider that holds the key when the key cannot be exported
 * (X509_REQ_sign, X509_sign, PKCS7_sign, CMS_sign, EVP_DigestSign,
 * EVP_PKEY_decrypt, CMS_decrypt, i2d_PUBKEY, EVP_PKEY_eq). */
#pragma once

#include <openssl/evp.h>

#include "daemon/error.h"
#include "pkcs11/token.h"

#define P11PROV_NAME "autoenroll-p11"

/* An EVP_PKEY for the private key priv on token t (takes a reference on t),
 * with modulus n and exponent e (big-endian). Returns 0 or -errno. */
int p11prov_pkey_new(P11Token *t, CK_OBJECT_HANDLE priv, const uint8_t *n, size_t n_len,
                     const uint8_t *e, size_t e_len, AeError *err, EVP_PKEY **ret);

/* After an OpenSSL call with a token key failed: fill err from the token's
 * error in OpenSSL's error queue (the PKCS#11 message and a -errno such as
 * -ENODEV for a removed token), or a generic "<what> failed". Clears the
 * queue when it finds the token's error. Returns the -errno. */
int p11prov_openssl_error(AeError *err, const char *what);
