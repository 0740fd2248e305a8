/* SPDX-License-Identifier: Apache-2.0 */
/* When to fetch next: pure functions of the clock and the response, so they
 * can be tested without waiting. Jitter comes in as a number in [0, 1) so
 * the caller owns randomness. */
#ifndef OG_SCHED_H
#define OG_SCHED_H

#include <apr_time.h>

typedef struct {
    int refresh_percent;            /* refresh when this much validity is left */
    apr_interval_time_t retry_min;  /* first retry after a failure */
    apr_interval_time_t retry_max;  /* cap of the exponential backoff */
} og_sched_policy_t;

/* Time of the next regular refresh of a response valid from this_update to
 * next_update: once less than refresh_percent of the validity is left, moved
 * earlier by up to a tenth of the time used until then (jitter) so that many
 * certificates do not refresh in one burst. Never before `now`. */
apr_time_t og_sched_refresh_at(const og_sched_policy_t *pol,
                               apr_time_t this_update, apr_time_t next_update,
                               apr_time_t now, double jitter);

/* Delay before retry number `failures` (1 = first failure): retry_min
 * doubling up to retry_max, +-10% jitter. While a valid response is held
 * (next_update > now) the delay is also capped at a quarter of its remaining
 * life, so retries come more often, not less, as expiry nears; never below
 * one second, so a flapping responder is not hammered. */
apr_interval_time_t og_sched_retry_delay(const og_sched_policy_t *pol,
                                         int failures, apr_time_t now,
                                         apr_time_t next_update,
                                         double jitter);

/* A jitter in [0, 1) that every server holding the same response draws
 * alike: a hash of the certificate (`seed`) and the response's
 * thisUpdate. Certificates still refresh apart from each other, and apart
 * from one response to the next; the servers of a fleet refresh each one
 * together, so that the first of them fetches for all (its lease) and the
 * fleet refreshes as often as one server would, not as often as the
 * earliest of N random draws. */
double og_sched_shared_jitter(apr_uint32_t seed, apr_time_t this_update);

#endif
