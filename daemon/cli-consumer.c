/* `autoenroll consumer-config ID --for KIND`: a ready configuration fragment
 * for one request and one consumer (NetworkManager, wpa_supplicant, OpenVPN,
 * strongSwan). The request's public JSON gives the paths and the key store;
 * for a token key the key store is opened read-only to print the key's full
 * RFC 7512 URI, its CKA_ID and OpenVPN's pkcs11-helper id. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>

#include "daemon/cli.h"
#include "daemon/consumer.h"
#include "daemon/ipc-client.h"
#include "daemon/util.h"
#include "pkcs11/keystore.h"

#ifndef P11KIT_PROXY_MODULE
#define P11KIT_PROXY_MODULE "p11-kit-proxy.so"
#endif

static const char *jstr(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* The directory OpenSSL loads engines from, where libp11 puts pkcs11.so. */
static char *engine_path(void) {
    const char *s = OpenSSL_version(OPENSSL_ENGINES_DIR); /* ENGINESDIR: "/usr/lib/.../engines-3" */
    const char *q = s ? strchr(s, '"') : NULL;
    const char *e = q ? strchr(q + 1, '"') : NULL;
    char *p = NULL;
    if (!e || asprintf(&p, "%.*s/pkcs11.so", (int)(e - q - 1), q + 1) < 0)
        return NULL;
    return p;
}

/* The token holding the key, as its module describes it: the module of the
 * key store's module-path=, else every registered module (p11-kit). 0 when
 * found, -ENOENT when not (the caller then goes by the URI alone). */
