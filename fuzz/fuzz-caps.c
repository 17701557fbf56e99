/* libFuzzer target: GetCACaps bodies (daemon/scep-caps.c) and the HTTP reply
 * checks run before any parser (daemon/scep-errors.c).
 * fuzz-sources: daemon/scep-caps.c daemon/scep-errors.c
 * fuzz-pkgs: openssl */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/scep-caps.h"
#include "daemon/scep-errors.h"
#include "daemon/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned caps = 0;
    AeError e;
    char ct[64];
    size_t n;

    if (scep_caps_parse((const char *)data, size, &caps) != 0)
        abort();
    /* never MD5 or single DES, whatever the server says */
    if (strcmp(scep_caps_cipher(caps), "AES-128-CBC") && strcmp(scep_caps_cipher(caps), "DES-EDE3-CBC"))
        abort();
    char *s = scep_caps_to_string(caps);
    free(s);
    /* the first bytes as a content type, the rest as a body */
    n = size < sizeof ct - 1 ? size : sizeof ct - 1;
    memcpy(ct, data, n);
    ct[n] = '\0';
    for (int op = SCEP_OP_GET_CA_CAPS; op <= SCEP_OP_PKI_OPERATION; op++)
        (void)scep_http_check((ScepOperation)op, 200, ct, data + n, size - n, &e);
    uint32_t h;
    (void)scep_hresult_parse(ct, &h);
    return 0;
}
