/* SPDX-License-Identifier: Apache-2.0 */
/* og_report: the status JSON and the Prometheus text, against expected
 * output for fixed views. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "src/og_report.h"

#define SEC(n) apr_time_from_sec(n)

static apr_pool_t *pool;
/* 2027-01-15T08:00:00Z */
static const apr_time_t NOW = APR_INT64_C(1800000000) * APR_USEC_PER_SEC;

static og_view_t stapled(void)
{
    og_view_t v;

    memset(&v, 0, sizeof(v));
    v.cert_id = "00aa";
    v.subject = "CN=a \"quoted\" one";
    v.serial = "1001";
    v.vhosts = "a.test:443";
    v.owner = "mod_ocsp_guard";
    v.claimed = 1;
    v.not_after = NOW + SEC(86400);
    v.staple = OG_STAPLE_STALE;
    v.cert_status = OG_CERT_GOOD;
    v.source = OG_SOURCE_MIRROR;
    v.responder = "http://m/";
    v.this_update = NOW - SEC(60);
    v.next_update = NOW + SEC(540);
    v.last_success = NOW - SEC(60);
    v.last_failure = NOW - SEC(1);
    v.next_attempt = NOW + SEC(4);
    v.last_error = OG_ERR_READ_TIMEOUT;
    v.last_error_detail = "http://a/: timed out";
    v.failures = 2;
    v.fetch_ok = 3;
    v.fetch_failed[OG_ERR_READ_TIMEOUT] = 2;
    v.cached_bytes = 500;
    v.staples_served = 7;
    return v;
}

static og_report_t head(void)
{
    og_report_t r;

    memset(&r, 0, sizeof(r));
    r.module = "mod_ocsp_guard/9";
    r.now = NOW;
    r.cache = "shmcb:/run/c(524288)";
    r.cache_capacity = 524288;
    r.state_dir = "/var/lib/x";
    r.owned = 1;
    return r;
}

static void json_of_a_stapled_and_a_foreign_certificate(void **state)
{
    og_view_t v[2];
    og_report_t r = head();

    (void)state;
    v[0] = stapled();
    memset(&v[1], 0, sizeof(v[1]));
    v[1].cert_id = "00bb";
    v[1].subject = "CN=b";
    v[1].serial = "2";
    v[1].vhosts = "b.test:443";
    v[1].owner = "none (no OCSP URL)";
    assert_string_equal(og_report_json(pool, &r, v, 2),
        "{\"module\":\"mod_ocsp_guard/9\",\"now\":\"2027-01-15T08:00:00.000Z\","
        "\"cache\":\"shmcb:/run/c(524288)\",\"responders\":[],"
        "\"state_dir\":\"/var/lib/x\","
        "\"certificates\":[{\"cert_id\":\"00aa\","
        "\"subject\":\"CN=a \\\"quoted\\\" one\",\"serial\":\"1001\","
        "\"vhosts\":\"a.test:443\",\"stapled_by\":\"mod_ocsp_guard\","
        "\"must_staple\":false,\"not_after\":\"2027-01-16T08:00:00.000Z\","
        "\"state\":\"stale-refreshing\",\"cert_status\":\"good\","
        "\"source\":\"mirror\",\"responder\":\"http://m/\","
        "\"this_update\":\"2027-01-15T07:59:00.000Z\","
        "\"next_update\":\"2027-01-15T08:09:00.000Z\","
        "\"staple_expires_in_s\":540,"
        "\"last_success\":\"2027-01-15T07:59:00.000Z\","
        "\"last_failure\":\"2027-01-15T07:59:59.000Z\","
        "\"last_error_class\":\"read_timeout\","
        "\"last_error\":\"http://a/: timed out\","
        "\"next_attempt\":\"2027-01-15T08:00:04.000Z\","
        "\"consecutive_failures\":2,\"staples_served\":7,"
        "\"handshakes_without_staple\":0,\"cache_rejected\":0,"
        "\"cache_taken\":0,\"fetches_ok\":3,"
        "\"fetches_failed\":{\"read_timeout\":2}},"
        "{\"cert_id\":\"00bb\",\"subject\":\"CN=b\",\"serial\":\"2\","
        "\"vhosts\":\"b.test:443\",\"stapled_by\":\"none (no OCSP URL)\"}]}\n");
}

static void json_with_a_shared_cache(void **state)
{
    og_report_t r = head();
    const char *out;

    (void)state;
    r.shared.name = "memcache:127.0.0.1:11211";
    r.shared.reachable = 1;
    og_view_t v = stapled();

    r.shared.reads = 10;
    v.cache_rejected = 3;
    v.leases_won = 4;
    v.leases_lost = 2;
    out = og_report_json(pool, &r, &v, 1);
    assert_non_null(strstr(out, "\"shared_cache\":{\"name\":"
        "\"memcache:127.0.0.1:11211\",\"reachable\":true,\"reads\":10,"
        "\"misses\":0,\"store_failures\":0,\"rejected\":3,"
        "\"fetches_saved\":0,\"repopulated\":0,\"leases_won\":4,"
        "\"leases_lost\":2},"));
}

