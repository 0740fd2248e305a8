/* SPDX-License-Identifier: Apache-2.0 */
/* Structured events: one JSON object per line, for operators to alert on.
 * Building the line is pure (no I/O), so it is unit-tested; the httpd glue
 * writes it to the OCSPGuardEventLog. */
#ifndef OG_EVENT_H
#define OG_EVENT_H

#include <apr_pools.h>
#include <apr_time.h>

typedef struct {
    apr_time_t ts;
    const char *event;          /* fetch_ok, fetch_failed, ... */
    const char *severity;       /* info, notice, warning, error, critical */
    const char *cert_id;        /* hex SHA-1 of the certificate DER */
    const char *subject;
    const char *serial;
    const char *vhosts;         /* comma separated */
    const char *responder;      /* URL, or NULL */
    const char *via;            /* direct, mirror, proxy, state-dir, NULL */
    int attempt;                /* 1-based within the round, 0: none */
    const char *error_class;    /* og_error_name(), or NULL */
    long http_status;           /* 0: none */
    int ocsp_status;            /* -1: none */
    const char *cert_status;    /* good, revoked, unknown, or NULL */
    long elapsed_ms;            /* -1: none */
    const char *ah;             /* mod_ssl message number, or NULL */
    const char *staple_state;   /* fresh, stale-refreshing, expired, none */
    long staple_expires_in_s;   /* only when staple_state has a staple */
    long next_attempt_in_s;     /* -1: none */
    long count;                 /* identical events aggregated, 0: none */
    int must_staple;            /* the certificate is must-staple */
    const char *detail;
} og_event_t;

/* An event with every optional field empty. */
void og_event_init(og_event_t *ev, const char *event, const char *severity,
                   apr_time_t ts);

/* The event as one line of JSON, newline included. */
const char *og_event_json(apr_pool_t *p, const og_event_t *ev);

/* `s` as a JSON string literal, quotes included, valid JSON whatever the
 * bytes: well-formed UTF-8 is kept as it is (U+2028 and U+2029 escaped),
 * each ill-formed sequence becomes \ufffd, control characters, '"' and '\\'
 * are escaped. */
const char *og_json_str(apr_pool_t *p, const char *s);

/* The length of the well-formed UTF-8 sequence at s[0..n), or 0 when it is
 * ill-formed (overlong, surrogate, above U+10FFFF, truncated, a lone
 * continuation byte); then *bad says how many bytes one U+FFFD replaces. */
apr_size_t og_utf8_seq_len(const unsigned char *s, apr_size_t n,
                           apr_size_t *bad);

/* RFC 3339 UTC with milliseconds: 2026-11-23T04:12:00.123Z */
const char *og_rfc3339(apr_pool_t *p, apr_time_t t);

#endif
