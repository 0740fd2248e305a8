/* SPDX-License-Identifier: Apache-2.0 */
/* The failover chain: the ways to ask for one certificate's response, in
 * the order they are tried. The module and the ocsp-guard command build it
 * here, so that the command tells the operator what the module does. */
#ifndef OG_CHAIN_H
#define OG_CHAIN_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "og_record.h"

/* One way: a responder URL, directly or through a forward proxy. */
typedef struct {
    const char *url;
    const char *proxy;              /* NULL: direct */
    og_source_e source;             /* direct, mirror or proxy */
    const char *desc;               /* og_way_desc's text, made once with
                                     * the chain: a track keeps pointing
                                     * at it (NULL: not made by a chain) */
} og_way_t;

typedef enum {
    OG_PROXY_NONE = 0,
    OG_PROXY_FALLBACK,              /* direct first, then through the proxy */
    OG_PROXY_ALWAYS                 /* only through the proxy */
} og_proxy_mode_e;

/* What one vhost's configuration says about where to ask. */
typedef struct {
    const apr_array_header_t *mirrors;  /* const char *, may be NULL */
    int mirrors_first;                  /* mirrors before the AIA URLs */
    const char *proxy;                  /* NULL: none */
    og_proxy_mode_e proxy_mode;
} og_chain_conf_t;

/* A new, empty chain. */
apr_array_header_t *og_chain_make(apr_pool_t *p);

/* Append the ways `conf` gives for a certificate whose AIA lists
 * `aia_urls`: the AIA URLs and the mirrors (mirrors first if so
 * configured), directly, then the same list through the proxy; with the
 * proxy in `always` mode only through it. A way already in the chain
 * (same URL, same proxy) is not added again, so that vhosts sharing a
 * certificate add only their own ways after the first vhost's. */
void og_chain_add(apr_array_header_t *chain,
                  const apr_array_header_t *aia_urls,
                  const og_chain_conf_t *conf);

/* "URL" or "URL via proxy PROXY". */
const char *og_way_desc(apr_pool_t *p, const og_way_t *way);

/* The same without allocating: the chain's text, else the URL alone. */
const char *og_way_name(const og_way_t *way);

/* "A, then B, then C". */
const char *og_chain_desc(apr_pool_t *p, const apr_array_header_t *chain);

#endif
