#!/bin/bash
# CA modes through the daemon: NDES over HTTPS (trusting only the configured
# TLS CA), and NDES that wants Negotiate on mscep.dll too (a fresh token for
# every request: an authenticator is good for one use only).
. "$top_srcdir/tests/realm/stack.sh"
stack_start
daemon_config "file:$REALM/keys"

ca_servers() { # replace the CA's server lines and extra settings, restart
    [ -n "${AE_PID:-}" ] && daemon_stop
    sed -i '/^server = /d; /^tls_ca_file = /d; /^negotiate_scep = /d; /^challenge = /d; /^challenge_file = /d' "$AE_CONF"
    local line
    for line in "$@"; do sed -i "/^\[ca test\]/a $line" "$AE_CONF"; done
    rm -rf "$AE_STATE" "$AE_OUT"/*
    daemon_start
}

# HTTPS with the test TLS CA.
ca_servers "server = $NDES_TLS_URL" "tls_ca_file = $REALM/tls-ca.pem" "challenge = kerberos"
ok "enrolled over HTTPS" daemon_wait_state machine MONITORING 60
# Without the TLS CA the server is not trusted.
ca_servers "server = $NDES_TLS_URL" "challenge = kerberos"
ae request machine --wait >/dev/null 2>&1
ok "an untrusted TLS server is refused" test "$(ae_field machine last_error.category)" = network
ok "the error names TLS" grep -qiE "ssl|tls|certificate" <<<"$(ae_field machine last_error.message)"

# Negotiate on mscep.dll as well.
ca_servers "server = $NDES_NEG_SCEP_URL $NDES_NEG_URL/certsrv/mscep_admin/" "negotiate_scep = yes" "challenge = kerberos"
ok "enrolled with Negotiate on mscep.dll" daemon_wait_state machine MONITORING 60
ca_servers "server = $NDES_NEG_SCEP_URL $NDES_NEG_URL/certsrv/mscep_admin/" "challenge = kerberos"
ae request machine --wait >/dev/null 2>&1
ok "without negotiate_scep the 401 is reported" grep -q "401" <<<"$(ae_field machine last_error.message)"

