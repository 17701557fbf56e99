/* Errors that carry a category and a human message alongside -errno.
 *
 * Every module reports failures the same way: return a negative errno and,
 * when the caller passed an AeError, fill it with a category (a stable word a
 * script or the metrics file can use) and one sentence a person can act on.
 * The message never contains a secret. Libraries fill it; the caller logs it. */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Stable categories (shown in `autoenroll list`, state files and metrics). */
#define AE_ERR_CONFIG "config"         /* bad configuration */
#define AE_ERR_KERBEROS "kerberos"     /* keytab, tickets, KDC */
#define AE_ERR_CREDENTIALS "credentials" /* user has no valid tickets: wait for a login */
#define AE_ERR_NETWORK "network"       /* connect, timeout, DNS, TLS */
#define AE_ERR_NDES "ndes"             /* NDES/HTTP said no (401/403/404/5xx, pages) */
#define AE_ERR_REJECTED "rejected"     /* the CA refused the request (SCEP FAILURE) */
#define AE_ERR_PROTOCOL "protocol"     /* malformed or unverifiable server reply */
#define AE_ERR_TOKEN "token"           /* PKCS#11 token or key store */
#define AE_ERR_STORAGE "storage"       /* writing state or certificates */
#define AE_ERR_INTERNAL "internal"

typedef struct AeError {
    int code; /* negative errno */
    char category[24];
    char message[512];
} AeError;

__attribute__((format(printf, 4, 5))) static inline int ae_error_set(AeError *e, int code,
                                                                       const char *category,
                                                                       const char *fmt, ...) {
    if (e) {
        va_list ap;
        e->code = code;
        snprintf(e->category, sizeof e->category, "%s", category);
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof e->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

static inline void ae_error_clear(AeError *e) {
    if (e)
        memset(e, 0, sizeof *e);
}
