#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/sid.h"
#include "daemon/util.h"
#include "tests/unit/tap.h"

/* S-1-5-21-1004336348-1177238915-682003330-1105, as AD stores it. */
static const uint8_t domain_user[] = {
    0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x15, 0x00, 0x00, 0x00, 0xdc, 0xf4, 0xdc, 0x3b,
    0x83, 0x3d, 0x2b, 0x46, 0x82, 0x8b, 0xa6, 0x28, 0x51, 0x04, 0x00, 0x00,
};

TEST(binary_domain_sid) {
    _cleanup_free_ char *s = NULL;
    is_int(sid_from_binary(domain_user, sizeof domain_user, &s), 0, "parses");
    is_str(s, "S-1-5-21-1004336348-1177238915-682003330-1105", "string form");
    ok(sid_string_valid(s), "and is a valid SID string");
}

TEST(binary_well_known) {
    static const uint8_t everyone[] = {0x01, 0x01, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0};
    static const uint8_t big_auth[] = {0x01, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06};
    _cleanup_free_ char *a = NULL, *b = NULL;
    is_int(sid_from_binary(everyone, sizeof everyone, &a), 0, "S-1-1-0 parses");
    is_str(a, "S-1-1-0", "Everyone");
    is_int(sid_from_binary(big_auth, sizeof big_auth, &b), 0, "authority >= 2^32 parses");
    is_str(b, "S-1-0x010203040506", "printed in hex (MS-DTYP)");
}

TEST(binary_malformed) {
    uint8_t buf[8 + 4 * 16];
    char *s = NULL;
    is_int(sid_from_binary(domain_user, sizeof domain_user - 1, &s), -EBADMSG, "truncated");
    memcpy(buf, domain_user, sizeof domain_user);
    buf[sizeof domain_user] = 0;
    is_int(sid_from_binary(buf, sizeof domain_user + 1, &s), -EBADMSG, "trailing byte");
    buf[0] = 2;
    is_int(sid_from_binary(buf, sizeof domain_user, &s), -EBADMSG, "revision 2");
    memset(buf, 0, sizeof buf);
    buf[0] = 1;
    buf[1] = 16;
    is_int(sid_from_binary(buf, sizeof buf, &s), -EBADMSG, "16 sub-authorities");
    is_int(sid_from_binary(buf, 4, &s), -EBADMSG, "shorter than the header");
    is_int(sid_from_binary(NULL, 0, &s), -EBADMSG, "nothing");
    ok(s == NULL, "no output on failure");
}

TEST(binary_max_subauth) {
    uint8_t buf[8 + 4 * 15];
    memset(buf, 0xff, sizeof buf);
    buf[0] = 1;
    buf[1] = 15;
    memset(buf + 2, 0, 5);
    buf[7] = 5;
    _cleanup_free_ char *s = NULL;
    is_int(sid_from_binary(buf, sizeof buf, &s), 0, "15 sub-authorities of 2^32-1");
    ok(s && strlen(s) < SID_STRING_MAX && sid_string_valid(s), "fits and is valid");
}

TEST(string_valid) {
    ok(sid_string_valid("S-1-5-21-1-2-3-500"), "domain SID");
    ok(sid_string_valid("S-1-5-18"), "LocalSystem");
    ok(!sid_string_valid("S-1-5-"), "trailing dash");
    ok(!sid_string_valid("S-1-5--21"), "empty part");
    ok(!sid_string_valid("S-2-5-21"), "revision 2");
    ok(!sid_string_valid("s-1-5-21"), "lower case");
    ok(!sid_string_valid("S-1-5-21-1 "), "space");
    ok(!sid_string_valid("S-1-5-21-12345678901"), "11 digits");
    ok(!sid_string_valid("S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16"), "16 sub-authorities");
    ok(!sid_string_valid(""), "empty");
    ok(!sid_string_valid(NULL), "NULL");
}

TEST(lookup_needs_arguments) {
    AeError err = {0};
    char *s = NULL;
    SidQuery q = {.uri = "ldap://dc.example.com"};
    is_int(sid_lookup(&q, &err, &s), -EINVAL, "no account");
    is_str(err.category, "config", "config error");
    SidQuery bad = {.uri = "nonsense://x", .account = "HOST$"};
    is_int(sid_lookup(&bad, &err, &s), -EINVAL, "bad URI");
    ok(s == NULL, "no output");
}

int main(void) { return tap_run(); }
