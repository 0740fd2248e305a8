/* SPDX-License-Identifier: Apache-2.0 */
/* og_fetch against a real HTTP server on 127.0.0.1 run by the test itself:
 * RFC 5019 GET and POST on the wire, every failure class, failover within a
 * batch and the parallelism bound. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include "src/og_fetch.h"

typedef enum { MODE_OK, MODE_500, MODE_BIG, MODE_BLACKHOLE, MODE_CLOSE,
               MODE_SLOW_OK } server_mode_e;

typedef struct {
    int listen_fd;
    int port;
    server_mode_e mode;
    volatile int stop;
    pthread_t thread;
    pthread_mutex_t lock;
    /* what the last request looked like */
    char method[8];
    char path[1024];
    char content_type[128];
    unsigned char body[2048];
    size_t body_len;
    int requests;
    int concurrent, max_concurrent;     /* connections being served */
    int busy, max_busy;                 /* requests between read and answer:
                                         * what the client has in flight,
                                         * without a closing connection's
                                         * last moments */
    pthread_cond_t idle;                /* signalled when concurrent hits 0 */
} server_t;

static const unsigned char answer[] = "0\x82 pretend-ocsp-response";

static void handle(server_t *srv, int fd)
{
    char buf[8192];
    size_t got = 0;
    char *hdr_end = NULL, *cl;
    size_t body_len = 0, head;
    ssize_t n;

    /* read head and body */
    while (got < sizeof(buf) - 1) {
        n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (n <= 0)
            return;
        got += (size_t)n;
        buf[got] = '\0';
        if (!hdr_end && (hdr_end = strstr(buf, "\r\n\r\n")) != NULL) {
            cl = strcasestr(buf, "\r\nContent-Length:");
            body_len = cl ? (size_t)atol(cl + 17) : 0;
        }
        if (hdr_end && got >= (size_t)(hdr_end + 4 - buf) + body_len)
            break;
    }
    if (!hdr_end)
        return;
    head = (size_t)(hdr_end + 4 - buf);
    pthread_mutex_lock(&srv->lock);
    srv->requests++;
    sscanf(buf, "%7s %1023s", srv->method, srv->path);
    srv->content_type[0] = '\0';
    if ((cl = strcasestr(buf, "\r\nContent-Type: ")) != NULL)
        sscanf(cl + 16, "%127[^\r]", srv->content_type);
    srv->body_len = body_len < sizeof(srv->body) ? body_len : 0;
    memcpy(srv->body, buf + head, srv->body_len);
    pthread_mutex_unlock(&srv->lock);

    switch (srv->mode) {
    case MODE_BLACKHOLE:
        while (!srv->stop)
            usleep(10000);
        return;
    case MODE_CLOSE:
        return;
    case MODE_500:
        dprintf(fd, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n"
                    "Connection: close\r\n\r\n");
        return;
    case MODE_BIG: {
        static char big[64 * 1024];
        memset(big, 'x', sizeof(big));
        dprintf(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response"
                    "\r\nConnection: close\r\n\r\n");
        (void)!write(fd, big, sizeof(big));
        return;
    }
    case MODE_SLOW_OK:
        pthread_mutex_lock(&srv->lock);
        if (++srv->busy > srv->max_busy)
            srv->max_busy = srv->busy;
        pthread_mutex_unlock(&srv->lock);
        usleep(150000);
        pthread_mutex_lock(&srv->lock);
        srv->busy--;
        pthread_mutex_unlock(&srv->lock);
        /* fall through */
    case MODE_OK:
        dprintf(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response"
                    "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                sizeof(answer) - 1);
        (void)!write(fd, answer, sizeof(answer) - 1);
        return;
    }
}

static void *conn_thread(void *arg)
{
    void **a = arg;
    server_t *srv = a[0];
    int fd = (int)(intptr_t)a[1];

    free(a);
    handle(srv, fd);
    close(fd);
    pthread_mutex_lock(&srv->lock);
    if (--srv->concurrent == 0)
        pthread_cond_signal(&srv->idle);
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

static void *accept_loop(void *arg)
{
    server_t *srv = arg;

    while (!srv->stop) {
        int fd = accept(srv->listen_fd, NULL, NULL);
        pthread_t t;
        void **a;
        if (fd < 0)
            continue;
        if (srv->stop) {
            close(fd);
            break;
        }
        /* counted here, before the thread exists, so that server_stop
         * cannot miss a connection that is just starting */
        pthread_mutex_lock(&srv->lock);
        if (++srv->concurrent > srv->max_concurrent)
            srv->max_concurrent = srv->concurrent;
        pthread_mutex_unlock(&srv->lock);
        a = malloc(2 * sizeof(void *));
        a[0] = srv;
        a[1] = (void *)(intptr_t)fd;
        pthread_create(&t, NULL, conn_thread, a);
        pthread_detach(t);
    }
    return NULL;
}

static int listen_any(int *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64))
        return -1;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* One server at a time, static: after server_stop the test still reads
 * what the last request looked like, and nothing is left to free. */
static server_t the_server;

static server_t *server_start(server_mode_e mode)
{
    server_t *srv = &the_server;

    memset(srv, 0, sizeof(*srv));
    srv->mode = mode;
    srv->listen_fd = listen_any(&srv->port);
    assert_true(srv->listen_fd >= 0);
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->idle, NULL);
    pthread_create(&srv->thread, NULL, accept_loop, srv);
    return srv;
}

