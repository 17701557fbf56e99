/* The client side of autoenrolld's socket. */
#include "daemon/ipc-client.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/util.h"

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short events, long long deadline) {
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n > 0)
            return 0;
    }
}

static int send_all(int fd, const char *buf, size_t len, int fd_to_pass, long long deadline) {
    bool fd_sent = fd_to_pass < 0;
    while (len > 0) {
        int r = wait_fd(fd, POLLOUT, deadline);
        if (r < 0)
            return r;
        struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } control;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (!fd_sent) {
            memset(&control, 0, sizeof control);
            mh.msg_control = control.buf;
            mh.msg_controllen = sizeof control.buf;
            struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &fd_to_pass, sizeof(int));
        }
        ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -errno;
        }
        fd_sent = true;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One message on the wire: its JSON on one line. */
static int send_message(int fd, json_object *msg, int fd_to_pass, long long deadline) {
    size_t len;
    const char *text = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);
    _cleanup_free_ char *line = malloc(len + 2);
    if (!line)
        return -ENOMEM;
    memcpy(line, text, len);
    line[len] = '\n';
    return send_all(fd, line, len + 1, fd_to_pass, deadline);
}

int ipc_send(int fd, json_object *msg, int fd_to_pass) {
    return send_message(fd, msg, fd_to_pass, now_ms() + 10000);
}

int ipc_call(const char *socket_path, json_object *request, int fd_to_pass, int timeout_ms,
             json_object **ret_reply) {
    long long deadline = now_ms() + timeout_ms;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(socket_path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, socket_path);

    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    /* On a Unix socket EAGAIN means the daemon's listen queue is full (a burst
     * of logins): try again until the deadline rather than fail. */
    while (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            if (now_ms() >= deadline)
                return -ETIMEDOUT;
            struct timespec pause = {.tv_nsec = 5 * 1000 * 1000};
            nanosleep(&pause, NULL);
            continue;
        }
        if (errno != EINPROGRESS)
            return -errno;
        int r = wait_fd(fd, POLLOUT, deadline);
        if (r < 0)
            return r;
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err)
            return -(err ? err : errno);
        break;
    }

    int r = send_message(fd, request, fd_to_pass, deadline);
    if (r < 0)
        return r;

    size_t cap = 8192, used = 0;
    _cleanup_free_ char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        r = wait_fd(fd, POLLIN, deadline);
        if (r < 0)
            return r;
        if (used + 1 >= cap) {
            if (cap >= IPC_MAX_MESSAGE)
                return -EMSGSIZE;
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                return -ENOMEM;
            buf = nb;
        }
        ssize_t n = recv(fd, buf + used, cap - used - 1, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -errno;
        }
        if (n == 0)
            return -ECONNRESET;
        used += (size_t)n;
        char *nl = memchr(buf, '\n', used);
        if (nl) {
            *nl = '\0';
            json_object *reply = json_tokener_parse(buf);
            if (!reply || !json_object_is_type(reply, json_type_object)) {
                json_object_put(reply);
                return -EBADMSG;
            }
            *ret_reply = reply;
            return 0;
        }
    }
}
