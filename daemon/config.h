/* autoenroll.conf: CAs, profiles and daemon settings.
 *
 * INI syntax (parsed with inih): /etc/autoenroll/autoenroll.conf, then every
 * conf.d/NAME.conf in name order; a later file overrides single settings and adds
 * sections. Durations take s/m/h/d suffixes. Errors name the file and line. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/error.h"

#define CONFIG_MAX_CAS 16
#define CONFIG_MAX_PROFILES 32
#define CONFIG_MAX_SERVERS 8
#define CONFIG_MAX_SANS 8

typedef enum ChallengeMode {
    CHALLENGE_KERBEROS, /* NDES mscep_admin behind Negotiate */
    CHALLENGE_STATIC,   /* a fixed password from a root-only file */
    CHALLENGE_NONE,
} ChallengeMode;

typedef enum RequestKind { KIND_MACHINE, KIND_USER } RequestKind;

typedef struct NdesServer {
    char *scep_url;  /* .../certsrv/mscep/mscep.dll */
    char *admin_url; /* .../certsrv/mscep_admin/ */
} NdesServer;

typedef struct CaConfig {
    char *name;
    NdesServer servers[CONFIG_MAX_SERVERS];
    unsigned n_servers;
    ChallengeMode challenge;
    char *challenge_file;
    bool negotiate_scep;   /* NDES also wants Negotiate on mscep.dll */
    char *fingerprint;     /* "sha256:AB:CD..." of the pinned CA certificate */
    bool allow_des;        /* read single-DES replies (legacy provider, private context) */
    char *tls_ca_file;
    unsigned max_concurrent;
    unsigned max_per_minute; /* submissions started per minute (0: no cap) */
    uint64_t poll_interval_usec;
    uint64_t timeout_usec;
    uint64_t cooldown_usec;  /* a failed server is skipped this long */
    bool random_order;       /* spread hosts over the servers (stable per host) */
} CaConfig;

typedef struct Profile {
    char *name;
    RequestKind kind;
    char *ca;
    bool autoenroll;       /* machine: created at first start; user: at login */
    char *subject;         /* templates: %{fqdn} %{hostname} %{user} %{uid} %{principal} %{realm} %{home} */
    char *dns[CONFIG_MAX_SANS];
    unsigned n_dns;
    char *upn;
    char *email;
    char *uri[CONFIG_MAX_SANS];
    unsigned n_uri;
    char *sid;             /* "S-1-..." or "auto": looked up over LDAP at enrollment */
    char *eku;             /* comma list: clientAuth (default), serverAuth, ... */
    char *key_store;       /* pkcs11:... URI or file:/dir */
    unsigned key_bits;
    bool new_key_on_renew;
    char *cert_file;       /* PEM outputs (optional) */
    char *chain_file;
    char *hook;            /* post-save command */
    uint64_t hook_timeout_usec;
    char *keytab;          /* machine credentials */
    char *principal;
    uint64_t renew_before_usec; /* 0 = daemon default */
} Profile;

typedef struct Config {
    char *state_dir;
    char *socket_path;
    char *metrics_file;
    char *hostname;        /* FQDN; default from the system */
    char *ldap_uri;        /* a DC, for sid = auto (objectSid over LDAP) */
    uint64_t check_interval_usec;
    uint64_t splay_usec;
    uint64_t renew_before_usec;
    unsigned renew_percent;  /* renew when less than this share of the lifetime is left */
    uint64_t backoff_min_usec;
    uint64_t backoff_max_usec;
    uint64_t alert_before_usec; /* critical alerts this close to expiry */
    unsigned max_concurrent; /* daemon-wide cap on submissions in flight */
    uint64_t stop_timeout_usec; /* how long a stop waits for busy worker threads */
    CaConfig cas[CONFIG_MAX_CAS];
    unsigned n_cas;
    Profile profiles[CONFIG_MAX_PROFILES];
    unsigned n_profiles;
} Config;

/* Load path and path's sibling conf.d/ (conf_d may be NULL to skip it). */
int config_load(const char *path, const char *conf_d, AeError *err, Config **ret);
/* Parse one buffer (for tests); name is used in error messages. */
int config_parse_string(const char *name, const char *text, AeError *err, Config **ret);
void config_free(Config *c);

const CaConfig *config_find_ca(const Config *c, const char *name);
const Profile *config_find_profile(const Config *c, const char *name);

/* "90", "90s", "15m", "8h", "30d" -> microseconds. Returns 0 or -EINVAL. */
int config_parse_duration(const char *s, uint64_t *ret_usec);

const char *request_kind_to_string(RequestKind k);
