/* One PKCS#11 token through p11-kit: module, slot, session, login, objects. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/uri.h>

#include "daemon/util.h"
#include "pkcs11/pin.h"
#include "pkcs11/token.h"

struct P11Token {
    atomic_int refs;
    pthread_mutex_t lock; /* serializes use of session */
    CK_FUNCTION_LIST *module;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE session;
    CK_TOKEN_INFO info;
    CK_INFO module_info;
    char label[33];
};

/* --- errors ------------------------------------------------------------ */

static const struct {
    CK_RV rv;
    int err;
    const char *text;
} rv_table[] = {
    { CKR_PIN_INCORRECT, -EACCES, "wrong PIN" },
    { CKR_PIN_INVALID, -EACCES, "wrong PIN (invalid)" },
    { CKR_PIN_LEN_RANGE, -EACCES, "wrong PIN (bad length)" },
    { CKR_PIN_LOCKED, -EPERM, "PIN locked (too many wrong attempts)" },
    { CKR_PIN_EXPIRED, -EPERM, "PIN expired" },
    { CKR_USER_NOT_LOGGED_IN, -EACCES, "not logged in to the token" },
    { CKR_TOKEN_NOT_PRESENT, -ENODEV, "token absent" },
    { CKR_DEVICE_REMOVED, -ENODEV, "token removed" },
    { CKR_TOKEN_NOT_RECOGNIZED, -ENODEV, "token not recognized" },
    { CKR_SLOT_ID_INVALID, -ENODEV, "slot gone (token removed?)" },
    { CKR_SESSION_HANDLE_INVALID, -ENODEV, "session gone (token removed?)" },
    { CKR_SESSION_CLOSED, -ENODEV, "session closed (token removed?)" },
    { CKR_DEVICE_MEMORY, -ENOSPC, "token full (out of device memory)" },
    { CKR_HOST_MEMORY, -ENOMEM, "out of host memory" },
    { CKR_DEVICE_ERROR, -EIO, "device error" },
    { CKR_GENERAL_ERROR, -EIO, "general token error" },
    { CKR_FUNCTION_FAILED, -EIO, "token function failed" },
    { CKR_KEY_SIZE_RANGE, -EOPNOTSUPP, "key size not supported by the token" },
    { CKR_MECHANISM_INVALID, -EOPNOTSUPP, "mechanism not supported by the token" },
    { CKR_TEMPLATE_INCONSISTENT, -EOPNOTSUPP, "key template refused by the token" },
    { CKR_ATTRIBUTE_VALUE_INVALID, -EOPNOTSUPP, "key attribute refused by the token" },
    { CKR_ATTRIBUTE_SENSITIVE, -EPERM, "attribute is sensitive (not extractable)" },
    { CKR_ATTRIBUTE_TYPE_INVALID, -ENOENT, "attribute not present" },
    { CKR_KEY_HANDLE_INVALID, -ENOKEY, "key handle invalid (key deleted?)" },
    { CKR_OBJECT_HANDLE_INVALID, -ENOKEY, "object handle invalid (deleted?)" },
    { CKR_KEY_FUNCTION_NOT_PERMITTED, -EPERM, "key not permitted for this operation" },
    { CKR_ENCRYPTED_DATA_INVALID, -EBADMSG, "encrypted data invalid" },
    { CKR_ENCRYPTED_DATA_LEN_RANGE, -EBADMSG, "encrypted data has the wrong length" },
    { CKR_DATA_LEN_RANGE, -EINVAL, "data length out of range" },
    { CKR_BUFFER_TOO_SMALL, -ENOBUFS, "buffer too small" },
    { CKR_TOKEN_WRITE_PROTECTED, -EROFS, "token is write-protected" },
    { CKR_CRYPTOKI_NOT_INITIALIZED, -EIO, "module not initialized" },
};

