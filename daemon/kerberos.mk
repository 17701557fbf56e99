# daemon/kerberos.mk: Kerberos, Negotiate, challenge page, HTTP transport.

# Integration: the Kerberos/NDES stand-in realm (tests/realm/kdc.sh, ndes.sh).
TESTS += tests/integration/10-realm-kerberos.sh

daemon_libautoenroll_la_SOURCES += \
	daemon/challenge.c daemon/challenge.h

check_PROGRAMS += tests/unit/test-challenge
tests_unit_test_challenge_SOURCES = tests/unit/test-challenge.c tests/unit/tap.h
tests_unit_test_challenge_CFLAGS = $(AE_TEST_CFLAGS)
tests_unit_test_challenge_LDADD = daemon/libautoenroll.la
TESTS += tests/unit/test-challenge
EXTRA_DIST += fuzz/fuzz-challenge.c

daemon_libautoenroll_la_SOURCES += \
	daemon/worker.c daemon/worker.h
daemon_libautoenroll_la_LIBADD += -lpthread

check_PROGRAMS += tests/unit/test-worker
tests_unit_test_worker_SOURCES = tests/unit/test-worker.c tests/unit/tap.h
tests_unit_test_worker_CFLAGS = $(AE_TEST_CFLAGS)
tests_unit_test_worker_LDADD = daemon/libautoenroll.la $(SYSTEMD_LIBS)
TESTS += tests/unit/test-worker

daemon_libautoenroll_la_SOURCES += \
	daemon/http.c daemon/http.h

check_PROGRAMS += tests/unit/test-http
tests_unit_test_http_SOURCES = tests/unit/test-http.c tests/unit/tap.h
tests_unit_test_http_CFLAGS = $(AE_TEST_CFLAGS) $(CURL_CFLAGS)
tests_unit_test_http_LDADD = daemon/libautoenroll.la $(SYSTEMD_LIBS) -lpthread
TESTS += tests/unit/test-http

daemon_libautoenroll_la_SOURCES += \
	daemon/krb.c daemon/krb.h

daemon_libautoenroll_la_SOURCES += \
	daemon/ndes.c daemon/ndes.h \
	daemon/diagnose.c daemon/diagnose.h

# Test/diagnostic driver for the Kerberos + NDES code.
check_PROGRAMS += tests/tools/ae-ndes
tests_tools_ae_ndes_SOURCES = tests/tools/ae-ndes.c
tests_tools_ae_ndes_CFLAGS = $(AE_TEST_CFLAGS) $(CURL_CFLAGS)
tests_tools_ae_ndes_LDADD = daemon/libautoenroll.la $(SYSTEMD_LIBS)
TESTS += tests/integration/11-challenge-machine.sh
TESTS += tests/integration/12-challenge-user.sh
TESTS += tests/integration/13-negotiate-scep.sh tests/integration/14-diagnose.sh

check_PROGRAMS += tests/unit/test-ndes
tests_unit_test_ndes_SOURCES = tests/unit/test-ndes.c tests/unit/tap.h
tests_unit_test_ndes_CFLAGS = $(AE_TEST_CFLAGS) $(CURL_CFLAGS)
tests_unit_test_ndes_LDADD = daemon/libautoenroll.la $(SYSTEMD_LIBS)
TESTS += tests/unit/test-ndes
