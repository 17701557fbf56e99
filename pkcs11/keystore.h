/* The key store: private keys in a PKCS#11 token (SoftHSM, TPM via
 * tpm2-pkcs11, any p11-kit module) or in a directory of PEM files, behind one
 * interface, with OpenSSL 3 EVP_PKEYs on top.
 *
 * Locations
 *   pkcs11:token=autoenroll;pin-source=file:/etc/autoenroll/token.pin
 *       an RFC 7512 URI selecting a token. Query attributes module-name=
 *       (a p11-kit registered module) or module-path= (a module file) pick
 *       the module; without them every registered module is searched.
 *       PIN: pin-source=file:/path (or /path) must be a regular file owned
 *       by this process's uid with no group/other bits; pin-source=cred:NAME
 *       reads $CREDENTIALS_DIRECTORY/NAME (systemd LoadCredential=);
 *       pin-value= works but puts the PIN in the config: avoid it.
 *   file:/var/lib/autoenroll/keys
 *       a directory: <ref>.key (PEM, 0600, owned by KeyParams uid/gid) and
 *       <ref>.crt (the certificate, written by keystore_store_cert).
 *
 * Key references
 *   key_ref() is the lowercase hex CKA_ID (for files, the file name stem).
 *   It is what the daemon persists; keystore_load_key() finds the key again.
 *
 * Errors: 0 or -errno, and *err filled (category "token", or "storage" for
 * file writes, "config" for a bad location). Messages never hold a PIN.
 *   -EINVAL   bad location/URI, bad ref, unsupported key size request
 *   -ENOENT   PKCS#11 module missing / PIN file missing
 *   -ENODEV   token absent or removed
 *   -EACCES   wrong PIN (or no PIN given)
 *   -EPERM    PIN locked; PIN file with unsafe permissions
 *   -ENOSPC   token full
 *   -EOPNOTSUPP  key size the token can't make (e.g. RSA-4096 on a TPM)
 *   -ENOKEY   no key with that ref
 *   -EEXIST   a key with that id already exists
 *   -EIO      other token failure
 * After a failure nothing is left behind (a half-generated key pair is
 * destroyed; a certificate replaces the old one only once it is stored).
 *
 * Threads
 *   A Keystore may be used from several threads. Calls on a token keystore
 *   (and signing/decryption with its EVP_PKEYs) are serialized by a mutex
 *   per Keystore, except keystore_generate(), which works in a PKCS#11
 *   session of its own: a worker thread can generate (slow on a TPM) while
 *   the main thread signs or lists with the same or another Keystore.
 *   Keys and their EVP_PKEYs keep the token open: they may outlive the
 *   Keystore. File keystores hold no shared state. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "daemon/error.h"

typedef struct Keystore Keystore;
typedef struct Key Key;

typedef struct KeyParams {
    unsigned bits;      /* 2048 (also when 0), 3072 or 4096 */
    const char *label;  /* CKA_LABEL; NULL: "autoenroll" */
    const uint8_t *id;  /* CKA_ID; NULL: 20 random bytes */
    size_t id_len;      /* 1..64 */
    uid_t uid;          /* file store: owner of the key file ((uid_t)-1: keep) */
    gid_t gid;
} KeyParams;

/* One stored key and its certificate, as keystore_list() reports them. */
typedef struct KeystoreEntry {
    char *ref;      /* for keystore_load_key / keystore_delete_key */
    char *label;    /* token label of the key ("" for files) */
    char *id_hex;   /* CKA_ID in hex (strongSwan) */
    char *key_uri;  /* pkcs11:...;type=private, or file:/path.key */
    char *cert_uri; /* pkcs11:...;type=cert, or file:/path.crt; NULL: no certificate */
    X509 *cert;     /* the certificate, or NULL */
} KeystoreEntry;

int keystore_open(const char *location, AeError *err, Keystore **ret);
Keystore *keystore_free(Keystore *ks);
bool keystore_is_token(const Keystore *ks);

/* Generate a key pair (RSA, in the token when it is one). Blocking: run it on
 * a worker thread. */
int keystore_generate(Keystore *ks, const KeyParams *p, AeError *err, Key **ret);
int keystore_load_key(Keystore *ks, const char *ref, AeError *err, Key **ret);

/* Store the issued certificate with the key (token: CKO_CERTIFICATE with the
 * key's CKA_ID and label, replacing older certificates with that id only after
 * the new one is stored; files: <ref>.crt beside the key, same owner). The
 * certificate's public key must be the key's: else -EINVAL. */
int keystore_store_cert(Keystore *ks, Key *key, X509 *cert, AeError *err);
/* The stored certificate of a key: -ENOENT when there is none. */
int keystore_load_cert(Keystore *ks, Key *key, AeError *err, X509 **ret);

/* Remove a key, its public key and its certificates. Call it for the old key
 * only after a renewal's new certificate has been stored. */
int keystore_delete_key(Keystore *ks, const char *ref, AeError *err);

int keystore_list(Keystore *ks, AeError *err, KeystoreEntry **ret, size_t *ret_n);
void keystore_entries_free(KeystoreEntry *e, size_t n);

/* After an OpenSSL call with a key failed (X509_REQ_sign, PKCS7_dataFinal,
 * CMS_decrypt, EVP_PKEY_decrypt...): fill err with the token's own reason
 * when the token failed ("PKCS#11 C_Sign on token 'x': token removed", with
 * -ENODEV, -EACCES, ...), else "<what> failed" with -EIO. The plain
 * ERR_reason_error_string() of a token failure also names the cause in a few
 * words ("PKCS#11 token absent or removed"). Returns the -errno. */
int keystore_openssl_error(AeError *err, const char *what);

Key *key_free(Key *k);
/* Borrowed: valid while the Key lives (EVP_PKEY_up_ref to keep it longer).
 * Token keys sign (PKCS#1 v1.5) and decrypt (PKCS#1 v1.5) through the token. */
EVP_PKEY *key_get_pkey(Key *k);
const char *key_ref(const Key *k);
const char *key_label(const Key *k);
/* malloc'ed; NULL on allocation failure. */
char *key_uri(const Key *k);      /* pkcs11:...;type=private or file:/path */
char *key_cert_uri(const Key *k); /* pkcs11:...;type=cert or file:/path.crt */
char *key_id_hex(const Key *k);

#define _cleanup_keystore_ _cleanup_(keystore_freep)
#define _cleanup_key_ _cleanup_(key_freep)
static inline void keystore_freep(Keystore **k) { keystore_free(*k); }
static inline void key_freep(Key **k) { key_free(*k); }
