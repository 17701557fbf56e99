/* NDES admin page parsing: see challenge.h. */
#include "daemon/challenge.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/util.h"

/* A challenge is hex; NDES uses 16 (sometimes 32) characters. */
#define CHALLENGE_MIN 8
#define CHALLENGE_MAX 128
/* Bold elements looked at; a real page has four or five. */
#define BOLD_MAX 64

/* --- decoding ---------------------------------------------------------- */

static size_t put_utf8(char *out, uint32_t cp) {
    if (cp == 0)
        cp = ' ';
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* UTF-16 -> UTF-8. Each input unit (2 bytes) yields at most 3 output bytes;
 * a surrogate pair (4 bytes) yields 4. */
static int utf16_to_utf8(const uint8_t *p, size_t len, bool big_endian, char **ret, size_t *ret_len) {
    size_t n = len / 2, o = 0;
    char *out = malloc(n * 3 + 4);
    if (!out)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = big_endian ? (uint32_t)(p[2 * i] << 8 | p[2 * i + 1])
                                : (uint32_t)(p[2 * i + 1] << 8 | p[2 * i]);
        if (u >= 0xD800 && u <= 0xDBFF && i + 1 < n) {
            uint32_t l = big_endian ? (uint32_t)(p[2 * i + 2] << 8 | p[2 * i + 3])
                                    : (uint32_t)(p[2 * i + 3] << 8 | p[2 * i + 2]);
            if (l >= 0xDC00 && l <= 0xDFFF) {
                o += put_utf8(out + o, 0x10000 + ((u - 0xD800) << 10) + (l - 0xDC00));
                i++;
                continue;
            }
        }
        if (u >= 0xD800 && u <= 0xDFFF)
            u = 0xFFFD;
        o += put_utf8(out + o, u);
    }
    out[o] = '\0';
    *ret = out;
    *ret_len = o;
    return 0;
}

/* UTF-8 copy with invalid bytes replaced by U+FFFD (at most 3 bytes out per
 * byte in) and NULs by spaces. */
static int utf8_sanitize(const uint8_t *p, size_t len, char **ret, size_t *ret_len) {
    size_t o = 0;
    char *out = malloc(len * 3 + 1);
    if (!out)
        return -ENOMEM;
    for (size_t i = 0; i < len;) {
        uint8_t c = p[i];
        size_t need;
        bool valid = true;
        if (c < 0x80)
            need = 0;
        else if ((c & 0xE0) == 0xC0 && c >= 0xC2)
            need = 1;
        else if ((c & 0xF0) == 0xE0)
            need = 2;
        else if ((c & 0xF8) == 0xF0 && c <= 0xF4)
            need = 3;
        else
            need = 0, valid = false;
        if (valid && i + need >= len)
            valid = false;
        for (size_t k = 1; valid && k <= need; k++)
            valid = (p[i + k] & 0xC0) == 0x80;
        if (!valid) {
            o += put_utf8(out + o, 0xFFFD);
            i++;
            continue;
        }
        if (c == 0) {
            out[o++] = ' ';
            i++;
            continue;
        }
        memcpy(out + o, p + i, need + 1);
        o += need + 1;
        i += need + 1;
    }
    out[o] = '\0';
    *ret = out;
    *ret_len = o;
    return 0;
}

/* No BOM: UTF-16LE text (mostly ASCII markup) has zeros in odd positions. */
static bool looks_utf16le(const uint8_t *p, size_t len) {
    size_t pairs = len / 2 < 64 ? len / 2 : 64, zeros = 0;
    if (pairs < 2)
        return false;
    for (size_t i = 0; i < pairs; i++)
        if (p[2 * i + 1] == 0 && p[2 * i] != 0)
            zeros++;
    return zeros * 2 > pairs;
}

