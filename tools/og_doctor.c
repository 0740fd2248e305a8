/* SPDX-License-Identifier: Apache-2.0 */
/* ocsp-guard doctor: for each certificate, every diagnosis step of the
 * OCSP-stapling troubleshooting guides: chain and issuer, AIA URLs, DNS per
 * address family, TCP connect over IPv4 and IPv6, a real OCSP request on
 * every way the module would try (src/og_chain.c), the answer validated as
 * the module would, and the staple saved in the state dir. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <apr_strings.h>
#include <apr_uri.h>
#include <openssl/pem.h>

#include "src/og_event.h"
#include "src/og_fetch.h"
#include "src/og_record.h"
#include "src/og_store.h"
#include "src/og_validate.h"
#include "tools/og_tool.h"

#define OG_DOCTOR_MAX_RESPONSE ((apr_size_t)1024 * 1024)

static const char *const status_names[] = { "OK", "WARNING", "CRITICAL",
                                            "UNKNOWN" };

typedef struct {
    apr_pool_t *p;
    int json;
    apr_array_header_t *checks;     /* JSON objects of this certificate */
    int status;
} report_t;

static void check(report_t *r, int status, const char *step, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));

static void check(report_t *r, int status, const char *step, const char *fmt,
                  ...)
{
    va_list ap;
    const char *msg;

    va_start(ap, fmt);
    msg = apr_pvsprintf(r->p, fmt, ap);
    va_end(ap);
    if (status > r->status && status != ST_UNKNOWN)
        r->status = status;
    if (r->json)
        APR_ARRAY_PUSH(r->checks, const char *) = apr_psprintf(r->p,
            "{\"step\":%s,\"status\":\"%s\",\"detail\":%s}",
            og_json_str(r->p, step), status_names[status],
            og_json_str(r->p, msg));
    else
        printf("  [%-8s] %-12s %s\n", status_names[status], step, msg);
}

/* DNS for one family; the first address in `addr`, or 0. */
static int resolve(const char *host, int family, struct sockaddr_storage *addr,
                   socklen_t *len, char *text, size_t textlen)
{
    struct addrinfo hints, *res = NULL;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res) {
        apr_cpystrn(text, gai_strerror(rc), textlen);
        return 0;
    }
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    getnameinfo(res->ai_addr, res->ai_addrlen, text, (socklen_t)textlen, NULL,
                0, NI_NUMERICHOST);
    freeaddrinfo(res);
    return 1;
}

/* TCP connect with a timeout; errno text on failure. */
static const char *tcp_connect(struct sockaddr_storage *addr, socklen_t len,
                               int port, int timeout_ms)
{
    int fd = socket(addr->ss_family, SOCK_STREAM, 0), err = 0;
    socklen_t errlen = sizeof(err);
    struct pollfd pfd;

    if (fd < 0)
        return strerror(errno);
    if (addr->ss_family == AF_INET)
        ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)port);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    if (connect(fd, (struct sockaddr *)addr, len) == 0) {
        close(fd);
        return NULL;
    }
    if (errno != EINPROGRESS) {
        err = errno;
        close(fd);
        return strerror(err);
    }
    pfd.fd = fd;
    pfd.events = POLLOUT;
    if (poll(&pfd, 1, timeout_ms) != 1) {
        close(fd);
        return "timed out";
    }
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen);
    close(fd);
    return err ? strerror(err) : NULL;
}

static void check_network(report_t *r, const char *url, int timeout_ms)
{
    apr_uri_t uri;
    static const int families[] = { AF_INET, AF_INET6 };
    int i, port;

    if (apr_uri_parse(r->p, url, &uri) != APR_SUCCESS || !uri.hostname) {
        check(r, ST_CRITICAL, "url", "%s is not a usable URL", url);
        return;
    }
    port = uri.port ? uri.port : apr_uri_port_of_scheme(uri.scheme);
    for (i = 0; i < 2; i++) {
        struct sockaddr_storage addr;
        socklen_t len = 0;
        char text[256];
        const char *fam = families[i] == AF_INET ? "IPv4" : "IPv6";
        const char *err;

        if (!resolve(uri.hostname, families[i], &addr, &len, text,
                     sizeof(text))) {
            check(r, ST_UNKNOWN, "dns", "%s %s: no address (%s)", uri.hostname,
                  fam, text);
            continue;
        }
        check(r, ST_OK, "dns", "%s %s: %s", uri.hostname, fam, text);
        err = tcp_connect(&addr, len, port, timeout_ms);
        check(r, err ? ST_UNKNOWN : ST_OK, "connect", "%s port %d over %s: %s",
              text, port, fam, err ? err : "connected");
    }
}

