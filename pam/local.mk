# pam/: pam_autoenroll.so, the session module that hands a login's tickets
# to autoenrolld. It links only the IPC client, compiled again here as a PIC
# object: not libautoenroll.la, which would drag curl, libkrb5 and libsystemd
# into every login process (the module opens the cache file itself, as the
# user, and the daemon reads it).
pammod_LTLIBRARIES += pam/pam_autoenroll.la
pam_pam_autoenroll_la_SOURCES = \
	pam/pam_autoenroll.c \
	pam/options.c pam/options.h \
	pam/login.c pam/login.h daemon/fileio.c daemon/fileio.h \
	daemon/ipc-client.c daemon/ipc-client.h \
	daemon/util.h daemon/error.h
pam_pam_autoenroll_la_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
pam_pam_autoenroll_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared -no-undefined \
	-Wl,--version-script=$(srcdir)/pam/pam_autoenroll.map
pam_pam_autoenroll_la_LIBADD = $(JSONC_LIBS) $(PAM_LIBS)
EXTRA_pam_pam_autoenroll_la_DEPENDENCIES = pam/pam_autoenroll.map
EXTRA_DIST += pam/pam_autoenroll.map pam/examples

# Debian's pam-auth-update profile, installed as $(pamconfigsdir)/autoenroll.
pamconfigs_DATA = pam/autoenroll
EXTRA_DIST += pam/autoenroll.pam-config
CLEANFILES += pam/autoenroll
pam/autoenroll: pam/autoenroll.pam-config
	$(AM_V_GEN)$(MKDIR_P) pam && cp $(srcdir)/pam/autoenroll.pam-config $@

dist_man_MANS += man/pam_autoenroll.8

check_PROGRAMS += pam/test-options
pam_test_options_SOURCES = pam/test-options.c pam/options.c pam/options.h tests/unit/tap.h
pam_test_options_CFLAGS = $(AM_CFLAGS)
TESTS += pam/test-options

check_PROGRAMS += pam/test-login
pam_test_login_SOURCES = pam/test-login.c pam/login.c pam/login.h daemon/fileio.c daemon/fileio.h \
	daemon/ipc-client.c daemon/ipc-client.h tests/unit/tap.h
pam_test_login_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
pam_test_login_LDADD = $(JSONC_LIBS)
TESTS += pam/test-login

TESTS += \
	tests/integration/60-pam-login.sh \
	tests/integration/61-pam-faults.sh \
	tests/integration/62-pam-threads.sh

# Many logins from one process on many threads (tests and bench/pam-latency.sh).
check_PROGRAMS += pam/pam-login-driver
pam_pam_login_driver_SOURCES = pam/login-driver.c
pam_pam_login_driver_CFLAGS = $(AM_CFLAGS)
pam_pam_login_driver_LDADD = $(PAM_LIBS) -lpthread
