/* fetch_scale: the fetch engine alone at scale (the core in src/, no
 * httpd). Two steps:
 *
 *   fetch_scale mint --count N --ca-cert CA.crt --ca-key CA.key --aia URL --dir D
 *       N leaf certificates signed in-process (one shared EC P-256 key,
 *       distinct serials and names): D/leaves.pem (each leaf followed by
 *       the CA, as SSLCertificateFile holds them), D/leaf.key, and
 *       D/index.txt(.attr) so that `openssl ocsp -index` answers "good".
 *   fetch_scale fetch --certs D/leaves.pem [--url URL] [--parallel 8] [--timeout 10]
 *       every certificate parsed (og_cert), fetched (og_fetch, at most
 *       --parallel at once) and validated (og_validate); one JSON line.
 *       Exit 0 only if every certificate got a valid "good" answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "src/og_cert.h"
#include "src/og_error.h"
#include "src/og_fetch.h"
#include "src/og_validate.h"

#define SERIAL_BASE 0x100000L

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *arg(int argc, char **argv, const char *name, const char *def)
{
    int i;
    for (i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return def;
}

static int add_ext(X509 *cert, X509 *ca, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx(&ctx, ca, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return 0;
    ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

static int mint(int argc, char **argv)
{
    long count = atol(arg(argc, argv, "--count", "0")), i;
    const char *ca_file = arg(argc, argv, "--ca-cert", NULL);
    const char *key_file = arg(argc, argv, "--ca-key", NULL);
    const char *aia = arg(argc, argv, "--aia", NULL);
    const char *dir = arg(argc, argv, "--dir", NULL);
    char path[4096], expiry[32], aia_value[1024];
    FILE *fp, *pem, *index;
    X509 *ca;
    EVP_PKEY *ca_key, *leaf_key;
    time_t end = time(NULL) + 30 * 86400;
    struct tm tm;

    if (count < 1 || !ca_file || !key_file || !aia || !dir) {
        fprintf(stderr, "mint: --count N --ca-cert F --ca-key F --aia URL --dir D\n");
        return 2;
    }
    if (!(fp = fopen(ca_file, "r")) || !(ca = PEM_read_X509(fp, NULL, NULL, NULL))) {
        fprintf(stderr, "mint: cannot read %s\n", ca_file);
        return 2;
    }
    fclose(fp);
    if (!(fp = fopen(key_file, "r"))
        || !(ca_key = PEM_read_PrivateKey(fp, NULL, NULL, NULL))) {
        fprintf(stderr, "mint: cannot read %s\n", key_file);
        return 2;
    }
    fclose(fp);
    leaf_key = EVP_EC_gen("P-256");
    snprintf(path, sizeof(path), "%s/leaf.key", dir);
    if (!leaf_key || !(fp = fopen(path, "w"))
        || !PEM_write_PrivateKey(fp, leaf_key, NULL, NULL, 0, NULL, NULL)) {
        fprintf(stderr, "mint: cannot write %s (does %s exist?)\n", path, dir);
        return 2;
    }
    fclose(fp);
    snprintf(path, sizeof(path), "%s/index.txt.attr", dir);
    if ((fp = fopen(path, "w")) != NULL) {
        fputs("unique_subject = no\n", fp);
        fclose(fp);
    }
    snprintf(path, sizeof(path), "%s/leaves.pem", dir);
    pem = fopen(path, "w");
    snprintf(path, sizeof(path), "%s/index.txt", dir);
    index = fopen(path, "w");
    if (!pem || !index)
        return 2;
    gmtime_r(&end, &tm);
    strftime(expiry, sizeof(expiry), "%y%m%d%H%M%SZ", &tm);
    snprintf(aia_value, sizeof(aia_value), "OCSP;URI:%s", aia);

    for (i = 0; i < count; i++) {
        X509 *cert = X509_new();
        X509_NAME *name = X509_NAME_new();
        char cn[64];

        snprintf(cn, sizeof(cn), "leaf%ld.scale.test", i + 1);
        X509_set_version(cert, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(cert), SERIAL_BASE + i);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   (const unsigned char *)cn, -1, -1, 0);
        X509_set_subject_name(cert, name);
        X509_set_issuer_name(cert, X509_get_subject_name(ca));
        X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
        X509_time_adj_ex(X509_getm_notAfter(cert), 30, 0, NULL);
        X509_set_pubkey(cert, leaf_key);
        if (!add_ext(cert, ca, NID_basic_constraints, "critical,CA:false")
            || !add_ext(cert, ca, NID_info_access, aia_value)
            || !X509_sign(cert, ca_key, EVP_sha256())) {
            fprintf(stderr, "mint: cannot make certificate %ld\n", i + 1);
            return 1;
        }
        PEM_write_X509(pem, cert);
        PEM_write_X509(pem, ca);
        /* the openssl ca database: status, expiry, revocation, serial, file, subject */
        fprintf(index, "V\t%s\t\t%lX\tunknown\t/CN=%s\n", expiry,
                SERIAL_BASE + i, cn);
        X509_NAME_free(name);
        X509_free(cert);
    }
    fclose(pem);
    fclose(index);
    printf("{\"minted\":%ld,\"dir\":\"%s\"}\n", count, dir);
    return 0;
}

