/* autoenrolld's listening socket on sd-event. */
#include "daemon/ipc.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/ipc-client.h"
#include "daemon/util.h"

#define IPC_REQUEST_MAX (64 * 1024)
/* Clients first: a login waits with a bound of 1 s, the daemon's own work
 * (timers, finished jobs, network) can wait for the answers. */
#define IPC_PRIORITY SD_EVENT_PRIORITY_IMPORTANT
#define IPC_IDLE_USEC (30ULL * 1000000) /* a client that says nothing is dropped */

struct IpcServer {
    sd_event *event;
    sd_event_source *listen_source;
    int listen_fd;
    char *path;
    ipc_handler_fn handler;
    ipc_gone_fn gone;
    void *userdata;
    IpcConn *conns;
};

struct IpcConn {
    IpcServer *server;
    IpcConn *next, *prev;
    int fd;
    sd_event_source *io;
    sd_event_source *idle;
    char *buf;
    size_t used;
    int passed_fd;
    bool dispatched;
    bool sending; /* reply being written: no more reads */
    char *out;
    size_t out_len, out_done;
    void *userdata;
};

static void conn_free(IpcConn *c, bool notify) {
    IpcServer *s = c->server;
    if (notify && c->dispatched && !c->out && s->gone)
        s->gone(c, s->userdata);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    sd_event_source_disable_unref(c->io);
    sd_event_source_disable_unref(c->idle);
    if (c->passed_fd >= 0)
        close(c->passed_fd);
    close(c->fd);
    free(c->buf);
    free(c->out);
    free(c);
}

static int conn_write(IpcConn *c) {
    while (c->out_done < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_done, c->out_len - c->out_done,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            return -errno;
        }
        c->out_done += (size_t)n;
    }
    return 1; /* all sent */
}

static void conn_dispatch(IpcConn *c, char *line) {
    IpcServer *s = c->server;
    struct ucred cred;
    socklen_t cl = sizeof cred;
    json_object *msg = json_tokener_parse(line);
    if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
        json_object_put(msg);
        json_object *e = ipc_error_reply("internal", "cannot read peer credentials");
        ipc_conn_reply(c, e);
        json_object_put(e);
        return;
    }
    c->dispatched = true;
    if (!msg || !json_object_is_type(msg, json_type_object)) {
        json_object_put(msg);
        json_object *e = ipc_error_reply("usage", "request is not a JSON object");
        ipc_conn_reply(c, e);
        json_object_put(e);
        return;
    }
    int fd = c->passed_fd;
    c->passed_fd = -1;
    s->handler(c, msg, cred.uid, cred.pid, fd, s->userdata);
    json_object_put(msg);
}

static int on_conn_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
    IpcConn *c = userdata;
    if (c->sending) {
        int r = conn_write(c);
        if (r != 0)
            conn_free(c, false);
        return 0;
    }
    if (c->dispatched) {
        /* Waiting for the manager: only notice a hang-up. */
        char b[256];
        ssize_t n = recv(fd, b, sizeof b, MSG_DONTWAIT); /* extra bytes are ignored */
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
            (revents & (EPOLLHUP | EPOLLERR)))
            conn_free(c, true);
        return 0;
    }

    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = c->buf + c->used, .iov_len = IPC_REQUEST_MAX - c->used};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                        .msg_controllen = sizeof control.buf};
    ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return 0;
        conn_free(c, false);
        return 0;
    }
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            size_t nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < nfds; i++) {
                int pfd;
                memcpy(&pfd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                if (c->passed_fd < 0)
                    c->passed_fd = pfd;
                else
                    close(pfd); /* one fd per request */
            }
        }
    }
    if (n == 0) {
        conn_free(c, false);
        return 0;
    }
    c->used += (size_t)n;
    char *nl = memchr(c->buf, '\n', c->used);
    if (nl) {
        *nl = '\0';
        conn_dispatch(c, c->buf);
    } else if (c->used >= IPC_REQUEST_MAX) {
        json_object *e = ipc_error_reply("usage", "request too large");
        c->dispatched = true;
        ipc_conn_reply(c, e);
        json_object_put(e);
    }
    return 0;
}

