/* What autoenrolld answers on its socket. Authorisation comes from the
 * kernel-verified peer uid: root manages everything; a user sees, requests
 * and renews only their own user requests. */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/enroll.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/schedule.h"
#include "daemon/util.h"

struct Waiter {
    Waiter *next;
    IpcConn *conn;
    char *id;
};

static const char *get_str(json_object *msg, const char *key) {
    json_object *v;
    if (!json_object_object_get_ex(msg, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static bool get_bool(json_object *msg, const char *key) {
    json_object *v;
    return json_object_object_get_ex(msg, key, &v) && json_object_get_boolean(v);
}

static void reply_error(IpcConn *c, const char *category, const char *message) {
    json_object *o = ipc_error_reply(category, message);
    ipc_conn_reply(c, o);
    json_object_put(o);
}

static void reply_aeerror(IpcConn *c, const AeError *e) {
    reply_error(c, e->category[0] ? e->category : AE_ERR_INTERNAL, e->message);
}

static bool may_see(const Request *r, uid_t peer) {
    return peer == 0 || (r->kind == KIND_USER && r->uid == peer);
}

/* The public view plus what only the manager knows: when the next action is due. */
static int public_view(Manager *m, const Request *r, json_object **ret) {
    json_object *pub = NULL;
    int k = request_to_public_json(r, &pub);
    if (k < 0)
        return k;
    const Profile *p = r->profile ? config_find_profile(m->config, r->profile) : NULL;
    uint64_t due = schedule_next_due(r, m->config, p);
    json_object_object_add(pub, "due", json_object_new_int64(due == UINT64_MAX ? 0 : (int64_t)(due / USEC_PER_SEC)));
    *ret = pub;
    return 0;
}

static void reply_request(Manager *m, IpcConn *c, const Request *r) {
    json_object *o = ipc_ok_reply(), *pub = NULL;
    if (public_view(m, r, &pub) == 0)
        json_object_object_add(o, "request", pub);
    ipc_conn_reply(c, o);
    json_object_put(o);
}

static void add_waiter(Manager *m, IpcConn *c, const char *id) {
    Waiter *w = calloc(1, sizeof *w);
    if (!w || !(w->id = strdup(id))) {
        free(w);
        reply_error(c, AE_ERR_INTERNAL, "out of memory");
        return;
    }
    w->conn = c;
    w->next = m->waiters;
    m->waiters = w;
    ipc_conn_set_userdata(c, w);
}

/* A --wait is over when the request is in place, or needs someone, or failed this round. */
static bool wait_is_over(const Request *r) {
    return r->state == STATE_MONITORING || r->state == STATE_CA_REJECTED ||
           r->state == STATE_NEED_CREDENTIALS || r->state == STATE_PENDING ||
           (r->state == STATE_CA_UNREACHABLE && r->attempts > 0);
}

void manager_wake_waiters(Manager *m, Request *r) {
    if (!wait_is_over(r))
        return;
    for (Waiter **pw = &m->waiters; *pw;) {
        Waiter *w = *pw;
        if (!streq(w->id, r->id)) {
            pw = &w->next;
            continue;
        }
        *pw = w->next;
        ipc_conn_set_userdata(w->conn, NULL);
        reply_request(m, w->conn, r);
        free(w->id);
        free(w);
    }
}

void manager_drop_waiters(Manager *m) {
    while (m->waiters) {
        Waiter *w = m->waiters;
        m->waiters = w->next;
        free(w->id);
        free(w);
    }
}

void manager_ipc_gone(IpcConn *c, void *userdata) {
    Manager *m = userdata;
    Waiter *gone = ipc_conn_get_userdata(c);
    for (Waiter **pw = &m->waiters; *pw; pw = &(*pw)->next)
        if (*pw == gone) {
            *pw = gone->next;
            free(gone->id);
            free(gone);
            return;
        }
}

static void handle_list(Manager *m, IpcConn *c, uid_t peer) {
    json_object *o = ipc_ok_reply(), *arr = json_object_new_array();
    for (size_t i = 0; i < m->n_requests; i++) {
        json_object *pub = NULL;
        if (may_see(m->requests[i], peer) && public_view(m, m->requests[i], &pub) == 0)
            json_object_array_add(arr, pub);
    }
    json_object_object_add(o, "requests", arr);
    ipc_conn_reply(c, o);
    json_object_put(o);
}

static Request *find_visible(Manager *m, IpcConn *c, json_object *msg, uid_t peer) {
    const char *id = get_str(msg, "id");
    if (!id) {
        reply_error(c, "usage", "no request id given");
        return NULL;
    }
    Request *r = manager_find(m, id);
    if (!r || !may_see(r, peer)) {
        /* The same answer for "absent" and "not yours": ids of others stay private. */
        reply_error(c, "not-found", "no such request");
        return NULL;
    }
    return r;
}

/* Take the user's credentials if an fd came with the request. */
static int take_creds(Manager *m, uid_t uid, int *fd, char **ret_principal, AeError *err) {
    if (*fd < 0)
        return 0;
    int r = enroller_set_user_creds(m->enroller, uid, *fd, ret_principal, err);
    close(*fd);
    *fd = -1;
    return r;
}

/* Ensure the user's request for profile p exists, refresh it, maybe wait. */
static int ensure_user_request(Manager *m, const Profile *p, uid_t uid, const char *principal,
                               AeError *err, Request **ret) {
    char id[80];
    snprintf(id, sizeof id, "%s-%u", p->name, (unsigned)uid);
    Request *r = manager_find(m, id);
    bool changed = false;
    if (!r) {
        struct passwd *pw = getpwuid(uid);
        if (!pw)
            return ae_error_set(err, -ENOENT, AE_ERR_CONFIG, "uid %u has no user name",
                                (unsigned)uid);
        int k = manager_add_from_profile(m, p, uid, pw->pw_name, principal, err, &r);
        if (k < 0)
            return k;
        changed = true;
    } else if (principal && (!r->principal || !r->subject)) {
        request_set_str(&r->principal, principal);
        if (!r->subject && manager_expand_profile(m, r, p, err) < 0)
            return -EINVAL;
        changed = true;
    }
    /* New tickets clear NEED_CREDENTIALS; otherwise nothing on disk changes
     * (a login burst must not cost an fsync per login): just look again. */
    if (r->state == STATE_NEED_CREDENTIALS)
        manager_kick(m, r);
    else if (changed)
        manager_request_changed_soon(m, r);
    else
        manager_reschedule(m);
    *ret = r;
    return 0;
}

static void handle_request(Manager *m, IpcConn *c, json_object *msg, uid_t peer, int *fd) {
    const char *name = get_str(msg, "profile");
    const Profile *p = name ? config_find_profile(m->config, name) : NULL;
    AeError err = {0};
    if (!p) {
        reply_error(c, "usage", "no such profile");
        return;
    }
    Request *r = NULL;
    if (p->kind == KIND_MACHINE) {
        if (peer != 0) {
            reply_error(c, "permission", "only root may request machine certificates");
            return;
        }
        r = manager_find(m, p->name);
        if (!r && manager_add_from_profile(m, p, 0, NULL, NULL, &err, &r) < 0) {
            reply_aeerror(c, &err);
            return;
        }
        if (r->state != STATE_MONITORING && r->state != STATE_PENDING)
            manager_kick(m, r);
    } else {
        uid_t uid = peer;
        json_object *v;
        if (peer == 0 && json_object_object_get_ex(msg, "uid", &v))
            uid = (uid_t)json_object_get_int64(v);
        _cleanup_free_ char *principal = NULL;
        if (take_creds(m, uid, fd, &principal, &err) < 0 ||
            ensure_user_request(m, p, uid, principal, &err, &r) < 0) {
            reply_aeerror(c, &err);
            return;
        }
    }
    if (get_bool(msg, "wait") && !wait_is_over(r))
        add_waiter(m, c, r->id);
    else
        reply_request(m, c, r);
}

/* pam_autoenroll at open_session: the user's requests for every auto user profile. */
static void handle_login(Manager *m, IpcConn *c, json_object *msg, uid_t peer, int *fd) {
    json_object *v;
    if (peer != 0) {
        reply_error(c, "permission", "only root (the PAM stack) may report logins");
        return;
    }
    if (!json_object_object_get_ex(msg, "uid", &v)) {
        reply_error(c, "usage", "login needs a uid");
        return;
    }
    uid_t uid = (uid_t)json_object_get_int64(v);
    const char *only = get_str(msg, "profile");
    AeError err = {0};
    _cleanup_free_ char *principal = NULL;
    if (take_creds(m, uid, fd, &principal, &err) < 0) {
        log_msg(LOG_WARNING, "login of uid %u: %s", (unsigned)uid, err.message);
        reply_aeerror(c, &err);
        return;
    }
    Request *first = NULL;
    for (unsigned i = 0; i < m->config->n_profiles; i++) {
        const Profile *p = &m->config->profiles[i];
        if (p->kind != KIND_USER || (only ? !streq(only, p->name) : !p->autoenroll))
            continue;
        Request *r = NULL;
        if (ensure_user_request(m, p, uid, principal, &err, &r) < 0)
            log_msg(LOG_ERR, "login of uid %u, profile %s: %s", (unsigned)uid, p->name,
                    err.message);
        else if (!first)
            first = r;
    }
    if (!first) {
        reply_error(c, "config", only ? "no such user profile" : "no user profile to enroll");
        return;
    }
    if (get_bool(msg, "wait") && !wait_is_over(first))
        add_waiter(m, c, first->id);
    else
        reply_request(m, c, first);
}

void manager_ipc_handle(IpcConn *c, json_object *msg, uid_t peer, pid_t peer_pid, int passed_fd,
                        void *userdata) {
    Manager *m = userdata;
    const char *method = get_str(msg, "method");
    int fd = passed_fd;
    Request *r;

    if (!method)
        reply_error(c, "usage", "no method");
    else if (streq(method, "ping")) {
        json_object *o = ipc_ok_reply();
        json_object_object_add(o, "version", json_object_new_string(PACKAGE_VERSION));
        ipc_conn_reply(c, o);
        json_object_put(o);
    } else if (streq(method, "list"))
        handle_list(m, c, peer);
    else if (streq(method, "status")) {
        if ((r = find_visible(m, c, msg, peer)))
            reply_request(m, c, r);
    } else if (streq(method, "request"))
        handle_request(m, c, msg, peer, &fd);
    else if (streq(method, "login"))
        handle_login(m, c, msg, peer, &fd);
    else if (streq(method, "renew")) {
        if ((r = find_visible(m, c, msg, peer))) {
            AeError err = {0};
            if (take_creds(m, r->uid, &fd, NULL, &err) < 0 && r->kind == KIND_USER) {
                reply_aeerror(c, &err);
            } else {
                log_req(LOG_INFO, r, NULL, "renewal asked by uid %u", (unsigned)peer);
                manager_kick(m, r);
                if (get_bool(msg, "wait"))
                    add_waiter(m, c, r->id);
                else
                    reply_request(m, c, r);
            }
        }
    } else if (streq(method, "stop-tracking")) {
        if ((r = find_visible(m, c, msg, peer))) {
            int k = manager_remove(m, r);
            if (k < 0)
                reply_error(c, AE_ERR_STORAGE, strerror(-k));
            else {
                json_object *o = ipc_ok_reply();
                ipc_conn_reply(c, o);
                json_object_put(o);
            }
        }
    } else
        reply_error(c, "usage", "unknown method");
    if (fd >= 0)
        close(fd);
}
