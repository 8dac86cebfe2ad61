/* tmpdir.h - the scratch directory of a test program: made once in main, paths inside it, and
 * removed with everything in it at the end. */
#ifndef GB_TEST_TMPDIR_H
#define GB_TEST_TMPDIR_H

#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* for mkdtemp; test files define it above their first header */
#endif
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

/* Makes /tmp/gb_<tag>_XXXXXX; returns 0 (with a message) when it cannot. */
static int tmpdir_make(const char *tag) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gb_%s_XXXXXX", tag);
    if (mkdtemp(tmpdir)) return 1;
    perror("mkdtemp");
    return 0;
}

/* tmpdir/name; the last 8 results stay valid, so a call may take several paths at once. */
static const char *tmp_path(const char *name) {
    static char p[8][256];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static void rm_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) rm_tree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

#endif
