/* File key store: PEM keys written atomically, owned by the certificate's owner. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "daemon/fileio.h"
#include "daemon/util.h"
#include "pkcs11/filestore.h"

static const char *ossl_reason(void) {
    unsigned long e = ERR_peek_last_error();
    const char *s = e ? ERR_reason_error_string(e) : NULL;
    return s ? s : "unknown OpenSSL error";
}

int filestore_open(const char *dir, AeError *err) {
    struct stat st;
    int r;

    if (dir[0] != '/')
        return ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "file key store %s: not an absolute path",
                            dir);
    r = fileio_mkdir_p(dir, 0711);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_STORAGE, "file key store %s: %s", dir, strerror(-r));
    if (stat(dir, &st) < 0)
        return ae_error_set(err, -errno, AE_ERR_STORAGE, "file key store %s: %s", dir,
                            strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ae_error_set(err, -ENOTDIR, AE_ERR_STORAGE, "file key store %s is not a directory",
                            dir);
    if (st.st_mode & 002)
        return ae_error_set(err, -EPERM, AE_ERR_STORAGE,
                            "file key store %s is world-writable: refusing it", dir);
    return 0;
}

int filestore_path(const char *dir, const char *ref, const char *suffix, char **ret) {
    return asprintf(ret, "%s/%s%s", dir, ref, suffix) < 0 ? -ENOMEM : 0;
}

int filestore_generate(const char *dir, const char *ref, unsigned bits, uid_t uid, gid_t gid,
                       AeError *err, EVP_PKEY **ret) {
    _cleanup_free_ char *path = NULL;
    EVP_PKEY *pkey = NULL;
    BIO *mem = NULL;
    char *pem = NULL;
    long len;
    int r;

    r = filestore_path(dir, ref, ".key", &path);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_TOKEN, "out of memory");
    if (access(path, F_OK) == 0)
        return ae_error_set(err, -EEXIST, AE_ERR_TOKEN, "key file %s already exists", path);

    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    if (!pkey)
        return ae_error_set(err, -EIO, AE_ERR_TOKEN, "RSA-%u key generation failed: %s", bits,
                            ossl_reason());
    mem = BIO_new(BIO_s_secmem());
    if (!mem || !PEM_write_bio_PrivateKey(mem, pkey, NULL, NULL, 0, NULL, NULL)) {
        r = ae_error_set(err, -EIO, AE_ERR_TOKEN, "could not encode the key: %s", ossl_reason());
        goto out;
    }
    len = BIO_get_mem_data(mem, &pem);
    r = fileio_write_atomic(path, pem, (size_t)len, 0600, uid, gid);
    if (r < 0) {
        r = ae_error_set(err, r, AE_ERR_STORAGE, "could not write key file %s: %s", path,
                         strerror(-r));
        goto out;
    }
    *ret = TAKE_PTR(pkey);
out:
    BIO_free(mem); /* secure heap BIO: wiped on free */
    EVP_PKEY_free(pkey);
    return r;
}

static int read_pem(const char *path, const char *what, AeError *err, BIO **ret) {
    _cleanup_secret_ char *data = NULL;
    size_t len = 0;
    BIO *b;
    int r = fileio_read(path, FILESTORE_MAX_FILE, &data, &len);
    if (r == -ENOENT)
        return ae_error_set(err, what[0] == 'k' ? -ENOKEY : -ENOENT, AE_ERR_TOKEN,
                            "no %s file %s", what, path);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_STORAGE, "%s file %s: %s", what, path, strerror(-r));
    b = BIO_new(BIO_s_secmem());
    if (!b || BIO_write(b, data, (int)len) != (int)len) {
        BIO_free(b);
        return ae_error_set(err, -ENOMEM, AE_ERR_TOKEN, "out of memory");
    }
    *ret = b;
    return 0;
}

int filestore_load(const char *dir, const char *ref, AeError *err, EVP_PKEY **ret) {
    _cleanup_free_ char *path = NULL;
    EVP_PKEY *pkey;
    BIO *b = NULL;
    int r;

    r = filestore_path(dir, ref, ".key", &path);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_TOKEN, "out of memory");
    r = read_pem(path, "key", err, &b);
    if (r < 0)
        return r;
    pkey = PEM_read_bio_PrivateKey_ex(b, NULL, NULL, NULL, NULL, NULL);
    BIO_free(b);
    if (!pkey)
        return ae_error_set(err, -EBADMSG, AE_ERR_TOKEN, "key file %s is not a PEM private key: %s",
                            path, ossl_reason());
    *ret = pkey;
    return 0;
}

