/* PIN sources: permission checks, credentials, newline handling. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/util.h"
#include "pkcs11/pin.h"
#include "tests/unit/tap.h"

static char dir[] = "/tmp/test-keystore-pin-XXXXXX";

static char *mkpin(const char *name, const char *content, mode_t mode) {
    char *p;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        abort();
    FILE *f = fopen(p, "w");
    if (!f)
        abort();
    fputs(content, f);
    fclose(f);
    chmod(p, mode);
    return p;
}

TEST(file_ok) {
    _cleanup_free_ char *p = mkpin("a", "1234\n", 0600);
    _cleanup_free_ char *src = NULL;
    _cleanup_secret_ char *pin = NULL;
    AeError e = { 0 };
    if (asprintf(&src, "file:%s", p) < 0)
        abort();
    is_int(pin_read_source(src, &e, &pin), 0, "file: source reads");
    is_str(pin, "1234", "newline dropped");
    secret_free(pin);
    pin = NULL;
    is_int(pin_read_source(p, &e, &pin), 0, "plain path reads");
    is_str(pin, "1234", "same PIN");
}

TEST(crlf) {
    _cleanup_free_ char *p = mkpin("crlf", "abcd\r\n", 0400);
    _cleanup_secret_ char *pin = NULL;
    is_int(pin_read_source(p, NULL, &pin), 0, "reads");
    is_str(pin, "abcd", "CRLF dropped");
}

TEST(group_readable_refused) {
    _cleanup_free_ char *p = mkpin("g", "1234\n", 0640);
    _cleanup_secret_ char *pin = NULL;
    AeError e = { 0 };
    is_int(pin_read_source(p, &e, &pin), -EPERM, "0640 refused");
    ok(pin == NULL, "no PIN returned");
    ok(strstr(e.message, "chmod 600") != NULL, "message says what to do: %s", e.message);
    ok(strstr(e.message, "1234") == NULL, "message does not hold the PIN");
    _cleanup_free_ char *q = mkpin("o", "1234\n", 0604);
    is_int(pin_read_source(q, &e, &pin), -EPERM, "0604 refused");
}

TEST(bad_sources) {
    _cleanup_secret_ char *pin = NULL;
    is_int(pin_read_source("relative/path", NULL, &pin), -EINVAL, "relative refused");
    is_int(pin_read_source("file:relative", NULL, &pin), -EINVAL, "file:relative refused");
    is_int(pin_read_source("/nonexistent/pin", NULL, &pin), -ENOENT, "missing is ENOENT");
    _cleanup_free_ char *p = mkpin("empty", "\n", 0600);
    is_int(pin_read_source(p, NULL, &pin), -ENODATA, "empty refused");
    is_int(pin_read_source(dir, NULL, &pin), -EPERM, "directory refused");
}

TEST(symlink_refused) {
    _cleanup_free_ char *p = mkpin("target", "1234\n", 0600);
    _cleanup_free_ char *l = NULL;
    _cleanup_secret_ char *pin = NULL;
    if (asprintf(&l, "%s/link", dir) < 0 || symlink(p, l) < 0)
        abort();
    is_int(pin_read_source(l, NULL, &pin), -ELOOP, "symlink not followed");
}

TEST(credentials) {
    _cleanup_free_ char *p = mkpin("token-pin", "cred-pin\n", 0400);
    _cleanup_secret_ char *pin = NULL;
    AeError e = { 0 };
    unsetenv("CREDENTIALS_DIRECTORY");
    is_int(pin_read_source("cred:token-pin", &e, &pin), -ENOENT, "no CREDENTIALS_DIRECTORY");
    ok(strstr(e.message, "LoadCredential") != NULL, "message mentions LoadCredential=");
    setenv("CREDENTIALS_DIRECTORY", dir, 1);
    is_int(pin_read_source("cred:token-pin", &e, &pin), 0, "credential read");
    is_str(pin, "cred-pin", "credential PIN");
    secret_free(pin);
    pin = NULL;
    is_int(pin_read_source("cred:../etc/passwd", &e, &pin), -EINVAL, "no path in a name");
}

int main(void) {
    if (!mkdtemp(dir))
        return 99;
    int r = tap_run();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        r = 1;
    return r;
}
