# shellcheck shell=bash
# The test KDC: MIT krb5kdc for the realm AUTOENROLL.TEST on a free
# 127.0.0.1 port, with a private krb5.conf/kdc.conf (never /etc/krb5.conf).
#
#   kdc_start   create the database and principals, start krb5kdc; exports
#               KRB5_CONFIG, KRB5_KDC_PROFILE, KDC_PORT
#   kdc_stop    stop the KDC (simulate "KDC down"); kdc_start_again restarts it
#   kdc_kadmin  run one kadmin.local query and check its output (it exits 0
#               even when the command failed)
#
# Files under $REALM:
#   host.keytab       CLIENT$ and host/client.autoenroll.test (the machine)
#   http.keytab       HTTP/ndes.autoenroll.test (Apache, mode 0640 root:www-data)
#   http-stale.keytab the same principal with an old key (NDES_STALE_URL uses it)
#   expired.keytab    EXPIRED$ (principal expired in 2000)
#   disabled.keytab   DISABLED$ (-allow_tix)
#   alice.pw bob.pw mallory.pw expired.pw disabled.pw   user passwords, 0600
# Users: alice, bob (ordinary), mallory (valid, NDES denies her), expired,
# disabled (negative).

kdc_kadmin() { # kdc_kadmin "QUERY" EXPECTED-OUTPUT-REGEX
    local out
    out=$(kadmin.local -r "$REALM_NAME" -q "$1" 2>&1)
    if ! grep -Eq -- "$2" <<<"$out"; then
        echo "kadmin.local '$1' failed:" >&2
        printf '%s\n' "$out" | grep -v '^Authenticating as' >&2
        return 1
    fi
}

_kdc_write_conf() {
    mkdir -p "$REALM/kdc"
    chmod 755 "$REALM/kdc"
    # World-readable: Apache (www-data) reads it too (DESIGN §7).
    cat >"$REALM/krb5.conf" <<EOF
[libdefaults]
    default_realm = $REALM_NAME
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    ignore_acceptor_hostname = false
    udp_preference_limit = 1
    ticket_lifetime = 10h
    renew_lifetime = 7d
    forwardable = true
    default_ccache_name = FILE:$REALM/ccache-default

[realms]
    $REALM_NAME = {
        kdc = 127.0.0.1:$KDC_PORT
        admin_server = 127.0.0.1:$KDC_PORT
    }

[domain_realm]
    .$REALM_DOMAIN = $REALM_NAME
    $REALM_DOMAIN = $REALM_NAME
EOF
    chmod 644 "$REALM/krb5.conf"
    cat >"$REALM/kdc/kdc.conf" <<EOF
[kdcdefaults]
    kdc_listen = 127.0.0.1:$KDC_PORT
    kdc_tcp_listen = 127.0.0.1:$KDC_PORT

[realms]
    $REALM_NAME = {
        database_name = $REALM/kdc/principal
        key_stash_file = $REALM/kdc/stash
        acl_file = $REALM/kdc/kadm5.acl
        max_life = 10h
        max_renewable_life = 7d
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }

[logging]
    kdc = FILE:$REALM/kdc/krb5kdc.log
    admin_server = FILE:$REALM/kdc/kadmind.log
    default = FILE:$REALM/kdc/krb5lib.log
EOF
    : >"$REALM/kdc/kadm5.acl"
}

_kdc_password() { # _kdc_password NAME -> writes $REALM/NAME.pw (0600), prints it
    local pw
    pw=$(openssl rand -hex 12) || return 1
    (umask 077 && printf '%s\n' "$pw" >"$REALM/$1.pw")
    printf '%s' "$pw"
}

