/* SPDX-License-Identifier: Apache-2.0 */
/* What the module knows about one server certificate: parsed once, at prime
 * time, from the PEM mod_ssl hands over (certificate, then its issuer). */
#ifndef OG_CERT_H
#define OG_CERT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <openssl/x509.h>
#include <openssl/ocsp.h>

#define OG_CERT_SHA1_LEN 20

typedef struct og_cert_t {
    X509 *cert;                 /* NULL once parsed: all it gave is below */
    X509 *issuer;
    OCSP_CERTID *certid;        /* SHA-1 CertID, as RFC 5019 clients use */
    unsigned char sha1[OG_CERT_SHA1_LEN]; /* of the DER: mod_ssl's id */
    char sha1_hex[OG_CERT_SHA1_LEN * 2 + 1];
    apr_array_header_t *ocsp_urls;  /* const char *, AIA order */
    int must_staple;            /* TLS Feature status_request present */
    const char *subject;        /* one-line RFC 2253 */
    const char *serial_hex;
    apr_time_t not_after;
    unsigned char *request_der; /* OCSP request for this CertID, no nonce */
    apr_size_t request_len;
} og_cert_t;

/* Parse `pem` (certificate followed by issuer). On failure returns NULL and
 * sets *err to a sentence saying why. */
og_cert_t *og_cert_parse(const char *pem, apr_pool_t *p, const char **err);

/* Lower-case hex of `len` bytes, allocated from p. */
char *og_hex(apr_pool_t *p, const unsigned char *data, apr_size_t len);

/* ASN.1 time to apr_time_t; 0 on failure. */
apr_time_t og_asn1_time_to_apr(const ASN1_TIME *t);

#endif