static int on_conn_idle(sd_event_source *es, uint64_t usec, void *userdata) {
    IpcConn *c = userdata;
    if (!c->dispatched)
        conn_free(c, false);
    return 0;
}

static int on_accept(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
    IpcServer *s = userdata;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (cfd < 0)
        return 0;
    IpcConn *c = calloc(1, sizeof *c);
    if (!c || !(c->buf = malloc(IPC_REQUEST_MAX + 1))) {
        free(c);
        close(cfd);
        return 0;
    }
    c->server = s;
    c->fd = cfd;
    c->passed_fd = -1;
    if (sd_event_add_io(s->event, &c->io, cfd, EPOLLIN | EPOLLRDHUP, on_conn_io, c) < 0 ||
        sd_event_source_set_priority(c->io, IPC_PRIORITY) < 0 ||
        sd_event_add_time_relative(s->event, &c->idle, CLOCK_MONOTONIC, IPC_IDLE_USEC, 0,
                                   on_conn_idle, c) < 0) {
        sd_event_source_unref(c->io);
        free(c->buf);
        free(c);
        close(cfd);
        return 0;
    }
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    return 0;
}

int ipc_server_new(sd_event *e, const char *path, int listen_fd, ipc_handler_fn handler,
                   ipc_gone_fn gone, void *userdata, IpcServer **ret) {
    IpcServer *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->event = sd_event_ref(e);
    s->handler = handler;
    s->gone = gone;
    s->userdata = userdata;
    s->listen_fd = listen_fd;
    int r;
    if (s->listen_fd < 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof sa.sun_path) {
            r = -ENAMETOOLONG;
            goto fail;
        }
        strcpy(sa.sun_path, path);
        s->path = strdup(path);
        s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (!s->path || s->listen_fd < 0) {
            r = s->path ? -errno : -ENOMEM;
            goto fail;
        }
        unlink(path);
        if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, 0666) < 0 ||
            listen(s->listen_fd, SOMAXCONN) < 0) { /* a login burst waits, not fails */
            r = -errno;
            goto fail;
        }
    }
    r = sd_event_add_io(e, &s->listen_source, s->listen_fd, EPOLLIN, on_accept, s);
    if (r >= 0)
        r = sd_event_source_set_priority(s->listen_source, IPC_PRIORITY);
    if (r < 0)
        goto fail;
    *ret = s;
    return 0;
fail:
    ipc_server_free(s);
    return r;
}

void ipc_server_free(IpcServer *s) {
    if (!s)
        return;
    while (s->conns)
        conn_free(s->conns, false);
    sd_event_source_disable_unref(s->listen_source);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->path)
        unlink(s->path);
    free(s->path);
    sd_event_unref(s->event);
    free(s);
}

int ipc_conn_reply(IpcConn *c, json_object *msg) {
    size_t len;
    const char *text = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);
    free(c->out);
    c->out = malloc(len + 1);
    if (!c->out) {
        conn_free(c, false);
        return -ENOMEM;
    }
    memcpy(c->out, text, len);
    c->out[len] = '\n';
    c->out_len = len + 1;
    c->out_done = 0;
    c->sending = true;
    int r = conn_write(c);
    if (r != 0) {
        conn_free(c, false);
        return r < 0 ? r : 0;
    }
    sd_event_source_set_io_events(c->io, EPOLLOUT);
    return 0;
}

void ipc_conn_set_userdata(IpcConn *c, void *p) { c->userdata = p; }
void *ipc_conn_get_userdata(IpcConn *c) { return c->userdata; }

json_object *ipc_error_reply(const char *category, const char *message) {
    json_object *o = json_object_new_object();
    json_object *e = json_object_new_object();
    json_object_object_add(e, "category", json_object_new_string(category));
    json_object_object_add(e, "message", json_object_new_string(message));
    json_object_object_add(o, "ok", json_object_new_boolean(0));
    json_object_object_add(o, "error", e);
    return o;
}

json_object *ipc_ok_reply(void) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ok", json_object_new_boolean(1));
    return o;
}
