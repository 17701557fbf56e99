/* The daemon's Manager: requests, the one timer, and the glue between them. */
#include "daemon/manager.h"

#include <errno.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "daemon/enroll.h"
#include "daemon/fileio.h"
#include "daemon/log.h"
#include "daemon/schedule.h"
#include "daemon/template.h"
#include "daemon/util.h"
#include "daemon/worker.h"

#define MAX(a, b) ((a) > (b) ? (a) : (b))

uint64_t now_realtime_usec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

double random_unit(void) {
    uint64_t v;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v)
        v = (uint64_t)rand();
    return (double)(v >> 11) / (double)(1ULL << 53);
}

static int find_fqdn(Manager *m) {
    char host[256] = "";
    if (m->config->hostname)
        snprintf(host, sizeof host, "%s", m->config->hostname);
    else {
        if (gethostname(host, sizeof host - 1) < 0)
            return -errno;
        /* Canonical name through NSS, as a joined host's resolver gives it. */
        struct addrinfo hints = {.ai_flags = AI_CANONNAME}, *ai = NULL;
        if (!strchr(host, '.') && getaddrinfo(host, NULL, &hints, &ai) == 0 && ai &&
            ai->ai_canonname)
            snprintf(host, sizeof host, "%s", ai->ai_canonname);
        if (ai)
            freeaddrinfo(ai);
    }
    for (char *p = host; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    m->fqdn = strdup(host);
    m->short_hostname = strndup(host, strcspn(host, "."));
    return m->fqdn && m->short_hostname ? 0 : -ENOMEM;
}

int manager_new(const ManagerOptions *o, AeError *err, Manager **ret) {
    Manager *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    int r = config_load(o->config_path, o->conf_d, err, &m->config);
    if (r < 0)
        goto fail;
    if (o->socket_path && request_set_str(&m->config->socket_path, o->socket_path) < 0) {
        r = -ENOMEM;
        goto fail;
    }
    r = find_fqdn(m);
    if (r < 0) {
        ae_error_set(err, r, AE_ERR_CONFIG, "cannot find this host's name: %s", strerror(-r));
        goto fail;
    }
    r = sd_event_default(&m->event);
    if (r < 0)
        goto fail;
    r = store_open(m->config->state_dir, &m->store);
    if (r < 0) {
        ae_error_set(err, r, AE_ERR_STORAGE, "cannot open state directory %s: %s",
                     m->config->state_dir, strerror(-r));
        goto fail;
    }
    r = enroller_new(m, &m->enroller);
    if (r < 0)
        goto fail;
    r = ipc_server_new(m->event, m->config->socket_path, o->listen_fd, manager_ipc_handle,
                       manager_ipc_gone, m, &m->ipc);
    if (r < 0) {
        ae_error_set(err, r, AE_ERR_CONFIG, "cannot listen on %s: %s", m->config->socket_path,
                     strerror(-r));
        goto fail;
    }
    *ret = m;
    return 0;
fail:
    manager_free(m);
    return r;
}

void manager_free(Manager *m) {
    if (!m)
        return;
    ipc_server_free(m->ipc);
    manager_drop_waiters(m);
    enroller_free(m->enroller);
    if (m->store)
        manager_save_pending(m); /* what a login burst left for an idle moment */
    for (size_t i = 0; i < m->n_requests; i++)
        request_free(m->requests[i]);
    free(m->requests);
    sd_event_source_disable_unref(m->timer);
    sd_event_source_disable_unref(m->stop_tick);
    sd_event_source_disable_unref(m->metrics_defer);
    sd_event_source_disable_unref(m->save_defer);
    sd_event_source_disable_unref(m->sigterm);
    sd_event_source_disable_unref(m->sigint);
    store_free(m->store);
    config_free(m->config);
    free(m->fqdn);
    free(m->short_hostname);
    sd_event_unref(m->event);
    free(m);
}

Request *manager_find(Manager *m, const char *id) {
    for (size_t i = 0; i < m->n_requests; i++)
        if (streq(m->requests[i]->id, id))
            return m->requests[i];
    return NULL;
}

static int manager_append(Manager *m, Request *r) {
    Request **n = realloc(m->requests, (m->n_requests + 1) * sizeof *n);
    if (!n)
        return -ENOMEM;
    m->requests = n;
    m->requests[m->n_requests++] = r;
    return 0;
}

static int expand(const char *tmpl, const TemplateVar *vars, char **ret, AeError *err) {
    const char *missing = NULL;
    int r = template_expand(tmpl, vars, ret, &missing);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_CONFIG, "cannot expand '%s'%s%s", tmpl,
                            missing ? ": no value for " : "", missing ? missing : "");
    return 0;
}

