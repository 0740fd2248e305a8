/* SPDX-License-Identifier: Apache-2.0 */
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_strings.h>

#include "og_store.h"

const char *og_store_name(apr_pool_t *p, const char *sha1_hex)
{
    return apr_pstrcat(p, sha1_hex, ".ocsp", NULL);
}

static apr_status_t store_path(char **path, const char *dir,
                               const char *name, apr_pool_t *p)
{
    /* NOTABOVEROOT: a name can never point outside the state dir */
    return apr_filepath_merge(path, dir, name, APR_FILEPATH_NOTABOVEROOT, p);
}

apr_status_t og_store_save(const char *dir, const char *name,
                           const unsigned char *data, apr_size_t len,
                           apr_pool_t *p)
{
    char *path = NULL, *tmp;
    apr_file_t *f = NULL;
    apr_size_t written = 0;
    apr_status_t rv;

    rv = store_path(&path, dir, name, p);
    if (rv != APR_SUCCESS)
        return rv;
    tmp = apr_pstrcat(p, path, ".XXXXXX", NULL);
    rv = apr_file_mktemp(&f, tmp, APR_FOPEN_CREATE | APR_FOPEN_WRITE
                         | APR_FOPEN_EXCL | APR_FOPEN_BINARY, p);
    if (rv != APR_SUCCESS)
        return rv;
    rv = apr_file_write_full(f, data, len, &written);
    if (rv == APR_SUCCESS)
        rv = apr_file_sync(f);
    if (rv == APR_SUCCESS)
        rv = apr_file_perms_set(tmp, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                | APR_FPROT_GREAD);
    if (rv == APR_ENOTIMPL)
        rv = APR_SUCCESS;
    apr_file_close(f);
    if (rv == APR_SUCCESS)
        rv = apr_file_rename(tmp, path, p);
    if (rv != APR_SUCCESS)
        apr_file_remove(tmp, p);
    return rv;
}

apr_status_t og_store_load(const char *dir, const char *name, apr_size_t max,
                           unsigned char **data, apr_size_t *len,
                           apr_pool_t *p)
{
    char *path = NULL;
    apr_finfo_t fi;
    apr_file_t *f = NULL;
    apr_size_t got = 0;
    apr_status_t rv;

    rv = store_path(&path, dir, name, p);
    if (rv != APR_SUCCESS)
        return rv;
    rv = apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_SIZE, p);
    if (rv != APR_SUCCESS)
        return rv;
    if (fi.filetype != APR_REG || fi.size < 0 || (apr_size_t)fi.size > max)
        return APR_EINVAL;
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, p);
    if (rv != APR_SUCCESS)
        return rv;
    *data = apr_palloc(p, (apr_size_t)fi.size + 1);
    rv = apr_file_read_full(f, *data, (apr_size_t)fi.size, &got);
    apr_file_close(f);
    if (rv != APR_SUCCESS && !(APR_STATUS_IS_EOF(rv) && got == 0))
        return rv;
    *len = got;
    return APR_SUCCESS;
}
