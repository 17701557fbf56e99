/* The pkcsPKIEnvelope: PKCS#7 EnvelopedData sealed to the RA for requests,
 * opened with our key (through EVP_PKEY_decrypt, so a token key works) for
 * replies. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "daemon/error.h"

/* Encrypt data to recipient (RSA key transport) with cipher ("AES-128-CBC",
 * "AES-256-CBC", "DES-EDE3-CBC"; single DES is refused with -EINVAL). */
int scep_envelope_seal(X509 *recipient, const char *cipher, const uint8_t *data, size_t len,
                       uint8_t **ret_der, size_t *ret_len);

/* Open an EnvelopedData addressed to cert (matched by issuer and serial),
 * decrypting the content key with key (RSA PKCS#1 v1.5) and the content with
 * the cipher named by its OID: AES-CBC and 3DES from the default library
 * context; single DES only when allow_des, from a private library context
 * with the legacy provider. ret_cipher (optional) gets the cipher's name
 * (static). Errors: -EBADMSG/-EPERM/-ENOTSUP with category "protocol". */
int scep_envelope_open(const uint8_t *der, size_t len, X509 *cert, EVP_PKEY *key, int allow_des,
                       uint8_t **ret, size_t *ret_len, const char **ret_cipher, AeError *err);
