/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <apr_base64.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "og_fetch.h"

/* RFC 5019 section 5: GET only while the encoded request stays this short. */
#define OG_GET_MAX_ENCODED 255

apr_status_t og_fetch_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK
           ? APR_SUCCESS : APR_EGENERAL;
}

og_fetch_t *og_fetch_make(apr_pool_t *p, const char *url,
                          const unsigned char *request, apr_size_t len,
                          const char *proxy, void *baton)
{
    og_fetch_t *f = apr_pcalloc(p, sizeof(*f));

    f->pool = p;
    f->url = url;
    f->request = request;
    f->request_len = len;
    f->proxy = proxy;
    f->baton = baton;
    return f;
}

const char *og_fetch_get_url(apr_pool_t *p, const char *base,
                             const unsigned char *request, apr_size_t len)
{
    char *b64 = apr_palloc(p, (apr_size_t)apr_base64_encode_len((int)len));
    char *enc, *out;
    apr_size_t blen, i, elen = 0, baselen = strlen(base);

    apr_base64_encode_binary(b64, request, (int)len);
    blen = strlen(b64);
    enc = apr_palloc(p, blen * 3 + 1);
    /* base64 uses + / = which must be percent-encoded in a path */
    for (i = 0; i < blen; i++) {
        switch (b64[i]) {
        case '+': memcpy(enc + elen, "%2B", 3); elen += 3; break;
        case '/': memcpy(enc + elen, "%2F", 3); elen += 3; break;
        case '=': memcpy(enc + elen, "%3D", 3); elen += 3; break;
        default:  enc[elen++] = b64[i];
        }
    }
    enc[elen] = '\0';
    if (elen > OG_GET_MAX_ENCODED)
        return NULL;
    out = apr_pstrcat(p, base,
                      (baselen && base[baselen - 1] == '/') ? "" : "/",
                      enc, NULL);
    return out;
}

void og_fetch_body_reset(og_fetch_t *f, apr_size_t max)
{
    f->body = NULL;
    f->body_len = 0;
    f->body_cap = 0;
    f->max_size = max;
    f->overflow = 0;
}

apr_size_t og_fetch_body_append(og_fetch_t *f, const void *chunk,
                                apr_size_t n)
{
    if (n == 0 || f->overflow)
        return 0;
    /* written so that no sum can wrap, whatever n and the cap */
    if (f->body_len > f->max_size || n > f->max_size - f->body_len) {
        f->overflow = 1;
        return 0;
    }
    if (n > f->body_cap - f->body_len) {
        apr_size_t need = f->body_len + n;
        apr_size_t cap = f->body_cap ? f->body_cap : 4096;
        unsigned char *nb;
        while (cap < need)
            cap = cap > f->max_size / 2 ? f->max_size : cap * 2;
        if (cap > f->max_size)
            cap = f->max_size;
        /* the old buffer stays in the pool: a response is a few KB and
         * lives as long as its fetch */
        nb = apr_palloc(f->pool, cap);
        if (f->body_len)
            memcpy(nb, f->body, f->body_len);
        f->body = nb;
        f->body_cap = cap;
    }
    memcpy(f->body + f->body_len, chunk, n);
    f->body_len += n;
    return n;
}

/* libcurl's write callback: anything but n back aborts the transfer
 * (CURLE_WRITE_ERROR), which classify reads as too_large via f->overflow. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    og_fetch_t *f = userdata;

    if (nmemb && size > (apr_size_t)-1 / nmemb) {
        f->overflow = 1;
        return 0;
    }
    if (size * nmemb == 0)
        return 0;
    return og_fetch_body_append(f, data, size * nmemb);
}

void og_fetch_classify_http(og_fetch_t *f)
{
    /* No Content-Type check: some CAs label good responses wrongly, and the
     * validator's signature check is what decides; refusing a mislabeled
     * valid response would only take a staple away. */
    if (f->http_status != 200) {
        f->error = OG_ERR_HTTP_STATUS;
        f->detail = apr_psprintf(f->pool, "HTTP status %ld", f->http_status);
    }
    else if (f->body_len == 0) {
        f->error = OG_ERR_MALFORMED;
        f->detail = "HTTP 200 with an empty body";
    }
    else {
        f->error = OG_OK;
        f->detail = "ok";
    }
}

static CURL *start_transfer(og_fetch_t *f, const og_fetch_opts_t *opts)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    const char *get_url;

    if (!c)
        return NULL;
    og_fetch_body_reset(f, opts->max_size);
    f->errbuf[0] = '\0';
    get_url = og_fetch_get_url(f->pool, f->url, f->request, f->request_len);
    f->used_get = get_url != NULL;

    curl_easy_setopt(c, CURLOPT_PRIVATE, f);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, f->errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
    /* Redirects are not followed: a responder that redirects is failing. */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)apr_time_as_msec(opts->connect_timeout));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     (long)apr_time_as_msec(opts->timeout));
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)opts->max_size);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    /* An empty proxy overrides http_proxy from the environment. */
    curl_easy_setopt(c, CURLOPT_PROXY, f->proxy ? f->proxy : "");
    if (opts->user_agent)
        curl_easy_setopt(c, CURLOPT_USERAGENT, opts->user_agent);
    hdrs = curl_slist_append(hdrs, "Accept: application/ocsp-response");
    if (get_url) {
        curl_easy_setopt(c, CURLOPT_URL, get_url);
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    else {
        curl_easy_setopt(c, CURLOPT_URL, f->url);
        hdrs = curl_slist_append(hdrs, "Content-Type: application/ocsp-request");
        hdrs = curl_slist_append(hdrs, "Expect:");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)f->request);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)f->request_len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    f->headers = hdrs;
    f->curl = c;
    return c;
}

