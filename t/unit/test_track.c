/* SPDX-License-Identifier: Apache-2.0 */
/* og_track: the state machine of one certificate, scenario by scenario.
 * Each scenario is a list of inputs at given times with what must come
 * out: the events (in order), which of them run the notify command, the
 * staple state after the step and whether a fetch is due. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "src/og_track.h"

#define SEC(n) apr_time_from_sec(n)
#define ANY (-1)

static apr_pool_t *pool;
static const apr_time_t T0 = APR_INT64_C(1800000000000000);
static const og_way_t ways[2] = {
    { "http://ocsp.example/", NULL, OG_SOURCE_DIRECT, NULL },
    { "http://mirror.example/", NULL, OG_SOURCE_MIRROR, NULL },
};

typedef struct {
    long at;                    /* seconds after T0; -1 ends the list */
    og_input_e kind;
    long valid;                 /* FETCHED, CANDIDATE: validity in seconds,
                                 * thisUpdate = at - age */
    long age;
    int flag;                   /* WAY_FAILED: answered; FETCHED: way index;
                                 * CANDIDATE: from the shared cache;
                                 * EVICTED: restored */
    og_error_e error;           /* WAY_FAILED, CANDIDATE_REJECTED */
    og_cert_status_e status;    /* FETCHED: the certificate's status */
    const char *events;         /* names, space separated */
    const char *notify;         /* the notified ones */
    const char *staple;         /* state after, NULL: not checked */
    int fetch;                  /* TICK: fetch due (0/1), ANY */
    int take;                   /* CANDIDATE: adopted (0/1), ANY */
} step_t;

typedef struct {
    const char *name;
    int must_staple;
    long not_after;             /* seconds after T0, 0: far away */
    step_t steps[20];
} scenario_t;

#define END { -1, OG_IN_TICK, 0, 0, 0, OG_OK, OG_CERT_GOOD, NULL, NULL, NULL, ANY, ANY }
#define TICK(at, ev, staple, fetch) \
    { at, OG_IN_TICK, 0, 0, 0, OG_OK, OG_CERT_GOOD, ev, ev, staple, fetch, ANY }
#define FETCHED(at, valid, way, ev, nt) \
    { at, OG_IN_FETCHED, valid, 0, way, OG_OK, OG_CERT_GOOD, ev, nt, "fresh", ANY, ANY }
#define REVOKED(at, valid, ev, nt) \
    { at, OG_IN_FETCHED, valid, 0, 0, OG_OK, OG_CERT_REVOKED, ev, nt, "fresh", ANY, ANY }
#define FAILED(at, err, answered, ev) \
    { at, OG_IN_WAY_FAILED, 0, 0, answered, err, OG_CERT_GOOD, ev, "", NULL, ANY, ANY }
#define ROUND_FAILED(at, ev, nt, staple) \
    { at, OG_IN_ROUND_FAILED, 0, 0, 0, OG_OK, OG_CERT_GOOD, ev, nt, staple, ANY, ANY }
#define LEASE_HELD(at, fetch) \
    { at, OG_IN_LEASE_HELD, 0, 0, 0, OG_OK, OG_CERT_GOOD, "", "", NULL, fetch, ANY }
#define LEASE_WON(at) \
    { at, OG_IN_LEASE_WON, 0, 0, 0, OG_OK, OG_CERT_GOOD, "", "", NULL, 0, ANY }
#define CANDIDATE(at, valid, age, shared, take) \
    { at, OG_IN_CANDIDATE, valid, age, shared, OG_OK, OG_CERT_GOOD, "", "", NULL, ANY, take }

