/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "og_event.h"
#include "og_report.h"

static const char *js(apr_pool_t *p, const char *s)
{
    return og_json_str(p, s ? s : "");
}

static const char *js_time(apr_pool_t *p, apr_time_t t)
{
    return t ? apr_pstrcat(p, "\"", og_rfc3339(p, t), "\"", NULL) : "null";
}

static void put(apr_array_header_t *out, const char *s)
{
    APR_ARRAY_PUSH(out, const char *) = s;
}

/* A must-staple certificate without a valid staple: browsers refuse the
 * site. The status says so in words, whoever staples it. */
static int must_staple_outage(const og_view_t *v)
{
    return v->must_staple && (!v->claimed || v->staple == OG_STAPLE_NONE
                              || v->staple == OG_STAPLE_EXPIRED);
}

static void json_cert(apr_pool_t *p, apr_array_header_t *out,
                      const og_view_t *v, apr_time_t now)
{
    const char *sep = "";
    int k;

    put(out, apr_psprintf(p, "{\"cert_id\":%s,\"subject\":%s,\"serial\":%s,"
                          "\"vhosts\":%s,\"stapled_by\":%s", js(p, v->cert_id),
                          js(p, v->subject), js(p, v->serial),
                          js(p, v->vhosts), js(p, v->owner)));
    if (must_staple_outage(v))
        put(out, ",\"outage\":\"must-staple certificate without a valid"
                 " staple: browsers refuse the site\"");
    if (!v->claimed) {
        put(out, "}");
        return;
    }
    put(out, apr_psprintf(p, ",\"must_staple\":%s,\"not_after\":%s,"
        "\"state\":\"%s\",\"cert_status\":%s,\"source\":%s,\"responder\":%s,"
        "\"this_update\":%s,\"next_update\":%s,",
        v->must_staple ? "true" : "false", js_time(p, v->not_after),
        og_staple_name(v->staple),
        v->next_update ? js(p, og_cert_status_name(v->cert_status)) : "null",
        v->next_update ? js(p, og_source_name(v->source)) : "null",
        v->responder && *v->responder ? js(p, v->responder) : "null",
        js_time(p, v->this_update), js_time(p, v->next_update)));
    if (v->next_update > now)
        put(out, apr_psprintf(p, "\"staple_expires_in_s\":%" APR_TIME_T_FMT
                              ",", apr_time_sec(v->next_update - now)));
    put(out, apr_psprintf(p, "\"last_success\":%s,\"last_failure\":%s,"
        "\"last_error_class\":%s,\"last_error\":%s,\"next_attempt\":%s,"
        "\"consecutive_failures\":%u,\"staples_served\":%u,"
        "\"handshakes_without_staple\":%u,\"cache_rejected\":%u,"
        "\"cache_taken\":%u,\"fetches_ok\":%u,\"fetches_failed\":{",
        js_time(p, v->last_success), js_time(p, v->last_failure),
        v->last_failure ? js(p, og_error_name(v->last_error)) : "null",
        v->last_failure ? js(p, v->last_error_detail) : "null",
        js_time(p, v->next_attempt), v->failures, v->staples_served,
        v->unstapled, v->cache_rejected, v->cache_taken, v->fetch_ok));
    for (k = 1; k < OG_ERR_COUNT; k++) {
        if (v->fetch_failed[k]) {
            put(out, apr_psprintf(p, "%s\"%s\":%u", sep,
                                  og_error_name((og_error_e)k),
                                  v->fetch_failed[k]));
            sep = ",";
        }
    }
    put(out, "}}");
}

