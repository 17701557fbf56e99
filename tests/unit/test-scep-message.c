/* The SCEP engine against a fake CA: good exchanges and forged replies. */
#include <stdlib.h>

#include <openssl/pem.h>

#include "daemon/csr.h"
#include "daemon/scep-caps.h"
#include "daemon/scep-message.h"
#include "daemon/util.h"
#include "tests/unit/tap.h"
#include "tests/unit/test-scep-fixture.h"

static Fx f;
static ScepCA *ca;          /* NDES-like: RA split */
static EVP_PKEY *key, *other_key;
static const unsigned caps = SCEP_CAP_AES | SCEP_CAP_SHA256 | SCEP_CAP_POST_PKI_OPERATION;

static X509_REQ *make_csr(EVP_PKEY *k) {
    CsrProfile p = { .subject = "CN=client.autoenroll.test", .challenge = "0123456789ABCDEF" };
    X509_REQ *req = NULL;
    if (csr_new(&p, k, &req, NULL) < 0)
        abort();
    return req;
}

/* Build a PKCSReq, let the fake CA read it. */
static ScepTransaction *start(X509_REQ *csr, unsigned c, FxRequest *req) {
    ScepTransaction *t = NULL;
    uint8_t *der = NULL;
    size_t n = 0;
    AeError e = { 0 };
    if (scep_transaction_new(key, csr, &t, &e) < 0 || scep_build_pkcsreq(t, ca, c, csr, &der, &n, &e) < 0)
        fx_die(e.message);
    if (fx_read_request(&f, der, n, req) < 0)
        fx_die("server read");
    free(der);
    OPENSSL_free(der == NULL ? NULL : NULL);
    return t;
}

/* Forge a reply with options o and parse it; returns the parse result. */
static int exchange(const FxReply *o, bool allow_des, ScepReply **reply, AeError *e) {
    X509_REQ *csr = make_csr(key);
    FxRequest req;
    ScepTransaction *t = start(csr, caps, &req);
    uint8_t *rep;
    size_t n = fx_certrep(&f, &req, o, &rep);
    int r = scep_certrep_parse(t, ca, rep, n, allow_des, reply, e);
    OPENSSL_free(rep);
    fx_request_done(&req);
    scep_transaction_free(t);
    X509_REQ_free(csr);
    return r;
}

static int reject(const FxReply *o, const char *want, const char *what) {
    ScepReply *reply = NULL;
    AeError e = { 0 };
    int r = exchange(o, false, &reply, &e);
    ok(r < 0 && reply == NULL, "%s is rejected (%d)", what, r);
    ok(strstr(e.message, want) && streq(e.category, "protocol"), "%s: message '%s'", what, e.message);
    scep_reply_free(reply);
    return r;
}

TEST(request_shape) {
    X509_REQ *csr = make_csr(key);
    FxRequest req;
    ScepTransaction *t = start(csr, caps, &req);
    is_int(req.type, 19, "messageType PKCSReq");
    is_str(req.tid, scep_transaction_get_id(t), "transactionID sent");
    is_int(strlen(req.tid), 64, "transactionID is hex SHA-256 of the key");
    is_str(req.cipher_oid, "2.16.840.1.101.3.4.1.2", "AES-128-CBC when AES advertised");
    is_str(req.digest, "sha256", "SHA-256 when advertised");
    ok(EVP_PKEY_eq(X509_get0_pubkey(req.signer), key) == 1, "signer cert carries our key");
    ok(X509_check_issued(req.signer, req.signer) == X509_V_OK, "signer is self-signed");
    ok(X509_cmp_time(X509_get0_notBefore(req.signer), NULL) < 0 &&
           X509_cmp_current_time(X509_get0_notBefore(req.signer)) < 0,
       "notBefore in the past");
    ASN1_TIME *hour = X509_time_adj(NULL, -3000, NULL);
    ok(ASN1_TIME_compare(X509_get0_notBefore(req.signer), hour) < 0, "backdated about an hour");
    ASN1_TIME_free(hour);
    const unsigned char *p = req.content;
    X509_REQ *got = d2i_X509_REQ(NULL, &p, (long)req.content_len);
    ok(got && X509_REQ_verify(got, key) == 1, "the RA decrypts our CSR");
    X509_REQ_free(got);
    fx_request_done(&req);
    scep_transaction_free(t);

    t = start(csr, 0, &req);
    is_str(req.cipher_oid, "1.2.840.113549.3.7", "3DES without AES (never single DES)");
    is_str(req.digest, "sha1", "SHA-1 without SHA-2 caps (never MD5)");
    fx_request_done(&req);
    scep_transaction_free(t);
    X509_REQ_free(csr);
}

