/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "og_event.h"

void og_event_init(og_event_t *ev, const char *event, const char *severity,
                   apr_time_t ts)
{
    memset(ev, 0, sizeof(*ev));
    ev->ts = ts;
    ev->event = event;
    ev->severity = severity;
    ev->ocsp_status = -1;
    ev->elapsed_ms = -1;
    ev->next_attempt_in_s = -1;
}

const char *og_rfc3339(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t x;

    apr_time_exp_gmt(&x, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                        x.tm_year + 1900, x.tm_mon + 1, x.tm_mday, x.tm_hour,
                        x.tm_min, x.tm_sec, x.tm_usec / 1000);
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (Unicode table 3-7:
 * no overlongs, no surrogates, nothing above U+10FFFF), or 0 when it is
 * ill-formed; then *bad is the length of its maximal subpart (at least 1),
 * the bytes one U+FFFD stands for, as Unicode and WHATWG recommend. */
apr_size_t og_utf8_seq_len(const unsigned char *s, apr_size_t n,
                           apr_size_t *bad)
{
    unsigned char lo = 0x80, hi = 0xbf;
    apr_size_t need, i;

    *bad = 1;
    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        need = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        need = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        need = 4;
    else
        return 0;                   /* continuation, C0/C1, F5..FF */
    /* the second byte's range is what rules out overlongs, surrogates and
     * code points above U+10FFFF */
    if (s[0] == 0xe0)
        lo = 0xa0;
    else if (s[0] == 0xed)
        hi = 0x9f;
    else if (s[0] == 0xf0)
        lo = 0x90;
    else if (s[0] == 0xf4)
        hi = 0x8f;
    for (i = 1; i < need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xbf;
    }
    return need;
}

/* JSON string with quotes, valid whatever the bytes: well-formed UTF-8
 * passes through (readable subjects), except U+2028/U+2029 which are
 * \u-escaped for JavaScript consumers; every ill-formed sequence becomes
 * \ufffd; control characters are escaped. A hostile subject or error text
 * can neither break the line nor make a strict parser reject it. */
const char *og_json_str(apr_pool_t *p, const char *s)
{
    const unsigned char *in = (const unsigned char *)s;
    apr_size_t i = 0, n = strlen(s), o = 0, len, bad;
    /* worst case: every byte becomes a 6-character escape */
    char *out = apr_palloc(p, n * 6 + 3);

    out[o++] = '"';
    while (i < n) {
        unsigned char c = in[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
            i++;
        }
        else if (c == '\n') {
            memcpy(out + o, "\\n", 2);
            o += 2;
            i++;
        }
        else if (c < 0x20 || c == 0x7f) {
            snprintf(out + o, 7, "\\u%04x", c);
            o += 6;
            i++;
        }
        else if (c < 0x80) {
            out[o++] = (char)c;
            i++;
        }
        else if ((len = og_utf8_seq_len(in + i, n - i, &bad)) == 0) {
            memcpy(out + o, "\\ufffd", 6);
            o += 6;
            i += bad;
        }
        else if (len == 3 && c == 0xe2 && in[i + 1] == 0x80
                 && (in[i + 2] == 0xa8 || in[i + 2] == 0xa9)) {
            memcpy(out + o, in[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
            o += 6;
            i += 3;
        }
        else {
            memcpy(out + o, in + i, len);
            o += len;
            i += len;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

static void add_str(apr_pool_t *p, apr_array_header_t *kv, const char *k,
                    const char *v)
{
    if (v)
        APR_ARRAY_PUSH(kv, const char *) = apr_pstrcat(p, "\"", k, "\":",
                                                       og_json_str(p, v), NULL);
}

static void add_num(apr_pool_t *p, apr_array_header_t *kv, const char *k,
                    long v)
{
    APR_ARRAY_PUSH(kv, const char *) = apr_psprintf(p, "\"%s\":%ld", k, v);
}

const char *og_event_json(apr_pool_t *p, const og_event_t *ev)
{
    apr_array_header_t *kv = apr_array_make(p, 24, sizeof(const char *));
    const char *body;

    add_str(p, kv, "ts", og_rfc3339(p, ev->ts));
    add_str(p, kv, "event", ev->event);
    add_str(p, kv, "severity", ev->severity);
    add_str(p, kv, "cert_id", ev->cert_id);
    add_str(p, kv, "subject", ev->subject);
    add_str(p, kv, "serial", ev->serial);
    add_str(p, kv, "vhosts", ev->vhosts);
    if (ev->must_staple)
        APR_ARRAY_PUSH(kv, const char *) = "\"must_staple\":true";
    add_str(p, kv, "responder", ev->responder);
    add_str(p, kv, "via", ev->via);
    if (ev->attempt > 0)
        add_num(p, kv, "attempt", ev->attempt);
    add_str(p, kv, "error_class", ev->error_class);
    if (ev->http_status > 0)
        add_num(p, kv, "http_status", ev->http_status);
    if (ev->ocsp_status >= 0)
        add_num(p, kv, "ocsp_status", ev->ocsp_status);
    add_str(p, kv, "cert_status", ev->cert_status);
    if (ev->elapsed_ms >= 0)
        add_num(p, kv, "elapsed_ms", ev->elapsed_ms);
    add_str(p, kv, "ah", ev->ah);
    add_str(p, kv, "staple_state", ev->staple_state);
    if (ev->staple_state && strcmp(ev->staple_state, "none") != 0
        && strcmp(ev->staple_state, "expired") != 0)
        add_num(p, kv, "staple_expires_in_s", ev->staple_expires_in_s);
    if (ev->next_attempt_in_s >= 0)
        add_num(p, kv, "next_attempt_in_s", ev->next_attempt_in_s);
    if (ev->count > 0)
        add_num(p, kv, "count", ev->count);
    add_str(p, kv, "detail", ev->detail);
    body = apr_array_pstrcat(p, kv, ',');
    return apr_pstrcat(p, "{", body, "}\n", NULL);
}
