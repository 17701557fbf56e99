/* Request model and its JSON form. */
#include "daemon/request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/json-util.h"
#include "daemon/util.h"

static const char *const state_names[_STATE_MAX] = {
    [STATE_NEED_KEY] = "NEED_KEY",
    [STATE_GENERATING_KEY] = "GENERATING_KEY",
    [STATE_NEED_CSR] = "NEED_CSR",
    [STATE_SUBMITTING] = "SUBMITTING",
    [STATE_PENDING] = "PENDING",
    [STATE_SAVING] = "SAVING",
    [STATE_MONITORING] = "MONITORING",
    [STATE_NEED_CREDENTIALS] = "NEED_CREDENTIALS",
    [STATE_CA_REJECTED] = "CA_REJECTED",
    [STATE_CA_UNREACHABLE] = "CA_UNREACHABLE",
};

const char *request_state_to_string(RequestState s) {
    return (unsigned)s < _STATE_MAX ? state_names[s] : "UNKNOWN";
}

int request_state_from_string(const char *s) {
    for (int i = 0; i < _STATE_MAX; i++)
        if (streq(state_names[i], s))
            return i;
    return -EINVAL;
}

bool request_state_is_attention(RequestState s) {
    return s == STATE_NEED_CREDENTIALS || s == STATE_CA_REJECTED || s == STATE_CA_UNREACHABLE;
}

bool request_id_is_valid(const char *id) {
    size_t n = strlen(id);
    if (n == 0 || n > 64 || id[0] == '.')
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '@' || *p == '-'))
            return false;
    return true;
}

int request_set_str(char **field, const char *value) {
    char *v = NULL;
    if (value && !(v = strdup(value)))
        return -ENOMEM;
    free(*field);
    *field = v;
    return 0;
}

int request_new(const char *id, Request **ret) {
    if (!request_id_is_valid(id))
        return -EINVAL;
    Request *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->id = strdup(id);
    if (!r->id) {
        free(r);
        return -ENOMEM;
    }
    r->key_bits = 2048;
    *ret = r;
    return 0;
}

void request_free(Request *r) {
    if (!r)
        return;
    char **fields[] = {&r->id,          &r->user,          &r->principal,    &r->profile,
                       &r->ca,          &r->subject,       &r->key_store,    &r->cert_file,
                       &r->chain_file,  &r->hook,          &r->key_ref,      &r->cert_pem,
                       &r->chain_pem,   &r->serial,        &r->new_key_ref,  &r->new_key_id,
                       &r->new_cert_pem, &r->new_chain_pem, &r->retired_key_ref, &r->error_category,
                       &r->error_message};
    for (size_t i = 0; i < ELEMENTSOF(fields); i++)
        free(*fields[i]);
    json_object_put(r->sans);
    json_object_put(r->transaction);
    free(r);
}

void request_reset_after_restart(Request *r) {
    if (r->state == STATE_GENERATING_KEY)
        r->state = STATE_NEED_KEY;
    else if (r->state == STATE_SUBMITTING)
        r->state = STATE_NEED_CSR;
}

void request_set_error(Request *r, const AeError *e, int64_t now) {
    request_set_str(&r->error_category, e->category[0] ? e->category : AE_ERR_INTERNAL);
    request_set_str(&r->error_message, e->message[0] ? e->message : strerror(-e->code));
    r->error_time = now;
}

void request_clear_error(Request *r) {
    request_set_str(&r->error_category, NULL);
    request_set_str(&r->error_message, NULL);
    r->error_time = 0;
}

/* --- JSON ------------------------------------------------------------- */

static int add_obj(json_object *o, const char *k, json_object *v) {
    if (!v)
        return 0;
    return json_object_object_add(o, k, json_object_get(v)) < 0 ? -ENOMEM : 0;
}

