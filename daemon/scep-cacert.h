/* GetCACert / GetNextCACert replies: the CA pinned by fingerprint, the RA
 * certificates for encryption and signing, and trust checks against the pin. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "daemon/error.h"

#define SCEP_FINGERPRINT_LEN 32 /* SHA-256 */

typedef struct ScepCA ScepCA;

/* "sha256:AB:CD:..", "AB:CD..", "abcd..." (64 hex digits, ':' and spaces
 * allowed) -> 32 bytes. Returns 0 or -EINVAL. */
int scep_fingerprint_parse(const char *s, uint8_t ret[SCEP_FINGERPRINT_LEN]);

/* "sha256:AB:CD:..." of a certificate (malloc'd). */
int scep_fingerprint_format(X509 *cert, char **ret);

/* Parse a GetCACert body: one DER certificate, or a certs-only PKCS#7.
 * The certificate whose SHA-256 fingerprint equals pin becomes the trust
 * anchor; every other certificate must chain to it (others are dropped).
 * The encryption RA is the chained leaf with keyEncipherment, the signing RA
 * the one with digitalSignature; without RA leaves (or keyUsage) one cert
 * serves both. Errors: -EBADMSG (garbage), -EPERM (fingerprint mismatch or
 * nothing chains), with category "protocol" in err. */
int scep_ca_parse(const uint8_t *body, size_t len, const uint8_t pin[SCEP_FINGERPRINT_LEN],
                  ScepCA **ret, AeError *err);

ScepCA *scep_ca_free(ScepCA *ca);

X509 *scep_ca_get_anchor(const ScepCA *ca);  /* the pinned certificate */
X509 *scep_ca_get_issuer(const ScepCA *ca);  /* the CA that issues (for CertPoll/GetCert) */
X509 *scep_ca_get_encrypt(const ScepCA *ca); /* encrypt requests to this one */
X509 *scep_ca_get_signer(const ScepCA *ca);  /* expected CertRep signer */
STACK_OF(X509) *scep_ca_get_certs(const ScepCA *ca); /* every accepted certificate */

/* 0 when cert chains to the pinned anchor through the accepted certs (time
 * checked), else -EPERM with the verifier's reason in err. */
int scep_ca_verify(const ScepCA *ca, X509 *cert, AeError *err);

/* The accepted CA certificates (not the RA leaves) as PEM, for consumers
 * that must trust servers issued by the same CA. */
int scep_ca_chain_pem(const ScepCA *ca, char **ret);

/* GetNextCACert: a SignedData signed by a certificate of the current ca,
 * wrapping a certs-only PKCS#7 with the next CA's certificates. Returns the
 * certificates (caller frees with sk_X509_pop_free). */
int scep_next_ca_parse(const ScepCA *ca, const uint8_t *body, size_t len, STACK_OF(X509) **ret,
                       AeError *err);
