#!/bin/bash
# Fault: the servers go away, go slow or talk garbage in the middle of a run.
# Five tracked certificates (file keys) are renewed while, in turn, NDES is
# not listening, resets connections, hangs, answers garbage, is slower than
# the timeout; scepserver behind Apache is stopped; the KDC is stopped, answers
# garbage, hangs or is slow. Each
# time: the requests fail into CA_UNREACHABLE and retry with backoff (error
# recorded, never CA_REJECTED), the
# certificate and key in use stay in place byte for byte, and when the server
# is back every request renews by itself. A slow server within the timeout
# only makes things slower.
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/tools/fault-lib.sh"
stack_start
# NDES (challenge page and SCEP, all through Apache) behind the fault relay.
fault_proxy_start ndes "$NDES_PORT"
NDES_URL=http://$NDES_HOST:$FP_PORT_ndes daemon_config "file:$REALM/keys"
sed -i 's/^timeout = 20s/timeout = 3s/; s/^backoff_max = 10s/backoff_max = 5s/' "$AE_CONF"
fault_profiles f 4 "file:$REALM/keys"
CA_CERT_FOR_CHECK=$SCEP_CA_CERT
daemon_start
ids="machine f01 f02 f03 f04"

attempts_at_least() { # N ID
    [ "$(ae_field "$2" attempts)" -ge "$1" ] 2>/dev/null && [ "$(ae_field "$2" state)" != MONITORING ]
}
# Every request has failed at least once and is retrying: CA_UNREACHABLE, or
# already on its next attempt (NEED_KEY .. SUBMITTING), never MONITORING or
# CA_REJECTED (a transient fault must not need a person).
all_failing() {
    local id st
    for id in $ids; do
        st=$(ae_field "$id" state)
        case $st in MONITORING|CA_REJECTED|NEED_CREDENTIALS|'') return 1 ;; esac
        [ "$(ae_field "$id" attempts)" -ge 1 ] 2>/dev/null || return 1
    done
}
all_in() { # STATE : every request is in STATE
    local id
    for id in $ids; do [ "$(ae_field "$id" state)" = "$1" ] || return 1; done
}
snapshot() { # what must not change while the CA is unreachable
    local id
    for id in $ids; do
        printf '%s %s %s ' "$id" "$(ae_field "$id" serial)" "$(ae_field "$id" key_ref)"
        sha256sum "$AE_OUT/$([ "$id" = machine ] && echo machine || echo "$id").pem" "$REALM/keys/$(ae_field "$id" key_ref).key" | awk '{printf "%s ", $1}'
        echo
    done
}
ok "five certificates enrolled through the relay" wait_for 90 all_in MONITORING

