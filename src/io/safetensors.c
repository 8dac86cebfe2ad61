/* safetensors.c - a writer and a strict reader of .safetensors checkpoints holding float32
 * tensors. The layout and every rule the reader enforces are in docs/formats.md.
 * The reader sees hostile bytes (it is fuzzed, fuzz/fuzz_safetensors.c): its JSON parser knows
 * only the shape a safetensors header has, reads through a cursor bounded by the declared
 * header length, and allocates at most a constant times the input's size. */
#include "io/safetensors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define META_KEY "__metadata__"

/* The file is little-endian; the host need not be. */
static int host_is_le(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static void swap32_all(uint8_t *p, size_t n_words) {
    for (size_t i = 0; i < n_words; i++, p += 4) {
        uint8_t a = p[0], b = p[1];
        p[0] = p[3];
        p[1] = p[2];
        p[2] = b;
        p[3] = a;
    }
}

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0: no overlong forms, no UTF-16
 * surrogates, nothing above U+10FFFF (what Rust's str::from_utf8, and so the reference reader,
 * accepts). */
static size_t utf8_seq(const uint8_t *p, size_t avail) {
    uint8_t c = p[0];
    if (c < 0x80) return 1;
    size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
             : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!n || avail < n) return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0; /* overlong */
    if (c == 0xED && p[1] > 0x9F) return 0; /* surrogate */
    if (c == 0xF0 && p[1] < 0x90) return 0; /* overlong */
    if (c == 0xF4 && p[1] > 0x8F) return 0; /* above U+10FFFF */
    return n;
}

static int utf8_valid(const char *s) {
    const uint8_t *p = (const uint8_t *)s;
    size_t n = strlen(s);
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = utf8_seq(p + i, n - i))) return 0;
    return 1;
}

/* The element count of a shape: 0 when any dimension is 0, otherwise the product, which must
 * fit in 64 bits with room for the 4 bytes per float. Returns 0 on overflow, 1 when *count is
 * valid. */
static int shape_count(const uint64_t *dims, int ndim, uint64_t *count) {
    uint64_t c = 1;
    for (int i = 0; i < ndim; i++)
        if (dims[i] == 0) {
            *count = 0;
            return 1;
        }
    for (int i = 0; i < ndim; i++) {
        if (c > UINT64_MAX / 4 / dims[i]) return 0;
        c *= dims[i];
    }
    *count = c;
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Writing */

/* A JSON string: only '"', '\\' and control characters need escapes; UTF-8 goes as it is. */
static gb_status put_str(gb_buf *b, const char *s) {
    gb_status st = gb_buf_append(b, "\"", 1);
    for (const char *p = s; *p && st == GB_OK; p++) {
        unsigned char ch = (unsigned char)*p;
        char esc[8];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            st = gb_buf_append(b, esc, 2);
        } else if (ch < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            st = gb_buf_append(b, esc, 6);
        } else {
            st = gb_buf_append(b, p, 1);
        }
    }
    return st == GB_OK ? gb_buf_append(b, "\"", 1) : st;
}

static gb_status put(gb_buf *b, const char *s) { return gb_buf_append(b, s, strlen(s)); }

typedef struct {
    const char *s;
    size_t i; /* index in the caller's list, to name the second of two duplicates */
} named;

static int cmp_named(const void *a, const void *b) {
    return strcmp(((const named *)a)->s, ((const named *)b)->s);
}

/* Sorts v (stable) and returns the index of the first repeated string, or SIZE_MAX. With the
 * sort stable, the later of two equals is the one reported. *st is set on allocation failure. */
static size_t find_duplicate(named *v, size_t n, gb_status *st) {
    *st = gb_sort_stable(v, n, sizeof *v, cmp_named);
    if (*st != GB_OK) return SIZE_MAX;
    size_t dup = SIZE_MAX;
    for (size_t i = 1; i < n; i++)
        if (!strcmp(v[i - 1].s, v[i].s) && (dup == SIZE_MAX || v[i].i < dup)) dup = v[i].i;
    return dup;
}

