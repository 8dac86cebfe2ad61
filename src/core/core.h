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

#endif
