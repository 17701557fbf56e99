/* Strong certificate mapping (KB5014754): an Active Directory account's
 * objectSid, read over LDAP with the caller's own Kerberos credentials
 * (SASL GSSAPI with sealing: what AD's "require strong auth" accepts over
 * plain ldap://), and the binary SID as the S-1-... string the SAN URI
 * tag:microsoft.com,2022-09-14:sid:<SID> carries.
 *
 * Blocking (network); run it on a worker thread. Does not log. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "daemon/error.h"

/* "S-1-" + authority + 15 sub-authorities of up to 10 digits. */
#define SID_STRING_MAX 192

/* A binary SID (MS-DTYP 2.4.2.2) as "S-1-5-21-...". -EBADMSG if malformed
 * (revision other than 1, more than 15 sub-authorities, wrong length). */
int sid_from_binary(const uint8_t *p, size_t n, char **ret);

/* 1 if S is a well-formed S-1-... string (what a SAN URI may carry), else 0. */
int sid_string_valid(const char *s);

typedef struct SidQuery {
    const char *uri;     /* ldap://dc.example.com (a DC; plain LDAP, SASL sealing) */
    const char *account; /* sAMAccountName: "HOST$" for a computer, "alice" for a user */
    const char *ccache;  /* Kerberos cache to bind with; NULL = the default */
    int timeout_sec;     /* network and search timeout; <= 0 means 10 */
} SidQuery;

/* Look the account up and return its objectSid as a string in *ret.
 * -ENOENT: no such account; -EACCES: the bind was refused (category
 * kerberos); -EHOSTUNREACH: the DC could not be reached (network);
 * -EBADMSG: malformed reply (protocol). */
int sid_lookup(const SidQuery *q, AeError *err, char **ret);
