# shellcheck shell=bash
# Common helpers for integration tests: TAP output, a private realm directory,
# free loopback ports, process tracking with cleanup on any exit, nss_wrapper
# host names. Source it first; component scripts (kdc.sh, ndes.sh, scep.sh,
# softhsm.sh, tpm.sh) add start functions on top.
#
# Every test runs in its own directory ($REALM) and on free ports, so two runs
# never collide. Every process started through realm_spawn is stopped on exit,
# also on failure.

set -u
set -o pipefail

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
REALM_LIB="$top_srcdir/tests/realm"

# The test domain. Host names resolve only through nss_wrapper (never /etc/hosts).
REALM_NAME=AUTOENROLL.TEST
REALM_DOMAIN=autoenroll.test
NDES_HOST=ndes.$REALM_DOMAIN
CLIENT_SHORT=client
CLIENT_HOST=$CLIENT_SHORT.$REALM_DOMAIN
export REALM_NAME REALM_DOMAIN NDES_HOST CLIENT_HOST CLIENT_SHORT

# --- TAP ---------------------------------------------------------------
_tap_n=0
_tap_failed=0
_tap_planned=0

ok() { # ok DESCRIPTION COMMAND...
    local what=$1
    shift
    _tap_n=$((_tap_n + 1))
    local out rc
    out=$("$@" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        echo "ok $_tap_n - $what"
    else
        echo "not ok $_tap_n - $what"
        _tap_failed=$((_tap_failed + 1))
        printf '%s\n' "$out" | tail -n 30 | sed 's/^/#   /'
    fi
    return $rc
}

# Expect a command to fail.
ok_fails() {
    local what=$1
    shift
    ok "$what" _negate "$@"
}
_negate() { if "$@"; then echo "(command succeeded but should have failed)"; return 1; fi; return 0; }

pass() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1"; }
fail() {
    _tap_n=$((_tap_n + 1))
    _tap_failed=$((_tap_failed + 1))
    echo "not ok $_tap_n - $1"
    [ $# -gt 1 ] && printf '%s\n' "$2" | tail -n 30 | sed 's/^/#   /'
    return 1
}
diag() { echo "# $*"; }

# Stop the whole test now (setup failed): report it as one failed check.
bail() {
    echo "not ok $((_tap_n + 1)) - $*"
    _tap_n=$((_tap_n + 1))
    _tap_failed=$((_tap_failed + 1))
    exit 1
}

_tap_finish() {
    if [ $_tap_n -eq 0 ]; then
        echo "not ok 1 - the test checked nothing"
        _tap_n=1
        _tap_failed=1
    fi
    echo "1..$_tap_n"
}

# --- tools -------------------------------------------------------------
# A missing tool is a failure, not a skip.
need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || [ -x "$t" ] || bail "missing tool: $t (run tools/install-deps.sh)"
    done
}

# --- processes and cleanup ---------------------------------------------
_realm_pids=()
_realm_starts=()
_realm_cleanups=()

# realm_spawn NAME COMMAND... : start in the background, log to $REALM/NAME.log.
realm_spawn() {
    local name=$1
    shift
    setsid "$@" >>"$REALM/$name.log" 2>&1 </dev/null &
    local pid=$!
    disown "$pid" 2>/dev/null || true
    _realm_pids+=("$pid")
    _realm_starts+=("$(_proc_start "$pid")")
    eval "PID_${name//[^A-Za-z0-9_]/_}=$pid"
}

# Run a command at cleanup (before processes are killed).
realm_on_exit() { _realm_cleanups+=("$*"); }

# A process's start time (clock ticks since boot): with pid_max 32768 and
# tests running side by side, a pid of ours that exited may name another
# test's server a minute later, and killing its group killed that server.
_proc_start() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $20 }'; }
# INDEX: true when the pid we spawned now names a different process.
_realm_pid_reused() {
    local st
    st=$(_proc_start "${_realm_pids[$1]}")
    [ -n "$st" ] && [ "$st" != "${_realm_starts[$1]}" ]
}

_realm_kill_tree() {
    local pid=$1
    # setsid made each spawn a process-group leader: kill the whole group.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
}

