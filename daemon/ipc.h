/* autoenrolld's listening socket on sd-event: one JSON request per connection,
 * peer credentials from the kernel (SO_PEERCRED), at most one passed fd. */
#pragma once

#include <json-c/json.h>
#include <systemd/sd-event.h>
#include <sys/types.h>

typedef struct IpcServer IpcServer;
typedef struct IpcConn IpcConn;

/* Called once per request. The handler owns nothing it does not ref; it must
 * eventually call ipc_conn_reply() (now or later, e.g. for --wait). passed_fd
 * is -1 or an fd the handler must close or keep. */
typedef void (*ipc_handler_fn)(IpcConn *c, json_object *msg, uid_t peer_uid, pid_t peer_pid,
                               int passed_fd, void *userdata);
/* Called when a connection goes away before it was answered. */
typedef void (*ipc_gone_fn)(IpcConn *c, void *userdata);

/* Listen on path (mode 0666: authorisation is per request), or adopt a socket
 * passed by systemd socket activation when listen_fd >= 0. */
int ipc_server_new(sd_event *e, const char *path, int listen_fd, ipc_handler_fn handler,
                   ipc_gone_fn gone, void *userdata, IpcServer **ret);
void ipc_server_free(IpcServer *s);

/* Send the reply (takes a reference to msg) and close the connection. */
int ipc_conn_reply(IpcConn *c, json_object *msg);
void ipc_conn_set_userdata(IpcConn *c, void *p);
void *ipc_conn_get_userdata(IpcConn *c);

/* Helpers for replies. */
json_object *ipc_error_reply(const char *category, const char *message);
json_object *ipc_ok_reply(void);
