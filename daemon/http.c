/* libcurl multi on sd-event (after curl's docs/examples/ephiperfifo.c):
 * CURLMOPT_SOCKETFUNCTION maps curl's sockets to io sources,
 * CURLMOPT_TIMERFUNCTION arms one time source, and both call
 * curl_multi_socket_action(). Finished transfers are collected after each
 * action and their callbacks run outside any curl callback. */
#include "daemon/http.h"

#include <ctype.h>
#include <pthread.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "daemon/util.h"

struct Http {
    sd_event *event;
    CURLM *multi;
    sd_event_source *timer;
    HttpCall *calls; /* doubly linked, for http_free() */
    sd_event_source **sockets; /* io sources curl asked for, for http_free() */
    size_t n_sockets;
};

struct HttpCall {
    Http *http;
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *resolve;
    char *body;      /* our copy of the request body */
    char *url;
    HttpDone done;
    void *userdata;
    size_t max_body;
    bool too_large;
    HttpResponse resp;
    size_t body_cap;
    char errbuf[CURL_ERROR_SIZE];
    HttpCall *prev, *next;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

void http_response_clear(HttpResponse *resp) {
    if (!resp)
        return;
    free(resp->content_type);
    free(resp->body);
    for (size_t i = 0; i < resp->n_www_authenticate; i++)
        free(resp->www_authenticate[i]);
    free(resp->date);
    memset(resp, 0, sizeof *resp);
    resp->date_time = (time_t)-1;
}

int http_response_offers(const HttpResponse *resp, const char *scheme) {
    size_t n = strlen(scheme);
    for (size_t i = 0; resp && i < resp->n_www_authenticate; i++) {
        const char *v = resp->www_authenticate[i];
        /* A header may list several challenges separated by commas. */
        for (const char *p = v; p && *p;) {
            while (*p == ' ' || *p == ',')
                p++;
            if (strncasecmp(p, scheme, n) == 0 && (p[n] == '\0' || p[n] == ' ' || p[n] == ','))
                return 1;
            p = strchr(p, ',');
        }
    }
    return 0;
}

int http_url_host(const char *url, char **ret_host) {
    CURLU *u = curl_url();
    char *host = NULL, *scheme = NULL;
    int r = -EINVAL;
    if (!u)
        return -ENOMEM;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0))
        goto out;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
        goto out;
    char *copy = strdup(host);
    if (!copy) {
        r = -ENOMEM;
        goto out;
    }
    for (char *p = copy; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    *ret_host = copy;
    r = 0;
out:
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
    return r;
}

/* --- one call ------------------------------------------------------------ */

static void call_unlink(HttpCall *c) {
    if (c->prev)
        c->prev->next = c->next;
    else if (c->http)
        c->http->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void call_free(HttpCall *c) {
    if (!c)
        return;
    if (c->easy) {
        if (c->http)
            curl_multi_remove_handle(c->http->multi, c->easy);
        curl_easy_cleanup(c->easy);
    }
    call_unlink(c);
    curl_slist_free_all(c->headers);
    curl_slist_free_all(c->resolve);
    free(c->body);
    free(c->url);
    http_response_clear(&c->resp);
    free(c);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata) {
    HttpCall *c = userdata;
    size_t n = size * nmemb;
    if (c->resp.body_len + n > c->max_body) {
        c->too_large = true;
        return 0; /* CURLE_WRITE_ERROR */
    }
    if (c->resp.body_len + n + 1 > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 4096;
        while (cap < c->resp.body_len + n + 1)
            cap *= 2;
        if (cap > c->max_body + 1)
            cap = c->max_body + 1;
        uint8_t *b = realloc(c->resp.body, cap);
        if (!b)
            return 0;
        c->resp.body = b;
        c->body_cap = cap;
    }
    memcpy(c->resp.body + c->resp.body_len, data, n);
    c->resp.body_len += n;
    c->resp.body[c->resp.body_len] = 0;
    return n;
}

static char *header_value(const char *line, size_t len, const char *name) {
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return NULL;
    const char *v = line + n + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    return strndup(v, (size_t)(end - v));
}

static size_t on_header(char *line, size_t size, size_t nitems, void *userdata) {
    HttpCall *c = userdata;
    size_t len = size * nitems;
    char *v;
    /* A new status line (e.g. after 100 Continue): forget earlier headers. */
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        for (size_t i = 0; i < c->resp.n_www_authenticate; i++)
            free(c->resp.www_authenticate[i]);
        c->resp.n_www_authenticate = 0;
        free(c->resp.date);
        c->resp.date = NULL;
        return len;
    }
    if ((v = header_value(line, len, "WWW-Authenticate"))) {
        if (c->resp.n_www_authenticate < HTTP_WWW_AUTH_MAX)
            c->resp.www_authenticate[c->resp.n_www_authenticate++] = v;
        else
            free(v);
    } else if ((v = header_value(line, len, "Date"))) {
        free(c->resp.date);
        c->resp.date = v;
    }
    return len;
}

