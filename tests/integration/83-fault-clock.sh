#!/bin/bash
# Fault: NDES's clock is wrong. A Kerberos authenticator is good for 5 minutes
# either way, so NDES (Apache + mod_auth_gssapi here, under libfaketime)
# answers our Negotiate token with 401. The daemon says what is wrong (the
# clocks, measured from the server's Date header, not the usual SPN hints),
# keeps the certificate in use, retries with backoff, and renews by itself
# once the clock is right again. `autoenroll diagnose` names the clock too.
# Last, this host's clock is off against KDC and NDES together.
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/tools/fault-lib.sh"
stack_start
daemon_config "file:$REALM/keys"
CA_CERT_FOR_CHECK=$SCEP_CA_CERT
daemon_start
ok "enrolled while the clocks agree" daemon_wait_state machine MONITORING 90
serial=$(ae_field machine serial)
key=$REALM/keys/$(ae_field machine key_ref).key
cert_sum=$(sha256sum <"$AE_OUT/machine.pem")
key_sum=$(sha256sum <"$key")

for offset in +10m -7m; do
    NDES_CLOCK=$offset ndes_restart
    ae renew machine --wait >/dev/null
    ok "NDES $offset: the renewal fails and is retried (CA_UNREACHABLE)" \
        test "$(ae_field machine state)" = CA_UNREACHABLE
    msg=$(ae_field machine last_error.message)
    case $offset in +*) way=behind ;; *) way="ahead of" ;; esac
    ok "NDES $offset: the error names the clocks ($msg)" \
        grep -qE "clock is [0-9]+ s $way the server's .*NTP" <<<"$msg"
    ok "NDES $offset: category kerberos" test "$(ae_field machine last_error.category)" = kerberos
    ok "NDES $offset: certificate and key in use unchanged" sh -c \
        "[ '$(ae_field machine serial)' = '$serial' ] && [ \"\$(sha256sum <'$AE_OUT/machine.pem')\" = '$cert_sum' ] &&
         [ \"\$(sha256sum <'$key')\" = '$key_sum' ]"
    out=$(with_names "$AE_CLI" --config "$AE_CONF" diagnose test 2>&1)
    ok "NDES $offset: diagnose says the clock is off" grep -iE "clock.*(ahead of|behind).*NTP" <<<"$out"
done

# This host's own clock 10 minutes behind the whole domain (KDC and NDES):
# the KDC still issues tickets (MIT's client adjusts to the KDC's time for
# the AS exchange), but NDES refuses the authenticator. As on Windows, the
# fix is the clock, and the error says so.
kdc_stop
KDC_CLOCK=+10m kdc_start_again
NDES_CLOCK=+10m ndes_restart
ae renew machine --wait >/dev/null
msg=$(ae_field machine last_error.message)
ok "host 10 min behind the domain: CA_UNREACHABLE, certificate kept" \
    test "$(ae_field machine state) $(ae_field machine serial)" = "CA_UNREACHABLE $serial"
ok "host 10 min behind the domain: the error names the clocks ($msg)" \
    grep -qE "clock is [0-9]+ s behind the server's .*NTP" <<<"$msg"
kdc_stop
kdc_start_again

NDES_CLOCK= ndes_restart
ok "clock right again: the daemon renews by itself" \
    wait_for 60 sh -c "[ \"\$('$AE_CLI' --socket '$AE_SOCKET' --json status machine | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[\"state\"], d[\"serial\"])')\" != 'MONITORING $serial' ] &&
        '$AE_CLI' --socket '$AE_SOCKET' --json status machine | grep -q '\"state\": *\"MONITORING\"'"
ok "the new certificate verifies and matches its key" fault_check_outputs