static int token_info_for(const char *store, const char *key_uri, CK_TOKEN_INFO *ret) {
    P11KitUri *su = p11_kit_uri_new(), *ku = p11_kit_uri_new();
    CK_FUNCTION_LIST *one[2] = {NULL, NULL}, **mods = NULL;
    int r = -ENOENT;
    if (!su || !ku)
        goto out;
    if (p11_kit_uri_parse(store, P11_KIT_URI_FOR_ANY, su) != P11_KIT_URI_OK ||
        p11_kit_uri_parse(key_uri, P11_KIT_URI_FOR_ANY, ku) != P11_KIT_URI_OK)
        goto out;
    const char *path = p11_kit_uri_get_module_path(su);
    if (path) {
        one[0] = p11_kit_module_load(path, 0);
        if (!one[0])
            goto out;
        if (p11_kit_module_initialize(one[0]) != CKR_OK) {
            p11_kit_module_release(one[0]);
            one[0] = NULL;
            goto out;
        }
        mods = one;
    } else if (!(mods = p11_kit_modules_load_and_initialize(0)))
        goto out;
    for (CK_FUNCTION_LIST **m = mods; *m && r < 0; m++) {
        CK_SLOT_ID slots[64];
        CK_ULONG n = ELEMENTSOF(slots);
        if ((*m)->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
            continue;
        for (CK_ULONG i = 0; i < n && r < 0; i++) {
            CK_TOKEN_INFO ti;
            if ((*m)->C_GetTokenInfo(slots[i], &ti) == CKR_OK && p11_kit_uri_match_token_info(ku, &ti)) {
                *ret = ti;
                r = 0;
            }
        }
    }
out:
    if (one[0]) {
        p11_kit_module_finalize(one[0]);
        p11_kit_module_release(one[0]);
    } else if (mods)
        p11_kit_modules_finalize_and_release(mods);
    p11_kit_uri_free(su);
    p11_kit_uri_free(ku);
    return r;
}

/* The first SAN of a type ("dns", "upn") of the request, for the EAP
 * identity: host/FQDN for a machine, the UPN for a user. */
static const char *first_dns(json_object *r, const char *type) {
    json_object *sans, *dns;
    if (!json_object_object_get_ex(r, "sans", &sans) || !json_object_object_get_ex(sans, type, &dns) ||
        !json_object_is_type(dns, json_type_array) || json_object_array_length(dns) == 0)
        return NULL;
    return json_object_get_string(json_object_array_get_idx(dns, 0));
}

static void usage(FILE *f) {
    fprintf(f, "Usage: autoenroll consumer-config ID --for networkmanager|wpa_supplicant|openvpn|strongswan\n"
               "         [--identity NAME] [--ssid SSID] [--server HOST] [--pkcs11-module PATH] [--json]\n");
}

int cli_consumer_config(const char *socket_path, int timeout_ms, int argc, char **argv, bool json) {
    static const struct option opts[] = {
        {"for", required_argument, NULL, 'f'},      {"identity", required_argument, NULL, 'i'},
        {"ssid", required_argument, NULL, 's'},     {"server", required_argument, NULL, 'S'},
        {"pkcs11-module", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},           {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *kind_s = NULL, *identity = NULL, *ssid = NULL, *server = NULL, *module = P11KIT_PROXY_MODULE;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "f:i:s:S:m:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'f': kind_s = optarg; break;
        case 'i': identity = optarg; break;
        case 's': ssid = optarg; break;
        case 'S': server = optarg; break;
        case 'm': module = optarg; break;
        case 'j': json = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    ConsumerKind kind;
    if (optind != argc - 1 || consumer_kind_from_string(kind_s, &kind) < 0) {
        usage(stderr);
        return 2;
    }
    const char *id = argv[optind];

    json_object *req = json_object_new_object(), *reply = NULL, *r, *okv;
    json_object_object_add(req, "method", json_object_new_string("status"));
    json_object_object_add(req, "id", json_object_new_string(id));
    int rv = ipc_call(socket_path, req, -1, timeout_ms, &reply);
    json_object_put(req);
    if (rv < 0) {
        fprintf(stderr, "autoenroll: cannot reach autoenrolld at %s: %s\n", socket_path, strerror(-rv));
        return 3;
    }
    int rc = 1;
    Keystore *ks = NULL;
    Key *key = NULL;
    AeError err = {0};
    char *key_s = NULL, *cert_uri = NULL, *id_hex = NULL, *engine = NULL, *text = NULL,
         *ident = NULL;
    json_object *out = NULL;
    if (!json_object_object_get_ex(reply, "ok", &okv) || !json_object_get_boolean(okv) ||
        !json_object_object_get_ex(reply, "request", &r)) {
        json_object *e;
        fprintf(stderr, "autoenroll: %s\n",
                json_object_object_get_ex(reply, "error", &e) && jstr(e, "message") ? jstr(e, "message")
                                                                                     : "no such request");
        goto out;
    }
    const char *store = jstr(r, "key_store"), *ref = jstr(r, "key_ref"), *cert = jstr(r, "cert_file");
    if (!store || !ref || !cert) {
        fprintf(stderr, "autoenroll: request %s has no certificate and key yet (state %s)\n", id,
                jstr(r, "state") ? jstr(r, "state") : "?");
        goto out;
    }
    if (keystore_open(store, &err, &ks) < 0 || keystore_load_key(ks, ref, &err, &key) < 0) {
        fprintf(stderr, "autoenroll: request %s: key %s: %s\n", id, ref, err.message);
        goto out;
    }
    key_s = key_uri(key);
    if (!key_s)
        goto oom;
    CK_TOKEN_INFO token;
    bool have_token = false;
    if (keystore_is_token(ks)) {
        have_token = token_info_for(store, key_s, &token) == 0;
        cert_uri = key_cert_uri(key);
        id_hex = key_id_hex(key);
        engine = engine_path();
        if (!cert_uri || !id_hex)
            goto oom;
    } else if (strncmp(key_s, "file:", 5) == 0)
        memmove(key_s, key_s + 5, strlen(key_s + 5) + 1);
    if (!identity) {
        const char *kind_r = jstr(r, "kind") ? jstr(r, "kind") : "";
        const char *dns = first_dns(r, "dns"), *upn = first_dns(r, "upn");
        if (dns && streq(kind_r, "machine")) {
            if (asprintf(&ident, "host/%s", dns) < 0)
                goto oom;
            identity = ident;
        } else if (upn && streq(kind_r, "user"))
            identity = upn;
    }
    ConsumerInput in = {
        .id = id,
        .identity = identity,
        .ssid = ssid,
        .server = server,
        .cert_file = cert,
        .chain_file = jstr(r, "chain_file"),
        .key = key_s,
        .cert_uri = cert_uri,
        .key_id_hex = id_hex,
        .pkcs11_module = module,
        .engine_path = engine,
        .token = have_token ? &token : NULL,
    };
    rv = json ? consumer_to_json(kind, &in, &out) : consumer_fragment(kind, &in, &text);
    if (rv == -ENOMEM)
        goto oom;
    if (rv < 0) {
        fprintf(stderr, "autoenroll: request %s cannot be written as %s configuration (%s)\n", id,
                consumer_kind_to_string(kind), strerror(-rv));
        goto out;
    }
    if (json)
        printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
    else
        fputs(text, stdout);
    rc = 0;
    goto out;
oom:
    fprintf(stderr, "autoenroll: out of memory\n");
out:
    json_object_put(out);
    free(text);
    free(ident);
    free(engine);
    free(id_hex);
    free(cert_uri);
    free(key_s);
    key_free(key);
    keystore_free(ks);
    json_object_put(reply);
    return rc;
}