static const scenario_t scenarios[] = {
    { "first fetch, then nothing until the refresh window", 0, 0, {
        TICK(0, "", "none", 1),
        FETCHED(0, 100, 0, "fetch_ok", ""),
        TICK(10, "", "fresh", 0),
        TICK(49, "", "fresh", 0),
        TICK(50, "", "fresh", 1),           /* 50% left, jitter 0 */
        END } },
    { "an outage is said at failures 1, 2, 4 and 8", 0, 0, {
        FETCHED(0, 1000, 0, "fetch_ok", ""),
        FAILED(500, OG_ERR_CONNECT_REFUSED, 0, "fetch_failed"),
        FAILED(501, OG_ERR_CONNECT_REFUSED, 0, "fetch_failed"),
        FAILED(502, OG_ERR_CONNECT_REFUSED, 0, ""),
        FAILED(503, OG_ERR_CONNECT_REFUSED, 0, "fetch_failed"),
        FAILED(504, OG_ERR_CONNECT_REFUSED, 0, ""),
        FAILED(505, OG_ERR_CONNECT_REFUSED, 0, ""),
        FAILED(506, OG_ERR_CONNECT_REFUSED, 0, ""),
        FAILED(507, OG_ERR_CONNECT_REFUSED, 0, "fetch_failed"),
        FAILED(508, OG_ERR_CONNECT_REFUSED, 0, ""),
        /* another failure is news again */
        FAILED(509, OG_ERR_HTTP_STATUS, 1, "response_rejected"),
        END } },
    { "expiring and expired said once each, then recovered", 0, 0, {
        FETCHED(0, 100, 0, "fetch_ok", ""),
        ROUND_FAILED(50, "", "", "stale-refreshing"),
        ROUND_FAILED(80, "staple_expiring", "staple_expiring", "stale-refreshing"),
        ROUND_FAILED(85, "", "", "stale-refreshing"),
        TICK(100, "staple_expired", "expired", ANY),
        TICK(101, "", "expired", ANY),
        ROUND_FAILED(102, "", "", "expired"),
        FETCHED(110, 100, 1, "fetch_ok failover recovered", "recovered"),
        /* a new outage is new news */
        ROUND_FAILED(190, "staple_expiring", "", "stale-refreshing"),
        END } },
    { "must-staple: staple_expiring at half the validity", 1, 0, {
        FETCHED(0, 100, 0, "fetch_ok", ""),
        ROUND_FAILED(45, "", "", "stale-refreshing"),
        ROUND_FAILED(51, "staple_expiring", "staple_expiring", "stale-refreshing"),
        END } },
    { "the notify command at most once per interval and kind", 0, 0, {
        REVOKED(0, 100, "fetch_ok cert_revoked", "cert_revoked"),
        REVOKED(60, 100, "fetch_ok cert_revoked", ""),
        REVOKED(299, 100, "fetch_ok cert_revoked", ""),
        REVOKED(300, 100, "fetch_ok cert_revoked", "cert_revoked"),
        END } },
    { "a store failure is a failed round: retried, stale", 0, 0, {
        FETCHED(0, 100, 0, "fetch_ok", ""),
        { 60, OG_IN_STORE_FAILED, 100, 0, 0, OG_OK, OG_CERT_GOOD,
          "cache_full", "", "stale-refreshing", ANY, ANY },
        TICK(60, "", "stale-refreshing", 0),
        TICK(90, "", "stale-refreshing", 1),
        END } },
    { "a fresher response from the cache is adopted, an older one not", 0, 0, {
        FETCHED(0, 100, 0, "fetch_ok", ""),
        CANDIDATE(10, 100, 20, 1, 0),       /* older */
        CANDIDATE(10, 100, 0, 1, 1),        /* thisUpdate 10 > 0 */
        CANDIDATE(10, 100, 0, 1, 0),        /* the same again */
        TICK(59, "", "fresh", 0),
        TICK(60, "", "fresh", 1),
        END } },
    { "a saved response at start-up, expired on disk: not adopted", 0, 0, {
        CANDIDATE(0, 100, 150, 0, 0),
        TICK(0, "", "none", 1),
        END } },
    { "a forged shared-cache record: rejected, the staple stays", 0, 0, {
        FETCHED(0, 100, 0, "fetch_ok", ""),
        { 5, OG_IN_CANDIDATE_REJECTED, 0, 0, 0, OG_ERR_VERIFY_FAILED,
          OG_CERT_GOOD, "response_rejected", "", "fresh", ANY, ANY },
        { 6, OG_IN_CANDIDATE_REJECTED, 0, 0, 0, OG_ERR_VERIFY_FAILED,
          OG_CERT_GOOD, "response_rejected", "", "fresh", ANY, ANY },
        { 7, OG_IN_CANDIDATE_REJECTED, 0, 0, 0, OG_ERR_VERIFY_FAILED,
          OG_CERT_GOOD, "", "", "fresh", ANY, ANY },
        END } },
    { "evicted: put back, or fetched again at once", 0, 0, {
        FETCHED(0, 100, 0, "fetch_ok", ""),
        { 5, OG_IN_EVICTED, 0, 0, 1, OG_OK, OG_CERT_GOOD, "cache_full", "",
          "fresh", ANY, ANY },
        TICK(6, "", "fresh", 0),
        { 7, OG_IN_EVICTED, 0, 0, 0, OG_OK, OG_CERT_GOOD, "cache_full", "",
          "fresh", ANY, ANY },
        TICK(7, "", "fresh", 1),
        END } },
    { "a certificate past notAfter: no more fetching, said once", 0, 30, {
        FETCHED(0, 100, 0, "fetch_ok", ""),
        TICK(29, "", "fresh", 0),
        TICK(30, "cert_expired", "fresh", 0),
        TICK(80, "", "fresh", 0),
        END } },
    /* the policy below: a lease of 5 s, looked at after 1 s, then 2 s... */
    { "another server fetches: wait, look again, take its response", 0, 0, {
        FETCHED(0, 100, 0, "fetch_ok", ""),
        TICK(50, "", "fresh", 1),
        LEASE_HELD(50, 0),                  /* look again at 51 */
        TICK(50, "", "fresh", 0),
        TICK(51, "", "fresh", 1),
        LEASE_HELD(51, 0),                  /* then at 53 */
        TICK(52, "", "fresh", 0),
        TICK(53, "", "fresh", 1),
        CANDIDATE(53, 100, 1, 1, 1),        /* its response: thisUpdate 52 */
        TICK(53, "", "fresh", 0),
        TICK(101, "", "fresh", 0),
        TICK(102, "", "fresh", 1),          /* the next refresh, from 52 */
        END } },
    { "a lease holder that never answers costs one lease, no more", 0, 0, {
        FETCHED(0, 100, 0, "fetch_ok", ""),
        LEASE_HELD(50, 0),                  /* 51 */
        LEASE_HELD(51, 0),                  /* 53 */
        LEASE_HELD(53, 0),                  /* 57, but the lease ends at 55 */
        TICK(54, "", "fresh", 0),
        TICK(55, "", "fresh", 1),
        LEASE_HELD(55, 1),                  /* waited a whole lease: fetch */
        LEASE_WON(55),
        FETCHED(55, 100, 0, "fetch_ok", ""),
        TICK(104, "", "fresh", 0),
        LEASE_HELD(105, 0),                 /* a new wait, a new lease */
        TICK(106, "", "fresh", 1),
        END } },
    { "never waits the staple away", 0, 0, {
        FETCHED(0, 100, 0, "fetch_ok", ""),
        LEASE_HELD(97, 0),                  /* 98 */
        LEASE_HELD(98, 0),                  /* 100, where the staple ends */
        TICK(99, "", "fresh", 0),
        TICK(100, "staple_expired", "expired", 1),
        LEASE_HELD(100, 1),
        END } },
    { "nothing held yet: wait for the fleet's fetch all the same", 0, 0, {
        TICK(0, "", "none", 1),
        LEASE_HELD(0, 0),
        LEASE_HELD(1, 0),
        LEASE_HELD(3, 0),
        TICK(4, "", "none", 0),
        TICK(5, "", "none", 1),
        LEASE_HELD(5, 1),
        END } },
    { "a failed round of our own ends a wait", 0, 0, {
        FETCHED(0, 100, 0, "fetch_ok", ""),
        LEASE_HELD(50, 0),
        LEASE_WON(51),
        ROUND_FAILED(51, "", "", "stale-refreshing"),
        LEASE_HELD(60, 0),                  /* a new wait: 61, ... 65 */
        LEASE_HELD(61, 0),
        LEASE_HELD(63, 0),
        LEASE_HELD(65, 1),
        END } },
    { "a response outliving its short-lived certificate is held", 0, 40, {
        FETCHED(0, 7 * 86400, 0, "fetch_ok", ""),
        TICK(39, "", "fresh", 0),
        END } },
};

