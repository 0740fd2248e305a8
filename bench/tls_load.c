/* SPDX-License-Identifier: Apache-2.0 */
/* tls_load: TLS handshake load for the stapling benchmarks. Full
 * handshakes only (no resumption), SNI, the status_request extension on
 * every handshake; per handshake: latency, stapled or not, certStatus of
 * the staple (parsed, not verified, so that client CPU does not blur the
 * server's cost), failures by class. Writes one JSON document: a summary
 * and a per-second timeline. Loopback targets only (127.0.0.1).
 *
 *   tls_load --port 8443 --sni good.test [--concurrency 8] [--duration 10]
 *            [--count N]   (stop after N handshakes, e.g. 1: the first one)
 *            --sni takes a comma-separated list too: the names in turn, one
 *            per handshake (vhosts with a certificate each)
 *            [--phase-at S] (also summarise before and after second S, e.g.
 *                            when a fault is injected)
 *            [--issuer FILE] (verify each staple's signature against this
 *                             issuer, as a client that checks does, and
 *                             count the staples that fail: "forged")
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#define MAX_SECONDS 3600

typedef struct {
    double start;       /* seconds since t_start */
    double ms;
    int stapled;
    int cert_status;    /* V_OCSP_CERTSTATUS_*, -1 none */
} sample_t;

typedef struct {
    /* per second buckets */
    long done[MAX_SECONDS], stapled[MAX_SECONDS], good[MAX_SECONDS];
    long failed[MAX_SECONDS];
    double max_ms[MAX_SECONDS], sum_ms[MAX_SECONDS];
} timeline_t;

static int opt_port = 8443, opt_conc = 8, opt_duration = 10;
static long opt_count;      /* 0: no limit */
static double opt_phase_at; /* 0: one phase */
static long started;
static const char *opt_sni = "localhost";
static X509 *opt_issuer;    /* --issuer: verify staples against it */
static long forged, verified;
static char **sni_names;    /* opt_sni split at commas */
static long nsni, next_sni;
static SSL_CTX *ctx;
static double t_start;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sample_t *samples;
static size_t nsamples, capsamples;
static long fail_connect, fail_handshake;
static timeline_t tl;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int status_cb(SSL *ssl, void *arg)
{
    (void)ssl;
    (void)arg;
    return 1;   /* accept whatever came: we measure, we do not verify */
}

static int staple_status(SSL *ssl, int *stapled)
{
    const unsigned char *p = NULL;
    long len = SSL_get_tlsext_status_ocsp_resp(ssl, &p);
    OCSP_RESPONSE *resp;
    OCSP_BASICRESP *bs;
    int status = -1;

    *stapled = 0;
    if (len <= 0 || !p)
        return -1;
    *stapled = 1;
    resp = d2i_OCSP_RESPONSE(NULL, &p, len);
    if (!resp)
        return -1;
    bs = OCSP_response_get1_basic(resp);
    if (bs && opt_issuer) {
        /* the issuer as the only trust anchor, delegated signers allowed */
        X509_STORE *store = X509_STORE_new();
        STACK_OF(X509) *chain = sk_X509_new_null();
        int ok = store && chain && X509_STORE_add_cert(store, opt_issuer)
                 && X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN)
                 && sk_X509_push(chain, opt_issuer)
                 && OCSP_basic_verify(bs, chain, store, 0) > 0;
        __sync_fetch_and_add(ok ? &verified : &forged, 1);
        ERR_clear_error();
        sk_X509_free(chain);
        X509_STORE_free(store);
    }
    if (bs && OCSP_resp_count(bs) > 0) {
        OCSP_SINGLERESP *single = OCSP_resp_get0(bs, 0);
        status = OCSP_single_get0_status(single, NULL, NULL, NULL, NULL);
    }
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    return status;
}

