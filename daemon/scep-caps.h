/* SCEP capabilities (GetCACaps, RFC 8894 §3.5.2) and the algorithms they allow. */
#pragma once

#include <stddef.h>

typedef enum ScepCap {
    SCEP_CAP_AES = 1u << 0,
    SCEP_CAP_DES3 = 1u << 1,
    SCEP_CAP_GET_NEXT_CA_CERT = 1u << 2,
    SCEP_CAP_POST_PKI_OPERATION = 1u << 3,
    SCEP_CAP_RENEWAL = 1u << 4,
    SCEP_CAP_SHA1 = 1u << 5,
    SCEP_CAP_SHA256 = 1u << 6,
    SCEP_CAP_SHA512 = 1u << 7,
    SCEP_CAP_SCEP_STANDARD = 1u << 8,
    SCEP_CAP_UPDATE = 1u << 9,
} ScepCap;

/* Parse a GetCACaps body: one keyword a line (CRLF or LF), case-insensitive,
 * unknown words ignored, empty body = no caps. SCEPStandard implies AES,
 * POSTPKIOperation and SHA-256. Never fails on content; -EINVAL on NULL. */
int scep_caps_parse(const char *body, size_t len, unsigned *ret_caps);

/* Digest for requests: "SHA512" or "SHA256" when advertised, else "SHA1"
 * (never MD5). */
const char *scep_caps_digest(unsigned caps);

/* Content cipher for requests: "AES-128-CBC" when AES is advertised, else
 * "DES-EDE3-CBC" (never single DES). */
const char *scep_caps_cipher(unsigned caps);

/* Whether PKIOperation goes by POST. */
int scep_caps_use_post(unsigned caps);

/* "AES,POSTPKIOperation,..." for logs; returns a malloc'd string or NULL. */
char *scep_caps_to_string(unsigned caps);
