# daemon/consumer.mk: configuration fragments for 802.1X and VPN clients
# (`autoenroll consumer-config`), their unit test and integration tests.
CONSUMER_CFLAGS = -DP11KIT_PROXY_MODULE=\"$(P11KIT_PROXY_MODULE)\"
daemon_autoenroll_SOURCES += daemon/cli-consumer.c daemon/consumer.c daemon/consumer.h
daemon_autoenroll_CFLAGS += $(CONSUMER_CFLAGS)
daemon_autoenroll_LDADD += pkcs11/libkeystore.la daemon/libautoenroll.la $(P11KIT_LIBS) $(OPENSSL_LIBS)

check_PROGRAMS += tests/unit/test-consumer
TESTS += tests/unit/test-consumer
tests_unit_test_consumer_SOURCES = tests/unit/test-consumer.c tests/unit/tap.h daemon/consumer.c daemon/consumer.h
tests_unit_test_consumer_CFLAGS = $(AE_TEST_CFLAGS) $(P11KIT_CFLAGS) $(OPENSSL_CFLAGS) $(JSONC_CFLAGS)
tests_unit_test_consumer_LDADD = daemon/libautoenroll.la $(P11KIT_LIBS) $(OPENSSL_LIBS) $(JSONC_LIBS)

EXTRA_DIST += doc/consumers.md
TESTS += tests/integration/70-consumer-eap-tls.sh tests/integration/71-consumer-eap-tls-softhsm.sh \
	tests/integration/72-consumer-openvpn.sh tests/integration/73-consumer-tpm.sh \
	tests/integration/74-consumer-hook.sh tests/integration/75-consumer-strongswan.sh

# The post-save hook example, installed with the documentation.
consumerhooksdir = $(docdir)/examples/hooks
dist_consumerhooks_SCRIPTS = examples/hooks/consumer-refresh
