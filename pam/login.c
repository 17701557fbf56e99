/* Hand a login's tickets to autoenrolld. */
#include "pam/login.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <unistd.h>

#include <json-c/json.h>

#include "daemon/ipc-client.h"
#include "daemon/krb.h"
#include "daemon/util.h"

bool pam_ae_ccache_type_supported(const char *ccname) {
    if (!ccname)
        return false;
    if (ccname[0] == '/')
        return true;
    if (strncmp(ccname, "FILE:/", 6) == 0 || strncmp(ccname, "DIR:/", 5) == 0 ||
        strncmp(ccname, "DIR::/", 6) == 0)
        return true;
    return false;
}

/* setfsuid() returns the previous value and cannot report failure: read the
 * current one back with an invalid id. */
static uid_t current_fsuid(void) { return (uid_t)setfsuid((uid_t)-1); }
static gid_t current_fsgid(void) { return (gid_t)setfsgid((gid_t)-1); }

int pam_ae_export_ccache_as(const char *ccname, uid_t uid, gid_t gid, int *ret_fd, AeError *err) {
    if (!pam_ae_ccache_type_supported(ccname))
        return ae_error_set(err, -EPROTONOSUPPORT, AE_ERR_CREDENTIALS,
                            "credential cache type not supported (only FILE: and DIR: caches)");

    /* Group first: once fsuid is no longer 0 the thread still has
     * CAP_SETGID, but keep the order symmetric with the restore. */
    gid_t old_gid = (gid_t)setfsgid(gid);
    if (current_fsgid() != gid) {
        setfsgid(old_gid);
        return ae_error_set(err, -EPERM, AE_ERR_INTERNAL, "cannot switch to the user's group");
    }
    uid_t old_uid = (uid_t)setfsuid(uid);
    if (current_fsuid() != uid) {
        setfsuid(old_uid);
        setfsgid(old_gid);
        return ae_error_set(err, -EPERM, AE_ERR_INTERNAL, "cannot switch to the user's identity");
    }

    int fd = -1;
    int r = krb_export_ccache_to_memfd(ccname, &fd, err);

    setfsuid(old_uid);
    setfsgid(old_gid);
    if (current_fsuid() != old_uid || current_fsgid() != old_gid) {
        /* Cannot happen for a process that could switch in the first
         * place; never go on with the user's identity. */
        if (fd >= 0)
            close(fd);
        return ae_error_set(err, -EPERM, AE_ERR_INTERNAL, "cannot switch back from the user's identity");
    }
    if (r < 0)
        return r;
    *ret_fd = fd;
    return 0;
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

    r = ipc_call(socket_path, req, ccache_fd, timeout_ms, &reply);
    if (r == -ETIMEDOUT) {
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
