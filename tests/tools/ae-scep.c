/* ae-scep: a blocking SCEP client over the engine, for integration tests and
 * the benchmark. Not installed.
 *
 *   ae-scep getcacaps --url U
 *   ae-scep getcacert --url U --ca-fingerprint sha256:.. [--out chain.pem]
 *   ae-scep getnextcacert --url U --ca-fingerprint sha256:..
 *   ae-scep enroll    --url U --ca-fingerprint F --key key.pem --challenge-file F
 *                     [--subject S] [--dns N]... [--upn U] [--sid S] [--get] [--allow-des]
 *                     [--out cert.pem] [--state state.txt] [--poll N] [--poll-interval S]
 *   ae-scep renew     ... --cert current.pem --current-key current.pem --key new.pem
 *                     [--challenge-file F: PKCSReq fallback when RenewalReq is refused]
 *                     [--renewal-with-challenge: put the challenge in the RenewalReq too]
 *   ae-scep poll      --url U --ca-fingerprint F --key key.pem --state state.txt --out cert.pem
 *   ae-scep getcrl    --url U --ca-fingerprint F --key key.pem --cert cert.pem --out crl.pem
 *   ae-scep getcert   --url U --ca-fingerprint F --key key.pem --cert cert.pem --out copy.pem
 *                     (fetches the certificate with cert's issuer and serial)
 *
 * Prints "status: SUCCESS|PENDING|FAILURE" and "error [category]: message".
 * Exit: 0 issued/done, 1 error, 2 rejected by the CA, 3 pending. Never
 * prints the challenge. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "daemon/csr.h"
#include "daemon/fileio.h"
#include "daemon/http.h"
#include "daemon/scep-cacert.h"
#include "daemon/scep-caps.h"
#include "daemon/scep-errors.h"
#include "daemon/scep-message.h"
#include "daemon/scep-url.h"
#include "daemon/util.h"

enum { EXIT_REJECTED = 2, EXIT_PENDING = 3 };

static struct {
    const char *url, *fingerprint, *key, *challenge_file, *subject, *out, *state, *cert;
    const char *current_key, *upn, *sid, *timing;
    const char *dns[8];
    int n_dns, polls, poll_interval;
    bool get, allow_des, no_renewal, renewal_challenge;
} arg = { .poll_interval = 1 };

static double t_server; /* seconds spent waiting on HTTP */

static int fail(const AeError *e, int r) {
    fprintf(stderr, "error [%s]: %s\n", e->category[0] ? e->category : "internal",
            e->message[0] ? e->message : strerror(-r));
    return 1;
}

static int http(ScepOperation op, const char *method, const char *url, const uint8_t *body,
                size_t len, HttpResponse *resp, AeError *e) {
    HttpRequest req = { .method = method, .url = url, .body = body, .body_len = len,
                        .content_type = body ? "application/x-pki-message" : NULL,
                        .max_body = op == SCEP_OP_GET_CA_CAPS ? SCEP_MAX_CAPS_BODY
                                    : op == SCEP_OP_PKI_OPERATION ? SCEP_MAX_PKI_BODY
                                                                  : SCEP_MAX_CACERT_BODY };
    int r = http_perform(&req, resp, e);
    if (r < 0)
        return r;
    t_server += resp->total_seconds;
    return scep_http_check(op, resp->status, resp->content_type, resp->body, resp->body_len, e);
}

static unsigned get_caps(void) {
    _cleanup_free_ char *url = NULL;
    HttpResponse resp = { 0 };
    AeError e = { 0 };
    unsigned caps = 0;
    if (scep_url_build(arg.url, "GetCACaps", NULL, &url) < 0)
        return 0;
    if (http(SCEP_OP_GET_CA_CAPS, "GET", url, NULL, 0, &resp, &e) == 0)
        scep_caps_parse((const char *)resp.body, resp.body_len, &caps);
    else
        fprintf(stderr, "warning: GetCACaps failed (%s): assuming no capabilities\n", e.message);
    http_response_clear(&resp);
    return caps;
}

