/* The SCEP round trip of one request: credentials, GetCACaps, GetCACert
 * (pinned), the one-time challenge, PKCSReq/RenewalReq/CertPoll built on a
 * worker (the key may be in a slow token), the PKIOperation, and the CertRep
 * checked on a worker. One enrollment stays on one NDES server from
 * challenge to CertRep; a server that fails moves it to the next. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/csr.h"
#include "daemon/enroll-private.h"
#include "daemon/fileio.h"
#include "daemon/krb.h"
#include "daemon/log.h"
#include "daemon/ndes.h"
#include "daemon/scep-cacert.h"
#include "daemon/scep-caps.h"
#include "daemon/scep-errors.h"
#include "daemon/scep-message.h"
#include "daemon/scep-url.h"
#include "daemon/schedule.h"
#include "daemon/sid.h"
#include "daemon/util.h"
#include "pkcs11/keystore.h"

/* What the workers read and write; a copy, so a worker never touches the Request. */
typedef struct SubmitJob {
    char *key_store, *new_key_ref, *key_ref, *cert_pem, *subject;
    char **dns, **uris, **upns, **emails, **ekus;
    char *sid;
    char *challenge;  /* borrowed from the Job while the worker runs */
    ScepCA *scep_ca;  /* borrowed */
    unsigned caps;
    bool allow_des;
    bool poll;        /* CertPoll of a PENDING transaction */
    bool no_renewal;  /* the CA refused our RenewalReq: a fresh PKCSReq instead */
    ScepState saved;  /* that transaction, from the state file */

    Keystore *ks;
    Key *key;         /* the key being certified */
    Key *current_key; /* renewal: the key of the certificate in use */
    X509 *current_cert;
    ScepTransaction *txn;
    uint8_t *der;
    size_t der_len;
    uint8_t *reply;
    size_t reply_len;
    ScepReply *result;
    char *chain_pem;
    ScepState state;  /* the transaction to persist */
    AeError err;
    int r;
} SubmitJob;