static const og_track_policy_t policy = {
    { 50, SEC(1), SEC(64) }, 25, 50, SEC(300), SEC(5), SEC(1), 0
};

static const char *names(const og_step_t *st, int notified_only)
{
    const char *out = "";
    int i;

    for (i = 0; i < st->nevents; i++) {
        if (notified_only && !st->notify[i])
            continue;
        out = apr_pstrcat(pool, out, *out ? " " : "", st->events[i].event,
                          NULL);
    }
    return out;
}

static void run_scenario(const scenario_t *sc)
{
    og_track_t t;
    const step_t *s;
    og_validation_t v;
    og_step_t out;

    og_track_init(&t, sc->not_after ? T0 + SEC(sc->not_after) : 0,
                  sc->must_staple);
    for (s = sc->steps; s->at >= 0; s++) {
        apr_time_t now = T0 + SEC(s->at);
        og_input_t in;

        og_input_init(&in, s->kind);
        memset(&v, 0, sizeof(v));
        v.this_update = now - SEC(s->age);
        v.next_update = v.this_update + SEC(s->valid);
        v.cert_status = s->status;
        v.revocation_reason = -1;
        in.v = &v;
        in.way = &ways[s->kind == OG_IN_FETCHED ? s->flag : 0];
        in.way_index = s->kind == OG_IN_FETCHED ? s->flag : 0;
        in.ways = 2;
        in.error = s->error;
        in.detail = "because";
        in.answered = s->kind == OG_IN_WAY_FAILED && s->flag;
        in.from_shared = s->kind == OG_IN_CANDIDATE && s->flag;
        in.restored = s->kind == OG_IN_EVICTED && s->flag;
        in.cache = "memcache:127.0.0.1:11211";
        in.size = 1500;
        og_track_step(&t, &policy, &in, now, 0.0, &out, pool);
        if (strcmp(names(&out, 0), s->events))
            fail_msg("%s, at %ld s: events '%s', want '%s'", sc->name, s->at,
                     names(&out, 0), s->events);
        if (s->notify && strcmp(names(&out, 1), s->notify))
            fail_msg("%s, at %ld s: notified '%s', want '%s'", sc->name,
                     s->at, names(&out, 1), s->notify);
        if (s->staple
            && strcmp(og_staple_name(og_track_staple(&t, now)), s->staple))
            fail_msg("%s, at %ld s: staple '%s', want '%s'", sc->name, s->at,
                     og_staple_name(og_track_staple(&t, now)), s->staple);
        if (s->fetch != ANY && out.fetch != s->fetch)
            fail_msg("%s, at %ld s: fetch %d, want %d", sc->name, s->at,
                     out.fetch, s->fetch);
        if (s->take != ANY && out.take != s->take)
            fail_msg("%s, at %ld s: take %d, want %d", sc->name, s->at,
                     out.take, s->take);
    }
}

