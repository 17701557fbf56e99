#!/bin/bash
# SIGTERM while a key generation outlasts stop_timeout (issue 8: found under
# valgrind, where OpenSSL's exit clean-up crashed the still-running worker).
# The daemon leaves by itself once the timeout is up, without waiting for the
# key and without crashing; nothing half-made is kept; at the next start the
# request goes on from its saved state and is issued.
. "$top_srcdir/tests/realm/stack.sh"
stack_start
daemon_config "file:$REALM/keys"
# An RSA-4096 key takes 0.3-5 s here; the stop does not wait at all.
sed -i "s|^\[daemon\]|[daemon]\nstop_timeout = 0|; s|^keytab = $REALM/host.keytab|&\nkey_bits = 4096|" "$AE_CONF"
grep -q "^key_bits = 4096" "$AE_CONF" || bail "could not set key_bits"
daemon_start

generating() { [ "$(ae_field machine state)" = GENERATING_KEY ]; }
ok "the machine request is generating its 4096-bit key" wait_for 60 generating
t0=$(date +%s%N)
kill -TERM "$AE_PID"
wait_for 15 sh -c "! kill -0 $AE_PID 2>/dev/null"
ms=$((($(date +%s%N) - t0) / 1000000))
ok "SIGTERM: the daemon is gone ${ms} ms later (stop_timeout 0), not after the key" \
    test "$ms" -lt 3000
ok "it said why it did not clean up" grep -q "stopped without clean-up: 1 worker thread still busy" "$REALM/autoenrolld.log"
ok "no crash and no sanitizer report" sh -c \
    "! grep -E 'AddressSanitizer|LeakSanitizer|runtime error|Segmentation|Aborted' '$REALM/autoenrolld.log'"
ok "the state file is there, in a state that resumes" sh -c \
    "grep -qE '\"state\": *\"(NEED_KEY|GENERATING_KEY)\"' '$AE_STATE/machine.json'"

daemon_start
ok "after a restart the request is issued" daemon_wait_state machine MONITORING 180
ok "its certificate has the 4096-bit key" sh -c \
    "openssl x509 -in '$AE_OUT/machine.pem' -noout -text | grep -q 'Public-Key: (4096 bit)'"
ok "one key file, no temp files" sh -c \
    "ls -la '$REALM/keys' '$AE_STATE'; [ \$(find '$REALM/keys' -name '*.key' | wc -l) = 1 ] &&
     [ -z \"\$(find '$REALM/keys' '$AE_STATE' -name '*.tmp*')\" ]"
