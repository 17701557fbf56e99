/* Unit tests for daemon/challenge.c: NDES admin pages as servers send them. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/challenge.h"
#include "daemon/util.h"
#include "tests/unit/tap.h"

#define HEAD                                                                                       \
    "<HTML><Head><Meta HTTP-Equiv=\"Content-Type\" Content=\"text/html; charset=UTF-8\">\r\n"      \
    "<Title>Network Device Enrollment Service</Title></Head>\r\n<Body BgColor=#FFFFFF>"            \
    "<Font ID=locPageFont Face=\"Arial\"><Table><TR><TD><Font Face=\"Arial\" Size=-1>"             \
    "<B><I>Microsoft</I></B></Font><Br>Active Directory Certificate Services</TD></TR></Table>\r\n" \
    "<P ID=locPageTitle> <Font Color=#008080 Size=+1><B>Network Device Enrollment Service</B></Font> </P>\r\n"
#define TAIL "</Font></Body></HTML>\r\n"

#define ENGLISH(thumb, chal)                                                                       \
    HEAD "<P> To complete certificate enrollment for your network device you will need the "       \
         "following information: <P> The thumbprint (hash value) for the CA certificate is: <B> "   \
    thumb " </B> <P> The enrollment challenge password is: <B> " chal " </B> <P> This password "   \
          "can be used only once and will expire within 60 minutes. </P>" TAIL

static const char english[] = ENGLISH("4A8D3E6D 0A7D76B4 92F4E5C3 3E4AB2D1", "8CE317021F690069");
static const char japanese[] =
    "<HTML><Head><Title>ネットワーク デバイス登録サービス</Title></Head><Body>"
    "<P ID=locPageTitle><B>ネットワーク デバイス登録サービス</B></P>"
    "<P> CA 証明書の拇印 (ハッシュ値): <B> 0E1A2B3C4D5E6F708192A3B4C5D6E7F801234567 </B> "
    "<P> 登録チャレンジ パスワード: <B> 5D0B62E7A1C94F38 </B> "
    "<P> このパスワードは 1 回のみ使用でき、60 分以内に有効期限が切れます。</Body></HTML>";
static const char cache_full[] =
    HEAD "<P ID=locPageDesc> The password cache is full. You can wait until one of the passwords "
         "expires or is used. </P>" TAIL;
static const char no_permission[] =
    HEAD "<P ID=locPageDesc> You do not have sufficient permission to enroll with SCEP. Please "
         "contact your system administrator. </P>" TAIL;
static const char garbage[] = "<html><head><title>Runtime Error</title></head><body><h1>Server "
                              "Error in '/certsrv' Application.</h1></body></html>";

/* UTF-8 -> UTF-16LE (BMP only, enough for these pages), optional BOM. */
static uint8_t *to_utf16le(const char *s, int bom, size_t *ret_len) {
    size_t n = strlen(s), o = 0;
    uint8_t *out = malloc(2 * n + 2);
    if (bom) {
        out[o++] = 0xFF;
        out[o++] = 0xFE;
    }
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp;
        if (c < 0x80)
            cp = c, i += 1;
        else if ((c & 0xE0) == 0xC0)
            cp = (uint32_t)(c & 0x1F) << 6 | (s[i + 1] & 0x3F), i += 2;
        else
            cp = (uint32_t)(c & 0x0F) << 12 | (uint32_t)(s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F), i += 3;
        out[o++] = cp & 0xFF;
        out[o++] = cp >> 8;
    }
    *ret_len = o;
    return out;
}

static int parse16(const char *page, int bom, char **ret, AeError *e) {
    size_t n;
    _cleanup_free_ uint8_t *p = to_utf16le(page, bom, &n);
    return challenge_parse_page(p, n, ret, e);
}

TEST(english_utf16_bom) {
    char *c = NULL;
    AeError e = {0};
    is_int(parse16(english, 1, &c, &e), 0, "english page parses");
    is_str(c, "8CE317021F690069", "challenge, not the thumbprint");
    secret_free(c);
}

TEST(english_utf16_no_bom) {
    char *c = NULL;
    is_int(parse16(english, 0, &c, NULL), 0, "no BOM parses");
    is_str(c, "8CE317021F690069", "challenge");
    secret_free(c);
}

TEST(english_utf8) {
    char *c = NULL;
    is_int(challenge_parse_page(english, strlen(english), &c, NULL), 0, "UTF-8 parses");
    is_str(c, "8CE317021F690069", "challenge");
    secret_free(c);
    /* UTF-8 with a BOM */
    size_t n = strlen(english);
    _cleanup_free_ char *b = malloc(n + 3);
    memcpy(b, "\xEF\xBB\xBF", 3);
    memcpy(b + 3, english, n);
    c = NULL;
    is_int(challenge_parse_page(b, n + 3, &c, NULL), 0, "UTF-8 with BOM parses");
    is_str(c, "8CE317021F690069", "challenge");
    secret_free(c);
}

TEST(japanese) {
    char *c = NULL;
    AeError e = {0};
    is_int(parse16(japanese, 1, &c, &e), 0, "japanese page parses");
    is_str(c, "5D0B62E7A1C94F38", "challenge found by structure, not by the English sentence");
    secret_free(c);
}

