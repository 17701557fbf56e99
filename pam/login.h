/* What pam_autoenroll does at open_session, without PAM: copy the session's
 * ticket cache as the user, and hand it to autoenrolld with a "login" call.
 * No logging and no global state: the module decides and logs. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "daemon/error.h"

/* The largest cache handed over (the daemon refuses more, too). */
#define PAM_AE_CCACHE_MAX (1024u * 1024u)

/* The file that holds a KRB5CCNAME's tickets: "FILE:/p" and "/p" -> /p,
 * "DIR::/d/tktX" -> /d/tktX, "DIR:/d" -> "/d" with *ret_is_collection set
 * (its "primary" file names the cache). KEYRING, KCM and MEMORY caches are
 * found through the calling process's credentials, not its filesystem
 * identity, so opening them from the login process (root) would not prove
 * that the user owns them: -EPROTONOSUPPORT. */
int pam_ae_ccache_path(const char *ccname, const char **ret_path, bool *ret_is_collection);

/* Open the cache named by ccname for reading with the filesystem identity of
 * the user (uid, gid and her groups; setfsuid/setfsgid and a per-thread
 * setgroups, restored before returning), so the kernel refuses a cache she
 * could not read herself. Never blocks on a FIFO; only regular files of at
 * most PAM_AE_CCACHE_MAX bytes that start like a FILE ccache (0x05 0x01..04).
 * The fd returned is a sealed memfd copy of the cache as it was at login,
 * at offset 0: the daemon may read it late (a burst, a busy daemon) after
 * pam_krb5 has destroyed the session cache at logout. Errors: -EPROTONOSUPPORT,
 * -EACCES, -ENOENT, -EINVAL not a regular file, -EFBIG, -EBADMSG not a
 * ccache, -EPERM cannot switch identity. */
int pam_ae_open_ccache_as(const char *ccname, const char *user, uid_t uid, gid_t gid, int *ret_fd,
                          AeError *err);

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
 * -ETIMEDOUT no answer (or a full listen queue) in time, -EREMOTEIO the daemon said no (err has its
 * category and message), -EBADMSG unreadable reply. */
int pam_ae_login(const char *socket_path, uid_t uid, const char *profile, bool wait, int ccache_fd,
                 int timeout_ms, PamAeResult *ret, AeError *err);
