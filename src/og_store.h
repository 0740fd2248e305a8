/* SPDX-License-Identifier: Apache-2.0 */
/* Persisted responses: one file per certificate in the state directory, so
 * that a full restart staples from the first handshake even when every
 * responder is down. Files are replaced atomically (temp file + rename): a
 * crash leaves the old file or the new one, never half of one.
 *
 * What is in the state dir is untrusted input: the loader never follows a
 * symbolic link, reads only regular files of bounded size, and refuses what
 * someone other than the owner could have written. */
#ifndef OG_STORE_H
#define OG_STORE_H

#include <apr_pools.h>

/* Write `len` bytes as `dir`/`name`, atomically: a temp file created 0600
 * (then 0640 through its descriptor, never readable by others), written,
 * fsync'ed, renamed over the old one; the directory is fsync'ed after. */
apr_status_t og_store_save(const char *dir, const char *name,
                           const unsigned char *data, apr_size_t len,
                           apr_pool_t *p);

/* Read `dir`/`name` whole. APR_ENOENT when absent; ELOOP (the errno) when it
 * is a symbolic link; APR_EINVAL when it is not a regular file or is over
 * `max` bytes; APR_EACCES when group or others may write it. A FIFO or a
 * device never blocks the caller: it is opened non-blocking and refused. */
apr_status_t og_store_load(const char *dir, const char *name, apr_size_t max,
                           unsigned char **data, apr_size_t *len,
                           apr_pool_t *p);

/* Whether `dir` is fit to be the state dir: it exists, is a directory
 * itself (not a symbolic link to one), and only its owner may write it
 * (others could plant or swap responses). APR_SUCCESS, or the reason as a
 * status (APR_ENOENT, ELOOP, APR_ENOTDIR, APR_EACCES, another errno) and *why
 * as one sentence saying what to fix, e.g. "... chmod 0750 DIR". */
apr_status_t og_store_check_dir(const char *dir, apr_pool_t *p,
                                const char **why);

/* The file name used for a certificate: its SHA-1 in hex plus ".ocsp". */
const char *og_store_name(apr_pool_t *p, const char *sha1_hex);

#endif
