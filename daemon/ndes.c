/* The "get a challenge" operation: see ndes.h. */
#include "daemon/ndes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/challenge.h"
#include "daemon/fileio.h"
#include "daemon/util.h"
#include "daemon/worker.h"

#define RESOLVE_MAX 4

struct NdesOp {
    Http *http;
    sd_event *event;
    NdesChallengeMode mode;
    char *url, *host, *cafile, *static_file;
    char *resolve[RESOLVE_MAX + 1];
    unsigned timeout_ms;
    KrbCreds *creds;
    NdesDone done;
    void *userdata;
    HttpCall *call;
    WorkerJob *job;
    sd_event_source *defer;
};

/* A token computation outlives a cancelled op: it owns its inputs. */
typedef struct TokenJob {
    KrbCreds *creds;
    char *host;
    char *b64;
    AeError err;
    int r;
} TokenJob;

static void token_job_free(void *p) {
    TokenJob *t = p;
    if (!t)
        return;
    krb_creds_free(t->creds);
    free(t->host);
    secret_free(t->b64);
    free(t);
}

static void op_free(NdesOp *op) {
    if (!op)
        return;
    if (op->call)
        http_call_cancel(op->call);
    if (op->job)
        worker_job_cancel(op->job, token_job_free);
    sd_event_source_disable_unref(op->defer);
    sd_event_unref(op->event);
    krb_creds_free(op->creds);
    free(op->url);
    free(op->host);
    free(op->cafile);
    free(op->static_file);
    for (size_t i = 0; i < RESOLVE_MAX; i++)
        free(op->resolve[i]);
    free(op);
}

void ndes_op_cancel(NdesOp *op) { op_free(op); }

static void op_finish(NdesOp *op, int r, char *challenge, const AeError *err) {
    NdesDone done = op->done;
    void *ud = op->userdata;
    op->call = NULL;
    op->job = NULL;
    op_free(op);
    done(r, challenge, err, ud);
}

static void op_fail(NdesOp *op, const AeError *err) { op_finish(op, err->code ? err->code : -EIO, NULL, err); }

int ndes_map_status(long status, const HttpResponse *resp, const char *url, int after_token, AeError *err) {
    switch (status) {
    case 401:
        if (after_token && resp && resp->date_time != (time_t)-1) {
            /* The usual cause in the field: a Kerberos authenticator is good
             * for 5 minutes either way, and the server's Date tells us. */
            long long skew = (long long)time(NULL) - (long long)resp->date_time;
            if (llabs(skew) > NDES_MAX_CLOCK_SKEW)
                return ae_error_set(err, -EACCES, AE_ERR_KERBEROS,
                                    "NDES rejected our Kerberos ticket (401 after Negotiate) at %s: this "
                                    "host's clock is %lld s %s the server's (Kerberos allows %d s): sync the "
                                    "clocks (NTP)",
                                    url, llabs(skew), skew > 0 ? "ahead of" : "behind", NDES_MAX_CLOCK_SKEW);
        }
        if (after_token)
            return ae_error_set(err, -EACCES, AE_ERR_NDES,
                                "NDES rejected our Kerberos ticket (401 after Negotiate) at %s: the SPN "
                                "HTTP/<host> may be on the wrong account (setspn -q), kernel-mode auth may "
                                "need useAppPoolCredentials=true, or IIS Extended Protection is set to "
                                "Require (unsupported: set it to Accept or Off)", url);
        if (resp && http_response_offers(resp, "NTLM") && !http_response_offers(resp, "Negotiate"))
            return ae_error_set(err, -EPROTONOSUPPORT, AE_ERR_NDES,
                                "NDES offers only NTLM at %s: enable Negotiate (Kerberos) first in IIS "
                                "Windows Authentication providers; NTLM is not supported", url);
        return ae_error_set(err, -EPROTONOSUPPORT, AE_ERR_NDES,
                            "NDES asks for authentication but does not offer Negotiate at %s: enable "
                            "Windows Authentication with Negotiate on mscep_admin", url);
    case 403:
        return ae_error_set(err, -EPERM, AE_ERR_NDES,
                            "NDES refused the request (403) at %s: a policy module such as the Intune "
                            "connector is installed (it only accepts Intune challenges) or the account "
                            "is not allowed", url);
    case 404:
        return ae_error_set(err, -ENOENT, AE_ERR_NDES,
                            "NDES page not found (404) at %s: check the URL (.../certsrv/mscep_admin/ "
                            "with its trailing slash) and that the NDES role is installed", url);
    case 414:
        return ae_error_set(err, -E2BIG, AE_ERR_NDES,
                            "NDES/IIS refused a too long URL (414) at %s: use POST for PKIOperation", url);
    case 301:
    case 302:
    case 307:
    case 308:
        return ae_error_set(err, -EREMCHG, AE_ERR_NDES,
                            "NDES redirects (%ld) from %s: check the URL (trailing slash, http vs https)",
                            status, url);
    case 500:
    case 502:
    case 503:
    case 504:
        return ae_error_set(err, -EAGAIN, AE_ERR_NDES,
                            "NDES is down or failing (%ld) at %s: check the NDES application pool and "
                            "its connection to the CA", status, url);
    default:
        return ae_error_set(err, -EPROTO, AE_ERR_NDES, "unexpected HTTP status %ld from NDES at %s", status, url);
    }
}

