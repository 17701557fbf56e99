/* Configuration fragments for the programs that use an enrolled certificate:
 * NetworkManager (802-1x keyfile), wpa_supplicant (network block), OpenVPN
 * 2.6 (client options) and strongSwan (swanctl connections + secrets).
 *
 * Pure: strings in, strings out. The caller (the CLI) finds the paths and the
 * key's full RFC 7512 URI; nothing here touches files, tokens or the daemon.
 * A fragment never holds a PIN: token keys get the PIN from the consumer's
 * own agent/prompt, or from pin-source= when the caller put one in the URI. */
#pragma once

#include <stdbool.h>
#include <string.h>

#include <json-c/json.h>
#include <p11-kit/pkcs11.h>

typedef enum ConsumerKind {
    CONSUMER_NETWORKMANAGER,
    CONSUMER_WPA_SUPPLICANT,
    CONSUMER_OPENVPN,
    CONSUMER_STRONGSWAN,
    _CONSUMER_MAX,
} ConsumerKind;

typedef struct ConsumerInput {
    const char *id;          /* request id (names the connection) */
    const char *identity;    /* EAP identity; NULL: the request id */
    const char *ssid;        /* Wi-Fi SSID; NULL: wired 802.1X */
    const char *server;      /* VPN server/gateway (OpenVPN remote, swanctl remote_addrs); NULL: none */
    const char *cert_file;   /* PEM certificate (required) */
    const char *chain_file;  /* PEM CA bundle to trust the server; NULL: none */
    const char *key;         /* "pkcs11:...;type=private" or an absolute PEM path */
    const char *cert_uri;    /* token keys: "pkcs11:...;type=cert"; NULL: use cert_file */
    const char *key_id_hex;  /* token keys: CKA_ID in hex (strongSwan) */
    const char *pkcs11_module; /* module for OpenVPN/wpa_supplicant (p11-kit-proxy) */
    const char *engine_path; /* wpa_supplicant: libp11's OpenSSL engine (pkcs11.so) */
    const CK_TOKEN_INFO *token; /* the key's token as the module reports it; NULL: from the URI */
} ConsumerInput;

const char *consumer_kind_to_string(ConsumerKind k);
/* Accepts the names above plus "nm", "wpa", "swanctl"; -EINVAL otherwise. */
int consumer_kind_from_string(const char *s, ConsumerKind *ret);

static inline bool consumer_key_is_pkcs11(const ConsumerInput *in) {
    return in->key && strncmp(in->key, "pkcs11:", 7) == 0;
}

/* The id string OpenVPN 2.6's --pkcs11-id takes (pkcs11-helper's serialized
 * form: manufacturer/model/serial/label/ID-HEX, non-alphanumerics as \xHH),
 * from a key or certificate URI that names the object id. The token fields
 * come from token when given (what the module reports: tpm2-pkcs11 pads its
 * model with NULs, so key URIs leave the model out), else from the URI.
 * -EINVAL when the URI is not one, or lacks the token label or the id. */
int consumer_pkcs11_helper_id(const char *uri, const CK_TOKEN_INFO *token, char **ret);

/* A name-based (v5) UUID for NetworkManager, stable for one request id. */
int consumer_uuid(const char *name, char ret[static 37]);

/* The fragment, malloc'ed text ending in a newline. -EINVAL when the input
 * lacks what that consumer needs (e.g. strongSwan without a key id for a
 * token key), -ENOMEM. */
int consumer_fragment(ConsumerKind k, const ConsumerInput *in, char **ret);

/* The same as JSON: {"consumer","request","cert_file","chain_file","key",
 * "cert_uri","key_id","pkcs11_id","pkcs11_module","fragment"}, absent fields
 * left out. */
int consumer_to_json(ConsumerKind k, const ConsumerInput *in, json_object **ret);
