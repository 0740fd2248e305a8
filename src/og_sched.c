/* SPDX-License-Identifier: Apache-2.0 */
#include "og_sched.h"

#define OG_SCHED_FLOOR apr_time_from_sec(1)

apr_time_t og_sched_refresh_at(const og_sched_policy_t *pol,
                               apr_time_t this_update, apr_time_t next_update,
                               apr_time_t now, double jitter)
{
    apr_interval_time_t validity = next_update - this_update;
    apr_interval_time_t used;
    apr_time_t at;

    if (validity <= 0)
        return now;
    /* the part of the validity used before the refresh window starts */
    used = validity - validity / 100 * pol->refresh_percent;
    if (jitter < 0.0)
        jitter = 0.0;
    if (jitter >= 1.0)
        jitter = 0.999;
    /* Jitter takes at most a tenth of the used part: the refresh never
     * comes right after the fetch, however short the validity. */
    at = this_update + used - (apr_interval_time_t)((double)used / 10.0 * jitter);
    return at < now ? now : at;
}

apr_interval_time_t og_sched_retry_delay(const og_sched_policy_t *pol,
                                         int failures, apr_time_t now,
                                         apr_time_t next_update,
                                         double jitter)
{
    apr_interval_time_t delay = pol->retry_min;
    int i;

    for (i = 1; i < failures && delay < pol->retry_max; i++)
        delay *= 2;
    if (delay > pol->retry_max)
        delay = pol->retry_max;
    if (next_update > now && delay > (next_update - now) / 4)
        delay = (next_update - now) / 4;
    if (jitter < 0.0)
        jitter = 0.0;
    if (jitter >= 1.0)
        jitter = 0.999;
    delay = (apr_interval_time_t)((double)delay * (0.9 + 0.2 * jitter));
    return delay < OG_SCHED_FLOOR ? OG_SCHED_FLOOR : delay;
}

double og_sched_shared_jitter(apr_uint32_t seed, apr_time_t this_update)
{
    /* a 64-bit mix (the finaliser of splitmix64) of both */
    apr_uint64_t x = ((apr_uint64_t)seed << 32)
                     ^ (apr_uint64_t)apr_time_sec(this_update);

    x += APR_UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * APR_UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * APR_UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return (double)(x >> 11) / 9007199254740992.0;     /* 2^53 */
}
