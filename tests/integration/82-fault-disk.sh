#!/bin/bash
# Fault: the disk fills up, and the state directory turns read-only, in the
# middle of renewals. State, keys and outputs live on a small tmpfs mounted in
# a private mount namespace (the test re-executes itself under unshare -m).
# Expected: clear errors (logged and on the request), the daemon keeps
# running, no state file, certificate or key is damaged or lost, a restart
# while the disk is full still finds every request, and everything renews by
# itself once space (or write access) is back.
if [ -z "${AE_FAULT_MOUNTNS:-}" ]; then
    command -v unshare >/dev/null || { echo "not ok 1 - missing tool: unshare"; echo "1..1"; exit 1; }
    AE_FAULT_MOUNTNS=1 exec unshare -m --propagation private "${BASH:-/bin/bash}" "$0" "$@"
fi
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/tools/fault-lib.sh"
realm_init
SMALL=$REALM/small
mkdir -p "$SMALL"
mount -t tmpfs -o size=2m,mode=755 autoenroll-fault "$SMALL" || bail "cannot mount a tmpfs in a private mount namespace"
realm_on_exit "umount -l '$SMALL'"
kdc_start
scep_start --ndes-challenges
ndes_start
daemon_config "file:$SMALL/keys"
AE_STATE=$SMALL/state AE_OUT=$SMALL/out
mkdir -p "$AE_OUT"
sed -i "s|^state_dir = .*|state_dir = $AE_STATE|; s|$REALM/out/|$AE_OUT/|g" "$AE_CONF"
fault_profiles f 2 "file:$SMALL/keys"
CA_CERT_FOR_CHECK=$SCEP_CA_CERT
ids="machine f01 f02"
daemon_start

