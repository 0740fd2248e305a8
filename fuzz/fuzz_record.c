/* SPDX-License-Identifier: Apache-2.0 */
/* og_record_decode on any bytes (a cache entry someone else wrote, a file
 * read back from the state dir). Whatever decodes must encode back to the
 * very same bytes: the format has one spelling, so nothing can hide in it. */
#include "fuzz/fuzz_common.h"
#include "src/og_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    og_record_t r;
    unsigned char *again;
    apr_size_t written = 0;

    if (og_record_decode(&r, data, size) != APR_SUCCESS)
        return 0;
    FUZZ_CHECK(r.der == data + OG_RECORD_HDR_LEN, "der not in the buffer");
    FUZZ_CHECK(og_record_size(&r) == size, "size %zu of %zu",
               (size_t)og_record_size(&r), size);
    FUZZ_CHECK(r.next_update > r.this_update, "window");
    again = malloc(size);
    FUZZ_CHECK(og_record_encode(&r, again, size, &written) == APR_SUCCESS,
               "decoded but does not encode");
    FUZZ_CHECK(written == size, "encoded %zu of %zu", (size_t)written, size);
    if (memcmp(again, data, size) != 0) {
        size_t i = 0;
        while (again[i] == data[i])
            i++;
        FUZZ_CHECK(0, "encoding differs at byte %zu", i);
    }
    /* one byte short of room must be refused, not overrun */
    FUZZ_CHECK(og_record_encode(&r, again, size - 1, &written) != APR_SUCCESS,
               "encoded into a buffer too small");
    free(again);
    return 0;
}
