/* SCEP request URLs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "daemon/scep-url.h"
#include "daemon/util.h"

static int unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int scep_url_escape(const char *s, char **ret) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out, *p;

    if (n > SCEP_URL_MAX)
        return -E2BIG;
    out = malloc(n * 3 + 1);
    if (!out)
        return -ENOMEM;
    p = out;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (unreserved(*c))
            *p++ = (char)*c;
        else {
            *p++ = '%';
            *p++ = hex[*c >> 4];
            *p++ = hex[*c & 15];
        }
    }
    *p = '\0';
    *ret = out;
    return 0;
}

int scep_url_build(const char *base, const char *operation, const char *message, char **ret) {
    _cleanup_free_ char *escaped = NULL, *url = NULL;
    int r;

    if (!base || !operation || !ret || !*base)
        return -EINVAL;
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
        return -EINVAL;
    for (const char *c = operation; *c; c++)
        if (!unreserved((unsigned char)*c))
            return -EINVAL;
    if (message) {
        r = scep_url_escape(message, &escaped);
        if (r < 0)
            return r;
    }
    r = asprintf(&url, "%s%soperation=%s%s%s", base, strchr(base, '?') ? "&" : "?", operation,
                 escaped ? "&message=" : "", escaped ? escaped : "");
    if (r < 0) {
        url = NULL;
        return -ENOMEM;
    }
    if (strlen(url) > SCEP_URL_MAX)
        return -E2BIG;
    *ret = TAKE_PTR(url);
    return 0;
}

int scep_url_pkioperation_get(const char *base, const uint8_t *der, size_t len, char **ret) {
    _cleanup_free_ char *b64 = NULL;

    if (!der || len == 0 || len > SCEP_URL_MAX)
        return -EINVAL;
    b64 = malloc(4 * ((len + 2) / 3) + 1);
    if (!b64)
        return -ENOMEM;
    if (EVP_EncodeBlock((unsigned char *)b64, der, (int)len) < 0)
        return -EINVAL;
    return scep_url_build(base, "PKIOperation", b64, ret);
}