static int map_curl_error(HttpCall *c, CURLcode code, AeError *err) {
    const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(code);
    int r;
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
        r = -EHOSTUNREACH;
        return ae_error_set(err, r, AE_ERR_NETWORK, "cannot resolve the host of %s: %s", c->url, detail);
    case CURLE_COULDNT_CONNECT:
        return ae_error_set(err, -ECONNREFUSED, AE_ERR_NETWORK, "cannot connect to %s: %s", c->url, detail);
    case CURLE_OPERATION_TIMEDOUT:
        return ae_error_set(err, -ETIMEDOUT, AE_ERR_NETWORK, "timeout talking to %s: %s", c->url, detail);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        return ae_error_set(err, -EPROTO, AE_ERR_NETWORK, "TLS with %s failed: %s", c->url, detail);
    case CURLE_FILESIZE_EXCEEDED:
        c->too_large = true;
        /* fall through */
    case CURLE_WRITE_ERROR:
        if (c->too_large)
            return ae_error_set(err, -EFBIG, AE_ERR_NETWORK,
                                "answer from %s is larger than %zu bytes", c->url, c->max_body);
        return ae_error_set(err, -ENOMEM, AE_ERR_INTERNAL, "out of memory reading %s", c->url);
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        return ae_error_set(err, -ECONNRESET, AE_ERR_NETWORK, "connection to %s broke: %s", c->url, detail);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "bad URL %s: %s", c->url, detail);
    default:
        return ae_error_set(err, -EIO, AE_ERR_NETWORK, "HTTP request to %s failed: %s", c->url, detail);
    }
}

static void call_finish(HttpCall *c, CURLcode code) {
    AeError err;
    int r = 0;
    ae_error_clear(&err);
    if (code == CURLE_OK) {
        char *ct = NULL;
        double t = 0;
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->resp.status);
        if (curl_easy_getinfo(c->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
            c->resp.content_type = strdup(ct);
        if (curl_easy_getinfo(c->easy, CURLINFO_TOTAL_TIME, &t) == CURLE_OK)
            c->resp.total_seconds = t;
        if (c->resp.date)
            c->resp.date_time = curl_getdate(c->resp.date, NULL);
        if (!c->resp.body) {
            c->resp.body = calloc(1, 1);
            if (!c->resp.body)
                r = ae_error_set(&err, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
        }
    } else
        r = map_curl_error(c, code, &err);
    HttpDone done = c->done;
    void *ud = c->userdata;
    if (r == 0)
        done(0, &c->resp, NULL, ud);
    else
        done(r, NULL, &err, ud);
    call_free(c);
}

static void check_done(Http *h) {
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        HttpCall *c = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        CURLcode code = m->data.result;
        if (c)
            call_finish(c, code);
    }
}

/* --- sd-event glue -------------------------------------------------------- */

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
    Http *h = userdata;
    int flags = 0, running;
    if (revents & EPOLLIN)
        flags |= CURL_CSELECT_IN;
    if (revents & EPOLLOUT)
        flags |= CURL_CSELECT_OUT;
    if (revents & (EPOLLERR | EPOLLHUP))
        flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(h->multi, fd, flags, &running);
    check_done(h);
    return 0;
}

