/* SPDX-License-Identifier: Apache-2.0 */
/* mod_ocsp_guard: httpd glue. Directives, the ssl_ocsp_prime and
 * ssl_ocsp_get_resp hooks, the shared cache and the watchdog that fetches in
 * the background. Certificate parsing, fetching, validation, scheduling and
 * record encoding live in src/ and know nothing of httpd. */

#include <string.h>

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <apr_global_mutex.h>
#include <apr_thread_rwlock.h>
#include <apr_optional.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_main.h>
#include <http_core.h>
#include <http_ssl.h>
#include <http_protocol.h>
#include <ap_provider.h>
#include <ap_socache.h>
#include <util_mutex.h>
#include <mpm_common.h>
#include <mod_watchdog.h>
#include <mod_status.h>
#include <http_log.h>
#include <unixd.h>

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mod_ocsp_guard.h"
#include "src/og_cert.h"
#include "src/og_error.h"
#include "src/og_event.h"
#include "src/og_fetch.h"
#include "src/og_record.h"
#include "src/og_sched.h"
#include "src/og_store.h"
#include "src/og_validate.h"

module AP_MODULE_DECLARE_DATA ocsp_guard_module;

#define OG_MUTEX_TYPE     "ocsp-guard-cache"
#define OG_WATCHDOG_NAME  "_ocsp_guard_"
#define OG_WATCHDOG_TICK  apr_time_from_sec(1)
#define OG_CACHE_FILE     "ocsp_guard_cache"
#define OG_CLOCK_SKEW     apr_time_from_sec(300)
#define OG_MAX_ID_LEN     64
#define OG_CACHE_MIN_SIZE ((apr_size_t)512 * 1024)
/* how often the fetcher checks that the cache still holds each response */
#define OG_PRESENCE_CHECK apr_time_from_sec(15)
/* jobs per fetch batch, in units of the transfers run at once */
#define OG_BATCH_FACTOR   4

/* Per certificate in shared memory. `generation` is bumped by the fetcher
 * after it stores a new response and read without a lock by every
 * handshake. The rest is the fetcher's view for the status handler: one
 * writer (the fetcher), readers that tolerate a field being a moment old. */
typedef struct {
    volatile apr_uint32_t generation;
    volatile apr_uint32_t missing;          /* a child found no record */
    volatile apr_uint32_t staples_served;   /* handshakes given a staple */
    volatile apr_uint32_t unstapled;        /* handshakes given none */
    volatile apr_uint32_t failures;         /* consecutive failed rounds */
    volatile apr_uint32_t last_error;       /* og_error_e */
    volatile apr_uint32_t source;           /* og_source_e of the staple */
    volatile apr_uint32_t cert_status;      /* og_cert_status_e */
    volatile apr_uint32_t fetch_ok;
    volatile apr_uint32_t fetch_failed[OG_ERR_COUNT];
    volatile apr_uint32_t cached_bytes;     /* record size in the cache, 0: none */
    volatile apr_uint32_t evictions;        /* found gone from the cache */
    volatile apr_uint32_t store_failures;   /* the cache refused a record */
    volatile apr_time_t this_update;
    volatile apr_time_t next_update;
    volatile apr_time_t last_success;
    volatile apr_time_t last_failure;
    volatile apr_time_t next_attempt;
    char responder[256];                    /* of the staple held */
    char last_error_detail[256];
} og_slot_t;

/* A child's own copy of a certificate's response, so that handshakes read
 * memory of their own process and take no global lock. */
typedef struct {
    apr_thread_rwlock_t *lock;
    volatile apr_uint32_t generation;
    unsigned char *der;             /* malloc'ed */
    apr_size_t der_len;
    apr_time_t next_update;
    apr_time_t retry_at;            /* after a cache miss: not before */
} og_local_t;

/* One way to ask for a response: a URL, directly or through a proxy. */
typedef struct {
    const char *url;
    const char *proxy;              /* NULL: direct */
    og_source_e source;
} og_attempt_t;

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
    apr_array_header_t *chain;      /* og_attempt_t, in the order tried */
    /* state below is touched only by the watchdog thread */
    apr_time_t next_attempt;
    int failures;
    apr_time_t this_update;         /* of the response held, 0 if none */
    apr_time_t next_update;
    og_error_e last_error;
    int expired_logged;
    int expiring_logged;
    char fail_key[256];             /* class and responder of the last failure */
    apr_time_t notified[4];         /* last OCSPGuardNotifyCmd run, by kind */
    long fail_repeats;              /* identical failures in a row */
} og_entry_t;

/* Everything built for one configuration generation. */
typedef struct {
    apr_pool_t *pool;               /* pconf */
    server_rec *s;
    apr_hash_t *by_id;
    apr_hash_t *issuers;            /* X509 * by SHA-1 of the DER */
    apr_array_header_t *entries;    /* og_entry_t *, priming order */
    int owned;                      /* entries claimed */
    const ap_socache_provider_t *cache_provider;
    ap_socache_instance_t *cache;
    apr_global_mutex_t *cache_mutex;
    apr_shm_t *shm;
    og_slot_t *slots;
    og_local_t *locals;             /* per child, made in child_init */
    og_sched_policy_t policy;
    og_fetch_opts_t fetch_opts;
    apr_size_t record_max;
    const char *cache_desc;
    apr_size_t cache_capacity;      /* shmcb bytes; 0: unknown (memcache..) */
    const char *state_dir;          /* persisted responses, NULL: none */
    apr_file_t *event_log;          /* OCSPGuardEventLog, NULL: none */
    const char *notify_cmd;         /* OCSPGuardNotifyCmd, NULL: none */
    pid_t notify_pids[OG_NOTIFY_MAX_PENDING]; /* running, to be reaped */
    int expiring_percent;
} og_state_t;

static og_state_t *og;

static APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *og_wd_get_instance;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *og_wd_register;

/* ------------------------------------------------------------------ */
/* configuration                                                      */

static void *og_create_server_conf(apr_pool_t *p, server_rec *s)
{
    og_server_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    (void)s;
    sc->enabled = -1;
    sc->timeout = OG_DEFAULT_TIMEOUT;
    sc->connect_timeout = OG_DEFAULT_CONNECT_TIMEOUT;
    sc->refresh_percent = OG_DEFAULT_REFRESH_PERCENT;
    sc->retry_min = OG_DEFAULT_RETRY_MIN;
    sc->retry_max = OG_DEFAULT_RETRY_MAX;
    sc->max_response_size = OG_DEFAULT_MAX_RESPONSE;
    sc->expiring_percent = OG_DEFAULT_EXPIRING_PERCENT;
    return sc;
}

static void *og_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    og_server_conf_t *base = basev, *add = addv;
    og_server_conf_t *sc = apr_pmemdup(p, base, sizeof(*sc));

    sc->enabled = add->enabled != -1 ? add->enabled : base->enabled;
    sc->mirrors = add->mirrors ? add->mirrors : base->mirrors;
    sc->mirrors_first = add->mirrors ? add->mirrors_first
                                     : base->mirrors_first;
    sc->proxy = add->proxy ? add->proxy : base->proxy;
    sc->proxy_mode = add->proxy ? add->proxy_mode : base->proxy_mode;
    return sc;
}

static og_server_conf_t *og_conf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &ocsp_guard_module);
}

static int og_enabled(const server_rec *s)
{
    return og_conf(s)->enabled != 0;    /* unset means On */
}

static const char *og_set_enabled(cmd_parms *cmd, void *dc, int flag)
{
    (void)dc;
    og_conf(cmd->server)->enabled = flag ? 1 : 0;
    return NULL;
}

static const char *og_global_only(cmd_parms *cmd)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err)
        return apr_pstrcat(cmd->pool, err, " (", cmd->cmd->name,
                           " applies to the whole server: move it out of"
                           " the <VirtualHost>)", NULL);
    return NULL;
}

static const char *og_set_cache(cmd_parms *cmd, void *dc, const char *arg)
{
    og_server_conf_t *sc = og_conf(cmd->server);
    const ap_socache_provider_t *provider;
    ap_socache_instance_t *inst = NULL;
    const char *err, *sep, *name, *args = NULL;

    (void)dc;
    if ((err = og_global_only(cmd)) != NULL)
        return err;
    sep = ap_strchr_c(arg, ':');
    name = sep ? apr_pstrmemdup(cmd->pool, arg, (apr_size_t)(sep - arg)) : arg;
    if (sep)
        args = sep + 1;
    provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name,
                                  AP_SOCACHE_PROVIDER_VERSION);
    if (!provider) {
        apr_array_header_t *names = ap_list_provider_names(
            cmd->pool, AP_SOCACHE_PROVIDER_GROUP, AP_SOCACHE_PROVIDER_VERSION);
        const char *known = "";
        int i;
        for (i = 0; names && i < names->nelts; i++) {
            known = apr_pstrcat(cmd->pool, known, i ? ", " : "",
                APR_ARRAY_IDX(names, i, ap_list_provider_names_t).provider_name,
                NULL);
        }
        return apr_psprintf(cmd->pool,
            "OCSPGuardCache: no shared object cache provider '%s' is loaded"
            " (loaded: %s). Write OCSPGuardCache provider[:arguments], e.g."
            " 'OCSPGuardCache shmcb' or 'OCSPGuardCache"
            " memcache:127.0.0.1:11211', and load its module"
            " (LoadModule socache_%s_module ...)",
            name, *known ? known : "none", name);
    }
    err = provider->create(&inst, args, cmd->temp_pool, cmd->pool);
    if (err)
        return apr_psprintf(cmd->pool, "OCSPGuardCache: %s arguments '%s'"
                            " rejected: %s", name, args ? args : "", err);
    sc->cache_name = name;
    sc->cache_args = args;
    sc->cache_instance = inst;
    return NULL;
}

static const char *og_set_timeout(cmd_parms *cmd, void *dc, const char *total,
                                  const char *connect)
{
    og_server_conf_t *sc = og_conf(cmd->server);
    apr_interval_time_t t = 0, ct = 0;
    const char *err;
    const char *usage = "OCSPGuardTimeout takes the longest time one fetch"
        " may take, then optionally the connect timeout, each in seconds"
        " (or with a unit: 500ms, 2s, 1m), from 100ms to 300s, connect no"
        " longer than total: e.g. 'OCSPGuardTimeout 10' or"
        " 'OCSPGuardTimeout 10 3'";

    (void)dc;
    if ((err = og_global_only(cmd)) != NULL)
        return err;
    if (ap_timeout_parameter_parse(total, &t, "s") != APR_SUCCESS
        || t < apr_time_from_msec(100) || t > apr_time_from_sec(300))
        return apr_psprintf(cmd->pool, "%s ('%s' is not)", usage, total);
    if (connect) {
        if (ap_timeout_parameter_parse(connect, &ct, "s") != APR_SUCCESS
            || ct < apr_time_from_msec(100) || ct > t)
            return apr_psprintf(cmd->pool, "%s ('%s' is not)", usage, connect);
    }
    else {
        ct = t < OG_DEFAULT_CONNECT_TIMEOUT ? t : OG_DEFAULT_CONNECT_TIMEOUT;
    }
    sc->timeout = t;
    sc->connect_timeout = ct;
    return NULL;
}

