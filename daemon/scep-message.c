/* SCEP pkiMessages: requests and CertRep checks. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "daemon/scep-caps.h"
#include "daemon/scep-envelope.h"
#include "daemon/scep-message.h"
#include "daemon/scep-private.h"
#include "daemon/util.h"

#define SIGNER_BACKDATE (60 * 60)
#define SIGNER_LIFETIME (365L * 24 * 60 * 60)

ScepTransaction *scep_transaction_free(ScepTransaction *t) {
    if (t) {
        X509_free(t->signer_cert);
        EVP_PKEY_free(t->signer_key);
        EVP_PKEY_free(t->request_key);
        X509_NAME_free(t->subject);
        OPENSSL_cleanse(t, sizeof *t);
        free(t);
    }
    return NULL;
}

const char *scep_transaction_get_id(const ScepTransaction *t) { return t->id; }
bool scep_transaction_is_renewal(const ScepTransaction *t) { return t->renewal; }

static void hex(const uint8_t *in, size_t n, char *out) {
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int transaction_id(EVP_PKEY *key, char out[2 * 32 + 1]) {
    unsigned char *der = NULL;
    uint8_t md[32];
    int n = i2d_PUBKEY(key, &der);
    int ok = n > 0 && EVP_Digest(der, (size_t)n, md, NULL, EVP_sha256(), NULL);
    OPENSSL_free(der);
    if (!ok)
        return -EINVAL;
    hex(md, sizeof md, out);
    return 0;
}

static int self_signed(EVP_PKEY *key, const X509_NAME *subject, X509 **ret) {
    X509 *x = X509_new();
    ASN1_INTEGER *serial = NULL;
    BIGNUM *bn = BN_new();
    int r = -EIO;

    if (!x || !bn || !BN_rand(bn, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !(serial = BN_to_ASN1_INTEGER(bn, NULL)) || !X509_set_version(x, X509_VERSION_3) ||
        !X509_set_serialNumber(x, serial) || !X509_set_subject_name(x, subject) ||
        !X509_set_issuer_name(x, subject) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -SIGNER_BACKDATE) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), SIGNER_LIFETIME) || !X509_set_pubkey(x, key))
        goto out;
    if (X509_sign(x, key, EVP_sha256()) <= 0)
        goto out;
    *ret = TAKE_PTR(x);
    r = 0;
out:
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    X509_free(x);
    return r;
}

static int transaction_alloc(EVP_PKEY *signer_key, EVP_PKEY *request_key, ScepTransaction **ret) {
    ScepTransaction *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    if (!EVP_PKEY_up_ref(signer_key)) {
        free(t);
        return -ENOMEM;
    }
    t->signer_key = signer_key;
    if (!EVP_PKEY_up_ref(request_key)) {
        scep_transaction_free(t);
        return -ENOMEM;
    }
    t->request_key = request_key;
    *ret = t;
    return 0;
}

int scep_transaction_new(EVP_PKEY *key, X509_REQ *csr, ScepTransaction **ret, AeError *err) {
    ScepTransaction *t = NULL;
    int r;

    if (!key || !csr || !ret)
        return -EINVAL;
    if (!EVP_PKEY_is_a(key, "RSA"))
        return ae_error_set(err, -EINVAL, AE_ERR_CONFIG,
                            "SCEP needs an RSA key (the reply is encrypted to it)");
    if ((r = transaction_alloc(key, key, &t)) < 0)
        return r;
    if (!(t->subject = X509_NAME_dup(X509_REQ_get_subject_name(csr)))) {
        r = -ENOMEM;
        goto out;
    }
    if ((r = transaction_id(key, t->id)) < 0 ||
        (r = self_signed(key, t->subject, &t->signer_cert)) < 0) {
        r = ae_error_set(err, r, AE_ERR_TOKEN, "cannot make the self-signed SCEP signer");
        goto out;
    }
    *ret = TAKE_PTR(t);
    r = 0;
out:
    scep_transaction_free(t);
    return r;
}

int scep_transaction_new_renewal(EVP_PKEY *new_key, X509_REQ *csr, X509 *current_cert,
                                 EVP_PKEY *current_key, ScepTransaction **ret, AeError *err) {
    ScepTransaction *t = NULL;
    int r;

    if (!new_key || !csr || !current_cert || !current_key || !ret)
        return -EINVAL;
    if (EVP_PKEY_eq(X509_get0_pubkey(current_cert), current_key) != 1)
        return ae_error_set(err, -EINVAL, AE_ERR_CONFIG,
                            "renewal: the current key does not match the current certificate");
    if (!EVP_PKEY_is_a(current_key, "RSA") || !EVP_PKEY_is_a(new_key, "RSA"))
        return ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "SCEP needs RSA keys");
    if ((r = transaction_alloc(current_key, new_key, &t)) < 0)
        return r;
    t->renewal = true;
    if (!(t->subject = X509_NAME_dup(X509_REQ_get_subject_name(csr))) ||
        !X509_up_ref(current_cert)) {
        r = -ENOMEM;
        goto out;
    }
    t->signer_cert = current_cert;
    if ((r = transaction_id(new_key, t->id)) < 0)
        goto out;
    *ret = TAKE_PTR(t);
    r = 0;
out:
    scep_transaction_free(t);
    return r;
}

void scep_state_done(ScepState *s) {
    if (s) {
        free(s->transaction_id);
        free(s->sender_nonce);
        free(s->signer_pem);
        free(s->subject);
        memset(s, 0, sizeof *s);
    }
}

int scep_transaction_export(const ScepTransaction *t, ScepState *ret) {
    ScepState s = { .renewal = t->renewal };
    BIO *bio = NULL;
    unsigned char *der = NULL;
    char *data;
    long n;
    int dn, r = -ENOMEM;

    if (!(s.transaction_id = strdup(t->id)) || !(s.sender_nonce = malloc(2 * SCEP_NONCE_LEN + 1)))
        goto out;
    if (t->have_nonce)
        hex(t->nonce, SCEP_NONCE_LEN, s.sender_nonce);
    else
        s.sender_nonce[0] = '\0';
    if (!(bio = BIO_new(BIO_s_mem())) || !PEM_write_bio_X509(bio, t->signer_cert))
        goto out;
    n = BIO_get_mem_data(bio, &data);
    if (!(s.signer_pem = strndup(data, (size_t)n)))
        goto out;
    dn = i2d_X509_NAME(t->subject, &der);
    if (dn <= 0 || !(s.subject = malloc(4 * (((size_t)dn + 2) / 3) + 1)))
        goto out;
    EVP_EncodeBlock((unsigned char *)s.subject, der, dn);
    *ret = s;
    memset(&s, 0, sizeof s);
    r = 0;
out:
    OPENSSL_free(der);
    BIO_free(bio);
    scep_state_done(&s);
    return r;
}

static int unhex(const char *s, uint8_t *out, size_t n) {
    if (strlen(s) != 2 * n)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -EINVAL;
        out[i] = (uint8_t)v;
    }
    return 0;
}

int scep_transaction_import(const ScepState *s, EVP_PKEY *signer_key, EVP_PKEY *request_key,
                            ScepTransaction **ret, AeError *err) {
    ScepTransaction *t = NULL;
    BIO *bio = NULL;
    _cleanup_free_ unsigned char *der = NULL;
    const unsigned char *p;
    size_t slen;
    int n, r;

    if (!s || !s->transaction_id || !s->sender_nonce || !s->signer_pem || !s->subject ||
        !signer_key || !request_key || !ret)
        return -EINVAL;
    if ((r = transaction_alloc(signer_key, request_key, &t)) < 0)
        return r;
    r = ae_error_set(err, -EINVAL, AE_ERR_STORAGE, "stored SCEP transaction is damaged");
    slen = strlen(s->transaction_id);
    if (slen == 0 || slen >= sizeof t->id)
        goto out;
    memcpy(t->id, s->transaction_id, slen + 1);
    for (const char *c = t->id; *c; c++)
        if (!strchr("0123456789ABCDEFabcdefghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ '()+,-./:=?", *c))
            goto out;
    if (s->sender_nonce[0]) {
        if (unhex(s->sender_nonce, t->nonce, SCEP_NONCE_LEN) < 0)
            goto out;
        t->have_nonce = true;
    }
    if (!(bio = BIO_new_mem_buf(s->signer_pem, -1)) ||
        !(t->signer_cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
        goto out;
    if (EVP_PKEY_eq(X509_get0_pubkey(t->signer_cert), signer_key) != 1) {
        r = ae_error_set(err, -EINVAL, AE_ERR_STORAGE,
                         "stored SCEP signer certificate does not match the signing key");
        goto out;
    }
    slen = strlen(s->subject);
    if (slen == 0 || slen > 65536 || !(der = malloc(slen)))
        goto out;
    n = EVP_DecodeBlock(der, (const unsigned char *)s->subject, (int)slen);
    p = der;
    if (n <= 0 || !(t->subject = d2i_X509_NAME(NULL, &p, n)))
        goto out;
    t->renewal = s->renewal;
    t->last_type = t->renewal ? SCEP_MSG_RENEWALREQ : SCEP_MSG_PKCSREQ;
    *ret = TAKE_PTR(t);
    r = 0;
    ae_error_clear(err);
out:
    BIO_free(bio);
    scep_transaction_free(t);
    return r;
}

/* --- building ------------------------------------------------------- */

