# shellcheck shell=bash
# A static GetCACaps/GetCACert responder on $REALM/scep.sock, behind the
# NDES stand-in's mscep.dll proxy, for tests of the Kerberos/NDES side that
# need no enrollment (diagnose, Negotiate on mscep.dll). It answers like NDES:
# GetCACaps as text, GetCACert as a certs-only PKCS#7 (CA + two RA certs,
# one for keyEncipherment, one for digitalSignature). Real enrollment tests
# use tests/realm/scep.sh (scepserver) or the NDES emulator instead.
#
#   cacert_start   -> $REALM/cacert/{ca,ra-enc,ra-sig}.pem, ca-ra.p7b
#   cacert_stop

_cacert_cert() { # NAME SUBJECT KU [CA]
    local d=$REALM/cacert
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$d/$1.key" -out "$d/$1.csr" 2>>"$d/openssl.log" || return 1
    printf 'keyUsage=critical,%s\nbasicConstraints=critical,CA:FALSE\n' "$3" >"$d/$1.ext"
    openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
        -extfile "$d/$1.ext" -out "$d/$1.pem" 2>>"$d/openssl.log"
}

cacert_start() {
    need openssl socat
    local d=$REALM/cacert
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=Autoenroll Test Issuing CA" \
        -keyout "$d/ca.key" -out "$d/ca.pem" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>>"$d/openssl.log" || bail "CA cert"
    _cacert_cert ra-enc "/CN=NDES-RA Exchange" keyEncipherment || bail "RA enc cert"
    _cacert_cert ra-sig "/CN=NDES-RA Signature" digitalSignature || bail "RA sig cert"
    openssl crl2pkcs7 -nocrl -certfile "$d/ca.pem" -certfile "$d/ra-enc.pem" -certfile "$d/ra-sig.pem" \
        -outform DER -out "$d/ca-ra.p7b" 2>>"$d/openssl.log" || bail "PKCS#7"
    printf 'POSTPKIOperation\r\nRenewal\r\nSHA-256\r\nSHA-512\r\nAES\r\nDES3\r\nGetNextCACert\r\n' >"$d/caps"
    cat >"$d/respond.sh" <<'SH'
#!/bin/bash
# One HTTP request on stdin, one answer on stdout.
read -r _ target _
while read -r h && [ "${h%$'\r'}" != "" ]; do :; done
d=$(dirname "$0")
case "$target" in
*operation=GetCACaps*) ct=text/plain; f=$d/caps ;;
*operation=GetCACert*) ct=application/x-x509-ca-ra-cert; f=$d/ca-ra.p7b ;;
*) printf 'HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n'; exit 0 ;;
esac
printf 'HTTP/1.0 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n' "$ct" "$(stat -c %s "$f")"
cat "$f"
SH
    chmod 755 "$d/respond.sh"
    rm -f "$REALM/scep.sock"
    realm_spawn cacert socat "UNIX-LISTEN:$REALM/scep.sock,fork,mode=666" EXEC:"$d/respond.sh"
    CACERT_PID=$PID_cacert
    wait_for 5 test -S "$REALM/scep.sock" || bail "cacert responder did not start"
}

cacert_stop() {
    [ -n "${CACERT_PID:-}" ] || return 0
    kill -TERM -- "-$CACERT_PID" 2>/dev/null || kill -TERM "$CACERT_PID" 2>/dev/null
    CACERT_PID=
    rm -f "$REALM/scep.sock"
}