/* "50" or "50%", within [lo, hi]; 0 when not. */
static int og_parse_percent(const char *arg, int lo, int hi, int *out)
{
    char *end = NULL;
    long v = strtol(arg, &end, 10);

    if (end && *end == '%')
        end++;
    if (!end || end == arg || *end || v < lo || v > hi)
        return 0;
    *out = (int)v;
    return 1;
}

/* A directive that takes a share of a response's validity in percent. */
typedef struct {
    apr_size_t offset;              /* of the int in og_server_conf_t */
    int lo, hi, example;
    const char *meaning;            /* "the share of ... " for the error */
} og_percent_directive_t;

static const og_percent_directive_t og_refresh_window = {
    APR_OFFSETOF(og_server_conf_t, refresh_percent), 5, 95,
    OG_DEFAULT_REFRESH_PERCENT,
    "the share of a response's validity left when the module fetches a"
    " fresh one"
};
static const og_percent_directive_t og_expiring_warning = {
    APR_OFFSETOF(og_server_conf_t, expiring_percent), 1, 99,
    OG_DEFAULT_EXPIRING_PERCENT,
    "the share of validity below which a failing refresh raises"
    " staple_expiring"
};

static const char *og_set_percent(cmd_parms *cmd, void *dc, const char *arg)
{
    const og_percent_directive_t *d = cmd->info;
    og_server_conf_t *sc = og_conf(cmd->server);
    int v;
    const char *err;

    (void)dc;
    if ((err = og_global_only(cmd)) != NULL)
        return err;
    if (!og_parse_percent(arg, d->lo, d->hi, &v))
        return apr_psprintf(cmd->pool, "%s takes %s, in percent from %d to"
                            " %d: e.g. '%s %d' ('%s' is not)",
                            cmd->directive->directive, d->meaning, d->lo,
                            d->hi, cmd->directive->directive, d->example,
                            arg);
    *(int *)((char *)sc + d->offset) = v;
    return NULL;
}


static const char *og_set_retry(cmd_parms *cmd, void *dc, const char *min,
                                const char *max)
{
    og_server_conf_t *sc = og_conf(cmd->server);
    apr_interval_time_t lo = 0, hi = 0;
    const char *err;
    const char *usage = "OCSPGuardRetry takes the first and the longest"
        " delay between attempts after a failed fetch, in seconds (or with a"
        " unit: 30s, 5m, 1h), from 1s to 1 day, first no longer than"
        " longest: e.g. 'OCSPGuardRetry 60 3600'";

    (void)dc;
    if ((err = og_global_only(cmd)) != NULL)
        return err;
    if (ap_timeout_parameter_parse(min, &lo, "s") != APR_SUCCESS
        || lo < apr_time_from_sec(1) || lo > apr_time_from_sec(86400))
        return apr_psprintf(cmd->pool, "%s ('%s' is not)", usage, min);
    if (ap_timeout_parameter_parse(max, &hi, "s") != APR_SUCCESS
        || hi < lo || hi > apr_time_from_sec(86400))
        return apr_psprintf(cmd->pool, "%s ('%s' is not)", usage, max);
    sc->retry_min = lo;
    sc->retry_max = hi;
    return NULL;
}

static const char *og_set_max_response(cmd_parms *cmd, void *dc,
                                       const char *arg)
{
    og_server_conf_t *sc = og_conf(cmd->server);
    char *end = NULL;
    apr_int64_t v;
    const char *err;

    (void)dc;
    if ((err = og_global_only(cmd)) != NULL)
        return err;
    v = apr_strtoi64(arg, &end, 10);
    if (end && (*end == 'k' || *end == 'K')) {
        v *= 1024;
        end++;
    }
    if (!end || end == arg || *end || v < 1024 || v > APR_INT64_C(1048576))
        return apr_psprintf(cmd->pool, "OCSPGuardMaxResponseSize takes the"
            " largest OCSP response accepted, in bytes from 1024 to 1048576"
            " (or with K: 16K): e.g. 'OCSPGuardMaxResponseSize 16384'"
            " ('%s' is not)", arg);
    sc->max_response_size = (apr_size_t)v;
    return NULL;
}

/* http or https with a host: the only URLs the fetcher will use. */
static int og_url_ok(apr_pool_t *p, const char *url)
{
    apr_uri_t uri;

    return apr_uri_parse(p, url, &uri) == APR_SUCCESS && uri.scheme
           && (!strcasecmp(uri.scheme, "http")
               || !strcasecmp(uri.scheme, "https"))
           && uri.hostname && *uri.hostname;
}

static const char *og_add_mirror(cmd_parms *cmd, void *dc, const char *arg)
{
    og_server_conf_t *sc = og_conf(cmd->server);

    (void)dc;
    if (!strcasecmp(arg, "first")) {
        if (sc->mirrors && sc->mirrors->nelts)
            return "OCSPGuardMirror: 'first' must come before the URLs, e.g."
                   " 'OCSPGuardMirror first http://ocsp-mirror.example/'";
        sc->mirrors_first = 1;
        if (!sc->mirrors)
            sc->mirrors = apr_array_make(cmd->pool, 2, sizeof(const char *));
        return NULL;
    }
    if (!og_url_ok(cmd->temp_pool, arg))
        return apr_psprintf(cmd->pool, "OCSPGuardMirror takes http:// or"
            " https:// URLs of OCSP responders that answer for this server's"
            " certificates, optionally preceded by 'first' to try them before"
            " the certificate's own: e.g. 'OCSPGuardMirror"
            " http://ocsp-mirror.example.net/' ('%s' is not)", arg);
    if (!sc->mirrors)
        sc->mirrors = apr_array_make(cmd->pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(sc->mirrors, const char *) = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *og_set_proxy(cmd_parms *cmd, void *dc, const char *url,
                                const char *mode)
{
    og_server_conf_t *sc = og_conf(cmd->server);

    (void)dc;
    if (!og_url_ok(cmd->temp_pool, url))
        return apr_psprintf(cmd->pool, "OCSPGuardProxy takes the http:// URL"
            " of a forward proxy, optionally followed by 'fallback' (default:"
            " direct first, then through the proxy) or 'always' (only"
            " through it): e.g. 'OCSPGuardProxy http://proxy.example:3128"
            " always' ('%s' is not a URL)", url);
    if (!mode || !strcasecmp(mode, "fallback"))
        sc->proxy_mode = OG_PROXY_FALLBACK;
    else if (!strcasecmp(mode, "always"))
        sc->proxy_mode = OG_PROXY_ALWAYS;
    else
        return apr_psprintf(cmd->pool, "OCSPGuardProxy: the mode after the"
            " URL is 'fallback' or 'always' ('%s' is neither)", mode);
    sc->proxy = apr_pstrdup(cmd->pool, url);
    return NULL;
}

static const char *og_set_state_dir(cmd_parms *cmd, void *dc, const char *arg)
{
    og_server_conf_t *sc = og_conf(cmd->server);
    const char *err;

    (void)dc;
    if ((err = og_global_only(cmd)) != NULL)
        return err;
    if (!strcasecmp(arg, "none")) {
        sc->state_dir = "none";
        return NULL;
    }
    sc->state_dir = ap_server_root_relative(cmd->pool, arg);
    if (!sc->state_dir || !*arg)
        return apr_psprintf(cmd->pool, "OCSPGuardStateDir takes a directory"
            " (absolute, or relative to ServerRoot) where responses are kept"
            " across restarts, or 'none': e.g. 'OCSPGuardStateDir"
            " /var/lib/apache2/ocsp-guard' ('%s' is not)", arg);
    return NULL;
}

static const char *og_set_event_log(cmd_parms *cmd, void *dc, const char *arg)
{
    og_server_conf_t *sc = og_conf(cmd->server);
    const char *err;

    (void)dc;
    if ((err = og_global_only(cmd)) != NULL)
        return err;
    if (!*arg || (arg[0] == '|' && !arg[1]))
        return "OCSPGuardEventLog takes a file (absolute, or relative to"
               " ServerRoot) or a piped program: e.g. 'OCSPGuardEventLog"
               " logs/ocsp_guard.json' or 'OCSPGuardEventLog \"|/usr/bin/logger"
               " -t ocsp-guard\"'";
    sc->event_log = arg[0] == '|' ? arg : ap_server_root_relative(cmd->pool, arg);
    return NULL;
}


static const char *og_set_notify(cmd_parms *cmd, void *dc, const char *arg)
{
    og_server_conf_t *sc = og_conf(cmd->server);
    char **argv = NULL;
    const char *err;
    apr_finfo_t fi;

    (void)dc;
    if ((err = og_global_only(cmd)) != NULL)
        return err;
    if (apr_tokenize_to_argv(arg, &argv, cmd->temp_pool) != APR_SUCCESS
        || !argv[0] || argv[0][0] != '/'
        || apr_stat(&fi, argv[0], APR_FINFO_TYPE | APR_FINFO_UPROT,
                    cmd->temp_pool) != APR_SUCCESS
        || fi.filetype != APR_REG)
        return apr_psprintf(cmd->pool, "OCSPGuardNotifyCmd takes the absolute"
            " path of an existing program, optionally followed by arguments;"
            " it is run without a shell: e.g. 'OCSPGuardNotifyCmd"
            " /usr/local/bin/ocsp-alert --team web' ('%s' is not)", arg);
    sc->notify_cmd = arg;
    return NULL;
}

static const command_rec og_cmds[] = {
    AP_INIT_FLAG("OCSPGuard", og_set_enabled, NULL, RSRC_CONF,
        "On (default) to have mod_ocsp_guard staple OCSP responses for this"
        " server's certificates, Off to leave them to mod_ssl"),
    AP_INIT_TAKE1("OCSPGuardCache", og_set_cache, NULL, RSRC_CONF,
        "provider[:arguments] of the shared object cache holding responses"),
    AP_INIT_TAKE12("OCSPGuardTimeout", og_set_timeout, NULL, RSRC_CONF,
        "seconds one fetch may take, optionally followed by the connect"
        " timeout"),
    AP_INIT_TAKE1("OCSPGuardRefreshWindow", og_set_percent,
                  (void *)&og_refresh_window,
        RSRC_CONF, "percent of validity left when a response is refreshed"),
    AP_INIT_TAKE2("OCSPGuardRetry", og_set_retry, NULL, RSRC_CONF,
        "first and longest delay between attempts after a failure"),
    AP_INIT_TAKE1("OCSPGuardMaxResponseSize", og_set_max_response, NULL,
        RSRC_CONF, "largest OCSP response accepted, in bytes"),
    AP_INIT_TAKE1("OCSPGuardStateDir", og_set_state_dir, NULL, RSRC_CONF,
        "directory keeping responses across restarts, or none"),
    AP_INIT_ITERATE("OCSPGuardMirror", og_add_mirror, NULL, RSRC_CONF,
        "[first] URL... of OCSP responders to try when the certificate's"
        " own fail"),
    AP_INIT_TAKE12("OCSPGuardProxy", og_set_proxy, NULL, RSRC_CONF,
        "URL of a forward proxy, then fallback (default) or always"),
    AP_INIT_TAKE1("OCSPGuardEventLog", og_set_event_log, NULL, RSRC_CONF,
        "file or |program receiving one JSON event per line"),
    AP_INIT_RAW_ARGS("OCSPGuardNotifyCmd", og_set_notify, NULL, RSRC_CONF,
        "program (and arguments) run for staple_expiring, staple_expired,"
        " cert_revoked and recovered, the event as JSON on its stdin"),
    AP_INIT_TAKE1("OCSPGuardExpiringWarning", og_set_percent,
                  (void *)&og_expiring_warning,
        RSRC_CONF, "percent of validity left below which a failing refresh"
        " raises staple_expiring"),
    {NULL}
};

/* ------------------------------------------------------------------ */
/* registry: built at prime time, in the parent                       */

/* Certificates of one CA share its intermediate: keep one parsed copy of
 * each issuer (refcounted), not one per certificate. */
static void og_share_issuer(og_cert_t *c)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    X509 *shared;

    if (!X509_digest(c->issuer, EVP_sha1(), md, &len))
        return;
    shared = apr_hash_get(og->issuers, md, (apr_ssize_t)len);
    if (!shared) {
        apr_hash_set(og->issuers, apr_pmemdup(og->pool, md, len),
                     (apr_ssize_t)len, c->issuer);
    }
    else if (shared != c->issuer && X509_up_ref(shared)) {
        X509_free(c->issuer);
        c->issuer = shared;
    }
}

static og_entry_t *og_entry_for(server_rec *s, apr_pool_t *p, const char *id,
                                apr_size_t id_len, const char *pem)
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
    e->cert = og_cert_parse(pem, og->pool, &err);
    if (!e->cert)
        e->parse_error = err;
    else
        og_share_issuer(e->cert);
    (void)p;
    (void)s;
    apr_hash_set(og->by_id, e->id, (apr_ssize_t)e->id_len, e);
    APR_ARRAY_PUSH(og->entries, og_entry_t *) = e;
    return e;
}