# fault_round NAME BREAK-COMMAND REPAIR-COMMAND
fault_round() {
    local name=$1 brk=$2 fix=$3 before after id cats t0
    before=$(snapshot)
    eval "$brk"
    for id in $ids; do ae renew "$id" >/dev/null 2>&1; done
    ok "$name: every renewal fails and is retried (CA_UNREACHABLE, backoff)" wait_for 60 all_failing
    cats=$(for id in $ids; do ae_field "$id" last_error.category; done | sort | uniq -c | tr -s ' \n' ' ')
    diag "$name: error categories:$cats; e.g. \"$(ae_field f01 last_error.message)\""
    ok "$name: every request has an error category" test "$(for id in $ids; do ae_field "$id" last_error.category; done | grep -c .)" = 5
    ok "$name: they are retried with backoff, still failing (attempts >= 2)" wait_for 40 attempts_at_least 2 f01
    after=$(snapshot)
    ok "$name: certificates and keys in use unchanged" test "$before" = "$after"
    ok "$name: certificates in place still verify" fault_check_outputs
    t0=$SECONDS
    eval "$fix"
    ok "$name: back to MONITORING by itself once the server is back" wait_for 90 all_in MONITORING
    diag "$name: recovered $((SECONDS - t0)) s after the repair"
    ok "$name: every request has a new certificate" sh -c "
        for id in $ids; do
            old=\$(grep \"^\$id \" <<'EOS' | cut -d' ' -f2
$before
EOS
)
            [ \"\$('$AE_CLI' --socket '$AE_SOCKET' --json status \$id | grep -o '\"serial\": *\"[^\"]*\"' | cut -d'\"' -f4)\" != \"\$old\" ] || exit 1
        done"
    ok "$name: new certificates verify and match their keys" fault_check_outputs
    ok "$name: one key per request" wait_for 15 sh -c "[ \$(find '$REALM/keys' -maxdepth 1 -name '*.key' | wc -l) = 5 ]"
}

fault_round "NDES not listening" "fault_proxy_mode ndes down" "fault_proxy_mode ndes pass"
fault_round "NDES resets connections" "fault_proxy_mode ndes reset" "fault_proxy_mode ndes pass"
fault_round "NDES hangs" "fault_proxy_mode ndes hang" "fault_proxy_mode ndes pass"
fault_round "NDES answers garbage" "fault_proxy_mode ndes garbage" "fault_proxy_mode ndes pass"
fault_round "NDES slower than the timeout" "fault_proxy_mode ndes delay 5" "fault_proxy_mode ndes pass"
scep_restart() {
    rm -f "$SCEP_SOCK"
    realm_spawn scepserver unshare -n "$REALM/scep/run"
    wait_for 20 _scep_ready
}
fault_round "scepserver stopped behind Apache" "kill -TERM -- -\$PID_scepserver; wait_for 10 sh -c '! kill -0 \$PID_scepserver'" scep_restart
# The daemon keeps its tickets in memory: a KDC outage only shows once they
# are gone, i.e. in a daemon started while the KDC is down.
kdc_down() { kdc_stop; daemon_stop; daemon_start; }
fault_round "KDC stopped (daemon restarted without tickets)" kdc_down kdc_start_again

# The KDC behind a relay too (the realm uses TCP only: udp_preference_limit = 1),
# for a daemon restarted without tickets: a KDC that answers garbage, one that
# hangs (MIT krb5 gives up on a silent KDC after ~25 s), one that is slow.
fault_proxy_start kdc "$KDC_PORT"
sed "s|kdc = 127.0.0.1:$KDC_PORT|kdc = 127.0.0.1:$FP_PORT_kdc|" "$KRB5_CONFIG" >"$REALM/krb5-relayed.conf"
REAL_KRB5_CONFIG=$KRB5_CONFIG
kdc_relayed() { # MODE: the daemon starts afresh with its KDC behind the relay in MODE
    fault_proxy_mode kdc "$@"
    daemon_stop
    KRB5_CONFIG=$REALM/krb5-relayed.conf daemon_start
}
fault_round "KDC answers garbage (daemon restarted without tickets)" "kdc_relayed garbage" "fault_proxy_mode kdc pass"

before=$(snapshot)
kdc_relayed hang
ae renew f01 >/dev/null 2>&1
t0=$SECONDS
has_error_f01() { [ -n "$(ae_field f01 last_error.category)" ]; }
ok "KDC hangs: the renewal gives up with a categorised error (no worker stuck)" wait_for 120 has_error_f01
diag "KDC hangs: f01 failed after $((SECONDS - t0)) s: $(ae_field f01 state), \"$(ae_field f01 last_error.message)\""
ok "KDC hangs: the daemon still answers at once" timeout 5 "$AE_CLI" --socket "$AE_SOCKET" list
ok "KDC hangs: certificates and keys in use unchanged" test "$before" = "$(snapshot)"
fault_proxy_mode kdc pass # (a connection held by the hang goes on too)
old_serial=$(grep '^f01 ' <<<"$before" | cut -d' ' -f2)
renewed_f01() { [ "$(ae_field f01 state)" = MONITORING ] && [ "$(ae_field f01 serial)" != "$old_serial" ]; }
ok "KDC back: f01 renews by itself" wait_for 120 renewed_f01
ok "KDC back: all MONITORING" wait_for 90 all_in MONITORING

kdc_relayed delay 0.3
t0=$(date +%s%N)
ok "a slow KDC (0.3 s per chunk): renew --wait succeeds" ae renew f02 --wait
diag "renewal with tickets from the slow KDC took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
ok "slow KDC: f02 MONITORING" test "$(ae_field f02 state)" = MONITORING
fault_proxy_mode kdc pass
daemon_stop
KRB5_CONFIG=$REAL_KRB5_CONFIG daemon_start

# Slow but within the timeout: still works.
fault_proxy_mode ndes delay 0.3
t0=$(date +%s%N)
ok "a slow NDES (0.3 s per chunk): renew --wait succeeds" ae renew f01 --wait
diag "renewal through the slow relay took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
fault_proxy_mode ndes pass
ok "no temp files in the state dir" sh -c "! ls -a '$AE_STATE' | grep -qE 'tmp|~'"
