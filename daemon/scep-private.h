/* Internals shared by scep-message.c (building) and scep-certrep.c
 * (checking replies). Not for other modules. */
#pragma once

#include "daemon/scep-message.h"

#define OID_MESSAGE_TYPE "2.16.840.1.113733.1.9.2"
#define OID_PKI_STATUS "2.16.840.1.113733.1.9.3"
#define OID_FAIL_INFO "2.16.840.1.113733.1.9.4"
#define OID_SENDER_NONCE "2.16.840.1.113733.1.9.5"
#define OID_RECIPIENT_NONCE "2.16.840.1.113733.1.9.6"
#define OID_TRANSACTION_ID "2.16.840.1.113733.1.9.7"
#define OID_FAIL_INFO_TEXT "1.3.6.1.5.5.7.24.1"
#define OID_NDES_HRESULT "1.3.6.1.4.1.311.21.33"


struct ScepTransaction {
    char id[2 * 32 + 1];
    uint8_t nonce[SCEP_NONCE_LEN];
    bool have_nonce;
    bool renewal;
    int last_type;
    X509 *signer_cert;
    EVP_PKEY *signer_key;
    EVP_PKEY *request_key;
    X509_NAME *subject;
};

