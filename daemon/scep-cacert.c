/* GetCACert / GetNextCACert: pin check, chain check, RA selection. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "daemon/scep-cacert.h"
#include "daemon/util.h"

struct ScepCA {
    STACK_OF(X509) *certs; /* accepted: anchor + chained certificates */
    X509 *anchor, *issuer, *encrypt, *signer; /* borrowed from certs */
};

int scep_fingerprint_parse(const char *s, uint8_t ret[SCEP_FINGERPRINT_LEN]) {
    size_t n = 0;
    int hi = -1;

    if (!s || !ret)
        return -EINVAL;
    if (strncasecmp(s, "sha256:", 7) == 0)
        s += 7;
    else if (strncasecmp(s, "sha256 ", 7) == 0)
        s += 7;
    for (; *s; s++) {
        int v;
        if (*s == ':' || *s == ' ')
            continue;
        if (!isxdigit((unsigned char)*s))
            return -EINVAL;
        v = isdigit((unsigned char)*s) ? *s - '0' : (tolower((unsigned char)*s) - 'a' + 10);
        if (hi < 0)
            hi = v;
        else {
            if (n >= SCEP_FINGERPRINT_LEN)
                return -EINVAL;
            ret[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return n == SCEP_FINGERPRINT_LEN && hi < 0 ? 0 : -EINVAL;
}

int scep_fingerprint_format(X509 *cert, char **ret) {
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char *s, *p;

    if (!X509_digest(cert, EVP_sha256(), md, &mdlen) || mdlen != SCEP_FINGERPRINT_LEN)
        return -EINVAL;
    s = malloc(7 + mdlen * 3);
    if (!s)
        return -ENOMEM;
    p = s + sprintf(s, "sha256:");
    for (unsigned i = 0; i < mdlen; i++)
        p += sprintf(p, "%s%02X", i ? ":" : "", md[i]);
    *ret = s;
    return 0;
}

ScepCA *scep_ca_free(ScepCA *ca) {
    if (ca) {
        sk_X509_pop_free(ca->certs, X509_free);
        free(ca);
    }
    return NULL;
}

X509 *scep_ca_get_anchor(const ScepCA *ca) { return ca->anchor; }
X509 *scep_ca_get_issuer(const ScepCA *ca) { return ca->issuer; }
X509 *scep_ca_get_encrypt(const ScepCA *ca) { return ca->encrypt; }
X509 *scep_ca_get_signer(const ScepCA *ca) { return ca->signer; }
STACK_OF(X509) *scep_ca_get_certs(const ScepCA *ca) { return ca->certs; }

static int verify_chain(X509 *anchor, STACK_OF(X509) *untrusted, X509 *cert, AeError *err) {
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int r = -ENOMEM;

    if (!store || !ctx || !X509_STORE_add_cert(store, anchor))
        goto out;
    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
    if (!X509_STORE_CTX_init(ctx, store, cert, untrusted))
        goto out;
    if (X509_verify_cert(ctx) != 1) {
        char name[256];
        X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name);
        r = ae_error_set(err, -EPERM, AE_ERR_PROTOCOL,
                         "certificate '%s' does not chain to the pinned CA: %s", name,
                         X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        goto out;
    }
    r = 0;
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return r;
}

int scep_ca_verify(const ScepCA *ca, X509 *cert, AeError *err) {
    return verify_chain(ca->anchor, ca->certs, cert, err);
}

static STACK_OF(X509) *certs_from_der(const uint8_t *body, size_t len) {
    const unsigned char *p = body;
    STACK_OF(X509) *certs = NULL;
    X509 *x;
    PKCS7 *p7;

    if (len > (size_t)LONG_MAX)
        return NULL;
    x = d2i_X509(NULL, &p, (long)len);
    if (x && p == body + len) {
        certs = sk_X509_new_null();
        if (!certs || !sk_X509_push(certs, x)) {
            sk_X509_free(certs);
            X509_free(x);
            return NULL;
        }
        return certs;
    }
    X509_free(x);
    p = body;
    p7 = d2i_PKCS7(NULL, &p, (long)len);
    if (!p7 || p != body + len || !PKCS7_type_is_signed(p7) || !p7->d.sign ||
        !p7->d.sign->cert || sk_X509_num(p7->d.sign->cert) == 0) {
        PKCS7_free(p7);
        return NULL;
    }
    certs = TAKE_PTR(p7->d.sign->cert);
    PKCS7_free(p7);
    return certs;
}

static int has_ku(X509 *x, uint32_t bit) {
    uint32_t ku = X509_get_key_usage(x); /* UINT32_MAX when absent */
    return ku != UINT32_MAX && (ku & bit);
}

static int is_issuer_of_other(STACK_OF(X509) *certs, X509 *ca) {
    for (int i = 0; i < sk_X509_num(certs); i++) {
        X509 *x = sk_X509_value(certs, i);
        if (x != ca && X509_check_issued(ca, x) == X509_V_OK)
            return 1;
    }
    return 0;
}

int scep_ca_parse(const uint8_t *body, size_t len, const uint8_t pin[SCEP_FINGERPRINT_LEN],
                  ScepCA **ret, AeError *err) {
    STACK_OF(X509) *all = NULL;
    ScepCA *ca = NULL;
    X509 *anchor = NULL, *enc_any = NULL, *sign_any = NULL;
    AeError dropped = { 0 }; /* why the first RA-like leaf was refused */
    int r;

    if (!body || !pin || !ret)
        return -EINVAL;
    all = certs_from_der(body, len);
    if (!all) {
        r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL,
                         "GetCACert: reply is neither a DER certificate nor a certs-only PKCS#7 "
                         "(%zu bytes)", len);
        goto out;
    }
    for (int i = 0; i < sk_X509_num(all); i++) {
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        X509 *x = sk_X509_value(all, i);
        if (X509_digest(x, EVP_sha256(), md, &mdlen) && mdlen == SCEP_FINGERPRINT_LEN &&
            CRYPTO_memcmp(md, pin, SCEP_FINGERPRINT_LEN) == 0)
            anchor = x;
    }
    if (!anchor) {
        _cleanup_free_ char *fp = NULL;
        X509 *first = sk_X509_value(all, 0);
        /* Name the self-signed one if any: that is what an admin pins. */
        for (int i = 0; i < sk_X509_num(all); i++)
            if (X509_check_issued(sk_X509_value(all, i), sk_X509_value(all, i)) == X509_V_OK)
                first = sk_X509_value(all, i);
        (void)scep_fingerprint_format(first, &fp);
        r = ae_error_set(err, -EPERM, AE_ERR_PROTOCOL,
                         "GetCACert: no certificate matches the configured CA fingerprint "
                         "(the server's CA is %s)", fp ? fp : "?");
        goto out;
    }

    ca = calloc(1, sizeof *ca);
    if (!ca || !(ca->certs = sk_X509_new_null())) {
        r = -ENOMEM;
        goto out;
    }
    if (!X509_up_ref(anchor) || !sk_X509_push(ca->certs, anchor)) {
        r = -ENOMEM;
        goto out;
    }
    ca->anchor = anchor;
    for (int i = 0; i < sk_X509_num(all); i++) {
        X509 *x = sk_X509_value(all, i);
        if (x == anchor)
            continue;
        if (verify_chain(anchor, all, x, dropped.code ? NULL : &dropped) < 0) {
            if (X509_check_ca(x))
                ae_error_clear(&dropped); /* only leaves (RA certificates) matter */
            continue; /* only what chains to the pin is accepted */
        }
        if (!X509_up_ref(x) || !sk_X509_push(ca->certs, x)) {
            r = -ENOMEM;
            goto out;
        }
    }

    /* The issuing CA: a CA certificate that issued no other CA of the set. */
    ca->issuer = anchor;
    for (int i = 0; i < sk_X509_num(ca->certs); i++) {
        X509 *x = sk_X509_value(ca->certs, i);
        if (X509_check_ca(x) && !is_issuer_of_other(ca->certs, x) ) {
            ca->issuer = x;
            break;
        }
    }
    for (int i = 0; i < sk_X509_num(ca->certs); i++) {
        X509 *x = sk_X509_value(ca->certs, i);
        if (X509_check_ca(x))
            continue;
        if (!ca->encrypt && has_ku(x, KU_KEY_ENCIPHERMENT))
            ca->encrypt = x;
        if (!ca->signer && has_ku(x, KU_DIGITAL_SIGNATURE))
            ca->signer = x;
        if (X509_get_key_usage(x) == UINT32_MAX) {
            if (!enc_any)
                enc_any = x;
            if (!sign_any)
                sign_any = x;
        }
    }
    if (!ca->encrypt)
        ca->encrypt = enc_any;
    if (!ca->signer)
        ca->signer = sign_any;
    if (!ca->encrypt && !ca->signer && dropped.code) {
        /* RA certificates were sent but none is usable: encrypting to the
         * CA instead would only fail later, obscurely. */
        r = ae_error_set(err, -EPERM, AE_ERR_PROTOCOL, "GetCACert: RA %s", dropped.message);
        goto out;
    }
    if (!ca->encrypt && !ca->signer)
        ca->encrypt = ca->signer = ca->issuer; /* single-cert CA: it does both */
    if (!ca->encrypt || !ca->signer) {
        r = ae_error_set(err, -EPERM, AE_ERR_PROTOCOL,
                         "GetCACert: RA certificates found but none for %s",
                         ca->encrypt ? "signing (digitalSignature)" : "encryption (keyEncipherment)");
        goto out;
    }
    if (!EVP_PKEY_is_a(X509_get0_pubkey(ca->encrypt), "RSA")) {
        r = ae_error_set(err, -EPERM, AE_ERR_PROTOCOL,
                         "GetCACert: the encryption certificate has no RSA key (SCEP needs key "
                         "transport)");
        goto out;
    }
    *ret = TAKE_PTR(ca);
    r = 0;
out:
    sk_X509_pop_free(all, X509_free);
    scep_ca_free(ca);
    return r;
}

int scep_ca_chain_pem(const ScepCA *ca, char **ret) {
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *s;
    long n;
    int r = -ENOMEM;

    if (!bio)
        return -ENOMEM;
    for (int i = 0; i < sk_X509_num(ca->certs); i++) {
        X509 *x = sk_X509_value(ca->certs, i);
        if ((X509_check_ca(x) || x == ca->anchor) && !PEM_write_bio_X509(bio, x))
            goto out;
    }
    n = BIO_get_mem_data(bio, &data);
    s = malloc((size_t)n + 1);
    if (!s)
        goto out;
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    *ret = s;
    r = 0;
out:
    BIO_free(bio);
    return r;
}

int scep_next_ca_parse(const ScepCA *ca, const uint8_t *body, size_t len, STACK_OF(X509) **ret,
                       AeError *err) {
    const unsigned char *p = body;
    PKCS7 *p7 = NULL, *inner = NULL;
    BIO *out = NULL;
    STACK_OF(X509) *signers = NULL;
    char *data;
    long n;
    int r;

    if (len > (size_t)LONG_MAX)
        return -EFBIG;
    p7 = d2i_PKCS7(NULL, &p, (long)len);
    if (!p7 || p != body + len || !PKCS7_type_is_signed(p7)) {
        r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL,
                         "GetNextCACert: reply is not a complete PKCS#7 SignedData");
        goto out;
    }
    out = BIO_new(BIO_s_mem());
    if (!out) {
        r = -ENOMEM;
        goto out;
    }
    if (PKCS7_verify(p7, ca->certs, NULL, NULL, out,
                     PKCS7_NOVERIFY | PKCS7_NOINTERN | PKCS7_BINARY) != 1) {
        r = ae_error_set(err, -EPERM, AE_ERR_PROTOCOL,
                         "GetNextCACert: reply not signed by the current CA or RA");
        goto out;
    }
    signers = PKCS7_get0_signers(p7, ca->certs, PKCS7_NOINTERN);
    if (!signers || sk_X509_num(signers) != 1 ||
        scep_ca_verify(ca, sk_X509_value(signers, 0), err) < 0) {
        r = -EPERM;
        goto out;
    }
    n = BIO_get_mem_data(out, &data);
    p = (const unsigned char *)data;
    inner = d2i_PKCS7(NULL, &p, n);
    if (!inner || p != (const unsigned char *)data + n || !PKCS7_type_is_signed(inner) ||
        !inner->d.sign->cert || sk_X509_num(inner->d.sign->cert) == 0) {
        r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL,
                         "GetNextCACert: signed content is not a certs-only PKCS#7");
        goto out;
    }
    *ret = TAKE_PTR(inner->d.sign->cert);
    r = 0;
out:
    sk_X509_free(signers);
    BIO_free(out);
    PKCS7_free(inner);
    PKCS7_free(p7);
    return r;
}