static void record(double t0, double ms, int ok, int stapled, int status)
{
    long sec = (long)(t0 - t_start);

    pthread_mutex_lock(&lock);
    if (sec >= 0 && sec < MAX_SECONDS) {
        if (ok) {
            tl.done[sec]++;
            tl.stapled[sec] += stapled;
            tl.good[sec] += status == V_OCSP_CERTSTATUS_GOOD;
            tl.sum_ms[sec] += ms;
            if (ms > tl.max_ms[sec])
                tl.max_ms[sec] = ms;
        }
        else {
            tl.failed[sec]++;
        }
    }
    if (ok) {
        if (nsamples == capsamples) {
            capsamples = capsamples ? capsamples * 2 : 65536;
            samples = realloc(samples, capsamples * sizeof(*samples));
        }
        samples[nsamples].start = t0 - t_start;
        samples[nsamples].ms = ms;
        samples[nsamples].stapled = stapled;
        samples[nsamples].cert_status = status;
        nsamples++;
    }
    pthread_mutex_unlock(&lock);
}

static void *worker(void *arg)
{
    struct sockaddr_in sa;

    (void)arg;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)opt_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    while (now_s() - t_start < opt_duration
           && (!opt_count || __sync_fetch_and_add(&started, 1) < opt_count)) {
        double t0 = now_s();
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, stapled = 0;
        SSL *ssl;

        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            close(fd);
            __sync_fetch_and_add(&fail_connect, 1);
            record(t0, 0, 0, 0, -1);
            usleep(10000);
            continue;
        }
        ssl = SSL_new(ctx);
        SSL_set_fd(ssl, fd);
        SSL_set_tlsext_host_name(ssl,
            sni_names[__sync_fetch_and_add(&next_sni, 1) % nsni]);
        SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp);
        if (SSL_connect(ssl) == 1) {
            int status = staple_status(ssl, &stapled);
            record(t0, (now_s() - t0) * 1000.0, 1, stapled, status);
            SSL_shutdown(ssl);
        }
        else {
            __sync_fetch_and_add(&fail_handshake, 1);
            record(t0, 0, 0, 0, -1);
            ERR_clear_error();
        }
        SSL_free(ssl);
        close(fd);
    }
    return NULL;
}

static int cmp_ms(const void *a, const void *b)
{
    double x = ((const sample_t *)a)->ms, y = ((const sample_t *)b)->ms;
    return x < y ? -1 : x > y;
}

/* Latency summary of the samples started in [from, to), as JSON. */
static void print_phase(const char *name, double from, double to)
{
    size_t k, n = 0;
    double *ms = malloc((nsamples ? nsamples : 1) * sizeof(*ms));
    long stapled = 0;

    for (k = 0; k < nsamples; k++) {
        if (samples[k].start >= from && samples[k].start < to) {
            ms[n++] = samples[k].ms;
            stapled += samples[k].cert_status == V_OCSP_CERTSTATUS_GOOD;
        }
    }
    /* samples are sorted by latency already: so is ms[] */
    printf(",\"%s\":{\"from_s\":%.0f,\"to_s\":%.0f,\"handshakes\":%zu,"
           "\"per_second\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
           "\"max_ms\":%.3f,\"stapled_good\":%ld}", name, from, to, n,
           to > from ? (double)n / (to - from) : 0.0,
           n ? ms[n / 2] : 0.0, n ? ms[(size_t)((double)n * 0.99)] : 0.0,
           n ? ms[n - 1] : 0.0, stapled);
    free(ms);
}

