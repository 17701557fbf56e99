/* Configuration fragments for 802.1X and VPN clients; see consumer.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <p11-kit/uri.h>

#include "daemon/consumer.h"
#include "daemon/json-util.h"
#include "daemon/util.h"

static const char *const kind_names[_CONSUMER_MAX] = {
    [CONSUMER_NETWORKMANAGER] = "networkmanager",
    [CONSUMER_WPA_SUPPLICANT] = "wpa_supplicant",
    [CONSUMER_OPENVPN] = "openvpn",
    [CONSUMER_STRONGSWAN] = "strongswan",
};

const char *consumer_kind_to_string(ConsumerKind k) {
    return k >= 0 && k < _CONSUMER_MAX ? kind_names[k] : NULL;
}

int consumer_kind_from_string(const char *s, ConsumerKind *ret) {
    static const struct {
        const char *name;
        ConsumerKind kind;
    } aliases[] = {
        {"nm", CONSUMER_NETWORKMANAGER},
        {"wpa", CONSUMER_WPA_SUPPLICANT},
        {"swanctl", CONSUMER_STRONGSWAN},
    };
    if (!s)
        return -EINVAL;
    for (int k = 0; k < _CONSUMER_MAX; k++)
        if (streq(s, kind_names[k])) {
            *ret = (ConsumerKind)k;
            return 0;
        }
    for (size_t i = 0; i < ELEMENTSOF(aliases); i++)
        if (streq(s, aliases[i].name)) {
            *ret = aliases[i].kind;
            return 0;
        }
    return -EINVAL;
}

/* Values go into quoted strings of four config syntaxes: refuse anything that
 * would need escaping in one of them rather than escape it four ways. */
static bool value_ok(const char *s) {
    if (!s)
        return true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\'' || *p == '\\')
            return false;
    return true;
}

/* A CK_UTF8CHAR field, space (or NUL) padded, as a C string. */
static void token_field(const unsigned char *f, size_t n, char *out) {
    const unsigned char *nul = memchr(f, 0, n);
    if (nul)
        n = (size_t)(nul - f);
    while (n > 0 && f[n - 1] == ' ')
        n--;
    memcpy(out, f, n);
    out[n] = '\0';
}

static void helper_escape(FILE *f, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')
            fputc(*p, f);
        else
            fprintf(f, "\\x%02x", *p);
    }
}

int consumer_pkcs11_helper_id(const char *uri, const CK_TOKEN_INFO *token, char **ret) {
    P11KitUri *u = NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = NULL;
    int r = -EINVAL;

    if (!uri || strncmp(uri, "pkcs11:", 7) != 0)
        return -EINVAL;
    u = p11_kit_uri_new();
    if (!u)
        return -ENOMEM;
    if (p11_kit_uri_parse(uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, u) != P11_KIT_URI_OK)
        goto out;
    const CK_TOKEN_INFO *ti = token ? token : p11_kit_uri_get_token_info(u);
    CK_ATTRIBUTE *id = p11_kit_uri_get_attribute(u, CKA_ID);
    char manuf[sizeof ti->manufacturerID + 1], model[sizeof ti->model + 1],
        serial[sizeof ti->serialNumber + 1], label[sizeof ti->label + 1];
    token_field(ti->manufacturerID, sizeof ti->manufacturerID, manuf);
    token_field(ti->model, sizeof ti->model, model);
    token_field(ti->serialNumber, sizeof ti->serialNumber, serial);
    token_field(ti->label, sizeof ti->label, label);
    if (!label[0] || !id || !id->pValue || id->ulValueLen == 0 || id->ulValueLen > 256)
        goto out;
    r = -ENOMEM;
    f = open_memstream(&buf, &len);
    if (!f)
        goto out;
    helper_escape(f, manuf);
    fputc('/', f);
    helper_escape(f, model);
    fputc('/', f);
    helper_escape(f, serial);
    fputc('/', f);
    helper_escape(f, label);
    fputc('/', f);
    for (CK_ULONG i = 0; i < id->ulValueLen; i++)
        fprintf(f, "%02X", ((const unsigned char *)id->pValue)[i]);
    if (fclose(f) != 0) {
        f = NULL;
        goto out;
    }
    f = NULL;
    *ret = TAKE_PTR(buf);
    r = 0;
out:
    if (f)
        fclose(f);
    free(buf);
    p11_kit_uri_free(u);
    return r;
}

int consumer_uuid(const char *name, char ret[static 37]) {
    /* RFC 4122 name-based UUID (SHA-1) in a fixed namespace of our own. */
    static const unsigned char ns[16] = {0x6b, 0x1f, 0x0e, 0x52, 0x3c, 0x9d, 0x4e, 0x0a,
                                         0x9f, 0x41, 0x2d, 0x7c, 0x55, 0x8e, 0x13, 0xa6};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return -ENOMEM;
    int ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) && EVP_DigestUpdate(ctx, ns, sizeof ns) &&
             EVP_DigestUpdate(ctx, name, strlen(name)) && EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (!ok || mdlen < 16)
        return -EIO;
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
    char *p = ret;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        p += sprintf(p, "%02x", md[i]);
    }
    return 0;
}

