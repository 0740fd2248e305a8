/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <apr_strings.h>

#include "og_round.h"

/* A fetch under way for one certificate: the way it is on. Each job has a
 * pool of its own, freed as soon as its last attempt is handled, so that
 * with thousands due at once the round holds only the jobs in flight. */
typedef struct {
    const og_round_t *round;
    og_item_t *it;
    int way;
    int probe;                      /* only this way: a down responder's
                                     * probe, for a certificate not due */
    int leased;                     /* this fetcher holds the lease on it */
    apr_pool_t *pool;
} og_job_t;

static const char *fmt_time(apr_pool_t *p, apr_time_t t)
{
    char *buf = apr_palloc(p, APR_RFC822_DATE_LEN);

    apr_rfc822_date(buf, t);
    return buf;
}

static double no_jitter(void)
{
    return 0.0;
}

static double jitter(const og_round_t *r)
{
    return (r->jitter ? r->jitter : no_jitter)();
}

void og_round_say(const og_round_t *r, int level, const char *line)
{
    if (r->io->log)
        r->io->log(r->io->ctx, level, line);
}

/* The side effects of a step: the error-log lines that go with some
 * events, the events, the state shown. */
static void act(const og_round_t *r, og_item_t *it, og_step_t *st,
                apr_pool_t *p)
{
    const char *subject = it->cert->subject;
    int i;

    for (i = 0; i < st->nevents; i++) {
        og_event_t *ev = &st->events[i];

        if (!strcmp(ev->event, "staple_expired"))
            og_round_say(r, OG_LOG_ERR, apr_psprintf(p, "OG00205: %s: the last good"
                " response expired at %s and no fresh one could be fetched:"
                " no staple is sent until a responder answers", subject,
                fmt_time(p, it->track->next_update)));
        else if (!strcmp(ev->event, "cert_expired"))
            og_round_say(r, OG_LOG_ERR, apr_psprintf(p, "OG00208: %s (serial %s): the"
                " certificate expired at %s: renew it; no more OCSP"
                " requests are made for it", subject, it->cert->serial_hex,
                fmt_time(p, it->track->not_after)));
        else if (!strcmp(ev->event, "recovered"))
            og_round_say(r, OG_LOG_NOTICE, apr_psprintf(p, "OG00202: %s: recovered"
                " after %ld failed round(s): fresh response from %s",
                subject, ev->count, ev->responder));
        if (r->io->emit)
            r->io->emit(r->io->ctx, it, ev, st->notify[i], p);
    }
    if (r->io->publish)
        r->io->publish(r->io->ctx, it);
}

void og_round_apply(const og_round_t *r, og_item_t *it, const og_input_t *in,
                    apr_time_t now, og_step_t *st, apr_pool_t *p)
{
    og_track_step(it->track, &r->policy, in, now, jitter(r), st, p);
    act(r, it, st, p);
}

const unsigned char *og_round_record(const og_item_t *it,
                                     const og_validation_t *v,
                                     const unsigned char *der,
                                     apr_size_t der_len, og_source_e source,
                                     apr_time_t fetched_at, og_record_t *rec,
                                     apr_size_t *len, apr_pool_t *p)
{
    unsigned char *buf;

    memset(rec, 0, sizeof(*rec));
    memcpy(rec->cert_sha1, it->cert->sha1, OG_CERT_SHA1_LEN);
    rec->cert_status = v->cert_status;
    rec->source = source;
    rec->this_update = v->this_update;
    rec->next_update = v->next_update;
    rec->fetched_at = fetched_at;
    rec->der = der;
    rec->der_len = der_len;
    *len = og_record_size(rec);
    buf = apr_palloc(p, *len);
    if (og_record_encode(rec, buf, *len, NULL) != APR_SUCCESS)
        return NULL;
    rec->der = buf + OG_RECORD_HDR_LEN;
    return buf;
}