int p11token_rv_to_errno(CK_RV rv) {
    for (size_t i = 0; i < ELEMENTSOF(rv_table); i++)
        if (rv_table[i].rv == rv)
            return rv_table[i].err;
    return -EIO;
}

const char *p11token_rv_explain(CK_RV rv) {
    for (size_t i = 0; i < ELEMENTSOF(rv_table); i++)
        if (rv_table[i].rv == rv)
            return rv_table[i].text;
    return p11_kit_strerror(rv);
}

static int rv_error(AeError *err, CK_RV rv, const char *what, const P11Token *t) {
    return ae_error_set(err, p11token_rv_to_errno(rv), AE_ERR_TOKEN,
                        "PKCS#11 %s on token '%s': %s (0x%lx)", what, t ? t->label : "?",
                        p11token_rv_explain(rv), (unsigned long)rv);
}

/* --- module and slot --------------------------------------------------- */

static void trim_label(const CK_UTF8CHAR *in, size_t n, char *out) {
    memcpy(out, in, n);
    out[n] = 0;
    for (size_t i = n; i > 0 && out[i - 1] == ' '; i--)
        out[i - 1] = 0;
}

/* The slot of the first token in module that the URI matches. */
static int find_slot(CK_FUNCTION_LIST *m, P11KitUri *uri, CK_SLOT_ID *ret_slot,
                     CK_TOKEN_INFO *ret_info) {
    _cleanup_free_ CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0;
    CK_RV rv;

    rv = m->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv != CKR_OK || n == 0)
        return -ENODEV;
    slots = calloc(n, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    rv = m->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK)
        return -ENODEV;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_SLOT_INFO si;
        CK_TOKEN_INFO ti;
        CK_SLOT_ID want = p11_kit_uri_get_slot_id(uri);
        if (want != (CK_SLOT_ID)-1 && want != slots[i])
            continue;
        if (m->C_GetSlotInfo(slots[i], &si) != CKR_OK || !p11_kit_uri_match_slot_info(uri, &si))
            continue;
        if (m->C_GetTokenInfo(slots[i], &ti) != CKR_OK || !p11_kit_uri_match_token_info(uri, &ti))
            continue;
        *ret_slot = slots[i];
        *ret_info = ti;
        return 0;
    }
    return -ENODEV;
}

/* Load the candidate modules: one by path, one registered module by name,
 * or every registered module. NULL-terminated, each initialized. */
static int load_modules(P11KitUri *uri, AeError *err, CK_FUNCTION_LIST ***ret) {
    const char *path = p11_kit_uri_get_module_path(uri);
    const char *name = p11_kit_uri_get_module_name(uri);
    CK_FUNCTION_LIST **mods = NULL;
    CK_RV rv;

    if (path) {
        mods = calloc(2, sizeof *mods);
        if (!mods)
            return ae_error_set(err, -ENOMEM, AE_ERR_TOKEN, "out of memory");
        mods[0] = p11_kit_module_load(path, 0);
        if (!mods[0]) {
            free(mods);
            return ae_error_set(err, -ENOENT, AE_ERR_TOKEN,
                                "PKCS#11 module %s could not be loaded: %s", path,
                                p11_kit_message() ? p11_kit_message() : "unknown error");
        }
        rv = p11_kit_module_initialize(mods[0]);
        if (rv != CKR_OK) {
            p11_kit_module_release(mods[0]);
            free(mods);
            return ae_error_set(err, -EIO, AE_ERR_TOKEN,
                                "PKCS#11 module %s failed to initialize: %s", path,
                                p11_kit_strerror(rv));
        }
        *ret = mods;
        return 0;
    }

    CK_FUNCTION_LIST **all = p11_kit_modules_load(NULL, 0);
    if (!all)
        return ae_error_set(err, -ENOENT, AE_ERR_TOKEN,
                            "no registered PKCS#11 modules could be loaded: %s",
                            p11_kit_message() ? p11_kit_message() : "unknown error");
    if (name) {
        CK_FUNCTION_LIST *m = p11_kit_module_for_name(all, name);
        mods = calloc(2, sizeof *mods);
        if (!m || !mods) {
            p11_kit_modules_release(all);
            free(mods);
            return ae_error_set(err, m ? -ENOMEM : -ENOENT, AE_ERR_TOKEN,
                                "no registered PKCS#11 module named '%s' (see p11-kit list-modules)",
                                name);
        }
        for (size_t i = 0; all[i]; i++)
            if (all[i] != m)
                p11_kit_module_release(all[i]);
        free(all);
        mods[0] = m;
        rv = p11_kit_module_initialize(m);
        if (rv != CKR_OK) {
            p11_kit_module_release(m);
            free(mods);
            return ae_error_set(err, -EIO, AE_ERR_TOKEN,
                                "PKCS#11 module '%s' failed to initialize: %s", name,
                                p11_kit_strerror(rv));
        }
        *ret = mods;
        return 0;
    }
    /* Every registered module; keep those that initialize. */
    size_t j = 0;
    for (size_t i = 0; all[i]; i++) {
        if (p11_kit_module_initialize(all[i]) == CKR_OK)
            all[j++] = all[i];
        else
            p11_kit_module_release(all[i]);
    }
    all[j] = NULL;
    if (j == 0) {
        free(all);
        return ae_error_set(err, -ENOENT, AE_ERR_TOKEN, "no registered PKCS#11 module");
    }
    *ret = all;
    return 0;
}

