/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "og_track.h"

static const char *const notify_events[OG_NOTIFY_KINDS] = {
    "staple_expiring", "staple_expired", "cert_revoked", "recovered",
    "cert_expired"
};

void og_track_init(og_track_t *t, apr_time_t not_after, int must_staple)
{
    memset(t, 0, sizeof(*t));
    t->not_after = not_after;
    t->must_staple = must_staple;
}

void og_input_init(og_input_t *in, og_input_e kind)
{
    memset(in, 0, sizeof(*in));
    in->kind = kind;
    in->ocsp_status = -1;
    in->elapsed_ms = -1;
}

og_staple_e og_staple_state(apr_time_t next_update, int failures,
                            apr_time_t now)
{
    if (next_update > now)
        return failures ? OG_STAPLE_STALE : OG_STAPLE_FRESH;
    return next_update ? OG_STAPLE_EXPIRED : OG_STAPLE_NONE;
}

og_staple_e og_track_staple(const og_track_t *t, apr_time_t now)
{
    return og_staple_state(t->next_update, t->failures, now);
}

const char *og_staple_name(og_staple_e s)
{
    switch (s) {
    case OG_STAPLE_FRESH:   return "fresh";
    case OG_STAPLE_STALE:   return "stale-refreshing";
    case OG_STAPLE_EXPIRED: return "expired";
    default:                return "none";
    }
}

/* A new event, with what the state says about the staple at this moment. */
static og_event_t *event(og_track_t *t, og_step_t *out, const char *name,
                         const char *severity, apr_time_t now)
{
    og_event_t *ev;
    og_staple_e staple = og_track_staple(t, now);

    if (out->nevents >= OG_TRACK_MAX_EVENTS)
        out->nevents = OG_TRACK_MAX_EVENTS - 1;     /* never happens */
    ev = &out->events[out->nevents];
    out->notify[out->nevents] = 0;
    out->nevents++;
    og_event_init(ev, name, severity, now);
    ev->must_staple = t->must_staple;
    ev->staple_state = og_staple_name(staple);
    if (staple == OG_STAPLE_FRESH || staple == OG_STAPLE_STALE)
        ev->staple_expires_in_s = (long)apr_time_sec(t->next_update - now);
    if (t->next_attempt > now)
        ev->next_attempt_in_s = (long)apr_time_sec(t->next_attempt - now);
    return ev;
}

/* The alert program runs for the events an operator must act on, at most
 * once per notify_interval per certificate and kind. Decided after the
 * event is complete: call it last. */
static void notify_decide(og_track_t *t, const og_track_policy_t *pol,
                          og_step_t *out, apr_time_t now)
{
    int i, kind;

    for (i = 0; i < out->nevents; i++) {
        for (kind = 0; kind < OG_NOTIFY_KINDS; kind++)
            if (!strcmp(notify_events[kind], out->events[i].event))
                break;
        if (kind == OG_NOTIFY_KINDS)
            continue;
        if (t->notified[kind]
            && now - t->notified[kind] < pol->notify_interval)
            continue;
        t->notified[kind] = now;
        out->notify[i] = 1;
    }
}

static void schedule_refresh(og_track_t *t, const og_track_policy_t *pol,
                             apr_time_t now, double jitter)
{
    if (pol->fleet_spread <= 0) {
        t->next_attempt = og_sched_refresh_at(&pol->sched, t->this_update,
                                              t->next_update, now, jitter);
        return;
    }
    t->next_attempt = og_sched_refresh_at(&pol->sched, t->this_update,
        t->next_update, now, og_sched_shared_jitter(t->seed, t->this_update))
        + (apr_interval_time_t)((double)pol->fleet_spread * jitter);
}

/* The end of a wait for another server's fetch. */
static void lease_wait_over(og_track_t *t)
{
    t->lease_wait_since = 0;
    t->lease_waits = 0;
}

static void schedule_retry(og_track_t *t, const og_track_policy_t *pol,
                           apr_time_t now, double jitter)
{
    lease_wait_over(t);
    t->failures++;
    t->next_attempt = now + og_sched_retry_delay(&pol->sched, t->failures,
                                                 now, t->next_update, jitter);
}

