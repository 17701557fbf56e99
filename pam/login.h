/* What pam_autoenroll does at open_session, without PAM: copy the session's
 * ticket cache as the user, and hand it to autoenrolld with a "login" call.
 * No logging and no global state: the module decides and logs. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "daemon/error.h"

/* Whether a KRB5CCNAME value names a cache the kernel guards by file
 * permissions (FILE:, DIR:, or a plain path). KEYRING, KCM and MEMORY caches
 * are looked up by the calling process's credentials, not its fsuid, so
 * opening them from the login process (root) would not prove that the user
 * owns them: they are refused. */
bool pam_ae_ccache_type_supported(const char *ccname);

/* Copy the cache `ccname` into a memfd (a FILE-format cache, at offset 0)
 * with the filesystem identity of uid/gid (setfsuid/setfsgid on this thread
 * only, restored before returning), so a user cannot hand over a cache she
 * could not read herself. Errors: -EPROTONOSUPPORT cache type refused,
 * -EPERM cannot switch identity, else krb_export_ccache_to_memfd()'s. */
int pam_ae_export_ccache_as(const char *ccname, uid_t uid, gid_t gid, int *ret_fd, AeError *err);

typedef struct PamAeResult {
    char id[64];       /* the request the daemon tracks ("user-20001") */
    char state[32];    /* its state when the daemon answered */
    bool has_error;    /* the request carries a last error */
    AeError last;      /* ... that one */
} PamAeResult;

/* Ask the daemon at socket_path to ensure uid's certificates (one profile,
 * or NULL: the daemon's autoenroll profiles), passing ccache_fd. With wait,
 * the daemon answers once the first request is in place or failed. The whole
 * call ends by timeout_ms. Errors: -ENOENT/-ECONNREFUSED daemon not running,
 * -ETIMEDOUT no answer in time, -EREMOTEIO the daemon said no (err has its
 * category and message), -EBADMSG unreadable reply. */
int pam_ae_login(const char *socket_path, uid_t uid, const char *profile, bool wait, int ccache_fd,
                 int timeout_ms, PamAeResult *ret, AeError *err);
