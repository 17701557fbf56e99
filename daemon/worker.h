/* Run a blocking function on a thread and get its result back on an sd-event
 * loop: keytab -> TGT, GSS token creation, token key generation.
 *
 * Each job gets its own thread (at most WORKER_MAX_JOBS at once per process)
 * and an eventfd the loop watches; done() runs on the loop thread with the
 * value fn() returned. fn() must not touch the loop. */
#pragma once

#include <systemd/sd-event.h>

#define WORKER_MAX_JOBS 64

typedef void *(*WorkerFn)(void *arg);
typedef void (*WorkerDone)(void *result, void *userdata);

typedef struct WorkerJob WorkerJob;

/* Start fn(arg) on a thread; done(result, userdata) is called later from e.
 * When ret_job is given, the job can be cancelled with worker_job_cancel()
 * until done() has run. Returns 0, -EAGAIN (too many jobs) or -errno. */
int worker_run(sd_event *e, WorkerFn fn, void *arg, WorkerDone done, void *userdata,
               WorkerJob **ret_job);

/* Do not call done(); when fn() returns, its result is passed to
 * free_result (may be NULL) on the loop. The thread itself cannot be
 * interrupted: it finishes in the background. */
void worker_job_cancel(WorkerJob *job, void (*free_result)(void *result));

/* Jobs currently running in this process (for tests and shutdown). */
unsigned worker_running(void);