static void on_page(NdesOp *op, int r, HttpResponse *resp, const AeError *herr, int after_token);

static void on_second(int r, HttpResponse *resp, const AeError *err, void *userdata) {
    NdesOp *op = userdata;
    op->call = NULL;
    on_page(op, r, resp, err, 1);
}

static void on_token(void *result, void *userdata) {
    NdesOp *op = userdata;
    TokenJob *t = result;
    AeError err;
    int r;
    op->job = NULL;
    if (t->r < 0) {
        err = t->err;
        token_job_free(t);
        op_fail(op, &err);
        return;
    }
    _cleanup_secret_ char *hdr = NULL;
    if (asprintf(&hdr, "Authorization: Negotiate %s", t->b64) < 0) {
        hdr = NULL;
        token_job_free(t);
        op_fail(op, &(AeError){.code = -ENOMEM, .category = AE_ERR_INTERNAL, .message = "out of memory"});
        return;
    }
    token_job_free(t);
    const char *headers[] = {hdr, NULL};
    HttpRequest req = {.url = op->url, .headers = headers, .cafile = op->cafile,
                       .resolve = (const char *const *)op->resolve, .timeout_ms = op->timeout_ms,
                       .max_body = CHALLENGE_PAGE_MAX};
    r = http_submit(op->http, &req, on_second, op, &op->call);
    if (r < 0) {
        ae_error_set(&err, r, AE_ERR_INTERNAL, "cannot start the request to %s", op->url);
        op_fail(op, &err);
    }
}

static void *token_thread(void *arg) {
    TokenJob *t = arg;
    ae_error_clear(&t->err);
    t->r = krb_negotiate_token(t->creds, t->host, &t->b64, &t->err);
    return t;
}

static void start_token(NdesOp *op) {
    AeError err;
    TokenJob *t = calloc(1, sizeof *t);
    int r;
    if (!t || !(t->host = strdup(op->host))) {
        free(t);
        ae_error_set(&err, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
        op_fail(op, &err);
        return;
    }
    t->creds = krb_creds_ref(op->creds);
    r = worker_run(op->event, token_thread, t, on_token, op, &op->job);
    if (r < 0) {
        token_job_free(t);
        ae_error_set(&err, r, AE_ERR_INTERNAL, "cannot start a worker for the Kerberos token");
        op_fail(op, &err);
    }
}

static void on_page(NdesOp *op, int r, HttpResponse *resp, const AeError *herr, int after_token) {
    AeError err;
    ae_error_clear(&err);
    if (r < 0) {
        err = *herr;
        /* Keep curl's text but say what we were doing. */
        op_fail(op, &err);
        return;
    }
    if (resp->status == 401 && !after_token && http_response_offers(resp, "Negotiate")) {
        if (!op->creds) {
            ae_error_set(&err, -ENOKEY, AE_ERR_CREDENTIALS,
                         "NDES at %s wants Kerberos (Negotiate) but no credentials were given", op->url);
            op_fail(op, &err);
            return;
        }
        start_token(op);
        return;
    }
    if (resp->status != 200) {
        ndes_map_status(resp->status, resp, op->url, after_token, &err);
        op_fail(op, &err);
        return;
    }
    char *challenge = NULL;
    r = challenge_parse_page(resp->body, resp->body_len, &challenge, &err);
    explicit_bzero(resp->body, resp->body_len);
    if (r < 0) {
        op_fail(op, &err);
        return;
    }
    op_finish(op, 0, challenge, NULL);
}

static void on_first(int r, HttpResponse *resp, const AeError *err, void *userdata) {
    NdesOp *op = userdata;
    op->call = NULL;
    on_page(op, r, resp, err, 0);
}

int ndes_read_static_challenge(const char *path, char **ret, AeError *err) {
    _cleanup_close_ int fd = -1;
    _cleanup_secret_ char *data = NULL;
    struct stat st;
    size_t len = 0;
    int r;

    if (!path)
        return ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "static challenge mode needs a challenge file");
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) < 0)
        return ae_error_set(err, -errno, AE_ERR_CONFIG, "challenge file %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode) || (st.st_mode & 0077) || (st.st_uid != 0 && st.st_uid != geteuid()))
        return ae_error_set(err, -EPERM, AE_ERR_CONFIG,
                            "challenge file %s must be a regular file readable by root only (mode 0600)", path);
    r = fileio_read_fd(fd, 4096, &data, &len);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_CONFIG, "challenge file %s: %s", path, strerror(-r));
    /* One line; surrounding whitespace removed. */
    char *s = data;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strcspn(s, "\r\n");
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0)
        return ae_error_set(err, -ENODATA, AE_ERR_CONFIG, "challenge file %s is empty", path);
    char *c = strndup(s, n);
    if (!c)
        return ae_error_set(err, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
    *ret = c;
    return 0;
}

