/* The caller's Kerberos tickets, copied by the caller itself into a memfd so
 * that the daemon only ever receives what this user could read. */
#include <stdio.h>
#include <stdlib.h>

#include "daemon/cli.h"
#include "daemon/krb.h"

int cli_open_user_ccache(void) {
    AeError err = {0};
    int fd = -1;
    /* NULL: KRB5CCNAME or the default cache, whatever its type. */
    if (krb_export_ccache_to_memfd(NULL, &fd, &err) < 0) {
        if (getenv("AUTOENROLL_DEBUG"))
            fprintf(stderr, "autoenroll: no Kerberos tickets passed: %s\n", err.message);
        return -1;
    }
    return fd;
}
