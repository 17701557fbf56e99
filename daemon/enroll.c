/* The enrollment engine: jobs, key generation, saving, and what a failure
 * does to a request. The SCEP round trip itself is in enroll-submit.c. */
#include "daemon/enroll.h"

#include <errno.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/enroll-private.h"
#include "daemon/krb.h"
#include "daemon/log.h"
#include "daemon/ndes.h"
#include "daemon/outputs.h"
#include "daemon/schedule.h"
#include "daemon/util.h"
#include "pkcs11/keystore.h"

int enroller_new(Manager *m, Enroller **ret) {
    Enroller *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    e->m = m;
    int r = http_new(m->event, &e->http);
    if (r < 0) {
        free(e);
        return r;
    }
    *ret = e;
    return 0;
}

static void job_free(Job *j) {
    if (!j)
        return;
    if (j->worker) {
        /* A submit worker's result is the job's SubmitJob: the cancel path frees it. */
        if (j->kind == JOB_SUBMIT)
            j->submit = NULL;
        worker_job_cancel(j->worker, j->free_result);
    }
    if (j->call)
        http_call_cancel(j->call);
    if (j->ndes_op)
        ndes_op_cancel(j->ndes_op);
    submit_job_clear(j);
    free(j);
}

void enroller_free(Enroller *e) {
    if (!e)
        return;
    while (e->jobs) {
        Job *j = e->jobs;
        e->jobs = j->next;
        job_free(j);
    }
    while (e->users) {
        UserCreds *u = e->users;
        e->users = u->next;
        krb_creds_free(u->creds);
        free(u);
    }
    while (e->rates) {
        CaRate *c = e->rates;
        e->rates = c->next;
        free(c->ca);
        free(c);
    }
    while (e->servers) {
        ServerHealth *h = e->servers;
        e->servers = h->next;
        free(h->url);
        free(h);
    }
    krb_creds_free(e->machine_creds);
    free(e->machine_creds_key);
    http_free(e->http);
    free(e);
}

static Job *job_of(const Enroller *e, const Request *r) {
    for (Job *j = e->jobs; j; j = j->next)
        if (j->r == r)
            return j;
    return NULL;
}

bool enroller_busy(const Enroller *e, const Request *r) { return job_of(e, r) != NULL; }

unsigned ca_submitting(const Enroller *e, const char *ca) {
    unsigned n = 0;
    for (Job *j = e->jobs; j; j = j->next)
        if (j->counted && j->r && j->r->ca && ca && streq(j->r->ca, ca))
            n++;
    return n;
}

unsigned enroller_in_flight(const Enroller *e) { return e->submitting; }

static bool needs_network(const Request *r) {
    return r->state == STATE_NEED_CSR || r->state == STATE_PENDING ||
           (r->state == STATE_CA_UNREACHABLE && r->new_key_ref);
}

static CaRate *ca_rate(const Enroller *e, const char *ca) {
    for (CaRate *c = e->rates; c; c = c->next)
        if (streq(c->ca, ca))
            return c;
    return NULL;
}

/* Starts within the last minute, dropping older ones. */
static unsigned rate_count(CaRate *c, uint64_t now) {
    while (c->count > 0) {
        unsigned oldest = (c->head + RATE_SLOTS - c->count) % RATE_SLOTS;
        if (c->started[oldest] + 60 * USEC_PER_SEC > now)
            break;
        c->count--;
    }
    return c->count;
}

static void rate_note(Enroller *e, const char *ca, uint64_t now) {
    CaRate *c = ca_rate(e, ca);
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c || !(c->ca = strdup(ca))) {
            free(c);
            return;
        }
        c->next = e->rates;
        e->rates = c;
    }
    rate_count(c, now);
    c->started[c->head] = now;
    c->head = (c->head + 1) % RATE_SLOTS;
    if (c->count < RATE_SLOTS)
        c->count++;
}

uint64_t enroller_rate_free_at(const Enroller *e, const Request *r) {
    const CaConfig *ca = r->ca ? config_find_ca(e->m->config, r->ca) : NULL;
    CaRate *c = ca ? ca_rate(e, r->ca) : NULL;
    uint64_t now = now_realtime_usec();
    if (!ca || !ca->max_per_minute || !c || rate_count(c, now) < ca->max_per_minute)
        return 0;
    unsigned oldest = (c->head + RATE_SLOTS - c->count) % RATE_SLOTS;
    return c->started[oldest] + 60 * USEC_PER_SEC;
}

/* Key generation, saving and key removal run on worker threads: a thousand
 * renewals due at once must not start a thousand threads and starve the loop. */
