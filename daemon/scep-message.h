/* SCEP pkiMessages (RFC 8894 §3): build requests (PKCSReq, RenewalReq,
 * CertPoll, GetCert, GetCRL) and check CertRep replies. Bytes in, bytes out:
 * no I/O. Keys are used only through EVP, so they may live in a token. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "daemon/error.h"
#include "daemon/scep-cacert.h"
#include "daemon/scep-errors.h"

#define SCEP_NONCE_LEN 16

/* One enrollment: the transactionID kept across CertPoll, the last
 * senderNonce, the certificate+key that sign requests (and to which the CA
 * encrypts replies), and the key the issued certificate must carry. */
typedef struct ScepTransaction ScepTransaction;

/* PKCSReq: signed by a fresh self-signed certificate of key (subject of the
 * CSR, notBefore one hour back for clock skew). transactionID = uppercase hex
 * SHA-256 of the public key. */
int scep_transaction_new(EVP_PKEY *key, X509_REQ *csr, ScepTransaction **ret, AeError *err);

/* RenewalReq: signed by the current certificate and its key; the new
 * certificate is for new_key (may be the same key). */
int scep_transaction_new_renewal(EVP_PKEY *new_key, X509_REQ *csr, X509 *current_cert,
                                 EVP_PKEY *current_key, ScepTransaction **ret, AeError *err);

ScepTransaction *scep_transaction_free(ScepTransaction *t);

const char *scep_transaction_get_id(const ScepTransaction *t);
bool scep_transaction_is_renewal(const ScepTransaction *t);

/* State for the daemon's JSON file, all strings (free with scep_state_done). */
typedef struct ScepState {
    char *transaction_id; /* printable */
    char *sender_nonce;   /* hex, "" before the first message */
    char *signer_pem;     /* the signer certificate */
    char *subject;        /* base64 DER of the requested subject */
    bool renewal;
} ScepState;

int scep_transaction_export(const ScepTransaction *t, ScepState *ret);
void scep_state_done(ScepState *s);
/* Rebuild after a restart; signer_key signs (the new key for PKCSReq, the
 * current key for RenewalReq), request_key is the key to be certified. */
int scep_transaction_import(const ScepState *s, EVP_PKEY *signer_key, EVP_PKEY *request_key,
                            ScepTransaction **ret, AeError *err);

/* Requests. Each draws a fresh senderNonce. Digest and cipher come from
 * caps (scep_caps_digest / scep_caps_cipher). Output is DER for the POST
 * body (or scep_url_pkioperation_get). */
int scep_build_pkcsreq(ScepTransaction *t, const ScepCA *ca, unsigned caps, X509_REQ *csr,
                       uint8_t **ret_der, size_t *ret_len, AeError *err);
int scep_build_certpoll(ScepTransaction *t, const ScepCA *ca, unsigned caps, uint8_t **ret_der,
                        size_t *ret_len, AeError *err);
int scep_build_getcert(ScepTransaction *t, const ScepCA *ca, unsigned caps,
                       const X509_NAME *issuer, const ASN1_INTEGER *serial, uint8_t **ret_der,
                       size_t *ret_len, AeError *err);
int scep_build_getcrl(ScepTransaction *t, const ScepCA *ca, unsigned caps, X509 *cert,
                      uint8_t **ret_der, size_t *ret_len, AeError *err);

typedef struct ScepReply {
    ScepPkiStatus status;
    int fail_info;          /* -1 when absent */
    char *fail_info_text;   /* failInfoText, NULL when absent */
    bool has_hresult;       /* NDES 1.3.6.1.4.1.311.21.33 */
    uint32_t hresult;
    X509 *cert;             /* SUCCESS for an enrollment or GetCert: the issued cert */
    STACK_OF(X509) *certs;  /* SUCCESS: every certificate in the reply */
    X509_CRL *crl;          /* SUCCESS for GetCRL */
    const char *cipher;     /* the reply's content cipher (static), NULL if none */
    bool used_des;          /* single DES was accepted: the caller warns */
} ScepReply;

ScepReply *scep_reply_free(ScepReply *r);

/* Check a CertRep against t (the last request built from it) and ca: the
 * signature by a certificate of the GetCACert reply that chains to the pin,
 * messageType CertRep, transactionID, recipientNonce, a known pkiStatus,
 * then for SUCCESS the envelope (decrypted with the signer key) and, for
 * enrollments, that the issued certificate carries our public key. Each
 * failed check is its own -errno + "protocol" message. A verified FAILURE or
 * PENDING is a success of this function: look at reply->status. */
int scep_certrep_parse(ScepTransaction *t, const ScepCA *ca, const uint8_t *der, size_t len,
                       bool allow_des, ScepReply **ret, AeError *err);

/* For a FAILURE reply: -EACCES with category "rejected" and a sentence from
 * failInfo, failInfoText and the NDES HRESULT. */
int scep_reply_failure(const ScepReply *r, AeError *err);