/* Checks the caller's tensors and metadata; on success *data_bytes is the data section size. */
static gb_status check_inputs(const gb_st_tensor_in *t, size_t n, const char *const *meta_kv,
                              size_t *n_meta, uint64_t *data_bytes, gb_error *err) {
    uint64_t total = 0;
    *n_meta = 0;
    *data_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const gb_st_tensor_in *x = &t[i];
        if (!x->name) return gb_fail(err, GB_ERR_ARG, -1, "safetensors: tensor %zu has no name", i);
        if (strlen(x->name) > GB_ST_MAX_NAME)
            return gb_fail(err, GB_ERR_ARG, -1,
                           "safetensors: tensor %zu's name is %zu bytes, more than %d", i,
                           strlen(x->name), GB_ST_MAX_NAME);
        if (!utf8_valid(x->name))
            return gb_fail(err, GB_ERR_ARG, -1, "safetensors: tensor %zu's name is not UTF-8", i);
        if (!strcmp(x->name, META_KEY))
            return gb_fail(err, GB_ERR_ARG, -1,
                           "safetensors: '" META_KEY "' cannot name a tensor");
        if (x->ndim < 0 || x->ndim > GB_ST_MAX_DIMS)
            return gb_fail(err, GB_ERR_ARG, -1,
                           "safetensors: tensor '%.64s' has ndim %d, not 0..%d", x->name,
                           x->ndim, GB_ST_MAX_DIMS);
        uint64_t dims[GB_ST_MAX_DIMS], count;
        for (int d = 0; d < x->ndim; d++) {
            if (x->shape[d] < 0)
                return gb_fail(err, GB_ERR_ARG, -1,
                               "safetensors: tensor '%.64s' has a negative dimension", x->name);
            dims[d] = (uint64_t)x->shape[d];
        }
        if (!shape_count(dims, x->ndim, &count) || count * 4 > UINT64_MAX - total ||
            total + count * 4 > SIZE_MAX / 2)
            return gb_fail(err, GB_ERR_LIMIT, -1, "safetensors: tensor '%.64s' is too large",
                           x->name);
        if (count && !x->data)
            return gb_fail(err, GB_ERR_ARG, -1, "safetensors: tensor '%.64s' has no data", x->name);
        total += count * 4;
    }
    size_t m = 0;
    for (; meta_kv && meta_kv[2 * m]; m++) {
        const char *k = meta_kv[2 * m], *v = meta_kv[2 * m + 1];
        if (!v)
            return gb_fail(err, GB_ERR_ARG, -1,
                           "safetensors: metadata key '%.64s' has no value", k);
        if (!utf8_valid(k) || !utf8_valid(v))
            return gb_fail(err, GB_ERR_ARG, -1, "safetensors: metadata '%.64s' is not UTF-8", k);
    }
    /* Duplicate names (and keys) would make a header no reader can trust. */
    size_t most = n > m ? n : m;
    named *v = most ? malloc(most * sizeof *v) : NULL;
    if (most && !v) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    gb_status st = GB_OK;
    for (size_t i = 0; i < n; i++) v[i] = (named){t[i].name, i};
    size_t dup = find_duplicate(v, n, &st);
    if (st == GB_OK && dup != SIZE_MAX)
        st = gb_fail(err, GB_ERR_ARG, -1, "safetensors: duplicate tensor name '%.64s'",
                     t[dup].name);
    if (st == GB_OK) {
        for (size_t i = 0; i < m; i++) v[i] = (named){meta_kv[2 * i], i};
        dup = find_duplicate(v, m, &st);
        if (st == GB_OK && dup != SIZE_MAX)
            st = gb_fail(err, GB_ERR_ARG, -1, "safetensors: duplicate metadata key '%.64s'",
                         meta_kv[2 * dup]);
    }
    free(v);
    if (st == GB_ERR_NOMEM) return gb_fail(err, st, -1, "out of memory");
    if (st != GB_OK) return st;
    *n_meta = m;
    *data_bytes = total;
    return GB_OK;
}

