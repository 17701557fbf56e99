# shellcheck shell=bash
# Debian's scepserver (package scep) as a test SCEP peer.
#
#   scep_start [--challenge VALUE | --ndes-challenges] [--valid-days N]
#
# A test CA made with openssl (CN, keyUsage digitalSignature+keyEncipherment+
# keyCertSign+cRLSign; key as encrypted traditional PKCS#1, password in
# SCEP_CA_PASS), depot/index.txt present, -allowrenew 0. scepserver binds every
# interface, so it runs in its own network namespace (unshare -n, lo up) and is
# relayed with socat to a unix socket $REALM/scep.sock (for Apache:
# ProxyPass unix:$REALM/scep.sock|http://localhost/scep) and to a free
# 127.0.0.1 port.
#
# Challenge modes: a static challenge (default: random, exported as
# SCEP_CHALLENGE), or --ndes-challenges: one-time challenges through
# scepserver's CSR-verifier hook: a challenge is valid iff the empty file
# $REALM/ndes/challenges/<CHALLENGE> exists, and the verifier deletes it.
# scep_new_challenge makes one and prints it.
#
# Exports: SCEP_URL SCEP_PORT SCEP_SOCK SCEP_DEPOT SCEP_CA_CERT
#          SCEP_CA_FINGERPRINT (sha256:AB:..) SCEP_CHALLENGE (static mode)
#          SCEP_CHALLENGE_DIR (one-time mode)
# scepserver only ever answers with single-DES envelopes and SHA-1: clients
# must be told allow_des for it.

scep_start() {
    local challenge="" onetime=0 days=365
    while [ $# -gt 0 ]; do
        case $1 in
            --challenge) challenge=$2; shift 2 ;;
            --ndes-challenges) onetime=1; shift ;;
            --valid-days) days=$2; shift 2 ;;
            *) bail "scep_start: unknown option $1" ;;
        esac
    done
    need scepserver socat unshare ip openssl
    SCEP_DEPOT=$REALM/scep/depot
    mkdir -p "$SCEP_DEPOT"
    SCEP_CA_PASS=$(openssl rand -hex 12)
    export SCEP_CA_PASS
    openssl genrsa -traditional -des3 -passout env:SCEP_CA_PASS -out "$SCEP_DEPOT/ca.key" 2048 \
        >"$REALM/scep/openssl.log" 2>&1 || bail "scep: CA key generation failed"
    openssl req -x509 -new -key "$SCEP_DEPOT/ca.key" -passin env:SCEP_CA_PASS -sha256 -days 3650 \
        -subj "/O=Autoenroll Test/CN=Autoenroll Test SCEP CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" \
        -out "$SCEP_DEPOT/ca.pem" >>"$REALM/scep/openssl.log" 2>&1 || bail "scep: CA certificate failed"
    : >"$SCEP_DEPOT/index.txt"
    echo 02 >"$SCEP_DEPOT/serial"
    SCEP_CA_CERT=$SCEP_DEPOT/ca.pem
    SCEP_CA_FINGERPRINT=sha256:$(openssl x509 -in "$SCEP_CA_CERT" -noout -fingerprint -sha256 | sed 's/.*=//')

    local args=(-depot "$SCEP_DEPOT" -port 8080 -allowrenew 0 -crtvalid "$days" -debug)
    if [ $onetime = 1 ]; then
        SCEP_CHALLENGE_DIR=$REALM/ndes/challenges
        mkdir -p "$SCEP_CHALLENGE_DIR"
        cat >"$REALM/scep/verify-challenge" <<VERIFY
#!/bin/bash
# scepserver CSR verifier: the CSR (DER) comes on stdin; exit 0 accepts it.
# A challenge is valid once: its file must exist and is removed here.
dir='$SCEP_CHALLENGE_DIR'
csr=\$(mktemp)
trap 'rm -f "\$csr"' EXIT
cat >"\$csr"
c=\$(openssl req -inform DER -in "\$csr" -noout -text 2>/dev/null |
    sed -n 's/^ *challengePassword *: *//p' | head -n 1)
case \$c in ''|*[!A-Za-z0-9]*) echo "verifier: no usable challenge" >&2; exit 1 ;; esac
if rm "\$dir/\$c" 2>/dev/null; then echo "verifier: challenge accepted" >&2; exit 0; fi
echo "verifier: unknown or used challenge" >&2
exit 1
VERIFY
        chmod 755 "$REALM/scep/verify-challenge"
        args+=(-csrverifierexec "$REALM/scep/verify-challenge")
        unset SCEP_CHALLENGE
    else
        SCEP_CHALLENGE=${challenge:-$(openssl rand -hex 8 | tr a-f A-F)}
        export SCEP_CHALLENGE
        args+=(-challenge "$SCEP_CHALLENGE")
    fi

    SCEP_SOCK=$REALM/scep.sock
    rm -f "$SCEP_SOCK"
    # In a private network namespace: lo up, scepserver on 8080, socat
    # relaying the unix socket (a path: reachable from outside) to it.
    cat >"$REALM/scep/run" <<RUN
#!/bin/bash
ip link set lo up || exit 1
socat UNIX-LISTEN:'$SCEP_SOCK',fork,mode=666 TCP:127.0.0.1:8080 &
exec scepserver ${args[*]@Q}
RUN
    chmod 755 "$REALM/scep/run"
    realm_spawn scepserver unshare -n "$REALM/scep/run"
    SCEP_PORT=$(free_port) || bail "scep: no free port"
    realm_spawn scep-relay socat "TCP-LISTEN:$SCEP_PORT,bind=127.0.0.1,fork,reuseaddr" \
        "UNIX-CONNECT:$SCEP_SOCK"
    SCEP_URL=http://127.0.0.1:$SCEP_PORT/scep
    export SCEP_URL SCEP_PORT SCEP_SOCK SCEP_DEPOT SCEP_CA_CERT SCEP_CA_FINGERPRINT SCEP_CHALLENGE_DIR
    wait_for 20 _scep_ready || bail "scepserver did not come up (see $REALM/scepserver.log: $(tail -n 3 "$REALM/scepserver.log" 2>/dev/null))"
}

_scep_ready() {
    [ -S "$SCEP_SOCK" ] && curl -sf --max-time 2 "$SCEP_URL?operation=GetCACaps" | grep -qi sha-256
}

# Make a one-time challenge (16 uppercase hex digits, like NDES) and print it.
scep_new_challenge() {
    local c
    c=$(openssl rand -hex 8 | tr a-f A-F)
    : >"$SCEP_CHALLENGE_DIR/$c"
    echo "$c"
}
