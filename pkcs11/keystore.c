/* The key store front: one interface over a PKCS#11 token and a file store. */
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "daemon/util.h"
#include "pkcs11/filestore.h"
#include "pkcs11/keystore.h"
#include "pkcs11/provider.h"
#include "pkcs11/token.h"

#define DEFAULT_LABEL "autoenroll"
#define DEFAULT_ID_LEN 20
#define MAX_ID_LEN 64

struct Keystore {
    P11Token *tok; /* token store */
    char *dir;     /* file store */
};

struct Key {
    P11Token *tok; /* token keys: a reference */
    CK_OBJECT_HANDLE handle;
    char *dir; /* file keys */
    uint8_t id[MAX_ID_LEN];
    size_t id_len;
    char ref[2 * MAX_ID_LEN + 1];
    char *label;
    EVP_PKEY *pkey;
};

static void hex_encode(const uint8_t *in, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int hex_val(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A ref is 1..64 bytes of lowercase or uppercase hex: safe as a file name. */
static int ref_decode(const char *ref, AeError *err, uint8_t *id, size_t *id_len) {
    size_t l = ref ? strlen(ref) : 0;
    if (l == 0 || l % 2 || l > 2 * MAX_ID_LEN)
        goto bad;
    for (size_t i = 0; i < l / 2; i++) {
        int hi = hex_val(ref[2 * i]), lo = hex_val(ref[2 * i + 1]);
        if (hi < 0 || lo < 0)
            goto bad;
        id[i] = (uint8_t)(hi << 4 | lo);
    }
    *id_len = l / 2;
    return 0;
bad:
    return ae_error_set(err, -EINVAL, AE_ERR_TOKEN, "bad key reference (want 2..128 hex digits)");
}

int keystore_open(const char *location, AeError *err, Keystore **ret) {
    Keystore *ks;
    int r;

    if (!location)
        return ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "no key store location");
    ks = calloc(1, sizeof *ks);
    if (!ks)
        return ae_error_set(err, -ENOMEM, AE_ERR_TOKEN, "out of memory");
    if (strncmp(location, "pkcs11:", 7) == 0) {
        r = p11token_open(location, err, &ks->tok);
    } else if (strncmp(location, "file:", 5) == 0) {
        const char *d = location + 5;
        if (strncmp(d, "//", 2) == 0)
            d += 2;
        ks->dir = strdup(d);
        r = ks->dir ? filestore_open(ks->dir, err) : -ENOMEM;
    } else {
        r = ae_error_set(err, -EINVAL, AE_ERR_CONFIG,
                         "key store location must start with pkcs11: or file:");
    }
    if (r < 0) {
        keystore_free(ks);
        return r;
    }
    *ret = ks;
    return 0;
}

Keystore *keystore_free(Keystore *ks) {
    if (ks) {
        p11token_unref(ks->tok);
        free(ks->dir);
        free(ks);
    }
    return NULL;
}

bool keystore_is_token(const Keystore *ks) { return ks->tok != NULL; }

static int key_new(Keystore *ks, const uint8_t *id, size_t id_len, const char *label, Key **ret) {
    Key *k = calloc(1, sizeof *k);
    if (!k)
        return -ENOMEM;
    memcpy(k->id, id, id_len);
    k->id_len = id_len;
    hex_encode(id, id_len, k->ref);
    k->label = strdup(label ? label : "");
    if (ks->dir)
        k->dir = strdup(ks->dir);
    if (!k->label || (ks->dir && !k->dir)) {
        key_free(k);
        return -ENOMEM;
    }
    k->tok = p11token_ref(ks->tok);
    *ret = k;
    return 0;
}

Key *key_free(Key *k) {
    if (k) {
        EVP_PKEY_free(k->pkey);
        p11token_unref(k->tok);
        free(k->dir);
        free(k->label);
        free(k);
    }
    return NULL;
}

/* Wrap the token key in an EVP_PKEY. */
static int key_attach_token(Key *k, AeError *err) {
    _cleanup_free_ uint8_t *n = NULL, *e = NULL;
    size_t nl = 0, el = 0;
    int r = p11token_get_rsa_public(k->tok, k->handle, k->id, k->id_len, err, &n, &nl, &e, &el);
    if (r < 0)
        return r;
    return p11prov_pkey_new(k->tok, k->handle, n, nl, e, el, err, &k->pkey);
}

int keystore_generate(Keystore *ks, const KeyParams *p, AeError *err, Key **ret) {
    uint8_t id[MAX_ID_LEN];
    size_t id_len = DEFAULT_ID_LEN;
    unsigned bits = p && p->bits ? p->bits : 2048;
    const char *label = p && p->label ? p->label : DEFAULT_LABEL;
    Key *k = NULL;
    int r;

    if (bits != 2048 && bits != 3072 && bits != 4096)
        return ae_error_set(err, -EINVAL, AE_ERR_CONFIG,
                            "RSA-%u is not offered: use 2048, 3072 or 4096", bits);
    if (p && p->id) {
        if (p->id_len == 0 || p->id_len > MAX_ID_LEN)
            return ae_error_set(err, -EINVAL, AE_ERR_TOKEN, "key id must be 1..%d bytes",
                                MAX_ID_LEN);
        memcpy(id, p->id, p->id_len);
        id_len = p->id_len;
    } else if (RAND_bytes(id, (int)id_len) != 1) {
        return ae_error_set(err, -EIO, AE_ERR_TOKEN, "no random bytes for a key id");
    }
    r = key_new(ks, id, id_len, ks->tok ? label : NULL, &k);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_TOKEN, "out of memory");

    if (ks->dir) {
        r = filestore_generate(ks->dir, k->ref, bits, p ? p->uid : (uid_t)-1,
                               p ? p->gid : (gid_t)-1, err, &k->pkey);
        goto out;
    }

    /* Never two keys with one id: the certificate could land on either. */
    CK_OBJECT_HANDLE existing;
    r = p11token_find_key(ks->tok, id, id_len, NULL, &existing);
    if (r == 0) {
        r = ae_error_set(err, -EEXIST, AE_ERR_TOKEN, "token '%s' already has a key with id %s",
                         p11token_label(ks->tok), k->ref);
        goto out;
    }
    r = p11token_generate_rsa(ks->tok, bits, label, id, id_len, err, &k->handle);
    if (r < 0)
        goto out;
    r = key_attach_token(k, err);
    if (r < 0) {
        AeError ignored;
        p11token_delete_id(ks->tok, id, id_len, &ignored); /* leave nothing half-made */
    }
out:
    if (r < 0) {
        key_free(k);
        return r;
    }
    *ret = k;
    return 0;
}

