/* SPDX-License-Identifier: Apache-2.0 */
/* mod_ocsp_guard: the handshake path. mod_ssl asks for a certificate's
 * response at every handshake; the answer comes from this child's own copy
 * of what the fetcher validated, refreshed from the local cache once per
 * new response. No network, no validation, no global lock here: nothing
 * in this file may reach the fetcher's code (make lint checks it). */

#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_hash.h>

#include <httpd.h>
#include <http_log.h>
#include <http_ssl.h>

#include "mod_ocsp_guard.h"

struct og_local_t {
    apr_thread_rwlock_t *lock;
    volatile apr_uint32_t generation;
    unsigned char *der;             /* malloc'ed */
    apr_size_t der_len;
    apr_time_t next_update;
    apr_time_t retry_at;            /* after a cache miss: not before */
};

/* Bring this child's copy up to `generation`; once per new response, so
 * kept out of line: the handshake's own path stays short. */
static void og_local_refresh(og_entry_t *e, og_local_t *l,
                             apr_uint32_t generation, conn_rec *c)
    __attribute__((noinline, cold));

static void og_local_refresh(og_entry_t *e, og_local_t *l,
                             apr_uint32_t generation, conn_rec *c)
{
    apr_pool_t *p = NULL;
    unsigned char *buf, *copy = NULL;
    og_record_t rec;
    apr_size_t copy_len = 0;
    apr_time_t next_update = 0;

    apr_thread_rwlock_wrlock(l->lock);
    if (l->generation == generation) {
        apr_thread_rwlock_unlock(l->lock);
        return;
    }
    if (apr_pool_create(&p, c->pool) == APR_SUCCESS) {
        buf = apr_palloc(p, og->record_max);
        if (og_cache_get(&og->local, e, buf, &rec, p) == APR_SUCCESS
            && (copy = malloc(rec.der_len)) != NULL) {
            memcpy(copy, rec.der, rec.der_len);
            copy_len = rec.der_len;
            next_update = rec.next_update;
        }
        apr_pool_destroy(p);
    }
    if (!copy) {
        /* Not in the cache (evicted): keep what this child has, ask the
         * fetcher to put it back, and look again in a second rather than
         * at every handshake. */
        apr_atomic_set32(&og->slots[e->index].missing, 1);
        apr_atomic_inc32(&og->head->missing_any);
        l->retry_at = apr_time_now() + apr_time_from_sec(1);
        apr_thread_rwlock_unlock(l->lock);
        return;
    }
    free(l->der);
    l->der = copy;
    l->der_len = copy_len;
    l->next_update = next_update;
    l->generation = generation;
    apr_thread_rwlock_unlock(l->lock);
}

int og_get_resp(server_rec *s, conn_rec *c, const char *id,
                apr_size_t id_len, ap_ssl_ocsp_copy_resp *cb, void *userdata)
{
    og_entry_t *e;
    og_local_t *l;
    apr_uint32_t generation;

    if (!og || !og->locals)
        return DECLINED;
    e = apr_hash_get(og->by_id, id, (apr_ssize_t)id_len);
    if (!e || !e->claimed || !og_enabled(s))
        return DECLINED;
    /* From here on we own the answer: always OK and always call back, or
     * mod_ssl would run its own blocking fetch in this handshake. */
    l = &og->locals[e->index];
    generation = apr_atomic_read32(&og->slots[e->index].generation);
    if (generation != l->generation
        && (!l->retry_at || apr_time_now() >= l->retry_at))
        og_local_refresh(e, l, generation, c);
    apr_thread_rwlock_rdlock(l->lock);
    if (l->der && apr_time_now() < l->next_update) {
        cb(l->der, l->der_len, userdata);
        apr_thread_rwlock_unlock(l->lock);
        apr_atomic_inc32(&og->slots[e->index].staples_served);
    }
    else {
        cb(NULL, 0, userdata);
        apr_thread_rwlock_unlock(l->lock);
        apr_atomic_inc32(&og->slots[e->index].unstapled);
    }
    return OK;
}

/* The child's copies are malloc'ed (replaced from the handshake path);
 * free them with the child, so that leak checkers see none. */
static apr_status_t og_locals_free(void *data)
{
    og_local_t *locals = data;
    int i;

    og->locals = NULL;
    for (i = 0; i < og->entries->nelts; i++) {
        free(locals[i].der);
        locals[i].der = NULL;
    }
    return APR_SUCCESS;
}

void og_handshake_child_init(apr_pool_t *pchild, server_rec *s)
{
    og_local_t *locals;
    int i;

    og->locals = NULL;
    locals = apr_pcalloc(pchild, sizeof(og_local_t)
                                 * (apr_size_t)og->entries->nelts);
    for (i = 0; i < og->entries->nelts; i++) {
        if (apr_thread_rwlock_create(&locals[i].lock, pchild)
            != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, OGLOGNO(00115)
                         "cannot create a lock in this child; it staples"
                         " nothing");
            return;
        }
    }
    og->locals = locals;
    apr_pool_cleanup_register(pchild, locals, og_locals_free,
                              apr_pool_cleanup_null);
}