TEST(long_challenge_and_grouping) {
    static const char p32[] = ENGLISH("4A8D3E6D0A7D76B492F4E5C33E4AB2D1", "0123456789ABCDEF0123456789ABCDEF");
    static const char pgrp[] = ENGLISH("4a 8d 3e 6d 0a 7d 76 b4 92 f4 e5 c3 3e 4a b2 d1 00 11 22 33", "AB12CD34EF56AB78");
    char *c = NULL;
    is_int(parse16(p32, 1, &c, NULL), 0, "32-char challenge with ungrouped 32-char thumbprint");
    is_str(c, "0123456789ABCDEF0123456789ABCDEF", "the second hex value");
    secret_free(c);
    c = NULL;
    is_int(parse16(pgrp, 1, &c, NULL), 0, "byte-grouped lowercase thumbprint");
    is_str(c, "AB12CD34EF56AB78", "challenge");
    secret_free(c);
}

TEST(cache_full) {
    char *c = NULL;
    AeError e = {0};
    is_int(parse16(cache_full, 1, &c, &e), -ENOSPC, "cache full -> -ENOSPC");
    ok(c == NULL, "no challenge returned");
    is_str(e.category, AE_ERR_NDES, "category ndes");
    ok(strstr(e.message, "cache is full") != NULL, "message says cache is full: %s", e.message);
    const char ja[] = "<html><body>パスワード キャッシュがいっぱいです。</body></html>";
    is_int(parse16(ja, 1, &c, NULL), -ENOSPC, "japanese cache full");
}

TEST(no_permission) {
    char *c = NULL;
    AeError e = {0};
    is_int(parse16(no_permission, 1, &c, &e), -EACCES, "no permission -> -EACCES");
    ok(strstr(e.message, "no permission") != NULL, "message: %s", e.message);
    is_int(challenge_parse_page(no_permission, strlen(no_permission), &c, NULL), -EACCES,
           "same in UTF-8");
}

TEST(garbage_and_unknown) {
    char *c = NULL;
    AeError e = {0};
    is_int(parse16(garbage, 1, &c, &e), -EBADMSG, "garbage page -> -EBADMSG");
    ok(strstr(e.message, "Runtime Error") != NULL, "message names the page: %s", e.message);
    ok(strstr(e.message, "UTF-16LE") != NULL, "and its encoding");

    /* Only one hex value: could be either; refuse and never echo it. */
    static const char one[] = HEAD "<P> The enrollment challenge password is: <B> 8CE317021F690069 </B>" TAIL;
    is_int(parse16(one, 1, &c, &e), -EBADMSG, "one hex value only -> unknown page");
    ok(strstr(e.message, "8CE317021F690069") == NULL, "error never echoes a challenge");
    static const char three[] = ENGLISH("AAAA1111 BBBB2222", "8CE317021F690069 </B><B>1234567890ABCDEF");
    is_int(parse16(three, 1, &c, &e), -EBADMSG, "three hex values -> unknown page");
    /* A title that looks like a challenge is masked. */
    static const char ttl[] = "<html><title>DEADBEEF01234567</title><b>x</b></html>";
    is_int(challenge_parse_page(ttl, strlen(ttl), &c, &e), -EBADMSG, "hex title page");
    ok(strstr(e.message, "DEADBEEF") == NULL && strstr(e.message, "[hex]") != NULL,
       "hex masked: %s", e.message);
    /* Thumbprint after challenge (grouped last): refuse. */
    static const char rev[] = ENGLISH("8CE317021F690069", "4A8D3E6D 0A7D76B4");
    is_int(parse16(rev, 1, &c, NULL), -EBADMSG, "grouped value last -> refuse");
    ok(c == NULL, "nothing returned on error");
}

TEST(empty_and_huge) {
    char *c = NULL;
    AeError e = {0};
    is_int(challenge_parse_page("", 0, &c, &e), -ENODATA, "empty -> -ENODATA");
    size_t n = CHALLENGE_PAGE_MAX + 1;
    _cleanup_free_ char *big = malloc(n);
    memset(big, 'A', n);
    is_int(challenge_parse_page(big, n, &c, &e), -EFBIG, "huge -> -EFBIG");
    /* Just under the cap: a huge page of bold tags is handled, no challenge. */
    n = CHALLENGE_PAGE_MAX;
    for (size_t i = 0; i + 8 <= n; i += 8)
        memcpy(big + i, "<b>x</b>", 8);
    is_int(challenge_parse_page(big, n, &c, &e), -EBADMSG, "big bold-only page -> unknown");
    /* Odd-length and truncated input must not crash. */
    is_int(challenge_parse_page("\xFF\xFE<", 3, &c, &e), -EBADMSG, "truncated UTF-16");
    is_int(challenge_parse_page("\xF0\x9F", 2, &c, &e), -EBADMSG, "truncated UTF-8");
}

TEST(decode) {
    char *t = NULL;
    size_t n = 0;
    const char *enc = NULL;
    /* U+1F600 as a surrogate pair, then a lone surrogate, then NUL. */
    static const uint8_t in[] = {0xFF, 0xFE, 'a', 0, 0x3D, 0xD8, 0x00, 0xDE, 0x00, 0xD8, 0, 0, 'b', 0};
    is_int(challenge_decode_page(in, sizeof in, &t, &n, &enc), 0, "decode UTF-16LE");
    is_str(t, "a\xF0\x9F\x98\x80\xEF\xBF\xBD b", "surrogates, lone surrogate, NUL");
    is_str(enc, "UTF-16LE", "encoding named");
    free(t);
    is_int(challenge_decode_page("a\xC0\x80z", 4, &t, &n, &enc), 0, "decode bad UTF-8");
    is_str(t, "a\xEF\xBF\xBD\xEF\xBF\xBDz", "invalid bytes replaced");
    free(t);
}

int main(void) { return tap_run(); }
