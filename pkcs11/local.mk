# pkcs11/: the key store (PKCS#11 tokens through p11-kit, a file store) and
# the in-tree OpenSSL provider for token keys. Consumers link
# pkcs11/libkeystore.la together with daemon/libautoenroll.la (fileio).
noinst_LTLIBRARIES += pkcs11/libkeystore.la
pkcs11_libkeystore_la_SOURCES = \
	pkcs11/keystore.c pkcs11/keystore.h \
	pkcs11/token.c pkcs11/token.h \
	pkcs11/provider.c pkcs11/provider.h pkcs11/provider-ops.c pkcs11/provider-private.h \
	pkcs11/filestore.c pkcs11/filestore.h \
	pkcs11/pin.c pkcs11/pin.h
pkcs11_libkeystore_la_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(P11KIT_CFLAGS) -pthread
pkcs11_libkeystore_la_LIBADD = $(OPENSSL_LIBS) $(P11KIT_LIBS) -lpthread

KEYSTORE_TEST_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(P11KIT_CFLAGS) -pthread
KEYSTORE_TEST_LDADD = pkcs11/libkeystore.la daemon/libautoenroll.la $(OPENSSL_LIBS) \
	$(P11KIT_LIBS) -lpthread

# ae-key: a small driver over the key store API for the integration tests and bench.
check_PROGRAMS += tests/tools/ae-key
tests_tools_ae_key_SOURCES = tests/tools/ae-key.c
tests_tools_ae_key_CFLAGS = $(KEYSTORE_TEST_CFLAGS)
tests_tools_ae_key_LDADD = $(KEYSTORE_TEST_LDADD)

check_PROGRAMS += tests/unit/test-keystore-file tests/unit/test-keystore-pin
tests_unit_test_keystore_file_SOURCES = tests/unit/test-keystore-file.c tests/unit/tap.h
tests_unit_test_keystore_file_CFLAGS = $(KEYSTORE_TEST_CFLAGS)
tests_unit_test_keystore_file_LDADD = $(KEYSTORE_TEST_LDADD)
tests_unit_test_keystore_pin_SOURCES = tests/unit/test-keystore-pin.c tests/unit/tap.h
tests_unit_test_keystore_pin_CFLAGS = $(KEYSTORE_TEST_CFLAGS)
tests_unit_test_keystore_pin_LDADD = $(KEYSTORE_TEST_LDADD)

TESTS += tests/unit/test-keystore-file tests/unit/test-keystore-pin
TESTS += \
	tests/integration/30-keystore-file.sh \
	tests/integration/31-keystore-softhsm.sh \
	tests/integration/32-keystore-tpm.sh \
	tests/integration/33-keystore-bad.sh \
	tests/integration/34-keystore-tpm-enroll.sh