static int add_attr(PKCS7_SIGNER_INFO *si, const char *oid, int type, const void *data, int len) {
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    int ok = obj && X509at_add1_attr_by_OBJ(&si->auth_attr, obj, type, data, len) != NULL;
    ASN1_OBJECT_free(obj);
    return ok ? 0 : -ENOMEM;
}

static int build(ScepTransaction *t, const ScepCA *ca, unsigned caps, int type,
                 const uint8_t *content, size_t clen, uint8_t **ret_der, size_t *ret_len,
                 AeError *err) {
    _cleanup_free_ uint8_t *env = NULL;
    size_t envlen = 0;
    uint8_t nonce[SCEP_NONCE_LEN];
    char type_str[8];
    PKCS7 *p7 = NULL;
    PKCS7_SIGNER_INFO *si;
    EVP_MD *md = NULL;
    BIO *bio = NULL;
    unsigned char *der = NULL;
    int n, r;

    if (!t || !ca || !content || !ret_der || !ret_len)
        return -EINVAL;
    r = scep_envelope_seal(scep_ca_get_encrypt(ca), scep_caps_cipher(caps), content, clen, &env,
                           &envlen);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_PROTOCOL, "cannot encrypt the request to the RA (%s)",
                            scep_caps_cipher(caps));
    if (envlen > INT_MAX || RAND_bytes(nonce, sizeof nonce) != 1)
        return -EIO;
    md = EVP_MD_fetch(NULL, scep_caps_digest(caps), NULL);
    p7 = PKCS7_new();
    r = -ENOMEM;
    if (!md || !p7 || !PKCS7_set_type(p7, NID_pkcs7_signed) ||
        !PKCS7_content_new(p7, NID_pkcs7_data))
        goto out;
    si = PKCS7_add_signature(p7, t->signer_cert, t->signer_key, md);
    if (!si) {
        r = ae_error_set(err, -EIO, AE_ERR_TOKEN, "cannot set up the request signature");
        goto out;
    }
    if (!PKCS7_add_certificate(p7, t->signer_cert) ||
        !PKCS7_add_signed_attribute(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
                                    OBJ_nid2obj(NID_pkcs7_data)))
        goto out;
    snprintf(type_str, sizeof type_str, "%d", type);
    if (add_attr(si, OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, type_str, (int)strlen(type_str)) < 0 ||
        add_attr(si, OID_TRANSACTION_ID, V_ASN1_PRINTABLESTRING, t->id, (int)strlen(t->id)) < 0 ||
        add_attr(si, OID_SENDER_NONCE, V_ASN1_OCTET_STRING, nonce, sizeof nonce) < 0)
        goto out;
    bio = PKCS7_dataInit(p7, NULL);
    if (!bio || BIO_write(bio, env, (int)envlen) != (int)envlen || BIO_flush(bio) != 1)
        goto out;
    if (!PKCS7_dataFinal(p7, bio)) {
        unsigned long e = ERR_peek_last_error();
        const char *why = e ? ERR_reason_error_string(e) : NULL;
        r = ae_error_set(err, -EIO, AE_ERR_TOKEN, "signing the SCEP request failed: %s",
                         why ? why : "unknown error");
        goto out;
    }
    n = i2d_PKCS7(p7, &der);
    if (n <= 0)
        goto out;
    memcpy(t->nonce, nonce, sizeof nonce);
    t->have_nonce = true;
    t->last_type = type;
    *ret_der = der;
    *ret_len = (size_t)n;
    r = 0;
