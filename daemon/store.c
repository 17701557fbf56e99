/* The state directory: one JSON file per request, written atomically. */
#include "daemon/store.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon/fileio.h"
#include "daemon/util.h"

#define STATE_FILE_MAX (1024 * 1024)

struct Store {
    char *dir;
};

int store_open(const char *dir, Store **ret) {
    int r = fileio_mkdir_p(dir, 0700);
    if (r < 0)
        return r;
    /* Half-written state files from a crash: the real ones are intact. */
    fileio_remove_stale_temps(dir, NULL);
    Store *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(dir))) {
        free(s);
        return -ENOMEM;
    }
    *ret = s;
    return 0;
}

void store_free(Store *s) {
    if (!s)
        return;
    free(s->dir);
    free(s);
}

const char *store_dir(const Store *s) { return s->dir; }

static char *state_path(const Store *s, const char *id) {
    char *p;
    return asprintf(&p, "%s/%s.json", s->dir, id) < 0 ? NULL : p;
}

int store_parse_state(const char *data, size_t len, const char *expected_id, AeError *err,
                      Request **ret) {
    if (len > STATE_FILE_MAX || len > INT_MAX)
        return ae_error_set(err, -EFBIG, AE_ERR_STORAGE, "larger than %d bytes", STATE_FILE_MAX);
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return -ENOMEM;
    json_object *o = json_tokener_parse_ex(tok, data, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    /* Trailing bytes after the object mean a torn or spliced file. */
    bool trailing = false;
    if (o && jerr == json_tokener_success)
        for (size_t i = json_tokener_get_parse_end(tok); i < len && !trailing; i++)
            trailing = !strchr(" \t\r\n", data[i]) || data[i] == '\0';
    json_tokener_free(tok);
    if (!o || jerr != json_tokener_success || trailing) {
        json_object_put(o);
        return ae_error_set(err, -EINVAL, AE_ERR_STORAGE, "not valid JSON: %s",
                            trailing ? "data after the object" : json_tokener_error_desc(jerr));
    }
    Request *req = NULL;
    int r = request_from_json(o, err, &req);
    json_object_put(o);
    if (r < 0)
        return r;
    if (!streq(req->id, expected_id)) {
        request_free(req);
        return ae_error_set(err, -EINVAL, AE_ERR_STORAGE, "file name does not match id");
    }
    *ret = req;
    return 0;
}

static int load_one(const char *path, const char *expected_id, AeError *err, Request **ret) {
    _cleanup_free_ char *data = NULL;
    size_t len;
    int r = fileio_read(path, STATE_FILE_MAX, &data, &len);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_STORAGE, "cannot read: %s", strerror(-r));
    return store_parse_state(data, len, expected_id, err, ret);
}

int store_load_all(Store *s, store_bad_file_fn bad, void *userdata, Request ***ret, size_t *ret_n) {
    DIR *d = opendir(s->dir);
    if (!d)
        return -errno;
    Request **list = NULL;
    size_t n = 0;
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        if (de->d_name[0] == '.' || nl <= 5 || !streq(de->d_name + nl - 5, ".json"))
            continue;
        _cleanup_free_ char *id = strndup(de->d_name, nl - 5);
        _cleanup_free_ char *path = NULL;
        if (!id || asprintf(&path, "%s/%s", s->dir, de->d_name) < 0) {
            r = -ENOMEM;
            break;
        }
        AeError err = {0};
        Request *req = NULL;
        int k = load_one(path, id, &err, &req);
        if (k == -ENOMEM) {
            r = k;
            break;
        }
        if (k < 0) {
            /* Set it aside so it is looked at, never loaded half-right. */
            _cleanup_free_ char *aside = NULL;
            if (asprintf(&aside, "%s.corrupt-%lld", path, (long long)time(NULL)) >= 0)
                rename(path, aside);
            if (bad)
                bad(path, &err, userdata);
            continue;
        }
        Request **nl2 = realloc(list, (n + 1) * sizeof *list);
        if (!nl2) {
            request_free(req);
            r = -ENOMEM;
            break;
        }
        list = nl2;
        list[n++] = req;
    }
    closedir(d);
    if (r < 0) {
        for (size_t i = 0; i < n; i++)
            request_free(list[i]);
        free(list);
        return r;
    }
    *ret = list;
    *ret_n = n;
    return 0;
}

int store_save(Store *s, const Request *req, AeError *err) {
    json_object *o = NULL;
    int r = request_to_json(req, &o);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_STORAGE, "out of memory");
    size_t len;
    const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PRETTY, &len);
    _cleanup_free_ char *path = state_path(s, req->id);
    if (!path) {
        json_object_put(o);
        return -ENOMEM;
    }
    r = fileio_write_atomic(path, text, len, 0600, FILEIO_KEEP_OWNER, (gid_t)-1);
    json_object_put(o);
    if (r < 0)
        return ae_error_set(err, r, AE_ERR_STORAGE, "cannot write %s: %s", path, strerror(-r));
    return 0;
}

int store_remove(Store *s, const char *id) {
    _cleanup_free_ char *path = state_path(s, id);
    if (!path)
        return -ENOMEM;
    if (unlink(path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}