/* Runs first for every certificate: records it and who uses it, whatever
 * provider ends up stapling it, so the start-up report can say who owns it. */
static int og_prime_observe(server_rec *s, apr_pool_t *p, const char *id,
                            apr_size_t id_len, const char *pem)
{
    og_entry_t *e = og_entry_for(s, p, id, id_len, pem);

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
 * took, when this vhost has us on and the certificate has a responder. */
static void og_chain_add(og_entry_t *e, const char *url, const char *proxy,
                         og_source_e source)
{
    og_attempt_t *a;
    int i;

    for (i = 0; i < e->chain->nelts; i++) {
        a = &APR_ARRAY_IDX(e->chain, i, og_attempt_t);
        if (!strcmp(a->url, url) && (a->proxy == proxy
                || (a->proxy && proxy && !strcmp(a->proxy, proxy))))
            return;
    }
    a = apr_array_push(e->chain);
    a->url = url;
    a->proxy = proxy;
    a->source = source;
}

static void og_chain_add_direct(og_entry_t *e, const og_server_conf_t *sc,
                                const char *proxy, int mirrors)
{
    apr_array_header_t *urls = mirrors ? sc->mirrors : e->cert->ocsp_urls;
    int i;

    for (i = 0; urls && i < urls->nelts; i++)
        og_chain_add(e, APR_ARRAY_IDX(urls, i, const char *), proxy,
                     proxy ? OG_SOURCE_PROXY
                           : mirrors ? OG_SOURCE_MIRROR : OG_SOURCE_DIRECT);
}

/* The failover chain of one vhost's view of a certificate: its AIA URLs
 * and the mirrors (mirrors first if so configured), directly, then the
 * same list through the forward proxy. Vhosts sharing a certificate add
 * their own ways after the first vhost's. */
static void og_build_chain(og_entry_t *e, const og_server_conf_t *sc)
{
    int pass;

    if (!e->chain)
        e->chain = apr_array_make(og->pool, 4, sizeof(og_attempt_t));
    for (pass = 0; pass < 2; pass++) {
        const char *proxy = pass ? sc->proxy : NULL;
        if (pass == 0 && sc->proxy && sc->proxy_mode == OG_PROXY_ALWAYS)
            continue;
        if (pass == 1 && !sc->proxy)
            break;
        og_chain_add_direct(e, sc, proxy, sc->mirrors_first);
        og_chain_add_direct(e, sc, proxy, !sc->mirrors_first);
    }
}

static int og_prime_claim(server_rec *s, apr_pool_t *p, const char *id,
                          apr_size_t id_len, const char *pem)
{
    og_server_conf_t *sc;
    og_entry_t *e;

    (void)p;
    (void)pem;
    if (!og || !og_enabled(s))
        return DECLINED;
    sc = og_conf(s);
    e = apr_hash_get(og->by_id, id, (apr_ssize_t)id_len);
    if (!e || !e->cert || (e->cert->ocsp_urls->nelts == 0
                           && (!sc->mirrors || sc->mirrors->nelts == 0)))
        return DECLINED;
    og_build_chain(e, sc);
    if (!e->claimed) {
        e->claimed = 1;
        og->owned++;
    }
    return OK;
}

/* ------------------------------------------------------------------ */
/* shared cache                                                       */

static apr_status_t og_cache_lock(void)
{
    return og->cache_mutex ? apr_global_mutex_lock(og->cache_mutex)
                           : APR_SUCCESS;
}

static void og_cache_unlock(void)
{
    if (og->cache_mutex)
        apr_global_mutex_unlock(og->cache_mutex);
}

/* Fetch a record into `buf` (og->record_max bytes) and decode it. */
static apr_status_t og_cache_get(const og_entry_t *e, unsigned char *buf,
                                 og_record_t *rec, apr_pool_t *p)
{
    unsigned int len = (unsigned int)og->record_max;
    apr_status_t rv;

    if ((rv = og_cache_lock()) != APR_SUCCESS)
        return rv;
    rv = og->cache_provider->retrieve(og->cache, og->s,
                                      (const unsigned char *)e->id,
                                      (unsigned int)e->id_len, buf, &len, p);
    og_cache_unlock();
    if (rv != APR_SUCCESS)
        return rv;
    rv = og_record_decode(rec, buf, len);
    if (rv == APR_SUCCESS && e->cert
        && memcmp(rec->cert_sha1, e->cert->sha1, OG_CERT_SHA1_LEN) != 0)
        rv = APR_EINVAL;    /* someone else's record under our key */
    return rv;
}

/* Store an encoded record and tell every child a new response is there. */
static apr_status_t og_cache_put(og_entry_t *e, const unsigned char *buf,
                                 apr_size_t size, apr_time_t expiry,
                                 apr_pool_t *p)
{
    apr_status_t rv;

    if ((rv = og_cache_lock()) != APR_SUCCESS)
        return rv;
    rv = og->cache_provider->store(og->cache, og->s,
                                   (const unsigned char *)e->id,
                                   (unsigned int)e->id_len, expiry,
                                   (unsigned char *)buf, (unsigned int)size,
                                   p);
    og_cache_unlock();
    if (rv == APR_SUCCESS) {
        og->slots[e->index].cached_bytes = (apr_uint32_t)size;
        apr_atomic_inc32(&og->slots[e->index].generation);
    }
    else {
        apr_atomic_inc32(&og->slots[e->index].store_failures);
    }
    return rv;
}

/* ------------------------------------------------------------------ */
/* handshake path                                                     */

/* Bring this child's copy up to `generation`; once per new response. */
static void og_local_refresh(og_entry_t *e, og_local_t *l,
                             apr_uint32_t generation, conn_rec *c)
{
    apr_pool_t *p = NULL;
    unsigned char *buf, *copy = NULL;
    og_record_t rec;
    apr_size_t copy_len = 0;
    apr_time_t next_update = 0;

    apr_thread_rwlock_wrlock(l->lock);
    if (l->generation == generation) {
        apr_thread_rwlock_unlock(l->lock);
        return;
    }
    if (apr_pool_create(&p, c->pool) == APR_SUCCESS) {
        buf = apr_palloc(p, og->record_max);
        if (og_cache_get(e, buf, &rec, p) == APR_SUCCESS
            && (copy = malloc(rec.der_len)) != NULL) {
            memcpy(copy, rec.der, rec.der_len);
            copy_len = rec.der_len;
            next_update = rec.next_update;
        }
        apr_pool_destroy(p);
    }
    if (!copy) {
        /* Not in the cache (evicted, flushed): keep what this child has,
         * ask the fetcher to put it back, and look again in a second
         * rather than at every handshake. */
        apr_atomic_set32(&og->slots[e->index].missing, 1);
        l->retry_at = apr_time_now() + apr_time_from_sec(1);
        apr_thread_rwlock_unlock(l->lock);
        return;
    }
    free(l->der);
    l->der = copy;
    l->der_len = copy_len;
    l->next_update = next_update;
    l->generation = generation;
    apr_thread_rwlock_unlock(l->lock);
}

static int og_get_resp(server_rec *s, conn_rec *c, const char *id,
                       apr_size_t id_len, ap_ssl_ocsp_copy_resp *cb,
                       void *userdata)
{
    og_entry_t *e;
    og_local_t *l;
    apr_uint32_t generation;

    if (!og || !og->locals)
        return DECLINED;
    e = apr_hash_get(og->by_id, id, (apr_ssize_t)id_len);
    if (!e || !e->claimed || !og_enabled(s))
        return DECLINED;
    /* From here on we own the answer: always OK and always call back, or
     * mod_ssl would run its own blocking fetch in this handshake. */
    l = &og->locals[e->index];
    generation = apr_atomic_read32(&og->slots[e->index].generation);
    if (generation != l->generation
        && (!l->retry_at || apr_time_now() >= l->retry_at))
        og_local_refresh(e, l, generation, c);
    apr_thread_rwlock_rdlock(l->lock);
    if (l->der && apr_time_now() < l->next_update) {
        cb(l->der, l->der_len, userdata);
        apr_thread_rwlock_unlock(l->lock);
        apr_atomic_inc32(&og->slots[e->index].staples_served);
    }
    else {
        cb(NULL, 0, userdata);
        apr_thread_rwlock_unlock(l->lock);
        apr_atomic_inc32(&og->slots[e->index].unstapled);
    }
    return OK;
}

/* ------------------------------------------------------------------ */
/* fetching, in the watchdog thread of one child                      */

/* ------------------------------------------------------------------ */
/* events                                                             */

static const char *og_vhost_list(apr_pool_t *p, const og_entry_t *e)
{
    return apr_array_pstrcat(p, e->vhosts, ',');
}

/* Reap alert programs that finished; never waits. */
static void og_notify_reap(void)
{
    int i, status;

    for (i = 0; i < OG_NOTIFY_MAX_PENDING; i++) {
        if (og->notify_pids[i] > 0
            && waitpid(og->notify_pids[i], &status, WNOHANG) != 0)
            og->notify_pids[i] = 0;
    }
}

/* Run OCSPGuardNotifyCmd for the events an operator must act on: without
 * a shell, the event as JSON on stdin and as arguments (event, cert_id),
 * at most once per OG_NOTIFY_INTERVAL per certificate and kind, and never
 * waiting for the program: a hung alert script cannot stall the fetcher. */
static void og_notify(og_entry_t *e, const og_event_t *ev, const char *json,
                      apr_pool_t *p)
{
    static const char *const kinds[] = { "staple_expiring", "staple_expired",
                                         "cert_revoked", "recovered" };
    apr_procattr_t *attr = NULL;
    apr_proc_t proc;
    char **argv = NULL;
    const char **args;
    int kind, n, i, slot = -1;

    if (!og->notify_cmd)
        return;
    for (kind = 0; kind < 4 && strcmp(kinds[kind], ev->event) != 0; kind++)
        ;
    if (kind == 4 || (e->notified[kind]
                      && ev->ts - e->notified[kind] < OG_NOTIFY_INTERVAL))
        return;
    og_notify_reap();
    for (i = 0; i < OG_NOTIFY_MAX_PENDING && slot < 0; i++)
        if (og->notify_pids[i] <= 0)
            slot = i;
    if (slot < 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, og->s, OGLOGNO(00140)
                     "OCSPGuardNotifyCmd: %d alert programs still running;"
                     " %s for %s not sent", OG_NOTIFY_MAX_PENDING, ev->event,
                     ev->subject ? ev->subject : "?");
        return;
    }
    e->notified[kind] = ev->ts;
    apr_tokenize_to_argv(og->notify_cmd, &argv, p);
    for (n = 0; argv[n]; n++)
        ;
    args = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(n + 3));
    for (i = 0; i < n; i++)
        args[i] = argv[i];
    args[n] = ev->event;
    args[n + 1] = ev->cert_id ? ev->cert_id : "";
    if (apr_procattr_create(&attr, p) != APR_SUCCESS
        || apr_procattr_io_set(attr, APR_FULL_BLOCK, APR_NO_PIPE, APR_NO_PIPE)
               != APR_SUCCESS
        || apr_procattr_cmdtype_set(attr, APR_PROGRAM) != APR_SUCCESS
        || apr_proc_create(&proc, args[0], args, NULL, attr, p)
               != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, og->s, OGLOGNO(00141)
                     "OCSPGuardNotifyCmd: cannot run %s", args[0]);
        return;
    }
    apr_file_write_full(proc.in, json, strlen(json), NULL);
    apr_file_close(proc.in);
    og->notify_pids[slot] = proc.pid;
}

