/* SPDX-License-Identifier: Apache-2.0 */
/* A fetch round: every certificate that is due asks its failover chain,
 * each answer is validated, encoded as a cache record and handed to the
 * glue to keep, and every outcome is stepped through the certificate's
 * state machine (og_track). The round acts on the world only through the
 * callbacks of og_round_io_t, which the httpd glue implements (caches,
 * state dir, event log, status) and the ocsp-guard command implements in
 * its own way, as mod_md's core acts through md_store_t. */
#ifndef OG_ROUND_H
#define OG_ROUND_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "og_cert.h"
#include "og_chain.h"
#include "og_fetch.h"
#include "og_record.h"
#include "og_track.h"
#include "og_validate.h"
#include "og_ways.h"

/* Log levels, as syslog (and httpd's APLOG_*) number them. */
#define OG_LOG_CRIT    2
#define OG_LOG_ERR     3
#define OG_LOG_WARNING 4
#define OG_LOG_NOTICE  5
#define OG_LOG_INFO    6
#define OG_LOG_DEBUG   7

/* One certificate as a round sees it. */
typedef struct {
    const og_cert_t *cert;
    const apr_array_header_t *chain;    /* og_way_t, in the order tried */
    og_track_t *track;
    void *baton;                        /* the glue's own */
} og_item_t;

/* Where a response to keep came from; the glue stores it accordingly. */
typedef enum {
    OG_FROM_FETCH = 0,      /* this server fetched it: keep it everywhere */
    OG_FROM_SHARED,         /* another server's, from the shared cache */
    OG_FROM_DISK,           /* the state dir, at start-up */
    OG_FROM_LOCAL           /* the local cache (a restarted fetcher) */
} og_origin_e;

/* What the round asks of the lease in the shared cache (og_record.h). */
typedef enum {
    OG_LEASE_READ = 0,      /* the lease held on `it`, into *lease */
    OG_LEASE_WRITE,         /* put *lease there, until lease->until */
    OG_LEASE_DROP           /* take it away, if it is still *lease's */
} og_lease_op_e;

typedef struct {
    void *ctx;
    /* Keep a validated response, encoded as a record (`rec` decoded, its
     * der inside `record`): where this server's children read it and, as
     * `origin` asks, on disk and in the shared cache. APR_SUCCESS when
     * children can read it. */
    apr_status_t (*keep)(void *ctx, og_item_t *it, const og_record_t *rec,
                         const unsigned char *record, apr_size_t len,
                         og_origin_e origin, apr_pool_t *p);
    /* The record the shared cache holds for `it` (rec->der points into
     * memory from p): APR_SUCCESS, APR_NOTFOUND, or APR_EINVAL for a
     * record that is not well-formed. NULL: no shared cache. */
    apr_status_t (*lookup)(void *ctx, og_item_t *it, og_record_t *rec,
                           apr_pool_t *p);
    /* Write an event (the glue adds which certificate it is: `it` is NULL
     * for an event about no one certificate) and, when `notify`, run the
     * alert program. */
    void (*emit)(void *ctx, og_item_t *it, og_event_t *ev, int notify,
                 apr_pool_t *p);
    /* One line for the error log, "OGnnnnn: " included. */
    void (*log)(void *ctx, int level, const char *line);
    /* The certificate's state changed: show it (status handler). */
    void (*publish)(void *ctx, og_item_t *it);
    /* A responder went down or came back: show them all. May be NULL. */
    void (*publish_ways)(void *ctx, const og_ways_t *ways);
    /* The shared cache's name, for events; NULL: none. */
    const char *shared_name;
    /* The lease on fetching `it` (`op`): APR_SUCCESS; for a READ also
     * APR_NOTFOUND (none), APR_EINVAL (not a lease for this certificate);
     * anything else: the cache is failing, and the round fetches without
     * a lease. NULL: no shared cache, no leases. */
    apr_status_t (*lease)(void *ctx, og_item_t *it, og_lease_op_e op,
                          og_lease_t *lease, apr_pool_t *p);
} og_round_io_t;

