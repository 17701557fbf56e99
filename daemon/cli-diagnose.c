/* `autoenroll diagnose [CA]`: walk the chain to every NDES server of a CA,
 * with the machine's keytab (root) or the caller's own tickets (a user). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/cli.h"
#include "daemon/config.h"
#include "daemon/diagnose.h"
#include "daemon/util.h"

static const Profile *machine_profile_for(const Config *c, const char *ca) {
    for (unsigned i = 0; i < c->n_profiles; i++)
        if (c->profiles[i].kind == KIND_MACHINE && streq(c->profiles[i].ca, ca))
            return &c->profiles[i];
    return NULL;
}

int cli_diagnose(const char *config_path, const char *ca_name, bool json) {
    Config *c = NULL;
    AeError err = {0};
    _cleanup_free_ char *conf_d = NULL;
    const char *slash = strrchr(config_path, '/');
    if (slash && asprintf(&conf_d, "%.*s/conf.d", (int)(slash - config_path), config_path) < 0)
        return 1;
    if (config_load(config_path, conf_d, &err, &c) < 0) {
        fprintf(stderr, "autoenroll: %s\n", err.message);
        return 1;
    }
    int rc = 0;
    bool found = false;
    if (json)
        printf("[");
    bool first = true;
    for (unsigned i = 0; i < c->n_cas; i++) {
        const CaConfig *ca = &c->cas[i];
        if (ca_name && !streq(ca->name, ca_name))
            continue;
        found = true;
        const Profile *mp = machine_profile_for(c, ca->name);
        for (unsigned s = 0; s < ca->n_servers; s++) {
            int fd = getuid() != 0 ? cli_open_user_ccache() : -1;
            DiagTarget t = {
                .admin_url = ca->challenge == CHALLENGE_KERBEROS ? ca->servers[s].admin_url : NULL,
                .scep_url = ca->servers[s].scep_url,
                .keytab = mp ? mp->keytab : NULL,
                .principal = mp ? mp->principal : NULL,
                .ccache_fd = fd,
                .uid = getuid(),
                .cafile = ca->tls_ca_file,
                .scep_negotiate = ca->negotiate_scep,
                .timeout_ms = (unsigned)(ca->timeout_usec / 1000),
            };
            DiagReport rep = {0};
            if (diagnose_run(&t, &rep) < 0) {
                if (fd >= 0)
                    close(fd);
                config_free(c);
                return 1;
            }
            if (fd >= 0)
                close(fd);
            char *out = json ? diagnose_to_json(&rep) : diagnose_to_text(&rep);
            if (json)
                printf("%s{\"ca\":\"%s\",\"server\":\"%s\",\"report\":%s}", first ? "" : ",",
                       ca->name, ca->servers[s].scep_url, out ? out : "null");
            else
                printf("CA %s, server %s\n%s\n", ca->name, ca->servers[s].scep_url, out ? out : "");
            first = false;
            free(out);
            if (!diagnose_ok(&rep))
                rc = 1;
            diagnose_report_clear(&rep);
        }
    }
    if (json)
        printf("]\n");
    config_free(c);
    if (!found) {
        fprintf(stderr, "autoenroll: no CA %s%sin %s\n", ca_name ? ca_name : "", ca_name ? " " : "",
                config_path);
        return 2;
    }
    return rc;
}
