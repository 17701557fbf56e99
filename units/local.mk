# units/: systemd units (the service is generated to carry the install paths).
systemdsystemunit_DATA += units/autoenrolld.service units/autoenrolld.socket
CLEANFILES += units/autoenrolld.service
EXTRA_DIST += units/autoenrolld.service.in units/autoenrolld.socket

units/autoenrolld.service: units/autoenrolld.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) units && sed -e 's|@sbindir[@]|$(sbindir)|g' $(srcdir)/units/autoenrolld.service.in > $@
