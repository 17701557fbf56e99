/* PKCS#10 requests from a profile. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "daemon/csr.h"
#include "daemon/util.h"

#define UPN_OID "1.3.6.1.4.1.311.20.2.3"

int csr_sid_valid(const char *s) {
    int parts = 0;
    if (!s || strncmp(s, "S-1-", 4) != 0)
        return 0;
    s += 4;
    while (*s) {
        const char *start = s;
        while (isdigit((unsigned char)*s))
            s++;
        if (s == start || s - start > 10)
            return 0;
        parts++;
        if (*s == '-')
            s++;
        else if (*s)
            return 0;
        else
            break;
    }
    return parts >= 2 && s[-1] != '-';
}

/* Split "/A=b/C=d" or "A=b,C=d" into entries, unescaping '\x'. */
int csr_parse_subject(const char *s, X509_NAME **ret) {
    X509_NAME *name = NULL;
    char sep;
    _cleanup_free_ char *buf = NULL;
    int r = -EINVAL;

    if (!s || !ret)
        return -EINVAL;
    while (*s == ' ')
        s++;
    if (*s == '/') {
        sep = '/';
        s++;
    } else
        sep = ',';
    buf = malloc(strlen(s) + 1);
    name = X509_NAME_new();
    if (!buf || !name) {
        r = -ENOMEM;
        goto out;
    }
    while (*s) {
        char *field = buf, *value = NULL, *p = buf;
        while (*s && *s != sep) {
            if (*s == '\\' && s[1])
                s++;
            else if (*s == '=' && !value) {
                *p++ = '\0';
                value = p;
                s++;
                continue;
            }
            *p++ = *s++;
        }
        *p = '\0';
        if (*s == sep)
            s++;
        while (*field == ' ')
            field++;
        while (value && *value == ' ')
            value++;
        for (char *e = field + strlen(field); e > field && e[-1] == ' ';)
            *--e = '\0';
        if (!value || !*field || !*value)
            goto out;
        if (!X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, (const unsigned char *)value,
                                        -1, -1, 0))
            goto out;
        while (*s == ' ')
            s++;
    }
    if (X509_NAME_entry_count(name) == 0)
        goto out;
    *ret = TAKE_PTR(name);
    r = 0;
out:
    X509_NAME_free(name);
    return r;
}

static int push_name(GENERAL_NAMES *gens, int type, const char *value) {
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();

    if (!gn || !s || !ASN1_STRING_set(s, value, -1))
        goto fail;
    GENERAL_NAME_set0_value(gn, type, s);
    s = NULL;
    if (!sk_GENERAL_NAME_push(gens, gn))
        goto fail;
    return 0;
fail:
    ASN1_IA5STRING_free(s);
    GENERAL_NAME_free(gn);
    return -ENOMEM;
}

static int ia5_ok(const char *s) {
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

static int push_upn(GENERAL_NAMES *gens, const char *upn) {
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_TYPE *val = ASN1_TYPE_new();
    ASN1_UTF8STRING *u = ASN1_UTF8STRING_new();
    ASN1_OBJECT *oid = OBJ_txt2obj(UPN_OID, 1);

    if (!gn || !val || !u || !oid || !ASN1_STRING_set(u, upn, -1))
        goto fail;
    ASN1_TYPE_set(val, V_ASN1_UTF8STRING, u);
    u = NULL;
    if (!GENERAL_NAME_set0_othername(gn, oid, val))
        goto fail;
    oid = NULL;
    val = NULL;
    if (!sk_GENERAL_NAME_push(gens, gn))
        goto fail;
    return 0;
fail:
    ASN1_OBJECT_free(oid);
    ASN1_UTF8STRING_free(u);
    ASN1_TYPE_free(val);
    GENERAL_NAME_free(gn);
    return -ENOMEM;
}

/* Append one extension made from value; -ENOMEM when OpenSSL cannot. */
static int push_ext(STACK_OF(X509_EXTENSION) *exts, int nid, int critical, void *value) {
    X509_EXTENSION *ext = X509V3_EXT_i2d(nid, critical, value);
    if (!ext || !sk_X509_EXTENSION_push(exts, ext)) {
        X509_EXTENSION_free(ext);
        return -ENOMEM;
    }
    return 0;
}

static int add_san(const CsrProfile *p, STACK_OF(X509_EXTENSION) *exts, AeError *err) {
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    int r = -ENOMEM;

    if (!gens)
        return -ENOMEM;
    for (const char *const *d = p->dns_names; d && *d; d++) {
        if (!ia5_ok(*d)) {
            r = ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "profile: bad DNS name '%s'", *d);
            goto out;
        }
        if ((r = push_name(gens, GEN_DNS, *d)) < 0)
            goto out;
    }
    for (const char *const *u = p->upns; u && *u; u++) {
        if (!**u || !strchr(*u, '@')) {
            r = ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "profile: bad UPN '%s'", *u);
            goto out;
        }
        if ((r = push_upn(gens, *u)) < 0)
            goto out;
    }
    for (const char *const *e = p->emails; e && *e; e++) {
        if (!ia5_ok(*e) || !strchr(*e, '@')) {
            r = ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "profile: bad e-mail address '%s'", *e);
            goto out;
        }
        if ((r = push_name(gens, GEN_EMAIL, *e)) < 0)
            goto out;
    }
    for (const char *const *u = p->uris; u && *u; u++) {
        if (!ia5_ok(*u) || !strchr(*u, ':')) {
            r = ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "profile: bad URI '%s'", *u);
            goto out;
        }
        if ((r = push_name(gens, GEN_URI, *u)) < 0)
            goto out;
    }
    if (p->sid) {
        char uri[256];
        if (!csr_sid_valid(p->sid)) {
            r = ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "profile: bad SID '%s'", p->sid);
            goto out;
        }
        snprintf(uri, sizeof uri, "%s%s", CSR_SID_URI_PREFIX, p->sid);
        if ((r = push_name(gens, GEN_URI, uri)) < 0)
            goto out;
    }
    r = 0;
    if (sk_GENERAL_NAME_num(gens) == 0)
        goto out;
    r = push_ext(exts, NID_subject_alt_name, 0, gens);
