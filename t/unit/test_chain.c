/* SPDX-License-Identifier: Apache-2.0 */
/* og_chain: the failover order, shared by the module and ocsp-guard. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "src/og_chain.h"

static apr_pool_t *pool;

/* A comma-separated list as an array of strings ("" -> empty, NULL -> NULL). */
static apr_array_header_t *list(const char *csv)
{
    apr_array_header_t *a;
    char *copy, *tok, *last = NULL;

    if (!csv)
        return NULL;
    a = apr_array_make(pool, 4, sizeof(const char *));
    copy = apr_pstrdup(pool, csv);
    for (tok = apr_strtok(copy, ",", &last); tok;
         tok = apr_strtok(NULL, ",", &last))
        APR_ARRAY_PUSH(a, const char *) = tok;
    return a;
}

/* Each way as "source:url[>proxy]", joined with spaces. */
static const char *render(const apr_array_header_t *chain)
{
    const char *out = "";
    int i;

    for (i = 0; i < chain->nelts; i++) {
        const og_way_t *w = &APR_ARRAY_IDX(chain, i, og_way_t);
        out = apr_pstrcat(pool, out, i ? " " : "", og_source_name(w->source),
                          ":", w->url, w->proxy ? ">" : "",
                          w->proxy ? w->proxy : "", NULL);
    }
    return out;
}

typedef struct {
    const char *name;
    const char *aia;            /* comma-separated */
    const char *mirrors;        /* comma-separated, NULL: none */
    int mirrors_first;
    const char *proxy;
    og_proxy_mode_e mode;
    const char *want;
} chain_case_t;

static const chain_case_t cases[] = {
    { "AIA only", "http://a/,http://b/", NULL, 0, NULL, OG_PROXY_NONE,
      "direct:http://a/ direct:http://b/" },
    { "mirrors after the AIA URLs", "http://a/", "http://m/", 0, NULL,
      OG_PROXY_NONE, "direct:http://a/ mirror:http://m/" },
    { "mirrors first", "http://a/", "http://m/,http://n/", 1, NULL,
      OG_PROXY_NONE, "mirror:http://m/ mirror:http://n/ direct:http://a/" },
    { "proxy as fallback: everything direct, then through it",
      "http://a/", "http://m/", 0, "http://p:3128", OG_PROXY_FALLBACK,
      "direct:http://a/ mirror:http://m/ proxy:http://a/>http://p:3128"
      " proxy:http://m/>http://p:3128" },
    { "proxy always: only through it, mirrors too",
      "http://a/", "http://m/", 1, "http://p:3128", OG_PROXY_ALWAYS,
      "proxy:http://m/>http://p:3128 proxy:http://a/>http://p:3128" },
    { "no AIA URL, a mirror", "", "http://m/", 0, NULL, OG_PROXY_NONE,
      "mirror:http://m/" },
    { "a mirror that is also the AIA URL is tried once", "http://a/",
      "http://a/", 0, NULL, OG_PROXY_NONE, "direct:http://a/" },
    { "nothing at all", "", NULL, 0, NULL, OG_PROXY_NONE, "" },
};

static void chain_order_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const chain_case_t *c = &cases[i];
        og_chain_conf_t conf = { list(c->mirrors), c->mirrors_first,
                                 c->proxy, c->mode };
        apr_array_header_t *chain = og_chain_make(pool);

        og_chain_add(chain, list(c->aia), &conf);
        if (strcmp(render(chain), c->want) != 0)
            fail_msg("%s: got '%s', want '%s'", c->name, render(chain),
                     c->want);
    }
}

static void second_vhost_adds_only_its_own_ways(void **state)
{
    apr_array_header_t *chain = og_chain_make(pool);
    og_chain_conf_t plain = { NULL, 0, NULL, OG_PROXY_NONE };
    og_chain_conf_t with_mirror = { list("http://m/"), 0, "http://p:1",
                                    OG_PROXY_FALLBACK };

    (void)state;
    og_chain_add(chain, list("http://a/"), &plain);
    og_chain_add(chain, list("http://a/"), &with_mirror);
    assert_string_equal(render(chain),
                        "direct:http://a/ mirror:http://m/"
                        " proxy:http://a/>http://p:1 proxy:http://m/>http://p:1");
    assert_string_equal(og_chain_desc(pool, chain),
                        "http://a/, then http://m/, then http://a/ via proxy"
                        " http://p:1, then http://m/ via proxy http://p:1");
}

/* A track keeps pointing at a way's name: the chain makes it once, in its
 * own pool, and og_way_name never allocates; a way not made by a chain is
 * named by its URL. */
static void ways_are_named_once_by_the_chain(void **state)
{
    apr_array_header_t *chain = og_chain_make(pool);
    og_chain_conf_t fallback = { NULL, 0, "http://p:1", OG_PROXY_FALLBACK };
    og_way_t loose = { "http://x/", "http://p:1", OG_SOURCE_PROXY, NULL };
    const og_way_t *direct, *proxied;

    (void)state;
    og_chain_add(chain, list("http://a/"), &fallback);
    assert_int_equal(chain->nelts, 2);
    direct = &APR_ARRAY_IDX(chain, 0, og_way_t);
    proxied = &APR_ARRAY_IDX(chain, 1, og_way_t);
    assert_ptr_equal(og_way_name(direct), direct->url);
    assert_string_equal(og_way_name(proxied), "http://a/ via proxy http://p:1");
    assert_ptr_equal(og_way_desc(pool, proxied), og_way_name(proxied));
    assert_string_equal(og_way_name(&loose), "http://x/");
    assert_string_equal(og_way_desc(pool, &loose),
                        "http://x/ via proxy http://p:1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chain_order_table),
        cmocka_unit_test(second_vhost_adds_only_its_own_ways),
        cmocka_unit_test(ways_are_named_once_by_the_chain),
    };
    int rc;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
