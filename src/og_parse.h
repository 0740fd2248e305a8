/* SPDX-License-Identifier: Apache-2.0 */
/* Directive arguments as pure functions: a percentage, a byte size, a
 * duration and a responder URL. No httpd header, so the parsers are unit
 * tested and fuzzed; the glue turns a status into its configtest message.
 * Every number is checked for overflow before it is scaled: no argument can
 * wrap into a value within range. */
#ifndef OG_PARSE_H
#define OG_PARSE_H

#include <apr_pools.h>
#include <apr_time.h>

typedef enum {
    OG_PARSE_OK = 0,
    OG_PARSE_SYNTAX,        /* not of the form the directive takes */
    OG_PARSE_RANGE,         /* well formed, but outside [lo, hi] or too big
                             * to represent */
    OG_PARSE_SCHEME,        /* URL: scheme other than http or https */
    OG_PARSE_HOST           /* URL: no host name */
} og_parse_e;

/* Why an argument was refused, a few words for a configtest message
 * ("is not a number with an optional unit", "is out of range"...). */
const char *og_parse_why(og_parse_e e);

/* "50" or "50%": decimal digits, optionally '%', within [lo, hi]. *out is
 * set only on OG_PARSE_OK. */
og_parse_e og_parse_percent(const char *arg, int lo, int hi, int *out);

/* Bytes: decimal digits, optionally K or M (binary: 1024, 1048576; either
 * case), within [lo, hi]. 18014398509481985K is OG_PARSE_RANGE, never a
 * wrapped small number. */
og_parse_e og_parse_size(const char *arg, apr_size_t lo, apr_size_t hi,
                         apr_size_t *out);

/* A duration: decimal digits then an optional unit, "ms", "s", "m" (minutes)
 * or "h"; no unit means seconds. The forms httpd's ap_timeout_parameter_parse
 * takes ("10", "500ms", "2s", "1m", "1h"), but strict: no sign, no
 * trailing text, no overflow. Within [lo, hi]. */
og_parse_e og_parse_duration(const char *arg, apr_interval_time_t lo,
                             apr_interval_time_t hi,
                             apr_interval_time_t *out);

/* A URL the fetcher may use: http or https (either case), a non-empty host,
 * a port (when given) from 1 to 65535, and no space, control or non-ASCII
 * byte (an IRI must be given encoded). `p` is scratch for apr_uri_parse. */
og_parse_e og_parse_url(const char *url, apr_pool_t *p);

#endif
