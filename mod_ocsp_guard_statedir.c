/* SPDX-License-Identifier: Apache-2.0 */
/* mod_ocsp_guard: the state dir. Every good response is also written
 * there (temp file and rename), so that a full restart staples from the
 * first handshake even with every responder down. Its files are untrusted
 * input: read only as regular files, never through a link, from a
 * directory nobody else can write, and validated like a network answer. */

#include <string.h>

#include <apr_atomic.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_main.h>
#include <unixd.h>

#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mod_ocsp_guard.h"
#include "src/og_store.h"

/* Debian and RHEL keep server state under /var/lib; elsewhere ServerRoot. */
static const char *og_default_state_dir(apr_pool_t *p)
{
    static const char *const bases[] = { "/var/lib/apache2", "/var/lib/httpd",
                                         NULL };
    apr_finfo_t fi;
    int i;

    for (i = 0; bases[i]; i++) {
        if (apr_stat(&fi, bases[i], APR_FINFO_TYPE, p) == APR_SUCCESS
            && fi.filetype == APR_DIR)
            return apr_pstrcat(p, bases[i], "/ocsp-guard", NULL);
    }
    return ap_server_root_relative(p, "ocsp-guard");
}

/* Make the state directory, owned by the user the children run as (the
 * fetcher writes it). Without it the module still staples, from the
 * network only. */
void og_setup_state_dir(server_rec *s, og_server_conf_t *sc, apr_pool_t *pconf)
{
    const char *dir = sc->state_dir ? sc->state_dir
                                    : og_default_state_dir(pconf);
    const char *why = NULL;
    apr_status_t rv;

    og->state_dir = NULL;
    if (!strcmp(dir, "none"))
        return;
    rv = apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                | APR_FPROT_UEXECUTE | APR_FPROT_GREAD
                                | APR_FPROT_GEXECUTE, pconf);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, OGLOGNO(00120)
                     "cannot create the state directory %s: responses are"
                     " not kept across restarts (set OCSPGuardStateDir to a"
                     " writable directory, or 'none')", dir);
        return;
    }
    if (geteuid() == 0 && chown(dir, ap_unixd_config.user_id, (gid_t)-1) != 0)
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s, OGLOGNO(00121)
                     "cannot give the state directory %s to the server's"
                     " user; saving responses may fail", dir);
    /* Its files are read at start-up as the parent: a directory others
     * can write into (or a link to one) is not used. */
    if (og_store_check_dir(dir, pconf, &why) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, OGLOGNO(00127)
                     "state directory %s not used: %s; responses are not"
                     " kept across restarts", dir, why);
        return;
    }
    og->state_dir = dir;
}

/* This certificate's record from the state dir: APR_ENOENT when there is
 * none, APR_EINVAL when the file is not a record for this certificate. */
apr_status_t og_state_read(const og_entry_t *e, og_record_t *rec,
                                  unsigned char **data, apr_size_t *len,
                                  apr_pool_t *p)
{
    apr_status_t rv;

    if (!og->state_dir)
        return APR_ENOENT;
    rv = og_store_load(og->state_dir, og_store_name(p, e->cert->sha1_hex),
                       og->record_max, data, len, p);
    if (rv != APR_SUCCESS)
        return APR_STATUS_IS_ENOENT(rv) ? APR_ENOENT : rv;
    if (og_record_decode(rec, *data, *len) != APR_SUCCESS
        || memcmp(rec->cert_sha1, e->cert->sha1, OG_CERT_SHA1_LEN) != 0)
        return APR_EINVAL;
    return APR_SUCCESS;
}

void og_state_save(const og_entry_t *e, const unsigned char *record,
                          apr_size_t len, apr_pool_t *p)
{
    apr_status_t rv;

    if (!og->state_dir)
        return;
    rv = og_store_save(og->state_dir, og_store_name(p, e->cert->sha1_hex),
                       record, len, p);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, og->s, OGLOGNO(00302)
                     "%s: cannot save the response in %s; a full restart"
                     " will have to fetch it again", e->cert->subject,
                     og->state_dir);
}

/* Staple from the first handshake after a restart: each saved response
 * is checked again as if it had just been fetched (certificate, signature,
 * validity) and put in the local cache. Anything else is ignored and said
 * in the log; start-up never fails on a bad file. */