kdc_start() {
    need krb5kdc kadmin.local kdb5_util kinit klist openssl
    KDC_PORT=$(free_port) || bail "no free port for the KDC"
    export KDC_PORT
    _kdc_write_conf
    export KRB5_CONFIG="$REALM/krb5.conf"
    export KRB5_KDC_PROFILE="$REALM/kdc/kdc.conf"
    # Nothing in a test may use a cache outside $REALM by accident.
    export KRB5CCNAME="FILE:$REALM/ccache-default"
    export KRB5RCACHEDIR="$REALM/rcache"
    mkdir -p "$KRB5RCACHEDIR"

    kdb5_util -r "$REALM_NAME" create -s -P "$(openssl rand -hex 16)" >"$REALM/kdc/kdb5_util.log" 2>&1 \
        || { cat "$REALM/kdc/kdb5_util.log" >&2; bail "kdb5_util create failed"; }

    local u pw
    # The machine: the AD-style account CLIENT$ and the host service principal.
    kdc_kadmin "addprinc -randkey CLIENT\$" 'created' || bail "addprinc CLIENT\$"
    kdc_kadmin "addprinc -randkey host/$CLIENT_HOST" 'created' || bail "addprinc host/"
    kdc_kadmin "ktadd -k $REALM/host.keytab CLIENT\$ host/$CLIENT_HOST" 'added to keytab' \
        || bail "ktadd host.keytab"
    # NDES's service principal.
    kdc_kadmin "addprinc -randkey HTTP/$NDES_HOST" 'created' || bail "addprinc HTTP/"
    # A stale copy first (its key is replaced by the next ktadd): a server
    # using it rejects valid tickets, like an SPN on the wrong account.
    kdc_kadmin "ktadd -k $REALM/http-stale.keytab HTTP/$NDES_HOST" 'added to keytab' || bail "ktadd http-stale.keytab"
    kdc_kadmin "ktadd -k $REALM/http.keytab HTTP/$NDES_HOST" 'added to keytab' || bail "ktadd http.keytab"
    chgrp www-data "$REALM/http.keytab" "$REALM/http-stale.keytab" \
        && chmod 640 "$REALM/http.keytab" "$REALM/http-stale.keytab" || bail "http.keytab mode"
    # Users.
    for u in alice bob mallory; do
        pw=$(_kdc_password "$u") || bail "password for $u"
        kdc_kadmin "addprinc -pw $pw $u" 'created' || bail "addprinc $u"
    done
    # Negative principals, as users (password) and as machines (keytab).
    pw=$(_kdc_password expired) || bail "password"
    kdc_kadmin "addprinc -pw $pw -expire \"2000-01-01 00:00:00 UTC\" expired" 'created' || bail "addprinc expired"
    pw=$(_kdc_password disabled) || bail "password"
    kdc_kadmin "addprinc -pw $pw -allow_tix disabled" 'created' || bail "addprinc disabled"
    kdc_kadmin "addprinc -randkey EXPIRED\$" 'created' || bail "addprinc EXPIRED\$"
    kdc_kadmin "ktadd -k $REALM/expired.keytab EXPIRED\$" 'added to keytab' || bail "ktadd expired"
    kdc_kadmin "modprinc -expire \"2000-01-01 00:00:00 UTC\" EXPIRED\$" 'modified' || bail "expire EXPIRED\$"
    kdc_kadmin "addprinc -randkey -allow_tix DISABLED\$" 'created' || bail "addprinc DISABLED\$"
    kdc_kadmin "ktadd -k $REALM/disabled.keytab DISABLED\$" 'added to keytab' || bail "ktadd disabled"
    chmod 600 "$REALM/host.keytab" "$REALM/expired.keytab" "$REALM/disabled.keytab"

    kdc_start_again
}

# KDC_CLOCK=OFFSET (e.g. +10m): the KDC runs with its clock that far off.
kdc_start_again() {
    realm_clock "${KDC_CLOCK:-}"
    realm_spawn krb5kdc "${CLOCK_ENV[@]}" krb5kdc -n -r "$REALM_NAME" -P "$REALM/kdc/krb5kdc.pid"
    KDC_PID=$PID_krb5kdc
    wait_for 30 port_open "$KDC_PORT" || { cat "$REALM/krb5kdc.log" "$REALM/kdc/krb5kdc.log" >&2; bail "krb5kdc did not start"; }
}

kdc_stop() {
    [ -n "${KDC_PID:-}" ] || return 0
    kill -TERM -- "-$KDC_PID" 2>/dev/null || kill -TERM "$KDC_PID" 2>/dev/null
    local i
    for i in $(seq 1 50); do kill -0 "$KDC_PID" 2>/dev/null || break; sleep 0.1; done
    KDC_PID=
}

# kdc_kinit_user NAME CCACHE : kinit NAME with its password into CCACHE.
kdc_kinit_user() {
    kinit -c "$2" "$1@$REALM_NAME" <"$REALM/$1.pw" >/dev/null
}