static void drop_module(CK_FUNCTION_LIST *m) {
    p11_kit_module_finalize(m);
    p11_kit_module_release(m);
}

static int login(P11Token *t, P11KitUri *uri, AeError *err) {
    _cleanup_secret_ char *pin = NULL;
    const char *src = p11_kit_uri_get_pin_source(uri);
    const char *val = p11_kit_uri_get_pin_value(uri);
    CK_RV rv;
    int r;

    if (t->info.flags & CKF_USER_PIN_LOCKED)
        return ae_error_set(err, -EPERM, AE_ERR_TOKEN,
                            "the user PIN of token '%s' is locked (too many wrong attempts): "
                            "the token's SO must reset it",
                            t->label);
    if (!(t->info.flags & CKF_LOGIN_REQUIRED))
        return 0;
    if (src) {
        r = pin_read_source(src, err, &pin);
        if (r < 0)
            return r;
    } else if (val) {
        pin = strdup(val);
        if (!pin)
            return ae_error_set(err, -ENOMEM, AE_ERR_TOKEN, "out of memory");
    } else {
        return ae_error_set(err, -EACCES, AE_ERR_TOKEN,
                            "token '%s' needs a PIN: add pin-source=file:/path to the URI",
                            t->label);
    }
    rv = t->module->C_Login(t->session, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
        return 0;
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED) {
        /* Say how many tries are left when the token tells. */
        CK_TOKEN_INFO ti;
        if (t->module->C_GetTokenInfo(t->slot, &ti) == CKR_OK) {
            if (ti.flags & CKF_USER_PIN_LOCKED)
                return ae_error_set(err, -EPERM, AE_ERR_TOKEN,
                                    "wrong PIN for token '%s'; the PIN is now locked", t->label);
            if (ti.flags & CKF_USER_PIN_FINAL_TRY)
                return ae_error_set(err, -EACCES, AE_ERR_TOKEN,
                                    "wrong PIN for token '%s' (one try left before it locks)",
                                    t->label);
        }
    }
    return rv_error(err, rv, "C_Login", t);
}

