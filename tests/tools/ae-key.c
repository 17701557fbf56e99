/* ae-key: drive the key store from scripts (integration tests, bench).
 *
 *   ae-key generate  LOCATION [--bits N] [--label L] [--id HEX] [--owner UID:GID]
 *   ae-key list      LOCATION
 *   ae-key uri       LOCATION REF
 *   ae-key pubkey    LOCATION REF OUT.pem           (i2d_PUBKEY)
 *   ae-key sign-csr  LOCATION REF CN OUT.pem [MD]   (X509_REQ_sign)
 *   ae-key self-sign LOCATION REF CN OUT.pem        (X509_sign, 1 day)
 *   ae-key sign-data LOCATION REF MD IN OUT         (EVP_DigestSign)
 *   ae-key sign-p7   LOCATION REF CERT IN OUT.der   (PKCS7_sign PARTIAL + attr + final)
 *   ae-key sign-cms  LOCATION REF CERT IN OUT.der   (CMS_sign)
 *   ae-key decrypt   LOCATION REF IN.der OUT        (CMS_decrypt with the key)
 *   ae-key store-cert LOCATION REF CERT.pem
 *   ae-key match-cert LOCATION REF CERT.pem         (EVP_PKEY_eq)
 *   ae-key delete    LOCATION REF
 *   ae-key probe-secret LOCATION REF                (token: try to read the private key)
 *   ae-key bench-sign LOCATION REF N                (N signatures, prints ms per signature)
 *   ae-key sign-wait LOCATION REF CN OUT.pem        (open, print "ready", wait for a line on stdin, sign a CSR)
 *   ae-key concurrent LOCATION REF [MIN]            (generate on a thread while signing)
 *
 * Output on stdout; errors as "ae-key: <category>: <message>" on stderr and
 * exit status 1 (2 for usage). REF is key_ref(). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "daemon/util.h"
#include "pkcs11/keystore.h"
#include "pkcs11/token.h"

static int fail_err(const AeError *e) {
    fprintf(stderr, "ae-key: %s: %s (%s)\n", e->category, e->message, strerror(-e->code));
    return 1;
}

static int fail_ossl(const char *what) {
    AeError e = { 0 };
    keystore_openssl_error(&e, what);
    ERR_print_errors_fp(stderr);
    return fail_err(&e);
}

static int usage(void) {
    fprintf(stderr, "usage: ae-key COMMAND LOCATION [ARGS...] (see the source header)\n");
    return 2;
}

static int open_key(const char *loc, const char *ref, Keystore **ks, Key **k) {
    AeError e = { 0 };
    if (keystore_open(loc, &e, ks) < 0 || keystore_load_key(*ks, ref, &e, k) < 0)
        return fail_err(&e);
    return 0;
}

static X509 *read_cert(const char *path) {
    FILE *f = fopen(path, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    return x;
}

static BIO *read_bio(const char *path) { return BIO_new_file(path, "rb"); }

static int cmd_generate(const char *loc, int argc, char **argv) {
    _cleanup_keystore_ Keystore *ks = NULL;
    _cleanup_key_ Key *k = NULL;
    KeyParams p = { .uid = (uid_t)-1, .gid = (gid_t)-1 };
    uint8_t id[64];
    AeError e = { 0 };

    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        if (streq(argv[i], "--bits"))
            p.bits = (unsigned)atoi(v);
        else if (streq(argv[i], "--label"))
            p.label = v;
        else if (streq(argv[i], "--id")) {
            size_t l = strlen(v);
            if (l % 2 || l == 0 || l > 128)
                return usage();
            for (size_t j = 0; j < l / 2; j++)
                if (sscanf(v + 2 * j, "%2hhx", &id[j]) != 1)
                    return usage();
            p.id = id;
            p.id_len = l / 2;
        } else if (streq(argv[i], "--owner")) {
            unsigned u, g;
            if (sscanf(v, "%u:%u", &u, &g) != 2)
                return usage();
            p.uid = u;
            p.gid = g;
        } else
            return usage();
        i++;
    }
    if (keystore_open(loc, &e, &ks) < 0 || keystore_generate(ks, &p, &e, &k) < 0)
        return fail_err(&e);
    _cleanup_free_ char *uri = key_uri(k);
    printf("%s %s\n", key_ref(k), uri);
    return 0;
}

static int cmd_list(const char *loc) {
    _cleanup_keystore_ Keystore *ks = NULL;
    KeystoreEntry *v = NULL;
    size_t n = 0;
    AeError e = { 0 };

    if (keystore_open(loc, &e, &ks) < 0 || keystore_list(ks, &e, &v, &n) < 0)
        return fail_err(&e);
    for (size_t i = 0; i < n; i++) {
        char subj[256] = "-";
        if (v[i].cert)
            X509_NAME_oneline(X509_get_subject_name(v[i].cert), subj, sizeof subj);
        printf("ref=%s label=%s id=%s\n  key=%s\n  cert=%s\n  subject=%s\n", v[i].ref,
               v[i].label, v[i].id_hex, v[i].key_uri, v[i].cert_uri ? v[i].cert_uri : "-", subj);
    }
    keystore_entries_free(v, n);
    return 0;
}

static int cmd_uri(Keystore *ks, Key *k) {
    _cleanup_free_ char *u = key_uri(k), *c = key_cert_uri(k), *id = key_id_hex(k);
    printf("%s\n%s\n%s\n", u, c, id);
    return 0;
}

static int cmd_pubkey(Key *k, const char *out) {
    BIO *b = BIO_new_file(out, "w");
    int ok = b && PEM_write_bio_PUBKEY(b, key_get_pkey(k));
    BIO_free(b);
    return ok ? 0 : fail_ossl("PEM_write_bio_PUBKEY");
}

static int set_cn(X509_NAME *n, const char *cn) {
    return X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                      0);
}

static int cmd_sign_csr(Key *k, const char *cn, const char *out, const char *md) {
    X509_REQ *req = X509_REQ_new();
    const EVP_MD *dig = EVP_get_digestbyname(md ? md : "SHA256");
    BIO *b = NULL;
    int r = 1;

    if (!req || !dig || !set_cn(X509_REQ_get_subject_name(req), cn) ||
        !X509_REQ_set_pubkey(req, key_get_pkey(k))) {
        r = fail_ossl("building the CSR");
        goto out;
    }
    if (X509_REQ_sign(req, key_get_pkey(k), dig) <= 0) {
        r = fail_ossl("X509_REQ_sign");
        goto out;
    }
    b = BIO_new_file(out, "w");
    r = b && PEM_write_bio_X509_REQ(b, req) ? 0 : fail_ossl("writing the CSR");
out:
    BIO_free(b);
    X509_REQ_free(req);
    return r;
}

static int cmd_self_sign(Key *k, const char *cn, const char *out) {
    X509 *x = X509_new();
    BIO *b = NULL;
    int r = 1;

    if (!x || !X509_set_version(x, X509_VERSION_3) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL)) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 86400) ||
        !set_cn(X509_get_subject_name(x), cn) ||
        !X509_set_issuer_name(x, X509_get_subject_name(x)) ||
        !X509_set_pubkey(x, key_get_pkey(k))) {
        r = fail_ossl("building the certificate");
        goto out;
    }
    if (X509_sign(x, key_get_pkey(k), EVP_sha256()) <= 0) {
        r = fail_ossl("X509_sign");
        goto out;
    }
    b = BIO_new_file(out, "w");
    r = b && PEM_write_bio_X509(b, x) ? 0 : fail_ossl("writing the certificate");
out:
    BIO_free(b);
    X509_free(x);
    return r;
}

static int read_all(const char *path, unsigned char **ret, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!f)
        return -1;
    for (;;) {
        if (n == cap) {
            unsigned char *nb = realloc(buf, cap = cap ? 2 * cap : 4096);
            if (!nb)
                break;
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    *ret = buf;
    *len = n;
    return 0;
}

static int write_all(const char *path, const unsigned char *d, size_t n) {
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(d, 1, n, f) == n;
    if (f && fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

static int cmd_sign_data(Key *k, const char *md, const char *in, const char *out) {
    _cleanup_free_ unsigned char *data = NULL, *sig = NULL;
    size_t len = 0, siglen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int r = 1;

    if (read_all(in, &data, &len) < 0)
        return fail_ossl("reading input");
    if (!ctx || EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, key_get_pkey(k), NULL) <= 0 ||
        EVP_DigestSign(ctx, NULL, &siglen, data, len) <= 0 || !(sig = malloc(siglen)) ||
        EVP_DigestSign(ctx, sig, &siglen, data, len) <= 0) {
        r = fail_ossl("EVP_DigestSign");
        goto out;
    }
    r = write_all(out, sig, siglen) < 0 ? fail_ossl("writing the signature") : 0;
out:
    EVP_MD_CTX_free(ctx);
    return r;
}

static int cmd_sign_p7(Key *k, const char *certf, const char *in, const char *out) {
    X509 *cert = read_cert(certf);
    BIO *data = read_bio(in), *o = NULL;
    PKCS7 *p7 = NULL;
    PKCS7_SIGNER_INFO *si;
    ASN1_PRINTABLESTRING *mt = ASN1_PRINTABLESTRING_new();
    int r = 1;

    if (!cert || !data || !mt)
        goto out;
    p7 = PKCS7_sign(NULL, NULL, NULL, NULL, PKCS7_BINARY | PKCS7_PARTIAL | PKCS7_NOSMIMECAP);
    if (!p7 || !(si = PKCS7_sign_add_signer(p7, cert, key_get_pkey(k), EVP_sha256(),
                                              PKCS7_BINARY | PKCS7_NOSMIMECAP)))
        goto out;
    /* A SCEP-like signed attribute: messageType = 19 (PKCSReq). */
    if (!ASN1_STRING_set(mt, "19", 2) ||
        !PKCS7_add_signed_attribute(si, OBJ_txt2nid("2.16.840.1.113733.1.9.2") != NID_undef
                                            ? OBJ_txt2nid("2.16.840.1.113733.1.9.2")
                                            : OBJ_create("2.16.840.1.113733.1.9.2",
                                                         "messageType", "messageType"),
                                    V_ASN1_PRINTABLESTRING, mt))
        goto out;
    mt = NULL;
    if (!PKCS7_final(p7, data, PKCS7_BINARY))
        goto out;
    o = BIO_new_file(out, "wb");
    if (o && i2d_PKCS7_bio(o, p7))
        r = 0;