int filestore_store_cert(const char *dir, const char *ref, X509 *cert, AeError *err) {
    _cleanup_free_ char *kpath = NULL, *cpath = NULL;
    struct stat st;
    BIO *mem = NULL;
    char *pem = NULL;
    long len;
    int r;

    if (filestore_path(dir, ref, ".key", &kpath) < 0 || filestore_path(dir, ref, ".crt", &cpath) < 0)
        return ae_error_set(err, -ENOMEM, AE_ERR_TOKEN, "out of memory");
    /* The certificate belongs to whoever owns the key. */
    if (stat(kpath, &st) < 0)
        return ae_error_set(err, errno == ENOENT ? -ENOKEY : -errno, AE_ERR_TOKEN,
                            "key file %s: %s", kpath, strerror(errno));
    mem = BIO_new(BIO_s_mem());
    if (!mem || !PEM_write_bio_X509(mem, cert)) {
        BIO_free(mem);
        return ae_error_set(err, -EIO, AE_ERR_TOKEN, "could not encode the certificate: %s",
                            ossl_reason());
    }
    len = BIO_get_mem_data(mem, &pem);
    r = fileio_write_atomic(cpath, pem, (size_t)len, 0644, st.st_uid, st.st_gid);
    BIO_free(mem);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_STORAGE, "could not write %s: %s", cpath, strerror(-r));
    return 0;
}

int filestore_load_cert(const char *dir, const char *ref, AeError *err, X509 **ret) {
    _cleanup_free_ char *path = NULL;
    BIO *b = NULL;
    X509 *x;
    int r;

    if (filestore_path(dir, ref, ".crt", &path) < 0)
        return ae_error_set(err, -ENOMEM, AE_ERR_TOKEN, "out of memory");
    r = read_pem(path, "certificate", err, &b);
    if (r < 0)
        return r;
    x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!x)
        return ae_error_set(err, -EBADMSG, AE_ERR_TOKEN, "%s is not a PEM certificate", path);
    *ret = x;
    return 0;
}

int filestore_delete(const char *dir, const char *ref, AeError *err) {
    _cleanup_free_ char *kpath = NULL, *cpath = NULL;
    int found = 0;

    if (filestore_path(dir, ref, ".key", &kpath) < 0 || filestore_path(dir, ref, ".crt", &cpath) < 0)
        return ae_error_set(err, -ENOMEM, AE_ERR_TOKEN, "out of memory");
    /* Certificate first: a key without a certificate is harmless, the reverse is not. */
    if (unlink(cpath) == 0)
        found = 1;
    else if (errno != ENOENT)
        return ae_error_set(err, -errno, AE_ERR_STORAGE, "unlink %s: %s", cpath, strerror(errno));
    if (unlink(kpath) == 0)
        found = 1;
    else if (errno != ENOENT)
        return ae_error_set(err, -errno, AE_ERR_STORAGE, "unlink %s: %s", kpath, strerror(errno));
    if (!found)
        return ae_error_set(err, -ENOKEY, AE_ERR_TOKEN, "no key %s in %s", ref, dir);
    return 0;
}

int filestore_list(const char *dir, AeError *err, char ***ret) {
    DIR *d = opendir(dir);
    char **v = NULL;
    size_t n = 0;
    struct dirent *de = NULL;

    if (!d)
        return ae_error_set(err, -errno, AE_ERR_STORAGE, "file key store %s: %s", dir,
                            strerror(errno));
    v = calloc(1, sizeof *v);
    while (v && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        char **nv;
        if (l <= 4 || !streq(de->d_name + l - 4, ".key") || de->d_name[0] == '.')
            continue;
        nv = reallocarray(v, n + 2, sizeof *v);
        if (!nv)
            break;
        v = nv;
        v[n] = strndup(de->d_name, l - 4);
        if (!v[n])
            break;
        v[++n] = NULL;
    }
    closedir(d);
    if (!v || de) {
        for (size_t i = 0; v && v[i]; i++)
            free(v[i]);
        free(v);
        return ae_error_set(err, -ENOMEM, AE_ERR_TOKEN, "out of memory");
    }
    *ret = v;
    return 0;
}
