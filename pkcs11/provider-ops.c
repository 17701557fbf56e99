/* The OpenSSL operations of the token-key provider: RSA PKCS#1 v1.5
 * signatures (plain and digest-sign) and decryption, through C_Sign/C_Decrypt. */
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "daemon/util.h"
#include "pkcs11/provider-private.h"

/* --- signature: RSA PKCS#1 v1.5 via CKM_RSA_PKCS ---------------------------- */

/* DER DigestInfo prefixes (RFC 8017 §9.2, note 1). */
static const struct {
    const char *name;
    size_t len;
    uint8_t prefix[19];
} digest_info[] = {
    { "SHA1", 15, { 0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00,
                    0x04, 0x14 } },
    { "SHA2-224", 19, { 0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
                        0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c } },
    { "SHA2-256", 19, { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
                        0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 } },
    { "SHA2-384", 19, { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
                        0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 } },
    { "SHA2-512", 19, { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
                        0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 } },
};

typedef struct SigCtx {
    ProvKey *key;
    EVP_MD *md;        /* NULL: sign the input as it is (already a DigestInfo) */
    EVP_MD_CTX *mdctx; /* digest-sign only */
    int di;            /* index into digest_info, -1 when md is NULL */
} SigCtx;

static void *sig_newctx(void *provctx, const char *propq) {
    SigCtx *c = OPENSSL_zalloc(sizeof *c);
    if (c)
        c->di = -1;
    return c;
}

static void sig_freectx(void *vc) {
    SigCtx *c = vc;
    if (!c)
        return;
    EVP_MD_CTX_free(c->mdctx);
    EVP_MD_free(c->md);
    OPENSSL_free(c);
}

static void *sig_dupctx(void *vc) {
    SigCtx *c = vc, *d = OPENSSL_zalloc(sizeof *d);
    if (!d)
        return NULL;
    *d = *c;
    d->md = NULL;
    d->mdctx = NULL;
    if (c->md && !EVP_MD_up_ref(c->md))
        goto fail;
    d->md = c->md;
    if (c->mdctx) {
        d->mdctx = EVP_MD_CTX_new();
        if (!d->mdctx || !EVP_MD_CTX_copy_ex(d->mdctx, c->mdctx))
            goto fail;
    }
    return d;
fail:
    sig_freectx(d);
    return NULL;
}

static int sig_set_md(SigCtx *c, const char *mdname) {
    EVP_MD *md = EVP_MD_fetch(p11prov_libctx(), mdname, NULL);
    if (!md) {
        p11prov_error(-EINVAL, "unknown digest %s", mdname);
        return 0;
    }
    for (size_t i = 0; i < ELEMENTSOF(digest_info); i++)
        if (EVP_MD_is_a(md, digest_info[i].name)) {
            EVP_MD_free(c->md);
            c->md = md;
            c->di = (int)i;
            return 1;
        }
    p11prov_error(-EOPNOTSUPP, "digest %s is not supported with token keys", mdname);
    EVP_MD_free(md);
    return 0;
}

static int sig_set_ctx_params(void *vc, const OSSL_PARAM params[]) {
    SigCtx *c = vc;
    const OSSL_PARAM *p;

    if (!params)
        return 1;
    p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
    if (p) {
        int pad = 0;
        const char *s = NULL;
        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            if (!OSSL_PARAM_get_utf8_string_ptr(p, &s) || !streq(s, OSSL_PKEY_RSA_PAD_MODE_PKCSV15))
                return 0;
        } else if (!OSSL_PARAM_get_int(p, &pad) || pad != RSA_PKCS1_PADDING) {
            p11prov_error(-EOPNOTSUPP, "token keys sign with PKCS#1 v1.5 padding only");
            return 0;
        }
    }
    p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST);
    if (p) {
        const char *mdname = NULL;
        if (!OSSL_PARAM_get_utf8_string_ptr(p, &mdname) || !sig_set_md(c, mdname))
            return 0;
    }
    return 1;
}

static const OSSL_PARAM *sig_settable_ctx_params(void *vc, void *provctx) {
    static const OSSL_PARAM t[] = {
        OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_END,
    };
    return t;
}