/* Fill in what every event says about the certificate and its staple,
 * then write the line. One write per line: atomic on O_APPEND files and
 * on pipes, whichever child writes. */
static void og_emit(og_entry_t *e, og_event_t *ev, apr_pool_t *p)
{
    const char *line;
    apr_size_t len;

    if (!og->event_log && !og->notify_cmd)
        return;
    if (e) {
        ev->cert_id = e->cert ? e->cert->sha1_hex : og_hex(p,
            (const unsigned char *)e->id, e->id_len);
        ev->subject = e->cert ? e->cert->subject : NULL;
        ev->serial = e->cert ? e->cert->serial_hex : NULL;
        ev->vhosts = og_vhost_list(p, e);
        if (!ev->staple_state) {
            if (e->next_update > ev->ts) {
                ev->staple_state = e->failures ? "stale-refreshing" : "fresh";
                ev->staple_expires_in_s = (long)apr_time_sec(e->next_update
                                                             - ev->ts);
            }
            else {
                ev->staple_state = e->next_update ? "expired" : "none";
            }
        }
        if (ev->next_attempt_in_s < 0 && e->next_attempt > ev->ts)
            ev->next_attempt_in_s = (long)apr_time_sec(e->next_attempt
                                                       - ev->ts);
    }
    line = og_event_json(p, ev);
    len = strlen(line);
    if (og->event_log)
        apr_file_write_full(og->event_log, line, len, NULL);
    if (e)
        og_notify(e, ev, line, p);
}

static void og_open_event_log(server_rec *s, og_server_conf_t *sc,
                              apr_pool_t *pconf)
{
    apr_status_t rv;

    og->event_log = NULL;
    if (!sc->event_log)
        return;
    if (sc->event_log[0] == '|') {
        piped_log *pl = ap_open_piped_log(pconf, sc->event_log + 1);
        if (pl)
            og->event_log = ap_piped_log_write_fd(pl);
        else
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, OGLOGNO(00130)
                         "cannot start the event logger %s", sc->event_log);
        return;
    }
    rv = apr_file_open(&og->event_log, sc->event_log,
                       APR_FOPEN_WRITE | APR_FOPEN_APPEND | APR_FOPEN_CREATE,
                       APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD,
                       pconf);
    if (rv != APR_SUCCESS) {
        og->event_log = NULL;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, OGLOGNO(00131)
                     "cannot open the event log %s", sc->event_log);
    }
}

typedef struct {
    og_entry_t *entry;
    int attempt;                    /* index in entry->chain */
    apr_pool_t *pool;
} og_job_t;

static og_fetch_t *og_job_fetch(og_job_t *job)
{
    og_entry_t *e = job->entry;
    const og_attempt_t *a = &APR_ARRAY_IDX(e->chain, job->attempt,
                                           og_attempt_t);

    return og_fetch_make(job->pool, a->url, e->cert->request_der,
                         e->cert->request_len, a->proxy, job);
}

static const char *og_attempt_desc(apr_pool_t *p, const og_attempt_t *a)
{
    return a->proxy ? apr_pstrcat(p, a->url, " via proxy ", a->proxy, NULL)
                    : a->url;
}

static double og_jitter(void)
{
    apr_uint32_t r = 0;

    apr_generate_random_bytes((unsigned char *)&r, sizeof(r));
    return (double)r / 4294967296.0;
}

static const char *og_fmt_time(apr_pool_t *p, apr_time_t t)
{
    char *buf = apr_palloc(p, APR_RFC822_DATE_LEN);

    apr_rfc822_date(buf, t);
    return buf;
}

static void og_schedule_refresh(og_entry_t *e, apr_time_t now)
{
    e->next_attempt = og_sched_refresh_at(&og->policy, e->this_update,
                                          e->next_update, now, og_jitter());
}

static void og_schedule_retry(og_entry_t *e, apr_time_t now)
{
    e->failures++;
    e->next_attempt = now + og_sched_retry_delay(&og->policy, e->failures,
        now, e->next_update, og_jitter());
}

/* Accept a validated response: cache it, then plan the next refresh. */
static void og_accept(og_entry_t *e, const og_validation_t *v,
                      const og_fetch_t *f, const og_attempt_t *a, int attempt,
                      apr_pool_t *p)
{
    og_record_t rec;
    og_event_t ev;
    apr_time_t now = apr_time_now();
    unsigned char *buf;
    apr_size_t size;
    apr_status_t rv;
    int recovered_after;

    memset(&rec, 0, sizeof(rec));
    memcpy(rec.cert_sha1, e->cert->sha1, OG_CERT_SHA1_LEN);
    rec.cert_status = v->cert_status;
    rec.source = a->source;
    rec.this_update = v->this_update;
    rec.next_update = v->next_update;
    rec.fetched_at = now;
    rec.der = f->body;
    rec.der_len = f->body_len;
    size = og_record_size(&rec);
    buf = apr_palloc(p, size);
    rv = og_record_encode(&rec, buf, size, NULL);
    if (rv == APR_SUCCESS)
        rv = og_cache_put(e, buf, size, rec.next_update, p);
    if (rv != APR_SUCCESS) {
        og_event_t ev;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, og->s, OGLOGNO(00301)
                     "%s: valid response from %s could not be stored in the"
                     " cache (%s); it is too small or failing",
                     e->cert->subject, f->url, og->cache_desc);
        og_schedule_retry(e, now);
        og_event_init(&ev, "cache_full", "error", now);
        ev.responder = f->url;
        ev.detail = apr_psprintf(p, "cannot store %" APR_SIZE_T_FMT
                                 " bytes in %s", size, og->cache_desc);
        og_emit(e, &ev, p);
        return;
    }
    if (og->state_dir) {
        rv = og_store_save(og->state_dir,
                           og_store_name(p, e->cert->sha1_hex), buf, size, p);
        if (rv != APR_SUCCESS)
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, og->s, OGLOGNO(00302)
                         "%s: cannot save the response in %s; a full"
                         " restart will have to fetch it again",
                         e->cert->subject, og->state_dir);
    }
    {
        og_slot_t *slot = &og->slots[e->index];
        slot->this_update = v->this_update;
        slot->next_update = v->next_update;
        slot->last_success = now;
        slot->failures = 0;
        slot->source = (apr_uint32_t)a->source;
        slot->cert_status = (apr_uint32_t)v->cert_status;
        apr_cpystrn(slot->responder, og_attempt_desc(p, a),
                    sizeof(slot->responder));
        apr_atomic_inc32(&slot->fetch_ok);
    }
    recovered_after = e->failures;
    if (e->failures > 0)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, og->s, OGLOGNO(00202)
                     "%s: recovered after %d failed round(s): fresh"
                     " response from %s", e->cert->subject, e->failures,
                     f->url);
    e->this_update = v->this_update;
    e->next_update = v->next_update;
    e->failures = 0;
    e->last_error = OG_OK;
    e->expired_logged = 0;
    e->expiring_logged = 0;
    e->fail_key[0] = '\0';
    e->fail_repeats = 0;
    og_schedule_refresh(e, now);
    og->slots[e->index].next_attempt = e->next_attempt;
    ap_log_error(APLOG_MARK,
                 v->cert_status == OG_CERT_REVOKED ? APLOG_CRIT : APLOG_INFO,
                 0, og->s, OGLOGNO(00201)
                 "%s (serial %s): OCSP status %s from %s (%s, %s, %"
                 APR_SIZE_T_FMT " bytes, %" APR_TIME_T_FMT " ms), valid until"
                 " %s, next refresh in %" APR_TIME_T_FMT " s",
                 e->cert->subject, e->cert->serial_hex,
                 og_cert_status_name(v->cert_status), og_attempt_desc(p, a),
                 og_source_name(a->source),
                 f->used_get ? "GET" : "POST", f->body_len,
                 apr_time_as_msec(f->elapsed), og_fmt_time(p, v->next_update),
                 apr_time_sec(e->next_attempt - now));

    og_event_init(&ev, "fetch_ok", "info", now);
    ev.responder = a->url;
    ev.via = og_source_name(a->source);
    ev.attempt = attempt + 1;
    ev.http_status = f->http_status;
    ev.ocsp_status = v->ocsp_status;
    ev.cert_status = og_cert_status_name(v->cert_status);
    ev.elapsed_ms = (long)apr_time_as_msec(f->elapsed);
    og_emit(e, &ev, p);
    if (attempt > 0) {
        ev.event = "failover";
        ev.severity = "notice";
        ev.detail = apr_psprintf(p, "answered by way %d of %d after the"
                                 " ones before it failed", attempt + 1,
                                 e->chain->nelts);
        og_emit(e, &ev, p);
        ev.detail = NULL;
    }
    if (recovered_after > 0) {
        ev.event = "recovered";
        ev.severity = "notice";
        ev.count = recovered_after;
        ev.detail = apr_psprintf(p, "fresh response after %d failed"
                                 " round(s)", recovered_after);
        og_emit(e, &ev, p);
        ev.count = 0;
        ev.detail = NULL;
    }
    if (v->cert_status == OG_CERT_REVOKED) {
        ev.event = "cert_revoked";
        ev.severity = "critical";
        ev.detail = apr_psprintf(p, "the CA says this certificate is revoked"
                                 " (reason %d, at %s); the response is"
                                 " stapled as the CA sent it",
                                 v->revocation_reason,
                                 v->revoked_at ? og_rfc3339(p, v->revoked_at)
                                               : "unknown");
        og_emit(e, &ev, p);
    }
}

