/* What a saved certificate leaves for its consumers: PEM files (atomic, owned
 * by the request's owner) and the post-save hook. */
#pragma once

#include <systemd/sd-event.h>

#include "daemon/error.h"
#include "daemon/request.h"

/* Write cert_pem (and chain_pem) to the request's cert_file / chain_file, if set.
 * Files belong to the request's owner; certificates are 0644. */
int outputs_write_pem(const Request *r, const char *cert_pem, const char *chain_pem, AeError *err);

/* Run the request's hook (if any) with AUTOENROLL_* in its environment: as the
 * owning user for user requests, never as root; killed after timeout_usec.
 * Fire and forget: the result is logged. */
int outputs_run_hook(sd_event *e, const Request *r, const char *key_uri, uint64_t timeout_usec,
                     AeError *err);
