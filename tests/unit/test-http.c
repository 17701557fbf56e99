#include <signal.h>
/* Unit tests for daemon/http.c against a small HTTP server on 127.0.0.1 run
 * on a thread of this process: real sockets, real libcurl, real sd-event. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/http.h"
#include "daemon/util.h"
#include "tests/unit/tap.h"

/* The server answers each connection with the response chosen by the
 * request path, then closes. It records the last request it saw. */
static int srv_fd = -1;
static int srv_port;
static char last_request[8192];
static size_t last_request_len;

static const char *answer_for(const char *req) {
    if (strstr(req, "GET /auth "))
        return "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\n"
               "Date: Wed, 25 Nov 2026 12:00:00 GMT\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if (strstr(req, "GET /ntlm "))
        return "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if (strstr(req, "GET /big ") || strstr(req, "GET /stream "))
        return NULL; /* special-cased below */
    if (strstr(req, "GET /slow "))
        return "";
    if (strstr(req, "POST /echo "))
        return "echo";
    return "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nDate: Wed, 25 Nov 2026 12:00:00 GMT\r\n"
           "Content-Length: 5\r\nConnection: close\r\n\r\nhello";
}

static void *server(void *arg) {
    for (;;) {
        int c = accept(srv_fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[8192];
        size_t n = 0;
        ssize_t k;
        /* Read headers (and a small body). */
        while (n < sizeof buf - 1 && (k = read(c, buf + n, sizeof buf - 1 - n)) > 0) {
            n += (size_t)k;
            buf[n] = 0;
            char *eoh = strstr(buf, "\r\n\r\n");
            if (eoh) {
                const char *cl = strcasestr(buf, "Content-Length:");
                size_t want = cl ? (size_t)atoi(cl + 15) : 0;
                if (n >= (size_t)(eoh + 4 - buf) + want)
                    break;
            }
        }
        memcpy(last_request, buf, n);
        last_request_len = n;
        const char *a = answer_for(buf);
        if (!a) {
            char head[128];
            size_t sz = 3 * 1024 * 1024;
            if (strstr(buf, "GET /stream "))
                /* No length: only the write callback can enforce the cap. */
                snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\n\r\n");
            else
                snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", sz);
            (void)!write(c, head, strlen(head));
            char *big = calloc(1, 65536);
            for (size_t s = 0; s < sz; s += 65536)
                if (write(c, big, 65536) < 0)
                    break;
            free(big);
        } else if (streq(a, "")) {
            sleep(2);
        } else if (streq(a, "echo")) {
            char *eoh = strstr(buf, "\r\n\r\n") + 4;
            char out[9000];
            int m = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
                             n - (size_t)(eoh - buf));
            memcpy(out + m, eoh, n - (size_t)(eoh - buf));
            (void)!write(c, out, (size_t)m + n - (size_t)(eoh - buf));
        } else
            (void)!write(c, a, strlen(a));
        close(c);
    }
}

static char *url(const char *path) {
    static char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d%s", srv_port, path);
    return u;
}

TEST(get_ok) {
    HttpResponse resp;
    AeError err = {0};
    HttpRequest req = {.url = url("/page")};
    is_int(http_perform(&req, &resp, &err), 0, "GET succeeds");
    is_int(resp.status, 200, "status 200");
    is_str(resp.content_type, "text/html", "content type");
    is_int(resp.body_len, 5, "body length");
    is_str((char *)resp.body, "hello", "body");
    is_str(resp.date, "Wed, 25 Nov 2026 12:00:00 GMT", "Date header");
    is_int(resp.date_time, 1795608000, "Date parsed");
    http_response_clear(&resp);
}

TEST(www_authenticate) {
    HttpResponse resp;
    HttpRequest req = {.url = url("/auth")};
    const char *hdrs[] = {"Authorization: Negotiate abc", NULL};
    req.headers = hdrs;
    is_int(http_perform(&req, &resp, NULL), 0, "401 is a response, not an error");
    is_int(resp.status, 401, "status 401");
    is_int(resp.n_www_authenticate, 2, "both WWW-Authenticate headers");
    ok(http_response_offers(&resp, "Negotiate"), "offers Negotiate");
    ok(http_response_offers(&resp, "ntlm"), "offers NTLM (case-insensitive)");
    ok(!http_response_offers(&resp, "Nego"), "no prefix match");
    ok(strstr(last_request, "Authorization: Negotiate abc\r\n") != NULL, "extra header sent");
    http_response_clear(&resp);
}

