/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <time.h>

#include <apr_strings.h>
#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <openssl/evp.h>

#include "og_cert.h"

/* id-pe-tlsfeature (RFC 7633); status_request is feature 5 */
#define OG_OID_TLSFEATURE "1.3.6.1.5.5.7.1.24"

/* A certificate read only as far as the module needs it: the subject
 * public key stays an opaque ANY, so none of OpenSSL 3's key decoding
 * (its decoder framework, the costly part of an X509 parse) runs, and
 * no X509 object with its cached extensions and digests is built. */
typedef struct {
    ASN1_INTEGER *version;
    ASN1_INTEGER *serial;
    X509_ALGOR *sig_alg;
    X509_NAME *issuer;
    X509_VAL *validity;
    X509_NAME *subject;
    ASN1_TYPE *key;
    ASN1_BIT_STRING *issuer_uid;
    ASN1_BIT_STRING *subject_uid;
    STACK_OF(X509_EXTENSION) *extensions;
} og_tbs_t;

typedef struct {
    og_tbs_t *tbs;
    X509_ALGOR *sig_alg;
    ASN1_BIT_STRING *signature;
} og_lite_t;

ASN1_SEQUENCE(og_tbs_t) = {
    ASN1_EXP_OPT(og_tbs_t, version, ASN1_INTEGER, 0),
    ASN1_SIMPLE(og_tbs_t, serial, ASN1_INTEGER),
    ASN1_SIMPLE(og_tbs_t, sig_alg, X509_ALGOR),
    ASN1_SIMPLE(og_tbs_t, issuer, X509_NAME),
    ASN1_SIMPLE(og_tbs_t, validity, X509_VAL),
    ASN1_SIMPLE(og_tbs_t, subject, X509_NAME),
    ASN1_SIMPLE(og_tbs_t, key, ASN1_ANY),
    ASN1_IMP_OPT(og_tbs_t, issuer_uid, ASN1_BIT_STRING, 1),
    ASN1_IMP_OPT(og_tbs_t, subject_uid, ASN1_BIT_STRING, 2),
    ASN1_EXP_SEQUENCE_OF_OPT(og_tbs_t, extensions, X509_EXTENSION, 3)
/* cppcheck-suppress unknownMacro */
} static_ASN1_SEQUENCE_END(og_tbs_t)

ASN1_SEQUENCE(og_lite_t) = {
    ASN1_SIMPLE(og_lite_t, tbs, og_tbs_t),
    ASN1_SIMPLE(og_lite_t, sig_alg, X509_ALGOR),
    ASN1_SIMPLE(og_lite_t, signature, ASN1_BIT_STRING)
/* cppcheck-suppress unknownMacro */
} static_ASN1_SEQUENCE_END(og_lite_t)

void og_cert_release(og_cert_t *c)
{
    X509_free(c->cert);
    X509_free(c->issuer);
    OCSP_CERTID_free(c->certid);
    c->cert = NULL;
    c->issuer = NULL;
    c->certid = NULL;
}

