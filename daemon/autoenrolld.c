/* autoenrolld: tracks, enrolls and renews machine and user certificates. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/util.h"
#include "daemon/worker.h"

static void usage(FILE *f) {
    fprintf(f, "Usage: autoenrolld [--config PATH] [--conf-d DIR] [--socket PATH]\n"
               "                   [--log-target auto|journal|stderr] [--debug] [--check-config]\n");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},  {"conf-d", required_argument, NULL, 'd'},
        {"socket", required_argument, NULL, 's'},  {"log-target", required_argument, NULL, 'l'},
        {"check-config", no_argument, NULL, 'C'},  {"debug", no_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    ManagerOptions o = {
        .config_path = SYSCONFDIR "/autoenroll/autoenroll.conf",
        .conf_d = SYSCONFDIR "/autoenroll/conf.d",
        .listen_fd = -1,
    };
    const char *log_target = "auto";
    bool check_only = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:d:s:l:CDh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o.config_path = optarg;
            break;
        case 'd':
            o.conf_d = optarg;
            break;
        case 's':
            o.socket_path = optarg;
            break;
        case 'l':
            log_target = optarg;
            break;
        case 'C':
            check_only = true;
            break;
        case 'D':
            log_set_max_level(LOG_DEBUG);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    log_setup(log_target);
    /* A peer that hangs up (a CLI, a TLS server) must not kill the daemon. */
    signal(SIGPIPE, SIG_IGN);

    AeError err = {0};
    if (check_only) {
        Config *cfg = NULL;
        if (config_load(o.config_path, o.conf_d, &err, &cfg) < 0) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        printf("%s: OK (%u CA%s, %u profile%s)\n", o.config_path, cfg->n_cas,
               cfg->n_cas == 1 ? "" : "s", cfg->n_profiles, cfg->n_profiles == 1 ? "" : "s");
        config_free(cfg);
        return 0;
    }

    if (sd_listen_fds(1) == 1)
        o.listen_fd = SD_LISTEN_FDS_START;

    Manager *m = NULL;
    int r = manager_new(&o, &err, &m);
    if (r < 0) {
        log_msg(LOG_ERR, "cannot start: %s", err.message[0] ? err.message : strerror(-r));
        sd_notifyf(0, "STATUS=Failed to start: %s", err.message[0] ? err.message : strerror(-r));
        return 1;
    }
    r = manager_start(m, &err);
    if (r < 0) {
        log_msg(LOG_ERR, "cannot start: %s", err.message[0] ? err.message : strerror(-r));
        manager_free(m);
        return 1;
    }
    sd_event_set_watchdog(m->event, true);
    sd_notifyf(0, "READY=1\nSTATUS=Tracking %zu request%s", m->n_requests,
               m->n_requests == 1 ? "" : "s");
    log_msg(LOG_INFO, "started: %zu request%s tracked, host %s", m->n_requests,
            m->n_requests == 1 ? "" : "s", m->fqdn);
    r = sd_event_loop(m->event);
    sd_notify(0, "STOPPING=1");
    /* Worker threads still busy after the stop grace period use the
     * manager's requests and the libraries' global state (OpenSSL's atexit
     * clean-up crashed a key generation under valgrind): free nothing, run
     * no exit handlers. Half-written files are removed at the next start. */
    if (worker_running() > 0) {
        manager_save_pending(m); /* logins not yet written (the workers keep copies) */
        log_msg(LOG_WARNING, "stopped without clean-up: %u worker thread%s still busy",
                worker_running(), worker_running() == 1 ? "" : "s");
        fflush(NULL);
        _exit(r < 0 ? 1 : 0);
    }
    manager_free(m);
    log_msg(LOG_INFO, "stopped"); /* the tests look for it: a crash in teardown has no other trace */
    return r < 0 ? 1 : 0;
}
