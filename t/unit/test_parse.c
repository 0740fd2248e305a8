/* SPDX-License-Identifier: Apache-2.0 */
/* og_parse: directive arguments, every accepted form and every refusal,
 * overflow included (bug 2). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include "src/og_parse.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MS(n) apr_time_from_msec(n)
#define SEC(n) apr_time_from_sec(n)

static apr_pool_t *pool;

static int setup(void **state)
{
    (void)state;
    apr_pool_create(&pool, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    apr_pool_destroy(pool);
    return 0;
}

static const struct {
    const char *arg;
    int lo, hi;
    og_parse_e want;
    int value;
} percent_cases[] = {
    { "50", 5, 95, OG_PARSE_OK, 50 },
    { "50%", 5, 95, OG_PARSE_OK, 50 },
    { "5", 5, 95, OG_PARSE_OK, 5 },
    { "95%", 5, 95, OG_PARSE_OK, 95 },
    { "050", 5, 95, OG_PARSE_OK, 50 },
    { "4", 5, 95, OG_PARSE_RANGE, 0 },
    { "96", 5, 95, OG_PARSE_RANGE, 0 },
    { "0", 1, 99, OG_PARSE_RANGE, 0 },
    { "4294967346", 5, 95, OG_PARSE_RANGE, 0 },  /* 2^32 + 50: no wrap */
    { "18446744073709551666", 5, 95, OG_PARSE_RANGE, 0 }, /* 2^64 + 50 */
    { "", 5, 95, OG_PARSE_SYNTAX, 0 },
    { "%", 5, 95, OG_PARSE_SYNTAX, 0 },
    { "-50", 5, 95, OG_PARSE_SYNTAX, 0 },
    { "+50", 5, 95, OG_PARSE_SYNTAX, 0 },
    { " 50", 5, 95, OG_PARSE_SYNTAX, 0 },
    { "50 ", 5, 95, OG_PARSE_SYNTAX, 0 },
    { "50%%", 5, 95, OG_PARSE_SYNTAX, 0 },
    { "5O", 5, 95, OG_PARSE_SYNTAX, 0 },
    { "0x20", 5, 95, OG_PARSE_SYNTAX, 0 },
    { "50.5", 5, 95, OG_PARSE_SYNTAX, 0 },
    { "half", 5, 95, OG_PARSE_SYNTAX, 0 },
};

static void percent_table(void **state)
{
    apr_size_t i;

    (void)state;
    for (i = 0; i < N(percent_cases); i++) {
        int v = -12345;
        og_parse_e e = og_parse_percent(percent_cases[i].arg,
                                        percent_cases[i].lo,
                                        percent_cases[i].hi, &v);
        if (e != percent_cases[i].want)
            fail_msg("'%s': status %d, want %d", percent_cases[i].arg, e,
                     percent_cases[i].want);
        if (e == OG_PARSE_OK && v != percent_cases[i].value)
            fail_msg("'%s': %d, want %d", percent_cases[i].arg, v,
                     percent_cases[i].value);
        if (e != OG_PARSE_OK && v != -12345)
            fail_msg("'%s': output written on failure", percent_cases[i].arg);
    }
}

#define KB 1024u
#define MB (1024u * 1024u)

static const struct {
    const char *arg;
    apr_size_t lo, hi;
    og_parse_e want;
    apr_size_t value;
} size_cases[] = {
    { "16384", KB, MB, OG_PARSE_OK, 16384 },
    { "1024", KB, MB, OG_PARSE_OK, 1024 },
    { "1048576", KB, MB, OG_PARSE_OK, MB },
    { "16K", KB, MB, OG_PARSE_OK, 16 * KB },
    { "16k", KB, MB, OG_PARSE_OK, 16 * KB },
    { "1M", KB, MB, OG_PARSE_OK, MB },
    { "1m", KB, MB, OG_PARSE_OK, MB },
    { "1024K", KB, MB, OG_PARSE_OK, MB },
    { "1023", KB, MB, OG_PARSE_RANGE, 0 },
    { "1048577", KB, MB, OG_PARSE_RANGE, 0 },
    { "1025K", KB, MB, OG_PARSE_RANGE, 0 },
    { "2M", KB, MB, OG_PARSE_RANGE, 0 },
    { "0K", KB, MB, OG_PARSE_RANGE, 0 },
    /* bug 2: 2^54 + 1 K is 2^64 + 1024 bytes; a signed multiply wrapped
     * it to 1024, which is in range */
    { "18014398509481985K", KB, MB, OG_PARSE_RANGE, 0 },
    { "17592186044417M", KB, MB, OG_PARSE_RANGE, 0 },   /* 2^44 + 1 M */
    { "18446744073709551617", KB, MB, OG_PARSE_RANGE, 0 }, /* 2^64 + 1 */
    { "99999999999999999999999999999", KB, MB, OG_PARSE_RANGE, 0 },
    { "", KB, MB, OG_PARSE_SYNTAX, 0 },
    { "K", KB, MB, OG_PARSE_SYNTAX, 0 },
    { "-1K", KB, MB, OG_PARSE_SYNTAX, 0 },
    { "16KB", KB, MB, OG_PARSE_SYNTAX, 0 },
    { "16G", KB, MB, OG_PARSE_SYNTAX, 0 },
    { "16 K", KB, MB, OG_PARSE_SYNTAX, 0 },
    { "1e6", KB, MB, OG_PARSE_SYNTAX, 0 },
};

