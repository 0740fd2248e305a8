/* SPDX-License-Identifier: Apache-2.0 */
/* mod_ocsp_guard: what the module shows. The fetcher publishes each
 * certificate's state into shared memory (og_slot_publish, the one
 * function that writes it); the status handler (SetHandler
 * ocsp-guard-status: JSON, or Prometheus text with ?format=prometheus) and
 * a section in mod_status read it from any child. Rendering is in
 * src/og_report.c. */

#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_status.h>

#include "mod_ocsp_guard.h"

void og_slot_publish(void *ctx, og_item_t *it)
{
    og_entry_t *e = it->baton;
    const og_track_t *t = &e->track;
    og_slot_t *slot = &og->slots[e->index];
    int k;

    (void)ctx;
    slot->cert_status = (apr_uint32_t)t->cert_status;
    slot->source = (apr_uint32_t)t->source;
    slot->last_error = (apr_uint32_t)t->last_error;
    slot->failures = (apr_uint32_t)t->failures;
    slot->fetch_ok = t->fetch_ok;
    for (k = 0; k < OG_ERR_COUNT; k++)
        slot->fetch_failed[k] = t->fetch_failed[k];
    slot->cached_bytes = e->cached_bytes;
    slot->evictions = t->evictions;
    slot->store_failures = t->store_failures;
    slot->cache_rejected = t->cache_rejected;
    slot->cache_taken = t->cache_taken;
    slot->leases_won = t->leases_won;
    slot->leases_lost = t->leases_lost;
    slot->this_update = t->this_update;
    slot->next_update = t->next_update;
    slot->last_success = t->last_success;
    slot->last_failure = t->last_failure;
    slot->next_attempt = t->next_attempt;
    apr_cpystrn(slot->responder, t->responder ? t->responder : "",
                sizeof(slot->responder));
    /* last_error_detail: the track writes it there itself */
}

void og_ways_publish(void *ctx, const og_ways_t *ways)
{
    const apr_array_header_t *list = og_ways_list(ways);
    int i, n = list->nelts < OG_MAX_RESPONDERS ? list->nelts
                                               : OG_MAX_RESPONDERS;

    (void)ctx;
    for (i = 0; i < n; i++) {
        const og_responder_t *r = APR_ARRAY_IDX(list, i, og_responder_t *);
        og_responder_view_t *v = &og->head->responders[i];

        apr_cpystrn(v->key, r->key, sizeof(v->key));
        v->down = r->down;
        v->failures = r->failures;
        v->last_error = r->last_error;
        v->since = r->since;
        v->retry_at = r->retry_at;
    }
    og->head->nresponders = n;
}

void og_shared_publish(void)
{
    og->head->shared = og->shared_stats;
}

const char *og_owner(const og_entry_t *e)
{
    if (!e->cert)
        return "unparsable";
    if (e->claimed)
        return "mod_ocsp_guard";
    if (e->cert->ocsp_urls->nelts == 0)
        return "none (no OCSP URL)";
    return e->enabled_vhosts ? "another provider" : "mod_ssl (OCSPGuard Off)";
}

static og_staple_e og_slot_staple(const og_slot_t *slot, apr_time_t now)
{
    return og_staple_state(slot->next_update, (int)slot->failures, now);
}

