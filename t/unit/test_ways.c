/* SPDX-License-Identifier: Apache-2.0 */
/* og_ways: what the fetcher learns about responders, step by step. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_general.h>

#include "src/og_ways.h"

#define SEC(n) apr_time_from_sec(n)

static apr_pool_t *pool;
static const apr_time_t T0 = APR_INT64_C(1800000000000000);

typedef struct {
    long at;                    /* seconds after T0; -1 ends */
    int way;                    /* index in ways[] */
    int ask;                    /* 1: og_ways_usable, 0: og_ways_report */
    og_error_e error;           /* report: the outcome */
    int want;                   /* ask: usable; report: 1 when it changed */
    int want_down;              /* after the step: the responder is down */
} step_t;

static const og_way_t ways[] = {
    { "http://ocsp.ca.example/", NULL, OG_SOURCE_DIRECT, NULL },
    { "http://ocsp.ca.example:80/other", NULL, OG_SOURCE_DIRECT, NULL },
    { "http://ocsp.ca.example/", "http://proxy:3128", OG_SOURCE_PROXY, NULL },
    { "http://mirror.example/", NULL, OG_SOURCE_MIRROR, NULL },
};

static const struct {
    const char *name;
    step_t steps[16];
} cases[] = {
    { "a timeout takes the responder down for every URL on it", {
        { 0, 0, 1, OG_OK, 1, 0 },
        { 0, 0, 0, OG_ERR_READ_TIMEOUT, 1, 1 },
        { 1, 1, 1, OG_OK, 0, 1 },           /* same host and port */
        { 1, 2, 1, OG_OK, 1, 0 },           /* through the proxy: another */
        { 1, 3, 1, OG_OK, 1, 0 },
        { -1, 0, 0, OG_OK, 0, 0 } } },
    { "one probe after the backoff; back when it answers", {
        { 0, 0, 0, OG_ERR_CONNECT_REFUSED, 1, 1 },
        { 29, 0, 1, OG_OK, 0, 1 },
        { 30, 0, 1, OG_OK, 1, 1 },          /* the probe */
        { 30, 1, 1, OG_OK, 0, 1 },          /* only one at a time */
        { 31, 0, 0, OG_OK, 1, 0 },          /* it answered */
        { 31, 1, 1, OG_OK, 1, 0 },
        { -1, 0, 0, OG_OK, 0, 0 } } },
    { "a failed probe doubles the backoff", {
        { 0, 0, 0, OG_ERR_CONNECT_TIMEOUT, 1, 1 },
        { 30, 0, 1, OG_OK, 1, 1 },
        { 32, 0, 0, OG_ERR_CONNECT_TIMEOUT, 0, 1 },
        { 61, 0, 1, OG_OK, 0, 1 },
        { 92, 0, 1, OG_OK, 1, 1 },
        { -1, 0, 0, OG_OK, 0, 0 } } },
    { "requests in flight when it went down do not lengthen the backoff", {
        { 0, 0, 0, OG_ERR_READ_TIMEOUT, 1, 1 },
        { 0, 0, 0, OG_ERR_READ_TIMEOUT, 0, 1 },
        { 0, 1, 0, OG_ERR_READ_TIMEOUT, 0, 1 },
        { 1, 0, 0, OG_ERR_CONNECT_TIMEOUT, 0, 1 },
        { 29, 0, 1, OG_OK, 0, 1 },
        { 30, 0, 1, OG_OK, 1, 1 },          /* still 30 s: the probe */
        { 40, 0, 0, OG_ERR_READ_TIMEOUT, 0, 1 },
        { 99, 0, 1, OG_OK, 0, 1 },
        { 100, 0, 1, OG_OK, 1, 1 },         /* 60 s after the failed probe */
        { 101, 0, 0, OG_OK, 1, 0 },
        { -1, 0, 0, OG_OK, 0, 0 } } },
    { "an answer, even a bad one, is no outage", {
        { 0, 0, 0, OG_ERR_HTTP_STATUS, 0, 0 },
        { 0, 0, 0, OG_ERR_VERIFY_FAILED, 0, 0 },
        { 0, 0, 1, OG_OK, 1, 0 },
        { -1, 0, 0, OG_OK, 0, 0 } } },
};

static void ways_table(void **state)
{
    size_t c;

    (void)state;
    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        og_ways_t *w = og_ways_make(pool);
        const step_t *s;

        for (s = cases[c].steps; s->at >= 0; s++) {
            apr_time_t now = T0 + SEC(s->at);
            const og_responder_t *r;
            int got = s->ask ? og_ways_usable(w, &ways[s->way], now)
                             : og_ways_report(w, &ways[s->way], s->error,
                                              now) != NULL;

            if (got != s->want)
                fail_msg("%s, at %ld s, way %d: got %d, want %d",
                         cases[c].name, s->at, s->way, got, s->want);
            r = og_ways_get(w, &ways[s->way]);
            if ((r && r->down) != s->want_down)
                fail_msg("%s, at %ld s, way %d: down %d, want %d",
                         cases[c].name, s->at, s->way, r && r->down,
                         s->want_down);
        }
    }
}

static void keys(void **state)
{
    (void)state;
    assert_string_equal(og_ways_key(pool, &ways[0]),
                        "http://ocsp.ca.example:80");
    assert_string_equal(og_ways_key(pool, &ways[2]),
                        "http://ocsp.ca.example:80 via http://proxy:3128");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ways_table),
        cmocka_unit_test(keys),
    };
    int rc;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
