# daemon/ad.mk: Active Directory: the objectSid of an account over LDAP
# (SASL GSSAPI) for the strong-mapping SAN; the Samba AD DC test realm.

daemon_libautoenroll_la_SOURCES += daemon/sid.c daemon/sid.h
daemon_libautoenroll_la_CFLAGS += $(LDAP_CFLAGS)
daemon_libautoenroll_la_LIBADD += $(LDAP_LIBS)

check_PROGRAMS += tests/unit/test-sid
tests_unit_test_sid_SOURCES = tests/unit/test-sid.c tests/unit/tap.h
tests_unit_test_sid_CFLAGS = $(AE_TEST_CFLAGS)
tests_unit_test_sid_LDADD = daemon/libautoenroll.la
TESTS += tests/unit/test-sid

# ae-sid URI ACCOUNT [CCACHE]: sid_lookup() for the AD realm tests.
check_PROGRAMS += tests/tools/ae-sid
tests_tools_ae_sid_SOURCES = tests/tools/ae-sid.c
tests_tools_ae_sid_CFLAGS = $(AE_TEST_CFLAGS)
tests_tools_ae_sid_LDADD = daemon/libautoenroll.la
