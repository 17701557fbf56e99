/* libFuzzer target: CertRep replies (daemon/scep-certrep.c) and the reply
 * envelope (daemon/scep-envelope.c). A fake CA, an RA and our key are made
 * once; each input is parsed as the reply to a PKCSReq built from them, and
 * also opened as an EnvelopedData with our key (the code behind the
 * signature check).
 * fuzz-sources: daemon/scep-certrep.c daemon/scep-message.c daemon/scep-envelope.c daemon/scep-cacert.c daemon/scep-caps.c daemon/scep-errors.c daemon/csr.c
 * fuzz-pkgs: openssl */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "daemon/csr.h"
#include "daemon/scep-cacert.h"
#include "daemon/scep-envelope.h"
#include "daemon/scep-message.h"
#include "daemon/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ScepCA *ca;
static EVP_PKEY *key;
static X509 *self;
static X509_REQ *csr;
static ScepTransaction *t;

static X509 *make_ca(EVP_PKEY *k) {
    X509 *x = X509_new();
    X509_NAME *n = X509_get_subject_name(x);
    X509V3_CTX ctx;
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"fuzz CA", -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    X509_sign(x, k, EVP_sha256());
    return x;
}

static void init(void) {
    EVP_PKEY *cakey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    X509 *cacert = make_ca(cakey);
    unsigned char *der = NULL;
    uint8_t pin[32];
    unsigned n = 0;
    int len = i2d_X509(cacert, &der);
    X509_digest(cacert, EVP_sha256(), pin, &n);
    if (scep_ca_parse(der, (size_t)len, pin, &ca, NULL) < 0)
        abort();
    OPENSSL_free(der);
    key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    CsrProfile p = { .subject = "CN=fuzz", .challenge = "ABC" };
    if (csr_new(&p, key, &csr, NULL) < 0)
        abort();
    self = cacert; /* recipient for the envelope check: any cert of ours */
    EVP_PKEY_free(cakey);
    /* The reply answers this request (parsing does not change t). */
    uint8_t *msg = NULL;
    size_t msglen;
    if (scep_transaction_new(key, csr, &t, NULL) < 0 ||
        scep_build_pkcsreq(t, ca, 0, csr, &msg, &msglen, NULL) < 0)
        abort();
    free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ScepReply *reply = NULL;
    uint8_t *plain = NULL;
    size_t plen;
    AeError e;

    if (!ca)
        init();
    if (scep_certrep_parse(t, ca, data, size, size > 0 && (data[0] & 1), &reply, &e) == 0) {
        /* Without the RA's key no input can verify. */
        abort();
    }
    if (reply)
        abort();
    if (scep_envelope_open(data, size, self, key, size > 0 && (data[0] & 1), &plain, &plen, NULL, &e) == 0)
        free(plain);
    ERR_clear_error();
    return 0;
}
