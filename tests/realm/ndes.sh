# shellcheck shell=bash
# The NDES stand-in: a private Apache with mod_auth_gssapi (needs kdc.sh's
# kdc_start first).
#
#   ndes_start  start Apache on free 127.0.0.1 ports (HTTP + HTTPS); exports
#     NDES_PORT NDES_TLS_PORT
#     NDES_URL          http://ndes.autoenroll.test:PORT
#     NDES_TLS_URL      https://ndes.autoenroll.test:TLSPORT   (CA: $REALM/tls-ca.pem)
#     NDES_ADMIN_URL    $NDES_URL/certsrv/mscep_admin/        (Negotiate, challenge page)
#     NDES_SCEP_URL     $NDES_URL/certsrv/mscep/mscep.dll     (anonymous, proxied)
#     NDES_NEG_URL      $NDES_URL/neg  (same tree, but mscep.dll needs Negotiate too)
#     NDES_NEG_SCEP_URL $NDES_NEG_URL/certsrv/mscep/mscep.dll
#     NDES_DIR          $REALM/ndes (mode, denied, challenges/ as below)
#   Broken NDES servers, each a prefix before /certsrv/mscep_admin/:
#     NDES_STALE_URL    $NDES_URL/stale: Negotiate with an old key (401 after a token)
#     NDES_NTLM_URL     $NDES_URL/ntlm:  401 offering NTLM only
#     NDES_INTUNE_URL   $NDES_URL/intune: 403 (policy module)
#     NDES_DOWN_URL     $NDES_URL/down:  503
#     NDES_BUSY_SCEP_URL  mscep.dll under /busy: caps and CA certs, but 503 for PKIOperation
#   ndes_mode MODE   english|japanese|nobom|utf8|long|cachefull|nopermission|garbage
#   ndes_deny USER   USER gets the "no permission" page
#   ndes_stop
#   ndes_restart     the same server again (same ports), with $NDES_CLOCK (e.g. +10m: a wrong clock)
#
# mscep.dll (and mscep.dll/pkiclient.exe) is proxied to the SCEP server on
# the unix socket $REALM/scep.sock (tests/realm/scep.sh creates it).
# Every challenge issued is an empty file $NDES_DIR/challenges/<CHALLENGE>;
# whoever verifies a CSR consumes it by deleting it.

NDES_APACHE_MODULES=/usr/lib/apache2/modules

_ndes_tls() {
    local d=$NDES_DIR/tls
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=autoenroll test TLS CA" \
        -keyout "$d/ca.key" -out "$REALM/tls-ca.pem" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        >"$d/openssl.log" 2>&1 || return 1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$NDES_HOST" -keyout "$d/server.key" \
        -out "$d/server.csr" >>"$d/openssl.log" 2>&1 || return 1
    printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' \
        "$NDES_HOST" >"$d/ext.cnf"
    openssl x509 -req -in "$d/server.csr" -CA "$REALM/tls-ca.pem" -CAkey "$d/ca.key" \
        -CAcreateserial -days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" >>"$d/openssl.log" 2>&1 || return 1
    chmod 644 "$REALM/tls-ca.pem"
}