typedef struct {
    og_track_policy_t policy;
    og_fetch_opts_t fetch;
    apr_interval_time_t skew;           /* clock skew allowed on thisUpdate */
    double (*jitter)(void);             /* in [0, 1) */
    const og_round_io_t *io;
    og_fetcher_t *fetcher;              /* kept between rounds (keep-alive);
                                         * NULL: one for each round */
    og_ways_t *ways;                    /* responders learned down; NULL:
                                         * every way is always tried */
    volatile apr_uint32_t *stop;        /* non-zero: start nothing more (the
                                         * process is exiting); may be NULL */
    /* this fetcher's id in the leases it writes: random, per process */
    unsigned char lease_token[OG_LEASE_TOKEN_LEN];
    /* how long after writing its leases the round reads them back: longer
     * than it takes every server that found no lease at the same moment
     * to write its own, so that one of them, the last, has it */
    apr_interval_time_t lease_settle;
} og_round_t;

/* Step `it` with `in` and act on the outcome: events written, the
 * matching error-log lines, the state published. */
void og_round_apply(const og_round_t *r, og_item_t *it, const og_input_t *in,
                    apr_time_t now, og_step_t *st, apr_pool_t *p);

/* A response found in a cache or the state dir, as `rec` holds it: taken
 * (validated, kept, adopted) only when it is fresher than what is held.
 * Its header is not trusted: the record kept is made anew from what the
 * validator read in the DER. 1 taken, 0 not needed, -1 invalid (a record
 * from the shared cache is then reported as rejected). `why` (may be
 * NULL) gets the reason it was not used. */
int og_round_offer(const og_round_t *r, og_item_t *it, const og_record_t *rec,
                   og_origin_e origin, const char *where, apr_time_t now,
                   const char **why, apr_pool_t *p);

/* One round over `items` (og_item_t *): each is ticked; those due take a
 * fresher response from the shared cache when there is one, else, unless
 * another server holds the lease on it (then they wait for its response,
 * og_track), take the lease (written, then read back lease_settle later)
 * and fetch through their chain, skipping responders learned down, as
 * transfer slots free up (r->fetch.max_parallel, max_per_host). Returns
 * when every transfer has ended. */
void og_round_run(const og_round_t *r, apr_array_header_t *items,
                  apr_pool_t *p);

/* When the earliest of `items` is due, or a down responder's probe (0
 * when none is ever due). */
apr_time_t og_round_next_due(const og_round_t *r,
                             const apr_array_header_t *items);

/* One line for the error log, through io->log. */
void og_round_say(const og_round_t *r, int level, const char *line);

/* Leases (src/og_lease.c). */
typedef enum {
    OG_CLAIM_NONE = 0,      /* fetch without a lease */
    OG_CLAIM_WAIT,          /* another server is fetching it */
    OG_CLAIM_MADE           /* written: read it back once claims settled */
} og_claim_e;

/* Due, and nothing fresher in the shared cache: is another server
 * fetching it now? If not, this fetcher's lease is written. */
og_claim_e og_round_lease_claim(const og_round_t *r, og_item_t *it,
                                apr_time_t now, apr_pool_t *p);

/* A written claim read back, r->lease_settle after: 1 won (fetch under
 * it), 0 another server has it (wait), -1 fetch without it. */
int og_round_lease_verify(const og_round_t *r, og_item_t *it, apr_time_t now,
                          apr_pool_t *p);

/* The fetch is over: the lease goes, if it is still this fetcher's. */
void og_round_lease_drop(const og_round_t *r, og_item_t *it, apr_pool_t *p);

/* The record to keep for a validated response. */
const unsigned char *og_round_record(const og_item_t *it,
                                     const og_validation_t *v,
                                     const unsigned char *der,
                                     apr_size_t der_len, og_source_e source,
                                     apr_time_t fetched_at, og_record_t *rec,
                                     apr_size_t *len, apr_pool_t *p);

#endif