static int add_sans(json_object *sans, const char *key, char *const *list, unsigned n,
                    const TemplateVar *vars, AeError *err) {
    if (n == 0)
        return 0;
    json_object *a = json_object_new_array();
    json_object_object_add(sans, key, a);
    for (unsigned i = 0; i < n; i++) {
        char *v = NULL;
        int r = expand(list[i], vars, &v, err);
        if (r < 0)
            return r;
        json_object_array_add(a, json_object_new_string(v));
        free(v);
    }
    return 0;
}

/* Fill what the request asks for from its profile's templates. */
int manager_expand_profile(Manager *m, Request *r, const Profile *p, AeError *err) {
    char uidbuf[16];
    const char *principal = r->principal;
    const char *realm = principal && strchr(principal, '@') ? strchr(principal, '@') + 1 : NULL;
    struct passwd *pw = p->kind == KIND_USER ? getpwuid(r->uid) : NULL;
    snprintf(uidbuf, sizeof uidbuf, "%u", (unsigned)r->uid);
    TemplateVar vars[] = {
        {"fqdn", m->fqdn},        {"hostname", m->short_hostname},
        {"user", r->user},        {"uid", p->kind == KIND_USER ? uidbuf : NULL},
        {"principal", principal}, {"realm", realm},
        {"home", pw ? pw->pw_dir : NULL}, {"id", r->id},
        {"state_dir", m->config->state_dir},
        {NULL, NULL},
    };
    json_object_put(r->sans);
    r->sans = json_object_new_object();
    char **outs[] = {&r->subject, &r->key_store, &r->cert_file, &r->chain_file, &r->hook};
    for (size_t i = 0; i < ELEMENTSOF(outs); i++) {
        free(*outs[i]);
        *outs[i] = NULL;
    }
    int k = expand(p->subject, vars, &r->subject, err);
    if (k >= 0)
        k = expand(p->key_store, vars, &r->key_store, err);
    if (k >= 0 && p->cert_file)
        k = expand(p->cert_file, vars, &r->cert_file, err);
    if (k >= 0 && p->chain_file)
        k = expand(p->chain_file, vars, &r->chain_file, err);
    if (k >= 0 && p->hook)
        k = expand(p->hook, vars, &r->hook, err);
    if (k >= 0)
        k = add_sans(r->sans, "dns", p->dns, p->n_dns, vars, err);
    if (k >= 0)
        k = add_sans(r->sans, "uri", p->uri, p->n_uri, vars, err);
    char *const single[] = {p->upn, p->email, p->sid};
    const char *single_keys[] = {"upn", "email", "sid"};
    for (size_t i = 0; k >= 0 && i < ELEMENTSOF(single); i++)
        if (single[i])
            k = add_sans(r->sans, single_keys[i], &single[i], 1, vars, err);
    if (k < 0) {
        free(r->subject);
        r->subject = NULL; /* not expanded yet: retried when more is known */
    }
    return k;
}

