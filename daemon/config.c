/* autoenroll.conf parsing and validation. */
#include "daemon/config.h"

#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/util.h"

typedef struct Parser {
    Config *config;
    const char *file;
    char error[400]; /* first error, without file:line */
} Parser;

static const char *const kind_names[] = {[KIND_MACHINE] = "machine", [KIND_USER] = "user"};

const char *request_kind_to_string(RequestKind k) {
    return (unsigned)k < ELEMENTSOF(kind_names) ? kind_names[k] : "unknown";
}

int config_parse_duration(const char *s, uint64_t *ret_usec) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return -EINVAL;
    uint64_t mult;
    if (streq(end, "") || streq(end, "s"))
        mult = 1000000ULL;
    else if (streq(end, "ms"))
        mult = 1000ULL;
    else if (streq(end, "m") || streq(end, "min"))
        mult = 60ULL * 1000000ULL;
    else if (streq(end, "h"))
        mult = 3600ULL * 1000000ULL;
    else if (streq(end, "d"))
        mult = 86400ULL * 1000000ULL;
    else
        return -EINVAL;
    if (v > UINT64_MAX / mult)
        return -ERANGE;
    *ret_usec = v * mult;
    return 0;
}

static int parse_bool(const char *s, bool *ret) {
    if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcasecmp(s, "on") || streq(s, "1"))
        *ret = true;
    else if (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcasecmp(s, "off") ||
             streq(s, "0"))
        *ret = false;
    else
        return -EINVAL;
    return 0;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *ret) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
        return -EINVAL;
    *ret = (unsigned)v;
    return 0;
}

static int set_str(char **field, const char *value) {
    char *v = strdup(value);
    if (!v)
        return -ENOMEM;
    free(*field);
    *field = v;
    return 0;
}

static int add_str(char **arr, unsigned *n, unsigned max, const char *value) {
    if (*n >= max)
        return -E2BIG;
    arr[*n] = strdup(value);
    if (!arr[*n])
        return -ENOMEM;
    (*n)++;
    return 0;
}

