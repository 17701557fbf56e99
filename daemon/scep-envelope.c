/* PKCS#7 EnvelopedData for SCEP. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>

#include "daemon/scep-envelope.h"
#include "daemon/util.h"

static const struct {
    const char *oid, *name;
    int legacy;
} ciphers[] = {
    { "2.16.840.1.101.3.4.1.2", "AES-128-CBC", 0 },
    { "2.16.840.1.101.3.4.1.22", "AES-192-CBC", 0 },
    { "2.16.840.1.101.3.4.1.42", "AES-256-CBC", 0 },
    { "1.2.840.113549.3.7", "DES-EDE3-CBC", 0 },
    { "1.3.14.3.2.7", "DES-CBC", 1 },
};

int scep_envelope_seal(X509 *recipient, const char *cipher, const uint8_t *data, size_t len,
                       uint8_t **ret_der, size_t *ret_len) {
    STACK_OF(X509) *to = NULL;
    EVP_CIPHER *c = NULL;
    BIO *in = NULL;
    PKCS7 *p7 = NULL;
    unsigned char *der = NULL;
    int n, r = -ENOMEM;

    if (!recipient || !cipher || !data || !ret_der || !ret_len || len > INT_MAX)
        return -EINVAL;
    if (strcasecmp(cipher, "DES-CBC") == 0 || strcasecmp(cipher, "DES") == 0)
        return -EINVAL; /* never send single DES */
    c = EVP_CIPHER_fetch(NULL, cipher, NULL);
    if (!c) {
        r = -ENOTSUP;
        goto out;
    }
    to = sk_X509_new_null();
    in = BIO_new_mem_buf(data, (int)len);
    if (!to || !in || !sk_X509_push(to, recipient))
        goto out;
    p7 = PKCS7_encrypt_ex(to, in, c, PKCS7_BINARY, NULL, NULL);
    if (!p7) {
        r = -EIO;
        goto out;
    }
    n = i2d_PKCS7(p7, &der);
    if (n <= 0) {
        r = -EIO;
        goto out;
    }
    *ret_der = der;
    *ret_len = (size_t)n;
    r = 0;
out:
    PKCS7_free(p7);
    BIO_free(in);
    sk_X509_free(to);
    EVP_CIPHER_free(c);
    return r;
}

/* A private library context with the legacy provider, for single DES only.
 * Never the default context: nothing else in the process sees legacy
 * algorithms. */