static int get_ca(ScepCA **ret, AeError *e) {
    _cleanup_free_ char *url = NULL;
    HttpResponse resp = { 0 };
    uint8_t pin[SCEP_FINGERPRINT_LEN];
    int r;
    if (!arg.fingerprint || scep_fingerprint_parse(arg.fingerprint, pin) < 0)
        return ae_error_set(e, -EINVAL, AE_ERR_CONFIG, "--ca-fingerprint missing or malformed");
    if ((r = scep_url_build(arg.url, "GetCACert", NULL, &url)) < 0)
        return ae_error_set(e, r, AE_ERR_CONFIG, "bad --url");
    r = http(SCEP_OP_GET_CA_CERT, "GET", url, NULL, 0, &resp, e);
    if (r == 0)
        r = scep_ca_parse(resp.body, resp.body_len, pin, ret, e);
    http_response_clear(&resp);
    return r;
}

static EVP_PKEY *load_key(const char *path) {
    FILE *f = path ? fopen(path, "re") : NULL;
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    return k;
}

static X509 *load_cert(const char *path) {
    FILE *f = path ? fopen(path, "re") : NULL;
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    return x;
}

static int write_pem_cert(const char *path, X509 *x) {
    BIO *b = BIO_new(BIO_s_mem());
    char *d;
    long n;
    int r;
    PEM_write_bio_X509(b, x);
    n = BIO_get_mem_data(b, &d);
    r = fileio_write_atomic(path, d, (size_t)n, 0644, FILEIO_KEEP_OWNER, (gid_t)-1);
    BIO_free(b);
    return r;
}

/* Send a pkiMessage (POST when the caps allow and --get not given). */
static int pki_operation(unsigned caps, const uint8_t *msg, size_t len, HttpResponse *resp,
                         AeError *e) {
    _cleanup_free_ char *url = NULL;
    int r;
    if (scep_caps_use_post(caps) && !arg.get) {
        if ((r = scep_url_build(arg.url, "PKIOperation", NULL, &url)) < 0)
            return ae_error_set(e, r, AE_ERR_CONFIG, "bad --url");
        return http(SCEP_OP_PKI_OPERATION, "POST", url, msg, len, resp, e);
    }
    if ((r = scep_url_pkioperation_get(arg.url, msg, len, &url)) < 0)
        return ae_error_set(e, r, AE_ERR_PROTOCOL, "cannot build the GET PKIOperation URL");
    return http(SCEP_OP_PKI_OPERATION, "GET", url, NULL, 0, resp, e);
}

static int save_state(ScepTransaction *t) {
    ScepState s = { 0 };
    _cleanup_free_ char *text = NULL;
    int r;
    if (!arg.state)
        return 0;
    if ((r = scep_transaction_export(t, &s)) < 0)
        return r;
    /* the PEM has newlines: store it base64 on one line via '|' joins */
    for (char *c = s.signer_pem; *c; c++)
        if (*c == '\n')
            *c = '|';
    r = asprintf(&text, "transaction_id=%s\nsender_nonce=%s\nsigner=%s\nsubject=%s\nrenewal=%d\n",
                 s.transaction_id, s.sender_nonce, s.signer_pem, s.subject, s.renewal);
    scep_state_done(&s);
    if (r < 0)
        return -ENOMEM;
    return fileio_write_atomic(arg.state, text, strlen(text), 0600, FILEIO_KEEP_OWNER, (gid_t)-1);
}

