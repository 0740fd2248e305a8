/* SPDX-License-Identifier: Apache-2.0 */
/* The fuzzer's bytes describe an OCSP response field by field; the harness
 * builds it and signs it with the key the bytes choose, so that it passes
 * (or fails, as chosen) the signature check and reaches the deeper checks:
 * signer authority, CertID matching among several SingleResponses, cert
 * status, the thisUpdate/nextUpdate window around the skew.
 *
 * Input, read in order (missing bytes read as zero):
 *   status    responseStatus (% 8)
 *   signer    0 ca, 1 delegated (OCSPSigning), 2 noeku, 3 stranger, 4 leaf
 *   flags     1 include signer cert, 2 responder id by key, 4 nonce,
 *             8 sign with SHA-1 (else SHA-256), 16 an extra unrelated cert,
 *             32 corrupt one byte of the DER after signing, 64 keep the
 *             basic response even when status is not successful,
 *             128 no basic response at all (even when successful)
 *   count     SingleResponses (% 5), then for each:
 *     kind    0 leaf, 1 other leaf, 2 leaf with a SHA-256 CertID,
 *             3 leaf serial under the stranger issuer
 *     tweak   % 4: 0 none, 1 issuerNameHash, 2 issuerKeyHash, 3 serial
 *     cstatus % 3: good, revoked, unknown
 *     reason  0 none, else (reason - 1) % 11
 *     this    thisUpdate: an offset from "now" (table, or a custom one)
 *     next    nextUpdate: likewise, or absent
 *   corrupt   position (2 bytes) and xor mask, when flag 32
 *
 * Oracle: with nothing corrupted, og_validate_response must accept exactly
 * when the issuer or its delegate signed, the leaf's own CertID is there
 * with a usable window, and nothing else makes OpenSSL refuse (mixed
 * issuers); whatever it accepts must match what was built. */
#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "fuzz/fuzz_common.h"
#include "src/og_validate.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { S_CA, S_DELEGATED, S_NOEKU, S_STRANGER, S_LEAF, S_COUNT };
#define F_INCLUDE_SIGNER  0x01
#define F_BY_KEY          0x02
#define F_NONCE           0x04
#define F_SHA1            0x08
#define F_EXTRA_CERT      0x10
#define F_CORRUPT         0x20
#define F_KEEP_BASIC      0x40
#define F_DROP_BASIC      0x80
#define ABSENT            APR_INT64_C(0x7fffffffffffffff)
#define MAX_SINGLE        4

static X509 *ca, *leaf, *other, *stranger;
static X509 *signer_cert[S_COUNT];
static EVP_PKEY *signer_key[S_COUNT];

/* around the edges the validator cares about: the skew (300 s), now */
static const apr_int64_t offsets[16] = {
    -60, 3600, 0, -1, 1, 299, 300, 301, -300, -3600, 86400, -86400,
    604800, -604800, 31536000, ABSENT
};

typedef struct {
    int kind, tweak, status, reason;
    apr_int64_t this_off, next_off;
} single_t;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *names[S_COUNT] = { "ca", "ocsp", "noeku", "stranger",
                                          "leaf" };
    int i;

    (void)argc;
    (void)argv;
    fuzz_leaf();
    for (i = 0; i < S_COUNT; i++) {
        signer_cert[i] = fuzz_pki_cert(names[i]);
        signer_key[i] = fuzz_pki_key(names[i]);
    }
    ca = signer_cert[S_CA];
    leaf = signer_cert[S_LEAF];
    stranger = signer_cert[S_STRANGER];
    other = fuzz_pki_cert("other");
    return 0;
}

static apr_int64_t time_choice(fuzz_in_t *in, int shift)
{
    uint8_t c = fuzz_u8(in);

    if (c & 0x80)       /* a custom offset: +-22 days in minutes */
        return (apr_int64_t)(int16_t)fuzz_u16(in) * 60;
    return offsets[(c + shift) % 16];
}

static ASN1_GENERALIZEDTIME *at(apr_int64_t off)
{
    return ASN1_GENERALIZEDTIME_set(NULL, (time_t)(OG_FUZZ_NOW_SEC + off));
}

