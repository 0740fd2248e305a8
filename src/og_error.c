/* SPDX-License-Identifier: Apache-2.0 */
#include <stddef.h>

#include "og_error.h"

const char *og_error_name(og_error_e e)
{
    switch (e) {
    case OG_OK:                  return "ok";
    case OG_ERR_DNS:             return "dns";
    case OG_ERR_CONNECT_REFUSED: return "connect_refused";
    case OG_ERR_CONNECT_TIMEOUT: return "connect_timeout";
    case OG_ERR_READ_TIMEOUT:    return "read_timeout";
    case OG_ERR_READ_ERROR:      return "read_error";
    case OG_ERR_TLS:             return "tls";
    case OG_ERR_HTTP_STATUS:     return "http_status";
    case OG_ERR_MALFORMED:       return "malformed";
    case OG_ERR_OCSP_STATUS:     return "ocsp_status";
    case OG_ERR_VERIFY_FAILED:   return "verify_failed";
    case OG_ERR_WRONG_CERT:      return "wrong_cert";
    case OG_ERR_EXPIRED:         return "expired";
    case OG_ERR_TOO_LARGE:       return "too_large";
    case OG_ERR_PROXY:           return "proxy";
    case OG_ERR_INTERNAL:        return "internal";
    }
    return "unknown";
}

/* mod_ssl (ssl_util_ocsp.c, ssl_util_stapling.c) logs these for the same
 * situations (checked against httpd 2.4's sources); AH01941
 * "stapling_renew_response: responder error" follows every one of them, and
 * is what mod_ssl logs alone for an answer it cannot use. */
const char *og_error_ah(og_error_e e)
{
    switch (e) {
    case OG_ERR_DNS:
    case OG_ERR_CONNECT_REFUSED:
    case OG_ERR_CONNECT_TIMEOUT:
    case OG_ERR_TLS:
    case OG_ERR_PROXY:
        return "AH01974";   /* could not connect to OCSP responder */
    case OG_ERR_READ_TIMEOUT:
        return "AH01985";   /* error reading response from OCSP server */
    case OG_ERR_READ_ERROR:
        return "AH01977";   /* failed reading line from OCSP server */
    case OG_ERR_HTTP_STATUS:
        return "AH01980";   /* bad response from OCSP server */
    case OG_ERR_TOO_LARGE:
        return "AH01986";   /* OCSP response size exceeds the byte limit */
    case OG_ERR_MALFORMED:
    case OG_ERR_OCSP_STATUS:
    case OG_ERR_WRONG_CERT:
    case OG_ERR_EXPIRED:
    case OG_ERR_VERIFY_FAILED:
        return "AH01941";   /* stapling_renew_response: responder error */
    default:
        return NULL;
    }
}