static const char *identity_of(const ConsumerInput *in) {
    return in->identity ? in->identity : in->id;
}

static int frag_networkmanager(FILE *f, const ConsumerInput *in) {
    char uuid[37];
    int r = consumer_uuid(in->id, uuid);
    if (r < 0)
        return r;
    bool p11 = consumer_key_is_pkcs11(in);
    fprintf(f,
            "# NetworkManager keyfile: /etc/NetworkManager/system-connections/autoenroll-%s.nmconnection\n"
            "# (mode 0600), then: nmcli connection load <that file>\n",
            in->id);
    fprintf(f, "[connection]\nid=autoenroll-%s\nuuid=%s\ntype=%s\n", in->id, uuid,
            in->ssid ? "wifi" : "ethernet");
    if (in->ssid)
        fprintf(f, "\n[wifi]\nmode=infrastructure\nssid=%s\n\n[wifi-security]\nkey-mgmt=wpa-eap\n", in->ssid);
    else
        fprintf(f, "\n[ethernet]\n");
    fprintf(f, "\n[802-1x]\neap=tls;\nidentity=%s\n", identity_of(in));
    if (in->chain_file)
        fprintf(f, "ca-cert=%s\n", in->chain_file);
    fprintf(f, "client-cert=%s\n", p11 && in->cert_uri ? in->cert_uri : in->cert_file);
    fprintf(f, "private-key=%s\n", in->key);
    /* A token key's PIN comes from the secret agent (flags 1); a PEM key
     * written by autoenroll is not encrypted (flags 4: not required). */
    fprintf(f, "private-key-password-flags=%d\n", p11 ? 1 : 4);
    fprintf(f, "\n[ipv4]\nmethod=auto\n\n[ipv6]\nmethod=auto\n");
    return 0;
}

static int frag_wpa_supplicant(FILE *f, const ConsumerInput *in) {
    bool p11 = consumer_key_is_pkcs11(in);
    fprintf(f, "# wpa_supplicant: EAP-TLS with autoenroll request %s\n", in->id);
    if (p11) {
        /* Global options (top of wpa_supplicant.conf): libp11's engine and a
         * PKCS#11 module that reaches the token (p11-kit-proxy: every
         * registered module). */
        if (in->engine_path)
            fprintf(f, "pkcs11_engine_path=%s\n", in->engine_path);
        if (in->pkcs11_module)
            fprintf(f, "pkcs11_module_path=%s\n", in->pkcs11_module);
    }
    fprintf(f, "network={\n");
    if (in->ssid)
        fprintf(f, "\tssid=\"%s\"\n\tkey_mgmt=WPA-EAP\n", in->ssid);
    else
        fprintf(f, "\tkey_mgmt=IEEE8021X\n");
    fprintf(f, "\teap=TLS\n\tidentity=\"%s\"\n", identity_of(in));
    if (in->chain_file)
        fprintf(f, "\tca_cert=\"%s\"\n", in->chain_file);
    fprintf(f, "\tclient_cert=\"%s\"\n", p11 && in->cert_uri ? in->cert_uri : in->cert_file);
    fprintf(f, "\tprivate_key=\"%s\"\n", in->key);
    if (p11)
        fprintf(f, "\t# token PIN: pin=\"...\" here, or pin-source=file:... in the key URI\n");
    fprintf(f, "}\n");
    return 0;
}

static int frag_openvpn(FILE *f, const ConsumerInput *in) {
    fprintf(f, "# OpenVPN 2.6 client options for autoenroll request %s\n", in->id);
    if (in->server)
        fprintf(f, "client\nremote %s\n", in->server);
    if (in->chain_file)
        fprintf(f, "ca %s\n", in->chain_file);
    if (!consumer_key_is_pkcs11(in)) {
        fprintf(f, "cert %s\nkey %s\n", in->cert_file, in->key);
        return 0;
    }
    _cleanup_free_ char *hid = NULL;
    int r = consumer_pkcs11_helper_id(in->cert_uri ? in->cert_uri : in->key, in->token, &hid);
    if (r < 0)
        return r;
    fprintf(f, "pkcs11-providers %s\n", in->pkcs11_module ? in->pkcs11_module : "p11-kit-proxy.so");
    /* Single quotes: OpenVPN does not interpret the backslashes inside. */
    fprintf(f, "pkcs11-id '%s'\n", hid);
    fprintf(f, "# the token PIN is asked on the console or through the management interface\n");
    return 0;
}

