/* SPDX-License-Identifier: Apache-2.0 */
/* og_round: a whole fetch round against a real HTTP responder on
 * 127.0.0.1 run by the test, with the glue's callbacks recorded: what is
 * kept and from where, which events are said, what is fetched at all, and
 * what a shared cache's record can and cannot do. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "src/og_round.h"
#include "unit_pki.h"

/* --- a responder that answers every request with one preset answer --- */

static struct {
    int fd, port;
    volatile int requests;
    int status;
    unsigned char *body;
    size_t body_len;
    pthread_t thread;
    pthread_mutex_t lock;           /* body: the test changes it between
                                     * answers the server thread sends */
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void *serve(void *arg)
{
    (void)arg;
    for (;;) {
        char req[4096], head[128];
        int c = accept(srv.fd, NULL, NULL);
        ssize_t got;

        if (c < 0)
            return NULL;
        got = recv(c, req, sizeof(req), 0);
        (void)got;
        __sync_fetch_and_add(&srv.requests, 1);
        pthread_mutex_lock(&srv.lock);
        snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n", srv.status, srv.body_len);
        if (send(c, head, strlen(head), 0) > 0 && srv.body_len)
            (void)send(c, srv.body, srv.body_len, 0);
        pthread_mutex_unlock(&srv.lock);
        close(c);
    }
}

static void serve_start(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int one = 1;

    srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(srv.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(srv.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(srv.fd, 16), 0);
    getsockname(srv.fd, (struct sockaddr *)&sa, &len);
    srv.port = ntohs(sa.sin_port);
    pthread_create(&srv.thread, NULL, serve, NULL);
}

static void serve_stop(void)
{
    shutdown(srv.fd, SHUT_RDWR);
    close(srv.fd);
    pthread_join(srv.thread, NULL);
    OPENSSL_free(srv.body);
}

/* --- the PKI and the certificate --------------------------------------- */

static apr_pool_t *pool;
static upki_id_t ca, stranger, leaf;
static og_cert_t *cert;

static void answer(const upki_id_t *signer, long next_offset)
{
    upki_resp_t o;

    memset(&o, 0, sizeof(o));
    o.response_status = OCSP_RESPONSE_STATUS_SUCCESSFUL;
    o.for_cert = leaf.cert;
    o.for_issuer = ca.cert;
    o.signer = signer;
    o.cert_status = V_OCSP_CERTSTATUS_GOOD;
    o.this_offset = -10;
    o.next_offset = next_offset;
    o.include_signer = 1;
    pthread_mutex_lock(&srv.lock);
    OPENSSL_free(srv.body);
    srv.body = upki_response(&o, &srv.body_len);
    srv.status = 200;
    pthread_mutex_unlock(&srv.lock);
}

/* --- the glue, recorded ------------------------------------------------ */

static struct {
    int keeps;
    og_origin_e origin;
    apr_time_t kept_next_update;
    const char *events;
    const char *logs;
    int published;
    apr_status_t lookup_rv;
    og_record_t lookup_rec;
} io_seen;

static apr_status_t keep(void *ctx, og_item_t *it, const og_record_t *rec,
                         const unsigned char *record, apr_size_t len,
                         og_origin_e origin, apr_pool_t *p)
{
    og_record_t back;

    (void)ctx; (void)it; (void)p;
    /* what is kept decodes to what was said */
    assert_int_equal(og_record_decode(&back, record, len), APR_SUCCESS);
    assert_true(back.next_update == rec->next_update);
    io_seen.keeps++;
    io_seen.origin = origin;
    io_seen.kept_next_update = rec->next_update;
    return APR_SUCCESS;
}

static apr_status_t lookup(void *ctx, og_item_t *it, og_record_t *rec,
                           apr_pool_t *p)
{
    (void)ctx; (void)it; (void)p;
    *rec = io_seen.lookup_rec;
    return io_seen.lookup_rv;
}

static void emit(void *ctx, og_item_t *it, og_event_t *ev, int notify,
                 apr_pool_t *p)
{
    (void)ctx; (void)it; (void)notify; (void)p;
    io_seen.events = apr_pstrcat(pool, io_seen.events, *io_seen.events
                                 ? " " : "", ev->event, NULL);
}

static void log_line(void *ctx, int level, const char *line)
{
    (void)ctx; (void)level;
    io_seen.logs = apr_pstrcat(pool, io_seen.logs, line, "\n", NULL);
}

static void publish(void *ctx, og_item_t *it)
{
    (void)ctx; (void)it;
    io_seen.published++;
}

/* The lease in a shared cache of one slot. `steal`: another server's
 * write lands right after ours (a lost race); `fail`: the cache fails. */
static struct {
    int present;
    og_lease_t held;
    int reads, writes, drops;
    int steal;
    apr_status_t fail;
    char ops[32];               /* R, W, D in order */
    apr_time_t last_write, first_read_after;
} lease_seen;

static void lease_op(char op)
{
    size_t n = strlen(lease_seen.ops);

    if (n + 1 < sizeof(lease_seen.ops))
        lease_seen.ops[n] = op;
    if (op == 'W') {
        lease_seen.last_write = apr_time_now();
        lease_seen.first_read_after = 0;
    }
    else if (op == 'R' && lease_seen.last_write
             && !lease_seen.first_read_after)
        lease_seen.first_read_after = apr_time_now();
}

static const unsigned char stranger_token[OG_LEASE_TOKEN_LEN] = "another server";

static apr_status_t lease(void *ctx, og_item_t *it, og_lease_op_e op,
                          og_lease_t *l, apr_pool_t *p)
{
    (void)ctx; (void)it; (void)p;
    if (lease_seen.fail)
        return lease_seen.fail;
    lease_op("RWD"[op]);
    switch (op) {
    case OG_LEASE_READ:
        lease_seen.reads++;
        if (!lease_seen.present)
            return APR_NOTFOUND;
        *l = lease_seen.held;
        return APR_SUCCESS;
    case OG_LEASE_WRITE:
        lease_seen.writes++;
        lease_seen.present = 1;
        lease_seen.held = *l;
        if (lease_seen.steal)
            memcpy(lease_seen.held.token, stranger_token, OG_LEASE_TOKEN_LEN);
        return APR_SUCCESS;
    case OG_LEASE_DROP:
        lease_seen.drops++;
        if (lease_seen.present
            && !memcmp(lease_seen.held.token, l->token, OG_LEASE_TOKEN_LEN))
            lease_seen.present = 0;
        return APR_SUCCESS;
    }
    return APR_EINVAL;
}

static const og_round_io_t io = { NULL, keep, lookup, emit, log_line,
                                  publish, NULL, "memcache:127.0.0.1:1",
                                  NULL };
static const og_round_io_t io_leased = { NULL, keep, lookup, emit, log_line,
                                         publish, NULL,
                                         "memcache:127.0.0.1:1", lease };

static og_round_t round_conf;
static og_track_t track;
static og_item_t item;
static apr_array_header_t *items;

static int setup(void **state)
{
    const char *err = NULL;
    char *pem;
    apr_array_header_t *chain;
    og_way_t *w;

    (void)state;
    apr_pool_create(&pool, NULL);
    serve_start();
    ca = upki_make("Unit CA", NULL, 1, 1, NULL, NULL, 0);
    stranger = upki_make("Stranger CA", NULL, 4, 1, NULL, NULL, 0);
    leaf = upki_make("leaf.test", &ca, 10, 0, "serverAuth",
                     "OCSP;URI:http://127.0.0.1:1/", 0);
    pem = upki_pem_pair(leaf.cert, ca.cert);
    cert = og_cert_parse(pem, pool, &err);
    free(pem);
    if (!cert)
        return -1;
    /* a way that refuses, then the responder */
    chain = og_chain_make(pool);
    w = apr_array_push(chain);
    w->url = "http://127.0.0.1:1/";
    w->source = OG_SOURCE_DIRECT;
    w = apr_array_push(chain);
    w->url = apr_psprintf(pool, "http://127.0.0.1:%d/", srv.port);
    w->source = OG_SOURCE_MIRROR;
    item.cert = cert;
    item.chain = chain;
    item.track = &track;
    items = apr_array_make(pool, 1, sizeof(og_item_t *));
    APR_ARRAY_PUSH(items, og_item_t *) = &item;
    round_conf.policy.sched.refresh_percent = 50;
    round_conf.policy.sched.retry_min = apr_time_from_sec(60);
    round_conf.policy.sched.retry_max = apr_time_from_sec(600);
    round_conf.policy.expiring_percent = 25;
    round_conf.policy.must_staple_expiring_percent = 50;
    round_conf.policy.notify_interval = apr_time_from_sec(300);
    round_conf.fetch.connect_timeout = apr_time_from_sec(1);
    round_conf.fetch.timeout = apr_time_from_sec(2);
    round_conf.fetch.max_size = 16384;
    round_conf.fetch.max_parallel = 4;
    round_conf.skew = apr_time_from_sec(300);
    round_conf.policy.lease_time = apr_time_from_sec(3);
    round_conf.policy.lease_poll = apr_time_from_msec(100);
    memcpy(round_conf.lease_token, "this fetcher...", OG_LEASE_TOKEN_LEN);
    round_conf.io = &io;
    return og_fetch_global_init() == APR_SUCCESS ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    serve_stop();
    upki_free(&ca);
    upki_free(&stranger);
    upki_free(&leaf);
    apr_pool_destroy(pool);
    return 0;
}

/* A fresh certificate and a clean record of what the glue saw. */
static void reset(void)
{
    memset(&io_seen, 0, sizeof(io_seen));
    memset(&lease_seen, 0, sizeof(lease_seen));
    round_conf.io = &io;
    io_seen.events = "";
    io_seen.logs = "";
    io_seen.lookup_rv = APR_NOTFOUND;
    og_track_init(&track, 0, 0);
}

static void failover_to_a_valid_answer(void **state)
{
    int before;

    (void)state;
    reset();
    answer(&ca, 3600);
    before = srv.requests;
    og_round_run(&round_conf, items, pool);
    assert_int_equal(srv.requests - before, 1);
    assert_string_equal(io_seen.events, "fetch_failed fetch_ok failover");
    assert_int_equal(io_seen.keeps, 1);
    assert_int_equal(io_seen.origin, OG_FROM_FETCH);
    assert_string_equal(og_staple_name(og_track_staple(&track,
                        apr_time_now())), "fresh");
    assert_non_null(strstr(io_seen.logs, "OG00203: CN=leaf.test"));
    assert_non_null(strstr(io_seen.logs, "OG00201: CN=leaf.test"));
    assert_true(io_seen.published >= 2);
    /* not due again: nothing is fetched */
    before = srv.requests;
    io_seen.events = "";
    og_round_run(&round_conf, items, pool);
    assert_int_equal(srv.requests - before, 0);
    assert_string_equal(io_seen.events, "");
}

static void a_forged_answer_is_never_kept(void **state)
{
    (void)state;
    reset();
    answer(&stranger, 3600);
    og_round_run(&round_conf, items, pool);
    assert_string_equal(io_seen.events, "fetch_failed response_rejected");
    assert_int_equal(io_seen.keeps, 0);
    assert_int_equal(track.failures, 1);
    assert_int_equal(track.last_error, OG_ERR_VERIFY_FAILED);
    assert_non_null(strstr(io_seen.logs, "OG00204: CN=leaf.test"));
    assert_non_null(strstr(io_seen.logs, "staple none"));
}

/* A record as another server (or an attacker) would store it. */
static og_record_t shared_record(const upki_id_t *signer, long valid,
                                 apr_time_t claimed_next_update)
{
    og_record_t rec;

    answer(signer, valid);
    memset(&rec, 0, sizeof(rec));
    memcpy(rec.cert_sha1, cert->sha1, OG_CERT_SHA1_LEN);
    rec.this_update = apr_time_now();
    rec.next_update = claimed_next_update;
    rec.der = apr_pmemdup(pool, srv.body, srv.body_len);
    rec.der_len = srv.body_len;
    return rec;
}

static void a_forged_shared_record_is_rejected_then_fetched(void **state)
{
    int before;

    (void)state;
    reset();
    io_seen.lookup_rv = APR_SUCCESS;
    io_seen.lookup_rec = shared_record(&stranger, 3600,
                                       apr_time_now() + apr_time_from_sec(999));
    answer(&ca, 3600);
    before = srv.requests;
    og_round_run(&round_conf, items, pool);
    assert_string_equal(io_seen.events,
                        "response_rejected fetch_failed fetch_ok failover");
    assert_int_equal(track.cache_rejected, 1);
    assert_int_equal(srv.requests - before, 1);
    assert_int_equal(io_seen.keeps, 1);
    assert_int_equal(io_seen.origin, OG_FROM_FETCH);
}

static void a_valid_shared_record_saves_the_fetch(void **state)
{
    int before;
    apr_time_t liar = apr_time_now() + apr_time_from_sec(86400 * 365);

    (void)state;
    reset();
    io_seen.lookup_rv = APR_SUCCESS;
    /* genuine DER valid 600 s, under a header that claims a year */
    io_seen.lookup_rec = shared_record(&ca, 600, liar);
    before = srv.requests;
    og_round_run(&round_conf, items, pool);
    assert_int_equal(srv.requests - before, 0);
    assert_string_equal(io_seen.events, "");
    assert_int_equal(io_seen.keeps, 1);
    assert_int_equal(io_seen.origin, OG_FROM_SHARED);
    /* what is kept says what the DER says, not what the header claimed */
    assert_true(io_seen.kept_next_update < apr_time_now()
                                          + apr_time_from_sec(601));
    assert_true(track.next_update == io_seen.kept_next_update);
    assert_int_equal(track.cache_taken, 1);
    assert_non_null(strstr(io_seen.logs, "OG00207: CN=leaf.test"));
}

static void a_malformed_shared_record_is_rejected(void **state)
{
    (void)state;
    reset();
    io_seen.lookup_rv = APR_EINVAL;
    answer(&ca, 3600);
    og_round_run(&round_conf, items, pool);
    assert_string_equal(io_seen.events,
                        "response_rejected fetch_failed fetch_ok failover");
    assert_int_equal(io_seen.keeps, 1);
}

/* Learned failover: once the first way's responder refused, a second
 * certificate with the same chain goes to its next way at once. */
static void a_dead_responder_costs_one_failure(void **state)
{
    og_track_t track2;
    og_item_t item2 = item;
    apr_array_header_t *two = apr_array_make(pool, 2, sizeof(og_item_t *));
    og_round_t learning = round_conf;
    int before;

    (void)state;
    reset();
    og_track_init(&track2, 0, 0);
    item2.track = &track2;
    APR_ARRAY_PUSH(two, og_item_t *) = &item;
    APR_ARRAY_PUSH(two, og_item_t *) = &item2;
    learning.ways = og_ways_make(pool);
    learning.fetch.max_parallel = 1;        /* one after the other */
    answer(&ca, 3600);
    before = srv.requests;
    og_round_run(&learning, two, pool);
    /* responder_down said once; the second certificate never asked the
     * dead responder */
    assert_string_equal(io_seen.events, "responder_down fetch_failed fetch_ok"
                        " failover fetch_ok failover");
    assert_int_equal(srv.requests - before, 2);
    assert_int_equal(io_seen.keeps, 2);
    assert_int_equal(track2.fetch_failed[OG_ERR_CONNECT_REFUSED], 0);
    assert_int_equal(track.fetch_failed[OG_ERR_CONNECT_REFUSED], 1);
}

/* A fetch that waits for its responder's slot while the first one to that
 * responder times out goes to its next way once the responder is known
 * down, instead of waiting out the same timeout in its turn. */
static void waiting_fetches_leave_a_responder_found_down(void **state)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int hole = socket(AF_INET, SOCK_STREAM, 0);
    og_track_t track2;
    og_item_t one = item, two = item;
    apr_array_header_t *chain = og_chain_make(pool);
    apr_array_header_t *both = apr_array_make(pool, 2, sizeof(og_item_t *));
    og_round_t learning = round_conf;
    apr_time_t t0;
    og_way_t *w;

    (void)state;
    /* a responder that accepts (the kernel's backlog) and never answers */
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(hole, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(hole, 16), 0);
    getsockname(hole, (struct sockaddr *)&sa, &len);
    w = apr_array_push(chain);
    w->url = apr_psprintf(pool, "http://127.0.0.1:%d/", ntohs(sa.sin_port));
    w->source = OG_SOURCE_DIRECT;
    w = apr_array_push(chain);
    *w = APR_ARRAY_IDX(item.chain, 1, og_way_t);
    reset();
    og_track_init(&track2, 0, 0);
    one.chain = chain;
    two.chain = chain;
    two.track = &track2;
    APR_ARRAY_PUSH(both, og_item_t *) = &one;
    APR_ARRAY_PUSH(both, og_item_t *) = &two;
    learning.ways = og_ways_make(pool);
    learning.fetch.max_parallel = 2;
    learning.fetch.max_per_host = 1;    /* the second waits for the first */
    learning.fetch.timeout = apr_time_from_sec(1);
    learning.fetch.connect_timeout = apr_time_from_sec(1);
    answer(&ca, 3600);
    t0 = apr_time_now();
    og_round_run(&learning, both, pool);
    close(hole);
    assert_int_equal(io_seen.keeps, 2);
    assert_int_equal(track.fetch_failed[OG_ERR_READ_TIMEOUT], 1);
    assert_int_equal(track2.fetch_failed[OG_ERR_READ_TIMEOUT], 0);
    /* one timeout, not two in a row */
    assert_true(apr_time_now() - t0 < apr_time_from_msec(1900));
}

static void the_next_due_is_the_earliest(void **state)
{
    apr_time_t now = apr_time_now();

    (void)state;
    reset();
    track.next_attempt = now + apr_time_from_sec(100);
    track.next_update = now + apr_time_from_sec(50);
    assert_true(og_round_next_due(&round_conf, items) == now + apr_time_from_sec(50));
    track.expired_reported = 1;
    assert_true(og_round_next_due(&round_conf, items) == now + apr_time_from_sec(100));
}

/* --- leases: one fetch for the fleet ----------------------------------- */

static void a_free_lease_is_taken_fetched_under_and_dropped(void **state)
{
    int before;

    (void)state;
    reset();
    round_conf.io = &io_leased;
    answer(&ca, 3600);
    before = srv.requests;
    og_round_run(&round_conf, items, pool);
    assert_int_equal(srv.requests - before, 1);
    assert_int_equal(io_seen.keeps, 1);
    /* read, write, read back; dropped once the response is kept */
    assert_int_equal(lease_seen.reads, 2);
    assert_int_equal(lease_seen.writes, 1);
    assert_int_equal(lease_seen.drops, 1);
    assert_false(lease_seen.present);
    assert_memory_equal(lease_seen.held.cert_sha1, cert->sha1,
                        OG_CERT_SHA1_LEN);
    assert_int_equal(track.leases_won, 1);
    assert_int_equal(track.leases_lost, 0);
}

/* Another server is fetching: no request here; at the next look its
 * response is in the shared cache and taken: the fetch saved. */
static void another_servers_lease_waits_for_its_response(void **state)
{
    apr_time_t now = apr_time_now();
    int before;

    (void)state;
    reset();
    round_conf.io = &io_leased;
    lease_seen.present = 1;
    memcpy(lease_seen.held.token, stranger_token, OG_LEASE_TOKEN_LEN);
    lease_seen.held.pid = 77;
    answer(&ca, 3600);
    before = srv.requests;
    og_round_run(&round_conf, items, pool);
    assert_int_equal(srv.requests - before, 0);
    assert_int_equal(lease_seen.writes, 0);
    assert_int_equal(track.leases_lost, 1);
    assert_true(track.next_attempt >= now + apr_time_from_msec(100));
    assert_true(track.next_attempt < now + apr_time_from_sec(1));
    assert_non_null(strstr(io_seen.logs, "another server (pid 77) is"
                                         " fetching it"));
    /* the holder's response arrives; the next look takes it */
    io_seen.lookup_rv = APR_SUCCESS;
    io_seen.lookup_rec = shared_record(&ca, 600, apr_time_now());
    track.next_attempt = apr_time_now();
    og_round_run(&round_conf, items, pool);
    assert_int_equal(srv.requests - before, 0);
    assert_int_equal(io_seen.origin, OG_FROM_SHARED);
    assert_int_equal(track.cache_taken, 1);
    assert_int_equal(track.leases_lost, 1);
    assert_true(track.lease_wait_since == 0);
}

/* Two servers write the lease at once: the one whose write landed first
 * reads back the other's and waits. */
static void a_lost_race_waits(void **state)
{
    int before;

    (void)state;
    reset();
    round_conf.io = &io_leased;
    lease_seen.steal = 1;
    answer(&ca, 3600);
    before = srv.requests;
    og_round_run(&round_conf, items, pool);
    assert_int_equal(srv.requests - before, 0);
    assert_int_equal(lease_seen.writes, 1);
    assert_int_equal(track.leases_lost, 1);
    assert_int_equal(track.leases_won, 0);
}

/* The holder died (or lies): after one lease of waiting this server
 * takes the lease over and fetches. */
static void a_dead_holder_costs_one_lease(void **state)
{
    apr_time_t now = apr_time_now();
    int before;

    (void)state;
    reset();
    round_conf.io = &io_leased;
    lease_seen.present = 1;
    memcpy(lease_seen.held.token, stranger_token, OG_LEASE_TOKEN_LEN);
    track.lease_wait_since = now - round_conf.policy.lease_time;
    answer(&ca, 3600);
    before = srv.requests;
    og_round_run(&round_conf, items, pool);
    assert_int_equal(srv.requests - before, 1);
    assert_non_null(strstr(io_seen.logs, "OG00321: CN=leaf.test"));
    assert_int_equal(lease_seen.writes, 1);
    assert_int_equal(lease_seen.drops, 1);
    assert_false(lease_seen.present);
    assert_int_equal(track.leases_won, 1);
}

/* A failing cache costs nothing: the fetch goes ahead without a lease;
 * and when the record lookup failed, the lease is not even asked. */
static void a_failing_cache_fetches_without_a_lease(void **state)
{
    int before;

    (void)state;
    reset();
    round_conf.io = &io_leased;
    lease_seen.fail = APR_ECONNREFUSED;
    answer(&ca, 3600);
    before = srv.requests;
    og_round_run(&round_conf, items, pool);
    assert_int_equal(srv.requests - before, 1);
    assert_int_equal(io_seen.keeps, 1);
    assert_int_equal(track.leases_won + track.leases_lost, 0);

    reset();
    round_conf.io = &io_leased;
    io_seen.lookup_rv = APR_ECONNREFUSED;
    before = srv.requests;
    og_round_run(&round_conf, items, pool);
    assert_int_equal(srv.requests - before, 1);
    assert_int_equal(lease_seen.reads + lease_seen.writes, 0);
}

/* Every claim of a round is written before any is read back, and read
 * back lease_settle later: servers that found no lease at the same moment
 * have all written theirs by then, and only the last has it. */
static void claims_settle_before_they_are_read_back(void **state)
{
    og_track_t track2;
    og_item_t item2 = item;
    apr_array_header_t *two = apr_array_make(pool, 2, sizeof(og_item_t *));
    og_round_t settled = round_conf;
    int before;

    (void)state;
    reset();
    og_track_init(&track2, 0, 0);
    item2.track = &track2;
    APR_ARRAY_PUSH(two, og_item_t *) = &item;
    APR_ARRAY_PUSH(two, og_item_t *) = &item2;
    settled.io = &io_leased;
    settled.lease_settle = apr_time_from_msec(30);
    answer(&ca, 3600);
    before = srv.requests;
    og_round_run(&settled, two, pool);
    assert_string_equal(lease_seen.ops, "RWRWRRDD");
    assert_true(lease_seen.first_read_after - lease_seen.last_write
                >= apr_time_from_msec(30));
    assert_int_equal(srv.requests - before, 2);
    assert_int_equal(track.leases_won + track2.leases_won, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failover_to_a_valid_answer),
        cmocka_unit_test(a_forged_answer_is_never_kept),
        cmocka_unit_test(a_forged_shared_record_is_rejected_then_fetched),
        cmocka_unit_test(a_valid_shared_record_saves_the_fetch),
        cmocka_unit_test(a_malformed_shared_record_is_rejected),
        cmocka_unit_test(a_dead_responder_costs_one_failure),
        cmocka_unit_test(waiting_fetches_leave_a_responder_found_down),
        cmocka_unit_test(the_next_due_is_the_earliest),
        cmocka_unit_test(a_free_lease_is_taken_fetched_under_and_dropped),
        cmocka_unit_test(another_servers_lease_waits_for_its_response),
        cmocka_unit_test(a_lost_race_waits),
        cmocka_unit_test(a_dead_holder_costs_one_lease),
        cmocka_unit_test(a_failing_cache_fetches_without_a_lease),
        cmocka_unit_test(claims_settle_before_they_are_read_back),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests(tests, setup, teardown);
    apr_terminate();
    return rc;
}
