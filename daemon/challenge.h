/* The NDES admin page (/certsrv/mscep_admin/): find the one-time challenge.
 *
 * Pure parsing, no I/O. The page is UTF-16LE (with or without BOM) or UTF-8;
 * the challenge is found by the page's structure (the bold hex value that
 * follows the CA thumbprint), not by the English sentence, so localized
 * pages work. NDES reports errors as HTTP 200 pages: the "password cache is
 * full" and "no permission" pages get their own errors; anything else is an
 * unknown page. An error message never contains a challenge. */
#pragma once

#include <stddef.h>

#include "daemon/error.h"

/* Larger pages are refused (a real one is a few KiB). */
#define CHALLENGE_PAGE_MAX (256u * 1024u)

/* Find the challenge. On success *ret_challenge is a NUL-terminated copy
 * (a secret: free with secret_free()). Errors (category "ndes"):
 *   -ENOSPC   NDES's password cache is full
 *   -EACCES   the account has no permission to enroll with SCEP
 *   -ENODATA  empty page
 *   -EFBIG    page larger than CHALLENGE_PAGE_MAX
 *   -EBADMSG  a page that is none of the above (the message names what it saw)
 *   -ENOMEM */
int challenge_parse_page(const void *page, size_t len, char **ret_challenge, AeError *err);

/* Decode a page to NUL-terminated UTF-8: UTF-16LE/BE with BOM, UTF-16LE
 * without BOM (detected by its zero bytes), UTF-8 with or without BOM.
 * Invalid sequences become U+FFFD; NUL characters become spaces.
 * *ret_encoding (optional) names what was detected. Returns 0 or -errno. */
int challenge_decode_page(const void *page, size_t len, char **ret_text, size_t *ret_len,
                          const char **ret_encoding);
