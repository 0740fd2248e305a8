/* SPDX-License-Identifier: Apache-2.0 */
/* mod_ocsp_guard: the fleet. Servers that share a cache (OCSPGuardCache
 * memcache:, redis: ...) exchange validated responses through it and fetch
 * each certificate's response once per refresh for all of them:
 *  - before fetching, a server takes the certificate's lease (a short
 *    record beside the response's); one that finds another's lease waits
 *    for that server's response instead (src/og_round.c, og_track.c);
 *  - at start-up, the parent takes what the fleet already fetched, so that
 *    a new server staples from its first handshake;
 *  - every 5 s the fetcher looks whether the cache is there and still
 *    holds what it put in, and puts its responses back when it lost them.
 * The shared cache is untrusted input and its failure costs nothing:
 * whatever is taken from it is validated like a network answer, a lease
 * can only make a server wait for one lease, and when it fails the
 * server fetches and staples on its own. */

#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <ap_socache.h>

#include "mod_ocsp_guard.h"

/* how often the fetcher asks the shared cache whether it is there */
#define OG_SHARED_PROBE    apr_time_from_sec(5)
/* a lease outlives one fetch's timeout by this much: the caches count
 * their expiry in whole seconds */
#define OG_LEASE_MARGIN    apr_time_from_sec(2)
/* the first look for the holder's response; then twice as long each time */
#define OG_LEASE_POLL      apr_time_from_msec(100)
/* the servers refreshing one response come due within this of each other
 * (og_track_policy_t.fleet_spread): the first one's lease is there by the
 * time most others look */
#define OG_FLEET_SPREAD    apr_time_from_msec(20)
/* a lease written is read back this much later (og_round_t.lease_settle):
 * far longer than a round trip to the cache, so that every server that
 * found no lease at the same moment has written its own by then */
#define OG_LEASE_SETTLE    apr_time_from_msec(50)
/* the parent reads the shared cache at start-up for at most this long */
#define OG_FLEET_LOAD_MAX  apr_time_from_sec(3)

/* ------------------------------------------------------------------ */
/* is it there?                                                       */

static struct {
    unsigned char id[16];           /* this fetcher's probe key */
    apr_time_t next;                /* next probe */
    int known;                      /* probed at least once */
} og_probe;

void og_shared_down(const char *why, apr_status_t rv, apr_pool_t *p)
{
    og_event_t ev;

    if (og_probe.known && !og->shared_stats.reachable)
        return;                     /* said already */
    og_probe.known = 1;
    og->shared_stats.reachable = 0;
    og_shared_publish();
    ap_log_error(APLOG_MARK, APLOG_ERR, rv, og->s, OGLOGNO(00310)
                 "the shared cache %s %s: this server keeps stapling from its"
                 " own cache and state dir, and refills the shared cache"
                 " when it is back", og->shared.desc, why);
    og_event_init(&ev, "shared_cache_down", "error", apr_time_now());
    ev.responder = og->shared.desc;
    ev.detail = apr_psprintf(p, "the shared cache %s; this server keeps"
                             " stapling from its own cache", why);
    og_emit(NULL, &ev, 0, p);
}

/* Put this server's validated responses into the shared cache where it
 * holds none or an older one: after it lost them (restarted, flushed) or
 * could not take them (down). */
static int og_shared_refill(apr_time_t now, apr_pool_t *p)
{
    int i, put = 0;

    for (i = 0; i < og->items->nelts; i++) {
        og_item_t *it = APR_ARRAY_IDX(og->items, i, og_item_t *);
        og_entry_t *e = it->baton;
        unsigned char *buf;
        og_record_t rec;
        apr_pool_t *sub;

        if (e->track.next_update <= now
            || apr_pool_create(&sub, p) != APR_SUCCESS)
            continue;
        buf = apr_palloc(sub, og->record_max);
        if (!(og_cache_get(&og->shared, e, buf, &rec, sub) == APR_SUCCESS
              && rec.this_update >= e->track.this_update)
            && og_cache_get(&og->local, e, buf, &rec, sub) == APR_SUCCESS
            && og_cache_put(&og->shared, e, buf,
                            og_record_size(&rec), rec.next_update, sub)
                   == APR_SUCCESS)
            put++;
        apr_pool_destroy(sub);
    }
    og->shared_stats.repopulated += (unsigned)put;
    return put;
}

/* Is the shared cache there, and does it still hold what we put in it?
 * A key of this fetcher's own tells: found, all is well; missing but
 * storable, the cache lost what it held; not storable, it is down. */