static void socket_forget(Http *h, sd_event_source *s) {
    for (size_t i = 0; i < h->n_sockets; i++)
        if (h->sockets[i] == s) {
            h->sockets[i] = h->sockets[--h->n_sockets];
            return;
        }
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
    Http *h = userp;
    sd_event_source *s = socketp;
    uint32_t events = 0;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            socket_forget(h, s);
            sd_event_source_disable_unref(s);
            curl_multi_assign(h->multi, fd, NULL);
        }
        return 0;
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= EPOLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= EPOLLOUT;
    if (!s) {
        sd_event_source **a = reallocarray(h->sockets, h->n_sockets + 1, sizeof *a);
        if (!a)
            return -1;
        h->sockets = a;
        if (sd_event_add_io(h->event, &s, fd, events, on_io, h) < 0)
            return -1;
        h->sockets[h->n_sockets++] = s;
        (void)sd_event_source_set_description(s, "http-socket");
        curl_multi_assign(h->multi, fd, s);
        return 0;
    }
    if (sd_event_source_set_io_events(s, events) < 0 ||
        sd_event_source_set_enabled(s, SD_EVENT_ON) < 0)
        return -1;
    return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
    Http *h = userdata;
    int running;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(h);
    return 0;
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp) {
    Http *h = userp;
    uint64_t now;
    if (timeout_ms < 0)
        return sd_event_source_set_enabled(h->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
    if (sd_event_now(h->event, CLOCK_MONOTONIC, &now) < 0)
        return -1;
    if (sd_event_source_set_time(h->timer, now + (uint64_t)timeout_ms * 1000) < 0 ||
        sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT) < 0)
        return -1;
    return 0;
}

int http_new(sd_event *e, Http **ret) {
    Http *h;
    int r;
    pthread_once(&curl_once, curl_init_once);
    h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    h->event = sd_event_ref(e);
    h->multi = curl_multi_init();
    if (!h->multi) {
        r = -ENOMEM;
        goto fail;
    }
    /* Accuracy 1 us: the default (0 = 250 ms) would let sd-event coalesce
     * curl's short timeouts into quarter-second stalls. */
    r = sd_event_add_time(e, &h->timer, CLOCK_MONOTONIC, UINT64_MAX, 1, on_timer, h);
    if (r < 0)
        goto fail;
    (void)sd_event_source_set_description(h->timer, "http-timer");
    (void)sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    *ret = h;
    return 0;
fail:
    http_free(h);
    return r;
}

Http *http_free(Http *h) {
    if (!h)
        return NULL;
    while (h->calls)
        call_free(h->calls);
    if (h->multi)
        curl_multi_cleanup(h->multi);
    /* Sockets of cached connections curl closed without telling us. */
    for (size_t i = 0; i < h->n_sockets; i++)
        sd_event_source_disable_unref(h->sockets[i]);
    free(h->sockets);
    sd_event_source_disable_unref(h->timer);
    sd_event_unref(h->event);
    free(h);
    return NULL;
}

