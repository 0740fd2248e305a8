/* SPDX-License-Identifier: Apache-2.0 */
/* Persisted responses: one file per certificate in the state directory, so
 * that a full restart staples from the first handshake even when every
 * responder is down. Files are replaced atomically (temp file + rename): a
 * crash leaves the old file or the new one, never half of one. */
#ifndef OG_STORE_H
#define OG_STORE_H

#include <apr_pools.h>

/* Write `len` bytes as `dir`/`name`, atomically. */
apr_status_t og_store_save(const char *dir, const char *name,
                           const unsigned char *data, apr_size_t len,
                           apr_pool_t *p);

/* Read `dir`/`name` whole. APR_ENOENT when absent, APR_EINVAL when over
 * `max` bytes or not a regular file. */
apr_status_t og_store_load(const char *dir, const char *name, apr_size_t max,
                           unsigned char **data, apr_size_t *len,
                           apr_pool_t *p);

/* The file name used for a certificate: its SHA-1 in hex plus ".ocsp". */
const char *og_store_name(apr_pool_t *p, const char *sha1_hex);

#endif