__attribute__((format(printf, 2, 3))) static int parser_error(Parser *p, const char *fmt, ...) {
    va_list ap;
    if (p->error[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(p->error, sizeof p->error, fmt, ap);
        va_end(ap);
    }
    return 0; /* tells inih to report this line */
}

/* "ca corp" -> kind "ca", name "corp" */
static int split_section(const char *section, char *kind, size_t kind_len, const char **name) {
    const char *sp = strchr(section, ' ');
    if (!sp) {
        snprintf(kind, kind_len, "%s", section);
        *name = NULL;
        return 0;
    }
    if ((size_t)(sp - section) >= kind_len)
        return -EINVAL;
    memcpy(kind, section, (size_t)(sp - section));
    kind[sp - section] = '\0';
    *name = sp + 1;
    while (**name == ' ')
        (*name)++;
    return **name ? 0 : -EINVAL;
}

static CaConfig *ca_get(Config *c, const char *name) {
    for (unsigned i = 0; i < c->n_cas; i++)
        if (streq(c->cas[i].name, name))
            return &c->cas[i];
    if (c->n_cas >= CONFIG_MAX_CAS)
        return NULL;
    CaConfig *ca = &c->cas[c->n_cas];
    *ca = (CaConfig){
        .challenge = CHALLENGE_KERBEROS,
        .max_concurrent = 4,
        .poll_interval_usec = 10ULL * 60 * 1000000,
        .timeout_usec = 60ULL * 1000000,
        .cooldown_usec = 5ULL * 60 * 1000000,
    };
    ca->name = strdup(name);
    if (!ca->name)
        return NULL;
    c->n_cas++;
    return ca;
}

static Profile *profile_get(Config *c, const char *name) {
    for (unsigned i = 0; i < c->n_profiles; i++)
        if (streq(c->profiles[i].name, name))
            return &c->profiles[i];
    if (c->n_profiles >= CONFIG_MAX_PROFILES)
        return NULL;
    Profile *p = &c->profiles[c->n_profiles];
    *p = (Profile){
        .kind = KIND_MACHINE,
        .autoenroll = true,
        .key_bits = 2048,
        .new_key_on_renew = true,
        .hook_timeout_usec = 30ULL * 1000000,
    };
    p->name = strdup(name);
    if (!p->name)
        return NULL;
    c->n_profiles++;
    return p;
}

/* Derive the two NDES URLs from a base such as https://ndes.example.com. */
static int server_from_base(NdesServer *s, const char *base) {
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    if (asprintf(&s->scep_url, "%.*s/certsrv/mscep/mscep.dll", (int)n, base) < 0)
        return -ENOMEM;
    if (asprintf(&s->admin_url, "%.*s/certsrv/mscep_admin/", (int)n, base) < 0)
        return -ENOMEM;
    return 0;
}

static int handle_ca(Parser *p, CaConfig *ca, const char *key, const char *value) {
    int r = 0;
    if (streq(key, "server")) {
        /* "server = BASE" or "server = SCEP_URL ADMIN_URL" (one line per NDES server) */
        if (ca->n_servers >= CONFIG_MAX_SERVERS)
            return parser_error(p, "too many servers for CA '%s' (at most %d)", ca->name,
                                CONFIG_MAX_SERVERS);
        NdesServer *s = &ca->servers[ca->n_servers];
        const char *sp = strpbrk(value, " \t");
        if (!sp)
            r = server_from_base(s, value);
        else {
            const char *admin = sp + strspn(sp, " \t");
            if (asprintf(&s->scep_url, "%.*s", (int)(sp - value), value) < 0)
                return -ENOMEM;
            /* "-": a plain SCEP server without an NDES admin page. */
            if (!streq(admin, "-") && !(s->admin_url = strdup(admin)))
                return -ENOMEM;
        }
        if (r < 0)
            return r;
        ca->n_servers++;
    } else if (streq(key, "challenge")) {
        if (streq(value, "kerberos"))
            ca->challenge = CHALLENGE_KERBEROS;
        else if (streq(value, "static"))
            ca->challenge = CHALLENGE_STATIC;
        else if (streq(value, "none"))
            ca->challenge = CHALLENGE_NONE;
        else
            return parser_error(p, "challenge must be kerberos, static or none, not '%s'", value);
    } else if (streq(key, "challenge_file"))
        r = set_str(&ca->challenge_file, value);
    else if (streq(key, "negotiate_scep")) {
        if (parse_bool(value, &ca->negotiate_scep) < 0)
            return parser_error(p, "negotiate_scep must be yes or no");
    } else if (streq(key, "fingerprint")) {
        if (strncasecmp(value, "sha256:", 7) != 0)
            return parser_error(p, "fingerprint must be sha256:<hex>");
        r = set_str(&ca->fingerprint, value);
    } else if (streq(key, "allow_des")) {
        if (parse_bool(value, &ca->allow_des) < 0)
            return parser_error(p, "allow_des must be yes or no");
    } else if (streq(key, "tls_ca_file"))
        r = set_str(&ca->tls_ca_file, value);
    else if (streq(key, "max_concurrent")) {
        if (parse_uint(value, 1, 1000, &ca->max_concurrent) < 0)
            return parser_error(p, "max_concurrent must be 1..1000");
    } else if (streq(key, "max_per_minute")) {
        if (parse_uint(value, 0, 100000, &ca->max_per_minute) < 0)
            return parser_error(p, "max_per_minute must be 0..100000");
    } else if (streq(key, "server_cooldown")) {
        if (config_parse_duration(value, &ca->cooldown_usec) < 0)
            return parser_error(p, "server_cooldown: bad duration '%s'", value);
    } else if (streq(key, "server_order")) {
        if (streq(value, "configured"))
            ca->random_order = false;
        else if (streq(value, "random"))
            ca->random_order = true;
        else
            return parser_error(p, "server_order must be configured or random");
    } else if (streq(key, "poll_interval")) {
        if (config_parse_duration(value, &ca->poll_interval_usec) < 0)
            return parser_error(p, "poll_interval: bad duration '%s'", value);
    } else if (streq(key, "timeout")) {
        if (config_parse_duration(value, &ca->timeout_usec) < 0)
            return parser_error(p, "timeout: bad duration '%s'", value);
    } else
        return parser_error(p, "unknown setting '%s' in [ca %s]", key, ca->name);
    return r < 0 ? r : 1;
}

static int handle_profile(Parser *p, Profile *pr, const char *key, const char *value) {
    int r = 0;
    if (streq(key, "kind")) {
        if (streq(value, "machine"))
            pr->kind = KIND_MACHINE;
        else if (streq(value, "user"))
            pr->kind = KIND_USER;
        else
            return parser_error(p, "kind must be machine or user, not '%s'", value);
    } else if (streq(key, "ca"))
        r = set_str(&pr->ca, value);
    else if (streq(key, "autoenroll")) {
        if (parse_bool(value, &pr->autoenroll) < 0)
            return parser_error(p, "autoenroll must be yes or no");
    } else if (streq(key, "subject"))
        r = set_str(&pr->subject, value);
    else if (streq(key, "dns")) {
        if (add_str(pr->dns, &pr->n_dns, CONFIG_MAX_SANS, value) == -E2BIG)
            return parser_error(p, "too many dns names");
    } else if (streq(key, "uri")) {
        if (add_str(pr->uri, &pr->n_uri, CONFIG_MAX_SANS, value) == -E2BIG)
            return parser_error(p, "too many uri names");
    } else if (streq(key, "upn"))
        r = set_str(&pr->upn, value);
    else if (streq(key, "email"))
        r = set_str(&pr->email, value);
    else if (streq(key, "sid"))
        r = set_str(&pr->sid, value);
    else if (streq(key, "eku"))
        r = set_str(&pr->eku, value);
    else if (streq(key, "key_store"))
        r = set_str(&pr->key_store, value);
    else if (streq(key, "key_bits")) {
        /* What every key store makes (file, SoftHSM, TPM): 8192 used to pass
         * here and fail only at key generation. */
        if (parse_uint(value, 2048, 4096, &pr->key_bits) < 0 || pr->key_bits % 1024)
            return parser_error(p, "key_bits must be 2048, 3072 or 4096");
    } else if (streq(key, "new_key_on_renew")) {
        if (parse_bool(value, &pr->new_key_on_renew) < 0)
            return parser_error(p, "new_key_on_renew must be yes or no");
    } else if (streq(key, "cert_file"))
        r = set_str(&pr->cert_file, value);
    else if (streq(key, "chain_file"))
        r = set_str(&pr->chain_file, value);
    else if (streq(key, "hook"))
        r = set_str(&pr->hook, value);
    else if (streq(key, "hook_timeout")) {
        if (config_parse_duration(value, &pr->hook_timeout_usec) < 0)
            return parser_error(p, "hook_timeout: bad duration '%s'", value);
    } else if (streq(key, "keytab"))
        r = set_str(&pr->keytab, value);
    else if (streq(key, "principal"))
        r = set_str(&pr->principal, value);
    else if (streq(key, "renew_before")) {
        if (config_parse_duration(value, &pr->renew_before_usec) < 0)
            return parser_error(p, "renew_before: bad duration '%s'", value);
    } else
        return parser_error(p, "unknown setting '%s' in [profile %s]", key, pr->name);
    return r < 0 ? r : 1;
}

static int handle_daemon(Parser *p, Config *c, const char *key, const char *value) {
    int r = 0;
    struct {
        const char *name;
        uint64_t *field;
    } durations[] = {
        {"check_interval", &c->check_interval_usec}, {"splay", &c->splay_usec},
        {"renew_before", &c->renew_before_usec},     {"backoff_min", &c->backoff_min_usec},
        {"backoff_max", &c->backoff_max_usec},       {"alert_before", &c->alert_before_usec},
        {"stop_timeout", &c->stop_timeout_usec},
    };
    for (size_t i = 0; i < ELEMENTSOF(durations); i++)
        if (streq(key, durations[i].name)) {
            if (config_parse_duration(value, durations[i].field) < 0)
                return parser_error(p, "%s: bad duration '%s' (use s, m, h or d)", key, value);
            return 1;
        }
    if (streq(key, "state_dir"))
        r = set_str(&c->state_dir, value);
    else if (streq(key, "socket"))
        r = set_str(&c->socket_path, value);
    else if (streq(key, "metrics_file"))
        r = set_str(&c->metrics_file, value);
    else if (streq(key, "hostname"))
        r = set_str(&c->hostname, value);
    else if (streq(key, "ldap_uri"))
        r = set_str(&c->ldap_uri, value);
    else if (streq(key, "renew_percent")) {
        if (parse_uint(value, 1, 90, &c->renew_percent) < 0)
            return parser_error(p, "renew_percent must be 1..90");
    } else if (streq(key, "max_concurrent")) {
        if (parse_uint(value, 1, 10000, &c->max_concurrent) < 0)
            return parser_error(p, "max_concurrent must be 1..10000");
    } else
        return parser_error(p, "unknown setting '%s' in [daemon]", key);
    return r < 0 ? r : 1;
}

static int config_ini_handler(void *user, const char *section, const char *key, const char *value) {
    Parser *p = user;
    char kind[16];
    const char *name;

    if (p->error[0])
        return 0;
    if (split_section(section, kind, sizeof kind, &name) < 0)
        return parser_error(p, "bad section name [%s]", section);
    int r;
    if (streq(kind, "daemon") && !name)
        r = handle_daemon(p, p->config, key, value);
    else if (streq(kind, "ca") && name) {
        CaConfig *ca = ca_get(p->config, name);
        if (!ca)
            return parser_error(p, "too many CAs (at most %d)", CONFIG_MAX_CAS);
        r = handle_ca(p, ca, key, value);
    } else if (streq(kind, "profile") && name) {
        Profile *pr = profile_get(p->config, name);
        if (!pr)
            return parser_error(p, "too many profiles (at most %d)", CONFIG_MAX_PROFILES);
        r = handle_profile(p, pr, key, value);
    } else
        r = -ENOENT;
    if (r == -ENOMEM)
        return parser_error(p, "out of memory");
    if (r != -ENOENT)
        return r > 0 ? 1 : 0;
    if (!section[0])
        return parser_error(p, "setting '%s' outside any section", key);
    return parser_error(p, "unknown section [%s] (use [daemon], [ca NAME], [profile NAME])",
                        section);
}

static int config_new(Config **ret) {
    Config *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->check_interval_usec = 8ULL * 3600 * 1000000;
    c->splay_usec = 5ULL * 60 * 1000000;
    c->renew_before_usec = 30ULL * 86400 * 1000000;
    c->renew_percent = 20;
    c->backoff_min_usec = 60ULL * 1000000;
    c->backoff_max_usec = 4ULL * 3600 * 1000000;
    c->max_concurrent = 16;
    c->alert_before_usec = 7ULL * 86400 * 1000000;
    c->stop_timeout_usec = 20ULL * 1000000;
    *ret = c;
    return 0;
}

static int set_default_str(char **field, const char *value) {
    return *field ? 0 : set_str(field, value);
}

static int config_validate(Config *c, const char *name, AeError *err) {
    if (set_default_str(&c->state_dir, LOCALSTATEDIR "/lib/autoenroll") < 0 ||
        set_default_str(&c->socket_path, RUNSTATEDIR "/autoenroll/autoenrolld.sock") < 0)
        return -ENOMEM;
    for (unsigned i = 0; i < c->n_cas; i++) {
        CaConfig *ca = &c->cas[i];
        if (ca->n_servers == 0)
            return ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "%s: [ca %s] needs a 'server ='",
                                name, ca->name);
        for (unsigned j = 0; j < ca->n_servers; j++)
            if (ca->challenge == CHALLENGE_KERBEROS && !ca->servers[j].admin_url)
                return ae_error_set(err, -EINVAL, AE_ERR_CONFIG,
                                    "%s: [ca %s] challenge = kerberos needs an admin URL for "
                                    "server %s", name, ca->name, ca->servers[j].scep_url);
        if (ca->challenge == CHALLENGE_STATIC && !ca->challenge_file)
            return ae_error_set(err, -EINVAL, AE_ERR_CONFIG,
                                "%s: [ca %s] challenge = static needs challenge_file", name,
                                ca->name);
    }
    for (unsigned i = 0; i < c->n_profiles; i++) {
        Profile *p = &c->profiles[i];
        if (!p->ca)
            return ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "%s: [profile %s] needs 'ca ='",
                                name, p->name);
        if (!config_find_ca(c, p->ca))
            return ae_error_set(err, -EINVAL, AE_ERR_CONFIG,
                                "%s: [profile %s] names CA '%s', which is not defined", name,
                                p->name, p->ca);
        if (!p->key_store && set_str(&p->key_store, "file:%{state_dir}/keys") < 0)
            return -ENOMEM;
        if (!p->subject &&
            set_str(&p->subject, p->kind == KIND_MACHINE ? "CN=%{fqdn}" : "CN=%{user}") < 0)
            return -ENOMEM;
        if (p->kind == KIND_MACHINE && p->n_dns == 0 &&
            add_str(p->dns, &p->n_dns, CONFIG_MAX_SANS, "%{fqdn}") < 0)
            return -ENOMEM;
        if (p->kind == KIND_USER && !p->upn && set_str(&p->upn, "%{principal}") < 0)
            return -ENOMEM;
        if (p->kind == KIND_MACHINE && !p->keytab && set_str(&p->keytab, "/etc/krb5.keytab") < 0)
            return -ENOMEM;
        if (!p->eku && set_str(&p->eku, "clientAuth") < 0)
            return -ENOMEM;
        if (p->sid && streq(p->sid, "auto") && !c->ldap_uri)
            return ae_error_set(err, -EINVAL, AE_ERR_CONFIG,
                                "%s: [profile %s] sid = auto needs ldap_uri in [daemon]", name,
                                p->name);
    }
    return 0;
}

