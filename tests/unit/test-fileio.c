#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/fileio.h"
#include "daemon/util.h"
#include "tests/unit/tap.h"

static char dir[] = "/tmp/test-fileio-XXXXXX";

static char *path_in_dir(const char *name) {
    char *p;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        abort();
    return p;
}

TEST(write_then_read) {
    _cleanup_free_ char *p = path_in_dir("a");
    is_int(fileio_write_atomic(p, "hello", 5, 0600, FILEIO_KEEP_OWNER, (gid_t)-1), 0, "write");
    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    is_int(fileio_read(p, 1024, &data, &len), 0, "read");
    is_int(len, 5, "length");
    is_str(data, "hello", "content");
    struct stat st;
    ok(stat(p, &st) == 0 && (st.st_mode & 07777) == 0600, "mode is 0600");
}

TEST(replace_keeps_no_temp) {
    _cleanup_free_ char *p = path_in_dir("b");
    is_int(fileio_write_atomic(p, "one", 3, 0644, FILEIO_KEEP_OWNER, (gid_t)-1), 0, "first");
    is_int(fileio_write_atomic(p, "two", 3, 0644, FILEIO_KEEP_OWNER, (gid_t)-1), 0, "second");
    _cleanup_free_ char *data = NULL;
    is_int(fileio_read(p, 1024, &data, NULL), 0, "read");
    is_str(data, "two", "new content");
    _cleanup_free_ char *cmd = NULL;
    if (asprintf(&cmd, "ls %s | grep -c tmp >/dev/null", dir) < 0)
        abort();
    ok(system(cmd) != 0, "no temp file left behind");
}

TEST(read_cap) {
    _cleanup_free_ char *p = path_in_dir("big");
    char buf[10000];
    memset(buf, 'x', sizeof buf);
    is_int(fileio_write_atomic(p, buf, sizeof buf, 0600, FILEIO_KEEP_OWNER, (gid_t)-1), 0, "write");
    _cleanup_free_ char *data = NULL;
    is_int(fileio_read(p, 9999, &data, NULL), -EFBIG, "over the cap is EFBIG");
    ok(data == NULL, "no buffer on error");
    is_int(fileio_read(p, 10000, &data, NULL), 0, "exactly the cap is fine");
}

TEST(missing_dir_fails_cleanly) {
    is_int(fileio_write_atomic("/nonexistent-dir/x", "a", 1, 0600, FILEIO_KEEP_OWNER, (gid_t)-1),
           -ENOENT, "ENOENT");
    _cleanup_free_ char *data = NULL;
    is_int(fileio_read("/nonexistent-dir/x", 10, &data, NULL), -ENOENT, "read ENOENT");
}

TEST(mkdir_p) {
    _cleanup_free_ char *p = path_in_dir("x/y/z");
    is_int(fileio_mkdir_p(p, 0700), 0, "mkdir -p");
    struct stat st;
    ok(stat(p, &st) == 0 && S_ISDIR(st.st_mode), "is a directory");
    is_int(fileio_mkdir_p(p, 0700), 0, "again is fine");
}

TEST(stale_temps) {
    _cleanup_free_ char *sub = path_in_dir("temps");
    fileio_mkdir_p(sub, 0700);
    const char *names[] = {"a.pem.tmp.Ab12Cd", "a.pem", "b.key.tmp.XyZ123", "a.pem.tmp.short", "a.pemx.tmp.Ab12Cd"};
    for (size_t i = 0; i < ELEMENTSOF(names); i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", sub, names[i]);
        fileio_write_atomic(p, "x", 1, 0600, FILEIO_KEEP_OWNER, (gid_t)-1);
    }
    is_int(fileio_remove_stale_temps(sub, "a.pem"), 1, "only a.pem's temp file");
    is_int(fileio_remove_stale_temps(sub, NULL), 2, "any temp file (not the short suffix)");
    char p[512];
    snprintf(p, sizeof p, "%s/a.pem", sub);
    ok(access(p, F_OK) == 0, "the real file stays");
    is_int(fileio_remove_stale_temps("/nonexistent-dir", NULL), 0, "missing dir is fine");
}

TEST(copy_to_memfd) {
    _cleanup_free_ char *p = path_in_dir("cc");
    char buf[40000]; /* more than one read chunk */
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)(i * 7);
    is_int(fileio_write_atomic(p, buf, sizeof buf, 0600, FILEIO_KEEP_OWNER, (gid_t)-1), 0, "write");
    _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
    int copy = -1;
    is_int(fileio_copy_to_memfd(fd, sizeof buf, "test", true, &copy), 0, "copy at exactly the cap");
    char back[sizeof buf + 1];
    ok(read(copy, back, sizeof back) == (ssize_t)sizeof buf && memcmp(back, buf, sizeof buf) == 0,
       "the copy reads back from its start, byte for byte");
    ok(write(copy, "x", 1) < 0 && errno == EPERM, "a sealed copy cannot be written");
    /* The copy stays when the original is emptied in place (pam_krb5 destroying
     * the session cache at logout). */
    _cleanup_close_ int w = open(p, O_WRONLY | O_CLOEXEC);
    ok(w >= 0 && ftruncate(w, 0) == 0, "empty the original in place");
    ok(pread(copy, back, sizeof back, 0) == (ssize_t)sizeof buf && memcmp(back, buf, sizeof buf) == 0,
       "the copy is unchanged");
    close(copy);
    copy = -1;
    ok(pwrite(w, buf, sizeof buf, 0) == (ssize_t)sizeof buf, "refill the original");
    is_int(fileio_copy_to_memfd(fd, sizeof buf - 1, "test", false, &copy), -EFBIG, "over the cap is EFBIG");
    ok(copy == -1, "no fd on error");
    is_int(fileio_copy_to_memfd(fd, sizeof buf, "test", false, &copy), 0, "unsealed copy");
    ok(write(copy, "x", 1) == 1, "an unsealed copy is writable");
    close(copy);
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