out:
    GENERAL_NAMES_free(gens);
    return r;
}

static int add_key_usage(unsigned ku, STACK_OF(X509_EXTENSION) *exts) {
    ASN1_BIT_STRING *bs = ASN1_BIT_STRING_new();
    int r = -ENOMEM;

    if (!bs)
        return -ENOMEM;
    for (int bit = 0; bit < 8; bit++)
        if (ku & (0x80u >> bit) && !ASN1_BIT_STRING_set_bit(bs, bit, 1))
            goto out;
    r = push_ext(exts, NID_key_usage, 1, bs);
out:
    ASN1_BIT_STRING_free(bs);
    return r;
}

static int add_eku(const char *const *ekus, STACK_OF(X509_EXTENSION) *exts, AeError *err) {
    static const char *const dflt[] = { "clientAuth", NULL };
    EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
    int r = -ENOMEM;

    if (!eku)
        return -ENOMEM;
    for (const char *const *e = ekus ? ekus : dflt; *e; e++) {
        ASN1_OBJECT *o = OBJ_txt2obj(*e, 0);
        if (!o) {
            r = ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "profile: unknown EKU '%s'", *e);
            goto out;
        }
        if (!sk_ASN1_OBJECT_push(eku, o)) {
            ASN1_OBJECT_free(o);
            goto out;
        }
    }
    r = 0;
    if (sk_ASN1_OBJECT_num(eku) == 0)
        goto out;
    r = push_ext(exts, NID_ext_key_usage, 0, eku);
out:
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    return r;
}

static int printable(const char *s) {
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(" '()+,-./:=?", *s))
            return 0;
    return 1;
}

int csr_new(const CsrProfile *p, EVP_PKEY *key, X509_REQ **ret, AeError *err) {
    X509_REQ *req = NULL;
    X509_NAME *name = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    EVP_MD *md = NULL;
    int r;

    if (!p || !key || !ret)
        return -EINVAL;
    if (!p->subject || csr_parse_subject(p->subject, &name) < 0) {
        r = ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "profile: bad subject '%s'",
                         p->subject ? p->subject : "(none)");
        goto out;
    }
    req = X509_REQ_new();
    exts = sk_X509_EXTENSION_new_null();
    if (!req || !exts || !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
        !X509_REQ_set_subject_name(req, name) || !X509_REQ_set_pubkey(req, key)) {
        r = -ENOMEM;
        goto out;
    }
    if ((r = add_san(p, exts, err)) < 0 ||
        (r = add_key_usage(p->key_usage ? p->key_usage
                                        : CSR_KU_DIGITAL_SIGNATURE | CSR_KU_KEY_ENCIPHERMENT,
                           exts)) < 0 ||
        (r = add_eku(p->ekus, exts, err)) < 0)
        goto out;
    if (!X509_REQ_add_extensions(req, exts)) {
        r = -ENOMEM;
        goto out;
    }
    if (p->challenge) {
        size_t n = strlen(p->challenge);
        if (n == 0 || n > 255) {
            r = ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "challenge password length %zu invalid", n);
            goto out;
        }
        /* PrintableString as RFC 8894 wants; UTF8String only if it can't be. */
        if (!X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword,
                                       printable(p->challenge) ? V_ASN1_PRINTABLESTRING
                                                               : V_ASN1_UTF8STRING,
                                       (const unsigned char *)p->challenge, (int)n)) {
            r = -ENOMEM;
            goto out;
        }
    }
    md = EVP_MD_fetch(NULL, p->digest ? p->digest : "SHA256", NULL);
    if (!md) {
        r = ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "unknown digest '%s'", p->digest);
        goto out;
    }
    if (X509_REQ_sign(req, key, md) <= 0) {
        unsigned long e = ERR_peek_last_error();
        const char *why = e ? ERR_reason_error_string(e) : NULL;
        r = ae_error_set(err, -EIO, AE_ERR_TOKEN, "signing the CSR failed: %s",
                         why ? why : "unknown error");
        ERR_clear_error();
        goto out;
    }
    *ret = TAKE_PTR(req);
    r = 0;
out:
    EVP_MD_free(md);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_NAME_free(name);
    X509_REQ_free(req);
    return r;
}
