/* SPDX-License-Identifier: Apache-2.0 */
/* The life of one certificate's staple as a pure state machine: what the
 * module knows of it (the response held, failures, what it has said), and
 * one function that takes an input (time passed, a way answered or failed,
 * a response found in a cache...) and returns the new state, the verdict
 * and the events to write. Every decision the module makes about a
 * certificate is here, where a table of cases can test it; the glue and
 * the fetch round only carry the inputs in and the verdicts out. */
#ifndef OG_TRACK_H
#define OG_TRACK_H

#include <apr_pools.h>
#include <apr_time.h>

#include "og_chain.h"
#include "og_error.h"
#include "og_event.h"
#include "og_record.h"
#include "og_sched.h"
#include "og_validate.h"

#define OG_TRACK_MAX_EVENTS 4
#define OG_TRACK_TEXT 256

/* The events that run OCSPGuardNotifyCmd, each rate-limited on its own. */
typedef enum {
    OG_NOTIFY_EXPIRING = 0,
    OG_NOTIFY_EXPIRED,
    OG_NOTIFY_REVOKED,
    OG_NOTIFY_RECOVERED,
    OG_NOTIFY_CERT_EXPIRED,
    OG_NOTIFY_KINDS
} og_notify_kind_e;

typedef struct {
    og_sched_policy_t sched;
    int expiring_percent;           /* staple_expiring below this share */
    int must_staple_expiring_percent;   /* the same, must-staple certs */
    apr_interval_time_t notify_interval;    /* per kind and certificate */
    /* Fleets: the longest wait for another server's fetch (its lease)
     * when this one is due, and the first of the growing intervals at
     * which the shared cache is looked at meanwhile. 0: never wait. */
    apr_interval_time_t lease_time;
    apr_interval_time_t lease_poll;
    /* Fleets: a refresh comes when every server holding the response
     * computes it alike (og_sched_shared_jitter), each later by up to
     * this much at random so that they do not race for the lease. 0:
     * each server draws its own jitter. */
    apr_interval_time_t fleet_spread;
} og_track_policy_t;

/* What a handshake gets, the one rule for status, events and metrics. */
typedef enum {
    OG_STAPLE_NONE = 0,             /* nothing held, ever */
    OG_STAPLE_FRESH,                /* valid, last round succeeded */
    OG_STAPLE_STALE,                /* valid, refreshing fails */
    OG_STAPLE_EXPIRED               /* the last good one has expired */
} og_staple_e;

typedef struct {
    /* the certificate */
    apr_time_t not_after;
    int must_staple;
    apr_uint32_t seed;              /* from its SHA-1, alike on every
                                     * server: set after og_track_init */
    /* the response held: validated, stored where children read it */
    apr_time_t this_update;         /* 0: none */
    apr_time_t next_update;
    og_cert_status_e cert_status;
    og_source_e source;
    const char *responder;          /* the way that gave it, or the cache:
                                     * a chain's or a cache's own text,
                                     * which lives as long as the track */
    /* fetching */
    apr_time_t next_attempt;
    int failures;                   /* consecutive failed rounds */
    og_error_e last_error;
    /* where the last failure's text is written, "way: detail": a buffer
     * the owner gives (the module: the certificate's status slot in
     * shared memory, where it is read anyway), NULL: not kept. A track
     * per certificate of thousands carries no text of its own. */
    char *last_error_detail;
    apr_size_t last_error_detail_size;
    apr_time_t last_success;
    apr_time_t last_failure;
    /* counters, for the status and the metrics */
    apr_uint32_t fetch_ok;
    apr_uint32_t fetch_failed[OG_ERR_COUNT];
    apr_uint32_t store_failures;    /* the local cache refused a record */
    apr_uint32_t evictions;         /* found gone from the local cache */
    apr_uint32_t cache_rejected;    /* shared-cache records that failed */
    apr_uint32_t cache_taken;       /* fetches saved by a cached record */
    apr_uint32_t leases_won;        /* this server fetched for the fleet */
    apr_uint32_t leases_lost;       /* it waited for another's fetch */
    /* waiting for another server's fetch (its lease) */
    apr_time_t lease_wait_since;    /* 0: not waiting */
    int lease_waits;                /* looks at the shared cache so far */
    /* what has been said, so that it is said once */
    int expiring_reported;
    int expired_reported;
    int cert_expired_reported;
    unsigned int fail_key;          /* hash of the last failure's class
                                     * and way */
    long fail_repeats;              /* identical failures in a row */
    apr_time_t notified[OG_NOTIFY_KINDS];
} og_track_t;

