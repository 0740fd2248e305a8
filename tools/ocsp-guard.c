/* SPDX-License-Identifier: Apache-2.0 */
/* ocsp-guard: the command-line side of mod_ocsp_guard, built from the same
 * core (src/), so that it tells and does what the module does.
 *   doctor  every diagnosis step of the OCSP-stapling troubleshooting
 *           guides, per certificate (tools/og_doctor.c);
 *   fetch   a validated response saved into the state dir, for a renewed
 *           certificate before the reload (tools/og_fetchcmd.c).
 * Exit codes follow the Nagios plugin convention, so doctor doubles as a
 * check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "src/og_event.h"
#include "src/og_fetch.h"
#include "tools/og_tool.h"

static int usage(void)
{
    fprintf(stderr,
        "usage: ocsp-guard doctor [--json] [--state-dir DIR] [OPTIONS] CERTFILE...\n"
        "       ocsp-guard fetch  [--state-dir DIR] [--verbose] [OPTIONS] CERTFILE...\n"
        "OPTIONS: [--mirror URL]... [--mirrors-first] [--proxy URL"
        " [--proxy-always]]\n"
        "         [--timeout SECONDS] [--chain FILE]... [--httpd COMMAND]\n"
        "CERTFILE holds the certificate then its chain, as SSLCertificateFile;\n"
        "--chain names a file with more of the chain (SSLCertificateChainFile).\n"
        "--httpd takes every certificate of a configuration (and its chain\n"
        "files): COMMAND runs httpd on it, e.g. apachectl or\n"
        "'/usr/sbin/apache2 -f /path/conf'.\n"
        "The ways are tried in the module's order: the AIA URLs and the\n"
        "mirrors (--mirrors-first: mirrors before), directly, then through\n"
        "the proxy (--proxy-always: only through it), as OCSPGuardMirror and\n"
        "OCSPGuardProxy set them.\n"
        "doctor: diagnose. Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n"
        "fetch: save a validated response for each certificate in the state\n"
        "dir (default: the module's, /var/lib/apache2/ocsp-guard), in the\n"
        "module's format and owned like the directory, so that the module\n"
        "staples it from the first handshake after a reload. Exit 0 only\n"
        "when every certificate got a good response.\n");
    return ST_UNKNOWN;
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    options_t o;
    apr_array_header_t *files, *json_out;
    const char *cmd;
    int i, worst = ST_OK;

    if (argc < 2 || (strcmp(argv[1], "doctor") != 0
                     && strcmp(argv[1], "fetch") != 0))
        return usage();
    cmd = argv[1];
    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&p, NULL);
    og_fetch_global_init();
    memset(&o, 0, sizeof(o));
    o.timeout = apr_time_from_sec(5);
    o.proxy_mode = OG_PROXY_FALLBACK;
    o.mirrors = apr_array_make(p, 2, sizeof(const char *));
    o.chain_files = apr_array_make(p, 2, sizeof(const char *));
    files = apr_array_make(p, 4, sizeof(const char *));
    json_out = apr_array_make(p, 4, sizeof(const char *));
    for (i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            o.json = 1;
        else if (!strcmp(argv[i], "--verbose"))
            o.verbose = 1;
        else if (!strcmp(argv[i], "--state-dir") && i + 1 < argc)
            o.state_dir = argv[++i];
        else if (!strcmp(argv[i], "--chain") && i + 1 < argc)
            APR_ARRAY_PUSH(o.chain_files, const char *) = argv[++i];
        else if (!strcmp(argv[i], "--proxy") && i + 1 < argc)
            o.proxy = argv[++i];
        else if (!strcmp(argv[i], "--proxy-always"))
            o.proxy_mode = OG_PROXY_ALWAYS;
        else if (!strcmp(argv[i], "--mirrors-first"))
            o.mirrors_first = 1;
        else if (!strcmp(argv[i], "--mirror") && i + 1 < argc)
            APR_ARRAY_PUSH(o.mirrors, const char *) = argv[++i];
        else if (!strcmp(argv[i], "--httpd") && i + 1 < argc) {
            apr_array_header_t *list = og_tool_httpd_certs(p, argv[++i]);
            if (!list) {
                fprintf(stderr, "ocsp-guard: '%s -t -D DUMP_CERTS' failed\n",
                        argv[i]);
                return ST_UNKNOWN;
            }
            og_tool_httpd_chains(p, argv[i], o.chain_files);
            apr_array_cat(files, list);
        }
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            o.timeout = apr_time_from_sec(atoi(argv[++i]) > 0
                                          ? atoi(argv[i]) : 5);
        else if (argv[i][0] == '-')
            return usage();
        else
            APR_ARRAY_PUSH(files, const char *) = argv[i];
    }
    if (!files->nelts)
        return usage();
    if (!strcmp(cmd, "fetch")) {
        worst = og_fetch_files(p, files, &o);
    }
    else {
        static const char *const names[] = { "OK", "WARNING", "CRITICAL",
                                             "UNKNOWN" };
        for (i = 0; i < files->nelts; i++) {
            int st = og_doctor_file(p, APR_ARRAY_IDX(files, i, const char *),
                                    &o, json_out);
            if (st > worst)
                worst = st;
        }
        if (o.json)
            printf("{\"status\":\"%s\",\"certificates\":[%s]}\n",
                   names[worst], apr_array_pstrcat(p, json_out, ','));
    }
    apr_pool_destroy(p);
    apr_terminate();
    return worst;
}
