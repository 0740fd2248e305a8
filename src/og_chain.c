/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <apr_strings.h>

#include "og_chain.h"

apr_array_header_t *og_chain_make(apr_pool_t *p)
{
    return apr_array_make(p, 4, sizeof(og_way_t));
}

static int same_proxy(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static void add_way(apr_array_header_t *chain, const char *url,
                    const char *proxy, og_source_e source)
{
    og_way_t *w;
    int i;

    for (i = 0; i < chain->nelts; i++) {
        w = &APR_ARRAY_IDX(chain, i, og_way_t);
        if (!strcmp(w->url, url) && same_proxy(w->proxy, proxy))
            return;
    }
    w = apr_array_push(chain);
    w->url = url;
    w->proxy = proxy;
    w->source = source;
    w->desc = proxy ? apr_pstrcat(chain->pool, url, " via proxy ", proxy,
                                  NULL)
                    : url;
}

static void add_list(apr_array_header_t *chain,
                     const apr_array_header_t *urls, const char *proxy,
                     og_source_e source)
{
    int i;

    for (i = 0; urls && i < urls->nelts; i++)
        add_way(chain, APR_ARRAY_IDX(urls, i, const char *), proxy,
                proxy ? OG_SOURCE_PROXY : source);
}

void og_chain_add(apr_array_header_t *chain,
                  const apr_array_header_t *aia_urls,
                  const og_chain_conf_t *conf)
{
    const apr_array_header_t *first = conf->mirrors_first ? conf->mirrors
                                                          : aia_urls;
    const apr_array_header_t *then = conf->mirrors_first ? aia_urls
                                                         : conf->mirrors;
    og_source_e first_src = conf->mirrors_first ? OG_SOURCE_MIRROR
                                                : OG_SOURCE_DIRECT;
    og_source_e then_src = conf->mirrors_first ? OG_SOURCE_DIRECT
                                               : OG_SOURCE_MIRROR;
    int direct = !conf->proxy || conf->proxy_mode != OG_PROXY_ALWAYS;

    if (direct) {
        add_list(chain, first, NULL, first_src);
        add_list(chain, then, NULL, then_src);
    }
    if (conf->proxy) {
        add_list(chain, first, conf->proxy, first_src);
        add_list(chain, then, conf->proxy, then_src);
    }
}

const char *og_way_desc(apr_pool_t *p, const og_way_t *way)
{
    if (way->desc)
        return way->desc;
    return way->proxy ? apr_pstrcat(p, way->url, " via proxy ", way->proxy,
                                    NULL)
                      : way->url;
}

const char *og_way_name(const og_way_t *way)
{
    return way->desc ? way->desc : way->url;
}

const char *og_chain_desc(apr_pool_t *p, const apr_array_header_t *chain)
{
    const char *out = "";
    int i;

    for (i = 0; i < chain->nelts; i++)
        out = apr_pstrcat(p, out, i ? ", then " : "",
                          og_way_desc(p, &APR_ARRAY_IDX(chain, i, og_way_t)),
                          NULL);
    return out;
}