int manager_add_from_profile(Manager *m, const Profile *p, uid_t uid, const char *user,
                             const char *principal, AeError *err, Request **ret) {
    char id[80];
    if (p->kind == KIND_MACHINE)
        snprintf(id, sizeof id, "%s", p->name);
    else
        snprintf(id, sizeof id, "%s-%u", p->name, (unsigned)uid);
    if (manager_find(m, id))
        return ae_error_set(err, -EEXIST, AE_ERR_CONFIG, "request %s already exists", id);

    Request *r = NULL;
    int k = request_new(id, &r);
    if (k < 0)
        return ae_error_set(err, k, AE_ERR_CONFIG, "bad request id '%s'", id);
    r->kind = p->kind;
    r->uid = p->kind == KIND_USER ? uid : 0;
    r->key_bits = p->key_bits;
    r->created = (int64_t)(now_realtime_usec() / USEC_PER_SEC);
    r->state = STATE_NEED_KEY;
    if (request_set_str(&r->user, user) < 0 || request_set_str(&r->principal, principal) < 0 ||
        request_set_str(&r->profile, p->name) < 0 || request_set_str(&r->ca, p->ca) < 0) {
        request_free(r);
        return -ENOMEM;
    }
    AeError xerr = {0};
    k = manager_expand_profile(m, r, p, &xerr);
    if (k < 0 && p->kind == KIND_USER && !principal) {
        /* A user without tickets yet: tracked, waiting for the login that brings them. */
        r->state = STATE_NEED_CREDENTIALS;
        ae_error_set(&xerr, -ENOKEY, AE_ERR_CREDENTIALS,
                     "no Kerberos tickets for %s yet: the next login brings them", user ? user : id);
        request_set_error(r, &xerr, r->created);
    } else if (k < 0) {
        if (err)
            *err = xerr;
        request_free(r);
        return k;
    }
    k = manager_append(m, r);
    if (k < 0) {
        request_free(r);
        return k;
    }
    log_req(LOG_INFO, r, NULL, "tracking new %s request from profile %s",
            request_kind_to_string(r->kind), p->name);
    /* Saved when the loop is idle: a crash before that loses a request that
     * the config (machine) or the next login (user) creates again. */
    manager_request_changed_soon(m, r);
    if (ret)
        *ret = r;
    return 0;
}

int manager_remove(Manager *m, Request *r) {
    enroller_forget(m->enroller, r);
    int k = store_remove(m->store, r->id);
    if (k < 0)
        return k;
    for (size_t i = 0; i < m->n_requests; i++)
        if (m->requests[i] == r) {
            memmove(&m->requests[i], &m->requests[i + 1],
                    (m->n_requests - i - 1) * sizeof *m->requests);
            m->n_requests--;
            break;
        }
    log_req(LOG_INFO, r, NULL, "no longer tracked");
    request_free(r);
    manager_reschedule(m);
    return 0;
}

static int on_metrics(sd_event_source *s, void *userdata) {
    Manager *m = userdata;
    int k = metrics_write(m, now_realtime_usec());
    if (k < 0)
        log_msg(LOG_WARNING, "cannot write metrics file %s: %s", m->config->metrics_file,
                strerror(-k));
    return 0;
}

/* The metrics file is rewritten once per loop iteration, however many
 * requests changed in it (a login burst, a renewal storm). */
static void metrics_soon(Manager *m) {
    if (!m->config->metrics_file)
        return;
    if (!m->metrics_defer) {
        if (sd_event_add_defer(m->event, &m->metrics_defer, on_metrics, m) < 0) {
            m->metrics_defer = NULL;
            return;
        }
        /* After the pending answers and work, not between them. */
        (void)sd_event_source_set_priority(m->metrics_defer, SD_EVENT_PRIORITY_IDLE);
    }
    sd_event_source_set_enabled(m->metrics_defer, SD_EVENT_ONESHOT);
}

static void save_now(Manager *m, Request *r) {
    AeError err = {0};
    r->unsaved = false;
    if (store_save(m->store, r, &err) < 0)
        log_req(LOG_ERR, r, NULL, "%s", err.message);
}

void manager_save_pending(Manager *m) {
    for (size_t i = 0; i < m->n_requests; i++)
        if (m->requests[i]->unsaved)
            save_now(m, m->requests[i]);
}

static int on_save_pending(sd_event_source *s, void *userdata) {
    manager_save_pending(userdata);
    return 0;
}

/* What follows any change once its state file is written or scheduled. */
static void after_change(Manager *m, Request *r) {
    manager_wake_waiters(m, r);
    metrics_soon(m);
    manager_reschedule(m);
}

void manager_request_changed(Manager *m, Request *r) {
    save_now(m, r);
    after_change(m, r);
}

void manager_request_changed_soon(Manager *m, Request *r) {
    r->unsaved = true;
    if (!m->save_defer) {
        if (sd_event_add_defer(m->event, &m->save_defer, on_save_pending, m) < 0) {
            m->save_defer = NULL;
            save_now(m, r); /* no deferral possible: keep the state on disk */
        } else
            (void)sd_event_source_set_priority(m->save_defer, SD_EVENT_PRIORITY_IDLE);
    }
    if (m->save_defer)
        sd_event_source_set_enabled(m->save_defer, SD_EVENT_ONESHOT);
    after_change(m, r);
}