int challenge_decode_page(const void *page, size_t len, char **ret_text, size_t *ret_len,
                          const char **ret_encoding) {
    const uint8_t *p = page;
    const char *enc;
    char *text = NULL;
    size_t n = 0;
    int r;

    if (len >= 2 && p[0] == 0xFF && p[1] == 0xFE) {
        enc = "UTF-16LE";
        r = utf16_to_utf8(p + 2, len - 2, false, &text, &n);
    } else if (len >= 2 && p[0] == 0xFE && p[1] == 0xFF) {
        enc = "UTF-16BE";
        r = utf16_to_utf8(p + 2, len - 2, true, &text, &n);
    } else if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        enc = "UTF-8";
        r = utf8_sanitize(p + 3, len - 3, &text, &n);
    } else if (looks_utf16le(p, len)) {
        enc = "UTF-16LE without BOM";
        r = utf16_to_utf8(p, len, false, &text, &n);
    } else {
        enc = "UTF-8";
        r = utf8_sanitize(p, len, &text, &n);
    }
    if (r < 0)
        return r;
    *ret_text = text;
    if (ret_len)
        *ret_len = n;
    if (ret_encoding)
        *ret_encoding = enc;
    return 0;
}

/* --- structure --------------------------------------------------------- */

static const char *find_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return hay;
    return NULL;
}

/* Known error pages. English strings are NDES's; the Japanese ones follow the
 * localized NDES wording. Matching is by substring, case-insensitive. */
static const char *const cache_full_phrases[] = {
    "password cache is full",
    "パスワード キャッシュがいっぱい",
    "パスワードキャッシュがいっぱい",
};
static const char *const no_permission_phrases[] = {
    "do not have sufficient permission to enroll",
    "十分なアクセス許可がありません",
};

static bool has_any(const char *text, const char *const *phrases, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (find_ci(text, phrases[i]))
            return true;
    return false;
}

/* Is the tag at p (just after '<') named `name`, followed by '>' or space? */
static bool tag_is(const char *p, const char *name) {
    size_t n = strlen(name);
    return strncasecmp(p, name, n) == 0 && (p[n] == '>' || p[n] == ' ' || p[n] == '\t' ||
                                             p[n] == '\r' || p[n] == '\n');
}

/* Copy the text of [start, end) with tags removed into out (size cap),
 * trimming ASCII whitespace and &nbsp; at both ends. */
static void element_text(const char *start, const char *end, char *out, size_t cap) {
    size_t o = 0;
    bool in_tag = false;
    for (const char *p = start; p < end && o + 1 < cap; p++) {
        if (*p == '<')
            in_tag = true;
        else if (*p == '>')
            in_tag = false;
        else if (!in_tag) {
            if (strncasecmp(p, "&nbsp;", 6) == 0 && p + 6 <= end) {
                out[o++] = ' ';
                p += 5;
            } else
                out[o++] = (*p == '\t' || *p == '\r' || *p == '\n') ? ' ' : *p;
        }
    }
    out[o] = '\0';
    size_t b = 0;
    while (out[b] == ' ')
        b++;
    memmove(out, out + b, o - b + 1);
    o -= b;
    while (o > 0 && out[o - 1] == ' ')
        out[--o] = '\0';
}

typedef enum HexKind { HEX_NONE, HEX_PLAIN, HEX_GROUPED } HexKind;

static HexKind classify(const char *s) {
    size_t digits = 0;
    bool space = false;
    for (const char *p = s; *p; p++) {
        if (isxdigit((unsigned char)*p))
            digits++;
        else if (*p == ' ' && p[1] != ' ' && p != s)
            space = true;
        else
            return HEX_NONE;
    }
    if (digits < CHALLENGE_MIN)
        return HEX_NONE;
    return space ? HEX_GROUPED : HEX_PLAIN;
}

/* Describe an unknown page without echoing anything secret-looking: the
 * title (or first text), printable characters only, with hex runs masked. */
