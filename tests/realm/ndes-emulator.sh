# shellcheck shell=bash
# The NDES emulator (tests/ndes-emulator, Python + Debian's cryptography and
# asn1crypto) on a free 127.0.0.1 port.
#
#   ndes_emulator_start [emulator options: --pending --pending-polls N --caps W,W
#                        --valid-seconds N --challenge-ttl N --single-ra --html-errors]
#
# Exports NDES_EMU_URL (.../certsrv/mscep/mscep.dll), NDES_EMU_ADMIN_URL,
# NDES_EMU_CA_CERT, NDES_EMU_CA_FINGERPRINT, NDES_EMU_LOG, NDES_EMU_PID.
# ndes_emulator_challenge fetches a one-time challenge from the admin page
# (UTF-16LE, like NDES) and prints it.

NDES_EMU_PY=${NDES_EMU_PY:-/usr/bin/python3}

ndes_emulator_start() {
    need "$NDES_EMU_PY" curl iconv
    "$NDES_EMU_PY" -c 'import cryptography, asn1crypto' 2>/dev/null ||
        bail "ndes emulator: python3-cryptography and python3-asn1crypto are needed"
    local dir port
    dir=$(mktemp -d "$REALM/ndes-emu.XXXXXX")
    port=$(free_port) || bail "ndes emulator: no free port"
    local name=ndes-emulator-${dir##*.}
    realm_spawn "$name" "$NDES_EMU_PY" "$top_srcdir/tests/ndes-emulator/ndes_emulator.py" \
        --port "$port" --dir "$dir" "$@"
    NDES_EMU_LOG=$REALM/$name.log
    eval "NDES_EMU_PID=\$PID_${name//[^A-Za-z0-9_]/_}"
    wait_for 30 test -e "$dir/ready" || bail "ndes emulator did not start: $(tail -n 5 "$NDES_EMU_LOG")"
    wait_for 10 port_open "$port" || bail "ndes emulator does not listen"
    NDES_EMU_URL=http://127.0.0.1:$port/certsrv/mscep/mscep.dll
    NDES_EMU_ADMIN_URL=http://127.0.0.1:$port/certsrv/mscep_admin/
    NDES_EMU_CA_CERT=$dir/ca.pem
    NDES_EMU_CA_FINGERPRINT=$(cat "$dir/fingerprint")
    NDES_EMU_DIR=$dir
    export NDES_EMU_URL NDES_EMU_DIR NDES_EMU_ADMIN_URL NDES_EMU_CA_CERT NDES_EMU_CA_FINGERPRINT NDES_EMU_LOG
}

# Stop this test's emulator (never another test's: they run side by side).
ndes_emulator_stop() {
    kill -TERM -- "-$NDES_EMU_PID" 2>/dev/null || kill -TERM "$NDES_EMU_PID" 2>/dev/null
    wait_for 10 sh -c "! kill -0 $NDES_EMU_PID 2>/dev/null"
}

# Print the challenge of a fresh admin page (the second <B>); fails on the
# "password cache is full" page.
ndes_emulator_challenge() {
    curl -sf --max-time 10 "$NDES_EMU_ADMIN_URL" | iconv -f UTF-16 -t UTF-8 |
        grep -o 'challenge password is: <B> [0-9A-F]* </B>' | sed 's/.*<B> \([0-9A-F]*\) <\/B>/\1/' |
        grep -E '^[0-9A-F]+$'
}
