/* pam-login-driver: many PAM logins from one long-lived process, on several
 * threads at once, the way sshd and gdm load session modules. For the
 * pam_autoenroll tests and bench/pam-latency.sh (run under pam_wrapper).
 *
 *   pam-login-driver [-t THREADS] [-n LOGINS-PER-THREAD] SERVICE USERFILE
 *
 * USERFILE: "user password" per line (test passwords only). Thread i does
 * its logins as users i, i+THREADS, ... (mod the number of users). Each login
 * is pam_start + authenticate + open_session + close_session + pam_end; all
 * threads authenticate, wait at a barrier, then open their sessions together.
 * Prints one line per login: "<user> <open_session microseconds> <pam result>".
 * Exits 0 when every authenticate and open_session returned PAM_SUCCESS. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#define MAX_USERS 4096

typedef struct User {
    char *name;
    char *password;
} User;

typedef struct Shared {
    const char *service;
    User *users;
    int n_users, n_threads, n_logins;
    pthread_barrier_t barrier;
    pthread_mutex_t out_lock;
    int failures;
} Shared;

typedef struct Worker {
    Shared *s;
    int index;
    pthread_t thread;
} Worker;

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data) {
    const char *password = data;
    struct pam_response *r = calloc((size_t)n, sizeof *r);
    if (!r)
        return PAM_BUF_ERR;
    for (int i = 0; i < n; i++)
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
            r[i].resp = strdup(password);
            if (!r[i].resp) {
                for (int j = 0; j < i; j++)
                    free(r[j].resp);
                free(r);
                return PAM_BUF_ERR;
            }
        }
    *resp = r;
    return PAM_SUCCESS;
}

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *work(void *arg) {
    Worker *w = arg;
    Shared *s = w->s;
    for (int k = 0; k < s->n_logins; k++) {
        const User *u = &s->users[(w->index + k * s->n_threads) % s->n_users];
        struct pam_conv c = {.conv = conv, .appdata_ptr = u->password};
        pam_handle_t *pamh = NULL;
        int r = pam_start(s->service, u->name, &c, &pamh);
        if (r == PAM_SUCCESS)
            r = pam_authenticate(pamh, 0);
        if (r == PAM_SUCCESS)
            r = pam_acct_mgmt(pamh, 0);
        /* Every thread meets here once per round, failed or not. */
        pthread_barrier_wait(&s->barrier);
        long long t = 0;
        if (r == PAM_SUCCESS) {
            long long t0 = now_us();
            r = pam_open_session(pamh, 0);
            t = now_us() - t0;
            if (r == PAM_SUCCESS)
                pam_close_session(pamh, 0);
        }
        pthread_mutex_lock(&s->out_lock);
        printf("%s %lld %d\n", u->name, t, r);
        if (r != PAM_SUCCESS) {
            s->failures++;
            fprintf(stderr, "%s: %s\n", u->name, pam_strerror(pamh, r));
        }
        pthread_mutex_unlock(&s->out_lock);
        if (pamh)
            pam_end(pamh, r);
    }
    return NULL;
}

static int read_users(const char *path, User **ret, int *ret_n) {
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    User *users = calloc(MAX_USERS, sizeof *users);
    char name[256], pw[256];
    int n = 0;
    while (users && n < MAX_USERS && fscanf(f, "%255s %255s", name, pw) == 2) {
        users[n].name = strdup(name);
        users[n].password = strdup(pw);
        if (!users[n].name || !users[n].password)
            break;
        n++;
    }
    explicit_bzero(pw, sizeof pw);
    fclose(f);
    if (!users || n == 0) {
        free(users);
        return -EINVAL;
    }
    *ret = users;
    *ret_n = n;
    return 0;
}

int main(int argc, char **argv) {
    Shared s = {.n_threads = 1, .n_logins = 1};
    int opt;
    while ((opt = getopt(argc, argv, "t:n:")) != -1) {
        if (opt == 't')
            s.n_threads = atoi(optarg);
        else if (opt == 'n')
            s.n_logins = atoi(optarg);
        else
            return 2;
    }
    if (argc - optind != 2 || s.n_threads < 1 || s.n_threads > 1024 || s.n_logins < 1) {
        fprintf(stderr, "usage: %s [-t THREADS] [-n LOGINS] SERVICE USERFILE\n", argv[0]);
        return 2;
    }
    s.service = argv[optind];
    if (read_users(argv[optind + 1], &s.users, &s.n_users) < 0) {
        fprintf(stderr, "cannot read users from %s\n", argv[optind + 1]);
        return 2;
    }
    pthread_barrier_init(&s.barrier, NULL, (unsigned)s.n_threads);
    pthread_mutex_init(&s.out_lock, NULL);
    Worker *w = calloc((size_t)s.n_threads, sizeof *w);
    if (!w)
        return 1;
    for (int i = 0; i < s.n_threads; i++) {
        w[i].s = &s;
        w[i].index = i;
        if (pthread_create(&w[i].thread, NULL, work, &w[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1; /* the barrier would never open: stop here */
        }
    }
    for (int i = 0; i < s.n_threads; i++)
        pthread_join(w[i].thread, NULL);
    fflush(stdout);
    for (int i = 0; i < s.n_users; i++) {
        explicit_bzero(s.users[i].password, strlen(s.users[i].password));
        free(s.users[i].name);
        free(s.users[i].password);
    }
    free(s.users);
    free(w);
    pthread_barrier_destroy(&s.barrier);
    pthread_mutex_destroy(&s.out_lock);
    return s.failures ? 1 : 0;
}