TEST(post_body) {
    HttpResponse resp;
    static const char body[] = "bin\0ary";
    HttpRequest req = {.method = "POST", .url = url("/echo"), .body = body, .body_len = 7,
                       .content_type = "application/x-pki-message"};
    is_int(http_perform(&req, &resp, NULL), 0, "POST succeeds");
    is_int(resp.body_len, 7, "echoed length");
    ok(memcmp(resp.body, body, 7) == 0, "binary body round trip");
    ok(strstr(last_request, "Content-Type: application/x-pki-message\r\n") != NULL, "content type sent");
    http_response_clear(&resp);
}

TEST(errors) {
    HttpResponse resp;
    AeError err = {0};
    HttpRequest big = {.url = url("/big"), .max_body = 100000};
    is_int(http_perform(&big, &resp, &err), -EFBIG, "body over the cap -> -EFBIG");
    is_str(err.category, AE_ERR_NETWORK, "category network");
    HttpRequest stream = {.url = url("/stream"), .max_body = 100000};
    is_int(http_perform(&stream, &resp, &err), -EFBIG, "body without length over the cap -> -EFBIG");
    ok(strstr(err.message, "larger than 100000 bytes") != NULL, "message: %s", err.message);
    HttpRequest slow = {.url = url("/slow"), .timeout_ms = 300};
    is_int(http_perform(&slow, &resp, &err), -ETIMEDOUT, "timeout -> -ETIMEDOUT");
    /* A port nobody listens on. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &al);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    close(s);
    HttpRequest refused = {.url = u};
    is_int(http_perform(&refused, &resp, &err), -ECONNREFUSED, "connection refused");
    ok(strstr(err.message, "cannot connect") != NULL, "message: %s", err.message);
    HttpRequest dns = {.url = "http://no-such-host.invalid/"};
    is_int(http_perform(&dns, &resp, &err), -EHOSTUNREACH, "unresolvable host");
    HttpRequest ftp = {.url = "ftp://127.0.0.1/"};
    is_int(http_perform(&ftp, &resp, &err), -EINVAL, "non-http scheme refused");
}

struct many {
    int done, ok;
    sd_event *e;
};
static void many_done(int r, HttpResponse *resp, const AeError *err, void *userdata) {
    struct many *m = userdata;
    if (r == 0 && resp->status == 200 && streq((char *)resp->body, "hello"))
        m->ok++;
    if (++m->done == 20)
        sd_event_exit(m->e, 0);
}

TEST(concurrent_on_loop) {
    sd_event *e = NULL;
    Http *h = NULL;
    struct many m = {0};
    sd_event_new(&e);
    m.e = e;
    is_int(http_new(e, &h), 0, "http_new");
    HttpCall *cancelled = NULL;
    HttpRequest req = {.url = url("/page")};
    for (int i = 0; i < 20; i++)
        http_submit(h, &req, many_done, &m, NULL);
    http_submit(h, &req, many_done, &m, &cancelled);
    http_call_cancel(cancelled);
    sd_event_loop(e);
    is_int(m.done, 20, "20 callbacks, none for the cancelled call");
    is_int(m.ok, 20, "all answered");
    /* Freed with a call in flight: no callback, no leak. */
    http_submit(h, &req, many_done, &m, NULL);
    http_free(h);
    sd_event_unref(e);
    is_int(m.done, 20, "no callback after http_free");
}

TEST(url_host) {
    char *host = NULL;
    is_int(http_url_host("https://NDES.Example.COM:8443/certsrv/mscep_admin/", &host), 0, "parse");
    is_str(host, "ndes.example.com", "lowercase host");
    free(host);
    is_int(http_url_host("ftp://x/", &host), -EINVAL, "ftp refused");
    is_int(http_url_host("not a url", &host), -EINVAL, "garbage refused");
}

int main(void) {
    /* The fake server writes to clients that may have hung up (timeouts, caps). */
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    pthread_t t;
    srv_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(srv_fd, 64) < 0 ||
        getsockname(srv_fd, (struct sockaddr *)&a, &al) < 0)
        return 1;
    srv_port = ntohs(a.sin_port);
    pthread_create(&t, NULL, server, NULL);
    pthread_detach(t);
    return tap_run();
}
