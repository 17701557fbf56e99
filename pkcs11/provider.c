/* The in-tree OpenSSL provider for token keys: setup, errors, keymgmt.
 * Signature and asym-cipher are in provider-ops.c. */
#include <pthread.h>
#include <stdarg.h>
#include <string.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "daemon/util.h"
#include "pkcs11/provider-private.h"
#include "pkcs11/provider.h"

/* Private parameters our keymgmt import understands (never leave the process). */
#define PARAM_TOKEN "autoenroll-p11-token"
#define PARAM_HANDLE "autoenroll-p11-handle"
#define PROPS "provider=" P11PROV_NAME

/* --- provider-wide state: the core's error functions, the private libctx --- */

static const OSSL_CORE_HANDLE *core_handle;
static OSSL_FUNC_core_new_error_fn *c_new_error;
static OSSL_FUNC_core_set_error_debug_fn *c_set_error_debug;
static OSSL_FUNC_core_vset_error_fn *c_vset_error;
static OSSL_LIB_CTX *p11_libctx;
static pthread_once_t p11_once = PTHREAD_ONCE_INIT;

/* Reason codes: ERR_reason_error_string() says what went wrong in a word,
 * the error's data string (ERR_get_error_all) carries the token's message. */
enum {
    REASON_FAILED = 1,
    REASON_LOGIN,
    REASON_LOCKED,
    REASON_ABSENT,
    REASON_FULL,
    REASON_UNSUPPORTED,
    REASON_NO_KEY,
    REASON_BAD_DATA,
};

static const OSSL_ITEM reason_strings[] = {
    { REASON_FAILED, "PKCS#11 token operation failed" },
    { REASON_LOGIN, "PKCS#11 token: not logged in (wrong PIN?)" },
    { REASON_LOCKED, "PKCS#11 token: PIN locked" },
    { REASON_ABSENT, "PKCS#11 token absent or removed" },
    { REASON_FULL, "PKCS#11 token full" },
    { REASON_UNSUPPORTED, "PKCS#11 token: operation not supported" },
    { REASON_NO_KEY, "PKCS#11 token: key not found" },
    { REASON_BAD_DATA, "PKCS#11 token: bad input data" },
    { 0, NULL },
};

static int errno_to_reason(int err) {
    switch (err) {
    case -EACCES:
        return REASON_LOGIN;
    case -EPERM:
        return REASON_LOCKED;
    case -ENODEV:
        return REASON_ABSENT;
    case -ENOSPC:
        return REASON_FULL;
    case -EOPNOTSUPP:
        return REASON_UNSUPPORTED;
    case -ENOKEY:
        return REASON_NO_KEY;
    case -EBADMSG:
    case -EINVAL:
        return REASON_BAD_DATA;
    default:
        return REASON_FAILED;
    }
}

void p11prov_error(int err, const char *fmt, ...) {
    va_list ap;
    if (!c_new_error || !c_vset_error)
        return;
    c_new_error(core_handle);
    if (c_set_error_debug)
        c_set_error_debug(core_handle, __FILE__, __LINE__, __func__);
    va_start(ap, fmt);
    c_vset_error(core_handle, errno_to_reason(err), fmt, ap);
    va_end(ap);
}

static const OSSL_ITEM *prov_reason_strings(void *provctx) { return reason_strings; }

int p11prov_openssl_error(AeError *err, const char *what) {
    unsigned long e;
    const char *data = NULL, *reason;
    int flags = 0;

    /* Our error first (it says why), else the first in the queue. */
    for (int i = 0;; i++) {
        e = ERR_peek_error_data(&data, &flags);
        if (!e)
            break;
        reason = ERR_reason_error_string(e);
        if (reason && strncmp(reason, "PKCS#11 token", 13) == 0) {
            int code = -EIO;
            switch (ERR_GET_REASON(e)) {
            case REASON_LOGIN: code = -EACCES; break;
            case REASON_LOCKED: code = -EPERM; break;
            case REASON_ABSENT: code = -ENODEV; break;
            case REASON_FULL: code = -ENOSPC; break;
            case REASON_UNSUPPORTED: code = -EOPNOTSUPP; break;
            case REASON_NO_KEY: code = -ENOKEY; break;
            case REASON_BAD_DATA: code = -EBADMSG; break;
            }
            ae_error_set(err, code, AE_ERR_TOKEN, "%s: %s", what,
                         (flags & ERR_TXT_STRING) && data && *data ? data : reason);
            ERR_clear_error();
            return code;
        }
        ERR_get_error(); /* look at the next one */
        (void)i;
    }
    return ae_error_set(err, -EIO, AE_ERR_TOKEN, "%s failed", what);
}

/* --- key data ------------------------------------------------------------ */


