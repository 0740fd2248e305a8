/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include "og_ways.h"

struct og_ways_t {
    apr_pool_t *pool;
    apr_hash_t *by_key;             /* og_responder_t * */
    apr_array_header_t *list;       /* og_responder_t *, first seen first */
};

og_ways_t *og_ways_make(apr_pool_t *p)
{
    og_ways_t *w = apr_pcalloc(p, sizeof(*w));

    w->pool = p;
    w->by_key = apr_hash_make(p);
    w->list = apr_array_make(p, 4, sizeof(og_responder_t *));
    return w;
}

const char *og_ways_key(apr_pool_t *p, const og_way_t *way)
{
    apr_uri_t uri;
    const char *key;

    if (apr_uri_parse(p, way->url, &uri) == APR_SUCCESS && uri.scheme
        && uri.hostname)
        key = apr_psprintf(p, "%s://%s:%u", uri.scheme, uri.hostname,
                           uri.port ? uri.port
                                    : apr_uri_port_of_scheme(uri.scheme));
    else
        key = way->url;
    return way->proxy ? apr_pstrcat(p, key, " via ", way->proxy, NULL) : key;
}

static og_responder_t *find(og_ways_t *w, const og_way_t *way, int make)
{
    apr_pool_t *scratch;
    const char *key;
    og_responder_t *r;

    if (apr_pool_create(&scratch, w->pool) != APR_SUCCESS)
        return NULL;
    key = og_ways_key(scratch, way);
    r = apr_hash_get(w->by_key, key, APR_HASH_KEY_STRING);
    if (!r && make) {
        r = apr_pcalloc(w->pool, sizeof(*r));
        r->key = apr_pstrdup(w->pool, key);
        apr_hash_set(w->by_key, r->key, APR_HASH_KEY_STRING, r);
        APR_ARRAY_PUSH(w->list, og_responder_t *) = r;
    }
    apr_pool_destroy(scratch);
    return r;
}

int og_ways_unreachable(og_error_e error)
{
    switch (error) {
    case OG_ERR_DNS:
    case OG_ERR_CONNECT_REFUSED:
    case OG_ERR_CONNECT_TIMEOUT:
    case OG_ERR_READ_TIMEOUT:
    case OG_ERR_PROXY:
        return 1;
    default:
        return 0;
    }
}

int og_ways_usable(og_ways_t *w, const og_way_t *way, apr_time_t now)
{
    og_responder_t *r = find(w, way, 0);

    if (!r || !r->down)
        return 1;
    if (r->probing || now < r->retry_at)
        return 0;
    r->probing = 1;
    return 1;
}

const og_responder_t *og_ways_report(og_ways_t *w, const og_way_t *way,
                                     og_error_e error, apr_time_t now)
{
    og_responder_t *r;
    apr_interval_time_t backoff = OG_WAYS_FIRST_BACKOFF;
    int i;

    if (!og_ways_unreachable(error)) {
        /* it answered (well or badly): reachable */
        r = find(w, way, 0);
        if (!r || (!r->down && !r->failures))
            return NULL;
        r->failures = 0;
        r->probing = 0;
        if (!r->down)
            return NULL;
        r->down = 0;
        return r;
    }
    r = find(w, way, 1);
    if (!r)
        return NULL;
    /* Down already and no probe out: a request that was in flight when it
     * went down. Only the probe's failure doubles the backoff, or a burst
     * of parallel timeouts would put the next probe at the cap at once. */
    if (r->down && !r->probing)
        return NULL;
    r->failures++;
    r->last_error = error;
    r->probing = 0;
    for (i = 1; i < r->failures && backoff < OG_WAYS_MAX_BACKOFF; i++)
        backoff *= 2;
    if (backoff > OG_WAYS_MAX_BACKOFF)
        backoff = OG_WAYS_MAX_BACKOFF;
    r->retry_at = now + backoff;
    if (r->down)
        return NULL;
    r->down = 1;
    r->since = now;
    return r;
}

const apr_array_header_t *og_ways_list(const og_ways_t *w)
{
    return w->list;
}

const og_responder_t *og_ways_get(const og_ways_t *w, const og_way_t *way)
{
    return find((og_ways_t *)w, way, 0);
}