static void prometheus_lines(void **state)
{
    og_view_t v = stapled();
    og_report_t r = head();
    const char *out;

    (void)state;
    r.shared.name = "redis:127.0.0.1:6379";
    v.cache_taken = 5;
    v.leases_won = 6;
    v.leases_lost = 1;
    out = og_report_prometheus(pool, &r, &v, 1);
    assert_non_null(strstr(out, "# TYPE ocsp_guard_staples_served_total"
                            " counter\nocsp_guard_staples_served_total"
                            "{cert_id=\"00aa\",subject=\"CN=a \\\"quoted\\\""
                            " one\"} 7\n"));
    assert_non_null(strstr(out, "ocsp_guard_fetches_total{cert_id=\"00aa\","
                            "subject=\"CN=a \\\"quoted\\\" one\","
                            "outcome=\"failed\",error_class=\"read_timeout\"}"
                            " 2\n"));
    assert_non_null(strstr(out, "ocsp_guard_staple_expires_in_seconds{"
                            "cert_id=\"00aa\",subject=\"CN=a \\\"quoted\\\""
                            " one\"} 540\n"));
    assert_non_null(strstr(out, "ocsp_guard_cache_entries{cache="
                            "\"shmcb:/run/c(524288)\"} 1\n"));
    assert_non_null(strstr(out, "ocsp_guard_cache_bytes{cache="
                            "\"shmcb:/run/c(524288)\"} 500\n"));
    assert_non_null(strstr(out, "ocsp_guard_cache_capacity_bytes{cache="
                            "\"shmcb:/run/c(524288)\"} 524288\n"));
    assert_non_null(strstr(out, "ocsp_guard_shared_cache_up{cache="
                            "\"redis:127.0.0.1:6379\"} 0\n"));
    assert_non_null(strstr(out, "ocsp_guard_shared_cache_fetches_saved_total"
                            "{cache=\"redis:127.0.0.1:6379\"} 5\n"));
    assert_non_null(strstr(out, "# TYPE ocsp_guard_shared_cache_leases_won_total"
                            " counter\nocsp_guard_shared_cache_leases_won_total"
                            "{cache=\"redis:127.0.0.1:6379\"} 6\n"));
    assert_non_null(strstr(out, "ocsp_guard_shared_cache_leases_lost_total"
                            "{cache=\"redis:127.0.0.1:6379\"} 1\n"));
    assert_non_null(strstr(out, "ocsp_guard_certificates 1\n"));
    /* without a shared cache, no shared-cache metrics */
    r.shared.name = NULL;
    assert_null(strstr(og_report_prometheus(pool, &r, &v, 1),
                       "shared_cache"));
}

/* A must-staple certificate without a staple is an outage, said in words
 * in the JSON and as a gauge; with a staple, it is not. */
static void must_staple_outage_said(void **state)
{
    og_view_t v = stapled();
    og_report_t r = head();

    (void)state;
    v.must_staple = 1;
    assert_null(strstr(og_report_json(pool, &r, &v, 1), "\"outage\""));
    assert_non_null(strstr(og_report_prometheus(pool, &r, &v, 1),
                           "ocsp_guard_must_staple_outage{cert_id=\"00aa\","
                           "subject=\"CN=a \\\"quoted\\\" one\"} 0\n"));
    v.staple = OG_STAPLE_EXPIRED;
    assert_non_null(strstr(og_report_json(pool, &r, &v, 1),
                           "\"outage\":\"must-staple certificate without a"
                           " valid staple: browsers refuse the site\""));
    assert_non_null(strstr(og_report_prometheus(pool, &r, &v, 1),
                           " one\"} 1\n"));
    v.claimed = 0;      /* no OCSP URL: nobody staples it */
    v.staple = OG_STAPLE_FRESH;
    assert_non_null(strstr(og_report_json(pool, &r, &v, 1), "\"outage\""));
}

/* What the fetcher learned of the responders: in the JSON and as a gauge. */
static void responders_shown(void **state)
{
    og_view_t v = stapled();
    og_report_t r = head();
    og_responder_view_t rs[2];

    (void)state;
    memset(rs, 0, sizeof(rs));
    apr_cpystrn(rs[0].key, "http://127.0.0.1:18881", sizeof(rs[0].key));
    rs[0].down = 1;
    rs[0].failures = 3;
    rs[0].last_error = OG_ERR_READ_TIMEOUT;
    rs[0].since = NOW - SEC(40);
    rs[0].retry_at = NOW + SEC(80);
    apr_cpystrn(rs[1].key, "http://m:80 via http://p:3128",
                sizeof(rs[1].key));
    r.responders = rs;
    r.nresponders = 2;
    assert_non_null(strstr(og_report_json(pool, &r, &v, 1),
        "\"responders\":[{\"responder\":\"http://127.0.0.1:18881\","
        "\"state\":\"down\",\"failures\":3,"
        "\"last_error_class\":\"read_timeout\","
        "\"down_since\":\"2027-01-15T07:59:20.000Z\","
        "\"next_probe\":\"2027-01-15T08:01:20.000Z\"},"
        "{\"responder\":\"http://m:80 via http://p:3128\",\"state\":\"up\","
        "\"failures\":0,\"last_error_class\":null,\"down_since\":null,"
        "\"next_probe\":null}],"));
    assert_non_null(strstr(og_report_prometheus(pool, &r, &v, 1),
        "ocsp_guard_responder_up{responder=\"http://127.0.0.1:18881\"} 0\n"
        "ocsp_guard_responder_up{responder=\"http://m:80 via"
        " http://p:3128\"} 1\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_of_a_stapled_and_a_foreign_certificate),
        cmocka_unit_test(json_with_a_shared_cache),
        cmocka_unit_test(prometheus_lines),
        cmocka_unit_test(must_staple_outage_said),
        cmocka_unit_test(responders_shown),
    };
    int rc;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