static void scenarios_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        run_scenario(&scenarios[i]);
}

/* Backoff doubles, but never past a quarter of the staple's remaining
 * life: retries come more often, not less, as expiry nears. */
static void backoff_tightens_near_expiry(void **state)
{
    og_track_t t;
    og_validation_t v = { 0 };
    og_input_t in;
    og_step_t out;
    apr_interval_time_t delays[8];
    int i;

    (void)state;
    og_track_init(&t, 0, 0);
    v.this_update = T0;
    v.next_update = T0 + SEC(200);
    og_input_init(&in, OG_IN_FETCHED);
    in.v = &v;
    in.way = &ways[0];
    og_track_step(&t, &policy, &in, T0, 0.5, &out, pool);
    for (i = 0; i < 8; i++) {
        apr_time_t now = T0 + SEC(100 + 10 * i);
        og_input_init(&in, OG_IN_ROUND_FAILED);
        og_track_step(&t, &policy, &in, now, 0.5, &out, pool);
        delays[i] = t.next_attempt - now;
        assert_int_equal(t.failures, i + 1);
        assert_true(delays[i] <= (T0 + SEC(200) - now) / 4 + SEC(1));
    }
    /* 1, 2, 4, 8, 16 s ... then the quarter of what is left wins */
    assert_true(delays[1] > delays[0]);
    assert_true(delays[2] > delays[1]);
    assert_true(delays[7] < delays[5]);
}

/* What the events carry besides their names. */
static void events_carry_the_facts(void **state)
{
    og_track_t t;
    og_validation_t v = { 0 };
    og_input_t in;
    og_step_t out;
    char detail[OG_TRACK_TEXT];
    int i;

    (void)state;
    og_track_init(&t, 0, 1);
    t.last_error_detail = detail;
    t.last_error_detail_size = sizeof(detail);
    v.this_update = T0;
    v.next_update = T0 + SEC(100);
    og_input_init(&in, OG_IN_FETCHED);
    in.v = &v;
    in.way = &ways[0];
    in.http_status = 200;
    in.elapsed_ms = 7;
    og_track_step(&t, &policy, &in, T0, 0.0, &out, pool);
    assert_int_equal(out.nevents, 1);
    assert_true(out.events[0].must_staple);
    assert_string_equal(out.events[0].staple_state, "fresh");
    assert_int_equal(out.events[0].staple_expires_in_s, 100);
    assert_int_equal(out.events[0].next_attempt_in_s, 50);
    assert_int_equal(out.events[0].elapsed_ms, 7);
    assert_string_equal(out.events[0].responder, "http://ocsp.example/");
    assert_string_equal(t.responder, "http://ocsp.example/");

    for (i = 1; i <= 4; i++) {
        og_input_init(&in, OG_IN_WAY_FAILED);
        in.way = &ways[1];
        in.error = OG_ERR_READ_TIMEOUT;
        in.detail = "no answer";
        og_track_step(&t, &policy, &in, T0 + SEC(60), 0.0, &out, pool);
    }
    assert_int_equal(out.nevents, 1);
    assert_int_equal(out.events[0].count, 4);
    assert_string_equal(out.events[0].error_class, "read_timeout");
    assert_string_equal(out.events[0].ah, og_error_ah(OG_ERR_READ_TIMEOUT));
    assert_string_equal(out.events[0].via, "mirror");
    assert_int_equal(t.fetch_failed[OG_ERR_READ_TIMEOUT], 4);
    assert_string_equal(t.last_error_detail,
                        "http://mirror.example/: no answer");
    /* must-staple: staple_expiring is critical */
    og_input_init(&in, OG_IN_ROUND_FAILED);
    og_track_step(&t, &policy, &in, T0 + SEC(60), 0.0, &out, pool);
    assert_int_equal(out.nevents, 1);
    assert_string_equal(out.events[0].event, "staple_expiring");
    assert_string_equal(out.events[0].severity, "critical");
    assert_string_equal(out.events[0].error_class, "read_timeout");
}