static int public_fields(const Request *r, json_object *o) {
    int e = 0;
    e |= json_add_str(o, "id", r->id);
    e |= json_add_str(o, "kind", request_kind_to_string(r->kind));
    e |= json_add_int(o, "uid", r->uid);
    e |= json_add_str(o, "user", r->user);
    e |= json_add_str(o, "principal", r->principal);
    e |= json_add_str(o, "profile", r->profile);
    e |= json_add_str(o, "ca", r->ca);
    e |= json_add_str(o, "state", request_state_to_string(r->state));
    e |= json_add_str(o, "subject", r->subject);
    e |= add_obj(o, "sans", r->sans);
    e |= json_add_str(o, "key_store", r->key_store);
    e |= json_add_int(o, "key_bits", r->key_bits);
    e |= json_add_str(o, "key_ref", r->key_ref);
    e |= json_add_str(o, "cert_file", r->cert_file);
    e |= json_add_str(o, "chain_file", r->chain_file);
    e |= json_add_str(o, "hook", r->hook);
    e |= json_add_str(o, "serial", r->serial);
    e |= json_add_int(o, "not_before", r->not_before);
    e |= json_add_int(o, "not_after", r->not_after);
    e |= json_add_int(o, "next_action", (int64_t)(r->next_action / 1000000));
    e |= json_add_int(o, "attempts", r->attempts);
    e |= json_add_int(o, "last_success", r->last_success);
    e |= json_add_int(o, "created", r->created);
    e |= json_add_int(o, "renewing", r->renewing);
    if (r->error_category) {
        json_object *err = json_object_new_object();
        if (!err)
            return -ENOMEM;
        e |= json_add_str(err, "category", r->error_category);
        e |= json_add_str(err, "message", r->error_message);
        e |= json_add_int(err, "time", r->error_time);
        if (json_object_object_add(o, "last_error", err) < 0) {
            json_object_put(err);
            return -ENOMEM;
        }
    }
    return e ? -ENOMEM : 0;
}

int request_to_public_json(const Request *r, json_object **ret) {
    json_object *o = json_object_new_object();
    if (!o || public_fields(r, o) < 0) {
        json_object_put(o);
        return -ENOMEM;
    }
    *ret = o;
    return 0;
}

int request_to_json(const Request *r, json_object **ret) {
    json_object *o = json_object_new_object();
    int e = 0;
    if (!o)
        return -ENOMEM;
    e |= json_add_int(o, "version", 1);
    e |= public_fields(r, o);
    e |= json_add_str(o, "cert_pem", r->cert_pem);
    e |= json_add_str(o, "chain_pem", r->chain_pem);
    e |= json_add_str(o, "new_key_ref", r->new_key_ref);
    e |= json_add_str(o, "new_key_id", r->new_key_id);
    e |= json_add_str(o, "new_cert_pem", r->new_cert_pem);
    e |= json_add_str(o, "new_chain_pem", r->new_chain_pem);
    e |= json_add_str(o, "retired_key_ref", r->retired_key_ref);
    e |= add_obj(o, "transaction", r->transaction);
    e |= json_add_int(o, "next_action_usec", (int64_t)r->next_action);
    if (e) {
        json_object_put(o);
        return -ENOMEM;
    }
    *ret = o;
    return 0;
}

/* Optional string: absent or null is NULL; any other type is an error. */
static int get_str(json_object *o, const char *k, char **field) {
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -EINVAL;
    return request_set_str(field, json_object_get_string(v));
}

static int get_int(json_object *o, const char *k, int64_t *ret) {
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v))
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return -EINVAL;
    *ret = json_object_get_int64(v);
    return 0;
}

/* Key references name files in a file store and objects in a token: only the
 * lowercase hex ids the key store makes, so an edited or damaged state file
 * can never point the daemon at another path. */
static bool key_ref_is_valid(const char *ref) {
    size_t n = ref ? strlen(ref) : 0;
    return !ref || (n > 0 && n <= 128 && strspn(ref, "0123456789abcdef") == n);
}

static bool int_in_range(json_object *o, const char *k, int64_t min, int64_t max) {
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v))
        return true;
    int64_t i = json_object_get_int64(v);
    return i >= min && i <= max;
}

/* The name of the first field whose value the daemon could not use, or NULL. */
static const char *state_field_out_of_range(json_object *o, const Request *r) {
    if (!int_in_range(o, "uid", 0, (int64_t)UINT32_MAX - 1))
        return "uid";
    if (!int_in_range(o, "key_bits", 1024, 16384))
        return "key_bits";
    if (!int_in_range(o, "attempts", 0, 1000000))
        return "attempts";
    if (!int_in_range(o, "next_action_usec", 0, INT64_MAX))
        return "next_action_usec";
    if (!key_ref_is_valid(r->key_ref))
        return "key_ref";
    if (!key_ref_is_valid(r->new_key_ref))
        return "new_key_ref";
    if (!key_ref_is_valid(r->new_key_id))
        return "new_key_id";
    if (!key_ref_is_valid(r->retired_key_ref))
        return "retired_key_ref";
    return NULL;
}

