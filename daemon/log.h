/* Logging for the daemon: the journal with structured fields when it is there
 * (REQUEST_ID, CA, STATE, MESSAGE_ID), stderr otherwise. Libraries never log:
 * the deciding caller logs once. Never pass a secret. */
#pragma once

#include <syslog.h>

#include "daemon/request.h"

/* Stable MESSAGE_IDs (sd-id128 style) for events a fleet alerts on. */
#define MSGID_ENROLLED "6a1e2c2b9f5d4b0e8c3f1a7d2e9b4c01"
#define MSGID_RENEWED "6a1e2c2b9f5d4b0e8c3f1a7d2e9b4c02"
#define MSGID_FAILED "6a1e2c2b9f5d4b0e8c3f1a7d2e9b4c03"
#define MSGID_EXPIRING "6a1e2c2b9f5d4b0e8c3f1a7d2e9b4c04"
#define MSGID_EXPIRED "6a1e2c2b9f5d4b0e8c3f1a7d2e9b4c05"

/* "journal", "stderr" or "auto" (journal when its socket exists). */
void log_setup(const char *target);
void log_set_max_level(int level);

__attribute__((format(printf, 2, 3))) void log_msg(int level, const char *fmt, ...);
/* With the request's id, CA and state as fields; message_id may be NULL. */
__attribute__((format(printf, 4, 5))) void log_req(int level, const Request *r,
                                                   const char *message_id, const char *fmt, ...);