/* Hold a validated response (fetched, or taken from a cache or disk). */
static void hold(og_track_t *t, const og_validation_t *v, og_source_e source,
                 const char *responder)
{
    t->this_update = v->this_update;
    t->next_update = v->next_update;
    t->cert_status = v->cert_status;
    t->source = source;
    if (responder)
        t->responder = responder;
    t->failures = 0;
    t->last_error = OG_OK;
    t->expiring_reported = 0;
    t->expired_reported = 0;
    t->fail_key = 0;
    t->fail_repeats = 0;
    lease_wait_over(t);
}

static void on_tick(og_track_t *t, og_step_t *out, apr_time_t now)
{
    og_event_t *ev;

    if (t->not_after && now >= t->not_after) {
        /* No CA answers for an expired certificate, and no client takes
         * it: stop asking, say it once. */
        if (!t->cert_expired_reported) {
            t->cert_expired_reported = 1;
            ev = event(t, out, "cert_expired", "critical", now);
            ev->detail = "the certificate is past its notAfter: renew it;"
                         " no OCSP response is fetched for it any more";
        }
        return;
    }
    if (t->next_update && t->next_update <= now && !t->expired_reported) {
        t->expired_reported = 1;
        ev = event(t, out, "staple_expired", "critical", now);
        ev->error_class = og_error_name(t->last_error);
        ev->ah = og_error_ah(t->last_error);
        ev->detail = "the last good response expired; no staple is sent"
                     " until a responder answers";
    }
    out->fetch = t->next_attempt <= now;
}

static void on_fetched(og_track_t *t, const og_track_policy_t *pol,
                       const og_input_t *in, og_step_t *out, apr_time_t now,
                       double jitter, apr_pool_t *p)
{
    const og_validation_t *v = in->v;
    int recovered_after = t->failures;
    og_event_t *ev, base;

    hold(t, v, in->way->source, og_way_name(in->way));
    t->last_success = now;
    t->fetch_ok++;
    schedule_refresh(t, pol, now, jitter);

    ev = event(t, out, "fetch_ok", "info", now);
    ev->responder = in->way->url;
    ev->via = og_source_name(in->way->source);
    ev->attempt = in->way_index + 1;
    ev->http_status = in->http_status;
    ev->ocsp_status = v->ocsp_status;
    ev->cert_status = og_cert_status_name(v->cert_status);
    ev->elapsed_ms = in->elapsed_ms;
    base = *ev;
    if (in->way_index > 0) {
        ev = event(t, out, "failover", "notice", now);
        *ev = base;
        ev->event = "failover";
        ev->severity = "notice";
        ev->detail = apr_psprintf(p, "answered by way %d of %d after the"
                                  " ones before it failed",
                                  in->way_index + 1, in->ways);
    }
    if (recovered_after > 0) {
        ev = event(t, out, "recovered", "notice", now);
        *ev = base;
        ev->event = "recovered";
        ev->severity = "notice";
        ev->count = recovered_after;
        ev->detail = apr_psprintf(p, "fresh response after %d failed"
                                  " round(s)", recovered_after);
    }
    if (v->cert_status == OG_CERT_REVOKED) {
        ev = event(t, out, "cert_revoked", "critical", now);
        *ev = base;
        ev->event = "cert_revoked";
        ev->severity = "critical";
        ev->detail = apr_psprintf(p, "the CA says this certificate is"
                                  " revoked (reason %d, at %s); the response"
                                  " is stapled as the CA sent it",
                                  v->revocation_reason,
                                  v->revoked_at ? og_rfc3339(p, v->revoked_at)
                                                : "unknown");
    }
}

static void on_store_failed(og_track_t *t, const og_track_policy_t *pol,
                            const og_input_t *in, og_step_t *out,
                            apr_time_t now, double jitter, apr_pool_t *p)
{
    og_event_t *ev;

    t->store_failures++;
    schedule_retry(t, pol, now, jitter);
    ev = event(t, out, "cache_full", "error", now);
    ev->responder = in->way ? in->way->url : NULL;
    ev->detail = apr_psprintf(p, "cannot store %" APR_SIZE_T_FMT " bytes in"
                              " %s", in->size, in->cache ? in->cache : "?");
}