static int on_defer(sd_event_source *s, void *userdata) {
    NdesOp *op = userdata;
    AeError err;
    char *challenge = NULL;
    int r = 0;
    ae_error_clear(&err);
    if (op->mode == NDES_CHALLENGE_STATIC)
        r = ndes_read_static_challenge(op->static_file, &challenge, &err);
    if (r < 0)
        op_fail(op, &err);
    else
        op_finish(op, 0, challenge, NULL);
    return 0;
}

static int dup_or_null(const char *s, char **ret) {
    *ret = NULL;
    if (!s)
        return 0;
    *ret = strdup(s);
    return *ret ? 0 : -ENOMEM;
}

int ndes_fetch_challenge(Http *http, sd_event *e, const NdesTarget *t, KrbCreds *creds, NdesDone done,
                         void *userdata, NdesOp **ret_op) {
    NdesOp *op;
    int r;

    if (!e || !t || !done || (t->mode == NDES_CHALLENGE_NEGOTIATE && (!http || !t->admin_url)))
        return -EINVAL;
    op = calloc(1, sizeof *op);
    if (!op)
        return -ENOMEM;
    op->http = http;
    op->event = sd_event_ref(e);
    op->mode = t->mode;
    op->done = done;
    op->userdata = userdata;
    op->timeout_ms = t->timeout_ms;
    op->creds = krb_creds_ref(creds);
    if ((r = dup_or_null(t->admin_url, &op->url)) < 0 || (r = dup_or_null(t->cafile, &op->cafile)) < 0 ||
        (r = dup_or_null(t->static_file, &op->static_file)) < 0)
        goto fail;
    for (size_t i = 0; t->resolve && t->resolve[i] && i < RESOLVE_MAX; i++)
        if ((r = dup_or_null(t->resolve[i], &op->resolve[i])) < 0)
            goto fail;

    if (op->mode != NDES_CHALLENGE_NEGOTIATE) {
        r = sd_event_add_defer(e, &op->defer, on_defer, op);
        if (r < 0)
            goto fail;
    } else {
        r = http_url_host(op->url, &op->host);
        if (r < 0)
            goto fail;
        HttpRequest req = {.url = op->url, .cafile = op->cafile,
                           .resolve = (const char *const *)op->resolve, .timeout_ms = op->timeout_ms,
                           .max_body = CHALLENGE_PAGE_MAX};
        r = http_submit(http, &req, on_first, op, &op->call);
        if (r < 0)
            goto fail;
    }
    if (ret_op)
        *ret_op = op;
    return 0;
fail:
    op_free(op);
    return r;
}

int ndes_scep_auth_header(KrbCreds *creds, const char *scep_url, char **ret_header, AeError *err) {
    _cleanup_free_ char *host = NULL;
    _cleanup_secret_ char *b64 = NULL;
    int r = http_url_host(scep_url, &host);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_CONFIG, "bad SCEP URL %s", scep_url);
    r = krb_negotiate_token(creds, host, &b64, err);
    if (r < 0)
        return r;
    if (asprintf(ret_header, "Authorization: Negotiate %s", b64) < 0)
        return ae_error_set(err, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
    return 0;
}