/* A failed attempt: response_rejected when a responder answered with
 * something that must not be stapled, fetch_failed otherwise. The same
 * failure from the same responder again and again is written only at the
 * 1st, 2nd, 4th, 8th ... time, with the count, so an outage cannot flood. */
static void og_failure_event(og_entry_t *e, const og_fetch_t *f,
                             const og_attempt_t *a, int attempt,
                             og_error_e err, const char *detail,
                             const og_validation_t *v, apr_time_t now,
                             apr_pool_t *p)
{
    const char *key = apr_pstrcat(p, og_error_name(err), " ",
                                  og_attempt_desc(p, a), NULL);
    og_event_t ev;

    if (!strncmp(e->fail_key, key, sizeof(e->fail_key) - 1)) {
        e->fail_repeats++;
    }
    else {
        apr_cpystrn(e->fail_key, key, sizeof(e->fail_key));
        e->fail_repeats = 1;
    }
    if (e->fail_repeats & (e->fail_repeats - 1))
        return;     /* not a power of two */
    og_event_init(&ev, v ? "response_rejected" : "fetch_failed", "warning",
                  now);
    ev.responder = a->url;
    ev.via = og_source_name(a->source);
    ev.attempt = attempt + 1;
    ev.error_class = og_error_name(err);
    ev.http_status = f->http_status;
    ev.ocsp_status = v ? v->ocsp_status : -1;
    ev.elapsed_ms = (long)apr_time_as_msec(f->elapsed);
    ev.ah = og_error_ah(err);
    ev.count = e->fail_repeats;
    ev.detail = detail;
    og_emit(e, &ev, p);
}

/* Every way failed and the staple held is running out. */
static void og_expiring_event(og_entry_t *e, apr_time_t now, apr_pool_t *p)
{
    apr_interval_time_t validity = e->next_update - e->this_update;
    og_event_t ev;

    if (e->expiring_logged || e->next_update <= now || validity <= 0
        || (e->next_update - now) * 100 >= validity * og->expiring_percent)
        return;
    e->expiring_logged = 1;
    og_event_init(&ev, "staple_expiring", "error", now);
    ev.error_class = og_error_name(e->last_error);
    ev.ah = og_error_ah(e->last_error);
    ev.detail = apr_psprintf(p, "less than %d%% of the staple's validity is"
                             " left and every responder fails; it stops"
                             " being stapled at %s", og->expiring_percent,
                             og_rfc3339(p, e->next_update));
    og_emit(e, &ev, p);
}

static og_fetch_t *og_fetch_handle(og_fetch_t *f)
{
    og_job_t *job = f->baton;
    og_entry_t *e = job->entry;
    og_error_e err = f->error;
    const char *detail = f->detail;
    og_validation_t v;
    apr_time_t now = apr_time_now();
    const og_attempt_t *a = &APR_ARRAY_IDX(e->chain, job->attempt,
                                           og_attempt_t);

    if (err == OG_OK) {
        err = og_validate_response(e->cert, f->body, f->body_len, now,
                                   OG_CLOCK_SKEW, &v, job->pool);
        detail = v.detail;
        if (err == OG_OK) {
            og_accept(e, &v, f, a, job->attempt, job->pool);
            return NULL;
        }
    }
    e->last_error = err;
    {
        og_slot_t *slot = &og->slots[e->index];
        slot->last_error = (apr_uint32_t)err;
        slot->last_failure = now;
        apr_cpystrn(slot->last_error_detail,
                    apr_pstrcat(job->pool, og_attempt_desc(job->pool, a), ": ",
                                detail, NULL),
                    sizeof(slot->last_error_detail));
        apr_atomic_inc32(&slot->fetch_failed[err]);
    }
    og_failure_event(e, f, a, job->attempt, err, detail,
                     f->error == OG_OK ? &v : NULL, now, job->pool);
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, og->s, OGLOGNO(00203)
                 "%s: fetch from %s (%s) failed [%s, as mod_ssl's %s]: %s%s",
                 e->cert->subject, og_attempt_desc(job->pool, a),
                 og_source_name(a->source), og_error_name(err),
                 og_error_ah(err) ? og_error_ah(err) : "-", detail,
                 e->next_update > now ? "; the last good response stays"
                 " stapled" : "");
    if (++job->attempt < e->chain->nelts)
        return og_job_fetch(job);
    og_schedule_retry(e, now);
    og->slots[e->index].failures = (apr_uint32_t)e->failures;
    og->slots[e->index].next_attempt = e->next_attempt;
    og_expiring_event(e, now, job->pool);
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, og->s, OGLOGNO(00204)
                 "%s: every responder failed (%d in a row); next attempt in"
                 " %" APR_TIME_T_FMT " s; staple %s",
                 e->cert->subject, e->failures,
                 apr_time_sec(e->next_attempt - now),
                 e->next_update > now
                     ? apr_psprintf(job->pool, "valid until %s",
                                    og_fmt_time(job->pool, e->next_update))
                     : "none");
    return NULL;
}

/* The status handler's view of a response taken from the cache or disk. */
static void og_slot_set_held(og_entry_t *e, const og_record_t *rec,
                             const og_validation_t *v)
{
    og_slot_t *slot = &og->slots[e->index];

    slot->this_update = v->this_update;
    slot->next_update = v->next_update;
    slot->source = (apr_uint32_t)rec->source;
    slot->cert_status = (apr_uint32_t)v->cert_status;
    slot->next_attempt = e->next_attempt;
}

/* Take a response from the cache that is fresher than the one this fetcher
 * knows of, checked again as if just fetched: at start-up, what an earlier
 * fetcher stored (before a graceful restart or a crash); in a fleet sharing
 * one cache (memcache:), what another server fetched, so a fleet makes about
 * one fetch per certificate per round. 1 when taken. */
static int og_take_cached_in(og_entry_t *e, apr_time_t now, apr_pool_t *p)
{
    unsigned char *buf = apr_palloc(p, og->record_max);
    og_record_t rec;
    og_validation_t v;

    if (og_cache_get(e, buf, &rec, p) != APR_SUCCESS
        || rec.this_update <= e->this_update
        || og_validate_response(e->cert, rec.der, rec.der_len, now,
                                OG_CLOCK_SKEW, &v, p) != OG_OK)
        return 0;
    e->this_update = v.this_update;
    e->next_update = v.next_update;
    e->failures = 0;
    e->expired_logged = 0;
    e->expiring_logged = 0;
    og_schedule_refresh(e, now);
    og_slot_set_held(e, &rec, &v);
    og->slots[e->index].failures = 0;
    og->slots[e->index].cached_bytes = (apr_uint32_t)og_record_size(&rec);
    /* make sure every child picks it up */
    apr_atomic_inc32(&og->slots[e->index].generation);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, og->s, OGLOGNO(00207)
                 "%s: a fresher response, valid until %s, was already in the"
                 " cache %s (stored by another server or an earlier"
                 " fetcher): taken", e->cert->subject,
                 og_fmt_time(p, v.next_update), og->cache_desc);
    return 1;
}

/* In a pool of its own: called for every certificate due, it would
 * otherwise keep a record-sized buffer per certificate until the round
 * ends. */
static int og_take_cached(og_entry_t *e, apr_time_t now, apr_pool_t *p)
{
    apr_pool_t *sub;
    int taken;

    if (apr_pool_create(&sub, p) != APR_SUCCESS)
        return 0;
    taken = og_take_cached_in(e, now, sub);
    apr_pool_destroy(sub);
    return taken;
}

/* Each job has a pool of its own, freed as soon as its last attempt is
 * handled: with a thousand certificates due at once, the fetcher holds
 * only the jobs in flight, not the whole round. */
static og_fetch_t *og_fetch_done(og_fetch_t *f, void *ctx)
{
    og_job_t *job = f->baton;
    apr_pool_t *job_pool = job->pool;
    og_fetch_t *follow = og_fetch_handle(f);

    (void)ctx;
    if (!follow)
        apr_pool_destroy(job_pool);
    return follow;
}

static void og_run_round(apr_pool_t *p)
{
    apr_array_header_t *batch = apr_array_make(p, 8, sizeof(og_fetch_t *));
    apr_time_t now = apr_time_now();
    int i;

    for (i = 0; i < og->entries->nelts; i++) {
        og_entry_t *e = APR_ARRAY_IDX(og->entries, i, og_entry_t *);
        og_job_t *job;

        if (!e->claimed)
            continue;
        if (e->next_update && e->next_update <= now && !e->expired_logged) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, og->s, OGLOGNO(00205)
                         "%s: the last good response expired at %s and no"
                         " fresh one could be fetched: no staple is sent"
                         " until a responder answers", e->cert->subject,
                         og_fmt_time(p, e->next_update));
            e->expired_logged = 1;
            {
                og_event_t ev;
                og_event_init(&ev, "staple_expired", "critical", now);
                ev.error_class = og_error_name(e->last_error);
                ev.ah = og_error_ah(e->last_error);
                ev.detail = "the last good response expired; no staple is"
                            " sent until a responder answers";
                og_emit(e, &ev, p);
            }
        }
        if (e->next_attempt > now || og_take_cached(e, now, p))
            continue;
        {
            apr_pool_t *job_pool;

            if (apr_pool_create(&job_pool, p) != APR_SUCCESS)
                break;
            job = apr_pcalloc(job_pool, sizeof(*job));
            job->pool = job_pool;
        }
        job->entry = e;
        APR_ARRAY_PUSH(batch, og_fetch_t *) = og_job_fetch(job);
        /* A bounded batch at a time: with a thousand certificates due at
         * once, memory holds a few batches of jobs, not the whole round. */
        if (batch->nelts >= og->fetch_opts.max_parallel * OG_BATCH_FACTOR) {
            og_fetch_run(batch, &og->fetch_opts, og_fetch_done, NULL, p);
            apr_array_clear(batch);
            now = apr_time_now();
        }
    }
    if (batch->nelts > 0)
        og_fetch_run(batch, &og->fetch_opts, og_fetch_done, NULL, p);
}

