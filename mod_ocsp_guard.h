/* SPDX-License-Identifier: Apache-2.0 */
/* mod_ocsp_guard: OCSP stapling for Apache httpd that keeps sites up when a
 * CA's responder is not. Shared declarations of the httpd glue: one file
 * per concern (mod_ocsp_guard_*.c) beside mod_ocsp_guard.c, the way mod_md
 * splits its glue; every decision about a certificate is in src/. */
#ifndef MOD_OCSP_GUARD_H
#define MOD_OCSP_GUARD_H

#include <sys/types.h>

#include <apr_global_mutex.h>
#include <apr_hash.h>
#include <apr_shm.h>
#include <apr_thread_rwlock.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_ssl.h>
#include <ap_mmn.h>
#include <ap_socache.h>

#include "src/og_cert.h"
#include "src/og_certcache.h"
#include "src/og_chain.h"
#include "src/og_event.h"
#include "src/og_report.h"
#include "src/og_round.h"
#include "src/og_track.h"

/* ap_ssl_ocsp_* hooks arrived with MMN 20120211.105 (httpd 2.4.48). */
#if !AP_MODULE_MAGIC_AT_LEAST(20120211, 105)
#error "mod_ocsp_guard needs httpd 2.4.48 or later (the ssl_ocsp_prime and ssl_ocsp_get_resp hooks); this httpd is older"
#endif

#define OG_MODULE_VERSION "0.1.0"

/* Our messages carry "OGnnnnn:" the way httpd's carry "AHnnnnn:", so that an
 * operator can grep and alert on them. Blocks: 00001-00099 configuration,
 * 00100-00199 start-up and registry, 00200-00299 fetching, 00300-00399
 * cache and handshake. */
#define OGLOGNO(n) "OG" #n ": "

extern module AP_MODULE_DECLARE_DATA ocsp_guard_module;

/* Log lines carry the module, for "LogLevel ocsp_guard:debug"; the file
 * that declares the module gets this from AP_DECLARE_MODULE. */
#ifndef OG_DECLARES_MODULE
APLOG_USE_MODULE(ocsp_guard);
#endif

/* ------------------------------------------------------------------ */
/* configuration (mod_ocsp_guard_config.c)                            */

/* Per-server configuration. Global-only settings live in the main server's
 * record; vhosts carry `enabled`, the mirrors and the proxy. */
typedef struct {
    int enabled;                        /* OCSPGuard; -1 unset (On) */
    apr_array_header_t *mirrors;        /* const char *, OCSPGuardMirror */
    int mirrors_first;                  /* try mirrors before the AIA URLs */
    const char *proxy;                  /* OCSPGuardProxy URL */
    og_proxy_mode_e proxy_mode;
    /* main server only */
    const char *cache_name;             /* socache provider name */
    const char *cache_args;
    void *cache_instance;               /* created when the directive is read */
    apr_interval_time_t timeout;        /* whole fetch */
    int timeout_set;                    /* OCSPGuardTimeout given */
    int parallel;                       /* OCSPGuardParallel */
    int per_responder;
    apr_interval_time_t connect_timeout;
    int refresh_percent;
    apr_interval_time_t retry_min;
    apr_interval_time_t retry_max;
    apr_size_t max_response_size;
    const char *state_dir;              /* NULL: default, "none": off */
    const char *event_log;              /* path or "|program", NULL: none */
    int expiring_percent;               /* staple_expiring below this */
    const char *notify_cmd;             /* OCSPGuardNotifyCmd */
} og_server_conf_t;

#define OG_DEFAULT_TIMEOUT          apr_time_from_sec(10)
#define OG_DEFAULT_CONNECT_TIMEOUT  apr_time_from_sec(5)
#define OG_DEFAULT_REFRESH_PERCENT  50
#define OG_DEFAULT_RETRY_MIN        apr_time_from_sec(60)
#define OG_DEFAULT_RETRY_MAX        apr_time_from_sec(3600)
#define OG_DEFAULT_MAX_RESPONSE     16384
/* Enough for 10,000 certificates in 30 s at a 50 ms round trip, without
 * more than 24 connections to any one responder. */