static OCSP_CERTID *make_id(const single_t *s, uint8_t tweak_byte)
{
    ASN1_OCTET_STRING *name_hash = NULL, *key_hash = NULL;
    ASN1_INTEGER *serial = NULL;
    OCSP_CERTID *id;

    switch (s->kind) {
    case 1:  id = OCSP_cert_to_id(EVP_sha1(), other, ca); break;
    case 2:  id = OCSP_cert_to_id(EVP_sha256(), leaf, ca); break;
    case 3:  id = OCSP_cert_to_id(EVP_sha1(), leaf, stranger); break;
    default: id = OCSP_cert_to_id(EVP_sha1(), leaf, ca); break;
    }
    if (!id || !s->tweak)
        return id;
    OCSP_id_get0_info(&name_hash, NULL, &key_hash, &serial, id);
    if (s->tweak == 3) {
        /* another serial of the same issuer */
        ASN1_INTEGER_set_int64(serial, 0x10 + 1 + (tweak_byte >> 2));
    }
    else {
        ASN1_OCTET_STRING *h = s->tweak == 1 ? name_hash : key_hash;
        unsigned char buf[64];
        int len = ASN1_STRING_length(h);
        if (len > 0 && len <= (int)sizeof(buf)) {
            memcpy(buf, ASN1_STRING_get0_data(h), (size_t)len);
            buf[(tweak_byte >> 2) % len] ^= (unsigned char)(1u << (tweak_byte & 7));
            ASN1_OCTET_STRING_set(h, buf, len);
        }
    }
    return id;
}

