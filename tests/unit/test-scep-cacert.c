#include <stdlib.h>

#include "daemon/scep-cacert.h"
#include "daemon/util.h"
#include "tests/unit/tap.h"
#include "tests/unit/test-scep-fixture.h"

static Fx f;

TEST(fingerprint) {
    uint8_t a[32], b[32];
    _cleanup_free_ char *s = NULL;
    is_int(scep_fingerprint_format(f.ca, &s), 0, "format");
    ok(s && strncmp(s, "sha256:", 7) == 0 && strlen(s) == 7 + 32 * 3 - 1, "format shape: %s", s);
    is_int(scep_fingerprint_parse(s, a), 0, "parse back");
    ok(memcmp(a, f.pin, 32) == 0, "same bytes");
    char plain[65];
    for (int i = 0; i < 32; i++)
        sprintf(plain + 2 * i, "%02x", f.pin[i]);
    is_int(scep_fingerprint_parse(plain, b), 0, "plain lowercase hex");
    ok(memcmp(b, f.pin, 32) == 0, "same bytes");
    is_int(scep_fingerprint_parse("sha256:AB:CD", a), -EINVAL, "too short");
    is_int(scep_fingerprint_parse("zz", a), -EINVAL, "not hex");
    plain[63] = 0;
    is_int(scep_fingerprint_parse(plain, a), -EINVAL, "odd digit count");
}

TEST(single_der_cert) {
    uint8_t *der;
    size_t n = fx_der_cert(f.ca, &der);
    ScepCA *ca = NULL;
    AeError e = { 0 };
    is_int(scep_ca_parse(der, n, f.pin, &ca, &e), 0, "parse");
    ok(ca && scep_ca_get_encrypt(ca) == scep_ca_get_anchor(ca), "single cert encrypts");
    ok(ca && scep_ca_get_signer(ca) == scep_ca_get_anchor(ca), "single cert signs");
    scep_ca_free(ca);
    OPENSSL_free(der);
}

TEST(ndes_ra_split) {
    X509 *certs[] = { f.ra_sign, f.ra_enc, f.ca };
    uint8_t *der;
    size_t n = fx_certs_only(certs, 3, NULL, &der);
    ScepCA *ca = NULL;
    AeError e = { 0 };
    is_int(scep_ca_parse(der, n, f.pin, &ca, &e), 0, "parse certs-only PKCS#7");
    ok(ca && X509_cmp(scep_ca_get_encrypt(ca), f.ra_enc) == 0, "encryption RA by keyEncipherment");
    ok(ca && X509_cmp(scep_ca_get_signer(ca), f.ra_sign) == 0, "signing RA by digitalSignature");
    ok(ca && X509_cmp(scep_ca_get_issuer(ca), f.ca) == 0, "issuer is the CA");
    _cleanup_free_ char *pem = NULL;
    ok(ca && scep_ca_chain_pem(ca, &pem) == 0 && pem && strstr(pem, "BEGIN CERTIFICATE") &&
           !strstr(strstr(pem, "END CERTIFICATE") + 1, "BEGIN CERTIFICATE"),
       "chain PEM holds the CA only");
    scep_ca_free(ca);
    OPENSSL_free(der);
}

TEST(wrong_pin) {
    X509 *certs[] = { f.ra_sign, f.ra_enc, f.ca };
    uint8_t *der, pin[32];
    size_t n = fx_certs_only(certs, 3, NULL, &der);
    ScepCA *ca = NULL;
    AeError e = { 0 };
    memcpy(pin, f.pin, 32);
    pin[0] ^= 1;
    is_int(scep_ca_parse(der, n, pin, &ca, &e), -EPERM, "fingerprint mismatch");
    ok(strstr(e.message, "fingerprint") && strstr(e.message, "sha256:"), "names the server's CA: %s",
       e.message);
    ok(ca == NULL, "no output");
    OPENSSL_free(der);
}

TEST(foreign_ra_dropped) {
    EVP_PKEY *k = fx_key();
    X509 *other_ca = fx_cert("Other CA", k, NULL, k, KU_ALL_CA, true, 30);
    X509 *evil = fx_cert("Evil RA", k, other_ca, k, KU_KEY_ENCIPHERMENT, false, 30);
    X509 *certs[] = { evil, f.ra_sign, f.ca };
    uint8_t *der;
    size_t n = fx_certs_only(certs, 3, NULL, &der);
    ScepCA *ca = NULL;
    AeError e = { 0 };
    is_int(scep_ca_parse(der, n, f.pin, &ca, &e), -EPERM,
           "an RA set whose only encryption cert does not chain is refused");
    ok(strstr(e.message, "encryption"), "says which: %s", e.message);
    X509 *certs2[] = { evil, f.ra_sign, f.ra_enc, f.ca };
    OPENSSL_free(der);
    n = fx_certs_only(certs2, 4, NULL, &der);
    is_int(scep_ca_parse(der, n, f.pin, &ca, &e), 0, "with a good one too");
    ok(ca && X509_cmp(scep_ca_get_encrypt(ca), f.ra_enc) == 0, "the foreign RA is never chosen");
    ok(ca && sk_X509_num(scep_ca_get_certs(ca)) == 3, "and not accepted");
    is_int(scep_ca_verify(ca, evil, &e), -EPERM, "verify refuses it");
    scep_ca_free(ca);
    OPENSSL_free(der);
    X509_free(evil);
    X509_free(other_ca);
    EVP_PKEY_free(k);
}