out:
    if (r)
        fail_ossl("PKCS7 signing");
    ASN1_PRINTABLESTRING_free(mt);
    PKCS7_free(p7);
    BIO_free(data);
    BIO_free(o);
    X509_free(cert);
    return r;
}

static int cmd_sign_cms(Key *k, const char *certf, const char *in, const char *out) {
    X509 *cert = read_cert(certf);
    BIO *data = read_bio(in), *o = NULL;
    CMS_ContentInfo *cms = NULL;
    int r = 1;

    if (cert && data)
        cms = CMS_sign(cert, key_get_pkey(k), NULL, data, CMS_BINARY);
    if (cms && (o = BIO_new_file(out, "wb")) && i2d_CMS_bio(o, cms))
        r = 0;
    if (r)
        fail_ossl("CMS_sign");
    CMS_ContentInfo_free(cms);
    BIO_free(data);
    BIO_free(o);
    X509_free(cert);
    return r;
}

static int cmd_decrypt(Keystore *ks, Key *k, const char *in, const char *out) {
    BIO *b = read_bio(in), *o = NULL;
    CMS_ContentInfo *cms = b ? d2i_CMS_bio(b, NULL) : NULL;
    X509 *cert = NULL;
    int r = 1;

    /* With the certificate CMS picks the right recipient; without it tries all. */
    (void)keystore_load_cert(ks, k, NULL, &cert);
    o = BIO_new_file(out, "wb");
    if (cms && o && CMS_decrypt(cms, key_get_pkey(k), cert, NULL, o, CMS_BINARY))
        r = 0;
    else
        fail_ossl("CMS_decrypt");
    X509_free(cert);
    CMS_ContentInfo_free(cms);
    BIO_free(b);
    BIO_free(o);
    return r;
}

