/* Atomic file writes and bounded reads. */
#pragma once

#include <stdbool.h>

#include <stddef.h>
#include <sys/types.h>

/* Leave uid/gid as they are (the writer's). */
#define FILEIO_KEEP_OWNER ((uid_t)-1)

/* Write data to path atomically: a temp file in the same directory, fsync,
 * fchown/fchmod, rename over path, fsync the directory. Readers see the old
 * or the new content, never a mix, also after a crash. Returns 0 or -errno. */
int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
                        gid_t gid);

/* Read at most max bytes of path; a longer file is -EFBIG. The buffer is
 * NUL-terminated (not counted in *ret_len). Returns 0 or -errno. */
int fileio_read(const char *path, size_t max, char **ret_data, size_t *ret_len);

/* Same from an open file descriptor (read from its current offset). */
int fileio_read_fd(int fd, size_t max, char **ret_data, size_t *ret_len);

/* mkdir -p with the given mode for directories it creates. Returns 0 or -errno. */
int fileio_mkdir_p(const char *path, mode_t mode);

/* Remove what an interrupted fileio_write_atomic() left in dir: files named
 * <prefix>.tmp.XXXXXX (any name when prefix is NULL). A crash between the
 * temp file and the rename leaves one; it may hold a private key copy.
 * Returns the number removed, or -errno. */
int fileio_remove_stale_temps(const char *dir, const char *prefix);

/* A private in-memory copy (memfd, close-on-exec, at offset 0) of what fd
 * holds from offset 0, at most max bytes (-EFBIG beyond). With seal, the copy
 * can no longer change. The copy buffer is wiped: this carries tickets. */
int fileio_copy_to_memfd(int fd, size_t max, const char *name, bool seal, int *ret_fd);
