/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <apr_strings.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/sha.h>
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

/* Responders an issuer was seen to delegate to: their exact DER, the
 * certificates field of a response they signed (the same bytes in every
 * response of that responder), and the signer parsed once. */
#define OG_SIGNERS_MAX 4

typedef struct {
    unsigned char *der;
    int len;
    unsigned char *certs;           /* the response's [0] certs, whole */
    long certs_len;
    X509 *x;
} og_signer_t;

struct og_signers_t {
    int n, next;
    og_signer_t s[OG_SIGNERS_MAX];
    unsigned long hits, verified, quick;
};

og_signers_t *og_signers_make(void)
{
    return OPENSSL_zalloc(sizeof(og_signers_t));
}

static void signer_clear(og_signer_t *s)
{
    OPENSSL_free(s->der);
    OPENSSL_free(s->certs);
    X509_free(s->x);
    memset(s, 0, sizeof(*s));
}

void og_signers_free(og_signers_t *sg)
{
    int i;

    if (!sg)
        return;
    for (i = 0; i < sg->n; i++)
        signer_clear(&sg->s[i]);
    OPENSSL_free(sg);
}

void og_signers_counts(const og_signers_t *sg, unsigned long *hits,
                       unsigned long *verified, int *held)
{
    *hits = sg ? sg->hits : 0;
    *verified = sg ? sg->verified : 0;
    *held = sg ? sg->n : 0;
}

unsigned long og_signers_quick(const og_signers_t *sg)
{
    return sg ? sg->quick : 0;
}

static int signers_known(const og_signers_t *sg, const unsigned char *der,
                         int len)
{
    int i;

    for (i = 0; i < sg->n; i++)
        if (sg->s[i].len == len && !memcmp(sg->s[i].der, der, (size_t)len))
            return 1;
    return 0;
}

/* Takes der and certs (OPENSSL_malloc'd) and a reference to x. */
static void signers_add(og_signers_t *sg, unsigned char *der, int len,
                        unsigned char *certs, long certs_len, X509 *x)
{
    og_signer_t *s;

    if (sg->n < OG_SIGNERS_MAX) {
        s = &sg->s[sg->n++];
    }
    else {
        /* a CA rotating its responders: the oldest goes */
        s = &sg->s[sg->next];
        sg->next = (sg->next + 1) % OG_SIGNERS_MAX;
        signer_clear(s);
    }
    s->der = der;
    s->len = len;
    s->certs = certs;
    s->certs_len = certs ? certs_len : 0;
    s->x = x;
}

/* One DER element in [*p, end): its content, its end; 0 if malformed. */
static int der_elem(const unsigned char **p, const unsigned char *end,
                    int want_tag, int want_class, const unsigned char **body,
                    long *body_len)
{
    const unsigned char *q = *p;
    long len = 0;
    int tag = 0, cls = 0, ret;

    if (*p >= end)
        return 0;
    ret = ASN1_get_object(&q, &len, &tag, &cls, end - *p);
    if ((ret & 0x80) || ret == 0x21 || tag != want_tag || cls != want_class
        || len > end - q)
        return 0;
    *body = q;
    *body_len = len;
    *p = q + len;
    return 1;
}

/* Into the DER element at *p: [*p, *end) becomes its content. */
static int der_enter(const unsigned char **p, const unsigned char **end,
                     int want_tag, int want_class)
{
    const unsigned char *body;
    long body_len;

    if (!der_elem(p, *end, want_tag, want_class, &body, &body_len))
        return 0;
    *p = body;
    *end = body + body_len;
    return 1;
}

/* Where, in an OCSPResponse's DER, the BasicOCSPResponse's parts are:
 * its tbsResponseData, signatureAlgorithm and signature (one run of
 * bytes) and its certificates field, whole (NULL when it has none). */
typedef struct {
    const unsigned char *signed_part;
    long signed_len;
    const unsigned char *certs;
    long certs_len;
} og_basic_parts_t;