const char *og_report_json(apr_pool_t *p, const og_report_t *r,
                           const og_view_t *views, int n)
{
    apr_array_header_t *out = apr_array_make(p, 16 + n * 8,
                                             sizeof(const char *));
    const og_shared_view_t *sh = &r->shared;
    unsigned rejected = 0, taken = 0, won = 0, lost = 0;
    int i;

    for (i = 0; i < n; i++) {
        rejected += views[i].cache_rejected;
        taken += views[i].cache_taken;
        won += views[i].leases_won;
        lost += views[i].leases_lost;
    }
    put(out, apr_psprintf(p, "{\"module\":%s,\"now\":%s,\"cache\":%s,",
                          js(p, r->module), js_time(p, r->now),
                          js(p, r->cache)));
    if (sh->name)
        put(out, apr_psprintf(p, "\"shared_cache\":{\"name\":%s,"
            "\"reachable\":%s,\"reads\":%u,\"misses\":%u,"
            "\"store_failures\":%u,\"rejected\":%u,\"fetches_saved\":%u,"
            "\"repopulated\":%u,\"leases_won\":%u,\"leases_lost\":%u},",
            js(p, sh->name), sh->reachable ? "true" : "false", sh->reads,
            sh->misses, sh->store_failures, rejected, taken, sh->repopulated,
            won, lost));
    put(out, "\"responders\":[");
    for (i = 0; i < r->nresponders; i++) {
        const og_responder_view_t *rv = &r->responders[i];
        put(out, apr_psprintf(p, "%s{\"responder\":%s,\"state\":\"%s\","
            "\"failures\":%d,\"last_error_class\":%s,\"down_since\":%s,"
            "\"next_probe\":%s}", i ? "," : "", js(p, rv->key),
            rv->down ? "down" : "up", rv->failures,
            rv->failures ? js(p, og_error_name(rv->last_error)) : "null",
            rv->down ? js_time(p, rv->since) : "null",
            rv->down ? js_time(p, rv->retry_at) : "null"));
    }
    put(out, "],");
    put(out, apr_psprintf(p, "\"state_dir\":%s,\"certificates\":[",
                          r->state_dir ? js(p, r->state_dir) : "null"));
    for (i = 0; i < n; i++) {
        if (i)
            put(out, ",");
        json_cert(p, out, &views[i], r->now);
    }
    put(out, "]}\n");
    return apr_array_pstrcat(p, out, 0);
}

const char *og_prom_label(apr_pool_t *p, const char *s)
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

static void help(apr_pool_t *p, apr_array_header_t *out, const char *name,
                 const char *type, const char *text)
{
    put(out, apr_psprintf(p, "# HELP %s %s\n# TYPE %s %s\n", name, text, name,
                          type));
}

/* One metric per certificate. */
typedef enum {
    M_SERVED, M_UNSTAPLED, M_FETCHES, M_EXPIRES, M_FAILURES, M_COUNT
} og_metric_e;

static const char *const metrics[M_COUNT][3] = {
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

static void prom_cert(apr_pool_t *p, apr_array_header_t *out, int m,
                      const og_view_t *v, const char *labels, apr_time_t now)
{
    const char *name = metrics[m][0];
    int k;

    switch ((og_metric_e)m) {
    case M_SERVED:
        put(out, apr_psprintf(p, "%s{%s} %u\n", name, labels,
                              v->staples_served));
        break;
    case M_UNSTAPLED:
        put(out, apr_psprintf(p, "%s{%s} %u\n", name, labels, v->unstapled));
        break;
    case M_FETCHES:
        put(out, apr_psprintf(p, "%s{%s,outcome=\"ok\"} %u\n", name, labels,
                              v->fetch_ok));
        for (k = 1; k < OG_ERR_COUNT; k++)
            if (v->fetch_failed[k])
                put(out, apr_psprintf(p, "%s{%s,outcome=\"failed\","
                                      "error_class=\"%s\"} %u\n", name,
                                      labels, og_error_name((og_error_e)k),
                                      v->fetch_failed[k]));
        break;
    case M_EXPIRES:
        put(out, apr_psprintf(p, "%s{%s} %" APR_TIME_T_FMT "\n", name, labels,
                              v->next_update > now
                                  ? apr_time_sec(v->next_update - now) : 0));
        break;
    default:
        put(out, apr_psprintf(p, "%s{%s} %u\n", name, labels, v->failures));
        break;
    }
}

static void prom_cache(apr_pool_t *p, apr_array_header_t *out,
                       const og_report_t *r, const og_view_t *views, int n)
{
    apr_uint64_t entries = 0, bytes = 0, evictions = 0, refused = 0;
    const char *cache = og_prom_label(p, r->cache ? r->cache : "");
    int i;

    for (i = 0; i < n; i++) {
        if (!views[i].claimed)
            continue;
        entries += views[i].cached_bytes != 0;
        bytes += views[i].cached_bytes;
        evictions += views[i].evictions;
        refused += views[i].store_failures;
    }
    help(p, out, "ocsp_guard_cache_entries", "gauge",
         "Responses held in the cache");
    put(out, apr_psprintf(p, "ocsp_guard_cache_entries{cache=\"%s\"} %"
                          APR_UINT64_T_FMT "\n", cache, entries));
    help(p, out, "ocsp_guard_cache_bytes", "gauge",
         "Bytes of the responses held in the cache");
    put(out, apr_psprintf(p, "ocsp_guard_cache_bytes{cache=\"%s\"} %"
                          APR_UINT64_T_FMT "\n", cache, bytes));
    if (r->cache_capacity) {
        help(p, out, "ocsp_guard_cache_capacity_bytes", "gauge",
             "Size of the shared-memory cache");
        put(out, apr_psprintf(p, "ocsp_guard_cache_capacity_bytes"
                              "{cache=\"%s\"} %" APR_SIZE_T_FMT "\n", cache,
                              r->cache_capacity));
    }
    help(p, out, "ocsp_guard_cache_evictions_total", "counter",
         "Responses found gone from the cache");
    put(out, apr_psprintf(p, "ocsp_guard_cache_evictions_total %"
                          APR_UINT64_T_FMT "\n", evictions));
    help(p, out, "ocsp_guard_cache_store_failures_total", "counter",
         "Responses the cache refused to store");
    put(out, apr_psprintf(p, "ocsp_guard_cache_store_failures_total %"
                          APR_UINT64_T_FMT "\n", refused));
}

static void prom_shared(apr_pool_t *p, apr_array_header_t *out,
                        const og_shared_view_t *sh, const og_view_t *views,
                        int n)
{
    static const char *const names[][2] = {
        { "ocsp_guard_shared_cache_reads_total",
          "Records the fetcher asked the shared cache for" },
        { "ocsp_guard_shared_cache_misses_total",
          "Records the shared cache did not have" },
        { "ocsp_guard_shared_cache_store_failures_total",
          "Records the shared cache refused or could not take" },
        { "ocsp_guard_shared_cache_rejected_total",
          "Records from the shared cache that failed validation" },
        { "ocsp_guard_shared_cache_fetches_saved_total",
          "Fetches saved by a fresher response another server stored" },
        { "ocsp_guard_shared_cache_repopulated_total",
          "Records put back into the shared cache after it lost them" },
        { "ocsp_guard_shared_cache_leases_won_total",
          "Fetches this server made for the fleet, under its lease" },
        { "ocsp_guard_shared_cache_leases_lost_total",
          "Times this server waited for another server's fetch (its lease)"
          " instead of fetching" },
    };
    unsigned values[] = { sh->reads, sh->misses, sh->store_failures, 0, 0,
                          sh->repopulated, 0, 0 };
    const char *cache = og_prom_label(p, sh->name);
    size_t i;
    int k;

    for (k = 0; k < n; k++) {
        values[3] += views[k].cache_rejected;
        values[4] += views[k].cache_taken;
        values[6] += views[k].leases_won;
        values[7] += views[k].leases_lost;
    }
    help(p, out, "ocsp_guard_shared_cache_up", "gauge",
         "1 when the shared cache answered at the last look");
    put(out, apr_psprintf(p, "ocsp_guard_shared_cache_up{cache=\"%s\"} %d\n",
                          cache, sh->reachable ? 1 : 0));
    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        help(p, out, names[i][0], "counter", names[i][1]);
        put(out, apr_psprintf(p, "%s{cache=\"%s\"} %u\n", names[i][0], cache,
                              values[i]));
    }
}