int og_round_offer(const og_round_t *r, og_item_t *it, const og_record_t *rec,
                   og_origin_e origin, const char *where, apr_time_t now,
                   const char **why, apr_pool_t *p)
{
    og_validation_t v;
    og_record_t kept;
    og_input_t in;
    og_step_t st;
    const unsigned char *record;
    apr_size_t len = 0;
    og_source_e source = origin == OG_FROM_DISK ? OG_SOURCE_STATEDIR
                                                 : rec->source;

    if (why)
        *why = "not fresher than the response held";
    /* The header only says whether it could be worth a look. */
    if (rec->this_update <= it->track->this_update)
        return 0;
    if (og_validate_response(it->cert, rec->der, rec->der_len, now, r->skew,
                             &v, p) != OG_OK) {
        if (why)
            *why = v.detail;
        if (origin == OG_FROM_SHARED) {
            og_input_init(&in, OG_IN_CANDIDATE_REJECTED);
            in.error = v.error;
            in.detail = v.detail;
            in.cache = where;
            og_round_apply(r, it, &in, now, &st, p);
        }
        return -1;
    }
    if (v.this_update <= it->track->this_update)
        return 0;
    record = og_round_record(it, &v, rec->der, rec->der_len, source,
                             rec->fetched_at, &kept, &len, p);
    if (!record || r->io->keep(r->io->ctx, it, &kept, record, len, origin, p)
                       != APR_SUCCESS) {
        if (why)
            *why = "it could not be stored";
        return 0;
    }
    og_input_init(&in, OG_IN_CANDIDATE);
    in.v = &v;
    in.source = source;
    in.from_shared = origin == OG_FROM_SHARED;
    in.cache = where;
    og_round_apply(r, it, &in, now, &st, p);
    if (origin == OG_FROM_SHARED)
        og_round_say(r, OG_LOG_INFO, apr_psprintf(p, "OG00207: %s: a fresher response,"
            " valid until %s, was already in the cache %s (stored by another"
            " server or an earlier fetcher): taken", it->cert->subject,
            fmt_time(p, v.next_update), where));
    return st.take;
}

/* A responder changed state (down, or back): said once, for every
 * certificate that uses it. */
static void responder_changed(const og_round_t *r, const og_responder_t *rs,
                              apr_time_t now, apr_pool_t *p)
{
    og_event_t ev;

    if (rs->down) {
        og_round_say(r, OG_LOG_WARNING, apr_psprintf(p, "OG00210: %s is down [%s]:"
            " certificates that would ask it try their next way at once"
            " until it answers again (next probe in %" APR_TIME_T_FMT " s)",
            rs->key, og_error_name(rs->last_error),
            apr_time_sec(rs->retry_at - now)));
        og_event_init(&ev, "responder_down", "warning", now);
        ev.error_class = og_error_name(rs->last_error);
        ev.ah = og_error_ah(rs->last_error);
        ev.detail = "certificates that would ask it try their next way at"
                    " once; it is probed again with backoff";
    }
    else {
        og_round_say(r, OG_LOG_NOTICE, apr_psprintf(p, "OG00211: %s answers again:"
            " used again in its place in every chain", rs->key));
        og_event_init(&ev, "responder_up", "notice", now);
        ev.detail = "it answered again and is used again in its place";
    }
    ev.responder = rs->key;
    if (r->io->emit)
        r->io->emit(r->io->ctx, NULL, &ev, 0, p);
    if (r->io->publish_ways)
        r->io->publish_ways(r->io->ctx, r->ways);
}

static void report_way(const og_round_t *r, const og_way_t *w,
                       og_error_e err, apr_time_t now, apr_pool_t *p)
{
    const og_responder_t *rs;

    if (r->ways && (rs = og_ways_report(r->ways, w, err, now)) != NULL)
        responder_changed(r, rs, now, p);
}

/* The fetch for the job's way, or for the first way after it whose
 * responder is not known to be down: a dead responder costs the other
 * certificates nothing when they have another way. When every way left is
 * down they are asked anyway, in order: the certificate's own retry
 * schedule decides when, not the responder's probe. */
static og_fetch_t *job_fetch(og_job_t *job, apr_time_t now)
{
    const apr_array_header_t *chain = job->it->chain;
    const og_way_t *w;
    int k = job->way;

    while (!job->probe && k < chain->nelts && job->round->ways
           && !og_ways_usable(job->round->ways,
                              &APR_ARRAY_IDX(chain, k, og_way_t), now))
        k++;
    if (k < chain->nelts)
        job->way = k;
    w = &APR_ARRAY_IDX(chain, job->way, og_way_t);
    return og_fetch_make(job->pool, w->url, job->it->cert->request_der,
                         job->it->cert->request_len, w->proxy, job);
}

/* A fetch waited for a slot of its responder; meanwhile that responder may
 * have been found down (the first wave of a round to a dead responder times
 * out while the rest wait): then the job goes on to its next way now,
 * rather than wait out the same timeout wave after wave. */
static og_fetch_t *way_still_up(og_fetch_t *f, void *ctx)
{
    og_job_t *job = f->baton;
    const og_round_t *r = job->round;
    const og_way_t *w = &APR_ARRAY_IDX(job->it->chain, job->way, og_way_t);
    const og_responder_t *rs;

    (void)ctx;
    if (job->probe || !r->ways || (rs = og_ways_get(r->ways, w)) == NULL
        || !rs->down)
        return f;
    return job_fetch(job, apr_time_now());
}

