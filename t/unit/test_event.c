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

/* Any bytes in, valid JSON out: well-formed UTF-8 kept, each ill-formed
 * sequence (its maximal subpart) one \ufffd, controls escaped. */
static const struct {
    const char *in;
    const char *json;
} json_str_cases[] = {
    { "", "\"\"" },
    { "CN=www.example.com", "\"CN=www.example.com\"" },
    { "q\"b\\", "\"q\\\"b\\\\\"" },
    { "a\nb\tc\rd\x01\x1f\x7f", "\"a\\nb\\u0009c\\u000dd\\u0001\\u001f\\u007f\"" },
    /* well-formed UTF-8 passes through */
    { "\xc3\xa9t\xc3\xa9", "\"\xc3\xa9t\xc3\xa9\"" },          /* U+00E9 */
    { "\xc2\x80\xc2\x85", "\"\xc2\x80\xc2\x85\"" },            /* C1 controls */
    { "\xe2\x82\xac", "\"\xe2\x82\xac\"" },                    /* U+20AC */
    { "\xed\x9f\xbf\xee\x80\x80", "\"\xed\x9f\xbf\xee\x80\x80\"" }, /* around surrogates */
    { "\xef\xbf\xbf", "\"\xef\xbf\xbf\"" },                    /* U+FFFF */
    { "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"" },            /* U+1F600 */
    { "\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"" },            /* U+10FFFF */
    /* line and paragraph separators: escaped for JavaScript */
    { "a\xe2\x80\xa8" "b\xe2\x80\xa9", "\"a\\u2028b\\u2029\"" },
    /* bug 1: a URL with a byte that is not UTF-8 */
    { "http://\xff.example/", "\"http://\\ufffd.example/\"" },
    { "\x80", "\"\\ufffd\"" },                           /* lone continuation */
    { "\x80\xbf", "\"\\ufffd\\ufffd\"" },
    { "\xc0\xaf", "\"\\ufffd\\ufffd\"" },                  /* overlong '/' */
    { "\xc1\xbf", "\"\\ufffd\\ufffd\"" },
    { "\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"" },         /* overlong, 3 bytes */
    { "\xf0\x8f\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* overlong, 4 bytes */
    { "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },         /* surrogate D800 */
    { "\xed\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\"" },         /* surrogate DFFF */
    { "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* U+110000 */
    { "\xf5\x80", "\"\\ufffd\\ufffd\"" },
    { "\xfe\xff", "\"\\ufffd\\ufffd\"" },
    { "\xe2\x82", "\"\\ufffd\"" },                       /* truncated at the end */
    { "\xe2\x82x", "\"\\ufffdx\"" },                     /* truncated mid-string */
    { "\xf0\x9f\x98!", "\"\\ufffd!\"" },
    { "\xf0\x9f\x98\xc3\xa9", "\"\\ufffd\xc3\xa9\"" },       /* then a good one */
    { "\xc3", "\"\\ufffd\"" },
    { "\xc3\"", "\"\\ufffd\\\"\"" },                    /* never eats a quote */
};

static void json_str_table(void **state)
{
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(json_str_cases) / sizeof(json_str_cases[0]); i++) {
        const char *got = og_json_str(pool, json_str_cases[i].in);
        if (strcmp(got, json_str_cases[i].json) != 0)
            fail_msg("case %u: got %s, want %s", (unsigned)i, got,
                     json_str_cases[i].json);
    }
}

static const struct {
    const char *bytes;
    apr_size_t n;           /* bytes available */
    apr_size_t len;         /* well-formed length, 0: ill-formed */
    apr_size_t bad;         /* when ill-formed: bytes one U+FFFD replaces */
} utf8_cases[] = {
    { "A", 1, 1, 0 },
    { "\xc2\x80", 2, 2, 0 },
    { "\xdf\xbf", 2, 2, 0 },
    { "\xe0\xa0\x80", 3, 3, 0 },
    { "\xed\x9f\xbf", 3, 3, 0 },
    { "\xf0\x90\x80\x80", 4, 4, 0 },
    { "\xf4\x8f\xbf\xbf", 4, 4, 0 },
    { "\xc2\x80", 1, 0, 1 },          /* cut by n */
    { "\xf0\x90\x80\x80", 3, 0, 3 },
    { "\x80", 1, 0, 1 },
    { "\xc0\x80", 2, 0, 1 },
    { "\xe0\x9f\xbf", 3, 0, 1 },
    { "\xed\xa0\x80", 3, 0, 1 },
    { "\xf0\x8f\xbf\xbf", 4, 0, 1 },
    { "\xf4\x90\x80\x80", 4, 0, 1 },
    { "\xf8\x88\x80\x80\x80", 5, 0, 1 },
    { "\xe2\x82x", 3, 0, 2 },
    { "\xf0\x9f\x98x", 4, 0, 3 },
    { "", 0, 0, 1 },
};

static void utf8_seq_len_table(void **state)
{
    apr_size_t i, bad;

    (void)state;
    for (i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
        apr_size_t len = og_utf8_seq_len(
            (const unsigned char *)utf8_cases[i].bytes, utf8_cases[i].n, &bad);
        if (len != utf8_cases[i].len
            || (len == 0 && bad != utf8_cases[i].bad))
            fail_msg("case %u: len %u bad %u", (unsigned)i, (unsigned)len,
                     (unsigned)bad);
    }
}

/* An independent decoder, by code point value: is `s` well-formed UTF-8
 * with no raw control character? */
static int strict_utf8_no_controls(const unsigned char *s, apr_size_t n)
{
    apr_size_t i = 0;

    while (i < n) {
        unsigned long cp;
        apr_size_t k, extra;
        if (s[i] < 0x80) {
            if (s[i] < 0x20 || s[i] == 0x7f)
                return 0;
            i++;
            continue;
        }
        if ((s[i] & 0xe0) == 0xc0) { extra = 1; cp = s[i] & 0x1f; }
        else if ((s[i] & 0xf0) == 0xe0) { extra = 2; cp = s[i] & 0x0f; }
        else if ((s[i] & 0xf8) == 0xf0) { extra = 3; cp = s[i] & 0x07; }
        else return 0;
        if (i + extra >= n)
            return 0;
        for (k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800)
            || (extra == 3 && cp < 0x10000) || cp > 0x10ffff
            || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += extra + 1;
    }
    return 1;
}

/* Every string of one or two bytes, and of three from the bytes that matter
 * to UTF-8: the output is always well-formed UTF-8 with no raw control. */
static void json_str_any_bytes(void **state)
{
    static const unsigned char edge[] = {
        0x00, 0x01, 0x22, 0x41, 0x5c, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0,
        0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe2, 0xed, 0xee, 0xef, 0xf0,
        0xf4, 0xf5, 0xff
    };
    apr_pool_t *sub;
    unsigned a, b, c;
    char in[4];

    (void)state;
    apr_pool_create(&sub, pool);
    for (a = 1; a < 256; a++) {
        for (b = 0; b < 256; b++) {
            const char *out;
            in[0] = (char)a;
            in[1] = (char)b;
            in[2] = '\0';
            out = og_json_str(sub, in);
            if (!strict_utf8_no_controls((const unsigned char *)out,
                                         strlen(out)))
                fail_msg("bytes %02x %02x: %s", a, b, out);
        }
        apr_pool_clear(sub);
    }
    for (a = 1; a < sizeof(edge); a++)
        for (b = 1; b < sizeof(edge); b++)
            for (c = 1; c < sizeof(edge); c++) {
                const char *out;
                in[0] = (char)edge[a];
                in[1] = (char)edge[b];
                in[2] = (char)edge[c];
                in[3] = '\0';
                out = og_json_str(sub, in);
                if (!strict_utf8_no_controls((const unsigned char *)out,
                                             strlen(out)))
                    fail_msg("bytes %02x %02x %02x: %s", edge[a], edge[b],
                             edge[c], out);
            }
    apr_pool_destroy(sub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(minimal_event),
        cmocka_unit_test(full_failure),
        cmocka_unit_test(no_expiry_without_a_staple),
        cmocka_unit_test(hostile_text_is_escaped),
        cmocka_unit_test(json_str_table),
        cmocka_unit_test(utf8_seq_len_table),
        cmocka_unit_test(json_str_any_bytes),
    };
    return cmocka_run_group_tests_name("og_event", tests, setup, teardown);
}
