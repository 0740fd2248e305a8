/* SPDX-License-Identifier: Apache-2.0 */
/* og_validate: what may be stapled, and every way a response is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include <apr_general.h>
#include "src/og_validate.h"
#include "unit_pki.h"

static apr_pool_t *pool;
static upki_id_t ca, delegated, delegated2, impostor, ca_impostor, no_eku,
                 stranger, leaf, other_leaf;
static og_cert_t *cert;

static int setup(void **state)
{
    const char *err = NULL;
    char *pem;

    (void)state;
    apr_pool_create(&pool, NULL);
    ca = upki_make("Unit CA", NULL, 1, 1, NULL, NULL, 0);
    delegated = upki_make("Unit OCSP", &ca, 2, 0, "OCSPSigning", NULL, 0);
    delegated2 = upki_make("Unit OCSP 2", &ca, 5, 0, "OCSPSigning", NULL, 0);
    no_eku = upki_make("Unit not OCSP", &ca, 3, 0, "serverAuth", NULL, 0);
    stranger = upki_make("Stranger CA", NULL, 4, 1, NULL, NULL, 0);
    /* the delegate's very name, issued by someone else */
    impostor = upki_make("Unit OCSP", &stranger, 2, 0, "OCSPSigning", NULL, 0);
    /* the issuer's very name, issued by someone else */
    ca_impostor = upki_make("Unit CA", &stranger, 1, 0, "OCSPSigning", NULL,
                            0);
    leaf = upki_make("leaf.test", &ca, 10, 0, "serverAuth",
                     "OCSP;URI:http://127.0.0.1:1/", 0);
    other_leaf = upki_make("other.test", &ca, 11, 0, "serverAuth",
                           "OCSP;URI:http://127.0.0.1:1/", 0);
    pem = upki_pem_pair(leaf.cert, ca.cert);
    cert = og_cert_parse(pem, pool, &err);
    free(pem);
    return cert ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    apr_pool_destroy(pool);
    upki_free(&ca);
    upki_free(&delegated);
    upki_free(&delegated2);
    upki_free(&impostor);
    upki_free(&ca_impostor);
    upki_free(&no_eku);
    upki_free(&stranger);
    upki_free(&leaf);
    upki_free(&other_leaf);
    return 0;
}

static upki_resp_t base(void)
{
    upki_resp_t o;
    memset(&o, 0, sizeof(o));
    o.response_status = OCSP_RESPONSE_STATUS_SUCCESSFUL;
    o.for_cert = leaf.cert;
    o.for_issuer = ca.cert;
    o.signer = &ca;
    o.cert_status = V_OCSP_CERTSTATUS_GOOD;
    o.this_offset = -60;
    o.next_offset = 3600;
    o.include_signer = 1;
    return o;
}

/* The response of `o` changed after signing: its tbsResponseData (a
 * nonce added: the signature no longer matches) when `tamper`, a
 * certificate put beside the signer's (certificates are not signed) when
 * `extra`. */
static int tamper;
static X509 *extra;

static unsigned char *reworked(const upki_resp_t *o, size_t *len)
{
    unsigned char *der = upki_response(o, len), *out = NULL;
    const unsigned char *q = der;
    OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &q, (long)*len);
    OCSP_BASICRESP *bs = OCSP_response_get1_basic(resp);
    int n;

    if (tamper)
        OCSP_basic_add1_nonce(bs, NULL, 8);
    if (extra)
        OCSP_basic_add1_cert(bs, extra);
    OCSP_RESPONSE_free(resp);
    resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
    n = i2d_OCSP_RESPONSE(resp, &out);
    *len = n > 0 ? (size_t)n : 0;
    OCSP_RESPONSE_free(resp);
    OCSP_BASICRESP_free(bs);
    OPENSSL_free(der);
    return out;
}

static og_error_e check(const upki_resp_t *o, og_validation_t *v)
{
    size_t len = 0;
    unsigned char *der = tamper || extra ? reworked(o, &len)
                                         : upki_response(o, &len);
    og_error_e e;

    assert_non_null(der);
    e = og_validate_response(cert, der, len, apr_time_now(),
                             apr_time_from_sec(300), v, pool);
    OPENSSL_free(der);
    return e;
}

