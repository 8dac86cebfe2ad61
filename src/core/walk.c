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
    void *visit_ctx;
    gb_walk_skip_fn skip; /* may be NULL */
    void *skip_ctx;
} walker;

static void skipped(const walker *w, const char *path, int is_file, const gb_error *e) {
    if (w->skip) w->skip(w->skip_ctx, path, is_file, e);
}

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
        skipped(w, dir, 0, &e);
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
                skipped(w, p, 1, &e);
            }
        } else if (S_ISDIR(sb.st_mode)) {
            if (depth + 1 >= GB_WALK_MAX_DEPTH) {
                gb_error e;
                gb_fail(&e, GB_ERR_LIMIT, -1, "directories nested deeper than %d (a link loop?)",
                        GB_WALK_MAX_DEPTH);
                skipped(w, p, 0, &e);
            } else {
                st = walk(w, p, depth + 1, err);
            }
        } else if (S_ISREG(sb.st_mode) && is_midi_name(names[i])) {
            st = w->visit(w->visit_ctx, p, err);
        }
        free(p);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return st;
}

static gb_status walk_paths(const walker *w, const char *const *paths, size_t n,
                            gb_error *err) {
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) != 0)
            return gb_fail(err, GB_ERR_IO, -1, "%s: cannot open: %s", paths[i], strerror(errno));
        gb_status st = S_ISDIR(sb.st_mode) ? walk(w, paths[i], 0, err)
                                           : w->visit(w->visit_ctx, paths[i], err);
        if (st != GB_OK) return st;
    }
    return GB_OK;
}

gb_status gb_walk_midi(const char *const *paths, size_t n, gb_walk_visit_fn visit,
                       gb_walk_skip_fn skip, void *ctx, gb_error *err) {
    walker w = {visit, ctx, skip, ctx};
    return walk_paths(&w, paths, n, err);
}

int gb_strs_add(gb_strs *l, const char *s) {
    char *d = strdup(s);
    if (!d || gb_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v) != GB_OK) {
        free(d);
        return 0;
    }
    l->v[l->n++] = d;
    return 1;
}

void gb_strs_free(gb_strs *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static gb_status list_visit(void *ctx, const char *path, gb_error *err) {
    return gb_strs_add(ctx, path) ? GB_OK : gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
}

gb_status gb_walk_midi_list(const char *const *paths, size_t n, gb_walk_skip_fn skip, void *ctx,
                            gb_strs *out, gb_error *err) {
    memset(out, 0, sizeof *out);
    walker w = {list_visit, out, skip, ctx};
    gb_status s = walk_paths(&w, paths, n, err);
    if (s != GB_OK) gb_strs_free(out);
    return s;
}