#define OG_DEFAULT_PARALLEL         48
#define OG_DEFAULT_PER_RESPONDER    24
#define OG_DEFAULT_EXPIRING_PERCENT 25
#define OG_MUST_STAPLE_EXPIRING_PERCENT 50
/* the same alert for the same certificate at most once per this long */
#define OG_NOTIFY_INTERVAL          apr_time_from_sec(300)
#define OG_NOTIFY_MAX_PENDING       16
#define OG_NOTIFY_TIMEOUT           apr_time_from_sec(30)
#define OG_CLOCK_SKEW               apr_time_from_sec(300)
#define OG_MAX_ID_LEN               64
#define OG_MAX_RESPONDERS           32  /* shown in the status */

extern const command_rec og_cmds[];
void *og_create_server_conf(apr_pool_t *p, server_rec *s);
void *og_merge_server_conf(apr_pool_t *p, void *basev, void *addv);
og_server_conf_t *og_conf(const server_rec *s);

/* OCSPGuard On (or unset) for this vhost. Inline: every handshake asks. */
static inline int og_enabled(const server_rec *s)
{
    const og_server_conf_t *sc = ap_get_module_config(s->module_config,
                                                      &ocsp_guard_module);
    return sc->enabled != 0;
}

/* ------------------------------------------------------------------ */
/* mod_ssl's directives as defaults (mod_ocsp_guard_modssl.c)         */

typedef struct {
    const char *force_url;              /* SSLStaplingForceURL */
    const char *proxy_url;              /* SSLOCSPProxyURL */
    apr_interval_time_t timeout;        /* SSLStaplingResponderTimeout */
} og_modssl_t;

void og_modssl_for(const server_rec *s, og_modssl_t *out);
void og_chain_conf_for(const server_rec *s, og_chain_conf_t *cc,
                       const char **origin);

/* ------------------------------------------------------------------ */
/* state                                                              */

/* One socache instance and what it takes to use it. */
typedef struct {
    const ap_socache_provider_t *provider;  /* NULL: none */
    ap_socache_instance_t *instance;
    apr_global_mutex_t *mutex;              /* NOTMPSAFE providers */
    const char *desc;                       /* "shmcb:/path(bytes)" */
    apr_size_t capacity;                    /* bytes, 0: not ours to know */
} og_cache_t;

/* Per certificate in shared memory. The fetcher's view is written by
 * og_slot_publish() alone, read by the status handlers, which tolerate a
 * field being a moment old. `generation` is bumped by og_local_store()
 * after a new record is in the local cache and read without a lock by
 * every handshake; the counters below it are the children's. */
typedef struct {
    apr_uint32_t cert_status;
    apr_uint32_t source;
    apr_uint32_t last_error;
    apr_uint32_t failures;
    apr_uint32_t fetch_ok;
    apr_uint32_t fetch_failed[OG_ERR_COUNT];
    apr_uint32_t cached_bytes;              /* record in the local cache */
    apr_uint32_t evictions;
    apr_uint32_t store_failures;
    apr_uint32_t cache_rejected;
    apr_uint32_t cache_taken;
    apr_uint32_t leases_won;
    apr_uint32_t leases_lost;
    apr_time_t this_update;
    apr_time_t next_update;
    apr_time_t last_success;
    apr_time_t last_failure;
    apr_time_t next_attempt;
    char responder[OG_TRACK_TEXT];
    char last_error_detail[OG_TRACK_TEXT];
    volatile apr_uint32_t generation;
    volatile apr_uint32_t missing;          /* a child found no record */
    volatile apr_uint32_t staples_served;   /* handshakes given a staple */
    volatile apr_uint32_t unstapled;        /* handshakes given none */
} og_slot_t;

/* At the head of the shared memory: what concerns no one certificate. */
typedef struct {
    volatile apr_uint32_t missing_any;      /* bumped with any `missing` */
    og_shared_view_t shared;                /* by og_shared_publish() */
    int nresponders;                        /* by og_ways_publish() */
    og_responder_view_t responders[OG_MAX_RESPONDERS];
} og_shm_head_t;

