#!/bin/bash
# `make install DESTDIR=` lays out what a package needs; the installed unit's
# hardening rates "OK" or better with systemd-analyze security; the example
# configuration passes --check-config and a broken one names file and line.
. "$top_srcdir/tests/realm/lib.sh"
realm_init
need systemd-analyze
dest=$REALM/inst
ok "make install DESTDIR= works" env -u MAKEFLAGS -u MFLAGS make -s -C "$top_builddir" install DESTDIR="$dest"
for f in sbin/autoenrolld bin/autoenroll autoenroll/autoenroll.conf man8/autoenrolld.8 \
         man1/autoenroll.1 man5/autoenroll.conf.5; do
    ok "installed $f" test -n "$(find "$dest" -path "*/$f")"
done
daemon=$(find "$dest" -path '*/sbin/autoenrolld')
conf=$(find "$dest" -path '*/autoenroll/autoenroll.conf')
unit=$(find "$dest" -name autoenrolld.service | head -n 1)
ok "the service unit is installed" test -n "$unit"
ok "the socket unit is installed" test -n "$(find "$dest" -name autoenrolld.socket)"
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
ok "the unit runs the installed daemon ($exec_start)" test -x "$dest$exec_start"
ok "Type=notify with a watchdog" sh -c "grep -q '^Type=notify' '$unit' && grep -q '^WatchdogSec=' '$unit'"
report=$(systemd-analyze security --offline=yes "$unit" 2>&1)
level=$(sed -n 's/.*Overall exposure level for autoenrolld.service: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p' <<<"$report")
diag "systemd-analyze security: $level"
ok "systemd-analyze security rates the unit OK or better ($level)" grep -qE ' (OK|SAFE)$' <<<"$level"

ok "the example configuration passes --check-config" "$daemon" --check-config --config "$conf" --conf-d "$REALM/none"
printf '[ca x]\nserver = http://a\n[profile p]\nca = x\nkey_bits = 1000\n' >"$REALM/bad.conf"
err=$("$daemon" --check-config --config "$REALM/bad.conf" --conf-d "$REALM/none" 2>&1)
ok "a broken configuration is refused" test $? -ne 0
ok "the error names file and line" grep -q "bad.conf:5: key_bits" <<<"$err"
mkdir -p "$REALM/conf.d"
printf '[daemon]\nstate_dir = /tmp/x\n' >"$REALM/good.conf"
printf '[daemon]\nbogus = 1\n' >"$REALM/conf.d/10-local.conf"
err=$("$daemon" --check-config --config "$REALM/good.conf" --conf-d "$REALM/conf.d" 2>&1)
ok "errors in conf.d name that file" grep -q "conf.d/10-local.conf:2: unknown setting 'bogus'" <<<"$err"
