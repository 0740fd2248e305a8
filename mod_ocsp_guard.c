/* SPDX-License-Identifier: Apache-2.0 */
/* mod_ocsp_guard: the module record, the ssl_ocsp_prime hooks that build
 * the certificate registry, and start-up. The other concerns are in
 * mod_ocsp_guard_*.c beside this file (config, cache, handshake, events,
 * watchdog, status); every decision about a certificate is in src/. */

#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_main.h>
#include <http_ssl.h>
#include <http_protocol.h>
#include <util_mutex.h>
#include <mod_status.h>

#define OG_DECLARES_MODULE
#include "mod_ocsp_guard.h"

og_state_t *og;

/* ------------------------------------------------------------------ */
/* registry: built at prime time, in the parent                       */

static og_entry_t *og_entry_for(const char *id, apr_size_t id_len,
                                const char *pem)
{
    og_entry_t *e;
    const char *err = NULL;

    if (!og || id_len == 0 || id_len > OG_MAX_ID_LEN)
        return NULL;
    e = apr_hash_get(og->by_id, id, (apr_ssize_t)id_len);
    if (e)
        return e;
    e = apr_pcalloc(og->pool, sizeof(*e));
    memcpy(e->id, id, id_len);
    e->id_len = id_len;
    e->index = og->entries->nelts;
    e->vhosts = apr_array_make(og->pool, 2, sizeof(const char *));
    /* parsed once for the life of the process, not in every pass */
    e->cert = og_certcache_get(og->certs, id, id_len, pem, &err);
    if (!e->cert) {
        e->parse_error = err;
    }
    else {
        og_track_init(&e->track, e->cert->not_after, e->cert->must_staple);
        /* alike on every server of a fleet (og_sched_shared_jitter) */
        e->track.seed = ((apr_uint32_t)e->cert->sha1[0] << 24)
                        | ((apr_uint32_t)e->cert->sha1[1] << 16)
                        | ((apr_uint32_t)e->cert->sha1[2] << 8)
                        | (apr_uint32_t)e->cert->sha1[3];
    }
    apr_hash_set(og->by_id, e->id, (apr_ssize_t)e->id_len, e);
    APR_ARRAY_PUSH(og->entries, og_entry_t *) = e;
    return e;
}

/* Runs first for every certificate: records it and who uses it, whatever
 * provider ends up stapling it, so the start-up report can say who owns it. */
static int og_prime_observe(server_rec *s, apr_pool_t *p, const char *id,
                            apr_size_t id_len, const char *pem)
{
    og_entry_t *e = og_entry_for(id, id_len, pem);

    (void)p;
    if (e) {
        APR_ARRAY_PUSH(e->vhosts, const char *) = apr_psprintf(og->pool,
            "%s:%u", s->server_hostname ? s->server_hostname : "*",
            s->addrs ? (unsigned)s->addrs->host_port : 0u);
        if (og_enabled(s))
            e->enabled_vhosts++;
    }
    return DECLINED;
}

/* Runs last: claims certificates no other provider (mod_md's MDStapling)
 * took, when this vhost has us on and there is a way to ask. Each vhost
 * using the certificate adds its own mirrors and proxy to its chain. */
static int og_prime_claim(server_rec *s, apr_pool_t *p, const char *id,
                          apr_size_t id_len, const char *pem)
{
    og_chain_conf_t cc;
    og_entry_t *e;
    const char *origin;

    (void)p;
    (void)pem;
    if (!og || !og_enabled(s))
        return DECLINED;
    e = apr_hash_get(og->by_id, id, (apr_ssize_t)id_len);
    if (!e || !e->cert)
        return DECLINED;
    og_chain_conf_for(s, &cc, &origin);
    if (e->cert->ocsp_urls->nelts == 0
        && (!cc.mirrors || cc.mirrors->nelts == 0))
        return DECLINED;
    if (!e->chain)
        e->chain = og_chain_make(og->pool);
    og_chain_add(e->chain, e->cert->ocsp_urls, &cc);
    if (*origin && !e->origin)
        e->origin = origin;
    if (!e->claimed) {
        e->claimed = 1;
        og->owned++;
        e->item.cert = e->cert;
        e->item.chain = e->chain;
        e->item.track = &e->track;
        e->item.baton = e;
        APR_ARRAY_PUSH(og->items, og_item_t *) = &e->item;
    }
    return OK;
}

