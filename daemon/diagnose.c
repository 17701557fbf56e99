/* The diagnostic walk: see diagnose.h. */
#include "daemon/diagnose.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "daemon/http.h"
#include "daemon/krb.h"
#include "daemon/ndes.h"
#include "daemon/util.h"

#define DIAG_TIMEOUT_MS 15000u

const char *diag_status_to_string(DiagStatus s) {
    static const char *const t[] = {[DIAG_OK] = "ok", [DIAG_WARN] = "warn", [DIAG_FAIL] = "fail",
                                    [DIAG_SKIP] = "skip"};
    return (unsigned)s < ELEMENTSOF(t) ? t[s] : "?";
}

__attribute__((format(printf, 4, 5))) static int add(DiagReport *r, const char *name, DiagStatus st,
                                                     const char *fmt, ...) {
    DiagStep *s = reallocarray(r->steps, r->n_steps + 1, sizeof *s);
    va_list ap;
    if (!s)
        return -ENOMEM;
    r->steps = s;
    s = &r->steps[r->n_steps];
    s->status = st;
    s->name = strdup(name);
    va_start(ap, fmt);
    if (vasprintf(&s->detail, fmt, ap) < 0)
        s->detail = NULL;
    va_end(ap);
    if (!s->name || !s->detail) {
        free(s->name);
        free(s->detail);
        return -ENOMEM;
    }
    r->n_steps++;
    return 0;
}

void diagnose_report_clear(DiagReport *r) {
    for (size_t i = 0; r && i < r->n_steps; i++) {
        free(r->steps[i].name);
        free(r->steps[i].detail);
    }
    if (r) {
        free(r->steps);
        r->steps = NULL;
        r->n_steps = 0;
    }
}

bool diagnose_ok(const DiagReport *r) {
    for (size_t i = 0; i < r->n_steps; i++)
        if (r->steps[i].status == DIAG_FAIL)
            return false;
    return true;
}

/* --- steps ----------------------------------------------------------------- */

static void fmt_time(time_t t, char *out, size_t cap) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static int step_resolve(DiagReport *r, const char *host) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int e = getaddrinfo(host, NULL, &hints, &res);
    if (e != 0)
        return add(r, "resolve", DIAG_FAIL, "cannot resolve %s: %s", host, gai_strerror(e));
    char addr[INET6_ADDRSTRLEN] = "?";
    if (res->ai_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, addr, sizeof addr);
    else if (res->ai_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, addr, sizeof addr);
    freeaddrinfo(res);
    return add(r, "resolve", DIAG_OK, "%s -> %s", host, addr);
}

struct fetch_state {
    bool done;
    int r;
    size_t len;
    AeError err;
};

static void fetch_done(int r, char *challenge, const AeError *err, void *userdata) {
    struct fetch_state *st = userdata;
    st->done = true;
    st->r = r;
    if (r == 0) {
        st->len = challenge ? strlen(challenge) : 0;
        secret_free(challenge);
    } else if (err)
        st->err = *err;
}

/* The async path the daemon uses, on a private loop. */
static int step_admin(DiagReport *r, const DiagTarget *t, KrbCreds *creds) {
    sd_event *e = NULL;
    Http *h = NULL;
    struct fetch_state st = {0};
    NdesTarget nt = {.mode = NDES_CHALLENGE_NEGOTIATE, .admin_url = t->admin_url, .cafile = t->cafile,
                     .timeout_ms = t->timeout_ms ? t->timeout_ms : DIAG_TIMEOUT_MS};
    int q = sd_event_new(&e);
    if (q >= 0)
        q = http_new(e, &h);
    if (q >= 0)
        q = ndes_fetch_challenge(h, e, &nt, creds, fetch_done, &st, NULL);
    while (q >= 0 && !st.done)
        q = sd_event_run(e, UINT64_MAX);
    http_free(h);
    sd_event_unref(e);
    if (q < 0)
        return add(r, "mscep-admin", DIAG_FAIL, "internal error: %s", strerror(-q));
    if (st.r < 0)
        return add(r, "mscep-admin", DIAG_FAIL, "[%s] %s", st.err.category, st.err.message);
    return add(r, "mscep-admin", DIAG_OK, "challenge found (%zu characters, not shown)", st.len);
}

