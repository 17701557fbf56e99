/* Pieces of the autoenroll CLI that live in their own files. */
#pragma once

#include <stdbool.h>

/* Open the caller's Kerberos cache (KRB5CCNAME or the default) as the caller,
 * for handing to the daemon; -1 if there is none. */
int cli_open_user_ccache(void);

/* `autoenroll diagnose [CA]`: exit code 0 when every step passed. */
int cli_diagnose(const char *config_path, const char *ca_name, bool json);

/* `autoenroll consumer-config ID --for KIND`: a configuration fragment for
 * an 802.1X or VPN client (daemon/cli-consumer.c). */
int cli_consumer_config(const char *socket_path, int timeout_ms, int argc, char **argv, bool json);
