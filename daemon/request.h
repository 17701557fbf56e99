/* One tracked certificate: identity, key, certificate, state, schedule, last error.
 * Serialised to and from JSON for the state file and the IPC/CLI output. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/config.h"
#include "daemon/error.h"

typedef enum RequestState {
    STATE_NEED_KEY,         /* a key must be generated (first enrollment or renewal) */
    STATE_GENERATING_KEY,   /* in flight: back to NEED_KEY after a restart */
    STATE_NEED_CSR,         /* key exists: build CSR, get a challenge, submit */
    STATE_SUBMITTING,       /* in flight: back to NEED_CSR after a restart */
    STATE_PENDING,          /* CA said PENDING: poll with the same transaction */
    STATE_SAVING,           /* issued certificate recorded; outputs being written */
    STATE_MONITORING,       /* valid certificate in place; waiting for renewal time */
    STATE_NEED_CREDENTIALS, /* user request without valid tickets: the next login clears it */
    STATE_CA_REJECTED,      /* the CA refused: needs a person (or `autoenroll renew`) */
    STATE_CA_UNREACHABLE,   /* transient failure: retried with backoff */
    _STATE_MAX,
} RequestState;

typedef struct Request {
    char *id;
    RequestKind kind;
    uid_t uid;          /* owner: 0 for machine requests */
    char *user;         /* user requests: the login name */
    char *principal;    /* user requests: the Kerberos principal */
    char *profile;
    char *ca;
    RequestState state;

    /* What to ask for (templates already expanded). */
    char *subject;
    json_object *sans;  /* {"dns":[...], "upn":"...", "email":"...", "uri":[...]} */
    char *key_store;
    unsigned key_bits;
    char *cert_file;
    char *chain_file;
    char *hook;

    /* Key and certificate in use (kept until a renewal's new certificate is saved). */
    char *key_ref;
    char *cert_pem;
    char *chain_pem;
    int64_t not_before; /* seconds since the epoch */
    int64_t not_after;
    char *serial;

    /* The enrollment in progress. */
    char *new_key_ref;  /* key generated for this enrollment */
    char *new_key_id;   /* chosen before generation, so a crash leaves no orphan */
    char *new_cert_pem; /* issued, not yet fully saved (STATE_SAVING) */
    char *retired_key_ref; /* replaced by a renewal: deleted once the new one is in place */
    char *new_chain_pem;
    json_object *transaction; /* SCEP transaction state (id, nonce, server), opaque here */
    bool renewing;
    bool unsaved;       /* changed in memory, state file written when the loop is idle */

    /* Schedule and history. */
    uint64_t next_action;  /* CLOCK_REALTIME usec; 0 = now */
    unsigned attempts;     /* consecutive failures */
    int64_t last_success;  /* seconds since the epoch */
    int64_t created;
    char *error_category;
    char *error_message;
    int64_t error_time;
} Request;

const char *request_state_to_string(RequestState s);
int request_state_from_string(const char *s); /* -EINVAL if unknown */
/* States that need attention from a person or a login. */
bool request_state_is_attention(RequestState s);

int request_new(const char *id, Request **ret);
void request_free(Request *r);

/* Full JSON (state file). */
int request_to_json(const Request *r, json_object **ret);
/* Public view for IPC/CLI: no transaction internals. */
int request_to_public_json(const Request *r, json_object **ret);
int request_from_json(json_object *o, AeError *err, Request **ret);

/* After a restart, an in-flight state maps back to the last stable one. */
void request_reset_after_restart(Request *r);

void request_set_error(Request *r, const AeError *e, int64_t now);
void request_clear_error(Request *r);

/* Replace a string field (NULL allowed). Returns 0 or -ENOMEM. */
int request_set_str(char **field, const char *value);

/* A safe id: [A-Za-z0-9._@-], 1..64 chars, not starting with '.'. */
bool request_id_is_valid(const char *id);
