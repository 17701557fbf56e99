/* PIN sources: files and systemd credentials, checked before they are read. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/fileio.h"
#include "daemon/util.h"
#include "pkcs11/pin.h"

static int pin_path(const char *source, AeError *err, char **ret) {
    char *p = NULL;

    if (strncmp(source, "file:", 5) == 0) {
        const char *s = source + 5;
        /* file:///path is the same as file:/path */
        if (strncmp(s, "//", 2) == 0)
            s += 2;
        if (s[0] != '/')
            return ae_error_set(err, -EINVAL, AE_ERR_TOKEN,
                                "PIN source file: needs an absolute path");
        p = strdup(s);
    } else if (source[0] == '/') {
        p = strdup(source);
    } else if (strncmp(source, "cred:", 5) == 0) {
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        const char *name = source + 5;
        if (!dir || !*dir)
            return ae_error_set(err, -ENOENT, AE_ERR_TOKEN,
                                "PIN source %s: CREDENTIALS_DIRECTORY is not set "
                                "(use LoadCredential= in the unit)",
                                source);
        if (!*name || strchr(name, '/') || streq(name, ".") || streq(name, ".."))
            return ae_error_set(err, -EINVAL, AE_ERR_TOKEN, "PIN source: bad credential name");
        if (asprintf(&p, "%s/%s", dir, name) < 0)
            p = NULL;
    } else {
        return ae_error_set(err, -EINVAL, AE_ERR_TOKEN,
                            "PIN source must be file:/path, /path or cred:NAME");
    }
    if (!p)
        return ae_error_set(err, -ENOMEM, AE_ERR_TOKEN, "out of memory");
    *ret = p;
    return 0;
}

int pin_read_source(const char *source, AeError *err, char **ret_pin) {
    _cleanup_free_ char *path = NULL;
    _cleanup_close_ int fd = -1;
    _cleanup_secret_ char *data = NULL;
    size_t len = 0;
    struct stat st;
    int r;

    r = pin_path(source, err, &path);
    if (r < 0)
        return r;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0)
        return ae_error_set(err, -errno, AE_ERR_TOKEN, "PIN file %s: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0)
        return ae_error_set(err, -errno, AE_ERR_TOKEN, "PIN file %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ae_error_set(err, -EPERM, AE_ERR_TOKEN, "PIN file %s is not a regular file", path);
    if (st.st_uid != geteuid())
        return ae_error_set(err, -EPERM, AE_ERR_TOKEN,
                            "PIN file %s is owned by uid %u, not by this process's uid %u", path,
                            (unsigned)st.st_uid, (unsigned)geteuid());
    if (st.st_mode & 077)
        return ae_error_set(err, -EPERM, AE_ERR_TOKEN,
                            "PIN file %s is readable or writable by group/other (mode %04o): "
                            "chmod 600 it",
                            path, (unsigned)(st.st_mode & 07777));

    r = fileio_read_fd(fd, PIN_MAX, &data, &len);
    if (r == -EFBIG)
        return ae_error_set(err, r, AE_ERR_TOKEN, "PIN file %s is longer than %d bytes", path,
                            PIN_MAX);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_TOKEN, "PIN file %s: %s", path, strerror(-r));
    if (len > 0 && data[len - 1] == '\n')
        data[--len] = 0;
    if (len > 0 && data[len - 1] == '\r')
        data[--len] = 0;
    if (len == 0 || strlen(data) != len)
        return ae_error_set(err, -ENODATA, AE_ERR_TOKEN, "PIN file %s is empty or not text",
                            path);
    *ret_pin = TAKE_PTR(data);
    return 0;
}