/* One line per certificate saying who staples it and why. */
static void og_report_registry(server_rec *s, apr_pool_t *p)
{
    int i;

    for (i = 0; i < og->entries->nelts; i++) {
        og_entry_t *e = APR_ARRAY_IDX(og->entries, i, og_entry_t *);
        const char *vh;
        og_event_t ev;

        /* the usual case, thousands of times on a shared host: said only
         * when info is logged, and then the lists are made */
        if (e->cert && e->claimed && !APLOGinfo(s))
            continue;
        vh = og_vhost_list(p, e);
        if (!e->cert) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, OGLOGNO(00101)
                         "certificate of %s not handled: %s", vh,
                         e->parse_error);
        }
        else if (e->claimed) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, OGLOGNO(00102)
                         "%s (serial %s, id %s%s) for %s: stapled by"
                         " mod_ocsp_guard, trying %s%s%s%s",
                         e->cert->subject, e->cert->serial_hex,
                         e->cert->sha1_hex,
                         e->cert->must_staple ? ", must-staple" : "", vh,
                         og_chain_desc(p, e->chain),
                         e->origin ? " (" : "", e->origin ? e->origin : "",
                         e->origin ? ")" : "");
        }
        else if (e->cert->ocsp_urls->nelts == 0) {
            int must = e->cert->must_staple;
            ap_log_error(APLOG_MARK, must ? APLOG_ERR : APLOG_INFO, 0, s,
                         OGLOGNO(00103)
                         "%s (serial %s) for %s: no OCSP responder URL in"
                         " the certificate (its CA may have stopped OCSP);"
                         " not stapled%s", e->cert->subject,
                         e->cert->serial_hex, vh, must ? "; it is"
                         " must-staple: browsers refuse this site (give it"
                         " an OCSPGuardMirror or reissue it)" : "");
            og_event_init(&ev, "cert_skipped", must ? "critical" : "info",
                          apr_time_now());
            ev.staple_state = "none";
            ev.must_staple = e->cert->must_staple;
            ev.detail = "no OCSP responder URL in the certificate and no"
                        " OCSPGuardMirror: not stapled";
            og_emit(e, &ev, 0, p);
        }
        else if (e->enabled_vhosts == 0) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, OGLOGNO(00104)
                         "%s for %s: OCSPGuard Off, stapling left to"
                         " mod_ssl (SSLUseStapling)", e->cert->subject, vh);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, OGLOGNO(00105)
                         "%s for %s: stapled by another provider (mod_md's"
                         " MDStapling?), not by mod_ocsp_guard",
                         e->cert->subject, vh);
        }
    }
}

/* What this pass cost in parsing: the first parses everything once, the
 * second and every graceful restart only what changed. */
static void og_certcache_report(server_rec *s)
{
    og_certcache_stats_t st;

    og_certcache_stats(og->certs, &st);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, OGLOGNO(00150)
                 "certificates: %u parsed, %u parsed before, %u issuer(s)"
                 " parsed; %u no longer configured freed; %u held, %u"
                 " issuer(s)", st.parsed, st.reused, st.issuers_parsed,
                 st.freed, st.held, st.issuers);
}

/* ------------------------------------------------------------------ */
/* start-up                                                           */

/* mod_ssl's certificate ids are SHA-1 digests, uniform already: their
 * first bytes are the hash, which spares every handshake a byte loop. */
static unsigned int og_id_hash(const char *key, apr_ssize_t *klen)
{
    unsigned int h;

    if (*klen < (apr_ssize_t)sizeof(h))
        return apr_hashfunc_default(key, klen);
    memcpy(&h, key, sizeof(h));
    return h;
}

/* The parsed certificates outlive this configuration (and the module's
 * code, which httpd unloads between passes): kept in the process pool,
 * freed by us when the process exits, never by a cleanup of the pool. */
#define OG_CERTCACHE_KEY "mod_ocsp_guard:certcache"

static apr_status_t og_certcache_exit(void *data)
{
    og_certcache_t *cc = data;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING) {
        og_certcache_destroy(cc);
        apr_pool_userdata_set(NULL, OG_CERTCACHE_KEY, NULL, ap_pglobal);
    }
    return APR_SUCCESS;
}

static og_certcache_t *og_certcache_for(apr_pool_t *pconf)
{
    void *data = NULL;
    og_certcache_t *cc;

    apr_pool_userdata_get(&data, OG_CERTCACHE_KEY, ap_pglobal);
    cc = data;
    if (!cc) {
        cc = og_certcache_make(ap_pglobal);
        if (!cc)
            return NULL;
        apr_pool_userdata_set(cc, OG_CERTCACHE_KEY, NULL, ap_pglobal);
    }
    og_certcache_generation(cc);
    apr_pool_cleanup_register(pconf, cc, og_certcache_exit,
                              apr_pool_cleanup_null);
    return cc;
}

/* ptemp is gone after post_config: nothing may point into it then */
static apr_status_t og_forget_ptemp(void *data)
{
    og_state_t *state = data;

    state->ptemp = NULL;
    state->modssl = NULL;
    state->modssl_main = NULL;
    return APR_SUCCESS;
}

