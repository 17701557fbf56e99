/* Hand a login's tickets to autoenrolld. */
#include "pam/login.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "daemon/fileio.h"
#include "daemon/ipc-client.h"
#include "daemon/util.h"

int pam_ae_ccache_path(const char *ccname, const char **ret_path, bool *ret_is_collection) {
    const char *p = NULL;
    bool coll = false;

    if (!ccname)
        return -EINVAL;
    if (ccname[0] == '/')
        p = ccname;
    else if (strncmp(ccname, "FILE:", 5) == 0)
        p = ccname + 5;
    else if (strncmp(ccname, "DIR::", 5) == 0)
        p = ccname + 5;
    else if (strncmp(ccname, "DIR:", 4) == 0) {
        p = ccname + 4;
        coll = true;
    } else
        return -EPROTONOSUPPORT;
    if (p[0] != '/' || strlen(p) >= PATH_MAX - 16)
        return -EINVAL;
    *ret_path = p;
    *ret_is_collection = coll;
    return 0;
}

/* Open a regular file without blocking (a FIFO would hold the login). */
static int open_regular(const char *path, off_t max, int *ret_fd) {
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EINVAL;
    if (st.st_size > max)
        return -EFBIG;
    *ret_fd = TAKE_FD(fd);
    return 0;
}

/* DIR:/d -> the cache its "primary" file names ("tkt..."). */
static int open_collection_primary(const char *dir, int *ret_fd) {
    char path[PATH_MAX], name[256];
    _cleanup_close_ int fd = -1;
    ssize_t n;

    snprintf(path, sizeof path, "%s/primary", dir);
    int r = open_regular(path, sizeof name - 1, &fd);
    if (r < 0)
        return r;
    n = pread(fd, name, sizeof name - 1, 0);
    if (n < 0)
        return -errno;
    name[n] = '\0';
    name[strcspn(name, "\n")] = '\0';
    if (strncmp(name, "tkt", 3) != 0 || strchr(name, '/'))
        return -EBADMSG;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return open_regular(path, PAM_AE_CCACHE_MAX, ret_fd);
}

/* A sealed in-memory copy of the cache as it is now. pam_krb5 destroys the
 * session cache at close_session (MIT zeroes the file first): a daemon that
 * reads the login late, after a burst or when it was busy, must still find
 * the tickets the user logged in with. */
static int snapshot_ccache(int fd, int *ret_fd) {
    return fileio_copy_to_memfd(fd, PAM_AE_CCACHE_MAX, "pam_autoenroll-ccache", true, ret_fd);
}

static int open_ccache(const char *path, bool collection, int *ret_fd) {
    _cleanup_close_ int fd = -1;
    unsigned char magic[2];

    int r = collection ? open_collection_primary(path, &fd) : open_regular(path, PAM_AE_CCACHE_MAX, &fd);
    if (r < 0)
        return r;
    if (pread(fd, magic, sizeof magic, 0) != (ssize_t)sizeof magic || magic[0] != 0x05 ||
        magic[1] < 0x01 || magic[1] > 0x04)
        return -EBADMSG;
    return snapshot_ccache(fd, ret_fd);
}

/* Per-thread credential changes: glibc's setgroups() changes every thread
 * of the process; the raw system call changes the calling thread only, as
 * setfsuid()/setfsgid() do. */
static int thread_setgroups(size_t n, const gid_t *list) {
    return syscall(SYS_setgroups, n, list) < 0 ? -errno : 0;
}

/* setfsuid() returns the previous value and cannot report failure: read the
 * current one back with an invalid id. */
static uid_t current_fsuid(void) { return (uid_t)setfsuid((uid_t)-1); }
static gid_t current_fsgid(void) { return (gid_t)setfsgid((gid_t)-1); }

#define MAX_GROUPS 1024

