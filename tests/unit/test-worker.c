/* Unit tests for daemon/worker.c: many blocking jobs, results back on the loop. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "daemon/worker.h"
#include "tests/unit/tap.h"

static void *slow_square(void *arg) {
    intptr_t v = (intptr_t)arg;
    usleep((useconds_t)(20000 + (v % 7) * 3000)); /* blocking on purpose */
    return (void *)(v * v);
}

struct state {
    int done;
    long long sum;
    int order_ok;
    sd_event *e;
    int want;
};

static void on_done(void *result, void *userdata) {
    struct state *s = userdata;
    s->sum += (intptr_t)result;
    if (++s->done == s->want)
        sd_event_exit(s->e, 0);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

TEST(many_jobs) {
    sd_event *e = NULL;
    struct state s = {0};
    long long want = 0;
    is_int(sd_event_new(&e), 0, "event loop");
    s.e = e;
    s.want = 40;
    double t0 = now_s();
    int started = 0;
    for (intptr_t i = 1; i <= s.want; i++) {
        if (worker_run(e, slow_square, (void *)i, on_done, &s, NULL) == 0)
            started++;
        want += (long long)i * i;
    }
    is_int(started, s.want, "all jobs started");
    is_int(sd_event_loop(e), 0, "loop ran until all were done");
    is_int(s.done, s.want, "every done() called once");
    is_int(s.sum, want, "results come back intact");
    ok(now_s() - t0 < 0.5, "jobs ran in parallel (%.2fs for 40 x ~30ms)", now_s() - t0);
    is_int(worker_running(), 0, "no job left running");
    sd_event_unref(e);
}

static int freed;
static void count_free(void *r) { freed += (int)(intptr_t)r; }
static void must_not_run(void *result, void *userdata) { *(int *)userdata = 1; }
static int quit(sd_event_source *s, uint64_t usec, void *userdata) {
    return sd_event_exit(sd_event_source_get_event(s), 0);
}

TEST(cancel) {
    sd_event *e = NULL;
    WorkerJob *job = NULL;
    int called = 0;
    sd_event_new(&e);
    is_int(worker_run(e, slow_square, (void *)3, must_not_run, &called, &job), 0, "job started");
    worker_job_cancel(job, count_free);
    sd_event_add_time_relative(e, NULL, CLOCK_MONOTONIC, 200000, 0, quit, NULL);
    sd_event_loop(e);
    is_int(called, 0, "done() not called after cancel");
    is_int(freed, 9, "result handed to free_result");
    sd_event_unref(e);
}

TEST(limit) {
    sd_event *e = NULL;
    struct state s = {0};
    int r = 0, n = 0;
    sd_event_new(&e);
    s.e = e;
    for (; n < WORKER_MAX_JOBS + 1; n++) {
        r = worker_run(e, slow_square, (void *)1, on_done, &s, NULL);
        if (r < 0)
            break;
    }
    is_int(r, -EAGAIN, "job beyond the limit refused");
    is_int(n, WORKER_MAX_JOBS, "limit is WORKER_MAX_JOBS");
    s.want = n;
    sd_event_loop(e);
    is_int(s.done, n, "the accepted ones all finished");
    is_int(worker_run(e, NULL, NULL, on_done, &s, NULL), -EINVAL, "NULL fn refused");
    sd_event_unref(e);
}

int main(void) { return tap_run(); }
