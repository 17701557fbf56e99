# shellcheck shell=bash
# OpenVPN 2.6 peers on 127.0.0.1 with `--dev null` (no tunnel device): a TLS
# server with a certificate from the test CA, trusting that CA, and a client
# started from a configuration fragment. Needs radius.sh's testca_* helpers
# (testca_init first).
#
#   openvpn_handshake NAME CLIENT-CONF [PIN-FILE] [CLIENT-ARGS...]
#       start a fresh server and the client; 0 when both sides report
#       "Initialization Sequence Completed". Logs: $REALM/openvpn-NAME-{server,client}.log.
#       PIN-FILE: answer the client's token PIN query on its management
#       interface (the PIN never goes on a command line or into a log).

# A management client that answers OpenVPN's PIN query from a file.
_ovpn_pin_script() {
    cat >"$REALM/ovpn-pin.py" <<'PY'
import re, socket, sys, time
port, pin_file = int(sys.argv[1]), sys.argv[2]
pin = open(pin_file).read().strip()
for _ in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", port)); break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("management interface not reachable")
f = s.makefile("rwb", buffering=0)
for line in f:
    m = re.match(rb">PASSWORD:Need '(.*)' password", line)
    if m:
        f.write(b'password "' + m.group(1) + b'" ' + pin.encode() + b"\n")
        print("answered the PIN query for", m.group(1).decode(), flush=True)
PY
}

openvpn_handshake() {
    local name=$1 conf=$2 pinfile=${3:-} port mport
    shift 2
    [ $# -gt 0 ] && shift
    need openvpn
    [ -f "$TESTCA/vpn.pem" ] || testca_issue vpn vpn.autoenroll.test --server
    port=$(free_port)
    local slog=$REALM/openvpn-$name-server.log clog=$REALM/openvpn-$name-client.log
    realm_spawn "ovpn_${name}_server" openvpn --dev null --proto udp4 --local 127.0.0.1 --lport "$port" \
        --tls-server --ca "$SCEP_CA_CERT" --cert "$TESTCA/vpn.pem" --key "$TESTCA/vpn.key" --dh none \
        --remote-cert-tls client --verb 3 --hand-window 15 --log "$slog"
    wait_for 10 grep -q "Initialization Sequence Completed\|UDPv4 link local (bound)" "$slog" ||
        { echo "openvpn server did not start: $(tail -5 "$slog")"; return 1; }
    local mgmt=()
    if [ -n "$pinfile" ]; then
        mport=$(free_port)
        mgmt=(--management 127.0.0.1 "$mport" --management-query-passwords)
        _ovpn_pin_script
        realm_spawn "ovpn_${name}_pin" /usr/bin/python3 "$REALM/ovpn-pin.py" "$mport" "$pinfile"
    fi
    realm_spawn "ovpn_${name}_client" openvpn --config "$conf" --dev null --proto udp4 --nobind \
        --remote 127.0.0.1 "$port" --tls-client --remote-cert-tls server \
        --verify-x509-name vpn.autoenroll.test name --tls-exit --hand-window 15 --verb 3 \
        --log "$clog" "${mgmt[@]}" "$@"
    local cpid spid rc=1
    eval "cpid=\$PID_ovpn_${name}_client spid=\$PID_ovpn_${name}_server"
    if wait_for 25 sh -c "grep -q 'Initialization Sequence Completed' '$clog' && grep -q 'Initialization Sequence Completed' '$slog' || ! kill -0 $cpid"; then
        grep -q 'Initialization Sequence Completed' "$clog" && grep -q 'Initialization Sequence Completed' "$slog" && rc=0
    fi
    kill -TERM -- "-$cpid" "-$spid" 2>/dev/null
    [ -n "$pinfile" ] && eval "kill -TERM -- -\$PID_ovpn_${name}_pin" 2>/dev/null
    wait_for 10 sh -c "! kill -0 $cpid 2>/dev/null && ! kill -0 $spid 2>/dev/null"
    [ $rc = 0 ] || { echo "client: $(grep -E 'error|ERROR|Error' "$clog" | tail -3)"; echo "server: $(grep -E 'VERIFY|error|ERROR' "$slog" | tail -3)"; }
    return $rc
}