int p11token_open(const char *location, AeError *err, P11Token **ret) {
    CK_FUNCTION_LIST **mods = NULL;
    P11KitUri *uri = NULL;
    P11Token *t = NULL;
    CK_RV rv;
    int r;

    uri = p11_kit_uri_new();
    if (!uri)
        return ae_error_set(err, -ENOMEM, AE_ERR_TOKEN, "out of memory");
    r = p11_kit_uri_parse(location, P11_KIT_URI_FOR_ANY, uri);
    if (r != P11_KIT_URI_OK) {
        /* The location may carry pin-value: do not echo it. */
        r = ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "bad PKCS#11 URI: %s",
                         p11_kit_uri_message(r));
        goto out;
    }
    if (p11_kit_uri_any_unrecognized(uri)) {
        r = ae_error_set(err, -EINVAL, AE_ERR_CONFIG,
                         "PKCS#11 URI has attributes p11-kit does not know (module-name, "
                         "module-path, pin-source and pin-value go after '?')");
        goto out;
    }
    t = calloc(1, sizeof *t);
    if (!t) {
        r = ae_error_set(err, -ENOMEM, AE_ERR_TOKEN, "out of memory");
        goto out;
    }
    atomic_init(&t->refs, 1);
    pthread_mutex_init(&t->lock, NULL);
    t->session = CK_INVALID_HANDLE;

    r = load_modules(uri, err, &mods);
    if (r < 0)
        goto out;
    r = -ENODEV;
    for (size_t i = 0; mods[i]; i++) {
        if (!t->module && find_slot(mods[i], uri, &t->slot, &t->info) == 0) {
            t->module = mods[i];
            continue;
        }
        drop_module(mods[i]);
    }
    free(mods);
    if (!t->module) {
        CK_TOKEN_INFO *want = p11_kit_uri_get_token_info(uri);
        char l[33];
        trim_label(want->label, sizeof want->label, l);
        r = ae_error_set(err, -ENODEV, AE_ERR_TOKEN,
                         "no PKCS#11 token%s%s%s is present (token absent or removed?)",
                         l[0] ? " '" : "", l, l[0] ? "'" : "");
        goto out;
    }
    trim_label(t->info.label, sizeof t->info.label, t->label);
    (void)t->module->C_GetInfo(&t->module_info);

    rv = t->module->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                  &t->session);
    if (rv != CKR_OK) {
        r = rv_error(err, rv, "C_OpenSession", t);
        goto out;
    }
    r = login(t, uri, err);
    if (r < 0)
        goto out;
    *ret = TAKE_PTR(t);
    r = 0;
out:
    p11token_unref(t);
    p11_kit_uri_free(uri);
    return r;
}

P11Token *p11token_ref(P11Token *t) {
    if (t)
        atomic_fetch_add(&t->refs, 1);
    return t;
}

void p11token_unref(P11Token *t) {
    if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    if (t->module) {
        if (t->session != CK_INVALID_HANDLE)
            t->module->C_CloseSession(t->session);
        drop_module(t->module);
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

const char *p11token_label(const P11Token *t) { return t->label; }

/* --- objects ----------------------------------------------------------- */

static int find_objects_locked(P11Token *t, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                               AeError *err, CK_OBJECT_HANDLE **ret, size_t *ret_n) {
    CK_FUNCTION_LIST *m = t->module;
    _cleanup_free_ CK_OBJECT_HANDLE *hs = NULL;
    size_t count = 0, cap = 0;
    CK_RV rv;

    rv = m->C_FindObjectsInit(s, tmpl, n);
    if (rv != CKR_OK)
        return rv_error(err, rv, "C_FindObjectsInit", t);
    for (;;) {
        CK_OBJECT_HANDLE batch[16];
        CK_ULONG got = 0;
        rv = m->C_FindObjects(s, batch, ELEMENTSOF(batch), &got);
        if (rv != CKR_OK || got == 0)
            break;
        if (count + got > cap) {
            size_t ncap = (cap + got) * 2;
            CK_OBJECT_HANDLE *nh = reallocarray(hs, ncap, sizeof *hs);
            if (!nh) {
                rv = CKR_HOST_MEMORY;
                break;
            }
            hs = nh;
            cap = ncap;
        }
        memcpy(hs + count, batch, got * sizeof *batch);
        count += got;
    }
    m->C_FindObjectsFinal(s);
    if (rv != CKR_OK)
        return rv_error(err, rv, "C_FindObjects", t);
    *ret = TAKE_PTR(hs);
    *ret_n = count;
    return 0;
}

int p11token_find_objects(P11Token *t, CK_OBJECT_CLASS cls, const uint8_t *id, size_t id_len,
                          AeError *err, CK_OBJECT_HANDLE **ret, size_t *ret_n) {
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_ID, (void *)id, id_len },
    };
    pthread_mutex_lock(&t->lock);
    int r = find_objects_locked(t, t->session, tmpl, id ? 2 : 1, err, ret, ret_n);
    pthread_mutex_unlock(&t->lock);
    return r;
}

