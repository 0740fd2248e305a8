/* SPDX-License-Identifier: Apache-2.0 */
/* mod_ocsp_guard: existing mod_ssl configurations as defaults. Operators
 * arrive with SSLStaplingForceURL (a trusted mirror), SSLOCSPProxyURL (the
 * proxy their datacenter allows) and SSLStaplingResponderTimeout; loading
 * the module must not lose them. mod_ssl's own structures are private, so
 * they are read from httpd's parsed configuration tree (the one mod_info
 * walks), with the conditional sections evaluated as httpd did. An
 * explicit OCSPGuard* directive wins over them. */

#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <util_cfgtree.h>

#include "mod_ocsp_guard.h"
#include "src/og_parse.h"

/* Is `name` ("mod_ssl.c" or "ssl_module") a module httpd has loaded? */
static int og_module_loaded(const char *name)
{
    int i;

    if (ap_find_linked_module(name))
        return 1;
    for (i = 0; ap_loaded_modules[i]; i++) {
        const char *shortname =
            ap_find_module_short_name(ap_loaded_modules[i]->module_index);
        apr_size_t n = shortname ? strlen(shortname) : 0;

        if (n && !strncmp(name, shortname, n) && !strcmp(name + n, "_module"))
            return 1;
    }
    return 0;
}

/* Whether httpd read what is inside a section of the tree: <IfModule> and
 * <IfDefine> are decided as httpd decides them; other conditional sections
 * (<IfVersion>, <IfFile>, <IfDirective>, <IfSection>) are taken as read;
 * anything else (<Directory>, <Location>...) cannot hold these server-wide
 * directives and is not entered. */
static int og_section_read(const ap_directive_t *d)
{
    const char *arg = d->args ? d->args : "";
    char *word;
    int negate, yes;

    if (strncasecmp(d->directive, "<If", 3) != 0
        || strcasecmp(d->directive, "<If") == 0)
        return 0;
    if (strcasecmp(d->directive, "<IfModule") != 0
        && strcasecmp(d->directive, "<IfDefine") != 0)
        return 1;
    word = apr_pstrdup(og->ptemp, arg);
    word[strcspn(word, " \t>")] = '\0';
    negate = word[0] == '!';
    if (negate)
        word++;
    yes = !strcasecmp(d->directive, "<IfModule") ? og_module_loaded(word)
                                                 : ap_exists_config_define(word);
    return negate ? !yes : yes;
}

static const char *og_first_arg(const ap_directive_t *d)
{
    const char *args = d->args ? d->args : "";

    return ap_getword_conf(og->pool, &args);
}

static void og_modssl_walk(const ap_directive_t *d, og_modssl_t *into)
{
    for (; d; d = d->next) {
        if (!strcasecmp(d->directive, "<VirtualHost")) {
            og_modssl_t *vh = apr_pcalloc(og->ptemp, sizeof(*vh));
            og_modssl_walk(d->first_child, vh);
            apr_hash_set(og->modssl, apr_psprintf(og->ptemp, "%s:%d",
                         d->filename ? d->filename : "", d->line_num),
                         APR_HASH_KEY_STRING, vh);
        }
        else if (d->directive[0] == '<') {
            if (og_section_read(d))
                og_modssl_walk(d->first_child, into);
        }
        else if (!strcasecmp(d->directive, "SSLStaplingForceURL")) {
            into->force_url = og_first_arg(d);
        }
        else if (!strcasecmp(d->directive, "SSLOCSPProxyURL")) {
            into->proxy_url = og_first_arg(d);
        }
        else if (!strcasecmp(d->directive, "SSLStaplingResponderTimeout")) {
            apr_int64_t sec = apr_atoi64(og_first_arg(d));
            if (sec > 0 && sec <= 300)
                into->timeout = apr_time_from_sec(sec);
        }
    }
}

/* What mod_ssl's directives say for `s`: its <VirtualHost>'s own, else
 * the main server's (mod_ssl merges them the same way). The scan of the
 * configuration tree lives in ptemp: only the URLs (in pconf) outlive the
 * configuration pass, not a record per vhost. */
void og_modssl_for(const server_rec *s, og_modssl_t *out)
{
    const og_modssl_t *vh;
    char key[1024];

    memset(out, 0, sizeof(*out));
    if (!og->ptemp)                 /* only during configuration */
        return;
    if (!og->modssl) {
        og->modssl = apr_hash_make(og->ptemp);
        og->modssl_main = apr_pcalloc(og->ptemp, sizeof(og_modssl_t));
        og_modssl_walk(ap_conftree, og->modssl_main);
    }
    *out = *og->modssl_main;
    if (!s->is_virtual)
        return;
    apr_snprintf(key, sizeof(key), "%s:%u",
                 s->defn_name ? s->defn_name : "", s->defn_line_number);
    vh = apr_hash_get(og->modssl, key, APR_HASH_KEY_STRING);
    if (!vh)
        return;
    if (vh->force_url)
        out->force_url = vh->force_url;
    if (vh->proxy_url)
        out->proxy_url = vh->proxy_url;
    if (vh->timeout)
        out->timeout = vh->timeout;
}

static int og_http_url(const char *url)
{
    return url && og_parse_url(url, og->pool) == OG_PARSE_OK;
}

/* The failover configuration of vhost `s`: its OCSPGuardMirror and
 * OCSPGuardProxy, else mod_ssl's SSLStaplingForceURL (tried first, the AIA
 * URLs after it, which mod_ssl drops but we keep as a fallback) and
 * SSLOCSPProxyURL (every request through it, as mod_ssl does). `origin`
 * says where they came from, for the start-up line. */
void og_chain_conf_for(const server_rec *s, og_chain_conf_t *cc,
                       const char **origin)
{
    const og_server_conf_t *sc = og_conf(s);
    og_modssl_t modssl;
    const og_modssl_t *ms = &modssl;
    const char *said = "";

    og_modssl_for(s, &modssl);
    cc->mirrors = sc->mirrors;
    cc->mirrors_first = sc->mirrors_first;
    cc->proxy = sc->proxy;
    cc->proxy_mode = sc->proxy ? sc->proxy_mode : OG_PROXY_NONE;
    if (!sc->mirrors && ms->force_url) {
        if (og_http_url(ms->force_url)) {
            apr_array_header_t *m = apr_array_make(og->pool, 1,
                                                   sizeof(const char *));
            APR_ARRAY_PUSH(m, const char *) = ms->force_url;
            cc->mirrors = m;
            cc->mirrors_first = 1;
            said = "mirror from SSLStaplingForceURL";
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, OGLOGNO(00118)
                         "SSLStaplingForceURL %s is not an http:// or"
                         " https:// URL: not used as a mirror",
                         ms->force_url);
        }
    }
    if (!sc->proxy && ms->proxy_url) {
        if (og_http_url(ms->proxy_url)) {
            cc->proxy = ms->proxy_url;
            cc->proxy_mode = OG_PROXY_ALWAYS;
            said = apr_pstrcat(og->pool, said, *said ? ", " : "",
                               "proxy (always) from SSLOCSPProxyURL", NULL);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, OGLOGNO(00119)
                         "SSLOCSPProxyURL %s is not an http:// URL: not used",
                         ms->proxy_url);
        }
    }
    *origin = said;
}