static int load_state(ScepState *s) {
    _cleanup_free_ char *data = NULL;
    int r = fileio_read(arg.state, 65536, &data, NULL);
    if (r < 0)
        return r;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        char *v = strchr(line, '=');
        if (!v)
            continue;
        *v++ = '\0';
        if (streq(line, "transaction_id"))
            s->transaction_id = strdup(v);
        else if (streq(line, "sender_nonce"))
            s->sender_nonce = strdup(v);
        else if (streq(line, "signer")) {
            for (char *c = v; *c; c++)
                if (*c == '|')
                    *c = '\n';
            s->signer_pem = strdup(v);
        } else if (streq(line, "subject"))
            s->subject = strdup(v);
        else if (streq(line, "renewal"))
            s->renewal = streq(v, "1");
    }
    return s->transaction_id && s->signer_pem && s->subject && s->sender_nonce ? 0 : -EINVAL;
}

/* Send msg, parse the reply, report; polls while PENDING if --poll N. */
static int exchange(ScepTransaction *t, ScepCA *ca, unsigned caps, uint8_t *msg, size_t len) {
    AeError e = { 0 };
    for (int round = 0;; round++) {
        HttpResponse resp = { 0 };
        ScepReply *reply = NULL;
        int r = pki_operation(caps, msg, len, &resp, &e);
        if (r == 0)
            r = scep_certrep_parse(t, ca, resp.body, resp.body_len, arg.allow_des, &reply, &e);
        http_response_clear(&resp);
        free(msg);
        msg = NULL;
        if (r < 0)
            return fail(&e, r);
        if (reply->used_des)
            fprintf(stderr, "warning: the CA encrypted its reply with single DES (accepted: --allow-des)\n");
        printf("status: %s\n", scep_pki_status_to_string(reply->status));
        printf("transaction: %s\n", scep_transaction_get_id(t));
        if (reply->status == SCEP_STATUS_FAILURE) {
            r = scep_reply_failure(reply, &e);
            scep_reply_free(reply);
            fail(&e, r);
            return EXIT_REJECTED;
        }
        if (reply->status == SCEP_STATUS_PENDING) {
            scep_reply_free(reply);
            if ((r = save_state(t)) < 0)
                fprintf(stderr, "error [storage]: cannot save the state: %s\n", strerror(-r));
            if (round >= arg.polls)
                return EXIT_PENDING;
            sleep((unsigned)arg.poll_interval);
            if ((r = scep_build_certpoll(t, ca, caps, &msg, &len, &e)) < 0)
                return fail(&e, r);
            continue;
        }
        if (reply->crl) {
            BIO *b = BIO_new(BIO_s_mem());
            char *d;
            PEM_write_bio_X509_CRL(b, reply->crl);
            long n = BIO_get_mem_data(b, &d);
            STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(reply->crl);
            printf("crl: %d revoked\n", rev ? sk_X509_REVOKED_num(rev) : 0);
            r = arg.out ? fileio_write_atomic(arg.out, d, (size_t)n, 0644, FILEIO_KEEP_OWNER, (gid_t)-1) : 0;
            BIO_free(b);
        } else {
            char name[256];
            X509_NAME_oneline(X509_get_subject_name(reply->cert), name, sizeof name);
            printf("certificate: %s\n", name);
            r = arg.out ? write_pem_cert(arg.out, reply->cert) : 0;
        }
        scep_reply_free(reply);
        if (r < 0) {
            fprintf(stderr, "error [storage]: writing %s: %s\n", arg.out, strerror(-r));
            return 1;
        }
        return 0;
    }
}

static char *read_challenge(AeError *e) {
    char *c = NULL;
    if (!arg.challenge_file)
        return NULL;
    if (fileio_read(arg.challenge_file, 1024, &c, NULL) < 0) {
        ae_error_set(e, -ENOENT, AE_ERR_CONFIG, "cannot read the challenge file");
        return NULL;
    }
    c[strcspn(c, "\r\n")] = '\0';
    return c;
}

