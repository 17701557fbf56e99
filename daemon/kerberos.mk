# daemon/kerberos.mk: Kerberos, Negotiate, challenge page, HTTP transport.

# Integration: the Kerberos/NDES stand-in realm (tests/realm/kdc.sh, ndes.sh).
TESTS += tests/integration/10-realm-kerberos.sh