static int cmd_store_cert(Keystore *ks, Key *k, const char *certf) {
    X509 *cert = read_cert(certf);
    AeError e = { 0 };
    int r;
    if (!cert)
        return fail_ossl("reading the certificate");
    r = keystore_store_cert(ks, k, cert, &e);
    X509_free(cert);
    return r < 0 ? fail_err(&e) : 0;
}

static int cmd_match_cert(Key *k, const char *certf) {
    X509 *cert = read_cert(certf);
    int r = cert && EVP_PKEY_eq(X509_get0_pubkey(cert), key_get_pkey(k)) == 1 ? 0 : 1;
    X509_free(cert);
    if (r)
        fprintf(stderr, "ae-key: the certificate does not match the key\n");
    return r;
}

/* Try every way PKCS#11 offers to read the private key out; all must fail. */
static int cmd_probe_secret(const char *loc, const char *ref) {
    P11Token *t = NULL;
    AeError e = { 0 };
    uint8_t id[64];
    size_t id_len = strlen(ref) / 2;
    CK_OBJECT_HANDLE h;
    static const struct {
        CK_ATTRIBUTE_TYPE type;
        const char *name;
    } secret[] = {
        { CKA_PRIVATE_EXPONENT, "CKA_PRIVATE_EXPONENT" }, { CKA_PRIME_1, "CKA_PRIME_1" },
        { CKA_PRIME_2, "CKA_PRIME_2" },                   { CKA_VALUE, "CKA_VALUE" },
    };
    static const struct {
        CK_ATTRIBUTE_TYPE type;
        const char *name;
        uint8_t want;
    } flags[] = {
        { CKA_SENSITIVE, "CKA_SENSITIVE", 1 },       { CKA_EXTRACTABLE, "CKA_EXTRACTABLE", 0 },
        { CKA_SIGN, "CKA_SIGN", 1 },                 { CKA_DECRYPT, "CKA_DECRYPT", 1 },
        { CKA_PRIVATE, "CKA_PRIVATE", 1 },
    };
    int bad = 0;

    if (id_len == 0 || id_len > sizeof id)
        return usage();
    for (size_t i = 0; i < id_len; i++)
        if (sscanf(ref + 2 * i, "%2hhx", &id[i]) != 1)
            return usage();
    if (p11token_open(loc, &e, &t) < 0 || p11token_find_key(t, id, id_len, &e, &h) < 0) {
        p11token_unref(t);
        return fail_err(&e);
    }
    for (size_t i = 0; i < ELEMENTSOF(secret); i++) {
        _cleanup_free_ uint8_t *v = NULL;
        size_t l = 0;
        int r = p11token_get_attr(t, h, secret[i].type, &e, &v, &l);
        if (r == 0) {
            printf("LEAK: %s readable (%zu bytes)\n", secret[i].name, l);
            bad++;
        } else {
            printf("refused: %s: %s\n", secret[i].name, e.message);
        }
    }
    for (size_t i = 0; i < ELEMENTSOF(flags); i++) {
        _cleanup_free_ uint8_t *v = NULL;
        size_t l = 0;
        if (p11token_get_attr(t, h, flags[i].type, &e, &v, &l) < 0 || l != 1 ||
            !!v[0] != flags[i].want) {
            printf("WRONG: %s is not %s\n", flags[i].name, flags[i].want ? "true" : "false");
            bad++;
        } else {
            printf("ok: %s = %s\n", flags[i].name, flags[i].want ? "true" : "false");
        }
    }
    p11token_unref(t);
    return bad ? 1 : 0;
}