/* The same failure from the same place again and again is said only the
 * 1st, 2nd, 4th, 8th ... time, with the count: an outage cannot flood. */
static int worth_saying(og_track_t *t, const char *key)
{
    apr_ssize_t len = APR_HASH_KEY_STRING;
    unsigned int hash = apr_hashfunc_default(key, &len) | 1u;

    if (t->fail_key == hash) {
        t->fail_repeats++;
    }
    else {
        t->fail_key = hash;
        t->fail_repeats = 1;
    }
    return !(t->fail_repeats & (t->fail_repeats - 1));
}

static void on_way_failed(og_track_t *t, const og_input_t *in,
                          og_step_t *out, apr_time_t now, apr_pool_t *p)
{
    const char *way = og_way_desc(p, in->way);
    og_event_t *ev;

    t->last_error = in->error;
    t->last_failure = now;
    if (t->last_error_detail)
        apr_cpystrn(t->last_error_detail,
                    apr_pstrcat(p, way, ": ", in->detail ? in->detail : "",
                                NULL),
                    t->last_error_detail_size);
    if ((unsigned)in->error < OG_ERR_COUNT)
        t->fetch_failed[in->error]++;
    if (!worth_saying(t, apr_pstrcat(p, og_error_name(in->error), " ", way,
                                     NULL)))
        return;
    ev = event(t, out, in->answered ? "response_rejected" : "fetch_failed",
               "warning", now);
    ev->responder = in->way->url;
    ev->via = og_source_name(in->way->source);
    ev->attempt = in->way_index + 1;
    ev->error_class = og_error_name(in->error);
    ev->http_status = in->http_status;
    ev->ocsp_status = in->answered ? in->ocsp_status : -1;
    ev->elapsed_ms = in->elapsed_ms;
    ev->ah = og_error_ah(in->error);
    ev->count = t->fail_repeats;
    ev->detail = in->detail;
}

static void on_round_failed(og_track_t *t, const og_track_policy_t *pol,
                            og_step_t *out, apr_time_t now, double jitter,
                            apr_pool_t *p)
{
    apr_interval_time_t validity = t->next_update - t->this_update;
    int percent = t->must_staple ? pol->must_staple_expiring_percent
                                 : pol->expiring_percent;
    og_event_t *ev;

    schedule_retry(t, pol, now, jitter);
    if (t->expiring_reported || t->next_update <= now || validity <= 0
        || (t->next_update - now) * 100 >= validity * percent)
        return;
    t->expiring_reported = 1;
    ev = event(t, out, "staple_expiring",
               t->must_staple ? "critical" : "error", now);
    ev->error_class = og_error_name(t->last_error);
    ev->ah = og_error_ah(t->last_error);
    ev->detail = apr_psprintf(p, "less than %d%% of the staple's validity is"
                              " left and every responder fails; it stops"
                              " being stapled at %s%s", percent,
                              og_rfc3339(p, t->next_update),
                              t->must_staple ? "; the certificate is"
                              " must-staple: browsers will then refuse the"
                              " site" : "");
}

static void on_candidate(og_track_t *t, const og_track_policy_t *pol,
                         const og_input_t *in, og_step_t *out,
                         apr_time_t now, double jitter, apr_pool_t *p)
{
    const og_validation_t *v = in->v;

    (void)p;
    if (v->this_update <= t->this_update || v->next_update <= now)
        return;
    /* Another server's (or an earlier fetcher's) fresher response: as good
     * as a fetch of our own, and one request fewer for the CA. */
    if (in->from_shared)
        t->cache_taken++;
    hold(t, v, in->source, in->cache);
    schedule_refresh(t, pol, now, jitter);
    out->take = 1;
}