static void size_table(void **state)
{
    apr_size_t i;

    (void)state;
    for (i = 0; i < N(size_cases); i++) {
        apr_size_t v = 12345;
        og_parse_e e = og_parse_size(size_cases[i].arg, size_cases[i].lo,
                                     size_cases[i].hi, &v);
        if (e != size_cases[i].want)
            fail_msg("'%s': status %d, want %d", size_cases[i].arg, e,
                     size_cases[i].want);
        if (e == OG_PARSE_OK && v != size_cases[i].value)
            fail_msg("'%s': %lu, want %lu", size_cases[i].arg,
                     (unsigned long)v, (unsigned long)size_cases[i].value);
        if (e != OG_PARSE_OK && v != 12345)
            fail_msg("'%s': output written on failure", size_cases[i].arg);
    }
}

static const struct {
    const char *arg;
    apr_interval_time_t lo, hi;
    og_parse_e want;
    apr_interval_time_t value;
} duration_cases[] = {
    /* the forms ap_timeout_parameter_parse takes, "s" as default unit */
    { "10", MS(100), SEC(300), OG_PARSE_OK, SEC(10) },
    { "500ms", MS(100), SEC(300), OG_PARSE_OK, MS(500) },
    { "2s", MS(100), SEC(300), OG_PARSE_OK, SEC(2) },
    { "1m", SEC(1), SEC(86400), OG_PARSE_OK, SEC(60) },
    { "1h", SEC(1), SEC(86400), OG_PARSE_OK, SEC(3600) },
    { "24h", SEC(1), SEC(86400), OG_PARSE_OK, SEC(86400) },
    { "100ms", MS(100), SEC(300), OG_PARSE_OK, MS(100) },
    { "300", MS(100), SEC(300), OG_PARSE_OK, SEC(300) },
    { "0", 0, SEC(1), OG_PARSE_OK, 0 },
    { "99ms", MS(100), SEC(300), OG_PARSE_RANGE, 0 },
    { "0", MS(100), SEC(300), OG_PARSE_RANGE, 0 },
    { "301", MS(100), SEC(300), OG_PARSE_RANGE, 0 },
    { "5m", MS(100), SEC(300), OG_PARSE_OK, SEC(300) },
    { "6m", MS(100), SEC(300), OG_PARSE_RANGE, 0 },
    { "25h", SEC(1), SEC(86400), OG_PARSE_RANGE, 0 },
    /* overflow: the microseconds would not fit in 64 bits */
    { "2562048h", SEC(1), SEC(86400), OG_PARSE_RANGE, 0 },
    { "9223372036854776s", SEC(1), SEC(86400), OG_PARSE_RANGE, 0 },
    { "9223372036854775807ms", SEC(1), SEC(86400), OG_PARSE_RANGE, 0 },
    { "18446744073709551617", SEC(1), SEC(86400), OG_PARSE_RANGE, 0 },
    { "", MS(100), SEC(300), OG_PARSE_SYNTAX, 0 },
    { "s", MS(100), SEC(300), OG_PARSE_SYNTAX, 0 },
    { "-5", MS(100), SEC(300), OG_PARSE_SYNTAX, 0 },
    { "+5", MS(100), SEC(300), OG_PARSE_SYNTAX, 0 },
    { "10sec", MS(100), SEC(300), OG_PARSE_SYNTAX, 0 },
    { "10S", MS(100), SEC(300), OG_PARSE_SYNTAX, 0 },
    { "1min", SEC(1), SEC(86400), OG_PARSE_SYNTAX, 0 },
    { "1d", SEC(1), SEC(86400), OG_PARSE_SYNTAX, 0 },
    { "1.5s", MS(100), SEC(300), OG_PARSE_SYNTAX, 0 },
    { "10 s", MS(100), SEC(300), OG_PARSE_SYNTAX, 0 },
    { "1mss", MS(100), SEC(300), OG_PARSE_SYNTAX, 0 },
};

