/* Thread + eventfd jobs on sd-event: see worker.h. */
#include "daemon/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon/util.h"

struct WorkerJob {
    WorkerFn fn;
    void *arg;
    WorkerDone done;
    void *userdata;
    void (*free_result)(void *result);
    bool cancelled;
    void *result;
    int efd;
    pthread_t thread;
    sd_event_source *source;
};

static atomic_uint jobs_running;

unsigned worker_running(void) { return atomic_load(&jobs_running); }

static void job_free(WorkerJob *j) {
    if (!j)
        return;
    sd_event_source_disable_unref(j->source);
    if (j->efd >= 0)
        close(j->efd);
    free(j);
}

/* Jobs are bulk work (RSA key generation is ~0.3 s of CPU); the loop thread
 * answers logins with a bound of 1 s. A nicer job thread keeps a burst of
 * key generations from starving the loop on a small machine. Best effort. */
#define WORKER_NICE_INCREMENT 10

static void *job_thread(void *p) {
    WorkerJob *j = p;
    uint64_t one = 1;
    errno = 0;
    int prio = getpriority(PRIO_PROCESS, (id_t)gettid());
    if (errno == 0)
        (void)setpriority(PRIO_PROCESS, (id_t)gettid(),
                          prio + WORKER_NICE_INCREMENT > 19 ? 19 : prio + WORKER_NICE_INCREMENT);
    j->result = j->fn(j->arg);
    /* The write publishes j->result to the loop thread (eventfd is a
     * syscall: a full barrier). Retry on EINTR; nothing else can fail. */
    while (write(j->efd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    return NULL;
}

static int job_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
    WorkerJob *j = userdata;
    uint64_t v;
    if (read(fd, &v, sizeof v) < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    pthread_join(j->thread, NULL);
    atomic_fetch_sub(&jobs_running, 1);
    if (j->cancelled) {
        if (j->free_result)
            j->free_result(j->result);
    } else
        j->done(j->result, j->userdata);
    job_free(j);
    return 0;
}

int worker_run(sd_event *e, WorkerFn fn, void *arg, WorkerDone done, void *userdata,
               WorkerJob **ret_job) {
    WorkerJob *j;
    int r;

    if (!e || !fn || !done)
        return -EINVAL;
    if (atomic_fetch_add(&jobs_running, 1) >= WORKER_MAX_JOBS) {
        atomic_fetch_sub(&jobs_running, 1);
        return -EAGAIN;
    }
    j = calloc(1, sizeof *j);
    if (!j) {
        r = -ENOMEM;
        goto fail;
    }
    j->fn = fn;
    j->arg = arg;
    j->done = done;
    j->userdata = userdata;
    j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (j->efd < 0) {
        r = -errno;
        goto fail;
    }
    r = sd_event_add_io(e, &j->source, j->efd, EPOLLIN, job_ready, j);
    if (r < 0)
        goto fail;
    (void)sd_event_source_set_description(j->source, "worker-job");
    r = -pthread_create(&j->thread, NULL, job_thread, j);
    if (r < 0)
        goto fail;
    if (ret_job)
        *ret_job = j;
    return 0;
fail:
    job_free(j);
    atomic_fetch_sub(&jobs_running, 1);
    return r;
}

void worker_job_cancel(WorkerJob *job, void (*free_result)(void *result)) {
    if (!job)
        return;
    job->cancelled = true;
    job->free_result = free_result;
}
