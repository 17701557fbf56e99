#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/consumer.h"
#include "daemon/util.h"
#include "tests/unit/tap.h"

#define URI_KEY                                                                                     \
    "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=85090329026b9449;"             \
    "token=auto%20enroll;id=%A1%B2%FF;object=k;type=private"
#define URI_CERT                                                                                    \
    "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=85090329026b9449;"             \
    "token=auto%20enroll;id=%A1%B2%FF;object=k;type=cert"

static const ConsumerInput file_in = {
    .id = "machine",
    .identity = "host/client.autoenroll.test",
    .cert_file = "/var/lib/autoenroll/machine.pem",
    .chain_file = "/var/lib/autoenroll/machine-chain.pem",
    .key = "/var/lib/autoenroll/keys/ab12.key",
};

static const ConsumerInput token_in = {
    .id = "machine",
    .cert_file = "/var/lib/autoenroll/machine.pem",
    .chain_file = "/var/lib/autoenroll/machine-chain.pem",
    .key = URI_KEY,
    .cert_uri = URI_CERT,
    .key_id_hex = "a1b2ff",
    .pkcs11_module = "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so",
    .engine_path = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so",
};

static bool has(const char *hay, const char *needle) { return hay && strstr(hay, needle); }

TEST(kind_names) {
    ConsumerKind k;
    for (int i = 0; i < _CONSUMER_MAX; i++) {
        is_int(consumer_kind_from_string(consumer_kind_to_string((ConsumerKind)i), &k), 0, "round trip");
        is_int(k, i, "same kind");
    }
    is_int(consumer_kind_from_string("nm", &k), 0, "alias nm");
    is_int(k, CONSUMER_NETWORKMANAGER, "nm is NetworkManager");
    is_int(consumer_kind_from_string("swanctl", &k), 0, "alias swanctl");
    is_int(consumer_kind_from_string("ipsec", &k), -EINVAL, "unknown name");
    is_int(consumer_kind_from_string(NULL, &k), -EINVAL, "NULL");
    ok(consumer_kind_to_string(_CONSUMER_MAX) == NULL, "out of range has no name");
}

TEST(pkcs11_helper_id) {
    _cleanup_free_ char *s = NULL;
    /* What `openvpn --show-pkcs11-ids` prints for this token and object. */
    is_int(consumer_pkcs11_helper_id(URI_KEY, NULL, &s), 0, "key URI");
    is_str(s, "SoftHSM\\x20project/SoftHSM\\x20v2/85090329026b9449/auto\\x20enroll/A1B2FF", "serialized id");
    free(s);
    s = NULL;
    is_int(consumer_pkcs11_helper_id("pkcs11:token=a%2Fb;id=%01", NULL, &s), 0, "no model/serial");
    is_str(s, "///a\\x2fb/01", "slash in the label escaped, empty fields kept");
    free(s);
    s = NULL;
    is_int(consumer_pkcs11_helper_id("pkcs11:token=x", NULL, &s), -EINVAL, "no id");
    is_int(consumer_pkcs11_helper_id("pkcs11:id=%01", NULL, &s), -EINVAL, "no token label");
    is_int(consumer_pkcs11_helper_id("/etc/key.pem", NULL, &s), -EINVAL, "not a URI");
    is_int(consumer_pkcs11_helper_id("pkcs11:id=%zz", NULL, &s), -EINVAL, "bad URI");
    ok(s == NULL, "nothing returned on error");
}

TEST(pkcs11_helper_id_token_info) {
    /* tpm2-pkcs11: the model NUL padded, so the key URI has no model=. */
    CK_TOKEN_INFO ti;
    memset(&ti, ' ', sizeof ti);
    memcpy(ti.manufacturerID, "IBM", 3);
    memset(ti.model, 0, sizeof ti.model);
    memcpy(ti.model, "SW   TPM", 8);
    memcpy(ti.serialNumber, "0000000000000000", 16);
    memcpy(ti.label, "autoenroll", 10);
    _cleanup_free_ char *s = NULL;
    is_int(consumer_pkcs11_helper_id("pkcs11:manufacturer=IBM;token=autoenroll;id=%72%2C", &ti, &s), 0, "with token info");
    is_str(s, "IBM/SW\\x20\\x20\\x20TPM/0000000000000000/autoenroll/722C", "the model as the module reports it");
}