static void server_stop(server_t *srv)
{
    int fd;
    struct sockaddr_in sa;

    srv->stop = 1;
    /* wake accept() */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)srv->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    (void)!connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    pthread_join(srv->thread, NULL);
    close(srv->listen_fd);
    /* every connection thread has seen `stop` and let go of srv */
    pthread_mutex_lock(&srv->lock);
    while (srv->concurrent > 0)
        pthread_cond_wait(&srv->idle, &srv->lock);
    pthread_mutex_unlock(&srv->lock);
    pthread_cond_destroy(&srv->idle);
    pthread_mutex_destroy(&srv->lock);
}

/* a port where nothing listens */
static int dead_port(void)
{
    int port, fd = listen_any(&port);
    close(fd);
    return port;
}

static apr_pool_t *pool;
static og_fetch_opts_t opts;
static unsigned char small_req[] = { 0x30, 0x42, 0x30, 0x40, 0xfb, 0xff, 0x3e };
static unsigned char big_req[300];

static int setup(void **state)
{
    (void)state;
    apr_pool_create(&pool, NULL);
    og_fetch_global_init();
    opts.connect_timeout = apr_time_from_msec(500);
    opts.timeout = apr_time_from_msec(400);
    opts.max_size = 4096;
    opts.max_parallel = 4;
    opts.user_agent = "unit";
    memset(big_req, 0x5a, sizeof(big_req));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    apr_pool_destroy(pool);
    return 0;
}

static og_fetch_t *fetch_one(const char *url, const unsigned char *req,
                             apr_size_t len)
{
    apr_array_header_t *batch = apr_array_make(pool, 1, sizeof(og_fetch_t *));
    og_fetch_t *f = og_fetch_make(pool, url, req, len, NULL, NULL);

    APR_ARRAY_PUSH(batch, og_fetch_t *) = f;
    assert_int_equal(og_fetch_run(batch, &opts, NULL, NULL, pool), APR_SUCCESS);
    return f;
}

static void get_url_encoding(void **state)
{
    const unsigned char req[] = { 0xfb, 0xff, 0x3e };   /* base64 "+/8+" */
    const char *u;

    (void)state;
    u = og_fetch_get_url(pool, "http://h/ocsp", req, sizeof(req));
    assert_string_equal(u, "http://h/ocsp/%2B%2F8%2B");
    u = og_fetch_get_url(pool, "http://h/", req, sizeof(req));
    assert_string_equal(u, "http://h/%2B%2F8%2B");
    assert_null(og_fetch_get_url(pool, "http://h/", big_req, sizeof(big_req)));
}

