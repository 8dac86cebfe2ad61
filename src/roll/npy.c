/* npy.c - NumPy .npy files: piano rolls (uint8, shape (steps, 128)) and performance-event
 * token streams (uint16, shape (n,)). A writer of version 1.0 files and a reader that takes what
 * NumPy itself writes for such an array and refuses the rest. The layouts are in
 * docs/formats.md. The reader sees hostile bytes: it parses the header dict with a bounded
 * cursor that never reads past the declared header length. */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_ALIGN 64 /* NumPy aligns the data to 64 bytes so it can be memory-mapped */

/* A version 1.0 file: the header dict with descr and shape, padded so that the data starts at a
 * multiple of 64, then body bytes of data. */
static gb_status write_npy(const char *path, const char *descr, const char *shape,
                           const uint8_t *data, size_t body, gb_error *err) {
    char dict[128];
    size_t n = (size_t)snprintf(dict, sizeof dict,
                                "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr,
                                shape);
    size_t head = (10 + n + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN; /* +1: the '\n' */
    uint8_t *buf = malloc(head + body);
    if (!buf) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu bytes", head + body);
    memcpy(buf, NPY_MAGIC "\x01\x00", 8);
    buf[8] = (uint8_t)((head - 10) & 0xFF);
    buf[9] = (uint8_t)((head - 10) >> 8);
    memcpy(buf + 10, dict, n);
    memset(buf + 10 + n, ' ', head - 10 - n - 1);
    buf[head - 1] = '\n';
    if (body) memcpy(buf + head, data, body);
    gb_status st = gb_file_write_atomic(path, buf, head + body, err);
    free(buf);
    return st;
}

gb_status gb_npy_write(const char *path, const gb_roll *r, gb_error *err) {
    if (!path || !r || (r->steps && !r->v))
        return gb_fail(err, GB_ERR_ARG, -1, "gb_npy_write: missing argument");
    if (r->steps > GB_ROLL_MAX_STEPS)
        return gb_fail(err, GB_ERR_LIMIT, -1, "roll of %zu steps is more than the limit of %u",
                       r->steps, GB_ROLL_MAX_STEPS);
    char shape[48];
    snprintf(shape, sizeof shape, "(%zu, 128)", r->steps);
    return write_npy(path, "|u1", shape, r->v, r->steps * 128, err);
}

gb_status gb_npy_write_tokens(const char *path, const gb_tokens *t, gb_error *err) {
    if (!path || !t || (t->n && !t->v))
        return gb_fail(err, GB_ERR_ARG, -1, "gb_npy_write_tokens: missing argument");
    if (t->n > GB_EV_MAX_TOKENS)
        return gb_fail(err, GB_ERR_LIMIT, -1, "stream of %zu tokens is more than the limit of %u",
                       t->n, GB_EV_MAX_TOKENS);
    uint8_t *le = t->n ? malloc(t->n * 2) : NULL;
    if (t->n && !le) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu tokens", t->n);
    for (size_t i = 0; i < t->n; i++) { /* little-endian whatever the machine */
        le[2 * i] = (uint8_t)(t->v[i] & 0xFF);
        le[2 * i + 1] = (uint8_t)(t->v[i] >> 8);
    }
    char shape[48];
    snprintf(shape, sizeof shape, "(%zu,)", t->n);
    gb_status st = write_npy(path, "<u2", shape, le, t->n * 2, err);
    free(le);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading: the header is a Python dict literal, e.g.
 * {'descr': '|u1', 'fortran_order': False, 'shape': (3, 128), }
 * Only the subset NumPy writes is accepted: quoted strings without escapes, True/False, tuples
 * of non-negative integers. */

typedef struct {
    const uint8_t *p; /* the whole file, so that positions are file offsets */
    size_t pos, end;  /* end: one past the header's last byte */
    gb_error *err;
} cursor;

static gb_status bad(const cursor *c, size_t at, const char *what) {
    return gb_fail(c->err, GB_ERR_FORMAT, (int64_t)at, ".npy header: %s", what);
}

/* Skips white space; returns the next byte, or -1 at the end of the header. */
static int peek(cursor *c) {
    for (; c->pos < c->end; c->pos++) {
        uint8_t ch = c->p[c->pos];
        if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') return ch;
    }
    return -1;
}

static gb_status expect(cursor *c, int ch, const char *what) {
    if (peek(c) != ch) return bad(c, c->pos, what);
    c->pos++;
    return GB_OK;
}

/* A quoted string into s (NUL-terminated, shorter than cap). */
static gb_status read_str(cursor *c, char *s, size_t cap) {
    int q = peek(c);
    if (q != '\'' && q != '"') return bad(c, c->pos, "expected a quoted string");
    size_t n = 0;
    for (c->pos++; c->pos < c->end && c->p[c->pos] != q; c->pos++) {
        uint8_t ch = c->p[c->pos];
        if (ch < 0x20 || ch == '\\') return bad(c, c->pos, "unsupported character in a string");
        if (n + 1 >= cap) return bad(c, c->pos, "string too long");
        s[n++] = (char)ch;
    }
    if (c->pos >= c->end) return bad(c, c->pos, "unterminated string");
    c->pos++;
    s[n] = '\0';
    return GB_OK;
}

/* Digits, saturating at UINT64_MAX: a huge count is then refused by the limit checks. */
static gb_status read_uint(cursor *c, uint64_t *v) {
    int ch = peek(c);
    *v = 0;
    if (ch < '0' || ch > '9') return bad(c, c->pos, "expected a non-negative integer");
    for (; c->pos < c->end && c->p[c->pos] >= '0' && c->p[c->pos] <= '9'; c->pos++) {
        unsigned d = c->p[c->pos] - '0';
        *v = *v > (UINT64_MAX - 9) / 10 ? UINT64_MAX : *v * 10 + d;
    }
    return GB_OK;
}

/* A tuple of integers: "()", "(5,)", "(5, 128)", "(5,128,)". Keeps the first two. */
static gb_status read_shape(cursor *c, uint64_t dims[2], size_t *ndims) {
    gb_status st = expect(c, '(', "shape is not a tuple");
    if (st != GB_OK) return st;
    *ndims = 0;
    for (int ch = peek(c); ch != ')'; ch = peek(c)) {
        uint64_t d;
        if ((st = read_uint(c, &d)) != GB_OK) return st;
        if (*ndims < 2) dims[*ndims] = d;
        (*ndims)++;
        if (peek(c) == ',') c->pos++;
        else if (peek(c) != ')') return bad(c, c->pos, "expected ',' or ')' in the shape");
    }
    c->pos++;
    return GB_OK;
}

/* What the caller wants: a roll (uint8, (N, 128)) or a token stream (uint16, (N,)). */
typedef enum { NPY_ROLL, NPY_TOKENS } npy_kind;

static int descr_ok(npy_kind kind, const char *v, int *big_endian) {
    *big_endian = 0;
    if (kind == NPY_ROLL)
        return !strcmp(v, "|u1") || !strcmp(v, "<u1") || !strcmp(v, "u1") || !strcmp(v, "|b1");
    if (!strcmp(v, "<u2")) return 1;
    return *big_endian = !strcmp(v, ">u2");
}

/* The header dict; *n: the rows of a roll or the tokens of a stream. */
static gb_status read_header(cursor *c, npy_kind kind, uint64_t *n, int *big_endian) {
    gb_status st = expect(c, '{', "expected '{'");
    if (st != GB_OK) return st;
    int seen = 0; /* bits: 1 descr, 2 fortran_order, 4 shape */
    while (peek(c) != '}') {
        size_t key_at = c->pos;
        char key[16], val[16];
        if ((st = read_str(c, key, sizeof key)) != GB_OK ||
            (st = expect(c, ':', "expected ':' after a key")) != GB_OK)
            return st;
        peek(c); /* to the value, whose position errors report */
        size_t at = c->pos;
        int bit = !strcmp(key, "descr") ? 1 : !strcmp(key, "fortran_order") ? 2
                : !strcmp(key, "shape") ? 4 : 0;
        if (!bit) return bad(c, key_at, "unknown key");
        if (seen & bit) return bad(c, key_at, "duplicate key");
        seen |= bit;
        if (bit == 1) {
            if ((st = read_str(c, val, sizeof val)) != GB_OK) return st;
            if (!descr_ok(kind, val, big_endian))
                return kind == NPY_ROLL
                           ? gb_fail(c->err, GB_ERR_FORMAT, (int64_t)at,
                                     ".npy header: descr '%s' is not uint8", val)
                           : gb_fail(c->err, GB_ERR_FORMAT, (int64_t)at,
                                     ".npy header: descr '%s' is not uint16 (a token file is "
                                     "np.save(path, tokens.astype(np.uint16)))", val);
        } else if (bit == 2) {
            if (c->end - c->pos >= 5 && !memcmp(c->p + c->pos, "False", 5)) c->pos += 5;
            else if (c->end - c->pos >= 4 && !memcmp(c->p + c->pos, "True", 4))
                return bad(c, at, "fortran_order True is not supported");
            else return bad(c, at, "fortran_order is not True or False");
        } else {
            uint64_t dims[2];
            size_t nd;
            if ((st = read_shape(c, dims, &nd)) != GB_OK) return st;
            if (kind == NPY_ROLL) {
                if (nd != 2 || dims[1] != 128) return bad(c, at, "shape is not (N, 128)");
                if (dims[0] > GB_ROLL_MAX_STEPS)
                    return gb_fail(c->err, GB_ERR_LIMIT, (int64_t)at,
                                   ".npy shape has %llu steps, more than the limit of %u",
                                   (unsigned long long)dims[0], GB_ROLL_MAX_STEPS);
            } else {
                if (nd != 1)
                    return bad(c, at, "shape is not (N,): a token file holds one stream, a "
                                      "1-dimensional array");
                if (dims[0] > GB_EV_MAX_TOKENS)
                    return gb_fail(c->err, GB_ERR_LIMIT, (int64_t)at,
                                   ".npy shape has %llu tokens, more than the limit of %u",
                                   (unsigned long long)dims[0], GB_EV_MAX_TOKENS);
            }
            *n = dims[0];
        }
        if (peek(c) == ',') c->pos++;
        else if (peek(c) != '}') return bad(c, c->pos, "expected ',' or '}'");
    }
    c->pos++;
    if (peek(c) != -1) return bad(c, c->pos, "text after the dict");
    if (seen != 7)
        return bad(c, c->pos, !(seen & 1) ? "no 'descr'" : !(seen & 2) ? "no 'fortran_order'"
                                                                         : "no 'shape'");
    return GB_OK;
}

/* The preamble and the header of a file of the given kind: *n as read_header, *data the offset
 * of the first data byte. */
static gb_status parse_head(const uint8_t *bytes, size_t len, npy_kind kind, uint64_t *n,
                            int *big_endian, size_t *data, gb_error *err) {
    if (len < 6 || memcmp(bytes, NPY_MAGIC, 6) != 0)
        return gb_fail(err, GB_ERR_FORMAT, 0, "not a .npy file (no \\x93NUMPY magic)");
    /* Version 1 has a 16-bit header length; 2 and 3 (3: UTF-8 header) a 32-bit one. */
    size_t lsize = len < 8 ? 0 : bytes[6] == 1 ? 2 : bytes[6] == 2 || bytes[6] == 3 ? 4 : 0;
    if (len >= 8 && !lsize)
        return gb_fail(err, GB_ERR_FORMAT, 6, "unsupported .npy version %d.%d", bytes[6],
                       bytes[7]);
    size_t hstart = 8 + lsize;
    if (!lsize || len < hstart)
        return gb_fail(err, GB_ERR_FORMAT, (int64_t)len, ".npy file ends inside its preamble");
    uint64_t hlen = bytes[8] | (uint64_t)bytes[9] << 8;
    if (lsize == 4) hlen |= (uint64_t)bytes[10] << 16 | (uint64_t)bytes[11] << 24;
    if (hlen > len - hstart)
        return gb_fail(err, GB_ERR_FORMAT, 8,
                       ".npy header length %llu runs past the end of the file (%zu bytes)",
                       (unsigned long long)hlen, len);
    cursor c = {bytes, hstart, hstart + (size_t)hlen, err};
    *n = 0;
    gb_status st = read_header(&c, kind, n, big_endian);
    *data = c.end;
    return st;
}

gb_status gb_npy_parse(const uint8_t *bytes, size_t len, gb_roll *out, gb_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!out || (!bytes && len))
        return gb_fail(err, GB_ERR_ARG, -1, "gb_npy_parse: missing argument");
    uint64_t steps;
    size_t data;
    int big;
    gb_status st = parse_head(bytes, len, NPY_ROLL, &steps, &big, &data, err);
    if (st != GB_OK) return st;
    size_t want = (size_t)steps * 128, have = len - data;
    if (have != want)
        return gb_fail(err, GB_ERR_FORMAT, (int64_t)(have < want ? len : data + want),
                       ".npy data is %zu bytes, shape (%llu, 128) needs %zu", have,
                       (unsigned long long)steps, want);
    if (steps) {
        if (!(out->v = malloc(want)))
            return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu bytes", want);
        memcpy(out->v, bytes + data, want);
    }
    out->steps = (size_t)steps;
    return GB_OK;
}

gb_status gb_npy_read(const char *path, gb_roll *out, gb_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return gb_fail(err, GB_ERR_ARG, -1, "gb_npy_read: missing argument");
    gb_buf b;
    gb_status st = gb_file_read(path, (size_t)GB_ROLL_MAX_STEPS * 128 + 65536, &b, err);
    if (st != GB_OK) return st;
    st = gb_npy_parse(b.data, b.len, out, err);
    gb_buf_free(&b);
    return st;
}

gb_status gb_npy_parse_tokens(const uint8_t *bytes, size_t len, gb_tokens *out, gb_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!out || (!bytes && len))
        return gb_fail(err, GB_ERR_ARG, -1, "gb_npy_parse_tokens: missing argument");
    uint64_t n;
    size_t data;
    int big;
    gb_status st = parse_head(bytes, len, NPY_TOKENS, &n, &big, &data, err);
    if (st != GB_OK) return st;
    size_t want = (size_t)n * 2, have = len - data;
    if (have != want)
        return gb_fail(err, GB_ERR_FORMAT, (int64_t)(have < want ? len : data + want),
                       ".npy data is %zu bytes, shape (%llu,) of uint16 needs %zu", have,
                       (unsigned long long)n, want);
    uint16_t *v = n ? malloc(want) : NULL;
    if (n && !v) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu bytes", want);
    for (size_t i = 0; i < (size_t)n; i++) {
        const uint8_t *p = bytes + data + 2 * i;
        unsigned t = big ? (unsigned)(p[0] << 8 | p[1]) : (unsigned)(p[1] << 8 | p[0]);
        if (t >= GB_EV_VOCAB_ENSEMBLE) {
            free(v);
            return gb_fail(err, GB_ERR_FORMAT, (int64_t)(data + 2 * i),
                           "token %zu is %u, outside the vocabulary (0..%d)", i, t,
                           GB_EV_VOCAB_ENSEMBLE - 1);
        }
        v[i] = (uint16_t)t;
    }
    out->v = v;
    out->n = (size_t)n;
    return GB_OK;
}

gb_status gb_npy_read_tokens(const char *path, gb_tokens *out, gb_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out)
        return gb_fail(err, GB_ERR_ARG, -1, "gb_npy_read_tokens: missing argument");
    gb_buf b;
    gb_status st = gb_file_read(path, (size_t)GB_EV_MAX_TOKENS * 2 + 65536, &b, err);
    if (st != GB_OK) return st;
    st = gb_npy_parse_tokens(b.data, b.len, out, err);
    gb_buf_free(&b);
    return st;
}