typedef struct {
    long ok, good, failed;
    long by_class[OG_ERR_COUNT];
    apr_pool_t *p;
} tally_t;

/* Validate every answer as it arrives, as the module's fetcher does. */
static og_fetch_t *on_done(og_fetch_t *f, void *ctx)
{
    tally_t *t = ctx;
    const og_cert_t *c = f->baton;
    og_validation_t v;
    og_error_e err = f->error;

    if (err == OG_OK)
        err = og_validate_response(c, f->body, f->body_len, apr_time_now(),
                                   apr_time_from_sec(300), &v, f->pool);
    if (err == OG_OK) {
        t->ok++;
        t->good += v.cert_status == OG_CERT_GOOD;
    }
    else {
        t->failed++;
        t->by_class[err]++;
    }
    return NULL;
}

static int fetch(int argc, char **argv)
{
    const char *file = arg(argc, argv, "--certs", NULL);
    const char *url = arg(argc, argv, "--url", NULL);
    int parallel = atoi(arg(argc, argv, "--parallel", "8"));
    int timeout = atoi(arg(argc, argv, "--timeout", "10"));
    apr_pool_t *p;
    apr_array_header_t *fetches;
    og_fetch_opts_t opts;
    tally_t t;
    FILE *fp;
    char *data, *pos;
    long size;
    double t0, t_parse, t_fetch;
    const char *sep = "";
    int k;

    if (!file || parallel < 1 || timeout < 1) {
        fprintf(stderr, "fetch: --certs F [--url URL] [--parallel N] [--timeout S]\n");
        return 2;
    }
    apr_pool_create(&p, NULL);
    if (!(fp = fopen(file, "r")))
        return 2;
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    rewind(fp);
    data = apr_palloc(p, (apr_size_t)size + 1);
    if (fread(data, 1, (size_t)size, fp) != (size_t)size)
        return 2;
    data[size] = '\0';
    fclose(fp);

    /* each block: a leaf and its issuer, as in SSLCertificateFile */
    t0 = now_s();
    fetches = apr_array_make(p, 10000, sizeof(og_fetch_t *));
    for (pos = data; pos && *pos;) {
        const char *end1 = strstr(pos, "-----END CERTIFICATE-----");
        const char *end2 = end1 ? strstr(end1 + 25, "-----END CERTIFICATE-----") : NULL;
        const char *err = NULL;
        og_cert_t *c;

        if (!end2)
            break;
        end2 += 25;
        c = og_cert_parse(apr_pstrndup(p, pos, (apr_size_t)(end2 - pos)), p, &err);
        if (!c || c->ocsp_urls->nelts == 0) {
            fprintf(stderr, "fetch: certificate %d: %s\n", fetches->nelts + 1,
                    err ? err : "no OCSP URL");
            return 1;
        }
        APR_ARRAY_PUSH(fetches, og_fetch_t *) =
            og_fetch_make(p, url ? url : APR_ARRAY_IDX(c->ocsp_urls, 0, const char *),
                          c->request_der, c->request_len, NULL, c);
        pos = (char *)end2;
    }
    t_parse = now_s() - t0;

    memset(&opts, 0, sizeof(opts));
    opts.connect_timeout = apr_time_from_sec(timeout);
    opts.timeout = apr_time_from_sec(timeout);
    opts.max_size = 64 * 1024;
    opts.max_parallel = parallel;
    opts.user_agent = "fetch_scale";
    memset(&t, 0, sizeof(t));
    t.p = p;
    t0 = now_s();
    og_fetch_run(fetches, &opts, on_done, &t, p);
    t_fetch = now_s() - t0;

    printf("{\"certificates\":%d,\"parallel\":%d,\"parse_seconds\":%.3f,"
           "\"seconds\":%.3f,\"fetches_per_second\":%.1f,\"ok\":%ld,"
           "\"good\":%ld,\"failed\":%ld,\"errors\":{", fetches->nelts, parallel,
           t_parse, t_fetch, t_fetch > 0 ? fetches->nelts / t_fetch : 0.0,
           t.ok, t.good, t.failed);
    for (k = 1; k < OG_ERR_COUNT; k++) {
        if (t.by_class[k]) {
            printf("%s\"%s\":%ld", sep, og_error_name((og_error_e)k), t.by_class[k]);
            sep = ",";
        }
    }
    {
        /* our own CPU, fetching and validating: what limits us */
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("},\"process_cpu_seconds\":%.3f}\n",
               (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
               + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
    }
    return t.good == fetches->nelts && fetches->nelts > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    int rc;

    if (argc < 2 || (strcmp(argv[1], "mint") && strcmp(argv[1], "fetch"))) {
        fprintf(stderr, "usage: fetch_scale mint|fetch ... (see the top of bench/fetch_scale.c)\n");
        return 2;
    }
    apr_app_initialize(&argc, (const char *const **)&argv, NULL);
    og_fetch_global_init();
    rc = !strcmp(argv[1], "mint") ? mint(argc, argv) : fetch(argc, argv);
    apr_terminate();
    return rc;
}