static int parse_one(Parser *p, const char *name, FILE *f, const char *text, AeError *err) {
    p->file = name;
    p->error[0] = '\0';
    int line = f ? ini_parse_file(f, config_ini_handler, p) : ini_parse_string(text, config_ini_handler, p);
    if (line == -2)
        return ae_error_set(err, -ENOMEM, AE_ERR_CONFIG, "%s: out of memory", name);
    if (line != 0)
        return ae_error_set(err, -EINVAL, AE_ERR_CONFIG, "%s:%d: %s", name, line,
                            p->error[0] ? p->error : "syntax error");
    return 0;
}

int config_parse_string(const char *name, const char *text, AeError *err, Config **ret) {
    Config *c;
    int r = config_new(&c);
    if (r < 0)
        return r;
    Parser p = {.config = c};
    r = parse_one(&p, name, NULL, text, err);
    if (r >= 0)
        r = config_validate(c, name, err);
    if (r < 0) {
        config_free(c);
        return r;
    }
    *ret = c;
    return 0;
}

static int parse_path(Parser *p, const char *path, AeError *err) {
    FILE *f = fopen(path, "re");
    if (!f)
        return ae_error_set(err, -errno, AE_ERR_CONFIG, "%s: %s", path, strerror(errno));
    int r = parse_one(p, path, f, NULL, err);
    fclose(f);
    return r;
}