static void good_signed_by_ca(void **state)
{
    upki_resp_t o = base();
    og_validation_t v;
    apr_time_t now = apr_time_now();

    (void)state;
    assert_int_equal(check(&o, &v), OG_OK);
    assert_int_equal(v.cert_status, OG_CERT_GOOD);
    assert_int_equal(v.ocsp_status, 0);
    assert_true(v.this_update <= now);
    assert_true(v.next_update > now + apr_time_from_sec(3500));
    assert_true(v.next_update < now + apr_time_from_sec(3700));
}

static void good_signed_by_delegate(void **state)
{
    upki_resp_t o = base();
    og_validation_t v;

    (void)state;
    o.signer = &delegated;
    assert_int_equal(check(&o, &v), OG_OK);
    assert_int_equal(v.cert_status, OG_CERT_GOOD);
}

static void revoked_is_valid_and_says_so(void **state)
{
    upki_resp_t o = base();
    og_validation_t v;

    (void)state;
    o.cert_status = V_OCSP_CERTSTATUS_REVOKED;
    assert_int_equal(check(&o, &v), OG_OK);
    assert_int_equal(v.cert_status, OG_CERT_REVOKED);
    assert_int_equal(v.revocation_reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
    assert_true(v.revoked_at > 0 && v.revoked_at < apr_time_now());
}

static void unknown_status(void **state)
{
    upki_resp_t o = base();
    og_validation_t v;

    (void)state;
    o.cert_status = V_OCSP_CERTSTATUS_UNKNOWN;
    assert_int_equal(check(&o, &v), OG_OK);
    assert_int_equal(v.cert_status, OG_CERT_UNKNOWN);
}

static void garbage_is_malformed(void **state)
{
    og_validation_t v;
    const unsigned char junk[] = "<html>503 Service Unavailable</html>";

    (void)state;
    assert_int_equal(og_validate_response(cert, junk, sizeof(junk) - 1,
        apr_time_now(), 0, &v, pool), OG_ERR_MALFORMED);
    assert_int_equal(og_validate_response(cert, junk, 0, apr_time_now(), 0,
                                          &v, pool), OG_ERR_MALFORMED);
}

static void truncated_and_trailing_are_malformed(void **state)
{
    upki_resp_t o = base();
    og_validation_t v;
    size_t len = 0, cut;
    unsigned char *der = upki_response(&o, &len);
    unsigned char *longer = malloc(len + 1);

    (void)state;
    for (cut = 1; cut < len; cut += 7)
        assert_int_not_equal(og_validate_response(cert, der, len - cut,
            apr_time_now(), 0, &v, pool), OG_OK);
    memcpy(longer, der, len);
    longer[len] = 0;
    assert_int_equal(og_validate_response(cert, longer, len + 1,
        apr_time_now(), 0, &v, pool), OG_ERR_MALFORMED);
    free(longer);
    OPENSSL_free(der);
}

static void error_statuses_refused(void **state)
{
    upki_resp_t o = base();
    og_validation_t v;

    (void)state;
    o.response_status = OCSP_RESPONSE_STATUS_TRYLATER;
    assert_int_equal(check(&o, &v), OG_ERR_OCSP_STATUS);
    assert_int_equal(v.ocsp_status, OCSP_RESPONSE_STATUS_TRYLATER);
    o.response_status = OCSP_RESPONSE_STATUS_UNAUTHORIZED;
    assert_int_equal(check(&o, &v), OG_ERR_OCSP_STATUS);
    assert_int_equal(v.ocsp_status, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
    o.response_status = OCSP_RESPONSE_STATUS_INTERNALERROR;
    assert_int_equal(check(&o, &v), OG_ERR_OCSP_STATUS);
}

static void unrelated_signer_refused(void **state)
{
    upki_resp_t o = base();
    og_validation_t v;

    (void)state;
    o.signer = &stranger;
    assert_int_equal(check(&o, &v), OG_ERR_VERIFY_FAILED);
    o.include_signer = 0;
    assert_int_equal(check(&o, &v), OG_ERR_VERIFY_FAILED);
}

static void delegate_without_ocsp_eku_refused(void **state)
{
    upki_resp_t o = base();
    og_validation_t v;

    (void)state;
    o.signer = &no_eku;
    assert_int_equal(check(&o, &v), OG_ERR_VERIFY_FAILED);
}

static void other_certificate_refused(void **state)
{
    upki_resp_t o = base();
    og_validation_t v;

    (void)state;
    o.for_cert = other_leaf.cert;
    assert_int_equal(check(&o, &v), OG_ERR_WRONG_CERT);
}

static void time_window(void **state)
{
    upki_resp_t o = base();
    og_validation_t v;

    (void)state;
    o.this_offset = -7200;
    o.next_offset = -60;            /* expired a minute ago */
    assert_int_equal(check(&o, &v), OG_ERR_EXPIRED);
    o.this_offset = 3600;           /* an hour ahead: beyond the skew */
    o.next_offset = 7200;
    assert_int_equal(check(&o, &v), OG_ERR_EXPIRED);
    o.this_offset = 120;            /* two minutes ahead: within skew */
    assert_int_equal(check(&o, &v), OG_OK);
    o.this_offset = -60;
    o.no_next_update = 1;           /* nobody could tell when it is stale */
    assert_int_equal(check(&o, &v), OG_ERR_MALFORMED);
}

/* An issuer's remembered signers, step by step: only a signer that
 * passed the full check is remembered, and only its exact certificate
 * takes the short way; the signature is always checked. */
static void remembered_signers(void **state)
{
    static const struct {
        const char *name;
        const upki_id_t *signer;
        int include, tampered;
        const upki_id_t *beside;
        og_error_e want;
        unsigned long hits, verified;
        int held;
    } steps[] = {
        { "an impostor first (the delegate's name)", &impostor, 1, 0, NULL,
          OG_ERR_VERIFY_FAILED, 0, 0, 0 },
        { "the delegate: full check, remembered", &delegated, 1, 0, NULL,
          OG_OK, 0, 1, 1 },
        { "the delegate again: the short way", &delegated, 1, 0, NULL,
          OG_OK, 1, 1, 1 },
        { "the delegate, tampered response", &delegated, 1, 1, NULL,
          OG_ERR_VERIFY_FAILED, 1, 1, 1 },
        { "the impostor after the delegate", &impostor, 1, 0, NULL,
          OG_ERR_VERIFY_FAILED, 1, 1, 1 },
        { "a delegate without the OCSP EKU", &no_eku, 1, 0, NULL,
          OG_ERR_VERIFY_FAILED, 1, 1, 1 },
        { "a stranger CA", &stranger, 1, 0, NULL, OG_ERR_VERIFY_FAILED, 1, 1,
          1 },
        { "a second delegate", &delegated2, 1, 0, NULL, OG_OK, 1, 2, 2 },
        { "the issuer itself, no certificate", &ca, 0, 0, NULL, OG_OK, 2, 2,
          2 },
        { "the issuer itself, tampered", &ca, 0, 1, NULL,
          OG_ERR_VERIFY_FAILED, 2, 2, 2 },
        { "the delegate once more", &delegated, 1, 0, NULL, OG_OK, 3, 2, 2 },
        { "the second delegate, tampered", &delegated2, 1, 1, NULL,
          OG_ERR_VERIFY_FAILED, 3, 2, 2 },
        { "the issuer's signature, an impostor of the issuer beside", &ca, 0,
          0, &ca_impostor, OG_OK, 3, 3, 2 },
        { "then signed by that impostor", &ca_impostor, 1, 0, NULL,
          OG_ERR_VERIFY_FAILED, 3, 3, 2 },
    };
    og_signers_t *saved = cert->signers;
    size_t i;

    (void)state;
    cert->signers = og_signers_make();
    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        upki_resp_t o = base();
        og_validation_t v;
        unsigned long hits, verified;
        int held;
        og_error_e e;

        o.signer = steps[i].signer;
        o.include_signer = steps[i].include;
        tamper = steps[i].tampered;
        extra = steps[i].beside ? steps[i].beside->cert : NULL;
        e = check(&o, &v);
        tamper = 0;
        extra = NULL;
        og_signers_counts(cert->signers, &hits, &verified, &held);
        if (e != steps[i].want || hits != steps[i].hits
            || verified != steps[i].verified || held != steps[i].held)
            fail_msg("%s: error %d (want %d), short way %lu (want %lu),"
                     " full %lu (want %lu), held %d (want %d)",
                     steps[i].name, e, steps[i].want, hits, steps[i].hits,
                     verified, steps[i].verified, held, steps[i].held);
    }
    /* the delegates' responses after the first: certificates unparsed */
    assert_int_equal(og_signers_quick(cert->signers), 2);
    og_signers_free(cert->signers);
    cert->signers = saved;
}

/* A response remembered by its bytes: the same bytes need only the time
 * window, checked again at each `now`; other bytes the full check. */
static void remembered_response(void **state)
{
    upki_resp_t o = base();
    og_vmemo_t *saved = cert->memo;
    og_validation_t v;
    apr_time_t now = apr_time_now(), later = now + apr_time_from_sec(7200);
    size_t len = 0, bad_len = 0;
    unsigned char *der, *bad;

    (void)state;
    cert->memo = og_vmemo_make(pool);
    o.signer = &delegated;
    der = upki_response(&o, &len);
    assert_int_equal(og_validate_response(cert, der, len, now, 0, &v, pool),
                     OG_OK);
    /* past its nextUpdate: the remembered answer is not a valid one */
    assert_int_equal(og_validate_response(cert, der, len, later, 0, &v,
                                          pool), OG_ERR_EXPIRED);
    assert_int_equal(og_validate_response(cert, der, len, now, 0, &v, pool),
                     OG_OK);
    assert_int_equal(v.cert_status, OG_CERT_GOOD);
    /* one bit changed: not the remembered response, refused */
    der[len - 1] ^= 1;
    assert_int_not_equal(og_validate_response(cert, der, len, now, 0, &v,
                                              pool), OG_OK);
    der[len - 1] ^= 1;
    /* a refused response is not remembered */
    o.for_cert = other_leaf.cert;
    bad = upki_response(&o, &bad_len);
    assert_int_equal(og_validate_response(cert, bad, bad_len, now, 0, &v,
                                          pool), OG_ERR_WRONG_CERT);
    assert_int_equal(og_validate_response(cert, bad, bad_len, now, 0, &v,
                                          pool), OG_ERR_WRONG_CERT);
    assert_int_equal(og_validate_response(cert, der, len, now, 0, &v, pool),
                     OG_OK);
    /* taken elsewhere (what the start-up helper hands back): the same */
    {
        og_vmemo_t *kept = cert->memo, *taken = og_vmemo_make(pool);

        assert_int_equal(og_vmemo_take(taken, og_vmemo_make(pool)), 0);
        assert_int_equal(og_vmemo_take(taken, kept), 1);
        cert->memo = taken;
        assert_int_equal(og_validate_response(cert, der, len, later, 0, &v,
                                              pool), OG_ERR_EXPIRED);
        assert_int_equal(og_validate_response(cert, der, len, now, 0, &v,
                                              pool), OG_OK);
    }
    OPENSSL_free(der);
    OPENSSL_free(bad);
    cert->memo = saved;
}

/* The whole table again with the issuer's signers remembered from the
 * first good response on: every refusal must still be a refusal. */
static int setup_signers(void **state)
{
    int rc = setup(state);

    if (rc == 0) {
        cert->signers = og_signers_make();
        cert->memo = og_vmemo_make(pool);
    }
    return rc;
}

static int teardown_signers(void **state)
{
    og_signers_free(cert->signers);
    cert->signers = NULL;
    cert->memo = NULL;
    return teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_signed_by_ca),
        cmocka_unit_test(good_signed_by_delegate),
        cmocka_unit_test(revoked_is_valid_and_says_so),
        cmocka_unit_test(unknown_status),
        cmocka_unit_test(garbage_is_malformed),
        cmocka_unit_test(truncated_and_trailing_are_malformed),
        cmocka_unit_test(error_statuses_refused),
        cmocka_unit_test(unrelated_signer_refused),
        cmocka_unit_test(delegate_without_ocsp_eku_refused),
        cmocka_unit_test(other_certificate_refused),
        cmocka_unit_test(time_window),
        cmocka_unit_test(remembered_signers),
        cmocka_unit_test(remembered_response),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("og_validate", tests, setup, teardown);
    if (rc == 0)
        rc = cmocka_run_group_tests_name("og_validate, signers remembered",
                                         tests, setup_signers,
                                         teardown_signers);
    apr_terminate();
    return rc;
}
