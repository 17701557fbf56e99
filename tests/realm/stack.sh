# shellcheck shell=bash
# The realm most tests run in, sourced as one: lib.sh, kdc.sh, scep.sh,
# ndes.sh and daemon.sh.
#
#   stack_start   realm_init; kdc_start; scep_start --ndes-challenges (the
#                 SCEP server takes NDES's one-time passwords); ndes_start
#                 (Apache as NDES, Kerberos on its admin page)
# Then, for a daemon test: daemon_config and daemon_start (tests/realm/daemon.sh).
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/kdc.sh"
. "$top_srcdir/tests/realm/scep.sh"
. "$top_srcdir/tests/realm/ndes.sh"
. "$top_srcdir/tests/realm/daemon.sh"

stack_start() {
    realm_init
    kdc_start
    scep_start --ndes-challenges
    ndes_start
}
