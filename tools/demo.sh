#!/bin/bash
# The main job, on a fresh Debian 12 machine (as root): install packages,
# build, bring up the self-contained test realm (MIT KDC, Apache +
# mod_auth_gssapi as NDES, scepserver, SoftHSM), run autoenrolld, and watch it
# enroll and track a machine certificate (key in SoftHSM) and user
# certificates (alice asks with her own Kerberos tickets; bob logs in through
# PAM with pam_krb5 + pam_autoenroll). Then `autoenroll list`.
# Everything runs on loopback or in a private network namespace and is
# stopped at the end (--keep leaves it running until Enter is pressed).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
keep=0
[ "${1:-}" = "--keep" ] && keep=1

bash "$top/tools/install-deps.sh" || { echo "package installation failed" >&2; exit 1; }
bash "$top/tools/build.sh" "$top/build" >/dev/null || { echo "build failed" >&2; exit 1; }

export top_srcdir=$top top_builddir=$top/build
. "$top/tests/realm/lib.sh"
. "$top/tests/realm/kdc.sh"
. "$top/tests/realm/scep.sh"
. "$top/tests/realm/ndes.sh"
. "$top/tests/realm/softhsm.sh"
. "$top/tests/realm/daemon.sh"
. "$top/tests/realm/pam.sh"
step() { printf '\n== %s\n' "$*"; }

realm_init
step "Test realm in $REALM"
kdc_start && echo "KDC for $REALM_NAME on 127.0.0.1:$KDC_PORT (host keytab: CLIENT\$, host/$CLIENT_HOST)"
scep_start --ndes-challenges && echo "scepserver in its own network namespace, CA $SCEP_CA_FINGERPRINT"
ndes_start && echo "NDES stand-in (Apache + mod_auth_gssapi): $NDES_URL"
softhsm_init && echo "SoftHSM token 'autoenroll'"

step "autoenrolld starts with a machine profile and a user profile"
daemon_config "$SOFTHSM_URI"
daemon_start
echo "config: $AE_CONF"
daemon_wait_state machine MONITORING 90 >/dev/null || { echo "machine enrollment failed:"; ae status machine; exit 1; }
echo "machine certificate enrolled at start, key generated inside SoftHSM:"
openssl x509 -in "$AE_OUT/machine.pem" -noout -subject -issuer -dates -ext subjectAltName | sed 's/^/  /'

step "alice logs in (kinit) and asks for her user certificate with her own tickets"
kdc_kinit_user alice "$REALM/alice.ccache"
chown "$(test_uid alice)" "$REALM/alice.ccache"
as_user alice env KRB5CCNAME="FILE:$REALM/alice.ccache" "$AE_CLI" --socket "$AE_SOCKET" request user --wait
echo "alice's certificate:"
openssl x509 -in "$REALM/userout/alice/user.pem" -noout -subject -dates | sed 's/^/  /'

step "bob logs in through PAM (pam_krb5 + pam_autoenroll wait=60): his certificate comes with the login"
pam_setup
pam_service login socket="$AE_SOCKET" wait=60
pam_login login bob || { tail -5 "$REALM/pam-bob.log"; exit 1; }
openssl x509 -in "$REALM/userout/bob/user.pem" -noout -subject -dates | sed 's/^/  /'

step "autoenroll list"
ae list
step "what alice sees (her own requests only)"
as_user alice "$AE_CLI" --socket "$AE_SOCKET" list
step "renew the machine certificate now (new key; the old one goes once the new one is saved)"
ae renew machine --wait | grep -E "state|serial|not after|key"

pass "demo finished: a machine and two user certificates enrolled and tracked"
if [ $keep = 1 ]; then
    echo "The realm stays up: AUTOENROLL_SOCKET=$AE_SOCKET $AE_CLI list. Press Enter to stop."
    read -r _
fi