static void strv_free(char **v) {
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

/* Drop what one build and its reply made. A job can build more than once
 * (next NDES server, PKCSReq after a refused RenewalReq): each starts clean. */
static void submit_reset(SubmitJob *s) {
    scep_transaction_free(s->txn);
    s->txn = NULL;
    key_free(s->key);
    s->key = NULL;
    key_free(s->current_key);
    s->current_key = NULL;
    X509_free(s->current_cert);
    s->current_cert = NULL;
    free(s->der);
    s->der = NULL;
    s->der_len = 0;
    free(s->reply);
    s->reply = NULL;
    s->reply_len = 0;
    scep_reply_free(s->result);
    s->result = NULL;
    free(s->chain_pem);
    s->chain_pem = NULL;
    keystore_free(s->ks);
    s->ks = NULL;
    scep_state_done(&s->state);
    s->err = (AeError){0};
    s->r = 0;
}

static void submit_free(void *p) {
    SubmitJob *s = p;
    if (!s)
        return;
    submit_reset(s);
    scep_state_done(&s->saved);
    free(s->key_store);
    free(s->new_key_ref);
    free(s->key_ref);
    free(s->cert_pem);
    free(s->subject);
    strv_free(s->dns);
    strv_free(s->uris);
    strv_free(s->upns);
    strv_free(s->emails);
    strv_free(s->ekus);
    free(s->sid);
    free(s);
}

static void negotiate_clear(Job *j) {
    for (unsigned i = 0; i < NEGOTIATE_TOKENS; i++) {
        free(j->negotiate[i]);
        j->negotiate[i] = NULL;
    }
    j->negotiate_used = 0;
}

/* The next unused Negotiate header, or NULL when the CA wants none. */
static const char *next_negotiate(Job *j) {
    return j->negotiate_used < NEGOTIATE_TOKENS ? j->negotiate[j->negotiate_used++] : NULL;
}

void submit_job_clear(Job *j) {
    krb_creds_free(j->creds);
    j->creds = NULL;
    secret_free(j->challenge);
    j->challenge = NULL;
    negotiate_clear(j);
    submit_free(j->submit);
    j->submit = NULL;
    scep_ca_free(j->scep_ca);
    j->scep_ca = NULL;
}

static const NdesServer *server_of(const Job *j) { return &j->ca->servers[j->server]; }

static void fail(Job *j, const AeError *err) {
    job_fail(j, err);
    job_finish(j);
}

static void fail_errno(Job *j, int r, const char *category, const char *what) {
    AeError err = {0};
    ae_error_set(&err, r, category, "%s: %s", what, strerror(-r));
    fail(j, &err);
}

/* A server-side failure moves a new enrollment to the next NDES server. */
static bool try_next_server(Job *j, const AeError *err);
static void get_challenge(Job *j);
static void after_creds(Job *j);

/* --- JSON helpers for the request's SANs -------------------------------- */

static char **json_strv(json_object *sans, const char *key) {
    json_object *v;
    if (!sans || !json_object_object_get_ex(sans, key, &v) || !json_object_is_type(v, json_type_array))
        return calloc(1, sizeof(char *));
    size_t n = json_object_array_length(v);
    char **out = calloc(n + 1, sizeof *out);
    for (size_t i = 0; out && i < n; i++)
        out[i] = strdup(json_object_get_string(json_object_array_get_idx(v, i)));
    return out;
}

static char **split_commas(const char *s) {
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    char **out = calloc(n + 1, sizeof *out);
    const char *p = s;
    for (size_t i = 0; out && i < n; i++) {
        size_t l = strcspn(p, ",");
        while (l && *p == ' ') {
            p++;
            l--;
        }
        out[i] = strndup(p, l);
        p += l + (p[l] == ',');
    }
    return out;
}

/* --- HTTP to the current NDES server -------------------------------------- */

/* What every SCEP call to the current server carries; headers[0] is set by
 * the caller (a Negotiate header, or NULL when the CA wants none). */
static HttpRequest scep_request(Job *j, const char *const headers[2], size_t max_body) {
    return (HttpRequest){.cafile = j->ca->tls_ca_file, .max_body = max_body,
                         .timeout_ms = (unsigned)(j->ca->timeout_usec / 1000),
                         .headers = headers[0] ? headers : NULL};
}

/* GET ?operation=OP on the current server; done() gets the answer. */
static void scep_get(Job *j, const char *op, size_t max_body, HttpDone done, const char *what) {
    _cleanup_free_ char *url = NULL;
    int k = scep_url_build(server_of(j)->scep_url, op, NULL, &url);
    if (k < 0) {
        fail_errno(j, k, AE_ERR_CONFIG, "bad SCEP URL");
        return;
    }
    const char *headers[2] = {next_negotiate(j), NULL};
    HttpRequest req = scep_request(j, headers, max_body);
    req.url = url;
    k = http_submit(j->e->http, &req, done, j, &j->call);
    if (k < 0)
        fail_errno(j, k, AE_ERR_NETWORK, what);
}

/* The common start of an HTTP done(): false when the job is over (its
 * request is gone, or the call failed and no other server is left) or has
 * moved to the next server; true when resp is there to read. */
static bool scep_reply_arrived(Job *j, int k, const AeError *herr) {
    j->call = NULL;
    if (!j->r) {
        job_finish(j);
        return false;
    }
    if (k < 0) {
        if (!try_next_server(j, herr))
            fail(j, herr);
        return false;
    }
    return true;
}

/* --- step 6/7: the PKIOperation and the reply --------------------------- */

static void *check_reply_run(void *arg) {
    SubmitJob *s = arg;
    s->r = scep_certrep_parse(s->txn, s->scep_ca, s->reply, s->reply_len, s->allow_des,
                              &s->result, &s->err);
    if (s->r >= 0 && s->result->status == SCEP_STATUS_SUCCESS) {
        s->r = scep_ca_chain_pem(s->scep_ca, &s->chain_pem);
        if (s->r < 0)
            ae_error_set(&s->err, s->r, AE_ERR_INTERNAL, "cannot write the CA chain");
    }
    if (s->r >= 0 && s->result->status == SCEP_STATUS_PENDING)
        s->r = scep_transaction_export(s->txn, &s->state);
    return s;
}

static char *x509_to_pem(X509 *x) {
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (b && PEM_write_bio_X509(b, x) == 1) {
        char *data;
        long n = BIO_get_mem_data(b, &data);
        out = strndup(data, (size_t)n);
    }
    BIO_free(b);
    return out;
}

static json_object *state_to_json(const ScepState *st, unsigned server) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "transaction_id", json_object_new_string(st->transaction_id));
    json_object_object_add(o, "sender_nonce", json_object_new_string(st->sender_nonce ? st->sender_nonce : ""));
    json_object_object_add(o, "signer_pem", json_object_new_string(st->signer_pem));
    json_object_object_add(o, "subject", json_object_new_string(st->subject ? st->subject : ""));
    json_object_object_add(o, "renewal", json_object_new_boolean(st->renewal));
    json_object_object_add(o, "server", json_object_new_int((int)server));
    return o;
}

