/* SPDX-License-Identifier: Apache-2.0 */
/* og_store with real files in a temp dir: what a hostile or careless state
 * dir may hold (links, FIFOs, directories, writable files, huge files) is
 * refused, and a good file round-trips. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include "src/og_store.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static apr_pool_t *pool;
static char base[] = "/tmp/og-store-test-XXXXXX";
static const unsigned char content[] = "OGR1 pretend record";

/* remove `path` and what is under it, never following a link */
static void remove_tree(const char *path)
{
    struct stat st;
    struct dirent *de;
    DIR *d;

    if (lstat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    if ((d = opendir(path)) != NULL) {
        while ((de = readdir(d)) != NULL) {
            char sub[1024];
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
            remove_tree(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

static int setup(void **state)
{
    (void)state;
    apr_pool_create(&pool, NULL);
    return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(base);
    apr_pool_destroy(pool);
    return 0;
}

/* a fresh subdirectory of the temp dir, mode 0750 */
static const char *fresh_dir(const char *name)
{
    const char *d = apr_psprintf(pool, "%s/%s", base, name);

    remove_tree(d);
    assert_int_equal(mkdir(d, 0750), 0);
    assert_int_equal(chmod(d, 0750), 0);
    return d;
}

static void write_file(const char *path, const unsigned char *data,
                       size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n;
}

static void save_then_load(void **state)
{
    const char *dir = fresh_dir("save");
    unsigned char *data = NULL;
    apr_size_t len = 0;
    struct stat st;
    mode_t old = umask(0);

    (void)state;
    assert_int_equal(og_store_save(dir, "a.ocsp", content, sizeof(content),
                                   pool), APR_SUCCESS);
    umask(old);
    assert_int_equal(stat(apr_pstrcat(pool, dir, "/a.ocsp", NULL), &st), 0);
    /* not world-readable even with umask 0 */
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(entries(dir), 1);      /* no temp file left behind */
    assert_int_equal(og_store_load(dir, "a.ocsp", 4096, &data, &len, pool),
                     APR_SUCCESS);
    assert_int_equal(len, sizeof(content));
    assert_memory_equal(data, content, sizeof(content));
    /* replaced whole */
    assert_int_equal(og_store_save(dir, "a.ocsp", content, 4, pool),
                     APR_SUCCESS);
    assert_int_equal(og_store_load(dir, "a.ocsp", 4096, &data, &len, pool),
                     APR_SUCCESS);
    assert_int_equal(len, 4);
    assert_int_equal(entries(dir), 1);
}

/* A link planted under the final name is replaced, its target untouched. */
static void save_replaces_a_link_not_its_target(void **state)
{
    const char *dir = fresh_dir("savelink");
    const char *target = apr_pstrcat(pool, base, "/victim", NULL);
    const char *name = apr_pstrcat(pool, dir, "/b.ocsp", NULL);
    unsigned char *data = NULL;
    apr_size_t len = 0;
    struct stat st;

    (void)state;
    write_file(target, (const unsigned char *)"keep", 4, 0600);
    assert_int_equal(symlink(target, name), 0);
    assert_int_equal(og_store_save(dir, "b.ocsp", content, sizeof(content),
                                   pool), APR_SUCCESS);
    assert_int_equal(lstat(name, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(og_store_load(base, "victim", 4096, &data, &len, pool),
                     APR_SUCCESS);
    assert_int_equal(len, 4);
    assert_memory_equal(data, "keep", 4);
    unlink(target);
}

static void save_into_a_missing_dir_fails(void **state)
{
    (void)state;
    assert_int_not_equal(og_store_save(apr_pstrcat(pool, base, "/nowhere",
                                                   NULL),
                                       "c.ocsp", content, sizeof(content),
                                       pool), APR_SUCCESS);
}

typedef enum { K_FILE, K_LINK_TO_FILE, K_LINK_DANGLING, K_DIR, K_FIFO,
               K_ABSENT } kind_e;

static const struct {
    const char *what;
    kind_e kind;
    mode_t mode;
    apr_size_t size, max;
    apr_status_t want;
} load_cases[] = {
    { "good file", K_FILE, 0640, 100, 4096, APR_SUCCESS },
    { "owner only", K_FILE, 0600, 100, 4096, APR_SUCCESS },
    { "world-readable", K_FILE, 0644, 100, 4096, APR_SUCCESS },
    { "read-only", K_FILE, 0400, 100, 4096, APR_SUCCESS },
    { "exactly max", K_FILE, 0640, 4096, 4096, APR_SUCCESS },
    { "empty", K_FILE, 0640, 0, 4096, APR_SUCCESS },
    { "one over max", K_FILE, 0640, 4097, 4096, APR_EINVAL },
    { "group-writable", K_FILE, 0660, 100, 4096, APR_EACCES },
    { "world-writable", K_FILE, 0646, 100, 4096, APR_EACCES },
    { "0666", K_FILE, 0666, 100, 4096, APR_EACCES },
    { "link to a good file", K_LINK_TO_FILE, 0640, 100, 4096, ELOOP },
    { "dangling link", K_LINK_DANGLING, 0640, 0, 4096, ELOOP },
    { "directory", K_DIR, 0750, 0, 4096, APR_EINVAL },
    { "fifo", K_FIFO, 0600, 0, 4096, APR_EINVAL },
    { "absent", K_ABSENT, 0, 0, 4096, APR_ENOENT },
};

static void load_table(void **state)
{
    const char *dir = fresh_dir("load");
    const char *outside = apr_pstrcat(pool, base, "/outside", NULL);
    static unsigned char big[8192];
    apr_size_t i;

    (void)state;
    memset(big, 'r', sizeof(big));
    write_file(outside, big, 100, 0640);
    for (i = 0; i < N(load_cases); i++) {
        const char *path = apr_pstrcat(pool, dir, "/x.ocsp", NULL);
        unsigned char *data = NULL;
        apr_size_t len = 12345;
        apr_status_t rv;

        remove_tree(path);
        switch (load_cases[i].kind) {
        case K_FILE:
            write_file(path, big, load_cases[i].size, load_cases[i].mode);
            break;
        case K_LINK_TO_FILE:
            assert_int_equal(symlink(outside, path), 0);
            break;
        case K_LINK_DANGLING:
            assert_int_equal(symlink("/nonexistent/og", path), 0);
            break;
        case K_DIR:
            assert_int_equal(mkdir(path, load_cases[i].mode), 0);
            break;
        case K_FIFO:
            assert_int_equal(mkfifo(path, load_cases[i].mode), 0);
            break;
        case K_ABSENT:
            break;
        }
        rv = og_store_load(dir, "x.ocsp", load_cases[i].max, &data, &len,
                           pool);
        if (rv != load_cases[i].want)
            fail_msg("%s: status %d, want %d", load_cases[i].what, rv,
                     load_cases[i].want);
        if (rv == APR_SUCCESS && (len != load_cases[i].size
                                  || memcmp(data, big, len) != 0))
            fail_msg("%s: read %lu bytes, want %lu", load_cases[i].what,
                     (unsigned long)len, (unsigned long)load_cases[i].size);
        if (rv != APR_SUCCESS && len != 12345)
            fail_msg("%s: length written on failure", load_cases[i].what);
    }
}

static void load_never_leaves_the_dir(void **state)
{
    const char *dir = fresh_dir("jail");
    unsigned char *data = NULL;
    apr_size_t len = 0;

    (void)state;
    write_file(apr_pstrcat(pool, base, "/secret", NULL), content,
               sizeof(content), 0600);
    assert_int_not_equal(og_store_load(dir, "../secret", 4096, &data, &len,
                                       pool), APR_SUCCESS);
    assert_int_not_equal(og_store_load(dir, "/etc/passwd", 1 << 20, &data,
                                       &len, pool), APR_SUCCESS);
}

typedef enum { D_DIR, D_LINK_TO_DIR, D_FILE, D_ABSENT } dkind_e;

static const struct {
    const char *what;
    dkind_e kind;
    mode_t mode;
    apr_status_t want;
    const char *why;        /* in the sentence, after the path */
} dir_cases[] = {
    { "0750", D_DIR, 0750, APR_SUCCESS, NULL },
    { "0700", D_DIR, 0700, APR_SUCCESS, NULL },
    { "0755", D_DIR, 0755, APR_SUCCESS, NULL },
    { "0555", D_DIR, 0555, APR_SUCCESS, NULL },
    { "group-writable", D_DIR, 0770, APR_EACCES, "chmod 0750" },
    { "world-writable", D_DIR, 0777, APR_EACCES, "chmod 0750" },
    { "sticky like /tmp", D_DIR, 01777, APR_EACCES, "writable by everyone" },
    { "0702", D_DIR, 0702, APR_EACCES, "writable by everyone" },
    { "link to a good dir", D_LINK_TO_DIR, 0750, ELOOP, "symbolic link" },
    { "a file", D_FILE, 0640, APR_ENOTDIR, "not a directory" },
    { "absent", D_ABSENT, 0, APR_ENOENT, "mkdir -m 0750" },
};

static void check_dir_table(void **state)
{
    const char *good = fresh_dir("real");
    apr_size_t i;

    (void)state;
    for (i = 0; i < N(dir_cases); i++) {
        const char *path = apr_psprintf(pool, "%s/state%u", base, (unsigned)i);
        const char *why = "untouched";
        apr_status_t rv;

        switch (dir_cases[i].kind) {
        case D_DIR:
            assert_int_equal(mkdir(path, 0700), 0);
            assert_int_equal(chmod(path, dir_cases[i].mode), 0);
            break;
        case D_LINK_TO_DIR:
            assert_int_equal(symlink(good, path), 0);
            break;
        case D_FILE:
            write_file(path, content, 1, dir_cases[i].mode);
            break;
        case D_ABSENT:
            break;
        }
        rv = og_store_check_dir(path, pool, &why);
        if (rv != dir_cases[i].want)
            fail_msg("%s: status %d, want %d", dir_cases[i].what, rv,
                     dir_cases[i].want);
        if (rv == APR_SUCCESS && why)
            fail_msg("%s: a reason for a good dir: %s", dir_cases[i].what,
                     why);
        if (rv != APR_SUCCESS
            && (!why || !strstr(why, path) || !strstr(why, dir_cases[i].why)))
            fail_msg("%s: reason '%s' should name %s and say '%s'",
                     dir_cases[i].what, why ? why : "(null)", path,
                     dir_cases[i].why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(save_then_load),
        cmocka_unit_test(save_replaces_a_link_not_its_target),
        cmocka_unit_test(save_into_a_missing_dir_fails),
        cmocka_unit_test(load_table),
        cmocka_unit_test(load_never_leaves_the_dir),
        cmocka_unit_test(check_dir_table),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("og_store", tests, setup, teardown);
    apr_terminate();
    return rc;
}
