/* libFuzzer target: GetCACert and GetNextCACert replies
 * (daemon/scep-cacert.c). The pin is the SHA-256 of the first certificate
 * found, so the chain and RA selection code runs too.
 * fuzz-sources: daemon/scep-cacert.c
 * fuzz-pkgs: openssl */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "daemon/scep-cacert.h"
#include "daemon/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t pin[SCEP_FINGERPRINT_LEN] = { 0 };
    const unsigned char *p = data;
    ScepCA *ca = NULL;
    AeError e;
    X509 *first;

    /* a pin that matches something, when there is something */
    first = d2i_X509(NULL, &p, (long)size);
    if (!first) {
        PKCS7 *p7;
        p = data;
        p7 = d2i_PKCS7(NULL, &p, (long)size);
        if (p7 && PKCS7_type_is_signed(p7) && p7->d.sign && sk_X509_num(p7->d.sign->cert) > 0) {
            first = sk_X509_value(p7->d.sign->cert, sk_X509_num(p7->d.sign->cert) - 1);
            X509_up_ref(first);
        }
        PKCS7_free(p7);
    }
    if (first) {
        unsigned n = 0;
        X509_digest(first, EVP_sha256(), pin, &n);
        X509_free(first);
    }
    if (scep_ca_parse(data, size, pin, &ca, &e) == 0) {
        if (!scep_ca_get_anchor(ca) || !scep_ca_get_encrypt(ca) || !scep_ca_get_signer(ca))
            abort();
        char *pem = NULL;
        if (scep_ca_chain_pem(ca, &pem) == 0)
            free(pem);
        STACK_OF(X509) *next = NULL;
        if (scep_next_ca_parse(ca, data, size, &next, &e) == 0)
            sk_X509_pop_free(next, X509_free);
        scep_ca_free(ca);
    } else if (ca)
        abort();
    ERR_clear_error();
    return 0;
}