static void get_on_the_wire(void **state)
{
    server_t *srv = server_start(MODE_OK);
    const char *url = apr_psprintf(pool, "http://127.0.0.1:%d/", srv->port);
    og_fetch_t *f = fetch_one(url, small_req, sizeof(small_req));
    const char *want = og_fetch_get_url(pool, url, small_req, sizeof(small_req));

    (void)state;
    server_stop(srv);
    assert_int_equal(f->error, OG_OK);
    assert_int_equal(f->http_status, 200);
    assert_true(f->used_get);
    assert_string_equal(srv->method, "GET");
    assert_string_equal(srv->path, want + strlen(url) - 1);
    assert_int_equal(f->body_len, sizeof(answer) - 1);
    assert_memory_equal(f->body, answer, sizeof(answer) - 1);
}

static void post_when_too_long_for_get(void **state)
{
    server_t *srv = server_start(MODE_OK);
    const char *url = apr_psprintf(pool, "http://127.0.0.1:%d/ocsp", srv->port);
    og_fetch_t *f = fetch_one(url, big_req, sizeof(big_req));

    (void)state;
    server_stop(srv);
    assert_int_equal(f->error, OG_OK);
    assert_false(f->used_get);
    assert_string_equal(srv->method, "POST");
    assert_string_equal(srv->path, "/ocsp");
    assert_string_equal(srv->content_type, "application/ocsp-request");
    assert_int_equal(srv->body_len, sizeof(big_req));
    assert_memory_equal(srv->body, big_req, sizeof(big_req));
}

static void http_500(void **state)
{
    server_t *srv = server_start(MODE_500);
    og_fetch_t *f = fetch_one(apr_psprintf(pool, "http://127.0.0.1:%d/",
                                           srv->port), small_req,
                              sizeof(small_req));

    (void)state;
    server_stop(srv);
    assert_int_equal(f->error, OG_ERR_HTTP_STATUS);
    assert_int_equal(f->http_status, 500);
}

static void oversize_body(void **state)
{
    server_t *srv = server_start(MODE_BIG);
    og_fetch_t *f = fetch_one(apr_psprintf(pool, "http://127.0.0.1:%d/",
                                           srv->port), small_req,
                              sizeof(small_req));

    (void)state;
    server_stop(srv);
    assert_int_equal(f->error, OG_ERR_TOO_LARGE);
    assert_true(f->body_len <= opts.max_size);
}

static void blackhole_times_out(void **state)
{
    server_t *srv = server_start(MODE_BLACKHOLE);
    apr_time_t t0 = apr_time_now();
    og_fetch_t *f = fetch_one(apr_psprintf(pool, "http://127.0.0.1:%d/",
                                           srv->port), small_req,
                              sizeof(small_req));
    apr_interval_time_t took = apr_time_now() - t0;

    (void)state;
    server_stop(srv);
    assert_int_equal(f->error, OG_ERR_READ_TIMEOUT);
    assert_true(took >= apr_time_from_msec(350));
    assert_true(took < apr_time_from_sec(3));
}

static void closed_without_answer(void **state)
{
    server_t *srv = server_start(MODE_CLOSE);
    og_fetch_t *f = fetch_one(apr_psprintf(pool, "http://127.0.0.1:%d/",
                                           srv->port), small_req,
                              sizeof(small_req));

    (void)state;
    server_stop(srv);
    assert_int_equal(f->error, OG_ERR_READ_ERROR);
}

static void refused(void **state)
{
    og_fetch_t *f = fetch_one(apr_psprintf(pool, "http://127.0.0.1:%d/",
                                           dead_port()), small_req,
                              sizeof(small_req));

    (void)state;
    assert_int_equal(f->error, OG_ERR_CONNECT_REFUSED);
}