static int do_enroll(bool renew) {
    _cleanup_secret_ char *challenge = NULL;
    char subject[300];
    AeError e = { 0 };
    EVP_PKEY *key = NULL, *cur_key = NULL;
    X509 *cur = NULL;
    X509_REQ *csr = NULL;
    ScepCA *ca = NULL;
    ScepTransaction *t = NULL;
    uint8_t *msg = NULL;
    size_t len = 0;
    struct timespec t0, t1;
    int r;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    if (!(key = load_key(arg.key))) {
        r = fail(&(AeError){ .category = "config", .message = "cannot read --key" }, -EINVAL);
        goto out;
    }
    if (renew && (!(cur = load_cert(arg.cert)) || !(cur_key = load_key(arg.current_key)))) {
        r = fail(&(AeError){ .category = "config", .message = "renew needs --cert and --current-key" }, -EINVAL);
        goto out;
    }
    unsigned caps = get_caps();
    if ((r = get_ca(&ca, &e)) < 0) {
        r = fail(&e, r);
        goto out;
    }
    bool renewal = renew && (caps & SCEP_CAP_RENEWAL) && !arg.no_renewal;
    if (renew && !renewal)
        fprintf(stderr, "note: no RenewalReq; PKCSReq with a fresh challenge instead\n");
    challenge = read_challenge(&e);
    if (arg.challenge_file && !challenge) {
        r = fail(&e, -ENOENT);
        goto out;
    }
    if (arg.subject)
        snprintf(subject, sizeof subject, "%s", arg.subject);
    else if (cur)
        X509_NAME_oneline(X509_get_subject_name(cur), subject, sizeof subject);
    else
        snprintf(subject, sizeof subject, "CN=%s", arg.n_dns ? arg.dns[0] : "ae-scep");
    for (;;) {
        const char *upns[] = { arg.upn, NULL };
        /* RenewalReq carries the challenge only when asked (scepserver wants one). */
        CsrProfile p = { .subject = subject, .dns_names = arg.n_dns ? arg.dns : NULL,
                         .upns = arg.upn ? upns : NULL, .sid = arg.sid,
                         .challenge = !renewal || arg.renewal_challenge ? challenge : NULL,
                         .digest = scep_caps_digest(caps) };
        if ((r = csr_new(&p, key, &csr, &e)) < 0) {
            r = fail(&e, r);
            goto out;
        }
        r = renewal ? scep_transaction_new_renewal(key, csr, cur, cur_key, &t, &e)
                    : scep_transaction_new(key, csr, &t, &e);
        if (r < 0 || (r = scep_build_pkcsreq(t, ca, caps, csr, &msg, &len, &e)) < 0) {
            r = fail(&e, r);
            goto out;
        }
        printf("request: %s %s, %s, %s via %s\n", renewal ? "RenewalReq" : "PKCSReq",
               scep_transaction_get_id(t), scep_caps_digest(caps), scep_caps_cipher(caps),
               scep_caps_use_post(caps) && !arg.get ? "POST" : "GET");
        r = exchange(t, ca, caps, TAKE_PTR(msg), len);
        if (!(renewal && r == EXIT_REJECTED && challenge))
            break;
        /* NDES renewal is fragile for non-Windows clients: fresh PKCSReq. */
        printf("fallback: RenewalReq refused, PKCSReq with a fresh challenge\n");
        renewal = false;
        t = scep_transaction_free(t);
        X509_REQ_free(csr);
        csr = NULL;
    }
out:
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (arg.timing) {
        FILE *f = fopen(arg.timing, "we");
        if (f) {
            fprintf(f, "total=%.6f server=%.6f\n",
                    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, t_server);
            fclose(f);
        }
    }
    free(msg);
    scep_transaction_free(t);
    scep_ca_free(ca);
    X509_REQ_free(csr);
    X509_free(cur);
    EVP_PKEY_free(cur_key);
    EVP_PKEY_free(key);
    return r;
}

enum { MODE_POLL, MODE_GETCRL, MODE_GETCERT };