gb_status gb_st_encode(const gb_st_tensor_in *t, size_t n, const char *const *meta_kv,
                       gb_buf *out, gb_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!out || (n && !t)) return gb_fail(err, GB_ERR_ARG, -1, "gb_st_encode: missing argument");
    size_t n_meta;
    uint64_t data_bytes;
    gb_status st = check_inputs(t, n, meta_kv, &n_meta, &data_bytes, err);
    if (st != GB_OK) return st;

    /* The header, compact as the reference writer makes it: __metadata__ first, then the
     * tensors in the order given, each one's data right after the previous one's. */
    st = gb_buf_append(out, "\0\0\0\0\0\0\0\0{", 9); /* the length is filled in below */
    if (st == GB_OK && n_meta) {
        st = put(out, "\"" META_KEY "\":{");
        for (size_t i = 0; i < n_meta && st == GB_OK; i++) {
            if (i) st = put(out, ",");
            if (st == GB_OK) st = put_str(out, meta_kv[2 * i]);
            if (st == GB_OK) st = put(out, ":");
            if (st == GB_OK) st = put_str(out, meta_kv[2 * i + 1]);
        }
        if (st == GB_OK) st = put(out, n ? "}," : "}");
    }
    uint64_t at = 0;
    for (size_t i = 0; i < n && st == GB_OK; i++) {
        char num[64];
        uint64_t dims[GB_ST_MAX_DIMS], count;
        if (i) st = put(out, ",");
        if (st == GB_OK) st = put_str(out, t[i].name);
        if (st == GB_OK) st = put(out, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t[i].ndim && st == GB_OK; d++) {
            dims[d] = (uint64_t)t[i].shape[d];
            snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)t[i].shape[d]);
            st = put(out, num);
        }
        shape_count(dims, t[i].ndim, &count); /* checked by check_inputs */
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,", (unsigned long long)at);
        if (st == GB_OK) st = put(out, num);
        at += count * 4;
        snprintf(num, sizeof num, "%llu]}", (unsigned long long)at);
        if (st == GB_OK) st = put(out, num);
    }
    if (st == GB_OK) st = put(out, "}");
    /* Spaces (which JSON allows after the value) up to a multiple of 8, so that the data
     * starts 8-byte aligned in the file and a reader may map it in place. */
    while (st == GB_OK && out->len % 8) st = put(out, " ");
    if (st != GB_OK) {
        gb_buf_free(out);
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    }
    uint64_t hlen = out->len - 8;
    if (hlen > GB_ST_MAX_HEADER) {
        gb_buf_free(out);
        return gb_fail(err, GB_ERR_LIMIT, -1,
                       "safetensors: header of %llu bytes is more than the limit of %u",
                       (unsigned long long)hlen, GB_ST_MAX_HEADER);
    }
    for (int i = 0; i < 8; i++) out->data[i] = (uint8_t)(hlen >> (8 * i));

    /* Exactly the data's size, not gb_buf's doubling: checkpoints can be large. */
    size_t total = out->len + (size_t)data_bytes;
    uint8_t *q = realloc(out->data, total ? total : 1);
    if (!q) {
        gb_buf_free(out);
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu bytes", total);
    }
    out->data = q;
    out->cap = total;
    for (size_t i = 0; i < n; i++) {
        uint64_t dims[GB_ST_MAX_DIMS], count;
        for (int d = 0; d < t[i].ndim; d++) dims[d] = (uint64_t)t[i].shape[d];
        shape_count(dims, t[i].ndim, &count);
        size_t bytes = (size_t)count * 4;
        if (!bytes) continue;
        memcpy(out->data + out->len, t[i].data, bytes);
        if (!host_is_le()) swap32_all(out->data + out->len, (size_t)count);
        out->len += bytes;
    }
    return GB_OK;
}

gb_status gb_st_write(const char *path, const gb_st_tensor_in *t, size_t n,
                      const char *const *meta_kv, gb_error *err) {
    if (!path) return gb_fail(err, GB_ERR_ARG, -1, "gb_st_write: missing path");
    gb_buf b;
    gb_status st = gb_st_encode(t, n, meta_kv, &b, err);
    if (st != GB_OK) return st;
    st = gb_file_write_atomic(path, b.data, b.len, err);
    gb_buf_free(&b);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading: a JSON parser for exactly
 *   { "name": {"dtype": "F32", "shape": [uint, ...], "data_offsets": [uint, uint]}, ...,
 *     "__metadata__": {"key": "value", ...} }
 * Positions are offsets in the whole file, so that they can be reported as they are. */

typedef struct {
    const uint8_t *p;
    size_t pos, end; /* end: one past the header's last byte */
    gb_error *err;
    gb_buf s; /* the last string read, decoded, NUL-terminated (not counted in s.len) */
} cursor;

/* Where a tensor's bytes are, kept aside to check that the tensors tile the data section. */
typedef struct {
    uint64_t begin, end;
    size_t key; /* offset of the tensor's name, for messages */
    size_t at;  /* offset of its data_offsets, for messages */
    size_t i;   /* index in the file's tensors */
} span;

static gb_status fail(cursor *c, gb_status st, int64_t at, const char *fmt, ...) GB_PRINTF(4, 5);
static gb_status fail(cursor *c, gb_status st, int64_t at, const char *fmt, ...) {
    char msg[224];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gb_fail(c->err, st, at, "safetensors header: %s", msg);
}

/* Skips JSON white space; returns the next byte, or -1 at the end of the header. */
static int peek(cursor *c) {
    for (; c->pos < c->end; c->pos++) {
        uint8_t ch = c->p[c->pos];
        if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') return ch;
    }
    return -1;
}

static gb_status expect(cursor *c, int ch, const char *what) {
    if (peek(c) != ch) return fail(c, GB_ERR_FORMAT, c->pos, "expected %s", what);
    c->pos++;
    return GB_OK;
}

static int hex4(const uint8_t *p, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int ch = p[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0) return 0;
        *v = *v << 4 | (unsigned)d;
    }
    return 1;
}