static int frag_strongswan(FILE *f, const ConsumerInput *in) {
    bool p11 = consumer_key_is_pkcs11(in);
    if (p11 && !in->key_id_hex)
        return -EINVAL;
    fprintf(f, "# swanctl.conf (or /etc/swanctl/conf.d/autoenroll-%s.conf) for request %s\n", in->id,
            in->id);
    fprintf(f, "connections {\n\tautoenroll-%s {\n", in->id);
    if (in->server)
        fprintf(f, "\t\tremote_addrs = %s\n", in->server);
    else
        fprintf(f, "\t\t# remote_addrs = the gateway (--server)\n\t\tremote_addrs = %%any\n");
    /* The local identity is the certificate's subject (charon's default). */
    fprintf(f, "\t\tlocal {\n\t\t\tauth = pubkey\n");
    if (p11)
        fprintf(f, "\t\t\tcert-autoenroll {\n\t\t\t\thandle = %s\n\t\t\t}\n", in->key_id_hex);
    else
        fprintf(f, "\t\t\tcerts = %s\n", in->cert_file);
    fprintf(f, "\t\t}\n\t\tremote {\n\t\t\tauth = pubkey\n");
    if (in->chain_file)
        fprintf(f, "\t\t\tcacerts = %s\n", in->chain_file);
    fprintf(f, "\t\t}\n\t\tchildren {\n\t\t\tautoenroll-%s {\n\t\t\t\tremote_ts = 0.0.0.0/0\n\t\t\t}\n"
               "\t\t}\n\t}\n}\n",
            in->id);
    if (p11)
        fprintf(f,
                "secrets {\n\ttoken-autoenroll-%s {\n\t\thandle = %s\n"
                "\t\t# pin = (or let charon ask)\n\t}\n}\n",
                in->id, in->key_id_hex);
    else
        /* swanctl has no setting for a key file's path: it loads the keys
         * in its private/ directory. */
        fprintf(f, "# swanctl loads private keys from its private/ directory only:\n"
                   "#   ln -sf %s /etc/swanctl/private/autoenroll-%s.key\n",
                in->key, in->id);
    return 0;
}

static int check_input(ConsumerKind k, const ConsumerInput *in) {
    if (k < 0 || k >= _CONSUMER_MAX || !in || !in->id || !in->cert_file || !in->key)
        return -EINVAL;
    const char *vals[] = {in->id,      in->identity,   in->ssid,          in->cert_file, in->chain_file,
                          in->key,     in->cert_uri,   in->key_id_hex,    in->pkcs11_module,
                          in->engine_path, in->server};
    for (size_t i = 0; i < ELEMENTSOF(vals); i++)
        if (!value_ok(vals[i]))
            return -EINVAL;
    /* The id names connections and files: keep it to a safe alphabet. */
    for (const char *p = in->id; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@", *p))
            return -EINVAL;
    if (!consumer_key_is_pkcs11(in) && in->key[0] != '/')
        return -EINVAL;
    return 0;
}

int consumer_fragment(ConsumerKind k, const ConsumerInput *in, char **ret) {
    int r = check_input(k, in);
    if (r < 0)
        return r;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return -ENOMEM;
    switch (k) {
    case CONSUMER_NETWORKMANAGER:
        r = frag_networkmanager(f, in);
        break;
    case CONSUMER_WPA_SUPPLICANT:
        r = frag_wpa_supplicant(f, in);
        break;
    case CONSUMER_OPENVPN:
        r = frag_openvpn(f, in);
        break;
    case CONSUMER_STRONGSWAN:
        r = frag_strongswan(f, in);
        break;
    default:
        r = -EINVAL;
    }
    if (fclose(f) != 0 && r == 0)
        r = -ENOMEM;
    if (r < 0) {
        free(buf);
        return r;
    }
    *ret = buf;
    return 0;
}

int consumer_to_json(ConsumerKind k, const ConsumerInput *in, json_object **ret) {
    _cleanup_free_ char *frag = NULL, *hid = NULL;
    int r = consumer_fragment(k, in, &frag);
    if (r < 0)
        return r;
    if (consumer_key_is_pkcs11(in)) {
        r = consumer_pkcs11_helper_id(in->cert_uri ? in->cert_uri : in->key, in->token, &hid);
        if (r == -ENOMEM)
            return r;
    }
    json_object *o = json_object_new_object();
    if (!o)
        return -ENOMEM;
    int e = 0;
    e |= json_add_str(o, "consumer", consumer_kind_to_string(k));
    e |= json_add_str(o, "request", in->id);
    e |= json_add_str(o, "identity", identity_of(in));
    e |= json_add_str(o, "cert_file", in->cert_file);
    e |= json_add_str(o, "chain_file", in->chain_file);
    e |= json_add_str(o, "key", in->key);
    e |= json_add_str(o, "cert_uri", in->cert_uri);
    e |= json_add_str(o, "key_id", in->key_id_hex);
    e |= json_add_str(o, "pkcs11_id", hid);
    if (consumer_key_is_pkcs11(in))
        e |= json_add_str(o, "pkcs11_module", in->pkcs11_module);
    e |= json_add_str(o, "fragment", frag);
    if (e) {
        json_object_put(o);
        return -ENOMEM;
    }
    *ret = o;
    return 0;
}
