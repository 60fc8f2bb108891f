/*
 * test_fsutil.c - fmugw_rmtree (src/util/fsutil.c) removes what nftw on
 * full paths could not: a directory chain far deeper than PATH_MAX, wide
 * directories, a deep chain below a wide level, files, symlinks (never
 * followed) and fifos; fmugw_dir_renew gives a fresh directory whatever the
 * old one held, and fmugw_rmtree_stale removes the old ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Makes a chain of `depth` directories named `name` below dfd, with a file
 * in every 100th; returns the depth made. */
static int make_chain(int dfd, const char *name, int depth)
{
    int cur = dup(dfd), made = 0;
    for (; made < depth; made++) {
        if (mkdirat(cur, name, 0700) != 0)
            break;
        int next = openat(cur, name, O_RDONLY | O_DIRECTORY);
        close(cur);
        if (next < 0)
            return made;
        cur = next;
        if (made % 100 == 0) {
            int f = openat(cur, "file", O_WRONLY | O_CREAT, 0600);
            if (f >= 0)
                close(f);
        }
    }
    close(cur);
    return made;
}

static void test_rmtree_deep_and_wide(void **state)
{
    (void)state;
    char *root = NULL;
    assert_int_equal(fmugw_mkdtemp(&root, "fmugw-rmtree-"), 0);
    int top = open(root, O_RDONLY | O_DIRECTORY);
    assert_true(top >= 0);
    /* 2500 levels of "dd": 7,500 characters of path, beyond PATH_MAX */
    assert_int_equal(make_chain(top, "dd", 2500), 2500);
    assert_true(2500 * 3 > PATH_MAX);
    /* 300 sibling directories, each with a file; one with a deep chain */
    assert_int_equal(mkdirat(top, "wide", 0700), 0);
    int wide = openat(top, "wide", O_RDONLY | O_DIRECTORY);
    for (int i = 0; i < 300; i++) {
        char n[32];
        snprintf(n, sizeof n, "w%d", i);
        assert_int_equal(mkdirat(wide, n, 0700), 0);
        int d = openat(wide, n, O_RDONLY | O_DIRECTORY);
        int f = openat(d, "x", O_WRONLY | O_CREAT, 0600);
        close(f);
        if (i == 150)
            assert_int_equal(make_chain(d, "z", 1500), 1500);
        close(d);
    }
    close(wide);
    /* a symlink to a file outside (must survive) and a fifo */
    char outside[600];
    snprintf(outside, sizeof outside, "%s.outside", root);
    int f = open(outside, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(f >= 0);
    close(f);
    assert_int_equal(symlinkat(outside, top, "link"), 0);
    assert_int_equal(mkfifoat(top, "fifo", 0600), 0);
    close(top);

    assert_int_equal(fmugw_rmtree(root), 0);
    struct stat st;
    assert_int_not_equal(lstat(root, &st), 0);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(stat(outside, &st), 0); /* the link's target is untouched */
    unlink(outside);
    /* a missing path is fine; a plain file is removed */
    assert_int_equal(fmugw_rmtree(root), 0);
    f = open(outside, O_WRONLY | O_CREAT, 0600);
    close(f);
    assert_int_equal(fmugw_rmtree(outside), 0);
    assert_int_not_equal(lstat(outside, &st), 0);
    free(root);
}

static void test_dir_renew(void **state)
{
    (void)state;
    char *root = NULL, path[600];
    assert_int_equal(fmugw_mkdtemp(&root, "fmugw-renew-"), 0);
    snprintf(path, sizeof path, "%s/jobs", root);
    /* missing: made */
    assert_int_equal(fmugw_dir_renew(path), 0);
    int d = open(path, O_RDONLY | O_DIRECTORY);
    assert_true(d >= 0);
    assert_int_equal(make_chain(d, "q", 1500), 1500);
    close(d);
    /* twice: a fresh empty one each time, the old ones aside */
    assert_int_equal(fmugw_dir_renew(path), 0);
    assert_int_equal(fmugw_dir_renew(path), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    char q[700];
    snprintf(q, sizeof q, "%s/q", path);
    assert_int_not_equal(stat(q, &st), 0);
    assert_int_equal(fmugw_rmtree_stale(path), 0);
    /* only jobs/ is left in root */
    char cmd[800], out[64] = "";
    snprintf(cmd, sizeof cmd, "ls -A '%s'", root);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    pclose(p);
    assert_string_equal(out, "jobs\n");
    assert_int_equal(fmugw_rmtree(root), 0);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rmtree_deep_and_wide),
        cmocka_unit_test(test_dir_renew),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
