/* Kerberos credentials and Negotiate tokens: see krb.h. */
#include "daemon/krb.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <openssl/evp.h>

#include "daemon/fileio.h"
#include "daemon/util.h"

struct KrbCreds {
    atomic_uint n_ref;
    krb5_context ctx;
    krb5_ccache cc;
    char *ccname;    /* "MEMORY:..." for gss_acquire_cred_from */
    char *principal; /* unparsed client principal */
    time_t expiry;
    bool machine;
};

static int map_krb5(krb5_context ctx, krb5_error_code code, const char *category, AeError *err,
                    const char *what) {
    const char *msg = ctx ? krb5_get_error_message(ctx, code) : NULL;
    const char *m = msg ? msg : "unknown Kerberos error";
    int r;
    switch (code) {
    case KRB5_KDC_UNREACH:
    case KRB5_REALM_CANT_RESOLVE:
    case KRB5_REALM_UNKNOWN:
        r = ae_error_set(err, -EHOSTUNREACH, category, "%s: KDC unreachable (%s)", what, m);
        break;
    case KRB5KRB_AP_ERR_SKEW:
        r = ae_error_set(err, -ETIME, category,
                         "%s: clock skew too great between this host and the KDC: sync the clock (%s)", what, m);
        break;
    case KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN:
        r = ae_error_set(err, -ESRCH, category, "%s: principal unknown to the KDC (%s)", what, m);
        break;
    case KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN:
        r = ae_error_set(err, -ESRCH, category, "%s: service principal unknown to the KDC (%s)", what, m);
        break;
    case KRB5KDC_ERR_NAME_EXP:
    case KRB5KDC_ERR_KEY_EXP:
        r = ae_error_set(err, -EKEYEXPIRED, category, "%s: principal or its password expired (%s)", what, m);
        break;
    case KRB5KDC_ERR_CLIENT_REVOKED:
    case KRB5KDC_ERR_POLICY:
        r = ae_error_set(err, -EKEYREVOKED, category, "%s: principal disabled or locked (%s)", what, m);
        break;
    case KRB5KDC_ERR_PREAUTH_FAILED:
    case KRB5KRB_AP_ERR_BAD_INTEGRITY:
    case KRB5_PREAUTH_FAILED:
    case KRB5KRB_AP_ERR_BADKEYVER:
    case KRB5_KT_KVNONOTFOUND:
        r = ae_error_set(err, -ENOKEY, category,
                         "%s: the keytab's key does not match the KDC's (wrong kvno or stale keytab: "
                         "rejoin or refresh it) (%s)", what, m);
        break;
    case KRB5_KT_NOTFOUND:
        r = ae_error_set(err, -ESRCH, category, "%s: principal not found in the keytab (%s)", what, m);
        break;
    case KRB5_CC_NOTFOUND:
    case KRB5_FCC_NOFILE:
    case KRB5_CC_NOSUPP:
        r = ae_error_set(err, -ENOKEY, category, "%s: no credentials (%s)", what, m);
        break;
    case KRB5KRB_AP_ERR_TKT_EXPIRED:
        r = ae_error_set(err, -EKEYEXPIRED, category, "%s: tickets expired (%s)", what, m);
        break;
    case KRB5_CC_FORMAT:
    case KRB5_CCACHE_BADVNO:
        r = ae_error_set(err, -EBADMSG, category, "%s: not a Kerberos credential cache (%s)", what, m);
        break;
    case ENOENT:
        r = ae_error_set(err, -ENOENT, category, "%s: file not found", what);
        break;
    default:
        r = ae_error_set(err, -EIO, category, "%s: %s", what, m);
    }
    if (msg)
        krb5_free_error_message(ctx, msg);
    return r;
}

KrbCreds *krb_creds_ref(KrbCreds *c) {
    if (c)
        atomic_fetch_add(&c->n_ref, 1);
    return c;
}