int p11token_find_key(P11Token *t, const uint8_t *id, size_t id_len, AeError *err,
                      CK_OBJECT_HANDLE *ret_priv) {
    _cleanup_free_ CK_OBJECT_HANDLE *hs = NULL;
    size_t n = 0;
    int r = p11token_find_objects(t, CKO_PRIVATE_KEY, id, id_len, err, &hs, &n);
    if (r < 0)
        return r;
    if (n == 0)
        return ae_error_set(err, -ENOKEY, AE_ERR_TOKEN, "no private key with this id on token '%s'",
                            t->label);
    *ret_priv = hs[0];
    return 0;
}

static int get_attr_locked(P11Token *t, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, AeError *err,
                           uint8_t **ret, size_t *ret_len) {
    CK_ATTRIBUTE a = { type, NULL, 0 };
    CK_RV rv = t->module->C_GetAttributeValue(t->session, h, &a, 1);
    if (rv != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
        return rv_error(err, rv == CKR_OK ? CKR_ATTRIBUTE_TYPE_INVALID : rv,
                        "C_GetAttributeValue", t);
    a.pValue = malloc(a.ulValueLen ? a.ulValueLen : 1);
    if (!a.pValue)
        return ae_error_set(err, -ENOMEM, AE_ERR_TOKEN, "out of memory");
    rv = t->module->C_GetAttributeValue(t->session, h, &a, 1);
    if (rv != CKR_OK) {
        free(a.pValue);
        return rv_error(err, rv, "C_GetAttributeValue", t);
    }
    *ret = a.pValue;
    *ret_len = a.ulValueLen;
    return 0;
}

int p11token_get_attr(P11Token *t, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, AeError *err,
                      uint8_t **ret, size_t *ret_len) {
    pthread_mutex_lock(&t->lock);
    int r = get_attr_locked(t, h, type, err, ret, ret_len);
    pthread_mutex_unlock(&t->lock);
    return r;
}

int p11token_get_rsa_public(P11Token *t, CK_OBJECT_HANDLE priv, const uint8_t *id, size_t id_len,
                            AeError *err, uint8_t **ret_n, size_t *ret_n_len, uint8_t **ret_e,
                            size_t *ret_e_len) {
    _cleanup_free_ uint8_t *n = NULL, *e = NULL;
    _cleanup_free_ CK_OBJECT_HANDLE *pubs = NULL;
    size_t nl = 0, el = 0, npub = 0;
    int r;

    r = p11token_get_attr(t, priv, CKA_MODULUS, NULL, &n, &nl);
    if (r == 0)
        r = p11token_get_attr(t, priv, CKA_PUBLIC_EXPONENT, NULL, &e, &el);
    if (r < 0) {
        /* Some tokens keep the public parts only on the public key object. */
        free(n), n = NULL;
        r = p11token_find_objects(t, CKO_PUBLIC_KEY, id, id_len, err, &pubs, &npub);
        if (r < 0)
            return r;
        if (npub == 0)
            return ae_error_set(err, -ENOKEY, AE_ERR_TOKEN,
                                "token '%s' shows neither the modulus of the private key nor a "
                                "public key with the same id",
                                t->label);
        r = p11token_get_attr(t, pubs[0], CKA_MODULUS, err, &n, &nl);
        if (r < 0)
            return r;
        r = p11token_get_attr(t, pubs[0], CKA_PUBLIC_EXPONENT, err, &e, &el);
        if (r < 0)
            return r;
    }
    *ret_n = TAKE_PTR(n);
    *ret_n_len = nl;
    *ret_e = TAKE_PTR(e);
    *ret_e_len = el;
    return 0;
}

/* --- key generation ---------------------------------------------------- */

static int check_mechanism(P11Token *t, unsigned bits, AeError *err) {
    CK_MECHANISM_INFO mi;
    CK_RV rv = t->module->C_GetMechanismInfo(t->slot, CKM_RSA_PKCS_KEY_PAIR_GEN, &mi);
    if (rv == CKR_MECHANISM_INVALID)
        return ae_error_set(err, -EOPNOTSUPP, AE_ERR_TOKEN,
                            "token '%s' cannot generate RSA keys", t->label);
    if (rv != CKR_OK)
        return rv_error(err, rv, "C_GetMechanismInfo", t);
    /* Some modules give the range in bytes; only trust it when it looks like bits. */
    if (mi.ulMaxKeySize >= 1024 && (bits < mi.ulMinKeySize || bits > mi.ulMaxKeySize))
        return ae_error_set(err, -EOPNOTSUPP, AE_ERR_TOKEN,
                            "token '%s' cannot make RSA-%u keys (it supports %lu to %lu bits)",
                            t->label, bits, (unsigned long)mi.ulMinKeySize,
                            (unsigned long)mi.ulMaxKeySize);
    return 0;
}

int p11token_generate_rsa(P11Token *t, unsigned bits, const char *label, const uint8_t *id,
                          size_t id_len, AeError *err, CK_OBJECT_HANDLE *ret_priv) {
    CK_FUNCTION_LIST *m = t->module;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
    CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG modbits = bits;
    CK_BYTE exponent[] = { 0x01, 0x00, 0x01 };
    CK_KEY_TYPE kt = CKK_RSA;
    CK_ATTRIBUTE pub_tmpl[] = {
        { CKA_TOKEN, &yes, sizeof yes },          { CKA_PRIVATE, &no, sizeof no },
        { CKA_KEY_TYPE, &kt, sizeof kt },         { CKA_MODULUS_BITS, &modbits, sizeof modbits },
        { CKA_PUBLIC_EXPONENT, exponent, sizeof exponent },
        { CKA_VERIFY, &yes, sizeof yes },         { CKA_ENCRYPT, &yes, sizeof yes },
        { CKA_ID, (void *)id, id_len },           { CKA_LABEL, (void *)label, strlen(label) },
    };
    CK_ATTRIBUTE priv_tmpl[] = {
        { CKA_TOKEN, &yes, sizeof yes },          { CKA_PRIVATE, &yes, sizeof yes },
        { CKA_KEY_TYPE, &kt, sizeof kt },         { CKA_SENSITIVE, &yes, sizeof yes },
        { CKA_EXTRACTABLE, &no, sizeof no },      { CKA_SIGN, &yes, sizeof yes },
        { CKA_DECRYPT, &yes, sizeof yes },        { CKA_ID, (void *)id, id_len },
        { CKA_LABEL, (void *)label, strlen(label) },
    };
    CK_RV rv;
    int r;

    r = check_mechanism(t, bits, err);
    if (r < 0)
        return r;
    /* A session of our own: the shared one stays usable while the token works. */
    rv = m->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
    if (rv != CKR_OK)
        return rv_error(err, rv, "C_OpenSession", t);
    rv = m->C_GenerateKeyPair(s, &mech, pub_tmpl, ELEMENTSOF(pub_tmpl), priv_tmpl,
                              ELEMENTSOF(priv_tmpl), &pub, &priv);
    if (rv != CKR_OK) {
        r = rv_error(err, rv, "C_GenerateKeyPair", t);
        if (r == -EOPNOTSUPP || rv == CKR_DEVICE_MEMORY)
            ae_error_set(err, r, AE_ERR_TOKEN, "token '%s' cannot make an RSA-%u key: %s",
                         t->label, bits, p11token_rv_explain(rv));
        else if (rv == CKR_FUNCTION_FAILED || rv == CKR_GENERAL_ERROR || rv == CKR_DEVICE_ERROR)
            /* File-backed tokens (SoftHSM, tpm2-pkcs11's store) say only this
             * when their storage is full. */
            ae_error_set(err, r, AE_ERR_TOKEN,
                         "token '%s' could not generate and store an RSA-%u key (%s, 0x%lx): "
                         "the token or its storage may be full",
                         t->label, bits, p11token_rv_explain(rv), (unsigned long)rv);
        /* Some modules leave half a pair behind on failure. */
        if (pub != CK_INVALID_HANDLE)
            m->C_DestroyObject(s, pub);
        if (priv != CK_INVALID_HANDLE)
            m->C_DestroyObject(s, priv);
        m->C_CloseSession(s);
        return r;
    }
    m->C_CloseSession(s);
    *ret_priv = priv;
    return 0;
}

/* --- signing and decryption -------------------------------------------- */

int p11token_sign(P11Token *t, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE mtype, const uint8_t *in,
                  size_t in_len, uint8_t *out, size_t *out_len, AeError *err) {
    CK_MECHANISM mech = { mtype, NULL, 0 };
    CK_ULONG ol = *out_len;
    CK_RV rv;

    pthread_mutex_lock(&t->lock);
    rv = t->module->C_SignInit(t->session, &mech, key);
    if (rv == CKR_OK)
        rv = t->module->C_Sign(t->session, (CK_BYTE *)in, in_len, out, &ol);
    pthread_mutex_unlock(&t->lock);
    if (rv != CKR_OK)
        return rv_error(err, rv, "C_Sign", t);
    *out_len = ol;
    return 0;
}

int p11token_decrypt(P11Token *t, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE mtype,
                     const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len,
                     AeError *err) {
    CK_MECHANISM mech = { mtype, NULL, 0 };
    CK_ULONG ol = *out_len;
    CK_RV rv;

    pthread_mutex_lock(&t->lock);
    rv = t->module->C_DecryptInit(t->session, &mech, key);
    if (rv == CKR_OK)
        rv = t->module->C_Decrypt(t->session, (CK_BYTE *)in, in_len, out, &ol);
    pthread_mutex_unlock(&t->lock);
    if (rv != CKR_OK)
        return rv_error(err, rv, "C_Decrypt", t);
    *out_len = ol;
    return 0;
}

/* --- certificates and deletion ----------------------------------------- */

int p11token_store_cert(P11Token *t, const uint8_t *id, size_t id_len, const char *label,
                        const uint8_t *der, size_t der_len, const uint8_t *subject,
                        size_t subject_len, const uint8_t *issuer, size_t issuer_len,
                        const uint8_t *serial, size_t serial_len, AeError *err) {
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE ct = CKC_X_509;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_CERTIFICATE_TYPE, &ct, sizeof ct },
        { CKA_TOKEN, &yes, sizeof yes },
        { CKA_PRIVATE, &no, sizeof no },
        { CKA_ID, (void *)id, id_len },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_SUBJECT, (void *)subject, subject_len },
        { CKA_ISSUER, (void *)issuer, issuer_len },
        { CKA_SERIAL_NUMBER, (void *)serial, serial_len },
        { CKA_VALUE, (void *)der, der_len },
    };
    CK_ATTRIBUTE find[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_ID, (void *)id, id_len },
    };
    _cleanup_free_ CK_OBJECT_HANDLE *old = NULL;
    size_t nold = 0;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv;
    int r;

    pthread_mutex_lock(&t->lock);
    r = find_objects_locked(t, t->session, find, ELEMENTSOF(find), err, &old, &nold);
    if (r < 0)
        goto out;
    rv = t->module->C_CreateObject(t->session, tmpl, ELEMENTSOF(tmpl), &h);
    if (rv != CKR_OK) {
        r = rv_error(err, rv, "C_CreateObject (certificate)", t);
        goto out;
    }
    /* The new certificate is on the token: now the old ones may go. */
    for (size_t i = 0; i < nold; i++) {
        rv = t->module->C_DestroyObject(t->session, old[i]);
        if (rv != CKR_OK) {
            r = rv_error(err, rv, "C_DestroyObject (old certificate)", t);
            goto out;
        }
    }
    r = 0;
