/* SPDX-License-Identifier: Apache-2.0 */
/* ocsp-guard fetch: fetch, validate and save each certificate's response
 * into the state dir in the module's own format, through the module's own
 * fetch round (src/og_round.c) and failover chain. Run it when a renewed
 * certificate is put in place and before the graceful restart: the module
 * then staples the new certificate from the first handshake, even with the
 * responder down by then. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "src/og_event.h"
#include "src/og_round.h"
#include "src/og_store.h"
#include "tools/og_tool.h"

#define OG_FETCH_MAX_RESPONSE ((apr_size_t)1024 * 1024)

typedef struct {
    const char *file;
    og_track_t track;
    og_item_t item;
    const char *failure;            /* the last way's failure */
    const char *saved;              /* where it went */
} og_fetch_job_t;

typedef struct {
    const options_t *o;
    struct stat dir;                /* the state dir: files get its owner */
    int verbose;
    apr_pool_t *pool;               /* outlives the round's job pools */
} og_fetch_ctx_t;

static apr_status_t keep(void *ctx, og_item_t *it, const og_record_t *rec,
                         const unsigned char *record, apr_size_t len,
                         og_origin_e origin, apr_pool_t *p)
{
    og_fetch_ctx_t *fc = ctx;
    og_fetch_job_t *job = it->baton;
    const char *name = og_store_name(p, it->cert->sha1_hex);
    const char *path = apr_pstrcat(fc->pool, fc->o->state_dir, "/", name,
                                   NULL);
    apr_status_t rv;

    (void)rec;
    (void)origin;
    rv = og_store_save(fc->o->state_dir, name, record, len, p);
    if (rv != APR_SUCCESS) {
        char buf[128];
        job->failure = apr_psprintf(fc->pool, "cannot save %s: %s", path,
                                    apr_strerror(rv, buf, sizeof(buf)));
        return rv;
    }
    /* the module's fetcher (the web server's user) replaces it later */
    if (geteuid() == 0 && chown(path, fc->dir.st_uid, fc->dir.st_gid) != 0)
        fprintf(stderr, "ocsp-guard: cannot give %s to the owner of %s\n",
                path, fc->o->state_dir);
    job->saved = path;
    return APR_SUCCESS;
}

static void emit(void *ctx, og_item_t *it, og_event_t *ev, int notify,
                 apr_pool_t *p)
{
    og_fetch_ctx_t *fc = ctx;
    og_fetch_job_t *job = it->baton;

    (void)notify;
    (void)p;
    if (ev->error_class && ev->responder)
        job->failure = apr_psprintf(fc->pool, "%s [%s]: %s",
                                    ev->responder, ev->error_class,
                                    ev->detail ? ev->detail : "");
}

static void log_line(void *ctx, int level, const char *line)
{
    og_fetch_ctx_t *fc = ctx;

    (void)level;
    if (fc->verbose)
        fprintf(stderr, "%s\n", line);
}

/* The state dir the module uses by default, as Debian and RHEL lay out. */
static const char *default_state_dir(void)
{
    static const char *const dirs[] = { "/var/lib/apache2/ocsp-guard",
                                        "/var/lib/httpd/ocsp-guard", NULL };
    struct stat st;
    int i;

    for (i = 0; dirs[i]; i++)
        if (stat(dirs[i], &st) == 0 && S_ISDIR(st.st_mode))
            return dirs[i];
    return NULL;
}

int og_fetch_files(apr_pool_t *p, apr_array_header_t *files,
                   const options_t *given)
{
    options_t o = *given;
    og_fetch_ctx_t fc;
    og_round_io_t io;
    og_round_t round;
    apr_array_header_t *items = apr_array_make(p, files->nelts,
                                               sizeof(og_item_t *));
    og_fetch_job_t *jobs = apr_pcalloc(p, sizeof(*jobs)
                                          * (apr_size_t)files->nelts);
    int i, failed = 0;

    if (!o.state_dir && !(o.state_dir = default_state_dir())) {
        fprintf(stderr, "ocsp-guard fetch: no state dir: give --state-dir,"
                " the directory OCSPGuardStateDir names\n");
        return ST_UNKNOWN;
    }
    memset(&fc, 0, sizeof(fc));
    fc.o = &o;
    fc.verbose = o.verbose;
    fc.pool = p;
    if (stat(o.state_dir, &fc.dir) != 0 || !S_ISDIR(fc.dir.st_mode)) {
        fprintf(stderr, "ocsp-guard fetch: %s is not a directory\n",
                o.state_dir);
        return ST_UNKNOWN;
    }
    memset(&io, 0, sizeof(io));
    io.ctx = &fc;
    io.keep = keep;
    io.emit = emit;
    io.log = log_line;
    memset(&round, 0, sizeof(round));
    round.policy.sched.refresh_percent = 50;
    round.policy.sched.retry_min = apr_time_from_sec(60);
    round.policy.sched.retry_max = apr_time_from_sec(3600);
    round.policy.expiring_percent = 25;
    round.policy.must_staple_expiring_percent = 50;
    round.fetch.timeout = o.timeout;
    round.fetch.connect_timeout = o.timeout;
    round.fetch.max_size = OG_FETCH_MAX_RESPONSE;
    round.fetch.max_parallel = 48;
    round.fetch.max_per_host = 24;
    round.fetch.user_agent = "ocsp-guard-fetch";
    round.skew = apr_time_from_sec(300);
    round.io = &io;

    for (i = 0; i < files->nelts; i++) {
        og_fetch_job_t *job = &jobs[i];
        const char *err = NULL;
        og_cert_t *c;

        job->file = APR_ARRAY_IDX(files, i, const char *);
        c = og_tool_load(p, job->file, &o, &err);
        if (!c) {
            job->failure = err;
            continue;
        }
        og_track_init(&job->track, c->not_after, c->must_staple);
        job->item.cert = c;
        job->item.chain = og_tool_chain(p, c, &o);
        job->item.track = &job->track;
        job->item.baton = job;
        if (job->item.chain->nelts == 0) {
            job->failure = "no OCSP URL in the certificate and no --mirror:"
                           " nothing to fetch";
            continue;
        }
        APR_ARRAY_PUSH(items, og_item_t *) = &job->item;
    }
    og_round_run(&round, items, p);

    for (i = 0; i < files->nelts; i++) {
        og_fetch_job_t *job = &jobs[i];
        const og_track_t *t = &job->track;

        if (t->this_update && job->saved && t->cert_status == OG_CERT_GOOD) {
            printf("OK       %s: good, valid until %s, from %s; saved as"
                   " %s\n", job->file, og_rfc3339(p, t->next_update),
                   t->responder ? t->responder : "?", job->saved);
            continue;
        }
        failed++;
        if (t->this_update && job->saved)
            printf("CRITICAL %s: the CA says %s (from %s); saved as %s\n",
                   job->file, og_cert_status_name(t->cert_status),
                   t->responder ? t->responder : "?", job->saved);
        else
            printf("CRITICAL %s: no valid response: %s\n", job->file,
                   job->failure ? job->failure : "every way failed");
    }
    return failed ? ST_CRITICAL : ST_OK;
}