static void check_reply_done(void *result, void *userdata) {
    Job *j = userdata;
    SubmitJob *s = result;
    j->worker = NULL;
    Request *r = j->r;
    if (!r) {
        job_finish(j);
        return;
    }
    if (s->r < 0) {
        fail(j, &s->err);
        return;
    }
    ScepReply *rep = s->result;
    if (rep->used_des)
        log_req(LOG_WARNING, r, NULL,
                "CA %s answered with single DES (allowed by allow_des): upgrade the server", r->ca);
    if (rep->status == SCEP_STATUS_FAILURE) {
        AeError err = {0};
        scep_reply_failure(rep, &err);
        if (scep_transaction_is_renewal(s->txn) && !s->no_renewal) {
            /* NDES often refuses RenewalReq from non-Windows clients: enroll afresh. */
            log_req(LOG_WARNING, r, NULL, "RenewalReq refused (%s): falling back to PKCSReq",
                    err.message);
            s->no_renewal = true;
            submit_reset(s);
            negotiate_clear(j); /* fresh tokens, fresh challenge */
            after_creds(j);
            return;
        }
        fail(j, &err);
        return;
    }
    if (rep->status == SCEP_STATUS_PENDING) {
        json_object_put(r->transaction);
        r->transaction = state_to_json(&s->state, j->server);
        r->state = STATE_PENDING;
        r->attempts = 0;
        r->next_action = now_realtime_usec() + j->ca->poll_interval_usec;
        log_req(LOG_NOTICE, r, NULL, "the CA holds the request as PENDING (transaction %s): polling every %llus",
                s->state.transaction_id, (unsigned long long)(j->ca->poll_interval_usec / USEC_PER_SEC));
        job_finish(j);
        return;
    }
    char *pem = x509_to_pem(rep->cert);
    if (!pem) {
        fail_errno(j, -ENOMEM, AE_ERR_INTERNAL, "issued certificate");
        return;
    }
    free(r->new_cert_pem);
    r->new_cert_pem = pem;
    free(r->new_chain_pem);
    r->new_chain_pem = TAKE_PTR(s->chain_pem);
    r->state = STATE_SAVING;
    r->next_action = 0;
    log_req(LOG_INFO, r, NULL, "certificate issued by %s", server_of(j)->scep_url);
    job_finish(j);
}

static void pkioperation_done(int k, HttpResponse *resp, const AeError *herr, void *userdata) {
    Job *j = userdata;
    if (!scep_reply_arrived(j, k, herr))
        return;
    AeError err = {0};
    if (scep_http_check(SCEP_OP_PKI_OPERATION, resp->status, resp->content_type, resp->body,
                        resp->body_len, &err) < 0) {
        if (!(resp->status >= 500 && try_next_server(j, &err)))
            fail(j, &err);
        return;
    }
    SubmitJob *s = j->submit;
    s->reply = TAKE_PTR(resp->body);
    s->reply_len = resp->body_len;
    s->scep_ca = j->scep_ca;
    s->allow_des = j->ca->allow_des;
    j->free_result = submit_free;
    k = worker_run(j->e->m->event, check_reply_run, s, check_reply_done, j, &j->worker);
    if (k < 0)
        fail_errno(j, k, AE_ERR_INTERNAL, "cannot start a worker");
}

static void send_pkioperation(Job *j) {
    SubmitJob *s = j->submit;
    const char *url = server_of(j)->scep_url;
    _cleanup_free_ char *full = NULL;
    const char *headers[2] = {next_negotiate(j), NULL};
    HttpRequest req = scep_request(j, headers, SCEP_MAX_PKI_BODY);
    int k;
    if (scep_caps_use_post(j->caps)) {
        k = scep_url_build(url, "PKIOperation", NULL, &full);
        req.method = "POST";
        req.body = s->der;
        req.body_len = s->der_len;
        req.content_type = "application/x-pki-message";
    } else
        k = scep_url_pkioperation_get(url, s->der, s->der_len, &full);
    if (k < 0) {
        fail_errno(j, k, AE_ERR_PROTOCOL,
                   k == -E2BIG ? "request too long for GET and the server offers no POST"
                               : "cannot build the PKIOperation URL");
        return;
    }
    req.url = full;
    k = http_submit(j->e->http, &req, pkioperation_done, j, &j->call);
    if (k < 0)
        fail_errno(j, k, AE_ERR_NETWORK, "cannot send the request");
}

