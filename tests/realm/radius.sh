# shellcheck shell=bash
# A private FreeRADIUS (EAP-TLS) on 127.0.0.1 for the consumer tests, and
# certificates signed directly by the realm's test SCEP CA (scep.sh) for the
# servers and for the negative cases (expired, revoked, another CA).
#
#   testca_init                       an `openssl ca` database over the SCEP CA
#   testca_issue NAME CN [--key KEY] [--server] [--expired]
#                                     $REALM/testca/NAME.{key,pem}, signed by
#                                     the test CA (KEY: reuse an existing key)
#   testca_revoke PEM                 revoke it and rewrite $TESTCA_CRL
#   other_ca_issue NAME CN            a certificate from an unrelated CA
#   radius_start [--crl]              radiusd -X with a private raddb: EAP-TLS,
#                                     server certificate from the test CA,
#                                     trusting the test CA (and its CRL)
#   eap_tls CONF                      eapol_test against it; 0 = Access-Accept
#
# Exports: RADIUS_PORT RADIUS_SECRET RADIUS_DIR TESTCA_CRL
# Needs scep.sh's scep_start first (SCEP_DEPOT, SCEP_CA_CERT, SCEP_CA_PASS).

testca_init() {
    need openssl
    TESTCA=$REALM/testca
    mkdir -p "$TESTCA/new"
    : >"$TESTCA/index.txt"
    echo 1000 >"$TESTCA/serial"
    echo 1000 >"$TESTCA/crlnumber"
    TESTCA_CRL=$TESTCA/crl.pem
    cat >"$TESTCA/ca.cnf" <<CNF
[ca]
default_ca = testca
[testca]
dir = $TESTCA
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
crlnumber = \$dir/crlnumber
certificate = $SCEP_CA_CERT
private_key = $SCEP_DEPOT/ca.key
default_md = sha256
default_days = 30
default_crl_days = 7
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:\$ENV::SAN
CNF
    export TESTCA TESTCA_CRL
    testca_gencrl
}

testca_gencrl() {
    SAN=unused openssl ca -batch -config "$TESTCA/ca.cnf" -passin env:SCEP_CA_PASS -gencrl -out "$TESTCA_CRL" \
        >>"$TESTCA/openssl.log" 2>&1 || bail "testca: CRL failed: $(tail -3 "$TESTCA/openssl.log")"
}

testca_issue() {
    local name=$1 cn=$2 key="" ext=client dates=()
    shift 2
    while [ $# -gt 0 ]; do
        case $1 in
            --key) key=$2; shift 2 ;;
            --server) ext=server; shift ;;
            --expired) dates=(-startdate 20200101000000Z -enddate 20200201000000Z); shift ;;
            *) bail "testca_issue: unknown option $1" ;;
        esac
    done
    if [ -z "$key" ]; then
        key=$TESTCA/$name.key
        openssl genrsa -out "$key" 2048 >>"$TESTCA/openssl.log" 2>&1 || bail "testca: key failed"
    fi
    openssl req -new -key "$key" -subj "/CN=$cn" -out "$TESTCA/$name.csr" >>"$TESTCA/openssl.log" 2>&1 ||
        bail "testca: CSR for $name failed"
    SAN=$cn openssl ca -batch -notext -config "$TESTCA/ca.cnf" -passin env:SCEP_CA_PASS -extensions "$ext" \
        "${dates[@]}" -in "$TESTCA/$name.csr" -out "$TESTCA/$name.pem" >>"$TESTCA/openssl.log" 2>&1 ||
        bail "testca: signing $name failed: $(tail -3 "$TESTCA/openssl.log")"
}

# testca_revoke PEM : revoke any certificate of the test CA (also one that
# autoenrolld got through scepserver) and publish a new CRL.
testca_revoke() {
    local serial subj
    serial=$(openssl x509 -in "$1" -noout -serial | sed 's/.*=//')
    if ! grep -q "	$serial	" "$TESTCA/index.txt"; then
        # Not issued here: add it to the database so `openssl ca` can revoke it.
        subj=$(openssl x509 -in "$1" -noout -subject -nameopt compat | sed 's/^subject=//')
        printf 'V\t%s\t\t%s\tunknown\t%s\n' \
            "$(date -u -d "$(openssl x509 -in "$1" -noout -enddate | sed 's/.*=//')" +%y%m%d%H%M%SZ)" \
            "$serial" "$subj" >>"$TESTCA/index.txt"
    fi
    SAN=unused openssl ca -batch -config "$TESTCA/ca.cnf" -passin env:SCEP_CA_PASS -revoke "$1" \
        >>"$TESTCA/openssl.log" 2>&1 || bail "testca: revoke failed: $(tail -3 "$TESTCA/openssl.log")"
    testca_gencrl
}

