# daemon/scep.mk: the SCEP engine.
daemon_libautoenroll_la_SOURCES += \
	daemon/scep-caps.c daemon/scep-caps.h \
	daemon/scep-url.c daemon/scep-url.h \
	daemon/scep-errors.c daemon/scep-errors.h \
	daemon/scep-cacert.c daemon/scep-cacert.h \
	daemon/scep-envelope.c daemon/scep-envelope.h \
	daemon/scep-message.c daemon/scep-message.h daemon/scep-private.h \
	daemon/scep-certrep.c \
	daemon/csr.c daemon/csr.h

# Unit tests of the SCEP engine.
SCEP_UNIT_TESTS = tests/unit/test-scep-caps tests/unit/test-scep-url tests/unit/test-scep-errors \
	tests/unit/test-scep-cacert tests/unit/test-scep-message tests/unit/test-csr
check_PROGRAMS += $(SCEP_UNIT_TESTS)
TESTS += $(SCEP_UNIT_TESTS)
tests_unit_test_scep_caps_SOURCES = tests/unit/test-scep-caps.c tests/unit/tap.h
tests_unit_test_scep_caps_CFLAGS = $(AE_TEST_CFLAGS)
tests_unit_test_scep_caps_LDADD = daemon/libautoenroll.la
tests_unit_test_scep_url_SOURCES = tests/unit/test-scep-url.c tests/unit/tap.h
tests_unit_test_scep_url_CFLAGS = $(AE_TEST_CFLAGS)
tests_unit_test_scep_url_LDADD = daemon/libautoenroll.la
tests_unit_test_scep_errors_SOURCES = tests/unit/test-scep-errors.c tests/unit/tap.h
tests_unit_test_scep_errors_CFLAGS = $(AE_TEST_CFLAGS)
tests_unit_test_scep_errors_LDADD = daemon/libautoenroll.la
tests_unit_test_scep_cacert_SOURCES = tests/unit/test-scep-cacert.c tests/unit/test-scep-fixture.h tests/unit/tap.h
tests_unit_test_scep_cacert_CFLAGS = $(AE_TEST_CFLAGS)
tests_unit_test_scep_cacert_LDADD = daemon/libautoenroll.la $(OPENSSL_LIBS)
tests_unit_test_scep_message_SOURCES = tests/unit/test-scep-message.c tests/unit/test-scep-fixture.h tests/unit/tap.h
tests_unit_test_scep_message_CFLAGS = $(AE_TEST_CFLAGS)
tests_unit_test_scep_message_LDADD = daemon/libautoenroll.la $(OPENSSL_LIBS)
tests_unit_test_csr_SOURCES = tests/unit/test-csr.c tests/unit/test-scep-fixture.h tests/unit/tap.h
tests_unit_test_csr_CFLAGS = $(AE_TEST_CFLAGS)
tests_unit_test_csr_LDADD = daemon/libautoenroll.la $(OPENSSL_LIBS)

# ae-scep: blocking driver for the integration tests and the benchmark.
check_PROGRAMS += tests/tools/ae-scep
tests_tools_ae_scep_SOURCES = tests/tools/ae-scep.c
tests_tools_ae_scep_CFLAGS = $(AE_TEST_CFLAGS) $(CURL_CFLAGS)
tests_tools_ae_scep_LDADD = daemon/libautoenroll.la $(OPENSSL_LIBS) $(CURL_LIBS) $(SYSTEMD_LIBS)

EXTRA_DIST += tests/ndes-emulator fuzz
TESTS += tests/integration/20-scep-scepserver.sh tests/integration/21-scep-onetime.sh \
	tests/integration/22-scep-ndes-emulator.sh tests/integration/23-scep-apache.sh \
	tests/integration/29-fuzz-short.sh
