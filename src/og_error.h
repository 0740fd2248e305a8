/* SPDX-License-Identifier: Apache-2.0 */
/* Failure classes shared by the fetcher, the validator and the events.
 * Each class names what went wrong in the words an operator alerts on, and
 * maps to the mod_ssl message the operator would have seen without us. */
#ifndef OG_ERROR_H
#define OG_ERROR_H

typedef enum {
    OG_OK = 0,
    OG_ERR_DNS,              /* responder host name did not resolve */
    OG_ERR_CONNECT_REFUSED,  /* TCP connection refused or unreachable */
    OG_ERR_CONNECT_TIMEOUT,  /* no TCP connection within the connect timeout */
    OG_ERR_READ_TIMEOUT,     /* connected, but no full answer in time */
    OG_ERR_READ_ERROR,       /* connection closed or reset mid-answer */
    OG_ERR_TLS,              /* TLS to an https responder failed */
    OG_ERR_HTTP_STATUS,      /* HTTP answer other than 200 */
    OG_ERR_MALFORMED,        /* body is not a usable OCSP response */
    OG_ERR_OCSP_STATUS,      /* OCSP responseStatus not successful */
    OG_ERR_VERIFY_FAILED,    /* signature or signer not trusted */
    OG_ERR_WRONG_CERT,       /* response does not cover our CertID */
    OG_ERR_EXPIRED,          /* outside its thisUpdate/nextUpdate window */
    OG_ERR_TOO_LARGE,        /* body over the configured size cap */
    OG_ERR_PROXY,            /* the forward proxy failed */
    OG_ERR_INTERNAL          /* our own failure (memory, library) */
} og_error_e;

#define OG_ERR_COUNT (OG_ERR_INTERNAL + 1)

/* Stable lower-case name used in logs and events, e.g. "connect_refused". */
const char *og_error_name(og_error_e e);

/* The mod_ssl message number an operator would have seen for this class
 * ("AH01974" ...), or NULL for classes mod_ssl never reports. */
const char *og_error_ah(og_error_e e);

#endif
