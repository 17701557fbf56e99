/* Getting a one-time challenge from NDES, asynchronously, on sd-event.
 *
 * GET the admin URL; on 401 offering Negotiate, build a SPNEGO token for
 * HTTP/<host of the admin URL> in a worker thread and retry once with it;
 * parse the page (daemon/challenge.h). HTTP answers a user of NDES meets are
 * mapped to errors with a hint. Other SCEP servers: a static challenge from
 * a root-only file, or none.
 *
 * The challenge is handed to the callback and never logged, stored or put in
 * an error message. */
#pragma once

#include <systemd/sd-event.h>

#include "daemon/error.h"
#include "daemon/http.h"
#include "daemon/krb.h"

typedef enum NdesChallengeMode {
    NDES_CHALLENGE_NEGOTIATE, /* /certsrv/mscep_admin/ behind Kerberos */
    NDES_CHALLENGE_STATIC,    /* a fixed challenge read from static_file */
    NDES_CHALLENGE_NONE,      /* the SCEP server wants none */
} NdesChallengeMode;

typedef struct NdesTarget {
    NdesChallengeMode mode;
    const char *admin_url;        /* NEGOTIATE: .../certsrv/mscep_admin/ */
    const char *static_file;      /* STATIC: mode 0600/0400, one line */
    const char *cafile;           /* https trust anchors, or NULL */
    const char *const *resolve;   /* curl resolve list (tests), or NULL */
    unsigned timeout_ms;          /* per HTTP request; 0: default */
} NdesTarget;

/* r == 0: challenge is the caller's (free with secret_free(); NULL in NONE
 * mode). r < 0: err says why (categories ndes, kerberos, credentials,
 * network, config). */
typedef void (*NdesDone)(int r, char *challenge, const AeError *err, void *userdata);

typedef struct NdesOp NdesOp;

/* Start fetching. creds (may be NULL outside NEGOTIATE mode) gets a
 * reference for as long as the operation needs it. done() is always called
 * later from the loop, never from inside this call. Returns 0 or -errno. */
int ndes_fetch_challenge(Http *http, sd_event *e, const NdesTarget *t, KrbCreds *creds, NdesDone done,
                         void *userdata, NdesOp **ret_op);

/* Stop an operation; done() will not be called. */
void ndes_op_cancel(NdesOp *op);

/* Kerberos' default allowed clock difference (seconds), as AD sets it. */
#define NDES_MAX_CLOCK_SKEW 300

/* Map an HTTP status of an NDES page to an error with a hint. `after_token`:
 * our Negotiate token was sent. Returns the -errno it set. */
int ndes_map_status(long status, const HttpResponse *resp, const char *url, int after_token, AeError *err);

/* Read a static challenge from a root-only file (not group/other readable,
 * owned by root or the caller). */
int ndes_read_static_challenge(const char *path, char **ret, AeError *err);

/* For CAs that require Negotiate on mscep.dll: "Authorization: Negotiate
 * <token>" for the host of scep_url. Blocking: run it in a worker. */
int ndes_scep_auth_header(KrbCreds *creds, const char *scep_url, char **ret_header, AeError *err);