static void *km_new(void *provctx) { return OPENSSL_zalloc(sizeof(ProvKey)); }

static void km_free(void *kd) {
    ProvKey *k = kd;
    if (!k)
        return;
    p11token_unref(k->tok);
    BN_free(k->n);
    BN_free(k->e);
    OPENSSL_free(k);
}

static int km_has(const void *kd, int selection) {
    const ProvKey *k = kd;
    int ok = 1;
    if (!k)
        return 0;
    if (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY)
        ok = ok && k->n && k->e;
    if (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY)
        ok = ok && k->tok;
    return ok;
}

static int km_match(const void *a, const void *b, int selection) {
    const ProvKey *x = a, *y = b;
    if (!(selection & OSSL_KEYMGMT_SELECT_KEYPAIR))
        return 1;
    return x->n && y->n && x->e && y->e && BN_cmp(x->n, y->n) == 0 && BN_cmp(x->e, y->e) == 0;
}

static int km_import(void *kd, int selection, const OSSL_PARAM params[]) {
    ProvKey *k = kd;
    const OSSL_PARAM *p;
    BIGNUM *n = NULL, *e = NULL;

    if (!(selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY))
        return 0;
    p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_N);
    if (!p || !OSSL_PARAM_get_BN(p, &n))
        goto fail;
    p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_E);
    if (!p || !OSSL_PARAM_get_BN(p, &e))
        goto fail;
    p = OSSL_PARAM_locate_const(params, PARAM_TOKEN);
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && p) {
        /* Only our own p11prov_pkey_new() passes a token. Other keys brought
         * here (OpenSSL does that to compare keys) keep their public half
         * only: a private exponent is never taken in. */
        P11Token *tok = NULL;
        unsigned long h = 0;
        if (p->data_type != OSSL_PARAM_OCTET_STRING || p->data_size != sizeof tok)
            goto fail;
        memcpy(&tok, p->data, sizeof tok);
        p = OSSL_PARAM_locate_const(params, PARAM_HANDLE);
        if (!p || !OSSL_PARAM_get_ulong(p, &h) || !tok)
            goto fail;
        k->tok = p11token_ref(tok);
        k->handle = h;
    }
    BN_free(k->n);
    BN_free(k->e);
    k->n = n;
    k->e = e;
    return 1;
fail:
    BN_free(n);
    BN_free(e);
    return 0;
}

static int km_export(void *kd, int selection, OSSL_CALLBACK *cb, void *cbarg) {
    ProvKey *k = kd;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    int ok = 0;

    /* The private half stays in the token: refusing makes OpenSSL run the
     * operation here instead of in another provider. */
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && k->tok)
        return 0;
    if (!(selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) || !k->n)
        return 0;
    bld = OSSL_PARAM_BLD_new();
    if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, k->n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, k->e))
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    if (!params)
        goto out;
    ok = cb(params, cbarg);
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return ok;
}

static const OSSL_PARAM km_import_tbl[] = {
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_octet_string(PARAM_TOKEN, NULL, 0),
    OSSL_PARAM_ulong(PARAM_HANDLE, NULL),
    OSSL_PARAM_END,
};
static const OSSL_PARAM km_export_tbl[] = {
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_END,
};
static const OSSL_PARAM *km_import_types(int selection) { return km_import_tbl; }
static const OSSL_PARAM *km_export_types(int selection) { return km_export_tbl; }

int p11prov_key_bytes(const ProvKey *k) { return k->n ? BN_num_bytes(k->n) : 0; }

OSSL_LIB_CTX *p11prov_libctx(void) { return p11_libctx; }

static int km_get_params(void *kd, OSSL_PARAM params[]) {
    ProvKey *k = kd;
    OSSL_PARAM *p;
    int bits = k->n ? BN_num_bits(k->n) : 0;
    int sec = bits >= 15360 ? 256 : bits >= 7680 ? 192 : bits >= 3072 ? 128 : bits >= 2048 ? 112 : 80;

    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_BITS)) && !OSSL_PARAM_set_int(p, bits))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_SECURITY_BITS)) &&
        !OSSL_PARAM_set_int(p, sec))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE)) &&
        !OSSL_PARAM_set_int(p, p11prov_key_bytes(k)))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_DEFAULT_DIGEST)) &&
        !OSSL_PARAM_set_utf8_string(p, "SHA256"))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_RSA_N)) && !OSSL_PARAM_set_BN(p, k->n))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_RSA_E)) && !OSSL_PARAM_set_BN(p, k->e))
        return 0;
    return 1;
}

static const OSSL_PARAM *km_gettable_params(void *provctx) {
    static const OSSL_PARAM t[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
        OSSL_PARAM_END,
    };
    return t;
}

static const char *km_query_operation_name(int operation_id) { return "RSA"; }

