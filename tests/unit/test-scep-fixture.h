/* A tiny fake SCEP CA for unit tests: keys, certificates, GetCACert replies,
 * and a server side that reads our requests and forges CertReps (good ones
 * and every kind of bad one). Test code only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define FX __attribute__((unused)) static

#define KU_ALL_CA (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT | KU_KEY_CERT_SIGN | KU_CRL_SIGN)

FX void fx_die(const char *what) {
    fprintf(stderr, "fixture: %s failed\n", what);
    ERR_print_errors_fp(stderr);
    abort();
}

FX EVP_PKEY *fx_key(void) {
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    if (!k)
        fx_die("keygen");
    return k;
}

/* ku = 0: no keyUsage extension. issuer NULL: self-signed. */
FX X509 *fx_cert(const char *cn, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *issuer_key, unsigned ku,
                 bool ca, long days) {
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    X509V3_CTX ctx;
    char kus[160] = "critical";
    static long serial = 1000;
    X509_EXTENSION *e;

    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), days * 86400);
    X509_set_pubkey(x, pub);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    if (ca) {
        e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    if (ku) {
        if (ku & KU_DIGITAL_SIGNATURE) strcat(kus, ",digitalSignature");
        if (ku & KU_KEY_ENCIPHERMENT) strcat(kus, ",keyEncipherment");
        if (ku & KU_KEY_CERT_SIGN) strcat(kus, ",keyCertSign");
        if (ku & KU_CRL_SIGN) strcat(kus, ",cRLSign");
        e = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, kus);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    if (X509_sign(x, issuer_key, EVP_sha256()) <= 0)
        fx_die("X509_sign");
    X509_NAME_free(n);
    return x;
}

typedef struct Fx {
    EVP_PKEY *ca_key, *enc_key, *sign_key;
    X509 *ca, *ra_enc, *ra_sign;
    uint8_t pin[32];
} Fx;

FX void fx_pin(X509 *x, uint8_t pin[32]) {
    unsigned n = 0;
    X509_digest(x, EVP_sha256(), pin, &n);
}

FX void fx_init(Fx *f) {
    f->ca_key = fx_key();
    f->enc_key = fx_key();
    f->sign_key = fx_key();
    f->ca = fx_cert("Fake SCEP CA", f->ca_key, NULL, f->ca_key, KU_ALL_CA, true, 3650);
    f->ra_enc = fx_cert("Fake RA enc", f->enc_key, f->ca, f->ca_key, KU_KEY_ENCIPHERMENT, false, 365);
    f->ra_sign = fx_cert("Fake RA sign", f->sign_key, f->ca, f->ca_key, KU_DIGITAL_SIGNATURE, false, 365);
    fx_pin(f->ca, f->pin);
}

/* certs-only PKCS#7 (degenerate SignedData), DER. */
FX size_t fx_certs_only(X509 **certs, int n, X509_CRL *crl, uint8_t **ret) {
    PKCS7 *p7 = PKCS7_new();
    unsigned char *der = NULL;
    int len;
    PKCS7_set_type(p7, NID_pkcs7_signed);
    PKCS7_content_new(p7, NID_pkcs7_data);
    for (int i = 0; i < n; i++)
        PKCS7_add_certificate(p7, certs[i]);
    if (crl)
        PKCS7_add_crl(p7, crl);
    len = i2d_PKCS7(p7, &der);
    if (len <= 0)
        fx_die("i2d certs-only");
    PKCS7_free(p7);
    *ret = der;
    return (size_t)len;
}

FX size_t fx_der_cert(X509 *x, uint8_t **ret) {
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    *ret = der;
    return (size_t)n;
}

/* What the server side read from a request. */
typedef struct FxRequest {
    X509 *signer;          /* the request's signer certificate */
    char tid[128];
    uint8_t nonce[16];
    int type;
    char cipher_oid[80];   /* of the request's envelope */
    char digest[32];
    uint8_t *content;      /* decrypted messageData (CSR DER, IssuerAndSubject...) */
    size_t content_len;
} FxRequest;

FX void fx_request_done(FxRequest *r) {
    X509_free(r->signer);
    OPENSSL_free(r->content);
    memset(r, 0, sizeof *r);
}

FX int fx_attr_text(PKCS7_SIGNER_INFO *si, const char *oid, char *buf, size_t size) {
    ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
    int idx = X509at_get_attr_by_OBJ(si->auth_attr, o, -1);
    ASN1_OBJECT_free(o);
    if (idx < 0)
        return -1;
    ASN1_TYPE *t = X509_ATTRIBUTE_get0_type(X509at_get_attr(si->auth_attr, idx), 0);
    int n = ASN1_STRING_length(t->value.asn1_string);
    if ((size_t)n >= size)
        return -1;
    memcpy(buf, ASN1_STRING_get0_data(t->value.asn1_string), (size_t)n);
    buf[n] = 0;
    return n;
}

