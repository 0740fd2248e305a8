/* SPDX-License-Identifier: Apache-2.0 */
/* The cache record: what the module stores per certificate in the shared
 * cache (and, later, on disk). A fixed header in network byte order, then the
 * response DER exactly as the responder sent it. */
#ifndef OG_RECORD_H
#define OG_RECORD_H

#include <apr_pools.h>
#include <apr_time.h>

#include "og_cert.h"
#include "og_validate.h"

#define OG_RECORD_MAGIC   "OGR1"
#define OG_RECORD_HDR_LEN 60

typedef enum {
    OG_SOURCE_DIRECT = 0,   /* the certificate's own AIA responder */
    OG_SOURCE_MIRROR = 1,   /* a configured mirror URL */
    OG_SOURCE_PROXY = 2,    /* through the forward proxy */
    OG_SOURCE_STATEDIR = 3  /* read back from disk */
} og_source_e;

typedef struct {
    unsigned char cert_sha1[OG_CERT_SHA1_LEN]; /* which certificate */
    og_cert_status_e cert_status;
    og_source_e source;
    apr_time_t this_update;
    apr_time_t next_update;
    apr_time_t fetched_at;
    const unsigned char *der;   /* decode: points into the buffer */
    apr_size_t der_len;
} og_record_t;

apr_size_t og_record_size(const og_record_t *r);

/* Encode into buf (at least og_record_size(r) bytes). */
apr_status_t og_record_encode(const og_record_t *r, unsigned char *buf,
                              apr_size_t buflen, apr_size_t *written);

/* Decode; r->der points into buf. APR_EINVAL for anything malformed,
 * truncated or of another version. */
apr_status_t og_record_decode(og_record_t *r, const unsigned char *buf,
                              apr_size_t len);

const char *og_source_name(og_source_e s);

/* A lease: "this fetcher is fetching this certificate's response now",
 * kept in the shared cache beside the record, under its own key, for a
 * little longer than one fetch may take. Others that find it wait for the
 * holder's response instead of fetching too. Like the record, it is
 * untrusted input: it can only make a server wait, and never for longer
 * than its own policy says (og_track). */
#define OG_LEASE_MAGIC     "OGL1"
#define OG_LEASE_TOKEN_LEN 16
#define OG_LEASE_LEN       56

typedef struct {
    unsigned char cert_sha1[OG_CERT_SHA1_LEN];
    unsigned char token[OG_LEASE_TOKEN_LEN];    /* the holder: a fetcher's
                                                 * random id */
    apr_time_t until;               /* by the holder's clock, for people */
    apr_uint32_t pid;               /* the holder's process, for people */
} og_lease_t;

/* Encode into buf (OG_LEASE_LEN bytes). */
void og_lease_encode(const og_lease_t *l, unsigned char buf[OG_LEASE_LEN]);

/* APR_EINVAL for anything that is not a lease of this layout. */
apr_status_t og_lease_decode(og_lease_t *l, const unsigned char *buf,
                             apr_size_t len);

/* 1 when `l` was written by the fetcher whose id is `token`. */
int og_lease_mine(const og_lease_t *l,
                  const unsigned char token[OG_LEASE_TOKEN_LEN]);

#endif