/* One OCSP request, validated as the module would; 1 when good. */
static int check_fetch(report_t *r, const og_cert_t *c, const char *url,
                       const char *proxy, const options_t *o)
{
    apr_array_header_t *batch = apr_array_make(r->p, 1, sizeof(og_fetch_t *));
    og_fetch_opts_t fo;
    og_fetch_t *f = og_fetch_make(r->p, url, c->request_der, c->request_len,
                                  proxy, NULL);
    og_validation_t v;
    const char *way = proxy ? apr_pstrcat(r->p, url, " via proxy ", proxy, NULL)
                            : url;

    memset(&fo, 0, sizeof(fo));
    fo.timeout = o->timeout;
    fo.connect_timeout = o->timeout;
    fo.max_size = OG_DOCTOR_MAX_RESPONSE;
    fo.max_parallel = 1;
    fo.user_agent = "ocsp-guard-doctor";
    APR_ARRAY_PUSH(batch, og_fetch_t *) = f;
    og_fetch_run(batch, &fo, NULL, NULL, r->p);
    if (f->error != OG_OK) {
        check(r, ST_CRITICAL, "ocsp", "%s: %s [%s, as mod_ssl's %s]", way,
              f->detail, og_error_name(f->error),
              og_error_ah(f->error) ? og_error_ah(f->error) : "-");
        return 0;
    }
    if (og_validate_response(c, f->body, f->body_len, apr_time_now(),
                             apr_time_from_sec(300), &v, r->p) != OG_OK) {
        check(r, ST_CRITICAL, "ocsp", "%s: answer rejected [%s]: %s", way,
              og_error_name(v.error), v.detail);
        return 0;
    }
    check(r, v.cert_status == OG_CERT_GOOD ? ST_OK : ST_CRITICAL, "ocsp",
          "%s: %s, valid until %s (%" APR_TIME_T_FMT " s left), %s, %"
          APR_SIZE_T_FMT " bytes, %" APR_TIME_T_FMT " ms", way,
          og_cert_status_name(v.cert_status), og_rfc3339(r->p, v.next_update),
          apr_time_sec(v.next_update - apr_time_now()),
          f->used_get ? "GET" : "POST", f->body_len,
          apr_time_as_msec(f->elapsed));
    return v.cert_status == OG_CERT_GOOD;
}

/* The response the module saved for a restart; 1 when still usable. */
static int check_saved(report_t *r, const og_cert_t *c, const char *dir)
{
    unsigned char *data = NULL;
    apr_size_t len = 0;
    og_record_t rec;
    og_validation_t v;
    apr_status_t rv = og_store_load(dir, og_store_name(r->p, c->sha1_hex),
                                    OG_DOCTOR_MAX_RESPONSE, &data, &len, r->p);

    if (rv != APR_SUCCESS) {
        check(r, ST_UNKNOWN, "saved", "no saved response in %s", dir);
        return 0;
    }
    if (og_record_decode(&rec, data, len) != APR_SUCCESS
        || memcmp(rec.cert_sha1, c->sha1, OG_CERT_SHA1_LEN) != 0) {
        check(r, ST_WARNING, "saved", "unreadable or foreign record in %s",
              dir);
        return 0;
    }
    if (og_validate_response(c, rec.der, rec.der_len, apr_time_now(),
                             apr_time_from_sec(300), &v, r->p) != OG_OK) {
        check(r, ST_WARNING, "saved", "saved response no longer usable: %s",
              v.detail);
        return 0;
    }
    check(r, ST_OK, "saved", "%s response from %s, valid %" APR_TIME_T_FMT
          " s more (until %s)", og_cert_status_name(v.cert_status),
          og_source_name(rec.source),
          apr_time_sec(v.next_update - apr_time_now()),
          og_rfc3339(r->p, v.next_update));
    return 1;
}