static void describe(const char *text, char *out, size_t cap) {
    const char *t = find_ci(text, "<title"), *end = NULL;
    char raw[256];
    if (t && (t = strchr(t, '>')))
        end = find_ci(++t, "</title");
    if (!t || !end || end == t) {
        t = text;
        end = text + strlen(text);
    }
    element_text(t, end, raw, sizeof raw);
    size_t o = 0;
    for (size_t i = 0; raw[i] && o + 8 < cap && o < 60;) {
        size_t run = 0;
        while (isxdigit((unsigned char)raw[i + run]))
            run++;
        if (run >= 6) {
            memcpy(out + o, "[hex]", 5);
            o += 5;
            i += run;
            continue;
        }
        unsigned char c = (unsigned char)raw[i];
        if (c == '"' || c == '\\' || (c < 0x20) || c == 0x7F)
            out[o++] = ' ';
        else
            out[o++] = (char)c; /* UTF-8 bytes pass through */
        i++;
    }
    /* Do not cut a UTF-8 sequence in half. */
    while (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0x80)
        o--;
    if (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0xC0)
        o--;
    out[o] = '\0';
}

int challenge_parse_page(const void *page, size_t len, char **ret_challenge, AeError *err) {
    _cleanup_free_ char *text = NULL;
    const char *enc = NULL;
    char item[CHALLENGE_MAX + 64], seen[80];
    char challenge[CHALLENGE_MAX + 1] = "";
    size_t n_hex = 0, n_bold = 0;
    HexKind last = HEX_NONE;
    int r;

    if (len == 0)
        return ae_error_set(err, -ENODATA, AE_ERR_NDES, "NDES admin page is empty");
    if (len > CHALLENGE_PAGE_MAX)
        return ae_error_set(err, -EFBIG, AE_ERR_NDES,
                            "NDES admin page is too large (%zu bytes): not an NDES page", len);
    r = challenge_decode_page(page, len, &text, NULL, &enc);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_INTERNAL, "out of memory decoding the NDES page");

    if (has_any(text, cache_full_phrases, ELEMENTSOF(cache_full_phrases)))
        return ae_error_set(err, -ENOSPC, AE_ERR_NDES,
                            "NDES says its password cache is full: too many unused challenges "
                            "for this account; wait until they expire (60 min) or raise "
                            "PasswordMax on the NDES server");
    if (has_any(text, no_permission_phrases, ELEMENTSOF(no_permission_phrases)))
        return ae_error_set(err, -EACCES, AE_ERR_NDES,
                            "NDES says this account has no permission to enroll with SCEP: "
                            "grant it Enroll on the NDES certificate templates");

    /* Walk the bold elements: a success page has the CA thumbprint (hex,
     * maybe grouped) and then the challenge (plain hex), in that order. */
    for (const char *p = text; (p = strchr(p, '<')) && n_bold < BOLD_MAX;) {
        p++;
        if (!tag_is(p, "b") && !tag_is(p, "strong"))
            continue;
        const char *start = strchr(p, '>');
        if (!start)
            break;
        start++;
        const char *end = find_ci(start, "</b");
        const char *end2 = find_ci(start, "</strong");
        if (!end || (end2 && end2 < end))
            end = end2;
        if (!end)
            break;
        n_bold++;
        element_text(start, end, item, sizeof item);
        HexKind k = classify(item);
        if (k != HEX_NONE) {
            n_hex++;
            last = k;
            if (k == HEX_PLAIN && strlen(item) <= CHALLENGE_MAX)
                memcpy(challenge, item, strlen(item) + 1);
            else
                challenge[0] = '\0';
        }
        explicit_bzero(item, sizeof item);
        p = end;
    }

    if (n_hex == 2 && last == HEX_PLAIN && challenge[0]) {
        char *c = strdup(challenge);
        explicit_bzero(challenge, sizeof challenge);
        explicit_bzero(text, strlen(text));
        if (!c)
            return ae_error_set(err, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
        *ret_challenge = c;
        return 0;
    }
    explicit_bzero(challenge, sizeof challenge);
    describe(text, seen, sizeof seen);
    explicit_bzero(text, strlen(text));
    if (n_hex == 0)
        return ae_error_set(err, -EBADMSG, AE_ERR_NDES,
                            "unrecognised NDES admin page (%zu bytes, %s, \"%s\"): no challenge on it",
                            len, enc, seen);
    return ae_error_set(err, -EBADMSG, AE_ERR_NDES,
                        "unrecognised NDES admin page (%zu bytes, %s, \"%s\"): %zu bold hex "
                        "value(s) where a thumbprint and then a challenge were expected",
                        len, enc, seen, n_hex);
}