all_in() { local id; for id in $ids; do [ "$(ae_field "$id" state)" = "$1" ] || return 1; done; }
none_in() { local id; for id in $ids; do [ "$(ae_field "$id" state)" != "$1" ] || return 1; done; }
# Everything on the small disk that matters, with its checksum.
snapshot() { (cd "$SMALL" && find state out keys -type f ! -name '*.tmp*' | sort | xargs sha256sum); }
states_parse() {
    local f
    for f in "$AE_STATE"/*.json; do
        /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["state"] and d["id"]' "$f" || { echo "$f"; return 1; }
    done
}
all_in_new() { # STATE OLD-SERIALS : every request in STATE with a serial not in OLD
    local id
    for id in $ids; do
        [ "$(ae_field "$id" state)" = "$1" ] || return 1
        grep -qx "$(ae_field "$id" serial)" <<<"$2" && return 1
    done
    return 0
}
serials() { local id; for id in $ids; do ae_field "$id" serial; done; }

ok "three certificates enrolled onto the small disk" wait_for 90 all_in MONITORING

# --- disk full ---------------------------------------------------------
s0=$(serials)
dd if=/dev/zero of="$SMALL/fill" bs=16k >/dev/null 2>&1
ok "the disk is full" sh -c "! echo x 2>/dev/null >'$SMALL/probe'"
rm -f "$SMALL/probe"
before=$(snapshot)
for id in $ids; do ae renew "$id" >/dev/null 2>&1; done
ok "disk full: no renewal gets through (each request fails and waits)" wait_for 60 none_in MONITORING
sleep 2
diag "disk full: states $(fault_states | awk '{print $2}' | sort | uniq -c | tr -s ' \n' ' '); error: \"$(ae_field f01 last_error.message)\""
ok "disk full: the daemon is still running" kill -0 "$AE_PID"
ok "disk full: every request carries an error" sh -c "for id in $ids; do [ -n \"\$('$AE_CLI' --socket '$AE_SOCKET' --json status \$id | grep last_error)\" ] || exit 1; done"
ok "disk full: the error says so (No space left on device)" sh -c "'$AE_CLI' --socket '$AE_SOCKET' --json list | grep -qi 'no space'"
ok "disk full: the log says so" grep -qi "no space" "$REALM/autoenrolld.log"
ok "disk full: certificates, keys and state files unchanged" test "$before" = "$(snapshot)"
ok "disk full: every state file still parses" states_parse
t0=$SECONDS
rm -f "$SMALL/fill"
ok "space back: every request renews by itself (backoff retry)" wait_for 90 all_in_new MONITORING "$s0"
diag "space back: recovered in $((SECONDS - t0)) s: $(fault_states | awk '{print $2}' | sort | uniq -c | tr -s ' \n' ' ')"
ok "space back: new certificates" test "$(serials | sort)" != "$(echo "$s0" | sort)"

# A restart while the disk is full: every request is still there, served
# from the state files written before the disk filled up.
s0=$(serials)
dd if=/dev/zero of="$SMALL/fill" bs=16k >/dev/null 2>&1
before=$(snapshot)
for id in $ids; do ae renew "$id" >/dev/null 2>&1; done
wait_for 60 none_in MONITORING
daemon_stop
daemon_start
ok "disk full: after a restart the daemon lists every request" test "$(fault_states | wc -l)" = 3
ok "disk full: after a restart the certificates in place are still served" test "$(serials)" = "$s0"
ok "disk full: after a restart certificates, keys and state files unchanged" test "$before" = "$(snapshot)"
ok "disk full: nothing was set aside as corrupt" sh -c "! ls '$AE_STATE' | grep -q corrupt"
for id in $ids; do ae renew "$id" >/dev/null 2>&1; done
ok "disk full: renewals after the restart fail again, cleanly" wait_for 60 none_in MONITORING
t0=$SECONDS
rm -f "$SMALL/fill"
ok "space back: every request renews by itself" wait_for 90 all_in_new MONITORING "$s0"
diag "space back: recovered in $((SECONDS - t0)) s"
ok "space back: new certificates" test "$(serials | sort)" != "$(echo "$s0" | sort)"
ok "space back: certificates verify and match their keys" fault_check_outputs
ok "space back: one key per request" wait_for 15 sh -c "[ \$(find '$SMALL/keys' -maxdepth 1 -name '*.key' | wc -l) = 3 ]"
ok "space back: no temp files left" sh -c "! find '$SMALL' -name '*tmp*' | grep -q ."

# --- read-only state directory ------------------------------------------
s1=$(serials)
before=$(snapshot)
mount --bind "$AE_STATE" "$AE_STATE" && mount -o remount,bind,ro "$AE_STATE" || bail "cannot make the state dir read-only"
ok "the state dir is read-only (even for root)" sh -c "! touch '$AE_STATE/probe' 2>/dev/null"
for id in $ids; do ae renew "$id" >/dev/null 2>&1; done
wait_for 60 none_in MONITORING
sleep 2
diag "read-only: states $(fault_states | awk '{print $2}' | sort | uniq -c | tr -s ' \n' ' '); error: \"$(ae_field f01 last_error.message)\""
ok "read-only: the daemon is still running" kill -0 "$AE_PID"
ok "read-only: the log names the problem (Read-only file system)" grep -qi "read-only" "$REALM/autoenrolld.log"
ok "read-only: state files unchanged" test "$(grep ' state/' <<<"$before")" = "$(snapshot | grep ' state/')"
ok "read-only: state files parse" states_parse
ok "read-only: every certificate in place verifies and matches its key" fault_check_outputs
daemon_stop
daemon_start
ok "read-only: the daemon starts on a read-only state dir and lists every request" test "$(fault_states | wc -l)" = 3
umount "$AE_STATE" || bail "cannot undo the read-only bind mount"
t0=$SECONDS
ok "writable again: every request ends MONITORING by itself" wait_for 90 all_in MONITORING
diag "writable again: settled in $((SECONDS - t0)) s; renewed: $(paste -d' ' <(echo "$s1") <(serials) | awk '$1 != $2' | wc -l) of 3 (a renew asked for before the restart could not be recorded)"
for id in $ids; do ae renew "$id" >/dev/null 2>&1; done
ok "writable again: renewals go through" wait_for 90 all_in_new MONITORING "$s1"
ok "writable again: certificates verify and match their keys" fault_check_outputs
ok "writable again: one key per request" wait_for 15 sh -c "[ \$(find '$SMALL/keys' -maxdepth 1 -name '*.key' | wc -l) = 3 ]"
ok "writable again: state files parse" states_parse
ok "no corrupt state file was set aside" sh -c "! ls '$AE_STATE' | grep -q corrupt"
