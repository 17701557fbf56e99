#!/bin/bash
# A certificate in its renewal window whose renewal keeps failing: warnings
# with a stable MESSAGE_ID on every failure, a critical alert once it is
# within alert_before of expiry, and the metrics a fleet's Prometheus alerts on.
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/kdc.sh"
. "$top_srcdir/tests/realm/ndes-emulator.sh"
. "$top_srcdir/tests/realm/daemon.sh"
realm_init
kdc_start
ndes_emulator_start --valid-seconds 600
NDES_URL=unused SCEP_CA_FINGERPRINT=$NDES_EMU_CA_FINGERPRINT daemon_config "file:$REALM/keys"
sed -i "s|^server = .*|server = $NDES_EMU_URL $NDES_EMU_ADMIN_URL|; s|^allow_des = yes|allow_des = no|; s|^\[daemon\]|[daemon]\nalert_before = 1h|" "$AE_CONF"
daemon_start
ok "enrolled" daemon_wait_state machine MONITORING 60
serial=$(ae_field machine serial)

# The CA goes away; the next renewal fails again and again.
# (this test's emulator only: a pgrep for any emulator killed test 44's when
# the two ran side by side)
ndes_emulator_stop
ae renew machine >/dev/null
ok "renewal fails and is retried with backoff" wait_for 40 sh -c "grep -c '6a1e2c2b9f5d4b0e8c3f1a7d2e9b4c03' '$REALM/autoenrolld.log' | grep -qv '^[01]\$'"
ok "each failure is a warning with the failure MESSAGE_ID" grep -q "autoenrolld\[warning\] 6a1e2c2b9f5d4b0e8c3f1a7d2e9b4c03: renewal failed" "$REALM/autoenrolld.log"
ok "within alert_before of expiry it is critical, with its own MESSAGE_ID" grep -q "autoenrolld\[crit\] 6a1e2c2b9f5d4b0e8c3f1a7d2e9b4c04: certificate $serial expires in" "$REALM/autoenrolld.log"
ok "the certificate in use stays" test "$(ae_field machine serial)" = "$serial"
prom=$REALM/autoenroll.prom
ok "metrics: seconds until expiry" grep -qE '^autoenroll_cert_expiry_seconds\{id="machine",[^}]*\} [0-9]+$' "$prom"
ok "metrics: consecutive failures" grep -qE '^autoenroll_consecutive_failures\{id="machine",[^}]*\} [1-9]' "$prom"
ok "metrics: last error category" grep -q '^autoenroll_last_error{id="machine",category="network"} 1' "$prom"
ok "metrics: state" grep -q '^autoenroll_request_state{id="machine",state="CA_UNREACHABLE"} 1' "$prom"
ok "metrics file has HELP/TYPE for each family" test "$(grep -c '^# TYPE autoenroll_' "$prom")" -ge 6
