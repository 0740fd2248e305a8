/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <apr_strings.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509_vfy.h>

#include "og_validate.h"

const char *og_cert_status_name(og_cert_status_e s)
{
    switch (s) {
    case OG_CERT_GOOD:    return "good";
    case OG_CERT_REVOKED: return "revoked";
    default:              return "unknown";
    }
}

static og_error_e fail(og_validation_t *out, og_error_e e, const char *detail)
{
    out->error = e;
    out->detail = detail;
    return e;
}

/* Last OpenSSL error as text, for the detail line; clears the queue. */
static const char *ssl_error_text(apr_pool_t *p)
{
    unsigned long code = ERR_peek_last_error();
    char buf[256];

    ERR_clear_error();
    if (!code)
        return "no detail";
    ERR_error_string_n(code, buf, sizeof(buf));
    return apr_pstrdup(p, buf);
}

/* The full check: the signature and the signer, the issuer itself or a
 * certificate the issuer signed for OCSP signing. The issuer is the only
 * trust anchor (PARTIAL_CHAIN): an intermediate CA needs no root here.
 * `untrusted` NULL: the signer must be among the response's own
 * certificates (what og_signers_t remembers is that one). */
static int verify_full(X509 *issuer, OCSP_BASICRESP *bs, int with_issuer)
{
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509) *untrusted = with_issuer ? sk_X509_new_null() : NULL;
    int ok = 0;

    if (store && (!with_issuer || untrusted)
        && X509_STORE_add_cert(store, issuer)
        && X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN)
        && (!with_issuer || sk_X509_push(untrusted, issuer))) {
        ok = OCSP_basic_verify(bs, untrusted, store, 0) > 0;
    }
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    return ok;
}

/* Responders an issuer was seen to delegate to: their exact DER. */
#define OG_SIGNERS_MAX 4

struct og_signers_t {
    int n, next;
    unsigned char *der[OG_SIGNERS_MAX];
    int len[OG_SIGNERS_MAX];
    unsigned long hits, verified;
};

og_signers_t *og_signers_make(void)
{
    return OPENSSL_zalloc(sizeof(og_signers_t));
}

void og_signers_free(og_signers_t *sg)
{
    int i;

    if (!sg)
        return;
    for (i = 0; i < sg->n; i++)
        OPENSSL_free(sg->der[i]);
    OPENSSL_free(sg);
}

void og_signers_counts(const og_signers_t *sg, unsigned long *hits,
                       unsigned long *verified, int *held)
{
    *hits = sg ? sg->hits : 0;
    *verified = sg ? sg->verified : 0;
    *held = sg ? sg->n : 0;
}

static int signers_known(const og_signers_t *sg, const unsigned char *der,
                         int len)
{
    int i;

    for (i = 0; i < sg->n; i++)
        if (sg->len[i] == len && !memcmp(sg->der[i], der, (size_t)len))
            return 1;
    return 0;
}

static void signers_add(og_signers_t *sg, unsigned char *der, int len)
{
    int i;

    if (sg->n < OG_SIGNERS_MAX) {
        i = sg->n++;
    }
    else {
        /* a CA rotating its responders: the oldest goes */
        i = sg->next;
        sg->next = (sg->next + 1) % OG_SIGNERS_MAX;
        OPENSSL_free(sg->der[i]);
    }
    sg->der[i] = der;
    sg->len[i] = len;
}

/* Signed by the issuer's own key (its responder id names the issuer, the
 * signature verifies with the issuer's key): nothing else to check. */
static int signed_by_issuer(X509 *issuer, OCSP_BASICRESP *bs)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    int ok = certs && sk_X509_push(certs, issuer)
             && OCSP_basic_verify(bs, certs, NULL,
                                  OCSP_NOINTERN | OCSP_NOVERIFY) > 0;

    sk_X509_free(certs);
    ERR_clear_error();
    return ok;
}

/* Verify the signature and the signer. With the issuer's remembered
 * signers: a response whose signer (found among its certificates by its
 * responder id) is byte for byte one that passed the full check for this
 * issuer, and is within its validity now, needs only its signature
 * checked with that signer's key; anything else takes the full check,
 * and a signer among the response's certificates that passes it on its
 * own (without the issuer offered as a candidate) is remembered. */