/* This certificate's record from the state dir: APR_ENOENT when there is
 * none, APR_EINVAL when the file is not a record for this certificate. */
static apr_status_t og_state_read(const og_entry_t *e, og_record_t *rec,
                                  unsigned char **data, apr_size_t *len,
                                  apr_pool_t *p)
{
    apr_status_t rv;

    if (!og->state_dir)
        return APR_ENOENT;
    rv = og_store_load(og->state_dir, og_store_name(p, e->cert->sha1_hex),
                       og->record_max, data, len, p);
    if (rv != APR_SUCCESS)
        return APR_STATUS_IS_ENOENT(rv) ? APR_ENOENT : rv;
    if (og_record_decode(rec, *data, *len) != APR_SUCCESS
        || memcmp(rec->cert_sha1, e->cert->sha1, OG_CERT_SHA1_LEN) != 0)
        return APR_EINVAL;
    return APR_SUCCESS;
}

/* A response evicted from the cache (too small, a flushed memcached, an
 * operator's restart of it) would silently stop the stapling of children
 * that have no copy yet. Say so, and put it back from the state dir, or
 * fetch again at once. */
static void og_restore(og_entry_t *e, unsigned char *buf, apr_time_t now,
                       apr_pool_t *p)
{
    og_record_t rec;
    og_event_t ev;
    unsigned char *data = NULL;
    apr_size_t len = 0;
    int restored = 0;
    apr_status_t rv;

    if (!e->claimed || e->next_update <= now
        || (rv = og_cache_get(e, buf, &rec, p)) == APR_SUCCESS)
        return;
    if (og_state_read(e, &rec, &data, &len, p) == APR_SUCCESS
        && rec.next_update > now
        && og_cache_put(e, data, len, rec.next_update, p) == APR_SUCCESS)
        restored = 1;
    if (!restored) {
        e->next_attempt = now;
        og->slots[e->index].cached_bytes = 0;
    }
    apr_atomic_inc32(&og->slots[e->index].evictions);
    ap_log_error(APLOG_MARK, APLOG_WARNING, rv, og->s, OGLOGNO(00303)
                 "%s: its response was gone from the cache %s (evicted: too"
                 " small, or flushed); %s", e->cert->subject, og->cache_desc,
                 restored ? "put back from the state dir"
                          : "fetching it again now");
    og_event_init(&ev, "cache_full", "error", now);
    ev.detail = apr_psprintf(p, "response evicted from %s; %s",
                             og->cache_desc, restored
                             ? "put back from the state dir"
                             : "fetching it again now");
    og_emit(e, &ev, p);
}

/* Every tick: the certificates a child found missing; every
 * OG_PRESENCE_CHECK: all of them. */
static void og_check_presence(apr_pool_t *p)
{
    static apr_time_t last;
    apr_time_t now = apr_time_now();
    int i, all = now - last >= OG_PRESENCE_CHECK;
    unsigned char *buf = NULL;

    if (all)
        last = now;
    for (i = 0; i < og->entries->nelts; i++) {
        og_entry_t *e = APR_ARRAY_IDX(og->entries, i, og_entry_t *);
        if (!apr_atomic_xchg32(&og->slots[e->index].missing, 0) && !all)
            continue;
        if (!buf)
            buf = apr_palloc(p, og->record_max);
        og_restore(e, buf, now, p);
    }
}

