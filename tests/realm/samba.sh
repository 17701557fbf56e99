# shellcheck shell=bash
# A real Active Directory for a test: a Samba AD DC (Heimdal KDC, LDAP,
# internal DNS) provisioned from scratch for this run, and the client host
# joined to it with adcli -- all inside a private network, mount and UTS
# namespace that nothing leaves.
#
#   samba_enter "$@"  first line after sourcing: re-executes the test inside
#                     `unshare --net --mount --uts` (no-op once inside)
#   samba_realm_start provision + start the DC, join the host, create the
#                     NDES service account and the users; exports
#                     KRB5_CONFIG (/etc/krb5.conf of the namespace),
#                     AD_SMB_CONF, AD_ADMIN_PW (file), AD_DC_IP, AD_CLIENT_IP
#   samba_tool ARGS   samba-tool against the DC's private smb.conf
#   samba_sid KIND NAME   objectSid of a computer/user as the DC shows it
#   ldap_sid CCACHE FILTER  objectSid read over LDAP with SASL GSSAPI
#                           (ldap:// + SASL sealing: Samba's "strong auth")
#   samba_kinit_user NAME CCACHE   kinit with the user's password
#
# Network: lo, and a veth pair ae-dc (10.53.0.1, the DC) <-> ae-cl
# (10.53.0.2, the client) whose both ends stay in the namespace; no default
# route. /etc is an overlay (upper dir under $REALM) so the namespace has its
# own /etc/hosts, /etc/resolv.conf (the DC as nameserver), /etc/krb5.conf and
# /etc/krb5.keytab (written by `adcli join` like on a real joined host); the
# host's /etc is never written. The hostname (UTS) is "client".
#
# Files: $REALM/samba/ (the DC), $REALM/http.keytab (HTTP/ndes SPN of the
# service account svc-ndes, 0640 root:www-data), $REALM/<user>.pw (0600).
# Users: alice, bob (ordinary), expired (must change password: expired),
# disabled (account disabled).

AD_DC_IP=10.53.0.1
AD_CLIENT_IP=10.53.0.2
AD_NETBIOS=AUTOENROLL
AD_DC_HOST=dc.$REALM_DOMAIN
export AD_DC_IP AD_CLIENT_IP AD_NETBIOS AD_DC_HOST

samba_enter() {
    if [ "${AE_AD_NAMESPACE:-}" != "$$" ]; then
        need unshare
        # The child bash has a new pid: mark the namespace with the script's path.
        AE_AD_NAMESPACE=entered exec unshare --net --mount --uts --propagation private \
            bash "$0" "$@"
    fi
}
# Inside, samba_enter sees AE_AD_NAMESPACE=entered: make that "$$".
[ "${AE_AD_NAMESPACE:-}" = entered ] && AE_AD_NAMESPACE=$$

samba_tool() { samba-tool "$@" -s "$AD_SMB_CONF"; }

_samba_net() {
    ip link set lo up || return 1
    ip link add ae-dc type veth peer name ae-cl || return 1
    ip addr add "$AD_DC_IP/24" dev ae-dc || return 1
    ip addr add "$AD_CLIENT_IP/24" dev ae-cl || return 1
    ip link set ae-dc up && ip link set ae-cl up || return 1
    hostname "$CLIENT_SHORT" || return 1
}

_samba_etc() {
    mkdir -p "$REALM/etc-upper" "$REALM/etc-work"
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$REALM/etc-upper,workdir=$REALM/etc-work" /etc \
        || return 1
    # Private files, bind-mounted over what the overlay shows (they are
    # edited from $REALM and seen only in this namespace).
    cat >"$REALM/etc-hosts" <<EOF
127.0.0.1 localhost
127.0.0.1 $NDES_HOST ndes
$AD_DC_IP $AD_DC_HOST dc
$AD_CLIENT_IP $CLIENT_HOST $CLIENT_SHORT
EOF
    printf 'search %s\nnameserver %s\n' "$REALM_DOMAIN" "$AD_DC_IP" >"$REALM/etc-resolv.conf"
    cat >"$REALM/etc-krb5.conf" <<EOF
[libdefaults]
    default_realm = $REALM_NAME
    dns_lookup_kdc = true
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    udp_preference_limit = 1
    forwardable = true
    default_ccache_name = FILE:$REALM/ccache-default

[realms]
    $REALM_NAME = {
        kdc = $AD_DC_HOST
        admin_server = $AD_DC_HOST
    }

[domain_realm]
    .$REALM_DOMAIN = $REALM_NAME
    $REALM_DOMAIN = $REALM_NAME
EOF
    chmod 644 "$REALM/etc-hosts" "$REALM/etc-resolv.conf" "$REALM/etc-krb5.conf"
    local f
    for f in hosts resolv.conf krb5.conf; do
        [ -e "/etc/$f" ] || : >"/etc/$f"
        mount --bind "$REALM/etc-$f" "/etc/$f" || return 1
    done
    rm -f /etc/krb5.keytab
    # nss_wrapper (with_names, daemon_start) sees the same names.
    cp "$REALM/etc-hosts" "$REALM/hosts"
}