static void og_shared_check(apr_time_t now, apr_pool_t *p)
{
    unsigned char buf[16];
    unsigned int len = sizeof(buf);
    static const unsigned char mark[8] = "OGPROBE1";
    int was_up = og_probe.known && og->shared_stats.reachable;
    apr_status_t rv;
    og_event_t ev;
    int put;

    og_probe.next = now + OG_SHARED_PROBE;
    rv = og_cache_read(&og->shared, og_probe.id, sizeof(og_probe.id), buf,
                       &len, p);
    if (rv == APR_SUCCESS && was_up)
        return;
    if (rv != APR_SUCCESS) {
        rv = og_cache_write(&og->shared, og_probe.id, sizeof(og_probe.id),
                            now + apr_time_from_sec(86400), mark,
                            sizeof(mark), p);
        if (rv != APR_SUCCESS) {
            og_shared_down("cannot be reached", rv, p);
            return;
        }
    }
    put = og_shared_refill(now, p);
    og->shared_stats.reachable = 1;
    og_shared_publish();
    if (!og_probe.known) {
        og_probe.known = 1;
        return;                     /* the first look after start-up */
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, og->s, OGLOGNO(00311)
                 "the shared cache %s %s; %d response(s) put back",
                 og->shared.desc, was_up ? "had lost what it held (restarted"
                 " or flushed)" : "answers again", put);
    og_event_init(&ev, was_up ? "shared_cache_repopulated"
                              : "shared_cache_up", "notice", now);
    ev.responder = og->shared.desc;
    ev.count = put;
    ev.detail = apr_psprintf(p, "the shared cache %s; %d response(s) put"
                             " back", was_up ? "had lost what it held"
                             : "answers again", put);
    og_emit(NULL, &ev, 0, p);
}

apr_status_t og_shared_lookup(void *ctx, og_item_t *it, og_record_t *rec,
                              apr_pool_t *p)
{
    og_entry_t *e = it->baton;
    unsigned char *buf = apr_palloc(p, og->record_max);
    apr_status_t rv;

    (void)ctx;
    og->shared_stats.reads++;
    rv = og_cache_get(&og->shared, e, buf, rec, p);
    if (rv == APR_ENOMEM)
        return APR_EINVAL;          /* larger than any response we take */
    if (rv == APR_NOTFOUND)
        og->shared_stats.misses++;
    return rv;                      /* anything else: the cache fails */
}

/* ------------------------------------------------------------------ */
/* the lease                                                          */

/* Its key: the certificate's id and one byte more, beside the record's. */
static unsigned int og_lease_key(const og_entry_t *e, unsigned char *key)
{
    memcpy(key, e->id, e->id_len);
    key[e->id_len] = 'L';
    return (unsigned int)e->id_len + 1;
}

static apr_status_t og_lease_read(const og_entry_t *e, const unsigned char *key,
                                  unsigned int klen, og_lease_t *lease,
                                  apr_pool_t *p)
{
    unsigned char buf[OG_LEASE_LEN + 1];
    unsigned int len = sizeof(buf);
    apr_status_t rv = og_cache_read(&og->shared, key, klen, buf, &len, p);

    if (rv == APR_ENOMEM)
        return APR_EINVAL;
    if (rv != APR_SUCCESS)
        return rv;
    if (og_lease_decode(lease, buf, len) != APR_SUCCESS
        || memcmp(lease->cert_sha1, e->cert->sha1, OG_CERT_SHA1_LEN) != 0)
        return APR_EINVAL;
    return APR_SUCCESS;
}

apr_status_t og_fleet_lease(void *ctx, og_item_t *it, og_lease_op_e op,
                            og_lease_t *lease, apr_pool_t *p)
{
    og_entry_t *e = it->baton;
    unsigned char key[OG_MAX_ID_LEN + 1], buf[OG_LEASE_LEN];
    unsigned int klen = og_lease_key(e, key);
    og_lease_t seen;
    apr_status_t rv;

    (void)ctx;
    /* down: fetch without a lease rather than wait on it for each one */
    if (og_probe.known && !og->shared_stats.reachable)
        return APR_EGENERAL;
    switch (op) {
    case OG_LEASE_READ:
        return og_lease_read(e, key, klen, lease, p);
    case OG_LEASE_WRITE:
        lease->pid = (apr_uint32_t)getpid();
        og_lease_encode(lease, buf);
        rv = og_cache_write(&og->shared, key, klen, lease->until, buf,
                            sizeof(buf), p);
        if (rv != APR_SUCCESS) {
            og->shared_stats.store_failures++;
            og_shared_down("refused a lease", rv, p);
        }
        return rv;
    case OG_LEASE_DROP:
        if (og_lease_read(e, key, klen, &seen, p) == APR_SUCCESS
            && og_lease_mine(&seen, lease->token))
            (void)og_cache_del(&og->shared, key, klen, p);
        return APR_SUCCESS;
    }
    return APR_EINVAL;
}

