/* SPDX-License-Identifier: Apache-2.0 */
/* mod_ocsp_guard: where responses are kept. Three places, one rule: a
 * child staples only what this server's fetcher validated.
 *  - the local cache (shmcb), written by this server alone: the only one
 *    children read;
 *  - the state dir, so that a full restart staples from the first
 *    handshake;
 *  - the shared cache (OCSPGuardCache memcache:, redis: ...), an exchange
 *    between the servers of a fleet and nothing more: only the fetcher
 *    reads it, validates whatever it takes from it like a network answer,
 *    and its failure takes nothing from this server's children. */

#include <string.h>

#include <apr_atomic.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <ap_provider.h>
#include <ap_socache.h>
#include <util_mutex.h>


#include "mod_ocsp_guard.h"
#include "src/og_store.h"

#define OG_LOCAL_MUTEX    "ocsp-guard-cache"
#define OG_SHARED_MUTEX   "ocsp-guard-shared"
#define OG_CACHE_FILE     "ocsp_guard_cache"
#define OG_CACHE_MIN_SIZE ((apr_size_t)512 * 1024)

/* ------------------------------------------------------------------ */
/* socache instances                                                  */

static apr_status_t og_cache_lock(og_cache_t *c)
{
    return c->mutex ? apr_global_mutex_lock(c->mutex) : APR_SUCCESS;
}

static void og_cache_unlock(og_cache_t *c)
{
    if (c->mutex)
        apr_global_mutex_unlock(c->mutex);
}

apr_status_t og_cache_read(og_cache_t *c, const unsigned char *id,
                                  unsigned int id_len, unsigned char *buf,
                                  unsigned int *len, apr_pool_t *p)
{
    apr_status_t rv;

    if ((rv = og_cache_lock(c)) != APR_SUCCESS)
        return rv;
    rv = c->provider->retrieve(c->instance, og->s, id, id_len, buf, len, p);
    og_cache_unlock(c);
    return rv;
}

apr_status_t og_cache_write(og_cache_t *c, const unsigned char *id,
                                   unsigned int id_len, apr_time_t expiry,
                                   const unsigned char *buf, apr_size_t len,
                                   apr_pool_t *p)
{
    apr_status_t rv;

    if ((rv = og_cache_lock(c)) != APR_SUCCESS)
        return rv;
    rv = c->provider->store(c->instance, og->s, id, id_len, expiry,
                            (unsigned char *)buf, (unsigned int)len, p);
    og_cache_unlock(c);
    return rv;
}

apr_status_t og_cache_del(og_cache_t *c, const unsigned char *id,
                          unsigned int id_len, apr_pool_t *p)
{
    apr_status_t rv;

    if ((rv = og_cache_lock(c)) != APR_SUCCESS)
        return rv;
    rv = c->provider->remove(c->instance, og->s, id, id_len, p);
    og_cache_unlock(c);
    return rv;
}

apr_status_t og_cache_get(og_cache_t *cache, const og_entry_t *e,
                          unsigned char *buf, og_record_t *rec, apr_pool_t *p)
{
    unsigned int len = (unsigned int)og->record_max;
    apr_status_t rv;

    rv = og_cache_read(cache, (const unsigned char *)e->id,
                       (unsigned int)e->id_len, buf, &len, p);
    if (rv != APR_SUCCESS)
        return rv;
    rv = og_record_decode(rec, buf, len);
    if (rv == APR_SUCCESS && e->cert
        && memcmp(rec->cert_sha1, e->cert->sha1, OG_CERT_SHA1_LEN) != 0)
        rv = APR_EINVAL;    /* someone else's record under our key */
    return rv;
}

apr_status_t og_cache_put(og_cache_t *cache, const og_entry_t *e,
                          const unsigned char *buf, apr_size_t len,
                          apr_time_t expiry, apr_pool_t *p)
{
    return og_cache_write(cache, (const unsigned char *)e->id,
                          (unsigned int)e->id_len, expiry, buf, len, p);
}

/* Store a record where children read it and tell them it is there. */
static apr_status_t og_local_store(og_entry_t *e, const unsigned char *buf,
                                   apr_size_t len, apr_time_t expiry,
                                   apr_pool_t *p)
{
    apr_status_t rv = og_cache_put(&og->local, e, buf, len, expiry, p);

    if (rv == APR_SUCCESS) {
        e->cached_bytes = (apr_uint32_t)len;
        apr_atomic_inc32(&og->slots[e->index].generation);
    }
    return rv;
}

static apr_status_t og_cache_cleanup(void *data)
{
    og_cache_t *c = data;

    if (c->instance && c->provider)
        c->provider->destroy(c->instance, og ? og->s : NULL);
    c->instance = NULL;
    return APR_SUCCESS;
}

/* shmcb's size from its arguments: "path(bytes)", "(bytes)" or its own
 * default of 512000. 0 for providers whose size is not ours to know. */