TEST(success) {
    ScepReply *reply = NULL;
    AeError e = { 0 };
    is_int(exchange(NULL, false, &reply, &e), 0, "a correct CertRep passes");
    ok(reply && reply->status == SCEP_STATUS_SUCCESS, "SUCCESS");
    ok(reply && reply->cert && EVP_PKEY_eq(X509_get0_pubkey(reply->cert), key) == 1, "cert for our key");
    is_str(reply ? reply->cipher : NULL, "DES-EDE3-CBC", "3DES reply read");
    ok(reply && !reply->used_des, "no single DES");
    scep_reply_free(reply);
}

TEST(wrong_signer) {
    EVP_PKEY *k = fx_key();
    X509 *self = fx_cert("Fake SCEP CA", k, NULL, k, KU_ALL_CA, true, 30);
    FxReply o = { .signer = self, .signer_key = k };
    reject(&o, "not the CA or RA", "reply signed by a stranger with the CA's name");
    X509 *leaf = fx_cert("Some client", k, f.ca, f.ca_key, KU_DIGITAL_SIGNATURE, false, 30);
    FxReply o2 = { .signer = leaf, .signer_key = k };
    reject(&o2, "not the CA or RA", "reply signed by another cert of the same CA");
    X509_free(leaf);
    X509_free(self);
    EVP_PKEY_free(k);
}

TEST(bad_signature) {
    FxReply o = { .corrupt_sig = true };
    reject(&o, "does not verify", "tampered signature");
}

TEST(wrong_message_type) {
    FxReply o = { .msg_type = "19" };
    reject(&o, "messageType is 19", "messageType PKCSReq in a reply");
}

TEST(wrong_transaction_id) {
    FxReply o = { .tid = "0000" };
    reject(&o, "transactionID", "foreign transactionID");
}

TEST(wrong_nonce) {
    FxReply o = { .other_nonce = true };
    reject(&o, "recipientNonce does not match", "wrong recipientNonce");
    FxReply o2 = { .no_nonce = true };
    reject(&o2, "recipientNonce is missing", "missing recipientNonce");
}

TEST(replayed_reply) {
    /* A reply to our earlier message is refused once we sent a new one. */
    X509_REQ *csr = make_csr(key);
    FxRequest req;
    ScepTransaction *t = start(csr, caps, &req);
    uint8_t *rep, *der2;
    size_t n = fx_certrep(&f, &req, NULL, &rep), n2;
    AeError e = { 0 };
    ScepReply *reply = NULL;
    is_int(scep_build_pkcsreq(t, ca, caps, csr, &der2, &n2, &e), 0, "second request");
    ok(scep_certrep_parse(t, ca, rep, n, false, &reply, &e) < 0, "old reply replayed: rejected");
    ok(strstr(e.message, "replayed"), "message: %s", e.message);
    free(der2);
    OPENSSL_free(rep);
    fx_request_done(&req);
    scep_transaction_free(t);
    X509_REQ_free(csr);
}

TEST(cert_for_other_key) {
    FxReply o = { .issue_for = other_key };
    reject(&o, "another key", "certificate for another key");
}

TEST(unknown_status) {
    FxReply o = { .status = "7", .detached = true };
    reject(&o, "unknown pkiStatus '7'", "pkiStatus 7");
}

TEST(truncated_and_garbage) {
    X509_REQ *csr = make_csr(key);
    FxRequest req;
    ScepTransaction *t = start(csr, caps, &req);
    uint8_t *rep;
    size_t n = fx_certrep(&f, &req, NULL, &rep);
    AeError e = { 0 };
    ScepReply *reply = NULL;
    is_int(scep_certrep_parse(t, ca, rep, n - 10, false, &reply, &e), -EBADMSG, "truncated");
    ok(strstr(e.message, "truncated"), "message: %s", e.message);
    const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
    is_int(scep_certrep_parse(t, ca, junk, sizeof junk, false, &reply, &e), -EBADMSG, "garbage DER");
    const uint8_t html[] = "<html>500</html>";
    is_int(scep_certrep_parse(t, ca, html, sizeof html, false, &reply, &e), -EBADMSG, "HTML");
    ok(reply == NULL, "nothing returned");
    OPENSSL_free(rep);
    fx_request_done(&req);
    scep_transaction_free(t);
    X509_REQ_free(csr);
}