TEST(uuid) {
    char a[37], b[37], c[37];
    is_int(consumer_uuid("machine", a), 0, "uuid");
    is_int(consumer_uuid("machine", b), 0, "again");
    is_int(consumer_uuid("user-alice", c), 0, "another name");
    is_str(a, b, "stable for one name");
    ok(strcmp(a, c) != 0, "different for another name");
    ok(strlen(a) == 36 && a[8] == '-' && a[14] == '5' && strchr("89ab", a[19]), "RFC 4122 v5 form: %s", a);
}

TEST(networkmanager) {
    _cleanup_free_ char *f = NULL, *t = NULL;
    is_int(consumer_fragment(CONSUMER_NETWORKMANAGER, &file_in, &f), 0, "file key");
    ok(has(f, "[802-1x]\neap=tls;\nidentity=host/client.autoenroll.test\n"), "EAP-TLS with identity");
    ok(has(f, "private-key=/var/lib/autoenroll/keys/ab12.key\nprivate-key-password-flags=4\n"),
       "PEM key, no password");
    ok(has(f, "type=ethernet\n") && has(f, "[ethernet]"), "wired without an SSID");
    ok(has(f, "ca-cert=/var/lib/autoenroll/machine-chain.pem\n"), "the chain is the CA");
    is_int(consumer_fragment(CONSUMER_NETWORKMANAGER, &token_in, &t), 0, "token key");
    ok(has(t, "client-cert=" URI_CERT "\n"), "certificate by URI");
    ok(has(t, "private-key=" URI_KEY "\nprivate-key-password-flags=1\n"), "key by URI, PIN from the agent");
    ok(has(t, "identity=machine\n"), "identity defaults to the request id");
    ConsumerInput w = file_in;
    w.ssid = "corp";
    free(f);
    f = NULL;
    is_int(consumer_fragment(CONSUMER_NETWORKMANAGER, &w, &f), 0, "wifi");
    ok(has(f, "type=wifi\n") && has(f, "ssid=corp\n") && has(f, "key-mgmt=wpa-eap\n"), "Wi-Fi WPA-EAP");
}

TEST(wpa_supplicant) {
    _cleanup_free_ char *f = NULL, *t = NULL;
    is_int(consumer_fragment(CONSUMER_WPA_SUPPLICANT, &file_in, &f), 0, "file key");
    ok(has(f, "network={\n\tkey_mgmt=IEEE8021X\n\teap=TLS\n"), "wired EAP-TLS block");
    ok(has(f, "\tprivate_key=\"/var/lib/autoenroll/keys/ab12.key\"\n"), "key path quoted");
    ok(!has(f, "pkcs11_"), "no PKCS#11 globals for a file key");
    is_int(consumer_fragment(CONSUMER_WPA_SUPPLICANT, &token_in, &t), 0, "token key");
    ok(has(t, "pkcs11_engine_path=/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so\n"), "engine global");
    ok(has(t, "pkcs11_module_path=/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so\n"), "module global");
    ok(has(t, "\tprivate_key=\"" URI_KEY "\"\n"), "key URI");
    ok(has(t, "\tclient_cert=\"" URI_CERT "\"\n"), "cert URI");
}

TEST(openvpn) {
    _cleanup_free_ char *f = NULL, *t = NULL;
    is_int(consumer_fragment(CONSUMER_OPENVPN, &file_in, &f), 0, "file key");
    ok(has(f, "ca /var/lib/autoenroll/machine-chain.pem\ncert /var/lib/autoenroll/machine.pem\n"
              "key /var/lib/autoenroll/keys/ab12.key\n"),
       "ca/cert/key");
    is_int(consumer_fragment(CONSUMER_OPENVPN, &token_in, &t), 0, "token key");
    ok(has(t, "pkcs11-providers /usr/lib/x86_64-linux-gnu/p11-kit-proxy.so\n"), "provider");
    ok(has(t, "pkcs11-id 'SoftHSM\\x20project/SoftHSM\\x20v2/85090329026b9449/auto\\x20enroll/A1B2FF'\n"),
       "pkcs11-id in single quotes");
    ok(!has(t, "\ncert "), "no cert file with a token key");
    ok(!has(t, "remote "), "no remote without --server");
    ConsumerInput w = file_in;
    w.server = "vpn.example.com";
    free(f);
    f = NULL;
    is_int(consumer_fragment(CONSUMER_OPENVPN, &w, &f), 0, "with a server");
    ok(has(f, "client\nremote vpn.example.com\n"), "client + remote");
}

