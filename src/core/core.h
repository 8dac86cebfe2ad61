/* core.h - internals shared by every module: error reporting and small helpers. */
#ifndef GB_CORE_H
#define GB_CORE_H

#include "groovybee.h"

#if defined(__GNUC__)
#define GB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define GB_PRINTF(a, b)
#endif

/* Fills err (when not NULL) and returns status, so that failures read `return gb_fail(...)`. */
gb_status gb_fail(gb_error *err, gb_status status, int64_t offset, const char *fmt, ...)
    GB_PRINTF(4, 5);

/* Grows *p (an array of elements of size elem, capacity *cap) to hold at least n elements. */
gb_status gb_grow(void **p, size_t *cap, size_t n, size_t elem);

/* Sorts like qsort but keeps equal elements in their order (merge sort, one temporary copy). */
gb_status gb_sort_stable(void *base, size_t n, size_t size,
                         int (*cmp)(const void *, const void *));

/* Walking a corpus (walk.c): the MIDI files named by paths. A directory is walked recursively,
 * entries sorted by name (byte order), taking files whose name ends in .mid or .midi (any case)
 * and skipping names that start with '.'; a file given by name is taken whatever its name.
 * visit is called for each file; a status other than GB_OK from it stops the walk and is
 * returned (keep that for running out of memory: a bad file is the visitor's to skip). An entry
 * that cannot be opened (is_file: a file named .mid, else a directory) or directories nested
 * deeper than GB_WALK_MAX_DEPTH (a link loop?) go to skip (which may be NULL). A path that does
 * not exist or cannot be opened fails the walk (GB_ERR_IO naming it): a typo in an argument
 * should stop a run, a bad file in a folder should not. */
#define GB_WALK_MAX_DEPTH 64
typedef gb_status (*gb_walk_visit_fn)(void *ctx, const char *path, gb_error *err);
typedef void (*gb_walk_skip_fn)(void *ctx, const char *path, int is_file, const gb_error *e);
gb_status gb_walk_midi(const char *const *paths, size_t n, gb_walk_visit_fn visit,
                       gb_walk_skip_fn skip, void *ctx, gb_error *err);

/* A list of strings it owns. gb_strs_add appends a copy of s (0: out of memory); gb_strs_free
 * frees every copy and the list, and leaves it zeroed. */
typedef struct {
    char **v;
    size_t n, cap;
} gb_strs;
int gb_strs_add(gb_strs *l, const char *s);
void gb_strs_free(gb_strs *l);
/* gb_walk_midi's files, in its order, into out (made empty first; freed when the walk fails). */
gb_status gb_walk_midi_list(const char *const *paths, size_t n, gb_walk_skip_fn skip, void *ctx,
                            gb_strs *out, gb_error *err);

#endif