TEST(failure_with_hresult) {
    ScepReply *reply = NULL;
    AeError e = { 0 };
    FxReply o = { .status = "2", .fail_info = "2", .hresult = "-2146762480", .detached = true };
    is_int(exchange(&o, false, &reply, &e), 0, "a verified FAILURE parses");
    ok(reply && reply->status == SCEP_STATUS_FAILURE, "FAILURE");
    ok(reply && reply->fail_info == 2, "failInfo badRequest");
    ok(reply && reply->has_hresult && reply->hresult == 0x800B0110, "HRESULT");
    is_int(scep_reply_failure(reply, &e), -EACCES, "mapped to -EACCES");
    ok(streq(e.category, "rejected") && strstr(e.message, "already used") &&
           strstr(e.message, "0x800B0110") && strstr(e.message, "badRequest"),
       "message: %s", e.message);
    scep_reply_free(reply);
    reply = NULL;
    FxReply o2 = { .status = "2", .fail_info = "1", .fail_text = "bad\nsignature" };
    is_int(exchange(&o2, false, &reply, &e), 0, "FAILURE with text, content present");
    is_int(scep_reply_failure(reply, &e), -EACCES, "mapped");
    ok(strstr(e.message, "badMessageCheck") && strstr(e.message, "bad signature"), "message: %s",
       e.message);
    scep_reply_free(reply);
}

TEST(pending_then_certpoll) {
    X509_REQ *csr = make_csr(key);
    FxRequest req, poll;
    ScepTransaction *t = start(csr, caps, &req);
    uint8_t *rep, *der;
    size_t n, dn;
    AeError e = { 0 };
    ScepReply *reply = NULL;
    FxReply pending = { .status = "3", .detached = true };
    n = fx_certrep(&f, &req, &pending, &rep);
    is_int(scep_certrep_parse(t, ca, rep, n, false, &reply, &e), 0, "PENDING parses");
    ok(reply && reply->status == SCEP_STATUS_PENDING, "PENDING");
    reply = scep_reply_free(reply);
    OPENSSL_free(rep);

    /* survive a restart: export, free, import */
    ScepState st = { 0 };
    is_int(scep_transaction_export(t, &st), 0, "export");
    ok(st.signer_pem && strstr(st.signer_pem, "BEGIN CERTIFICATE") && strlen(st.sender_nonce) == 32,
       "state strings");
    scep_transaction_free(t);
    t = NULL;
    is_int(scep_transaction_import(&st, key, key, &t, &e), 0, "import");
    is_int(scep_transaction_import(&st, other_key, key, &(ScepTransaction *){ NULL }, &e), -EINVAL,
           "import with the wrong key refused");
    scep_state_done(&st);

    is_int(scep_build_certpoll(t, ca, caps, &der, &dn, &e), 0, "CertPoll");
    ok(fx_read_request(&f, der, dn, &poll) == 0, "server reads it");
    is_int(poll.type, 20, "messageType CertPoll");
    is_str(poll.tid, req.tid, "same transactionID");
    ok(memcmp(poll.nonce, req.nonce, 16) != 0, "fresh senderNonce");
    /* IssuerAndSubject: SEQUENCE { CA name, our subject } */
    const unsigned char *p = poll.content + 2;
    X509_NAME *iss = d2i_X509_NAME(NULL, &p, (long)poll.content_len - 2);
    X509_NAME *sub = d2i_X509_NAME(NULL, &p, (long)(poll.content + poll.content_len - p));
    ok(iss && X509_NAME_cmp(iss, X509_get_subject_name(f.ca)) == 0, "issuer = CA");
    ok(sub && X509_NAME_cmp(sub, X509_REQ_get_subject_name(csr)) == 0, "subject = ours");
    X509_NAME_free(iss);
    X509_NAME_free(sub);
    FxReply ok_reply = { .issued_for_csr = req.content, .issued_for_csr_len = req.content_len };
    n = fx_certrep(&f, &poll, &ok_reply, &rep);
    is_int(scep_certrep_parse(t, ca, rep, n, false, &reply, &e), 0, "SUCCESS after polling");
    ok(reply && reply->cert && EVP_PKEY_eq(X509_get0_pubkey(reply->cert), key) == 1, "our cert");
    scep_reply_free(reply);
    OPENSSL_free(rep);
    free(der);
    fx_request_done(&poll);
    fx_request_done(&req);
    scep_transaction_free(t);
    X509_REQ_free(csr);
}