/* Verify and open a request like a SCEP server would. */
FX int fx_read_request(Fx *f, const uint8_t *der, size_t len, FxRequest *out) {
    const unsigned char *p = der;
    PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len), *env = NULL;
    BIO *content = BIO_new(BIO_s_mem()), *plain = BIO_new(BIO_s_mem());
    char buf[64];
    char *data;
    long n;
    int rc = -1;

    memset(out, 0, sizeof *out);
    if (!p7 || !PKCS7_type_is_signed(p7))
        goto done;
    /* the signer cert is inside (self-signed or the current cert) */
    if (PKCS7_verify(p7, NULL, NULL, NULL, content, PKCS7_NOVERIFY | PKCS7_BINARY) != 1)
        goto done;
    PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7), 0);
    STACK_OF(X509) *signers = PKCS7_get0_signers(p7, NULL, 0);
    out->signer = sk_X509_value(signers, 0);
    X509_up_ref(out->signer);
    sk_X509_free(signers);
    OBJ_obj2txt(out->digest, sizeof out->digest, si->digest_alg->algorithm, 0);
    if (fx_attr_text(si, "2.16.840.1.113733.1.9.7", out->tid, sizeof out->tid) < 0 ||
        fx_attr_text(si, "2.16.840.1.113733.1.9.5", (char *)buf, sizeof buf) != 16 ||
        fx_attr_text(si, "2.16.840.1.113733.1.9.2", buf + 32, 16) < 0)
        goto done;
    fx_attr_text(si, "2.16.840.1.113733.1.9.5", buf, sizeof buf);
    memcpy(out->nonce, buf, 16);
    fx_attr_text(si, "2.16.840.1.113733.1.9.2", buf, sizeof buf);
    out->type = atoi(buf);
    n = BIO_get_mem_data(content, &data);
    p = (const unsigned char *)data;
    env = d2i_PKCS7(NULL, &p, n);
    if (!env || !PKCS7_type_is_enveloped(env))
        goto done;
    OBJ_obj2txt(out->cipher_oid, sizeof out->cipher_oid,
                env->d.enveloped->enc_data->algorithm->algorithm, 1);
    if (PKCS7_decrypt(env, f->enc_key, f->ra_enc, plain, 0) != 1)
        goto done;
    n = BIO_get_mem_data(plain, &data);
    out->content = OPENSSL_memdup(data, (size_t)n);
    out->content_len = (size_t)n;
    rc = 0;
done:
    PKCS7_free(env);
    PKCS7_free(p7);
    BIO_free(content);
    BIO_free(plain);
    return rc;
}

/* How to forge a CertRep. Zero = a correct reply. */
typedef struct FxReply {
    X509 *signer;          /* NULL = RA sign */
    EVP_PKEY *signer_key;
    const char *msg_type;  /* NULL = "3" */
    const char *status;    /* NULL = "0" */
    const char *tid;       /* NULL = echo */
    bool other_nonce;      /* recipientNonce random instead of echo */
    bool no_nonce;
    EVP_PKEY *issue_for;   /* NULL = the CSR's key */
    const char *cipher;    /* NULL = DES-EDE3-CBC; "DES-CBC" via legacy */
    const char *fail_info;
    const char *fail_text;
    const char *hresult;
    bool detached;         /* PENDING/FAILURE without content */
    bool crl;              /* answer with a CRL */
    bool corrupt_sig;
    const uint8_t *issued_for_csr; /* CSR DER to issue for, instead of request content */
    size_t issued_for_csr_len;
} FxReply;

FX int fx_add_attr(PKCS7_SIGNER_INFO *si, const char *oid, int type, const void *d, int n) {
    ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
    int ok = X509at_add1_attr_by_OBJ(&si->auth_attr, o, type, d, n) != NULL;
    ASN1_OBJECT_free(o);
    return ok;
}

FX X509 *fx_issue(Fx *f, EVP_PKEY *pub) {
    return fx_cert("issued", pub, f->ca, f->ca_key, KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT,
                   false, 30);
}