TEST(strongswan) {
    _cleanup_free_ char *f = NULL, *t = NULL;
    is_int(consumer_fragment(CONSUMER_STRONGSWAN, &file_in, &f), 0, "file key");
    ok(has(f, "#   ln -sf /var/lib/autoenroll/keys/ab12.key /etc/swanctl/private/autoenroll-machine.key\n"),
       "how to give swanctl the key file");
    ok(!has(f, "secrets {"), "no secrets section for a file key");
    ok(has(f, "certs = /var/lib/autoenroll/machine.pem\n"), "cert file");
    ok(has(f, "remote_addrs = %any\n"), "no gateway given: %%any");
    ConsumerInput w = file_in;
    w.server = "192.0.2.1";
    char *g = NULL;
    is_int(consumer_fragment(CONSUMER_STRONGSWAN, &w, &g), 0, "with a gateway");
    ok(has(g, "remote_addrs = 192.0.2.1\n"), "remote_addrs");
    free(g);
    is_int(consumer_fragment(CONSUMER_STRONGSWAN, &token_in, &t), 0, "token key");
    ok(has(t, "token-autoenroll-machine {\n\t\thandle = a1b2ff\n"), "token secret by handle");
    ok(has(t, "cert-autoenroll {\n\t\t\t\thandle = a1b2ff\n"), "token cert by handle");
    ConsumerInput n = token_in;
    n.key_id_hex = NULL;
    char *x = NULL;
    is_int(consumer_fragment(CONSUMER_STRONGSWAN, &n, &x), -EINVAL, "token key needs the id");
    ok(x == NULL, "nothing on error");
}

TEST(bad_input) {
    char *x = NULL;
    ConsumerInput b = file_in;
    b.cert_file = "/a\"b";
    is_int(consumer_fragment(CONSUMER_WPA_SUPPLICANT, &b, &x), -EINVAL, "quote in a path");
    b = file_in;
    b.identity = "x\ny";
    is_int(consumer_fragment(CONSUMER_NETWORKMANAGER, &b, &x), -EINVAL, "newline in the identity");
    b = file_in;
    b.id = "../etc";
    is_int(consumer_fragment(CONSUMER_NETWORKMANAGER, &b, &x), -EINVAL, "slash in the id");
    b = file_in;
    b.key = "relative.key";
    is_int(consumer_fragment(CONSUMER_OPENVPN, &b, &x), -EINVAL, "relative key path");
    b = file_in;
    b.cert_file = NULL;
    is_int(consumer_fragment(CONSUMER_OPENVPN, &b, &x), -EINVAL, "no certificate");
    is_int(consumer_fragment(_CONSUMER_MAX, &file_in, &x), -EINVAL, "bad kind");
    ok(x == NULL, "nothing returned");
}

TEST(json) {
    json_object *o = NULL, *v;
    is_int(consumer_to_json(CONSUMER_OPENVPN, &token_in, &o), 0, "json");
    ok(json_object_object_get_ex(o, "pkcs11_id", &v) &&
           streq(json_object_get_string(v), "SoftHSM\\x20project/SoftHSM\\x20v2/85090329026b9449/auto\\x20enroll/A1B2FF"),
       "pkcs11_id");
    ok(json_object_object_get_ex(o, "key_id", &v) && streq(json_object_get_string(v), "a1b2ff"), "key_id");
    ok(json_object_object_get_ex(o, "fragment", &v) && has(json_object_get_string(v), "pkcs11-id '"),
       "fragment");
    ok(json_object_object_get_ex(o, "consumer", &v) && streq(json_object_get_string(v), "openvpn"), "consumer");
    json_object_put(o);
    is_int(consumer_to_json(CONSUMER_OPENVPN, &file_in, &o), 0, "file json");
    ok(!json_object_object_get_ex(o, "pkcs11_id", &v) && !json_object_object_get_ex(o, "pkcs11_module", &v),
       "no PKCS#11 fields for a file key");
    json_object_put(o);
}

int main(void) { return tap_run(); }