static void only_http_and_https(void **state)
{
    og_fetch_t *f = fetch_one("ftp://127.0.0.1/", small_req, sizeof(small_req));

    (void)state;
    assert_int_not_equal(f->error, OG_OK);
    f = fetch_one("file:///etc/passwd", small_req, sizeof(small_req));
    assert_int_not_equal(f->error, OG_OK);
    assert_int_equal(f->body_len, 0);
}

/* failover: the callback hands back the next URL; it runs in the batch */
static const char *second_url;

static og_fetch_t *next_url(og_fetch_t *done, void *ctx)
{
    int *calls = ctx;
    (*calls)++;
    if (done->error != OG_OK && second_url) {
        const char *u = second_url;
        second_url = NULL;
        return og_fetch_make(pool, u, small_req, sizeof(small_req), NULL,
                             done->baton);
    }
    return NULL;
}

static void failover_in_one_batch(void **state)
{
    server_t *srv = server_start(MODE_OK);
    apr_array_header_t *batch = apr_array_make(pool, 1, sizeof(og_fetch_t *));
    int calls = 0;
    og_fetch_t *first = og_fetch_make(pool,
        apr_psprintf(pool, "http://127.0.0.1:%d/", dead_port()),
        small_req, sizeof(small_req), NULL, &calls);

    (void)state;
    second_url = apr_psprintf(pool, "http://127.0.0.1:%d/", srv->port);
    APR_ARRAY_PUSH(batch, og_fetch_t *) = first;
    og_fetch_run(batch, &opts, next_url, &calls, pool);
    server_stop(srv);
    assert_int_equal(calls, 2);
    assert_int_equal(first->error, OG_ERR_CONNECT_REFUSED);
    assert_int_equal(srv->requests, 1);
}

static void parallelism_is_bounded(void **state)
{
    server_t *srv = server_start(MODE_SLOW_OK);
    apr_array_header_t *batch = apr_array_make(pool, 12, sizeof(og_fetch_t *));
    const char *url = apr_psprintf(pool, "http://127.0.0.1:%d/", srv->port);
    og_fetch_opts_t o = opts;
    int i, ok = 0;

    (void)state;
    o.max_parallel = 3;
    o.timeout = apr_time_from_sec(5);
    for (i = 0; i < 12; i++)
        APR_ARRAY_PUSH(batch, og_fetch_t *) = og_fetch_make(pool, url,
            small_req, sizeof(small_req), NULL, NULL);
    og_fetch_run(batch, &o, NULL, NULL, pool);
    server_stop(srv);
    for (i = 0; i < 12; i++)
        ok += APR_ARRAY_IDX(batch, i, og_fetch_t *)->error == OG_OK;
    assert_int_equal(ok, 12);
    assert_int_equal(srv->requests, 12);
    assert_true(srv->max_busy <= 3);
    assert_true(srv->max_busy >= 2);        /* and it did run in parallel */
}

/* The body as chunks come: never over the cap, refused whole at the chunk
 * that would cross it, and nothing after that. */
static const struct {
    const char *what;
    apr_size_t max;
    apr_size_t chunks[6];       /* sizes, 0 ends the list */
    apr_size_t want_len;
    int want_overflow;
} body_cases[] = {
    { "one small chunk", 4096, { 100 }, 100, 0 },
    { "exactly the cap", 4096, { 4096 }, 4096, 0 },
    { "cap in pieces", 4096, { 1000, 3000, 96 }, 4096, 0 },
    { "one byte over", 4096, { 4097 }, 0, 1 },
    { "over on the third", 4096, { 2000, 2000, 97, 5 }, 4000, 1 },
    { "grows past 4K", 65536, { 4095, 2, 8192, 30000, 1 }, 42290, 0 },
    { "grows to a cap not a power of two", 10000, { 4097, 5903 }, 10000, 0 },
    { "cap zero", 0, { 1 }, 0, 1 },
    { "tiny cap", 3, { 1, 1, 1, 1 }, 3, 1 },
    { "nothing", 4096, { 0 }, 0, 0 },
};