static int sig_get_ctx_params(void *vc, OSSL_PARAM params[]) {
    SigCtx *c = vc;
    OSSL_PARAM *p;

    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) &&
        !OSSL_PARAM_set_int(p, RSA_PKCS1_PADDING))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST)) && c->md &&
        !OSSL_PARAM_set_utf8_string(p, EVP_MD_get0_name(c->md)))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID);
    if (p && c->md) {
        int signid = NID_undef;
        X509_ALGOR *alg = NULL;
        unsigned char *der = NULL;
        int len, ok;
        if (!OBJ_find_sigid_by_algs(&signid, EVP_MD_get_type(c->md), NID_rsaEncryption))
            return 0;
        alg = X509_ALGOR_new();
        if (!alg || !X509_ALGOR_set0(alg, OBJ_nid2obj(signid), V_ASN1_NULL, NULL)) {
            X509_ALGOR_free(alg);
            return 0;
        }
        len = i2d_X509_ALGOR(alg, &der);
        X509_ALGOR_free(alg);
        ok = len > 0 && OSSL_PARAM_set_octet_string(p, der, (size_t)len);
        OPENSSL_free(der);
        if (!ok)
            return 0;
    }
    return 1;
}

static const OSSL_PARAM *sig_gettable_ctx_params(void *vc, void *provctx) {
    static const OSSL_PARAM t[] = {
        OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
        OSSL_PARAM_END,
    };
    return t;
}

static int sig_init(void *vc, void *provkey, const OSSL_PARAM params[]) {
    SigCtx *c = vc;
    ProvKey *k = provkey;
    if (!k || !k->tok) {
        p11prov_error(-ENOKEY, "not a token private key");
        return 0;
    }
    c->key = k;
    return sig_set_ctx_params(c, params);
}

/* PKCS#1 v1.5 over tbs (a digest when md is set, else a ready DigestInfo). */
static int sig_sign(void *vc, unsigned char *sig, size_t *siglen, size_t sigsize,
                    const unsigned char *tbs, size_t tbslen) {
    SigCtx *c = vc;
    uint8_t buf[19 + EVP_MAX_MD_SIZE];
    const uint8_t *in = tbs;
    size_t inlen = tbslen, outlen = (size_t)p11prov_key_bytes(c->key);
    AeError err;
    int r;

    if (!sig) {
        *siglen = outlen;
        return 1;
    }
    if (sigsize < outlen) {
        p11prov_error(-EINVAL, "signature buffer too small");
        return 0;
    }
    if (c->di >= 0) {
        size_t pl = digest_info[c->di].len;
        if (tbslen != (size_t)EVP_MD_get_size(c->md)) {
            p11prov_error(-EINVAL, "input is not a %s digest", EVP_MD_get0_name(c->md));
            return 0;
        }
        memcpy(buf, digest_info[c->di].prefix, pl);
        memcpy(buf + pl, tbs, tbslen);
        in = buf;
        inlen = pl + tbslen;
    }
    r = p11token_sign(c->key->tok, c->key->handle, CKM_RSA_PKCS, in, inlen, sig, &outlen, &err);
    if (r < 0) {
        p11prov_error(r, "%s", err.message);
        return 0;
    }
    *siglen = outlen;
    return 1;
}

static int sig_digest_init(void *vc, const char *mdname, void *provkey, const OSSL_PARAM params[]) {
    SigCtx *c = vc;
    if (!sig_init(vc, provkey, params))
        return 0;
    if (!sig_set_md(c, mdname ? mdname : "SHA256"))
        return 0;
    if (!c->mdctx && !(c->mdctx = EVP_MD_CTX_new()))
        return 0;
    return EVP_DigestInit_ex2(c->mdctx, c->md, NULL);
}

static int sig_digest_update(void *vc, const unsigned char *data, size_t len) {
    SigCtx *c = vc;
    return c->mdctx && EVP_DigestUpdate(c->mdctx, data, len);
}

static int sig_digest_final(void *vc, unsigned char *sig, size_t *siglen, size_t sigsize) {
    SigCtx *c = vc;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (!sig)
        return sig_sign(vc, NULL, siglen, sigsize, NULL, 0);
    if (!c->mdctx || !EVP_DigestFinal_ex(c->mdctx, md, &mdlen))
        return 0;
    return sig_sign(vc, sig, siglen, sigsize, md, mdlen);
}

const OSSL_DISPATCH p11prov_signature_fns[] = {
    { OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_newctx },
    { OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx },
    { OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx },
    { OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))sig_init },
    { OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sig_sign },
    { OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_digest_init },
    { OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))sig_digest_update },
    { OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))sig_digest_final },
    { OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_ctx_params },
    { OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))sig_gettable_ctx_params },
    { OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sig_set_ctx_params },
    { OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))sig_settable_ctx_params },
    { 0, NULL },
};

