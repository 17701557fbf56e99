/* Logging to the journal or stderr. */
#include "daemon/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "daemon/util.h"

static bool use_journal;
static int max_level = LOG_INFO;

void log_setup(const char *target) {
    if (target && streq(target, "journal"))
        use_journal = true;
    else if (target && streq(target, "stderr"))
        use_journal = false;
    else
        use_journal = access("/run/systemd/journal/socket", W_OK) == 0;
}

void log_set_max_level(int level) { max_level = level; }

static const char *level_name(int level) {
    static const char *const names[] = {"emerg", "alert", "crit", "err",
                                        "warning", "notice", "info", "debug"};
    return level >= 0 && level <= 7 ? names[level] : "?";
}

static void emit(int level, const Request *r, const char *message_id, const char *text) {
    if (level > max_level)
        return;
    if (use_journal) {
        if (r)
            sd_journal_send("MESSAGE=%s", text, "PRIORITY=%d", level, "REQUEST_ID=%s", r->id,
                            "CA=%s", r->ca ? r->ca : "", "STATE=%s",
                            request_state_to_string(r->state), "REQUEST_UID=%u",
                            (unsigned)r->uid, message_id ? "MESSAGE_ID=%s" : NULL, message_id,
                            NULL);
        else
            sd_journal_send("MESSAGE=%s", text, "PRIORITY=%d", level, NULL);
        return;
    }
    if (r)
        fprintf(stderr, "autoenrolld[%s] %s: %s [request=%s ca=%s state=%s]\n", level_name(level),
                message_id ? message_id : "-", text, r->id, r->ca ? r->ca : "",
                request_state_to_string(r->state));
    else
        fprintf(stderr, "autoenrolld[%s]: %s\n", level_name(level), text);
}

void log_msg(int level, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    emit(level, NULL, NULL, buf);
}

void log_req(int level, const Request *r, const char *message_id, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    emit(level, r, message_id, buf);
}
