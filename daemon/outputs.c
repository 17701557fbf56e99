/* PEM outputs and post-save hooks. */
#include "daemon/outputs.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/fileio.h"
#include "daemon/log.h"
#include "daemon/util.h"

static int owner_of(const Request *r, uid_t *uid, gid_t *gid) {
    if (r->kind == KIND_MACHINE) {
        *uid = 0;
        *gid = 0;
        return 0;
    }
    struct passwd *pw = getpwuid(r->uid);
    if (!pw)
        return -ENOENT;
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

static int write_one(const char *path, const char *pem, uid_t uid, gid_t gid, AeError *err) {
    _cleanup_free_ char *dir = strdup(path);
    if (!dir)
        return -ENOMEM;
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        struct stat st;
        if (stat(dir, &st) < 0) {
            int k = fileio_mkdir_p(dir, 0755);
            if (k < 0)
                return ae_error_set(err, k, AE_ERR_STORAGE, "cannot create %s: %s", dir,
                                    strerror(-k));
            if (uid != 0 && chown(dir, uid, gid) < 0)
                return ae_error_set(err, -errno, AE_ERR_STORAGE, "cannot chown %s: %m", dir);
        }
    }
    /* A crash in an earlier write may have left NAME.tmp.XXXXXX beside it. */
    const char *base = strrchr(path, '/');
    if (slash && slash != dir)
        fileio_remove_stale_temps(dir, base ? base + 1 : path);
    int k = fileio_write_atomic(path, pem, strlen(pem), 0644, uid, gid);
    if (k < 0)
        return ae_error_set(err, k, AE_ERR_STORAGE, "cannot write %s: %s", path, strerror(-k));
    return 0;
}

int outputs_write_pem(const Request *r, const char *cert_pem, const char *chain_pem, AeError *err) {
    uid_t uid;
    gid_t gid;
    if (owner_of(r, &uid, &gid) < 0)
        return ae_error_set(err, -ENOENT, AE_ERR_STORAGE, "owner uid %u has no account",
                            (unsigned)r->uid);
    int k = 0;
    if (r->cert_file && cert_pem)
        k = write_one(r->cert_file, cert_pem, uid, gid, err);
    if (k >= 0 && r->chain_file && chain_pem)
        k = write_one(r->chain_file, chain_pem, uid, gid, err);
    return k;
}

typedef struct Hook {
    sd_event_source *child, *timeout;
    char *id;
} Hook;

static void hook_free(Hook *h) {
    sd_event_source_disable_unref(h->child);
    sd_event_source_disable_unref(h->timeout);
    free(h->id);
    free(h);
}

static int on_hook_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
    Hook *h = userdata;
    if (si->si_code == CLD_EXITED && si->si_status == 0)
        log_msg(LOG_INFO, "hook for %s finished", h->id);
    else if (si->si_code == CLD_EXITED)
        log_msg(LOG_WARNING, "hook for %s exited with status %d", h->id, si->si_status);
    else
        log_msg(LOG_WARNING, "hook for %s was killed by signal %d", h->id, si->si_status);
    hook_free(h);
    return 0;
}

static int on_hook_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
    Hook *h = userdata;
    log_msg(LOG_WARNING, "hook for %s timed out: killing it", h->id);
    sd_event_source_send_child_signal(h->child, SIGKILL, NULL, 0);
    return 0;
}

int outputs_run_hook(sd_event *e, const Request *r, const char *key_uri, uint64_t timeout_usec,
                     AeError *err) {
    if (!r->hook)
        return 0;
    struct passwd *pw = NULL;
    if (r->kind == KIND_USER) {
        pw = getpwuid(r->uid);
        if (!pw || pw->pw_uid == 0)
            return ae_error_set(err, -EPERM, AE_ERR_CONFIG,
                                "user hook not run: uid %u has no account (hooks never run as root)",
                                (unsigned)r->uid);
    }
    char nb[32], na[32], uidb[16];
    snprintf(nb, sizeof nb, "%lld", (long long)r->not_before);
    snprintf(na, sizeof na, "%lld", (long long)r->not_after);
    snprintf(uidb, sizeof uidb, "%u", (unsigned)r->uid);

    pid_t pid = fork();
    if (pid < 0)
        return ae_error_set(err, -errno, AE_ERR_INTERNAL, "fork: %m");
    if (pid == 0) {
        /* Child: a clean environment naming the request, then drop to the user. */
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            if (devnull > 2)
                close(devnull);
        }
        clearenv();
        setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
        setenv("AUTOENROLL_REQUEST_ID", r->id, 1);
        setenv("AUTOENROLL_KIND", request_kind_to_string(r->kind), 1);
        setenv("AUTOENROLL_CA", r->ca ? r->ca : "", 1);
        setenv("AUTOENROLL_STATE", request_state_to_string(r->state), 1);
        setenv("AUTOENROLL_UID", uidb, 1);
        setenv("AUTOENROLL_NOT_BEFORE", nb, 1);
        setenv("AUTOENROLL_NOT_AFTER", na, 1);
        if (r->serial)
            setenv("AUTOENROLL_SERIAL", r->serial, 1);
        if (r->cert_file)
            setenv("AUTOENROLL_CERT_FILE", r->cert_file, 1);
        if (r->chain_file)
            setenv("AUTOENROLL_CHAIN_FILE", r->chain_file, 1);
        if (key_uri)
            setenv("AUTOENROLL_KEY", key_uri, 1);
        if (r->key_ref)
            setenv("AUTOENROLL_KEY_REF", r->key_ref, 1);
        if (pw) {
            setenv("HOME", pw->pw_dir, 1);
            setenv("USER", pw->pw_name, 1);
            if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
                setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
                _exit(126);
            if (chdir(pw->pw_dir) < 0 && chdir("/") < 0)
                _exit(126);
        } else if (chdir("/") < 0)
            _exit(126);
        execl("/bin/sh", "sh", "-c", r->hook, (char *)NULL);
        _exit(127);
    }
    Hook *h = calloc(1, sizeof *h);
    if (!h || !(h->id = strdup(r->id))) {
        free(h);
        return -ENOMEM;
    }
    int k = sd_event_add_child(e, &h->child, pid, WEXITED, on_hook_exit, h);
    if (k < 0) {
        hook_free(h);
        kill(pid, SIGKILL);
        return ae_error_set(err, k, AE_ERR_INTERNAL, "cannot watch the hook: %s", strerror(-k));
    }
    sd_event_source_set_child_process_own(h->child, true);
    sd_event_add_time_relative(e, &h->timeout, CLOCK_MONOTONIC, timeout_usec, 0, on_hook_timeout, h);
    log_req(LOG_INFO, r, NULL, "running hook (pid %d)", (int)pid);
    return 0;
}