/* --- step 5: build the message on a worker ------------------------------ */

static X509 *pem_to_x509(const char *pem) {
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return x;
}

static void *build_run(void *arg) {
    SubmitJob *s = arg;
    X509_REQ *csr = NULL;
    s->r = keystore_open(s->key_store, &s->err, &s->ks);
    if (s->r >= 0)
        s->r = keystore_load_key(s->ks, s->new_key_ref, &s->err, &s->key);
    if (s->r < 0)
        return s;
    EVP_PKEY *pkey = key_get_pkey(s->key);
    if (s->poll) {
        /* CertPoll: the same transaction, signed as the original request was. */
        EVP_PKEY *signer = pkey;
        if (s->saved.renewal && s->key_ref) {
            s->r = keystore_load_key(s->ks, s->key_ref, &s->err, &s->current_key);
            if (s->r < 0)
                return s;
            signer = key_get_pkey(s->current_key);
        }
        s->r = scep_transaction_import(&s->saved, signer, pkey, &s->txn, &s->err);
        if (s->r >= 0)
            s->r = scep_build_certpoll(s->txn, s->scep_ca, s->caps, &s->der, &s->der_len, &s->err);
        return s;
    }
    const char *digest = scep_caps_digest(s->caps);
    CsrProfile p = {
        .subject = s->subject,
        .dns_names = (const char *const *)s->dns,
        .upns = (const char *const *)s->upns,
        .emails = (const char *const *)s->emails,
        .uris = (const char *const *)s->uris,
        .sid = s->sid,
        .ekus = (const char *const *)s->ekus,
        .challenge = s->challenge,
        .digest = digest,
    };
    s->r = csr_new(&p, pkey, &csr, &s->err);
    if (s->r < 0)
        return s;
    /* RenewalReq when the CA offers it and the certificate in use is still good. */
    if (!s->no_renewal && (s->caps & SCEP_CAP_RENEWAL) && s->cert_pem && s->key_ref &&
        (s->current_cert = pem_to_x509(s->cert_pem)) &&
        X509_cmp_current_time(X509_get0_notAfter(s->current_cert)) > 0 &&
        keystore_load_key(s->ks, s->key_ref, &s->err, &s->current_key) >= 0)
        s->r = scep_transaction_new_renewal(pkey, csr, s->current_cert,
                                            key_get_pkey(s->current_key), &s->txn, &s->err);
    else
        s->r = scep_transaction_new(pkey, csr, &s->txn, &s->err);
    if (s->r >= 0)
        s->r = scep_build_pkcsreq(s->txn, s->scep_ca, s->caps, csr, &s->der, &s->der_len, &s->err);
    X509_REQ_free(csr);
    return s;
}

static void build_done(void *result, void *userdata) {
    Job *j = userdata;
    SubmitJob *s = result;
    j->worker = NULL;
    /* The challenge is inside the CSR now; our copy is no longer needed. */
    secret_free(j->challenge);
    j->challenge = NULL;
    s->challenge = NULL;
    if (!j->r) {
        job_finish(j);
        return;
    }
    if (s->r < 0) {
        fail(j, &s->err);
        return;
    }
    if (!s->poll)
        j->r->state = STATE_SUBMITTING;
    send_pkioperation(j);
}

static int start_build(Job *j) {
    SubmitJob *s = j->submit;
    submit_reset(s);
    s->challenge = j->challenge;
    s->scep_ca = j->scep_ca;
    s->caps = j->caps;
    j->free_result = submit_free;
    return worker_run(j->e->m->event, build_run, s, build_done, j, &j->worker);
}

/* --- step 4: the challenge ---------------------------------------------- */

static void challenge_done(int k, char *challenge, const AeError *err, void *userdata) {
    Job *j = userdata;
    j->ndes_op = NULL;
    if (!j->r) {
        secret_free(challenge);
        job_finish(j);
        return;
    }
    if (k < 0) {
        if (!try_next_server(j, err))
            fail(j, err);
        return;
    }
    j->challenge = challenge;
    k = start_build(j);
    if (k < 0)
        fail_errno(j, k, AE_ERR_INTERNAL, "cannot start a worker");
}

