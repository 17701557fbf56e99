/* Shared between enroll.c (jobs, key generation, saving) and enroll-submit.c
 * (the SCEP round trip). Not for other modules. */
#pragma once

#include <openssl/x509.h>

#include "daemon/enroll.h"
#include "daemon/http.h"
#include "daemon/worker.h"

typedef struct KrbCreds KrbCreds;
typedef struct ScepCA ScepCA;
typedef struct ScepTransaction ScepTransaction;

typedef struct UserCreds {
    struct UserCreds *next;
    uid_t uid;
    KrbCreds *creds;
} UserCreds;

typedef struct Job Job;

/* Submissions started for a CA in the last minute (max_per_minute). */
#define RATE_SLOTS 1024
typedef struct CaRate {
    struct CaRate *next;
    char *ca;
    uint64_t started[RATE_SLOTS]; /* ring of start times, CLOCK_REALTIME usec */
    unsigned head, count;
} CaRate;

/* An NDES server that failed is skipped until down_until (CLOCK_REALTIME usec). */
typedef struct ServerHealth {
    struct ServerHealth *next;
    char *url;
    uint64_t down_until;
} ServerHealth;

struct Enroller {
    Manager *m;
    Http *http;
    Job *jobs;
    unsigned submitting;     /* network steps in flight, daemon-wide */
    UserCreds *users;
    ServerHealth *servers;
    CaRate *rates;
    KrbCreds *machine_creds; /* from the keytab, renewed before expiry */
    char *machine_creds_key; /* keytab + principal they came from */
};

typedef enum JobKind { JOB_KEYGEN, JOB_SUBMIT, JOB_SAVE } JobKind;

struct Job {
    Job *next;
    Enroller *e;
    Request *r;            /* NULL once the request is gone: results are dropped */
    JobKind kind;
    bool counted;          /* holds a submission slot */
    WorkerJob *worker;
    HttpCall *call;
    struct NdesOp *ndes_op;

    /* The SCEP round trip (enroll-submit.c). */
    const CaConfig *ca;
    unsigned server;       /* index into ca->servers */
    unsigned order[CONFIG_MAX_SERVERS]; /* the order to try them in */
    unsigned n_order, tried;
    unsigned caps;
    ScepCA *scep_ca;
    char *challenge;       /* secret: wiped on free */
    KrbCreds *creds;       /* borrowed */
    /* "Authorization: Negotiate <token>" headers for mscep.dll when the CA wants
     * them: one per request (GetCACaps, GetCACert, PKIOperation), since a
     * Kerberos authenticator may be used once only. */
#define NEGOTIATE_TOKENS 3
    char *negotiate[NEGOTIATE_TOKENS];
    unsigned negotiate_used;
    struct SubmitJob *submit;
    void (*free_result)(void *result); /* for a cancelled worker's result */
};

/* enroll.c */
void job_finish(Job *j);
void job_fail(Job *j, const AeError *err);
unsigned ca_submitting(const Enroller *e, const char *ca);

/* enroll-submit.c */
int submit_start(Job *j);
void submit_job_clear(Job *j);
