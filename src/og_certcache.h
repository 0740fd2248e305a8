/* SPDX-License-Identifier: Apache-2.0 */
/* Parsed certificates kept for the life of the process, not of one
 * configuration: httpd reads its configuration twice at start-up and again
 * at every graceful restart, and mod_ssl primes every certificate each
 * time. A certificate is parsed once (keyed by mod_ssl's id, the SHA-1 of
 * its DER, and by its issuer) and again only when it changes; each
 * distinct issuer is parsed once for all the certificates it issued; what
 * a configuration no longer uses is freed.
 *
 * The cache outlives the module's code between passes (httpd unloads and
 * reloads the DSO), so it registers no pool cleanup: its OpenSSL objects
 * are freed by og_certcache_sweep() and og_certcache_destroy(). */
#ifndef OG_CERTCACHE_H
#define OG_CERTCACHE_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "og_cert.h"

typedef struct og_certcache_t og_certcache_t;

typedef struct {
    unsigned int parsed;        /* certificates parsed this generation */
    unsigned int reused;        /* found parsed already */
    unsigned int issuers_parsed;
    unsigned int freed;         /* dropped by the last sweep */
    unsigned int held;          /* certificates held now */
    unsigned int issuers;       /* distinct issuers held now */
} og_certcache_stats_t;

/* A cache (its head in `parent`, the process pool; its content in pools
 * of its own that only og_certcache_destroy() frees). */
og_certcache_t *og_certcache_make(apr_pool_t *parent);

/* A configuration generation starts (pre_config): nothing handed out
 * before is referenced any more, so the memory of what the last sweep
 * dropped can be given back (what is kept moves to a fresh pool). */
void og_certcache_generation(og_certcache_t *cc);

/* The certificate of `pem` (certificate, then issuer) whose id (SHA-1 of
 * its DER) is `id`: the one parsed before when the id and the issuer are
 * the same, else parsed now. NULL and *err when it does not parse (that
 * answer is kept too). Valid until the sweep of a generation that does
 * not ask for it. */
og_cert_t *og_certcache_get(og_certcache_t *cc, const char *id,
                            apr_size_t id_len, const char *pem,
                            const char **err);

/* After the generation asked for what it uses (post_config): free what it
 * did not ask for, and the issuers no certificate uses any more. */
void og_certcache_sweep(og_certcache_t *cc);

/* The certificates held (og_cert_t *), in p. */
apr_array_header_t *og_certcache_list(const og_certcache_t *cc,
                                      apr_pool_t *p);

void og_certcache_stats(const og_certcache_t *cc, og_certcache_stats_t *st);

/* Free everything (the process exits). */
void og_certcache_destroy(og_certcache_t *cc);

#endif
