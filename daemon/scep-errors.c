/* SCEP vocabulary, NDES HRESULT messages and HTTP reply checks. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/scep-errors.h"
#include "daemon/util.h"

const char *scep_message_type_to_string(int type) {
    switch (type) {
    case SCEP_MSG_CERTREP: return "CertRep";
    case SCEP_MSG_RENEWALREQ: return "RenewalReq";
    case SCEP_MSG_PKCSREQ: return "PKCSReq";
    case SCEP_MSG_CERTPOLL: return "CertPoll";
    case SCEP_MSG_GETCERT: return "GetCert";
    case SCEP_MSG_GETCRL: return "GetCRL";
    default: return NULL;
    }
}

const char *scep_pki_status_to_string(int status) {
    switch (status) {
    case SCEP_STATUS_SUCCESS: return "SUCCESS";
    case SCEP_STATUS_FAILURE: return "FAILURE";
    case SCEP_STATUS_PENDING: return "PENDING";
    default: return NULL;
    }
}

const char *scep_fail_info_to_string(int fail_info) {
    switch (fail_info) {
    case SCEP_FAIL_BAD_ALG: return "badAlg (unrecognised or unsupported algorithm)";
    case SCEP_FAIL_BAD_MESSAGE_CHECK: return "badMessageCheck (integrity check failed)";
    case SCEP_FAIL_BAD_REQUEST: return "badRequest (transaction not permitted or supported)";
    case SCEP_FAIL_BAD_TIME: return "badTime (signingTime too far from the server's time)";
    case SCEP_FAIL_BAD_CERT_ID: return "badCertId (no certificate matches the criteria)";
    default: return NULL;
    }
}

static const struct {
    uint32_t hresult;
    const char *text;
} hresults[] = {
    { 0x800B0110, "the challenge password was already used" },
    { 0x80070490, "NDES does not know the challenge password (unknown or expired)" },
    { 0x80094001, "the CA refused the request subject (bad subject)" },
    { 0x800706BA, "NDES cannot reach the CA (RPC server unavailable)" },
    { 0x80094012, "the certificate template denies enrollment to the NDES account" },
    { 0x80094800, "the CA does not issue the configured certificate template" },
    { 0x80094801, "the request lacks a certificate template" },
    { 0x80070005, "access denied by NDES or the CA" },
    { 0x80092004, "the CA or NDES did not find the requested object" },
    { 0x80094004, "the request is missing a required field" },
    { 0x80094005, "the request's data is not valid for the template" },
    { 0x80090005, "the CA could not process the request's cryptography (bad data)" },
    { 0x80091004, "NDES could not decrypt the request (wrong RA certificate or algorithm)" },
    { 0x8009310B, "the request was not properly formed (ASN.1 error)" },
};

const char *scep_hresult_to_string(uint32_t hresult) {
    for (size_t i = 0; i < ELEMENTSOF(hresults); i++)
        if (hresults[i].hresult == hresult)
            return hresults[i].text;
    return NULL;
}

int scep_hresult_parse(const char *s, uint32_t *ret) {
    char *end = NULL;
    long long v;

    if (!s || !ret)
        return -EINVAL;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return -EINVAL;
    errno = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        v = strtoll(s + 2, &end, 16);
    else
        v = strtoll(s, &end, 10);
    if (errno || end == s)
        return -EINVAL;
    while (isspace((unsigned char)*end))
        end++;
    if (*end || v < -2147483648LL || v > 4294967295LL)
        return -EINVAL;
    *ret = (uint32_t)(v & 0xffffffffLL);
    return 0;
}

const char *scep_operation_to_string(ScepOperation op) {
    switch (op) {
    case SCEP_OP_GET_CA_CAPS: return "GetCACaps";
    case SCEP_OP_GET_CA_CERT: return "GetCACert";
    case SCEP_OP_GET_NEXT_CA_CERT: return "GetNextCACert";
    case SCEP_OP_PKI_OPERATION: return "PKIOperation";
    }
    return "?";
}

/* "type/subtype" of a Content-Type, lowercased, without parameters. */
static void media_type(const char *ct, char *buf, size_t size) {
    size_t n = 0;
    buf[0] = '\0';
    if (!ct)
        return;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    while (*ct && *ct != ';' && *ct != ' ' && *ct != '\t' && n + 1 < size)
        buf[n++] = (char)tolower((unsigned char)*ct++);
    buf[n] = '\0';
}

