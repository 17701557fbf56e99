#include <stdlib.h>

#include <openssl/x509v3.h>

#include "daemon/csr.h"
#include "daemon/util.h"
#include "tests/unit/tap.h"
#include "tests/unit/test-scep-fixture.h"

static EVP_PKEY *key;

static char *req_text(X509_REQ *req) {
    BIO *b = BIO_new(BIO_s_mem());
    char *d, *s;
    X509_REQ_print(b, req);
    long n = BIO_get_mem_data(b, &d);
    s = strndup(d, (size_t)n);
    BIO_free(b);
    return s;
}

TEST(machine_profile) {
    const char *dns[] = { "client.autoenroll.test", NULL };
    CsrProfile p = { .subject = "CN=client.autoenroll.test", .dns_names = dns,
                     .sid = "S-1-5-21-1004336348-1177238915-682003330-1001",
                     .challenge = "8CE317021F690069" };
    X509_REQ *req = NULL;
    AeError e = { 0 };
    is_int(csr_new(&p, key, &req, &e), 0, "build");
    ok(req && X509_REQ_verify(req, key) == 1, "signature verifies");
    _cleanup_free_ char *t = req_text(req);
    ok(strstr(t, "Subject: CN=client.autoenroll.test"), "subject");
    ok(strstr(t, "DNS:client.autoenroll.test"), "SAN dNSName");
    ok(strstr(t, "URI:tag:microsoft.com,2022-09-14:sid:S-1-5-21-1004336348-1177238915-682003330-1001"),
       "SID URI");
    ok(strstr(t, "TLS Web Client Authentication"), "EKU clientAuth by default");
    ok(strstr(t, "Digital Signature, Key Encipherment"), "default key usage");
    int idx = X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1);
    ASN1_TYPE *v = idx >= 0 ? X509_ATTRIBUTE_get0_type(X509_REQ_get_attr(req, idx), 0) : NULL;
    ok(v && v->type == V_ASN1_PRINTABLESTRING, "challengePassword is a PrintableString");
    ok(v && ASN1_STRING_length(v->value.asn1_string) == 16, "challenge length");
    X509_REQ_free(req);
}

TEST(user_profile) {
    const char *upn[] = { "alice@AUTOENROLL.TEST", NULL };
    const char *mail[] = { "alice@autoenroll.test", NULL };
    const char *uri[] = { "https://example.test/alice", NULL };
    const char *eku[] = { "clientAuth", "1.3.6.1.4.1.311.20.2.2", NULL };
    CsrProfile p = { .subject = "/O=Autoenroll Test/CN=alice\\, the user", .upns = upn,
                     .emails = mail, .uris = uri, .ekus = eku, .key_usage = CSR_KU_DIGITAL_SIGNATURE,
                     .digest = "SHA512" };
    X509_REQ *req = NULL;
    AeError e = { 0 };
    is_int(csr_new(&p, key, &req, &e), 0, "build");
    _cleanup_free_ char *t = req_text(req);
    ok(strstr(t, "Subject: O=Autoenroll Test, CN=alice, the user"), "slash subject, escape: %s", t);
    ok(strstr(t, "othername: UPN:alice@AUTOENROLL.TEST") || strstr(t, "othername:<unsupported>") ||
           strstr(t, "UPN"), "UPN otherName");
    ok(strstr(t, "email:alice@autoenroll.test"), "rfc822Name");
    ok(strstr(t, "URI:https://example.test/alice"), "URI");
    ok(strstr(t, "1.3.6.1.4.1.311.20.2.2") || strstr(t, "Microsoft Smartcard Login"), "extra EKU");
    ok(strstr(t, "sha512WithRSAEncryption"), "digest from profile");
    ok(X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1) < 0, "no challenge");
    /* UPN value check by structure */
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    GENERAL_NAMES *gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    int found = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char oid[64];
        if (g->type == GEN_OTHERNAME) {
            OBJ_obj2txt(oid, sizeof oid, g->d.otherName->type_id, 1);
            found = streq(oid, "1.3.6.1.4.1.311.20.2.3") &&
                    g->d.otherName->value->type == V_ASN1_UTF8STRING;
        }
    }
    ok(found, "UPN otherName 1.3.6.1.4.1.311.20.2.3 as UTF8String");
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
}

TEST(bad_profiles) {
    X509_REQ *req = NULL;
    AeError e = { 0 };
    CsrProfile p = { .subject = "nonsense" };
    is_int(csr_new(&p, key, &req, &e), -EINVAL, "subject without '='");
    ok(strstr(e.message, "bad subject") && streq(e.category, "config"), "%s", e.message);
    p.subject = "CN=x";
    p.sid = "S-1-5-";
    is_int(csr_new(&p, key, &req, &e), -EINVAL, "bad SID");
    ok(strstr(e.message, "bad SID"), "%s", e.message);
    p.sid = NULL;
    const char *eku[] = { "noSuchUsage", NULL };
    p.ekus = eku;
    is_int(csr_new(&p, key, &req, &e), -EINVAL, "unknown EKU");
    p.ekus = NULL;
    const char *dns[] = { "bad name", NULL };
    p.dns_names = dns;
    is_int(csr_new(&p, key, &req, &e), -EINVAL, "DNS name with a space");
    ok(req == NULL, "nothing returned");
    ok(csr_sid_valid("S-1-5-18"), "S-1-5-18 valid");
    ok(!csr_sid_valid("S-1-5"), "S-1-5 too short");
    ok(!csr_sid_valid("S-1-5-x"), "letters");
}

TEST(utf8_challenge) {
    CsrProfile p = { .subject = "CN=x", .challenge = "pässword_with*" };
    X509_REQ *req = NULL;
    AeError e = { 0 };
    is_int(csr_new(&p, key, &req, &e), 0, "build");
    int idx = X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1);
    ASN1_TYPE *v = X509_ATTRIBUTE_get0_type(X509_REQ_get_attr(req, idx), 0);
    ok(v->type == V_ASN1_UTF8STRING, "non-printable challenge as UTF8String");
    X509_REQ_free(req);
}

int main(void) {
    key = fx_key();
    int r = tap_run();
    EVP_PKEY_free(key);
    return r;
}
