/* CertRep: every check of RFC 8894 §3.3.2 / DESIGN §3, in order, each with
 * its own message. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "daemon/scep-envelope.h"
#include "daemon/scep-message.h"
#include "daemon/scep-private.h"
#include "daemon/util.h"

ScepReply *scep_reply_free(ScepReply *r) {
    if (r) {
        free(r->fail_info_text);
        X509_free(r->cert);
        sk_X509_pop_free(r->certs, X509_free);
        X509_CRL_free(r->crl);
        free(r);
    }
    return NULL;
}

/* The single value of a signed attribute: NULL when absent; *dup set when
 * the attribute occurs twice or holds several values. */
static ASN1_TYPE *attr_value(PKCS7_SIGNER_INFO *si, const char *oid, bool *dup) {
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    ASN1_TYPE *v = NULL;
    int idx;

    if (!obj)
        return NULL;
    idx = X509at_get_attr_by_OBJ(si->auth_attr, obj, -1);
    if (idx >= 0) {
        X509_ATTRIBUTE *a = X509at_get_attr(si->auth_attr, idx);
        if (X509at_get_attr_by_OBJ(si->auth_attr, obj, idx) >= 0 || X509_ATTRIBUTE_count(a) != 1)
            *dup = true;
        else
            v = X509_ATTRIBUTE_get0_type(a, 0);
    }
    ASN1_OBJECT_free(obj);
    return v;
}

static bool is_text(const ASN1_TYPE *v) {
    return v && (v->type == V_ASN1_PRINTABLESTRING || v->type == V_ASN1_UTF8STRING ||
                 v->type == V_ASN1_IA5STRING || v->type == V_ASN1_OCTET_STRING);
}

/* Copy a short text attribute into buf (NUL-terminated, no embedded NUL). */
static int attr_text(PKCS7_SIGNER_INFO *si, const char *oid, char *buf, size_t size, bool *dup) {
    ASN1_TYPE *v = attr_value(si, oid, dup);
    const ASN1_STRING *s;
    int n;

    if (!v)
        return *dup ? -EBADMSG : -ENOENT;
    if (!is_text(v))
        return -EBADMSG;
    s = v->value.asn1_string;
    n = ASN1_STRING_length(s);
    if (n < 0 || (size_t)n >= size || memchr(ASN1_STRING_get0_data(s), 0, (size_t)n))
        return -EBADMSG;
    memcpy(buf, ASN1_STRING_get0_data(s), (size_t)n);
    buf[n] = '\0';
    return 0;
}

static int small_int(const char *s, int *ret) {
    char *end;
    long v;
    if (!*s || strlen(s) > 4)
        return -EINVAL;
    v = strtol(s, &end, 10);
    if (*end || v < 0)
        return -EINVAL;
    *ret = (int)v;
    return 0;
}

static int open_content(ScepTransaction *t, ScepReply *reply, const uint8_t *env, size_t envlen,
                        bool allow_des, AeError *err) {
    _cleanup_free_ uint8_t *plain = NULL;
    size_t plen = 0;
    const unsigned char *p;
    PKCS7 *inner = NULL;
    int r;

    r = scep_envelope_open(env, envlen, t->signer_cert, t->signer_key, allow_des, &plain, &plen,
                           &reply->cipher, err);
    if (r < 0)
        return r;
    reply->used_des = reply->cipher && streq(reply->cipher, "DES-CBC");
    p = plain;
    if (plen > INT_MAX || !(inner = d2i_PKCS7(NULL, &p, (long)plen)) || p != plain + plen ||
        !PKCS7_type_is_signed(inner) || !inner->d.sign) {
        r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL,
                         "CertRep: decrypted content is not a certs-only PKCS#7");
        goto out;
    }
    reply->certs = TAKE_PTR(inner->d.sign->cert);
    if (!reply->certs && !(reply->certs = sk_X509_new_null())) {
        r = -ENOMEM;
        goto out;
    }
    if (t->last_type == SCEP_MSG_GETCRL) {
        X509_CRL *crl = sk_X509_CRL_value(inner->d.sign->crl, 0);
        if (!crl || !X509_CRL_up_ref(crl)) {
            r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL, "CertRep: GetCRL reply holds no CRL");
            goto out;
        }
        reply->crl = crl;
    } else if (t->last_type == SCEP_MSG_GETCERT) {
        X509 *x = sk_X509_value(reply->certs, 0);
        for (int i = 0; i < sk_X509_num(reply->certs); i++)
            if (!X509_check_ca(sk_X509_value(reply->certs, i))) {
                x = sk_X509_value(reply->certs, i);
                break;
            }
        if (!x || !X509_up_ref(x)) {
            r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL,
                             "CertRep: GetCert reply holds no certificate");
            goto out;
        }
        reply->cert = x;
    } else {
        for (int i = 0; i < sk_X509_num(reply->certs); i++) {
            X509 *x = sk_X509_value(reply->certs, i);
            if (EVP_PKEY_eq(X509_get0_pubkey(x), t->request_key) == 1) {
                if (!X509_up_ref(x)) {
                    r = -ENOMEM;
                    goto out;
                }
                reply->cert = x;
                break;
            }
        }
        if (!reply->cert) {
            r = ae_error_set(err, -EPERM, AE_ERR_PROTOCOL,
                             "CertRep: the issued certificate is for another key, not ours");
            goto out;
        }
    }
    r = 0;