/* A JSON string into c->s. A decoded string is never longer than its JSON form, so s grows to
 * at most the longest string in the header. NUL (\u0000) is refused: names and metadata are C
 * strings, and "a\u0000b" would pass for "a". */
static gb_status read_str(cursor *c) {
    if (peek(c) != '"') return fail(c, GB_ERR_FORMAT, c->pos, "expected a string");
    size_t start = c->pos++;
    c->s.len = 0;
    for (;;) {
        if (c->pos >= c->end)
            return fail(c, GB_ERR_FORMAT, start, "string runs past the end of the header");
        if (gb_buf_reserve(&c->s, 5) != GB_OK)
            return fail(c, GB_ERR_NOMEM, c->pos, "out of memory");
        uint8_t ch = c->p[c->pos], *o = c->s.data + c->s.len;
        if (ch == '"') break;
        if (ch < 0x20)
            return fail(c, GB_ERR_FORMAT, c->pos, "control character 0x%02x in a string", ch);
        if (ch >= 0x80) {
            size_t k = utf8_seq(c->p + c->pos, c->end - c->pos);
            if (!k) return fail(c, GB_ERR_FORMAT, c->pos, "invalid UTF-8 in a string");
            memcpy(o, c->p + c->pos, k);
            c->s.len += k;
            c->pos += k;
            continue;
        }
        if (ch != '\\') {
            *o = ch;
            c->s.len++;
            c->pos++;
            continue;
        }
        size_t esc = c->pos;
        if (c->end - c->pos < 2)
            return fail(c, GB_ERR_FORMAT, esc, "string runs past the end of the header");
        uint8_t e = c->p[c->pos + 1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            *o = (uint8_t)"\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            c->s.len++;
            c->pos += 2;
            continue;
        }
        if (e != 'u') return fail(c, GB_ERR_FORMAT, esc, "invalid escape in a string");
        unsigned cp, lo;
        if (c->end - c->pos < 6 || !hex4(c->p + c->pos + 2, &cp))
            return fail(c, GB_ERR_FORMAT, esc, "\\u not followed by 4 hex digits");
        c->pos += 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail(c, GB_ERR_FORMAT, esc, "unpaired UTF-16 surrogate \\u%04X", cp);
        if (cp >= 0xD800 && cp <= 0xDBFF) { /* must be followed by its low half */
            if (c->end - c->pos < 6 || c->p[c->pos] != '\\' || c->p[c->pos + 1] != 'u' ||
                !hex4(c->p + c->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                return fail(c, GB_ERR_FORMAT, esc, "unpaired UTF-16 surrogate \\u%04X", cp);
            c->pos += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp == 0) return fail(c, GB_ERR_FORMAT, esc, "\\u0000 (NUL) in a string");
        if (cp < 0x80) {
            o[0] = (uint8_t)cp;
            c->s.len += 1;
        } else if (cp < 0x800) {
            o[0] = (uint8_t)(0xC0 | cp >> 6);
            o[1] = (uint8_t)(0x80 | (cp & 0x3F));
            c->s.len += 2;
        } else if (cp < 0x10000) {
            o[0] = (uint8_t)(0xE0 | cp >> 12);
            o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
            o[2] = (uint8_t)(0x80 | (cp & 0x3F));
            c->s.len += 3;
        } else {
            o[0] = (uint8_t)(0xF0 | cp >> 18);
            o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
            o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
            o[3] = (uint8_t)(0x80 | (cp & 0x3F));
            c->s.len += 4;
        }
    }
    c->pos++; /* the closing quote; reserve above left room for the NUL */
    c->s.data[c->s.len] = '\0';
    return GB_OK;
}

/* A JSON number that is a non-negative integer below 2^64; anything else that JSON calls a
 * number (sign, fraction, exponent, leading zero) is refused by name. */
static gb_status read_uint(cursor *c, const char *what, uint64_t *v) {
    int ch = peek(c);
    size_t at = c->pos;
    *v = 0;
    if (ch == '-') return fail(c, GB_ERR_FORMAT, at, "negative number in %s", what);
    if (ch < '0' || ch > '9')
        return fail(c, GB_ERR_FORMAT, at, "expected a non-negative integer in %s", what);
    for (; c->pos < c->end && c->p[c->pos] >= '0' && c->p[c->pos] <= '9'; c->pos++) {
        unsigned d = c->p[c->pos] - '0';
        if (*v > (UINT64_MAX - d) / 10)
            return fail(c, GB_ERR_FORMAT, at, "integer in %s is larger than 2^64 - 1", what);
        *v = *v * 10 + d;
    }
    if (c->p[at] == '0' && c->pos - at > 1)
        return fail(c, GB_ERR_FORMAT, at, "integer with a leading zero in %s", what);
    if (c->pos < c->end && (c->p[c->pos] == '.' || c->p[c->pos] == 'e' || c->p[c->pos] == 'E'))
        return fail(c, GB_ERR_FORMAT, at, "number in %s is not an integer", what);
    return GB_OK;
}

/* An array of integers, at most max of them (a longer one fails at its max+1'th). */
static gb_status read_uints(cursor *c, const char *what, uint64_t *v, int max, int *n,
                            gb_status too_many) {
    gb_status st = expect(c, '[', "'[' (an array)");
    if (st != GB_OK) return st;
    *n = 0;
    if (peek(c) == ']') {
        c->pos++;
        return GB_OK;
    }
    for (;;) {
        peek(c);
        if (*n == max)
            return fail(c, too_many, c->pos, "%s has more than %d entries", what, max);
        if ((st = read_uint(c, what, &v[*n])) != GB_OK) return st;
        ++*n;
        int ch = peek(c);
        if (ch != ',' && ch != ']')
            return fail(c, GB_ERR_FORMAT, c->pos, "expected ',' or ']' in %s", what);
        c->pos++;
        if (ch == ']') return GB_OK;
    }
}

/* After an object member: ',' (another member follows) or the closing '}' (sets *closed). */
static gb_status member_end(cursor *c, int *closed) {
    int ch = peek(c);
    if (ch == ',' || ch == '}') {
        c->pos++;
        *closed = ch == '}';
        return GB_OK;
    }
    return fail(c, GB_ERR_FORMAT, c->pos, "expected ',' or '}'");
}

/* {"dtype": "F32", "shape": [...], "data_offsets": [b, e]} in any order, each once. */
static gb_status read_info(cursor *c, gb_st_tensor *t, span *sp) {
    int first = peek(c);
    size_t obj = c->pos;
    if (first != '{')
        return fail(c, GB_ERR_FORMAT, c->pos, "tensor '%.64s': expected an object", t->name);
    c->pos++;
    int seen = 0, closed = 0; /* bits: 1 dtype, 2 shape, 4 data_offsets */
    uint64_t dims[GB_ST_MAX_DIMS], offs[2], count = 0;
    int nd = 0, no = 0;
    gb_status st;
    if (peek(c) == '}')
        return fail(c, GB_ERR_FORMAT, c->pos, "tensor '%.64s' has no dtype", t->name);
    while (!closed) {
        peek(c);
        size_t key_at = c->pos;
        if ((st = read_str(c)) != GB_OK || (st = expect(c, ':', "':'")) != GB_OK) return st;
        const char *key = (const char *)c->s.data;
        int bit = !strcmp(key, "dtype") ? 1 : !strcmp(key, "shape") ? 2
                : !strcmp(key, "data_offsets") ? 4 : 0;
        if (!bit)
            return fail(c, GB_ERR_FORMAT, key_at, "tensor '%.64s': unknown key '%.32s'", t->name,
                        key);
        if (seen & bit)
            return fail(c, GB_ERR_FORMAT, key_at, "tensor '%.64s': duplicate key '%s'", t->name,
                        key);
        seen |= bit;
        peek(c);
        size_t at = c->pos; /* the value, which errors point at */
        if (bit == 1) {
            if ((st = read_str(c)) != GB_OK) return st;
            if (strcmp((const char *)c->s.data, "F32"))
                return fail(c, GB_ERR_FORMAT, at,
                            "tensor '%.64s' has dtype '%.32s'; only F32 is supported", t->name,
                            (const char *)c->s.data);
        } else if (bit == 2) {
            if ((st = read_uints(c, "shape", dims, GB_ST_MAX_DIMS, &nd, GB_ERR_LIMIT)) != GB_OK)
                return st;
            for (int d = 0; d < nd; d++)
                if (dims[d] > INT64_MAX)
                    return fail(c, GB_ERR_LIMIT, at, "tensor '%.64s': dimension %d is above 2^63",
                                t->name, d);
            if (!shape_count(dims, nd, &count))
                return fail(c, GB_ERR_LIMIT, at,
                            "tensor '%.64s': shape product overflows (more than 2^62 floats)",
                            t->name);
        } else {
            if ((st = read_uints(c, "data_offsets", offs, 2, &no, GB_ERR_FORMAT)) != GB_OK)
                return st;
            if (no != 2)
                return fail(c, GB_ERR_FORMAT, at,
                            "tensor '%.64s': data_offsets must be [begin, end]", t->name);
            sp->at = at;
        }
        if ((st = member_end(c, &closed)) != GB_OK) return st;
    }
    if (seen != 7)
        return fail(c, GB_ERR_FORMAT, obj, "tensor '%.64s' has no %s", t->name,
                    !(seen & 1) ? "dtype" : !(seen & 2) ? "shape" : "data_offsets");
    if (offs[0] > offs[1])
        return fail(c, GB_ERR_FORMAT, sp->at, "tensor '%.64s': data_offsets [%llu, %llu] end "
                    "before they begin", t->name, (unsigned long long)offs[0],
                    (unsigned long long)offs[1]);
    if (offs[1] - offs[0] != count * 4)
        return fail(c, GB_ERR_FORMAT, sp->at, "tensor '%.64s': data_offsets span %llu bytes, "
                    "its shape needs %llu", t->name, (unsigned long long)(offs[1] - offs[0]),
                    (unsigned long long)(count * 4));
    t->ndim = nd;
    for (int d = 0; d < nd; d++) t->shape[d] = (int64_t)dims[d];
    sp->begin = offs[0];
    sp->end = offs[1];
    return GB_OK;
}

static gb_status read_meta(cursor *c, gb_st_file *f, size_t *cap, size_t **key_at,
                           size_t *key_cap) {
    if (peek(c) != '{')
        return fail(c, GB_ERR_FORMAT, c->pos, "__metadata__ is not an object");
    c->pos++;
    if (peek(c) == '}') {
        c->pos++;
        return GB_OK;
    }
    for (int closed = 0; !closed;) {
        peek(c);
        size_t at = c->pos;
        gb_status st;
        if ((st = read_str(c)) != GB_OK) return st;
        if (gb_grow((void **)&f->meta, cap, 2 * f->n_meta + 2, sizeof *f->meta) != GB_OK ||
            gb_grow((void **)key_at, key_cap, f->n_meta + 1, sizeof **key_at) != GB_OK ||
            !(f->meta[2 * f->n_meta] = malloc(c->s.len + 1)))
            return fail(c, GB_ERR_NOMEM, at, "out of memory");
        memcpy(f->meta[2 * f->n_meta], c->s.data, c->s.len + 1);
        f->meta[2 * f->n_meta + 1] = NULL;
        (*key_at)[f->n_meta] = at;
        f->n_meta++; /* counted now so that gb_st_free frees the key if the value fails */
        if ((st = expect(c, ':', "':'")) != GB_OK) return st;
        if (peek(c) != '"')
            return fail(c, GB_ERR_FORMAT, c->pos, "__metadata__ value of '%.64s' is not a string",
                        f->meta[2 * f->n_meta - 2]);
        if ((st = read_str(c)) != GB_OK) return st;
        if (!(f->meta[2 * f->n_meta - 1] = malloc(c->s.len + 1)))
            return fail(c, GB_ERR_NOMEM, at, "out of memory");
        memcpy(f->meta[2 * f->n_meta - 1], c->s.data, c->s.len + 1);
        if ((st = member_end(c, &closed)) != GB_OK) return st;
    }
    return GB_OK;
}

static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->begin != y->begin ? (x->begin > y->begin ? 1 : -1)
         : x->end != y->end ? (x->end > y->end ? 1 : -1) : 0;
}

/* Duplicate tensor names and metadata keys, in O(n log n): headers may hold millions. */
static gb_status check_unique(cursor *c, const gb_st_file *f, const span *sp,
                              const size_t *key_at) {
    size_t most = f->n > f->n_meta ? f->n : f->n_meta;
    if (!most) return GB_OK;
    named *v = malloc(most * sizeof *v);
    if (!v) return fail(c, GB_ERR_NOMEM, -1, "out of memory");
    gb_status st = GB_OK;
    for (size_t i = 0; i < f->n; i++) v[i] = (named){f->t[i].name, i};
    size_t dup = find_duplicate(v, f->n, &st);
    if (st == GB_OK && dup != SIZE_MAX)
        st = fail(c, GB_ERR_FORMAT, sp[dup].key, "duplicate tensor name '%.64s'", f->t[dup].name);
    if (st == GB_OK) {
        for (size_t i = 0; i < f->n_meta; i++) v[i] = (named){f->meta[2 * i], i};
        dup = find_duplicate(v, f->n_meta, &st);
        if (st == GB_OK && dup != SIZE_MAX)
            st = fail(c, GB_ERR_FORMAT, key_at[dup], "duplicate __metadata__ key '%.64s'",
                      f->meta[2 * dup]);
    }
    free(v);
    if (st == GB_ERR_NOMEM) return fail(c, st, -1, "out of memory");
    return st;
}

/* The tensors must tile the data section exactly: sorted by offset, each begins where the
 * previous ended and the last ends at the end of the file. This refuses overlaps, and also
 * gaps and trailing bytes, as the reference reader does ("no holes", against polyglot files). */
static gb_status check_tiling(cursor *c, const gb_st_file *f, span *sp, uint64_t data_len) {
    for (size_t i = 0; i < f->n; i++)
        if (sp[i].end > data_len)
            return fail(c, GB_ERR_FORMAT, sp[i].at,
                        "tensor '%.64s': data_offsets [%llu, %llu] run past the end of the data "
                        "(%llu bytes)", f->t[i].name, (unsigned long long)sp[i].begin,
                        (unsigned long long)sp[i].end, (unsigned long long)data_len);
    if (f->n > 1 && gb_sort_stable(sp, f->n, sizeof *sp, cmp_span) != GB_OK)
        return fail(c, GB_ERR_NOMEM, -1, "out of memory");
    uint64_t at = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (sp[i].begin < at)
            return fail(c, GB_ERR_FORMAT, sp[i].at,
                        "tensor '%.64s': data_offsets [%llu, %llu] overlap tensor '%.64s'",
                        f->t[sp[i].i].name, (unsigned long long)sp[i].begin,
                        (unsigned long long)sp[i].end, f->t[sp[i - 1].i].name);
        if (sp[i].begin > at)
            return fail(c, GB_ERR_FORMAT, sp[i].at,
                        "tensor '%.64s': data_offsets [%llu, %llu] leave bytes %llu..%llu unused",
                        f->t[sp[i].i].name, (unsigned long long)sp[i].begin,
                        (unsigned long long)sp[i].end, (unsigned long long)at,
                        (unsigned long long)sp[i].begin - 1);
        at = sp[i].end;
    }
    if (at != data_len)
        return fail(c, GB_ERR_FORMAT, (size_t)(c->end + at),
                    "the tensors cover %llu data bytes but the file has %llu",
                    (unsigned long long)at, (unsigned long long)data_len);
    return GB_OK;
}

