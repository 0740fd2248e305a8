/* SPDX-License-Identifier: Apache-2.0 */
/* The directive parsers (src/og_parse.c) against a reference written here
 * with 128-bit arithmetic, so that an overflow in the parser shows as a
 * disagreement. The first byte picks the parser:
 *   0 percent   lo, hi (1 byte each), argument
 *   1 size      lo, hi (4 bytes each, hi 0xffffffff: no limit), argument
 *   2 duration  lo, hi (4 bytes each, milliseconds; 0xffffffff: no limit)
 *   3 url       argument
 * The argument is the rest of the input, up to a NUL. Invariant: the same
 * verdict as the reference, and an accepted value within [lo, hi]. */
#include <strings.h>

#include "fuzz/fuzz_common.h"
#include "src/og_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef unsigned __int128 u128;
#define SATURATE ((u128)1 << 100)

/* digits, saturating far above anything a parser may accept */
static int ref_digits(const char **s, u128 *v)
{
    const char *start = *s;

    *v = 0;
    while (**s >= '0' && **s <= '9') {
        *v = *v * 10 + (u128)(**s - '0');
        if (*v > SATURATE)
            *v = SATURATE;
        (*s)++;
    }
    return *s != start;
}

static og_parse_e ref_verdict(int syntax_ok, u128 v, u128 lo, u128 hi)
{
    if (!syntax_ok)
        return OG_PARSE_SYNTAX;
    return v >= lo && v <= hi ? OG_PARSE_OK : OG_PARSE_RANGE;
}

static void check_percent(fuzz_in_t *in, const char *arg)
{
    int lo = fuzz_u8(in), hi = fuzz_u8(in), out = -1;
    const char *s = arg;
    u128 v;
    int ok = ref_digits(&s, &v);
    og_parse_e want, got;

    if (*s == '%')
        s++;
    want = ref_verdict(ok && !*s, v, (u128)lo, (u128)hi);
    got = og_parse_percent(arg, lo, hi, &out);
    FUZZ_CHECK(got == want, "percent '%s' [%d,%d]: %d, want %d", arg, lo, hi,
               got, want);
    if (got == OG_PARSE_OK)
        FUZZ_CHECK((u128)out == v && out >= lo && out <= hi, "value %d", out);
}

static void check_size(fuzz_in_t *in, const char *arg)
{
    apr_size_t lo = fuzz_u32(in), hi = fuzz_u32(in), out = 0;
    const char *s = arg;
    u128 v, unit = 1;
    int ok;
    og_parse_e want, got;

    if (hi == 0xffffffffu)
        hi = APR_SIZE_MAX;
    ok = ref_digits(&s, &v);
    if (*s == 'k' || *s == 'K')
        unit = 1024, s++;
    else if (*s == 'm' || *s == 'M')
        unit = (u128)1024 * 1024, s++;
    want = ref_verdict(ok && !*s, v * unit, (u128)lo, (u128)hi);
    got = og_parse_size(arg, lo, hi, &out);
    FUZZ_CHECK(got == want, "size '%s' [%zu,%zu]: %d, want %d", arg,
               (size_t)lo, (size_t)hi, got, want);
    if (got == OG_PARSE_OK)
        FUZZ_CHECK((u128)out == v * unit && out >= lo && out <= hi,
                   "size '%s' gave %zu", arg, (size_t)out);
}

static void check_duration(fuzz_in_t *in, const char *arg)
{
    uint32_t lo_ms = fuzz_u32(in), hi_ms = fuzz_u32(in);
    apr_interval_time_t lo = (apr_interval_time_t)lo_ms * 1000;
    apr_interval_time_t hi = hi_ms == 0xffffffffu ? APR_INT64_MAX
                           : (apr_interval_time_t)hi_ms * 1000;
    apr_interval_time_t out = -1;
    const char *s = arg;
    u128 v, usec = 0;
    int ok = ref_digits(&s, &v);
    og_parse_e want, got;

    if (!strcmp(s, "") || !strcmp(s, "s"))
        usec = 1000000;
    else if (!strcmp(s, "ms"))
        usec = 1000;
    else if (!strcmp(s, "m"))
        usec = (u128)60 * 1000000;
    else if (!strcmp(s, "h"))
        usec = (u128)3600 * 1000000;
    want = ref_verdict(ok && usec, v * usec, (u128)lo, (u128)hi);
    got = og_parse_duration(arg, lo, hi, &out);
    FUZZ_CHECK(got == want, "duration '%s' [%" APR_INT64_T_FMT ",%"
               APR_INT64_T_FMT "]: %d, want %d", arg, (apr_int64_t)lo,
               (apr_int64_t)hi, got, want);
    if (got == OG_PARSE_OK)
        FUZZ_CHECK((u128)out == v * usec && out >= lo && out <= hi,
                   "duration '%s' gave %" APR_INT64_T_FMT, arg,
                   (apr_int64_t)out);
}

static void check_url(const char *arg)
{
    apr_pool_t *p = fuzz_pool();
    og_parse_e got = og_parse_url(arg, p);
    const unsigned char *c;

    if (got == OG_PARSE_OK) {
        FUZZ_CHECK(!strncasecmp(arg, "http://", 7)
                   || !strncasecmp(arg, "https://", 8),
                   "accepted '%s'", arg);
        for (c = (const unsigned char *)arg; *c; c++)
            FUZZ_CHECK(*c > 0x20 && *c < 0x7f, "accepted byte %#x", *c);
    }
    FUZZ_CHECK(og_parse_why(got) != NULL, "no reason");
    apr_pool_destroy(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = { data, size };
    int which = fuzz_u8(&in) % 4;
    fuzz_in_t bounds = in;
    size_t skip = which == 0 ? 2 : which == 3 ? 0 : 8, got;
    char *arg;

    fuzz_apr_init();
    fuzz_bytes(&in, skip, &got);
    arg = malloc(in.len + 1);
    memcpy(arg, in.data, in.len);
    arg[in.len] = '\0';
    switch (which) {
    case 0: check_percent(&bounds, arg); break;
    case 1: check_size(&bounds, arg); break;
    case 2: check_duration(&bounds, arg); break;
    default: check_url(arg); break;
    }
    free(arg);
    return 0;
}
