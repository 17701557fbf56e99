# man/: manual pages.
dist_man_MANS += man/autoenrolld.8 man/autoenroll.1 man/autoenroll.conf.5
