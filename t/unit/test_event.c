/* SPDX-License-Identifier: Apache-2.0 */
/* og_event: the JSON line operators parse. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include "src/og_event.h"

static apr_pool_t *pool;

static int setup(void **state)
{
    (void)state;
    apr_initialize();
    apr_pool_create(&pool, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    apr_pool_destroy(pool);
    apr_terminate();
    return 0;
}

/* 2026-11-23T04:12:00.123Z */
static const apr_time_t T = APR_INT64_C(1795407120123456);

static void minimal_event(void **state)
{
    og_event_t ev;

    (void)state;
    og_event_init(&ev, "fetch_ok", "info", T);
    assert_string_equal(og_event_json(pool, &ev),
        "{\"ts\":\"2026-11-23T04:12:00.123Z\",\"event\":\"fetch_ok\","
        "\"severity\":\"info\"}\n");
}

static void full_failure(void **state)
{
    og_event_t ev;

    (void)state;
    og_event_init(&ev, "fetch_failed", "warning", T);
    ev.cert_id = "0123456789abcdef0123456789abcdef01234567";
    ev.subject = "CN=www.example.com";
    ev.serial = "3001";
    ev.vhosts = "www.example.com:443";
    ev.responder = "http://ocsp.example/";
    ev.via = "mirror";
    ev.attempt = 2;
    ev.error_class = "http_status";
    ev.http_status = 503;
    ev.elapsed_ms = 12;
    ev.ah = "AH01980";
    ev.staple_state = "stale-refreshing";
    ev.staple_expires_in_s = 3600;
    ev.next_attempt_in_s = 60;
    ev.count = 4;
    ev.detail = "HTTP status 503";
    assert_string_equal(og_event_json(pool, &ev),
        "{\"ts\":\"2026-11-23T04:12:00.123Z\",\"event\":\"fetch_failed\","
        "\"severity\":\"warning\","
        "\"cert_id\":\"0123456789abcdef0123456789abcdef01234567\","
        "\"subject\":\"CN=www.example.com\",\"serial\":\"3001\","
        "\"vhosts\":\"www.example.com:443\","
        "\"responder\":\"http://ocsp.example/\",\"via\":\"mirror\","
        "\"attempt\":2,\"error_class\":\"http_status\",\"http_status\":503,"
        "\"elapsed_ms\":12,\"ah\":\"AH01980\","
        "\"staple_state\":\"stale-refreshing\",\"staple_expires_in_s\":3600,"
        "\"next_attempt_in_s\":60,\"count\":4,\"detail\":\"HTTP status 503\"}\n");
}

static void no_expiry_without_a_staple(void **state)
{
    og_event_t ev;

    (void)state;
    og_event_init(&ev, "fetch_failed", "warning", T);
    ev.staple_state = "none";
    ev.staple_expires_in_s = 99;
    assert_null(strstr(og_event_json(pool, &ev), "staple_expires_in_s"));
}

static void hostile_text_is_escaped(void **state)
{
    og_event_t ev;
    const char *line;

    (void)state;
    og_event_init(&ev, "fetch_failed", "warning", T);
    ev.detail = "quote \" backslash \\ newline \n tab \t bell \a";
    line = og_event_json(pool, &ev);
    assert_non_null(strstr(line, "\"detail\":\"quote \\\" backslash \\\\ "
                                 "newline \\n tab \\u0009 bell \\u0007\"}"));
    /* one line: the only newline is the last character */
    assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(minimal_event),
        cmocka_unit_test(full_failure),
        cmocka_unit_test(no_expiry_without_a_staple),
        cmocka_unit_test(hostile_text_is_escaped),
    };
    return cmocka_run_group_tests_name("og_event", tests, setup, teardown);
}