static void get_challenge(Job *j) {
    AeError err = {0};
    int k;
    if (j->submit->poll) {
        k = start_build(j);
        if (k < 0)
            fail_errno(j, k, AE_ERR_INTERNAL, "cannot start a worker");
        return;
    }
    switch (j->ca->challenge) {
    case CHALLENGE_KERBEROS: {
        NdesTarget t = {.mode = NDES_CHALLENGE_NEGOTIATE, .admin_url = server_of(j)->admin_url,
                        .cafile = j->ca->tls_ca_file,
                        .timeout_ms = (unsigned)(j->ca->timeout_usec / 1000)};
        k = ndes_fetch_challenge(j->e->http, j->e->m->event, &t, j->creds, challenge_done, j,
                                 &j->ndes_op);
        if (k < 0)
            fail_errno(j, k, AE_ERR_INTERNAL, "cannot ask NDES for a challenge");
        return;
    }
    case CHALLENGE_STATIC:
        k = ndes_read_static_challenge(j->ca->challenge_file, &j->challenge, &err);
        if (k < 0) {
            fail(j, &err);
            return;
        }
        break;
    case CHALLENGE_NONE:
        break;
    }
    k = start_build(j);
    if (k < 0)
        fail_errno(j, k, AE_ERR_INTERNAL, "cannot start a worker");
}

/* --- steps 2-3: GetCACaps and GetCACert --------------------------------- */

static void cacert_done(int k, HttpResponse *resp, const AeError *herr, void *userdata) {
    Job *j = userdata;
    if (!scep_reply_arrived(j, k, herr))
        return;
    AeError err = {0};
    if (scep_http_check(SCEP_OP_GET_CA_CERT, resp->status, resp->content_type, resp->body,
                        resp->body_len, &err) < 0) {
        if (!try_next_server(j, &err))
            fail(j, &err);
        return;
    }
    uint8_t pin[SCEP_FINGERPRINT_LEN];
    if (scep_fingerprint_parse(j->ca->fingerprint, pin) < 0) {
        ae_error_set(&err, -EINVAL, AE_ERR_CONFIG, "CA %s: fingerprint is not a SHA-256 fingerprint",
                     j->ca->name);
        fail(j, &err);
        return;
    }
    scep_ca_free(j->scep_ca);
    j->scep_ca = NULL;
    if (scep_ca_parse(resp->body, resp->body_len, pin, &j->scep_ca, &err) < 0) {
        fail(j, &err);
        return;
    }
    get_challenge(j);
}

static void get_cacert(Job *j) {
    scep_get(j, "GetCACert", SCEP_MAX_CACERT_BODY, cacert_done, "cannot ask for the CA certificates");
}

static void caps_done(int k, HttpResponse *resp, const AeError *herr, void *userdata) {
    Job *j = userdata;
    if (!scep_reply_arrived(j, k, herr))
        return;
    if (resp->status >= 500) {
        AeError err = {0};
        ae_error_set(&err, -EPROTO, AE_ERR_NDES, "NDES %s answered HTTP %ld: the service is down",
                     server_of(j)->scep_url, resp->status);
        if (!try_next_server(j, &err))
            fail(j, &err);
        return;
    }
    /* An HTTP error here means "no capabilities": the safe old defaults. */
    j->caps = 0;
    if (resp->status == 200)
        scep_caps_parse((const char *)resp->body, resp->body_len, &j->caps);
    get_cacert(j);
}

static void get_caps(Job *j) {
    scep_get(j, "GetCACaps", SCEP_MAX_CAPS_BODY, caps_done, "cannot reach NDES");
}

/* --- which NDES server ----------------------------------------------- */

static ServerHealth *server_health(Enroller *e, const char *url, bool create) {
    for (ServerHealth *h = e->servers; h; h = h->next)
        if (streq(h->url, url))
            return h;
    if (!create)
        return NULL;
    ServerHealth *h = calloc(1, sizeof *h);
    if (!h || !(h->url = strdup(url))) {
        free(h);
        return NULL;
    }
    h->next = e->servers;
    e->servers = h;
    return h;
}

static bool server_cooling(Enroller *e, const NdesServer *srv, uint64_t now) {
    ServerHealth *h = server_health(e, srv->scep_url, false);
    ServerHealth *a = srv->admin_url ? server_health(e, srv->admin_url, false) : NULL;
    return (h && h->down_until > now) || (a && a->down_until > now);
}

