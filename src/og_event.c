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

/* JSON string with quotes; control characters and non-ASCII-safe bytes
 * escaped, so that a hostile subject or error text cannot break the line. */
const char *og_json_str(apr_pool_t *p, const char *s)
{
    apr_size_t i, n = strlen(s), o = 0;
    char *out = apr_palloc(p, n * 6 + 3);

    out[o++] = '"';
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        }
        else if (c == '\n') {
            memcpy(out + o, "\\n", 2);
            o += 2;
        }
        else if (c < 0x20 || c == 0x7f) {
            snprintf(out + o, 7, "\\u%04x", c);
            o += 6;
        }
        else {
            out[o++] = (char)c;
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