static void body_table(void **state)
{
    static unsigned char src[65536];
    apr_size_t i, k;

    (void)state;
    for (i = 0; i < sizeof(src); i++)
        src[i] = (unsigned char)(i * 7 + 3);
    for (i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
        og_fetch_t *f = og_fetch_make(pool, "http://h/", small_req,
                                      sizeof(small_req), NULL, NULL);
        apr_size_t off = 0;

        og_fetch_body_reset(f, body_cases[i].max);
        for (k = 0; k < 6 && body_cases[i].chunks[k]; k++) {
            apr_size_t n = body_cases[i].chunks[k];
            apr_size_t took = og_fetch_body_append(f, src + off, n);
            if (took != 0 && took != n)
                fail_msg("%s: chunk %u partly taken", body_cases[i].what,
                         (unsigned)k);
            if (took)
                off += n;
            if (f->body_len > body_cases[i].max)
                fail_msg("%s: %lu bytes held over a cap of %lu",
                         body_cases[i].what, (unsigned long)f->body_len,
                         (unsigned long)body_cases[i].max);
        }
        if (f->body_len != body_cases[i].want_len
            || f->overflow != body_cases[i].want_overflow)
            fail_msg("%s: %lu bytes, overflow %d; want %lu, %d",
                     body_cases[i].what, (unsigned long)f->body_len,
                     f->overflow, (unsigned long)body_cases[i].want_len,
                     body_cases[i].want_overflow);
        if (f->body_len && memcmp(f->body, src, f->body_len) != 0)
            fail_msg("%s: bytes differ", body_cases[i].what);
        if (f->overflow && og_fetch_body_append(f, src, 1) != 0)
            fail_msg("%s: took more after the overflow", body_cases[i].what);
    }
}

static const struct {
    long http_status;
    apr_size_t body_len;
    og_error_e want;
    const char *detail;
} classify_cases[] = {
    { 200, 1, OG_OK, "ok" },
    { 200, 1500, OG_OK, "ok" },
    { 200, 0, OG_ERR_MALFORMED, "HTTP 200 with an empty body" },
    { 500, 0, OG_ERR_HTTP_STATUS, "HTTP status 500" },
    { 404, 120, OG_ERR_HTTP_STATUS, "HTTP status 404" },
    { 204, 0, OG_ERR_HTTP_STATUS, "HTTP status 204" },
    { 301, 0, OG_ERR_HTTP_STATUS, "HTTP status 301" },
    { 0, 10, OG_ERR_HTTP_STATUS, "HTTP status 0" },
};

static void classify_table(void **state)
{
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(classify_cases) / sizeof(classify_cases[0]); i++) {
        og_fetch_t *f = og_fetch_make(pool, "http://h/", small_req,
                                      sizeof(small_req), NULL, NULL);
        /* the verdict reads the length only */
        f->body_len = classify_cases[i].body_len;
        f->http_status = classify_cases[i].http_status;
        og_fetch_classify_http(f);
        if (f->error != classify_cases[i].want
            || strcmp(f->detail, classify_cases[i].detail) != 0)
            fail_msg("HTTP %ld, %lu bytes: %s (%s), want %s (%s)",
                     classify_cases[i].http_status,
                     (unsigned long)classify_cases[i].body_len,
                     og_error_name(f->error), f->detail,
                     og_error_name(classify_cases[i].want),
                     classify_cases[i].detail);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_url_encoding),
        cmocka_unit_test(get_on_the_wire),
        cmocka_unit_test(post_when_too_long_for_get),
        cmocka_unit_test(http_500),
        cmocka_unit_test(oversize_body),
        cmocka_unit_test(blackhole_times_out),
        cmocka_unit_test(closed_without_answer),
        cmocka_unit_test(refused),
        cmocka_unit_test(only_http_and_https),
        cmocka_unit_test(failover_in_one_batch),
        cmocka_unit_test(parallelism_is_bounded),
        cmocka_unit_test(body_table),
        cmocka_unit_test(classify_table),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("og_fetch", tests, setup, teardown);
    apr_terminate();
    return rc;
}
