/* SPDX-License-Identifier: Apache-2.0 */
/* fetch_scale: the fetch engine alone at scale, built from the core in src/
 * (no httpd). Two subcommands:
 *
 *   fetch_scale mint --count N --ca-cert CA.crt --ca-key CA.key --aia URL
 *                    --dir D
 *       N leaf certificates signed in-process (one shared EC P-256 key;
 *       serial 0x100000 + i, CN=leafI.scale.test, valid 30 days): writes
 *       D/leaves.pem (each leaf followed by the CA, as SSLCertificateFile
 *       holds them), D/leaf.key, and D/index.txt(.attr) in the `openssl ca`
 *       database format, so that `openssl ocsp -index` answers "good".
 *
 *   fetch_scale fetch --certs D/leaves.pem [--url URL] [--parallel 8]
 *                     [--timeout 10] [--batch JOBS]
 *       every leaf+CA pair parsed (og_cert), fetched (og_fetch, at most
 *       --parallel at once) and validated (og_validate), as the module's
 *       fetcher does it: one pool per job, freed as soon as its answer is
 *       handled, and og_fetch_run on bounded batches of 4 x --parallel jobs
 *       (--batch 0: a single og_fetch_run, each finished job handing over
 *       the next one as its follow-up). Prints one JSON line; exits 0 only
 *       if every certificate got a valid "good" answer. "seconds" is the
 *       wall time of fetching and validating (parsing is parse_seconds);
 *       cpu_ms_per_fetch is this process's CPU over the same span, and
 *       validate_ms_per_fetch the part spent in og_validate_response.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include <apr_general.h>
#include <apr_hash.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "src/og_cert.h"
#include "src/og_error.h"
#include "src/og_event.h"
#include "src/og_fetch.h"
#include "src/og_validate.h"

#define SERIAL_BASE      0x100000L
#define VALID_DAYS       30
#define BATCH_FACTOR     4          /* the module's OG_BATCH_FACTOR */
#define CLOCK_SKEW       apr_time_from_sec(300)   /* the module's */
#define MAX_RESPONSE     ((apr_size_t)64 * 1024)
#define PEM_END          "-----END CERTIFICATE-----"

/* ------------------------------------------------------------------ */
/* helpers                                                            */

static double wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
           + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static long max_rss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* `--name value` pairs after the subcommand; anything else is an error, so
 * that a mistyped option cannot silently run the default. */
typedef struct {
    const char *name;
    const char *value;
} opt_t;

static int parse_opts(int argc, char **argv, opt_t *opts)
{
    int i;
    opt_t *o;

    for (i = 2; i < argc; i += 2) {
        for (o = opts; o->name && strcmp(o->name, argv[i]) != 0; o++)
            ;
        if (!o->name || i + 1 >= argc) {
            fprintf(stderr, "fetch_scale %s: unknown option or no value: %s\n",
                    argv[1], argv[i]);
            return 0;
        }
        o->value = argv[i + 1];
    }
    return 1;
}

/* A whole non-negative number, or -1. */
static long number(const char *s)
{
    char *end;
    long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    return (errno || *end || v < 0) ? -1 : v;
}

static void ssl_fail(const char *what)
{
    fprintf(stderr, "fetch_scale mint: %s\n", what);
    ERR_print_errors_fp(stderr);
}

/* ------------------------------------------------------------------ */
/* mint                                                               */

/* One extension, as `openssl x509 -extfile` would make it. */
static X509_EXTENSION *make_ext(X509 *ca, X509 *cert, int nid,
                                const char *value)
{
    X509V3_CTX ctx;

    X509V3_set_ctx(&ctx, ca, cert, NULL, NULL, 0);
    return X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
}

