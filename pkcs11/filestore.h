/* The file key store: one PEM private key per key, for hosts without a token.
 *
 * Layout under the store directory (created 0711 if missing):
 *   <id-hex>.key  PKCS#8 PEM private key, 0600, owned by the certificate's owner
 *   <id-hex>.crt  the issued certificate (PEM, 0644, same owner), written by
 *                 keystore_store_cert beside the key
 * Every write is atomic (temp file, fsync, rename, fsync dir).
 * Internal to pkcs11/: the public API is keystore.h. */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/types.h>

#include "daemon/error.h"

/* Largest key or certificate file read back. */
#define FILESTORE_MAX_FILE (64 * 1024)

int filestore_open(const char *dir, AeError *err);
int filestore_path(const char *dir, const char *ref, const char *suffix, char **ret);
int filestore_generate(const char *dir, const char *ref, unsigned bits, uid_t uid, gid_t gid,
                       AeError *err, EVP_PKEY **ret);
int filestore_load(const char *dir, const char *ref, AeError *err, EVP_PKEY **ret);
int filestore_store_cert(const char *dir, const char *ref, X509 *cert, AeError *err);
int filestore_load_cert(const char *dir, const char *ref, AeError *err, X509 **ret);
int filestore_delete(const char *dir, const char *ref, AeError *err);
/* The refs of every key in the store (NULL-terminated, strv). */
int filestore_list(const char *dir, AeError *err, char ***ret);
