/* SPDX-License-Identifier: Apache-2.0 */
/* What every fuzz target shares: APR set up once, a pool per input that
 * frees everything it took (libFuzzer's leak check counts mallocs and frees
 * per input), the fixed test-only PKI of fuzz/pki, a fixed clock, and a
 * reader that turns the fuzzer's bytes into the fields a harness needs. */
#ifndef OG_FUZZ_COMMON_H
#define OG_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "src/og_cert.h"

#ifndef OG_FUZZ_PKI
#define OG_FUZZ_PKI "fuzz/pki"
#endif

/* The fuzzers' "now": 2026-06-01T00:00:00Z. The seed responses were made
 * (under faketime) on 2026-01-01 for ten years, so they are valid then
 * whatever the real date; only the certificates' own validity is checked
 * against the real clock, by OpenSSL, and they are made for a century. */
#define OG_FUZZ_NOW_SEC  APR_INT64_C(1780272000)
#define OG_FUZZ_NOW      apr_time_from_sec(OG_FUZZ_NOW_SEC)
#define OG_FUZZ_SKEW     apr_time_from_sec(300)

/* Something the code under test must never do: a crash libFuzzer reports
 * with this input. */
#define FUZZ_CHECK(cond, ...)                                            \
    do {                                                                 \
        if (!(cond)) {                                                   \
            fprintf(stderr, "invariant broken: %s: ", #cond);            \
            fprintf(stderr, __VA_ARGS__);                                \
            fputc('\n', stderr);                                         \
            abort();                                                     \
        }                                                                \
    } while (0)

static inline void fuzz_apr_init(void)
{
    static int done;

    if (!done) {
        apr_initialize();
        done = 1;
    }
}

/* A pool whose allocator is its own: destroying it gives every block back
 * to malloc, so an input leaves no memory behind. */
static inline apr_pool_t *fuzz_pool(void)
{
    apr_allocator_t *alloc = NULL;
    apr_pool_t *p = NULL;

    if (apr_allocator_create(&alloc) != APR_SUCCESS)
        abort();
    if (apr_pool_create_ex(&p, NULL, NULL, alloc) != APR_SUCCESS)
        abort();
    apr_allocator_owner_set(alloc, p);
    return p;
}

/* fuzz/pki/<name><ext>, whole, NUL-terminated; exits when missing: a
 * fuzzer without its PKI would fuzz nothing. */
static inline char *fuzz_pki_file(const char *name, const char *ext)
{
    const char *dir = getenv("OG_FUZZ_PKI") ? getenv("OG_FUZZ_PKI")
                                            : OG_FUZZ_PKI;
    char path[4096];
    FILE *f;
    char *buf;
    long len;

    snprintf(path, sizeof(path), "%s/%s%s", dir, name, ext);
    f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "fuzz: cannot read %s (set OG_FUZZ_PKI)\n", path);
        exit(2);
    }
    buf = malloc((size_t)len + 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len)
        exit(2);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

static inline X509 *fuzz_pki_cert(const char *name)
{
    char *pem = fuzz_pki_file(name, ".pem");
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);

    BIO_free(bio);
    free(pem);
    if (!x)
        exit(2);
    return x;
}

static inline EVP_PKEY *fuzz_pki_key(const char *name)
{
    char *pem = fuzz_pki_file(name, ".key");
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);

    BIO_free(bio);
    free(pem);
    if (!k)
        exit(2);
    return k;
}

/* Debian's APR takes pool memory with mmap, which LeakSanitizer does not
 * scan: OpenSSL objects held by a long-lived pool are also put here, where
 * it sees them (external linkage: the stores are never optimised away). */
void *fuzz_keep_alive[8];

/* The certificate under test (fuzz/pki/leaf.pem issued by ca.pem), parsed
 * once, as the module parses it at prime time; kept for the process. */
static inline og_cert_t *fuzz_leaf(void)
{
    static og_cert_t *cert;
    static apr_pool_t *keep;

    if (!cert) {
        char *leaf = fuzz_pki_file("leaf", ".pem");
        char *ca = fuzz_pki_file("ca", ".pem");
        const char *err = NULL;
        char *pem;

        fuzz_apr_init();
        apr_pool_create(&keep, NULL);
        pem = apr_pstrcat(keep, leaf, ca, NULL);
        cert = og_cert_parse(pem, keep, &err);
        free(leaf);
        free(ca);
        if (!cert) {
            fprintf(stderr, "fuzz: the PKI does not parse: %s\n", err);
            exit(2);
        }
        fuzz_keep_alive[0] = cert->issuer;
        fuzz_keep_alive[1] = cert->certid;
    }
    return cert;
}

/* The fuzzer's bytes as a stream of fields; past the end every field
 * reads as zero, so that any input is a whole description. */
typedef struct {
    const uint8_t *data;
    size_t len;
} fuzz_in_t;

static inline uint8_t fuzz_u8(fuzz_in_t *in)
{
    uint8_t v = 0;

    if (in->len) {
        v = in->data[0];
        in->data++;
        in->len--;
    }
    return v;
}

static inline uint16_t fuzz_u16(fuzz_in_t *in)
{
    uint16_t hi = fuzz_u8(in);
    return (uint16_t)((hi << 8) | fuzz_u8(in));
}

static inline uint32_t fuzz_u32(fuzz_in_t *in)
{
    uint32_t hi = fuzz_u16(in);
    return (hi << 16) | fuzz_u16(in);
}

/* Up to `want` bytes, pointing into the input. */
static inline const uint8_t *fuzz_bytes(fuzz_in_t *in, size_t want,
                                        size_t *got)
{
    const uint8_t *p = in->data;

    *got = want < in->len ? want : in->len;
    in->data += *got;
    in->len -= *got;
    return p;
}

#endif