int keystore_load_key(Keystore *ks, const char *ref, AeError *err, Key **ret) {
    uint8_t id[MAX_ID_LEN];
    size_t id_len = 0;
    _cleanup_free_ uint8_t *label = NULL;
    size_t label_len = 0;
    _cleanup_free_ char *label_s = NULL;
    CK_OBJECT_HANDLE h;
    Key *k = NULL;
    int r;

    r = ref_decode(ref, err, id, &id_len);
    if (r < 0)
        return r;
    if (ks->dir) {
        r = key_new(ks, id, id_len, NULL, &k);
        if (r < 0)
            return ae_error_set(err, r, AE_ERR_TOKEN, "out of memory");
        r = filestore_load(ks->dir, k->ref, err, &k->pkey);
        goto out;
    }
    r = p11token_find_key(ks->tok, id, id_len, err, &h);
    if (r < 0)
        return r;
    if (p11token_get_attr(ks->tok, h, CKA_LABEL, NULL, &label, &label_len) == 0)
        label_s = strndup((char *)label, label_len);
    r = key_new(ks, id, id_len, label_s ? label_s : "", &k);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_TOKEN, "out of memory");
    k->handle = h;
    r = key_attach_token(k, err);
out:
    if (r < 0) {
        key_free(k);
        return r;
    }
    *ret = k;
    return 0;
}