/* Diagnose the certificate chain in `file` (as in SSLCertificateFile). */
int og_doctor_file(apr_pool_t *p, const char *file, const options_t *o,
                       apr_array_header_t *json_out)
{
    report_t r;
    BIO *bio = BIO_new_file(file, "r");
    X509 *leaf = NULL, *issuer = NULL;
    og_cert_t *c;
    apr_array_header_t *chain;
    const char *err = NULL;
    int i, any_good = 0, urls = 0, saved_ok;

    memset(&r, 0, sizeof(r));
    r.p = p;
    r.json = o->json;
    r.checks = apr_array_make(p, 16, sizeof(const char *));
    if (!o->json)
        printf("%s\n", file);
    if (bio)
        leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!leaf) {
        check(&r, ST_CRITICAL, "certificate", "no PEM certificate in %s", file);
        goto done;
    }
    if ((issuer = og_tool_find_issuer(file, leaf)) != NULL)
        check(&r, ST_OK, "chain", "issuer found in the file");
    for (i = 0; !issuer && i < o->chain_files->nelts; i++) {
        const char *chain = APR_ARRAY_IDX(o->chain_files, i, const char *);
        if ((issuer = og_tool_find_issuer(chain, leaf)) != NULL)
            check(&r, ST_OK, "chain", "issuer found in %s", chain);
    }
    if (!issuer) {
        check(&r, ST_CRITICAL, "chain", "the issuer of the certificate is not"
              " in the file%s%s: mod_ssl cannot staple it (AH02217); put the"
              " intermediate after the certificate, or name the file that"
              " holds it with --chain", o->chain_files->nelts ? " nor in " : "",
              apr_array_pstrcat(p, o->chain_files, ' '));
        goto done;
    }
    c = og_cert_parse(apr_pstrcat(p, og_tool_pem(p, leaf), og_tool_pem(p, issuer), NULL),
                      p, &err);
    if (!c) {
        check(&r, ST_CRITICAL, "certificate", "%s", err);
        goto done;
    }
    check(&r, ST_OK, "certificate", "%s serial %s id %s%s, expires %s",
          c->subject, c->serial_hex, c->sha1_hex,
          c->must_staple ? " must-staple" : "", og_rfc3339(p, c->not_after));
    for (i = 0; i < c->ocsp_urls->nelts; i++) {
        const char *url = APR_ARRAY_IDX(c->ocsp_urls, i, const char *);
        check(&r, ST_OK, "aia", "OCSP responder %s", url);
        if (!o->proxy || o->proxy_mode != OG_PROXY_ALWAYS)
            check_network(&r, url, (int)apr_time_as_msec(o->timeout));
    }
    /* every way the module would try, in its order */
    chain = og_tool_chain(p, c, o);
    for (i = 0; i < chain->nelts; i++) {
        const og_way_t *w = &APR_ARRAY_IDX(chain, i, og_way_t);
        any_good |= check_fetch(&r, c, w->url, w->proxy, o);
    }
    urls = chain->nelts;
    if (urls == 0 && c->must_staple) {
        check(&r, ST_CRITICAL, "aia", "no OCSP URL in the certificate, but it"
              " is must-staple: browsers refuse the site without a staple;"
              " give it a mirror (OCSPGuardMirror) or reissue it without the"
              " TLS Feature extension");
        goto done;
    }
    if (urls == 0) {
        check(&r, ST_OK, "aia", "no OCSP URL in the certificate (its CA may"
              " have stopped OCSP): nothing to staple, nothing to fix");
        goto done;
    }
    saved_ok = o->state_dir ? check_saved(&r, c, o->state_dir) : 0;
    /* The verdict: a good answer now is OK; responders failing while a
     * saved staple is still good is a WARNING (act before it expires);
     * nothing good anywhere is CRITICAL. */
    r.status = any_good ? ST_OK : saved_ok ? ST_WARNING : ST_CRITICAL;
done:
    X509_free(leaf);
    X509_free(issuer);
    if (o->json)
        APR_ARRAY_PUSH(json_out, const char *) = apr_psprintf(p,
            "{\"file\":%s,\"status\":\"%s\",\"checks\":[%s]}",
            og_json_str(p, file), status_names[r.status],
            apr_array_pstrcat(p, r.checks, ','));
    else
        printf("  => %s\n", status_names[r.status]);
    return r.status;
}