/* The order this host tries the CA's servers in: as configured, or rotated
 * by a hash of the host name so a fleet spreads over them (stable per host). */
static void plan_servers(Job *j) {
    const CaConfig *ca = j->ca;
    unsigned start = 0;
    if (ca->random_order && ca->n_servers > 1) {
        unsigned h = 5381;
        for (const char *p = j->e->m->fqdn; *p; p++)
            h = h * 33 + (unsigned char)*p;
        start = h % ca->n_servers;
    }
    uint64_t now = now_realtime_usec();
    unsigned n = 0;
    /* Servers in cool-down go last: tried only when no other is left. */
    for (int pass = 0; pass < 2; pass++)
        for (unsigned i = 0; i < ca->n_servers; i++) {
            unsigned idx = (start + i) % ca->n_servers;
            if (server_cooling(j->e, &ca->servers[idx], now) == (pass == 1))
                j->order[n++] = idx;
        }
    j->n_order = n;
    j->tried = 0;
    j->server = j->order[0];
}

static bool try_next_server(Job *j, const AeError *err) {
    uint64_t now = now_realtime_usec();
    ServerHealth *h = server_health(j->e, server_of(j)->scep_url, true);
    if (h)
        h->down_until = now + j->ca->cooldown_usec;
    /* A PENDING transaction lives on the server that accepted it. */
    if (j->submit->poll || j->tried + 1 >= j->n_order)
        return false;
    unsigned next = j->order[j->tried + 1];
    log_req(LOG_WARNING, j->r, NULL, "NDES server %s failed (%s): trying %s",
            server_of(j)->scep_url, err->message, j->ca->servers[next].scep_url);
    j->tried++;
    j->server = next;
    secret_free(j->challenge);
    j->challenge = NULL;
    negotiate_clear(j);
    scep_ca_free(j->scep_ca);
    j->scep_ca = NULL;
    after_creds(j); /* credentials stay; the Negotiate token is per host */
    return true;
}

/* --- step 1: credentials ------------------------------------------------ */

/* Blocking Kerberos work for a worker thread: a TGT from the keytab, the
 * Negotiate headers for mscep.dll, or the account's objectSid over LDAP. */
typedef struct KrbWork {
    char *keytab, *principal; /* TGT; principal: also the account for the SID */
    char *url;                /* Negotiate header for this URL's host; LDAP URI */
    char *sid;
    KrbCreds *creds;
    char *headers[NEGOTIATE_TOKENS];
    AeError err;
    int r;
} KrbWork;

static void krb_work_free(void *p) {
    KrbWork *w = p;
    if (!w)
        return;
    krb_creds_free(w->creds);
    free(w->keytab);
    free(w->principal);
    free(w->url);
    free(w->sid);
    for (unsigned i = 0; i < NEGOTIATE_TOKENS; i++)
        free(w->headers[i]);
    free(w);
}

static void *machine_creds_run(void *arg) {
    KrbWork *w = arg;
    w->r = krb_creds_from_keytab(w->keytab, w->principal, &w->creds, &w->err);
    return w;
}

static void *token_run(void *arg) {
    KrbWork *w = arg;
    for (unsigned i = 0; i < NEGOTIATE_TOKENS && w->r >= 0; i++)
        w->r = ndes_scep_auth_header(w->creds, w->url, &w->headers[i], &w->err);
    return w;
}

/* Hand w to a worker thread; on failure w is freed and the job fails. */
static void run_krb_work(Job *j, KrbWork *w, WorkerFn run, WorkerDone done) {
    j->free_result = krb_work_free;
    int k = worker_run(j->e->m->event, run, w, done, j, &j->worker);
    if (k < 0) {
        krb_work_free(w);
        fail_errno(j, k, AE_ERR_INTERNAL, "cannot start a worker");
    }
}

/* The common start of a Kerberos worker's done(): the work when the job goes
 * on, NULL when the request is gone or the work failed (then it is handled). */
static KrbWork *krb_work_take(Job *j, void *result) {
    KrbWork *w = result;
    j->worker = NULL;
    if (!j->r) {
        krb_work_free(w);
        job_finish(j);
        return NULL;
    }
    if (w->r < 0) {
        fail(j, &w->err);
        krb_work_free(w);
        return NULL;
    }
    return w;
}

static void *sid_run(void *arg) {
    KrbWork *w = arg;
    SidQuery q = {.uri = w->url, .account = w->principal, .ccache = krb_creds_ccname(w->creds)};
    w->r = sid_lookup(&q, &w->err, &w->sid);
    return w;
}

