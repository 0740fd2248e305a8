/* SPDX-License-Identifier: Apache-2.0 */
/* og_cert_parse on what the prime hook could be handed, three ways, chosen
 * by the first byte:
 *   0  the rest as PEM text (certificate then issuer, or garbage)
 *   1  the rest as a leaf's DER, PEM-wrapped, then the fixed issuer
 *   2  a leaf signed by the fixed CA whose extension value (the second
 *      byte: 0 authorityInfoAccess, 1 TLS Feature, 2 both, split in two)
 *      is the rest of the input: past the signature check, into the AIA
 *      URL extraction and the must-staple flag.
 * Whatever parses must be coherent: a CertID, a request that decodes, URLs
 * that are non-empty strings. */
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "fuzz/fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static X509 *ca;
static EVP_PKEY *ca_key, *leaf_key;
static char *ca_pem;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    ca = fuzz_pki_cert("ca");
    ca_key = fuzz_pki_key("ca");
    leaf_key = fuzz_pki_key("leaf");
    ca_pem = fuzz_pki_file("ca", ".pem");
    return 0;
}

static void pem_append(BIO *bio, const char *label, const uint8_t *der,
                       size_t len)
{
    PEM_write_bio(bio, label, "", der, (long)len);
}

static int add_ext(X509 *x, int nid, const uint8_t *der, size_t len)
{
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    int ok = os && ASN1_OCTET_STRING_set(os, der, (int)len)
             && (ext = X509_EXTENSION_create_by_NID(NULL, nid, 0, os)) != NULL
             && X509_add_ext(x, ext, -1);

    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    return ok;
}

/* a leaf of the fixed CA carrying the fuzzer's extension bytes */
static void signed_leaf(BIO *bio, int which, const uint8_t *d, size_t n)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    size_t half = which == 2 ? n / 2 : n;
    int ok;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234);
    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)OG_FUZZ_NOW_SEC);
    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)OG_FUZZ_NOW_SEC + 86400);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"fuzz.test", -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, X509_get_subject_name(ca));
    X509_set_pubkey(x, leaf_key);
    ok = 1;
    if (which == 0 || which == 2)
        ok = add_ext(x, NID_info_access, d, half);
    if (ok && (which == 1 || which == 2))
        ok = add_ext(x, NID_tlsfeature, d + half, n - half);
    if (ok && X509_sign(x, ca_key, EVP_sha256()))
        PEM_write_bio_X509(bio, x);
    X509_NAME_free(name);
    X509_free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = { data, size };
    int mode = fuzz_u8(&in) % 3;
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem_data = NULL, *pem;
    long pem_len;
    apr_pool_t *p;
    const char *err = NULL;
    og_cert_t *c;
    int i;

    if (mode == 0) {
        BIO_write(bio, in.data, (int)in.len);
    }
    else if (mode == 1) {
        pem_append(bio, "CERTIFICATE", in.data, in.len);
        BIO_puts(bio, ca_pem);
    }
    else {
        int which = fuzz_u8(&in) % 3;
        signed_leaf(bio, which, in.data, in.len);
        BIO_puts(bio, ca_pem);
    }
    pem_len = BIO_get_mem_data(bio, &pem_data);
    pem = malloc((size_t)pem_len + 1);
    if (pem_len > 0)
        memcpy(pem, pem_data, (size_t)pem_len);
    pem[pem_len] = '\0';
    BIO_free(bio);

    p = fuzz_pool();
    c = og_cert_parse(pem, p, &err);
    FUZZ_CHECK((c == NULL) == (err != NULL), "result and error disagree");
    if (c) {
        const unsigned char *q = c->request_der;
        OCSP_REQUEST *req = d2i_OCSP_REQUEST(NULL, &q, (long)c->request_len);
        FUZZ_CHECK(req && q == c->request_der + c->request_len,
                   "the request does not decode");
        OCSP_REQUEST_free(req);
        FUZZ_CHECK(c->certid && c->issuer && !c->cert, "parsed state");
        FUZZ_CHECK(c->must_staple == 0 || c->must_staple == 1, "flag %d",
                   c->must_staple);
        FUZZ_CHECK(strlen(c->sha1_hex) == (size_t)2 * OG_CERT_SHA1_LEN, "sha1 hex");
        FUZZ_CHECK(c->subject && c->serial_hex, "names");
        for (i = 0; i < c->ocsp_urls->nelts; i++) {
            const char *u = APR_ARRAY_IDX(c->ocsp_urls, i, const char *);
            FUZZ_CHECK(u && *u, "empty OCSP URL %d", i);
        }
        for (i = 0; c->serial_hex[i]; i++)
            FUZZ_CHECK(strchr("0123456789ABCDEF-", c->serial_hex[i]),
                       "serial %s", c->serial_hex);
    }
    apr_pool_destroy(p);
    free(pem);
    ERR_clear_error();
    return 0;
}
