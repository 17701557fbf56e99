/* Atomic file writes and bounded reads. */
#include "daemon/fileio.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/util.h"

static int fsync_parent_dir(const char *path) {
    _cleanup_free_ char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    _cleanup_close_ int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    if (fsync(dfd) < 0)
        return -errno;
    return 0;
}

static int write_all(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
                        gid_t gid) {
    _cleanup_free_ char *tmp = NULL;
    _cleanup_close_ int fd = -1;
    int r;

    if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
        return -ENOMEM;
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;

    /* Set mode and owner before any byte lands, so a key is never readable by others. */
    if (fchmod(fd, mode) < 0) {
        r = -errno;
        goto fail;
    }
    if ((uid != FILEIO_KEEP_OWNER || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0) {
        r = -errno;
        goto fail;
    }
    r = write_all(fd, data, len);
    if (r < 0)
        goto fail;
    if (fsync(fd) < 0) {
        r = -errno;
        goto fail;
    }
    if (close(TAKE_FD(fd)) < 0) {
        r = -errno;
        goto fail;
    }
    if (rename(tmp, path) < 0) {
        r = -errno;
        goto fail;
    }
    return fsync_parent_dir(path);

fail:
    unlink(tmp);
    return r;
}

int fileio_read_fd(int fd, size_t max, char **ret_data, size_t *ret_len) {
    size_t cap = 4096, len = 0;
    _cleanup_free_ char *buf = malloc(cap + 1);
    if (!buf)
        return -ENOMEM;

    for (;;) {
        if (len == cap) {
            if (cap > max)
                return -EFBIG;
            cap *= 2;
            char *nbuf = realloc(buf, cap + 1);
            if (!nbuf)
                return -ENOMEM;
            buf = nbuf;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max)
            return -EFBIG;
    }
    buf[len] = '\0';
    *ret_data = TAKE_PTR(buf);
    if (ret_len)
        *ret_len = len;
    return 0;
}

int fileio_read(const char *path, size_t max, char **ret_data, size_t *ret_len) {
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    return fileio_read_fd(fd, max, ret_data, ret_len);
}

int fileio_mkdir_p(const char *path, mode_t mode) {
    _cleanup_free_ char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* NAME.tmp.XXXXXX, as mkostemp() makes it above. */
static int is_temp_name(const char *name, const char *prefix) {
    size_t n = strlen(name);
    if (n < 11 || strncmp(name + n - 11, ".tmp.", 5) != 0)
        return 0;
    if (!prefix)
        return 1;
    size_t p = strlen(prefix);
    return n == p + 11 && strncmp(name, prefix, p) == 0;
}

int fileio_remove_stale_temps(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    int removed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !is_temp_name(de->d_name, prefix))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

int fileio_copy_to_memfd(int fd, size_t max, const char *name, bool seal, int *ret_fd) {
    _cleanup_close_ int mfd = memfd_create(name, MFD_CLOEXEC | (seal ? MFD_ALLOW_SEALING : 0));
    char buf[16384];
    size_t off = 0;
    int r = 0;

    if (mfd < 0)
        return -errno;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof buf, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : 0;
            break;
        }
        if (off + (size_t)n > max) {
            r = -EFBIG;
            break;
        }
        for (ssize_t w = 0; w < n && r == 0;) {
            ssize_t k = write(mfd, buf + w, (size_t)(n - w));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                r = k < 0 ? -errno : -EIO;
            else
                w += k;
        }
        if (r < 0)
            break;
        off += (size_t)n;
    }
    explicit_bzero(buf, sizeof buf);
    if (r < 0)
        return r;
    if ((seal && fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) ||
        lseek(mfd, 0, SEEK_SET) < 0)
        return -errno;
    *ret_fd = TAKE_FD(mfd);
    return 0;
}