out:
    pthread_mutex_unlock(&t->lock);
    return r;
}

int p11token_delete_id(P11Token *t, const uint8_t *id, size_t id_len, AeError *err) {
    static const CK_OBJECT_CLASS classes[] = { CKO_CERTIFICATE, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY };
    size_t deleted = 0;
    int r = 0;

    pthread_mutex_lock(&t->lock);
    for (size_t c = 0; c < ELEMENTSOF(classes) && r == 0; c++) {
        CK_OBJECT_CLASS cls = classes[c];
        CK_ATTRIBUTE find[] = {
            { CKA_CLASS, &cls, sizeof cls },
            { CKA_ID, (void *)id, id_len },
        };
        _cleanup_free_ CK_OBJECT_HANDLE *hs = NULL;
        size_t n = 0;
        r = find_objects_locked(t, t->session, find, ELEMENTSOF(find), err, &hs, &n);
        for (size_t i = 0; r == 0 && i < n; i++) {
            CK_RV rv = t->module->C_DestroyObject(t->session, hs[i]);
            if (rv != CKR_OK)
                r = rv_error(err, rv, "C_DestroyObject", t);
            else
                deleted++;
        }
    }
    pthread_mutex_unlock(&t->lock);
    if (r == 0 && deleted == 0)
        r = ae_error_set(err, -ENOKEY, AE_ERR_TOKEN, "no key with this id on token '%s'",
                         t->label);
    return r;
}

