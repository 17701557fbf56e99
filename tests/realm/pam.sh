# shellcheck shell=bash
# PAM logins for tests: pamtester under pam_wrapper (private service files,
# never /etc/pam.d), with nss_wrapper's test users and the realm's KRB5_CONFIG.
#
#   pam_setup                          find the tools; $REALM/pam.d, $REALM/krb5cc
#   pam_service NAME [OPTIONS...]      auth+session pam_krb5, then
#                                      session optional pam_autoenroll.so OPTIONS
#   pam_service_required NAME [OPTS]  the same with "session required"
#   pam_service_plain NAME             the same stack without pam_autoenroll
#   pam_service_notickets NAME [OPTS]  auth pam_permit (no tickets), then pam_autoenroll
#   pam_driver SERVICE USERFILE [-t N] [-n N]  many logins from one process (threads)
#   pam_users_file FILE USER...       its users file
#   pam_login SERVICE USER [-E VAR=VALUE...]
#                                      authenticate + open_session + close_session,
#                                      USER's password ($REALM/USER.pw) on stdin
# The module's pam_syslog lines go to $REALM/pam-USER.log (pam_wrapper debug output).

PAM_AE_MODULE=${PAM_AE_MODULE:-$top_builddir/pam/.libs/pam_autoenroll.so}

pam_setup() {
    need pamtester "$PAM_AE_MODULE"
    PAM_WRAPPER_LIB=$(ls /usr/lib/*/libpam_wrapper.so 2>/dev/null | head -n 1)
    [ -n "$PAM_WRAPPER_LIB" ] || bail "libpam_wrapper.so not found (package libpam-wrapper)"
    PAM_KRB5=$(ls /usr/lib/*/security/pam_krb5.so /lib/*/security/pam_krb5.so 2>/dev/null | head -n 1)
    [ -n "$PAM_KRB5" ] || bail "pam_krb5.so not found (package libpam-krb5)"
    PAM_PERMIT=$(ls /usr/lib/*/security/pam_permit.so /lib/*/security/pam_permit.so 2>/dev/null | head -n 1)
    [ -n "$PAM_PERMIT" ] || bail "pam_permit.so not found (package libpam-modules)"
    # A module built with ASan needs the runtime loaded first into pamtester.
    PAM_ASAN_LIB=$(ldd "$PAM_AE_MODULE" | awk '/libasan/ { print $3 }')
    mkdir -p "$REALM/pam.d" "$REALM/krb5cc"
    chmod 1777 "$REALM/krb5cc"
}

pam_service() {
    local name=$1
    shift
    pam_service_plain "$name"
    echo "session optional $PAM_AE_MODULE $*" >>"$REALM/pam.d/$name"
}

# The same with "session required" (what `strict` is for).
pam_service_required() {
    local name=$1
    shift
    pam_service_plain "$name"
    echo "session required $PAM_AE_MODULE $*" >>"$REALM/pam.d/$name"
}

pam_service_plain() {
    cat >"$REALM/pam.d/$1" <<PAM
auth required $PAM_KRB5 ccache_dir=$REALM/krb5cc
account required $PAM_PERMIT
session required $PAM_KRB5 ccache_dir=$REALM/krb5cc
PAM
}

pam_service_notickets() {
    local name=$1
    shift
    cat >"$REALM/pam.d/$name" <<PAM
auth required $PAM_PERMIT
account required $PAM_PERMIT
session required $PAM_PERMIT
session optional $PAM_AE_MODULE $*
PAM
}

# _pwrap_start COMMAND... : run a pam_wrapper process, its start serialized
# machine-wide. pam_wrapper copies the service files, when it is loaded, into
# /tmp/pam.<one character> that it picks by lstat-then-mkdir. Two processes
# loading it at the same moment (tests run side by side) can pick the same
# directory, and the first to exit deletes it under the other: every later
# pam_start of that one fails (test 62 once lost all 90 logins so). The lock
# is held until the new process has written its pid into its directory.
_PWRAP_LOCK=${TMPDIR:-/tmp}/autoenroll-pam-wrapper.lock
_pwrap_start() {
    local pid i
    exec {_pwrap_fd}>>"$_PWRAP_LOCK"
    flock "$_pwrap_fd"
    "$@" 0<&0 {_pwrap_fd}>&- &
    pid=$!
    for ((i = 0; i < 2000; i++)); do
        _pwrap_has_dir "$pid" || ! _pwrap_alive "$pid" && break
        sleep 0.005
    done
    exec {_pwrap_fd}>&-
    wait "$pid"
}
_pwrap_has_dir() {
    local f p
    for f in /tmp/pam.?/pid; do
        p=
        { read -r p <"$f"; } 2>/dev/null
        [ "$p" = "$1" ] && return 0
    done
    return 1
}
# Running, i.e. neither gone nor a zombie not yet waited for.
_pwrap_alive() {
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "${st%% *}" != Z ]
}

pam_login() {
    local svc=$1 user=$2
    shift 2
    local pw=/dev/null
    [ -f "$REALM/$user.pw" ] && pw=$REALM/$user.pw
    _pwrap_start env "${NAMES_ENV[@]}" \
        LD_PRELOAD="${PAM_ASAN_LIB:+$PAM_ASAN_LIB:}$PAM_WRAPPER_LIB:$NSS_WRAPPER_LIB" \
        PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$REALM/pam.d" PAM_WRAPPER_DISABLE_DEEPBIND=1 \
        PAM_WRAPPER_DEBUGLEVEL=2 \
        pamtester "$@" "$svc" "$user" authenticate open_session close_session <"$pw" \
        2> >(grep --line-buffered -v '^$' >>"$REALM/pam-$user.log")
}

# pam_driver SERVICE USERFILE [-t THREADS] [-n LOGINS] : pam/pam-login-driver
# (many logins from one process, threads at once) under pam_wrapper.
# PAM_DRIVER_DEBUGLEVEL=0 keeps pam_wrapper quiet (no module messages in the log).
PAM_AE_DRIVER=${PAM_AE_DRIVER:-$top_builddir/pam/pam-login-driver}
pam_driver() {
    local svc=$1 users=$2
    shift 2
    _pwrap_start env "${NAMES_ENV[@]}" \
        LD_PRELOAD="${PAM_ASAN_LIB:+$PAM_ASAN_LIB:}$PAM_WRAPPER_LIB:$NSS_WRAPPER_LIB" \
        PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$REALM/pam.d" PAM_WRAPPER_DISABLE_DEEPBIND=1 \
        PAM_WRAPPER_DEBUGLEVEL="${PAM_DRIVER_DEBUGLEVEL:-2}" \
        "$PAM_AE_DRIVER" "$@" "$svc" "$users" 2> >(grep --line-buffered -v '^$' >>"$REALM/pam-driver.log")
}

# pam_users_file FILE USER... : "user password" lines for pam_driver (0600).
pam_users_file() {
    local f=$1 u
    shift
    (umask 077 && for u in "$@"; do echo "$u $(cat "$REALM/$u.pw")"; done >"$f")
}
