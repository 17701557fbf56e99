#include <stdlib.h>

#include "daemon/scep-errors.h"
#include "daemon/util.h"
#include "tests/unit/tap.h"

static const uint8_t der[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };

TEST(hresult) {
    uint32_t h = 0;
    is_int(scep_hresult_parse("-2146762480", &h), 0, "signed decimal");
    is_int(h, 0x800B0110, "0x800B0110");
    is_int(scep_hresult_parse("2147943568", &h), 0, "unsigned decimal");
    is_int(h, 0x80070490, "0x80070490");
    is_int(scep_hresult_parse("12x", &h), -EINVAL, "garbage");
    is_int(scep_hresult_parse("99999999999", &h), -EINVAL, "out of range");
    ok(strstr(scep_hresult_to_string(0x800B0110), "already used"), "challenge already used");
    ok(strstr(scep_hresult_to_string(0x80070490), "does not know"), "unknown challenge");
    ok(strstr(scep_hresult_to_string(0x80094001), "bad subject"), "bad subject");
    ok(strstr(scep_hresult_to_string(0x800706BA), "cannot reach the CA"), "CA unreachable");
    ok(scep_hresult_to_string(0x12345678) == NULL, "unknown HRESULT");
}

TEST(names) {
    is_str(scep_message_type_to_string(19), "PKCSReq", "PKCSReq");
    is_str(scep_pki_status_to_string(3), "PENDING", "PENDING");
    ok(scep_pki_status_to_string(1) == NULL, "1 is not a pkiStatus");
    ok(strstr(scep_fail_info_to_string(2), "badRequest"), "badRequest");
}

TEST(http_checks) {
    AeError e = { 0 };
    const uint8_t html[] = "  <html><body>Error</body></html>";
    is_int(scep_http_check(SCEP_OP_PKI_OPERATION, 200, "application/x-pki-message", der, sizeof der, &e),
           0, "good reply");
    is_int(scep_http_check(SCEP_OP_PKI_OPERATION, 500, "text/html", html, sizeof html, &e), -EPROTO,
           "HTTP 500");
    ok(strstr(e.message, "HTTP 500") && streq(e.category, "ndes"), "says HTTP 500: %s", e.message);
    is_int(scep_http_check(SCEP_OP_PKI_OPERATION, 200, "text/html; charset=utf-8", html, sizeof html, &e),
           -EBADMSG, "HTML page");
    ok(strstr(e.message, "HTML page"), "says HTML: %s", e.message);
    is_int(scep_http_check(SCEP_OP_GET_CA_CERT, 200, "application/x-x509-ca-cert", html, sizeof html, &e),
           -EBADMSG, "HTML body with a DER content type");
    is_int(scep_http_check(SCEP_OP_PKI_OPERATION, 200, "application/octet-stream", der, sizeof der, &e),
           -EBADMSG, "wrong content type");
    ok(strstr(e.message, "wrong content type 'application/octet-stream'"), "names it: %s", e.message);
    is_int(scep_http_check(SCEP_OP_PKI_OPERATION, 200, "Application/X-PKI-Message; x=y", der, sizeof der,
                           &e), 0, "content type case and parameters");
    is_int(scep_http_check(SCEP_OP_PKI_OPERATION, 200, "application/x-pki-message", der, sizeof der - 1,
                           &e), -EBADMSG, "truncated DER");
    ok(strstr(e.message, "truncated"), "says truncated: %s", e.message);
    is_int(scep_http_check(SCEP_OP_GET_CA_CERT, 200, "application/x-x509-ca-ra-cert", der, 0, &e),
           -EBADMSG, "empty body");
    is_int(scep_http_check(SCEP_OP_GET_CA_CAPS, 200, "text/plain", NULL, SCEP_MAX_CAPS_BODY + 1, &e),
           -EFBIG, "caps body cap");
    is_int(scep_http_check(SCEP_OP_GET_CA_CAPS, 200, NULL, (const uint8_t *)"AES", 3, &e), 0,
           "caps: any content type");
    const uint8_t utf16[] = { 0xff, 0xfe, '<', 0, 'h', 0 };
    is_int(scep_http_check(SCEP_OP_PKI_OPERATION, 200, "application/x-pki-message", utf16, sizeof utf16,
                           &e), -EBADMSG, "UTF-16 page");
}

int main(void) { return tap_run(); }