static apr_status_t og_watchdog(int state, void *data, apr_pool_t *p)
{
    int i;

    (void)data;
    switch (state) {
    case AP_WATCHDOG_STATE_STARTING:
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, og->s, OGLOGNO(00206)
                     "fetcher started in pid %" APR_PID_T_FMT " for %d"
                     " certificate(s)", getpid(), og->owned);
        for (i = 0; i < og->entries->nelts; i++) {
            og_entry_t *e = APR_ARRAY_IDX(og->entries, i, og_entry_t *);
            if (e->claimed)
                og_take_cached(e, apr_time_now(), p);
        }
        og_run_round(p);
        break;
    case AP_WATCHDOG_STATE_RUNNING:
        if (og->notify_cmd)
            og_notify_reap();
        og_check_presence(p);
        og_run_round(p);
        break;
    default:
        break;
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* status: SetHandler ocsp-guard-status, and a section in server-status */

static const char *og_staple_state(const og_slot_t *slot, apr_time_t now)
{
    if (slot->next_update > now)
        return slot->failures ? "stale-refreshing" : "fresh";
    return slot->next_update ? "expired" : "none";
}

static const char *og_owner(const og_entry_t *e)
{
    if (!e->cert)
        return "unparsable";
    if (e->claimed)
        return "mod_ocsp_guard";
    if (e->cert->ocsp_urls->nelts == 0)
        return "none (no OCSP URL)";
    return e->enabled_vhosts ? "another provider" : "mod_ssl (OCSPGuard Off)";
}

static const char *og_js(apr_pool_t *p, const char *s)
{
    return og_json_str(p, s ? s : "");
}

static const char *og_js_time(apr_pool_t *p, apr_time_t t)
{
    return t ? apr_pstrcat(p, "\"", og_rfc3339(p, t), "\"", NULL) : "null";
}

static void og_status_json(request_rec *r, apr_time_t now)
{
    int i, k;

    ap_set_content_type(r, "application/json");
    ap_rprintf(r, "{\"module\":\"mod_ocsp_guard/%s\",\"now\":%s,"
               "\"cache\":%s,\"state_dir\":%s,\"certificates\":[",
               OG_MODULE_VERSION, og_js_time(r->pool, now),
               og_js(r->pool, og->cache_desc),
               og->state_dir ? og_js(r->pool, og->state_dir) : "null");
    for (i = 0; i < og->entries->nelts; i++) {
        og_entry_t *e = APR_ARRAY_IDX(og->entries, i, og_entry_t *);
        const og_slot_t *slot = og->slots ? &og->slots[e->index] : NULL;
        const char *sep = "";

        ap_rprintf(r, "%s{\"cert_id\":%s,\"subject\":%s,\"serial\":%s,"
                   "\"vhosts\":%s,\"stapled_by\":%s",
                   i ? "," : "",
                   og_js(r->pool, e->cert ? e->cert->sha1_hex : ""),
                   og_js(r->pool, e->cert ? e->cert->subject : ""),
                   og_js(r->pool, e->cert ? e->cert->serial_hex : ""),
                   og_js(r->pool, og_vhost_list(r->pool, e)),
                   og_js(r->pool, og_owner(e)));
        if (!e->claimed || !e->cert || !slot) {
            ap_rputs("}", r);
            continue;
        }
        ap_rprintf(r, ",\"must_staple\":%s,\"not_after\":%s,\"state\":\"%s\","
                   "\"cert_status\":%s,\"source\":%s,\"responder\":%s,"
                   "\"this_update\":%s,\"next_update\":%s,",
                   e->cert->must_staple ? "true" : "false",
                   og_js_time(r->pool, e->cert->not_after),
                   og_staple_state(slot, now),
                   slot->next_update ? og_js(r->pool,
                       og_cert_status_name((og_cert_status_e)slot->cert_status))
                                     : "null",
                   slot->next_update ? og_js(r->pool,
                       og_source_name((og_source_e)slot->source)) : "null",
                   slot->responder[0] ? og_js(r->pool, slot->responder)
                                      : "null",
                   og_js_time(r->pool, slot->this_update),
                   og_js_time(r->pool, slot->next_update));
        if (slot->next_update > now)
            ap_rprintf(r, "\"staple_expires_in_s\":%" APR_TIME_T_FMT ",",
                       apr_time_sec(slot->next_update - now));
        ap_rprintf(r, "\"last_success\":%s,\"last_failure\":%s,"
                   "\"last_error_class\":%s,\"last_error\":%s,"
                   "\"next_attempt\":%s,\"consecutive_failures\":%u,"
                   "\"staples_served\":%u,\"handshakes_without_staple\":%u,"
                   "\"fetches_ok\":%u,\"fetches_failed\":{",
                   og_js_time(r->pool, slot->last_success),
                   og_js_time(r->pool, slot->last_failure),
                   slot->last_failure ? og_js(r->pool,
                       og_error_name((og_error_e)slot->last_error)) : "null",
                   slot->last_failure ? og_js(r->pool,
                       slot->last_error_detail) : "null",
                   og_js_time(r->pool, slot->next_attempt),
                   slot->failures, slot->staples_served, slot->unstapled,
                   slot->fetch_ok);
        for (k = 1; k < OG_ERR_COUNT; k++) {
            if (slot->fetch_failed[k]) {
                ap_rprintf(r, "%s\"%s\":%u", sep,
                           og_error_name((og_error_e)k), slot->fetch_failed[k]);
                sep = ",";
            }
        }
        ap_rputs("}}", r);
    }
    ap_rputs("]}\n", r);
}

/* Prometheus label value: backslash, quote and newline escaped. */
static const char *og_label(apr_pool_t *p, const char *s)
{
    apr_size_t i, o = 0, n = strlen(s);
    char *out = apr_palloc(p, n * 2 + 1);

    for (i = 0; i < n; i++) {
        if (s[i] == '\\' || s[i] == '"') {
            out[o++] = '\\';
            out[o++] = s[i];
        }
        else if (s[i] == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        }
        else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* The cache as the fetcher last saw it: what it holds for us, how much
 * room it has (shmcb; a memcached's own limit is not ours to read), and
 * how often it lost or refused a record. */
static void og_status_prometheus_cache(request_rec *r)
{
    apr_uint64_t entries = 0, bytes = 0, evictions = 0, refused = 0;
    int i;

    for (i = 0; i < og->entries->nelts; i++) {
        const og_entry_t *e = APR_ARRAY_IDX(og->entries, i, og_entry_t *);
        const og_slot_t *slot = &og->slots[e->index];

        if (!e->claimed)
            continue;
        entries += slot->cached_bytes != 0;
        bytes += slot->cached_bytes;
        evictions += slot->evictions;
        refused += slot->store_failures;
    }
    ap_rprintf(r, "# HELP ocsp_guard_cache_entries Responses held in the"
               " cache\n# TYPE ocsp_guard_cache_entries gauge\n"
               "ocsp_guard_cache_entries{cache=\"%s\"} %" APR_UINT64_T_FMT "\n"
               "# HELP ocsp_guard_cache_bytes Bytes of the responses held in"
               " the cache\n# TYPE ocsp_guard_cache_bytes gauge\n"
               "ocsp_guard_cache_bytes{cache=\"%s\"} %" APR_UINT64_T_FMT "\n",
               og_label(r->pool, og->cache_desc), entries,
               og_label(r->pool, og->cache_desc), bytes);
    if (og->cache_capacity)
        ap_rprintf(r, "# HELP ocsp_guard_cache_capacity_bytes Size of the"
                   " shared-memory cache\n# TYPE ocsp_guard_cache_capacity_bytes"
                   " gauge\nocsp_guard_cache_capacity_bytes{cache=\"%s\"} %"
                   APR_SIZE_T_FMT "\n", og_label(r->pool, og->cache_desc),
                   og->cache_capacity);
    ap_rprintf(r, "# HELP ocsp_guard_cache_evictions_total Responses found gone"
               " from the cache\n# TYPE ocsp_guard_cache_evictions_total"
               " counter\nocsp_guard_cache_evictions_total %" APR_UINT64_T_FMT
               "\n# HELP ocsp_guard_cache_store_failures_total Responses the"
               " cache refused to store\n# TYPE"
               " ocsp_guard_cache_store_failures_total counter\n"
               "ocsp_guard_cache_store_failures_total %" APR_UINT64_T_FMT "\n",
               evictions, refused);
}

static void og_status_prometheus(request_rec *r, apr_time_t now)
{
    static const char *const metrics[][3] = {
        { "ocsp_guard_staples_served_total", "counter",
          "TLS handshakes that got a staple from mod_ocsp_guard" },
        { "ocsp_guard_handshakes_without_staple_total", "counter",
          "TLS handshakes asking for a staple that got none" },
        { "ocsp_guard_fetches_total", "counter",
          "OCSP fetch attempts by outcome and error class" },
        { "ocsp_guard_staple_expires_in_seconds", "gauge",
          "Seconds until the stapled response's nextUpdate" },
        { "ocsp_guard_consecutive_failures", "gauge",
          "Failed fetch rounds since the last success" },
    };
    int m, i, k;

    ap_set_content_type(r, "text/plain; version=0.0.4");
    for (m = 0; m < (int)(sizeof(metrics) / sizeof(metrics[0])); m++) {
        ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", metrics[m][0],
                   metrics[m][2], metrics[m][0], metrics[m][1]);
        for (i = 0; i < og->entries->nelts; i++) {
            og_entry_t *e = APR_ARRAY_IDX(og->entries, i, og_entry_t *);
            const og_slot_t *slot;
            const char *labels;

            if (!e->claimed || !og->slots)
                continue;
            slot = &og->slots[e->index];
            labels = apr_psprintf(r->pool, "cert_id=\"%s\",subject=\"%s\"",
                                  e->cert->sha1_hex,
                                  og_label(r->pool, e->cert->subject));
            switch (m) {
            case 0:
                ap_rprintf(r, "%s{%s} %u\n", metrics[m][0], labels,
                           slot->staples_served);
                break;
            case 1:
                ap_rprintf(r, "%s{%s} %u\n", metrics[m][0], labels,
                           slot->unstapled);
                break;
            case 2:
                ap_rprintf(r, "%s{%s,outcome=\"ok\"} %u\n", metrics[m][0],
                           labels, slot->fetch_ok);
                for (k = 1; k < OG_ERR_COUNT; k++)
                    if (slot->fetch_failed[k])
                        ap_rprintf(r, "%s{%s,outcome=\"failed\","
                                   "error_class=\"%s\"} %u\n", metrics[m][0],
                                   labels, og_error_name((og_error_e)k),
                                   slot->fetch_failed[k]);
                break;
            case 3:
                ap_rprintf(r, "%s{%s} %" APR_TIME_T_FMT "\n", metrics[m][0],
                           labels, slot->next_update > now
                               ? apr_time_sec(slot->next_update - now) : 0);
                break;
            default:
                ap_rprintf(r, "%s{%s} %u\n", metrics[m][0], labels,
                           slot->failures);
                break;
            }
        }
    }
    ap_rprintf(r, "# HELP ocsp_guard_certificates Certificates stapled by"
               " mod_ocsp_guard\n# TYPE ocsp_guard_certificates gauge\n"
               "ocsp_guard_certificates %d\n", og->owned);
    og_status_prometheus_cache(r);
}

static int og_status_handler(request_rec *r)
{
    const char *accept;
    int prometheus;

    if (!r->handler || strcmp(r->handler, "ocsp-guard-status") != 0)
        return DECLINED;
    r->allowed = AP_METHOD_BIT << M_GET;
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    if (!og)
        return HTTP_SERVICE_UNAVAILABLE;
    accept = apr_table_get(r->headers_in, "Accept");
    prometheus = (r->args && strstr(r->args, "format=prometheus"))
        || (accept && strstr(accept, "text/plain")
            && !strstr(accept, "application/json"));
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only)
        return OK;
    if (prometheus)
        og_status_prometheus(r, apr_time_now());
    else
        og_status_json(r, apr_time_now());
    return OK;
}

static int og_server_status(request_rec *r, int flags)
{
    apr_time_t now = apr_time_now();
    int i;

    if (!og || !og->slots || og->owned == 0)
        return OK;
    if (flags & AP_STATUS_SHORT) {
        for (i = 0; i < og->entries->nelts; i++) {
            og_entry_t *e = APR_ARRAY_IDX(og->entries, i, og_entry_t *);
            const og_slot_t *slot = &og->slots[e->index];
            if (e->claimed)
                ap_rprintf(r, "OCSPGuard: %s %s %" APR_TIME_T_FMT "\n",
                           e->cert->sha1_hex, og_staple_state(slot, now),
                           slot->next_update > now
                               ? apr_time_sec(slot->next_update - now) : 0);
        }
        return OK;
    }
    ap_rputs("<hr />\n<h2>mod_ocsp_guard</h2>\n<table border=\"1\"><tr>"
             "<th>Certificate</th><th>Staple</th><th>Expires in</th>"
             "<th>Source</th><th>Failures</th><th>Last error</th></tr>\n", r);
    for (i = 0; i < og->entries->nelts; i++) {
        og_entry_t *e = APR_ARRAY_IDX(og->entries, i, og_entry_t *);
        const og_slot_t *slot = &og->slots[e->index];
        if (!e->claimed)
            continue;
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%" APR_TIME_T_FMT
                   " s</td><td>%s</td><td>%u</td><td>%s</td></tr>\n",
                   ap_escape_html(r->pool, e->cert->subject),
                   og_staple_state(slot, now),
                   slot->next_update > now
                       ? apr_time_sec(slot->next_update - now) : 0,
                   og_source_name((og_source_e)slot->source), slot->failures,
                   slot->last_failure
                       ? ap_escape_html(r->pool, slot->last_error_detail) : "");
    }
    ap_rputs("</table>\n", r);
    return OK;
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

static int og_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    og = apr_pcalloc(pconf, sizeof(*og));
    og->pool = pconf;
    og->by_id = apr_hash_make_custom(pconf, og_id_hash);
    og->issuers = apr_hash_make(pconf);
    og->entries = apr_array_make(pconf, 8, sizeof(og_entry_t *));
    return ap_mutex_register(pconf, OG_MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

static const char *og_chain_desc(apr_pool_t *p, const og_entry_t *e)
{
    const char *out = "";
    int i;

    for (i = 0; i < e->chain->nelts; i++)
        out = apr_pstrcat(p, out, i ? ", then " : "",
            og_attempt_desc(p, &APR_ARRAY_IDX(e->chain, i, og_attempt_t)),
            NULL);
    return out;
}

/* One line per certificate saying who staples it and why. */
static void og_report_registry(server_rec *s, apr_pool_t *p)
{
    int i;

    for (i = 0; i < og->entries->nelts; i++) {
        og_entry_t *e = APR_ARRAY_IDX(og->entries, i, og_entry_t *);
        const char *vh = og_vhost_list(p, e);

        if (!e->cert) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, OGLOGNO(00101)
                         "certificate of %s not handled: %s", vh,
                         e->parse_error);
        }
        else if (e->claimed) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, OGLOGNO(00102)
                         "%s (serial %s, id %s%s) for %s: stapled by"
                         " mod_ocsp_guard, trying %s",
                         e->cert->subject, e->cert->serial_hex,
                         e->cert->sha1_hex,
                         e->cert->must_staple ? ", must-staple" : "", vh,
                         og_chain_desc(p, e));
        }
        else if (e->cert->ocsp_urls->nelts == 0) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, OGLOGNO(00103)
                         "%s (serial %s) for %s: no OCSP responder URL in"
                         " the certificate (its CA may have stopped OCSP);"
                         " not stapled", e->cert->subject,
                         e->cert->serial_hex, vh);
            {
                og_event_t ev;
                og_event_init(&ev, "cert_skipped", "info", apr_time_now());
                ev.staple_state = "none";
                ev.detail = "no OCSP responder URL in the certificate and no"
                            " OCSPGuardMirror: not stapled";
                og_emit(e, &ev, p);
            }
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

static apr_status_t og_cache_cleanup(void *data)
{
    og_state_t *st = data;

    if (st->cache && st->cache_provider)
        st->cache_provider->destroy(st->cache, st->s);
    st->cache = NULL;
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
static int og_check_cache_size(server_rec *s, og_server_conf_t *sc)
{
    apr_size_t size = og_shmcb_size(sc->cache_name, sc->cache_args);
    apr_size_t least = (apr_size_t)og->owned * (OG_RECORD_HDR_LEN + 1024);
    apr_size_t want = (apr_size_t)og->owned * (OG_RECORD_HDR_LEN + 2048) * 2;

    if (!size)
        return OK;
    if (size < least) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, OGLOGNO(00116)
                     "OCSPGuardCache %s: %" APR_SIZE_T_FMT " bytes cannot hold"
                     " a response for each of the %d certificates; write"
                     " OCSPGuardCache shmcb:<file>(%" APR_SIZE_T_FMT ") or"
                     " leave OCSPGuardCache out to have it sized for you",
                     og->cache_desc, size, og->owned, want);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (size < want)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, OGLOGNO(00117)
                     "OCSPGuardCache %s: %" APR_SIZE_T_FMT " bytes is tight"
                     " for %d certificates (responses may be evicted); %"
                     APR_SIZE_T_FMT " or more is advised", og->cache_desc,
                     size, og->owned, want);
    return OK;
}