static FILE *open_out(const char *dir, const char *name, int mode)
{
    char path[4096];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) {
        fprintf(stderr, "fetch_scale mint: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    return fdopen(fd, "w");
}

static X509 *read_cert(const char *file)
{
    FILE *fp = fopen(file, "r");
    X509 *x = fp ? PEM_read_X509(fp, NULL, NULL, NULL) : NULL;

    if (fp)
        fclose(fp);
    return x;
}

static EVP_PKEY *read_key(const char *file)
{
    FILE *fp = fopen(file, "r");
    EVP_PKEY *k = fp ? PEM_read_PrivateKey(fp, NULL, NULL, NULL) : NULL;

    if (fp)
        fclose(fp);
    return k;
}

static int mint(int argc, char **argv)
{
    opt_t o[] = { { "--count", NULL }, { "--ca-cert", NULL },
                  { "--ca-key", NULL }, { "--aia", NULL }, { "--dir", NULL },
                  { NULL, NULL } };
    long count, i;
    const char *dir;
    char aia[1024];
    X509 *ca;
    EVP_PKEY *ca_key, *key;
    X509_EXTENSION *common[5];
    FILE *pem = NULL, *index = NULL, *fp;
    BIO *mem;
    char *ca_pem = NULL;
    time_t start = time(NULL);
    double t0 = wall_now();
    int k, rc = 1;

    if (!parse_opts(argc, argv, o))
        return 2;
    count = number(o[0].value);
    dir = o[4].value;
    /* serials up to 0xFFFFFF: three bytes, six hex digits in the index */
    if (count < 1 || count > 0xefffff || !o[1].value || !o[2].value
        || !o[3].value || !dir) {
        fprintf(stderr, "usage: fetch_scale mint --count N --ca-cert F"
                " --ca-key F --aia URL --dir D\n");
        return 2;
    }
    if (!(ca = read_cert(o[1].value)) || !(ca_key = read_key(o[2].value))
        || !X509_check_private_key(ca, ca_key)) {
        ssl_fail("cannot read the CA certificate and its key (or they do"
                 " not match)");
        return 2;
    }
    if (!(key = EVP_EC_gen("P-256"))) {
        ssl_fail("cannot make the leaf key");
        return 1;
    }
    /* The CA PEM once: appending a string beats encoding it N times. */
    mem = BIO_new(BIO_s_mem());
    if (mem && PEM_write_bio_X509(mem, ca)) {
        char *data = NULL;
        long len = BIO_get_mem_data(mem, &data);
        if ((ca_pem = malloc((size_t)len + 1)) != NULL) {
            memcpy(ca_pem, data, (size_t)len);
            ca_pem[len] = '\0';
        }
    }
    BIO_free(mem);

    /* The extensions every leaf shares are made once; only the name
     * differs. keyid needs no leaf: it is the CA's subjectKeyIdentifier. */
    snprintf(aia, sizeof(aia), "OCSP;URI:%s", o[3].value);
    common[0] = make_ext(ca, NULL, NID_basic_constraints, "critical,CA:false");
    common[1] = make_ext(ca, NULL, NID_key_usage,
                         "critical,digitalSignature");
    common[2] = make_ext(ca, NULL, NID_ext_key_usage, "serverAuth");
    common[3] = make_ext(ca, NULL, NID_authority_key_identifier, "keyid");
    common[4] = make_ext(ca, NULL, NID_info_access, aia);
    for (k = 0; k < 5; k++) {
        if (!common[k]) {
            ssl_fail("cannot make the extensions (is --aia a URL?)");
            return 1;
        }
    }

    if (!ca_pem
        || !(fp = open_out(dir, "leaf.key", 0600))
        || !PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL)
        || fclose(fp) != 0
        || !(fp = open_out(dir, "index.txt.attr", 0644))
        || fputs("unique_subject = no\n", fp) < 0 || fclose(fp) != 0
        || !(pem = open_out(dir, "leaves.pem", 0644))
        || !(index = open_out(dir, "index.txt", 0644))) {
        fprintf(stderr, "fetch_scale mint: cannot write into %s\n", dir);
        goto done;
    }

    for (i = 0; i < count; i++) {
        X509 *cert = X509_new();
        X509_NAME *name = X509_NAME_new();
        X509_EXTENSION *san;
        const ASN1_TIME *na;
        BIGNUM *bn = NULL;
        char cn[64], dns[80], *serial_hex = NULL, *subject = NULL;
        int ok;

        snprintf(cn, sizeof(cn), "leaf%ld.scale.test", i);
        snprintf(dns, sizeof(dns), "DNS:%s", cn);
        ok = cert && name
             && X509_set_version(cert, 2)
             && ASN1_INTEGER_set(X509_get_serialNumber(cert),
                                 SERIAL_BASE + i)
             && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                           (const unsigned char *)cn, -1, -1,
                                           0)
             && X509_set_subject_name(cert, name)
             && X509_set_issuer_name(cert, X509_get_subject_name(ca))
             /* an hour back, as CAs do, for clocks a little behind */
             && X509_time_adj_ex(X509_getm_notBefore(cert), 0, -3600, &start)
             && X509_time_adj_ex(X509_getm_notAfter(cert), VALID_DAYS, 0,
                                 &start)
             && X509_set_pubkey(cert, key);
        for (k = 0; ok && k < 5; k++)
            ok = X509_add_ext(cert, common[k], -1);
        if (ok && (san = make_ext(ca, cert, NID_subject_alt_name, dns))) {
            ok = X509_add_ext(cert, san, -1);
            X509_EXTENSION_free(san);
        }
        else {
            ok = 0;
        }
        ok = ok && X509_sign(cert, ca_key, EVP_sha256()) > 0
             && PEM_write_X509(pem, cert) && fputs(ca_pem, pem) >= 0;
        /* The index line as `openssl ca` writes it: the serial through
         * BN_bn2hex (upper case, whole bytes), the expiry as the
         * certificate's own notAfter string (UTCTime YYMMDDHHMMSSZ), the
         * subject as X509_NAME_oneline. `openssl ocsp` looks the serial up
         * by that exact string. */
        na = X509_get0_notAfter(cert);
        ok = ok
             && (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL))
             && (serial_hex = BN_bn2hex(bn))
             && (subject = X509_NAME_oneline(X509_get_subject_name(cert),
                                             NULL, 0))
             && fprintf(index, "V\t%.*s\t\t%s\tunknown\t%s\n",
                        ASN1_STRING_length(na),
                        (const char *)ASN1_STRING_get0_data(na), serial_hex,
                        subject) > 0;
        OPENSSL_free(subject);
        OPENSSL_free(serial_hex);
        BN_free(bn);
        X509_NAME_free(name);
        X509_free(cert);
        if (!ok) {
            fprintf(stderr, "fetch_scale mint: certificate %ld:\n", i);
            ssl_fail("cannot make, sign or write it");
            goto done;
        }
    }
    if (fclose(pem) != 0 || fclose(index) != 0) {
        pem = index = NULL;
        fprintf(stderr, "fetch_scale mint: cannot write into %s\n", dir);
        goto done;
    }
    pem = index = NULL;
    printf("{\"minted\":%ld,\"seconds\":%.3f}\n", count, wall_now() - t0);
    rc = 0;
