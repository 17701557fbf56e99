#!/bin/bash
# pam_autoenroll login latency: the time the module adds to open_session,
# with the daemon up, down (not running: a stale socket) and hung (accepts,
# never answers),
# against the same stack without the module (pam_krb5 auth + session).
#
#   bench/pam-latency.sh [BUILDDIR]     (BENCH_N=200 logins per case by default,
#                                        BENCH_USERS=200 for the concurrent case)
#
# Every login is a real one: pam_krb5 against the test KDC under pam_wrapper,
# driven by pam/pam-login-driver (many logins from one long-lived process,
# like sshd/gdm). BUILDDIR: default build/, brought up to date first. Only
# pam_open_session() is timed (pam_krb5 writing the session cache, then
# pam_autoenroll). Takes a few minutes: the hung case waits out its 1 s
# bound BENCH_N times.
#
# Then BENCH_USERS different users log in at the same moment (one thread
# each, a barrier before open_session) with the daemon up.
set -u
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=${1:-${top_builddir:-$top_srcdir/build}}
top_builddir=$(cd "$top_builddir" && pwd)
export top_srcdir top_builddir
# Measure the code as it is: bring the build up to date first (figures once
# came from a build directory left over from older code).
make -s -C "$top_builddir" daemon/autoenrolld daemon/autoenroll pam/pam_autoenroll.la pam/pam-login-driver \
    >/dev/null || { echo "cannot build in $top_builddir (tools/build.sh $top_builddir first)" >&2; exit 2; }
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/realm/pam.sh"
_tap_finish() { :; } # a benchmark, not a TAP test
N=${BENCH_N:-200}
NUSERS=${BENCH_USERS:-200}
realm_init
kdc_start >/dev/null
scep_start --ndes-challenges >/dev/null
ndes_start >/dev/null
daemon_config "file:$REALM/keys" >/dev/null
daemon_start >/dev/null
pam_setup

# Statistics over driver output ("user microseconds result"), in ms.
# stats FILE -> "median p99 failures"
stats() {
    awk '{ print $2 }' "$1" | sort -n | awk -v fails="$(awk '$3 != 0' "$1" | wc -l)" '
        { a[NR] = $1 }
        END {
            if (NR == 0) { print "- - " fails; exit }
            m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
            i = int(NR * 0.99); if (i < NR * 0.99) i++; if (i < 1) i = 1
            printf "%.2f %.2f %d\n", m / 1000, a[i] / 1000, fails
        }'
}

# run NAME SERVICE USERFILE DRIVER-ARGS... : time it, keep the samples.
run() {
    local name=$1 svc=$2 users=$3
    shift 3
    pam_driver "$svc" "$users" "$@" >"$REALM/$name.samples"
}

HUNG=$REALM/hung.sock
realm_spawn hung /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(4096)
held = []
while True:
    c, _ = s.accept(); held.append(c)' "$HUNG"
wait_for 10 test -S "$HUNG" || bail "hung listener did not start"

# "down": the socket of a daemon that is not running any more (a stale
# socket file: connect() is refused), so all cases run against one realm.
DOWN=$REALM/down.sock
/usr/bin/python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$DOWN"

pam_service_plain plain
pam_service up socket="$AE_SOCKET"
pam_service down socket="$DOWN"
pam_service hung socket="$HUNG"
# With `debug` the module logs its own time ("open_session: ... after N ms").
pam_service upd socket="$AE_SOCKET" debug
pam_users_file "$REALM/alice.users" alice

# Interleaved rounds, so a load change on the machine hits every case alike.
ROUNDS=10
per=$(((N + ROUNDS - 1) / ROUNDS))
echo "# $((per * ROUNDS)) logins of alice per case ($ROUNDS interleaved rounds, one process per round and case); open_session in ms" >&2
for c in plain up down hung; do : >"$REALM/$c.samples"; done
for r in $(seq 1 $ROUNDS); do
    for c in plain up down hung; do
        pam_driver "$c" "$REALM/alice.users" -n "$per" >>"$REALM/$c.samples"
    done
done

