/* ae-ndes: drive the Kerberos/NDES code from tests and by hand.
 *
 *   ae-ndes challenge --admin-url U [creds] [--cafile F] [--reveal]
 *   ae-ndes challenge --static-file F | --no-challenge
 *   ae-ndes scep-get --url U [creds] [--cafile F]     GET with Negotiate, print status + body
 *   ae-ndes diagnose --admin-url U --scep-url S [creds] [--scep-negotiate] [--json]
 * creds: --keytab K [--principal P] | --ccache-fd N [--uid UID] | --ccache NAME [--uid UID]
 *
 * "challenge" runs the daemon's async path (sd-event + curl multi + worker)
 * and prints "challenge: N chars"; the value only with --reveal (for tests
 * that hand it to a SCEP client). --ccache NAME exports the cache to a memfd
 * (krb_export_ccache_to_memfd) and imports it as the daemon would.
 * --repeat N fetches N challenges concurrently on one loop. Given both a
 * keytab and a user cache, challenge fetches with both identities at once on
 * one loop (the daemon's case: per-request credentials, no KRB5CCNAME). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/diagnose.h"
#include "daemon/http.h"
#include "daemon/krb.h"
#include "daemon/ndes.h"
#include "daemon/util.h"
#include "daemon/worker.h"

typedef struct Args {
    const char *admin_url, *scep_url, *url, *keytab, *principal, *ccache, *cafile, *static_file;
    int ccache_fd;
    uid_t uid;
    bool reveal, json, no_challenge, scep_negotiate;
    int repeat;
} Args;

static int fail_err(const AeError *e) {
    fprintf(stderr, "error [%s]: %s\n", e->category, e->message);
    return 1;
}

static int get_creds(const Args *a, KrbCreds **ret) {
    AeError err = {0};
    int r;
    if (a->ccache || (a->ccache_fd >= 0 && !a->keytab)) {
        _cleanup_close_ int fd = -1;
        if (a->ccache) {
            r = krb_export_ccache_to_memfd(a->ccache, &fd, &err);
            if (r < 0)
                return fail_err(&err);
        } else
            fd = dup(a->ccache_fd);
        r = krb_creds_from_ccache_fd(fd, a->uid, ret, &err);
    } else if (a->keytab || a->principal)
        r = krb_creds_from_keytab(a->keytab, a->principal, ret, &err);
    else {
        *ret = NULL;
        return 0;
    }
    if (r < 0)
        return fail_err(&err);
    return 0;
}

struct run {
    sd_event *e;
    int pending, failed;
    bool reveal;
};

static void on_challenge(int r, char *challenge, const AeError *err, void *userdata) {
    struct run *run = userdata;
    if (r < 0) {
        fail_err(err);
        run->failed++;
    } else if (!challenge)
        printf("challenge: none\n");
    else if (run->reveal)
        printf("challenge: %zu chars: %s\n", strlen(challenge), challenge);
    else
        printf("challenge: %zu chars\n", strlen(challenge));
    secret_free(challenge);
    if (--run->pending == 0)
        sd_event_exit(run->e, 0);
}

static int cmd_challenge(const Args *a) {
    _cleanup_(krb_creds_freep) KrbCreds *creds = NULL;
    struct run run = {.reveal = a->reveal};
    Http *http = NULL;
    NdesTarget t = {.admin_url = a->admin_url, .cafile = a->cafile, .static_file = a->static_file};
    int r;

    t.mode = a->static_file ? NDES_CHALLENGE_STATIC
             : a->no_challenge ? NDES_CHALLENGE_NONE
                               : NDES_CHALLENGE_NEGOTIATE;
    if (t.mode == NDES_CHALLENGE_NEGOTIATE && !a->admin_url) {
        fprintf(stderr, "challenge needs --admin-url\n");
        return 2;
    }
    _cleanup_(krb_creds_freep) KrbCreds *user = NULL;
    if (t.mode == NDES_CHALLENGE_NEGOTIATE && (r = get_creds(a, &creds)) != 0)
        return r;
    if (t.mode == NDES_CHALLENGE_NEGOTIATE && a->keytab && a->ccache_fd >= 0) {
        AeError err = {0};
        _cleanup_close_ int fd = dup(a->ccache_fd);
        if (krb_creds_from_ccache_fd(fd, a->uid, &user, &err) < 0)
            return fail_err(&err);
    }
    if (sd_event_new(&run.e) < 0 || http_new(run.e, &http) < 0)
        return 1;
    for (int i = 0; i < a->repeat; i++) {
        KrbCreds *who[2] = {creds, user};
        for (int k = 0; k < (user ? 2 : 1); k++) {
            r = ndes_fetch_challenge(http, run.e, &t, who[k], on_challenge, &run, NULL);
            if (r < 0) {
                fprintf(stderr, "cannot start: %s\n", strerror(-r));
                return 1;
            }
            run.pending++;
        }
    }
    sd_event_loop(run.e);
    http_free(http);
    sd_event_unref(run.e);
    return run.failed ? 1 : 0;
}

static int cmd_scep_get(const Args *a) {
    _cleanup_(krb_creds_freep) KrbCreds *creds = NULL;
    _cleanup_secret_ char *hdr = NULL;
    AeError err = {0};
    HttpResponse resp;
    int r;
    if (!a->url) {
        fprintf(stderr, "scep-get needs --url\n");
        return 2;
    }
    if ((r = get_creds(a, &creds)) != 0)
        return r;
    const char *headers[2] = {NULL, NULL};
    if (creds) {
        if (ndes_scep_auth_header(creds, a->url, &hdr, &err) < 0)
            return fail_err(&err);
        headers[0] = hdr;
    }
    HttpRequest req = {.url = a->url, .headers = headers, .cafile = a->cafile};
    if (http_perform(&req, &resp, &err) < 0)
        return fail_err(&err);
    printf("status: %ld\n", resp.status);
    fwrite(resp.body, 1, resp.body_len, stdout);
    r = resp.status == 200 ? 0 : 1;
    http_response_clear(&resp);
    return r;
}

static int cmd_diagnose(const Args *a) {
    DiagTarget t = {.admin_url = a->admin_url, .scep_url = a->scep_url, .keytab = a->keytab,
                    .principal = a->principal, .ccache_fd = -1, .uid = a->uid, .cafile = a->cafile,
                    .scep_negotiate = a->scep_negotiate};
    _cleanup_close_ int fd = -1;
    DiagReport rep;
    AeError err = {0};
    if (a->ccache) {
        if (krb_export_ccache_to_memfd(a->ccache, &fd, &err) < 0)
            return fail_err(&err);
        t.ccache_fd = fd;
    } else if (a->ccache_fd >= 0)
        t.ccache_fd = a->ccache_fd;
    if (diagnose_run(&t, &rep) < 0)
        return 1;
    _cleanup_free_ char *out = a->json ? diagnose_to_json(&rep) : diagnose_to_text(&rep);
    if (out)
        fputs(out, stdout);
    if (a->json)
        putchar('\n');
    int r = diagnose_ok(&rep) ? 0 : 1;
    diagnose_report_clear(&rep);
    return r;
}

int main(int argc, char **argv) {
    enum { O_ADMIN = 256, O_SCEP, O_URL, O_KEYTAB, O_PRINC, O_CCFD, O_CC, O_UID, O_CA, O_STATIC, O_NONE,
           O_REVEAL, O_JSON, O_SCEPNEG, O_REPEAT };
    static const struct option opts[] = {
        {"admin-url", required_argument, NULL, O_ADMIN}, {"scep-url", required_argument, NULL, O_SCEP},
        {"url", required_argument, NULL, O_URL},         {"keytab", required_argument, NULL, O_KEYTAB},
        {"principal", required_argument, NULL, O_PRINC}, {"ccache-fd", required_argument, NULL, O_CCFD},
        {"ccache", required_argument, NULL, O_CC},       {"uid", required_argument, NULL, O_UID},
        {"cafile", required_argument, NULL, O_CA},       {"static-file", required_argument, NULL, O_STATIC},
        {"no-challenge", no_argument, NULL, O_NONE},     {"reveal", no_argument, NULL, O_REVEAL},
        {"json", no_argument, NULL, O_JSON},             {"scep-negotiate", no_argument, NULL, O_SCEPNEG},
        {"repeat", required_argument, NULL, O_REPEAT},   {NULL, 0, NULL, 0}};
    Args a = {.ccache_fd = -1, .uid = getuid(), .repeat = 1};
    int c;

    if (argc < 2) {
        fprintf(stderr, "usage: ae-ndes challenge|scep-get|diagnose [options]\n");
        return 2;
    }
    const char *cmd = argv[1];
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_ADMIN: a.admin_url = optarg; break;
        case O_SCEP: a.scep_url = optarg; break;
        case O_URL: a.url = optarg; break;
        case O_KEYTAB: a.keytab = optarg; break;
        case O_PRINC: a.principal = optarg; break;
        case O_CCFD: a.ccache_fd = atoi(optarg); break;
        case O_CC: a.ccache = optarg; break;
        case O_UID: a.uid = (uid_t)strtoul(optarg, NULL, 10); break;
        case O_CA: a.cafile = optarg; break;
        case O_STATIC: a.static_file = optarg; break;
        case O_NONE: a.no_challenge = true; break;
        case O_REVEAL: a.reveal = true; break;
        case O_JSON: a.json = true; break;
        case O_SCEPNEG: a.scep_negotiate = true; break;
        case O_REPEAT: a.repeat = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
        default: return 2;
        }
    }
    if (streq(cmd, "challenge"))
        return cmd_challenge(&a);
    if (streq(cmd, "scep-get"))
        return cmd_scep_get(&a);
    if (streq(cmd, "diagnose"))
        return cmd_diagnose(&a);
    fprintf(stderr, "unknown command %s\n", cmd);
    return 2;
}