TEST(single_des) {
    ScepReply *reply = NULL;
    AeError e = { 0 };
    FxReply o = { .cipher = "DES-CBC" };
    is_int(exchange(&o, false, &reply, &e), -EPERM, "single DES refused by default");
    ok(strstr(e.message, "single DES") && strstr(e.message, "allow_des"), "message: %s", e.message);
    is_int(exchange(&o, true, &reply, &e), 0, "accepted with allow_des");
    ok(reply && reply->used_des && reply->cert, "used_des flagged, cert read");
    scep_reply_free(reply);
    EVP_CIPHER *des = EVP_CIPHER_fetch(NULL, "DES-CBC", NULL);
    ok(des == NULL, "the default library context still has no DES");
    EVP_CIPHER_free(des);
}

TEST(ca_signer_without_digital_signature) {
    /* A CA like `scepserver ca -init` makes: keyCertSign+cRLSign only. */
    EVP_PKEY *k = fx_key();
    X509 *bare = fx_cert("Bare CA", k, NULL, k, KU_KEY_CERT_SIGN | KU_CRL_SIGN, true, 30);
    uint8_t *der, pin[32];
    size_t n = fx_der_cert(bare, &der);
    ScepCA *bare_ca = NULL;
    AeError e = { 0 };
    fx_pin(bare, pin);
    is_int(scep_ca_parse(der, n, pin, &bare_ca, &e), 0, "GetCACert of such a CA");
    X509_REQ *csr = make_csr(key);
    ScepTransaction *t = NULL;
    uint8_t *reqder, *rep;
    size_t rn;
    FxRequest req;
    scep_transaction_new(key, csr, &t, &e);
    scep_build_pkcsreq(t, bare_ca, caps, csr, &reqder, &rn, &e);
    /* the fake server decrypts with its RA key; here the CA key does it */
    Fx g = f;
    g.enc_key = k;
    g.ra_enc = bare;
    ok(fx_read_request(&g, reqder, rn, &req) == 0, "request to the bare CA");
    FxReply o = { .signer = bare, .signer_key = k };
    n = fx_certrep(&g, &req, &o, &rep);
    ScepReply *reply = NULL;
    is_int(scep_certrep_parse(t, bare_ca, rep, n, false, &reply, &e), -EPERM, "refused on purpose");
    ok(strstr(e.message, "digitalSignature"), "message: %s", e.message);
    OPENSSL_free(rep);
    free(reqder);
    fx_request_done(&req);
    scep_transaction_free(t);
    X509_REQ_free(csr);
    scep_ca_free(bare_ca);
    OPENSSL_free(der);
    X509_free(bare);
    EVP_PKEY_free(k);
}

TEST(renewal) {
    X509 *current = fx_issue(&f, key);
    X509_REQ *csr = make_csr(other_key);
    ScepTransaction *t = NULL;
    AeError e = { 0 };
    uint8_t *der, *rep;
    size_t n;
    FxRequest req;
    is_int(scep_transaction_new_renewal(other_key, csr, current, other_key, &t, &e), -EINVAL,
           "current key must match the current cert");
    is_int(scep_transaction_new_renewal(other_key, csr, current, key, &t, &e), 0, "renewal transaction");
    is_int(scep_build_pkcsreq(t, ca, caps, csr, &der, &n, &e), 0, "RenewalReq");
    ok(fx_read_request(&f, der, n, &req) == 0, "server reads it");
    is_int(req.type, 17, "messageType RenewalReq");
    ok(X509_cmp(req.signer, current) == 0, "signed by the current certificate");
    n = fx_certrep(&f, &req, NULL, &rep);
    ScepReply *reply = NULL;
    is_int(scep_certrep_parse(t, ca, rep, n, false, &reply, &e), 0, "reply decrypted with the old key");
    ok(reply && EVP_PKEY_eq(X509_get0_pubkey(reply->cert), other_key) == 1, "new cert for the new key");
    scep_reply_free(reply);
    OPENSSL_free(rep);
    free(der);
    fx_request_done(&req);
    scep_transaction_free(t);
    X509_REQ_free(csr);
    X509_free(current);
}

