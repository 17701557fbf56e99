/* PINs for an unattended daemon: a root-only file or a systemd credential.
 *
 * A PIN never reaches a message or a log; buffers are wiped when freed
 * (secret_free from daemon/util.h). */
#pragma once

#include "daemon/error.h"

/* Upper bound of a PIN read from a file (PKCS#11 tokens take far less). */
#define PIN_MAX 256

/* Read the PIN that source names:
 *   file:/path or /path  a regular file owned by the caller's effective uid
 *                        with no group/other permission bits;
 *   cred:NAME            $CREDENTIALS_DIRECTORY/NAME (systemd LoadCredential=),
 *                        same checks.
 * One trailing newline (LF or CRLF) is dropped. Returns 0 or -errno:
 * -EINVAL unknown source form, -EPERM unsafe permissions, -ENOENT missing,
 * -ENODATA empty. */
int pin_read_source(const char *source, AeError *err, char **ret_pin);