/* A certificate mod_ssl primed, with the fetcher's view of it. */
typedef struct {
    int index;
    char id[OG_MAX_ID_LEN];         /* mod_ssl's id (SHA-1 of the DER) */
    apr_size_t id_len;
    og_cert_t *cert;                /* NULL when the PEM did not parse */
    const char *parse_error;
    apr_array_header_t *vhosts;     /* const char *, "name:port" */
    int enabled_vhosts;             /* vhosts with OCSPGuard On */
    int claimed;                    /* we returned OK from the prime hook */
    apr_array_header_t *chain;      /* og_way_t, in the order tried */
    const char *origin;             /* mirror/proxy from mod_ssl's config */
    /* touched only by post_config and then the fetcher */
    og_track_t track;
    og_item_t item;                 /* the round's view of this entry */
    apr_uint32_t cached_bytes;      /* the record in the local cache */
} og_entry_t;

/* A child's own copy of a certificate's response, so that handshakes read
 * memory of their own process and take no global lock. */
typedef struct og_local_t og_local_t;

/* Everything built for one configuration generation. */
typedef struct {
    apr_pool_t *pool;               /* pconf */
    server_rec *s;
    apr_hash_t *by_id;
    og_certcache_t *certs;          /* parsed certificates: per process */
    apr_array_header_t *entries;    /* og_entry_t *, priming order */
    apr_array_header_t *items;      /* og_item_t * of the claimed ones */
    int owned;                      /* entries claimed */
    og_cache_t local;               /* what children read; only we write */
    og_cache_t shared;              /* between servers: untrusted input */
    apr_shm_t *shm;
    og_shm_head_t *head;
    og_slot_t *slots;
    og_local_t *locals;             /* per child, made in child_init */
    og_round_t round;
    og_round_io_t io;
    apr_pool_t *fetcher_pool;       /* the fetcher child's, for its life */
    apr_size_t record_max;
    const char *state_dir;          /* persisted responses, NULL: none */
    apr_file_t *event_log;          /* OCSPGuardEventLog, NULL: none */
    const char *notify_cmd;         /* OCSPGuardNotifyCmd, NULL: none */
    pid_t notify_pids[OG_NOTIFY_MAX_PENDING]; /* running, to be reaped */
    apr_time_t notify_started[OG_NOTIFY_MAX_PENDING];
    og_shared_view_t shared_stats;  /* the fetcher's own count */
    int starting;                   /* the parent takes responses in */
    apr_pool_t *ptemp;              /* this configuration pass's, until
                                     * post_config returns */
    apr_hash_t *modssl;             /* og_modssl_t by <VirtualHost> place,
                                     * in ptemp */
    og_modssl_t *modssl_main;
} og_state_t;

extern og_state_t *og;

/* ------------------------------------------------------------------ */
/* caches (mod_ocsp_guard_cache.c)                                    */

int og_setup_caches(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                    og_server_conf_t *sc);
void og_caches_child_init(apr_pool_t *pchild, server_rec *s);
/* One socache operation, under the cache's mutex when it needs one. */
apr_status_t og_cache_read(og_cache_t *c, const unsigned char *id,
                           unsigned int id_len, unsigned char *buf,
                           unsigned int *len, apr_pool_t *p);
apr_status_t og_cache_write(og_cache_t *c, const unsigned char *id,
                            unsigned int id_len, apr_time_t expiry,
                            const unsigned char *buf, apr_size_t len,
                            apr_pool_t *p);
apr_status_t og_cache_del(og_cache_t *c, const unsigned char *id,
                          unsigned int id_len, apr_pool_t *p);
/* A record from `cache` into buf (og->record_max bytes), decoded and
 * checked to be this certificate's. */
apr_status_t og_cache_get(og_cache_t *cache, const og_entry_t *e,
                          unsigned char *buf, og_record_t *rec,
                          apr_pool_t *p);
apr_status_t og_cache_put(og_cache_t *cache, const og_entry_t *e,
                          const unsigned char *buf, apr_size_t len,
                          apr_time_t expiry, apr_pool_t *p);

/* ------------------------------------------------------------------ */
/* the state dir (mod_ocsp_guard_statedir.c)                          */

void og_setup_state_dir(server_rec *s, og_server_conf_t *sc,
                        apr_pool_t *pconf);