static int looks_like_html(const uint8_t *body, size_t len) {
    size_t i = 0;
    if (len >= 3 && body[0] == 0xEF && body[1] == 0xBB && body[2] == 0xBF)
        i = 3;
    if (len >= 2 && ((body[0] == 0xFF && body[1] == 0xFE) || (body[0] == 0xFE && body[1] == 0xFF)))
        return 1; /* UTF-16 text: certainly no DER */
    while (i < len && isspace(body[i]))
        i++;
    return i < len && body[i] == '<';
}

/* DER SEQUENCE whose encoded length matches the body exactly. */
static int der_length_ok(const uint8_t *b, size_t len) {
    size_t hdr, content;
    if (len < 2 || b[0] != 0x30)
        return 0;
    if (b[1] < 0x80) {
        hdr = 2;
        content = b[1];
    } else {
        size_t nb = b[1] & 0x7f;
        if (nb == 0 || nb > 4 || len < 2 + nb)
            return 0;
        content = 0;
        for (size_t i = 0; i < nb; i++)
            content = (content << 8) | b[2 + i];
        hdr = 2 + nb;
    }
    return content <= len - hdr && hdr + content == len;
}

int scep_http_check(ScepOperation op, long http_status, const char *content_type,
                    const uint8_t *body, size_t len, AeError *err) {
    const char *opname = scep_operation_to_string(op);
    size_t cap = op == SCEP_OP_GET_CA_CAPS ? SCEP_MAX_CAPS_BODY
                 : op == SCEP_OP_PKI_OPERATION ? SCEP_MAX_PKI_BODY
                                               : SCEP_MAX_CACERT_BODY;
    char mt[96];

    if (http_status < 200 || http_status > 299)
        return ae_error_set(err, -EPROTO, AE_ERR_NDES, "%s: NDES answered HTTP %ld", opname,
                            http_status);
    if (len > cap)
        return ae_error_set(err, -EFBIG, AE_ERR_NDES, "%s: reply body larger than %zu bytes",
                            opname, cap);
    if (op == SCEP_OP_GET_CA_CAPS)
        return 0;
    if (!body || len == 0)
        return ae_error_set(err, -EBADMSG, AE_ERR_NDES, "%s: empty reply body", opname);

    media_type(content_type, mt, sizeof mt);
    if (looks_like_html(body, len) || streq(mt, "text/html"))
        return ae_error_set(err, -EBADMSG, AE_ERR_NDES,
                            "%s: NDES sent an HTML page (content type '%s') instead of DER: "
                            "check the URL (/certsrv/mscep/mscep.dll) and the server's logs",
                            opname, mt[0] ? mt : "none");
    if (op == SCEP_OP_PKI_OPERATION) {
        if (!streq(mt, "application/x-pki-message"))
            return ae_error_set(err, -EBADMSG, AE_ERR_NDES,
                                "%s: wrong content type '%s' (expected application/x-pki-message)",
                                opname, mt[0] ? mt : "none");
    } else if (op == SCEP_OP_GET_NEXT_CA_CERT) {
        if (!streq(mt, "application/x-x509-next-ca-cert"))
            return ae_error_set(err, -EBADMSG, AE_ERR_NDES,
                                "%s: wrong content type '%s' (expected application/x-x509-next-ca-cert)",
                                opname, mt[0] ? mt : "none");
    } else if (!streq(mt, "application/x-x509-ca-cert") && !streq(mt, "application/x-x509-ca-ra-cert"))
        return ae_error_set(err, -EBADMSG, AE_ERR_NDES,
                            "%s: wrong content type '%s' (expected application/x-x509-ca-cert "
                            "or application/x-x509-ca-ra-cert)",
                            opname, mt[0] ? mt : "none");
    if (!der_length_ok(body, len))
        return ae_error_set(err, -EBADMSG, AE_ERR_PROTOCOL,
                            "%s: reply is not one complete DER structure (truncated or trailing "
                            "data, %zu bytes)",
                            opname, len);
    return 0;
}