done:
    if (pem)
        fclose(pem);
    if (index)
        fclose(index);
    for (k = 0; k < 5; k++)
        X509_EXTENSION_free(common[k]);
    free(ca_pem);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
    X509_free(ca);
    return rc;
}

/* ------------------------------------------------------------------ */
/* fetch                                                              */

typedef struct bench_t bench_t;

typedef struct {
    long index;                 /* into b->certs */
    apr_pool_t *pool;           /* the job's own, holding the fetch too */
} job_t;

struct bench_t {
    og_cert_t **certs;
    long n;
    const char *url;            /* --url, else each certificate's first AIA */
    int stream;                 /* --batch 0: follow-ups feed one run */
    apr_pool_t *jobs;           /* parent of the job pools */
    og_fetch_t **live;          /* by certificate, until its job ends */
    long next;                  /* next certificate to make a job for */
    long ended, ok, good, failed;
    long by_class[OG_ERR_COUNT];
    double *latency_ms;         /* of each transfer that ran */
    double validate_s;          /* wall time inside og_validate_response */
    long ran;
    const char *first_failure;
    apr_pool_t *p;
};

static og_fetch_t *job_make(bench_t *b)
{
    og_cert_t *c = b->certs[b->next];
    apr_pool_t *jp;
    job_t *job;
    og_fetch_t *f;

    if (apr_pool_create(&jp, b->jobs) != APR_SUCCESS)
        return NULL;
    job = apr_palloc(jp, sizeof(*job));
    job->index = b->next++;
    job->pool = jp;
    f = og_fetch_make(jp, b->url ? b->url
                                 : APR_ARRAY_IDX(c->ocsp_urls, 0, const char *),
                      c->request_der, c->request_len, NULL, job);
    b->live[job->index] = f;
    return f;
}