realm_cleanup() {
    local c pid i
    for ((i = ${#_realm_cleanups[@]} - 1; i >= 0; i--)); do
        eval "${_realm_cleanups[$i]}" 2>/dev/null || true
    done
    local n=${#_realm_pids[@]} k
    for ((k = 0; k < n; k++)); do
        _realm_pid_reused $k || _realm_kill_tree "${_realm_pids[$k]}"
    done
    for i in $(seq 1 30); do
        local alive=0
        for ((k = 0; k < n; k++)); do
            _realm_pid_reused $k || ! kill -0 "${_realm_pids[$k]}" 2>/dev/null || alive=1
        done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for ((k = 0; k < n; k++)); do
        _realm_pid_reused $k && continue
        pid=${_realm_pids[$k]}
        kill -KILL -- "-$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
    done
    if [ -n "${REALM:-}" ] && [ -d "$REALM" ]; then
        if [ "${REALM_KEEP:-0}" = 1 ] || { [ $_tap_failed -gt 0 ] && [ "${REALM_KEEP_ON_FAIL:-1}" = 1 ] && [ -n "${CI:-}" ]; }; then
            echo "# realm kept in $REALM" >&2
        else
            rm -rf "$REALM"
        fi
    fi
}

_realm_exit() {
    local rc=$?
    realm_cleanup
    _tap_finish
    [ $_tap_failed -gt 0 ] && exit 1
    exit $rc
}

# Wait until COMMAND succeeds (up to SECONDS, times AE_TIMEOUT_SCALE: e.g. 4 under valgrind).
wait_for() {
    local secs=$(($1 * ${AE_TIMEOUT_SCALE:-1}))
    shift
    local end=$((SECONDS + secs))
    while ! "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.1
    done
}

# --- ports -------------------------------------------------------------
# A free TCP port on 127.0.0.1 (also free for UDP, for the KDC).
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        # (no `| grep -q` under pipefail: an early exit of grep fails the pipe)
        if [ -z "$(ss -Htan "sport = :$p")" ] && [ -z "$(ss -Huan "sport = :$p")" ] \
           && ! grep -qx "$p" "$REALM/.ports" 2>/dev/null; then
            echo "$p" >>"$REALM/.ports"
            echo "$p"
            return 0
        fi
    done
    return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- names -------------------------------------------------------------
# nss_wrapper gives the test host names to programs run through `with_names`.
NSS_WRAPPER_LIB=$(ls /usr/lib/*/libnss_wrapper.so 2>/dev/null | head -n 1)
with_names() {
    env "${NAMES_ENV[@]}" "$@"
}
# The same as `env` arguments, for realm_spawn: realm_spawn NAME env "${NAMES_ENV[@]}" CMD...
_names_env() {
    NAMES_ENV=(
        "LD_PRELOAD=$NSS_WRAPPER_LIB${LD_PRELOAD:+:$LD_PRELOAD}"
        "NSS_WRAPPER_HOSTS=$REALM/hosts" "NSS_WRAPPER_HOSTNAME=$CLIENT_HOST"
        "NSS_WRAPPER_PASSWD=$REALM/passwd" "NSS_WRAPPER_GROUP=$REALM/group"
        "ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0"
        "NSS_WRAPPER_DISABLE_DEEPBIND=1"
    )
}

# test_uid NAME : the numeric uid of a test user (alice bob mallory carol)
test_uid() { awk -F: -v u="$1" '$1 == u { print $3; exit }' "$REALM/passwd"; }

# as_user NAME CMD... : run CMD with that user's uid/gid (and the test names).
as_user() {
    local uid name=$1
    uid=$(test_uid "$name")
    shift
    setpriv --reuid="$uid" --regid="$uid" --clear-groups \
        env "${NAMES_ENV[@]}" HOME="$REALM/home/$name" USER="$name" "$@"
}

# realm_clock OFFSET : CLOCK_ENV=(env ...) that runs a server with its clock
# OFFSET off (libfaketime, e.g. +10m), or () when OFFSET is empty.
realm_clock() {
    CLOCK_ENV=()
    [ -n "${1:-}" ] || return 0
    local lib
    lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
    [ -n "$lib" ] || bail "libfaketime not found (package faketime)"
    CLOCK_ENV=(env LD_PRELOAD="$lib" FAKETIME="$1" FAKETIME_DONT_FAKE_MONOTONIC=1)
}

# --- the realm directory -----------------------------------------------
realm_init() {
    REALM=$(mktemp -d "${TMPDIR:-/tmp}/autoenroll-realm.XXXXXX")
    chmod 755 "$REALM"
    export REALM
    trap _realm_exit EXIT
    trap 'exit 130' INT TERM
    [ -n "$NSS_WRAPPER_LIB" ] || bail "libnss_wrapper.so not found (package libnss-wrapper)"
    cat >"$REALM/hosts" <<HOSTS
127.0.0.1 $NDES_HOST ndes
127.0.0.1 $CLIENT_HOST $CLIENT_SHORT
127.0.0.1 kdc.$REALM_DOMAIN
HOSTS
    chmod 644 "$REALM/hosts"
    # Test users exist only through nss_wrapper (never in /etc/passwd):
    # programs see them by name; the kernel sees their numeric uids.
    mkdir -p "$REALM/home"
    cat /etc/passwd >"$REALM/passwd"
    cat /etc/group >"$REALM/group"
    local u
    for u in alice:20001 bob:20002 mallory:20003 carol:20004; do
        echo "${u%%:*}:x:${u##*:}:${u##*:}:${u%%:*}:$REALM/home/${u%%:*}:/bin/sh" >>"$REALM/passwd"
        echo "${u%%:*}:x:${u##*:}:" >>"$REALM/group"
        mkdir -p "$REALM/home/${u%%:*}"
        chown "${u##*:}:${u##*:}" "$REALM/home/${u%%:*}"
    done
    chmod 644 "$REALM/passwd" "$REALM/group"
    _names_env
    # Only the modules a test configures are loaded by p11-kit.
    export HOME="$REALM/home"
    mkdir -p "$HOME"
    export XDG_CONFIG_HOME="$HOME/.config"
}