static int verify_signer(const og_cert_t *cert, OCSP_BASICRESP *bs)
{
    og_signers_t *sg = cert->signers;
    X509 *signer = NULL;
    unsigned char *der = NULL;
    int len = 0, ok;

    if (!sg)
        return verify_full(cert->issuer, bs, 1);
    if (OCSP_resp_get0_signer(bs, &signer, NULL) && signer)
        len = i2d_X509(signer, &der);
    else if (signed_by_issuer(cert->issuer, bs))
        return ++sg->hits > 0;
    ERR_clear_error();
    if (len > 0 && signers_known(sg, der, len)
        && X509_cmp_current_time(X509_get0_notBefore(signer)) < 0
        && X509_cmp_current_time(X509_get0_notAfter(signer)) > 0
        && OCSP_basic_verify(bs, NULL, NULL, OCSP_NOVERIFY) > 0) {
        sg->hits++;
        OPENSSL_free(der);
        return 1;
    }
    ERR_clear_error();
    ok = verify_full(cert->issuer, bs, 1);
    if (ok && len > 0 && !signers_known(sg, der, len)
        && verify_full(cert->issuer, bs, 0)) {
        signers_add(sg, der, len);
        der = NULL;
    }
    if (ok)
        sg->verified++;
    OPENSSL_free(der);
    return ok;
}

og_error_e og_validate_response(const og_cert_t *cert,
                                const unsigned char *der, apr_size_t len,
                                apr_time_t now, apr_interval_time_t skew,
                                og_validation_t *out, apr_pool_t *p)
{
    const unsigned char *cursor = der;
    OCSP_RESPONSE *resp = NULL;
    OCSP_BASICRESP *bs = NULL;
    ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
    int status = -1, reason = -1;

    memset(out, 0, sizeof(*out));
    out->revocation_reason = -1;
    out->ocsp_status = -1;

    if (!der || len == 0 || len > 0x7fffffff)
        return fail(out, OG_ERR_MALFORMED, "empty response body");
    resp = d2i_OCSP_RESPONSE(NULL, &cursor, (long)len);
    if (!resp || cursor != der + len) {
        OCSP_RESPONSE_free(resp);
        ERR_clear_error();
        return fail(out, OG_ERR_MALFORMED, "body is not a DER OCSP response");
    }
    out->ocsp_status = OCSP_response_status(resp);
    if (out->ocsp_status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        OCSP_RESPONSE_free(resp);
        return fail(out, OG_ERR_OCSP_STATUS,
                    apr_psprintf(p, "responseStatus %s (%d)",
                                 OCSP_response_status_str(out->ocsp_status),
                                 out->ocsp_status));
    }
    bs = OCSP_response_get1_basic(resp);
    OCSP_RESPONSE_free(resp);
    if (!bs) {
        ERR_clear_error();
        return fail(out, OG_ERR_MALFORMED, "no basic OCSP response inside");
    }
    if (!verify_signer(cert, bs)) {
        const char *why = ssl_error_text(p);
        OCSP_BASICRESP_free(bs);
        return fail(out, OG_ERR_VERIFY_FAILED,
                    apr_pstrcat(p, "signature or signer not trusted: ", why,
                                NULL));
    }
    if (!OCSP_resp_find_status(bs, cert->certid, &status, &reason, &rev,
                               &thisupd, &nextupd)) {
        OCSP_BASICRESP_free(bs);
        return fail(out, OG_ERR_WRONG_CERT,
                    "response does not cover this certificate's CertID");
    }
    out->this_update = og_asn1_time_to_apr(thisupd);
    out->next_update = nextupd ? og_asn1_time_to_apr(nextupd) : 0;
    out->revoked_at = rev ? og_asn1_time_to_apr(rev) : 0;
    out->revocation_reason = reason;
    out->cert_status = status == V_OCSP_CERTSTATUS_GOOD ? OG_CERT_GOOD
                     : status == V_OCSP_CERTSTATUS_REVOKED ? OG_CERT_REVOKED
                     : OG_CERT_UNKNOWN;
    OCSP_BASICRESP_free(bs);

    if (!out->this_update)
        return fail(out, OG_ERR_MALFORMED, "unreadable thisUpdate");
    if (!nextupd || !out->next_update)
        /* Without nextUpdate nobody can tell when the staple goes stale. */
        return fail(out, OG_ERR_MALFORMED, "response has no nextUpdate");
    if (out->next_update <= out->this_update)
        return fail(out, OG_ERR_MALFORMED, "nextUpdate is not after thisUpdate");
    if (out->this_update > now + skew)
        return fail(out, OG_ERR_EXPIRED, "thisUpdate lies in the future");
    /* No skew here: a staple past its nextUpdate is stale for everyone. */
    if (out->next_update <= now)
        return fail(out, OG_ERR_EXPIRED, "nextUpdate has passed");
    out->error = OG_OK;
    out->detail = "valid";
    return OG_OK;
}
