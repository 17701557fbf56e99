/* Small helpers shared by every module: cleanup attributes and secret wiping. */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) {
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Hand ownership to the caller: *ret = p; p = NULL; */
#define TAKE_PTR(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })
#define TAKE_FD(fd) ({ int _t = (fd); (fd) = -1; _t; })

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static inline int streq(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* Wipe then free a string that held a secret (challenge, PIN). */
static inline void secret_free(char *s) {
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}
static inline void secret_freep(char **s) { secret_free(*s); }
#define _cleanup_secret_ _cleanup_(secret_freep)