void http_call_cancel(HttpCall *call) { call_free(call); }

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (curl_easy_setopt(c->easy, opt, val) != CURLE_OK) {                                     \
            r = -EINVAL;                                                                           \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

int http_submit(Http *h, const HttpRequest *req, HttpDone done, void *userdata, HttpCall **ret_call) {
    HttpCall *c;
    int r = -ENOMEM;
    bool post = req->method && strcasecmp(req->method, "POST") == 0;

    if (!h || !req || !req->url || !done)
        return -EINVAL;
    if (req->method && !post && strcasecmp(req->method, "GET") != 0)
        return -EOPNOTSUPP;
    c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->resp.date_time = (time_t)-1;
    c->done = done;
    c->userdata = userdata;
    c->max_body = req->max_body ? req->max_body : HTTP_BODY_MAX_DEFAULT;
    c->url = strdup(req->url);
    c->easy = curl_easy_init();
    if (!c->url || !c->easy)
        goto fail;

    SETOPT(CURLOPT_URL, c->url);
    SETOPT(CURLOPT_PRIVATE, c);
    SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, c);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, c);
    SETOPT(CURLOPT_USERAGENT, "autoenroll/" PACKAGE_VERSION);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS,
           (long)(req->connect_timeout_ms ? req->connect_timeout_ms : HTTP_CONNECT_TIMEOUT_MS_DEFAULT));
    SETOPT(CURLOPT_TIMEOUT_MS, (long)(req->timeout_ms ? req->timeout_ms : HTTP_TIMEOUT_MS_DEFAULT));
    if ((curl_off_t)c->max_body > 0)
        SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_body);
    if (req->cafile)
        SETOPT(CURLOPT_CAINFO, req->cafile);
    if (post) {
        c->body = malloc(req->body_len ? req->body_len : 1);
        if (!c->body)
            goto fail;
        if (req->body_len)
            memcpy(c->body, req->body, req->body_len);
        SETOPT(CURLOPT_POST, 1L);
        SETOPT(CURLOPT_POSTFIELDS, c->body);
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        if (req->content_type) {
            char line[256];
            snprintf(line, sizeof line, "Content-Type: %s", req->content_type);
            struct curl_slist *l = curl_slist_append(c->headers, line);
            if (!l)
                goto fail;
            c->headers = l;
        }
        struct curl_slist *l = curl_slist_append(c->headers, "Expect:");
        if (!l)
            goto fail;
        c->headers = l;
    }
    for (const char *const *hd = req->headers; hd && *hd; hd++) {
        struct curl_slist *l = curl_slist_append(c->headers, *hd);
        if (!l)
            goto fail;
        c->headers = l;
    }
    if (c->headers)
        SETOPT(CURLOPT_HTTPHEADER, c->headers);
    for (const char *const *rv = req->resolve; rv && *rv; rv++) {
        struct curl_slist *l = curl_slist_append(c->resolve, *rv);
        if (!l)
            goto fail;
        c->resolve = l;
    }
    if (c->resolve)
        SETOPT(CURLOPT_RESOLVE, c->resolve);

    if (curl_multi_add_handle(h->multi, c->easy) != CURLM_OK) {
        r = -EIO;
        goto fail;
    }
    c->http = h;
    c->next = h->calls;
    if (h->calls)
        h->calls->prev = c;
    h->calls = c;
    if (ret_call)
        *ret_call = c;
    return 0;
fail:
    call_free(c);
    return r;
}

/* --- blocking ------------------------------------------------------------- */

struct perform_state {
    bool done;
    int r;
    HttpResponse *ret;
    AeError *err;
};

static void perform_done(int r, HttpResponse *resp, const AeError *err, void *userdata) {
    struct perform_state *st = userdata;
    st->done = true;
    st->r = r;
    if (r == 0) {
        *st->ret = *resp;
        memset(resp, 0, sizeof *resp); /* ownership moves to the caller */
    } else if (st->err && err)
        *st->err = *err;
}

int http_perform(const HttpRequest *req, HttpResponse *ret, AeError *err) {
    sd_event *e = NULL;
    Http *h = NULL;
    struct perform_state st = {.ret = ret, .err = err};
    int r;

    memset(ret, 0, sizeof *ret);
    ret->date_time = (time_t)-1;
    r = sd_event_new(&e);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_INTERNAL, "cannot create an event loop");
    r = http_new(e, &h);
    if (r < 0) {
        ae_error_set(err, r, AE_ERR_INTERNAL, "cannot set up libcurl");
        goto out;
    }
    r = http_submit(h, req, perform_done, &st, NULL);
    if (r < 0) {
        ae_error_set(err, r, AE_ERR_CONFIG, "cannot start a request to %s", req->url);
        goto out;
    }
    while (!st.done) {
        r = sd_event_run(e, UINT64_MAX);
        if (r < 0) {
            ae_error_set(err, r, AE_ERR_INTERNAL, "event loop failed");
            goto out;
        }
    }
    r = st.r;
out:
    http_free(h);
    sd_event_unref(e);
    return r;
}
