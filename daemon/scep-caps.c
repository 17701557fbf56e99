/* SCEP capabilities: parsing GetCACaps and choosing algorithms from them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/scep-caps.h"
#include "daemon/util.h"

static const struct {
    const char *word;
    unsigned cap;
} cap_words[] = {
    { "AES", SCEP_CAP_AES },
    { "DES3", SCEP_CAP_DES3 },
    { "GetNextCACert", SCEP_CAP_GET_NEXT_CA_CERT },
    { "POSTPKIOperation", SCEP_CAP_POST_PKI_OPERATION },
    { "Renewal", SCEP_CAP_RENEWAL },
    { "SHA-1", SCEP_CAP_SHA1 },
    { "SHA-256", SCEP_CAP_SHA256 },
    { "SHA-512", SCEP_CAP_SHA512 },
    { "SCEPStandard", SCEP_CAP_SCEP_STANDARD },
    { "Update", SCEP_CAP_UPDATE },
};

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

int scep_caps_parse(const char *body, size_t len, unsigned *ret_caps) {
    unsigned caps = 0;
    size_t i = 0;

    if (!ret_caps || (!body && len > 0))
        return -EINVAL;
    while (i < len) {
        size_t start = i, end;
        while (i < len && body[i] != '\n')
            i++;
        end = i;
        if (i < len)
            i++; /* skip \n */
        while (start < end && is_space(body[start]))
            start++;
        while (end > start && (is_space(body[end - 1]) || body[end - 1] == '\0'))
            end--;
        for (size_t k = 0; k < ELEMENTSOF(cap_words); k++) {
            size_t wl = strlen(cap_words[k].word);
            if (end - start == wl && strncasecmp(body + start, cap_words[k].word, wl) == 0)
                caps |= cap_words[k].cap;
        }
    }
    if (caps & SCEP_CAP_SCEP_STANDARD)
        caps |= SCEP_CAP_AES | SCEP_CAP_POST_PKI_OPERATION | SCEP_CAP_SHA256;
    *ret_caps = caps;
    return 0;
}

const char *scep_caps_digest(unsigned caps) {
    if (caps & SCEP_CAP_SHA512)
        return "SHA512";
    if (caps & SCEP_CAP_SHA256)
        return "SHA256";
    return "SHA1";
}

const char *scep_caps_cipher(unsigned caps) {
    return (caps & SCEP_CAP_AES) ? "AES-128-CBC" : "DES-EDE3-CBC";
}

int scep_caps_use_post(unsigned caps) {
    return !!(caps & (SCEP_CAP_POST_PKI_OPERATION | SCEP_CAP_SCEP_STANDARD));
}

char *scep_caps_to_string(unsigned caps) {
    char buf[256] = "";
    size_t n = 0;
    for (size_t k = 0; k < ELEMENTSOF(cap_words); k++) {
        if (!(caps & cap_words[k].cap))
            continue;
        int r = snprintf(buf + n, sizeof buf - n, "%s%s", n ? "," : "", cap_words[k].word);
        if (r < 0 || (size_t)r >= sizeof buf - n)
            break;
        n += (size_t)r;
    }
    return strdup(buf);
}
