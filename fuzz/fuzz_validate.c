/* SPDX-License-Identifier: Apache-2.0 */
/* Any bytes as the body a responder sent: og_validate_response against the
 * fixed certificate (fuzz/pki leaf, issued by ca). It must never crash or
 * leak, and whatever it accepts must be a response it could staple. */
#include "fuzz/fuzz_common.h"
#include "src/og_validate.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_leaf();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    og_validation_t v;
    og_error_e e;

    e = og_validate_response(fuzz_leaf(), data, size, OG_FUZZ_NOW,
                             OG_FUZZ_SKEW, &v, p);
    FUZZ_CHECK(e == v.error, "returned %d, recorded %d", e, v.error);
    FUZZ_CHECK(v.detail != NULL, "no detail for %s", og_error_name(e));
    if (e == OG_OK) {
        FUZZ_CHECK(v.ocsp_status == 0, "status %d", v.ocsp_status);
        FUZZ_CHECK(v.this_update > 0 && v.next_update > v.this_update,
                   "window %" APR_TIME_T_FMT "..%" APR_TIME_T_FMT,
                   v.this_update, v.next_update);
        FUZZ_CHECK(v.this_update <= OG_FUZZ_NOW + OG_FUZZ_SKEW,
                   "thisUpdate in the future");
        FUZZ_CHECK(v.next_update > OG_FUZZ_NOW, "stale");
        FUZZ_CHECK(v.cert_status <= OG_CERT_UNKNOWN, "status %d",
                   v.cert_status);
    }
    apr_pool_destroy(p);
    return 0;
}
