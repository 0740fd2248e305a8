/* SPDX-License-Identifier: Apache-2.0 */
/* ocsp-guard: certificates and httpd configurations, for every
 * subcommand. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <openssl/pem.h>

#include "tools/og_tool.h"

/* The issuer of `leaf` among the PEM certificates in `file`; NULL if none. */
X509 *og_tool_find_issuer(const char *file, X509 *leaf)
{
    BIO *bio = BIO_new_file(file, "r");
    X509 *issuer = NULL, *x;

    if (!bio)
        return NULL;
    while (!issuer && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (X509_check_issued(x, leaf) == X509_V_OK)
            issuer = x;
        else
            X509_free(x);
    }
    BIO_free(bio);
    return issuer;
}

char *og_tool_pem(apr_pool_t *p, X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *out;
    long len;

    PEM_write_bio_X509(bio, x);
    len = BIO_get_mem_data(bio, &data);
    out = apr_pstrndup(p, data, (apr_size_t)len);
    BIO_free(bio);
    return out;
}

og_cert_t *og_tool_load(apr_pool_t *p, const char *file, const options_t *o,
                        const char **err)
{
    BIO *bio = BIO_new_file(file, "r");
    X509 *leaf = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    X509 *issuer = NULL;
    og_cert_t *c = NULL;
    int i;

    BIO_free(bio);
    if (!leaf) {
        *err = apr_psprintf(p, "no PEM certificate in %s", file);
        return NULL;
    }
    issuer = og_tool_find_issuer(file, leaf);
    for (i = 0; !issuer && o->chain_files && i < o->chain_files->nelts; i++)
        issuer = og_tool_find_issuer(APR_ARRAY_IDX(o->chain_files, i,
                                                   const char *), leaf);
    if (!issuer)
        *err = apr_psprintf(p, "the issuer of the certificate in %s is not in"
                            " it%s: put the intermediate after the"
                            " certificate, or name its file with --chain",
                            file, o->chain_files && o->chain_files->nelts
                                  ? " nor in the --chain files" : "");
    else
        c = og_cert_parse(apr_pstrcat(p, og_tool_pem(p, leaf),
                                      og_tool_pem(p, issuer), NULL), p, err);
    X509_free(leaf);
    X509_free(issuer);
    return c;
}

apr_array_header_t *og_tool_chain(apr_pool_t *p, const og_cert_t *c,
                                  const options_t *o)
{
    apr_array_header_t *chain = og_chain_make(p);
    og_chain_conf_t cc;

    cc.mirrors = o->mirrors;
    cc.mirrors_first = o->mirrors_first;
    cc.proxy = o->proxy;
    cc.proxy_mode = o->proxy ? o->proxy_mode : OG_PROXY_NONE;
    og_chain_add(chain, c->ocsp_urls, &cc);
    return chain;
}

/* The certificate files of an httpd configuration, as mod_ssl lists them
 * with `-t -D DUMP_CERTS`. `httpd` is the command that runs the server
 * binary on that configuration, e.g. "apachectl" or
 * "/usr/sbin/apache2 -f /etc/apache2/apache2.conf". */
apr_array_header_t *og_tool_httpd_certs(apr_pool_t *p, const char *httpd)
{
    apr_array_header_t *files = apr_array_make(p, 8, sizeof(const char *));
    char line[4096];
    FILE *fp = popen(apr_pstrcat(p, httpd, " -t -D DUMP_CERTS 2>/dev/null",
                                 NULL), "r");
    int in_list = 0;

    if (!fp)
        return NULL;
    while (fgets(line, sizeof(line), fp)) {
        char *s = line;
        line[strcspn(line, "\r\n")] = '\0';
        if (!strncmp(line, "Server certificates:", 20)) {
            in_list = 1;
            continue;
        }
        if (!in_list || strncmp(line, "  ", 2) != 0)
            continue;
        while (*s == ' ')
            s++;
        APR_ARRAY_PUSH(files, const char *) = apr_pstrdup(p, s);
    }
    if (pclose(fp) != 0 && files->nelts == 0)
        return NULL;
    return files;
}

/* The value of `directive` on a configuration line, or NULL: the first
 * word after it, without quotes. */
static char *directive_arg(apr_pool_t *p, const char *line,
                           const char *directive)
{
    apr_size_t n = strlen(directive);
    const char *s = line, *end;

    while (*s == ' ' || *s == '\t')
        s++;
    if (strncasecmp(s, directive, n) != 0 || (s[n] != ' ' && s[n] != '\t'))
        return NULL;
    s += n;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '"') {
        end = strchr(++s, '"');
    }
    else {
        end = s + strcspn(s, " \t\r\n");
    }
    return end && end > s ? apr_pstrndup(p, s, (apr_size_t)(end - s)) : NULL;
}

/* SSLCertificateChainFile of every file of a configuration (as
 * `-t -D DUMP_INCLUDES` lists them), relative paths from its ServerRoot:
 * DUMP_CERTS names only the certificate files. */
void og_tool_httpd_chains(apr_pool_t *p, const char *httpd,
                              apr_array_header_t *out)
{
    char line[4096], *root = NULL;
    apr_array_header_t *conf = apr_array_make(p, 8, sizeof(char *));
    FILE *fp = popen(apr_pstrcat(p, httpd, " -t -D DUMP_RUN_CFG"
                                 " -D DUMP_INCLUDES 2>/dev/null", NULL), "r");
    int i;

    if (!fp)
        return;
    while (fgets(line, sizeof(line), fp)) {
        char *slash;
        line[strcspn(line, "\r\n")] = '\0';
        if (!strncmp(line, "ServerRoot: \"", 13))
            root = apr_pstrndup(p, line + 13, strcspn(line + 13, "\""));
        else if (line[0] == ' ' && strchr(line, ')')
                 && (slash = strchr(strchr(line, ')'), '/')) != NULL)
            APR_ARRAY_PUSH(conf, char *) = apr_pstrdup(p, slash);
    }
    pclose(fp);
    for (i = 0; i < conf->nelts; i++) {
        FILE *cf = fopen(APR_ARRAY_IDX(conf, i, char *), "r");
        char *arg;

        while (cf && fgets(line, sizeof(line), cf)) {
            if ((arg = directive_arg(p, line, "SSLCertificateChainFile")))
                APR_ARRAY_PUSH(out, const char *) =
                    arg[0] == '/' || !root ? arg
                                           : apr_pstrcat(p, root, "/", arg, NULL);
        }
        if (cf)
            fclose(cf);
    }
}