_samba_password() { # NAME -> $REALM/NAME.pw (0600), prints it; AD complexity
    local pw
    pw="Ae1-$(openssl rand -hex 10)" || return 1
    (umask 077 && printf '%s\n' "$pw" >"$REALM/$1.pw")
    printf '%s' "$pw"
}

samba_realm_start() {
    need samba samba-tool adcli ldapsearch kinit klist ktutil ip mount openssl
    [ "${AE_AD_NAMESPACE:-}" = "$$" ] || bail "samba_realm_start outside samba_enter's namespace"
    _samba_net || bail "namespace network (veth pair)"
    _samba_etc || bail "namespace /etc (overlay + bind mounts)"
    export KRB5_CONFIG=/etc/krb5.conf
    export KRB5CCNAME="FILE:$REALM/ccache-default"
    export KRB5RCACHEDIR="$REALM/rcache"
    mkdir -p "$KRB5RCACHEDIR"

    local d=$REALM/samba adminpw t0=$SECONDS
    # Everything of this DC under $REALM (two test runs at once never meet in /run/samba).
    mkdir -p "$d/run"
    adminpw=$(_samba_password Administrator) || bail "password"
    AD_ADMIN_PW=$REALM/Administrator.pw
    # -s /dev/null: never copy the host's smb.conf; no DNS forwarder: the
    # machine's resolver must not be asked about anything.
    samba-tool domain provision -s /dev/null --targetdir="$d" --realm="$REALM_NAME" \
        --domain="$AD_NETBIOS" --server-role=dc --dns-backend=SAMBA_INTERNAL \
        --host-name=dc --host-ip="$AD_DC_IP" --adminpass="$adminpw" \
        --option="interfaces = ae-dc" --option="bind interfaces only = yes" \
        --option="dns forwarder = " --option="log file = $d/log.%m" \
        --option="pid directory = $d/run" --option="ncalrpc dir = $d/run/ncalrpc" \
        --option="winbindd socket directory = $d/run/winbindd" \
        --option="ntp signd socket directory = $d/run/ntp_signd" \
        >"$d/provision.log" 2>&1 || { tail -n 20 "$d/provision.log" >&2; bail "samba-tool domain provision"; }
    diag "samba: provisioned in $((SECONDS - t0)) s"
    AD_SMB_CONF=$d/etc/smb.conf
    export AD_SMB_CONF AD_ADMIN_PW
    realm_spawn samba samba --foreground --no-process-group --debug-stdout -s "$AD_SMB_CONF"
    AD_SAMBA_PID=$PID_samba
    wait_for 40 _samba_ready || { tail -n 20 "$REALM/samba.log" >&2; bail "samba did not start"; }

    diag "samba: DC up after $((SECONDS - t0)) s"
    # The join: the host's keytab /etc/krb5.keytab (CLIENT$, host/..., RestrictedKrbHost/...).
    adcli join --verbose --domain="$REALM_DOMAIN" --domain-realm="$REALM_NAME" \
        --domain-controller="$AD_DC_HOST" --host-fqdn="$CLIENT_HOST" \
        --computer-name="${CLIENT_SHORT^^}" --login-user=Administrator --stdin-password \
        <"$AD_ADMIN_PW" >"$REALM/adcli-join.log" 2>&1 \
        || { tail -n 20 "$REALM/adcli-join.log" >&2; bail "adcli join"; }

    diag "samba: joined after $((SECONDS - t0)) s"
    # NDES service account with its SPN; AES keys before the export (else RC4 only).
    local pw
    pw=$(_samba_password svc-ndes) || bail "password"
    samba_tool user create svc-ndes "$pw" >"$d/svc-ndes.log" 2>&1 || bail "user create svc-ndes: $(cat "$d/svc-ndes.log")"
    samba_tool spn add "HTTP/$NDES_HOST" svc-ndes >>"$d/svc-ndes.log" 2>&1 || bail "spn add: $(cat "$d/svc-ndes.log")"
    kinit -c "$REALM/admin.ccache" "Administrator@$REALM_NAME" <"$AD_ADMIN_PW" >/dev/null \
        || bail "kinit Administrator"
    _samba_modify "CN=svc-ndes,CN=Users,$(_samba_base_dn)" msDS-SupportedEncryptionTypes 24 \
        || bail "msDS-SupportedEncryptionTypes on svc-ndes: $(tail -n 3 "$d/ldapmodify.log")"
    samba_tool domain exportkeytab "$REALM/http.keytab" --principal="HTTP/$NDES_HOST" \
        >>"$d/svc-ndes.log" 2>&1 || bail "exportkeytab: $(cat "$d/svc-ndes.log")"
    chgrp www-data "$REALM/http.keytab" && chmod 640 "$REALM/http.keytab" || bail "http.keytab mode"

    # Users.
    local u
    for u in alice bob expired disabled; do
        pw=$(_samba_password "$u") || bail "password"
        local more=()
        # expired: pwdLastSet = 0, the KDC says the password has expired.
        [ "$u" = expired ] && more=(--must-change-at-next-login)
        samba_tool user create "$u" "$pw" "${more[@]}" \
            >>"$d/users.log" 2>&1 || bail "user create $u: $(tail -n 3 "$d/users.log")"
    done
    samba_tool user disable disabled >>"$d/users.log" 2>&1 || bail "user disable"
    # The negative users exist on the client too (nss_wrapper), like alice.
    for u in expired:20005 disabled:20006; do
        echo "${u%%:*}:x:${u##*:}:${u##*:}:${u%%:*}:$REALM/home/${u%%:*}:/bin/sh" >>"$REALM/passwd"
        echo "${u%%:*}:x:${u##*:}:" >>"$REALM/group"
        mkdir -p "$REALM/home/${u%%:*}" && chown "${u##*:}:${u##*:}" "$REALM/home/${u%%:*}"
    done
}

