/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <openssl/sha.h>

#include "og_certcache.h"
#include "og_validate.h"

#define OG_CC_MAX_ID 64

/* One issuer, parsed once, shared by the certificates it issued (each
 * og_cert_t holds a reference of its own). */
typedef struct {
    unsigned char sha1[SHA_DIGEST_LENGTH];  /* of its DER */
    X509 *x;
    og_signers_t *signers;                  /* its delegated responders */
    int users;                              /* entries that use it */
} cc_issuer_t;

typedef struct {
    char id[OG_CC_MAX_ID];
    apr_size_t id_len;
    unsigned char issuer_sha1[SHA_DIGEST_LENGTH];
    unsigned char pem_sha1[SHA_DIGEST_LENGTH];  /* of the PEM text */
    cc_issuer_t *issuer;
    og_cert_t *cert;                        /* NULL: did not parse */
    const char *error;
    apr_uint32_t used;                      /* generation that last asked */
} cc_entry_t;

struct og_certcache_t {
    apr_pool_t *memos;                      /* og_vmemo_t, apart: the fetcher
                                             * writes them, and pages it
                                             * writes are copied */
    apr_pool_t *pool;                       /* entries, issuers, certs */
    apr_pool_t *scratch;                    /* one get at a time */
    apr_hash_t *entries;                    /* cc_entry_t * by id */
    apr_hash_t *issuers;                    /* cc_issuer_t * by SHA-1 */
    apr_uint32_t generation;
    unsigned int dropped;                   /* since the last compaction */
    og_certcache_stats_t stats;
};

static void make_tables(og_certcache_t *cc)
{
    /* apr's default hash function: nothing points into the module */
    cc->entries = apr_hash_make(cc->pool);
    cc->issuers = apr_hash_make(cc->pool);
}

/* The cache's pools belong to no pool tree: nothing destroys them behind
 * its back (a parent's destruction runs its children in an order of its
 * own); og_certcache_destroy() does. */
static apr_status_t new_pool(apr_pool_t **p)
{
    return apr_pool_create_unmanaged_ex(p, NULL, NULL);
}

og_certcache_t *og_certcache_make(apr_pool_t *parent)
{
    og_certcache_t *cc = apr_pcalloc(parent, sizeof(*cc));

    if (new_pool(&cc->pool) != APR_SUCCESS
        || new_pool(&cc->memos) != APR_SUCCESS
        || new_pool(&cc->scratch) != APR_SUCCESS)
        return NULL;
    make_tables(cc);
    cc->generation = 1;
    return cc;
}

/* c moved into pool p: its text copied, its OpenSSL objects taken over. */
static og_cert_t *move_cert(const og_cert_t *c, apr_pool_t *p,
                            apr_pool_t *memos)
{
    og_cert_t *n = apr_pmemdup(p, c, sizeof(*c));
    int i;

    n->subject = apr_pstrdup(p, c->subject);
    n->serial_hex = apr_pstrdup(p, c->serial_hex);
    n->request_der = apr_pmemdup(p, c->request_der, c->request_len);
    n->memo = og_vmemo_copy(c->memo, memos);
    n->ocsp_urls = apr_array_make(p, c->ocsp_urls->nelts,
                                  sizeof(const char *));
    for (i = 0; i < c->ocsp_urls->nelts; i++)
        APR_ARRAY_PUSH(n->ocsp_urls, const char *)
            = apr_pstrdup(p, APR_ARRAY_IDX(c->ocsp_urls, i, const char *));
    return n;
}

void og_certcache_generation(og_certcache_t *cc)
{
    apr_hash_t *entries = cc->entries, *issuers = cc->issuers;
    apr_pool_t *old = cc->pool, *old_memos = cc->memos, *fresh, *memos;
    apr_hash_index_t *hi;

    cc->generation++;
    memset(&cc->stats, 0, sizeof(cc->stats));
    /* Compact only when something was dropped: the usual restart changes
     * nothing and copies nothing. */
    if (cc->dropped == 0 || new_pool(&fresh) != APR_SUCCESS)
        return;
    if (new_pool(&memos) != APR_SUCCESS) {
        apr_pool_destroy(fresh);
        return;
    }
    cc->pool = fresh;
    cc->memos = memos;
    make_tables(cc);
    for (hi = apr_hash_first(NULL, issuers); hi; hi = apr_hash_next(hi)) {
        cc_issuer_t *is = apr_pmemdup(fresh, apr_hash_this_val(hi),
                                      sizeof(cc_issuer_t));
        apr_hash_set(cc->issuers, is->sha1, sizeof(is->sha1), is);
    }
    for (hi = apr_hash_first(NULL, entries); hi; hi = apr_hash_next(hi)) {
        cc_entry_t *e = apr_pmemdup(fresh, apr_hash_this_val(hi),
                                    sizeof(cc_entry_t));
        if (e->issuer)
            e->issuer = apr_hash_get(cc->issuers, e->issuer->sha1,
                                     sizeof(e->issuer->sha1));
        if (e->cert)
            e->cert = move_cert(e->cert, fresh, memos);
        if (e->error)
            e->error = apr_pstrdup(fresh, e->error);
        apr_hash_set(cc->entries, e->id, (apr_ssize_t)e->id_len, e);
    }
    apr_pool_destroy(old);
    apr_pool_destroy(old_memos);
    cc->dropped = 0;
}

/* The issuer with this DER, parsed now if it is new; NULL when it does
 * not parse. */
