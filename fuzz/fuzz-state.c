/* libFuzzer target for the state files (daemon/store.c, daemon/request.c):
 * what a crash, a full disk or a person's editor may leave in the state
 * directory. A file that loads must survive a save/load round trip
 * unchanged, and the scheduler must cope with whatever times it holds.
 * fuzz-sources: daemon/store.c daemon/request.c daemon/fileio.c daemon/config.c daemon/template.c daemon/schedule.c
 * fuzz-pkgs: json-c inih
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/request.h"
#include "daemon/schedule.h"
#include "daemon/store.h"
#include "daemon/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Config *config;

static const char config_text[] =
    "[ca corp]\n"
    "server = http://ndes.autoenroll.test/\n"
    "[profile machine]\n"
    "kind = machine\n"
    "ca = corp\n"
    "[profile user]\n"
    "kind = user\n"
    "ca = corp\n";

static char *saved_form(const Request *r) {
    json_object *o = NULL;
    if (request_to_json(r, &o) < 0)
        abort();
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!config) {
        AeError err = {0};
        if (config_parse_string("fuzz.conf", config_text, &err, &config) < 0)
            abort();
    }
    /* The file name is the id: take it from the file itself when it has one,
     * so that inputs can get past the name check. */
    Request *r = NULL;
    AeError err = {0};
    char id[64] = "machine";
    const char *p = memmem(data, size, "\"id\":\"", 6);
    if (p) {
        p += 6;
        size_t n = 0;
        while (p + n < (const char *)data + size && p[n] != '"' && n < sizeof id - 1)
            n++;
        memcpy(id, p, n);
        id[n] = '\0';
    }
    int k = store_parse_state((const char *)data, size, id, &err, &r);
    if (k < 0) {
        if (r || !err.message[0])
            abort(); /* a refused file says why and yields nothing */
        return 0;
    }
    /* Round trip: what we save, we load back to the same thing. */
    char *first = saved_form(r);
    Request *again = NULL;
    if (!first || store_parse_state(first, strlen(first), r->id, &err, &again) < 0)
        abort();
    char *second = saved_form(again);
    if (!second || strcmp(first, second) != 0)
        abort();

    json_object *pub = NULL;
    if (request_to_public_json(r, &pub) < 0)
        abort();
    json_object_put(pub);

    const Profile *prof = r->profile ? config_find_profile(config, r->profile) : NULL;
    (void)schedule_next_due(r, config, prof);
    request_reset_after_restart(r);
    (void)schedule_next_due(r, config, prof);

    free(first);
    free(second);
    request_free(again);
    request_free(r);
    return 0;
}
