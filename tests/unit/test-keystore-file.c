/* The file key store through the public keystore API. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "daemon/util.h"
#include "pkcs11/keystore.h"
#include "tests/unit/tap.h"

static inline void X509_freep(X509 **x) { X509_free(*x); }

static char dir[] = "/tmp/test-keystore-file-XXXXXX";
static char loc[128];

static X509 *self_signed(EVP_PKEY *pkey) {
    X509 *x = X509_new();
    if (!x || !X509_set_version(x, X509_VERSION_3) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(x), 7) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 3600) ||
        !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                    (const unsigned char *)"test", -1, -1, 0) ||
        !X509_set_issuer_name(x, X509_get_subject_name(x)) || !X509_set_pubkey(x, pkey) ||
        X509_sign(x, pkey, EVP_sha256()) <= 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

TEST(bad_locations) {
    _cleanup_keystore_ Keystore *ks = NULL;
    AeError e = { 0 };
    is_int(keystore_open("/tmp/x", &e, &ks), -EINVAL, "no scheme refused");
    is_str(e.category, "config", "config category");
    is_int(keystore_open("file:relative", &e, &ks), -EINVAL, "relative dir refused");
    is_int(keystore_open("pkcs11:token=x?module-path=/nonexistent/mod.so", &e, &ks), -ENOENT,
           "missing module is ENOENT");
    is_str(e.category, "token", "token category");
    ok(strstr(e.message, "/nonexistent/mod.so") != NULL, "message names the module");
    is_int(keystore_open("pkcs11:token=x?pin-value=SECRETPIN&module-path=/nonexistent/mod.so", &e,
                         &ks),
           -ENOENT, "missing module with a PIN");
    ok(strstr(e.message, "SECRETPIN") == NULL, "the PIN is not in the message");
    is_int(keystore_open("pkcs11:token=%zz", &e, &ks), -EINVAL, "bad URI refused");
    is_int(keystore_open("pkcs11:token=x;module-path=/m.so", &e, &ks), -EINVAL,
           "module-path in the path part refused");
    ok(strstr(e.message, "after '?'") != NULL, "message says where it goes");
}

TEST(generate_sign_store_delete) {
    _cleanup_keystore_ Keystore *ks = NULL;
    _cleanup_key_ Key *k = NULL, *k2 = NULL;
    AeError e = { 0 };
    KeyParams p = { .bits = 2048, .uid = (uid_t)-1, .gid = (gid_t)-1 };
    struct stat st;

    is_int(keystore_open(loc, &e, &ks), 0, "open the file store");
    ok(!keystore_is_token(ks), "not a token");
    is_int(keystore_generate(ks, &p, &e, &k), 0, "generate RSA-2048");
    if (!k)
        return;
    is_int(strlen(key_ref(k)), 40, "ref is 20 bytes of hex");
    _cleanup_free_ char *uri = key_uri(k), *want = NULL;
    if (asprintf(&want, "%s/%s.key", loc, key_ref(k)) < 0)
        abort();
    is_str(uri, want, "key URI is the file");
    ok(stat(want + 5, &st) == 0 && (st.st_mode & 07777) == 0600, "key file is 0600");
    is_int(EVP_PKEY_get_bits(key_get_pkey(k)), 2048, "2048 bits");

    _cleanup_(X509_freep) X509 *x = self_signed(key_get_pkey(k));
    ok(x != NULL, "self-signed certificate with the key");
    is_int(keystore_store_cert(ks, k, x, &e), 0, "store the certificate");
    is_int(keystore_load_key(ks, key_ref(k), &e, &k2), 0, "load the key again by ref");
    ok(k2 && EVP_PKEY_eq(key_get_pkey(k), key_get_pkey(k2)) == 1, "same key");
    _cleanup_(X509_freep) X509 *x2 = NULL;
    is_int(keystore_load_cert(ks, k2, &e, &x2), 0, "load the certificate");
    ok(x2 && X509_cmp(x, x2) == 0, "same certificate");

    /* A certificate for another key is refused. */
    _cleanup_key_ Key *other = NULL;
    is_int(keystore_generate(ks, &p, &e, &other), 0, "second key");
    is_int(keystore_store_cert(ks, other, x, &e), -EINVAL, "foreign certificate refused");

    KeystoreEntry *v = NULL;
    size_t n = 0;
    is_int(keystore_list(ks, &e, &v, &n), 0, "list");
    is_int(n, 2, "two keys listed");
    int with_cert = 0;
    for (size_t i = 0; i < n; i++)
        with_cert += v[i].cert != NULL && v[i].cert_uri != NULL;
    is_int(with_cert, 1, "one with a certificate");
    keystore_entries_free(v, n);

    is_int(keystore_delete_key(ks, key_ref(other), &e), 0, "delete the second key");
    is_int(keystore_delete_key(ks, key_ref(k), &e), 0, "delete the first key");
    ok(access(want + 5, F_OK) < 0, "key file gone");
    is_int(keystore_delete_key(ks, key_ref(k), &e), -ENOKEY, "deleting again is ENOKEY");
    _cleanup_key_ Key *k3 = NULL;
    is_int(keystore_load_key(ks, key_ref(k), &e, &k3), -ENOKEY, "load after delete is ENOKEY");
}