void manager_kick(Manager *m, Request *r) {
    if (r->state == STATE_MONITORING) {
        r->state = STATE_NEED_KEY;
        r->renewing = true;
    } else if (r->state == STATE_CA_REJECTED || r->state == STATE_NEED_CREDENTIALS ||
               r->state == STATE_CA_UNREACHABLE) {
        r->state = r->new_key_ref ? STATE_NEED_CSR : STATE_NEED_KEY;
    }
    r->next_action = 0;
    r->attempts = 0;
    manager_request_changed(m, r);
}

static void run_full_check(Manager *m, uint64_t now) {
    /* A monitoring request whose certificate is gone from its files gets it
     * written again at its next save; here we only look at the clock. */
    for (size_t i = 0; i < m->n_requests; i++) {
        Request *r = m->requests[i];
        if (r->state == STATE_MONITORING && r->not_after > 0 &&
            (uint64_t)r->not_after * USEC_PER_SEC <= now)
            log_req(LOG_CRIT, r, MSGID_EXPIRED, "certificate %s expired", r->serial ? r->serial : "");
    }
    m->next_check = now + m->config->check_interval_usec +
                    schedule_splay(m->config->splay_usec, random_unit());
}

static uint64_t request_due(Manager *m, Request *r) {
    const Profile *p = r->profile ? config_find_profile(m->config, r->profile) : NULL;
    return schedule_next_due(r, m->config, p);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
    Manager *m = userdata;
    uint64_t now = now_realtime_usec();
    if (now >= m->next_check)
        run_full_check(m, now);
    for (size_t i = 0; i < m->n_requests; i++) {
        Request *r = m->requests[i];
        if (enroller_busy(m->enroller, r) || request_due(m, r) > now)
            continue;
        if (r->state == STATE_MONITORING && !r->retired_key_ref) {
            /* Renewal time has come: keep the current certificate, make a new one. */
            log_req(LOG_INFO, r, NULL, "renewal due (not after %lld)", (long long)r->not_after);
            r->state = STATE_NEED_KEY;
            r->renewing = true;
        }
        if (!enroller_can_start(m->enroller, r))
            continue;
        int k = enroller_start(m->enroller, r);
        if (k < 0)
            log_req(LOG_ERR, r, NULL, "cannot start work: %s", strerror(-k));
    }
    manager_reschedule(m);
    return 0;
}

void manager_reschedule(Manager *m) {
    if (!m->ready || m->stopping)
        return;
    uint64_t now = now_realtime_usec();
    uint64_t next = m->next_check;
    for (size_t i = 0; i < m->n_requests; i++) {
        Request *r = m->requests[i];
        if (enroller_busy(m->enroller, r))
            continue;
        uint64_t due = request_due(m, r);
        /* Due but held back by the caps: the end of a running step re-arms us,
         * or the rate window reopening does. */
        if (due <= now && r->state != STATE_MONITORING && !enroller_can_start(m->enroller, r)) {
            uint64_t free_at = enroller_rate_free_at(m->enroller, r);
            if (free_at == 0)
                continue;
            due = free_at;
        }
        if (due < next)
            next = due;
    }
    if (next == UINT64_MAX) {
        sd_event_source_set_enabled(m->timer, SD_EVENT_OFF);
        return;
    }
    sd_event_source_set_time(m->timer, next < now ? now : next);
    sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
}

static void on_bad_state_file(const char *path, const AeError *err, void *userdata) {
    log_msg(LOG_ERR, "state file %s is unusable (%s): set aside as %s.corrupt-*", path,
            err->message, path);
}

/* Worker threads (key generation, Kerberos, signing) cannot be interrupted:
 * exit once they have all come back, so none runs while the process tears
 * its libraries down. Network calls are simply dropped: after a restart every
 * request resumes from its last saved state. */