int pam_ae_open_ccache_as(const char *ccname, const char *user, uid_t uid, gid_t gid, int *ret_fd,
                          AeError *err) {
    const char *path;
    bool collection;
    gid_t user_groups[MAX_GROUPS];
    int n_user = MAX_GROUPS;
    _cleanup_free_ gid_t *saved = NULL;
    int n_saved, r, fd = -1;

    r = pam_ae_ccache_path(ccname, &path, &collection);
    if (r == -EPROTONOSUPPORT)
        return ae_error_set(err, r, AE_ERR_CREDENTIALS,
                            "credential cache type not supported (only FILE: and DIR: caches)");
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_CREDENTIALS, "KRB5CCNAME is not an absolute cache path");

    /* The user's own groups, so a file only root's groups may read stays shut. */
    if (getgrouplist(user, gid, user_groups, &n_user) < 0)
        n_user = MAX_GROUPS; /* more than we keep: the first ones only */
    n_saved = getgroups(0, NULL);
    if (n_saved < 0 || !(saved = calloc((size_t)n_saved + 1, sizeof *saved)) ||
        (n_saved = getgroups(n_saved, saved)) < 0)
        return ae_error_set(err, -ENOMEM, AE_ERR_INTERNAL, "cannot read the process's groups");

    if (thread_setgroups((size_t)n_user, user_groups) < 0)
        return ae_error_set(err, -EPERM, AE_ERR_INTERNAL, "cannot switch to the user's groups");
    gid_t old_gid = (gid_t)setfsgid(gid);
    uid_t old_uid = (uid_t)setfsuid(uid);
    if (current_fsgid() != gid || current_fsuid() != uid)
        r = ae_error_set(err, -EPERM, AE_ERR_INTERNAL, "cannot switch to the user's identity");
    else
        r = open_ccache(path, collection, &fd);

    setfsuid(old_uid);
    setfsgid(old_gid);
    int k = thread_setgroups((size_t)n_saved, saved);
    if (k < 0 || current_fsuid() != old_uid || current_fsgid() != old_gid) {
        /* Cannot happen for a process that could switch in the first
         * place; never go on with the user's identity. */
        if (fd >= 0)
            close(fd);
        return ae_error_set(err, -EPERM, AE_ERR_INTERNAL, "cannot switch back from the user's identity");
    }
    if (r == -EPERM)
        return r;
    if (r < 0) {
        const char *why = r == -EINVAL    ? "not a regular file"
                          : r == -EFBIG   ? "too large for a credential cache"
                          : r == -EBADMSG ? "not a Kerberos credential cache"
                                          : strerror(-r);
        return ae_error_set(err, r, AE_ERR_CREDENTIALS, "%s: %s", ccname, why);
    }
    *ret_fd = fd;
    return 0;
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *get_str(json_object *o, const char *key) {
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static json_object *get_obj(json_object *o, const char *key) {
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_object))
        return NULL;
    return v;
}

int pam_ae_login(const char *socket_path, uid_t uid, const char *profile, bool wait, int ccache_fd,
                 int timeout_ms, PamAeResult *ret, AeError *err) {
    json_object *req = json_object_new_object(), *reply = NULL, *v;
    PamAeResult res = {0};
    int r;

    if (!req)
        return ae_error_set(err, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
    json_object_object_add(req, "method", json_object_new_string("login"));
    json_object_object_add(req, "uid", json_object_new_int64((int64_t)uid));
    if (profile)
        json_object_object_add(req, "profile", json_object_new_string(profile));
    json_object_object_add(req, "wait", json_object_new_boolean(wait));

    /* A full listen queue makes a non-blocking Unix connect() fail at once
     * (ipc_call reports it as -EAGAIN or, after the send, -ENOTCONN):
     * nothing was delivered, so try again while the bound allows. */
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - now_ms();
        r = ipc_call(socket_path, req, ccache_fd, (int)(left > 0 ? left : 1), &reply);
        if ((r != -EAGAIN && r != -ENOTCONN) || deadline - now_ms() <= 20)
            break;
        struct timespec pause = {.tv_nsec = 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (r == -ETIMEDOUT || r == -EAGAIN || r == -ENOTCONN) {
        r = -ETIMEDOUT;
        ae_error_set(err, r, AE_ERR_INTERNAL, "autoenrolld did not answer within %d ms", timeout_ms);
        goto out;
    }
    if (r == -ENOENT || r == -ECONNREFUSED) {
        ae_error_set(err, r, AE_ERR_INTERNAL, "autoenrolld is not running (%s)", socket_path);
        goto out;
    }
    if (r < 0) {
        ae_error_set(err, r, AE_ERR_INTERNAL, "talking to autoenrolld: %s", strerror(-r));
        goto out;
    }

    if (!json_object_object_get_ex(reply, "ok", &v) || !json_object_is_type(v, json_type_boolean)) {
        r = ae_error_set(err, -EBADMSG, AE_ERR_INTERNAL, "autoenrolld sent an unreadable reply");
        goto out;
    }
    if (!json_object_get_boolean(v)) {
        json_object *e = get_obj(reply, "error");
        const char *cat = get_str(e, "category"), *msg = get_str(e, "message");
        r = ae_error_set(err, -EREMOTEIO, cat ? cat : AE_ERR_INTERNAL, "%s",
                         msg ? msg : "autoenrolld refused the login");
        goto out;
    }

    json_object *request = get_obj(reply, "request");
    const char *id = get_str(request, "id"), *state = get_str(request, "state");
    snprintf(res.id, sizeof res.id, "%s", id ? id : "");
    snprintf(res.state, sizeof res.state, "%s", state ? state : "");
    json_object *last = get_obj(request, "last_error");
    const char *lmsg = get_str(last, "message");
    if (lmsg && *lmsg) {
        const char *lcat = get_str(last, "category");
        res.has_error = true;
        ae_error_set(&res.last, -EIO, lcat ? lcat : AE_ERR_INTERNAL, "%s", lmsg);
    }
    *ret = res;
    r = 0;
out:
    json_object_put(req);
    json_object_put(reply);
    return r;
}
