# shellcheck shell=bash
# A private certmonger for the benchmarks (sourced): its own requests/cas
# directories under $REALM, no D-Bus at all (certmonger -L: a dedicated
# listening socket), getcert pointed at it with CERTMONGER_PVT_ADDRESS. The
# system's certmonger (if any) is never touched.
#
#   cm_start            start it (exports CERTMONGER_PVT_ADDRESS, CM_PID; waits
#                       CM_START_WAIT seconds at most, default 20)
#   cm_stop             stop it
#   cm_add_scep_ca NAME URL
#   gc ARGS...          getcert on the private instance

cm_start() {
    need certmonger getcert
    CM_DIR=$REALM/certmonger
    mkdir -p "$CM_DIR"/{requests,cas,local,tmp}
    rm -f "$CM_DIR/sock"
    realm_spawn certmonger env CERTMONGER_REQUESTS_DIR="$CM_DIR/requests" CERTMONGER_CAS_DIR="$CM_DIR/cas" \
        CERTMONGER_LOCAL_CA_DIR="$CM_DIR/local" CERTMONGER_TMPDIR="$CM_DIR/tmp" \
        CERTMONGER_SYSTEM_LOCK_FILE="$CM_DIR/lock" "${NAMES_ENV[@]}" \
        certmonger -n -L -P "$CM_DIR/sock" -p "$CM_DIR/pid"
    export CERTMONGER_PVT_ADDRESS=unix:path=$CM_DIR/sock
    wait_for "${CM_START_WAIT:-20}" sh -c "getcert list-cas >/dev/null 2>&1" || bail "private certmonger did not start: $(tail -3 "$REALM/certmonger.log")"
    CM_PID=$(cat "$CM_DIR/pid")
}

cm_stop() {
    [ -n "${CM_PID:-}" ] && kill -TERM "$CM_PID" 2>/dev/null
    wait_for 10 sh -c "! kill -0 ${CM_PID:-0} 2>/dev/null"
    CM_PID=
}

gc() { with_names getcert "$@"; }

cm_add_scep_ca() { gc add-scep-ca -c "$1" -u "$2" >/dev/null || bail "getcert add-scep-ca failed"; }
