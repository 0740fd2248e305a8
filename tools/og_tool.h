/* SPDX-License-Identifier: Apache-2.0 */
/* The ocsp-guard command: what its subcommands share. Built from the same
 * core as the module (src/), so that it says and does what the module
 * does. */
#ifndef OG_TOOL_H
#define OG_TOOL_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <openssl/x509.h>

#include "src/og_cert.h"
#include "src/og_chain.h"

/* Exit codes, the Nagios plugin convention. */
enum { ST_OK = 0, ST_WARNING = 1, ST_CRITICAL = 2, ST_UNKNOWN = 3 };

typedef struct {
    int json;
    int verbose;                     /* fetch: the module's log lines */
    const char *state_dir;
    const char *proxy;
    og_proxy_mode_e proxy_mode;
    apr_array_header_t *mirrors;
    int mirrors_first;
    apr_interval_time_t timeout;
    apr_array_header_t *chain_files; /* as SSLCertificateChainFile */
} options_t;

/* The issuer of `leaf` among the PEM certificates in `file`; NULL if none. */
X509 *og_tool_find_issuer(const char *file, X509 *leaf);

/* PEM text of one certificate. */
char *og_tool_pem(apr_pool_t *p, X509 *x);

/* The certificate in `file` (then its chain, as SSLCertificateFile), its
 * issuer searched there and in o->chain_files, parsed by the core. NULL
 * and *err set when it cannot be. */
og_cert_t *og_tool_load(apr_pool_t *p, const char *file, const options_t *o,
                        const char **err);

/* The ways the module would try for `c`, in its order. */
apr_array_header_t *og_tool_chain(apr_pool_t *p, const og_cert_t *c,
                                  const options_t *o);

/* Every certificate file of an httpd configuration (`CMD -t -D
 * DUMP_CERTS`), NULL when httpd fails; and its SSLCertificateChainFiles. */
apr_array_header_t *og_tool_httpd_certs(apr_pool_t *p, const char *httpd);
void og_tool_httpd_chains(apr_pool_t *p, const char *httpd,
                          apr_array_header_t *out);

int og_doctor_file(apr_pool_t *p, const char *file, const options_t *o,
                   apr_array_header_t *json_out);
int og_fetch_files(apr_pool_t *p, apr_array_header_t *files,
                   const options_t *o);

#endif
