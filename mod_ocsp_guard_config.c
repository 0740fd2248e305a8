/* SPDX-License-Identifier: Apache-2.0 */
/* mod_ocsp_guard: the directives. Each checks its argument when the
 * configuration is read, so that `apachectl configtest` fails on a mistake
 * with a message that says what to write instead. */

#include <string.h>

#include <apr_strings.h>
#include <apr_uri.h>

#include <httpd.h>
#include <http_config.h>
#include <ap_provider.h>
#include <ap_socache.h>

#include "mod_ocsp_guard.h"
#include "src/og_parse.h"

void *og_create_server_conf(apr_pool_t *p, server_rec *s)
{
    og_server_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    (void)s;
    sc->enabled = -1;
    sc->timeout = OG_DEFAULT_TIMEOUT;
    sc->parallel = OG_DEFAULT_PARALLEL;
    sc->per_responder = OG_DEFAULT_PER_RESPONDER;
    sc->connect_timeout = OG_DEFAULT_CONNECT_TIMEOUT;
    sc->refresh_percent = OG_DEFAULT_REFRESH_PERCENT;
    sc->retry_min = OG_DEFAULT_RETRY_MIN;
    sc->retry_max = OG_DEFAULT_RETRY_MAX;
    sc->max_response_size = OG_DEFAULT_MAX_RESPONSE;
    sc->expiring_percent = OG_DEFAULT_EXPIRING_PERCENT;
    return sc;
}

void *og_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    og_server_conf_t *base = basev, *add = addv;
    og_server_conf_t *sc;

    /* A vhost that says nothing of its own shares the main server's
     * configuration: thousands of vhosts need no copy each (nothing
     * writes a server's configuration once it is merged). */
    if (add->enabled == -1 && !add->mirrors && !add->proxy)
        return base;
    sc = apr_pmemdup(p, base, sizeof(*sc));
    sc->enabled = add->enabled != -1 ? add->enabled : base->enabled;
    sc->mirrors = add->mirrors ? add->mirrors : base->mirrors;
    sc->mirrors_first = add->mirrors ? add->mirrors_first
                                     : base->mirrors_first;
    sc->proxy = add->proxy ? add->proxy : base->proxy;
    sc->proxy_mode = add->proxy ? add->proxy_mode : base->proxy_mode;
    return sc;
}

og_server_conf_t *og_conf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &ocsp_guard_module);
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
    if (og_parse_duration(total, apr_time_from_msec(100),
                          apr_time_from_sec(300), &t) != OG_PARSE_OK)
        return apr_psprintf(cmd->pool, "%s ('%s' is not)", usage, total);
    if (connect) {
        if (og_parse_duration(connect, apr_time_from_msec(100), t, &ct)
            != OG_PARSE_OK)
            return apr_psprintf(cmd->pool, "%s ('%s' is not)", usage, connect);
    }
    else {
        ct = t < OG_DEFAULT_CONNECT_TIMEOUT ? t : OG_DEFAULT_CONNECT_TIMEOUT;
    }
    sc->timeout = t;
    sc->timeout_set = 1;
    sc->connect_timeout = ct;
    return NULL;
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
    if (og_parse_percent(arg, d->lo, d->hi, &v) != OG_PARSE_OK)
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
    if (og_parse_duration(min, apr_time_from_sec(1), apr_time_from_sec(86400),
                          &lo) != OG_PARSE_OK)
        return apr_psprintf(cmd->pool, "%s ('%s' is not)", usage, min);
    if (og_parse_duration(max, lo, apr_time_from_sec(86400), &hi)
        != OG_PARSE_OK)
        return apr_psprintf(cmd->pool, "%s ('%s' is not)", usage, max);
    sc->retry_min = lo;
    sc->retry_max = hi;
    return NULL;
}

static const char *og_set_max_response(cmd_parms *cmd, void *dc,
                                       const char *arg)
{
    og_server_conf_t *sc = og_conf(cmd->server);
    apr_size_t v = 0;
    const char *err;

    (void)dc;
    if ((err = og_global_only(cmd)) != NULL)
        return err;
    if (og_parse_size(arg, 1024, 1048576, &v) != OG_PARSE_OK)
        return apr_psprintf(cmd->pool, "OCSPGuardMaxResponseSize takes the"
            " largest OCSP response accepted, in bytes from 1024 to 1048576"
            " (or with K: 16K): e.g. 'OCSPGuardMaxResponseSize 16384'"
            " ('%s' is not)", arg);
    sc->max_response_size = v;
    return NULL;
}

/* http or https with a host: the only URLs the fetcher will use. */
static int og_url_ok(apr_pool_t *p, const char *url)
{
    return og_parse_url(url, p) == OG_PARSE_OK;
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

static const char *og_set_parallel(cmd_parms *cmd, void *dc,
                                   const char *total, const char *each)
{
    og_server_conf_t *sc = og_conf(cmd->server);
    int t = 0, e = 0;
    const char *err;
    const char *usage = "OCSPGuardParallel takes the most OCSP requests in"
        " flight at once, from 1 to 1024, then optionally the most of them"
        " to one responder, no more than the first: e.g."
        " 'OCSPGuardParallel 48 24'";

    (void)dc;
    if ((err = og_global_only(cmd)) != NULL)
        return err;
    /* a count is digits within a range, as a percentage without its sign */
    if (strchr(total, '%') || og_parse_percent(total, 1, 1024, &t)
                              != OG_PARSE_OK)
        return apr_psprintf(cmd->pool, "%s ('%s' is not)", usage, total);
    if (each && (strchr(each, '%') || og_parse_percent(each, 1, t, &e)
                                      != OG_PARSE_OK))
        return apr_psprintf(cmd->pool, "%s ('%s' is not)", usage, each);
    sc->parallel = t;
    sc->per_responder = each ? e : (t < OG_DEFAULT_PER_RESPONDER
                                    ? t : OG_DEFAULT_PER_RESPONDER);
    return NULL;
}

const command_rec og_cmds[] = {
    AP_INIT_FLAG("OCSPGuard", og_set_enabled, NULL, RSRC_CONF,
        "On (default) to have mod_ocsp_guard staple OCSP responses for this"
        " server's certificates, Off to leave them to mod_ssl"),
    AP_INIT_TAKE1("OCSPGuardCache", og_set_cache, NULL, RSRC_CONF,
        "provider[:arguments] of the shared object cache holding responses"),
    AP_INIT_TAKE12("OCSPGuardTimeout", og_set_timeout, NULL, RSRC_CONF,
        "seconds one fetch may take, optionally followed by the connect"
        " timeout"),
    AP_INIT_TAKE12("OCSPGuardParallel", og_set_parallel, NULL, RSRC_CONF,
        "most OCSP requests in flight, then the most to one responder"),
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
