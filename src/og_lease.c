/* SPDX-License-Identifier: Apache-2.0 */
/* Leases: one fetch per certificate for a whole fleet. The shared cache
 * has no atomic add, so a lease is written, then read back once every
 * server that found none at the same moment has written its own: the last
 * writer has it. A server that sees another's lease waits for its
 * response (og_track decides how long); without leases, or with the cache
 * failing, a server fetches on its own: a lease only ever saves requests. */
#include <string.h>

#include <apr_strings.h>

#include "og_round.h"

static apr_status_t lease_write(const og_round_t *r, og_item_t *it,
                                apr_time_t now, apr_pool_t *p)
{
    og_lease_t mine;

    memset(&mine, 0, sizeof(mine));
    memcpy(mine.cert_sha1, it->cert->sha1, OG_CERT_SHA1_LEN);
    memcpy(mine.token, r->lease_token, OG_LEASE_TOKEN_LEN);
    mine.until = now + r->policy.lease_time;
    return r->io->lease(r->io->ctx, it, OG_LEASE_WRITE, &mine, p);
}

/* Another server holds the lease: wait for its response (og_track says
 * how long), unless the wait is over. 1: fetch all the same. */
static int lease_held(const og_round_t *r, og_item_t *it,
                      const og_lease_t *seen, apr_time_t now, apr_pool_t *p)
{
    const og_track_t *t = it->track;
    apr_time_t since = t->lease_wait_since ? t->lease_wait_since : now;
    og_input_t in;
    og_step_t st;

    og_input_init(&in, OG_IN_LEASE_HELD);
    og_round_apply(r, it, &in, now, &st, p);
    if (!st.fetch) {
        og_round_say(r, OG_LOG_DEBUG, apr_psprintf(p, "OG00320: %s: another server"
            " (pid %u) is fetching it: waiting for its response, next look"
            " in %" APR_TIME_T_FMT " ms", it->cert->subject, seen->pid,
            apr_time_as_msec(it->track->next_attempt - now)));
        return 0;
    }
    og_round_say(r, OG_LOG_NOTICE, apr_psprintf(p, "OG00321: %s: no fresher response"
        " from the server holding the lease (pid %u) after waiting %"
        APR_TIME_T_FMT " ms: fetching it here", it->cert->subject, seen->pid,
        apr_time_as_msec(now - since)));
    return 1;
}

/* Due, and nothing fresher in the shared cache: is another server
 * fetching it now? If not, write this fetcher's lease. Without leases, or
 * when the cache fails, the server fetches without one: a lease only ever
 * saves requests. */
og_claim_e og_round_lease_claim(const og_round_t *r, og_item_t *it,
                              apr_time_t now, apr_pool_t *p)
{
    og_lease_t seen;
    apr_status_t rv;

    if (!r->io->lease)
        return OG_CLAIM_NONE;
    rv = r->io->lease(r->io->ctx, it, OG_LEASE_READ, &seen, p);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND && rv != APR_EINVAL)
        return OG_CLAIM_NONE;
    if (rv == APR_SUCCESS && !og_lease_mine(&seen, r->lease_token)
        && !lease_held(r, it, &seen, now, p))
        return OG_CLAIM_WAIT;
    return lease_write(r, it, now, p) == APR_SUCCESS ? OG_CLAIM_MADE
                                                     : OG_CLAIM_NONE;
}

/* The cache has no atomic add: a claim is read back once every server
 * that read "no lease" at about the same time has written its own
 * (r->lease_settle later), and the last writer has it. 1: won, fetch
 * under the lease; 0: wait for the holder; -1: fetch without it. */
int og_round_lease_verify(const og_round_t *r, og_item_t *it, apr_time_t now,
                        apr_pool_t *p)
{
    og_lease_t seen;
    og_input_t in;
    og_step_t st;

    if (r->io->lease(r->io->ctx, it, OG_LEASE_READ, &seen, p) == APR_SUCCESS
        && !og_lease_mine(&seen, r->lease_token))
        return lease_held(r, it, &seen, now, p) ? -1 : 0;
    og_input_init(&in, OG_IN_LEASE_WON);
    og_round_apply(r, it, &in, now, &st, p);
    return 1;
}

void og_round_lease_drop(const og_round_t *r, og_item_t *it, apr_pool_t *p)
{
    og_lease_t mine;

    if (!r->io->lease)
        return;
    memset(&mine, 0, sizeof(mine));
    memcpy(mine.token, r->lease_token, OG_LEASE_TOKEN_LEN);
    (void)r->io->lease(r->io->ctx, it, OG_LEASE_DROP, &mine, p);
}
