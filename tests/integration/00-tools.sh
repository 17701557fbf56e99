#!/bin/bash
# Every tool the realm needs is installed: a missing one fails here, loudly.
. "$top_srcdir/tests/realm/lib.sh"
realm_init

for t in krb5kdc kadmin.local kinit klist kdestroy apache2 scepserver socat unshare ip \
         curl openssl softhsm2-util pkcs11-tool p11-kit swtpm swtpm_setup tpm2-abrmd \
         tpm2_ptool dbus-daemon pamtester; do
    ok "tool $t is installed" command -v "$t"
done
ok "mod_auth_gssapi is installed" test -e /usr/lib/apache2/modules/mod_auth_gssapi.so
ok "nss_wrapper is installed" test -n "$NSS_WRAPPER_LIB"
ok "pam_wrapper is installed" sh -c 'ls /usr/lib/*/libpam_wrapper.so'
ok "pam_krb5 is installed" sh -c 'ls /usr/lib/*/security/pam_krb5.so /lib/*/security/pam_krb5.so 2>/dev/null | grep -q .'
ok "softhsm2 module is installed" sh -c 'ls /usr/lib/softhsm/libsofthsm2.so'
ok "tpm2-pkcs11 module is installed" sh -c 'ls /usr/lib/*/pkcs11/libtpm2_pkcs11.so* | grep -q .'
ok "python3 has cryptography" /usr/bin/python3 -c 'import cryptography'
ok "nss_wrapper resolves the NDES host" with_names getent hosts "$NDES_HOST"
