/* One PKCS#11 token, reached the p11-kit way.
 *
 * A P11Token is one module (a registered p11-kit module by name, a module
 * path, or whichever registered module holds the token), one slot, one
 * logged-in read/write session and a mutex that serializes use of that
 * session. It is reference counted: keys and EVP_PKEYs made from it keep it
 * alive. Calls on one P11Token may come from any thread; key generation runs in
 * a session of its own so it does not hold the shared session while the token
 * works (login state is per application and token, so it covers both).
 *
 * Internal to pkcs11/: the public API is keystore.h. */
#pragma once

#include <p11-kit/p11-kit.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/error.h"

typedef struct P11Token P11Token;

/* Open the token that the RFC 7512 URI selects and log in with the PIN from
 * pin-source= (file:PATH, PATH or cred:NAME for $CREDENTIALS_DIRECTORY/NAME)
 * or pin-value=. Returns 0 or -errno:
 *   -EINVAL bad URI, -ENOENT module missing, -ENODEV token absent,
 *   -EACCES wrong PIN, -EPERM PIN locked. */
int p11token_open(const char *uri, AeError *err, P11Token **ret);

P11Token *p11token_ref(P11Token *t);
void p11token_unref(P11Token *t);

/* The token label (for messages) and a URI prefix naming the token. */
const char *p11token_label(const P11Token *t);

/* Generate an RSA key pair in the token (private key sensitive, never
 * extractable, sign + decrypt). On failure nothing is left on the token. */
int p11token_generate_rsa(P11Token *t, unsigned bits, const char *label, const uint8_t *id,
                          size_t id_len, AeError *err, CK_OBJECT_HANDLE *ret_priv);

/* Find the private key with this CKA_ID: -ENOKEY when there is none. */
int p11token_find_key(P11Token *t, const uint8_t *id, size_t id_len, AeError *err,
                      CK_OBJECT_HANDLE *ret_priv);

/* Read an attribute (malloc'ed copy). -ENOENT if the object has none. */
int p11token_get_attr(P11Token *t, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, AeError *err,
                      uint8_t **ret, size_t *ret_len);

/* The modulus and public exponent of the key pair with this private key:
 * from the private key, or from the public key object with the same CKA_ID. */
int p11token_get_rsa_public(P11Token *t, CK_OBJECT_HANDLE priv, const uint8_t *id, size_t id_len,
                            AeError *err, uint8_t **ret_n, size_t *ret_n_len, uint8_t **ret_e,
                            size_t *ret_e_len);

/* Raw PKCS#11 operations with one mechanism (CKM_RSA_PKCS, ...). *out_len is
 * the buffer size on entry and the result size on return. */
int p11token_sign(P11Token *t, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE mech, const uint8_t *in,
                  size_t in_len, uint8_t *out, size_t *out_len, AeError *err);
int p11token_decrypt(P11Token *t, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE mech,
                     const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len,
                     AeError *err);

/* Store a DER certificate under id/label. Other certificates with the same
 * CKA_ID are destroyed only after the new one is on the token. */
int p11token_store_cert(P11Token *t, const uint8_t *id, size_t id_len, const char *label,
                        const uint8_t *der, size_t der_len, const uint8_t *subject,
                        size_t subject_len, const uint8_t *issuer, size_t issuer_len,
                        const uint8_t *serial, size_t serial_len, AeError *err);

/* Destroy every private key, public key and certificate with this CKA_ID.
 * -ENOKEY if there was nothing. */
int p11token_delete_id(P11Token *t, const uint8_t *id, size_t id_len, AeError *err);

/* Handles of the objects of one class (and, if id != NULL, one CKA_ID). */
int p11token_find_objects(P11Token *t, CK_OBJECT_CLASS cls, const uint8_t *id, size_t id_len,
                          AeError *err, CK_OBJECT_HANDLE **ret, size_t *ret_n);

/* The full RFC 7512 URI of an object on this token (no PIN in it). */
int p11token_object_uri(P11Token *t, CK_OBJECT_CLASS cls, const uint8_t *id, size_t id_len,
                        const char *label, char **ret);

/* Map a PKCS#11 return value to -errno and a short explanation. */
int p11token_rv_to_errno(CK_RV rv);
const char *p11token_rv_explain(CK_RV rv);