/* Leases lost count waits, not looks; won count fetches for the fleet;
 * without a lease time nothing ever waits. */
static void lease_counters(void **state)
{
    og_track_t t;
    og_track_policy_t nowait = policy;
    og_input_t in;
    og_step_t out;

    (void)state;
    og_track_init(&t, 0, 0);
    og_input_init(&in, OG_IN_LEASE_HELD);
    og_track_step(&t, &policy, &in, T0, 0.0, &out, pool);
    og_track_step(&t, &policy, &in, T0 + SEC(1), 0.0, &out, pool);
    og_track_step(&t, &policy, &in, T0 + SEC(3), 0.0, &out, pool);
    assert_int_equal(t.leases_lost, 1);
    assert_int_equal(t.lease_waits, 3);
    assert_int_equal(out.nevents, 0);
    og_input_init(&in, OG_IN_LEASE_WON);
    og_track_step(&t, &policy, &in, T0 + SEC(4), 0.0, &out, pool);
    assert_int_equal(t.leases_won, 1);
    assert_true(t.lease_wait_since == 0);
    og_input_init(&in, OG_IN_LEASE_HELD);
    og_track_step(&t, &policy, &in, T0 + SEC(9), 0.0, &out, pool);
    assert_int_equal(t.leases_lost, 2);
    assert_true(t.next_attempt == T0 + SEC(10));
    nowait.lease_time = 0;
    og_track_init(&t, 0, 0);
    og_track_step(&t, &nowait, &in, T0, 0.0, &out, pool);
    assert_int_equal(out.fetch, 1);
    assert_int_equal(t.leases_lost, 0);
}

/* Three servers holding the same response, each with its own random
 * draw: alone, their refreshes spread over a tenth of the time used (the
 * earliest of them refreshes for the fleet, earlier than one server
 * would); in a fleet, they come within fleet_spread of the time all of
 * them compute alike, and the certificates still refresh apart. */
static void a_fleet_refreshes_together(void **state)
{
    og_track_policy_t fleet = policy;
    og_validation_t v = { 0 };
    og_input_t in;
    og_step_t out;
    og_track_t t;
    const double draws[3] = { 0.0, 0.5, 0.99 };
    apr_time_t at[2][3], other;
    int k, i;

    (void)state;
    fleet.fleet_spread = apr_time_from_msec(250);
    v.this_update = T0;
    v.next_update = T0 + SEC(1000);
    for (k = 0; k < 2; k++) {
        for (i = 0; i < 3; i++) {
            og_track_init(&t, 0, 0);
            t.seed = 42;
            og_input_init(&in, OG_IN_CANDIDATE);
            in.v = &v;
            og_track_step(&t, k ? &fleet : &policy, &in, T0, draws[i], &out,
                          pool);
            at[k][i] = t.next_attempt;
        }
    }
    /* alone: 500 s used, up to 50 s apart */
    assert_true(at[0][0] - at[0][2] > SEC(49));
    /* a fleet: within 250 ms */
    assert_true(at[1][2] - at[1][0] < apr_time_from_msec(250));
    assert_true(at[1][2] >= at[1][0]);
    assert_true(at[1][0] >= T0 + SEC(450) && at[1][0] <= T0 + SEC(500));
    /* another certificate: another time */
    og_track_init(&t, 0, 0);
    t.seed = 43;
    og_track_step(&t, &fleet, &in, T0, 0.0, &out, pool);
    other = t.next_attempt;
    assert_true(other != at[1][0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_fleet_refreshes_together),
        cmocka_unit_test(lease_counters),
        cmocka_unit_test(scenarios_table),
        cmocka_unit_test(backoff_tightens_near_expiry),
        cmocka_unit_test(events_carry_the_facts),
    };
    int rc;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