static int basic_parts(const unsigned char *der, apr_size_t len,
                       og_basic_parts_t *bp)
{
    static const unsigned char basic_oid[] = { 0x2b, 0x06, 0x01, 0x05, 0x05,
                                               0x07, 0x30, 0x01, 0x01 };
    const unsigned char *p = der, *end = der + len, *b, *e;
    long l;

    memset(bp, 0, sizeof(*bp));
    /* OCSPResponse: responseStatus, [0] ResponseBytes: responseType,
     * response, an OCTET STRING holding the BasicOCSPResponse */
    if (!der_enter(&p, &end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL)
        || !der_elem(&p, end, V_ASN1_ENUMERATED, V_ASN1_UNIVERSAL, &b, &l)
        || !der_enter(&p, &end, 0, V_ASN1_CONTEXT_SPECIFIC)
        || !der_enter(&p, &end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL)
        || !der_elem(&p, end, V_ASN1_OBJECT, V_ASN1_UNIVERSAL, &b, &l)
        || l != (long)sizeof(basic_oid)
        || memcmp(b, basic_oid, (size_t)l) != 0
        || !der_enter(&p, &end, V_ASN1_OCTET_STRING, V_ASN1_UNIVERSAL)
        || !der_enter(&p, &end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL))
        return 0;
    bp->signed_part = p;
    if (!der_elem(&p, end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, &b, &l)
        || !der_elem(&p, end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, &b, &l)
        || !der_elem(&p, end, V_ASN1_BIT_STRING, V_ASN1_UNIVERSAL, &b, &l))
        return 0;
    bp->signed_len = p - bp->signed_part;
    if (p == end)
        return 1;
    e = p;
    if (!der_elem(&p, end, 0, V_ASN1_CONTEXT_SPECIFIC, &b, &l) || p != end)
        return 0;
    bp->certs = e;
    bp->certs_len = end - e;
    return 1;
}

/* The basic response of `der` when its certificates field is byte for
 * byte that of a response whose signer passed the full check for this
 * issuer: decoded without it (no certificate parsed: OpenSSL 3 decodes
 * each one's key), its signature checked with that signer, which must
 * match its responder id and be within its validity now. NULL: take the
 * usual way (which refuses what this one would have). */
static OCSP_BASICRESP *basic_known(const og_cert_t *cert,
                                   const unsigned char *der, apr_size_t len)
{
    og_signers_t *sg = cert->signers;
    og_basic_parts_t bp;
    const og_signer_t *s = NULL;
    OCSP_BASICRESP *bs = NULL;
    STACK_OF(X509) *certs;
    unsigned char *buf, *w;
    const unsigned char *q;
    int i, n;

    if (!sg || sg->n == 0 || !basic_parts(der, len, &bp) || !bp.certs)
        return NULL;
    for (i = 0; i < sg->n && !s; i++)
        if (sg->s[i].certs_len == bp.certs_len
            && !memcmp(sg->s[i].certs, bp.certs, (size_t)bp.certs_len))
            s = &sg->s[i];
    if (!s || X509_cmp_current_time(X509_get0_notBefore(s->x)) >= 0
        || X509_cmp_current_time(X509_get0_notAfter(s->x)) <= 0)
        return NULL;
    n = ASN1_object_size(1, (int)bp.signed_len, V_ASN1_SEQUENCE);
    if (n <= 0 || !(buf = OPENSSL_malloc((size_t)n)))
        return NULL;
    w = buf;
    ASN1_put_object(&w, 1, (int)bp.signed_len, V_ASN1_SEQUENCE,
                    V_ASN1_UNIVERSAL);
    memcpy(w, bp.signed_part, (size_t)bp.signed_len);
    q = buf;
    bs = d2i_OCSP_BASICRESP(NULL, &q, n);
    OPENSSL_free(buf);
    certs = sk_X509_new_null();
    if (!bs || !certs || !sk_X509_push(certs, s->x)
        || OCSP_basic_verify(bs, certs, NULL,
                             OCSP_NOINTERN | OCSP_NOVERIFY) <= 0) {
        OCSP_BASICRESP_free(bs);
        bs = NULL;
    }
    else {
        sg->hits++;
        sg->quick++;
    }
    sk_X509_free(certs);
    ERR_clear_error();
    return bs;
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
static int verify_signer(const og_cert_t *cert, OCSP_BASICRESP *bs,
                         const unsigned char *resp, apr_size_t resp_len)
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
        && verify_full(cert->issuer, bs, 0) && X509_up_ref(signer)) {
        og_basic_parts_t bp;
        unsigned char *certs = NULL;

        if (basic_parts(resp, resp_len, &bp) && bp.certs)
            certs = OPENSSL_memdup(bp.certs, (size_t)bp.certs_len);
        signers_add(sg, der, len, certs, bp.certs_len, signer);
        der = NULL;
    }
    if (ok)
        sg->verified++;
    OPENSSL_free(der);
    return ok;
}

