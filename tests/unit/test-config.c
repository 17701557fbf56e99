#include "daemon/config.h"
#include "daemon/template.h"
#include "daemon/util.h"
#include "tests/unit/tap.h"

static const char good[] =
    "[daemon]\n"
    "state_dir = /tmp/x\n"
    "check_interval = 8h\n"
    "renew_percent = 25\n"
    "[ca corp]\n"
    "server = http://ndes.example.com/\n"
    "server = https://n2.example.com/certsrv/mscep/mscep.dll https://n2.example.com/certsrv/mscep_admin/\n"
    "fingerprint = sha256:AA:BB\n"
    "max_concurrent = 2\n"
    "[profile machine]\n"
    "kind = machine\n"
    "ca = corp\n"
    "key_store = pkcs11:token=autoenroll\n"
    "[profile user]\n"
    "kind = user\n"
    "ca = corp\n";

TEST(parse_good) {
    Config *c = NULL;
    AeError err = {0};
    is_int(config_parse_string("good.conf", good, &err, &c), 0, "parses");
    if (!c)
        return;
    is_str(c->state_dir, "/tmp/x", "state_dir");
    is_int(c->check_interval_usec, 8ULL * 3600 * 1000000, "check_interval 8h");
    is_int(c->renew_percent, 25, "renew_percent");
    is_int(c->n_cas, 1, "one CA");
    is_int(c->cas[0].n_servers, 2, "two servers");
    is_str(c->cas[0].servers[0].scep_url, "http://ndes.example.com/certsrv/mscep/mscep.dll",
           "scep url derived from base");
    is_str(c->cas[0].servers[0].admin_url, "http://ndes.example.com/certsrv/mscep_admin/",
           "admin url derived, trailing slash");
    is_str(c->cas[0].servers[1].admin_url, "https://n2.example.com/certsrv/mscep_admin/",
           "explicit admin url");
    is_int(c->cas[0].max_concurrent, 2, "max_concurrent");
    const Profile *m = config_find_profile(c, "machine");
    ok(m && m->kind == KIND_MACHINE, "machine profile");
    is_str(m ? m->dns[0] : NULL, "%{fqdn}", "machine default SAN");
    is_str(m ? m->keytab : NULL, "/etc/krb5.keytab", "default keytab");
    const Profile *u = config_find_profile(c, "user");
    is_str(u ? u->upn : NULL, "%{principal}", "user default UPN");
    is_str(u ? u->key_store : NULL, "file:%{state_dir}/keys", "default key store");
    config_free(c);
}

static void expect_error(const char *text, const char *needle, const char *what) {
    Config *c = NULL;
    AeError err = {0};
    int r = config_parse_string("bad.conf", text, &err, &c);
    ok(r < 0 && c == NULL && strstr(err.message, needle), "%s (%s)", what, err.message);
    config_free(c);
}

TEST(errors_name_file_and_line) {
    expect_error("[daemon]\nstate_dir = /x\nbogus = 1\n", "bad.conf:3: unknown setting 'bogus'",
                 "unknown key with line");
    expect_error("[ca x]\nserver = http://a\nmax_concurrent = zero\n", "bad.conf:3:",
                 "bad number with line");
    expect_error("[daemon]\ncheck_interval = 8 weeks\n", "bad.conf:2: check_interval",
                 "bad duration");
    expect_error("[nonsense]\na = b\n", "unknown section", "unknown section");
    expect_error("[profile p]\nkind = machine\n", "needs 'ca ='", "profile without CA");
    expect_error("[profile p]\nca = nope\n", "CA 'nope', which is not defined", "unknown CA");
    expect_error("[ca x]\nchallenge = static\nserver = http://a\n", "needs challenge_file",
                 "static without file");
    expect_error("[ca x]\nmax_concurrent = 3\n", "[ca x] needs a 'server ='", "CA without server");
    expect_error("[ca x]\nchallenge = maybe\n", "bad.conf:2: challenge must be", "bad enum");
    expect_error("[ca x]\nserver = http://s/scep -\n", "needs an admin URL", "kerberos without admin page");
    /* Only what every key store makes: 8192 once passed here and failed at key generation. */
    expect_error("[profile p]\nkey_bits = 8192\n", "bad.conf:2: key_bits must be 2048, 3072 or 4096",
                 "RSA-8192 refused");
    expect_error("[profile p]\nkey_bits = 2560\n", "key_bits must be", "RSA-2560 refused");
    expect_error("[daemon]\nstop_timeout = soon\n", "bad.conf:2: stop_timeout", "bad stop_timeout");
}

TEST(stop_timeout) {
    Config *c = NULL;
    AeError err = {0};
    is_int(config_parse_string("t.conf", "[daemon]\n", &err, &c), 0, "no setting");
    is_int(c->stop_timeout_usec, 20000000, "default 20 s");
    config_free(c);
    c = NULL;
    is_int(config_parse_string("t.conf", "[daemon]\nstop_timeout = 0\n", &err, &c), 0, "0");
    is_int(c->stop_timeout_usec, 0, "0 leaves at once");
    config_free(c);
}

TEST(durations) {
    uint64_t u;
    is_int(config_parse_duration("90", &u), 0, "bare number");
    is_int(u, 90000000, "90 s");
    config_parse_duration("15m", &u);
    is_int(u, 900000000ULL, "15m");
    config_parse_duration("2d", &u);
    is_int(u, 2ULL * 86400 * 1000000, "2d");
    is_int(config_parse_duration("-1", &u), -EINVAL, "negative refused");
    is_int(config_parse_duration("1y", &u), -EINVAL, "unknown unit refused");
    is_int(config_parse_duration("99999999999999999d", &u), -ERANGE, "overflow refused");
}

TEST(templates) {
    TemplateVar vars[] = {{"fqdn", "client.example.com"}, {"user", "alice"}, {"home", NULL}, {NULL, NULL}};
    _cleanup_free_ char *s = NULL;
    is_int(template_expand("CN=%{fqdn},O=100%%", vars, &s, NULL), 0, "expand");
    is_str(s, "CN=client.example.com,O=100%", "expanded");
    char *t = NULL;
    const char *missing = NULL;
    is_int(template_expand("%{home}/x", vars, &t, &missing), -ENOENT, "unset var");
    is_str(missing, "home", "names the missing var");
    is_int(template_expand("%{nope}", vars, &t, NULL), -ENOENT, "unknown var");
    is_int(template_expand("%{open", vars, &t, NULL), -EINVAL, "unterminated");
}

int main(void) { return tap_run(); }
