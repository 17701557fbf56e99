#include <stdio.h>
#include <sys/stat.h>

#include "daemon/fileio.h"
#include "daemon/request.h"
#include "daemon/schedule.h"
#include "daemon/store.h"
#include "daemon/util.h"
#include "tests/unit/tap.h"

static char dir[] = "/tmp/test-request-XXXXXX";

static Request *sample(const char *id) {
    Request *r = NULL;
    if (request_new(id, &r) < 0)
        abort();
    r->kind = KIND_USER;
    r->uid = 1000;
    request_set_str(&r->user, "alice");
    request_set_str(&r->ca, "corp");
    request_set_str(&r->subject, "CN=alice");
    request_set_str(&r->cert_pem, "-----BEGIN CERTIFICATE-----\n...\n");
    r->state = STATE_PENDING;
    r->not_after = 2000000000;
    r->transaction = json_object_new_object();
    json_object_object_add(r->transaction, "id", json_object_new_string("abcd"));
    AeError e = {0};
    ae_error_set(&e, -ECONNREFUSED, AE_ERR_NETWORK, "NDES %s refused", "ndes.example.com");
    request_set_error(r, &e, 1234);
    return r;
}

TEST(state_names) {
    for (int s = 0; s < _STATE_MAX; s++)
        is_int(request_state_from_string(request_state_to_string((RequestState)s)), s, "round trip");
    is_int(request_state_from_string("BOGUS"), -EINVAL, "unknown state");
}

TEST(ids) {
    ok(request_id_is_valid("machine"), "plain");
    ok(request_id_is_valid("user-1000-wifi"), "dashes");
    ok(!request_id_is_valid("../etc/passwd"), "no slashes");
    ok(!request_id_is_valid(".hidden"), "no leading dot");
    ok(!request_id_is_valid(""), "not empty");
}

TEST(json_round_trip) {
    Request *r = sample("user-1000-user");
    json_object *o = NULL;
    is_int(request_to_json(r, &o), 0, "to json");
    Request *back = NULL;
    AeError err = {0};
    is_int(request_from_json(o, &err, &back), 0, "from json");
    if (back) {
        is_str(back->id, "user-1000-user", "id");
        is_int(back->uid, 1000, "uid");
        is_int(back->state, STATE_PENDING, "state");
        is_str(back->error_category, "network", "error category");
        is_str(back->error_message, "NDES ndes.example.com refused", "error text");
        is_int(back->not_after, 2000000000, "not_after");
        json_object *v = NULL;
        ok(back->transaction && json_object_object_get_ex(back->transaction, "id", &v),
           "transaction kept");
    }
    json_object *pub = NULL;
    request_to_public_json(r, &pub);
    ok(!json_object_object_get_ex(pub, "transaction", NULL), "public view hides the transaction");
    json_object_put(pub);
    json_object_put(o);
    request_free(r);
    request_free(back);
}

TEST(json_bad) {
    AeError err = {0};
    Request *r = NULL;
    json_object *o = json_tokener_parse("{\"version\":1,\"id\":\"x\",\"state\":\"FLYING\",\"kind\":\"user\"}");
    ok(request_from_json(o, &err, &r) < 0 && strstr(err.message, "state"), "unknown state refused");
    json_object_put(o);
    o = json_tokener_parse("{\"version\":1,\"id\":\"m\",\"state\":\"MONITORING\",\"kind\":\"machine\",\"uid\":5}");
    ok(request_from_json(o, &err, &r) < 0, "machine request owned by a user refused");
    json_object_put(o);
    o = json_tokener_parse("{\"version\":7,\"id\":\"x\"}");
    ok(request_from_json(o, &err, &r) < 0 && strstr(err.message, "version"), "unknown version refused");
    json_object_put(o);
    o = json_tokener_parse("{\"version\":1,\"id\":\"x\",\"state\":\"MONITORING\",\"kind\":\"user\",\"uid\":\"zero\"}");
    ok(request_from_json(o, &err, &r) < 0, "wrong type refused");
    json_object_put(o);
}

/* Found by fuzz/fuzz-state.c: values of the right type the daemon cannot use. */
static void refused_field(const char *extra, const char *field) {
    char text[512];
    snprintf(text, sizeof text,
             "{\"version\":1,\"id\":\"u\",\"state\":\"MONITORING\",\"kind\":\"user\",%s}", extra);
    json_object *o = json_tokener_parse(text);
    AeError err = {0};
    Request *r = NULL;
    ok(o && request_from_json(o, &err, &r) < 0 && r == NULL && strstr(err.message, field),
       "%s refused (%s)", extra, err.message);
    json_object_put(o);
}

TEST(json_out_of_range) {
    refused_field("\"key_ref\":\"../../etc/shadow\"", "key_ref");
    refused_field("\"retired_key_ref\":\"/etc/passwd\"", "retired_key_ref");
    refused_field("\"new_key_id\":\"\"", "new_key_id");
    refused_field("\"new_key_ref\":\"ABCDEF\"", "new_key_ref");
    refused_field("\"uid\":-1", "uid");
    refused_field("\"uid\":4294967296", "uid");
    refused_field("\"key_bits\":7", "key_bits");
    refused_field("\"attempts\":-3", "attempts");
    refused_field("\"next_action_usec\":-1", "next_action_usec");
    json_object *o = json_tokener_parse("{\"version\":\"1\",\"id\":\"x\"}");
    AeError err = {0};
    Request *r = NULL;
    ok(request_from_json(o, &err, &r) < 0 && strstr(err.message, "version"), "version as a string refused");
    json_object_put(o);
}