static cc_issuer_t *issuer_for(og_certcache_t *cc, const og_der_t *der,
                               const unsigned char *sha1)
{
    cc_issuer_t *is = apr_hash_get(cc->issuers, sha1, SHA_DIGEST_LENGTH);
    X509 *x;

    if (is)
        return is;
    if (!(x = og_cert_der_x509(der)))
        return NULL;
    is = apr_pcalloc(cc->pool, sizeof(*is));
    memcpy(is->sha1, sha1, sizeof(is->sha1));
    is->x = x;
    is->signers = og_signers_make();
    apr_hash_set(cc->issuers, is->sha1, sizeof(is->sha1), is);
    cc->stats.issuers_parsed++;
    return is;
}

static void release_entry(cc_entry_t *e)
{
    if (e->cert)
        og_cert_release(e->cert);
    e->cert = NULL;
    if (e->issuer)
        e->issuer->users--;
    e->issuer = NULL;
}

static og_cert_t *reuse(og_certcache_t *cc, cc_entry_t *e, const char **err)
{
    e->used = cc->generation;
    cc->stats.reused++;
    *err = e->error;
    return e->cert;
}

og_cert_t *og_certcache_get(og_certcache_t *cc, const char *id,
                            apr_size_t id_len, const char *pem,
                            const char **err)
{
    unsigned char sha1[SHA_DIGEST_LENGTH], pem_sha1[SHA_DIGEST_LENGTH];
    og_der_t leaf, issuer;
    cc_entry_t *e;
    cc_issuer_t *is = NULL;

    *err = NULL;
    if (id_len == 0 || id_len > OG_CC_MAX_ID) {
        *err = "no certificate id";
        return NULL;
    }
    /* mod_ssl writes the same PEM for the same chain at every pass: the
     * text's digest spares decoding it again */
    SHA1((const unsigned char *)pem, strlen(pem), pem_sha1);
    e = apr_hash_get(cc->entries, id, (apr_ssize_t)id_len);
    if (e && (e->used == cc->generation
              || !memcmp(e->pem_sha1, pem_sha1, sizeof(pem_sha1))))
        return reuse(cc, e, err);
    apr_pool_clear(cc->scratch);
    if (og_cert_pem_pair(pem, &leaf, &issuer, cc->scratch, err)
        != APR_SUCCESS)
        return NULL;
    SHA1(issuer.data, issuer.len, sha1);
    if (e && !memcmp(e->issuer_sha1, sha1, sizeof(sha1))) {
        memcpy(e->pem_sha1, pem_sha1, sizeof(pem_sha1));
        return reuse(cc, e, err);
    }
    if (e) {
        /* the same certificate with another issuer: parsed again */
        release_entry(e);
    }
    else {
        e = apr_pcalloc(cc->pool, sizeof(*e));
        memcpy(e->id, id, id_len);
        e->id_len = id_len;
        apr_hash_set(cc->entries, e->id, (apr_ssize_t)e->id_len, e);
    }
    memcpy(e->issuer_sha1, sha1, sizeof(sha1));
    memcpy(e->pem_sha1, pem_sha1, sizeof(pem_sha1));
    e->used = cc->generation;
    e->error = NULL;
    is = issuer_for(cc, &issuer, sha1);
    if (!is) {
        e->error = "no issuer certificate after the certificate";
    }
    else {
        e->cert = og_cert_make(leaf.data, leaf.len, is->x, 0, cc->pool,
                               &e->error);
        if (e->cert) {
            /* every certificate of this issuer learns its responders */
            e->cert->signers = is->signers;
            e->cert->memo = og_vmemo_make(cc->memos);
            e->issuer = is;
            is->users++;
        }
    }
    if (e->error)
        e->error = apr_pstrdup(cc->pool, e->error);
    cc->stats.parsed++;
    *err = e->error;
    return e->cert;
}

void og_certcache_sweep(og_certcache_t *cc)
{
    apr_hash_index_t *hi;

    cc->stats.freed = 0;
    for (hi = apr_hash_first(NULL, cc->entries); hi; hi = apr_hash_next(hi)) {
        cc_entry_t *e = apr_hash_this_val(hi);

        if (e->used == cc->generation)
            continue;
        release_entry(e);
        apr_hash_set(cc->entries, e->id, (apr_ssize_t)e->id_len, NULL);
        cc->stats.freed++;
        cc->dropped++;
    }
    for (hi = apr_hash_first(NULL, cc->issuers); hi; hi = apr_hash_next(hi)) {
        cc_issuer_t *is = apr_hash_this_val(hi);

        if (is->users > 0)
            continue;
        X509_free(is->x);
        og_signers_free(is->signers);
        is->x = NULL;
        is->signers = NULL;
        apr_hash_set(cc->issuers, is->sha1, sizeof(is->sha1), NULL);
        cc->dropped++;
    }
}

apr_array_header_t *og_certcache_list(const og_certcache_t *cc,
                                      apr_pool_t *p)
{
    apr_array_header_t *list = apr_array_make(p, (int)apr_hash_count(
                                                  cc->entries) + 1,
                                              sizeof(og_cert_t *));
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(p, cc->entries); hi; hi = apr_hash_next(hi)) {
        const cc_entry_t *e = apr_hash_this_val(hi);

        if (e->cert)
            APR_ARRAY_PUSH(list, og_cert_t *) = e->cert;
    }
    return list;
}

void og_certcache_stats(const og_certcache_t *cc, og_certcache_stats_t *st)
{
    *st = cc->stats;
    st->held = apr_hash_count(cc->entries);
    st->issuers = apr_hash_count(cc->issuers);
}

void og_certcache_destroy(og_certcache_t *cc)
{
    cc->generation++;
    og_certcache_sweep(cc);
    apr_pool_destroy(cc->pool);
    apr_pool_destroy(cc->memos);
    apr_pool_destroy(cc->scratch);
    cc->pool = NULL;
    cc->memos = NULL;
    cc->scratch = NULL;
}