KrbCreds *krb_creds_free(KrbCreds *c) {
    if (!c)
        return NULL;
    if (atomic_fetch_sub(&c->n_ref, 1) > 1)
        return NULL;
    if (c->cc)
        krb5_cc_destroy(c->ctx, c->cc); /* wipes the MEMORY cache */
    if (c->ctx)
        krb5_free_context(c->ctx);
    free(c->ccname);
    free(c->principal);
    free(c);
    return NULL;
}

const char *krb_creds_ccname(const KrbCreds *c) { return c ? c->ccname : NULL; }

const char *krb_creds_principal(const KrbCreds *c) { return c ? c->principal : NULL; }
time_t krb_creds_expiry(const KrbCreds *c) { return c ? c->expiry : 0; }
bool krb_creds_is_machine(const KrbCreds *c) { return c && c->machine; }
bool krb_creds_need_renewal(const KrbCreds *c, time_t now, time_t margin) {
    return !c || c->expiry - margin <= now;
}

static int creds_new(KrbCreds **ret, AeError *err) {
    KrbCreds *c = calloc(1, sizeof *c);
    krb5_error_code k;
    if (!c)
        return ae_error_set(err, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
    atomic_init(&c->n_ref, 1);
    k = krb5_init_context(&c->ctx);
    if (k) {
        free(c);
        return ae_error_set(err, -EIO, AE_ERR_KERBEROS, "cannot initialise Kerberos (krb5.conf?): error %d", (int)k);
    }
    k = krb5_cc_new_unique(c->ctx, "MEMORY", NULL, &c->cc);
    if (k) {
        int r = map_krb5(c->ctx, k, AE_ERR_INTERNAL, err, "creating a memory cache");
        krb_creds_free(c);
        return r;
    }
    const char *name = krb5_cc_get_name(c->ctx, c->cc);
    if (asprintf(&c->ccname, "MEMORY:%s", name) < 0) {
        c->ccname = NULL;
        krb_creds_free(c);
        return ae_error_set(err, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
    }
    *ret = c;
    return 0;
}

/* Find the TGT in c->cc and record its end time. */
static int creds_find_tgt(KrbCreds *c, krb5_principal client, const char *category, AeError *err) {
    krb5_cc_cursor cur;
    krb5_creds cr;
    krb5_error_code k;
    time_t now = time(NULL), best = 0;
    k = krb5_cc_start_seq_get(c->ctx, c->cc, &cur);
    if (k)
        return map_krb5(c->ctx, k, category, err, "reading the credential cache");
    while (krb5_cc_next_cred(c->ctx, c->cc, &cur, &cr) == 0) {
        if (krb5_is_config_principal(c->ctx, cr.server) == 0 && cr.server->length == 2 &&
            cr.server->data[0].length == 6 && memcmp(cr.server->data[0].data, "krbtgt", 6) == 0 &&
            krb5_realm_compare(c->ctx, cr.server, client) && (time_t)cr.times.endtime > best)
            best = (time_t)(uint32_t)cr.times.endtime;
        krb5_free_cred_contents(c->ctx, &cr);
    }
    krb5_cc_end_seq_get(c->ctx, c->cc, &cur);
    if (best == 0)
        return ae_error_set(err, -ENOKEY, category, "no ticket-granting ticket for %s", c->principal);
    if (best <= now)
        return ae_error_set(err, -EKEYEXPIRED, category, "the tickets of %s have expired", c->principal);
    c->expiry = best;
    return 0;
}

/* The file behind a keytab name ("FILE:/x", "WRFILE:/x" or "/x"). */
static const char *keytab_file(const char *keytab) {
    if (strncmp(keytab, "FILE:", 5) == 0)
        return keytab + 5;
    if (strncmp(keytab, "WRFILE:", 7) == 0)
        return keytab + 7;
    return keytab;
}

int krb_keytab_machine_principal(const char *keytab, char **ret_principal, int *ret_kvno, AeError *err) {
    krb5_context ctx = NULL;
    krb5_keytab kt = NULL;
    krb5_kt_cursor cur;
    krb5_keytab_entry e;
    krb5_error_code k;
    char *found = NULL;
    int kvno = 0, r;
    char what[600];

    if (!keytab)
        keytab = KRB_DEFAULT_KEYTAB;
    snprintf(what, sizeof what, "keytab %s", keytab);
    if (access(keytab_file(keytab), R_OK) < 0)
        return ae_error_set(err, -errno, AE_ERR_KERBEROS, "keytab %s: %s", keytab, strerror(errno));
    if (krb5_init_context(&ctx))
        return ae_error_set(err, -EIO, AE_ERR_KERBEROS, "cannot initialise Kerberos");
    k = krb5_kt_resolve(ctx, keytab, &kt);
    if (!k)
        k = krb5_kt_start_seq_get(ctx, kt, &cur);
    if (k) {
        r = map_krb5(ctx, k, AE_ERR_KERBEROS, err, what);
        goto out;
    }
    while (krb5_kt_next_entry(ctx, kt, &e, &cur) == 0) {
        /* The first NAME$ principal; its newest key version. */
        char *name = NULL;
        if (e.principal->length == 1 && e.principal->data[0].length > 1 &&
            e.principal->data[0].data[e.principal->data[0].length - 1] == '$' &&
            krb5_unparse_name(ctx, e.principal, &name) == 0) {
            if (!found) {
                found = name;
                name = NULL;
                kvno = (int)e.vno;
            } else if (streq(found, name) && (int)e.vno > kvno)
                kvno = (int)e.vno;
            if (name)
                krb5_free_unparsed_name(ctx, name);
        }
        krb5_free_keytab_entry_contents(ctx, &e);
    }
    krb5_kt_end_seq_get(ctx, kt, &cur);
    if (!found) {
        r = ae_error_set(err, -ESRCH, AE_ERR_KERBEROS,
                         "keytab %s has no NAME$ machine principal: set the principal in the configuration",
                         keytab);
        goto out;
    }
    char *p = strdup(found);
    if (!p) {
        r = ae_error_set(err, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
        goto out;
    }
    *ret_principal = p;
    if (ret_kvno)
        *ret_kvno = kvno;
    r = 0;
out:
    if (found)
        krb5_free_unparsed_name(ctx, found);
    if (kt)
        krb5_kt_close(ctx, kt);
    krb5_free_context(ctx);
    return r;
}

int krb_creds_from_keytab(const char *keytab, const char *principal, KrbCreds **ret, AeError *err) {
    _cleanup_(krb_creds_freep) KrbCreds *c = NULL;
    _cleanup_free_ char *pname = NULL;
    krb5_principal client = NULL;
    krb5_keytab kt = NULL;
    krb5_get_init_creds_opt *opt = NULL;
    krb5_creds cr;
    krb5_error_code k;
    krb5_context ctx = NULL;
    char what[700];
    int r;

    memset(&cr, 0, sizeof cr);
    if (!keytab)
        keytab = KRB_DEFAULT_KEYTAB;
    if (access(keytab_file(keytab), R_OK) < 0) {
        int e = errno;
        return ae_error_set(err, -e, AE_ERR_KERBEROS, "keytab %s: %s", keytab,
                            e == ENOENT ? "missing (is the host joined to the domain?)" : strerror(e));
    }
    if (!principal) {
        r = krb_keytab_machine_principal(keytab, &pname, NULL, err);
        if (r < 0)
            return r;
        principal = pname;
    }
    r = creds_new(&c, err);
    if (r < 0)
        return r;
    ctx = c->ctx; /* owned by c, then by *ret */
    c->machine = true;
    snprintf(what, sizeof what, "TGT for %s from %s", principal, keytab);
    k = krb5_parse_name(c->ctx, principal, &client);
    if (k) {
        r = map_krb5(c->ctx, k, AE_ERR_CONFIG, err, what);
        goto out;
    }
    k = krb5_kt_resolve(c->ctx, keytab, &kt);
    if (!k)
        k = krb5_get_init_creds_opt_alloc(c->ctx, &opt);
    if (!k)
        k = krb5_get_init_creds_opt_set_out_ccache(c->ctx, opt, c->cc);
    if (!k)
        k = krb5_get_init_creds_keytab(c->ctx, &cr, client, kt, 0, NULL, opt);
    if (k) {
        r = map_krb5(c->ctx, k, AE_ERR_KERBEROS, err, what);
        goto out;
    }
    char *un = NULL;
    if (krb5_unparse_name(c->ctx, client, &un) == 0) {
        c->principal = strdup(un);
        krb5_free_unparsed_name(c->ctx, un);
    }
    if (!c->principal) {
        r = ae_error_set(err, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
        goto out;
    }
    c->expiry = (time_t)(uint32_t)cr.times.endtime;
    *ret = TAKE_PTR(c);
    r = 0;
out:
    krb5_free_cred_contents(ctx, &cr);
    if (opt)
        krb5_get_init_creds_opt_free(ctx, opt);
    if (kt)
        krb5_kt_close(ctx, kt);
    if (client)
        krb5_free_principal(ctx, client);
    return r;
}

int krb_creds_from_ccache_fd(int fd, uid_t uid, KrbCreds **ret, AeError *err) {
    _cleanup_(krb_creds_freep) KrbCreds *c = NULL;
    krb5_ccache src = NULL;
    krb5_principal client = NULL;
    krb5_error_code k;
    krb5_context ctx = NULL;
    _cleanup_close_ int own = -1;
    char path[64], local[256];
    struct stat st;
    int r;

    if (fd < 0 || fstat(fd, &st) < 0)
        return ae_error_set(err, -EBADF, AE_ERR_CREDENTIALS, "no credential cache passed");
    if (!S_ISREG(st.st_mode))
        return ae_error_set(err, -EBADMSG, AE_ERR_CREDENTIALS, "the credential cache passed is not a file");
    if ((size_t)st.st_size > KRB_CCACHE_MAX)
        return ae_error_set(err, -EFBIG, AE_ERR_CREDENTIALS, "the credential cache passed is too large");
    /* Copy the bytes the caller's fd gives into our own memfd: what the
     * kernel let the caller open is what we read, whatever the file's
     * owner and mode (the original may be deleted or another uid's 0600). */
    r = fileio_copy_to_memfd(fd, KRB_CCACHE_MAX, "autoenroll-usercc", false, &own);
    if (r == -EFBIG)
        return ae_error_set(err, r, AE_ERR_CREDENTIALS, "the credential cache passed is too large");
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_CREDENTIALS, "reading the credential cache: %s",
                            strerror(-r));
    r = creds_new(&c, err);
    if (r < 0)
        return r;
    ctx = c->ctx;
    snprintf(path, sizeof path, "FILE:/proc/self/fd/%d", own);
    k = krb5_cc_resolve(c->ctx, path, &src);
    if (!k)
        k = krb5_cc_get_principal(c->ctx, src, &client);
    if (k) {
        r = map_krb5(c->ctx, k, AE_ERR_CREDENTIALS, err, "user credential cache");
        goto out;
    }
    char *un = NULL;
    if (krb5_unparse_name(c->ctx, client, &un) == 0) {
        c->principal = strdup(un);
        krb5_free_unparsed_name(c->ctx, un);
    }
    if (!c->principal) {
        r = ae_error_set(err, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
        goto out;
    }
    /* The kernel told us who the caller is; the cache must be theirs. */
    k = krb5_aname_to_localname(c->ctx, client, sizeof local - 1, local);
    struct passwd *pw = k ? NULL : getpwnam(local);
    if (!pw || pw->pw_uid != uid) {
        r = ae_error_set(err, -EPERM, AE_ERR_CREDENTIALS,
                         "the credential cache belongs to %s, which is not the local user with uid %u",
                         c->principal, (unsigned)uid);
        goto out;
    }
    k = krb5_cc_initialize(c->ctx, c->cc, client);
    if (!k)
        k = krb5_cc_copy_creds(c->ctx, src, c->cc);
    if (k) {
        r = map_krb5(c->ctx, k, AE_ERR_CREDENTIALS, err, "copying the user credential cache");
        goto out;
    }
    r = creds_find_tgt(c, client, AE_ERR_CREDENTIALS, err);
    if (r < 0)
        goto out;
    *ret = TAKE_PTR(c);
out:
    if (client)
        krb5_free_principal(ctx, client);
    if (src)
        krb5_cc_close(ctx, src);
    return r;
}

int krb_export_ccache_to_memfd(const char *ccname, int *ret_fd, AeError *err) {
    krb5_context ctx = NULL;
    krb5_ccache src = NULL, dst = NULL;
    krb5_principal client = NULL;
    krb5_error_code k;
    _cleanup_close_ int fd = -1;
    _cleanup_free_ char *data = NULL;
    char dir[PATH_MAX], file[PATH_MAX + 8], name[PATH_MAX + 16];
    const char *tmp = getenv("TMPDIR");
    size_t len = 0;
    int r;

    /* libkrb5 writes FILE caches by path (it replaces the file), so build
     * one in a private directory, then move its bytes into a memfd. */
    snprintf(dir, sizeof dir, "%s/autoenroll-cc.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return ae_error_set(err, -errno, AE_ERR_INTERNAL, "mkdtemp: %s", strerror(errno));
    snprintf(file, sizeof file, "%s/cc", dir);
    snprintf(name, sizeof name, "FILE:%s", file);
    if (krb5_init_context(&ctx)) {
        r = ae_error_set(err, -EIO, AE_ERR_KERBEROS, "cannot initialise Kerberos");
        goto out;
    }
    k = ccname ? krb5_cc_resolve(ctx, ccname, &src) : krb5_cc_default(ctx, &src);
    if (!k)
        k = krb5_cc_get_principal(ctx, src, &client);
    if (k) {
        r = map_krb5(ctx, k, AE_ERR_CREDENTIALS, err, "your credential cache");
        goto out;
    }
    k = krb5_cc_resolve(ctx, name, &dst);
    if (!k)
        k = krb5_cc_initialize(ctx, dst, client);
    if (!k)
        k = krb5_cc_copy_creds(ctx, src, dst);
    if (k) {
        r = map_krb5(ctx, k, AE_ERR_CREDENTIALS, err, "copying your credential cache");
        goto out;
    }
    r = fileio_read(file, KRB_CCACHE_MAX, &data, &len);
    if (r < 0) {
        ae_error_set(err, r, AE_ERR_INTERNAL, "reading the copied cache: %s", strerror(-r));
        goto out;
    }
    fd = memfd_create("autoenroll-ccache", MFD_CLOEXEC);
    if (fd < 0) {
        r = ae_error_set(err, -errno, AE_ERR_INTERNAL, "memfd_create: %s", strerror(errno));
        goto out;
    }
    for (size_t o = 0; o < len;) {
        ssize_t n = write(fd, data + o, len - o);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = ae_error_set(err, -errno, AE_ERR_INTERNAL, "writing the memfd: %s", strerror(errno));
            goto out;
        }
        o += (size_t)n;
    }
    if (lseek(fd, 0, SEEK_SET) < 0) {
        r = ae_error_set(err, -errno, AE_ERR_INTERNAL, "lseek: %s", strerror(errno));
        goto out;
    }
    *ret_fd = TAKE_FD(fd);
    r = 0;
out:
    if (data)
        explicit_bzero(data, len);
    if (dst)
        krb5_cc_destroy(ctx, dst); /* removes the file */
    if (src)
        krb5_cc_close(ctx, src);
    if (client)
        krb5_free_principal(ctx, client);
    if (ctx)
        krb5_free_context(ctx);
    unlink(file);
    rmdir(dir);
    return r;
}

/* --- GSSAPI ----------------------------------------------------------------- */

static gss_OID_desc spnego_oid = {6, (void *)"\x2b\x06\x01\x05\x05\x02"};

static void gss_text(OM_uint32 status, int type, gss_OID mech, char *out, size_t cap) {
    OM_uint32 minor, ctx = 0;
    size_t o = 0;
    out[0] = '\0';
    do {
        gss_buffer_desc b = GSS_C_EMPTY_BUFFER;
        if (GSS_ERROR(gss_display_status(&minor, status, type, mech, &ctx, &b)))
            break;
        int n = snprintf(out + o, cap - o, "%s%.*s", o ? "; " : "", (int)b.length, (char *)b.value);
        gss_release_buffer(&minor, &b);
        if (n < 0 || (size_t)n >= cap - o)
            break;
        o += (size_t)n;
    } while (ctx != 0);
}

static int map_gss(OM_uint32 major, OM_uint32 minor, const char *host, AeError *err) {
    char text[300], mtext[300];
    gss_text(major, GSS_C_GSS_CODE, GSS_C_NO_OID, text, sizeof text);
    gss_text(minor, GSS_C_MECH_CODE, GSS_C_NO_OID, mtext, sizeof mtext);
    switch ((krb5_error_code)minor) {
    case KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN:
        return ae_error_set(err, -ESRCH, AE_ERR_KERBEROS,
                            "no service principal HTTP/%s in the realm: register the SPN on the NDES "
                            "service account (setspn -s HTTP/%s <account>) (%s)", host, host, mtext);
    case KRB5_KDC_UNREACH:
    case KRB5_REALM_CANT_RESOLVE:
        return ae_error_set(err, -EHOSTUNREACH, AE_ERR_KERBEROS,
                            "service ticket for HTTP/%s: KDC unreachable (%s)", host, mtext);
    case KRB5KRB_AP_ERR_TKT_EXPIRED:
        return ae_error_set(err, -EKEYEXPIRED, AE_ERR_CREDENTIALS,
                            "service ticket for HTTP/%s: tickets expired (%s)", host, mtext);
    case KRB5KRB_AP_ERR_SKEW:
        return ae_error_set(err, -ETIME, AE_ERR_KERBEROS, "service ticket for HTTP/%s: clock skew (%s)",
                            host, mtext);
    default:
        if (major == GSS_S_NO_CRED || major == GSS_S_CREDENTIALS_EXPIRED)
            return ae_error_set(err, -EKEYEXPIRED, AE_ERR_CREDENTIALS,
                                "no usable Kerberos credentials for HTTP/%s (%s; %s)", host, text, mtext);
        return ae_error_set(err, -EIO, AE_ERR_KERBEROS, "Negotiate token for HTTP/%s failed: %s; %s",
                            host, text, mtext);
    }
}

/* Get the HTTP/host service ticket into the private cache with libkrb5
 * first: its errors are precise (SPNEGO hides the mechanism's codes), and
 * GSSAPI then finds the ticket there. Own context: this may run on several
 * threads for one KrbCreds. */
static int service_ticket(KrbCreds *c, const char *host, AeError *err) {
    krb5_context ctx = NULL;
    krb5_ccache cc = NULL;
    krb5_principal server = NULL;
    krb5_creds in, *out = NULL;
    krb5_error_code k;
    char what[300];
    int r = 0;

    memset(&in, 0, sizeof in);
    snprintf(what, sizeof what, "service ticket for HTTP/%s", host);
    if (krb5_init_context(&ctx))
        return ae_error_set(err, -EIO, AE_ERR_KERBEROS, "cannot initialise Kerberos");
    k = krb5_cc_resolve(ctx, c->ccname, &cc);
    if (!k)
        k = krb5_cc_get_principal(ctx, cc, &in.client);
    if (!k)
        k = krb5_sname_to_principal(ctx, host, "HTTP", KRB5_NT_SRV_HST, &server);
    if (!k) {
        in.server = server;
        k = krb5_get_credentials(ctx, 0, cc, &in, &out);
    }
    if (k == KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN)
        r = ae_error_set(err, -ESRCH, AE_ERR_KERBEROS,
                         "no service principal HTTP/%s in the realm: register the SPN on the NDES "
                         "service account (setspn -s HTTP/%s <account>)", host, host);
    else if (k == KRB5KRB_AP_ERR_TKT_EXPIRED)
        r = ae_error_set(err, -EKEYEXPIRED, c->machine ? AE_ERR_KERBEROS : AE_ERR_CREDENTIALS,
                         "%s: the tickets of %s have expired", what, c->principal);
    else if (k)
        r = map_krb5(ctx, k, AE_ERR_KERBEROS, err, what);
    krb5_free_creds(ctx, out);
    krb5_free_principal(ctx, server);
    krb5_free_principal(ctx, in.client);
    if (cc)
        krb5_cc_close(ctx, cc);
    krb5_free_context(ctx);
    return r;
}

int krb_negotiate_token(KrbCreds *c, const char *host, char **ret_b64, AeError *err) {
    OM_uint32 major, minor, flags = 0;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_ctx_id_t gctx = GSS_C_NO_CONTEXT;
    gss_name_t target = GSS_C_NO_NAME;
    gss_buffer_desc out = GSS_C_EMPTY_BUFFER, namebuf;
    gss_OID_set_desc mechs = {1, &spnego_oid};
    _cleanup_free_ char *spn = NULL;
    char *b64 = NULL;
    int r;

    if (!c || !host || !*host)
        return ae_error_set(err, -EINVAL, AE_ERR_INTERNAL, "no credentials or host for Negotiate");
    r = service_ticket(c, host, err);
    if (r < 0)
        return r;
    gss_key_value_element_desc el = {.key = "ccache", .value = c->ccname};
    gss_key_value_set_desc store = {.count = 1, .elements = &el};
    major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE,
                                  &store, &cred, NULL, NULL);
    if (GSS_ERROR(major)) {
        r = map_gss(major, minor, host, err);
        goto out;
    }
    if (asprintf(&spn, "HTTP@%s", host) < 0) {
        spn = NULL;
        r = ae_error_set(err, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
        goto out;
    }
    namebuf.value = spn;
    namebuf.length = strlen(spn);
    major = gss_import_name(&minor, &namebuf, GSS_C_NT_HOSTBASED_SERVICE, &target);
    if (GSS_ERROR(major)) {
        r = map_gss(major, minor, host, err);
        goto out;
    }
    major = gss_init_sec_context(&minor, cred, &gctx, target, &spnego_oid, GSS_C_MUTUAL_FLAG, 0,
                                 GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL, &out, &flags, NULL);
    if (GSS_ERROR(major) || out.length == 0) {
        r = map_gss(major, minor, host, err);
        goto out;
    }
    b64 = malloc(4 * ((out.length + 2) / 3) + 1);
    if (!b64) {
        r = ae_error_set(err, -ENOMEM, AE_ERR_INTERNAL, "out of memory");
        goto out;
    }
    EVP_EncodeBlock((unsigned char *)b64, out.value, (int)out.length);
    *ret_b64 = b64;
    r = 0;
out:
    gss_release_buffer(&minor, &out);
    if (gctx != GSS_C_NO_CONTEXT)
        gss_delete_sec_context(&minor, &gctx, GSS_C_NO_BUFFER);
    if (target != GSS_C_NO_NAME)
        gss_release_name(&minor, &target);
    if (cred != GSS_C_NO_CREDENTIAL)
        gss_release_cred(&minor, &cred);
    return r;
}