static void og_view_of(og_view_t *v, const og_entry_t *e, apr_time_t now,
                       apr_pool_t *p)
{
    const og_slot_t *slot = og->slots ? &og->slots[e->index] : NULL;
    int k;

    memset(v, 0, sizeof(*v));
    v->cert_id = e->cert ? e->cert->sha1_hex : "";
    v->subject = e->cert ? e->cert->subject : "";
    v->serial = e->cert ? e->cert->serial_hex : "";
    v->vhosts = og_vhost_list(p, e);
    v->owner = og_owner(e);
    v->must_staple = e->cert && e->cert->must_staple;
    if (!e->claimed || !e->cert || !slot)
        return;
    v->claimed = 1;
    v->not_after = e->cert->not_after;
    v->staple = og_slot_staple(slot, now);
    v->cert_status = (og_cert_status_e)slot->cert_status;
    v->source = (og_source_e)slot->source;
    v->responder = apr_pstrndup(p, slot->responder, sizeof(slot->responder));
    v->this_update = slot->this_update;
    v->next_update = slot->next_update;
    v->last_success = slot->last_success;
    v->last_failure = slot->last_failure;
    v->next_attempt = slot->next_attempt;
    v->last_error = (og_error_e)slot->last_error;
    v->last_error_detail = apr_pstrndup(p, slot->last_error_detail,
                                        sizeof(slot->last_error_detail));
    v->failures = slot->failures;
    v->fetch_ok = slot->fetch_ok;
    for (k = 0; k < OG_ERR_COUNT; k++)
        v->fetch_failed[k] = slot->fetch_failed[k];
    v->cached_bytes = slot->cached_bytes;
    v->evictions = slot->evictions;
    v->store_failures = slot->store_failures;
    v->cache_rejected = slot->cache_rejected;
    v->cache_taken = slot->cache_taken;
    v->leases_won = slot->leases_won;
    v->leases_lost = slot->leases_lost;
    v->staples_served = slot->staples_served;
    v->unstapled = slot->unstapled;
}

static const char *og_render(request_rec *r, int prometheus)
{
    apr_time_t now = apr_time_now();
    og_report_t rep;
    og_view_t *views;
    int i, n = og->entries->nelts;

    memset(&rep, 0, sizeof(rep));
    rep.module = "mod_ocsp_guard/" OG_MODULE_VERSION;
    rep.now = now;
    rep.cache = og->local.desc;
    rep.cache_capacity = og->local.capacity;
    rep.state_dir = og->state_dir;
    rep.owned = og->owned;
    if (og->head) {
        rep.responders = og->head->responders;
        rep.nresponders = og->head->nresponders;
    }
    if (og->head && og->shared.provider) {
        rep.shared = og->head->shared;
        rep.shared.name = og->shared.desc;
    }
    views = apr_pcalloc(r->pool, sizeof(*views) * (apr_size_t)(n ? n : 1));
    for (i = 0; i < n; i++)
        og_view_of(&views[i], APR_ARRAY_IDX(og->entries, i, og_entry_t *),
                   now, r->pool);
    return prometheus ? og_report_prometheus(r->pool, &rep, views, n)
                      : og_report_json(r->pool, &rep, views, n);
}

int og_status_handler(request_rec *r)
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
    ap_set_content_type(r, prometheus ? "text/plain; version=0.0.4"
                                      : "application/json");
    if (r->header_only)
        return OK;
    ap_rputs(og_render(r, prometheus), r);
    return OK;
}

int og_server_status(request_rec *r, int flags)
{
    apr_time_t now = apr_time_now();
    int i;

    if (!og || !og->slots || og->owned == 0)
        return OK;
    if (!(flags & AP_STATUS_SHORT))
        ap_rputs("<hr />\n<h2>mod_ocsp_guard</h2>\n<table border=\"1\"><tr>"
                 "<th>Certificate</th><th>Staple</th><th>Expires in</th>"
                 "<th>Source</th><th>Failures</th><th>Last error</th></tr>\n",
                 r);
    for (i = 0; i < og->entries->nelts; i++) {
        const og_entry_t *e = APR_ARRAY_IDX(og->entries, i, og_entry_t *);
        const og_slot_t *slot = &og->slots[e->index];
        const char *state = og_staple_name(og_slot_staple(slot, now));
        apr_time_t left = slot->next_update > now
                          ? apr_time_sec(slot->next_update - now) : 0;

        if (!e->claimed)
            continue;
        if (flags & AP_STATUS_SHORT) {
            ap_rprintf(r, "OCSPGuard: %s %s %" APR_TIME_T_FMT "\n",
                       e->cert->sha1_hex, state, left);
            continue;
        }
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%" APR_TIME_T_FMT
                   " s</td><td>%s</td><td>%u</td><td>%s</td></tr>\n",
                   ap_escape_html(r->pool, e->cert->subject), state, left,
                   og_source_name((og_source_e)slot->source), slot->failures,
                   slot->last_failure
                       ? ap_escape_html(r->pool, slot->last_error_detail)
                       : "");
    }
    if (!(flags & AP_STATUS_SHORT))
        ap_rputs("</table>\n", r);
    return OK;
}
