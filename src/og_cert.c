/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <time.h>

#include <apr_strings.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/evp.h>

#include "og_cert.h"

/* id-pe-tlsfeature (RFC 7633); status_request is feature 5 */
#define OG_OID_TLSFEATURE "1.3.6.1.5.5.7.1.24"

static apr_status_t cert_cleanup(void *data)
{
    og_cert_t *c = data;
    X509_free(c->cert);
    X509_free(c->issuer);
    OCSP_CERTID_free(c->certid);
    return APR_SUCCESS;
}

char *og_hex(apr_pool_t *p, const unsigned char *data, apr_size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *s = apr_palloc(p, len * 2 + 1);
    apr_size_t i;

    for (i = 0; i < len; i++) {
        s[2 * i] = digits[data[i] >> 4];
        s[2 * i + 1] = digits[data[i] & 0x0f];
    }
    s[len * 2] = '\0';
    return s;
}

apr_time_t og_asn1_time_to_apr(const ASN1_TIME *t)
{
    struct tm tm;
    time_t secs;

    if (!t || !ASN1_TIME_to_tm(t, &tm))
        return 0;
    secs = timegm(&tm);
    if (secs == (time_t)-1)
        return 0;
    return apr_time_from_sec(secs);
}

/* A TLS Feature extension listing status_request (5) means the certificate
 * is "must-staple": clients may refuse a handshake without a staple. */
static int has_must_staple(X509 *x)
{
    ASN1_OBJECT *oid = OBJ_txt2obj(OG_OID_TLSFEATURE, 1);
    int idx = oid ? X509_get_ext_by_OBJ(x, oid, -1) : -1;
    const ASN1_OCTET_STRING *data;
    const unsigned char *der;
    ASN1_SEQUENCE_ANY *seq;
    int i, found = 0;

    ASN1_OBJECT_free(oid);
    if (idx < 0)
        return 0;
    /* The extension value is a SEQUENCE OF INTEGER. */
    data = X509_EXTENSION_get_data(X509_get_ext(x, idx));
    der = ASN1_STRING_get0_data(data);
    seq = d2i_ASN1_SEQUENCE_ANY(NULL, &der, ASN1_STRING_length(data));
    if (!seq)
        return 0;
    for (i = 0; i < sk_ASN1_TYPE_num(seq); i++) {
        const ASN1_TYPE *t = sk_ASN1_TYPE_value(seq, i);
        if (t->type == V_ASN1_INTEGER
            && ASN1_INTEGER_get(t->value.integer) == 5) {
            found = 1;
        }
    }
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    return found;
}

static const char *name_oneline(apr_pool_t *p, const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long len;
    const char *s;

    if (!bio)
        return "";
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
    len = BIO_get_mem_data(bio, &data);
    s = apr_pstrndup(p, data ? data : "", len > 0 ? (apr_size_t)len : 0);
    BIO_free(bio);
    return s;
}

static int build_request(og_cert_t *c, apr_pool_t *p)
{
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    OCSP_CERTID *id = OCSP_CERTID_dup(c->certid);
    unsigned char *der = NULL;
    int len;

    if (!req || !id || !OCSP_request_add0_id(req, id)) {
        OCSP_CERTID_free(id);
        OCSP_REQUEST_free(req);
        return 0;
    }
    len = i2d_OCSP_REQUEST(req, &der);
    OCSP_REQUEST_free(req);
    if (len <= 0)
        return 0;
    c->request_der = apr_pmemdup(p, der, (apr_size_t)len);
    c->request_len = (apr_size_t)len;
    OPENSSL_free(der);
    return 1;
}

og_cert_t *og_cert_parse(const char *pem, apr_pool_t *p, const char **err)
{
    og_cert_t *c = apr_pcalloc(p, sizeof(*c));
    BIO *bio = BIO_new_mem_buf(pem, -1);
    STACK_OF(OPENSSL_STRING) *aia;
    const ASN1_INTEGER *serial;
    BIGNUM *bn;
    unsigned int mdlen = 0;
    int i;

    *err = NULL;
    if (!bio) {
        *err = "out of memory";
        return NULL;
    }
    c->cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (c->cert)
        c->issuer = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    apr_pool_cleanup_register(p, c, cert_cleanup, apr_pool_cleanup_null);
    if (!c->cert) {
        *err = "no certificate in the PEM data";
        return NULL;
    }
    if (!c->issuer) {
        *err = "no issuer certificate after the certificate";
        return NULL;
    }
    if (X509_check_issued(c->issuer, c->cert) != X509_V_OK) {
        *err = "the second certificate did not issue the first";
        return NULL;
    }
    c->certid = OCSP_cert_to_id(EVP_sha1(), c->cert, c->issuer);
    if (!c->certid) {
        *err = "cannot compute the OCSP CertID";
        return NULL;
    }
    if (!X509_digest(c->cert, EVP_sha1(), c->sha1, &mdlen)
        || mdlen != OG_CERT_SHA1_LEN) {
        *err = "cannot compute the certificate digest";
        return NULL;
    }
    memcpy(c->sha1_hex, og_hex(p, c->sha1, OG_CERT_SHA1_LEN),
           sizeof(c->sha1_hex));

    c->ocsp_urls = apr_array_make(p, 2, sizeof(const char *));
    aia = X509_get1_ocsp(c->cert);
    for (i = 0; aia && i < sk_OPENSSL_STRING_num(aia); i++) {
        const char *url = sk_OPENSSL_STRING_value(aia, i);
        if (url && *url)
            APR_ARRAY_PUSH(c->ocsp_urls, const char *) = apr_pstrdup(p, url);
    }
    X509_email_free(aia);

    c->must_staple = has_must_staple(c->cert);
    c->subject = name_oneline(p, X509_get_subject_name(c->cert));
    serial = X509_get0_serialNumber(c->cert);
    bn = ASN1_INTEGER_to_BN(serial, NULL);
    if (bn) {
        char *hex = BN_bn2hex(bn);
        c->serial_hex = apr_pstrdup(p, hex ? hex : "");
        OPENSSL_free(hex);
        BN_free(bn);
    }
    else {
        c->serial_hex = "";
    }
    c->not_after = og_asn1_time_to_apr(X509_get0_notAfter(c->cert));
    if (!build_request(c, p)) {
        *err = "cannot encode the OCSP request";
        return NULL;
    }
    /* Everything needed from the leaf is extracted: with a thousand
     * certificates, each process is spared a thousand parsed X509s. */
    X509_free(c->cert);
    c->cert = NULL;
    return c;
}