const char *og_report_prometheus(apr_pool_t *p, const og_report_t *r,
                                 const og_view_t *views, int n)
{
    apr_array_header_t *out = apr_array_make(p, 32 + n * 8,
                                             sizeof(const char *));
    int m, i;

    for (m = 0; m < M_COUNT; m++) {
        help(p, out, metrics[m][0], metrics[m][1], metrics[m][2]);
        for (i = 0; i < n; i++) {
            const og_view_t *v = &views[i];
            if (!v->claimed)
                continue;
            prom_cert(p, out, m, v,
                      apr_psprintf(p, "cert_id=\"%s\",subject=\"%s\"",
                                   v->cert_id, og_prom_label(p, v->subject)),
                      r->now);
        }
    }
    help(p, out, "ocsp_guard_certificates", "gauge",
         "Certificates stapled by mod_ocsp_guard");
    put(out, apr_psprintf(p, "ocsp_guard_certificates %d\n", r->owned));
    help(p, out, "ocsp_guard_must_staple_outage", "gauge",
         "1 for a must-staple certificate without a valid staple");
    for (i = 0; i < n; i++)
        if (views[i].must_staple)
            put(out, apr_psprintf(p, "ocsp_guard_must_staple_outage{cert_id="
                                  "\"%s\",subject=\"%s\"} %d\n",
                                  views[i].cert_id,
                                  og_prom_label(p, views[i].subject),
                                  must_staple_outage(&views[i])));
    prom_cache(p, out, r, views, n);
    if (r->nresponders) {
        help(p, out, "ocsp_guard_responder_up", "gauge",
             "0 while the fetcher skips a responder found unreachable");
        for (i = 0; i < r->nresponders; i++)
            put(out, apr_psprintf(p, "ocsp_guard_responder_up{responder="
                                  "\"%s\"} %d\n",
                                  og_prom_label(p, r->responders[i].key),
                                  !r->responders[i].down));
    }
    if (r->shared.name)
        prom_shared(p, out, &r->shared, views, n);
    return apr_array_pstrcat(p, out, 0);
}
