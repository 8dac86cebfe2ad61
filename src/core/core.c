/* core.c - status strings, error filling, growable arrays and buffers, whole-file I/O. */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *gb_status_str(gb_status s) {
    switch (s) {
    case GB_OK: return "ok";
    case GB_ERR_IO: return "I/O error";
    case GB_ERR_FORMAT: return "malformed input";
    case GB_ERR_LIMIT: return "input exceeds a limit";
    case GB_ERR_NOMEM: return "out of memory";
    case GB_ERR_ARG: return "invalid argument";
    }
    return "unknown status";
}

gb_status gb_fail(gb_error *err, gb_status status, int64_t offset, const char *fmt, ...) {
    if (err) {
        err->status = status;
        err->offset = offset;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

gb_status gb_grow(void **p, size_t *cap, size_t n, size_t elem) {
    if (n <= *cap) return GB_OK;
    size_t c = *cap ? *cap : 16;
    while (c < n) {
        if (c > SIZE_MAX / 2) return GB_ERR_NOMEM;
        c *= 2;
    }
    if (c > SIZE_MAX / elem) return GB_ERR_NOMEM;
    void *q = realloc(*p, c * elem);
    if (!q) return GB_ERR_NOMEM;
    *p = q;
    *cap = c;
    return GB_OK;
}

gb_status gb_buf_reserve(gb_buf *b, size_t n) {
    if (n > SIZE_MAX - b->len) return GB_ERR_NOMEM;
    return gb_grow((void **)&b->data, &b->cap, b->len + n, 1);
}

gb_status gb_buf_append(gb_buf *b, const void *p, size_t n) {
    if (gb_buf_reserve(b, n) != GB_OK) return GB_ERR_NOMEM;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return GB_OK;
}

void gb_buf_free(gb_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

gb_status gb_file_read(const char *path, size_t max_len, gb_buf *out, gb_error *err) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return gb_fail(err, GB_ERR_IO, -1, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return gb_fail(err, GB_ERR_IO, -1, "not a regular file");
    }
    if ((uint64_t)st.st_size > max_len) {
        fclose(f);
        return gb_fail(err, GB_ERR_LIMIT, -1, "file is %lld bytes, more than the limit of %zu",
                       (long long)st.st_size, max_len);
    }
    size_t n = (size_t)st.st_size;
    out->data = malloc(n ? n : 1);
    if (!out->data) {
        fclose(f);
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory reading %zu bytes", n);
    }
    out->cap = n ? n : 1;
    out->len = fread(out->data, 1, n, f);
    int bad = ferror(f) || out->len != n;
    fclose(f);
    if (bad) {
        gb_buf_free(out);
        return gb_fail(err, GB_ERR_IO, -1, "read error");
    }
    return GB_OK;
}

gb_status gb_file_write_atomic(const char *path, const void *data, size_t len, gb_error *err) {
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    snprintf(tmp, n + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(tmp);
        return gb_fail(err, GB_ERR_IO, -1, "cannot create a temporary file beside it: %s",
                       strerror(errno));
    }
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        p += w;
        left -= (size_t)w;
    }
    int e = errno;
    /* mkstemp makes 0600 files; give the new file the mode an ordinary create would. */
    mode_t um = umask(0);
    umask(um);
    int ok = left == 0 && fchmod(fd, 0666 & ~um) == 0 && fsync(fd) == 0;
    if (!ok) e = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return gb_fail(err, GB_ERR_IO, -1, "cannot write: %s", strerror(e));
    }
    free(tmp);
    return GB_OK;
}

gb_status gb_sort_stable(void *base, size_t n, size_t size,
                         int (*cmp)(const void *, const void *)) {
    if (n < 2) return GB_OK;
    if (n > SIZE_MAX / size) return GB_ERR_NOMEM;
    char *a = base, *tmp = malloc(n * size), *src = a, *dst = tmp;
    if (!tmp) return GB_ERR_NOMEM;
    for (size_t w = 1; w < n; w *= 2) { /* bottom-up merge: runs of w, then 2w, ... */
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                memcpy(dst + size * k++, cmp(src + size * j, src + size * i) < 0
                                             ? src + size * j++ : src + size * i++, size);
            memcpy(dst + size * k, src + size * i, size * (mid - i));
            k += mid - i;
            memcpy(dst + size * k, src + size * j, size * (hi - j));
        }
        char *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * size);
    free(tmp);
    return GB_OK;
}
