#include <stdlib.h>

#include "daemon/scep-caps.h"
#include "daemon/util.h"
#include "tests/unit/tap.h"

static unsigned parse(const char *s) {
    unsigned caps = 0xdead;
    if (scep_caps_parse(s, strlen(s), &caps) < 0)
        return 0xffffffffu;
    return caps;
}

TEST(empty_is_none) {
    is_int(parse(""), 0, "empty body = no caps");
    is_int(parse("\r\n\n"), 0, "blank lines = no caps");
    unsigned caps = 7;
    is_int(scep_caps_parse(NULL, 0, &caps), 0, "NULL body of length 0");
    is_int(caps, 0, "NULL body = no caps");
}

TEST(ndes_caps_crlf) {
    unsigned c = parse("Renewal\r\nSHA-1\r\nSHA-256\r\nSHA-512\r\nDES3\r\nAES\r\nPOSTPKIOperation\r\n"
                       "GetNextCACert\r\n");
    ok(c & SCEP_CAP_RENEWAL, "Renewal");
    ok(c & SCEP_CAP_SHA512, "SHA-512");
    ok(c & SCEP_CAP_AES, "AES");
    ok(c & SCEP_CAP_POST_PKI_OPERATION, "POSTPKIOperation");
    ok(c & SCEP_CAP_GET_NEXT_CA_CERT, "GetNextCACert");
    is_str(scep_caps_digest(c), "SHA512", "SHA-512 preferred");
    is_str(scep_caps_cipher(c), "AES-128-CBC", "AES preferred");
    ok(scep_caps_use_post(c), "POST");
}

TEST(case_space_unknown) {
    unsigned c = parse("  aes \nsha-256\nFooBar\nSHA-2567\nrenewal\tx\n");
    is_int(c, SCEP_CAP_AES | SCEP_CAP_SHA256, "case-insensitive, trimmed, unknown ignored");
    is_str(scep_caps_digest(c), "SHA256", "SHA-256");
    ok(!scep_caps_use_post(c), "no POST without the cap");
}

TEST(scepstandard_implies) {
    unsigned c = parse("SCEPStandard");
    ok(c & SCEP_CAP_AES && c & SCEP_CAP_POST_PKI_OPERATION && c & SCEP_CAP_SHA256,
       "SCEPStandard implies AES, POST, SHA-256");
}

TEST(no_caps_defaults_never_weak) {
    is_str(scep_caps_digest(0), "SHA1", "no caps: SHA-1 (never MD5)");
    is_str(scep_caps_cipher(0), "DES-EDE3-CBC", "no caps: 3DES (never single DES)");
    is_str(scep_caps_cipher(SCEP_CAP_DES3), "DES-EDE3-CBC", "DES3 only: 3DES");
}

TEST(scepserver_caps) {
    /* what Debian's scepserver 2.1.0 answers */
    unsigned c = parse("Renewal\nSHA-1\nSHA-256\nAES\nDES3\nSCEPStandard\nPOSTPKIOperation");
    is_str(scep_caps_digest(c), "SHA256", "digest");
    _cleanup_free_ char *s = scep_caps_to_string(c);
    ok(s && strstr(s, "Renewal") && strstr(s, "AES"), "to_string: %s", s ? s : "");
}

TEST(embedded_nul_and_binary) {
    const char body[] = "AES\0garbage\n\xff\xfe\nSHA-256";
    unsigned c = 0;
    is_int(scep_caps_parse(body, sizeof body - 1, &c), 0, "binary body parses");
    ok(c & SCEP_CAP_SHA256, "later line still read");
}

int main(void) { return tap_run(); }
