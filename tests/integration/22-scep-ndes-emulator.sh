#!/bin/bash
# The SCEP engine (through ae-scep) against the NDES emulator: separate RA
# certificates, 3DES + SHA-1 replies, one-time challenges and their HRESULT
# failures, PENDING then CertPoll (also across a restart of the client),
# GetCRL, GetNextCACert, RenewalReq, no caps (GET + SHA-1), HTML errors.
. "$top_srcdir/tests/realm/lib.sh"
. "$top_srcdir/tests/realm/ndes-emulator.sh"
realm_init
need openssl
AE=$top_builddir/tests/tools/ae-scep
[ -x "$AE" ] || bail "ae-scep not built"

W=$REALM/work
mkdir -p "$W"
openssl genrsa -out "$W/key.pem" 2048 2>/dev/null || bail "keygen"
openssl genrsa -out "$W/key2.pem" 2048 2>/dev/null || bail "keygen"

grep_out() { local pat=$1 out; shift; out=$("$@" 2>&1); printf '%s\n' "$out"; grep -q -- "$pat" <<<"$out"; }
rc_is() { local want=$1 rc; shift; "$@"; rc=$?; echo "exit $rc (want $want)"; [ "$rc" = "$want" ]; }
same_key() { [ "$(openssl x509 -in "$1" -noout -pubkey)" = "$(openssl pkey -in "$2" -pubout)" ]; }
challenge() { ndes_emulator_challenge >"$W/$1" && [ -s "$W/$1" ]; }
enroll() { # CHALLENGE-NAME OUT [more args]
    local c=$1 out=$2
    shift 2
    "$AE" enroll --url "$NDES_EMU_URL" --ca-fingerprint "$NDES_EMU_CA_FINGERPRINT" \
        --key "$W/key.pem" --challenge-file "$W/$c" --dns "$CLIENT_HOST" --out "$W/$out" "$@"
}

