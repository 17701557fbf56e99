/* An AD account's objectSid over LDAP (SASL GSSAPI), see sid.h. */
#include "daemon/sid.h"

#include <errno.h>
#include <gssapi/gssapi_krb5.h>
#include <ldap.h>
#include <sasl/sasl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/util.h"

#define SID_MAX_SUBAUTH 15

int sid_from_binary(const uint8_t *p, size_t n, char **ret) {
    char buf[SID_STRING_MAX];
    size_t len;

    if (!p || n < 8 || p[0] != 1 || p[1] > SID_MAX_SUBAUTH || n != 8 + 4 * (size_t)p[1])
        return -EBADMSG;
    uint64_t auth = 0;
    for (int i = 2; i < 8; i++)
        auth = auth << 8 | p[i];
    /* MS-DTYP 2.4.2.1: decimal below 2^32, else hexadecimal. */
    if (auth < (UINT64_C(1) << 32))
        len = (size_t)snprintf(buf, sizeof buf, "S-1-%llu", (unsigned long long)auth);
    else
        len = (size_t)snprintf(buf, sizeof buf, "S-1-0x%012llX", (unsigned long long)auth);
    for (unsigned i = 0; i < p[1]; i++) {
        const uint8_t *s = p + 8 + 4 * i;
        uint32_t v = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
        len += (size_t)snprintf(buf + len, sizeof buf - len, "-%u", v);
        if (len >= sizeof buf)
            return -EBADMSG;
    }
    char *s = strdup(buf);
    if (!s)
        return -ENOMEM;
    *ret = s;
    return 0;
}

int sid_string_valid(const char *s) {
    if (!s || strncmp(s, "S-1-", 4) != 0 || strlen(s) >= SID_STRING_MAX)
        return 0;
    unsigned parts = 0;
    for (const char *c = s + 4;; c++) {
        size_t digits = strspn(c, "0123456789");
        if (digits == 0 || digits > 10)
            return 0;
        c += digits;
        parts++;
        if (*c == '\0')
            break;
        if (*c != '-')
            return 0;
    }
    return parts >= 1 && parts <= 1 + SID_MAX_SUBAUTH;
}

/* GSSAPI needs no answers: take the defaults (no authorization id). */
static int sasl_interact(LDAP *ld, unsigned flags, void *defaults, void *in) {
    (void)ld;
    (void)flags;
    (void)defaults;
    for (sasl_interact_t *i = in; i && i->id != SASL_CB_LIST_END; i++) {
        i->result = i->defresult ? i->defresult : "";
        i->len = (unsigned)strlen(i->result);
    }
    return LDAP_SUCCESS;
}

static void ldap_unbindp(LDAP **ld) {
    if (*ld)
        ldap_unbind_ext_s(*ld, NULL, NULL);
}

static void ldap_msgfreep(LDAPMessage **m) {
    if (*m)
        ldap_msgfree(*m);
}

static int ldap_to_errno(int rc) {
    switch (rc) {
    case LDAP_SERVER_DOWN:
    case LDAP_CONNECT_ERROR:
    case LDAP_TIMEOUT:
        return -EHOSTUNREACH;
    case LDAP_NO_SUCH_OBJECT:
        return -ENOENT;
    default:
        return -EACCES;
    }
}

static int bind_gssapi(LDAP *ld, const char *ccache, AeError *err) {
    OM_uint32 minor;
    const char *old = NULL;
    /* Per thread in MIT krb5: the ccache only this bind uses. */
    if (ccache && gss_krb5_ccache_name(&minor, ccache, &old) != GSS_S_COMPLETE)
        return ae_error_set(err, -EINVAL, AE_ERR_KERBEROS, "cannot use the Kerberos cache %s", ccache);
    int rc = ldap_sasl_interactive_bind_s(ld, NULL, "GSSAPI", NULL, NULL, LDAP_SASL_QUIET,
                                          sasl_interact, NULL);
    if (ccache)
        gss_krb5_ccache_name(&minor, old, NULL);
    if (rc == LDAP_SUCCESS)
        return 0;
    char *diag = NULL;
    ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
    int r = ldap_to_errno(rc);
    ae_error_set(err, r, r == -EHOSTUNREACH ? AE_ERR_NETWORK : AE_ERR_KERBEROS,
                 "LDAP SASL GSSAPI bind failed: %s%s%s", ldap_err2string(rc), diag && *diag ? ": " : "",
                 diag ? diag : "");
    ldap_memfree(diag);
    return r;
}