/* DER of the described response; NULL when OpenSSL refused to build it. */
static unsigned char *build(int status, int signer, int flags,
                            const single_t *singles, int count,
                            const uint8_t *tweaks, int *len)
{
    OCSP_BASICRESP *bs = NULL;
    OCSP_RESPONSE *resp;
    STACK_OF(X509) *extra = NULL;
    unsigned char *der = NULL;
    unsigned long sign_flags = 0;
    int i, ok = 1;

    if ((status == 0 || (flags & F_KEEP_BASIC)) && !(flags & F_DROP_BASIC)) {
        ASN1_GENERALIZEDTIME *revtime = at(-7200);
        bs = OCSP_BASICRESP_new();
        for (i = 0; ok && i < count; i++) {
            const single_t *s = &singles[i];
            OCSP_CERTID *id = make_id(s, tweaks[i]);
            ASN1_GENERALIZEDTIME *thisupd = at(s->this_off == ABSENT ? 0
                                                                     : s->this_off);
            ASN1_GENERALIZEDTIME *nextupd = s->next_off == ABSENT ? NULL
                                          : at(s->next_off);
            ok = id && thisupd && OCSP_basic_add1_status(bs, id, s->status,
                s->status == V_OCSP_CERTSTATUS_REVOKED ? s->reason : -1,
                s->status == V_OCSP_CERTSTATUS_REVOKED ? revtime : NULL,
                thisupd, nextupd) != NULL;
            OCSP_CERTID_free(id);
            ASN1_TIME_free(thisupd);
            ASN1_TIME_free(nextupd);
        }
        ASN1_TIME_free(revtime);
        if (ok && (flags & F_NONCE))
            ok = OCSP_basic_add1_nonce(bs, (unsigned char *)"og-fuzz-nonce-16", 16);
        if (flags & F_EXTRA_CERT) {
            extra = sk_X509_new_null();
            sk_X509_push(extra, stranger);
        }
        if (!(flags & F_INCLUDE_SIGNER))
            sign_flags |= OCSP_NOCERTS;
        if (flags & F_BY_KEY)
            sign_flags |= OCSP_RESPID_KEY;
        ok = ok && OCSP_basic_sign(bs, signer_cert[signer], signer_key[signer],
                                   (flags & F_SHA1) ? EVP_sha1() : EVP_sha256(),
                                   extra, sign_flags);
        sk_X509_free(extra);
    }
    resp = ok ? OCSP_response_create(status, bs) : NULL;
    OCSP_BASICRESP_free(bs);
    *len = resp ? i2d_OCSP_RESPONSE(resp, &der) : 0;
    OCSP_RESPONSE_free(resp);
    ERR_clear_error();
    return *len > 0 ? der : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = { data, size };
    single_t singles[MAX_SINGLE];
    uint8_t tweaks[MAX_SINGLE];
    int status = fuzz_u8(&in) % 8;
    int signer = fuzz_u8(&in) % S_COUNT;
    int flags = fuzz_u8(&in);
    int count = fuzz_u8(&in) % (MAX_SINGLE + 1);
    int i, len = 0, match = -1, uniform = count > 0, authorized;
    unsigned char *der;
    apr_pool_t *p;
    og_validation_t v;
    og_error_e e;

    for (i = 0; i < count; i++) {
        single_t *s = &singles[i];
        s->kind = fuzz_u8(&in) % 4;
        tweaks[i] = fuzz_u8(&in);
        s->tweak = tweaks[i] % 4;
        s->status = fuzz_u8(&in) % 3;
        s->reason = fuzz_u8(&in);
        s->reason = s->reason ? (s->reason - 1) % 11 : -1;
        s->this_off = time_choice(&in, 0);
        s->next_off = time_choice(&in, 1);
        if (match < 0 && s->kind == 0 && s->tweak == 0)
            match = i;
        /* OpenSSL refuses a response whose CertIDs name different issuers
         * or hash algorithms, whoever signed it */
        if (s->kind > 1 || s->tweak == 1 || s->tweak == 2)
            uniform = 0;
    }
    der = build(status, signer, flags, singles, count, tweaks, &len);
    if (!der)
        return 0;
    if (flags & F_CORRUPT) {
        uint16_t pos = fuzz_u16(&in);
        der[pos % len] ^= (unsigned char)(fuzz_u8(&in) | 1);
    }

    p = fuzz_pool();
    e = og_validate_response(fuzz_leaf(), der, (apr_size_t)len, OG_FUZZ_NOW,
                             OG_FUZZ_SKEW, &v, p);
    authorized = signer == S_CA
                 || (signer == S_DELEGATED && (flags & F_INCLUDE_SIGNER));
    FUZZ_CHECK(e == v.error && v.detail, "status %d / %d", e, v.error);
    if (e == OG_OK) {
        FUZZ_CHECK(v.next_update > OG_FUZZ_NOW
                   && v.this_update <= OG_FUZZ_NOW + OG_FUZZ_SKEW
                   && v.next_update > v.this_update, "window");
    }
    if (!(flags & F_CORRUPT)) {
        const single_t *m = match >= 0 ? &singles[match] : NULL;
        apr_int64_t this_off = m && m->this_off != ABSENT ? m->this_off : 0;
        int window = m && m->next_off != ABSENT && m->next_off > this_off
                     && this_off <= 300 && m->next_off > 0;

        if (e == OG_OK) {
            FUZZ_CHECK(status == 0, "accepted responseStatus %d", status);
            FUZZ_CHECK(!(flags & F_DROP_BASIC), "accepted without a body");
            FUZZ_CHECK(authorized, "accepted signer %d flags %#x", signer,
                       flags);
            FUZZ_CHECK(m != NULL, "accepted without our CertID");
            FUZZ_CHECK(window, "accepted window %" APR_INT64_T_FMT
                       "..%" APR_INT64_T_FMT, this_off, m->next_off);
            FUZZ_CHECK((int)v.cert_status == m->status, "status %d, built %d",
                       v.cert_status, m->status);
            FUZZ_CHECK(v.this_update == apr_time_from_sec(OG_FUZZ_NOW_SEC
                                                          + this_off),
                       "thisUpdate moved");
            FUZZ_CHECK(m->status != V_OCSP_CERTSTATUS_REVOKED
                       || v.revocation_reason == m->reason,
                       "reason %d, built %d", v.revocation_reason, m->reason);
        }
        if (status == 0 && authorized && uniform && window
            && !(flags & F_DROP_BASIC))
            FUZZ_CHECK(e == OG_OK, "refused a good response: %s: %s",
                       og_error_name(e), v.detail);
        if (status != 0)
            FUZZ_CHECK(e == OG_ERR_OCSP_STATUS || e == OG_ERR_MALFORMED,
                       "status %d gave %s", status, og_error_name(e));
    }
    apr_pool_destroy(p);
    OPENSSL_free(der);
    return 0;
}