#define LOCAL_JOBS_MAX 8

unsigned enroller_local_jobs(const Enroller *e) {
    unsigned n = 0;
    for (Job *j = e->jobs; j; j = j->next)
        if (j->kind != JOB_SUBMIT)
            n++;
    return n;
}

bool enroller_can_start(const Enroller *e, const Request *r) {
    if (!needs_network(r))
        return enroller_local_jobs(e) < LOCAL_JOBS_MAX;
    if (e->submitting >= e->m->config->max_concurrent)
        return false;
    const CaConfig *ca = r->ca ? config_find_ca(e->m->config, r->ca) : NULL;
    if (ca && ca_submitting(e, r->ca) >= ca->max_concurrent)
        return false;
    return enroller_rate_free_at(e, r) == 0;
}

/* Unlink and free; let the manager move on. */
void job_finish(Job *j) {
    Enroller *e = j->e;
    Request *r = j->r;
    for (Job **pj = &e->jobs; *pj; pj = &(*pj)->next)
        if (*pj == j) {
            *pj = j->next;
            break;
        }
    if (j->counted)
        e->submitting--;
    j->worker = NULL;
    j->call = NULL;
    j->ndes_op = NULL;
    job_free(j);
    if (r)
        manager_request_changed(e->m, r);
    else
        manager_reschedule(e->m);
}

void enroller_stop(Enroller *e) {
    for (Job **pj = &e->jobs; *pj;) {
        Job *j = *pj;
        j->r = NULL;
        if (j->worker) {
            pj = &j->next; /* its thread comes back; the result is dropped */
            continue;
        }
        *pj = j->next;
        if (j->counted)
            e->submitting--;
        job_free(j);
    }
}

void enroller_forget(Enroller *e, const Request *r) {
    Job *j = job_of(e, r);
    if (j)
        j->r = NULL; /* in-flight work completes and is dropped */
}

static const char *fail_state_reason(RequestState s) {
    switch (s) {
    case STATE_NEED_CREDENTIALS:
        return "waiting for the user's next login";
    case STATE_CA_REJECTED:
        return "needs attention";
    default:
        return "will retry";
    }
}

/* A CA's "no" is final only when it says it again: a challenge spent by a
 * crash, or a busy CA's transient refusal, deserve a fresh try. */
#define REJECTIONS_BEFORE_GIVING_UP 3

void job_fail(Job *j, const AeError *err) {
    Request *r = j->r;
    if (!r)
        return;
    Manager *m = j->e->m;
    uint64_t now = now_realtime_usec();
    RequestState next;

    if (streq(err->category, AE_ERR_CREDENTIALS) && r->kind == KIND_USER)
        next = STATE_NEED_CREDENTIALS;
    else if (streq(err->category, AE_ERR_CONFIG) ||
             (streq(err->category, AE_ERR_REJECTED) && r->attempts + 1 >= REJECTIONS_BEFORE_GIVING_UP))
        next = STATE_CA_REJECTED;
    else if (r->state == STATE_PENDING)
        next = STATE_PENDING; /* keep the transaction: poll again later */
    else
        next = STATE_CA_UNREACHABLE;

    r->attempts++;
    request_set_error(r, err, (int64_t)(now / USEC_PER_SEC));
    r->state = next;
    r->next_action =
        now + schedule_backoff(r->attempts, m->config->backoff_min_usec, m->config->backoff_max_usec,
                               random_unit());
    if (next == STATE_PENDING) {
        const CaConfig *ca = config_find_ca(m->config, r->ca);
        uint64_t poll = ca ? ca->poll_interval_usec : 0;
        if (r->next_action < now + poll)
            r->next_action = now + poll;
    }
    int level = next == STATE_CA_REJECTED ? LOG_ERR : LOG_WARNING;
    log_req(level, r, MSGID_FAILED, "%s failed [%s]: %s (attempt %u; %s)",
            r->renewing ? "renewal" : "enrollment", err->category, err->message, r->attempts,
            fail_state_reason(next));
    /* The certificate in use stays in place: say loudly when it is about to lapse. */
    if (r->not_after > 0 && r->renewing &&
        (uint64_t)r->not_after * USEC_PER_SEC < now + m->config->alert_before_usec)
        log_req(LOG_CRIT, r, MSGID_EXPIRING,
                "certificate %s expires in %lld s and its renewal keeps failing (%u attempts): %s",
                r->serial ? r->serial : "", (long long)r->not_after - (long long)(now / USEC_PER_SEC),
                r->attempts, err->message);
}