/* The domain's naming context from the root DSE. */
static int naming_context(LDAP *ld, struct timeval *tv, AeError *err, char **ret) {
    _cleanup_(ldap_msgfreep) LDAPMessage *res = NULL;
    char *attrs[] = {"defaultNamingContext", NULL};
    int rc = ldap_search_ext_s(ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL, tv, 1,
                               &res);
    if (rc != LDAP_SUCCESS)
        return ae_error_set(err, ldap_to_errno(rc), AE_ERR_PROTOCOL, "LDAP root DSE: %s",
                            ldap_err2string(rc));
    LDAPMessage *e = ldap_first_entry(ld, res);
    struct berval **v = e ? ldap_get_values_len(ld, e, "defaultNamingContext") : NULL;
    if (!v || !v[0] || v[0]->bv_len == 0 || v[0]->bv_len > 1024) {
        ldap_value_free_len(v);
        return ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL, "LDAP root DSE has no defaultNamingContext");
    }
    char *s = strndup(v[0]->bv_val, v[0]->bv_len);
    ldap_value_free_len(v);
    if (!s)
        return -ENOMEM;
    *ret = s;
    return 0;
}

int sid_lookup(const SidQuery *q, AeError *err, char **ret) {
    _cleanup_(ldap_unbindp) LDAP *ld = NULL;
    _cleanup_(ldap_msgfreep) LDAPMessage *res = NULL;
    _cleanup_free_ char *base = NULL, *filter = NULL, *sid = NULL;
    struct berval raw, esc = {0, NULL};
    struct berval **v = NULL;
    int r;

    if (!q || !q->uri || !q->account || !*q->account)
        return ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "SID lookup needs an LDAP URI and an account");
    int t = q->timeout_sec > 0 ? q->timeout_sec : 10;
    struct timeval tv = {.tv_sec = t};
    int version = LDAP_VERSION3;

    if (ldap_initialize(&ld, q->uri) != LDAP_SUCCESS)
        return ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "bad LDAP URI %s", q->uri);
    if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
        /* The SPN is ldap/<host of the URI>, not a reverse lookup of its address. */
        ldap_set_option(ld, LDAP_OPT_X_SASL_NOCANON, LDAP_OPT_ON) != LDAP_OPT_SUCCESS ||
        /* Sealed: AD refuses simple/unsigned binds with "require strong auth". */
        ldap_set_option(ld, LDAP_OPT_X_SASL_SECPROPS, "minssf=56") != LDAP_OPT_SUCCESS)
        return ae_error_set(err, -EINVAL, AE_ERR_INTERNAL, "cannot set LDAP options");

    r = bind_gssapi(ld, q->ccache, err);
    if (r < 0)
        return r;
    r = naming_context(ld, &tv, err, &base);
    if (r < 0)
        return r;

    raw.bv_val = (char *)q->account;
    raw.bv_len = strlen(q->account);
    if (ldap_bv2escaped_filter_value(&raw, &esc) != 0)
        return -ENOMEM;
    r = asprintf(&filter, "(&(sAMAccountName=%s)(objectSid=*))", esc.bv_val);
    ber_memfree(esc.bv_val);
    if (r < 0)
        return -ENOMEM;

    char *attrs[] = {"objectSid", NULL};
    int rc = ldap_search_ext_s(ld, base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL, &tv, 2, &res);
    if (rc != LDAP_SUCCESS)
        return ae_error_set(err, ldap_to_errno(rc), AE_ERR_PROTOCOL, "LDAP search for %s under %s: %s",
                            q->account, base, ldap_err2string(rc));
    int n = ldap_count_entries(ld, res);
    if (n == 0)
        return ae_error_set(err, -ENOENT, AE_ERR_CONFIG, "no account %s in %s", q->account, base);
    if (n != 1)
        return ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL, "more than one account %s in %s", q->account,
                            base);
    v = ldap_get_values_len(ld, ldap_first_entry(ld, res), "objectSid");
    if (!v || !v[0] || v[1]) {
        ldap_value_free_len(v);
        return ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL, "account %s has no single objectSid",
                            q->account);
    }
    r = sid_from_binary((const uint8_t *)v[0]->bv_val, v[0]->bv_len, &sid);
    ldap_value_free_len(v);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_PROTOCOL, "malformed objectSid for %s", q->account);
    *ret = TAKE_PTR(sid);
    return 0;
}