static int cmd_bench_sign(Key *k, int n) {
    unsigned char data[64] = { 1 };
    unsigned char sig[1024];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++) {
        size_t siglen = sizeof sig;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key_get_pkey(k)) > 0 &&
                 EVP_DigestSign(ctx, sig, &siglen, data, sizeof data) > 0;
        EVP_MD_CTX_free(ctx);
        if (!ok)
            return fail_ossl("EVP_DigestSign");
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.3f\n", ((b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6) / n);
    return 0;
}

struct gen_job {
    Keystore *ks;
    const char *location;
    Key *key;
    AeError err;
    int r;
    atomic_int done;
};

static void *gen_thread(void *arg) {
    struct gen_job *j = arg;
    KeyParams p = { .bits = 2048, .label = "concurrent", .uid = (uid_t)-1, .gid = (gid_t)-1 };
    Keystore *own = NULL;
    /* With a location: a Keystore of the worker's own, as the daemon does. */
    if (j->location && (j->r = keystore_open(j->location, &j->err, &own)) < 0)
        goto out;
    j->r = keystore_generate(own ? own : j->ks, &p, &j->err, &j->key);
    keystore_free(own);
out:
    atomic_store(&j->done, 1);
    return NULL;
}

/* The daemon's pattern: a worker thread generates (slow on a TPM) while the
 * main thread keeps signing with another key of the same keystore. */
