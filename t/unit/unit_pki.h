/* SPDX-License-Identifier: Apache-2.0 */
/* Test PKI made in memory with the OpenSSL API: CA, delegated OCSP signer,
 * leaves with chosen AIA and TLS Feature extensions, and OCSP responses with
 * chosen signer, status, times and response status. Header-only: each unit
 * test includes it. */
#ifndef UNIT_PKI_H
#define UNIT_PKI_H

#include <string.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

typedef struct {
    X509 *cert;
    EVP_PKEY *key;
} upki_id_t;

static inline EVP_PKEY *upki_key(void)
{
    return EVP_EC_gen("P-256");
}

static inline void upki_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext) {
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
}

/* A certificate for `cn`, signed by `issuer` (NULL: self-signed). `aia` is
 * a value for authorityInfoAccess ("OCSP;URI:...,OCSP;URI:...") or NULL. */
static inline upki_id_t upki_make(const char *cn, const upki_id_t *issuer, long serial,
                           int ca, const char *eku, const char *aia,
                           int must_staple)
{
    upki_id_t id;
    X509_NAME *name;

    id.key = upki_key();
    id.cert = X509_new();
    X509_set_version(id.cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(id.cert), serial);
    X509_gmtime_adj(X509_getm_notBefore(id.cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(id.cert), 86400L * 30);
    X509_set_pubkey(id.cert, id.key);
    name = X509_get_subject_name(id.cert);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               (const unsigned char *)"Unit Test", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(id.cert, issuer ? X509_get_subject_name(issuer->cert)
                                         : name);
    if (ca) {
        upki_ext(id.cert, NULL, NID_basic_constraints, "critical,CA:true");
        upki_ext(id.cert, NULL, NID_key_usage, "critical,keyCertSign,cRLSign");
    }
    else {
        upki_ext(id.cert, NULL, NID_basic_constraints, "critical,CA:false");
        upki_ext(id.cert, NULL, NID_key_usage, "critical,digitalSignature");
    }
    if (eku)
        upki_ext(id.cert, NULL, NID_ext_key_usage, eku);
    if (aia)
        upki_ext(id.cert, NULL, NID_info_access, aia);
    if (must_staple)
        upki_ext(id.cert, NULL, NID_tlsfeature, "status_request");
    X509_sign(id.cert, issuer ? issuer->key : id.key, EVP_sha256());
    return id;
}

static inline void upki_free(upki_id_t *id)
{
    X509_free(id->cert);
    EVP_PKEY_free(id->key);
    id->cert = NULL;
    id->key = NULL;
}

/* "certificate then issuer" PEM, as mod_ssl hands it to the prime hook;
 * free with free(). */
static inline char *upki_pem_pair(X509 *cert, X509 *issuer)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *out;
    long len;

    if (cert)
        PEM_write_bio_X509(bio, cert);
    if (issuer)
        PEM_write_bio_X509(bio, issuer);
    len = BIO_get_mem_data(bio, &data);
    out = malloc((size_t)len + 1);
    memcpy(out, data, (size_t)len);
    out[len] = '\0';
    BIO_free(bio);
    return out;
}

typedef struct {
    int response_status;        /* OCSP_RESPONSE_STATUS_* */
    X509 *for_cert;             /* CertID of this certificate ... */
    X509 *for_issuer;           /* ... issued by this one */
    const upki_id_t *signer;
    int cert_status;            /* V_OCSP_CERTSTATUS_* */
    long this_offset;           /* seconds from now */
    long next_offset;
    int no_next_update;
    int include_signer;         /* put the signer certificate in */
} upki_resp_t;

/* DER of an OCSP response; free with OPENSSL_free(). */
static inline unsigned char *upki_response(const upki_resp_t *o, size_t *len)
{
    OCSP_RESPONSE *resp;
    unsigned char *der = NULL;
    int n;

    if (o->response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        resp = OCSP_response_create(o->response_status, NULL);
    }
    else {
        OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
        OCSP_CERTID *cid = OCSP_cert_to_id(EVP_sha1(), o->for_cert,
                                           o->for_issuer);
        ASN1_TIME *thisupd = X509_gmtime_adj(NULL, o->this_offset);
        ASN1_TIME *nextupd = o->no_next_update ? NULL
                           : X509_gmtime_adj(NULL, o->next_offset);
        ASN1_TIME *revtime = X509_gmtime_adj(NULL, -7200);

        OCSP_basic_add1_status(bs, cid, o->cert_status,
            o->cert_status == V_OCSP_CERTSTATUS_REVOKED
                ? OCSP_REVOKED_STATUS_KEYCOMPROMISE : -1,
            o->cert_status == V_OCSP_CERTSTATUS_REVOKED ? revtime : NULL,
            thisupd, nextupd);
        OCSP_basic_sign(bs, o->signer->cert, o->signer->key, EVP_sha256(),
                        NULL, o->include_signer ? 0 : OCSP_NOCERTS);
        resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
        OCSP_CERTID_free(cid);
        ASN1_TIME_free(thisupd);
        ASN1_TIME_free(nextupd);
        ASN1_TIME_free(revtime);
        OCSP_BASICRESP_free(bs);
    }
    n = i2d_OCSP_RESPONSE(resp, &der);
    OCSP_RESPONSE_free(resp);
    *len = n > 0 ? (size_t)n : 0;
    return der;
}

#endif
