/* libFuzzer target for the NDES admin page parser (daemon/challenge.c).
 * Self-contained: build with
 *   clang -fsanitize=fuzzer,address -I. -include config.h fuzz/fuzz-challenge.c daemon/challenge.c
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/challenge.h"
#include "daemon/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *challenge = NULL;
    AeError err;
    int r = challenge_parse_page(data, size, &challenge, &err);
    if (r == 0) {
        /* A challenge is non-empty hex. */
        if (!challenge || !*challenge || strspn(challenge, "0123456789abcdefABCDEF") != strlen(challenge))
            abort();
        secret_free(challenge);
    } else if (challenge)
        abort();
    char *text = NULL;
    if (challenge_decode_page(data, size, &text, NULL, NULL) == 0)
        free(text);
    return 0;
}
