#!/bin/bash
# Several NDES servers for one CA: an enrollment moves to the next server when
# one is stopped, answers 503, hangs, or says "password cache is full"; a
# failed server is skipped for its cool-down, then tried again. Load control:
# a per-CA cap on submissions per minute holds requests back.
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/realm/ndes-emulator.sh"
stack_start
ndes_emulator_start
daemon_config "file:$REALM/keys"
sed -i 's/^timeout = .*/timeout = 3s\nserver_cooldown = 6s/' "$AE_CONF"

# servers LINE... : replace the CA's server list and restart the daemon.
servers() {
    [ -n "${AE_PID:-}" ] && daemon_stop
    sed -i '/^server = /d' "$AE_CONF"
    local s
    for s in "$@"; do sed -i "/^\[ca test\]/a server = $s" "$AE_CONF"; done
    daemon_start
}
good="$NDES_SCEP_URL $NDES_ADMIN_URL"
dead_port=$(free_port)
hang_port=$(free_port)
realm_spawn hang socat TCP-LISTEN:"$hang_port",bind=127.0.0.1,fork,reuseaddr SYSTEM:'sleep 60'
wait_for 10 port_open "$hang_port" || bail "hanging listener did not start"
failures() { grep -c "NDES server $1 failed" "$REALM/autoenrolld.log"; }

# A stopped server (connection refused) listed first.
dead=http://$NDES_HOST:$dead_port/certsrv/mscep/mscep.dll
servers "$good" "$dead http://$NDES_HOST:$dead_port/certsrv/mscep_admin/"  # sed "a" reverses: the dead one is first
ok "enrolled through the second server when the first is stopped" daemon_wait_state machine MONITORING 60
ok "the move was logged" test "$(failures "$dead")" = 1

# The failed server is skipped during its cool-down...
ae renew machine --wait >/dev/null
ok "renewal during the cool-down succeeds" test "$(ae_field machine state)" = MONITORING
ok "and does not knock on the failed server again" test "$(failures "$dead")" = 1
# ...and tried again after it.
sleep 7
ae renew machine --wait >/dev/null
ok "after the cool-down the server is tried again" test "$(failures "$dead")" = 2
ok "and the renewal still succeeds" test "$(ae_field machine state)" = MONITORING

# A server answering 503 on its admin page.
servers "$good" "$NDES_SCEP_URL $NDES_DOWN_URL/certsrv/mscep_admin/"
ae renew machine --wait >/dev/null
ok "503 from the first server: enrolled on the second" test "$(ae_field machine state)" = MONITORING
ok "503 named in the log" grep -q "503" "$REALM/autoenrolld.log"

# A server that fails only the PKIOperation, after the request is built: the
# job builds again for the second server (the first build's key and key store
# were leaked there once).
servers "$good" "$NDES_BUSY_SCEP_URL $NDES_ADMIN_URL"
ae renew machine --wait >/dev/null
ok "503 to the PKIOperation: enrolled on the second server" test "$(ae_field machine state)" = MONITORING
ok "that move was logged" test "$(failures "$NDES_BUSY_SCEP_URL")" = 1

# A server that accepts and never answers.
hang=http://127.0.0.1:$hang_port/certsrv/mscep/mscep.dll
servers "$good" "$hang http://127.0.0.1:$hang_port/certsrv/mscep_admin/"
start=$SECONDS
ae renew machine --wait >/dev/null
ok "a hanging server: enrolled on the second within the timeouts" test "$(ae_field machine state)" = MONITORING
ok "the hang cost one timeout, not more ($((SECONDS - start)) s)" test $((SECONDS - start)) -lt 15
ok "the hang was logged" test "$(failures "$hang")" -ge 1

# "The password cache is full." on the first server.
for i in 1 2 3 4 5; do ndes_emulator_challenge >/dev/null; done
ok "the emulator's cache is full now" sh -c "! curl -sf '$NDES_EMU_ADMIN_URL' | iconv -f UTF-16 -t UTF-8 | grep -q 'challenge password is'"
servers "$good" "$NDES_SCEP_URL $NDES_EMU_ADMIN_URL"
ae renew machine --wait >/dev/null
ok "cache full on the first server: enrolled on the second" test "$(ae_field machine state)" = MONITORING
ok "the full cache was named" grep -qi "cache is full" "$REALM/autoenrolld.log"

# Every server down: a clear failure, backoff, and the certificate kept.
serial=$(ae_field machine serial)
servers "$dead http://$NDES_HOST:$dead_port/certsrv/mscep_admin/"
ae renew machine --wait >/dev/null
ok "all servers down: CA_UNREACHABLE" test "$(ae_field machine state)" = CA_UNREACHABLE
ok "the certificate in use is kept" test "$(ae_field machine serial)" = "$serial"
# (against the failure's own time, not the clock now: on a loaded machine the
# 1 s floor of the backoff may be over before this line runs)
ok "next attempt is backed off, not immediate" test "$(ae_field machine due)" -gt "$(ae_field machine last_error.time)"

# Load control: at most 1 submission per minute for this CA.
servers "$good"
sed -i 's/^server_cooldown = 6s/server_cooldown = 6s\nmax_per_minute = 1/' "$AE_CONF"
daemon_stop; daemon_start
daemon_wait_state machine MONITORING 60 >/dev/null
ae renew machine >/dev/null
sleep 4
ok "a second submission within the minute is held back" test "$(ae_field machine state)" = NEED_CSR
ok "the metrics file shows nothing in flight meanwhile" grep -q '^autoenroll_submissions_in_flight 0' "$REALM/autoenroll.prom"