static void on_candidate_rejected(og_track_t *t, const og_input_t *in,
                                  og_step_t *out, apr_time_t now,
                                  apr_pool_t *p)
{
    og_event_t *ev;
    const char *cache = in->cache ? in->cache : "the shared cache";

    t->cache_rejected++;
    if (!worth_saying(t, apr_pstrcat(p, og_error_name(in->error), " ",
                                     cache, NULL)))
        return;
    ev = event(t, out, "response_rejected", "warning", now);
    ev->responder = cache;
    ev->via = "shared-cache";
    ev->error_class = og_error_name(in->error);
    ev->count = t->fail_repeats;
    ev->detail = apr_pstrcat(p, "a record in ", cache, " failed validation"
                             " and is not used (", in->detail ? in->detail
                             : "invalid", "); the last good staple stays",
                             NULL);
}

static void on_evicted(og_track_t *t, const og_input_t *in, og_step_t *out,
                       apr_time_t now, apr_pool_t *p)
{
    og_event_t *ev;
    const char *what = in->restored ? "put back from the state dir"
                                    : "fetching it again now";

    t->evictions++;
    if (!in->restored)
        t->next_attempt = now;
    ev = event(t, out, "cache_full", "error", now);
    ev->detail = apr_psprintf(p, "response evicted from %s; %s",
                              in->cache ? in->cache : "the cache", what);
}

/* Due, but another server is fetching this certificate (it holds the
 * lease): wait for its response instead of asking the CA too, looking at
 * the shared cache again after lease_poll, then twice as long each time.
 * The wait never lasts longer than one lease since it began, nor past the
 * staple held: a holder that died, hangs or lies (anyone can write the
 * shared cache) costs one lease at most, never the staple. */
static void on_lease_held(og_track_t *t, const og_track_policy_t *pol,
                          og_step_t *out, apr_time_t now)
{
    apr_interval_time_t delay = pol->lease_poll > 0 ? pol->lease_poll
                                                    : apr_time_from_msec(100);
    apr_time_t deadline;

    if (pol->lease_time <= 0) {
        out->fetch = 1;
        return;
    }
    if (!t->lease_wait_since) {
        t->lease_wait_since = now;
        t->lease_waits = 0;
        t->leases_lost++;
    }
    deadline = t->lease_wait_since + pol->lease_time;
    /* a staple valid when the wait began is not waited away */
    if (t->next_update > t->lease_wait_since && t->next_update < deadline)
        deadline = t->next_update;
    if (now >= deadline) {
        lease_wait_over(t);
        out->fetch = 1;
        return;
    }
    delay <<= t->lease_waits < 6 ? t->lease_waits : 6;
    t->lease_waits++;
    t->next_attempt = now + delay < deadline ? now + delay : deadline;
}

static void on_lease_won(og_track_t *t)
{
    t->leases_won++;
    lease_wait_over(t);
}

void og_track_step(og_track_t *t, const og_track_policy_t *pol,
                   const og_input_t *in, apr_time_t now, double jitter,
                   og_step_t *out, apr_pool_t *p)
{
    memset(out, 0, sizeof(*out));
    switch (in->kind) {
    case OG_IN_TICK:
        on_tick(t, out, now);
        break;
    case OG_IN_FETCHED:
        on_fetched(t, pol, in, out, now, jitter, p);
        break;
    case OG_IN_STORE_FAILED:
        on_store_failed(t, pol, in, out, now, jitter, p);
        break;
    case OG_IN_WAY_FAILED:
        on_way_failed(t, in, out, now, p);
        break;
    case OG_IN_ROUND_FAILED:
        on_round_failed(t, pol, out, now, jitter, p);
        break;
    case OG_IN_CANDIDATE:
        on_candidate(t, pol, in, out, now, jitter, p);
        break;
    case OG_IN_CANDIDATE_REJECTED:
        on_candidate_rejected(t, in, out, now, p);
        break;
    case OG_IN_EVICTED:
        on_evicted(t, in, out, now, p);
        break;
    case OG_IN_LEASE_HELD:
        on_lease_held(t, pol, out, now);
        break;
    case OG_IN_LEASE_WON:
        on_lease_won(t);
        break;
    }
    notify_decide(t, pol, out, now);
}