static void after_sid(Job *j);

static void sid_done(void *result, void *userdata) {
    Job *j = userdata;
    KrbWork *w = krb_work_take(j, result);
    if (!w)
        return;
    /* Known from now on: kept with the request, shown by `autoenroll status`. */
    json_object *a = json_object_new_array();
    json_object_array_add(a, json_object_new_string(w->sid));
    json_object_object_add(j->r->sans, "sid", a);
    free(j->submit->sid);
    j->submit->sid = TAKE_PTR(w->sid);
    log_req(LOG_INFO, j->r, NULL, "objectSid of %s is %s", w->principal, j->submit->sid);
    krb_work_free(w);
    after_sid(j);
}

/* sid = auto: read the account's objectSid from AD with the request's own tickets. */
static void lookup_sid(Job *j) {
    Request *r = j->r;
    KrbWork *w = calloc(1, sizeof *w);
    const char *principal = krb_creds_principal(j->creds);
    const char *account = r->kind == KIND_USER ? r->user : principal;
    if (!w || !account || !(w->principal = strndup(account, strcspn(account, "@"))) ||
        !(w->url = strdup(j->e->m->config->ldap_uri))) {
        krb_work_free(w);
        fail_errno(j, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
        return;
    }
    w->creds = krb_creds_ref(j->creds);
    run_krb_work(j, w, sid_run, sid_done);
}

static void token_done(void *result, void *userdata) {
    Job *j = userdata;
    KrbWork *w = krb_work_take(j, result);
    if (!w)
        return;
    negotiate_clear(j);
    for (unsigned i = 0; i < NEGOTIATE_TOKENS; i++)
        j->negotiate[i] = TAKE_PTR(w->headers[i]);
    krb_work_free(w);
    get_caps(j);
}

static void after_creds(Job *j) {
    if (j->submit->sid && streq(j->submit->sid, "auto")) {
        if (!j->creds) {
            fail_errno(j, -ENOKEY, AE_ERR_CONFIG, "sid = auto needs Kerberos credentials");
            return;
        }
        lookup_sid(j);
        return;
    }
    after_sid(j);
}

static void after_sid(Job *j) {
    if (!j->ca->negotiate_scep || j->negotiate[0] || !j->creds) {
        get_caps(j);
        return;
    }
    /* NDES wants Negotiate on mscep.dll too: a token for that host, made off the loop. */
    KrbWork *w = calloc(1, sizeof *w);
    if (!w || !(w->url = strdup(server_of(j)->scep_url))) {
        krb_work_free(w);
        fail_errno(j, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
        return;
    }
    w->creds = krb_creds_ref(j->creds);
    run_krb_work(j, w, token_run, token_done);
}

static void machine_creds_done(void *result, void *userdata) {
    Job *j = userdata;
    KrbWork *w = krb_work_take(j, result);
    if (!w)
        return;
    Enroller *e = j->e;
    krb_creds_free(e->machine_creds);
    e->machine_creds = TAKE_PTR(w->creds);
    free(e->machine_creds_key);
    e->machine_creds_key = NULL;
    if (asprintf(&e->machine_creds_key, "%s|%s", w->keytab, w->principal ? w->principal : "") < 0)
        e->machine_creds_key = NULL;
    krb_work_free(w);
    j->creds = krb_creds_ref(e->machine_creds);
    after_creds(j);
}

static bool creds_fresh(const KrbCreds *c, time_t margin) {
    return c && krb_creds_expiry(c) > time(NULL) + margin;
}

static bool needs_kerberos(const Job *j) {
    return j->ca->challenge == CHALLENGE_KERBEROS || j->ca->negotiate_scep ||
           (j->submit->sid && streq(j->submit->sid, "auto"));
}

static void get_creds(Job *j) {
    Enroller *e = j->e;
    Request *r = j->r;
    if (!needs_kerberos(j) || (j->submit->poll && !j->ca->negotiate_scep)) {
        get_caps(j);
        return;
    }
    if (r->kind == KIND_USER) {
        for (UserCreds *u = e->users; u; u = u->next)
            if (u->uid == r->uid && creds_fresh(u->creds, 300)) {
                j->creds = krb_creds_ref(u->creds);
                after_creds(j);
                return;
            }
        AeError err = {0};
        ae_error_set(&err, -ENOKEY, AE_ERR_CREDENTIALS,
                     "no valid Kerberos tickets for %s: the next login brings them",
                     r->user ? r->user : "the user");
        fail(j, &err);
        return;
    }
    const Profile *p = config_find_profile(e->m->config, r->profile);
    const char *keytab = p && p->keytab ? p->keytab : "/etc/krb5.keytab";
    const char *principal = p ? p->principal : NULL;
    _cleanup_free_ char *key = NULL;
    if (asprintf(&key, "%s|%s", keytab, principal ? principal : "") < 0) {
        fail_errno(j, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
        return;
    }
    /* Reuse the machine's TGT while it has a while to live. */
    if (e->machine_creds && e->machine_creds_key && streq(e->machine_creds_key, key) &&
        creds_fresh(e->machine_creds, 600)) {
        j->creds = krb_creds_ref(e->machine_creds);
        after_creds(j);
        return;
    }
    KrbWork *w = calloc(1, sizeof *w);
    if (!w || !(w->keytab = strdup(keytab)) || (principal && !(w->principal = strdup(principal)))) {
        krb_work_free(w);
        fail_errno(j, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
        return;
    }
    run_krb_work(j, w, machine_creds_run, machine_creds_done);
}

/* --- start -------------------------------------------------------------- */

static int load_saved_transaction(SubmitJob *s, json_object *t, unsigned *server) {
    json_object *v;
#define GETS(field, key)                                                                 \
    if (json_object_object_get_ex(t, key, &v) && json_object_is_type(v, json_type_string)) \
        s->saved.field = strdup(json_object_get_string(v));
    GETS(transaction_id, "transaction_id");
    GETS(sender_nonce, "sender_nonce");
    GETS(signer_pem, "signer_pem");
    GETS(subject, "subject");
#undef GETS
    s->saved.renewal = json_object_object_get_ex(t, "renewal", &v) && json_object_get_boolean(v);
    *server = json_object_object_get_ex(t, "server", &v) ? (unsigned)json_object_get_int(v) : 0;
    return s->saved.transaction_id && s->saved.signer_pem ? 0 : -EINVAL;
}

int submit_start(Job *j) {
    Request *r = j->r;
    Manager *m = j->e->m;
    AeError err = {0};
    j->ca = config_find_ca(m->config, r->ca);
    if (!j->ca || j->ca->n_servers == 0) {
        ae_error_set(&err, -ENOENT, AE_ERR_CONFIG, "CA '%s' is not configured", r->ca ? r->ca : "");
        fail(j, &err);
        return 0;
    }
    if (!j->ca->fingerprint) {
        ae_error_set(&err, -EINVAL, AE_ERR_CONFIG,
                     "CA '%s' has no fingerprint: pin the CA certificate (fingerprint = sha256:...)",
                     j->ca->name);
        fail(j, &err);
        return 0;
    }
    const Profile *p = config_find_profile(m->config, r->profile);
    SubmitJob *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    j->submit = s;
    s->key_store = strdup(r->key_store);
    s->new_key_ref = strdup(r->new_key_ref);
    s->key_ref = r->key_ref ? strdup(r->key_ref) : NULL;
    s->cert_pem = r->cert_pem ? strdup(r->cert_pem) : NULL;
    s->subject = strdup(r->subject ? r->subject : "");
    s->dns = json_strv(r->sans, "dns");
    s->uris = json_strv(r->sans, "uri");
    s->upns = json_strv(r->sans, "upn");
    s->emails = json_strv(r->sans, "email");
    json_object *sid;
    if (r->sans && json_object_object_get_ex(r->sans, "sid", &sid) &&
        json_object_array_length(sid) > 0)
        s->sid = strdup(json_object_get_string(json_object_array_get_idx(sid, 0)));
    s->ekus = split_commas(p && p->eku ? p->eku : "clientAuth");
    if (!s->key_store || !s->new_key_ref || !s->subject || !s->dns || !s->uris || !s->upns ||
        !s->emails || !s->ekus)
        return -ENOMEM;
    if (r->state == STATE_PENDING) {
        if (!r->transaction || load_saved_transaction(s, r->transaction, &j->server) < 0 ||
            j->server >= j->ca->n_servers) {
            /* Nothing to poll with: start the enrollment over. */
            r->state = STATE_NEED_CSR;
        } else
            s->poll = true;
    }
    if (!s->poll)
        plan_servers(j);
    r->state = s->poll ? STATE_PENDING : STATE_SUBMITTING;
    get_creds(j);
    return 0;
}
