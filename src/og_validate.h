/* SPDX-License-Identifier: Apache-2.0 */
/* Decides whether an OCSP response may be stapled for a certificate. Nothing
 * reaches a handshake without passing here: no staple beats a bad staple. */
#ifndef OG_VALIDATE_H
#define OG_VALIDATE_H

#include <apr_pools.h>
#include <apr_time.h>

#include "og_cert.h"
#include "og_error.h"

typedef enum {
    OG_CERT_GOOD = 0,
    OG_CERT_REVOKED = 1,
    OG_CERT_UNKNOWN = 2
} og_cert_status_e;

typedef struct {
    og_error_e error;           /* OG_OK when the response may be stapled */
    const char *detail;         /* why not, in one sentence */
    int ocsp_status;            /* responseStatus (0 successful, 3 tryLater..) */
    og_cert_status_e cert_status;
    int revocation_reason;      /* -1 when none given */
    apr_time_t this_update;
    apr_time_t next_update;
    apr_time_t revoked_at;      /* 0 unless revoked */
} og_validation_t;

/* Validate DER `der` for `cert` at time `now`, allowing `skew` of clock
 * difference on thisUpdate/nextUpdate. Checks: parses, responseStatus
 * successful, basic response signed by the issuer or by a responder it
 * delegated (id-kp-OCSPSigning), our CertID present, nextUpdate present,
 * thisUpdate no later than now + skew, nextUpdate after now. Fills *out and returns
 * out->error. */
og_error_e og_validate_response(const og_cert_t *cert,
                                const unsigned char *der, apr_size_t len,
                                apr_time_t now, apr_interval_time_t skew,
                                og_validation_t *out, apr_pool_t *p);

const char *og_cert_status_name(og_cert_status_e s);

/* The last response that passed every check but the time window for one
 * certificate, remembered by its SHA-256 (og_cert_t.memo, NULL: none):
 * the same bytes again need only the time window checked, at the new
 * `now`. What validates saved responses ahead of start-up (in a thread of
 * its own, before the parent needs them) leaves its work here. */
og_vmemo_t *og_vmemo_make(apr_pool_t *p);
og_vmemo_t *og_vmemo_copy(const og_vmemo_t *m, apr_pool_t *p);
/* Its size, to lay memos out in memory another process fills (the same
 * program), and taking one from there: 1 when src held a response. */
apr_size_t og_vmemo_size(void);
int og_vmemo_take(og_vmemo_t *dst, const og_vmemo_t *src);

/* The delegated responders one issuer was seen to authorise, remembered
 * so that the next response they sign needs no chain verification: every
 * response of a CA carries the same signer certificate. Set in
 * og_cert_t.signers (shared by the certificates of that issuer); NULL
 * there means every response takes the full check. Not locked: one
 * validating thread per process (the parent at start-up, then the
 * fetcher). */
og_signers_t *og_signers_make(void);
void og_signers_free(og_signers_t *sg);
/* Responses that took the remembered way, the full way, signers held. */
void og_signers_counts(const og_signers_t *sg, unsigned long *hits,
                       unsigned long *verified, int *held);
/* Of the hits, responses whose certificates were not even parsed (the
 * same certificates field as a response checked in full before). */
unsigned long og_signers_quick(const og_signers_t *sg);

#endif
