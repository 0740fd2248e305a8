/* SPDX-License-Identifier: Apache-2.0 */
/* mod_ocsp_guard: events and alerts. One JSON object per line to the
 * OCSPGuardEventLog (a file or a piped logger), and OCSPGuardNotifyCmd for
 * the events an operator must act on. What to say and when is decided in
 * src/og_track.c; this file only says it. */

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include <httpd.h>
#include <http_log.h>
#include <http_core.h>

#include "mod_ocsp_guard.h"

const char *og_vhost_list(apr_pool_t *p, const og_entry_t *e)
{
    return apr_array_pstrcat(p, e->vhosts, ',');
}

void og_open_event_log(server_rec *s, og_server_conf_t *sc, apr_pool_t *pconf)
{
    apr_status_t rv;

    og->event_log = NULL;
    if (!sc->event_log)
        return;
    if (sc->event_log[0] == '|') {
        piped_log *pl = ap_open_piped_log(pconf, sc->event_log + 1);
        if (pl)
            og->event_log = ap_piped_log_write_fd(pl);
        else
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, OGLOGNO(00130)
                         "cannot start the event logger %s", sc->event_log);
        return;
    }
    rv = apr_file_open(&og->event_log, sc->event_log,
                       APR_FOPEN_WRITE | APR_FOPEN_APPEND | APR_FOPEN_CREATE,
                       APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD,
                       pconf);
    if (rv != APR_SUCCESS) {
        og->event_log = NULL;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, OGLOGNO(00131)
                     "cannot open the event log %s", sc->event_log);
    }
}

/* Reap alert programs that finished, and kill those that ran past
 * OG_NOTIFY_TIMEOUT; never waits. */
void og_notify_reap(void)
{
    apr_time_t now = apr_time_now();
    int i, status;

    for (i = 0; i < OG_NOTIFY_MAX_PENDING; i++) {
        if (og->notify_pids[i] <= 0)
            continue;
        if (now - og->notify_started[i] > OG_NOTIFY_TIMEOUT)
            kill(og->notify_pids[i], SIGKILL);
        if (waitpid(og->notify_pids[i], &status, WNOHANG) != 0)
            og->notify_pids[i] = 0;
    }
}

/* Run OCSPGuardNotifyCmd: without a shell and with an empty environment,
 * the event as JSON on stdin and as arguments (event, cert_id), never
 * waiting for the program: a hung alert script cannot stall the fetcher,
 * and is killed after OG_NOTIFY_TIMEOUT. */
static void og_notify(const og_event_t *ev, const char *json, apr_pool_t *p)
{
    apr_procattr_t *attr = NULL;
    apr_proc_t proc;
    char **argv = NULL;
    const char **args;
    int n, i, slot = -1;

    og_notify_reap();
    for (i = 0; i < OG_NOTIFY_MAX_PENDING && slot < 0; i++)
        if (og->notify_pids[i] <= 0)
            slot = i;
    if (slot < 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, og->s, OGLOGNO(00140)
                     "OCSPGuardNotifyCmd: %d alert programs still running;"
                     " %s for %s not sent", OG_NOTIFY_MAX_PENDING, ev->event,
                     ev->subject ? ev->subject : "?");
        return;
    }
    apr_tokenize_to_argv(og->notify_cmd, &argv, p);
    for (n = 0; argv[n]; n++)
        ;
    args = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(n + 3));
    for (i = 0; i < n; i++)
        args[i] = argv[i];
    args[n] = ev->event;
    args[n + 1] = ev->cert_id ? ev->cert_id : "";
    if (apr_procattr_create(&attr, p) != APR_SUCCESS
        || apr_procattr_io_set(attr, APR_FULL_BLOCK, APR_NO_PIPE, APR_NO_PIPE)
               != APR_SUCCESS
        || apr_procattr_cmdtype_set(attr, APR_PROGRAM) != APR_SUCCESS
        || apr_proc_create(&proc, args[0], args, NULL, attr, p)
               != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, og->s, OGLOGNO(00141)
                     "OCSPGuardNotifyCmd: cannot run %s", args[0]);
        return;
    }
    apr_file_write_full(proc.in, json, strlen(json), NULL);
    apr_file_close(proc.in);
    og->notify_pids[slot] = proc.pid;
    og->notify_started[slot] = apr_time_now();
}

void og_emit(og_entry_t *e, og_event_t *ev, int notify, apr_pool_t *p)
{
    const char *line;

    if (!og->event_log && !(notify && og->notify_cmd))
        return;
    if (e) {
        ev->cert_id = e->cert ? e->cert->sha1_hex
                              : og_hex(p, (const unsigned char *)e->id,
                                       e->id_len);
        ev->subject = e->cert ? e->cert->subject : NULL;
        ev->serial = e->cert ? e->cert->serial_hex : NULL;
        ev->vhosts = og_vhost_list(p, e);
    }
    line = og_event_json(p, ev);
    /* One write per line: atomic on O_APPEND files and on pipes. */
    if (og->event_log)
        apr_file_write_full(og->event_log, line, strlen(line), NULL);
    if (notify && og->notify_cmd)
        og_notify(ev, line, p);
}

void og_emit_item(void *ctx, og_item_t *it, og_event_t *ev, int notify,
                  apr_pool_t *p)
{
    (void)ctx;
    og_emit(it ? it->baton : NULL, ev, notify, p);
}

void og_log_line(void *ctx, int level, const char *line)
{
    (void)ctx;
    ap_log_error(APLOG_MARK, level, 0, og->s, "%s", line);
}
