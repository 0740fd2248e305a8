/* SPDX-License-Identifier: Apache-2.0 */
/* og_cert: what is read from the PEM mod_ssl hands to the prime hook. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include <apr_general.h>
#include "src/og_cert.h"
#include "unit_pki.h"

static apr_pool_t *pool;
static upki_id_t ca, stranger, leaf, plain;

static int setup(void **state)
{
    (void)state;
    apr_pool_create(&pool, NULL);
    ca = upki_make("Unit CA", NULL, 1, 1, NULL, NULL, 0);
    stranger = upki_make("Stranger CA", NULL, 2, 1, NULL, NULL, 0);
    leaf = upki_make("leaf.test", &ca, 0x1234abcd, 0, "serverAuth",
                     "OCSP;URI:http://ocsp-a.test/,OCSP;URI:http://ocsp-b.test/x",
                     1);
    plain = upki_make("plain.test", &ca, 0x77, 0, "serverAuth", NULL, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    apr_pool_destroy(pool);
    upki_free(&ca);
    upki_free(&stranger);
    upki_free(&leaf);
    upki_free(&plain);
    return 0;
}

static og_cert_t *parse(X509 *c, X509 *issuer, const char **err)
{
    char *pem = upki_pem_pair(c, issuer);
    og_cert_t *out = og_cert_parse(pem, pool, err);
    free(pem);
    return out;
}

static void reads_everything(void **state)
{
    const char *err = NULL;
    og_cert_t *c = parse(leaf.cert, ca.cert, &err);
    unsigned char md[20];
    unsigned int mdlen = 0;
    const unsigned char *p;
    OCSP_REQUEST *req;
    OCSP_CERTID *cid;

    (void)state;
    assert_non_null(c);
    assert_null(err);
    assert_int_equal(c->ocsp_urls->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(c->ocsp_urls, 0, const char *),
                        "http://ocsp-a.test/");
    assert_string_equal(APR_ARRAY_IDX(c->ocsp_urls, 1, const char *),
                        "http://ocsp-b.test/x");
    assert_int_equal(c->must_staple, 1);
    assert_string_equal(c->subject, "CN=leaf.test,O=Unit Test");
    assert_string_equal(c->serial_hex, "1234ABCD");
    assert_true(c->not_after > apr_time_now() + apr_time_from_sec(86400 * 29));
    X509_digest(leaf.cert, EVP_sha1(), md, &mdlen);
    assert_memory_equal(c->sha1, md, 20);
    assert_int_equal(strlen(c->sha1_hex), 40);
    /* the request is a DER OCSP request for exactly our CertID */
    p = c->request_der;
    req = d2i_OCSP_REQUEST(NULL, &p, (long)c->request_len);
    assert_non_null(req);
    assert_int_equal(OCSP_request_onereq_count(req), 1);
    cid = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, 0));
    assert_int_equal(OCSP_id_cmp(cid, c->certid), 0);
    OCSP_REQUEST_free(req);
}

static void plain_certificate(void **state)
{
    const char *err = NULL;
    og_cert_t *c = parse(plain.cert, ca.cert, &err);

    (void)state;
    assert_non_null(c);
    assert_int_equal(c->ocsp_urls->nelts, 0);
    assert_int_equal(c->must_staple, 0);
    assert_string_equal(c->serial_hex, "77");
}

static void refuses_bad_input(void **state)
{
    const char *err = NULL;

    (void)state;
    assert_null(og_cert_parse("", pool, &err));
    assert_string_equal(err, "no certificate in the PEM data");
    assert_null(parse(leaf.cert, NULL, &err));
    assert_string_equal(err, "no issuer certificate after the certificate");
    assert_null(parse(leaf.cert, stranger.cert, &err));
    assert_string_equal(err, "the second certificate did not issue the first");
}

static void hex(void **state)
{
    const unsigned char b[] = { 0x00, 0x0f, 0xa0, 0xff };

    (void)state;
    assert_string_equal(og_hex(pool, b, sizeof(b)), "000fa0ff");
    assert_string_equal(og_hex(pool, b, 0), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_everything),
        cmocka_unit_test(plain_certificate),
        cmocka_unit_test(refuses_bad_input),
        cmocka_unit_test(hex),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("og_cert", tests, setup, teardown);
    apr_terminate();
    return rc;
}
