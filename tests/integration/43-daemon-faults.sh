#!/bin/bash
# Faults: kill -9 at random moments of an enrollment (restart resumes, no
# orphan keys), a corrupt state file (set aside, never fatal), a renewal that
# fails (the old certificate and key stay, backoff, recovery when the KDC is
# back).
. "$top_srcdir/tests/realm/stack.sh"
stack_start
daemon_config "file:$REALM/keys"

# SIGTERM in the middle of key generation and enrollment: a clean, quick exit
# (worker threads are waited for; under ASan nothing is reported at exit).
for i in $(seq 1 5); do
    daemon_start
    sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
    t0=$(date +%s%N)
    daemon_stop
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    [ "$ms" -lt 5000 ] || fail "SIGTERM #$i took ${ms} ms"
done
ok "SIGTERM mid-enrollment leaves a clean log" sh -c "! grep -qE 'Sanitizer|runtime error' '$REALM/autoenrolld.log'"

# kill -9 at random moments of the first enrollment, then let it finish.
for i in $(seq 1 12); do
    daemon_start
    sleep "0.$((RANDOM % 6))$((RANDOM % 10))"
    daemon_kill9
done
daemon_start
ok "after 12 kill -9 the machine certificate is enrolled" daemon_wait_state machine MONITORING 60
ref=$(ae_field machine key_ref)
keys=$(ls "$REALM/keys" | grep -c '\.key$')
ok "exactly one key left in the store (no orphans): $keys" test "$keys" = 1
ok "and it is the certificate's key" test -f "$REALM/keys/$ref.key"
ok "the certificate is valid" openssl verify -CAfile "$SCEP_CA_CERT" "$AE_OUT/machine.pem"
ok "no temp files left in the state dir" sh -c "! ls '$AE_STATE' | grep -q tmp"

# Corrupt and unknown state files are set aside, never fatal.
daemon_stop
printf '{ "version": 1, "id": "broken", "sta' >"$AE_STATE/broken.json"
echo '{"version":99,"id":"future"}' >"$AE_STATE/future.json"
daemon_start
ok "the daemon starts beside corrupt state files" test "$(ae_field machine state)" = MONITORING
ok "the corrupt file was set aside" sh -c "ls '$AE_STATE' | grep -q '^broken.json.corrupt-'"
ok "the unknown version was set aside" sh -c "ls '$AE_STATE' | grep -q '^future.json.corrupt-'"
ok "the log says which file and why" grep -q "broken.json is unusable" "$REALM/autoenrolld.log"

# A renewal that fails keeps the certificate and key in place.
serial=$(ae_field machine serial)
sha_before=$(sha256sum <"$AE_OUT/machine.pem")
kdc_stop
ae renew machine --wait >/dev/null 2>&1
ok "renewal with the KDC down fails with a Kerberos error" test "$(ae_field machine last_error.category)" = kerberos
ok "it is retried later (CA_UNREACHABLE, backoff)" test "$(ae_field machine state)" = CA_UNREACHABLE
ok "the certificate in use is unchanged" test "$(ae_field machine serial)" = "$serial"
ok "the PEM file is unchanged" test "$(sha256sum <"$AE_OUT/machine.pem")" = "$sha_before"
ok "the key in use is still there" test -f "$REALM/keys/$ref.key"
ok "the failure counts attempts" test "$(ae_field machine attempts)" -ge 1
ok "the metrics file shows the failure" grep -q 'autoenroll_last_error{id="machine",category="kerberos"} 1' "$REALM/autoenroll.prom"
kdc_start_again
ok "with the KDC back the renewal completes by itself" daemon_wait_state machine MONITORING 60
ok "with a new certificate" test "$(ae_field machine serial)" != "$serial"
ok "and the old key removed" wait_for 10 test ! -f "$REALM/keys/$ref.key"
ok "the error is cleared" test -z "$(ae_field machine last_error)"

# kill -9 during renewals: each restart ends with a valid certificate in place.
for i in $(seq 1 6); do
    ae renew machine >/dev/null 2>&1
    sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
    daemon_kill9
    daemon_start
    openssl verify -CAfile "$SCEP_CA_CERT" "$AE_OUT/machine.pem" >/dev/null 2>&1 || fail "certificate damaged after kill -9 #$i"
done
ok "after kill -9 during renewals the request settles" daemon_wait_state machine MONITORING 60
ok "a valid certificate is in place" openssl verify -CAfile "$SCEP_CA_CERT" "$AE_OUT/machine.pem"
ref=$(ae_field machine key_ref)
ok "its key is in the store" test -f "$REALM/keys/$ref.key"
ok "the PEM certificate matches the key in use" sh -c "[ \"\$(openssl x509 -in '$AE_OUT/machine.pem' -noout -pubkey)\" = \"\$(openssl pkey -in '$REALM/keys/$ref.key' -pubout)\" ]"
wait_for 10 sh -c "[ \$(ls '$REALM/keys' | grep -c '\.key\$') = 1 ]"
keys=$(ls "$REALM/keys" | grep -c '\.key$')
ok "no orphan keys after interrupted renewals: $keys" test "$keys" = 1

# What a kill between a temp file and its rename leaves (NAME.tmp.XXXXXX: a
# state file, a private key copy, a certificate) is removed by the next start
# or the next save of that file.
daemon_stop
printf '{"version": 1, "id": "f01", "sta' >"$AE_STATE/f01.json.tmp.Ab12Cd"
(umask 077 && openssl genrsa 2048 >"$REALM/keys/0123abcd.key.tmp.Ef34Gh" 2>/dev/null)
printf 'partial\n' >"$AE_OUT/machine.pem.tmp.Ij56Kl"
daemon_start
ok "a restart removes half-written state files" sh -c "! ls -a '$AE_STATE' | grep -q 'tmp'"
ok "a restart removes half-written key files (private key copies)" sh -c "! ls -a '$REALM/keys' | grep -q 'tmp'"
ok "a restart removes half-written certificate files" sh -c "! ls -a '$AE_OUT' | grep -q 'tmp'"
printf 'partial\n' >"$AE_OUT/machine.pem.tmp.Mn78Op"
ae renew machine --wait >/dev/null
ok "so does the next save of that file" sh -c "! ls -a '$AE_OUT' | grep -q 'tmp'"
