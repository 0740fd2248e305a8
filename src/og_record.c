/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "og_record.h"

/* Layout: magic[4] version[1] status[1] source[1] reserved[1]
 *         sha1[20] this_update[8] next_update[8] fetched_at[8]
 *         der_len[4] reserved[4] der[der_len]            = 60 + der_len */
#define OG_RECORD_VERSION 1
#define OG_RECORD_MAX_DER (1u << 24)

static void put64(unsigned char *p, apr_uint64_t v)
{
    int i;
    for (i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static apr_uint64_t get64(const unsigned char *p)
{
    apr_uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void put32(unsigned char *p, apr_uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static apr_uint32_t get32(const unsigned char *p)
{
    return ((apr_uint32_t)p[0] << 24) | ((apr_uint32_t)p[1] << 16)
         | ((apr_uint32_t)p[2] << 8) | (apr_uint32_t)p[3];
}

apr_size_t og_record_size(const og_record_t *r)
{
    return OG_RECORD_HDR_LEN + r->der_len;
}

apr_status_t og_record_encode(const og_record_t *r, unsigned char *buf,
                              apr_size_t buflen, apr_size_t *written)
{
    apr_size_t need = og_record_size(r);

    if (!r->der || r->der_len == 0 || r->der_len > OG_RECORD_MAX_DER
        || buflen < need)
        return APR_EINVAL;
    memset(buf, 0, OG_RECORD_HDR_LEN);
    buf[0] = 'O';
    buf[1] = 'G';
    buf[2] = 'R';
    buf[3] = '1';
    buf[4] = OG_RECORD_VERSION;
    buf[5] = (unsigned char)r->cert_status;
    buf[6] = (unsigned char)r->source;
    memcpy(buf + 8, r->cert_sha1, OG_CERT_SHA1_LEN);
    put64(buf + 28, (apr_uint64_t)r->this_update);
    put64(buf + 36, (apr_uint64_t)r->next_update);
    put64(buf + 44, (apr_uint64_t)r->fetched_at);
    put32(buf + 52, (apr_uint32_t)r->der_len);
    memcpy(buf + OG_RECORD_HDR_LEN, r->der, r->der_len);
    if (written)
        *written = need;
    return APR_SUCCESS;
}

apr_status_t og_record_decode(og_record_t *r, const unsigned char *buf,
                              apr_size_t len)
{
    apr_uint32_t der_len;

    static const unsigned char zero[4] = { 0, 0, 0, 0 };

    /* Reserved bytes must be zero: a record has one spelling, so nothing
     * can ride along unseen, and a later version can give them a meaning. */
    if (!buf || len < OG_RECORD_HDR_LEN || memcmp(buf, OG_RECORD_MAGIC, 4) != 0
        || buf[4] != OG_RECORD_VERSION || buf[5] > OG_CERT_UNKNOWN
        || buf[6] > OG_SOURCE_STATEDIR || buf[7] != 0
        || memcmp(buf + 56, zero, sizeof(zero)) != 0)
        return APR_EINVAL;
    der_len = get32(buf + 52);
    if (der_len == 0 || der_len > OG_RECORD_MAX_DER
        || (apr_size_t)der_len != len - OG_RECORD_HDR_LEN)
        return APR_EINVAL;
    r->cert_status = (og_cert_status_e)buf[5];
    r->source = (og_source_e)buf[6];
    memcpy(r->cert_sha1, buf + 8, OG_CERT_SHA1_LEN);
    r->this_update = (apr_time_t)get64(buf + 28);
    r->next_update = (apr_time_t)get64(buf + 36);
    r->fetched_at = (apr_time_t)get64(buf + 44);
    if (r->next_update <= r->this_update)
        return APR_EINVAL;
    r->der = buf + OG_RECORD_HDR_LEN;
    r->der_len = der_len;
    return APR_SUCCESS;
}

const char *og_source_name(og_source_e s)
{
    switch (s) {
    case OG_SOURCE_DIRECT:   return "direct";
    case OG_SOURCE_MIRROR:   return "mirror";
    case OG_SOURCE_PROXY:    return "proxy";
    case OG_SOURCE_STATEDIR: return "state-dir";
    }
    return "unknown";
}

/* Layout: magic[4] version[1] reserved[3] sha1[20] token[16] until[8]
 *         pid[4]                                          = 56 */
void og_lease_encode(const og_lease_t *l, unsigned char buf[OG_LEASE_LEN])
{
    memset(buf, 0, OG_LEASE_LEN);
    buf[0] = 'O';
    buf[1] = 'G';
    buf[2] = 'L';
    buf[3] = '1';
    buf[4] = OG_RECORD_VERSION;
    memcpy(buf + 8, l->cert_sha1, OG_CERT_SHA1_LEN);
    memcpy(buf + 28, l->token, OG_LEASE_TOKEN_LEN);
    put64(buf + 44, (apr_uint64_t)l->until);
    put32(buf + 52, l->pid);
}

apr_status_t og_lease_decode(og_lease_t *l, const unsigned char *buf,
                             apr_size_t len)
{
    if (!buf || len != OG_LEASE_LEN || memcmp(buf, OG_LEASE_MAGIC, 4) != 0
        || buf[4] != OG_RECORD_VERSION)
        return APR_EINVAL;
    memcpy(l->cert_sha1, buf + 8, OG_CERT_SHA1_LEN);
    memcpy(l->token, buf + 28, OG_LEASE_TOKEN_LEN);
    l->until = (apr_time_t)get64(buf + 44);
    l->pid = get32(buf + 52);
    return APR_SUCCESS;
}

int og_lease_mine(const og_lease_t *l,
                  const unsigned char token[OG_LEASE_TOKEN_LEN])
{
    return memcmp(l->token, token, OG_LEASE_TOKEN_LEN) == 0;
}