static int on_stop_tick(sd_event_source *s, uint64_t usec, void *userdata) {
    Manager *m = userdata;
    if (worker_running() == 0 || usec >= m->stop_deadline) {
        if (worker_running() > 0)
            log_msg(LOG_WARNING, "stopping with %u worker(s) still busy", worker_running());
        sd_event_exit(m->event, 0);
        return 0;
    }
    sd_event_source_set_time(s, usec + 20000);
    sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
    return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
    Manager *m = userdata;
    if (m->stopping)
        return 0;
    log_msg(LOG_INFO, "stopping on signal %u", si->ssi_signo);
    m->stopping = true;
    sd_event_source_set_enabled(m->timer, SD_EVENT_OFF);
    ipc_server_free(m->ipc);
    m->ipc = NULL;
    manager_drop_waiters(m);
    enroller_stop(m->enroller);
    uint64_t now;
    sd_event_now(m->event, CLOCK_MONOTONIC, &now);
    m->stop_deadline = now + m->config->stop_timeout_usec;
    if (sd_event_add_time(m->event, &m->stop_tick, CLOCK_MONOTONIC, now, 1000, on_stop_tick, m) < 0)
        sd_event_exit(m->event, 0);
    return 0;
}

int manager_start(Manager *m, AeError *err) {
    Request **list = NULL;
    size_t n = 0;
    int r = store_load_all(m->store, on_bad_state_file, m, &list, &n);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_STORAGE, "cannot read state directory %s: %s",
                            store_dir(m->store), strerror(-r));
    m->requests = list;
    m->n_requests = n;
    uint64_t now = now_realtime_usec();
    for (size_t i = 0; i < n; i++) {
        RequestState before = list[i]->state;
        request_reset_after_restart(list[i]);
        /* Hosts booting together do not all knock on NDES in the same second;
         * a backoff still running is kept. */
        if (list[i]->next_action < now)
            list[i]->next_action = now + schedule_splay(m->config->splay_usec, random_unit());
        if (before != list[i]->state)
            log_req(LOG_NOTICE, list[i], NULL, "resuming from %s after a restart",
                    request_state_to_string(before));
    }

    /* A crash in the middle of writing a file key (or its certificate) leaves
     * NAME.tmp.XXXXXX, possibly a private key copy: sweep the file stores now,
     * before any job writes to them. */
    for (size_t i = 0; i < n; i++) {
        const char *ks = list[i]->key_store;
        int k = 0;
        if (ks && strncmp(ks, "file:", 5) == 0)
            k += MAX(0, fileio_remove_stale_temps(ks + 5 + (strncmp(ks + 5, "//", 2) == 0 ? 2 : 0), NULL));
        const char *outs[] = {list[i]->cert_file, list[i]->chain_file};
        for (size_t o = 0; o < ELEMENTSOF(outs); o++) {
            const char *slash = outs[o] ? strrchr(outs[o], '/') : NULL;
            if (!slash || slash == outs[o])
                continue;
            _cleanup_free_ char *dir = strndup(outs[o], (size_t)(slash - outs[o]));
            if (dir)
                k += MAX(0, fileio_remove_stale_temps(dir, slash + 1));
        }
        if (k > 0)
            log_req(LOG_NOTICE, list[i], NULL, "removed %d half-written file(s) left by a crash", k);
    }

    /* Autoenrollment: the machine's requests exist from the first start on. */
    for (unsigned i = 0; i < m->config->n_profiles; i++) {
        const Profile *p = &m->config->profiles[i];
        if (p->kind != KIND_MACHINE || !p->autoenroll || manager_find(m, p->name))
            continue;
        AeError e = {0};
        if (manager_add_from_profile(m, p, 0, NULL, NULL, &e, NULL) < 0)
            log_msg(LOG_ERR, "cannot create the request for profile %s: %s", p->name, e.message);
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGCHLD); /* hooks are reaped through sd-event child sources */
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sd_event_add_signal(m->event, &m->sigterm, SIGTERM, on_signal, m);
    sd_event_add_signal(m->event, &m->sigint, SIGINT, on_signal, m);

    /* 1 ms accuracy: a step that is due now must not wait for sd-event's default 250 ms. */
    r = sd_event_add_time(m->event, &m->timer, CLOCK_REALTIME, 0, 1000, on_timer, m);
    if (r < 0)
        return r;
    /* Check everything now (boot), then on the long interval. */
    m->next_check = now_realtime_usec();
    m->ready = true;
    manager_reschedule(m);
    if (m->config->metrics_file)
        metrics_write(m, now_realtime_usec());
    return 0;
}
