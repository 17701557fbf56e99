# shellcheck shell=bash
# A private software TPM with tpm2-pkcs11 on top, for a test:
#   swtpm (state under $REALM/tpm, TCP on free 127.0.0.1 ports)
#   a private dbus-daemon (unix socket under $REALM)
#   tpm2-abrmd on that bus (swtpm alone runs out of object slots, DESIGN §7)
#   tpm2_ptool init + addtoken: token "autoenroll", store in $REALM/tpm2-pkcs11
#
# After tpm_start:
#   TPM_MODULE   /usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so
#   TPM_URI      pkcs11:token=autoenroll?module-path=...&pin-source=file:...
#   TPM_PIN_FILE, TPM_SO_PIN_FILE
#   TPM2_PKCS11_TCTI, TPM2TOOLS_TCTI, TPM2_PKCS11_STORE, DBUS_SESSION_BUS_ADDRESS exported
#   tpmt ARGS...  pkcs11-tool on that token, logged in
#   tpm_stop_swtpm  kill swtpm (the token "disappears")

TPM_MODULE=${TPM_MODULE:-$(ls /usr/lib/*/pkcs11/libtpm2_pkcs11.so 2>/dev/null | head -n 1)}

tpm_start() {
    local label=${1:-autoenroll}
    need swtpm tpm2-abrmd tpm2_ptool dbus-daemon pkcs11-tool tpm2_startup
    [ -n "$TPM_MODULE" ] && [ -e "$TPM_MODULE" ] || bail "tpm2-pkcs11 module missing (package libtpm2-pkcs11-1)"
    [ -x /usr/bin/python3 ] || bail "/usr/bin/python3 missing"

    mkdir -p "$REALM/tpm" "$REALM/tpm2-pkcs11"
    local port ctrl
    # The swtpm TCTI expects the control channel on port + 1.
    for _ in $(seq 1 50); do
        port=$(free_port) || bail "no free port for swtpm"
        ctrl=$((port + 1))
        ss -Htan "sport = :$ctrl" | grep -q . || break
    done
    echo "$ctrl" >>"$REALM/.ports"
    TPM_PORT=$port
    TPM_CTRL_PORT=$ctrl
    realm_spawn swtpm swtpm socket --tpm2 --tpmstate "dir=$REALM/tpm" \
        --server "type=tcp,port=$port,bindaddr=127.0.0.1" \
        --ctrl "type=tcp,port=$ctrl,bindaddr=127.0.0.1" \
        --flags not-need-init,startup-clear
    wait_for 10 port_open "$port" || bail "swtpm did not start: $(cat "$REALM/swtpm.log")"

    cat >"$REALM/dbus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$REALM/dbus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
    realm_spawn dbus dbus-daemon --nofork --nopidfile --config-file="$REALM/dbus.conf"
    wait_for 10 test -S "$REALM/dbus.sock" || bail "dbus-daemon did not start: $(cat "$REALM/dbus.log")"
    export DBUS_SESSION_BUS_ADDRESS="unix:path=$REALM/dbus.sock"

    realm_spawn tabrmd tpm2-abrmd --session --allow-root --flush-all \
        --tcti="swtpm:host=127.0.0.1,port=$port"
    export TPM2_PKCS11_TCTI="tabrmd:bus_type=session"
    export TPM2TOOLS_TCTI="$TPM2_PKCS11_TCTI"
    export TSS2_LOG=all+NONE
    wait_for 15 tpm2_getrandom 4 || bail "tpm2-abrmd did not come up: $(cat "$REALM/tabrmd.log")"

    export TPM2_PKCS11_STORE="$REALM/tpm2-pkcs11"
    TPM_PIN_FILE=$REALM/tpm.pin
    TPM_SO_PIN_FILE=$REALM/tpm-so.pin
    (umask 077 && printf '%s\n' "$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" >"$TPM_PIN_FILE" \
        && printf '%s\n' "so-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" >"$TPM_SO_PIN_FILE")
    /usr/bin/python3 /usr/bin/tpm2_ptool init --path "$TPM2_PKCS11_STORE" >"$REALM/ptool.log" 2>&1 \
        || bail "tpm2_ptool init failed: $(tail -n 5 "$REALM/ptool.log")"
    /usr/bin/python3 /usr/bin/tpm2_ptool addtoken --pid=1 --label="$label" \
        --userpin="$(cat "$TPM_PIN_FILE")" --sopin="$(cat "$TPM_SO_PIN_FILE")" \
        --path "$TPM2_PKCS11_STORE" >>"$REALM/ptool.log" 2>&1 \
        || bail "tpm2_ptool addtoken failed: $(tail -n 5 "$REALM/ptool.log")"
    TPM_URI="pkcs11:token=$label?module-path=$TPM_MODULE&pin-source=file:$TPM_PIN_FILE"
    export TPM_MODULE TPM_URI TPM_PIN_FILE TPM_SO_PIN_FILE TPM_PORT TPM_CTRL_PORT
}

tpmt() {
    pkcs11-tool --module "$TPM_MODULE" --token-label autoenroll \
        --login --pin "$(cat "$TPM_PIN_FILE")" "$@"
}

tpm_stop_swtpm() {
    # shellcheck disable=SC2154
    kill -TERM -- "-$PID_swtpm" 2>/dev/null
    wait_for 5 bash -c "! kill -0 $PID_swtpm 2>/dev/null"
}