other_ca_issue() {
    local name=$1 cn=$2 d=$REALM/otherca
    mkdir -p "$d"
    [ -f "$d/ca.pem" ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -days 30 \
        -subj "/CN=Another CA" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$d/ca.pem" >>"$d/openssl.log" 2>&1 ||
        bail "other CA failed"
    openssl req -new -newkey rsa:2048 -nodes -keyout "$d/$name.key" -subj "/CN=$cn" \
        -out "$d/$name.csr" >>"$d/openssl.log" 2>&1 &&
        openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 10 \
            -extfile <(printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n') \
            -out "$d/$name.pem" >>"$d/openssl.log" 2>&1 || bail "other CA: $name failed"
}

radius_start() {
    local crl=no
    [ "${1:-}" = --crl ] && crl=yes
    need freeradius eapol_test openssl
    RADIUS_DIR=$REALM/raddb
    RADIUS_PORT=$(free_port)
    RADIUS_SECRET=$(openssl rand -hex 12)
    export RADIUS_DIR RADIUS_PORT RADIUS_SECRET
    mkdir -p "$RADIUS_DIR/run" "$RADIUS_DIR/log"
    [ -f "$TESTCA/radius.pem" ] || testca_issue radius radius.autoenroll.test --server
    # The CA file holds the CA and, with --crl, its CRL (OpenSSL loads both).
    cat "$SCEP_CA_CERT" >"$RADIUS_DIR/ca.pem"
    [ $crl = yes ] && cat "$TESTCA_CRL" >>"$RADIUS_DIR/ca.pem"
    cat >"$RADIUS_DIR/radiusd.conf" <<CONF
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = $RADIUS_DIR
sbindir = /usr/sbin
logdir = $RADIUS_DIR/log
raddbdir = $RADIUS_DIR
radacctdir = $RADIUS_DIR/acct
name = radiusd
confdir = $RADIUS_DIR
modconfdir = $RADIUS_DIR
certdir = $RADIUS_DIR
cadir = $RADIUS_DIR
run_dir = $RADIUS_DIR/run
db_dir = $RADIUS_DIR
libdir = /usr/lib/freeradius
dictdir = /usr/share/freeradius
pidfile = $RADIUS_DIR/run/radiusd.pid
max_request_time = 30
cleanup_delay = 1
max_requests = 1024
hostname_lookups = no
log {
	destination = stdout
	auth = yes
	auth_badpass = no
	auth_goodpass = no
}
security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = no
}
thread pool {
	start_servers = 1
	max_servers = 4
	min_spare_servers = 1
	max_spare_servers = 2
	max_requests_per_server = 0
}
client localhost {
	ipaddr = 127.0.0.1
	secret = $RADIUS_SECRET
}
modules {
	eap {
		default_eap_type = tls
		timer_expire = 60
		ignore_unknown_eap_types = no
		max_sessions = 16
		tls-config tls-common {
			private_key_file = $TESTCA/radius.key
			certificate_file = $TESTCA/radius.pem
			ca_file = $RADIUS_DIR/ca.pem
			check_crl = $crl
			cipher_list = "DEFAULT"
			tls_min_version = "1.2"
			tls_max_version = "1.2"
			ecdh_curve = "prime256v1"
			cache {
				enable = no
			}
		}
		tls {
			tls = tls-common
		}
	}
}
server default {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $RADIUS_PORT
	}
	authorize {
		eap {
			ok = return
		}
	}
	authenticate {
		eap
	}
}
CONF
    : >"$RADIUS_DIR/dictionary"
    realm_spawn radiusd freeradius -X -d "$RADIUS_DIR"
    RADIUS_PID=$PID_radiusd
    wait_for 15 grep -q "Ready to process requests" "$REALM/radiusd.log" ||
        bail "freeradius did not start: $(tail -15 "$REALM/radiusd.log")"
}

radius_stop() {
    kill -TERM -- "-$RADIUS_PID" 2>/dev/null
    wait_for 10 sh -c "! kill -0 $RADIUS_PID 2>/dev/null"
    mv "$REALM/radiusd.log" "$REALM/radiusd.$RADIUS_PID.log"
}

# eap_tls CONF [LOG] : one EAP-TLS exchange; the output goes to LOG
# (default $REALM/eapol_test.log, appended).
eap_tls() {
    local log=${2:-$REALM/eapol_test.log}
    echo "=== eapol_test -c $1" >>"$log"
    timeout 30 eapol_test -c "$1" -a 127.0.0.1 -p "$RADIUS_PORT" -s "$RADIUS_SECRET" -r 0 -t 15 \
        >>"$log" 2>&1
}