/* --- key generation ----------------------------------------------------- */

typedef struct KeygenWork {
    char *location;
    char *label;
    uint8_t id[20];
    unsigned bits;
    uid_t uid;
    gid_t gid;
    char *stale_ref; /* a key this request made before a crash: removed first */
    Key *key;
    char *ref;
    AeError err;
    int r;
} KeygenWork;

static void keygen_work_free(void *p) {
    KeygenWork *w = p;
    if (!w)
        return;
    key_free(w->key);
    free(w->location);
    free(w->label);
    free(w->stale_ref);
    free(w->ref);
    free(w);
}

static void *keygen_run(void *arg) {
    KeygenWork *w = arg;
    Keystore *ks = NULL;
    w->r = keystore_open(w->location, &w->err, &ks);
    if (w->r < 0)
        return w;
    if (w->stale_ref) {
        AeError ignore = {0};
        keystore_delete_key(ks, w->stale_ref, &ignore);
    }
    KeyParams p = {.bits = w->bits, .label = w->label, .id = w->id, .id_len = sizeof w->id,
                   .uid = w->uid, .gid = w->gid};
    w->r = keystore_generate(ks, &p, &w->err, &w->key);
    if (w->r >= 0 && !(w->ref = strdup(key_ref(w->key))))
        w->r = -ENOMEM;
    keystore_free(ks);
    return w;
}

static void keygen_done(void *result, void *userdata) {
    KeygenWork *w = result;
    Job *j = userdata;
    Request *r = j->r;
    if (r) {
        if (w->r < 0) {
            if (!w->err.message[0])
                ae_error_set(&w->err, w->r, AE_ERR_TOKEN, "key generation failed: %s",
                             strerror(-w->r));
            r->state = STATE_NEED_KEY;
            job_fail(j, &w->err);
        } else {
            request_set_str(&r->new_key_ref, w->ref);
            r->state = STATE_NEED_CSR;
            r->next_action = 0;
            log_req(LOG_INFO, r, NULL, "new RSA-%u key %s generated", r->key_bits, w->ref);
        }
    }
    keygen_work_free(w);
    job_finish(j);
}

static int owner_ids(const Request *r, uid_t *uid, gid_t *gid) {
    *uid = 0;
    *gid = 0;
    if (r->kind != KIND_USER)
        return 0;
    struct passwd *pw = getpwuid(r->uid);
    if (!pw)
        return -ENOENT;
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

static int start_keygen(Job *j) {
    Request *r = j->r;
    KeygenWork *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    /* The key's id is chosen and saved before the key exists, so a crash in
     * between leaves nothing that is not found and removed on the next try. */
    if (r->new_key_id) {
        if (!(w->stale_ref = strdup(r->new_key_id))) {
            keygen_work_free(w);
            return -ENOMEM;
        }
    }
    char hex[41];
    if (RAND_bytes(w->id, sizeof w->id) != 1) {
        keygen_work_free(w);
        return -EIO;
    }
    for (size_t i = 0; i < sizeof w->id; i++)
        snprintf(hex + 2 * i, 3, "%02x", w->id[i]);
    request_set_str(&r->new_key_id, hex);
    request_set_str(&r->new_key_ref, NULL);
    AeError err = {0};
    int k = store_save(j->e->m->store, r, &err);
    if (k < 0) {
        keygen_work_free(w);
        job_fail(j, &err);
        job_finish(j);
        return 0;
    }
    w->location = strdup(r->key_store);
    w->label = strdup(r->id);
    w->bits = r->key_bits;
    if (!w->location || !w->label || owner_ids(r, &w->uid, &w->gid) < 0) {
        keygen_work_free(w);
        return -ENOMEM;
    }
    r->state = STATE_GENERATING_KEY;
    j->free_result = keygen_work_free;
    k = worker_run(j->e->m->event, keygen_run, w, keygen_done, j, &j->worker);
    if (k < 0) {
        r->state = STATE_NEED_KEY;
        keygen_work_free(w);
    }
    return k;
}

/* --- saving ------------------------------------------------------------- */

typedef struct SaveWork {
    char *location;
    char *new_ref;
    char *cert_pem;
    char *uri;
    AeError err;
    int r;
} SaveWork;

static void save_work_free(void *p) {
    SaveWork *w = p;
    if (!w)
        return;
    free(w->location);
    free(w->new_ref);
    free(w->cert_pem);
    free(w->uri);
    free(w);
}

static X509 *pem_to_x509(const char *pem) {
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return x;
}

/* On a worker: the certificate goes to the token (or beside the file key). */
static void *save_run(void *arg) {
    SaveWork *w = arg;
    Keystore *ks = NULL;
    Key *key = NULL;
    X509 *cert = pem_to_x509(w->cert_pem);
    if (!cert) {
        w->r = ae_error_set(&w->err, -EINVAL, AE_ERR_INTERNAL, "issued certificate unreadable");
        return w;
    }
    w->r = keystore_open(w->location, &w->err, &ks);
    if (w->r >= 0)
        w->r = keystore_load_key(ks, w->new_ref, &w->err, &key);
    if (w->r >= 0)
        w->r = keystore_store_cert(ks, key, cert, &w->err);
    if (w->r >= 0)
        w->uri = key_uri(key);
    key_free(key);
    keystore_free(ks);
    X509_free(cert);
    return w;
}

static void *retire_run(void *arg) {
    SaveWork *w = arg;
    Keystore *ks = NULL;
    w->r = keystore_open(w->location, &w->err, &ks);
    if (w->r >= 0)
        w->r = keystore_delete_key(ks, w->new_ref, &w->err);
    keystore_free(ks);
    return w;
}

static void retire_done(void *result, void *userdata) {
    SaveWork *w = result;
    Job *j = userdata;
    Request *r = j->r;
    if (r) {
        if (w->r < 0 && w->r != -ENOKEY) {
            /* Tried again later (the token may be back), never in a tight loop. */
            log_req(LOG_WARNING, r, NULL, "old key %s not removed: %s", w->new_ref, w->err.message);
            r->next_action = now_realtime_usec() + j->e->m->config->backoff_max_usec;
        } else
            request_set_str(&r->retired_key_ref, NULL);
    }
    save_work_free(w);
    job_finish(j);
}

static void cert_times(Request *r, X509 *x) {
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm) == 1)
        r->not_before = (int64_t)timegm(&tm);
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
        r->not_after = (int64_t)timegm(&tm);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    request_set_str(&r->serial, hex);
    OPENSSL_free(hex);
    BN_free(bn);
}

