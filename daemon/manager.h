/* The daemon's Manager: the event loop, the config, the tracked requests, the
 * one timer to the next due action, the IPC server and the work in flight. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "daemon/config.h"
#include "daemon/ipc.h"
#include "daemon/request.h"
#include "daemon/store.h"

typedef struct Enroller Enroller;
typedef struct Waiter Waiter;

typedef struct Manager {
    sd_event *event;
    Config *config;
    Store *store;
    IpcServer *ipc;
    Enroller *enroller;
    sd_event_source *timer;      /* armed to the earliest due action, or off */
    sd_event_source *sigterm, *sigint;
    Request **requests;
    size_t n_requests;
    Waiter *waiters;             /* `request --wait` connections */
    uint64_t next_check;         /* CLOCK_REALTIME usec of the next full check */
    char *fqdn, *short_hostname;
    bool ready;
    bool stopping;               /* SIGTERM: waiting for worker threads, then exit */
    sd_event_source *stop_tick;
    sd_event_source *metrics_defer;
    sd_event_source *save_defer; /* unsaved requests, written when the loop is idle */
    uint64_t stop_deadline;      /* CLOCK_MONOTONIC usec */
} Manager;

typedef struct ManagerOptions {
    const char *config_path;
    const char *conf_d;
    const char *socket_path;     /* overrides the config */
    int listen_fd;               /* socket activation, or -1 */
} ManagerOptions;

int manager_new(const ManagerOptions *o, AeError *err, Manager **ret);
void manager_free(Manager *m);
/* Load state, create machine requests from config, start listening, arm the timer. */
int manager_start(Manager *m, AeError *err);

Request *manager_find(Manager *m, const char *id);
/* Add a request built from a profile (templates expanded). Saved at once. */
int manager_add_from_profile(Manager *m, const Profile *p, uid_t uid, const char *user,
                             const char *principal, AeError *err, Request **ret);
int manager_remove(Manager *m, Request *r);
/* (Re)compute subject, SANs and paths from the profile; -ENOENT when a
 * template variable has no value yet (a user's principal before a login). */
int manager_expand_profile(Manager *m, Request *r, const Profile *p, AeError *err);

/* The request changed: save it, wake waiters, update metrics, re-arm the timer. */
void manager_request_changed(Manager *m, Request *r);
/* The same, but the state file is written once the loop is idle, so that a
 * burst of logins is answered first. Only for changes a crash may lose: a new
 * request from a login or a principal it brings (the next login redoes them). */
void manager_request_changed_soon(Manager *m, Request *r);
/* Write every unsaved request now (shutdown). */
void manager_save_pending(Manager *m);
/* Make a request due now (renew, login, new credentials). */
void manager_kick(Manager *m, Request *r);
void manager_reschedule(Manager *m);

/* IPC handlers (manager-ipc.c). */
void manager_ipc_handle(IpcConn *c, json_object *msg, uid_t peer_uid, pid_t peer_pid,
                        int passed_fd, void *userdata);
void manager_ipc_gone(IpcConn *c, void *userdata);
/* The connections are gone (shutdown): forget who was waiting. */
void manager_drop_waiters(Manager *m);
/* Answer waiters of r if it reached a final state for this round. */
void manager_wake_waiters(Manager *m, Request *r);

/* Metrics textfile (metrics.c). */
int metrics_write(const Manager *m, uint64_t now);

uint64_t now_realtime_usec(void);
double random_unit(void);
