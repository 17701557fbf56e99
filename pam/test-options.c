/* pam_autoenroll's option parsing. */
#include "pam/options.h"

#include <errno.h>

#include "tests/unit/tap.h"

static int n_reported;
static char last_bad[256];

static void on_bad(void *userdata, const char *arg, const char *why) {
    n_reported++;
    snprintf(last_bad, sizeof last_bad, "%s", arg);
    (void)userdata;
    (void)why;
}

static int parse(PamAeOptions *o, int argc, const char **argv) {
    n_reported = 0;
    last_bad[0] = '\0';
    return pam_ae_options_parse(argc, argv, o, on_bad, NULL);
}

TEST(defaults) {
    PamAeOptions o;
    is_int(parse(&o, 0, NULL), 0, "no options, nothing bad");
    ok(!o.debug && !o.strict, "debug and strict off");
    is_int(o.timeout_ms, 1000, "1 s bound by default");
    is_int(o.wait_s, 0, "fire and forget by default");
    is_int(o.minimum_uid, 1000, "minimum_uid 1000");
    ok(o.profiles == NULL, "every autoenroll profile");
    is_str(o.socket, RUNSTATEDIR "/autoenroll/autoenrolld.sock", "default socket");
}

TEST(all_options) {
    const char *argv[] = {"debug", "strict", "wait=30", "timeout=0.25", "minimum_uid=20000",
                          "profile=user,wifi", "socket=/tmp/x.sock"};
    PamAeOptions o;
    is_int(parse(&o, 7, argv), 0, "all accepted");
    ok(o.debug && o.strict, "flags set");
    is_int(o.wait_s, 30, "wait=30");
    is_int(o.timeout_ms, 250, "timeout=0.25");
    is_int(o.minimum_uid, 20000, "minimum_uid");
    is_str(o.profiles, "user,wifi", "profiles");
    is_str(o.socket, "/tmp/x.sock", "socket");
}

TEST(unknown_and_bad_are_reported_not_fatal) {
    const char *argv[] = {"debug", "frobnicate", "wait=forever", "timeout=0", "minimum_uid=-1",
                          "profile=a,,b", "profile=a b", "socket=relative", "wait=", "timeout=5"};
    PamAeOptions o;
    is_int(parse(&o, 10, argv), 8, "eight bad options counted");
    is_int(n_reported, 8, "each reported once");
    ok(o.debug, "good options before still apply");
    is_int(o.timeout_ms, 5000, "good options after still apply");
    is_int(o.wait_s, 0, "bad wait= keeps the default");
    is_int(o.minimum_uid, 1000, "bad minimum_uid keeps the default");
    ok(o.profiles == NULL, "bad profile= keeps the default");
    is_str(o.socket, RUNSTATEDIR "/autoenroll/autoenrolld.sock", "relative socket refused");
}

TEST(prefix_is_not_an_option) {
    const char *argv[] = {"waiting=3", "debugx", "wait"};
    PamAeOptions o;
    is_int(parse(&o, 3, argv), 3, "near misses are unknown");
    is_str(last_bad, "wait", "bare wait needs a value");
}

TEST(durations) {
    int ms = -1;
    is_int(pam_ae_parse_duration_ms("1", 600000, &ms), 0, "1");
    is_int(ms, 1000, "1 -> 1000 ms");
    is_int(pam_ae_parse_duration_ms("0.5", 600000, &ms), 0, "0.5");
    is_int(ms, 500, "0.5 -> 500 ms");
    is_int(pam_ae_parse_duration_ms("2s", 600000, &ms), 0, "2s");
    is_int(ms, 2000, "2s -> 2000 ms");
    is_int(pam_ae_parse_duration_ms("1.23456", 600000, &ms), 0, "extra digits");
    is_int(ms, 1234, "truncated to ms");
    is_int(pam_ae_parse_duration_ms("250ms", 600000, &ms), 0, "250ms");
    is_int(ms, 250, "250ms");
    is_int(pam_ae_parse_duration_ms("601", 600000, &ms), -ERANGE, "above the cap");
    is_int(pam_ae_parse_duration_ms("99999999999999", 600000, &ms), -ERANGE, "overflow");
    is_int(pam_ae_parse_duration_ms("", 600000, &ms), -EINVAL, "empty");
    is_int(pam_ae_parse_duration_ms(".5", 600000, &ms), -EINVAL, "no integer part");
    is_int(pam_ae_parse_duration_ms("1.", 600000, &ms), -EINVAL, "no fraction digits");
    is_int(pam_ae_parse_duration_ms("1m", 600000, &ms), -EINVAL, "minutes unknown");
    is_int(pam_ae_parse_duration_ms("-1", 600000, &ms), -EINVAL, "negative");
}

int main(void) { return tap_run(); }
