/* HTTP transport: libcurl's multi interface driven by sd-event.
 *
 * One Http per event loop; any number of calls at once. Every response body
 * is capped. No redirects are followed and curl does no authentication of
 * its own: callers add "Authorization: Negotiate ..." themselves, so a
 * Kerberos token only ever goes to the URL it was made for. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "daemon/error.h"

#define HTTP_BODY_MAX_DEFAULT (1024u * 1024u)
#define HTTP_CONNECT_TIMEOUT_MS_DEFAULT 10000u
#define HTTP_TIMEOUT_MS_DEFAULT 60000u
#define HTTP_WWW_AUTH_MAX 8

typedef struct HttpRequest {
    const char *method;              /* "GET" (default when NULL) or "POST" */
    const char *url;                 /* http:// or https:// */
    const void *body;                /* POST body (may contain NULs) */
    size_t body_len;
    const char *content_type;        /* of the body */
    const char *const *headers;      /* NULL-terminated "Name: value" list, or NULL */
    size_t max_body;                 /* 0: HTTP_BODY_MAX_DEFAULT */
    unsigned connect_timeout_ms;     /* 0: default */
    unsigned timeout_ms;             /* 0: default */
    const char *cafile;              /* https trust anchors; NULL: system store */
    const char *const *resolve;      /* curl resolve list "host:port:addr", or NULL */
} HttpRequest;

typedef struct HttpResponse {
    long status;                     /* HTTP status code */
    char *content_type;              /* NULL when absent */
    uint8_t *body;                   /* NUL-terminated (not counted) */
    size_t body_len;
    char *www_authenticate[HTTP_WWW_AUTH_MAX]; /* values, in order */
    size_t n_www_authenticate;
    char *date;                      /* Date header value, NULL when absent */
    time_t date_time;                /* parsed Date, or (time_t)-1 */
    double total_seconds;
} HttpResponse;

typedef struct Http Http;
typedef struct HttpCall HttpCall;

/* r == 0: resp holds any HTTP answer (check resp->status); the callee may
 * take ownership of fields (set them to NULL), the rest is freed after the
 * callback returns. r < 0: resp is NULL and err says why (category
 * "network": DNS, connect, timeout, TLS; -EFBIG for a body over the cap). */
typedef void (*HttpDone)(int r, HttpResponse *resp, const AeError *err, void *userdata);

int http_new(sd_event *e, Http **ret);
Http *http_free(Http *h); /* cancels calls in flight without calling their callbacks */

/* Start a request. The request struct and the strings it points to may be
 * freed once this returns. ret_call (optional) is valid until done() runs or
 * http_call_cancel(). Returns 0 or -errno. */
int http_submit(Http *h, const HttpRequest *req, HttpDone done, void *userdata, HttpCall **ret_call);

/* Stop a call; its callback will not run. */
void http_call_cancel(HttpCall *call);

/* Blocking convenience for the CLI and tests: a private event loop.
 * Returns 0 with *ret filled (any HTTP status) or -errno with err set. */
int http_perform(const HttpRequest *req, HttpResponse *ret, AeError *err);

void http_response_clear(HttpResponse *resp);

/* Does a WWW-Authenticate list offer the scheme (case-insensitive)? */
int http_response_offers(const HttpResponse *resp, const char *scheme);

/* The host part of an http(s) URL, lowercase. Returns 0 or -EINVAL. */
int http_url_host(const char *url, char **ret_host);