/* --- asym cipher: RSA PKCS#1 v1.5 decryption via CKM_RSA_PKCS --------------- */

typedef struct CipherCtx {
    ProvKey *key;
} CipherCtx;

static void *ac_newctx(void *provctx) { return OPENSSL_zalloc(sizeof(CipherCtx)); }
static void ac_freectx(void *vc) { OPENSSL_free(vc); }
static void *ac_dupctx(void *vc) {
    CipherCtx *d = OPENSSL_malloc(sizeof *d);
    if (d)
        *d = *(CipherCtx *)vc;
    return d;
}

static int ac_set_ctx_params(void *vc, const OSSL_PARAM params[]) {
    const OSSL_PARAM *p;
    if (!params)
        return 1;
    p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE);
    if (p) {
        int pad = 0;
        const char *s = NULL;
        if (p->data_type == OSSL_PARAM_UTF8_STRING)
            return OSSL_PARAM_get_utf8_string_ptr(p, &s) &&
                   streq(s, OSSL_PKEY_RSA_PAD_MODE_PKCSV15);
        if (!OSSL_PARAM_get_int(p, &pad) || pad != RSA_PKCS1_PADDING) {
            p11prov_error(-EOPNOTSUPP, "token keys decrypt with PKCS#1 v1.5 padding only");
            return 0;
        }
    }
    return 1;
}

static const OSSL_PARAM *ac_settable_ctx_params(void *vc, void *provctx) {
    static const OSSL_PARAM t[] = {
        OSSL_PARAM_int(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL),
        OSSL_PARAM_END,
    };
    return t;
}

static int ac_get_ctx_params(void *vc, OSSL_PARAM params[]) {
    OSSL_PARAM *p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE);
    return !p || OSSL_PARAM_set_int(p, RSA_PKCS1_PADDING);
}

static const OSSL_PARAM *ac_gettable_ctx_params(void *vc, void *provctx) {
    return ac_settable_ctx_params(vc, provctx);
}

static int ac_decrypt_init(void *vc, void *provkey, const OSSL_PARAM params[]) {
    CipherCtx *c = vc;
    ProvKey *k = provkey;
    if (!k || !k->tok) {
        p11prov_error(-ENOKEY, "not a token private key");
        return 0;
    }
    c->key = k;
    return ac_set_ctx_params(vc, params);
}

static int ac_decrypt(void *vc, unsigned char *out, size_t *outlen, size_t outsize,
                      const unsigned char *in, size_t inlen) {
    CipherCtx *c = vc;
    uint8_t buf[1024]; /* RSA up to 8192 bits */
    size_t n = (size_t)p11prov_key_bytes(c->key), got = sizeof buf;
    AeError err;

    if (!out) {
        *outlen = n;
        return 1;
    }
    if (n > sizeof buf || inlen != n) {
        p11prov_error(-EBADMSG, "ciphertext length %zu does not match the key (%zu bytes)", inlen, n);
        return 0;
    }
    /* Decrypt into our own buffer: the caller's may be smaller than the
     * token wants even though the plaintext fits. */
    int r = p11token_decrypt(c->key->tok, c->key->handle, CKM_RSA_PKCS, in, inlen, buf, &got, &err);
    if (r < 0) {
        p11prov_error(r, "%s", err.message);
        return 0;
    }
    if (got > outsize) {
        OPENSSL_cleanse(buf, sizeof buf);
        p11prov_error(-EINVAL, "plaintext buffer too small");
        return 0;
    }
    memcpy(out, buf, got);
    OPENSSL_cleanse(buf, sizeof buf);
    *outlen = got;
    return 1;
}

const OSSL_DISPATCH p11prov_asym_cipher_fns[] = {
    { OSSL_FUNC_ASYM_CIPHER_NEWCTX, (void (*)(void))ac_newctx },
    { OSSL_FUNC_ASYM_CIPHER_FREECTX, (void (*)(void))ac_freectx },
    { OSSL_FUNC_ASYM_CIPHER_DUPCTX, (void (*)(void))ac_dupctx },
    { OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, (void (*)(void))ac_decrypt_init },
    { OSSL_FUNC_ASYM_CIPHER_DECRYPT, (void (*)(void))ac_decrypt },
    { OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS, (void (*)(void))ac_get_ctx_params },
    { OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))ac_gettable_ctx_params },
    { OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, (void (*)(void))ac_set_ctx_params },
    { OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))ac_settable_ctx_params },
    { 0, NULL },
};
