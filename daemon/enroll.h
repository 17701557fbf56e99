/* The enrollment engine: runs one step of a request's state machine at a time,
 * asynchronously (network through the loop, blocking work on worker threads),
 * and reports back through manager_request_changed(). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "daemon/error.h"
#include "daemon/manager.h"

int enroller_new(Manager *m, Enroller **ret);
void enroller_free(Enroller *e);

/* A step for r is in flight. */
bool enroller_busy(const Enroller *e, const Request *r);
/* The daemon-wide and per-CA caps allow r to start a network step now. */
bool enroller_can_start(const Enroller *e, const Request *r);
/* When the CA's requests-per-minute cap lets r start again (0: now). */
uint64_t enroller_rate_free_at(const Enroller *e, const Request *r);
/* Start the step r's state calls for. Returns 0 (started, or nothing to do) or -errno. */
int enroller_start(Enroller *e, Request *r);
/* Shutting down: drop network calls now; worker threads finish and their
 * results are discarded. */
void enroller_stop(Enroller *e);
/* The request is going away: drop its work (results are discarded). */
void enroller_forget(Enroller *e, const Request *r);

/* A user's Kerberos credentials, handed over as an open ccache fd by the PAM
 * module or the CLI; checked against uid (the kernel's word for the peer). */
int enroller_set_user_creds(Enroller *e, uid_t uid, int ccache_fd, char **ret_principal,
                            AeError *err);
bool enroller_has_user_creds(const Enroller *e, uid_t uid);
/* Submissions in flight now (for tests and metrics). */
unsigned enroller_in_flight(const Enroller *e);
/* Key generations, saves and key removals on worker threads (at most 8). */
unsigned enroller_local_jobs(const Enroller *e);