static int do_poll(int mode) {
    AeError e = { 0 };
    ScepState s = { 0 };
    EVP_PKEY *key = load_key(arg.key);
    X509 *cur = NULL;
    X509_REQ *csr = NULL;
    ScepCA *ca = NULL;
    ScepTransaction *t = NULL;
    uint8_t *msg = NULL;
    size_t len = 0;
    int r;

    if (!key) {
        r = fail(&(AeError){ .category = "config", .message = "cannot read --key" }, -EINVAL);
        goto out;
    }
    unsigned caps = get_caps();
    if ((r = get_ca(&ca, &e)) < 0) {
        r = fail(&e, r);
        goto out;
    }
    if (mode != MODE_POLL) {
        char subject[300];
        if (!(cur = load_cert(arg.cert))) {
            r = fail(&(AeError){ .category = "config", .message = "getcrl/getcert need --cert" }, -EINVAL);
            goto out;
        }
        X509_NAME_oneline(X509_get_subject_name(cur), subject, sizeof subject);
        CsrProfile p = { .subject = subject };
        if ((r = csr_new(&p, key, &csr, &e)) < 0 || (r = scep_transaction_new(key, csr, &t, &e)) < 0 ||
            (r = mode == MODE_GETCRL
                     ? scep_build_getcrl(t, ca, caps, cur, &msg, &len, &e)
                     : scep_build_getcert(t, ca, caps, X509_get_issuer_name(cur),
                                          X509_get0_serialNumber(cur), &msg, &len, &e)) < 0) {
            r = fail(&e, r);
            goto out;
        }
    } else {
        if (!arg.state || load_state(&s) < 0) {
            r = fail(&(AeError){ .category = "config", .message = "poll needs a readable --state" }, -EINVAL);
            goto out;
        }
        if ((r = scep_transaction_import(&s, key, key, &t, &e)) < 0 ||
            (r = scep_build_certpoll(t, ca, caps, &msg, &len, &e)) < 0) {
            r = fail(&e, r);
            goto out;
        }
    }
    r = exchange(t, ca, caps, TAKE_PTR(msg), len);
out:
    free(msg);
    scep_state_done(&s);
    scep_transaction_free(t);
    scep_ca_free(ca);
    X509_REQ_free(csr);
    X509_free(cur);
    EVP_PKEY_free(key);
    return r;
}

static int do_getcacaps(void) {
    unsigned caps = get_caps();
    _cleanup_free_ char *s = scep_caps_to_string(caps);
    printf("caps: %s\n", s ? s : "");
    printf("digest: %s\ncipher: %s\npkioperation: %s\n", scep_caps_digest(caps),
           scep_caps_cipher(caps), scep_caps_use_post(caps) ? "POST" : "GET");
    return 0;
}

static int do_getnextcacert(void) {
    _cleanup_free_ char *url = NULL, *fp = NULL;
    HttpResponse resp = { 0 };
    STACK_OF(X509) *next = NULL;
    AeError e = { 0 };
    ScepCA *ca = NULL;
    int r = get_ca(&ca, &e);
    if (r == 0 && (r = scep_url_build(arg.url, "GetNextCACert", NULL, &url)) == 0 &&
        (r = http(SCEP_OP_GET_NEXT_CA_CERT, "GET", url, NULL, 0, &resp, &e)) == 0)
        r = scep_next_ca_parse(ca, resp.body, resp.body_len, &next, &e);
    http_response_clear(&resp);
    scep_ca_free(ca);
    if (r < 0)
        return fail(&e, r);
    scep_fingerprint_format(sk_X509_value(next, 0), &fp);
    printf("next: %s\ncerts: %d\n", fp, sk_X509_num(next));
    sk_X509_pop_free(next, X509_free);
    return 0;
}