/* Everything that does not depend on the time. */
static og_error_e validate_content(const og_cert_t *cert,
                                   const unsigned char *der, apr_size_t len,
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
    /* a responder seen before: its certificates need no parsing */
    if ((bs = basic_known(cert, der, len)) != NULL) {
        OCSP_RESPONSE_free(resp);
        goto signed_ok;
    }
    bs = OCSP_response_get1_basic(resp);
    OCSP_RESPONSE_free(resp);
    if (!bs) {
        ERR_clear_error();
        return fail(out, OG_ERR_MALFORMED, "no basic OCSP response inside");
    }
    if (!verify_signer(cert, bs, der, len)) {
        const char *why = ssl_error_text(p);
        OCSP_BASICRESP_free(bs);
        return fail(out, OG_ERR_VERIFY_FAILED,
                    apr_pstrcat(p, "signature or signer not trusted: ", why,
                                NULL));
    }
signed_ok:
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
    out->error = OG_OK;
    out->detail = "valid";
    return OG_OK;
}

/* The time window, at `now`. */
static og_error_e validate_time(og_validation_t *out, apr_time_t now,
                                apr_interval_time_t skew)
{
    if (out->this_update > now + skew)
        return fail(out, OG_ERR_EXPIRED, "thisUpdate lies in the future");
    /* No skew here: a staple past its nextUpdate is stale for everyone. */
    if (out->next_update <= now)
        return fail(out, OG_ERR_EXPIRED, "nextUpdate has passed");
    out->error = OG_OK;
    out->detail = "valid";
    return OG_OK;
}

struct og_vmemo_t {
    int set;
    unsigned char sha256[SHA256_DIGEST_LENGTH];
    og_validation_t v;          /* content checks passed: the time is not */
};

og_vmemo_t *og_vmemo_make(apr_pool_t *p)
{
    return apr_pcalloc(p, sizeof(og_vmemo_t));
}

og_vmemo_t *og_vmemo_copy(const og_vmemo_t *m, apr_pool_t *p)
{
    return m ? apr_pmemdup(p, m, sizeof(*m)) : NULL;
}

apr_size_t og_vmemo_size(void)
{
    return sizeof(og_vmemo_t);
}

int og_vmemo_take(og_vmemo_t *dst, const og_vmemo_t *src)
{
    if (!dst || !src || !src->set)
        return 0;
    *dst = *src;
    return 1;
}

og_error_e og_validate_response(const og_cert_t *cert,
                                const unsigned char *der, apr_size_t len,
                                apr_time_t now, apr_interval_time_t skew,
                                og_validation_t *out, apr_pool_t *p)
{
    og_vmemo_t *m = cert->memo;
    unsigned char md[SHA256_DIGEST_LENGTH];

    if (m && der && len > 0) {
        SHA256(der, len, md);
        if (m->set && !memcmp(m->sha256, md, sizeof(md))) {
            *out = m->v;
            return validate_time(out, now, skew);
        }
    }
    if (validate_content(cert, der, len, out, p) != OG_OK)
        return out->error;
    if (m && der && len > 0) {
        memcpy(m->sha256, md, sizeof(md));
        m->v = *out;
        m->set = 1;
    }
    return validate_time(out, now, skew);
}