static gb_status read_header(cursor *c, gb_st_file *f, span **sp, size_t **key_at) {
    size_t t_cap = 0, sp_cap = 0, meta_cap = 0, key_cap = 0;
    int have_meta = 0;
    gb_status st;
    /* The reference reader also insists on '{' as the very first byte. */
    if (c->pos >= c->end || c->p[c->pos] != '{')
        return fail(c, GB_ERR_FORMAT, c->pos, "does not start with '{'");
    c->pos++;
    if (peek(c) == '}') {
        c->pos++;
    } else {
        for (int closed = 0; !closed;) {
            peek(c);
            size_t key_at_pos = c->pos;
            if ((st = read_str(c)) != GB_OK || (st = expect(c, ':', "':'")) != GB_OK) return st;
            if (!strcmp((const char *)c->s.data, META_KEY)) {
                if (have_meta) return fail(c, GB_ERR_FORMAT, key_at_pos, "duplicate __metadata__");
                have_meta = 1;
                if ((st = read_meta(c, f, &meta_cap, key_at, &key_cap)) != GB_OK) return st;
            } else {
                if (c->s.len > GB_ST_MAX_NAME)
                    return fail(c, GB_ERR_LIMIT, key_at_pos,
                                "tensor name of %zu bytes, more than the limit of %d", c->s.len,
                                GB_ST_MAX_NAME);
                if (gb_grow((void **)&f->t, &t_cap, f->n + 1, sizeof *f->t) != GB_OK ||
                    gb_grow((void **)sp, &sp_cap, f->n + 1, sizeof **sp) != GB_OK)
                    return fail(c, GB_ERR_NOMEM, key_at_pos, "out of memory");
                gb_st_tensor *t = &f->t[f->n];
                memset(t, 0, sizeof *t);
                memcpy(t->name, c->s.data, c->s.len + 1);
                (*sp)[f->n] = (span){0, 0, key_at_pos, key_at_pos, f->n};
                if ((st = read_info(c, t, &(*sp)[f->n])) != GB_OK) return st;
                f->n++;
            }
            if ((st = member_end(c, &closed)) != GB_OK) return st;
        }
    }
    if (peek(c) != -1)
        return fail(c, GB_ERR_FORMAT, c->pos, "unexpected byte 0x%02x after the header's object",
                    c->p[c->pos]);
    return GB_OK;
}

