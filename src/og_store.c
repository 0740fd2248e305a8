/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_strings.h>

#include "og_store.h"

/* Group and others may not write what the fetcher trusts. */
#define OG_STORE_UNSAFE_MODE (S_IWGRP | S_IWOTH)
/* Saved files: the owner writes, its group (an operator's tools) reads. */
#define OG_STORE_FILE_MODE   (S_IRUSR | S_IWUSR | S_IRGRP)

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

static apr_status_t write_all(int fd, const unsigned char *data,
                              apr_size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return APR_FROM_OS_ERROR(errno);
        }
        data += n;
        len -= (apr_size_t)n;
    }
    return APR_SUCCESS;
}

/* The rename is durable only once the directory entry is on disk. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

apr_status_t og_store_save(const char *dir, const char *name,
                           const unsigned char *data, apr_size_t len,
                           apr_pool_t *p)
{
    char *path = NULL, *tmp;
    apr_status_t rv;
    int fd;

    rv = store_path(&path, dir, name, p);
    if (rv != APR_SUCCESS)
        return rv;
    tmp = apr_pstrcat(p, path, ".XXXXXX", NULL);
    /* mkstemp creates the file 0600 with O_EXCL: it is never readable by
     * others, and a planted file or link of that name makes it fail */
    fd = mkstemp(tmp);
    if (fd < 0)
        return APR_FROM_OS_ERROR(errno);
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    rv = write_all(fd, data, len);
    if (rv == APR_SUCCESS && fsync(fd) != 0)
        rv = APR_FROM_OS_ERROR(errno);
    /* through the descriptor: a chmod by name could follow a swapped link */
    if (rv == APR_SUCCESS && fchmod(fd, OG_STORE_FILE_MODE) != 0)
        rv = APR_FROM_OS_ERROR(errno);
    if (close(fd) != 0 && rv == APR_SUCCESS)
        rv = APR_FROM_OS_ERROR(errno);
    if (rv == APR_SUCCESS && rename(tmp, path) != 0)
        rv = APR_FROM_OS_ERROR(errno);
    if (rv != APR_SUCCESS)
        unlink(tmp);
    else
        sync_dir(dir);
    return rv;
}

apr_status_t og_store_load(const char *dir, const char *name, apr_size_t max,
                           unsigned char **data, apr_size_t *len,
                           apr_pool_t *p)
{
    char *path = NULL;
    struct stat st;
    unsigned char *buf;
    apr_size_t size, got = 0;
    apr_status_t rv;
    int fd;

    rv = store_path(&path, dir, name, p);
    if (rv != APR_SUCCESS)
        return rv;
    /* O_NOFOLLOW: a link is refused (ELOOP), not read through. O_NONBLOCK:
     * opening a FIFO must not hang start-up; fstat refuses it next. */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return APR_FROM_OS_ERROR(errno);
    /* every check on the open descriptor: the name may change meanwhile */
    if (fstat(fd, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        close(fd);
        return rv;
    }
    if (!S_ISREG(st.st_mode) || st.st_size < 0
        || (apr_uint64_t)st.st_size > (apr_uint64_t)max) {
        close(fd);
        return APR_EINVAL;
    }
    if (st.st_mode & OG_STORE_UNSAFE_MODE) {
        close(fd);
        return APR_EACCES;
    }
    size = (apr_size_t)st.st_size;
    /* one byte more than fstat said, to notice a file that grew */
    buf = apr_palloc(p, size + 1);
    while (got <= size) {
        ssize_t n = read(fd, buf + got, size + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rv = APR_FROM_OS_ERROR(errno);
            close(fd);
            return rv;
        }
        if (n == 0)
            break;
        got += (apr_size_t)n;
    }
    close(fd);
    if (got > size)
        return APR_EINVAL;
    *data = buf;
    *len = got;
    return APR_SUCCESS;
}

apr_status_t og_store_check_dir(const char *dir, apr_pool_t *p,
                                const char **why)
{
    struct stat st;

    *why = NULL;
    if (lstat(dir, &st) != 0) {
        int err = errno;
        apr_status_t rv = APR_FROM_OS_ERROR(err);
        *why = APR_STATUS_IS_ENOENT(rv)
            ? apr_psprintf(p, "state dir %s does not exist: create it,"
                           " owned by the user the server runs as (mkdir -m"
                           " 0750 %s)", dir, dir)
            : apr_psprintf(p, "state dir %s cannot be examined (%s): fix"
                           " its path or the permissions of the directories"
                           " above it", dir, strerror(err));
        return rv;
    }
    if (S_ISLNK(st.st_mode)) {
        *why = apr_psprintf(p, "state dir %s is a symbolic link: give the"
                            " real directory's path instead", dir);
        return APR_FROM_OS_ERROR(ELOOP);
    }
    if (!S_ISDIR(st.st_mode)) {
        *why = apr_psprintf(p, "state dir %s is not a directory: remove it"
                            " or choose another path", dir);
        return APR_ENOTDIR;
    }
    if (st.st_mode & OG_STORE_UNSAFE_MODE) {
        *why = apr_psprintf(p, "state dir %s is writable by %s: others"
                            " could plant or swap responses; chmod 0750 %s",
                            dir, (st.st_mode & S_IWOTH) ? "everyone"
                                                        : "its group", dir);
        return APR_EACCES;
    }
    return APR_SUCCESS;
}
