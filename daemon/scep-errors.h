/* SCEP vocabulary (message types, pkiStatus, failInfo), NDES HRESULTs, and
 * the checks on an HTTP reply before its body is parsed. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "daemon/error.h"

typedef enum ScepMessageType {
    SCEP_MSG_CERTREP = 3,
    SCEP_MSG_RENEWALREQ = 17,
    SCEP_MSG_PKCSREQ = 19,
    SCEP_MSG_CERTPOLL = 20,
    SCEP_MSG_GETCERT = 21,
    SCEP_MSG_GETCRL = 22,
} ScepMessageType;

typedef enum ScepPkiStatus {
    SCEP_STATUS_SUCCESS = 0,
    SCEP_STATUS_FAILURE = 2,
    SCEP_STATUS_PENDING = 3,
} ScepPkiStatus;

typedef enum ScepFailInfo {
    SCEP_FAIL_BAD_ALG = 0,
    SCEP_FAIL_BAD_MESSAGE_CHECK = 1,
    SCEP_FAIL_BAD_REQUEST = 2,
    SCEP_FAIL_BAD_TIME = 3,
    SCEP_FAIL_BAD_CERT_ID = 4,
} ScepFailInfo;

/* Body caps for each reply (bytes). */
#define SCEP_MAX_CAPS_BODY (16 * 1024)
#define SCEP_MAX_CACERT_BODY (512 * 1024)
#define SCEP_MAX_PKI_BODY (1024 * 1024)

const char *scep_message_type_to_string(int type);   /* NULL when unknown */
const char *scep_pki_status_to_string(int status);   /* NULL when unknown */
const char *scep_fail_info_to_string(int fail_info); /* NULL when unknown */

/* A sentence for an NDES HRESULT (attribute 1.3.6.1.4.1.311.21.33), or NULL
 * when we don't know it. */
const char *scep_hresult_to_string(uint32_t hresult);

/* Parse NDES's decimal HRESULT string (signed or unsigned 32-bit). */
int scep_hresult_parse(const char *s, uint32_t *ret);

typedef enum ScepOperation {
    SCEP_OP_GET_CA_CAPS,
    SCEP_OP_GET_CA_CERT,
    SCEP_OP_GET_NEXT_CA_CERT,
    SCEP_OP_PKI_OPERATION,
} ScepOperation;

const char *scep_operation_to_string(ScepOperation op);

/* Judge an HTTP reply before parsing: status, content type, size, and HTML
 * where DER was expected. GetCACaps accepts anything but an HTTP error (an
 * error there means "no caps": the caller decides). Returns 0, or -EPROTO /
 * -EBADMSG / -EFBIG with category "ndes" in err. content_type may be NULL. */
int scep_http_check(ScepOperation op, long http_status, const char *content_type,
                    const uint8_t *body, size_t len, AeError *err);