static int conf_filter(const struct dirent *d) {
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 5 && streq(d->d_name + n - 5, ".conf");
}

int config_load(const char *path, const char *conf_d, AeError *err, Config **ret) {
    Config *c;
    int r = config_new(&c);
    if (r < 0)
        return r;
    Parser p = {.config = c};
    r = parse_path(&p, path, err);
    if (r >= 0 && conf_d) {
        struct dirent **names = NULL;
        int n = scandir(conf_d, &names, conf_filter, alphasort);
        for (int i = 0; i < n; i++) {
            if (r >= 0) {
                _cleanup_free_ char *f = NULL;
                if (asprintf(&f, "%s/%s", conf_d, names[i]->d_name) < 0)
                    r = -ENOMEM;
                else
                    r = parse_path(&p, f, err);
            }
            free(names[i]);
        }
        free(names);
    }
    if (r >= 0)
        r = config_validate(c, path, err);
    if (r < 0) {
        config_free(c);
        return r;
    }
    *ret = c;
    return 0;
}

const CaConfig *config_find_ca(const Config *c, const char *name) {
    for (unsigned i = 0; i < c->n_cas; i++)
        if (streq(c->cas[i].name, name))
            return &c->cas[i];
    return NULL;
}

const Profile *config_find_profile(const Config *c, const char *name) {
    for (unsigned i = 0; i < c->n_profiles; i++)
        if (streq(c->profiles[i].name, name))
            return &c->profiles[i];
    return NULL;
}