static void duration_table(void **state)
{
    apr_size_t i;

    (void)state;
    for (i = 0; i < N(duration_cases); i++) {
        apr_interval_time_t v = 12345;
        og_parse_e e = og_parse_duration(duration_cases[i].arg,
                                         duration_cases[i].lo,
                                         duration_cases[i].hi, &v);
        if (e != duration_cases[i].want)
            fail_msg("'%s': status %d, want %d", duration_cases[i].arg, e,
                     duration_cases[i].want);
        if (e == OG_PARSE_OK && v != duration_cases[i].value)
            fail_msg("'%s': %" APR_INT64_T_FMT ", want %" APR_INT64_T_FMT,
                     duration_cases[i].arg, (apr_int64_t)v,
                     (apr_int64_t)duration_cases[i].value);
        if (e != OG_PARSE_OK && v != 12345)
            fail_msg("'%s': output written on failure",
                     duration_cases[i].arg);
    }
}

static const struct {
    const char *url;
    og_parse_e want;
} url_cases[] = {
    { "http://ocsp.example.com", OG_PARSE_OK },
    { "http://ocsp.example.com/", OG_PARSE_OK },
    { "https://ocsp.example.com:8443/path?x=1", OG_PARSE_OK },
    { "HTTP://OCSP.EXAMPLE.COM/", OG_PARSE_OK },
    { "http://127.0.0.1:8888/", OG_PARSE_OK },
    { "http://[::1]:8888/", OG_PARSE_OK },
    { "http://user:secret@proxy.example:3128", OG_PARSE_OK },
    { "http://h:65535/", OG_PARSE_OK },
    { "ftp://ocsp.example.com/", OG_PARSE_SCHEME },
    { "file:///etc/passwd", OG_PARSE_SCHEME },
    { "ldap://ocsp.example.com/", OG_PARSE_SCHEME },
    { "httpx://ocsp.example.com/", OG_PARSE_SCHEME },
    { "ocsp.example.com", OG_PARSE_SCHEME },
    { "/ocsp", OG_PARSE_SCHEME },
    { "http:///path", OG_PARSE_HOST },
    { "http://", OG_PARSE_HOST },
    { "https://:443/", OG_PARSE_HOST },
    { "http://h:0/", OG_PARSE_RANGE },
    { "http://h:65536/", OG_PARSE_RANGE },
    { "http://h:99999999999999999999999/", OG_PARSE_RANGE },
    { "http://h:80x/", OG_PARSE_SYNTAX },
    { "", OG_PARSE_SYNTAX },
    { "http://ocsp.example .com/", OG_PARSE_SYNTAX },
    { "http://ocsp.example.com/\n", OG_PARSE_SYNTAX },
    { "http://\xff.example/", OG_PARSE_SYNTAX },
    { "http://ocsp\x7f.example/", OG_PARSE_SYNTAX },
};

static void url_table(void **state)
{
    apr_size_t i;

    (void)state;
    for (i = 0; i < N(url_cases); i++) {
        og_parse_e e = og_parse_url(url_cases[i].url, pool);
        if (e != url_cases[i].want)
            fail_msg("'%s': status %d, want %d", url_cases[i].url, e,
                     url_cases[i].want);
    }
}

static void every_status_has_a_reason(void **state)
{
    int e;

    (void)state;
    for (e = OG_PARSE_OK; e <= OG_PARSE_HOST; e++)
        assert_string_not_equal(og_parse_why((og_parse_e)e), "is not valid");
    assert_string_equal(og_parse_why(OG_PARSE_RANGE), "is out of range");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(percent_table),
        cmocka_unit_test(size_table),
        cmocka_unit_test(duration_table),
        cmocka_unit_test(url_table),
        cmocka_unit_test(every_status_has_a_reason),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("og_parse", tests, setup, teardown);
    apr_terminate();
    return rc;
}