out:
    ERR_clear_error();
    BIO_free_all(bio);
    PKCS7_free(p7);
    EVP_MD_free(md);
    return r;
}

int scep_build_pkcsreq(ScepTransaction *t, const ScepCA *ca, unsigned caps, X509_REQ *csr,
                       uint8_t **ret_der, size_t *ret_len, AeError *err) {
    unsigned char *der = NULL;
    int n, r;

    if (!csr)
        return -EINVAL;
    if (EVP_PKEY_eq(X509_REQ_get0_pubkey(csr), t->request_key) != 1)
        return ae_error_set(err, -EINVAL, AE_ERR_INTERNAL, "the CSR is not for the request key");
    n = i2d_X509_REQ(csr, &der);
    if (n <= 0)
        return -ENOMEM;
    r = build(t, ca, caps, t->renewal ? SCEP_MSG_RENEWALREQ : SCEP_MSG_PKCSREQ, der, (size_t)n,
              ret_der, ret_len, err);
    OPENSSL_free(der);
    return r;
}

/* IssuerAndSubject ::= SEQUENCE { issuer Name, subject Name } */
int scep_build_certpoll(ScepTransaction *t, const ScepCA *ca, unsigned caps, uint8_t **ret_der,
                        size_t *ret_len, AeError *err) {
    unsigned char *a = NULL, *b = NULL;
    int la = i2d_X509_NAME(X509_get_subject_name(scep_ca_get_issuer(ca)), &a);
    int lb = i2d_X509_NAME(t->subject, &b);
    int r = -ENOMEM;
    _cleanup_free_ uint8_t *seq = NULL;
    size_t body, hdr = 0;

    if (la <= 0 || lb <= 0)
        goto out;
    body = (size_t)la + (size_t)lb;
    seq = malloc(body + 6);
    if (!seq)
        goto out;
    seq[hdr++] = 0x30;
    if (body < 0x80)
        seq[hdr++] = (uint8_t)body;
    else if (body < 0x100) {
        seq[hdr++] = 0x81;
        seq[hdr++] = (uint8_t)body;
    } else if (body < 0x10000) {
        seq[hdr++] = 0x82;
        seq[hdr++] = (uint8_t)(body >> 8);
        seq[hdr++] = (uint8_t)body;
    } else
        goto out;
    memcpy(seq + hdr, a, (size_t)la);
    memcpy(seq + hdr + la, b, (size_t)lb);
    r = build(t, ca, caps, SCEP_MSG_CERTPOLL, seq, hdr + body, ret_der, ret_len, err);
out:
    OPENSSL_free(a);
    OPENSSL_free(b);
    return r;
}

