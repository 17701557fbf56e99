/* pam_autoenroll's option table. */
#include "pam/options.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/util.h"

int pam_ae_parse_duration_ms(const char *s, int max_ms, int *ret_ms) {
    long long ms = 0;
    const char *p = s;
    int frac_digits = 0;
    long long frac = 0;

    if (!s || !(*p >= '0' && *p <= '9'))
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        ms = ms * 10 + (*p - '0');
        if (ms > INT_MAX)
            return -ERANGE;
    }
    if (streq(p, "ms")) {
        /* already milliseconds */
    } else {
        if (*p == '.') {
            p++;
            if (!(*p >= '0' && *p <= '9'))
                return -EINVAL;
            for (; *p >= '0' && *p <= '9'; p++)
                if (frac_digits < 3) {
                    frac = frac * 10 + (*p - '0');
                    frac_digits++;
                }
            for (; frac_digits < 3; frac_digits++)
                frac *= 10;
        }
        if (*p == 's')
            p++;
        if (*p)
            return -EINVAL;
        ms = ms * 1000 + frac;
    }
    if (ms > max_ms)
        return -ERANGE;
    *ret_ms = (int)ms;
    return 0;
}

static int parse_uid(const char *s, uid_t *ret) {
    char *end;
    if (!(*s >= '0' && *s <= '9'))
        return -EINVAL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v >= (unsigned long)(uid_t)-1)
        return -EINVAL;
    *ret = (uid_t)v;
    return 0;
}

/* "a,b": names made of [A-Za-z0-9_.-], no empty ones. */
static bool profiles_valid(const char *s) {
    bool empty = true;
    for (; *s; s++) {
        if (*s == ',') {
            if (empty)
                return false;
            empty = true;
        } else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                   *s == '_' || *s == '.' || *s == '-')
            empty = false;
        else
            return false;
    }
    return !empty;
}

static const char *value_of(const char *arg, const char *key) {
    size_t n = strlen(key);
    return strncmp(arg, key, n) == 0 && arg[n] == '=' ? arg + n + 1 : NULL;
}

int pam_ae_options_parse(int argc, const char **argv, PamAeOptions *ret, PamAeBadOption bad,
                         void *userdata) {
    PamAeOptions o = {
        .timeout_ms = PAM_AE_DEFAULT_TIMEOUT_MS,
        .minimum_uid = PAM_AE_DEFAULT_MINIMUM_UID,
        .socket = RUNSTATEDIR "/autoenroll/autoenrolld.sock",
    };
    int n_bad = 0;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        const char *why = NULL;
        int ms;

        if (!a)
            continue;
        if (streq(a, "debug"))
            o.debug = true;
        else if (streq(a, "strict"))
            o.strict = true;
        else if ((v = value_of(a, "wait"))) {
            if (pam_ae_parse_duration_ms(v, PAM_AE_MAX_WAIT_S * 1000, &ms) < 0)
                why = "wait= takes seconds (0 to 600)";
            else
                o.wait_s = (ms + 999) / 1000;
        } else if ((v = value_of(a, "timeout"))) {
            if (pam_ae_parse_duration_ms(v, PAM_AE_MAX_WAIT_S * 1000, &ms) < 0 || ms == 0)
                why = "timeout= takes seconds (\"1\", \"0.5\", \"250ms\"; more than 0)";
            else
                o.timeout_ms = ms;
        } else if ((v = value_of(a, "minimum_uid"))) {
            if (parse_uid(v, &o.minimum_uid) < 0)
                why = "minimum_uid= takes a number";
        } else if ((v = value_of(a, "profile"))) {
            if (!profiles_valid(v))
                why = "profile= takes profile names separated by commas";
            else
                o.profiles = v;
        } else if ((v = value_of(a, "socket"))) {
            if (v[0] != '/')
                why = "socket= takes an absolute path";
            else
                o.socket = v;
        } else
            why = "unknown option";
        if (why) {
            n_bad++;
            if (bad)
                bad(userdata, a, why);
        }
    }
    *ret = o;
    return n_bad;
}