TEST(refs_and_params) {
    _cleanup_keystore_ Keystore *ks = NULL;
    _cleanup_key_ Key *k = NULL;
    AeError e = { 0 };
    static const uint8_t id[] = { 0xab, 0xcd };
    KeyParams p = { .bits = 1024, .uid = (uid_t)-1, .gid = (gid_t)-1 };

    is_int(keystore_open(loc, &e, &ks), 0, "open");
    is_int(keystore_generate(ks, &p, &e, &k), -EINVAL, "RSA-1024 refused");
    p.bits = 0;
    p.id = id;
    p.id_len = sizeof id;
    is_int(keystore_generate(ks, &p, &e, &k), 0, "generate with an id, default size");
    is_str(k ? key_ref(k) : NULL, "abcd", "ref is the id in hex");
    ok(k && EVP_PKEY_get_bits(key_get_pkey(k)) == 2048, "default is 2048");
    _cleanup_key_ Key *k2 = NULL;
    is_int(keystore_generate(ks, &p, &e, &k2), -EEXIST, "same id twice refused");
    is_int(keystore_load_key(ks, "../etc/passwd", &e, &k2), -EINVAL, "path in a ref refused");
    is_int(keystore_load_key(ks, "ABCD", &e, &k2), 0, "refs are case-insensitive");
    is_int(keystore_delete_key(ks, "ABCD", &e), 0, "delete takes either case");
}

TEST(decrypt_cms) {
    _cleanup_keystore_ Keystore *ks = NULL;
    _cleanup_key_ Key *k = NULL;
    AeError e = { 0 };
    is_int(keystore_open(loc, &e, &ks), 0, "open");
    is_int(keystore_generate(ks, NULL, &e, &k), 0, "generate with NULL params");
    if (!k)
        return;
    _cleanup_(X509_freep) X509 *x = self_signed(key_get_pkey(k));
    STACK_OF(X509) *certs = sk_X509_new_null();
    sk_X509_push(certs, x);
    BIO *in = BIO_new_mem_buf("secret content", -1), *out = BIO_new(BIO_s_mem());
    CMS_ContentInfo *cms = CMS_encrypt(certs, in, EVP_aes_256_cbc(), CMS_BINARY);
    ok(cms != NULL, "CMS envelope to the key");
    ok(cms && CMS_decrypt(cms, key_get_pkey(k), x, NULL, out, CMS_BINARY) == 1, "decrypts");
    char *p = NULL;
    long l = BIO_get_mem_data(out, &p);
    ok(l == 14 && memcmp(p, "secret content", 14) == 0, "content");
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    BIO_free(out);
    sk_X509_free(certs);
}

int main(void) {
    if (!mkdtemp(dir))
        return 99;
    snprintf(loc, sizeof loc, "file:%s/keys", dir);
    int r = tap_run();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        r = 1;
    return r;
}