static apr_size_t og_shmcb_size(const char *name, const char *args)
{
    const char *open_paren;

    if (strcmp(name, "shmcb") != 0)
        return 0;
    open_paren = args ? strrchr(args, '(') : NULL;
    return open_paren ? (apr_size_t)apr_atoi64(open_paren + 1) : 512000;
}

/* An undersized stapling cache is a classic cause of lost staples (the
 * SSLStaplingCache advice in every troubleshooting guide). Refuse a shmcb
 * that cannot hold a small response for every certificate; warn when it
 * cannot hold typical ones with room to spare. */
static int og_check_cache_size(server_rec *s, const og_cache_t *c)
{
    apr_size_t least = (apr_size_t)og->owned * (OG_RECORD_HDR_LEN + 1024);
    apr_size_t want = (apr_size_t)og->owned * (OG_RECORD_HDR_LEN + 2048) * 2;

    if (!c->capacity)
        return OK;
    if (c->capacity < least) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, OGLOGNO(00116)
                     "OCSPGuardCache %s: %" APR_SIZE_T_FMT " bytes cannot hold"
                     " a response for each of the %d certificates; write"
                     " OCSPGuardCache shmcb:<file>(%" APR_SIZE_T_FMT ") or"
                     " leave OCSPGuardCache out to have it sized for you",
                     c->desc, c->capacity, og->owned, want);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (c->capacity < want)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, OGLOGNO(00117)
                     "OCSPGuardCache %s: %" APR_SIZE_T_FMT " bytes is tight"
                     " for %d certificates (responses may be evicted); %"
                     APR_SIZE_T_FMT " or more is advised", c->desc,
                     c->capacity, og->owned, want);
    return OK;
}

/* The default local cache: room for every certificate's record twice
 * over (shmcb splits its memory into subcaches), never under 512 KB. */
static int og_make_default_local(apr_pool_t *pconf, apr_pool_t *ptemp,
                                 server_rec *s)
{
    apr_size_t size = (apr_size_t)og->owned * og->record_max * 2;
    const char *args, *err;
    og_cache_t *c = &og->local;

    if (size < OG_CACHE_MIN_SIZE)
        size = OG_CACHE_MIN_SIZE;
    c->provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, "shmcb",
                                     AP_SOCACHE_PROVIDER_VERSION);
    if (!c->provider) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, OGLOGNO(00106)
                     "mod_ocsp_guard keeps responses in a shmcb cache: add"
                     " 'LoadModule socache_shmcb_module"
                     " modules/mod_socache_shmcb.so'");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    args = apr_psprintf(pconf, "%s(%" APR_SIZE_T_FMT ")",
                        ap_runtime_dir_relative(pconf, OG_CACHE_FILE), size);
    err = c->provider->create(&c->instance, args, ptemp, pconf);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, OGLOGNO(00107)
                     "cannot create the default cache shmcb:%s: %s", args,
                     err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    c->desc = apr_pstrcat(pconf, "shmcb:", args, NULL);
    c->capacity = size;
    return OK;
}

static int og_cache_init(og_cache_t *c, const char *mutex_type,
                         apr_pool_t *pconf, server_rec *s)
{
    struct ap_socache_hints hints;
    apr_status_t rv;

    if (c->provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        rv = ap_global_mutex_create(&c->mutex, NULL, mutex_type, NULL, s,
                                    pconf, 0);
        if (rv != APR_SUCCESS)
            return HTTP_INTERNAL_SERVER_ERROR;
    }
    memset(&hints, 0, sizeof(hints));
    hints.avg_id_len = OG_CERT_SHA1_LEN;
    hints.avg_obj_size = 2048;
    hints.expiry_interval = apr_time_from_sec(60);
    rv = c->provider->init(c->instance, "ocsp-guard", &hints, s, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, OGLOGNO(00108)
                     "cannot initialise the response cache %s", c->desc);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_cleanup_register(pconf, c, og_cache_cleanup,
                              apr_pool_cleanup_null);
    return OK;
}

int og_setup_caches(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                    og_server_conf_t *sc)
{
    og_cache_t *configured = NULL;
    int status;

    memset(&og->local, 0, sizeof(og->local));
    memset(&og->shared, 0, sizeof(og->shared));
    if (sc->cache_instance) {
        /* A shmcb is this server's own: it is the local cache. Anything
         * else may be written by others: the shared one. */
        configured = strcmp(sc->cache_name, "shmcb") ? &og->shared
                                                     : &og->local;
        configured->provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP,
            sc->cache_name, AP_SOCACHE_PROVIDER_VERSION);
        configured->instance = sc->cache_instance;
        configured->desc = apr_pstrcat(pconf, sc->cache_name, ":",
                                       sc->cache_args ? sc->cache_args : "",
                                       NULL);
        configured->capacity = og_shmcb_size(sc->cache_name, sc->cache_args);
        if (og_check_cache_size(s, configured) != OK)
            return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!og->local.provider
        && (status = og_make_default_local(pconf, ptemp, s)) != OK)
        return status;
    if ((status = og_cache_init(&og->local, OG_LOCAL_MUTEX, pconf, s)) != OK)
        return status;
    if (og->shared.provider
        && (status = og_cache_init(&og->shared, OG_SHARED_MUTEX, pconf, s))
               != OK)
        return status;
    og->io.shared_name = og->shared.provider ? og->shared.desc : NULL;
    og->shared_stats.name = og->io.shared_name;
    return OK;
}