static int scep_get(const DiagTarget *t, KrbCreds *creds, const char *op, HttpResponse *resp,
                    AeError *err) {
    _cleanup_free_ char *url = NULL;
    _cleanup_secret_ char *auth = NULL;
    const char *headers[2] = {NULL, NULL};
    int q;
    if (asprintf(&url, "%s?operation=%s%s", t->scep_url, op, streq(op, "GetCACert") ? "&message=CA" : "") < 0) {
        url = NULL;
        return ae_error_set(err, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
    }
    if (t->scep_negotiate) {
        if (!creds)
            return ae_error_set(err, -ENOKEY, AE_ERR_CREDENTIALS, "mscep.dll needs Negotiate but there is no TGT");
        q = ndes_scep_auth_header(creds, t->scep_url, &auth, err);
        if (q < 0)
            return q;
        headers[0] = auth;
    }
    HttpRequest req = {.url = url, .headers = headers, .cafile = t->cafile,
                       .timeout_ms = t->timeout_ms ? t->timeout_ms : DIAG_TIMEOUT_MS};
    return http_perform(&req, resp, err);
}

static int step_caps(DiagReport *r, const DiagTarget *t, KrbCreds *creds, time_t *date) {
    HttpResponse resp;
    AeError err;
    int q = scep_get(t, creds, "GetCACaps", &resp, &err);
    if (q < 0)
        return add(r, "getcacaps", DIAG_FAIL, "[%s] %s", err.category, err.message);
    if (resp.date_time != (time_t)-1)
        *date = resp.date_time;
    if (resp.status != 200) {
        q = add(r, "getcacaps", DIAG_FAIL, "HTTP %ld from %s", resp.status, t->scep_url);
        http_response_clear(&resp);
        return q;
    }
    /* Keywords one a line -> "A, B, C" (printable ASCII only). */
    char caps[512];
    size_t o = 0;
    for (size_t i = 0; i < resp.body_len && o + 3 < sizeof caps; i++) {
        unsigned char c = resp.body[i];
        if (c == '\r' || c == '\n') {
            if (o > 0 && caps[o - 1] != ' ')
                caps[o++] = ',', caps[o++] = ' ';
        } else if (c >= 0x20 && c < 0x7F)
            caps[o++] = (char)c;
    }
    while (o > 0 && (caps[o - 1] == ' ' || caps[o - 1] == ','))
        o--;
    caps[o] = '\0';
    http_response_clear(&resp);
    return add(r, "getcacaps", o ? DIAG_OK : DIAG_WARN, "%s", o ? caps : "no capabilities advertised");
}

static void describe_cert(X509 *x, char *out, size_t cap) {
    char cn[128] = "?", until[40];
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    const ASN1_TIME *na = X509_get0_notAfter(x);
    struct tm tm;
    if (na && ASN1_TIME_to_tm(na, &tm))
        strftime(until, sizeof until, "%Y-%m-%d", &tm);
    else
        snprintf(until, sizeof until, "?");
    uint32_t ku = X509_get_key_usage(x);
    bool ca = X509_check_ca(x) > 0;
    snprintf(out, cap, "%s '%s' until %s%s%s", ca ? "CA" : "RA", cn, until,
             !ca && (ku & KU_KEY_ENCIPHERMENT) ? " [keyEncipherment]" : "",
             !ca && (ku & KU_DIGITAL_SIGNATURE) ? " [digitalSignature]" : "");
}

static int step_cacert(DiagReport *r, const DiagTarget *t, KrbCreds *creds, time_t *date) {
    HttpResponse resp;
    AeError err;
    STACK_OF(X509) *certs = NULL;
    PKCS7 *p7 = NULL;
    X509 *one = NULL;
    int q = scep_get(t, creds, "GetCACert", &resp, &err);
    if (q < 0)
        return add(r, "getcacert", DIAG_FAIL, "[%s] %s", err.category, err.message);
    if (resp.date_time != (time_t)-1)
        *date = resp.date_time;
    if (resp.status != 200) {
        q = add(r, "getcacert", DIAG_FAIL, "HTTP %ld from %s", resp.status, t->scep_url);
        goto out;
    }
    const unsigned char *p = resp.body;
    if ((p7 = d2i_PKCS7(NULL, &p, (long)resp.body_len)) && PKCS7_type_is_signed(p7) && p7->d.sign)
        certs = p7->d.sign->cert;
    else {
        p = resp.body;
        one = d2i_X509(NULL, &p, (long)resp.body_len);
    }
    if (!certs && !one) {
        q = add(r, "getcacert", DIAG_FAIL, "answer (%zu bytes, %s) is neither a certificate nor a PKCS#7",
                resp.body_len, resp.content_type ? resp.content_type : "no content type");
        goto out;
    }
    char line[1024] = "", d[256];
    int n = one ? 1 : sk_X509_num(certs), n_ra = 0;
    bool expired = false;
    for (int i = 0; i < n; i++) {
        X509 *x = one ? one : sk_X509_value(certs, i);
        if (X509_check_ca(x) <= 0)
            n_ra++;
        if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
            expired = true;
        describe_cert(x, d, sizeof d);
        size_t l = strlen(line);
        snprintf(line + l, sizeof line - l, "%s%s", l ? "; " : "", d);
    }
    q = add(r, "getcacert", expired ? DIAG_FAIL : (n_ra == 0 ? DIAG_WARN : DIAG_OK),
            "%d certificate(s), %d RA%s: %s", n, n_ra, expired ? ", one EXPIRED" : "", line);
out:
    PKCS7_free(p7);
    X509_free(one);
    http_response_clear(&resp);
    return q;
}

int diagnose_run(const DiagTarget *t, DiagReport *ret) {
    DiagReport r = {0};
    _cleanup_(krb_creds_freep) KrbCreds *creds = NULL;
    _cleanup_free_ char *host = NULL;
    AeError err;
    time_t date = (time_t)-1;
    bool user = t->ccache_fd >= 0;
    int q;

    const char *any_url = t->admin_url ? t->admin_url : t->scep_url;
    if (!any_url || http_url_host(any_url, &host) < 0) {
        q = add(&r, "target", DIAG_FAIL, "no valid http(s) URL for the CA");
        goto done;
    }
    if ((q = step_resolve(&r, host)) < 0)
        goto fail;

    bool need_krb = t->admin_url || t->scep_negotiate;
    if (!need_krb) {
        q = add(&r, "kerberos", DIAG_SKIP, "not used by this CA");
    } else if (user) {
        q = krb_creds_from_ccache_fd(t->ccache_fd, t->uid, &creds, &err);
        if (q < 0)
            q = add(&r, "credentials", DIAG_FAIL, "[%s] %s", err.category, err.message);
        else {
            char until[40];
            fmt_time(krb_creds_expiry(creds), until, sizeof until);
            q = add(&r, "credentials", DIAG_OK, "TGT of %s valid until %s", krb_creds_principal(creds), until);
        }
    } else {
        _cleanup_free_ char *mp = NULL;
        int kvno = 0;
        const char *kt = t->keytab ? t->keytab : KRB_DEFAULT_KEYTAB;
        if (t->principal)
            q = add(&r, "keytab", access(kt, R_OK) == 0 ? DIAG_OK : DIAG_FAIL, "%s: %s (configured)", kt,
                    access(kt, R_OK) == 0 ? t->principal : strerror(errno));
        else if (krb_keytab_machine_principal(kt, &mp, &kvno, &err) < 0)
            q = add(&r, "keytab", DIAG_FAIL, "[%s] %s", err.category, err.message);
        else
            q = add(&r, "keytab", DIAG_OK, "%s: %s (kvno %d)", kt, mp, kvno);
        if (q < 0)
            goto fail;
        if (r.steps[r.n_steps - 1].status == DIAG_FAIL)
            q = add(&r, "kdc", DIAG_SKIP, "needs the keytab");
        else if (krb_creds_from_keytab(kt, t->principal, &creds, &err) < 0)
            q = add(&r, "kdc", DIAG_FAIL, "[%s] %s", err.category, err.message);
        else {
            char until[40];
            fmt_time(krb_creds_expiry(creds), until, sizeof until);
            q = add(&r, "kdc", DIAG_OK, "TGT for %s valid until %s", krb_creds_principal(creds), until);
        }
    }
    if (q < 0)
        goto fail;

    if (need_krb) {
        _cleanup_secret_ char *tok = NULL;
        if (!creds)
            q = add(&r, "service-ticket", DIAG_SKIP, "needs a TGT");
        else if (krb_negotiate_token(creds, host, &tok, &err) < 0)
            q = add(&r, "service-ticket", DIAG_FAIL, "[%s] %s", err.category, err.message);
        else
            q = add(&r, "service-ticket", DIAG_OK, "ticket for HTTP/%s obtained", host);
        if (q < 0)
            goto fail;
    }

    if (!t->admin_url)
        q = add(&r, "mscep-admin", DIAG_SKIP, "no challenge page for this CA");
    else if (!creds)
        q = add(&r, "mscep-admin", DIAG_SKIP, "needs Kerberos credentials");
    else
        q = step_admin(&r, t, creds);
    if (q < 0)
        goto fail;

    if (!t->scep_url) {
        q = add(&r, "getcacaps", DIAG_SKIP, "no SCEP URL");
        if (q >= 0)
            q = add(&r, "getcacert", DIAG_SKIP, "no SCEP URL");
    } else {
        q = step_caps(&r, t, creds, &date);
        if (q >= 0)
            q = step_cacert(&r, t, creds, &date);
    }
    if (q < 0)
        goto fail;

    if (date == (time_t)-1) {
        /* No SCEP answer: ask the admin page (its 401 carries a Date too). */
        HttpResponse resp;
        HttpRequest req = {.url = any_url, .cafile = t->cafile,
                           .timeout_ms = t->timeout_ms ? t->timeout_ms : DIAG_TIMEOUT_MS};
        if (http_perform(&req, &resp, NULL) == 0) {
            date = resp.date_time;
            http_response_clear(&resp);
        }
    }
    if (date == (time_t)-1)
        q = add(&r, "clock", DIAG_SKIP, "no Date header from the server");
    else {
        long skew = (long)(time(NULL) - date), max = t->max_skew ? t->max_skew : NDES_MAX_CLOCK_SKEW;
        q = add(&r, "clock", labs(skew) <= max ? DIAG_OK : DIAG_FAIL,
                "this host is %ld s %s the server%s", labs(skew), skew >= 0 ? "ahead of" : "behind",
                labs(skew) <= max ? "" : ": Kerberos allows 5 minutes, sync the clock (NTP)");
    }
    if (q < 0)
        goto fail;
done:
    *ret = r;
    return 0;
fail:
    diagnose_report_clear(&r);
    return -ENOMEM;
}

char *diagnose_to_text(const DiagReport *r) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    for (size_t i = 0; i < r->n_steps; i++) {
        static const char *const tag[] = {[DIAG_OK] = "[ OK ]", [DIAG_WARN] = "[WARN]",
                                          [DIAG_FAIL] = "[FAIL]", [DIAG_SKIP] = "[SKIP]"};
        fprintf(f, "%s %-15s %s\n", tag[r->steps[i].status], r->steps[i].name, r->steps[i].detail);
    }
    fprintf(f, "%s\n", diagnose_ok(r) ? "result: working" : "result: BROKEN");
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

char *diagnose_to_json(const DiagReport *r) {
    json_object *root = json_object_new_object(), *steps = json_object_new_array();
    char *out = NULL;
    if (!root || !steps)
        goto out;
    for (size_t i = 0; i < r->n_steps; i++) {
        json_object *s = json_object_new_object();
        if (!s)
            goto out;
        json_object_object_add(s, "name", json_object_new_string(r->steps[i].name));
        json_object_object_add(s, "status", json_object_new_string(diag_status_to_string(r->steps[i].status)));
        json_object_object_add(s, "ok", json_object_new_boolean(r->steps[i].status != DIAG_FAIL));
        json_object_object_add(s, "detail", json_object_new_string(r->steps[i].detail));
        json_object_array_add(steps, s);
    }
    json_object_object_add(root, "ok", json_object_new_boolean(diagnose_ok(r)));
    json_object_object_add(root, "steps", steps);
    steps = NULL;
    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    out = s ? strdup(s) : NULL;
out:
    json_object_put(steps);
    json_object_put(root);
    return out;
}