static int build_ias(ScepTransaction *t, const ScepCA *ca, unsigned caps, int type,
                     const X509_NAME *issuer, const ASN1_INTEGER *serial, uint8_t **ret_der,
                     size_t *ret_len, AeError *err) {
    PKCS7_ISSUER_AND_SERIAL *ias = PKCS7_ISSUER_AND_SERIAL_new();
    unsigned char *der = NULL;
    int n, r = -ENOMEM;

    if (!issuer || !serial)
        r = -EINVAL;
    else if (ias && X509_NAME_set(&ias->issuer, (X509_NAME *)issuer)) {
        ASN1_INTEGER_free(ias->serial);
        ias->serial = ASN1_INTEGER_dup(serial);
        if (ias->serial && (n = i2d_PKCS7_ISSUER_AND_SERIAL(ias, &der)) > 0)
            r = build(t, ca, caps, type, der, (size_t)n, ret_der, ret_len, err);
    }
    OPENSSL_free(der);
    PKCS7_ISSUER_AND_SERIAL_free(ias);
    return r;
}

int scep_build_getcert(ScepTransaction *t, const ScepCA *ca, unsigned caps,
                       const X509_NAME *issuer, const ASN1_INTEGER *serial, uint8_t **ret_der,
                       size_t *ret_len, AeError *err) {
    return build_ias(t, ca, caps, SCEP_MSG_GETCERT, issuer, serial, ret_der, ret_len, err);
}

int scep_build_getcrl(ScepTransaction *t, const ScepCA *ca, unsigned caps, X509 *cert,
                      uint8_t **ret_der, size_t *ret_len, AeError *err) {
    if (!cert)
        return -EINVAL;
    return build_ias(t, ca, caps, SCEP_MSG_GETCRL, X509_get_issuer_name(cert),
                     X509_get0_serialNumber(cert), ret_der, ret_len, err);
}