static int do_getcacert(void) {
    AeError e = { 0 };
    ScepCA *ca = NULL;
    _cleanup_free_ char *pem = NULL, *fa = NULL, *fe = NULL, *fs = NULL;
    int r = get_ca(&ca, &e);
    if (r < 0)
        return fail(&e, r);
    scep_fingerprint_format(scep_ca_get_anchor(ca), &fa);
    scep_fingerprint_format(scep_ca_get_encrypt(ca), &fe);
    scep_fingerprint_format(scep_ca_get_signer(ca), &fs);
    printf("ca: %s\nencrypt: %s\nsigner: %s\ncerts: %d\n", fa, fe, fs,
           sk_X509_num(scep_ca_get_certs(ca)));
    if (arg.out && scep_ca_chain_pem(ca, &pem) == 0)
        r = fileio_write_atomic(arg.out, pem, strlen(pem), 0644, FILEIO_KEEP_OWNER, (gid_t)-1);
    scep_ca_free(ca);
    return r < 0 ? 1 : 0;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        { "url", required_argument, NULL, 'u' },
        { "ca-fingerprint", required_argument, NULL, 'f' },
        { "key", required_argument, NULL, 'k' },
        { "challenge-file", required_argument, NULL, 'c' },
        { "subject", required_argument, NULL, 's' },
        { "dns", required_argument, NULL, 'd' },
        { "upn", required_argument, NULL, 'U' },
        { "sid", required_argument, NULL, 'S' },
        { "out", required_argument, NULL, 'o' },
        { "state", required_argument, NULL, 'T' },
        { "cert", required_argument, NULL, 'C' },
        { "current-key", required_argument, NULL, 'K' },
        { "poll", required_argument, NULL, 'p' },
        { "poll-interval", required_argument, NULL, 'i' },
        { "timing", required_argument, NULL, 't' },
        { "get", no_argument, NULL, 'g' },
        { "allow-des", no_argument, NULL, 'D' },
        { "no-renewal", no_argument, NULL, 'N' },
        { "renewal-with-challenge", no_argument, NULL, 'W' },
        {}
    };
    const char *cmd;
    int c;

    if (argc < 2) {
        fprintf(stderr, "usage: ae-scep enroll|renew|poll|getcacaps|getcacert|getcrl --url URL ...\n");
        return 1;
    }
    cmd = argv[1];
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
        switch (c) {
        case 'u': arg.url = optarg; break;
        case 'f': arg.fingerprint = optarg; break;
        case 'k': arg.key = optarg; break;
        case 'c': arg.challenge_file = optarg; break;
        case 's': arg.subject = optarg; break;
        case 'd':
            if (arg.n_dns < (int)ELEMENTSOF(arg.dns) - 1)
                arg.dns[arg.n_dns++] = optarg;
            break;
        case 'U': arg.upn = optarg; break;
        case 'S': arg.sid = optarg; break;
        case 'o': arg.out = optarg; break;
        case 'T': arg.state = optarg; break;
        case 'C': arg.cert = optarg; break;
        case 'K': arg.current_key = optarg; break;
        case 'p': arg.polls = atoi(optarg); break;
        case 'i': arg.poll_interval = atoi(optarg); break;
        case 't': arg.timing = optarg; break;
        case 'g': arg.get = true; break;
        case 'D': arg.allow_des = true; break;
        case 'N': arg.no_renewal = true; break;
        case 'W': arg.renewal_challenge = true; break;
        default: return 1;
        }
    }
    if (!arg.url) {
        fprintf(stderr, "error [config]: --url is required\n");
        return 1;
    }
    if (streq(cmd, "getcacaps"))
        return do_getcacaps();
    if (streq(cmd, "getcacert"))
        return do_getcacert();
    if (streq(cmd, "getnextcacert"))
        return do_getnextcacert();
    if (streq(cmd, "enroll"))
        return do_enroll(false);
    if (streq(cmd, "renew"))
        return do_enroll(true);
    if (streq(cmd, "poll"))
        return do_poll(MODE_POLL);
    if (streq(cmd, "getcrl"))
        return do_poll(MODE_GETCRL);
    if (streq(cmd, "getcert"))
        return do_poll(MODE_GETCERT);
    fprintf(stderr, "error [config]: unknown command %s\n", cmd);
    return 1;
}
