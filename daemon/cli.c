/* autoenroll: the command line for people and scripts.
 *
 * Exit codes: 0 done; 1 failed (the daemon or the request said no);
 * 2 usage; 3 the daemon is not reachable; 4 `--wait` ended without a
 * certificate in place (rejected, unreachable, pending, needs credentials). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/cli.h"
#include "daemon/ipc-client.h"
#include "daemon/util.h"

#define EXIT_USAGE 2
#define EXIT_NO_DAEMON 3
#define EXIT_NOT_IN_PLACE 4

static const char *socket_path = RUNSTATEDIR "/autoenroll/autoenrolld.sock";
static bool json_output;
static int timeout_sec = 30;

static void print_time(const char *label, int64_t t) {
    char buf[64] = "-";
    if (t > 0) {
        time_t tt = (time_t)t;
        struct tm tm;
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&tt, &tm));
    }
    printf("  %-13s %s\n", label, buf);
}

static const char *jstr(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int64_t jint(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static void print_request(json_object *r) {
    json_object *err, *sans;
    printf("Request %s\n", jstr(r, "id"));
    printf("  %-13s %s\n", "state", jstr(r, "state"));
    printf("  %-13s %s (uid %lld)\n", "kind", jstr(r, "kind"), (long long)jint(r, "uid"));
    printf("  %-13s %s\n", "ca", jstr(r, "ca") ? jstr(r, "ca") : "-");
    printf("  %-13s %s\n", "subject", jstr(r, "subject") ? jstr(r, "subject") : "-");
    if (json_object_object_get_ex(r, "sans", &sans))
        printf("  %-13s %s\n", "sans", json_object_to_json_string_ext(sans, JSON_C_TO_STRING_PLAIN));
    printf("  %-13s %s\n", "key", jstr(r, "key_ref") ? jstr(r, "key_ref") : "-");
    if (jstr(r, "cert_file"))
        printf("  %-13s %s\n", "cert file", jstr(r, "cert_file"));
    if (jstr(r, "chain_file"))
        printf("  %-13s %s\n", "chain file", jstr(r, "chain_file"));
    if (jstr(r, "serial"))
        printf("  %-13s %s\n", "serial", jstr(r, "serial"));
    print_time("not before", jint(r, "not_before"));
    print_time("not after", jint(r, "not_after"));
    print_time(streq(jstr(r, "state") ? jstr(r, "state") : "", "MONITORING") ? "renewal due" : "next action",
               jint(r, "due"));
    if (json_object_object_get_ex(r, "last_error", &err))
        printf("  %-13s [%s] %s\n", "last error", jstr(err, "category"), jstr(err, "message"));
}

/* Call the daemon; print its error; map to an exit code. */
static int call(json_object *req, int fd, json_object **ret) {
    json_object *reply = NULL;
    int r = ipc_call(socket_path, req, fd, timeout_sec * 1000, &reply);
    json_object_put(req);
    if (r < 0) {
        if (json_output)
            printf("{\"ok\":false,\"error\":{\"category\":\"daemon\",\"message\":\"%s\"}}\n",
                   strerror(-r));
        fprintf(stderr, "autoenroll: cannot reach autoenrolld at %s: %s\n", socket_path,
                strerror(-r));
        return EXIT_NO_DAEMON;
    }
    json_object *ok, *err;
    if (!json_object_object_get_ex(reply, "ok", &ok) || !json_object_get_boolean(ok)) {
        if (json_output)
            printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PRETTY));
        if (json_object_object_get_ex(reply, "error", &err))
            fprintf(stderr, "autoenroll: %s\n", jstr(err, "message"));
        json_object_put(reply);
        return EXIT_FAILURE;
    }
    *ret = reply;
    return 0;
}

static json_object *new_call(const char *method) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "method", json_object_new_string(method));
    return o;
}

static int show_request_reply(json_object *reply, bool waited) {
    json_object *r;
    int rc = 0;
    if (!json_object_object_get_ex(reply, "request", &r))
        return EXIT_FAILURE;
    if (waited && !streq(jstr(r, "state") ? jstr(r, "state") : "", "MONITORING"))
        rc = EXIT_NOT_IN_PLACE;
    if (json_output)
        printf("%s\n", json_object_to_json_string_ext(r, JSON_C_TO_STRING_PRETTY));
    else
        print_request(r);
    return rc;
}

static int cmd_list(int argc, char **argv) {
    json_object *reply = NULL, *arr;
    int rc = call(new_call("list"), -1, &reply);
    if (rc)
        return rc;
    json_object_object_get_ex(reply, "requests", &arr);
    if (json_output)
        printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY));
    else {
        size_t n = json_object_array_length(arr);
        printf("%-24s %-8s %-17s %-20s %s\n", "ID", "KIND", "STATE", "NOT AFTER", "LAST ERROR");
        for (size_t i = 0; i < n; i++) {
            json_object *r = json_object_array_get_idx(arr, i), *err;
            char na[32] = "-";
            time_t t = (time_t)jint(r, "not_after");
            struct tm tm;
            if (t > 0)
                strftime(na, sizeof na, "%Y-%m-%d %H:%M", gmtime_r(&t, &tm));
            const char *e = json_object_object_get_ex(r, "last_error", &err) ? jstr(err, "message") : "";
            printf("%-24s %-8s %-17s %-20s %s\n", jstr(r, "id"), jstr(r, "kind"), jstr(r, "state"),
                   na, e ? e : "");
        }
        if (n == 0)
            printf("(no requests tracked)\n");
    }
    json_object_put(reply);
    return 0;
}

