/* SPDX-License-Identifier: Apache-2.0 */
/* The status handler's output, rendered from plain views of each
 * certificate so that it can be tested against expected text: JSON for
 * people and scripts, the Prometheus text format for monitoring. */
#ifndef OG_REPORT_H
#define OG_REPORT_H

#include <apr_pools.h>
#include <apr_time.h>

#include "og_error.h"
#include "og_record.h"
#include "og_track.h"
#include "og_validate.h"

/* One certificate as the status handler shows it. */
typedef struct {
    const char *cert_id;
    const char *subject;
    const char *serial;
    const char *vhosts;
    const char *owner;          /* who staples it */
    int must_staple;
    int claimed;                /* stapled by this module: all below set */
    apr_time_t not_after;
    og_staple_e staple;
    og_cert_status_e cert_status;
    og_source_e source;
    const char *responder;      /* "" when none */
    apr_time_t this_update;
    apr_time_t next_update;
    apr_time_t last_success;
    apr_time_t last_failure;
    apr_time_t next_attempt;
    og_error_e last_error;
    const char *last_error_detail;
    unsigned failures;
    unsigned fetch_ok;
    unsigned fetch_failed[OG_ERR_COUNT];
    unsigned cached_bytes;      /* the record in the local cache, 0: none */
    unsigned evictions;
    unsigned store_failures;
    unsigned cache_rejected;
    unsigned cache_taken;
    unsigned leases_won;        /* fetched under this server's lease */
    unsigned leases_lost;       /* waited for another server's fetch */
    unsigned staples_served;
    unsigned unstapled;
} og_view_t;

/* The shared cache between servers, as the fetcher last saw it. */
typedef struct {
    const char *name;           /* NULL: no shared cache */
    int reachable;
    unsigned reads;
    unsigned misses;
    unsigned store_failures;
    unsigned repopulated;       /* records put back after a loss */
} og_shared_view_t;

/* A responder as the fetcher learned it (src/og_ways.c). */
typedef struct {
    char key[200];              /* "http://host:port" [" via " proxy] */
    int down;
    int failures;
    og_error_e last_error;
    apr_time_t since;
    apr_time_t retry_at;
} og_responder_view_t;

typedef struct {
    const char *module;         /* "mod_ocsp_guard/0.1.0" */
    apr_time_t now;
    const char *cache;          /* the local cache children read */
    apr_size_t cache_capacity;  /* bytes, 0: not known */
    const char *state_dir;      /* NULL: none */
    int owned;                  /* certificates stapled by the module */
    og_shared_view_t shared;
    const og_responder_view_t *responders;
    int nresponders;
} og_report_t;

const char *og_report_json(apr_pool_t *p, const og_report_t *r,
                           const og_view_t *views, int n);

const char *og_report_prometheus(apr_pool_t *p, const og_report_t *r,
                                 const og_view_t *views, int n);

/* A Prometheus label value: backslash, quote and newline escaped. */
const char *og_prom_label(apr_pool_t *p, const char *s);

#endif
