# daemon/: the protocol, Kerberos and daemon code, as one convenience library
# that autoenrolld, the CLI and the unit tests link.
noinst_LTLIBRARIES += daemon/libautoenroll.la
daemon_libautoenroll_la_SOURCES = \
	daemon/util.h daemon/error.h \
	daemon/fileio.c daemon/fileio.h \
	daemon/config.c daemon/config.h \
	daemon/template.c daemon/template.h \
	daemon/request.c daemon/request.h daemon/json-util.h \
	daemon/store.c daemon/store.h \
	daemon/schedule.c daemon/schedule.h \
	daemon/log.c daemon/log.h \
	daemon/ipc.c daemon/ipc.h \
	daemon/ipc-client.c daemon/ipc-client.h
daemon_libautoenroll_la_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(CURL_CFLAGS) \
	$(KRB5_CFLAGS) $(SYSTEMD_CFLAGS) $(INIH_CFLAGS) $(JSONC_CFLAGS) $(P11KIT_CFLAGS)
daemon_libautoenroll_la_LIBADD = $(OPENSSL_LIBS) $(CURL_LIBS) $(KRB5_LIBS) \
	$(SYSTEMD_LIBS) $(INIH_LIBS) $(JSONC_LIBS) -lpthread

# The daemon's own parts (manager, enrollment engine, outputs), linked by
# autoenrolld and by tests that drive the manager.
noinst_LTLIBRARIES += daemon/libautoenrolld.la
daemon_libautoenrolld_la_SOURCES = \
	daemon/manager.c daemon/manager.h \
	daemon/manager-ipc.c \
	daemon/enroll.c daemon/enroll.h daemon/enroll-private.h \
	daemon/enroll-submit.c \
	daemon/metrics.c \
	daemon/outputs.c daemon/outputs.h
daemon_libautoenrolld_la_CFLAGS = $(daemon_libautoenroll_la_CFLAGS)
daemon_libautoenrolld_la_LIBADD = pkcs11/libkeystore.la daemon/libautoenroll.la

sbin_PROGRAMS += daemon/autoenrolld
daemon_autoenrolld_SOURCES = daemon/autoenrolld.c
daemon_autoenrolld_CFLAGS = $(daemon_libautoenroll_la_CFLAGS)
daemon_autoenrolld_LDADD = daemon/libautoenrolld.la

bin_PROGRAMS += daemon/autoenroll
daemon_autoenroll_SOURCES = daemon/cli.c daemon/cli.h daemon/cli-user.c daemon/cli-diagnose.c
daemon_autoenroll_CFLAGS = $(daemon_libautoenroll_la_CFLAGS)
daemon_autoenroll_LDADD = daemon/libautoenroll.la