TEST(garbage) {
    ScepCA *ca = NULL;
    AeError e = { 0 };
    uint8_t *der;
    size_t n = fx_der_cert(f.ca, &der);
    is_int(scep_ca_parse(der, n - 1, f.pin, &ca, &e), -EBADMSG, "truncated DER");
    ok(strstr(e.message, "neither"), "clear message: %s", e.message);
    const uint8_t junk[] = "<html>nope</html>";
    is_int(scep_ca_parse(junk, sizeof junk, f.pin, &ca, &e), -EBADMSG, "HTML");
    uint8_t *p7;
    size_t pn = fx_certs_only(NULL, 0, NULL, &p7);
    is_int(scep_ca_parse(p7, pn, f.pin, &ca, &e), -EBADMSG, "PKCS#7 without certificates");
    OPENSSL_free(p7);
    OPENSSL_free(der);
}

TEST(intermediate_pin) {
    /* Pin an issuing sub-CA rather than the root: it is the anchor. */
    EVP_PKEY *k = fx_key();
    X509 *sub = fx_cert("Sub CA", k, f.ca, f.ca_key, KU_ALL_CA, true, 365);
    X509 *ra = fx_cert("Sub RA", k, sub, k, KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT, false, 30);
    X509 *certs[] = { ra, sub, f.ca };
    uint8_t *der, pin[32];
    size_t n = fx_certs_only(certs, 3, NULL, &der);
    ScepCA *ca = NULL;
    AeError e = { 0 };
    fx_pin(sub, pin);
    is_int(scep_ca_parse(der, n, pin, &ca, &e), 0, "parse with the sub-CA pinned");
    ok(ca && X509_cmp(scep_ca_get_encrypt(ca), ra) == 0, "RA does both");
    ok(ca && X509_cmp(scep_ca_get_issuer(ca), sub) == 0, "issuer is the sub-CA");
    scep_ca_free(ca);
    OPENSSL_free(der);
    X509_free(ra);
    X509_free(sub);
    EVP_PKEY_free(k);
}

TEST(expired_ra) {
    EVP_PKEY *k = fx_key();
    X509 *old = fx_cert("Old RA", k, f.ca, f.ca_key, KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT, false, -1);
    X509 *certs[] = { old, f.ca };
    uint8_t *der;
    size_t n = fx_certs_only(certs, 2, NULL, &der);
    ScepCA *ca = NULL;
    AeError e = { 0 };
    is_int(scep_ca_parse(der, n, f.pin, &ca, &e), -EPERM, "an expired RA is not silently replaced by the CA");
    ok(strstr(e.message, "Old RA") && strstr(e.message, "expired"), "says why: %s", e.message);
    OPENSSL_free(der);
    X509_free(old);
    EVP_PKEY_free(k);
}

TEST(next_ca) {
    X509 *certs[] = { f.ra_sign, f.ra_enc, f.ca };
    uint8_t *der, *inner;
    size_t n = fx_certs_only(certs, 3, NULL, &der);
    ScepCA *ca = NULL;
    AeError e = { 0 };
    is_int(scep_ca_parse(der, n, f.pin, &ca, &e), 0, "current CA");
    EVP_PKEY *k = fx_key();
    X509 *next = fx_cert("Next CA", k, NULL, k, KU_ALL_CA, true, 3650);
    X509 *nc[] = { next };
    size_t in = fx_certs_only(nc, 1, NULL, &inner);
    /* SignedData over the certs-only PKCS#7, signed by the RA */
    BIO *bio = BIO_new_mem_buf(inner, (int)in);
    PKCS7 *p7 = PKCS7_sign(f.ra_sign, f.sign_key, NULL, bio, PKCS7_BINARY);
    unsigned char *sd = NULL;
    int sn = i2d_PKCS7(p7, &sd);
    STACK_OF(X509) *got = NULL;
    is_int(scep_next_ca_parse(ca, sd, (size_t)sn, &got, &e), 0, "GetNextCACert signed by the RA");
    ok(got && sk_X509_num(got) == 1 && X509_cmp(sk_X509_value(got, 0), next) == 0, "the next CA");
    sk_X509_pop_free(got, X509_free);
    got = NULL;
    PKCS7_free(p7);
    OPENSSL_free(sd);
    sd = NULL;
    /* signed by a stranger */
    X509 *self = fx_cert("Stranger", k, NULL, k, KU_DIGITAL_SIGNATURE, false, 30);
    BIO_free(bio);
    bio = BIO_new_mem_buf(inner, (int)in);
    p7 = PKCS7_sign(self, k, NULL, bio, PKCS7_BINARY);
    sn = i2d_PKCS7(p7, &sd);
    is_int(scep_next_ca_parse(ca, sd, (size_t)sn, &got, &e), -EPERM, "signed by a stranger: refused");
    ok(got == NULL, "nothing returned");
    is_int(scep_next_ca_parse(ca, sd, (size_t)sn - 3, &got, &e), -EBADMSG, "truncated");
    PKCS7_free(p7);
    OPENSSL_free(sd);
    BIO_free(bio);
    X509_free(self);
    X509_free(next);
    EVP_PKEY_free(k);
    OPENSSL_free(inner);
    OPENSSL_free(der);
    scep_ca_free(ca);
}

int main(void) {
    fx_init(&f);
    return tap_run();
}
