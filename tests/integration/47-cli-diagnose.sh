#!/bin/bash
# `autoenroll diagnose`: the whole chain for every server of a CA, read from
# the daemon's configuration, on a working realm and on broken ones.
. "$top_srcdir/tests/realm/stack.sh"
stack_start
daemon_config "file:$REALM/keys"
diag_cli() { with_names "$AE_CLI" --config "$AE_CONF" "$@"; }

out=$(diag_cli diagnose test 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
ok "diagnose passes on a working realm" test $rc = 0
for step in keytab kdc service-ticket GetCACaps GetCACert; do
    ok "the report has a $step step" grep -qi "$step" <<<"$out"
done
leaked=0
for c in $(ls "$NDES_DIR/challenges"); do grep -q "$c" <<<"$out" && leaked=1; done
ok "the report never shows the challenge it fetched" test "$leaked" = 0 -a -n "$(ls "$NDES_DIR/challenges")"
json=$(diag_cli --json diagnose test)
ok "diagnose --json is JSON with one report per server" /usr/bin/python3 -c '
import json,sys; l=json.loads(sys.argv[1]); assert len(l)==1 and l[0]["ca"]=="test", l' "$json"

# Two servers: the report covers both.
dead=http://$NDES_HOST:$(free_port)
sed -i "/^\[ca test\]/a server = $dead" "$AE_CONF"
json=$(diag_cli --json diagnose test)
ok "diagnose covers every server of the CA" /usr/bin/python3 -c '
import json,sys; l=json.loads(sys.argv[1]); assert len(l)==2, l' "$json"
ok "and fails when one is down" sh -c "! with_names '$AE_CLI' --config '$AE_CONF' diagnose test >/dev/null 2>&1"
grep -vxF "server = $dead" "$AE_CONF" >"$AE_CONF.new" && mv "$AE_CONF.new" "$AE_CONF"

kdc_stop
out=$(diag_cli diagnose test 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
ok "diagnose fails with the KDC down" test $rc = 1
ok "and says the KDC is unreachable" grep -qiE "kdc.*(unreachable|cannot|fail)" <<<"$out"
ok_fails "an unknown CA is a usage error" diag_cli diagnose nosuchca
