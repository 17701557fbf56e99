/* Walk the chain for one CA target and report each step: name resolution,
 * keytab + principal (or the user's cache), KDC + TGT, service ticket for
 * HTTP/<host>, the mscep_admin page (challenge found, never shown),
 * GetCACaps, GetCACert (certificates, RA certs, expiry), clock skew against
 * the server's Date header. Blocking: for the CLI, not the daemon loop. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "daemon/error.h"

typedef enum DiagStatus { DIAG_OK, DIAG_WARN, DIAG_FAIL, DIAG_SKIP } DiagStatus;

typedef struct DiagStep {
    char *name;   /* stable word: resolve, keytab, kdc, service-ticket, ... */
    DiagStatus status;
    char *detail; /* one line for a person; never a secret */
} DiagStep;

typedef struct DiagReport {
    DiagStep *steps;
    size_t n_steps;
} DiagReport;

typedef struct DiagTarget {
    const char *admin_url;       /* NULL: no mscep_admin (static/no challenge) */
    const char *scep_url;        /* .../certsrv/mscep/mscep.dll, or NULL */
    const char *keytab;          /* machine: NULL = /etc/krb5.keytab */
    const char *principal;       /* machine: NULL = the NAME$ entry */
    int ccache_fd;               /* user: >= 0 to use this cache instead */
    uid_t uid;                   /* user: the uid the cache must belong to */
    const char *cafile;          /* https trust anchors */
    bool scep_negotiate;         /* mscep.dll needs Negotiate too */
    unsigned timeout_ms;         /* per HTTP request; 0: 15 s */
    long max_skew;               /* seconds; 0: NDES_MAX_CLOCK_SKEW (300) */
} DiagTarget;

/* Run every step (later steps are skipped when what they need failed).
 * Returns 0 when the report was produced (check diagnose_ok()), -ENOMEM. */
int diagnose_run(const DiagTarget *t, DiagReport *ret);

bool diagnose_ok(const DiagReport *r); /* no step failed */
void diagnose_report_clear(DiagReport *r);
const char *diag_status_to_string(DiagStatus s);

/* Renderers: malloc'd strings. */
char *diagnose_to_text(const DiagReport *r);
char *diagnose_to_json(const DiagReport *r);