static int cmd_with_id(const char *method, int argc, char **argv, bool wait) {
    if (argc < 2) {
        fprintf(stderr, "autoenroll %s: which request? (see `autoenroll list`)\n", method);
        return EXIT_USAGE;
    }
    json_object *req = new_call(method), *reply = NULL;
    json_object_object_add(req, "id", json_object_new_string(argv[1]));
    if (wait)
        json_object_object_add(req, "wait", json_object_new_boolean(1));
    int fd = streq(method, "renew") ? cli_open_user_ccache() : -1;
    int rc = call(req, fd, &reply);
    if (fd >= 0)
        close(fd);
    if (rc)
        return rc;
    if (streq(method, "stop-tracking")) {
        if (json_output)
            printf("{\"ok\":true}\n");
        else
            printf("Request %s is no longer tracked (its certificate and key stay in place).\n",
                   argv[1]);
        rc = 0;
    } else
        rc = show_request_reply(reply, wait);
    json_object_put(reply);
    return rc;
}

static int cmd_request(int argc, char **argv, bool wait) {
    if (argc < 2) {
        fprintf(stderr, "autoenroll request: which profile? (see autoenroll.conf)\n");
        return EXIT_USAGE;
    }
    json_object *req = new_call("request"), *reply = NULL;
    json_object_object_add(req, "profile", json_object_new_string(argv[1]));
    if (wait)
        json_object_object_add(req, "wait", json_object_new_boolean(1));
    /* A user's own tickets go along, opened by this process as that user. */
    int fd = getuid() != 0 ? cli_open_user_ccache() : -1;
    int rc = call(req, fd, &reply);
    if (fd >= 0)
        close(fd);
    if (rc)
        return rc;
    rc = show_request_reply(reply, wait);
    json_object_put(reply);
    return rc;
}

static void usage(FILE *f) {
    fprintf(f,
            "Usage: autoenroll [OPTIONS] COMMAND [ARGS]\n"
            "\n"
            "Commands:\n"
            "  list                    requests you may see, with their state\n"
            "  status ID               one request in full\n"
            "  request PROFILE         enroll (or ensure) the certificate of a profile\n"
            "  renew ID                renew now\n"
            "  stop-tracking ID        forget a request (files and key stay)\n"
            "  diagnose [CA]           walk the chain to NDES step by step\n"
            "  consumer-config ID --for networkmanager|wpa_supplicant|openvpn|strongswan\n"
            "                          configuration fragment for an 802.1X/VPN client\n"
            "\n"
            "Options:\n"
            "  --json                  machine-readable output\n"
            "  --wait                  (request, renew) return when the certificate is saved or failed\n"
            "  --timeout SECONDS       how long to wait for the daemon (default 30; with --wait 300)\n"
            "  --socket PATH           the daemon's socket\n"
            "  --config PATH           (diagnose) configuration file\n"
            "\n"
            "Exit codes: 0 done, 1 failed, 2 usage, 3 daemon not reachable,\n"
            "            4 --wait ended without a certificate in place.\n");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},     {"wait", no_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 't'}, {"socket", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool wait = false, timeout_set = false;
    signal(SIGPIPE, SIG_IGN); /* a daemon that goes away mid-reply is an error, not a kill */
    const char *config_path = SYSCONFDIR "/autoenroll/autoenroll.conf";
    const char *env = getenv("AUTOENROLL_SOCKET");
    if (env && *env)
        socket_path = env;
    int c;
    while ((c = getopt_long(argc, argv, "+jwt:s:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json_output = true;
            break;
        case 'w':
            wait = true;
            break;
        case 't':
            timeout_sec = atoi(optarg);
            timeout_set = true;
            if (timeout_sec <= 0) {
                fprintf(stderr, "autoenroll: --timeout needs a positive number of seconds\n");
                return EXIT_USAGE;
            }
            break;
        case 's':
            socket_path = optarg;
            break;
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (wait && !timeout_set)
        timeout_sec = 300;
    argc -= optind;
    argv += optind;
    /* Options may also follow the command. */
    for (int i = 1; i < argc; i++) {
        if (streq(argv[i], "--wait"))
            wait = true;
        else if (streq(argv[i], "--json"))
            json_output = true;
        else
            continue;
        memmove(&argv[i], &argv[i + 1], (size_t)(argc - i - 1) * sizeof *argv);
        argc--;
        i--;
    }
    if (wait && !timeout_set)
        timeout_sec = 300;
    if (argc < 1) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[0];
    if (streq(cmd, "list"))
        return cmd_list(argc, argv);
    if (streq(cmd, "status"))
        return cmd_with_id("status", argc, argv, false);
    if (streq(cmd, "renew"))
        return cmd_with_id("renew", argc, argv, wait);
    if (streq(cmd, "stop-tracking"))
        return cmd_with_id("stop-tracking", argc, argv, false);
    if (streq(cmd, "request"))
        return cmd_request(argc, argv, wait);
    if (streq(cmd, "consumer-config"))
        return cli_consumer_config(socket_path, timeout_sec * 1000, argc, argv, json_output);
    if (streq(cmd, "diagnose"))
        return cli_diagnose(config_path, argc > 1 ? argv[1] : NULL, json_output);
    fprintf(stderr, "autoenroll: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