int request_from_json(json_object *o, AeError *err, Request **ret) {
    Request *r = NULL;
    json_object *v;
    int64_t i;
    int e = 0;

    if (!json_object_is_type(o, json_type_object))
        return ae_error_set(err, -EINVAL, AE_ERR_STORAGE, "state is not a JSON object");
    if (!json_object_object_get_ex(o, "version", &v) || !json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) != 1)
        return ae_error_set(err, -EINVAL, AE_ERR_STORAGE, "unknown state file version");
    if (!json_object_object_get_ex(o, "id", &v) || !json_object_is_type(v, json_type_string) ||
        request_new(json_object_get_string(v), &r) < 0)
        return ae_error_set(err, -EINVAL, AE_ERR_STORAGE, "missing or invalid request id");

    if (!json_object_object_get_ex(o, "state", &v) || !json_object_is_type(v, json_type_string) ||
        (e = request_state_from_string(json_object_get_string(v))) < 0) {
        request_free(r);
        return ae_error_set(err, -EINVAL, AE_ERR_STORAGE, "missing or unknown state");
    }
    r->state = (RequestState)e;
    e = 0;

    if (!json_object_object_get_ex(o, "kind", &v) || !json_object_is_type(v, json_type_string)) {
        request_free(r);
        return ae_error_set(err, -EINVAL, AE_ERR_STORAGE, "missing kind");
    }
    if (streq(json_object_get_string(v), "machine"))
        r->kind = KIND_MACHINE;
    else if (streq(json_object_get_string(v), "user"))
        r->kind = KIND_USER;
    else {
        request_free(r);
        return ae_error_set(err, -EINVAL, AE_ERR_STORAGE, "unknown kind");
    }

    e |= get_str(o, "user", &r->user);
    e |= get_str(o, "principal", &r->principal);
    e |= get_str(o, "profile", &r->profile);
    e |= get_str(o, "ca", &r->ca);
    e |= get_str(o, "subject", &r->subject);
    e |= get_str(o, "key_store", &r->key_store);
    e |= get_str(o, "key_ref", &r->key_ref);
    e |= get_str(o, "cert_file", &r->cert_file);
    e |= get_str(o, "chain_file", &r->chain_file);
    e |= get_str(o, "hook", &r->hook);
    e |= get_str(o, "serial", &r->serial);
    e |= get_str(o, "cert_pem", &r->cert_pem);
    e |= get_str(o, "chain_pem", &r->chain_pem);
    e |= get_str(o, "new_key_ref", &r->new_key_ref);
    e |= get_str(o, "new_key_id", &r->new_key_id);
    e |= get_str(o, "new_cert_pem", &r->new_cert_pem);
    e |= get_str(o, "new_chain_pem", &r->new_chain_pem);
    e |= get_str(o, "retired_key_ref", &r->retired_key_ref);
    i = 0;
    e |= get_int(o, "uid", &i);
    r->uid = (uid_t)i;
    i = 2048;
    e |= get_int(o, "key_bits", &i);
    r->key_bits = (unsigned)i;
    e |= get_int(o, "not_before", &r->not_before);
    e |= get_int(o, "not_after", &r->not_after);
    i = 0;
    e |= get_int(o, "next_action_usec", &i);
    r->next_action = (uint64_t)i;
    i = 0;
    e |= get_int(o, "attempts", &i);
    r->attempts = (unsigned)i;
    e |= get_int(o, "last_success", &r->last_success);
    e |= get_int(o, "created", &r->created);
    i = 0;
    e |= get_int(o, "renewing", &i);
    r->renewing = i != 0;
    if (json_object_object_get_ex(o, "sans", &v) && json_object_is_type(v, json_type_object))
        r->sans = json_object_get(v);
    if (json_object_object_get_ex(o, "transaction", &v) &&
        json_object_is_type(v, json_type_object))
        r->transaction = json_object_get(v);
    if (json_object_object_get_ex(o, "last_error", &v) && json_object_is_type(v, json_type_object)) {
        e |= get_str(v, "category", &r->error_category);
        e |= get_str(v, "message", &r->error_message);
        e |= get_int(v, "time", &r->error_time);
    }
    if (e || (r->kind == KIND_MACHINE && r->uid != 0)) {
        request_free(r);
        return ae_error_set(err, -EINVAL, AE_ERR_STORAGE, "a field has the wrong type");
    }
    const char *bad = state_field_out_of_range(o, r);
    if (bad) {
        request_free(r);
        return ae_error_set(err, -EINVAL, AE_ERR_STORAGE, "%s out of range", bad);
    }
    *ret = r;
    return 0;
}