typedef enum {
    OG_IN_TICK = 0,         /* time passed: due? expired? */
    OG_IN_FETCHED,          /* a way gave a valid response, now stored */
    OG_IN_STORE_FAILED,     /* a valid response the local cache refused */
    OG_IN_WAY_FAILED,       /* one way failed or answered unusably */
    OG_IN_ROUND_FAILED,     /* every way failed */
    OG_IN_CANDIDATE,        /* a validated response from a cache or disk */
    OG_IN_CANDIDATE_REJECTED,   /* a shared-cache record that failed */
    OG_IN_EVICTED,          /* gone from the local cache */
    OG_IN_LEASE_HELD,       /* due, but another server's fetcher holds
                             * the lease: it is fetching this now */
    OG_IN_LEASE_WON         /* due, and this server took the lease */
} og_input_e;

typedef struct {
    og_input_e kind;
    const og_validation_t *v;   /* FETCHED, STORE_FAILED, CANDIDATE */
    const og_way_t *way;        /* FETCHED, STORE_FAILED, WAY_FAILED */
    int way_index;              /* 0-based place of `way` in the chain */
    int ways;                   /* length of the chain */
    og_source_e source;         /* CANDIDATE: the record's source */
    int from_shared;            /* CANDIDATE: another server's fetch */
    og_error_e error;           /* WAY_FAILED, CANDIDATE_REJECTED */
    const char *detail;         /* WAY_FAILED, CANDIDATE_REJECTED */
    int answered;               /* WAY_FAILED: a responder answered */
    int ocsp_status;            /* WAY_FAILED when answered, else -1 */
    long http_status;           /* FETCHED, WAY_FAILED; 0: none */
    long elapsed_ms;            /* FETCHED, WAY_FAILED; -1: none */
    const char *cache;          /* STORE_FAILED, CANDIDATE*, EVICTED */
    apr_size_t size;            /* STORE_FAILED: record bytes */
    int restored;               /* EVICTED: put back from the state dir */
} og_input_t;

typedef struct {
    int fetch;                  /* TICK: start fetching now; LEASE_HELD:
                                 * fetch all the same (waited a whole
                                 * lease, or the staple would expire) */
    int take;                   /* CANDIDATE: adopted, fresher than held */
    int nevents;
    og_event_t events[OG_TRACK_MAX_EVENTS];
    int notify[OG_TRACK_MAX_EVENTS];    /* run OCSPGuardNotifyCmd */
} og_step_t;

/* A certificate seen for the first time. */
void og_track_init(og_track_t *t, apr_time_t not_after, int must_staple);

/* An input with every optional field empty. */
void og_input_init(og_input_t *in, og_input_e kind);

/* Apply `in` at `now`; `jitter` in [0, 1) spreads refreshes and retries.
 * Strings in the events are allocated from p. */
void og_track_step(og_track_t *t, const og_track_policy_t *pol,
                   const og_input_t *in, apr_time_t now, double jitter,
                   og_step_t *out, apr_pool_t *p);

og_staple_e og_track_staple(const og_track_t *t, apr_time_t now);

/* The one rule behind it, for views that hold only these two fields. */
og_staple_e og_staple_state(apr_time_t next_update, int failures,
                            apr_time_t now);

/* "none", "fresh", "stale-refreshing", "expired". */
const char *og_staple_name(og_staple_e s);

#endif