/* Validate, count, and free the job: after this nothing of it is left. */
static void job_end(bench_t *b, og_fetch_t *f, int ran)
{
    job_t *job = f->baton;
    og_error_e err = f->error;
    const char *detail = f->detail;
    og_validation_t v;

    if (ran) {
        b->latency_ms[b->ran++] = (double)f->elapsed / 1000.0;
    }
    else if (err == OG_OK) {
        /* never handed to libcurl at all */
        err = OG_ERR_INTERNAL;
        detail = "the engine did not run this transfer";
    }
    if (err == OG_OK) {
        double t0 = wall_now();
        err = og_validate_response(b->certs[job->index], f->body, f->body_len,
                                   apr_time_now(), CLOCK_SKEW, &v, job->pool);
        b->validate_s += wall_now() - t0;
        detail = v.detail;
    }
    if (err == OG_OK) {
        b->ok++;
        if (v.cert_status == OG_CERT_GOOD)
            b->good++;
        else if (!b->first_failure)
            b->first_failure = apr_psprintf(b->p, "%s: %s",
                                            b->certs[job->index]->subject,
                                            og_cert_status_name(v.cert_status));
    }
    else {
        b->failed++;
        b->by_class[err]++;
        if (!b->first_failure)
            b->first_failure = apr_psprintf(b->p, "%s: %s: %s",
                                            b->certs[job->index]->subject,
                                            og_error_name(err),
                                            detail ? detail : "");
    }
    b->ended++;
    b->live[job->index] = NULL;
    apr_pool_destroy(job->pool);
}

/* og_fetch_run's done: called once for each transfer that ran. */
static og_fetch_t *on_done(og_fetch_t *f, void *ctx)
{
    bench_t *b = ctx;

    job_end(b, f, 1);
    /* --batch 0: the finished job hands its slot to the next certificate */
    return b->stream && b->next < b->n ? job_make(b) : NULL;
}

/* As the module's fetch round: bounded batches, one og_fetch_run each. */
static void run_all(bench_t *b, const og_fetch_opts_t *opts, long batch)
{
    apr_pool_t *run_pool;

    apr_pool_create(&run_pool, b->p);
    while (b->next < b->n) {
        long first = b->next, k;
        long size = b->stream ? opts->max_parallel : batch;
        apr_array_header_t *fetches = apr_array_make(run_pool, (int)size,
                                                     sizeof(og_fetch_t *));
        og_fetch_t *f;

        while (b->next < b->n && fetches->nelts < size
               && (f = job_make(b)) != NULL)
            APR_ARRAY_PUSH(fetches, og_fetch_t *) = f;
        if (fetches->nelts == 0)
            break;
        og_fetch_run(fetches, opts, on_done, b, run_pool);
        /* done is not called for a transfer the engine could not start:
         * that job is still ours to count and free. */
        for (k = first; k < b->next; k++)
            if (b->live[k])
                job_end(b, b->live[k], 0);
        /* the engine's copy of the queue */
        apr_pool_clear(run_pool);
    }
    apr_pool_destroy(run_pool);
}

