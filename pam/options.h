/* pam_autoenroll's module options: parsed from the PAM stack's argv into a
 * plain struct, with no I/O, so a unit test drives every case.
 *
 *   debug               log each decision (never a secret)
 *   strict              a login the daemon could not take fails the session
 *   wait=SECONDS        wait up to that long for a first enrollment
 *   timeout=SECONDS     bound on the fire-and-forget call (default 1; "0.5", "250ms")
 *   profile=A[,B...]    which user profile(s) to ask for (default: every
 *                       user profile with autoenroll=yes, the daemon decides)
 *   minimum_uid=N       users below N are ignored (default 1000)
 *   socket=PATH         the daemon's socket (default RUNSTATEDIR/autoenroll/autoenrolld.sock)
 *
 * String fields point into argv (PAM keeps it alive for the call). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#define PAM_AE_DEFAULT_TIMEOUT_MS 1000
#define PAM_AE_DEFAULT_MINIMUM_UID 1000
#define PAM_AE_MAX_WAIT_S 600

typedef struct PamAeOptions {
    bool debug;
    bool strict;
    int timeout_ms;       /* bound when not waiting */
    int wait_s;           /* 0: fire and forget */
    uid_t minimum_uid;
    const char *profiles; /* NULL or "a,b" */
    const char *socket;
} PamAeOptions;

/* Called once per option that is unknown or has a bad value; the caller logs. */
typedef void (*PamAeBadOption)(void *userdata, const char *arg, const char *why);

/* Fill *ret with defaults, then apply argv. Bad options are reported through
 * `bad` and otherwise ignored (a typo never locks anyone out). Returns the
 * number of bad options. */
int pam_ae_options_parse(int argc, const char **argv, PamAeOptions *ret, PamAeBadOption bad,
                         void *userdata);

/* "1", "0.25", "250ms" -> milliseconds, 0..max_ms. Returns 0 or -EINVAL/-ERANGE. */
int pam_ae_parse_duration_ms(const char *s, int max_ms, int *ret_ms);