static int der_of(int (*i2d)(const void *, unsigned char **), const void *obj, uint8_t **ret) {
    unsigned char *der = NULL;
    int len = i2d(obj, &der);
    if (len <= 0)
        return -EINVAL;
    *ret = der;
    return len;
}

#define I2D(f) ((int (*)(const void *, unsigned char **))(f))

int keystore_store_cert(Keystore *ks, Key *key, X509 *cert, AeError *err) {
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    uint8_t *der = NULL, *subj = NULL, *iss = NULL, *ser = NULL;
    int dl, sl, il, nl, r;

    if (!pub || EVP_PKEY_eq(pub, key->pkey) != 1)
        return ae_error_set(err, -EINVAL, AE_ERR_TOKEN,
                            "the certificate's public key is not key %s's", key->ref);
    if (ks->dir)
        return filestore_store_cert(ks->dir, key->ref, cert, err);

    dl = der_of(I2D(i2d_X509), cert, &der);
    sl = der_of(I2D(i2d_X509_NAME), X509_get_subject_name(cert), &subj);
    il = der_of(I2D(i2d_X509_NAME), X509_get_issuer_name(cert), &iss);
    nl = der_of(I2D(i2d_ASN1_INTEGER), X509_get0_serialNumber(cert), &ser);
    if (dl < 0 || sl < 0 || il < 0 || nl < 0)
        r = ae_error_set(err, -EINVAL, AE_ERR_TOKEN, "could not encode the certificate");
    else
        r = p11token_store_cert(ks->tok, key->id, key->id_len, key->label, der, (size_t)dl, subj,
                                (size_t)sl, iss, (size_t)il, ser, (size_t)nl, err);
    OPENSSL_free(der);
    OPENSSL_free(subj);
    OPENSSL_free(iss);
    OPENSSL_free(ser);
    return r;
}

static int token_load_cert(P11Token *t, const uint8_t *id, size_t id_len, AeError *err,
                           X509 **ret) {
    _cleanup_free_ CK_OBJECT_HANDLE *hs = NULL;
    _cleanup_free_ uint8_t *der = NULL;
    size_t n = 0, dl = 0;
    const unsigned char *pp;
    X509 *x;
    int r;

    r = p11token_find_objects(t, CKO_CERTIFICATE, id, id_len, err, &hs, &n);
    if (r < 0)
        return r;
    if (n == 0)
        return ae_error_set(err, -ENOENT, AE_ERR_TOKEN, "no certificate for this key on token '%s'",
                            p11token_label(t));
    r = p11token_get_attr(t, hs[0], CKA_VALUE, err, &der, &dl);
    if (r < 0)
        return r;
    pp = der;
    x = d2i_X509(NULL, &pp, (long)dl);
    if (!x || pp != der + dl) {
        X509_free(x);
        return ae_error_set(err, -EBADMSG, AE_ERR_TOKEN, "certificate on token '%s' is not DER",
                            p11token_label(t));
    }
    *ret = x;
    return 0;
}

int keystore_load_cert(Keystore *ks, Key *key, AeError *err, X509 **ret) {
    if (ks->dir)
        return filestore_load_cert(ks->dir, key->ref, err, ret);
    return token_load_cert(ks->tok, key->id, key->id_len, err, ret);
}

int keystore_delete_key(Keystore *ks, const char *ref, AeError *err) {
    uint8_t id[MAX_ID_LEN];
    size_t id_len = 0;
    char canon[2 * MAX_ID_LEN + 1];
    int r = ref_decode(ref, err, id, &id_len);
    if (r < 0)
        return r;
    if (ks->dir) {
        hex_encode(id, id_len, canon);
        return filestore_delete(ks->dir, canon, err);
    }
    return p11token_delete_id(ks->tok, id, id_len, err);
}

int keystore_openssl_error(AeError *err, const char *what) {
    return p11prov_openssl_error(err, what);
}