/* Parses bytes; with own (whose data is bytes), moves the data section to the start of own's
 * buffer and keeps it rather than copying. */
static gb_status parse(const uint8_t *bytes, size_t len, gb_buf *own, gb_st_file *out,
                       gb_error *err) {
    if (len < 8)
        return gb_fail(err, GB_ERR_FORMAT, (int64_t)len,
                       "safetensors: file of %zu bytes is shorter than its 8-byte header length",
                       len);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)bytes[i] << (8 * i);
    if (hlen > GB_ST_MAX_HEADER)
        return gb_fail(err, GB_ERR_LIMIT, 0,
                       "safetensors: header length %llu is more than the limit of %u",
                       (unsigned long long)hlen, GB_ST_MAX_HEADER);
    if (hlen > len - 8)
        return gb_fail(err, GB_ERR_FORMAT, 0,
                       "safetensors: header length %llu runs past the end of the file "
                       "(%zu bytes)", (unsigned long long)hlen, len);
    cursor c = {bytes, 8, 8 + (size_t)hlen, err, {0}};
    size_t data_len = len - c.end;
    span *sp = NULL;
    size_t *key_at = NULL;
    gb_status st = read_header(&c, out, &sp, &key_at);
    if (st == GB_OK) st = check_unique(&c, out, sp, key_at);
    if (st == GB_OK) st = check_tiling(&c, out, sp, data_len);
    gb_buf_free(&c.s);
    free(key_at);
    if (st == GB_OK) {
        /* The data section starts at offset 0 of a malloc'd block and every tensor's size is a
         * multiple of 4 with no gaps, so every tensor's data is 4-byte aligned. */
        if (own) {
            memmove(own->data, own->data + c.end, data_len);
            own->len = data_len;
            out->buf = *own;
            memset(own, 0, sizeof *own);
        } else if (!(out->buf.data = malloc(data_len ? data_len : 1))) {
            st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu bytes", data_len);
        } else {
            memcpy(out->buf.data, bytes + c.end, data_len);
            out->buf.len = data_len;
            out->buf.cap = data_len ? data_len : 1;
        }
    }
    if (st == GB_OK) {
        if (!host_is_le()) swap32_all(out->buf.data, data_len / 4);
        for (size_t k = 0; k < out->n; k++) { /* sp is sorted by offset now: use its .i */
            gb_st_tensor *t = &out->t[sp[k].i];
            t->n = (size_t)((sp[k].end - sp[k].begin) / 4); /* the shape product, checked */
            t->data = (const float *)(const void *)(out->buf.data + sp[k].begin);
        }
    }
    free(sp);
    if (st != GB_OK) gb_st_free(out);
    return st;
}