static int run_concurrent(Keystore *ks, Key *k, const char *location, int min) {
    struct gen_job j = { .ks = ks, .location = location };
    pthread_t th;
    unsigned char sig[1024], data[32] = { 0 };
    int signs = 0, bad = 0;

    atomic_init(&j.done, 0);
    if (pthread_create(&th, NULL, gen_thread, &j) != 0)
        return 1;
    do {
        size_t siglen = sizeof sig;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key_get_pkey(k)) <= 0 ||
            EVP_DigestSign(ctx, sig, &siglen, data, sizeof data) <= 0)
            bad++;
        else
            signs++;
        EVP_MD_CTX_free(ctx);
    } while (!atomic_load(&j.done));
    pthread_join(th, NULL);
    printf("%s: signatures while generating: %d (failed %d)\n",
           location ? "own keystore" : "same keystore", signs, bad);
    if (j.r < 0)
        return fail_err(&j.err);
    AeError e = { 0 };
    int r = keystore_delete_key(ks, key_ref(j.key), &e);
    key_free(j.key);
    if (r < 0)
        return fail_err(&e);
    return bad == 0 && signs >= min ? 0 : 1;
}

/* min: signatures the main thread must have made while the worker generated
 * (a software token works in parallel; a TPM runs one command at a time). */
static int cmd_concurrent(Keystore *ks, Key *k, const char *location, int min) {
    int r = run_concurrent(ks, k, NULL, min);
    return r ? r : run_concurrent(ks, k, location, min);
}

int main(int argc, char **argv) {
    _cleanup_keystore_ Keystore *ks = NULL;
    _cleanup_key_ Key *k = NULL;
    const char *cmd, *loc;

    if (argc < 3)
        return usage();
    cmd = argv[1];
    loc = argv[2];
    if (streq(cmd, "generate"))
        return cmd_generate(loc, argc - 3, argv + 3);
    if (streq(cmd, "list"))
        return cmd_list(loc);
    if (argc < 4)
        return usage();
    if (streq(cmd, "probe-secret"))
        return cmd_probe_secret(loc, argv[3]);
    if (streq(cmd, "delete")) {
        AeError e = { 0 };
        if (keystore_open(loc, &e, &ks) < 0 || keystore_delete_key(ks, argv[3], &e) < 0)
            return fail_err(&e);
        return 0;
    }
    if (open_key(loc, argv[3], &ks, &k))
        return 1;
    argc -= 4;
    argv += 4;
    if (streq(cmd, "uri") && argc == 0)
        return cmd_uri(ks, k);
    if (streq(cmd, "pubkey") && argc == 1)
        return cmd_pubkey(k, argv[0]);
    if (streq(cmd, "sign-csr") && (argc == 2 || argc == 3))
        return cmd_sign_csr(k, argv[0], argv[1], argc == 3 ? argv[2] : NULL);
    if (streq(cmd, "sign-wait") && argc == 2) {
        char line[16];
        printf("ready\n");
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin))
            return 1;
        return cmd_sign_csr(k, argv[0], argv[1], NULL);
    }
    if (streq(cmd, "self-sign") && argc == 2)
        return cmd_self_sign(k, argv[0], argv[1]);
    if (streq(cmd, "sign-data") && argc == 3)
        return cmd_sign_data(k, argv[0], argv[1], argv[2]);
    if (streq(cmd, "sign-p7") && argc == 3)
        return cmd_sign_p7(k, argv[0], argv[1], argv[2]);
    if (streq(cmd, "sign-cms") && argc == 3)
        return cmd_sign_cms(k, argv[0], argv[1], argv[2]);
    if (streq(cmd, "decrypt") && argc == 2)
        return cmd_decrypt(ks, k, argv[0], argv[1]);
    if (streq(cmd, "store-cert") && argc == 1)
        return cmd_store_cert(ks, k, argv[0]);
    if (streq(cmd, "match-cert") && argc == 1)
        return cmd_match_cert(k, argv[0]);
    if (streq(cmd, "concurrent") && argc <= 1)
        return cmd_concurrent(ks, k, loc, argc ? atoi(argv[0]) : 1);
    if (streq(cmd, "bench-sign") && argc == 1)
        return cmd_bench_sign(k, atoi(argv[0]));
    return usage();
}
