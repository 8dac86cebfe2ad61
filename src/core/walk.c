/* walk.c - the MIDI files of a corpus given as files and folders (core.h). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/core.h"

typedef struct {
    gb_walk_visit_fn visit;
    gb_walk_skip_fn skip;
    void *ctx;
} walker;

static int is_midi_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".mid") == 0 || strcasecmp(dot, ".midi") == 0);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static gb_status walk(const walker *w, const char *dir, int depth, gb_error *err) {
    DIR *d = opendir(dir);
    if (!d) {
        gb_error e;
        gb_fail(&e, GB_ERR_IO, -1, "cannot open directory: %s", strerror(errno));
        w->skip(w->ctx, dir, 0, &e);
        return GB_OK;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    gb_status st = GB_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue; /* ., .., and hidden entries such as .git */
        char *nm = strdup(de->d_name);
        if (!nm || gb_grow((void **)&names, &cap, n + 1, sizeof *names) != GB_OK) {
            free(nm);
            st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory listing %s", dir);
            break;
        }
        names[n++] = nm;
    }
    closedir(d);
    if (st == GB_OK && n) qsort(names, n, sizeof *names, cmp_str);
    size_t dl = strlen(dir);
    for (size_t i = 0; i < n && st == GB_OK; i++) {
        size_t len = dl + strlen(names[i]) + 2;
        char *p = malloc(len);
        if (!p) {
            st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
            break;
        }
        snprintf(p, len, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", names[i]);
        struct stat sb;
        if (stat(p, &sb) != 0) {
            if (is_midi_name(names[i])) { /* e.g. a dangling link named .mid */
                gb_error e;
                gb_fail(&e, GB_ERR_IO, -1, "cannot open: %s", strerror(errno));
                w->skip(w->ctx, p, 1, &e);
            }
        } else if (S_ISDIR(sb.st_mode)) {
            if (depth + 1 >= GB_WALK_MAX_DEPTH) {
                gb_error e;
                gb_fail(&e, GB_ERR_LIMIT, -1, "directories nested deeper than %d (a link loop?)",
                        GB_WALK_MAX_DEPTH);
                w->skip(w->ctx, p, 0, &e);
            } else {
                st = walk(w, p, depth + 1, err);
            }
        } else if (S_ISREG(sb.st_mode) && is_midi_name(names[i])) {
            st = w->visit(w->ctx, p, err);
        }
        free(p);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return st;
}

gb_status gb_walk_midi(const char *const *paths, size_t n, gb_walk_visit_fn visit,
                       gb_walk_skip_fn skip, void *ctx, gb_error *err) {
    walker w = {visit, skip, ctx};
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) != 0)
            return gb_fail(err, GB_ERR_IO, -1, "%s: cannot open: %s", paths[i], strerror(errno));
        gb_status st = S_ISDIR(sb.st_mode) ? walk(&w, paths[i], 0, err) : visit(ctx, paths[i], err);
        if (st != GB_OK) return st;
    }
    return GB_OK;
}
