/* pam_autoenroll: at session open, hand a domain user's tickets to
 * autoenrolld so it enrolls or renews her certificates; never hold up the
 * login (a bounded call, fire and forget by default).
 *
 * State lives on the stack of each call: no globals, nothing in pamh, so
 * gdm and sshd may run several handles on several threads. */
#include <errno.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PAM_SM_SESSION
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>

#include "daemon/util.h"
#include "pam/login.h"
#include "pam/options.h"

typedef struct Call {
    pam_handle_t *pamh;
    PamAeOptions opt;
    long long start_ms; /* the bound counts from the module's entry */
    const char *user;
    uid_t uid;
    gid_t gid;
} Call;

static void bad_option(void *userdata, const char *arg, const char *why) {
    pam_syslog(userdata, LOG_WARNING, "ignoring option \"%s\": %s", arg, why);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A failure to hand the login over: logged once; fatal only with strict. */
static int give_up(const Call *c, int priority, const char *what, const AeError *err) {
    pam_syslog(c->pamh, priority, "user %s: %s: %s", c->user, what, err->message);
    return c->opt.strict ? PAM_SESSION_ERR : PAM_IGNORE;
}

/* Who is logging in, and whether we have anything to do for her. */
static int identify(Call *c) {
    const void *item = NULL;
    if (pam_get_item(c->pamh, PAM_USER, &item) != PAM_SUCCESS || !item || !*(const char *)item) {
        pam_syslog(c->pamh, LOG_ERR, "no user name");
        return PAM_USER_UNKNOWN;
    }
    c->user = item;
    struct passwd *pw = pam_modutil_getpwnam(c->pamh, c->user);
    if (!pw) {
        if (c->opt.debug)
            pam_syslog(c->pamh, LOG_DEBUG, "user %s: unknown to the system, ignored", c->user);
        return PAM_IGNORE;
    }
    c->uid = pw->pw_uid;
    c->gid = pw->pw_gid;
    if (c->uid == 0 || c->uid < c->opt.minimum_uid) {
        if (c->opt.debug)
            pam_syslog(c->pamh, LOG_DEBUG, "user %s: uid %u below minimum_uid %u, ignored", c->user,
                       (unsigned)c->uid, (unsigned)c->opt.minimum_uid);
        return PAM_IGNORE;
    }
    return PAM_SUCCESS;
}

/* One "login" call for one profile (NULL: the daemon's choice). */
static int report_login(const Call *c, const char *profile, int ccache_fd, long long deadline) {
    PamAeResult res;
    AeError err = {0};
    bool wait = c->opt.wait_s > 0;
    long long left = deadline - now_ms();

    if (left < 1)
        left = 1;
    if (lseek(ccache_fd, 0, SEEK_SET) < 0) {
        ae_error_set(&err, -errno, AE_ERR_INTERNAL, "lseek: %s", strerror(errno));
        return give_up(c, LOG_ERR, "cannot pass the credentials", &err);
    }
    int r = pam_ae_login(c->opt.socket, c->uid, profile, wait, ccache_fd, (int)left, &res, &err);
    if (r == -EREMOTEIO && streq(err.category, "config") && !profile) {
        /* The daemon has no user profile: nothing is wrong with the login. */
        if (c->opt.debug)
            pam_syslog(c->pamh, LOG_DEBUG, "user %s: %s", c->user, err.message);
        return PAM_IGNORE;
    }
    if (r < 0)
        return give_up(c, r == -EREMOTEIO ? LOG_WARNING : LOG_ERR, "autoenrolld did not take the login",
                       &err);
    if (!wait) {
        if (c->opt.debug)
            pam_syslog(c->pamh, LOG_DEBUG, "user %s: login reported, request %s is %s", c->user, res.id,
                       res.state);
        return PAM_SUCCESS;
    }
    if (streq(res.state, "MONITORING")) {
        pam_syslog(c->pamh, LOG_INFO, "user %s: certificate %s in place", c->user, res.id);
        return PAM_SUCCESS;
    }
    if (!res.has_error)
        ae_error_set(&res.last, -EIO, AE_ERR_INTERNAL, "request is %s", res.state);
    pam_syslog(c->pamh, LOG_WARNING, "user %s: certificate %s not enrolled (%s): %s", c->user, res.id,
               res.state, res.last.message);
    return c->opt.strict ? PAM_SESSION_ERR : PAM_SUCCESS;
}

static int open_session(Call *c) {
    int r = identify(c);
    if (r != PAM_SUCCESS)
        return r;

    const char *ccname = pam_getenv(c->pamh, "KRB5CCNAME");
    if (!ccname || !*ccname) {
        if (c->opt.debug)
            pam_syslog(c->pamh, LOG_DEBUG, "user %s: no KRB5CCNAME in the session, ignored", c->user);
        return PAM_IGNORE;
    }

    long long deadline = c->start_ms + (c->opt.wait_s > 0 ? c->opt.wait_s * 1000LL : c->opt.timeout_ms);
    AeError err = {0};
    _cleanup_close_ int fd = -1;
    r = pam_ae_open_ccache_as(ccname, c->user, c->uid, c->gid, &fd, &err);
    if (r < 0)
        return give_up(c, r == -EPROTONOSUPPORT ? LOG_NOTICE : LOG_WARNING,
                       "cannot read the session's tickets as the user", &err);

    if (!c->opt.profiles)
        return report_login(c, NULL, fd, deadline);

    /* profile=a,b: one call each, all within the one bound. */
    int result = PAM_SUCCESS;
    for (const char *p = c->opt.profiles; *p;) {
        char name[128];
        size_t n = strcspn(p, ",");
        snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), p);
        r = report_login(c, name, fd, deadline);
        if (r == PAM_SESSION_ERR)
            return r;
        if (r != PAM_SUCCESS)
            result = r;
        p += n;
        if (*p == ',')
            p++;
    }
    return result;
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
    Call c = {.pamh = pamh, .start_ms = now_ms()};
    pam_ae_options_parse(argc, argv, &c.opt, bad_option, pamh);
    int r = open_session(&c);
    if (c.opt.debug)
        pam_syslog(pamh, LOG_DEBUG, "open_session: %s after %lld ms", pam_strerror(pamh, r),
                   now_ms() - c.start_ms);
    return r;
}

/* The daemon keeps its own copy of the tickets and tracks the certificate
 * after logout: nothing to undo. */
PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
    return PAM_IGNORE;
}