void og_load_persisted(server_rec *s, apr_pool_t *ptemp)
{
    apr_time_t now = apr_time_now();
    int i, loaded = 0;

    for (i = 0; og->state_dir && i < og->items->nelts; i++) {
        og_item_t *it = APR_ARRAY_IDX(og->items, i, og_item_t *);
        og_entry_t *e = it->baton;
        unsigned char *data = NULL;
        apr_size_t len = 0;
        og_record_t rec;
        const char *why = NULL;
        apr_status_t rv;
        int taken;

        rv = og_state_read(e, &rec, &data, &len, ptemp);
        if (rv == APR_ENOENT)
            continue;
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, OGLOGNO(00122)
                         "%s: ignoring %s/%s: not a readable response record"
                         " for this certificate", e->cert->subject,
                         og->state_dir,
                         og_store_name(ptemp, e->cert->sha1_hex));
            continue;
        }
        taken = og_round_offer(&og->round, it, &rec, OG_FROM_DISK,
                               og->state_dir, now, &why, ptemp);
        if (taken == 1)
            loaded++;
        else if (taken < 0)
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, OGLOGNO(00123)
                         "%s: saved response not used: %s", e->cert->subject,
                         why);
        else
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, OGLOGNO(00124)
                         "%s: saved response not used: %s (%s)",
                         e->cert->subject, why, og->local.desc);
    }
    if (og->state_dir)
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, OGLOGNO(00125)
                     "%d saved response(s) from %s stapled from the first"
                     " handshake", loaded, og->state_dir);
}

/* ------------------------------------------------------------------ */
/* saved responses validated ahead                                    */

/* Checking thousands of saved responses (a signature each) would hold
 * up every start and graceful restart. The certificates are known from
 * the last configuration pass (og_certcache keeps them), so at the next
 * pass's pre_config a helper process (a fork: it shares nothing with
 * the server but the results, and its memory goes with it) reads and
 * validates their saved responses while httpd and mod_ssl read their
 * configuration. Its results, one og_vmemo_t per certificate in shared
 * memory, are what og_validate remembers of a response it validated:
 * og_load_persisted, once the helper is done, finds the work done (the
 * time window is checked again, and any other response validated there
 * as before). Nothing reaches the local cache, or a child, but through
 * og_load_persisted. */

/* Where the last pass said the state dir is: plain data kept in the
 * process pool, which outlives the module's code between passes. */
typedef struct {
    char dir[1024];                 /* "" none */
    apr_size_t record_max;
} og_ahead_conf_t;

#define OG_AHEAD_KEY "mod_ocsp_guard:ahead"
/* a helper that does not move on for this long is stopped (what it did
 * is taken, the rest validated by og_load_persisted as ever) */
#define OG_AHEAD_STALL apr_time_from_sec(5)
#define OG_AHEAD_HEAD 64            /* the progress word, then the memos */

typedef struct {
    pid_t pid;
    apr_array_header_t *certs;      /* og_cert_t *, the cache's */
    char *shared;                   /* progress, og_vmemo_t each */
    apr_size_t shared_len;
} og_ahead_t;

#define OG_AHEAD_PROGRESS(a) ((volatile apr_uint32_t *)(a)->shared)
#define OG_AHEAD_MEMO(a, i) \
    ((og_vmemo_t *)((a)->shared + OG_AHEAD_HEAD \
                    + (apr_size_t)(i) * og_vmemo_size()))

static og_ahead_t *og_ahead;        /* this generation's, NULL: none */

void og_ahead_remember(og_server_conf_t *sc, apr_pool_t *p)
{
    void *data = NULL;
    og_ahead_conf_t *ac;
    const char *dir = sc->state_dir ? sc->state_dir : og_default_state_dir(p);

    apr_pool_userdata_get(&data, OG_AHEAD_KEY, ap_pglobal);
    if (!(ac = data)) {
        ac = apr_pcalloc(ap_pglobal, sizeof(*ac));
        apr_pool_userdata_set(ac, OG_AHEAD_KEY, NULL, ap_pglobal);
    }
    if (!strcmp(dir, "none") || strlen(dir) >= sizeof(ac->dir))
        dir = "";
    apr_cpystrn(ac->dir, dir, sizeof(ac->dir));
    ac->record_max = OG_RECORD_HDR_LEN + sc->max_response_size;
}

