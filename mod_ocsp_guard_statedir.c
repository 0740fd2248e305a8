/* SPDX-License-Identifier: Apache-2.0 */
/* mod_ocsp_guard: the state dir. Every good response is also written
 * there (temp file and rename), so that a full restart staples from the
 * first handshake even with every responder down. Its files are untrusted
 * input: read only as regular files, never through a link, from a
 * directory nobody else can write, and validated like a network answer. */

#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <unixd.h>

#include <errno.h>
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
