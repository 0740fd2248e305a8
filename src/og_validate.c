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

/* Verify the signature and the signer: the issuer itself, or a certificate
 * the issuer signed for OCSP signing. The issuer is the only trust anchor
 * (PARTIAL_CHAIN): an intermediate CA needs no root here. */
static int verify_signer(const og_cert_t *cert, OCSP_BASICRESP *bs)
{
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    int ok = 0;

    if (store && untrusted
        && X509_STORE_add_cert(store, cert->issuer)
        && X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN)
        && sk_X509_push(untrusted, cert->issuer)) {
        ok = OCSP_basic_verify(bs, untrusted, store, 0) > 0;
    }
    sk_X509_free(untrusted);
    X509_STORE_free(store);
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