static void save_done(void *result, void *userdata) {
    SaveWork *w = result;
    Job *j = userdata;
    Request *r = j->r;
    j->worker = NULL;
    if (!r) {
        save_work_free(w);
        job_finish(j);
        return;
    }
    AeError err = {0};
    if (w->r < 0) {
        job_fail(j, &w->err);
        r->state = STATE_SAVING; /* the issued certificate is kept: saving is retried */
        save_work_free(w);
        job_finish(j);
        return;
    }
    if (outputs_write_pem(r, r->new_cert_pem, r->new_chain_pem, &err) < 0) {
        job_fail(j, &err);
        r->state = STATE_SAVING;
        save_work_free(w);
        job_finish(j);
        return;
    }

    /* The new certificate is in place everywhere: switch over, then retire the old key. */
    X509 *x = pem_to_x509(r->new_cert_pem);
    if (x) {
        cert_times(r, x);
        X509_free(x);
    }
    bool renewal = r->key_ref != NULL;
    if (r->key_ref && !streq(r->key_ref, r->new_key_ref))
        request_set_str(&r->retired_key_ref, r->key_ref);
    free(r->key_ref);
    r->key_ref = TAKE_PTR(r->new_key_ref);
    free(r->cert_pem);
    r->cert_pem = TAKE_PTR(r->new_cert_pem);
    free(r->chain_pem);
    r->chain_pem = TAKE_PTR(r->new_chain_pem);
    request_set_str(&r->new_key_id, NULL);
    json_object_put(r->transaction);
    r->transaction = NULL;
    r->state = STATE_MONITORING;
    r->renewing = false;
    r->attempts = 0;
    r->next_action = 0;
    r->last_success = (int64_t)(now_realtime_usec() / USEC_PER_SEC);
    request_clear_error(r);
    if (store_save(j->e->m->store, r, &err) < 0)
        log_req(LOG_ERR, r, NULL, "%s", err.message);
    log_req(LOG_NOTICE, r, renewal ? MSGID_RENEWED : MSGID_ENROLLED,
            "certificate %s %s, valid until %lld", r->serial ? r->serial : "",
            renewal ? "renewed" : "enrolled", (long long)r->not_after);

    const Profile *p = config_find_profile(j->e->m->config, r->profile);
    if (r->hook && outputs_run_hook(j->e->m->event, r, w->uri,
                                    p ? p->hook_timeout_usec : 30 * USEC_PER_SEC, &err) < 0)
        log_req(LOG_WARNING, r, NULL, "hook not run: %s", err.message);

    if (r->retired_key_ref) {
        free(w->new_ref);
        w->new_ref = strdup(r->retired_key_ref);
        w->r = 0;
        j->free_result = save_work_free;
        if (w->new_ref && worker_run(j->e->m->event, retire_run, w, retire_done, j, &j->worker) >= 0)
            return;
    }
    save_work_free(w);
    job_finish(j);
}

