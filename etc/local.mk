# etc/: configuration example.
autoenrollconfdir = $(sysconfdir)/autoenroll
dist_autoenrollconf_DATA = etc/autoenroll.conf
