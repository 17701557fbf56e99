/* Prometheus textfile (node_exporter's textfile collector), written atomically. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon/enroll.h"
#include "daemon/fileio.h"
#include "daemon/manager.h"
#include "daemon/schedule.h"

static void labels(FILE *f, const Request *r) {
    fprintf(f, "{id=\"%s\",kind=\"%s\",ca=\"%s\",uid=\"%u\"}", r->id,
            request_kind_to_string(r->kind), r->ca ? r->ca : "", (unsigned)r->uid);
}

int metrics_write(const Manager *m, uint64_t now) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return -ENOMEM;
    fprintf(f, "# HELP autoenroll_cert_not_after_seconds Expiry of the certificate in use.\n"
               "# TYPE autoenroll_cert_not_after_seconds gauge\n");
    for (size_t i = 0; i < m->n_requests; i++) {
        const Request *r = m->requests[i];
        if (r->not_after <= 0)
            continue;
        fprintf(f, "autoenroll_cert_not_after_seconds");
        labels(f, r);
        fprintf(f, " %lld\n", (long long)r->not_after);
    }
    fprintf(f, "# HELP autoenroll_cert_expiry_seconds Seconds until the certificate in use expires.\n"
               "# TYPE autoenroll_cert_expiry_seconds gauge\n");
    for (size_t i = 0; i < m->n_requests; i++) {
        const Request *r = m->requests[i];
        if (r->not_after <= 0)
            continue;
        fprintf(f, "autoenroll_cert_expiry_seconds");
        labels(f, r);
        fprintf(f, " %lld\n", (long long)r->not_after - (long long)(now / USEC_PER_SEC));
    }
    fprintf(f, "# HELP autoenroll_request_state Current state of each request (1 for the state it is in).\n"
               "# TYPE autoenroll_request_state gauge\n");
    for (size_t i = 0; i < m->n_requests; i++) {
        const Request *r = m->requests[i];
        fprintf(f, "autoenroll_request_state{id=\"%s\",state=\"%s\"} 1\n", r->id,
                request_state_to_string(r->state));
    }
    fprintf(f, "# HELP autoenroll_last_success_seconds When the request last got a certificate.\n"
               "# TYPE autoenroll_last_success_seconds gauge\n");
    for (size_t i = 0; i < m->n_requests; i++) {
        const Request *r = m->requests[i];
        fprintf(f, "autoenroll_last_success_seconds");
        labels(f, r);
        fprintf(f, " %lld\n", (long long)r->last_success);
    }
    fprintf(f, "# HELP autoenroll_consecutive_failures Failures since the last success.\n"
               "# TYPE autoenroll_consecutive_failures gauge\n");
    for (size_t i = 0; i < m->n_requests; i++) {
        const Request *r = m->requests[i];
        fprintf(f, "autoenroll_consecutive_failures");
        labels(f, r);
        fprintf(f, " %u\n", r->attempts);
    }
    fprintf(f, "# HELP autoenroll_last_error Last error category of requests that have one.\n"
               "# TYPE autoenroll_last_error gauge\n");
    for (size_t i = 0; i < m->n_requests; i++) {
        const Request *r = m->requests[i];
        if (r->error_category)
            fprintf(f, "autoenroll_last_error{id=\"%s\",category=\"%s\"} 1\n", r->id,
                    r->error_category);
    }
    fprintf(f, "# HELP autoenroll_submissions_in_flight SCEP submissions in flight.\n"
               "# TYPE autoenroll_submissions_in_flight gauge\n"
               "autoenroll_submissions_in_flight %u\n",
            enroller_in_flight(m->enroller));
    fprintf(f, "# HELP autoenroll_local_jobs_in_flight Key generations, saves and key removals running.\n"
               "# TYPE autoenroll_local_jobs_in_flight gauge\n"
               "autoenroll_local_jobs_in_flight %u\n",
            enroller_local_jobs(m->enroller));
    if (fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    int r = fileio_write_atomic(m->config->metrics_file, buf, len, 0644, FILEIO_KEEP_OWNER,
                                (gid_t)-1);
    free(buf);
    return r;
}