static int og_setup_cache(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                          og_server_conf_t *sc)
{
    struct ap_socache_hints hints;
    const char *err;
    apr_status_t rv;

    if (sc->cache_instance) {
        og->cache_provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP,
            sc->cache_name, AP_SOCACHE_PROVIDER_VERSION);
        og->cache = sc->cache_instance;
        og->cache_desc = apr_pstrcat(pconf, sc->cache_name, ":",
                                     sc->cache_args ? sc->cache_args : "",
                                     NULL);
        og->cache_capacity = og_shmcb_size(sc->cache_name, sc->cache_args);
        if (og_check_cache_size(s, sc) != OK)
            return HTTP_INTERNAL_SERVER_ERROR;
    }
    else {
        /* Room for every certificate's record twice over (shmcb splits
         * its memory into subcaches), never under 512 KB. */
        apr_size_t size = (apr_size_t)og->owned * og->record_max * 2;
        const char *args;

        if (size < OG_CACHE_MIN_SIZE)
            size = OG_CACHE_MIN_SIZE;
        og->cache_provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP,
            "shmcb", AP_SOCACHE_PROVIDER_VERSION);
        if (!og->cache_provider) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, OGLOGNO(00106)
                         "the default cache needs mod_socache_shmcb: add"
                         " 'LoadModule socache_shmcb_module"
                         " modules/mod_socache_shmcb.so' or set"
                         " OCSPGuardCache to a loaded provider");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        args = apr_psprintf(pconf, "%s(%" APR_SIZE_T_FMT ")",
                            ap_runtime_dir_relative(pconf, OG_CACHE_FILE),
                            size);
        err = og->cache_provider->create(&og->cache, args, ptemp, pconf);
        if (err) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, OGLOGNO(00107)
                         "cannot create the default cache shmcb:%s: %s",
                         args, err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        og->cache_desc = apr_pstrcat(pconf, "shmcb:", args, NULL);
        og->cache_capacity = size;
    }
    if (og->cache_provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        rv = ap_global_mutex_create(&og->cache_mutex, NULL, OG_MUTEX_TYPE,
                                    NULL, s, pconf, 0);
        if (rv != APR_SUCCESS)
            return HTTP_INTERNAL_SERVER_ERROR;
    }
    memset(&hints, 0, sizeof(hints));
    hints.avg_id_len = OG_CERT_SHA1_LEN;
    hints.avg_obj_size = 2048;
    hints.expiry_interval = apr_time_from_sec(60);
    rv = og->cache_provider->init(og->cache, "ocsp-guard", &hints, s, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, OGLOGNO(00108)
                     "cannot initialise the response cache %s",
                     og->cache_desc);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_cleanup_register(pconf, og, og_cache_cleanup,
                              apr_pool_cleanup_null);
    return OK;
}

/* Debian and RHEL keep server state under /var/lib; elsewhere ServerRoot. */
static const char *og_default_state_dir(apr_pool_t *p)
{
    static const char *const bases[] = { "/var/lib/apache2", "/var/lib/httpd",
                                         NULL };
    apr_finfo_t fi;
    int i;

    for (i = 0; bases[i]; i++) {
        if (apr_stat(&fi, bases[i], APR_FINFO_TYPE, p) == APR_SUCCESS
            && fi.filetype == APR_DIR)
            return apr_pstrcat(p, bases[i], "/ocsp-guard", NULL);
    }
    return ap_server_root_relative(p, "ocsp-guard");
}

/* Make the state directory, owned by the user the children run as (they
 * write it). Without it the module still staples, from the network only. */
static void og_setup_state_dir(server_rec *s, og_server_conf_t *sc,
                               apr_pool_t *pconf)
{
    const char *dir = sc->state_dir ? sc->state_dir
                                    : og_default_state_dir(pconf);
    apr_status_t rv;

    og->state_dir = NULL;
    if (!strcmp(dir, "none"))
        return;
    rv = apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                | APR_FPROT_UEXECUTE | APR_FPROT_GREAD
                                | APR_FPROT_GEXECUTE, pconf);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, OGLOGNO(00120)
                     "cannot create the state directory %s: responses are"
                     " not kept across restarts (set OCSPGuardStateDir to a"
                     " writable directory, or 'none')", dir);
        return;
    }
    if (geteuid() == 0 && chown(dir, ap_unixd_config.user_id, (gid_t)-1) != 0)
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s, OGLOGNO(00121)
                     "cannot give the state directory %s to the server's"
                     " user; saving responses may fail", dir);
    og->state_dir = dir;
}

/* Staple from the first handshake after a restart: read back each saved
 * response, check it again as if it had just been fetched (certificate,
 * signature, validity), and put it in the cache. Anything else is ignored
 * and said in the log; start-up never fails on a bad file. */
static void og_load_persisted(server_rec *s, apr_pool_t *ptemp)
{
    apr_time_t now = apr_time_now();
    int i, loaded = 0;

    for (i = 0; og->state_dir && i < og->entries->nelts; i++) {
        og_entry_t *e = APR_ARRAY_IDX(og->entries, i, og_entry_t *);
        const char *name;
        unsigned char *data = NULL, *buf;
        apr_size_t len = 0;
        og_record_t rec;
        og_validation_t v;
        apr_status_t rv;

        if (!e->claimed)
            continue;
        rv = og_state_read(e, &rec, &data, &len, ptemp);
        if (rv == APR_ENOENT)
            continue;
        if (rv != APR_SUCCESS) {
            name = og_store_name(ptemp, e->cert->sha1_hex);
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, OGLOGNO(00122)
                         "%s: ignoring %s/%s: not a readable response record"
                         " for this certificate", e->cert->subject,
                         og->state_dir, name);
            continue;
        }
        if (og_validate_response(e->cert, rec.der, rec.der_len, now,
                                 OG_CLOCK_SKEW, &v, ptemp) != OG_OK) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, OGLOGNO(00123)
                         "%s: saved response not used: %s", e->cert->subject,
                         v.detail);
            continue;
        }
        rec.source = OG_SOURCE_STATEDIR;
        buf = apr_palloc(ptemp, og_record_size(&rec));
        if (og_record_encode(&rec, buf, og_record_size(&rec), NULL)
                != APR_SUCCESS
            || og_cache_put(e, buf, og_record_size(&rec), rec.next_update,
                            ptemp) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, OGLOGNO(00124)
                         "%s: saved response could not be cached (%s)",
                         e->cert->subject, og->cache_desc);
            continue;
        }
        e->this_update = v.this_update;
        e->next_update = v.next_update;
        og_schedule_refresh(e, now);
        og_slot_set_held(e, &rec, &v);
        loaded++;
    }
    if (og->state_dir)
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, OGLOGNO(00125)
                     "%d saved response(s) from %s stapled from the first"
                     " handshake", loaded, og->state_dir);
}

static int og_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    og_server_conf_t *sc = og_conf(s);
    ap_watchdog_t *wd = NULL;
    apr_status_t rv;
    int status;

    (void)plog;
    /* httpd reads its configuration twice at start-up; the first pass
     * only checks it. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    og->s = s;
    og->expiring_percent = sc->expiring_percent;
    og->notify_cmd = sc->notify_cmd;
    og_open_event_log(s, sc, pconf);
    og_report_registry(s, ptemp);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, OGLOGNO(00109)
                 "mod_ocsp_guard/%s: %d of %d certificate(s) stapled by this"
                 " module", OG_MODULE_VERSION, og->owned, og->entries->nelts);
    if (og->owned == 0)
        return OK;

    og->policy.refresh_percent = sc->refresh_percent;
    og->policy.retry_min = sc->retry_min;
    og->policy.retry_max = sc->retry_max;
    og->fetch_opts.connect_timeout = sc->connect_timeout;
    og->fetch_opts.timeout = sc->timeout;
    og->fetch_opts.max_size = sc->max_response_size;
    og->fetch_opts.max_parallel = OG_MAX_PARALLEL_FETCHES;
    og->fetch_opts.user_agent = "mod_ocsp_guard/" OG_MODULE_VERSION;
    og->record_max = OG_RECORD_HDR_LEN + sc->max_response_size;

    if ((status = og_setup_cache(pconf, ptemp, s, sc)) != OK)
        return status;

    rv = apr_shm_create(&og->shm,
                        sizeof(og_slot_t) * (apr_size_t)og->entries->nelts,
                        NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, OGLOGNO(00110)
                     "cannot create shared memory for %d certificate(s)",
                     og->entries->nelts);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    og->slots = apr_shm_baseaddr_get(og->shm);
    memset(og->slots, 0, sizeof(og_slot_t) * (apr_size_t)og->entries->nelts);

    og_setup_state_dir(s, sc, pconf);
    og_load_persisted(s, ptemp);

    if (og_fetch_global_init() != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, OGLOGNO(00111)
                     "cannot initialise libcurl");
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    og_wd_get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    og_wd_register = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!og_wd_get_instance || !og_wd_register) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, OGLOGNO(00112)
                     "mod_watchdog is required: add 'LoadModule"
                     " watchdog_module modules/mod_watchdog.so'");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* A singleton in a child, as mod_md does: one fetcher for the whole
     * server, and a crash in network code cannot take the parent down. */
    rv = og_wd_get_instance(&wd, OG_WATCHDOG_NAME, 0, 1, pconf);
    if (rv == APR_SUCCESS)
        rv = og_wd_register(wd, OG_WATCHDOG_TICK, og, og_watchdog);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, OGLOGNO(00113)
                     "cannot start the background fetcher");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* The child's copies are malloc'ed (replaced from the handshake path);
 * free them with the child, so that leak checkers see none. */
static apr_status_t og_locals_free(void *data)
{
    og_local_t *locals = data;
    int i;

    og->locals = NULL;
    for (i = 0; i < og->entries->nelts; i++) {
        free(locals[i].der);
        locals[i].der = NULL;
    }
    return APR_SUCCESS;
}

static void og_child_init(apr_pool_t *pchild, server_rec *s)
{
    int i;

    if (!og || og->owned == 0 || !og->slots)
        return;
    if (og->cache_mutex) {
        apr_status_t rv = apr_global_mutex_child_init(&og->cache_mutex,
            apr_global_mutex_lockfile(og->cache_mutex), pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, OGLOGNO(00114)
                         "cannot attach the cache mutex in this child;"
                         " it staples nothing");
            return;
        }
    }
    og->locals = NULL;
    {
        og_local_t *locals = apr_pcalloc(pchild, sizeof(og_local_t)
                                         * (apr_size_t)og->entries->nelts);
        for (i = 0; i < og->entries->nelts; i++) {
            if (apr_thread_rwlock_create(&locals[i].lock, pchild)
                != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, OGLOGNO(00115)
                             "cannot create a lock in this child; it"
                             " staples nothing");
                return;
            }
        }
        og->locals = locals;
        apr_pool_cleanup_register(pchild, locals, og_locals_free,
                                  apr_pool_cleanup_null);
    }
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