/* The helper, for one certificate: its saved response validated, the
 * result left in the shared memo. */
static void og_ahead_one(og_ahead_t *a, const og_ahead_conf_t *ac, int i,
                         apr_pool_t *p)
{
    og_cert_t *c = APR_ARRAY_IDX(a->certs, i, og_cert_t *);
    unsigned char *buf = NULL;
    apr_size_t len = 0;
    og_record_t rec;
    og_validation_t v;

    if (og_store_load(ac->dir, og_store_name(p, c->sha1_hex),
                      ac->record_max, &buf, &len, p) != APR_SUCCESS
        || og_record_decode(&rec, buf, len) != APR_SUCCESS
        || memcmp(rec.cert_sha1, c->sha1, OG_CERT_SHA1_LEN) != 0)
        return;
    /* this process's copy of the certificate remembers into the shared
     * memory */
    c->memo = OG_AHEAD_MEMO(a, i);
    og_validate_response(c, rec.der, rec.der_len, apr_time_now(),
                         OG_CLOCK_SKEW, &v, p);
}

static void og_ahead_run(og_ahead_t *a, const og_ahead_conf_t *ac)
{
    apr_pool_t *p;
    int i;

    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS)
        return;
    for (i = 0; i < a->certs->nelts; i++) {
        apr_pool_clear(p);
        og_ahead_one(a, ac, i, p);
        apr_atomic_set32(OG_AHEAD_PROGRESS(a), (apr_uint32_t)i + 1);
    }
}

/* The helper done (or stopped when it no longer moves on), what it
 * validated taken by the certificates: how many, -1 with no helper. */
int og_ahead_wait(void)
{
    og_ahead_t *a = og_ahead;
    apr_time_t moved = apr_time_now();
    apr_uint32_t seen = 0, done;
    int i, status, taken = 0;

    if (!a)
        return -1;
    og_ahead = NULL;
    for (;;) {
        pid_t w = waitpid(a->pid, &status, WNOHANG);
        apr_uint32_t now_at = apr_atomic_read32(OG_AHEAD_PROGRESS(a));

        if (w == a->pid || (w < 0 && errno != EINTR))
            break;
        if (now_at != seen) {
            seen = now_at;
            moved = apr_time_now();
        }
        else if (apr_time_now() - moved > OG_AHEAD_STALL) {
            kill(a->pid, SIGKILL);
            waitpid(a->pid, &status, 0);
            break;
        }
        apr_sleep(apr_time_from_msec(5));
    }
    /* memos up to the progress word were written before it */
    done = apr_atomic_read32(OG_AHEAD_PROGRESS(a));
    for (i = 0; i < a->certs->nelts && (apr_uint32_t)i < done; i++)
        taken += og_vmemo_take(APR_ARRAY_IDX(a->certs, i, og_cert_t *)->memo,
                               OG_AHEAD_MEMO(a, i));
    munmap(a->shared, a->shared_len);
    return taken;
}

static apr_status_t og_ahead_cleanup(void *data)
{
    (void)data;
    (void)og_ahead_wait();
    return APR_SUCCESS;
}

void og_ahead_start(og_certcache_t *cc, apr_pool_t *pconf)
{
    void *data = NULL;
    const og_ahead_conf_t *ac;
    og_ahead_t *a;
    pid_t pid;

    og_ahead = NULL;
    apr_pool_userdata_get(&data, OG_AHEAD_KEY, ap_pglobal);
    if (!(ac = data) || !*ac->dir)
        return;
    a = apr_pcalloc(pconf, sizeof(*a));
    a->certs = og_certcache_list(cc, pconf);
    if (a->certs->nelts == 0)
        return;
    a->shared_len = OG_AHEAD_HEAD
                    + (apr_size_t)a->certs->nelts * og_vmemo_size();
    a->shared = mmap(NULL, a->shared_len, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (a->shared == MAP_FAILED)
        return;
    pid = fork();
    if (pid == 0) {
        og_ahead_run(a, ac);
        _exit(0);
    }
    if (pid < 0) {
        munmap(a->shared, a->shared_len);
        return;
    }
    a->pid = pid;
    og_ahead = a;
    apr_pool_cleanup_register(pconf, a, og_ahead_cleanup,
                              apr_pool_cleanup_null);
}