/* A way answered with a response that validated: keep it, step. */
static void fetched(og_job_t *job, og_fetch_t *f, const og_validation_t *v,
                    apr_time_t now)
{
    const og_round_t *r = job->round;
    og_item_t *it = job->it;
    const og_way_t *w = &APR_ARRAY_IDX(it->chain, job->way, og_way_t);
    apr_pool_t *p = job->pool;
    const unsigned char *record;
    og_record_t rec;
    og_input_t in;
    og_step_t st;
    apr_size_t len = 0;
    apr_status_t rv = APR_EINVAL;

    report_way(r, w, OG_OK, now, p);
    record = og_round_record(it, v, f->body, f->body_len, w->source, now,
                             &rec, &len, p);
    if (record)
        rv = r->io->keep(r->io->ctx, it, &rec, record, len, OG_FROM_FETCH, p);
    og_input_init(&in, rv == APR_SUCCESS ? OG_IN_FETCHED
                                         : OG_IN_STORE_FAILED);
    in.v = v;
    in.way = w;
    in.way_index = job->way;
    in.ways = it->chain->nelts;
    in.http_status = f->http_status;
    in.elapsed_ms = (long)apr_time_as_msec(f->elapsed);
    in.cache = "the local cache";
    in.size = len;
    if (rv != APR_SUCCESS) {
        og_round_say(r, OG_LOG_ERR, apr_psprintf(p, "OG00301: %s: valid response from"
            " %s could not be stored in the cache; it is too small or"
            " failing", it->cert->subject, f->url));
        og_round_apply(r, it, &in, now, &st, p);
        return;
    }
    og_round_apply(r, it, &in, now, &st, p);
    og_round_say(r, v->cert_status == OG_CERT_REVOKED ? OG_LOG_CRIT : OG_LOG_INFO,
        apr_psprintf(p, "OG00201: %s (serial %s): OCSP status %s from %s (%s,"
                     " %s, %" APR_SIZE_T_FMT " bytes, %" APR_TIME_T_FMT " ms),"
                     " valid until %s, next refresh in %" APR_TIME_T_FMT " s",
                     it->cert->subject, it->cert->serial_hex,
                     og_cert_status_name(v->cert_status), og_way_desc(p, w),
                     og_source_name(w->source), f->used_get ? "GET" : "POST",
                     f->body_len, apr_time_as_msec(f->elapsed),
                     fmt_time(p, v->next_update),
                     apr_time_sec(it->track->next_attempt - now)));
}

/* A way failed: step, then the next way, or the round failed. */
static og_fetch_t *way_failed(og_job_t *job, og_fetch_t *f, og_error_e err,
                              const char *detail, const og_validation_t *v,
                              apr_time_t now)
{
    const og_round_t *r = job->round;
    og_item_t *it = job->it;
    const og_way_t *w = &APR_ARRAY_IDX(it->chain, job->way, og_way_t);
    apr_pool_t *p = job->pool;
    og_track_t *t = it->track;
    og_input_t in;
    og_step_t st;

    report_way(r, w, err, now, p);
    og_input_init(&in, OG_IN_WAY_FAILED);
    in.way = w;
    in.way_index = job->way;
    in.ways = it->chain->nelts;
    in.error = err;
    in.detail = detail;
    in.answered = v != NULL;
    in.ocsp_status = v ? v->ocsp_status : -1;
    in.http_status = f->http_status;
    in.elapsed_ms = (long)apr_time_as_msec(f->elapsed);
    og_round_apply(r, it, &in, now, &st, p);
    og_round_say(r, OG_LOG_WARNING, apr_psprintf(p, "OG00203: %s: fetch from %s (%s)"
        " failed [%s, as mod_ssl's %s]: %s%s", it->cert->subject,
        og_way_desc(p, w), og_source_name(w->source), og_error_name(err),
        og_error_ah(err) ? og_error_ah(err) : "-", detail,
        t->next_update > now ? "; the last good response stays stapled"
                             : ""));
    if (job->probe || (r->stop && *r->stop))
        return NULL;    /* not due (a probe), or the process is exiting */
    if (++job->way < it->chain->nelts)
        return job_fetch(job, now);
    og_input_init(&in, OG_IN_ROUND_FAILED);
    og_round_apply(r, it, &in, now, &st, p);
    og_round_say(r, OG_LOG_WARNING, apr_psprintf(p, "OG00204: %s: every responder"
        " failed (%d in a row); next attempt in %" APR_TIME_T_FMT " s;"
        " staple %s", it->cert->subject, t->failures,
        apr_time_sec(t->next_attempt - now),
        t->next_update > now
            ? apr_psprintf(p, "valid until %s", fmt_time(p, t->next_update))
            : "none"));
    return NULL;
}

