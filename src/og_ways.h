/* SPDX-License-Identifier: Apache-2.0 */
/* What the fetcher has learned about each responder (a URL's scheme, host
 * and port, directly or through a given proxy): once one has failed at the
 * network level (refused, timed out, no DNS, proxy failing), the other
 * certificates that would ask it go to their next way at once instead of
 * each waiting out the same timeout; it is tried again by one request
 * (a probe) after a backoff, and used again when that succeeds. The order
 * the operator configured stays the preference. */
#ifndef OG_WAYS_H
#define OG_WAYS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "og_chain.h"
#include "og_error.h"

#define OG_WAYS_FIRST_BACKOFF apr_time_from_sec(30)
#define OG_WAYS_MAX_BACKOFF   apr_time_from_sec(600)

typedef struct {
    const char *key;            /* "http://host:port" [+ " via " proxy] */
    int down;
    int probing;                /* the one request that may find it back */
    int failures;               /* network failures in a row */
    og_error_e last_error;
    apr_time_t since;           /* down since */
    apr_time_t retry_at;        /* probed again from then */
} og_responder_t;

typedef struct og_ways_t og_ways_t;

og_ways_t *og_ways_make(apr_pool_t *p);

/* The key of the responder behind `way`. */
const char *og_ways_key(apr_pool_t *p, const og_way_t *way);

/* Whether to ask `way` now: yes when its responder is up, or when it is
 * down but due for a probe and no probe is under way (the caller then
 * makes that probe). */
int og_ways_usable(og_ways_t *w, const og_way_t *way, apr_time_t now);

/* What asking `way` gave. Returns the responder when that changed its
 * state (went down, came back), NULL otherwise. */
const og_responder_t *og_ways_report(og_ways_t *w, const og_way_t *way,
                                     og_error_e error, apr_time_t now);

/* Whether an error says the responder is unreachable (rather than that
 * it answered badly). */
int og_ways_unreachable(og_error_e error);

/* The responders known, og_responder_t *. */
const apr_array_header_t *og_ways_list(const og_ways_t *w);

/* The known state of `way`'s responder, or NULL. */
const og_responder_t *og_ways_get(const og_ways_t *w, const og_way_t *way);

#endif
