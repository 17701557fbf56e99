/* libFuzzer target for the configuration file (daemon/config.c, inih
 * underneath), the durations in it and the templates of profiles.
 * fuzz-sources: daemon/config.c daemon/template.c
 * fuzz-pkgs: inih
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/template.h"
#include "daemon/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_config(const Config *c) {
    /* What the daemon relies on after a successful parse. */
    if (!c->state_dir || !c->socket_path || c->n_cas > CONFIG_MAX_CAS ||
        c->n_profiles > CONFIG_MAX_PROFILES)
        abort();
    for (unsigned i = 0; i < c->n_profiles; i++) {
        const Profile *p = &c->profiles[i];
        if (!p->name || !p->ca || !config_find_ca(c, p->ca) || config_find_profile(c, p->name) != p)
            abort();
    }
    for (unsigned i = 0; i < c->n_cas; i++) {
        const CaConfig *ca = &c->cas[i];
        if (ca->n_servers == 0)
            abort();
        for (unsigned k = 0; k < ca->n_servers; k++)
            if (!ca->servers[k].scep_url || !ca->servers[k].admin_url)
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = strndup((const char *)data, size);
    if (!text)
        return 0;
    Config *c = NULL;
    AeError err = {0};
    int r = config_parse_string("fuzz.conf", text, &err, &c);
    if (r == 0)
        check_config(c);
    else if (c || !err.message[0])
        abort(); /* a failure always says why, and returns nothing */
    config_free(c);

    uint64_t usec;
    (void)config_parse_duration(text, &usec);

    /* The input as a profile template, with every variable the daemon offers. */
    static const TemplateVar vars[] = {
        {"hostname", "client.autoenroll.test"}, {"shortname", "client"},
        {"user", "alice"}, {"uid", "20001"}, {"principal", "alice@AUTOENROLL.TEST"},
        {"realm", "AUTOENROLL.TEST"}, {NULL, NULL},
    };
    char *out = NULL;
    const char *missing = NULL;
    if (template_expand(text, vars, &out, &missing) == 0)
        free(out);
    free(text);
    return 0;
}