_samba_ready() {
    ldapsearch -LLL -x -H "ldap://$AD_DC_IP" -s base -b "" defaultNamingContext 2>/dev/null |
        grep -q '^defaultNamingContext' && (exec 3<>"/dev/tcp/$AD_DC_IP/88") 2>/dev/null &&
        (exec 3<>"/dev/tcp/$AD_DC_IP/53") 2>/dev/null
}

_samba_base_dn() { echo "DC=${REALM_DOMAIN//./,DC=}"; }

# _samba_modify DN ATTR VALUE : replace one attribute over LDAP, as Administrator.
_samba_modify() {
    printf 'dn: %s\nchangetype: modify\nreplace: %s\n%s: %s\n' "$1" "$2" "$2" "$3" |
        KRB5CCNAME="$REALM/admin.ccache" ldapmodify -Q -Y GSSAPI -H "ldap://$AD_DC_HOST" \
        >>"$REALM/samba/ldapmodify.log" 2>&1
}

# samba_sid computer|user NAME : objectSid as `samba-tool KIND show` prints it.
samba_sid() {
    samba_tool "$1" show "$2" --attributes=objectSid 2>/dev/null | sed -n 's/^objectSid: //p'
}

# ldap_sid CCACHE FILTER : objectSid over LDAP with GSSAPI, as the cache's owner.
ldap_sid() {
    KRB5CCNAME=$1 ldapsearch -LLL -Q -Y GSSAPI -H "ldap://$AD_DC_HOST" -b "$(_samba_base_dn)" \
        "$2" objectSid 2>"$REALM/ldapsearch.err" | sed -n 's/^objectSid:: //p' | _sid_from_base64
}

# The binary SID (base64, as ldapsearch prints it) as S-1-...
_sid_from_base64() {
    /usr/bin/python3 -c '
import base64, struct, sys
for line in sys.stdin:
    b = base64.b64decode(line.strip())
    rev, n = b[0], b[1]
    auth = int.from_bytes(b[2:8], "big")
    subs = struct.unpack("<%dI" % n, b[8:8 + 4 * n])
    print("S-%d-%d%s" % (rev, auth, "".join("-%d" % s for s in subs)))'
}

samba_kinit_user() { kinit -c "$2" "$1@$REALM_NAME" <"$REALM/$1.pw" >/dev/null; }
