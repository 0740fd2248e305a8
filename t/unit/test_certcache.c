/* SPDX-License-Identifier: Apache-2.0 */
/* og_certcache: certificates parsed once per process, not per
 * configuration pass; issuers once per CA; what is unused freed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>
#include "src/og_certcache.h"
#include "unit_pki.h"

static apr_pool_t *pool;
static upki_id_t ca_a, ca_b, ca_a2;
#define NLEAVES 4
static upki_id_t leaves[NLEAVES];       /* 0-2 by CA A, 3 by CA B */

static int setup(void **state)
{
    int i;

    (void)state;
    apr_pool_create(&pool, NULL);
    ca_a = upki_make("CA A", NULL, 1, 1, NULL, NULL, 0);
    ca_b = upki_make("CA B", NULL, 2, 1, NULL, NULL, 0);
    /* the same name as CA A, another key: a changed issuer */
    ca_a2 = upki_make("CA A", NULL, 3, 1, NULL, NULL, 0);
    for (i = 0; i < NLEAVES; i++) {
        char cn[32];
        snprintf(cn, sizeof(cn), "v%d.test", i);
        leaves[i] = upki_make(cn, i < 3 ? &ca_a : &ca_b, 100 + i, 0,
                              "serverAuth", "OCSP;URI:http://ocsp.test/", 0);
    }
    return 0;
}

static int teardown(void **state)
{
    int i;

    (void)state;
    for (i = 0; i < NLEAVES; i++)
        upki_free(&leaves[i]);
    upki_free(&ca_a);
    upki_free(&ca_b);
    upki_free(&ca_a2);
    apr_pool_destroy(pool);
    return 0;
}

/* What one configuration generation primes, and what the cache must have
 * done: leaves[] indexes; 'i' after an index hands it with CA A's second
 * certificate as issuer; "bad" a certificate that does not parse. */
typedef struct {
    const char *primes;             /* e.g. "0 1 2 3", "0i", "bad" */
    unsigned int parsed, reused, issuers_parsed, freed, held, issuers;
} gen_t;

static const struct {
    const char *name;
    gen_t gens[5];
} cases[] = {
    { "two start-up passes, then a graceful restart: parsed once", {
        { "0 1 2 3", 4, 0, 2, 0, 4, 2 },
        { "0 1 2 3", 0, 4, 0, 0, 4, 2 },
        { "0 1 2 3", 0, 4, 0, 0, 4, 2 },
        { NULL, 0, 0, 0, 0, 0, 0 } } },
    { "a vhost removed: its certificate freed, then its CA", {
        { "0 1 2 3", 4, 0, 2, 0, 4, 2 },
        { "0 1 2", 0, 3, 0, 1, 3, 1 },
        { "0 1", 0, 2, 0, 1, 2, 1 },
        { "0 1 3", 1, 2, 1, 0, 3, 2 },
        { NULL, 0, 0, 0, 0, 0, 0 } } },
    { "the same certificate with a changed issuer is parsed again", {
        { "0 1", 2, 0, 1, 0, 2, 1 },
        { "0i 1", 1, 1, 1, 0, 2, 2 },
        { "0i 1", 0, 2, 0, 0, 2, 2 },
        { NULL, 0, 0, 0, 0, 0, 0 } } },
    { "what does not parse is not parsed again, and is freed", {
        { "bad 0", 2, 0, 1, 0, 2, 1 },
        { "bad 0", 0, 2, 0, 0, 2, 1 },
        { "0", 0, 1, 0, 1, 1, 1 },
        { NULL, 0, 0, 0, 0, 0, 0 } } },
};

static void check_cert(const og_cert_t *c, int leaf)
{
    char cn[64];

    assert_non_null(c);
    snprintf(cn, sizeof(cn), "CN=v%d.test,O=Unit Test", leaf);
    assert_string_equal(c->subject, cn);
    assert_int_equal(c->ocsp_urls->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(c->ocsp_urls, 0, const char *),
                        "http://ocsp.test/");
    assert_non_null(c->issuer);
    assert_non_null(c->certid);
    assert_non_null(c->signers);
    assert_null(c->cert);
}