static apr_status_t cert_cleanup(void *data)
{
    og_cert_release(data);
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
static int has_must_staple(const X509_EXTENSION *ext)
{
    const ASN1_OCTET_STRING *data;
    const unsigned char *der;
    ASN1_SEQUENCE_ANY *seq;
    int i, found = 0;

    if (!ext)
        return 0;
    /* The extension value is a SEQUENCE OF INTEGER. */
    data = X509_EXTENSION_get_data((X509_EXTENSION *)ext);
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

/* The extension with this OID, or NULL. */
static const X509_EXTENSION *find_ext(const STACK_OF(X509_EXTENSION) *exts,
                                      const ASN1_OBJECT *oid)
{
    int i;

    for (i = 0; oid && i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *x = sk_X509_EXTENSION_value(exts, i);
        if (!OBJ_cmp(X509_EXTENSION_get_object(x), oid))
            return x;
    }
    return NULL;
}

/* The OCSP responder URLs of the Authority Information Access
 * extension, in its order. */
static void read_aia(og_cert_t *c, const STACK_OF(X509_EXTENSION) *exts,
                     apr_pool_t *p)
{
    ASN1_OBJECT *oid = OBJ_nid2obj(NID_info_access);
    const X509_EXTENSION *ext = find_ext(exts, oid);
    AUTHORITY_INFO_ACCESS *aia;
    int i;

    c->ocsp_urls = apr_array_make(p, 1, sizeof(const char *));
    if (!ext || !(aia = X509V3_EXT_d2i((X509_EXTENSION *)ext))) {
        ERR_clear_error();
        return;
    }
    for (i = 0; i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
        const ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
        const ASN1_IA5STRING *uri;

        if (OBJ_obj2nid(ad->method) != NID_ad_OCSP
            || ad->location->type != GEN_URI)
            continue;
        uri = ad->location->d.uniformResourceIdentifier;
        if (uri->length > 0 && !memchr(uri->data, '\0', (size_t)uri->length))
            APR_ARRAY_PUSH(c->ocsp_urls, const char *)
                = apr_pstrndup(p, (const char *)uri->data,
                               (apr_size_t)uri->length);
    }
    AUTHORITY_INFO_ACCESS_free(aia);
}

static const char *serial_hex(const ASN1_INTEGER *serial, apr_pool_t *p)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    char *hex;
    const char *s;

    if (!bn)
        return "";
    hex = BN_bn2hex(bn);
    s = apr_pstrdup(p, hex ? hex : "");
    OPENSSL_free(hex);
    BN_free(bn);
    return s;
}

/* What X509_check_issued compares, without a parsed leaf: the names,
 * the leaf's authority key id against the issuer's subject key id when
 * both are given, and the issuer's key usage when it has one. */
static int issued_by(const og_tbs_t *tbs, X509 *issuer)
{
    ASN1_OBJECT *oid = OBJ_nid2obj(NID_authority_key_identifier);
    const X509_EXTENSION *ext = find_ext(tbs->extensions, oid);
    const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(issuer);
    AUTHORITY_KEYID *akid;
    int ok = 1;

    if (X509_NAME_cmp(tbs->issuer, X509_get_subject_name(issuer)) != 0)
        return 0;
    if ((X509_get_extension_flags(issuer) & EXFLAG_KUSAGE)
        && !(X509_get_key_usage(issuer) & KU_KEY_CERT_SIGN))
        return 0;
    if (ext && (akid = X509V3_EXT_d2i((X509_EXTENSION *)ext)) != NULL) {
        if (akid->keyid && skid
            && ASN1_OCTET_STRING_cmp(akid->keyid, skid) != 0)
            ok = 0;
        AUTHORITY_KEYID_free(akid);
    }
    ERR_clear_error();
    return ok;
}

/* The fields of `lite` into c; NULL or why not. */
static const char *extract(og_cert_t *c, const og_lite_t *lite,
                           X509 *issuer, apr_pool_t *p)
{
    const og_tbs_t *tbs = lite->tbs;
    ASN1_OBJECT *tlsf;

    if (!issued_by(tbs, issuer))
        return "the second certificate did not issue the first";
    c->certid = OCSP_cert_id_new(EVP_sha1(), tbs->issuer,
                                 X509_get0_pubkey_bitstr(issuer),
                                 tbs->serial);
    if (!c->certid)
        return "cannot compute the OCSP CertID";
    read_aia(c, tbs->extensions, p);
    tlsf = OBJ_txt2obj(OG_OID_TLSFEATURE, 1);
    c->must_staple = has_must_staple(find_ext(tbs->extensions, tlsf));
    ASN1_OBJECT_free(tlsf);
    c->subject = name_oneline(p, tbs->subject);
    c->serial_hex = serial_hex(tbs->serial, p);
    c->not_after = og_asn1_time_to_apr(tbs->validity->notAfter);
    if (!build_request(c, p))
        return "cannot encode the OCSP request";
    return NULL;
}

og_cert_t *og_cert_make(const unsigned char *der, apr_size_t len,
                        X509 *issuer, int cleanup, apr_pool_t *p,
                        const char **err)
{
    og_cert_t *c = apr_pcalloc(p, sizeof(*c));
    const unsigned char *cursor = der;
    og_lite_t *lite;

    *err = NULL;
    if (!der || len == 0 || len > 0x7fffffff) {
        *err = "no certificate in the PEM data";
        return NULL;
    }
    if (!issuer) {
        *err = "no issuer certificate after the certificate";
        return NULL;
    }
    lite = (og_lite_t *)ASN1_item_d2i(NULL, &cursor, (long)len,
                                      ASN1_ITEM_rptr(og_lite_t));
    if (!lite) {
        ERR_clear_error();
        *err = "no certificate in the PEM data";
        return NULL;
    }
    if (cleanup)
        apr_pool_cleanup_register(p, c, cert_cleanup, apr_pool_cleanup_null);
    if (X509_up_ref(issuer))
        c->issuer = issuer;
    SHA1(der, (size_t)(cursor - der), c->sha1);
    memcpy(c->sha1_hex, og_hex(p, c->sha1, OG_CERT_SHA1_LEN),
           sizeof(c->sha1_hex));
    *err = c->issuer ? extract(c, lite, issuer, p) : "out of memory";
    ASN1_item_free((ASN1_VALUE *)lite, ASN1_ITEM_rptr(og_lite_t));
    ERR_clear_error();
    if (*err) {
        if (!cleanup)
            og_cert_release(c);
        return NULL;
    }
    return c;
}

apr_status_t og_cert_pem_pair(const char *pem, og_der_t *leaf,
                              og_der_t *issuer, apr_pool_t *p,
                              const char **err)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    og_der_t *want[2];
    int i;

    want[0] = leaf;
    want[1] = issuer;
    memset(leaf, 0, sizeof(*leaf));
    memset(issuer, 0, sizeof(*issuer));
    *err = NULL;
    if (!bio) {
        *err = "out of memory";
        return APR_ENOMEM;
    }
    for (i = 0; i < 2; i++) {
        unsigned char *data = NULL;
        long len = 0;

        if (!PEM_bytes_read_bio(&data, &len, NULL, PEM_STRING_X509, bio,
                                NULL, NULL) || len <= 0) {
            OPENSSL_free(data);
            break;
        }
        want[i]->data = apr_pmemdup(p, data, (apr_size_t)len);
        want[i]->len = (apr_size_t)len;
        OPENSSL_free(data);
    }
    BIO_free(bio);
    ERR_clear_error();
    if (!leaf->data)
        *err = "no certificate in the PEM data";
    else if (!issuer->data)
        *err = "no issuer certificate after the certificate";
    return *err ? APR_EINVAL : APR_SUCCESS;
}

X509 *og_cert_der_x509(const og_der_t *der)
{
    const unsigned char *cursor = der->data;
    X509 *x;

    if (!der->data || der->len == 0 || der->len > 0x7fffffff)
        return NULL;
    x = d2i_X509(NULL, &cursor, (long)der->len);
    ERR_clear_error();
    return x;
}

og_cert_t *og_cert_parse(const char *pem, apr_pool_t *p, const char **err)
{
    og_der_t leaf, issuer;
    X509 *x;
    og_cert_t *c;

    if (og_cert_pem_pair(pem, &leaf, &issuer, p, err) != APR_SUCCESS)
        return NULL;
    if (!(x = og_cert_der_x509(&issuer))) {
        *err = "no issuer certificate after the certificate";
        return NULL;
    }
    c = og_cert_make(leaf.data, leaf.len, x, 1, p, err);
    X509_free(x);
    return c;
}
