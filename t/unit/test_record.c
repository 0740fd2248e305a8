/* SPDX-License-Identifier: Apache-2.0 */
/* og_record: the cache record round-trips, and nothing malformed decodes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include "src/og_record.h"

static const unsigned char der[] = { 0x30, 0x03, 0x0a, 0x01, 0x00, 0x42 };

static og_record_t sample(void)
{
    og_record_t r;
    memset(&r, 0, sizeof(r));
    memset(r.cert_sha1, 0xab, sizeof(r.cert_sha1));
    r.cert_status = OG_CERT_REVOKED;
    r.source = OG_SOURCE_MIRROR;
    r.this_update = APR_INT64_C(1700000000000000);
    r.next_update = APR_INT64_C(1700604800000000);
    r.fetched_at = APR_INT64_C(1700000001234567);
    r.der = der;
    r.der_len = sizeof(der);
    return r;
}

static void round_trip(void **state)
{
    og_record_t r = sample(), back;
    unsigned char buf[256];
    apr_size_t n = 0;

    (void)state;
    assert_int_equal(og_record_size(&r), OG_RECORD_HDR_LEN + sizeof(der));
    assert_int_equal(og_record_encode(&r, buf, sizeof(buf), &n), APR_SUCCESS);
    assert_int_equal(n, og_record_size(&r));
    assert_int_equal(og_record_decode(&back, buf, n), APR_SUCCESS);
    assert_memory_equal(back.cert_sha1, r.cert_sha1, sizeof(r.cert_sha1));
    assert_int_equal(back.cert_status, OG_CERT_REVOKED);
    assert_int_equal(back.source, OG_SOURCE_MIRROR);
    assert_true(back.this_update == r.this_update);
    assert_true(back.next_update == r.next_update);
    assert_true(back.fetched_at == r.fetched_at);
    assert_int_equal(back.der_len, sizeof(der));
    assert_memory_equal(back.der, der, sizeof(der));
    assert_ptr_equal(back.der, buf + OG_RECORD_HDR_LEN);
}

static void every_truncation_rejected(void **state)
{
    og_record_t r = sample(), back;
    unsigned char buf[256];
    apr_size_t n = 0, len;

    (void)state;
    og_record_encode(&r, buf, sizeof(buf), &n);
    for (len = 0; len < n; len++)
        assert_int_equal(og_record_decode(&back, buf, len), APR_EINVAL);
    /* and one byte too many */
    assert_int_equal(og_record_decode(&back, buf, n + 1), APR_EINVAL);
    assert_int_equal(og_record_decode(&back, NULL, n), APR_EINVAL);
}

static void corrupt_header_rejected(void **state)
{
    og_record_t r = sample(), back;
    unsigned char buf[256], bad[256];
    apr_size_t n = 0;
    const struct { size_t at; unsigned char value; } flips[] = {
        { 0, 'X' },     /* magic */
        { 3, '2' },
        { 4, 2 },       /* version */
        { 5, 3 },       /* status out of range */
        { 6, 9 },       /* source out of range */
        { 55, 0x07 },   /* der_len disagrees with the length */
        { 7, 1 },       /* reserved: one spelling per record (fuzz) */
        { 56, 0x80 },
        { 59, 1 },
    };
    size_t i;

    (void)state;
    og_record_encode(&r, buf, sizeof(buf), &n);
    for (i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
        memcpy(bad, buf, n);
        bad[flips[i].at] = flips[i].value;
        assert_int_equal(og_record_decode(&back, bad, n), APR_EINVAL);
    }
}

static void times_must_make_sense(void **state)
{
    og_record_t r = sample(), back;
    unsigned char buf[256];
    apr_size_t n = 0;

    (void)state;
    r.next_update = r.this_update;
    og_record_encode(&r, buf, sizeof(buf), &n);
    assert_int_equal(og_record_decode(&back, buf, n), APR_EINVAL);
}

static void encode_refuses_bad_input(void **state)
{
    og_record_t r = sample();
    unsigned char buf[256];

    (void)state;
    assert_int_equal(og_record_encode(&r, buf, og_record_size(&r) - 1, NULL),
                     APR_EINVAL);
    r.der_len = 0;
    assert_int_equal(og_record_encode(&r, buf, sizeof(buf), NULL), APR_EINVAL);
    r = sample();
    r.der = NULL;
    assert_int_equal(og_record_encode(&r, buf, sizeof(buf), NULL), APR_EINVAL);
}

static void names(void **state)
{
    (void)state;
    assert_string_equal(og_source_name(OG_SOURCE_DIRECT), "direct");
    assert_string_equal(og_source_name(OG_SOURCE_STATEDIR), "state-dir");
}

/* The lease: round trip, whose it is, and nothing else decodes as one
 * (a response record under the lease's key, any truncation, a flipped
 * magic or version). */
static void lease_round_trip_and_rejects(void **state)
{
    og_lease_t l, back;
    og_record_t r = sample();
    unsigned char buf[OG_LEASE_LEN], bad[OG_LEASE_LEN], rec[256];
    unsigned char other[OG_LEASE_TOKEN_LEN];
    apr_size_t n = 0, len;

    (void)state;
    memset(&l, 0, sizeof(l));
    memset(l.cert_sha1, 0xab, sizeof(l.cert_sha1));
    memset(l.token, 0x5a, sizeof(l.token));
    memset(other, 0x5a, sizeof(other));
    l.until = APR_INT64_C(1700000012345678);
    l.pid = 4242;
    og_lease_encode(&l, buf);
    assert_int_equal(og_lease_decode(&back, buf, sizeof(buf)), APR_SUCCESS);
    assert_memory_equal(back.cert_sha1, l.cert_sha1, sizeof(l.cert_sha1));
    assert_true(back.until == l.until);
    assert_int_equal(back.pid, 4242);
    assert_true(og_lease_mine(&back, other));
    other[15] ^= 1;
    assert_false(og_lease_mine(&back, other));
    for (len = 0; len < sizeof(buf); len++)
        assert_int_equal(og_lease_decode(&back, buf, len), APR_EINVAL);
    memcpy(bad, buf, sizeof(buf));
    bad[0] = 'X';
    assert_int_equal(og_lease_decode(&back, bad, sizeof(bad)), APR_EINVAL);
    memcpy(bad, buf, sizeof(buf));
    bad[4] = 2;
    assert_int_equal(og_lease_decode(&back, bad, sizeof(bad)), APR_EINVAL);
    assert_int_equal(og_lease_decode(&back, NULL, sizeof(buf)), APR_EINVAL);
    og_record_encode(&r, rec, sizeof(rec), &n);
    assert_int_equal(og_lease_decode(&back, rec, n), APR_EINVAL);
    assert_int_equal(og_lease_decode(&back, rec, OG_LEASE_LEN), APR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(every_truncation_rejected),
        cmocka_unit_test(corrupt_header_rejected),
        cmocka_unit_test(times_must_make_sense),
        cmocka_unit_test(encode_refuses_bad_input),
        cmocka_unit_test(names),
        cmocka_unit_test(lease_round_trip_and_rejects),
    };
    return cmocka_run_group_tests_name("og_record", tests, NULL, NULL);
}
