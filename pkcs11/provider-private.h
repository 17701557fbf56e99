/* Shared between provider.c (setup, errors, keymgmt) and provider-ops.c
 * (signature, asym-cipher). Internal to the provider. */
#pragma once

#include <openssl/bn.h>
#include <openssl/core.h>
#include <openssl/types.h>

#include "pkcs11/token.h"

/* The provider's key data. */
typedef struct ProvKey {
    P11Token *tok; /* NULL: public half only */
    CK_OBJECT_HANDLE handle;
    BIGNUM *n, *e;
} ProvKey;

/* Modulus length in bytes (0 without a modulus). */
int p11prov_key_bytes(const ProvKey *k);

/* The private library context the provider lives in (default provider beside it). */
OSSL_LIB_CTX *p11prov_libctx(void);

/* Raise an OpenSSL error whose reason follows the -errno and whose data is
 * the message (never a secret). */
__attribute__((format(printf, 2, 3))) void p11prov_error(int err, const char *fmt, ...);

extern const OSSL_DISPATCH p11prov_signature_fns[];
extern const OSSL_DISPATCH p11prov_asym_cipher_fns[];