/* Certificates of one CA share its intermediate: one parsed copy, as the
 * module keeps (og_share_issuer), not ten thousand. */
static void share_issuer(apr_hash_t *issuers, og_cert_t *c, apr_pool_t *p)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    X509 *shared;

    if (!X509_digest(c->issuer, EVP_sha1(), md, &len))
        return;
    shared = apr_hash_get(issuers, md, (apr_ssize_t)len);
    if (!shared)
        apr_hash_set(issuers, apr_pmemdup(p, md, len), (apr_ssize_t)len,
                     c->issuer);
    else if (shared != c->issuer && X509_up_ref(shared)) {
        X509_free(c->issuer);
        c->issuer = shared;
    }
}

/* Split `file` into leaf+issuer pairs and parse each; -1 on failure. */
static long load_certs(bench_t *b, const char *file)
{
    apr_array_header_t *certs = apr_array_make(b->p, 1024,
                                               sizeof(og_cert_t *));
    apr_hash_t *issuers = apr_hash_make(b->p);
    FILE *fp = fopen(file, "r");
    char *data, *pos;
    long size;
    size_t endlen = strlen(PEM_END);

    if (!fp || fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) <= 0) {
        fprintf(stderr, "fetch_scale fetch: cannot read %s\n", file);
        return -1;
    }
    rewind(fp);
    data = malloc((size_t)size + 1);
    if (!data || fread(data, 1, (size_t)size, fp) != (size_t)size) {
        fprintf(stderr, "fetch_scale fetch: cannot read %s\n", file);
        return -1;
    }
    fclose(fp);
    data[size] = '\0';

    for (pos = data; (pos = strstr(pos, "-----BEGIN")) != NULL;) {
        char *end = strstr(pos, PEM_END), save;
        const char *err = NULL;
        og_cert_t *c;

        /* a chain block: the leaf, then its issuer (og_cert_parse takes
         * the second certificate as the issuer, and checks it is) */
        if (end)
            end = strstr(end + endlen, PEM_END);
        if (!end) {
            fprintf(stderr, "fetch_scale fetch: block %d: no issuer after"
                    " the certificate\n", certs->nelts + 1);
            return -1;
        }
        end += endlen;
        /* parse in place: ten thousand copies would only cost time */
        save = *end;
        *end = '\0';
        c = og_cert_parse(pos, b->p, &err);
        *end = save;
        if (!c || (!b->url && c->ocsp_urls->nelts == 0)) {
            fprintf(stderr, "fetch_scale fetch: block %d: %s\n",
                    certs->nelts + 1, c ? "no OCSP URL in the certificate"
                                        : err);
            return -1;
        }
        share_issuer(issuers, c, b->p);
        APR_ARRAY_PUSH(certs, og_cert_t *) = c;
        pos = end;
    }
    free(data);
    b->certs = (og_cert_t **)certs->elts;
    return certs->nelts;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, long n, double q)
{
    return n ? sorted[(long)(q * (double)(n - 1) + 0.5)] : 0.0;
}