out:
    if (plain)
        OPENSSL_cleanse(plain, plen);
    PKCS7_free(inner);
    return r;
}

int scep_certrep_parse(ScepTransaction *t, const ScepCA *ca, const uint8_t *der, size_t len,
                       bool allow_des, ScepReply **ret, AeError *err) {
    const unsigned char *p = der;
    PKCS7 *p7 = NULL;
    PKCS7_SIGNER_INFO *si;
    STACK_OF(X509) *signers = NULL;
    BIO *in = NULL, *out = NULL;
    ScepReply *reply = NULL;
    X509 *signer;
    char buf[256], name[256];
    uint8_t nonce[SCEP_NONCE_LEN];
    ASN1_TYPE *v;
    bool dup = false;
    int status, r;

    if (!t || !ca || !ret)
        return -EINVAL;
    if (!der || len == 0 || len > INT_MAX)
        return ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL, "CertRep: empty reply");
    if (!t->have_nonce)
        return ae_error_set(err, -EINVAL, AE_ERR_INTERNAL, "CertRep: no request was sent");

    p7 = d2i_PKCS7(NULL, &p, (long)len);
    if (!p7 || p != der + len) {
        r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL,
                         "CertRep: reply is not one complete DER PKCS#7 (truncated or garbage, "
                         "%zu bytes)", len);
        goto out;
    }
    if (!PKCS7_type_is_signed(p7) || !p7->d.sign || !p7->d.sign->contents ||
        sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(p7)) != 1) {
        r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL,
                         "CertRep: reply is not a SignedData with one signer");
        goto out;
    }
    si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7), 0);

    /* 1. Signed by a certificate of GetCACert that chains to the pin. */
    ERR_set_mark();
    signers = PKCS7_get0_signers(p7, scep_ca_get_certs(ca), PKCS7_NOINTERN);
    ERR_pop_to_mark();
    if (!signers || sk_X509_num(signers) != 1) {
        r = ae_error_set(err, -EPERM, AE_ERR_PROTOCOL,
                         "CertRep: signed by a certificate that is not the CA or RA from GetCACert");
        goto out;
    }
    signer = sk_X509_value(signers, 0);
    X509_NAME_oneline(X509_get_subject_name(signer), name, sizeof name);
    if ((r = scep_ca_verify(ca, signer, err)) < 0)
        goto out;
    if (X509_get_key_usage(signer) != UINT32_MAX &&
        !(X509_get_key_usage(signer) & KU_DIGITAL_SIGNATURE)) {
        /* e.g. the CA of `scepserver ca -init`: keyCertSign+cRLSign only. */
        r = ae_error_set(err, -EPERM, AE_ERR_PROTOCOL,
                         "CertRep: signer '%s' may not sign messages (keyUsage lacks "
                         "digitalSignature)", name);
        goto out;
    }
    in = PKCS7_get_detached(p7) ? BIO_new_mem_buf("", 0) : NULL;
    out = BIO_new(BIO_s_mem());
    if (!out || (PKCS7_get_detached(p7) && !in)) {
        r = -ENOMEM;
        goto out;
    }
    if (PKCS7_verify(p7, scep_ca_get_certs(ca), NULL, in, out,
                     PKCS7_NOVERIFY | PKCS7_NOINTERN | PKCS7_BINARY) != 1) {
        r = ae_error_set(err, -EPERM, AE_ERR_PROTOCOL,
                         "CertRep: signature by '%s' does not verify", name);
        goto out;
    }

    /* 2. messageType */
    r = attr_text(si, OID_MESSAGE_TYPE, buf, sizeof buf, &dup);
    if (r < 0 || small_int(buf, &status) < 0 || status != SCEP_MSG_CERTREP) {
        r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL,
                         "CertRep: messageType is %s, not CertRep (3)", r < 0 ? "missing" : buf);
        goto out;
    }
    /* 3. transactionID */
    r = attr_text(si, OID_TRANSACTION_ID, buf, sizeof buf, &dup);
    if (r < 0 || !streq(buf, t->id)) {
        r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL,
                         "CertRep: transactionID %s does not match our request",
                         r < 0 ? "missing" : "differs and");
        goto out;
    }
    /* 4. recipientNonce == our senderNonce (replay protection) */
    v = attr_value(si, OID_RECIPIENT_NONCE, &dup);
    if (!v || v->type != V_ASN1_OCTET_STRING ||
        ASN1_STRING_length(v->value.octet_string) != SCEP_NONCE_LEN ||
        CRYPTO_memcmp(ASN1_STRING_get0_data(v->value.octet_string), t->nonce, SCEP_NONCE_LEN)) {
        r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL,
                         "CertRep: recipientNonce %s our senderNonce (replayed or foreign reply)",
                         v ? "does not match" : "is missing, cannot match");
        goto out;
    }
    v = attr_value(si, OID_SENDER_NONCE, &dup);
    if (!v || v->type != V_ASN1_OCTET_STRING ||
        ASN1_STRING_length(v->value.octet_string) != SCEP_NONCE_LEN) {
        r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL, "CertRep: senderNonce missing or malformed");
        goto out;
    }
    memcpy(nonce, ASN1_STRING_get0_data(v->value.octet_string), SCEP_NONCE_LEN);
    /* 5. pkiStatus */
    r = attr_text(si, OID_PKI_STATUS, buf, sizeof buf, &dup);
    if (r < 0 || small_int(buf, &status) < 0 || !scep_pki_status_to_string(status)) {
        r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL, "CertRep: unknown pkiStatus '%s'",
                         r < 0 ? "(missing)" : buf);
        goto out;
    }

    reply = calloc(1, sizeof *reply);
    if (!reply) {
        r = -ENOMEM;
        goto out;
    }
    reply->status = (ScepPkiStatus)status;
    reply->fail_info = -1;
    if (status == SCEP_STATUS_FAILURE) {
        int fi;
        r = attr_text(si, OID_FAIL_INFO, buf, sizeof buf, &dup);
        if (r == 0 && small_int(buf, &fi) == 0 && scep_fail_info_to_string(fi))
            reply->fail_info = fi;
        else if (r != -ENOENT) {
            r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL, "CertRep: unknown failInfo");
            goto out;
        }
        if (attr_text(si, OID_FAIL_INFO_TEXT, buf, sizeof buf, &dup) == 0) {
            for (char *c = buf; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                    *c = ' ';
            reply->fail_info_text = strdup(buf);
        }
        if (attr_text(si, OID_NDES_HRESULT, buf, sizeof buf, &dup) == 0 &&
            scep_hresult_parse(buf, &reply->hresult) == 0)
            reply->has_hresult = true;
    } else if (status == SCEP_STATUS_SUCCESS) {
        char *data;
        long n = BIO_get_mem_data(out, &data);
        if (n <= 0) {
            r = ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL,
                             "CertRep: SUCCESS without a pkcsPKIEnvelope");
            goto out;
        }
        if ((r = open_content(t, reply, (const uint8_t *)data, (size_t)n, allow_des, err)) < 0)
            goto out;
    }
    *ret = TAKE_PTR(reply);
    r = 0;
out:
    scep_reply_free(reply);
    sk_X509_free(signers);
    BIO_free(in);
    BIO_free(out);
    PKCS7_free(p7);
    ERR_clear_error();
    return r;
}

int scep_reply_failure(const ScepReply *r, AeError *err) {
    const char *fi = r->fail_info >= 0 ? scep_fail_info_to_string(r->fail_info) : NULL;
    const char *hr = r->has_hresult ? scep_hresult_to_string(r->hresult) : NULL;
    char code[32] = "";

    if (r->has_hresult)
        snprintf(code, sizeof code, " [HRESULT 0x%08X]", r->hresult);
    if (hr)
        return ae_error_set(err, -EACCES, AE_ERR_REJECTED, "NDES refused the request: %s%s%s%s%s",
                            hr, code, fi ? " (failInfo " : "", fi ? fi : "", fi ? ")" : "");
    return ae_error_set(err, -EACCES, AE_ERR_REJECTED, "the CA refused the request: %s%s%s%s%s",
                        fi ? fi : "no failInfo given", r->fail_info_text ? ": " : "",
                        r->fail_info_text ? r->fail_info_text : "", code,
                        r->has_hresult ? " (unknown HRESULT)" : "");
}
