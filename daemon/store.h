/* The state directory: one JSON file per request, written atomically. */
#pragma once

#include "daemon/error.h"
#include "daemon/request.h"

typedef struct Store Store;

/* Called for each state file that could not be loaded; it was moved aside as
 * <name>.corrupt. The daemon logs it. */
typedef void (*store_bad_file_fn)(const char *path, const AeError *err, void *userdata);

int store_open(const char *dir, Store **ret);
void store_free(Store *s);
const char *store_dir(const Store *s);

/* Load every request. Corrupt or unknown files are set aside and reported,
 * never fatal. *ret is an array of *ret_n requests (the caller owns them). */
int store_load_all(Store *s, store_bad_file_fn bad, void *userdata, Request ***ret, size_t *ret_n);
/* One state file's bytes to a request; the id must be the file's name.
 * Exposed for the fuzzer (fuzz/fuzz-state.c). */
int store_parse_state(const char *data, size_t len, const char *expected_id, AeError *err,
                      Request **ret);
int store_save(Store *s, const Request *r, AeError *err);
int store_remove(Store *s, const char *id);
