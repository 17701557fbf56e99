#include <stdlib.h>

#include "daemon/scep-url.h"
#include "daemon/util.h"
#include "tests/unit/tap.h"

TEST(getcacaps) {
    _cleanup_free_ char *u = NULL;
    is_int(scep_url_build("http://ndes.example/certsrv/mscep/mscep.dll", "GetCACaps", NULL, &u), 0,
           "build");
    is_str(u, "http://ndes.example/certsrv/mscep/mscep.dll?operation=GetCACaps", "URL");
}

TEST(getcacert_message) {
    _cleanup_free_ char *u = NULL;
    is_int(scep_url_build("http://h/scep", "GetCACert", "My CA/1", &u), 0, "build");
    is_str(u, "http://h/scep?operation=GetCACert&message=My%20CA%2F1", "message percent-encoded");
}

TEST(existing_query) {
    _cleanup_free_ char *u = NULL;
    is_int(scep_url_build("https://h/scep?profile=x", "GetCACaps", NULL, &u), 0, "build");
    is_str(u, "https://h/scep?profile=x&operation=GetCACaps", "& after an existing query");
}

TEST(pkioperation_get) {
    _cleanup_free_ char *u = NULL;
    const uint8_t der[] = { 0xfb, 0xff, 0xfe, 0x30 }; /* base64 "+//+MA==" */
    is_int(scep_url_pkioperation_get("http://h/scep", der, sizeof der, &u), 0, "build");
    is_str(u, "http://h/scep?operation=PKIOperation&message=%2B%2F%2F%2BMA%3D%3D",
           "base64 then percent-encoding");
}

TEST(bad_args) {
    char *u = NULL;
    is_int(scep_url_build("ftp://h/", "GetCACaps", NULL, &u), -EINVAL, "not http(s)");
    is_int(scep_url_build("http://h/", "Get CA", NULL, &u), -EINVAL, "bad operation");
    uint8_t *big = calloc(1, SCEP_URL_MAX);
    is_int(scep_url_pkioperation_get("http://h/", big, SCEP_URL_MAX, &u), -E2BIG,
           "too long for GET: use POST");
    free(big);
    ok(u == NULL, "no output on error");
}

int main(void) { return tap_run(); }
