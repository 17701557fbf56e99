/* Adding members to a json-c object, with allocation failures reported. */
#pragma once

#include <errno.h>
#include <stdint.h>

#include <json-c/json.h>

/* o[k] = v; nothing when v is NULL. */
static inline int json_add_str(json_object *o, const char *k, const char *v) {
    if (!v)
        return 0;
    json_object *s = json_object_new_string(v);
    if (!s || json_object_object_add(o, k, s) < 0) {
        json_object_put(s);
        return -ENOMEM;
    }
    return 0;
}

static inline int json_add_int(json_object *o, const char *k, int64_t v) {
    json_object *i = json_object_new_int64(v);
    if (!i || json_object_object_add(o, k, i) < 0) {
        json_object_put(i);
        return -ENOMEM;
    }
    return 0;
}