static void prime(og_certcache_t *cc, const char *primes,
                  const og_cert_t **got)
{
    char *list = apr_pstrdup(pool, primes), *last = NULL, *tok;

    for (tok = apr_strtok(list, " ", &last); tok;
         tok = apr_strtok(NULL, " ", &last)) {
        const char *err = NULL;
        og_cert_t *c;

        if (!strcmp(tok, "bad")) {
            /* a certificate that is not one, then a good issuer */
            char *ca = upki_pem_pair(ca_a.cert, NULL);
            char *pem = apr_pstrcat(pool, "-----BEGIN CERTIFICATE-----\n"
                                    "AAAA\n-----END CERTIFICATE-----\n", ca,
                                    NULL);

            free(ca);
            c = og_certcache_get(cc, "bad-id-bad-id-bad-id", 20, pem, &err);
            assert_null(c);
            assert_string_equal(err, "no certificate in the PEM data");
        }
        else {
            int i = tok[0] - '0';
            unsigned char id[20];
            unsigned int len = 0;
            char *pem = upki_pem_pair(leaves[i].cert, tok[1] == 'i'
                                      ? ca_a2.cert
                                      : i < 3 ? ca_a.cert : ca_b.cert);

            X509_digest(leaves[i].cert, EVP_sha1(), id, &len);
            c = og_certcache_get(cc, (const char *)id, len, pem, &err);
            free(pem);
            if (tok[1] == 'i') {
                /* ca_a2 has CA A's name: it passes the name check */
                assert_non_null(c);
                assert_true(X509_cmp(c->issuer, ca_a2.cert) == 0);
            }
            else {
                assert_null(err);
                check_cert(c, i);
            }
            got[i] = c;
        }
    }
}

static void generations(void **state)
{
    size_t k;

    (void)state;
    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        og_certcache_t *cc = og_certcache_make(pool);
        const gen_t *g;
        int n;

        for (g = cases[k].gens, n = 0; g->primes; g++, n++) {
            const og_cert_t *got[NLEAVES] = { NULL };
            og_certcache_stats_t st;
            int i;

            og_certcache_generation(cc);
            prime(cc, g->primes, got);
            og_certcache_sweep(cc);
            og_certcache_stats(cc, &st);
            if (st.parsed != g->parsed || st.reused != g->reused
                || st.issuers_parsed != g->issuers_parsed
                || st.freed != g->freed || st.held != g->held
                || st.issuers != g->issuers)
                fail_msg("%s, generation %d: parsed %u reused %u issuers"
                         " parsed %u freed %u held %u issuers %u",
                         cases[k].name, n + 1, st.parsed, st.reused,
                         st.issuers_parsed, st.freed, st.held, st.issuers);
            /* what was handed out stays readable through the sweep */
            for (i = 0; i < NLEAVES; i++)
                if (got[i] && X509_cmp(got[i]->issuer, ca_a2.cert) != 0)
                    check_cert(got[i], i);
        }
        og_certcache_destroy(cc);
    }
}

/* After a compaction (a generation after a drop) the certificates kept
 * are the same, moved: their request and CertID intact. */
static void compaction_keeps_content(void **state)
{
    og_certcache_t *cc = og_certcache_make(pool);
    const og_cert_t *got[NLEAVES] = { NULL };
    og_cert_t before;
    unsigned char *req;
    const char *serial;

    (void)state;
    og_certcache_generation(cc);
    prime(cc, "0 1", got);
    og_certcache_sweep(cc);
    before = *got[0];
    req = apr_pmemdup(pool, got[0]->request_der, got[0]->request_len);
    serial = apr_pstrdup(pool, got[0]->serial_hex);
    og_certcache_generation(cc);
    prime(cc, "0", got);
    og_certcache_sweep(cc);
    og_certcache_generation(cc);           /* compacts: 1 was dropped */
    prime(cc, "0", got);
    assert_int_equal(got[0]->request_len, before.request_len);
    assert_memory_equal(got[0]->request_der, req, before.request_len);
    assert_ptr_equal(got[0]->certid, before.certid);
    assert_ptr_equal(got[0]->issuer, before.issuer);
    assert_string_equal(got[0]->serial_hex, serial);
    og_certcache_destroy(cc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generations),
        cmocka_unit_test(compaction_keeps_content),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("og_certcache", tests, setup, teardown);
    apr_terminate();
    return rc;
}