static void profile_clear(Profile *p) {
    char **fields[] = {&p->name,      &p->ca,        &p->subject,    &p->upn,  &p->email,
                       &p->sid,       &p->eku,       &p->key_store,  &p->cert_file,
                       &p->chain_file, &p->hook,     &p->keytab,     &p->principal};
    for (size_t i = 0; i < ELEMENTSOF(fields); i++)
        free(*fields[i]);
    for (unsigned i = 0; i < p->n_dns; i++)
        free(p->dns[i]);
    for (unsigned i = 0; i < p->n_uri; i++)
        free(p->uri[i]);
}

void config_free(Config *c) {
    if (!c)
        return;
    for (unsigned i = 0; i < c->n_cas; i++) {
        CaConfig *ca = &c->cas[i];
        for (unsigned j = 0; j < ca->n_servers; j++) {
            free(ca->servers[j].scep_url);
            free(ca->servers[j].admin_url);
        }
        free(ca->name);
        free(ca->challenge_file);
        free(ca->fingerprint);
        free(ca->tls_ca_file);
    }
    for (unsigned i = 0; i < c->n_profiles; i++)
        profile_clear(&c->profiles[i]);
    free(c->state_dir);
    free(c->socket_path);
    free(c->metrics_file);
    free(c->hostname);
    free(c->ldap_uri);
    free(c);
}
