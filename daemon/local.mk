# daemon/: the protocol, Kerberos and daemon code, as one convenience library
# that autoenrolld, the CLI and the unit tests link.
noinst_LTLIBRARIES += daemon/libautoenroll.la
daemon_libautoenroll_la_SOURCES = \
	daemon/util.h daemon/error.h \
	daemon/fileio.c daemon/fileio.h \
	daemon/config.c daemon/config.h \
	daemon/template.c daemon/template.h \
	daemon/request.c daemon/request.h \
	daemon/store.c daemon/store.h \
	daemon/schedule.c daemon/schedule.h
daemon_libautoenroll_la_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(CURL_CFLAGS) \
	$(KRB5_CFLAGS) $(SYSTEMD_CFLAGS) $(INIH_CFLAGS) $(JSONC_CFLAGS)
daemon_libautoenroll_la_LIBADD = $(OPENSSL_LIBS) $(CURL_LIBS) $(KRB5_LIBS) \
	$(SYSTEMD_LIBS) $(INIH_LIBS) $(JSONC_LIBS) -lpthread