/* ------------------------------------------------------------------ */
/* set-up                                                             */

void og_fleet_setup(void)
{
    og->io.lookup = NULL;
    og->io.lease = NULL;
    og->round.policy.lease_time = 0;
    og->round.policy.fleet_spread = 0;
    og->round.lease_settle = 0;
    if (!og->shared.provider)
        return;
    og->io.lookup = og_shared_lookup;
    og->io.lease = og_fleet_lease;
    og->round.policy.lease_time = og->round.fetch.timeout + OG_LEASE_MARGIN;
    og->round.policy.lease_poll = OG_LEASE_POLL;
    og->round.policy.fleet_spread = OG_FLEET_SPREAD;
    og->round.lease_settle = OG_LEASE_SETTLE;
}

void og_fleet_fetcher_init(apr_pool_t *p)
{
    (void)p;
    apr_generate_random_bytes(og_probe.id, sizeof(og_probe.id));
    apr_generate_random_bytes(og->round.lease_token,
                              sizeof(og->round.lease_token));
    og_probe.next = 0;
    og_probe.known = 0;
}

void og_fleet_check(apr_time_t now, apr_pool_t *p)
{
    if (now >= og_probe.next)
        og_shared_check(now, p);
}

/* At start-up, before any child runs: what the fleet already fetched, so
 * that a server that reaches no responder staples from its first
 * handshake. Validated like a network answer (og_round_offer). Read
 * through an instance of its own, made and gone here: the connections of
 * the configured one must not be inherited by every child. A cache that
 * fails, or is slow, delays the start by OG_FLEET_LOAD_MAX at most. */
void og_fleet_load(server_rec *s, og_server_conf_t *sc, apr_pool_t *ptemp)
{
    apr_time_t now = apr_time_now();
    struct ap_socache_hints hints;
    og_cache_t tmp;
    apr_pool_t *p;
    const char *err;
    apr_status_t rv = APR_SUCCESS;
    int i, taken = 0;

    /* Only the network caches: their instances are connections, and a
     * second one is independent of the first (mod_socache_dbm's destroy,
     * for one, removes the file both would name). */
    if (!og->shared.provider
        || (strcmp(sc->cache_name, "memcache") != 0
            && strcmp(sc->cache_name, "redis") != 0)
        || apr_pool_create(&p, ptemp) != APR_SUCCESS)
        return;
    memset(&tmp, 0, sizeof(tmp));
    tmp.provider = og->shared.provider;
    tmp.desc = og->shared.desc;
    err = tmp.provider->create(&tmp.instance, sc->cache_args, p, p);
    memset(&hints, 0, sizeof(hints));
    hints.avg_id_len = OG_CERT_SHA1_LEN;
    hints.avg_obj_size = 2048;
    hints.expiry_interval = apr_time_from_sec(60);
    if (!err)
        rv = tmp.provider->init(tmp.instance, "ocsp-guard", &hints, s, p);
    og->starting = 1;
    for (i = 0; !err && rv == APR_SUCCESS && i < og->items->nelts; i++) {
        og_item_t *it = APR_ARRAY_IDX(og->items, i, og_item_t *);
        og_record_t rec;
        apr_pool_t *sub;

        if (apr_time_now() - now > OG_FLEET_LOAD_MAX) {
            rv = APR_TIMEUP;
            break;
        }
        if ((rv = apr_pool_create(&sub, p)) != APR_SUCCESS)
            break;
        rv = og_cache_get(&tmp, it->baton, apr_palloc(sub, og->record_max),
                          &rec, sub);
        if (rv == APR_SUCCESS)
            taken += og_round_offer(&og->round, it, &rec, OG_FROM_SHARED,
                                    og->shared.desc, now, NULL, sub) == 1;
        if (rv == APR_NOTFOUND || rv == APR_EINVAL || rv == APR_ENOMEM)
            rv = APR_SUCCESS;       /* none, or not one to take: the
                                     * fetcher will see */
        apr_pool_destroy(sub);
    }
    og->starting = 0;
    if (!err)
        tmp.provider->destroy(tmp.instance, s);
    apr_pool_destroy(p);
    if (err || rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, OGLOGNO(00323)
                     "the shared cache %s could not be read at start-up%s%s;"
                     " %d response(s) taken from it, the fetcher goes on",
                     og->shared.desc, err ? ": " : "", err ? err : "", taken);
    else
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, OGLOGNO(00322)
                     "%d response(s) taken from the shared cache %s at"
                     " start-up", taken, og->shared.desc);
}
