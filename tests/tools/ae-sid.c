/* ae-sid URI ACCOUNT [CCACHE]: print ACCOUNT's objectSid, read by sid_lookup()
 * over LDAP with SASL GSSAPI (the AD realm tests compare it with the DC's
 * own view). On failure: "category: message" on stderr, exit status 2 for
 * "no such account", 1 otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon/sid.h"
#include "daemon/util.h"

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s LDAP-URI ACCOUNT [CCACHE]\n", argv[0]);
        return 1;
    }
    SidQuery q = {.uri = argv[1], .account = argv[2], .ccache = argc > 3 ? argv[3] : NULL};
    AeError err = {0};
    _cleanup_free_ char *sid = NULL;
    int r = sid_lookup(&q, &err, &sid);
    if (r < 0) {
        fprintf(stderr, "%s: %s\n", err.category[0] ? err.category : "error",
                err.message[0] ? err.message : "failed");
        return r == -ENOENT ? 2 : 1;
    }
    printf("%s\n", sid);
    return 0;
}
