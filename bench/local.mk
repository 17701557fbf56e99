# bench/: benchmarks (scripts that print figures; run by hand, see bench/README.md)
# and the fault-injection tests that go with them (tests/integration/8x-*.sh).
EXTRA_DIST += bench tests/tools/fault-lib.sh tests/tools/fault-proxy.py tests/tools/synth-state.py

TESTS += \
	tests/integration/80-fault-kill9.sh \
	tests/integration/81-fault-servers.sh \
	tests/integration/82-fault-disk.sh \
	tests/integration/83-fault-clock.sh