/* The job is over, its response kept (or every way failed): the lease
 * goes, so that the next round, here or on another server, need not wait
 * for it to run out. */
static void job_end(og_job_t *job)
{
    if (job->leased)
        og_round_lease_drop(job->round, job->it, job->pool);
    apr_pool_destroy(job->pool);
}

static og_fetch_t *job_done(og_fetch_t *f, void *ctx)
{
    og_job_t *job = f->baton;
    apr_time_t now = apr_time_now();
    og_validation_t v;
    og_fetch_t *follow;

    (void)ctx;
    if (f->error == OG_OK) {
        if (og_validate_response(job->it->cert, f->body, f->body_len, now,
                                 job->round->skew, &v, job->pool) == OG_OK) {
            fetched(job, f, &v, now);
            job_end(job);
            return NULL;
        }
        follow = way_failed(job, f, v.error, v.detail, &v, now);
    }
    else {
        follow = way_failed(job, f, f->error, f->detail, NULL, now);
    }
    if (!follow)
        job_end(job);
    return follow;
}

/* Due, and the shared cache may hold what another server fetched. 1 when
 * it did (nothing to fetch), 0 when it did not, -1 when it is failing. */
static int take_shared(const og_round_t *r, og_item_t *it, apr_time_t now,
                       apr_pool_t *p)
{
    apr_pool_t *sub;
    og_record_t rec;
    og_input_t in;
    og_step_t st;
    apr_status_t rv;
    int taken = 0;

    if (!r->io->lookup || apr_pool_create(&sub, p) != APR_SUCCESS)
        return 0;
    rv = r->io->lookup(r->io->ctx, it, &rec, sub);
    if (rv == APR_SUCCESS) {
        taken = og_round_offer(r, it, &rec, OG_FROM_SHARED,
                               r->io->shared_name, now, NULL, sub) == 1;
    }
    else if (rv == APR_EINVAL) {
        og_input_init(&in, OG_IN_CANDIDATE_REJECTED);
        in.error = OG_ERR_MALFORMED;
        in.detail = "not a well-formed record for this certificate";
        in.cache = r->io->shared_name;
        og_round_apply(r, it, &in, now, &st, sub);
    }
    else if (rv != APR_NOTFOUND) {
        taken = -1;
    }
    apr_pool_destroy(sub);
    return taken;
}

/* The certificates due in this round, handed to the fetcher one at a time
 * as transfer slots free up. */
typedef struct {
    og_item_t *it;
    int way;                        /* where to start */
    int probe;                      /* that way only: a responder's probe */
    int leased;                     /* under this fetcher's lease */
} og_due_t;

typedef struct {
    const og_round_t *round;
    apr_array_header_t *due;        /* og_due_t */
    int next;
    apr_pool_t *pool;
} og_run_t;

static og_fetch_t *next_fetch(void *ctx)
{
    og_run_t *run = ctx;
    const og_round_t *r = run->round;

    while (run->next < run->due->nelts && !(r->stop && *r->stop)) {
        og_due_t *d = &APR_ARRAY_IDX(run->due, run->next++, og_due_t);
        og_item_t *it = d->it;
        apr_time_t now = apr_time_now();
        apr_pool_t *job_pool;
        og_job_t *job;
        og_fetch_t *f;

        if (apr_pool_create(&job_pool, run->pool) != APR_SUCCESS)
            return NULL;
        job = apr_pcalloc(job_pool, sizeof(*job));
        job->round = r;
        job->it = it;
        job->way = d->way;
        job->probe = d->probe;
        job->leased = d->leased;
        job->pool = job_pool;
        if ((f = job_fetch(job, now)) != NULL)
            return f;
        job_end(job);
    }
    return NULL;
}

/* A down responder due for its probe, and no certificate due that would
 * ask it anyway: one certificate whose chain has it asks it alone. */