gb_status gb_st_parse(const uint8_t *bytes, size_t len, gb_st_file *out, gb_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!out || (!bytes && len))
        return gb_fail(err, GB_ERR_ARG, -1, "gb_st_parse: missing argument");
    return parse(bytes, len, NULL, out, err);
}

gb_status gb_st_read(const char *path, gb_st_file *out, gb_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return gb_fail(err, GB_ERR_ARG, -1, "gb_st_read: missing argument");
    gb_buf b;
    /* No fixed file limit beyond what the address space allows: one copy of the file is all
     * the reader ever holds, and the caller chose to load it. */
    gb_status st = gb_file_read(path, SIZE_MAX / 2, &b, err);
    if (st != GB_OK) return st;
    st = parse(b.data, b.len, &b, out, err);
    gb_buf_free(&b);
    return st;
}

void gb_st_free(gb_st_file *f) {
    if (!f) return;
    free(f->t);
    for (size_t i = 0; i < 2 * f->n_meta; i++) free(f->meta[i]);
    free(f->meta);
    gb_buf_free(&f->buf);
    memset(f, 0, sizeof *f);
}

const gb_st_tensor *gb_st_find(const gb_st_file *f, const char *name) {
    if (!f || !name) return NULL;
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->t[i].name, name)) return &f->t[i];
    return NULL;
}

const char *gb_st_meta(const gb_st_file *f, const char *key) {
    if (!f || !key) return NULL;
    for (size_t i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta[2 * i], key)) return f->meta[2 * i + 1];
    return NULL;
}
