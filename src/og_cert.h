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

/* Delegated OCSP signers an issuer was seen to authorise (og_validate). */
typedef struct og_signers_t og_signers_t;
/* The last response validated for a certificate (og_validate). */
typedef struct og_vmemo_t og_vmemo_t;

typedef struct og_cert_t {
    X509 *cert;                 /* always NULL: all that is needed is below */
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
    og_signers_t *signers;      /* the issuer's, NULL: none remembered */
    og_vmemo_t *memo;           /* NULL: nothing remembered */
} og_cert_t;

/* Parse `pem` (certificate followed by issuer). On failure returns NULL and
 * sets *err to a sentence saying why. Its OpenSSL objects are freed with p. */
og_cert_t *og_cert_parse(const char *pem, apr_pool_t *p, const char **err);

/* DER bytes of one certificate. */
typedef struct {
    unsigned char *data;
    apr_size_t len;
} og_der_t;

/* The DER of the first two certificates of `pem` (the certificate, then
 * its issuer), base64 decoded only, in p. APR_EINVAL and *err when one is
 * missing. */
apr_status_t og_cert_pem_pair(const char *pem, og_der_t *leaf,
                              og_der_t *issuer, apr_pool_t *p,
                              const char **err);

/* An X509 from DER (the caller frees it), NULL when it does not parse. */
X509 *og_cert_der_x509(const og_der_t *der);

/* What the module needs from the certificate `der` issued by `issuer`
 * (parsed once for all it issued; a reference is taken): CertID, AIA OCSP
 * URLs, TLS Feature, subject, serial, notAfter, the request. No X509 is
 * built for the certificate itself: its public key is never decoded. With
 * `cleanup` its OpenSSL objects are freed with p, else by og_cert_release
 * (a cache that outlives the code that registered a cleanup). */
og_cert_t *og_cert_make(const unsigned char *der, apr_size_t len,
                        X509 *issuer, int cleanup, apr_pool_t *p,
                        const char **err);

/* Free c's OpenSSL objects (the issuer reference, the CertID). */
void og_cert_release(og_cert_t *c);

/* Lower-case hex of `len` bytes, allocated from p. */
char *og_hex(apr_pool_t *p, const unsigned char *data, apr_size_t len);

/* ASN.1 time to apr_time_t; 0 on failure. */
apr_time_t og_asn1_time_to_apr(const ASN1_TIME *t);

#endif