read -r pm pp pf <<<"$(stats "$REALM/plain.samples")"
printf '%-34s %10s %10s %12s %12s %6s\n' "case (N=$((per * ROUNDS)))" median p99 "+median" "+p99" failed
for c in plain up down hung; do
    read -r m p f <<<"$(stats "$REALM/$c.samples")"
    label=$c
    case $c in
        plain) label="without pam_autoenroll" ;;
        up) label="daemon up (fire and forget)" ;;
        down) label="daemon down (stale socket)" ;;
        hung) label="daemon hung (timeout=1 default)" ;;
    esac
    printf '%-34s %10s %10s %12s %12s %6s\n' "$label" "$m" "$p" \
        "$(awk -v a="$m" -v b="$pm" 'BEGIN { printf "%+.2f", a - b }')" \
        "$(awk -v a="$p" -v b="$pp" 'BEGIN { printf "%+.2f", a - b }')" "$f"
done

# Many different users at once, daemon up.
users=()
{
    for i in $(seq 1 "$NUSERS"); do
        u=$(printf 'bench%03d' "$i")
        users+=("$u")
        echo "$u:x:$((30000 + i)):$((30000 + i)):$u:$REALM/home/$u:/bin/sh" >>"$REALM/passwd"
        echo "$u:x:$((30000 + i)):" >>"$REALM/group"
        pw=$(openssl rand -hex 12)
        (umask 077 && echo "$pw" >"$REALM/$u.pw")
        echo "addprinc -pw $pw $u"
    done
} >"$REALM/addprinc.txt"
kadmin.local -r "$REALM_NAME" <"$REALM/addprinc.txt" >"$REALM/addprinc.log" 2>&1
n_created=$(grep -c "created" "$REALM/addprinc.log")
[ "$n_created" = "$NUSERS" ] || bail "only $n_created of $NUSERS principals created"
pam_users_file "$REALM/many.users" "${users[@]}"
: >"$REALM/pam-driver.log"
run many-plain plain "$REALM/many.users" -t "$NUSERS"
t0=$(date +%s%3N)
run many-up upd "$REALM/many.users" -t "$NUSERS"
wall=$(($(date +%s%3N) - t0))
tracked=$(ae --json list | grep -o '"user-3[0-9]*"' | sort -u | wc -l)
echo
printf '%-34s %10s %10s %12s %12s %6s\n' "$NUSERS users at once" median p99 "+median" "+p99" failed
read -r pm pp pf <<<"$(stats "$REALM/many-plain.samples")"
printf '%-34s %10s %10s %12s %12s %6s\n' "without pam_autoenroll" "$pm" "$pp" "" "" "$pf"
read -r m p f <<<"$(stats "$REALM/many-up.samples")"
printf '%-34s %10s %10s %12s %12s %6s\n' "daemon up (fire and forget)" "$m" "$p" \
    "$(awk -v a="$m" -v b="$pm" 'BEGIN { printf "%+.2f", a - b }')" \
    "$(awk -v a="$p" -v b="$pp" 'BEGIN { printf "%+.2f", a - b }')" "$f"
echo "# $NUSERS concurrent logins (auth + open + close) took ${wall} ms; the daemon tracks $tracked of their requests"
sleep 20
later=$(ae --json list | grep -o '"user-3[0-9]*"' | sort -u | wc -l)
grep -o "open_session: .* after [0-9]* ms" "$REALM/pam-driver.log" | awk '{ print $(NF - 1) }' | sort -n |
    awk '{ a[NR] = $1 } END { if (NR) printf "# pam_autoenroll'"'"'s own time in those open_sessions (its debug line): median %d ms, max %d ms (the rest is pam_krb5)\n", a[int((NR + 1) / 2)], a[NR] }'
echo "# ... and $later of them 20 s later (logins whose reply timed out may still be taken)"
echo "# what pam_autoenroll logged for them (count, reason):"
if grep -q "did not take the login" "$REALM/pam-driver.log"; then
    grep -o "did not take the login: .*" "$REALM/pam-driver.log" | sed -E 's/within [0-9]+ ms/within N ms/' |
        sort | uniq -c | sort -rn | sed 's/^/#   /'
else
    echo "#   none: every login was taken within its bound"
fi