static const OSSL_DISPATCH keymgmt_fns[] = {
    { OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))km_new },
    { OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free },
    { OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has },
    { OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match },
    { OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import },
    { OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))km_import_types },
    { OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export },
    { OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))km_export_types },
    { OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params },
    { OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))km_gettable_params },
    { OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))km_query_operation_name },
    { 0, NULL },
};

/* --- the provider ------------------------------------------------------------ */

#define RSA_NAMES "RSA:rsaEncryption:1.2.840.113549.1.1.1"

static const OSSL_ALGORITHM keymgmt_algs[] = {
    { RSA_NAMES, PROPS, keymgmt_fns, "RSA keys held in a PKCS#11 token" },
    { NULL, NULL, NULL, NULL },
};
static const OSSL_ALGORITHM signature_algs[] = {
    { RSA_NAMES, PROPS, p11prov_signature_fns, "RSA PKCS#1 v1.5 signatures by a PKCS#11 token" },
    { NULL, NULL, NULL, NULL },
};
static const OSSL_ALGORITHM asym_cipher_algs[] = {
    { RSA_NAMES, PROPS, p11prov_asym_cipher_fns, "RSA PKCS#1 v1.5 decryption by a PKCS#11 token" },
    { NULL, NULL, NULL, NULL },
};

static const OSSL_ALGORITHM *prov_query(void *provctx, int id, int *no_cache) {
    *no_cache = 0;
    switch (id) {
    case OSSL_OP_KEYMGMT:
        return keymgmt_algs;
    case OSSL_OP_SIGNATURE:
        return signature_algs;
    case OSSL_OP_ASYM_CIPHER:
        return asym_cipher_algs;
    default:
        return NULL;
    }
}

static int prov_get_params(void *provctx, OSSL_PARAM params[]) {
    OSSL_PARAM *p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
    if (p && !OSSL_PARAM_set_utf8_ptr(p, "autoenroll PKCS#11 key provider"))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
    return !p || OSSL_PARAM_set_int(p, 1);
}

static const OSSL_DISPATCH provider_fns[] = {
    { OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))prov_query },
    { OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))prov_get_params },
    { OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))prov_reason_strings },
    { 0, NULL },
};

static int prov_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                     const OSSL_DISPATCH **out, void **provctx) {
    for (; in->function_id; in++) {
        switch (in->function_id) {
        case OSSL_FUNC_CORE_NEW_ERROR:
            c_new_error = OSSL_FUNC_core_new_error(in);
            break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            c_set_error_debug = OSSL_FUNC_core_set_error_debug(in);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR:
            c_vset_error = OSSL_FUNC_core_vset_error(in);
            break;
        default:
            break;
        }
    }
    core_handle = handle;
    *out = provider_fns;
    *provctx = (void *)handle;
    return 1;
}

static void libctx_setup(void) {
    OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
    if (!ctx)
        return;
    if (!OSSL_PROVIDER_add_builtin(ctx, P11PROV_NAME, prov_init) ||
        !OSSL_PROVIDER_load(ctx, P11PROV_NAME) || !OSSL_PROVIDER_load(ctx, "default")) {
        OSSL_LIB_CTX_free(ctx);
        return;
    }
    p11_libctx = ctx; /* process-wide, like OpenSSL's own default context */
}

int p11prov_pkey_new(P11Token *t, CK_OBJECT_HANDLE priv, const uint8_t *n, size_t n_len,
                     const uint8_t *e, size_t e_len, AeError *err, EVP_PKEY **ret) {
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    int r = -EIO;

    pthread_once(&p11_once, libctx_setup);
    if (!p11_libctx)
        return ae_error_set(err, -EIO, AE_ERR_TOKEN,
                            "could not set up the OpenSSL provider for token keys");
    bn = BN_bin2bn(n, (int)n_len, NULL);
    be = BN_bin2bn(e, (int)e_len, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (!bn || !be || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, PARAM_TOKEN, &t, sizeof t) ||
        !OSSL_PARAM_BLD_push_ulong(bld, PARAM_HANDLE, priv))
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    if (!params)
        goto out;
    pctx = EVP_PKEY_CTX_new_from_name(p11_libctx, "RSA", PROPS);
    if (!pctx || EVP_PKEY_fromdata_init(pctx) <= 0 ||
        EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_KEYPAIR, params) <= 0)
        goto out;
    *ret = pkey;
    pkey = NULL;
    r = 0;
out:
    if (r < 0) {
        unsigned long e2 = ERR_peek_last_error();
        ae_error_set(err, r, AE_ERR_TOKEN, "could not wrap the token key for OpenSSL: %s",
                     e2 ? ERR_reason_error_string(e2) : "unknown error");
    }
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return r;
}