TEST(state_file_trailing_bytes) {
    static const char good[] = "{\"version\":1,\"id\":\"u\",\"state\":\"MONITORING\",\"kind\":\"user\"}\n";
    static const char spliced[] = "{\"version\":1,\"id\":\"u\",\"state\":\"MONITORING\",\"kind\":\"user\"}{\"x\":1}";
    AeError err = {0};
    Request *r = NULL;
    is_int(store_parse_state(good, strlen(good), "u", &err, &r), 0, "a state file with a final newline loads");
    request_free(r);
    r = NULL;
    ok(store_parse_state(spliced, strlen(spliced), "u", &err, &r) < 0 && r == NULL &&
           strstr(err.message, "after the object"),
       "bytes after the object refused (%s)", err.message);
    ok(store_parse_state(good, sizeof good, "u", &err, &r) < 0 && r == NULL, "a NUL after the object refused");
}

TEST(restart_maps_back) {
    Request *r = sample("a");
    r->state = STATE_GENERATING_KEY;
    request_reset_after_restart(r);
    is_int(r->state, STATE_NEED_KEY, "GENERATING_KEY -> NEED_KEY");
    r->state = STATE_SUBMITTING;
    request_reset_after_restart(r);
    is_int(r->state, STATE_NEED_CSR, "SUBMITTING -> NEED_CSR");
    r->state = STATE_PENDING;
    request_reset_after_restart(r);
    is_int(r->state, STATE_PENDING, "PENDING stays");
    request_free(r);
}

static int bad_files;
static void on_bad(const char *path, const AeError *e, void *u) {
    (void)path;
    (void)e;
    (void)u;
    bad_files++;
}

TEST(store) {
    Store *s = NULL;
    char sub[256];
    snprintf(sub, sizeof sub, "%s/state", dir);
    is_int(store_open(sub, &s), 0, "open creates the dir");
    Request *a = sample("a"), *b = sample("b");
    AeError err = {0};
    is_int(store_save(s, a, &err), 0, "save a");
    is_int(store_save(s, b, &err), 0, "save b");
    char path[300];
    snprintf(path, sizeof path, "%s/a.json", sub);
    struct stat st;
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "state file is 0600");
    snprintf(path, sizeof path, "%s/c.json", sub);
    fileio_write_atomic(path, "{ not json", 10, 0600, FILEIO_KEEP_OWNER, (gid_t)-1);
    snprintf(path, sizeof path, "%s/d.json", sub);
    const char *mismatch = "{\"version\":1,\"id\":\"zzz\",\"state\":\"MONITORING\",\"kind\":\"user\"}";
    fileio_write_atomic(path, mismatch, strlen(mismatch), 0600, FILEIO_KEEP_OWNER, (gid_t)-1);
    Request **list = NULL;
    size_t n = 0;
    is_int(store_load_all(s, on_bad, NULL, &list, &n), 0, "load");
    is_int(n, 2, "two good requests");
    is_int(bad_files, 2, "two bad files reported");
    snprintf(path, sizeof path, "%s/c.json", sub);
    ok(stat(path, &st) < 0, "corrupt file moved aside");
    for (size_t i = 0; i < n; i++)
        request_free(list[i]);
    free(list);
    is_int(store_remove(s, "a"), 0, "remove");
    is_int(store_load_all(s, NULL, NULL, &list, &n), 0, "load again");
    is_int(n, 1, "one left");
    for (size_t i = 0; i < n; i++)
        request_free(list[i]);
    free(list);
    request_free(a);
    request_free(b);
    store_free(s);
}

TEST(schedule) {
    /* 100-day certificate, renew_before 30 d, 20%: renew 20 days before the end. */
    int64_t nb = 1000000000, na = nb + 100 * 86400;
    uint64_t at = schedule_renew_at(nb, na, 30ULL * 86400 * USEC_PER_SEC, 20);
    is_int(at, (uint64_t)(na - 20 * 86400) * USEC_PER_SEC, "20% of lifetime wins");
    at = schedule_renew_at(nb, na, 10ULL * 86400 * USEC_PER_SEC, 20);
    is_int(at, (uint64_t)(na - 10 * 86400) * USEC_PER_SEC, "renew_before wins when smaller");
    /* A 10-minute certificate renews in its last 2 minutes. */
    at = schedule_renew_at(nb, nb + 600, 30ULL * 86400 * USEC_PER_SEC, 20);
    is_int(at, (uint64_t)(nb + 480) * USEC_PER_SEC, "short-lived");

    uint64_t min = 60 * USEC_PER_SEC, max = 4 * 3600 * USEC_PER_SEC;
    is_int(schedule_backoff(0, min, max, 0.5), 0, "no failure, no delay");
    ok(schedule_backoff(1, min, max, 0.0) == min / 2, "floor is half the minimum");
    ok(schedule_backoff(1, min, max, 0.999) <= min, "first retry within the minimum");
    ok(schedule_backoff(5, min, max, 0.999) <= 16 * min && schedule_backoff(5, min, max, 0.999) > 8 * min,
       "window doubles");
    ok(schedule_backoff(50, min, max, 0.999) <= max, "capped");
    uint64_t prev = 0;
    int grows = 1;
    for (unsigned i = 1; i < 10; i++) {
        uint64_t d = schedule_backoff(i, min, max, 0.99);
        if (d < prev)
            grows = 0;
        prev = d;
    }
    ok(grows, "upper bound never shrinks");
    ok(schedule_splay(300 * USEC_PER_SEC, 0.5) == 150 * USEC_PER_SEC, "splay scales");
}

int main(void) {
    if (!mkdtemp(dir))
        return 99;
    int r = tap_run();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        r = 1;
    return r;
}