static void classify(og_fetch_t *f, CURLcode rc)
{
    curl_off_t connect_us = 0, total_us = 0;
    CURL *c = f->curl;
    const char *why = f->errbuf[0] ? f->errbuf : curl_easy_strerror(rc);

    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->http_status);
    curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connect_us);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &total_us);
    f->elapsed = (apr_interval_time_t)total_us;

    switch (rc) {
    case CURLE_OK:
        og_fetch_classify_http(f);
        return;
    case CURLE_COULDNT_RESOLVE_HOST:
        f->error = OG_ERR_DNS;
        break;
    case CURLE_COULDNT_RESOLVE_PROXY:
        f->error = OG_ERR_PROXY;
        break;
    case CURLE_COULDNT_CONNECT:
        f->error = f->proxy ? OG_ERR_PROXY : OG_ERR_CONNECT_REFUSED;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        f->error = connect_us > 0 ? OG_ERR_READ_TIMEOUT
                                  : (f->proxy ? OG_ERR_PROXY
                                              : OG_ERR_CONNECT_TIMEOUT);
        break;
    case CURLE_FILESIZE_EXCEEDED:
        f->error = OG_ERR_TOO_LARGE;
        break;
    case CURLE_WRITE_ERROR:
        f->error = f->overflow ? OG_ERR_TOO_LARGE : OG_ERR_INTERNAL;
        break;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        f->error = OG_ERR_READ_ERROR;
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
        f->error = OG_ERR_TLS;
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        f->error = OG_ERR_MALFORMED;
        break;
    default:
        f->error = OG_ERR_INTERNAL;
        break;
    }
    if (f->error == OG_ERR_TOO_LARGE)
        f->detail = apr_psprintf(f->pool, "response over %" APR_SIZE_T_FMT
                                 " bytes", f->max_size);
    else
        f->detail = apr_pstrdup(f->pool, why);
}

static void finish_transfer(og_fetch_t *f)
{
    curl_easy_cleanup(f->curl);
    curl_slist_free_all(f->headers);
    f->curl = NULL;
    f->headers = NULL;
}

struct og_fetcher_t {
    CURLM *multi;                   /* its connection cache outlives runs */
    og_fetch_opts_t opts;
    apr_pool_t *pool;
    apr_hash_t *per_host;           /* transfers in flight, by responder */
};

static apr_status_t fetcher_cleanup(void *data)
{
    og_fetcher_t *fr = data;

    if (fr->multi)
        curl_multi_cleanup(fr->multi);
    fr->multi = NULL;
    return APR_SUCCESS;
}