void og_load_persisted(server_rec *s, apr_pool_t *ptemp);
/* Saved responses validated ahead, by a helper process forked at
 * pre_config from what the last pass knew (og_ahead_remember at each
 * post_config), its results taken (og_ahead_wait) before
 * og_load_persisted needs them. */
void og_ahead_remember(og_server_conf_t *sc, apr_pool_t *p);
void og_ahead_start(og_certcache_t *cc, apr_pool_t *pconf);
int og_ahead_wait(void);
/* This certificate's record from the state dir: APR_ENOENT when there is
 * none, APR_EINVAL when the file is not a record for this certificate. */
apr_status_t og_state_read(const og_entry_t *e, og_record_t *rec,
                           unsigned char **data, apr_size_t *len,
                           apr_pool_t *p);
void og_state_save(const og_entry_t *e, const unsigned char *record,
                   apr_size_t len, apr_pool_t *p);
/* og_round_io_t callbacks */
apr_status_t og_keep(void *ctx, og_item_t *it, const og_record_t *rec,
                     const unsigned char *record, apr_size_t len,
                     og_origin_e origin, apr_pool_t *p);
/* The fetcher's regular look at the caches: records children found gone
 * from the local cache put back; the shared cache probed, and refilled
 * when it lost what it held. */
void og_caches_check(apr_time_t now, apr_pool_t *p);

/* ------------------------------------------------------------------ */
/* the fleet: the shared cache (mod_ocsp_guard_fleet.c)               */

/* The round's lookup and lease callbacks, when there is a shared cache. */
void og_fleet_setup(void);
/* At start-up, in the parent: what the fleet already fetched. */
void og_fleet_load(server_rec *s, og_server_conf_t *sc, apr_pool_t *ptemp);
void og_fleet_fetcher_init(apr_pool_t *p);
/* Probe the shared cache when it is time, refill it when it lost all. */
void og_fleet_check(apr_time_t now, apr_pool_t *p);
void og_shared_down(const char *why, apr_status_t rv, apr_pool_t *p);
/* og_round_io_t callbacks */
apr_status_t og_shared_lookup(void *ctx, og_item_t *it, og_record_t *rec,
                              apr_pool_t *p);
apr_status_t og_fleet_lease(void *ctx, og_item_t *it, og_lease_op_e op,
                            og_lease_t *lease, apr_pool_t *p);

/* ------------------------------------------------------------------ */
/* the handshake path (mod_ocsp_guard_handshake.c)                    */

int og_get_resp(server_rec *s, conn_rec *c, const char *id,
                apr_size_t id_len, ap_ssl_ocsp_copy_resp *cb, void *userdata);
void og_handshake_child_init(apr_pool_t *pchild, server_rec *s);

/* ------------------------------------------------------------------ */
/* events and alerts (mod_ocsp_guard_events.c)                        */

void og_open_event_log(server_rec *s, og_server_conf_t *sc, apr_pool_t *pconf);
/* Write `ev` (e: the certificate it is about, or NULL) to the event log
 * and, when `notify`, run OCSPGuardNotifyCmd with it. */
void og_emit(og_entry_t *e, og_event_t *ev, int notify, apr_pool_t *p);
void og_notify_reap(void);
const char *og_vhost_list(apr_pool_t *p, const og_entry_t *e);
/* og_round_io_t callbacks */
void og_emit_item(void *ctx, og_item_t *it, og_event_t *ev, int notify,
                  apr_pool_t *p);
void og_log_line(void *ctx, int level, const char *line);

/* ------------------------------------------------------------------ */
/* the fetcher (mod_ocsp_guard_watchdog.c)                            */

void og_round_setup(og_server_conf_t *sc);
int og_start_fetcher(server_rec *s, apr_pool_t *pconf);
void og_fetcher_child_init(apr_pool_t *pchild);

/* ------------------------------------------------------------------ */
/* status (mod_ocsp_guard_status.c)                                   */

void og_slot_publish(void *ctx, og_item_t *it);
void og_ways_publish(void *ctx, const og_ways_t *ways);
void og_shared_publish(void);
int og_status_handler(request_rec *r);
int og_server_status(request_rec *r, int flags);
const char *og_owner(const og_entry_t *e);

#endif
