/* SCEP request URLs: <base>?operation=OP[&message=...] (RFC 8894 §4.1). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Longest URL we build for a GET PKIOperation (IIS rejects much longer ones
 * by default); longer is -E2BIG: use POST. */
#define SCEP_URL_MAX 16384

/* Build base?operation=OP, plus &message=<percent-encoded message> when
 * message is non-NULL. A base that already has a query gets '&'.
 * Returns 0 or -errno (-EINVAL bad arguments, -E2BIG too long). */
int scep_url_build(const char *base, const char *operation, const char *message, char **ret);

/* URL for a PKIOperation by GET: the DER is base64-encoded (no newlines),
 * then percent-encoded. */
int scep_url_pkioperation_get(const char *base, const uint8_t *der, size_t len, char **ret);

/* Percent-encode everything but RFC 3986 unreserved characters. */
int scep_url_escape(const char *s, char **ret);
