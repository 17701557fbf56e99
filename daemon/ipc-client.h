/* The client side of autoenrolld's socket, shared by the CLI and the PAM module.
 *
 * Protocol: one JSON object per line each way over a Unix stream socket. The
 * client may attach one file descriptor (SCM_RIGHTS) to its request: a
 * Kerberos credential cache it opened itself, so the kernel, not a string,
 * decides whose tickets the daemon gets. The daemon authorises by the peer's
 * SO_PEERCRED uid. */
#pragma once

#include <json-c/json.h>

/* Replies can be large: `list` of 10,000 requests is about 7 MB. */
#define IPC_MAX_MESSAGE (64 * 1024 * 1024)

/* Send request (and fd_to_pass if >= 0), wait for one reply line until
 * timeout_ms has passed in total (connect, write, read). -ETIMEDOUT when the
 * daemon does not answer in time, -ENOENT/-ECONNREFUSED when it is not
 * running. Returns 0 or -errno. Never blocks past the bound. */
int ipc_call(const char *socket_path, json_object *request, int fd_to_pass, int timeout_ms,
             json_object **ret_reply);

/* Send one JSON line (with an optional fd) on a connected socket. */
int ipc_send(int fd, json_object *msg, int fd_to_pass);
