/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <apr_uri.h>

#include "og_parse.h"

const char *og_parse_why(og_parse_e e)
{
    switch (e) {
    case OG_PARSE_OK:     return "is valid";
    case OG_PARSE_SYNTAX: return "is not of that form";
    case OG_PARSE_RANGE:  return "is out of range";
    case OG_PARSE_SCHEME: return "is not an http or https URL";
    case OG_PARSE_HOST:   return "has no host name";
    }
    return "is not valid";
}

/* Leading decimal digits of *s into *v, *s moved past them. Returns how
 * many digits there were; *overflow is set when the value does not fit in
 * 64 bits (the digits are still consumed, so that the caller says "out of
 * range", not "not of that form"). */
static apr_size_t take_digits(const char **s, apr_uint64_t *v, int *overflow)
{
    const char *start = *s, *c = *s;
    apr_uint64_t acc = 0;

    *overflow = 0;
    while (*c >= '0' && *c <= '9') {
        unsigned d = (unsigned)(*c - '0');
        if (acc > (APR_UINT64_MAX - d) / 10)
            *overflow = 1;
        else
            acc = acc * 10 + d;
        c++;
    }
    *v = acc;
    *s = c;
    return (apr_size_t)(c - start);
}

og_parse_e og_parse_percent(const char *arg, int lo, int hi, int *out)
{
    const char *c = arg;
    apr_uint64_t v;
    int overflow;

    if (!arg || take_digits(&c, &v, &overflow) == 0)
        return OG_PARSE_SYNTAX;
    if (*c == '%')
        c++;
    if (*c)
        return OG_PARSE_SYNTAX;
    if (overflow || lo < 0 || hi < lo || v < (apr_uint64_t)lo
        || v > (apr_uint64_t)hi)
        return OG_PARSE_RANGE;
    *out = (int)v;
    return OG_PARSE_OK;
}

og_parse_e og_parse_size(const char *arg, apr_size_t lo, apr_size_t hi,
                         apr_size_t *out)
{
    const char *c = arg;
    apr_uint64_t v, unit = 1;
    int overflow;

    if (!arg || take_digits(&c, &v, &overflow) == 0)
        return OG_PARSE_SYNTAX;
    if (*c == 'k' || *c == 'K') {
        unit = 1024;
        c++;
    }
    else if (*c == 'm' || *c == 'M') {
        unit = (apr_uint64_t)1024 * 1024;
        c++;
    }
    if (*c)
        return OG_PARSE_SYNTAX;
    /* bug 2 was here: the scaling multiply overflowed and wrapped into
     * range; compare before multiplying */
    if (overflow || v > APR_UINT64_MAX / unit)
        return OG_PARSE_RANGE;
    v *= unit;
    if (hi < lo || v < (apr_uint64_t)lo || v > (apr_uint64_t)hi)
        return OG_PARSE_RANGE;
    *out = (apr_size_t)v;
    return OG_PARSE_OK;
}

og_parse_e og_parse_duration(const char *arg, apr_interval_time_t lo,
                             apr_interval_time_t hi,
                             apr_interval_time_t *out)
{
    static const struct {
        const char *suffix;
        apr_uint64_t usec;
    } units[] = {
        { "",   APR_USEC_PER_SEC },           /* plain number: seconds */
        { "ms", 1000 },
        { "s",  APR_USEC_PER_SEC },
        { "m",  APR_USEC_PER_SEC * 60 },
        { "h",  APR_USEC_PER_SEC * 3600 },
    };
    const char *c = arg;
    apr_uint64_t v, usec = 0;
    apr_size_t i;
    int overflow;

    if (!arg || take_digits(&c, &v, &overflow) == 0)
        return OG_PARSE_SYNTAX;
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(c, units[i].suffix) == 0) {
            usec = units[i].usec;
            break;
        }
    }
    if (!usec)
        return OG_PARSE_SYNTAX;
    if (overflow || v > (apr_uint64_t)APR_INT64_MAX / usec)
        return OG_PARSE_RANGE;
    v *= usec;
    if (hi < lo || hi < 0 || (lo > 0 && v < (apr_uint64_t)lo)
        || v > (apr_uint64_t)hi)
        return OG_PARSE_RANGE;
    *out = (apr_interval_time_t)v;
    return OG_PARSE_OK;
}

og_parse_e og_parse_url(const char *url, apr_pool_t *p)
{
    const unsigned char *c;
    apr_uri_t uri;

    if (!url || !*url)
        return OG_PARSE_SYNTAX;
    /* apr_uri_parse takes anything; curl would refuse these later, at
     * fetch time, when nobody reads configtest any more */
    for (c = (const unsigned char *)url; *c; c++)
        if (*c <= 0x20 || *c >= 0x7f)
            return OG_PARSE_SYNTAX;
    if (apr_uri_parse(p, url, &uri) != APR_SUCCESS)
        return OG_PARSE_SYNTAX;
    if (!uri.scheme || (strcasecmp(uri.scheme, "http") != 0
                        && strcasecmp(uri.scheme, "https") != 0))
        return OG_PARSE_SCHEME;
    if (!uri.hostname || !*uri.hostname)
        return OG_PARSE_HOST;
    if (uri.port_str && *uri.port_str) {
        const char *d = uri.port_str;
        apr_uint64_t port;
        int overflow;
        if (take_digits(&d, &port, &overflow) == 0 || *d)
            return OG_PARSE_SYNTAX;
        if (overflow || port < 1 || port > 65535)
            return OG_PARSE_RANGE;
    }
    return OG_PARSE_OK;
}