static void add_probes(const og_round_t *r, apr_array_header_t *items,
                       og_run_t *run, apr_time_t now)
{
    const apr_array_header_t *list;
    int i, k, w;

    if (!r->ways)
        return;
    list = og_ways_list(r->ways);
    for (k = 0; k < list->nelts; k++) {
        const og_responder_t *rs = APR_ARRAY_IDX(list, k, og_responder_t *);
        int found = 0;

        if (!rs->down || rs->probing || now < rs->retry_at)
            continue;
        for (i = 0; i < items->nelts && !found; i++) {
            og_item_t *it = APR_ARRAY_IDX(items, i, og_item_t *);
            int due, d;
            for (due = 0, d = 0; d < run->due->nelts && !due; d++)
                due = APR_ARRAY_IDX(run->due, d, og_due_t).it == it;
            if (due)
                continue;   /* asks its chain anyway, this way included */
            for (w = 0; w < it->chain->nelts && !found; w++) {
                const og_way_t *way = &APR_ARRAY_IDX(it->chain, w, og_way_t);
                if (og_ways_get(r->ways, way) == rs
                    && og_ways_usable(r->ways, way, now)) {
                    og_due_t *d = apr_array_push(run->due);
                    d->it = it;
                    d->way = w;
                    d->probe = 1;
                    d->leased = 0;
                    found = 1;
                }
            }
        }
    }
}

void og_round_run(const og_round_t *r, apr_array_header_t *items,
                  apr_pool_t *p)
{
    apr_array_header_t *claimed = apr_array_make(p, 8, sizeof(og_item_t *));
    apr_time_t now = apr_time_now();
    og_fetcher_t *fetcher = r->fetcher;
    og_run_t run;
    int i;

    run.round = r;
    run.due = apr_array_make(p, 8, sizeof(og_due_t));
    run.next = 0;
    run.pool = p;
    for (i = 0; i < items->nelts; i++) {
        og_item_t *it = APR_ARRAY_IDX(items, i, og_item_t *);
        og_input_t in;
        og_step_t st;
        og_claim_e claim = OG_CLAIM_NONE;
        og_due_t *d;
        int shared;

        og_input_init(&in, OG_IN_TICK);
        og_track_step(it->track, &r->policy, &in, now, jitter(r), &st, p);
        if (st.nevents)
            act(r, it, &st, p);
        if (!st.fetch || it->chain->nelts == 0)
            continue;
        /* what another server fetched, else the lease */
        shared = take_shared(r, it, now, p);
        if (shared == 1)
            continue;
        if (shared == 0)
            claim = og_round_lease_claim(r, it, now, p);
        if (claim == OG_CLAIM_WAIT)
            continue;
        if (claim == OG_CLAIM_MADE) {
            APR_ARRAY_PUSH(claimed, og_item_t *) = it;
            continue;
        }
        d = apr_array_push(run.due);
        d->it = it;
        d->way = 0;
        d->probe = 0;
        d->leased = 0;
    }
    /* The claims settle and are read back: the winners fetch. */
    if (claimed->nelts > 0) {
        if (r->lease_settle > 0)
            apr_sleep(r->lease_settle);
        now = apr_time_now();
        for (i = 0; i < claimed->nelts; i++) {
            og_item_t *it = APR_ARRAY_IDX(claimed, i, og_item_t *);
            int won = og_round_lease_verify(r, it, now, p);

            if (won != 0) {
                og_due_t *d = apr_array_push(run.due);
                d->it = it;
                d->way = 0;
                d->probe = 0;
                d->leased = won == 1;
            }
        }
    }
    add_probes(r, items, &run, now);
    if (run.due->nelts == 0)
        return;
    if (!fetcher && (fetcher = og_fetcher_make(p, &r->fetch)) == NULL)
        return;
    og_fetcher_run(fetcher, next_fetch, way_still_up, job_done, &run, p);
}

apr_time_t og_round_next_due(const og_round_t *r,
                             const apr_array_header_t *items)
{
    apr_time_t due = 0;
    int i;

    /* a down responder's probe */
    if (r && r->ways) {
        const apr_array_header_t *list = og_ways_list(r->ways);
        for (i = 0; i < list->nelts; i++) {
            const og_responder_t *rs = APR_ARRAY_IDX(list, i,
                                                     og_responder_t *);
            if (rs->down && (!due || rs->retry_at < due))
                due = rs->retry_at;
        }
    }

    for (i = 0; i < items->nelts; i++) {
        const og_item_t *it = APR_ARRAY_IDX(items, i, og_item_t *);
        const og_track_t *t = it->track;
        apr_time_t at = t->next_attempt;

        if (t->cert_expired_reported)
            continue;
        /* what must be said when it happens: the staple expiring, the
         * certificate expiring */
        if (t->next_update && !t->expired_reported && t->next_update < at)
            at = t->next_update;
        if (t->not_after && t->not_after < at)
            at = t->not_after;
        if (!due || at < due)
            due = at;
    }
    return due;
}