FX size_t fx_certrep(Fx *f, const FxRequest *req, const FxReply *o, uint8_t **ret) {
    static const FxReply dflt;
    PKCS7 *p7 = PKCS7_new(), *env = NULL;
    uint8_t nonce[16], rnonce[16];
    uint8_t *inner = NULL, *envder = NULL;
    size_t innerlen = 0;
    int envlen = 0, n;
    unsigned char *der = NULL;
    const char *status;
    OSSL_LIB_CTX *legacy = NULL;
    OSSL_PROVIDER *p1 = NULL, *p2 = NULL;

    if (!o)
        o = &dflt;
    status = o->status ? o->status : "0";
    RAND_bytes(nonce, 16);
    memcpy(rnonce, req->nonce, 16);
    if (o->other_nonce)
        RAND_bytes(rnonce, 16);

    if (streq(status, "0")) {
        if (o->crl) {
            X509_CRL *crl = X509_CRL_new();
            X509_CRL_set_version(crl, X509_CRL_VERSION_2);
            X509_CRL_set_issuer_name(crl, X509_get_subject_name(f->ca));
            ASN1_TIME *t = ASN1_TIME_set(NULL, time(NULL));
            X509_CRL_set1_lastUpdate(crl, t);
            ASN1_TIME_free(t);
            X509_CRL_sign(crl, f->ca_key, EVP_sha256());
            innerlen = fx_certs_only(NULL, 0, crl, &inner);
            X509_CRL_free(crl);
        } else {
            EVP_PKEY *pub = o->issue_for;
            X509_REQ *csr = NULL;
            if (!pub) {
                const unsigned char *p = o->issued_for_csr ? o->issued_for_csr : req->content;
                csr = d2i_X509_REQ(NULL, &p, (long)(o->issued_for_csr ? o->issued_for_csr_len
                                                                     : req->content_len));
                if (!csr)
                    fx_die("d2i CSR");
                pub = X509_REQ_get0_pubkey(csr);
            }
            X509 *issued = fx_issue(f, pub);
            X509 *certs[] = { issued };
            innerlen = fx_certs_only(certs, 1, NULL, &inner);
            X509_free(issued);
            X509_REQ_free(csr);
        }
        const char *cname = o->cipher ? o->cipher : "DES-EDE3-CBC";
        if (streq(cname, "DES-CBC")) {
            legacy = OSSL_LIB_CTX_new();
            p1 = OSSL_PROVIDER_load(legacy, "legacy");
            p2 = OSSL_PROVIDER_load(legacy, "default");
        }
        EVP_CIPHER *c = EVP_CIPHER_fetch(legacy, cname, NULL);
        STACK_OF(X509) *to = sk_X509_new_null();
        sk_X509_push(to, req->signer);
        BIO *in = BIO_new_mem_buf(inner, (int)innerlen);
        env = PKCS7_encrypt_ex(to, in, c, PKCS7_BINARY, legacy, NULL);
        if (!env)
            fx_die("encrypt reply");
        envlen = i2d_PKCS7(env, &envder);
        BIO_free(in);
        sk_X509_free(to);
        EVP_CIPHER_free(c);
    }

    PKCS7_set_type(p7, NID_pkcs7_signed);
    PKCS7_content_new(p7, NID_pkcs7_data);
    X509 *signer = o->signer ? o->signer : f->ra_sign;
    EVP_PKEY *skey = o->signer ? o->signer_key : f->sign_key;
    PKCS7_SIGNER_INFO *si = PKCS7_add_signature(p7, signer, skey, EVP_sha1());
    PKCS7_add_certificate(p7, signer);
    PKCS7_add_signed_attribute(si, NID_pkcs9_contentType, V_ASN1_OBJECT, OBJ_nid2obj(NID_pkcs7_data));
    const char *mt = o->msg_type ? o->msg_type : "3";
    const char *tid = o->tid ? o->tid : req->tid;
    fx_add_attr(si, "2.16.840.1.113733.1.9.2", V_ASN1_PRINTABLESTRING, mt, (int)strlen(mt));
    fx_add_attr(si, "2.16.840.1.113733.1.9.3", V_ASN1_PRINTABLESTRING, status, (int)strlen(status));
    fx_add_attr(si, "2.16.840.1.113733.1.9.7", V_ASN1_PRINTABLESTRING, tid, (int)strlen(tid));
    fx_add_attr(si, "2.16.840.1.113733.1.9.5", V_ASN1_OCTET_STRING, nonce, 16);
    if (!o->no_nonce)
        fx_add_attr(si, "2.16.840.1.113733.1.9.6", V_ASN1_OCTET_STRING, rnonce, 16);
    if (o->fail_info)
        fx_add_attr(si, "2.16.840.1.113733.1.9.4", V_ASN1_PRINTABLESTRING, o->fail_info,
                    (int)strlen(o->fail_info));
    if (o->fail_text)
        fx_add_attr(si, "1.3.6.1.5.5.7.24.1", V_ASN1_UTF8STRING, o->fail_text, (int)strlen(o->fail_text));
    if (o->hresult)
        fx_add_attr(si, "1.3.6.1.4.1.311.21.33", V_ASN1_PRINTABLESTRING, o->hresult,
                    (int)strlen(o->hresult));
    if (o->detached)
        PKCS7_set_detached(p7, 1);
    BIO *bio = PKCS7_dataInit(p7, NULL);
    if (envder)
        BIO_write(bio, envder, envlen);
    BIO_flush(bio);
    if (!PKCS7_dataFinal(p7, bio))
        fx_die("sign reply");
    BIO_free_all(bio);
    if (o->corrupt_sig) {
        ASN1_OCTET_STRING *sig = si->enc_digest;
        sig->data[sig->length / 2] ^= 0x55;
    }
    n = i2d_PKCS7(p7, &der);
    if (n <= 0)
        fx_die("i2d reply");
    PKCS7_free(p7);
    PKCS7_free(env);
    OPENSSL_free(inner);
    OPENSSL_free(envder);
    OSSL_PROVIDER_unload(p1);
    OSSL_PROVIDER_unload(p2);
    OSSL_LIB_CTX_free(legacy);
    *ret = der;
    return (size_t)n;
}
