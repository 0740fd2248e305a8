/* SPDX-License-Identifier: Apache-2.0 */
/* mod_ocsp_guard: OCSP stapling for Apache httpd that keeps sites up when a
 * CA's responder is not. Shared declarations of the httpd glue. */
#ifndef MOD_OCSP_GUARD_H
#define MOD_OCSP_GUARD_H

#include <httpd.h>
#include <http_config.h>
#include <ap_mmn.h>

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

/* Per-server configuration. Global-only settings live in the main server's
 * record; vhosts only carry `enabled`. */
typedef enum {
    OG_PROXY_UNSET = 0,
    OG_PROXY_FALLBACK,                  /* direct first, then the proxy */
    OG_PROXY_ALWAYS                     /* egress only through the proxy */
} og_proxy_mode_e;

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
#define OG_MAX_PARALLEL_FETCHES     8
#define OG_DEFAULT_EXPIRING_PERCENT 25
/* the same alert for the same certificate at most once per this long */
#define OG_NOTIFY_INTERVAL          apr_time_from_sec(300)
#define OG_NOTIFY_MAX_PENDING       16

#endif