# --- the default emulator: RA split, 3DES+SHA-1 replies, one-time challenges
ndes_emulator_start --valid-seconds 600
ok "GetCACert: three certificates, RA split" sh -c \
    "'$AE' getcacert --url '$NDES_EMU_URL' --ca-fingerprint '$NDES_EMU_CA_FINGERPRINT' >'$W/cacert.txt' &&
     grep -q 'certs: 3' '$W/cacert.txt' &&
     [ \"\$(sed -n 's/^encrypt: //p' '$W/cacert.txt')\" != \"\$(sed -n 's/^signer: //p' '$W/cacert.txt')\" ] &&
     [ \"\$(sed -n 's/^ca: //p' '$W/cacert.txt')\" = '$NDES_EMU_CA_FINGERPRINT' ]"
ok "GetCACaps without AES: requests use 3DES and SHA-256" \
    grep_out "cipher: DES-EDE3-CBC" "$AE" getcacaps --url "$NDES_EMU_URL"
ok "a challenge from the UTF-16LE admin page" challenge c1
ok "enroll: SUCCESS from a 3DES + SHA-1 reply" grep_out "status: SUCCESS" enroll c1 cert.pem
ok "the emulator decrypted a 3DES request and saw SHA-256" sh -c \
    "grep -q 'request envelope cipher tripledes_3key' '$NDES_EMU_LOG' && grep -q 'digest sha256' '$NDES_EMU_LOG'"
ok "certificate chains to the emulator's CA" openssl verify -CAfile "$NDES_EMU_CA_CERT" "$W/cert.pem"
ok "certificate carries our key" same_key "$W/cert.pem" "$W/key.pem"
ok "lifetime as configured (10 minutes)" sh -c \
    "openssl x509 -in '$W/cert.pem' -noout -checkend 300 && ! openssl x509 -in '$W/cert.pem' -noout -checkend 900"

challenge u1
ok "user-style request: UPN otherName, SID URI" grep_out "status: SUCCESS" enroll u1 user.pem \
    --subject "CN=alice" --upn "alice@$REALM_NAME" --sid S-1-5-21-1-2-3-1104
ok "the CA issued the UPN and SID URI it was asked for" sh -c \
    "openssl x509 -in '$W/user.pem' -noout -ext subjectAltName | grep -Eq 'UPN::?alice@$REALM_NAME' &&
     openssl x509 -in '$W/user.pem' -noout -ext subjectAltName | grep -q 'URI:tag:microsoft.com,2022-09-14:sid:S-1-5-21-1-2-3-1104' &&
     openssl x509 -in '$W/user.pem' -noout -ext extendedKeyUsage | grep -q 'TLS Web Client Authentication'"
ok "reused challenge: rejected (exit 2)" rc_is 2 enroll c1 reused.pem
ok "reused challenge: 'already used', HRESULT 0x800B0110" \
    grep_out "challenge password was already used \[HRESULT 0x800B0110\]" enroll c1 reused.pem
echo 0123456789ABCDEF >"$W/made-up"
ok "unknown challenge: HRESULT 0x80070490 explained" \
    grep_out "does not know the challenge password.*0x80070490" enroll made-up x.pem
challenge c2
ok "bad subject: HRESULT 0x80094001 explained" \
    grep_out "refused the request subject (bad subject)" enroll c2 x.pem --subject "CN=bad-subject"
challenge c3
ok "CA down: HRESULT 0x800706BA explained" \
    grep_out "NDES cannot reach the CA" enroll c3 x.pem --subject "CN=ca-down"
ok "no certificate from refused requests" sh -c "! ls '$W'/reused.pem '$W'/x.pem 2>/dev/null | grep -q ."

challenge c4
ok "RenewalReq signed by the current certificate (new key)" \
    grep_out "request: RenewalReq" "$AE" renew --url "$NDES_EMU_URL" --ca-fingerprint "$NDES_EMU_CA_FINGERPRINT" \
    --cert "$W/cert.pem" --current-key "$W/key.pem" --key "$W/key2.pem" --challenge-file "$W/c4" --out "$W/renewed.pem"
ok "renewed certificate carries the new key" same_key "$W/renewed.pem" "$W/key2.pem"
ok "the emulator accepted a RenewalReq (no fallback)" sh -c \
    "grep -q 'RenewalReq transaction' '$NDES_EMU_LOG' && ! grep -q 'renewal signer' '$NDES_EMU_LOG'"

ok "GetCRL: a CRL signed by the CA" sh -c \
    "'$AE' getcrl --url '$NDES_EMU_URL' --ca-fingerprint '$NDES_EMU_CA_FINGERPRINT' --key '$W/key.pem' \
       --cert '$W/cert.pem' --out '$W/crl.pem' && openssl crl -in '$W/crl.pem' -CAfile '$NDES_EMU_CA_CERT' -noout"
ok "GetCert: the CA hands back our certificate by issuer and serial" sh -c \
    "'$AE' getcert --url '$NDES_EMU_URL' --ca-fingerprint '$NDES_EMU_CA_FINGERPRINT' --key '$W/key2.pem' \
       --cert '$W/cert.pem' --out '$W/copy.pem' && cmp '$W/copy.pem' '$W/cert.pem'"
ok "GetNextCACert: the next CA, signed by the current RA" \
    grep_out "certs: 1" "$AE" getnextcacert --url "$NDES_EMU_URL" --ca-fingerprint "$NDES_EMU_CA_FINGERPRINT"

# the password cache: 5 unused at most (c4 is still unused)
for i in 1 2 3 4; do ndes_emulator_challenge >/dev/null; done
ok_fails "a sixth unused challenge: 'The password cache is full.'" ndes_emulator_challenge
ok "the cache-full page says so" sh -c \
    "curl -sf '$NDES_EMU_ADMIN_URL' | iconv -f UTF-16 -t UTF-8 | grep -q 'The password cache is full.'"
ok "the emulator log holds no challenge" sh -c "! grep -q \"\$(cat '$W/c1')\" '$NDES_EMU_LOG'"

# --- PENDING, then CertPoll with the same transactionID
ndes_emulator_start --pending --pending-polls 2
challenge p1
ok "PKCSReq answered PENDING (exit 3), state saved" rc_is 3 enroll p1 pending.pem --state "$W/state"
ok "state file holds the transaction" grep -q '^transaction_id=[0-9A-F]\{64\}$' "$W/state"
ok "a new process polls: still PENDING" rc_is 3 "$AE" poll --url "$NDES_EMU_URL" \
    --ca-fingerprint "$NDES_EMU_CA_FINGERPRINT" --key "$W/key.pem" --state "$W/state" --out "$W/pending.pem"
ok "next poll: SUCCESS" grep_out "status: SUCCESS" "$AE" poll --url "$NDES_EMU_URL" \
    --ca-fingerprint "$NDES_EMU_CA_FINGERPRINT" --key "$W/key.pem" --state "$W/state" --out "$W/pending.pem"
ok "the polled certificate is ours" same_key "$W/pending.pem" "$W/key.pem"
ok "CertPolls carried the PKCSReq's transactionID" sh -c \
    "tid=\$(sed -n 's/^transaction_id=\(.\{16\}\).*/\1/p' '$W/state');
     [ \"\$(grep -c \"CertPoll transaction \$tid\" '$NDES_EMU_LOG')\" = 2 ]"
challenge p2
ok "in-process polling until issued" grep_out "status: SUCCESS" enroll p2 pending2.pem --poll 5 --poll-interval 1
printf 'transaction_id=ABCD\nsender_nonce=\nsigner=%s\nsubject=%s\nrenewal=0\n' \
    "$(sed -n 's/^signer=//p' "$W/state")" "$(sed -n 's/^subject=//p' "$W/state")" >"$W/state2"
ok "CertPoll for an unknown transaction: badCertId" grep_out "rejected.*badCertId" \
    "$AE" poll --url "$NDES_EMU_URL" --ca-fingerprint "$NDES_EMU_CA_FINGERPRINT" --key "$W/key.pem" --state "$W/state2"

# --- no caps at all: GET, SHA-1, 3DES
ndes_emulator_start --caps ""
challenge g1
ok "no caps: PKIOperation by GET with SHA-1 and 3DES" \
    grep_out "SHA1, DES-EDE3-CBC via GET" enroll g1 get.pem
ok "... and it was issued" same_key "$W/get.pem" "$W/key.pem"

# --- one RA certificate for both jobs
ndes_emulator_start --single-ra
challenge s1
ok "single RA certificate: enroll" grep_out "status: SUCCESS" enroll s1 single.pem

# --- challenge lifetime (NDES: 60 minutes; 2 seconds here)
ndes_emulator_start --challenge-ttl 2
challenge e1
sleep 3
ok "an expired challenge is refused like an unknown one (0x80070490)" \
    grep_out "does not know the challenge password.*0x80070490" enroll e1 expired.pem

# --- NDES answering HTML where DER belongs
ndes_emulator_start --html-errors
challenge h1
ok "HTML instead of a pkiMessage: a clear 'ndes' error" \
    grep_out "error \[ndes\]: PKIOperation: NDES sent an HTML page" enroll h1 html.pem
