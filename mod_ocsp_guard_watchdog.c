/* SPDX-License-Identifier: Apache-2.0 */
/* mod_ocsp_guard: the fetcher. One mod_watchdog singleton for the whole
 * server, in a child (as mod_md does: a crash in network or parsing code
 * cannot take the parent down). It sleeps until the next certificate is
 * due, with a short look at the caches in between, and runs fetch rounds
 * (src/og_round.c) with the callbacks the other glue files provide. */

#include <unistd.h>

#include <apr_atomic.h>
#include <apr_optional.h>

#include <httpd.h>
#include <http_log.h>
#include <mod_watchdog.h>

#include "mod_ocsp_guard.h"

#define OG_WATCHDOG_NAME  "_ocsp_guard_"
/* the longest sleep: children's cache misses and the shared cache are
 * looked at this often */
#define OG_WATCHDOG_NAP   apr_time_from_sec(1)
/* what the fetcher thread's allocator keeps of the memory a round freed
 * (httpd's MaxMemFree for it): a round over thousands of certificates
 * would otherwise stay that size in the child between rounds */
#define OG_FETCHER_MAX_FREE ((apr_size_t)512 * 1024)

static APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *og_wd_get_instance;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *og_wd_register;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_set_callback_interval) *og_wd_interval;

/* set when the child exits (og_fetcher_child_exit, below) */
static volatile apr_uint32_t og_fetcher_stopping;

static double og_jitter(void)
{
    apr_uint32_t r = 0;

    apr_generate_random_bytes((unsigned char *)&r, sizeof(r));
    return (double)r / 4294967296.0;
}

void og_round_setup(og_server_conf_t *sc)
{
    og_round_t *r = &og->round;

    r->policy.sched.refresh_percent = sc->refresh_percent;
    r->policy.sched.retry_min = sc->retry_min;
    r->policy.sched.retry_max = sc->retry_max;
    r->policy.expiring_percent = sc->expiring_percent;
    r->policy.must_staple_expiring_percent =
        sc->expiring_percent > OG_MUST_STAPLE_EXPIRING_PERCENT
            ? sc->expiring_percent : OG_MUST_STAPLE_EXPIRING_PERCENT;
    r->policy.notify_interval = OG_NOTIFY_INTERVAL;
    r->fetch.connect_timeout = sc->connect_timeout;
    r->fetch.timeout = sc->timeout;
    r->fetch.max_size = sc->max_response_size;
    r->fetch.max_parallel = sc->parallel;
    r->fetch.max_per_host = sc->per_responder;
    r->fetch.user_agent = "mod_ocsp_guard/" OG_MODULE_VERSION;
    r->skew = OG_CLOCK_SKEW;
    r->jitter = og_jitter;
    og->io.ctx = og;
    og->io.keep = og_keep;
    og->io.lookup = NULL;           /* set when a shared cache is there */
    og->io.emit = og_emit_item;
    og->io.log = og_log_line;
    og->io.publish = og_slot_publish;
    og->io.publish_ways = og_ways_publish;
    r->fetcher = NULL;              /* made in the fetcher's own child */
    r->ways = NULL;
    r->stop = &og_fetcher_stopping; /* a round in progress ends early */
    r->io = &og->io;
}

static apr_time_t og_next_due;
static ap_watchdog_t *og_wd;

/* The fetcher and the child's exit. httpd 2.4's mod_watchdog does not join
 * its thread before the child calls exit(): OpenSSL's atexit clean-up
 * (OPENSSL_cleanup) then frees what a round still in progress in the
 * watchdog thread is using to validate a response (a heap-use-after-free
 * inside libcrypto, or a segfault, at a stop or restart; found by make
 * test-asan). When the child's pool goes, before exit(), the fetcher is
 * told to stop and a round in progress is waited for. */
#define OG_FETCHER_EXIT_WAIT apr_time_from_sec(30)
static apr_uint32_t og_fetcher_busy;

static apr_status_t og_fetcher_child_exit(void *data)
{
    apr_time_t end = apr_time_now() + OG_FETCHER_EXIT_WAIT;

    (void)data;
    apr_atomic_xchg32((apr_uint32_t *)&og_fetcher_stopping, 1);
    while (apr_atomic_read32(&og_fetcher_busy) && apr_time_now() < end)
        apr_sleep(apr_time_from_msec(10));
    return APR_SUCCESS;
}