_ndes_write_conf() {
    local m=$NDES_APACHE_MODULES sock="$REALM/scep.sock"
    cat >"$NDES_DIR/httpd.conf" <<EOF
ServerRoot "$NDES_DIR"
ServerName $NDES_HOST
PidFile "$NDES_DIR/run/httpd.pid"
DefaultRuntimeDir "$NDES_DIR/run"
Mutex file:$NDES_DIR/run default
ErrorLog "$NDES_DIR/error.log"
LogLevel warn auth_gssapi:debug proxy:info
LogFormat "%h %u \"%r\" %>s %b" short
CustomLog "$NDES_DIR/access.log" short
User www-data
Group www-data
Listen 127.0.0.1:$NDES_PORT
Listen 127.0.0.1:$NDES_TLS_PORT
Timeout 30
KeepAlive On

LoadModule mpm_prefork_module $m/mod_mpm_prefork.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule authn_core_module $m/mod_authn_core.so
LoadModule authz_user_module $m/mod_authz_user.so
LoadModule auth_gssapi_module $m/mod_auth_gssapi.so
LoadModule alias_module $m/mod_alias.so
LoadModule cgi_module $m/mod_cgi.so
LoadModule env_module $m/mod_env.so
LoadModule proxy_module $m/mod_proxy.so
LoadModule proxy_http_module $m/mod_proxy_http.so
LoadModule socache_shmcb_module $m/mod_socache_shmcb.so
LoadModule ssl_module $m/mod_ssl.so

StartServers 2
MinSpareServers 2
MaxSpareServers 6
SSLSessionCache shmcb:$NDES_DIR/run/ssl_scache(512000)
SSLRandomSeed startup builtin

<Directory />
    AllowOverride None
    Require all denied
</Directory>
DocumentRoot "$NDES_DIR/htdocs"
<Directory "$NDES_DIR/htdocs">
    Require all granted
</Directory>
<Directory "$NDES_DIR/cgi">
    Options +ExecCGI
    Require all granted
</Directory>

SetEnv NDES_DIR "$NDES_DIR"

# IIS answers 301 for the admin page without its trailing slash.
RedirectMatch 301 ^((?:/neg)?/certsrv/mscep_admin)\$ \$1/
ScriptAliasMatch ^(?:/neg|/stale|/ntlm|/intune|/down)?/certsrv/mscep_admin/\$ "$NDES_DIR/cgi/mscep_admin.cgi"

# SCEP: anonymous under /certsrv, Negotiate under /neg/certsrv. ProxyPass takes
# the first match: the longer path first.
ProxyPass /certsrv/mscep/mscep.dll/pkiclient.exe "unix:$sock|http://localhost/scep"
ProxyPass /certsrv/mscep/mscep.dll "unix:$sock|http://localhost/scep"
ProxyPass /neg/certsrv/mscep/mscep.dll/pkiclient.exe "unix:$sock|http://localhost/scep"
ProxyPass /neg/certsrv/mscep/mscep.dll "unix:$sock|http://localhost/scep"
ProxyPass /busy/certsrv/mscep/mscep.dll "unix:$sock|http://localhost/scep"

<LocationMatch "^(/neg)?/certsrv/mscep_admin/">
    AuthType GSSAPI
    AuthName "NDES"
    GssapiCredStore keytab:$REALM/http.keytab
    GssapiAllowedMech krb5
    GssapiBasicAuth Off
    Require valid-user
</LocationMatch>
<LocationMatch "^/stale/certsrv/mscep_admin/">
    AuthType GSSAPI
    AuthName "NDES"
    GssapiCredStore keytab:$REALM/http-stale.keytab
    GssapiAllowedMech krb5
    GssapiBasicAuth Off
    Require valid-user
</LocationMatch>
# Declared after the anonymous default so it wins the merge for /neg paths.
<LocationMatch "^/neg/certsrv/mscep/mscep\.dll">
    AuthType GSSAPI
    AuthName "NDES"
    GssapiCredStore keytab:$REALM/http.keytab
    GssapiAllowedMech krb5
    GssapiBasicAuth Off
    Require valid-user
</LocationMatch>

# /busy: GetCACaps and GetCACert answered, every PKIOperation 503 (an NDES
# whose CA is overloaded): a server that fails once the request is built.
<LocationMatch "^/busy/certsrv/mscep/mscep\.dll">
    <If "%{QUERY_STRING} =~ /operation=PKIOperation/">
        Redirect 503
    </If>
</LocationMatch>

<VirtualHost 127.0.0.1:$NDES_TLS_PORT>
    ServerName $NDES_HOST
    SSLEngine on
    SSLCertificateFile "$NDES_DIR/tls/server.pem"
    SSLCertificateKeyFile "$NDES_DIR/tls/server.key"
</VirtualHost>
EOF
}

ndes_mode() { printf '%s\n' "$1" >"$NDES_DIR/mode"; }
ndes_deny() { printf '%s\n' "$1" >>"$NDES_DIR/denied"; }