TEST(getcrl_getcert) {
    X509 *mine = fx_issue(&f, key);
    X509_REQ *csr = make_csr(key);
    ScepTransaction *t = NULL;
    AeError e = { 0 };
    uint8_t *der, *rep;
    size_t n;
    FxRequest req;
    ScepReply *reply = NULL;
    scep_transaction_new(key, csr, &t, &e);
    is_int(scep_build_getcrl(t, ca, caps, mine, &der, &n, &e), 0, "GetCRL");
    ok(fx_read_request(&f, der, n, &req) == 0, "server reads it");
    is_int(req.type, 22, "messageType GetCRL");
    FxReply o = { .crl = true };
    free(der);
    n = fx_certrep(&f, &req, &o, &rep);
    is_int(scep_certrep_parse(t, ca, rep, n, false, &reply, &e), 0, "CRL reply");
    ok(reply && reply->crl, "CRL returned");
    reply = scep_reply_free(reply);
    OPENSSL_free(rep);
    fx_request_done(&req);

    is_int(scep_build_getcert(t, ca, caps, X509_get_issuer_name(mine), X509_get0_serialNumber(mine),
                              &der, &n, &e), 0, "GetCert");
    ok(fx_read_request(&f, der, n, &req) == 0, "server reads it");
    is_int(req.type, 21, "messageType GetCert");
    FxReply o2 = { .issue_for = key };
    free(der);
    n = fx_certrep(&f, &req, &o2, &rep);
    is_int(scep_certrep_parse(t, ca, rep, n, false, &reply, &e), 0, "cert reply");
    ok(reply && reply->cert, "certificate returned");
    scep_reply_free(reply);
    OPENSSL_free(rep);
    fx_request_done(&req);
    scep_transaction_free(t);
    X509_REQ_free(csr);
    X509_free(mine);
}

TEST(import_damaged_state) {
    X509_REQ *csr = make_csr(key);
    ScepTransaction *t = NULL, *u = NULL;
    ScepState st = { 0 };
    AeError e = { 0 };
    uint8_t *der;
    size_t n;
    scep_transaction_new(key, csr, &t, &e);
    scep_build_pkcsreq(t, ca, caps, csr, &der, &n, &e);
    free(der);
    is_int(scep_transaction_export(t, &st), 0, "export");
    char *saved = st.sender_nonce;
    st.sender_nonce = (char *)"XYZ";
    is_int(scep_transaction_import(&st, key, key, &u, &e), -EINVAL, "bad nonce refused");
    ok(streq(e.category, "storage"), "category storage: %s", e.message);
    st.sender_nonce = saved;
    char *pem = st.signer_pem;
    st.signer_pem = (char *)"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    is_int(scep_transaction_import(&st, key, key, &u, &e), -EINVAL, "bad PEM refused");
    st.signer_pem = pem;
    char *id = st.transaction_id;
    st.transaction_id = (char *)"bad\x01id";
    is_int(scep_transaction_import(&st, key, key, &u, &e), -EINVAL, "non-printable transactionID refused");
    st.transaction_id = id;
    char *subj = st.subject;
    st.subject = (char *)"!!!!";
    is_int(scep_transaction_import(&st, key, key, &u, &e), -EINVAL, "bad subject refused");
    st.subject = subj;
    ok(u == NULL, "nothing returned on errors");
    is_int(scep_transaction_import(&st, key, key, &u, &e), 0, "the intact state imports");
    is_str(scep_transaction_get_id(u), scep_transaction_get_id(t), "same transactionID");
    scep_state_done(&st);
    scep_transaction_free(u);
    scep_transaction_free(t);
    X509_REQ_free(csr);
}

int main(void) {
    uint8_t *der;
    fx_init(&f);
    key = fx_key();
    other_key = fx_key();
    X509 *certs[] = { f.ra_sign, f.ra_enc, f.ca };
    size_t n = fx_certs_only(certs, 3, NULL, &der);
    if (scep_ca_parse(der, n, f.pin, &ca, NULL) < 0)
        fx_die("scep_ca_parse");
    OPENSSL_free(der);
    int r = tap_run();
    scep_ca_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other_key);
    return r;
}
