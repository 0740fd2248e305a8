/* SPDX-License-Identifier: Apache-2.0 */
/* og_sched: refresh and retry times, as pure functions of the clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "src/og_sched.h"

#define SEC(n) apr_time_from_sec(n)

static const og_sched_policy_t pol = { 50, SEC(60), SEC(3600) };
static const apr_time_t T0 = APR_INT64_C(1800000000000000);

static void refresh_at_half_validity(void **state)
{
    (void)state;
    /* 7 days valid, 50%: refresh 3.5 days in, earlier by up to 10% of 3.5 d */
    apr_time_t next = T0 + SEC(7 * 86400);
    assert_true(og_sched_refresh_at(&pol, T0, next, T0, 0.0)
                == T0 + SEC(7 * 86400 / 2));
    assert_true(og_sched_refresh_at(&pol, T0, next, T0, 0.999)
                >= T0 + SEC(7 * 86400 / 2) - SEC(7 * 86400 / 20));
    assert_true(og_sched_refresh_at(&pol, T0, next, T0, 0.999)
                < T0 + SEC(7 * 86400 / 2) - SEC(7 * 86400 / 20) + SEC(60));
}

static void refresh_percent_moves_it(void **state)
{
    og_sched_policy_t p = pol;
    apr_time_t next = T0 + SEC(1000);

    (void)state;
    p.refresh_percent = 90;     /* refresh once 10% is used */
    assert_true(og_sched_refresh_at(&p, T0, next, T0, 0.0) == T0 + SEC(100));
    p.refresh_percent = 10;     /* only the last 10% */
    assert_true(og_sched_refresh_at(&p, T0, next, T0, 0.0) == T0 + SEC(900));
}

static void jitter_never_swallows_the_used_part(void **state)
{
    og_sched_policy_t p = pol;
    apr_time_t next = T0 + SEC(60);

    (void)state;
    /* one-minute responses refreshed at 95% left: 3 s used, jitter <= 0.3 s */
    p.refresh_percent = 95;
    assert_true(og_sched_refresh_at(&p, T0, next, T0, 0.999) > T0 + SEC(2));
    assert_true(og_sched_refresh_at(&p, T0, next, T0, 0.0) == T0 + SEC(3));
}

static void refresh_never_in_the_past(void **state)
{
    apr_time_t next = T0 + SEC(1000);
    apr_time_t late = T0 + SEC(800);

    (void)state;
    assert_true(og_sched_refresh_at(&pol, T0, next, late, 0.5) == late);
    /* nonsense windows: now */
    assert_true(og_sched_refresh_at(&pol, T0, T0, T0 + 5, 0.5) == T0 + 5);
    assert_true(og_sched_refresh_at(&pol, next, T0, T0 + 5, 0.5) == T0 + 5);
}

static void retry_doubles_to_the_cap(void **state)
{
    (void)state;
    /* no response held: pure backoff, jitter 0.5 means exactly x1.0 */
    assert_true(og_sched_retry_delay(&pol, 1, T0, 0, 0.5) == SEC(60));
    assert_true(og_sched_retry_delay(&pol, 2, T0, 0, 0.5) == SEC(120));
    assert_true(og_sched_retry_delay(&pol, 3, T0, 0, 0.5) == SEC(240));
    assert_true(og_sched_retry_delay(&pol, 7, T0, 0, 0.5) == SEC(3600));
    assert_true(og_sched_retry_delay(&pol, 50, T0, 0, 0.5) == SEC(3600));
}

static void retry_jitter_is_ten_percent(void **state)
{
    (void)state;
    assert_true(og_sched_retry_delay(&pol, 1, T0, 0, 0.0) == SEC(54));
    assert_true(og_sched_retry_delay(&pol, 1, T0, 0, 0.999) > SEC(65));
    assert_true(og_sched_retry_delay(&pol, 1, T0, 0, 0.999) <= SEC(66));
}

static void retry_tightens_near_expiry(void **state)
{
    (void)state;
    /* 4 hours of staple left: cap at 1 h anyway */
    assert_true(og_sched_retry_delay(&pol, 10, T0, T0 + SEC(4 * 3600), 0.5)
                == SEC(3600));
    /* 20 minutes left: every 5 minutes at most */
    assert_true(og_sched_retry_delay(&pol, 10, T0, T0 + SEC(1200), 0.5)
                == SEC(300));
    /* 2 seconds left: floor of one second */
    assert_true(og_sched_retry_delay(&pol, 10, T0, T0 + SEC(2), 0.5)
                == SEC(1));
    /* already expired: back to plain backoff */
    assert_true(og_sched_retry_delay(&pol, 2, T0, T0 - SEC(1), 0.5)
                == SEC(120));
}

/* The same certificate and response: the same jitter on every server;
 * another certificate or another response: another one, all over [0, 1). */
static void shared_jitter_alike_and_spread(void **state)
{
    double lo = 1.0, hi = 0.0, sum = 0.0;
    int i, same = 0;

    (void)state;
    assert_true(og_sched_shared_jitter(7, T0) == og_sched_shared_jitter(7, T0));
    /* thisUpdate counts in seconds, as responses carry it */
    assert_true(og_sched_shared_jitter(7, T0)
                == og_sched_shared_jitter(7, T0 + 999999));
    for (i = 0; i < 1000; i++) {
        double j = og_sched_shared_jitter((apr_uint32_t)i, T0);
        double k = og_sched_shared_jitter(7, T0 + SEC(i));

        assert_true(j >= 0.0 && j < 1.0 && k >= 0.0 && k < 1.0);
        lo = j < lo ? j : lo;
        hi = j > hi ? j : hi;
        sum += j + k;
        same += og_sched_shared_jitter((apr_uint32_t)i, T0)
                == og_sched_shared_jitter((apr_uint32_t)i + 1, T0);
    }
    assert_true(lo < 0.01 && hi > 0.99);
    assert_true(sum / 2000 > 0.45 && sum / 2000 < 0.55);
    assert_int_equal(same, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refresh_at_half_validity),
        cmocka_unit_test(shared_jitter_alike_and_spread),
        cmocka_unit_test(refresh_percent_moves_it),
        cmocka_unit_test(jitter_never_swallows_the_used_part),
        cmocka_unit_test(refresh_never_in_the_past),
        cmocka_unit_test(retry_doubles_to_the_cap),
        cmocka_unit_test(retry_jitter_is_ten_percent),
        cmocka_unit_test(retry_tightens_near_expiry),
    };
    return cmocka_run_group_tests_name("og_sched", tests, NULL, NULL);
}
