/* Unit tests for daemon/ndes.c that need no realm: HTTP status mapping,
 * static challenge files, the async path in static and no-challenge modes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/ndes.h"
#include "daemon/util.h"
#include "tests/unit/tap.h"

static const char *U = "http://ndes.example.test/certsrv/mscep_admin/";

TEST(map_status) {
    AeError e = {0};
    HttpResponse ntlm = {.n_www_authenticate = 1};
    ntlm.www_authenticate[0] = (char *)"NTLM";
    is_int(ndes_map_status(401, &ntlm, U, 0, &e), -EPROTONOSUPPORT, "401 NTLM only");
    ok(strstr(e.message, "only NTLM") != NULL, "hint: %s", e.message);
    is_str(e.category, AE_ERR_NDES, "category ndes");
    HttpResponse basic = {.n_www_authenticate = 1};
    basic.www_authenticate[0] = (char *)"Basic realm=\"x\"";
    is_int(ndes_map_status(401, &basic, U, 0, &e), -EPROTONOSUPPORT, "401 without Negotiate");
    ok(strstr(e.message, "does not offer Negotiate") != NULL, "hint: %s", e.message);
    is_int(ndes_map_status(401, NULL, U, 1, &e), -EACCES, "401 after our token");
    ok(strstr(e.message, "Extended Protection") != NULL && strstr(e.message, "SPN") != NULL, "hint: %s", e.message);
    is_int(ndes_map_status(403, NULL, U, 1, &e), -EPERM, "403");
    ok(strstr(e.message, "Intune") != NULL, "policy module hint");
    is_int(ndes_map_status(404, NULL, U, 1, &e), -ENOENT, "404");
    is_int(ndes_map_status(414, NULL, U, 1, &e), -E2BIG, "414");
    ok(strstr(e.message, "POST") != NULL, "414 says use POST");
    is_int(ndes_map_status(503, NULL, U, 1, &e), -EAGAIN, "503");
    is_int(ndes_map_status(500, NULL, U, 1, &e), -EAGAIN, "500");
    is_int(ndes_map_status(301, NULL, U, 0, &e), -EREMCHG, "301");
    is_int(ndes_map_status(418, NULL, U, 0, &e), -EPROTO, "other");
}

TEST(map_status_clock_skew) {
    AeError e = {0};
    time_t now = time(NULL);
    HttpResponse ahead = {.date_time = now + 600};
    is_int(ndes_map_status(401, &ahead, U, 1, &e), -EACCES, "401 after our token, server 10 min ahead");
    ok(strstr(e.message, "behind the server's") && strstr(e.message, "NTP"), "says so: %s", e.message);
    is_str(e.category, AE_ERR_KERBEROS, "category kerberos");
    HttpResponse behind = {.date_time = now - 400};
    ndes_map_status(401, &behind, U, 1, &e);
    ok(strstr(e.message, "ahead of the server's") != NULL, "the other way: %s", e.message);
    HttpResponse close = {.date_time = now - 100};
    ndes_map_status(401, &close, U, 1, &e);
    ok(strstr(e.message, "SPN") != NULL && !strstr(e.message, "NTP"), "within 5 min: the usual hints");
    HttpResponse nodate = {.date_time = (time_t)-1};
    ndes_map_status(401, &nodate, U, 1, &e);
    ok(strstr(e.message, "SPN") != NULL, "no Date header: the usual hints");
    HttpResponse before_token = {.date_time = now + 600};
    is_int(ndes_map_status(401, &before_token, U, 0, &e), -EPROTONOSUPPORT,
           "a first 401 (before our token) is not about the clock");
}

static char tmpdir[] = "/tmp/test-ndes.XXXXXX";

static char *write_file(const char *name, const char *content, mode_t mode) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    (void)!write(fd, content, strlen(content));
    close(fd);
    chmod(path, mode);
    return path;
}

TEST(static_file) {
    char *c = NULL;
    AeError e = {0};
    is_int(ndes_read_static_challenge(write_file("ok", "  s3cret-Value \r\nignored\n", 0600), &c, &e), 0,
           "root-only file");
    is_str(c, "s3cret-Value", "first line, trimmed");
    secret_free(c);
    c = NULL;
    is_int(ndes_read_static_challenge(write_file("open", "x\n", 0644), &c, &e), -EPERM, "world-readable refused");
    ok(strstr(e.message, "root only") != NULL && strstr(e.message, "x") != e.message, "message: %s", e.message);
    is_int(ndes_read_static_challenge(write_file("empty", " \n", 0600), &c, &e), -ENODATA, "empty refused");
    is_int(ndes_read_static_challenge("/nonexistent/x", &c, &e), -ENOENT, "missing");
    is_str(e.category, AE_ERR_CONFIG, "category config");
    is_int(ndes_read_static_challenge(NULL, &c, &e), -EINVAL, "no path");
    ok(c == NULL, "nothing returned on errors");
}

struct res {
    int calls, r;
    char *challenge;
};
static void on_done(int r, char *challenge, const AeError *err, void *userdata) {
    struct res *s = userdata;
    s->calls++;
    s->r = r;
    s->challenge = challenge;
}

TEST(async_modes) {
    sd_event *e = NULL;
    struct res a = {0}, b = {0}, c = {0}, d = {0};
    NdesOp *op = NULL;
    sd_event_new(&e);
    _cleanup_free_ char *okp = strdup(write_file("ok2", "ABC\n", 0600));
    _cleanup_free_ char *badp = strdup(write_file("bad", "ABC\n", 0640));
    NdesTarget st = {.mode = NDES_CHALLENGE_STATIC, .static_file = okp};
    NdesTarget none = {.mode = NDES_CHALLENGE_NONE};
    NdesTarget bad = {.mode = NDES_CHALLENGE_STATIC, .static_file = badp};
    is_int(ndes_fetch_challenge(NULL, e, &st, NULL, on_done, &a, NULL), 0, "static started");
    is_int(a.calls, 0, "callback not called synchronously");
    is_int(ndes_fetch_challenge(NULL, e, &none, NULL, on_done, &b, NULL), 0, "none started");
    is_int(ndes_fetch_challenge(NULL, e, &bad, NULL, on_done, &c, NULL), 0, "bad static started");
    is_int(ndes_fetch_challenge(NULL, e, &st, NULL, on_done, &d, &op), 0, "to be cancelled");
    ndes_op_cancel(op);
    for (int i = 0; i < 5; i++)
        sd_event_run(e, 0);
    is_int(a.calls, 1, "static: one callback");
    is_str(a.challenge, "ABC", "static challenge");
    secret_free(a.challenge);
    is_int(b.calls, 1, "none: one callback");
    ok(b.r == 0 && b.challenge == NULL, "none: success without a challenge");
    is_int(c.r, -EPERM, "bad static file: error");
    is_int(d.calls, 0, "cancelled: no callback");
    NdesTarget neg = {.mode = NDES_CHALLENGE_NEGOTIATE, .admin_url = U};
    is_int(ndes_fetch_challenge(NULL, e, &neg, NULL, on_done, &a, NULL), -EINVAL, "negotiate needs an Http");
    sd_event_unref(e);
}

int main(void) {
    if (!mkdtemp(tmpdir))
        return 1;
    int r = tap_run();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    (void)!system(cmd);
    return r;
}
