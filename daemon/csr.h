/* A PKCS#10 request from a profile: subject, SANs, key usage, EKU and the
 * SCEP challengePassword, signed through EVP (the key may live in a token). */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "daemon/error.h"

/* Key usage bits a profile may ask for (0 = digitalSignature|keyEncipherment). */
#define CSR_KU_DIGITAL_SIGNATURE 0x80u
#define CSR_KU_NON_REPUDIATION 0x40u
#define CSR_KU_KEY_ENCIPHERMENT 0x20u
#define CSR_KU_DATA_ENCIPHERMENT 0x10u
#define CSR_KU_KEY_AGREEMENT 0x08u

#define CSR_SID_URI_PREFIX "tag:microsoft.com,2022-09-14:sid:"

typedef struct CsrProfile {
    /* "/CN=host.example.com/O=Example" or "CN=host.example.com,O=Example";
     * RDNs are encoded in the order written; '\' escapes a separator. */
    const char *subject;
    const char *const *dns_names; /* NULL-terminated lists, each may be NULL */
    const char *const *upns;      /* otherName 1.3.6.1.4.1.311.20.2.3 (UTF8String) */
    const char *const *emails;    /* rfc822Name */
    const char *const *uris;      /* uniformResourceIdentifier */
    const char *sid;              /* "S-1-5-21-..." -> URI CSR_SID_URI_PREFIX<SID> */
    unsigned key_usage;           /* CSR_KU_* bits; 0 = default */
    const char *const *ekus;      /* names ("clientAuth") or OIDs; NULL = clientAuth */
    const char *challenge;        /* SCEP challengePassword; NULL = none */
    const char *digest;           /* "SHA256" when NULL */
} CsrProfile;

/* Build and sign the request with key. Errors: -EINVAL with category
 * "config" for a bad profile (subject, SID, EKU), "token" when signing
 * fails. */
int csr_new(const CsrProfile *profile, EVP_PKEY *key, X509_REQ **ret, AeError *err);

/* Parse a subject string as above into a new X509_NAME. */
int csr_parse_subject(const char *s, X509_NAME **ret);

/* Is s a Windows SID string (S-1-<authority>-<sub>...)? */
int csr_sid_valid(const char *s);
