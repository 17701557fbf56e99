/* pam_autoenroll's cache handling: which KRB5CCNAME values are taken, and
 * opening a cache as the user (FIFOs, devices, non-caches, permissions). */
#include "pam/login.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/tap.h"

static char dir[] = "/tmp/test-pam-login.XXXXXX";

static void write_file(const char *name, const void *data, size_t len, mode_t mode) {
    char p[400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "we");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
    chmod(p, mode);
}

static int open_as_me(const char *ccname, int *fd) {
    struct passwd *pw = getpwuid(geteuid());
    AeError err = {0};
    return pam_ae_open_ccache_as(ccname, pw ? pw->pw_name : "root", geteuid(), getegid(), fd, &err);
}

TEST(ccache_names) {
    const char *p = NULL;
    bool coll = true;
    is_int(pam_ae_ccache_path("FILE:/tmp/krb5cc_1", &p, &coll), 0, "FILE:");
    is_str(p, "/tmp/krb5cc_1", "FILE: path");
    ok(!coll, "FILE: is one cache");
    is_int(pam_ae_ccache_path("/tmp/krb5cc_2", &p, &coll), 0, "plain path");
    is_str(p, "/tmp/krb5cc_2", "plain path");
    is_int(pam_ae_ccache_path("DIR::/run/u/tktA", &p, &coll), 0, "DIR::file");
    is_str(p, "/run/u/tktA", "DIR::file path");
    ok(!coll, "DIR::file is one cache");
    is_int(pam_ae_ccache_path("DIR:/run/u", &p, &coll), 0, "DIR: collection");
    ok(coll, "DIR: is a collection");
    is_int(pam_ae_ccache_path("KCM:", &p, &coll), -EPROTONOSUPPORT, "KCM refused");
    is_int(pam_ae_ccache_path("KEYRING:persistent:1000", &p, &coll), -EPROTONOSUPPORT, "KEYRING refused");
    is_int(pam_ae_ccache_path("MEMORY:x", &p, &coll), -EPROTONOSUPPORT, "MEMORY refused");
    is_int(pam_ae_ccache_path("FILE:relative", &p, &coll), -EINVAL, "relative FILE refused");
    is_int(pam_ae_ccache_path("relative", &p, &coll), -EPROTONOSUPPORT, "bare relative refused");
}

TEST(open_checks) {
    static const unsigned char cc[] = {0x05, 0x04, 0x00, 0x0c};
    char name[300];
    int fd = -1;

    ok(mkdtemp(dir) != NULL, "temp dir");
    write_file("good", cc, sizeof cc, 0600);
    write_file("text", "hello", 5, 0600);
    snprintf(name, sizeof name, "FILE:%s/good", dir);
    is_int(open_as_me(name, &fd), 0, "a FILE ccache opens");
    ok(fd >= 0 && lseek(fd, 0, SEEK_CUR) == 0, "fd at offset 0");
    if (fd >= 0)
        close(fd);
    snprintf(name, sizeof name, "FILE:%s/text", dir);
    is_int(open_as_me(name, &fd), -EBADMSG, "not a ccache");
    snprintf(name, sizeof name, "FILE:%s/missing", dir);
    is_int(open_as_me(name, &fd), -ENOENT, "missing");
    is_int(open_as_me("FILE:/dev/null", &fd), -EINVAL, "a device is not a cache");

    /* A FIFO must not hold the login. */
    snprintf(name, sizeof name, "%s/fifo", dir);
    ok(mkfifo(name, 0600) == 0, "mkfifo");
    snprintf(name, sizeof name, "FILE:%s/fifo", dir);
    time_t t0 = time(NULL);
    is_int(open_as_me(name, &fd), -EINVAL, "a FIFO is refused");
    ok(time(NULL) - t0 < 2, "... without blocking");

    /* Larger than any real cache. */
    snprintf(name, sizeof name, "%s/big", dir);
    ok(truncate(name, 0) == 0 || errno == ENOENT, "prepare big");
    write_file("big", cc, sizeof cc, 0600);
    ok(truncate(name, PAM_AE_CCACHE_MAX + 1) == 0, "make it big");
    snprintf(name, sizeof name, "FILE:%s/big", dir);
    is_int(open_as_me(name, &fd), -EFBIG, "too large");
}

TEST(dir_collection) {
    char name[400], sub[300];
    int fd = -1;
    static const unsigned char cc[] = {0x05, 0x04};
    snprintf(sub, sizeof sub, "%s/coll", dir);
    ok(mkdir(sub, 0700) == 0, "collection dir");
    write_file("coll/tktABC", cc, sizeof cc, 0600);
    write_file("coll/primary", "tktABC\n", 7, 0600);
    snprintf(name, sizeof name, "DIR:%s", sub);
    is_int(open_as_me(name, &fd), 0, "DIR: opens the primary cache");
    if (fd >= 0)
        close(fd);
    write_file("coll/primary", "../good\n", 8, 0600);
    is_int(open_as_me(name, &fd), -EBADMSG, "primary naming another directory is refused");
}

TEST(permissions_decide) {
    char name[300];
    int fd = -1;
    static const unsigned char cc[] = {0x05, 0x04};
    AeError err = {0};
    write_file("rootonly", cc, sizeof cc, 0640);
    snprintf(name, sizeof name, "FILE:%s/rootonly", dir);
    /* nobody cannot read a 0640 file of ours: as root the kernel says
     * EACCES (fsuid, and root's groups dropped); otherwise we cannot even
     * switch, and the call says so instead of reading it as us. */
    int r = pam_ae_open_ccache_as(name, "nobody", 65534, 65534, &fd, &err);
    is_int(r, geteuid() == 0 ? -EACCES : -EPERM, "another user's file is refused");
    ok(fd == -1, "no fd");
    ok(strstr(err.message, "rootonly") || geteuid() != 0, "the message names the cache");
    is_int((int)setfsuid((uid_t)-1), (int)geteuid(), "fsuid restored");
}

TEST(cleanup) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    is_int(system(cmd), 0, "removed");
}

int main(void) { return tap_run(); }
