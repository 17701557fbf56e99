/* Kerberos credentials per request, never through the process environment.
 *
 * A KrbCreds holds a private MEMORY ccache: machine credentials come from a
 * keytab, user credentials are copied from a ccache the caller opened as
 * the user (an fd), after checking that its client principal maps to the
 * uid the kernel reported for the caller. Negotiate tokens are built with
 * GSSAPI from that cache, so machine and several users can work at once.
 *
 * Everything here blocks (KDC round trips): the daemon calls it from a
 * worker (daemon/worker.h). A KrbCreds may be used by one thread at a time
 * for krb_* calls; krb_negotiate_token() may run concurrently on one creds. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "daemon/error.h"

#define KRB_DEFAULT_KEYTAB "/etc/krb5.keytab"
/* A user ccache larger than this is refused. */
#define KRB_CCACHE_MAX (1024u * 1024u)

typedef struct KrbCreds KrbCreds;

/* Machine: get a TGT from keytab (NULL: KRB_DEFAULT_KEYTAB) for principal
 * (NULL: the first "NAME$" principal in the keytab, as AD computers need).
 * Errors (category "kerberos"): -ENOENT keytab missing, -ESRCH principal not
 * in keytab/unknown to the KDC, -ENOKEY wrong key or kvno, -EHOSTUNREACH KDC
 * unreachable, -ETIME clock skew, -EKEYEXPIRED expired, -EKEYREVOKED
 * disabled, -EIO other. */
int krb_creds_from_keytab(const char *keytab, const char *principal, KrbCreds **ret, AeError *err);

/* User: copy the FILE-format ccache readable at fd (a session cache the
 * caller opened, or a memfd from krb_export_ccache_to_memfd()) into a private
 * cache, if its client principal maps (krb5_aname_to_localname) to the local
 * user with uid `uid`. Errors: -EPERM principal is not that user's (category
 * "credentials"); -ENOKEY no TGT, -EKEYEXPIRED TGT expired (category
 * "credentials": wait for the user's next login); -EBADMSG not a ccache. */
int krb_creds_from_ccache_fd(int fd, uid_t uid, KrbCreds **ret, AeError *err);

/* Reference counted: a worker computing a token holds a reference, so the
 * owner may drop its own at any time. krb_creds_free() drops one. */
KrbCreds *krb_creds_ref(KrbCreds *c);
KrbCreds *krb_creds_free(KrbCreds *c);
static inline void krb_creds_freep(KrbCreds **c) { krb_creds_free(*c); }

const char *krb_creds_principal(const KrbCreds *c); /* "CLIENT$@REALM" */
/* The private cache's name ("MEMORY:..."), for libraries that take a cache
 * name per thread (gss_krb5_ccache_name), e.g. an LDAP SASL/GSSAPI bind. */
const char *krb_creds_ccname(const KrbCreds *c);
time_t krb_creds_expiry(const KrbCreds *c);         /* TGT end time */
bool krb_creds_is_machine(const KrbCreds *c);
/* Renew before use when less than `margin` seconds are left (machine creds
 * only: user creds cannot be renewed without the user). */
bool krb_creds_need_renewal(const KrbCreds *c, time_t now, time_t margin);

/* Build an "HTTP@host" SPNEGO token (base64, no "Negotiate " prefix) with
 * gss_acquire_cred_from() on the private cache + gss_init_sec_context().
 * Only call it for hosts the configuration names. Errors: -ESRCH no
 * HTTP/host principal (SPN missing), -EHOSTUNREACH KDC unreachable,
 * -EKEYEXPIRED tickets expired, -EIO other (message has GSSAPI's text). */
int krb_negotiate_token(KrbCreds *c, const char *host, char **ret_b64, AeError *err);

/* Client side (PAM module, CLI running as the user): copy any ccache type
 * (FILE, DIR, KEYRING, KCM; NULL: the default) into a new memfd holding a
 * FILE-format ccache, positioned at 0, to pass to the daemon. */
int krb_export_ccache_to_memfd(const char *ccname, int *ret_fd, AeError *err);

/* The keytab's default machine principal ("NAME$@REALM") and its kvno. */
int krb_keytab_machine_principal(const char *keytab, char **ret_principal, int *ret_kvno, AeError *err);