int main(int argc, char **argv)
{
    pthread_t *threads;
    int i, seconds;
    long stapled = 0, good = 0;
    double p50 = 0, p99 = 0, max = 0, elapsed;
    size_t first = 0;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc)
            opt_port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sni") && i + 1 < argc)
            opt_sni = argv[++i];
        else if (!strcmp(argv[i], "--concurrency") && i + 1 < argc)
            opt_conc = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--duration") && i + 1 < argc)
            opt_duration = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--count") && i + 1 < argc)
            opt_count = atol(argv[++i]);
        else if (!strcmp(argv[i], "--phase-at") && i + 1 < argc)
            opt_phase_at = atof(argv[++i]);
        else if (!strcmp(argv[i], "--issuer") && i + 1 < argc) {
            FILE *f = fopen(argv[++i], "r");
            opt_issuer = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
            if (f)
                fclose(f);
            if (!opt_issuer) {
                fprintf(stderr, "tls_load: cannot read a certificate from"
                        " %s\n", argv[i]);
                return 2;
            }
        }
        else {
            fprintf(stderr, "usage: tls_load --port N --sni NAME"
                    " [--concurrency C] [--duration S] [--count N]"
                    " [--phase-at S] [--issuer FILE]\n");
            return 2;
        }
    }
    if (opt_duration < 1 || opt_duration > MAX_SECONDS || opt_conc < 1)
        return 2;
    {
        char *list = strdup(opt_sni), *save = NULL, *name;

        sni_names = calloc(strlen(opt_sni) + 1, sizeof(*sni_names));
        for (name = strtok_r(list, ",", &save); name;
             name = strtok_r(NULL, ",", &save))
            sni_names[nsni++] = name;
        if (!nsni)
            return 2;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_tlsext_status_cb(ctx, status_cb);
    threads = calloc((size_t)opt_conc, sizeof(*threads));
    t_start = now_s();
    for (i = 0; i < opt_conc; i++)
        pthread_create(&threads[i], NULL, worker, NULL);
    for (i = 0; i < opt_conc; i++)
        pthread_join(threads[i], NULL);

    qsort(samples, nsamples, sizeof(*samples), cmp_ms);
    if (nsamples) {
        p50 = samples[nsamples / 2].ms;
        p99 = samples[(size_t)((double)nsamples * 0.99)].ms;
        max = samples[nsamples - 1].ms;
    }
    for (size_t k = 0; k < nsamples; k++) {
        stapled += samples[k].stapled;
        good += samples[k].cert_status == V_OCSP_CERTSTATUS_GOOD;
    }
    elapsed = now_s() - t_start;
    if (elapsed > opt_duration)
        elapsed = opt_duration;
    printf("{\"port\":%d,\"sni\":\"%s\",\"concurrency\":%d,\"duration_s\":%d,"
           "\"handshakes\":%zu,\"per_second\":%.1f,\"p50_ms\":%.3f,"
           "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"stapled\":%ld,\"stapled_good\":%ld,"
           "\"failed_connect\":%ld,\"failed_handshake\":%ld,",
           opt_port, opt_sni, opt_conc, opt_duration, nsamples,
           (double)nsamples / elapsed, p50, p99, max, stapled, good,
           fail_connect, fail_handshake);
    if (opt_issuer)
        printf("\"verified\":%ld,\"forged\":%ld,", verified, forged);
    printf("\"timeline\":[");
    seconds = (int)elapsed + 1 < opt_duration ? (int)elapsed + 1 : opt_duration;
    for (i = 0; i < seconds; i++)
        printf("%s{\"s\":%d,\"done\":%ld,\"stapled\":%ld,\"good\":%ld,"
               "\"failed\":%ld,\"mean_ms\":%.3f,\"max_ms\":%.3f}",
               i ? "," : "", i, tl.done[i], tl.stapled[i], tl.good[i],
               tl.failed[i],
               tl.done[i] ? tl.sum_ms[i] / (double)tl.done[i] : 0.0,
               tl.max_ms[i]);
    printf("]");
    /* the client's own CPU: what it takes from a server on shared cores */
    {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double us = ((double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec) * 1e6
                    + (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec;
        printf(",\"client_cpu_us_per_handshake\":%.1f",
               nsamples ? us / (double)nsamples : 0.0);
    }
    /* the first handshake of the run: after a restart, the one that
     * shows a blocking fetch */
    for (size_t k = 0; k < nsamples; k++)
        if (k == 0 || samples[k].start < samples[first].start)
            first = k;
    if (nsamples)
        printf(",\"first\":{\"ms\":%.3f,\"stapled_good\":%s}",
               samples[first].ms,
               samples[first].cert_status == V_OCSP_CERTSTATUS_GOOD
                   ? "true" : "false");
    if (opt_phase_at > 0) {
        print_phase("before", 0, opt_phase_at);
        print_phase("after", opt_phase_at, elapsed);
    }
    printf("}\n");
    free(samples);
    free(threads);
    X509_free(opt_issuer);
    SSL_CTX_free(ctx);
    return 0;
}