static int og_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp)
{
    apr_status_t rv;

    (void)plog;
    og = apr_pcalloc(pconf, sizeof(*og));
    og->pool = pconf;
    og->ptemp = ptemp;
    apr_pool_cleanup_register(ptemp, og, og_forget_ptemp,
                              apr_pool_cleanup_null);
    og->by_id = apr_hash_make_custom(pconf, og_id_hash);
    og->certs = og_certcache_for(pconf);
    if (!og->certs)
        return HTTP_INTERNAL_SERVER_ERROR;
    og_ahead_start(og->certs, pconf);
    og->entries = apr_array_make(pconf, 8, sizeof(og_entry_t *));
    og->items = apr_array_make(pconf, 8, sizeof(og_item_t *));
    rv = ap_mutex_register(pconf, "ocsp-guard-cache", NULL, APR_LOCK_DEFAULT,
                           0);
    if (rv == APR_SUCCESS)
        rv = ap_mutex_register(pconf, "ocsp-guard-shared", NULL,
                               APR_LOCK_DEFAULT, 0);
    return rv;
}

/* Shared memory: a head, then one slot per certificate. */
static int og_setup_shm(server_rec *s, apr_pool_t *pconf)
{
    apr_size_t size = sizeof(og_shm_head_t)
                      + sizeof(og_slot_t) * (apr_size_t)og->entries->nelts;
    apr_status_t rv = apr_shm_create(&og->shm, size, NULL, pconf);
    int i;

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, OGLOGNO(00110)
                     "cannot create shared memory for %d certificate(s)",
                     og->entries->nelts);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    og->head = apr_shm_baseaddr_get(og->shm);
    memset(og->head, 0, size);
    og->slots = (og_slot_t *)(og->head + 1);
    for (i = 0; i < og->entries->nelts; i++) {
        og_entry_t *e = APR_ARRAY_IDX(og->entries, i, og_entry_t *);

        e->track.last_error_detail = og->slots[e->index].last_error_detail;
        e->track.last_error_detail_size =
            sizeof(og->slots[e->index].last_error_detail);
    }
    return OK;
}

static int og_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    og_server_conf_t *sc = og_conf(s);
    og_modssl_t modssl;
    int status, ahead;

    (void)plog;
    /* the saved responses checked ahead are in; then what this pass no
     * longer uses may go */
    ahead = og_ahead_wait();
    og_ahead_remember(sc, ptemp);
    og_certcache_sweep(og->certs);
    og_certcache_report(s);
    /* httpd reads its configuration twice at start-up; the first pass
     * only checks it. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    if (ahead >= 0)
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, OGLOGNO(00151)
                     "%d saved response(s) validated ahead, while the"
                     " configuration was read", ahead);
    og->s = s;
    og->notify_cmd = sc->notify_cmd;
    og_open_event_log(s, sc, pconf);
    og_report_registry(s, ptemp);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, OGLOGNO(00109)
                 "mod_ocsp_guard/%s: %d of %d certificate(s) stapled by this"
                 " module", OG_MODULE_VERSION, og->owned, og->entries->nelts);
    if (og->owned == 0)
        return OK;

    og->record_max = OG_RECORD_HDR_LEN + sc->max_response_size;
    og_round_setup(sc);
    og_modssl_for(s, &modssl);
    if (!sc->timeout_set && modssl.timeout) {
        apr_interval_time_t t = modssl.timeout;
        og->round.fetch.timeout = t;
        og->round.fetch.connect_timeout = t < OG_DEFAULT_CONNECT_TIMEOUT
                                          ? t : OG_DEFAULT_CONNECT_TIMEOUT;
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, OGLOGNO(00126)
                     "fetch timeout %" APR_TIME_T_FMT " s, from"
                     " SSLStaplingResponderTimeout (OCSPGuardTimeout is not"
                     " set)", apr_time_sec(t));
    }
    if ((status = og_setup_caches(pconf, ptemp, s, sc)) != OK
        || (status = og_setup_shm(s, pconf)) != OK)
        return status;
    og_fleet_setup();
    og_setup_state_dir(s, sc, pconf);
    og_load_persisted(s, ptemp);
    og_fleet_load(s, sc, ptemp);

    if (og_fetch_global_init() != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, OGLOGNO(00111)
                     "cannot initialise libcurl");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return og_start_fetcher(s, pconf);
}

static void og_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (!og || og->owned == 0 || !og->slots)
        return;
    og_caches_child_init(pchild, s);
    og_handshake_child_init(pchild, s);
    /* last: its clean-up runs first, while all the above still stands */
    og_fetcher_child_init(pchild);
}

static void og_register_hooks(apr_pool_t *p)
{
    static const char *const after_ssl[] = { "mod_ssl.c", NULL };

    (void)p;
    ap_hook_pre_config(og_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* after mod_ssl, which primes certificates in its post_config, and
     * before mod_watchdog (APR_HOOK_LAST), which starts the threads */
    ap_hook_post_config(og_post_config, after_ssl, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(og_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_ssl_ocsp_prime_hook(og_prime_observe, NULL, NULL,
                                APR_HOOK_REALLY_FIRST);
    ap_hook_ssl_ocsp_prime_hook(og_prime_claim, NULL, NULL, APR_HOOK_LAST);
    ap_hook_ssl_ocsp_get_resp_hook(og_get_resp, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(og_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, og_server_status, NULL, NULL,
                      APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(ocsp_guard) = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    og_create_server_conf,
    og_merge_server_conf,
    og_cmds,
    og_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