og_fetcher_t *og_fetcher_make(apr_pool_t *p, const og_fetch_opts_t *opts)
{
    og_fetcher_t *fr = apr_pcalloc(p, sizeof(*fr));
    int total = opts->max_parallel > 0 ? opts->max_parallel : 1;

    fr->multi = curl_multi_init();
    if (!fr->multi)
        return NULL;
    fr->opts = *opts;
    fr->opts.max_parallel = total;
    if (fr->opts.max_per_host <= 0 || fr->opts.max_per_host > total)
        fr->opts.max_per_host = total;
    fr->pool = p;
    fr->per_host = apr_hash_make(p);
    /* idle connections kept for the next round: HTTP keep-alive */
    curl_multi_setopt(fr->multi, CURLMOPT_MAXCONNECTS, (long)total);
    curl_multi_setopt(fr->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    apr_pool_cleanup_register(p, fr, fetcher_cleanup, apr_pool_cleanup_null);
    return fr;
}

/* The counter of transfers in flight to f's responder (host and port,
 * through its proxy or not), made on first use. */
static int *host_slot(og_fetcher_t *fr, const og_fetch_t *f)
{
    char key[512];
    const char *rest = strstr(f->url, "://");
    apr_size_t n = rest ? strcspn(rest + 3, "/?#") + (apr_size_t)(rest + 3
                                                           - f->url)
                        : strlen(f->url);
    int *slot;

    apr_snprintf(key, sizeof(key), "%.*s|%s", (int)(n < 400 ? n : 400),
                 f->url, f->proxy ? f->proxy : "");
    slot = apr_hash_get(fr->per_host, key, APR_HASH_KEY_STRING);
    if (!slot) {
        slot = apr_pcalloc(fr->pool, sizeof(*slot));
        apr_hash_set(fr->per_host, apr_pstrdup(fr->pool, key),
                     APR_HASH_KEY_STRING, slot);
    }
    return slot;
}

apr_status_t og_fetcher_run(og_fetcher_t *fr, og_fetch_next_fn *next,
                            og_fetch_ready_fn *ready, og_fetch_done_fn *done,
                            void *ctx, apr_pool_t *p)
{
    /* fetches waiting for a slot: follow-ups, and those whose responder
     * has max_per_host in flight */
    apr_array_header_t *waiting = apr_array_make(p, 8, sizeof(og_fetch_t *));
    int running = 0, active = 0, exhausted = !next, i;
    const og_fetch_opts_t *opts = &fr->opts;

    for (;;) {
        CURLMsg *msg;
        int left;

        while (active < opts->max_parallel) {
            og_fetch_t *f = NULL;
            int *slot = NULL;

            for (i = 0; i < waiting->nelts; i++) {
                og_fetch_t *w = APR_ARRAY_IDX(waiting, i, og_fetch_t *);
                slot = host_slot(fr, w);
                if (*slot < opts->max_per_host) {
                    f = w;
                    memmove(waiting->elts + i * sizeof(og_fetch_t *),
                            waiting->elts + (i + 1) * sizeof(og_fetch_t *),
                            (apr_size_t)(waiting->nelts - i - 1)
                            * sizeof(og_fetch_t *));
                    waiting->nelts--;
                    break;
                }
            }
            /* it waited: what it was for may have changed meanwhile */
            if (f && ready && (f = ready(f, ctx)) != NULL
                && *(slot = host_slot(fr, f)) >= opts->max_per_host) {
                APR_ARRAY_PUSH(waiting, og_fetch_t *) = f;
                continue;
            }
            if (!f && !exhausted && waiting->nelts < opts->max_parallel) {
                if ((f = next(ctx)) == NULL) {
                    exhausted = 1;
                }
                else if (*(slot = host_slot(fr, f)) >= opts->max_per_host) {
                    APR_ARRAY_PUSH(waiting, og_fetch_t *) = f;
                    continue;
                }
            }
            if (!f)
                break;
            if (!start_transfer(f, opts)) {
                og_fetch_t *follow;
                f->error = OG_ERR_INTERNAL;
                f->detail = "cannot create a transfer";
                if (done && (follow = done(f, ctx)) != NULL)
                    APR_ARRAY_PUSH(waiting, og_fetch_t *) = follow;
                continue;
            }
            f->host_slot = slot;
            (*slot)++;
            curl_multi_add_handle(fr->multi, f->curl);
            active++;
        }
        if (active == 0 && waiting->nelts == 0 && exhausted)
            break;
        curl_multi_perform(fr->multi, &running);
        while ((msg = curl_multi_info_read(fr->multi, &left)) != NULL) {
            og_fetch_t *f = NULL, *follow;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
            classify(f, msg->data.result);
            curl_multi_remove_handle(fr->multi, f->curl);
            finish_transfer(f);
            (*(int *)f->host_slot)--;
            active--;
            if (done && (follow = done(f, ctx)) != NULL)
                APR_ARRAY_PUSH(waiting, og_fetch_t *) = follow;
        }
        if (active > 0 && running > 0)
            curl_multi_poll(fr->multi, NULL, 0, 100, NULL);
    }
    return APR_SUCCESS;
}

typedef struct {
    apr_array_header_t *fetches;
    int next;
} og_fetch_list_t;

static og_fetch_t *list_next(void *ctx)
{
    og_fetch_list_t *l = ctx;

    return l->next < l->fetches->nelts
           ? APR_ARRAY_IDX(l->fetches, l->next++, og_fetch_t *) : NULL;
}

typedef struct {
    og_fetch_list_t list;
    og_fetch_done_fn *done;
    void *ctx;
} og_fetch_once_t;

static og_fetch_t *once_next(void *ctx)
{
    return list_next(&((og_fetch_once_t *)ctx)->list);
}

static og_fetch_t *once_done(og_fetch_t *f, void *ctx)
{
    og_fetch_once_t *o = ctx;

    return o->done ? o->done(f, o->ctx) : NULL;
}

apr_status_t og_fetch_run(apr_array_header_t *fetches,
                          const og_fetch_opts_t *opts,
                          og_fetch_done_fn *done, void *ctx, apr_pool_t *p)
{
    apr_pool_t *sub;
    og_fetcher_t *fr;
    og_fetch_once_t once;
    apr_status_t rv;

    if (apr_pool_create(&sub, p) != APR_SUCCESS)
        return APR_ENOMEM;
    if ((fr = og_fetcher_make(sub, opts)) == NULL) {
        apr_pool_destroy(sub);
        return APR_ENOMEM;
    }
    once.list.fetches = fetches;
    once.list.next = 0;
    once.done = done;
    once.ctx = ctx;
    rv = og_fetcher_run(fr, once_next, NULL, once_done, &once, sub);
    apr_pool_destroy(sub);
    return rv;
}