void og_caches_child_init(apr_pool_t *pchild, server_rec *s)
{
    og_cache_t *caches[2];
    int i;

    caches[0] = &og->local;
    caches[1] = &og->shared;
    for (i = 0; i < 2; i++) {
        apr_status_t rv;

        if (!caches[i]->mutex)
            continue;
        rv = apr_global_mutex_child_init(&caches[i]->mutex,
            apr_global_mutex_lockfile(caches[i]->mutex), pchild);
        if (rv != APR_SUCCESS)
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, OGLOGNO(00114)
                         "cannot attach the mutex of %s in this child",
                         caches[i]->desc);
    }
}

/* ------------------------------------------------------------------ */
/* keeping a validated response                                       */

apr_status_t og_keep(void *ctx, og_item_t *it, const og_record_t *rec,
                     const unsigned char *record, apr_size_t len,
                     og_origin_e origin, apr_pool_t *p)
{
    og_entry_t *e = it->baton;
    apr_status_t rv = APR_SUCCESS, shared_rv;

    (void)ctx;
    if (origin != OG_FROM_LOCAL)
        rv = og_local_store(e, record, len, rec->next_update, p);
    /* (not from the parent at start-up: files it wrote would be root's) */
    if ((origin == OG_FROM_FETCH || origin == OG_FROM_SHARED)
        && !og->starting)
        og_state_save(e, record, len, p);
    if (origin == OG_FROM_FETCH && og->shared.provider) {
        shared_rv = og_cache_put(&og->shared, e, record, len,
                                 rec->next_update, p);
        if (shared_rv != APR_SUCCESS) {
            og->shared_stats.store_failures++;
            og_shared_down("refused a response", shared_rv, p);
        }
    }
    if (og->shared.provider)
        og_shared_publish();
    return rv;
}

/* ------------------------------------------------------------------ */
/* the fetcher's regular look                                         */

/* A response children found gone from the local cache (too small a
 * cache): put it back from the state dir, or fetch again at once. */
static void og_restore(og_entry_t *e, apr_time_t now, apr_pool_t *p)
{
    unsigned char *data = NULL, *buf = apr_palloc(p, og->record_max);
    const unsigned char *record = NULL;
    og_record_t rec, kept;
    og_validation_t v;
    og_input_t in;
    og_step_t st;
    apr_size_t len = 0;
    apr_status_t rv;
    int restored = 0;

    if (!e->claimed || e->track.next_update <= now
        || (rv = og_cache_get(&og->local, e, buf, &rec, p)) == APR_SUCCESS)
        return;
    /* the file is checked like a network answer: it is the one held, and
     * it is still good */
    if (og_state_read(e, &rec, &data, &len, p) == APR_SUCCESS
        && og_validate_response(e->cert, rec.der, rec.der_len, now,
                                og->round.skew, &v, p) == OG_OK
        && v.this_update == e->track.this_update)
        record = og_round_record(&e->item, &v, rec.der, rec.der_len,
                                 e->track.source, rec.fetched_at, &kept,
                                 &len, p);
    if (record && og_local_store(e, record, len, kept.next_update, p)
                      == APR_SUCCESS)
        restored = 1;
    if (!restored)
        e->cached_bytes = 0;
    ap_log_error(APLOG_MARK, APLOG_WARNING, rv, og->s, OGLOGNO(00303)
                 "%s: its response was gone from the cache %s (evicted: too"
                 " small); %s", e->cert->subject, og->local.desc,
                 restored ? "put back from the state dir"
                          : "fetching it again now");
    og_input_init(&in, OG_IN_EVICTED);
    in.restored = restored;
    in.cache = og->local.desc;
    og_round_apply(&og->round, &e->item, &in, now, &st, p);
}

void og_caches_check(apr_time_t now, apr_pool_t *p)
{
    static apr_uint32_t seen_missing;
    apr_uint32_t missing = apr_atomic_read32(&og->head->missing_any);
    int i;

    if (missing != seen_missing) {
        seen_missing = missing;
        for (i = 0; i < og->items->nelts; i++) {
            og_entry_t *e = APR_ARRAY_IDX(og->items, i, og_item_t *)->baton;
            if (apr_atomic_xchg32(&og->slots[e->index].missing, 0))
                og_restore(e, now, p);
        }
    }
    if (og->shared.provider)
        og_fleet_check(now, p);
}