static OSSL_LIB_CTX *legacy_ctx_new(OSSL_PROVIDER **ret_legacy, OSSL_PROVIDER **ret_default) {
    OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
    if (!ctx)
        return NULL;
    *ret_legacy = OSSL_PROVIDER_load(ctx, "legacy");
    *ret_default = OSSL_PROVIDER_load(ctx, "default");
    if (!*ret_legacy || !*ret_default) {
        OSSL_PROVIDER_unload(*ret_legacy);
        OSSL_PROVIDER_unload(*ret_default);
        OSSL_LIB_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static PKCS7_RECIP_INFO *find_recipient(STACK_OF(PKCS7_RECIP_INFO) *ris, X509 *cert) {
    for (int i = 0; i < sk_PKCS7_RECIP_INFO_num(ris); i++) {
        PKCS7_RECIP_INFO *ri = sk_PKCS7_RECIP_INFO_value(ris, i);
        if (ri && ri->issuer_and_serial &&
            X509_NAME_cmp(ri->issuer_and_serial->issuer, X509_get_issuer_name(cert)) == 0 &&
            ASN1_INTEGER_cmp(ri->issuer_and_serial->serial, X509_get0_serialNumber(cert)) == 0)
            return ri;
    }
    return NULL;
}

int scep_envelope_open(const uint8_t *der, size_t len, X509 *cert, EVP_PKEY *key, int allow_des,
                       uint8_t **ret, size_t *ret_len, const char **ret_cipher, AeError *err) {
    const unsigned char *p = der;
    PKCS7 *p7 = NULL;
    PKCS7_RECIP_INFO *ri;
    PKCS7_ENC_CONTENT *ec;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_CIPHER_CTX *cctx = NULL;
    EVP_CIPHER *cipher = NULL;
    OSSL_LIB_CTX *libctx = NULL;
    OSSL_PROVIDER *legacy = NULL, *dflt = NULL;
    uint8_t *cek = NULL, *out = NULL;
    size_t ceklen = 0, cekalloc = 0;
    char oid[80];
    int idx = -1, outl = 0, finl = 0, r;

    if (!der || !cert || !key || !ret || !ret_len || len > INT_MAX)
        return -EINVAL;
    p7 = d2i_PKCS7(NULL, &p, (long)len);
    if (!p7 || p != der + len || !PKCS7_type_is_enveloped(p7) || !p7->d.enveloped) {
        r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL,
                         "CertRep: pkcsPKIEnvelope is not a complete PKCS#7 EnvelopedData");
        goto out;
    }
    ri = find_recipient(p7->d.enveloped->recipientinfo, cert);
    if (!ri) {
        r = ae_error_set(err, -EPERM, AE_ERR_PROTOCOL,
                         "CertRep: the reply is not encrypted to our certificate");
        goto out;
    }
    if (!ri->key_enc_algor || OBJ_obj2nid(ri->key_enc_algor->algorithm) != NID_rsaEncryption ||
        !ri->enc_key || ri->enc_key->length <= 0) {
        r = ae_error_set(err, -ENOTSUP, AE_ERR_PROTOCOL,
                         "CertRep: content key not transported with rsaEncryption");
        goto out;
    }
    ec = p7->d.enveloped->enc_data;
    if (!ec || !ec->algorithm || !ec->enc_data || ec->enc_data->length <= 0) {
        r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL, "CertRep: envelope has no encrypted content");
        goto out;
    }
    if (OBJ_obj2txt(oid, sizeof oid, ec->algorithm->algorithm, 1) <= 0)
        oid[0] = '\0';
    for (size_t i = 0; i < ELEMENTSOF(ciphers); i++)
        if (streq(oid, ciphers[i].oid))
            idx = (int)i;
    if (idx < 0) {
        r = ae_error_set(err, -ENOTSUP, AE_ERR_PROTOCOL,
                         "CertRep: envelope uses an unsupported cipher (OID %s)", oid);
        goto out;
    }
    if (ciphers[idx].legacy) {
        if (!allow_des) {
            r = ae_error_set(err, -EPERM, AE_ERR_PROTOCOL,
                             "CertRep: the server encrypted its reply with single DES; refused "
                             "(set allow_des=true for this CA to accept it)");
            goto out;
        }
        libctx = legacy_ctx_new(&legacy, &dflt);
        if (!libctx) {
            r = ae_error_set(err, -ENOTSUP, AE_ERR_PROTOCOL,
                             "CertRep: single DES needs OpenSSL's legacy provider, which did not load");
            goto out;
        }
    }
    cipher = EVP_CIPHER_fetch(libctx, oid, NULL);
    if (!cipher) {
        r = ae_error_set(err, -ENOTSUP, AE_ERR_PROTOCOL, "CertRep: cipher %s not available",
                         ciphers[idx].name);
        goto out;
    }
    if (!ec->algorithm->parameter || ec->algorithm->parameter->type != V_ASN1_OCTET_STRING ||
        ASN1_STRING_length(ec->algorithm->parameter->value.octet_string) !=
            EVP_CIPHER_get_iv_length(cipher)) {
        r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL, "CertRep: envelope has a bad IV");
        goto out;
    }

    /* The content-encryption key, decrypted by our key wherever it lives. */
    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    if (!pctx || EVP_PKEY_decrypt_init(pctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_decrypt(pctx, NULL, &ceklen, ri->enc_key->data, (size_t)ri->enc_key->length) <= 0) {
        r = ae_error_set(err, -EIO, AE_ERR_TOKEN, "CertRep: our key cannot decrypt (RSA key needed)");
        goto out;
    }
    cekalloc = ceklen ? ceklen : 1;
    cek = OPENSSL_malloc(cekalloc);
    if (!cek) {
        r = -ENOMEM;
        goto out;
    }
    if (EVP_PKEY_decrypt(pctx, cek, &ceklen, ri->enc_key->data, (size_t)ri->enc_key->length) <= 0 ||
        ceklen != (size_t)EVP_CIPHER_get_key_length(cipher)) {
        r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL,
                         "CertRep: cannot decrypt the content key (not encrypted to our key?)");
        goto out;
    }
    out = malloc((size_t)ec->enc_data->length + (size_t)EVP_CIPHER_get_block_size(cipher) + 1);
    cctx = EVP_CIPHER_CTX_new();
    if (!out || !cctx) {
        r = -ENOMEM;
        goto out;
    }
    if (!EVP_DecryptInit_ex2(cctx, cipher, cek,
                             ASN1_STRING_get0_data(ec->algorithm->parameter->value.octet_string),
                             NULL) ||
        !EVP_DecryptUpdate(cctx, out, &outl, ec->enc_data->data, ec->enc_data->length) ||
        !EVP_DecryptFinal_ex(cctx, out + outl, &finl)) {
        r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL,
                         "CertRep: decrypting the envelope failed (bad padding)");
        goto out;
    }
    *ret = TAKE_PTR(out);
    *ret_len = (size_t)(outl + finl);
    if (ret_cipher)
        *ret_cipher = ciphers[idx].name;
    r = 0;
out:
    ERR_clear_error();
    if (cek)
        OPENSSL_clear_free(cek, cekalloc);
    free(out);
    EVP_CIPHER_CTX_free(cctx);
    EVP_CIPHER_free(cipher);
    EVP_PKEY_CTX_free(pctx);
    OSSL_PROVIDER_unload(legacy);
    OSSL_PROVIDER_unload(dflt);
    OSSL_LIB_CTX_free(libctx);
    PKCS7_free(p7);
    return r;
}