ndes_start() {
    need apache2 openssl /usr/bin/python3
    [ -e "$NDES_APACHE_MODULES/mod_auth_gssapi.so" ] || bail "missing mod_auth_gssapi (libapache2-mod-auth-gssapi)"
    [ -n "${KRB5_CONFIG:-}" ] || bail "ndes_start needs kdc_start first"
    NDES_DIR=$REALM/ndes
    NDES_PORT=$(free_port) || bail "no free port"
    NDES_TLS_PORT=$(free_port) || bail "no free port"
    NDES_URL=http://$NDES_HOST:$NDES_PORT
    NDES_TLS_URL=https://$NDES_HOST:$NDES_TLS_PORT
    NDES_ADMIN_URL=$NDES_URL/certsrv/mscep_admin/
    NDES_SCEP_URL=$NDES_URL/certsrv/mscep/mscep.dll
    NDES_NEG_URL=$NDES_URL/neg
    NDES_NEG_SCEP_URL=$NDES_NEG_URL/certsrv/mscep/mscep.dll
    NDES_STALE_URL=$NDES_URL/stale
    NDES_NTLM_URL=$NDES_URL/ntlm
    NDES_INTUNE_URL=$NDES_URL/intune
    NDES_DOWN_URL=$NDES_URL/down
    NDES_BUSY_SCEP_URL=$NDES_URL/busy/certsrv/mscep/mscep.dll
    export NDES_STALE_URL NDES_NTLM_URL NDES_INTUNE_URL NDES_DOWN_URL NDES_BUSY_SCEP_URL
    export NDES_DIR NDES_PORT NDES_TLS_PORT NDES_URL NDES_TLS_URL NDES_ADMIN_URL NDES_SCEP_URL \
        NDES_NEG_URL NDES_NEG_SCEP_URL

    mkdir -p "$NDES_DIR"/{run,cgi,htdocs,challenges,issued,rcache}
    install -m 755 "$REALM_LIB/ndes-admin.cgi" "$NDES_DIR/cgi/mscep_admin.cgi"
    : >"$NDES_DIR/denied"
    : >"$NDES_DIR/lock"
    ndes_mode english
    # The CGI runs as www-data; the SCEP side (root) deletes used challenges.
    chown www-data:www-data "$NDES_DIR/challenges" "$NDES_DIR/issued" "$NDES_DIR/rcache" \
        "$NDES_DIR/lock" "$NDES_DIR/run"
    chmod 755 "$NDES_DIR" "$NDES_DIR/cgi"
    chmod 644 "$NDES_DIR/mode" "$NDES_DIR/denied"
    _ndes_tls || { cat "$NDES_DIR/tls/openssl.log" >&2; bail "TLS test CA"; }
    _ndes_write_conf
    apache2 -t -f "$NDES_DIR/httpd.conf" >"$NDES_DIR/configtest.log" 2>&1 \
        || { cat "$NDES_DIR/configtest.log" >&2; bail "apache2 config test failed"; }
    _ndes_spawn
}

# NDES_CLOCK=OFFSET (e.g. +10m): apache and its CGI see a clock that far off
# (libfaketime), as an NDES whose time is wrong.
_ndes_spawn() {
    realm_clock "${NDES_CLOCK:-}"
    # mod_auth_gssapi reads the environment: the test krb5.conf and a private
    # replay cache (the default /var/tmp is shared).
    KRB5RCACHEDIR="$NDES_DIR/rcache" KRB5_KTNAME="$REALM/http.keytab" \
        realm_spawn apache2 "${CLOCK_ENV[@]}" apache2 -f "$NDES_DIR/httpd.conf" -DFOREGROUND
    NDES_PID=$PID_apache2
    wait_for 30 port_open "$NDES_PORT" && wait_for 30 port_open "$NDES_TLS_PORT" \
        || { cat "$REALM/apache2.log" "$NDES_DIR/error.log" >&2; bail "apache2 did not start"; }
}

# ndes_restart : the same server (ports, keys, challenges) started again,
# with $NDES_CLOCK as it is now.
ndes_restart() {
    ndes_stop
    wait_for 10 _ndes_ports_free || bail "apache2 did not let its ports go"
    _ndes_spawn
}
_ndes_ports_free() { ! port_open "$NDES_PORT" && ! port_open "$NDES_TLS_PORT"; }

ndes_stop() {
    [ -n "${NDES_PID:-}" ] || return 0
    kill -TERM -- "-$NDES_PID" 2>/dev/null || kill -TERM "$NDES_PID" 2>/dev/null
    local i
    for i in $(seq 1 50); do kill -0 "$NDES_PID" 2>/dev/null || break; sleep 0.1; done
    NDES_PID=
}

# ndes_decode FILE : print a fetched admin page as UTF-8 (BOM or not).
ndes_decode() {
    /usr/bin/python3 -c '
import sys
b = open(sys.argv[1], "rb").read()
if b.startswith(b"\xff\xfe"):
    t = b[2:].decode("utf-16-le")
elif len(b) > 1 and b[1] == 0:
    t = b.decode("utf-16-le")
else:
    t = b.decode("utf-8")
sys.stdout.write(t)' "$1"
}
