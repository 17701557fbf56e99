# shellcheck shell=bash
# A private SoftHSM token for a test: its own SOFTHSM2_CONF and token dir under
# $REALM, token label "autoenroll", user PIN in $REALM/token.pin (0600), SO PIN
# in $REALM/so.pin. p11-kit sees no registered modules ($HOME is the realm's),
# so URIs name the module by path.
#
# After softhsm_init:
#   SOFTHSM_MODULE  path of the SoftHSM PKCS#11 module
#   SOFTHSM_URI     pkcs11:token=autoenroll?module-path=...&pin-source=file:...
#   SOFTHSM_PIN_FILE, SOFTHSM_SO_PIN_FILE
#   p11t ARGS...    pkcs11-tool on that token, logged in with the user PIN

SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}

# softhsm_init [LABEL]
softhsm_init() {
    local label=${1:-autoenroll}
    need softhsm2-util pkcs11-tool
    [ -e "$SOFTHSM_MODULE" ] || bail "SoftHSM module $SOFTHSM_MODULE missing (package softhsm2)"
    mkdir -p "$REALM/softhsm/tokens"
    export SOFTHSM2_CONF="$REALM/softhsm/softhsm2.conf"
    cat >"$SOFTHSM2_CONF" <<CONF
directories.tokendir = $REALM/softhsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
    SOFTHSM_PIN_FILE=$REALM/token.pin
    SOFTHSM_SO_PIN_FILE=$REALM/so.pin
    (umask 077 && printf '%s\n' "$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" >"$SOFTHSM_PIN_FILE" \
        && printf '%s\n' "so-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" >"$SOFTHSM_SO_PIN_FILE")
    softhsm2-util --init-token --free --label "$label" \
        --pin "$(cat "$SOFTHSM_PIN_FILE")" --so-pin "$(cat "$SOFTHSM_SO_PIN_FILE")" >/dev/null \
        || bail "softhsm2-util --init-token failed"
    SOFTHSM_URI="pkcs11:token=$label?module-path=$SOFTHSM_MODULE&pin-source=file:$SOFTHSM_PIN_FILE"
    export SOFTHSM_MODULE SOFTHSM_URI SOFTHSM_PIN_FILE SOFTHSM_SO_PIN_FILE
}

p11t() {
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label autoenroll \
        --login --pin "$(cat "$SOFTHSM_PIN_FILE")" "$@"
}