static int start_save(Job *j) {
    Request *r = j->r;
    if (!r->new_cert_pem || !r->new_key_ref) {
        /* Nothing issued to save (state file from an older crash): enroll again. */
        r->state = r->new_key_ref ? STATE_NEED_CSR : STATE_NEED_KEY;
        job_finish(j);
        return 0;
    }
    SaveWork *w = calloc(1, sizeof *w);
    if (!w || !(w->location = strdup(r->key_store)) || !(w->new_ref = strdup(r->new_key_ref)) ||
        !(w->cert_pem = strdup(r->new_cert_pem))) {
        save_work_free(w);
        return -ENOMEM;
    }
    j->free_result = save_work_free;
    int k = worker_run(j->e->m->event, save_run, w, save_done, j, &j->worker);
    if (k < 0)
        save_work_free(w);
    return k;
}

/* A leftover from before a restart: the old key of a finished renewal. */
static int start_retire(Job *j) {
    SaveWork *w = calloc(1, sizeof *w);
    if (!w || !(w->location = strdup(j->r->key_store)) ||
        !(w->new_ref = strdup(j->r->retired_key_ref))) {
        save_work_free(w);
        return -ENOMEM;
    }
    j->free_result = save_work_free;
    int k = worker_run(j->e->m->event, retire_run, w, retire_done, j, &j->worker);
    if (k < 0)
        save_work_free(w);
    return k;
}

/* --- dispatch ----------------------------------------------------------- */

int enroller_start(Enroller *e, Request *r) {
    if (job_of(e, r))
        return 0;
    /* A retry after a failure resumes at the step that failed. */
    if (r->state == STATE_CA_UNREACHABLE)
        r->state = !r->new_key_ref ? STATE_NEED_KEY : r->new_cert_pem ? STATE_SAVING
                                                                        : STATE_NEED_CSR;
    Job *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->e = e;
    j->r = r;
    j->next = e->jobs;
    e->jobs = j;
    /* Each start function either started async work or finished the job itself;
     * on a negative return nothing was started and the job is ended here. */
    int k = 0;
    switch (r->state) {
    case STATE_NEED_KEY:
        j->kind = JOB_KEYGEN;
        k = start_keygen(j);
        break;
    case STATE_NEED_CSR:
    case STATE_PENDING:
        j->kind = JOB_SUBMIT;
        j->counted = true;
        e->submitting++;
        if (r->ca)
            rate_note(e, r->ca, now_realtime_usec());
        k = submit_start(j);
        break;
    case STATE_SAVING:
        j->kind = JOB_SAVE;
        k = start_save(j);
        break;
    case STATE_MONITORING:
        if (r->retired_key_ref)
            k = start_retire(j);
        else
            job_finish(j);
        break;
    default:
        job_finish(j);
        break;
    }
    if (k < 0) {
        AeError err = {0};
        ae_error_set(&err, k, AE_ERR_INTERNAL, "cannot start: %s", strerror(-k));
        job_fail(j, &err);
        job_finish(j);
    }
    return 0;
}

/* --- user credentials --------------------------------------------------- */

int enroller_set_user_creds(Enroller *e, uid_t uid, int ccache_fd, char **ret_principal,
                            AeError *err) {
    KrbCreds *creds = NULL;
    int r = krb_creds_from_ccache_fd(ccache_fd, uid, &creds, err);
    if (r < 0)
        return r;
    if (ret_principal) {
        const char *p = krb_creds_principal(creds);
        *ret_principal = p ? strdup(p) : NULL;
    }
    for (UserCreds *u = e->users; u; u = u->next)
        if (u->uid == uid) {
            krb_creds_free(u->creds);
            u->creds = creds;
            return 0;
        }
    UserCreds *u = calloc(1, sizeof *u);
    if (!u) {
        krb_creds_free(creds);
        return -ENOMEM;
    }
    u->uid = uid;
    u->creds = creds;
    u->next = e->users;
    e->users = u;
    return 0;
}

bool enroller_has_user_creds(const Enroller *e, uid_t uid) {
    for (UserCreds *u = e->users; u; u = u->next)
        if (u->uid == uid)
            return true;
    return false;
}
