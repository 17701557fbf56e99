#!/bin/bash
# The daemon under systemd's protocols, without systemd: socket activation
# (systemd-socket-activate passes the listening socket), Type=notify
# (READY=1 and STATUS= on NOTIFY_SOCKET) and the watchdog (WATCHDOG=1 pings).
. "$top_srcdir/tests/realm/stack.sh"
need systemd-socket-activate socat
stack_start
daemon_config "file:$REALM/keys"

# A datagram socket standing in for systemd's notify socket.
notify=$REALM/notify.sock
realm_spawn notify /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode() + "\n")
        f.flush()
' "$notify" "$REALM/notify.log"
wait_for 10 test -S "$notify" || bail "notify socket"
rm -f "$AE_SOCKET"
realm_spawn activated env "${NAMES_ENV[@]}" NOTIFY_SOCKET="$notify" WATCHDOG_USEC=1000000 \
    systemd-socket-activate -l "$AE_SOCKET" \
    -E NOTIFY_SOCKET -E WATCHDOG_USEC -E LD_PRELOAD -E NSS_WRAPPER_HOSTS -E NSS_WRAPPER_HOSTNAME \
    -E NSS_WRAPPER_PASSWD -E NSS_WRAPPER_GROUP -E ASAN_OPTIONS -E KRB5_CONFIG -E KRB5CCNAME \
    "$AE_DAEMON" --config "$AE_CONF" --conf-d "$REALM/conf.d" --log-target stderr
wait_for 10 test -S "$AE_SOCKET" || bail "systemd-socket-activate did not listen"
ok "the daemon is not running before the first connection" test "$(cat /proc/$PID_activated/comm)" != autoenrolld
ok "the first connection starts it and it answers on the passed socket" wait_for 20 ae list
ok "the daemon took over the activator's process" test "$(cat /proc/$PID_activated/comm)" = autoenrolld
ok "it reports READY=1" wait_for 10 grep -q "READY=1" "$REALM/notify.log"
ok "with a STATUS line" grep -q "STATUS=Tracking" "$REALM/notify.log"
ok "the machine request is enrolled as usual" daemon_wait_state machine MONITORING 60
ok "it pings the watchdog" wait_for 5 grep -q "WATCHDOG=1" "$REALM/notify.log"
n1=$(grep -c "WATCHDOG=1" "$REALM/notify.log")
sleep 2
n2=$(grep -c "WATCHDOG=1" "$REALM/notify.log")
ok "and keeps pinging ($n1 -> $n2)" test "$n2" -gt "$n1"