EVP_PKEY *key_get_pkey(Key *k) { return k->pkey; }
const char *key_ref(const Key *k) { return k->ref; }
const char *key_label(const Key *k) { return k->label; }
char *key_id_hex(const Key *k) { return strdup(k->ref); }

static char *file_uri(const char *dir, const char *ref, const char *suffix) {
    char *s = NULL;
    return asprintf(&s, "file:%s/%s%s", dir, ref, suffix) < 0 ? NULL : s;
}

char *key_uri(const Key *k) {
    char *s = NULL;
    if (k->dir)
        return file_uri(k->dir, k->ref, ".key");
    if (p11token_object_uri(k->tok, CKO_PRIVATE_KEY, k->id, k->id_len, k->label, &s) < 0)
        return NULL;
    return s;
}

char *key_cert_uri(const Key *k) {
    char *s = NULL;
    if (k->dir)
        return file_uri(k->dir, k->ref, ".crt");
    if (p11token_object_uri(k->tok, CKO_CERTIFICATE, k->id, k->id_len, k->label, &s) < 0)
        return NULL;
    return s;
}

void keystore_entries_free(KeystoreEntry *e, size_t n) {
    for (size_t i = 0; e && i < n; i++) {
        free(e[i].ref);
        free(e[i].label);
        free(e[i].id_hex);
        free(e[i].key_uri);
        free(e[i].cert_uri);
        X509_free(e[i].cert);
    }
    free(e);
}

/* Fill one entry from a key (loads its certificate if there is one). */
static int entry_fill(Keystore *ks, Key *k, KeystoreEntry *e) {
    e->ref = strdup(k->ref);
    e->label = strdup(k->label);
    e->id_hex = key_id_hex(k);
    e->key_uri = key_uri(k);
    if (keystore_load_cert(ks, k, NULL, &e->cert) == 0)
        e->cert_uri = key_cert_uri(k);
    if (!e->ref || !e->label || !e->id_hex || !e->key_uri || (e->cert && !e->cert_uri))
        return -ENOMEM;
    return 0;
}

int keystore_list(Keystore *ks, AeError *err, KeystoreEntry **ret, size_t *ret_n) {
    KeystoreEntry *v = NULL;
    size_t n = 0, count = 0;
    char **refs = NULL;
    CK_OBJECT_HANDLE *hs = NULL;
    int r;

    if (ks->dir) {
        r = filestore_list(ks->dir, err, &refs);
        if (r < 0)
            return r;
        while (refs[count])
            count++;
    } else {
        r = p11token_find_objects(ks->tok, CKO_PRIVATE_KEY, NULL, 0, err, &hs, &count);
        if (r < 0)
            return r;
    }
    v = calloc(count ? count : 1, sizeof *v);
    if (!v) {
        r = ae_error_set(err, -ENOMEM, AE_ERR_TOKEN, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        _cleanup_key_ Key *k = NULL;
        if (refs) {
            if (keystore_load_key(ks, refs[i], NULL, &k) < 0)
                continue; /* not a key we can read: skip it */
        } else {
            _cleanup_free_ uint8_t *id = NULL;
            size_t id_len = 0;
            char ref[2 * MAX_ID_LEN + 1];
            if (p11token_get_attr(ks->tok, hs[i], CKA_ID, NULL, &id, &id_len) < 0 || id_len == 0 ||
                id_len > MAX_ID_LEN)
                continue; /* keys without a usable CKA_ID are not ours */
            hex_encode(id, id_len, ref);
            if (keystore_load_key(ks, ref, NULL, &k) < 0)
                continue;
        }
        r = entry_fill(ks, k, &v[n++]);
        if (r < 0) {
            r = ae_error_set(err, r, AE_ERR_TOKEN, "out of memory");
            goto out;
        }
    }
    *ret = TAKE_PTR(v);
    *ret_n = n;
    r = 0;
out:
    keystore_entries_free(v, n);
    for (size_t i = 0; refs && refs[i]; i++)
        free(refs[i]);
    free(refs);
    free(hs);
    return r;
}