static int fetch(int argc, char **argv, apr_pool_t *p)
{
    opt_t o[] = { { "--certs", NULL }, { "--url", NULL },
                  { "--parallel", "8" }, { "--timeout", "10" },
                  { "--batch", NULL }, { NULL, NULL } };
    og_fetch_opts_t opts;
    bench_t b;
    long parallel, timeout, batch, rss_parsed;
    double t0, c0, parse_s, seconds, cpu;
    const char *sep = "";
    int k;

    if (!parse_opts(argc, argv, o))
        return 2;
    parallel = number(o[2].value);
    timeout = number(o[3].value);
    batch = o[4].value ? number(o[4].value) : BATCH_FACTOR * parallel;
    if (!o[0].value || parallel < 1 || parallel > 10000 || timeout < 1
        || batch < 0) {
        fprintf(stderr, "usage: fetch_scale fetch --certs FILE [--url URL]"
                " [--parallel N] [--timeout S] [--batch JOBS]\n");
        return 2;
    }
    memset(&b, 0, sizeof(b));
    b.p = p;
    b.url = o[1].value;
    b.stream = batch == 0;

    t0 = wall_now();
    if ((b.n = load_certs(&b, o[0].value)) <= 0) {
        if (b.n == 0)
            fprintf(stderr, "fetch_scale fetch: no certificate in %s\n",
                    o[0].value);
        return 1;
    }
    parse_s = wall_now() - t0;
    rss_parsed = max_rss_kb();
    b.live = apr_pcalloc(p, (apr_size_t)b.n * sizeof(*b.live));
    b.latency_ms = apr_palloc(p, (apr_size_t)b.n * sizeof(double));
    apr_pool_create(&b.jobs, p);

    memset(&opts, 0, sizeof(opts));
    opts.connect_timeout = apr_time_from_sec(timeout);
    opts.timeout = apr_time_from_sec(timeout);
    opts.max_size = MAX_RESPONSE;
    opts.max_parallel = (int)parallel;
    opts.user_agent = "fetch_scale";

    /* the measure: fetch and validate, parsing excluded */
    t0 = wall_now();
    c0 = cpu_now();
    run_all(&b, &opts, batch);
    seconds = wall_now() - t0;
    cpu = cpu_now() - c0;
    /* any certificate the run never reached is a failure too */
    if (b.ended < b.n) {
        b.by_class[OG_ERR_INTERNAL] += b.n - b.ended;
        b.failed += b.n - b.ended;
    }
    qsort(b.latency_ms, (size_t)b.ran, sizeof(double), cmp_double);

    printf("{\"certificates\":%ld,\"parallel\":%ld,\"batch\":%ld,"
           "\"seconds\":%.3f,\"fetches_per_second\":%.1f,"
           "\"ok\":%ld,\"good\":%ld,\"failed\":%ld,\"errors\":{",
           b.n, parallel, batch, seconds,
           seconds > 0 ? (double)b.n / seconds : 0.0, b.ok, b.good, b.failed);
    for (k = 1; k < OG_ERR_COUNT; k++) {
        if (b.by_class[k]) {
            printf("%s\"%s\":%ld", sep, og_error_name((og_error_e)k),
                   b.by_class[k]);
            sep = ",";
        }
    }
    printf("},\"parse_seconds\":%.3f,"
           "\"latency_ms\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,"
           "\"max\":%.2f},"
           "\"cpu_seconds\":%.3f,\"cpu_ms_per_fetch\":%.3f,"
           "\"validate_ms_per_fetch\":%.3f,"
           "\"rss_kb_after_parse\":%ld,\"max_rss_kb\":%ld",
           parse_s, percentile(b.latency_ms, b.ran, 0.50),
           percentile(b.latency_ms, b.ran, 0.90),
           percentile(b.latency_ms, b.ran, 0.99),
           b.ran ? b.latency_ms[b.ran - 1] : 0.0, cpu,
           1000.0 * cpu / (double)b.n, 1000.0 * b.validate_s / (double)b.n,
           rss_parsed, max_rss_kb());
    if (b.first_failure)
        printf(",\"first_failure\":%s", og_json_str(p, b.first_failure));
    printf("}\n");
    return b.good == b.n ? 0 : 1;
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    int rc;

    if (argc < 2 || (strcmp(argv[1], "mint") && strcmp(argv[1], "fetch"))) {
        fprintf(stderr, "usage: fetch_scale mint|fetch ... (see the top of"
                " bench/fetch_scale.c)\n");
        return 2;
    }
    apr_app_initialize(&argc, (const char *const **)&argv, NULL);
    apr_pool_create(&p, NULL);
    if (og_fetch_global_init() != APR_SUCCESS) {
        fprintf(stderr, "fetch_scale: libcurl did not initialise\n");
        return 1;
    }
    rc = !strcmp(argv[1], "mint") ? mint(argc, argv) : fetch(argc, argv, p);
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
