/* SPDX-License-Identifier: Apache-2.0 */
/* What the fetcher does with what libcurl hands it: a body in chunks of
 * any sizes against any cap, then the verdict on the finished transfer.
 *
 * Input: cap (2 bytes, 0..65535), HTTP status (2 bytes), then chunks, each
 * a length (2 bytes) and that many bytes (repeated from the input when the
 * input runs short, so that a short input can send a large body).
 * Invariants: never more than the cap held; the bytes held are exactly the
 * chunks taken, in order; a chunk is taken whole or refused whole; after a
 * refusal (overflow flagged) nothing more is taken; the verdict follows the
 * status and the body. */
#include "fuzz/fuzz_common.h"
#include "src/og_fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CHUNKS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = { data, size };
    apr_size_t cap = fuzz_u16(&in);
    long status = fuzz_u16(&in);
    apr_pool_t *p;
    og_fetch_t *f;
    unsigned char *expect = malloc(cap + 1);
    apr_size_t expect_len = 0, total = 0;
    int k, refused = 0;

    fuzz_apr_init();
    p = fuzz_pool();
    f = og_fetch_make(p, "http://fuzz.test/", NULL, 0, NULL, NULL);
    og_fetch_body_reset(f, cap);
    for (k = 0; k < MAX_CHUNKS && in.len; k++) {
        apr_size_t n = fuzz_u16(&in), got, took, i;
        const uint8_t *src = fuzz_bytes(&in, n, &got);
        unsigned char *chunk = malloc(n ? n : 1);

        for (i = 0; i < n; i++)
            chunk[i] = got ? src[i % got] : (unsigned char)i;
        took = og_fetch_body_append(f, chunk, n);
        total += n;
        FUZZ_CHECK(took == 0 || took == n, "chunk %d: took %zu of %zu", k,
                   (size_t)took, (size_t)n);
        if (refused)
            FUZZ_CHECK(took == 0, "took a chunk after the overflow");
        if (took) {
            memcpy(expect + expect_len, chunk, n);
            expect_len += n;
        }
        else if (n && !refused) {
            refused = 1;
            FUZZ_CHECK(f->overflow, "refused %zu bytes without overflow",
                       (size_t)n);
            FUZZ_CHECK(expect_len + n > cap, "refused a chunk that fits");
        }
        free(chunk);
        FUZZ_CHECK(f->body_len <= cap, "%zu bytes held, cap %zu",
                   (size_t)f->body_len, (size_t)cap);
        FUZZ_CHECK(f->body_len == expect_len, "held %zu, taken %zu",
                   (size_t)f->body_len, (size_t)expect_len);
    }
    FUZZ_CHECK(f->overflow == refused, "overflow flag %d", f->overflow);
    FUZZ_CHECK(!f->body_len || !memcmp(f->body, expect, f->body_len),
               "bytes held differ from the chunks taken");
    FUZZ_CHECK(refused || f->body_len == total, "lost bytes");

    f->http_status = status;
    og_fetch_classify_http(f);
    FUZZ_CHECK(f->detail != NULL, "no detail");
    if (status != 200)
        FUZZ_CHECK(f->error == OG_ERR_HTTP_STATUS, "HTTP %ld: %s", status,
                   og_error_name(f->error));
    else if (f->body_len == 0)
        FUZZ_CHECK(f->error == OG_ERR_MALFORMED, "empty 200: %s",
                   og_error_name(f->error));
    else
        FUZZ_CHECK(f->error == OG_OK, "200: %s", og_error_name(f->error));
    apr_pool_destroy(p);
    free(expect);
    return 0;
}
