/* SPDX-License-Identifier: Apache-2.0 */
/* The start-up path for a file found in the state dir: the bytes are
 * written as the certificate's file in a temp state dir, then read as the
 * module does (og_store_load with its size cap, og_record_decode, the
 * certificate's SHA-1 compared, og_validate_response on the DER). */
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz/fuzz_common.h"
#include "src/og_record.h"
#include "src/og_store.h"
#include "src/og_validate.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the module's own cap: a record holds one response of at most 1 MiB */
#define MAX_RECORD (OG_RECORD_HDR_LEN + (1 << 20))

static char state_dir[] = "/tmp/og-fuzz-state-XXXXXX";
static char file_path[sizeof(state_dir) + 64];
static const char *file_name;

static void remove_state_dir(void)
{
    unlink(file_path);
    rmdir(state_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *p;
    const char *why = NULL;

    (void)argc;
    (void)argv;
    fuzz_leaf();
    if (!mkdtemp(state_dir) || chmod(state_dir, 0750) != 0)
        exit(2);
    p = fuzz_pool();
    if (og_store_check_dir(state_dir, p, &why) != APR_SUCCESS) {
        fprintf(stderr, "fuzz: %s\n", why);
        exit(2);
    }
    file_name = strdup(og_store_name(p, fuzz_leaf()->sha1_hex));
    apr_pool_destroy(p);
    snprintf(file_path, sizeof(file_path), "%s/%s", state_dir, file_name);
    atexit(remove_state_dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const og_cert_t *cert = fuzz_leaf();
    FILE *f = fopen(file_path, "wb");
    unsigned char *buf = NULL;
    apr_size_t len = 0;
    apr_pool_t *p;
    og_record_t rec;
    og_validation_t v;
    apr_status_t rv;

    FUZZ_CHECK(f != NULL, "cannot write %s", file_path);
    if (size)
        FUZZ_CHECK(fwrite(data, 1, size, f) == size, "short write");
    fclose(f);
    chmod(file_path, 0640);

    p = fuzz_pool();
    rv = og_store_load(state_dir, file_name, MAX_RECORD, &buf, &len, p);
    if (size > MAX_RECORD) {
        FUZZ_CHECK(rv == APR_EINVAL, "over the cap: %d", rv);
    }
    else {
        FUZZ_CHECK(rv == APR_SUCCESS, "load: %d", rv);
        FUZZ_CHECK(len == size && (!size || !memcmp(buf, data, size)),
                   "read back %zu of %zu bytes", (size_t)len, size);
        if (og_record_decode(&rec, buf, len) == APR_SUCCESS
            && memcmp(rec.cert_sha1, cert->sha1, OG_CERT_SHA1_LEN) == 0) {
            og_error_e e = og_validate_response(cert, rec.der, rec.der_len,
                                                OG_FUZZ_NOW, OG_FUZZ_SKEW,
                                                &v, p);
            if (e == OG_OK)
                FUZZ_CHECK(v.next_update > OG_FUZZ_NOW, "stale");
        }
    }
    apr_pool_destroy(p);
    return 0;
}