int p11token_object_uri(P11Token *t, CK_OBJECT_CLASS cls, const uint8_t *id, size_t id_len,
                        const char *label, char **ret) {
    P11KitUri *uri = p11_kit_uri_new();
    CK_ATTRIBUTE a_cls = { CKA_CLASS, &cls, sizeof cls };
    CK_ATTRIBUTE a_id = { CKA_ID, (void *)id, id_len };
    CK_ATTRIBUTE a_label = { CKA_LABEL, (void *)label, label ? strlen(label) : 0 };
    int r;

    if (!uri)
        return -ENOMEM;
    *p11_kit_uri_get_token_info(uri) = t->info;
    /* Some modules (tpm2-pkcs11) pad with NULs instead of spaces: a field
     * holding a NUL would print as %00; leave it out, the label still selects. */
    CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(uri);
    if (memchr(ti->model, 0, sizeof ti->model))
        memset(ti->model, 0, sizeof ti->model);
    if (memchr(ti->manufacturerID, 0, sizeof ti->manufacturerID))
        memset(ti->manufacturerID, 0, sizeof ti->manufacturerID);
    if (memchr(ti->serialNumber, 0, sizeof ti->serialNumber))
        memset(ti->serialNumber, 0, sizeof ti->serialNumber);
    if (p11_kit_uri_set_attribute(uri, &a_cls) != P11_KIT_URI_OK ||
        p11_kit_uri_set_attribute(uri, &a_id) != P11_KIT_URI_OK ||
        (label && p11_kit_uri_set_attribute(uri, &a_label) != P11_KIT_URI_OK)) {
        p11_kit_uri_free(uri);
        return -ENOMEM;
    }
    r = p11_kit_uri_format(uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, ret);
    p11_kit_uri_free(uri);
    return r == P11_KIT_URI_OK ? 0 : -ENOMEM;
}
