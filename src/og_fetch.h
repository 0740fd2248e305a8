/* SPDX-License-Identifier: Apache-2.0 */
/* Fetches OCSP responses over HTTP with libcurl's multi interface: many
 * certificates at once, bounded parallelism, hard timeouts and a size cap.
 * Runs only in the background (the watchdog), never in a handshake. */
#ifndef OG_FETCH_H
#define OG_FETCH_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "og_error.h"

typedef struct og_fetch_t og_fetch_t;
struct og_fetch_t {
    /* what to fetch */
    const char *url;                /* responder URL (http or https) */
    const unsigned char *request;   /* DER OCSP request */
    apr_size_t request_len;
    const char *proxy;              /* forward proxy URL, NULL: direct */
    void *baton;                    /* the caller's, untouched */
    /* what happened */
    og_error_e error;
    const char *detail;             /* one sentence, for logs */
    long http_status;
    unsigned char *body;
    apr_size_t body_len;
    apr_interval_time_t elapsed;
    int used_get;                   /* RFC 5019 GET (else POST) */
    /* private to og_fetch.c */
    apr_pool_t *pool;
    apr_size_t body_cap;
    apr_size_t max_size;
    int overflow;
    void *curl;
    void *headers;
    void *host_slot;                /* the fetcher's count for its host */
    char errbuf[256];
};

typedef struct {
    apr_interval_time_t connect_timeout;
    apr_interval_time_t timeout;    /* whole transfer */
    apr_size_t max_size;            /* response body cap in bytes */
    int max_parallel;               /* transfers at once */
    int max_per_host;               /* of them to one responder; 0: all */
    const char *user_agent;
} og_fetch_opts_t;

/* Called as each transfer ends. May return a follow-up fetch (the next URL
 * of a failover chain), made with og_fetch_make, to run in the same batch. */
typedef og_fetch_t *og_fetch_done_fn(og_fetch_t *done, void *ctx);

/* Once per process before any thread uses libcurl. */
apr_status_t og_fetch_global_init(void);

og_fetch_t *og_fetch_make(apr_pool_t *p, const char *url,
                          const unsigned char *request, apr_size_t len,
                          const char *proxy, void *baton);

/* A fetcher that outlives rounds: its connections to responders stay open
 * between them (HTTP keep-alive), up to opts->max_parallel. Freed with p. */
typedef struct og_fetcher_t og_fetcher_t;
og_fetcher_t *og_fetcher_make(apr_pool_t *p, const og_fetch_opts_t *opts);

/* Called when a transfer slot is free: the next fetch to start, or NULL
 * when there is none left. Fetches are made only as slots free up, so
 * memory holds the transfers in flight, not the whole round. */
typedef og_fetch_t *og_fetch_next_fn(void *ctx);

/* Called for a fetch that waited for a slot of its responder, just before
 * it starts: the fetch to start instead (another way, when what was learned
 * meanwhile says its responder is down), or `f` itself. May be NULL. */
typedef og_fetch_t *og_fetch_ready_fn(og_fetch_t *f, void *ctx);

/* Run what `next` hands over and the follow-ups `done` returns, at most
 * max_parallel at once and max_per_host to one responder (host and port,
 * through its proxy or not); returns when every one has ended. */
apr_status_t og_fetcher_run(og_fetcher_t *fr, og_fetch_next_fn *next,
                            og_fetch_ready_fn *ready, og_fetch_done_fn *done,
                            void *ctx, apr_pool_t *p);

/* Run all `fetches` (og_fetch_t *) and the follow-ups `done` returns, at
 * most opts->max_parallel at once; returns when every one has ended. A
 * fetcher of its own, for one-off use (the ocsp-guard command, tests). */
apr_status_t og_fetch_run(apr_array_header_t *fetches,
                          const og_fetch_opts_t *opts,
                          og_fetch_done_fn *done, void *ctx, apr_pool_t *p);

/* The body as libcurl hands it over, in chunks, kept apart from libcurl so
 * that unit tests and the fuzzer drive it. og_fetch_body_reset: nothing
 * held, at most `max` bytes from now on. og_fetch_body_append: stores the
 * chunk and returns n, or returns 0 and sets f->overflow when it would take
 * the body over the cap (nothing of that chunk is stored, and nothing after
 * it: the transfer is over). f->body_len never exceeds the cap. */
void og_fetch_body_reset(og_fetch_t *f, apr_size_t max);
apr_size_t og_fetch_body_append(og_fetch_t *f, const void *chunk,
                                apr_size_t n);

/* The verdict on a transfer that completed at the HTTP level (CURLE_OK),
 * from f->http_status and the body: http_status unless 200, malformed when
 * the body is empty, else OG_OK. Sets f->error and f->detail. */
void og_fetch_classify_http(og_fetch_t *f);

/* The RFC 5019 GET URL for `request` under `base`, or NULL when the encoded
 * request is over 255 bytes (then POST is used). */
const char *og_fetch_get_url(apr_pool_t *p, const char *base,
                             const unsigned char *request, apr_size_t len);

#endif
