# daemon/kerberos.mk: Kerberos, Negotiate, challenge page, HTTP transport.
