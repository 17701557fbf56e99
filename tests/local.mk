# tests/: C unit tests (TAP, tests/unit/tap.h) and integration scripts
# (TAP, tests/realm/lib.sh) that start the real test realm.
AE_TEST_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(KRB5_CFLAGS) $(SYSTEMD_CFLAGS) $(JSONC_CFLAGS)

check_PROGRAMS += tests/unit/test-fileio
tests_unit_test_fileio_SOURCES = tests/unit/test-fileio.c tests/unit/tap.h
tests_unit_test_fileio_CFLAGS = $(AE_TEST_CFLAGS)
tests_unit_test_fileio_LDADD = daemon/libautoenroll.la

TESTS += tests/unit/test-fileio

check_PROGRAMS += tests/unit/test-config tests/unit/test-request
TESTS += tests/unit/test-config tests/unit/test-request
tests_unit_test_config_SOURCES = tests/unit/test-config.c tests/unit/tap.h
tests_unit_test_config_CFLAGS = $(AE_TEST_CFLAGS)
tests_unit_test_config_LDADD = daemon/libautoenroll.la
tests_unit_test_request_SOURCES = tests/unit/test-request.c tests/unit/tap.h
tests_unit_test_request_CFLAGS = $(AE_TEST_CFLAGS)
tests_unit_test_request_LDADD = daemon/libautoenroll.la

EXTRA_DIST += tests/realm tests/integration
TESTS += \
	tests/integration/00-tools.sh

# The daemon, end to end against the realm.
TESTS += \
	tests/integration/40-daemon-machine-file.sh \
	tests/integration/41-daemon-user.sh \
	tests/integration/42-daemon-softhsm-renew.sh \
	tests/integration/43-daemon-faults.sh \
	tests/integration/44-daemon-emulator.sh \
	tests/integration/45-daemon-failover.sh \
	tests/integration/46-install-units.sh \
	tests/integration/47-cli-diagnose.sh \
	tests/integration/48-daemon-systemd.sh \
	tests/integration/49-daemon-alerts.sh \
	tests/integration/50-daemon-ca-modes.sh \
	tests/integration/51-daemon-static-challenge.sh \
	tests/integration/52-daemon-load.sh \
	tests/integration/53-daemon-stop-keygen.sh

# A real Active Directory (Samba AD DC in a private namespace, tests/realm/samba.sh).
TESTS += \
	tests/integration/90-ad-machine.sh \
	tests/integration/91-ad-user.sh
