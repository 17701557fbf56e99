/* libFuzzer target for the daemon's socket: each input is what a client
 * writes on a connection, read by the real IpcServer (daemon/ipc.c: framing,
 * size cap, JSON) and answered by the real Manager (daemon/manager-ipc.c:
 * methods, parameters, permissions, request creation and removal).
 *
 * The Manager is built as autoenrolld builds it, but the harness serves its
 * socket from an event loop of its own: the Manager's loop (timers, key
 * generation, network) never runs, so nothing leaves the process and every
 * input costs one round trip. The peer is root (the fuzzer's uid), the one
 * that may call every method.
 *
 * fuzz-sources: daemon/manager.c daemon/manager-ipc.c daemon/enroll.c daemon/enroll-submit.c daemon/metrics.c daemon/outputs.c daemon/fileio.c daemon/config.c daemon/template.c daemon/request.c daemon/store.c daemon/schedule.c daemon/log.c daemon/ipc.c daemon/scep-cacert.c daemon/scep-caps.c daemon/scep-certrep.c daemon/scep-envelope.c daemon/scep-errors.c daemon/scep-message.c daemon/scep-url.c daemon/csr.c daemon/challenge.c daemon/krb.c daemon/ndes.c daemon/http.c daemon/worker.c daemon/sid.c pkcs11/keystore.c pkcs11/token.c pkcs11/provider.c pkcs11/provider-ops.c pkcs11/filestore.c pkcs11/pin.c
 * fuzz-pkgs: openssl libcurl krb5-gssapi krb5 libsystemd inih json-c p11-kit-1 ldap
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Manager *manager;
static sd_event *loop;
static IpcServer *server;
static char socket_path[128];
static char tmpdir[64];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    remove(path); /* best effort: a temp dir */
    return 0;
}

static void cleanup(void) {
    ipc_server_free(server);
    sd_event_unref(loop);
    manager_free(manager);
    nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void) {
    char dir[] = "/tmp/fuzz-ipc-XXXXXX";
    if (!mkdtemp(dir))
        abort();
    snprintf(tmpdir, sizeof tmpdir, "%s", dir);
    atexit(cleanup);
    char conf[256];
    snprintf(conf, sizeof conf, "%s/autoenroll.conf", dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        abort();
    fprintf(f,
            "[daemon]\n"
            "state_dir = %s/state\n"
            "socket = %s/manager.sock\n"
            "hostname = client.autoenroll.test\n"
            "[ca corp]\n"
            "server = http://127.0.0.1:9/\n"
            "[profile machine]\n"
            "kind = machine\n"
            "ca = corp\n"
            "key_store = file:%s/keys\n"
            "cert_file = %s/out/machine.pem\n"
            "[profile user]\n"
            "kind = user\n"
            "ca = corp\n"
            "autoenroll = yes\n"
            "key_store = file:%s/keys/%%{user}\n"
            "[profile wifi]\n"
            "kind = user\n"
            "ca = corp\n"
            "key_store = file:%s/keys/%%{user}\n",
            dir, dir, dir, dir, dir, dir);
    fclose(f);
    log_setup("stderr");
    log_set_max_level(LOG_CRIT);
    ManagerOptions o = {.config_path = conf, .listen_fd = -1};
    AeError err = {0};
    if (manager_new(&o, &err, &manager) < 0) {
        fprintf(stderr, "fuzz-ipc: %s\n", err.message);
        abort();
    }
    snprintf(socket_path, sizeof socket_path, "%s/fuzz.sock", dir);
    if (sd_event_new(&loop) < 0 ||
        ipc_server_new(loop, socket_path, -1, manager_ipc_handle, manager_ipc_gone, manager,
                       &server) < 0)
        abort();
}

/* Run the harness loop until the client has a whole reply, the server hung
 * up, or nothing happens for a while (a `wait` that the idle Manager will
 * never finish). */
static void exchange(int fd, char *reply, size_t cap, size_t *len) {
    *len = 0;
    for (int idle = 0; idle < 3;) {
        int k = sd_event_run(loop, 2000);
        if (k < 0)
            abort();
        ssize_t n = read(fd, reply + *len, cap - 1 - *len);
        if (n > 0) {
            *len += (size_t)n;
            reply[*len] = '\0';
            if (memchr(reply, '\n', *len) || *len == cap - 1)
                return;
        } else if (n == 0)
            return;
        else if (errno != EAGAIN)
            return;
        if (k == 0)
            idle++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!manager)
        setup();
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, socket_path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        abort();
    /* Most inputs are one line; the framing must also cope with none or several. */
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        if (n < 0 && errno == EAGAIN) {
            sd_event_run(loop, 1000);
            continue;
        }
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    static char reply[1 << 20];
    size_t len;
    exchange(fd, reply, sizeof reply, &len);
    if (len > 0 && memchr(reply, '\n', len)) {
        /* Every answer is one JSON object with "ok" or "error". */
        *(char *)memchr(reply, '\n', len) = '\0';
        json_object *o = json_tokener_parse(reply);
        if (!o || !json_object_is_type(o, json_type_object) ||
            (!json_object_object_get_ex(o, "ok", NULL) && !json_object_object_get_ex(o, "error", NULL)))
            abort();
        json_object_put(o);
    }
    close(fd);
    /* Let the server see the hang-up and forget the connection (and its waiter). */
    while (sd_event_run(loop, 0) > 0)
        ;
    return 0;
}