void og_fetcher_child_init(apr_pool_t *pchild)
{
    apr_pool_cleanup_register(pchild, NULL, og_fetcher_child_exit,
                              apr_pool_cleanup_null);
}

static apr_status_t og_watchdog(int state, void *data, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    int i;

    (void)data;
    apr_atomic_inc32(&og_fetcher_busy);
    if (apr_atomic_read32((apr_uint32_t *)&og_fetcher_stopping)) {
        /* the child is exiting: touch nothing OpenSSL or libcurl own */
        apr_atomic_dec32(&og_fetcher_busy);
        return APR_SUCCESS;
    }
    switch (state) {
    case AP_WATCHDOG_STATE_STARTING:
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, og->s, OGLOGNO(00206)
                     "fetcher started in pid %" APR_PID_T_FMT " for %d"
                     " certificate(s)", getpid(), og->owned);
        apr_allocator_max_free_set(apr_pool_allocator_get(p),
                                   OG_FETCHER_MAX_FREE);
        og_fleet_fetcher_init(p);
        /* kept for the fetcher's life: connections to responders (keep
         * alive between rounds) and what was learned about them */
        if (apr_pool_create(&og->fetcher_pool, NULL) == APR_SUCCESS) {
            og->round.fetcher = og_fetcher_make(og->fetcher_pool,
                                                &og->round.fetch);
            og->round.ways = og_ways_make(og->fetcher_pool);
        }
        /* A fetcher that restarted (its child died) finds in the local
         * cache what the one before it fetched. */
        for (i = 0; i < og->items->nelts; i++) {
            og_item_t *it = APR_ARRAY_IDX(og->items, i, og_item_t *);
            og_entry_t *e = it->baton;
            unsigned char *buf = apr_palloc(p, og->record_max);
            og_record_t rec;

            if (og_cache_get(&og->local, e, buf, &rec, p) == APR_SUCCESS)
                og_round_offer(&og->round, it, &rec, OG_FROM_LOCAL,
                               og->local.desc, now, NULL, p);
        }
        og_next_due = 0;
        /* fall through */
    case AP_WATCHDOG_STATE_RUNNING:
        if (og->notify_cmd)
            og_notify_reap();
        og_caches_check(now, p);
        if (now >= og_next_due) {
            og_round_run(&og->round, og->items, p);
            og_next_due = og_round_next_due(&og->round, og->items);
        }
        /* asleep until the next certificate is due, looking at the caches
         * at least every OG_WATCHDOG_NAP */
        now = apr_time_now();
        og_wd_interval(og_wd, og_next_due - now > OG_WATCHDOG_NAP
                              ? OG_WATCHDOG_NAP
                              : og_next_due - now > apr_time_from_msec(50)
                              ? og_next_due - now : apr_time_from_msec(50),
                       og, og_watchdog);
        break;
    case AP_WATCHDOG_STATE_STOPPING:
        og->round.fetcher = NULL;
        og->round.ways = NULL;
        if (og->fetcher_pool)
            apr_pool_destroy(og->fetcher_pool);
        og->fetcher_pool = NULL;
        break;
    default:
        break;
    }
    apr_atomic_dec32(&og_fetcher_busy);
    return APR_SUCCESS;
}

int og_start_fetcher(server_rec *s, apr_pool_t *pconf)
{
    apr_status_t rv;

    og_wd_get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    og_wd_register = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    og_wd_interval = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_set_callback_interval);
    if (!og_wd_get_instance || !og_wd_register || !og_wd_interval) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, OGLOGNO(00112)
                     "mod_watchdog is required: add 'LoadModule"
                     " watchdog_module modules/mod_watchdog.so'");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = og_wd_get_instance(&og_wd, OG_WATCHDOG_NAME, 0, 1, pconf);
    if (rv == APR_SUCCESS)
        rv = og_wd_register(og_wd, OG_WATCHDOG_NAP, og, og_watchdog);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, OGLOGNO(00113)
                     "cannot start the background fetcher");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}
