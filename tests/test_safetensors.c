/* test_safetensors.c - checkpoints (.safetensors): write then read back bit-exactly, the exact
 * bytes of a tiny file, every hostile header the reader must refuse (with its message and
 * offset), every truncation and many byte flips of a valid file, atomic writes, and an
 * independent check both ways with Debian's /usr/bin/python3 + NumPy parsing by the spec. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "test.h"
#include "tmpdir.h"

/* ---- helpers ---- */

/* Names in a directory, sorted and joined with '|'. */
static void dir_list(const char *dir, char *out, size_t cap) {
    char names[16][128];
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && n < 16)
            snprintf(names[n++], sizeof names[0], "%.127s", e->d_name);
    if (d) closedir(d);
    for (int i = 1; i < n; i++) /* insertion sort: a handful of names */
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[128];
            memcpy(t, names[j], sizeof t);
            memcpy(names[j], names[j - 1], sizeof t);
            memcpy(names[j - 1], t, sizeof t);
        }
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%s", i ? "|" : "", names[i]);
    }
}

static int write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n;
}

/* zlib's CRC-32, so that Python's zlib.crc32 can check the same bytes. */
static uint32_t crc32_le(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c >> 1 ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static float f_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* One line per tensor, the format the Python scripts print: hex(name) shape crc32 sum, where
 * crc32 is of the little-endian float bytes (bit-exactness) and sum is of the finite values as
 * doubles (values here are chosen so that every order of summing is exact or rounds alike). */
static void tensor_line(char *out, size_t cap, const char *name, int ndim, const int64_t *shape,
                        const float *data, size_t n) {
    size_t l = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        l += (size_t)snprintf(out + l, cap - l, "%02x", *p);
    l += (size_t)snprintf(out + l, cap - l, " ");
    for (int d = 0; d < ndim; d++)
        l += (size_t)snprintf(out + l, cap - l, d ? "x%lld" : "%lld", (long long)shape[d]);
    if (!ndim) l += (size_t)snprintf(out + l, cap - l, "-");
    uint8_t *le = malloc(n * 4 + 1);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &data[i], 4);
        for (int k = 0; k < 4; k++) le[4 * i + k] = (uint8_t)(u >> (8 * k));
        if (isfinite(data[i])) sum += data[i];
    }
    snprintf(out + l, cap - l, " %08x %.17g\n", (unsigned)crc32_le(le, n * 4), sum);
    free(le);
}

static void hexs(char *out, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, out += 2)
        sprintf(out, "%02x", *p);
    *out = '\0';
}

/* The lines of a whole file as read by us: tensors in header order, then metadata by key. */
static void file_lines(const gb_st_file *f, char *out, size_t cap) {
    out[0] = '\0';
    for (size_t i = 0; i < f->n; i++) {
        size_t l = strlen(out);
        tensor_line(out + l, cap - l, f->t[i].name, f->t[i].ndim, f->t[i].shape, f->t[i].data,
                    f->t[i].n);
    }
    size_t order[64], m = f->n_meta < 64 ? f->n_meta : 64;
    for (size_t i = 0; i < m; i++) order[i] = i;
    for (size_t i = 1; i < m; i++)
        for (size_t j = i; j > 0 && strcmp(f->meta[2 * order[j - 1]], f->meta[2 * order[j]]) > 0;
             j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t i = 0; i < m; i++) {
        char k[600], v[600];
        hexs(k, f->meta[2 * order[i]]);
        hexs(v, f->meta[2 * order[i] + 1]);
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "meta %s %s\n", k, v);
    }
}

/* Runs a command, returning its exit status and its output (stdout and stderr). */
static int run_cmd(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    out[0] = '\0';
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int is_zeroed(const gb_st_file *f) {
    return !f->t && !f->n && !f->meta && !f->n_meta && !f->buf.data && !f->buf.len;
}

/* ---- a sample checkpoint ---- */

static float w_emb[3 * 4], w_hh[2 * 3 * 5 * 7], w_special[8], w_scalar = 42.5f;

static void fill_samples(void) {
    for (int i = 0; i < 12; i++) w_emb[i] = (float)i * 0.25f - 1.0f;
    for (int i = 0; i < 2 * 3 * 5 * 7; i++) /* k / 2^20: sums of these are exact in double */
        w_hh[i] = (float)((int)((uint32_t)i * 7919u % 1048576u) - 524288) / 1048576.0f;
    /* NaN with payload, infinities, -0.0, the smallest denormal, FLT_MAX, 1: bits must survive */
    const uint32_t bits[8] = {0x7FC00123u, 0x7F800000u, 0xFF800000u, 0x80000000u,
                              0x00000001u, 0x7F7FFFFFu, 0x3F800000u, 0xFFFFFFFFu};
    for (int i = 0; i < 8; i++) w_special[i] = f_bits(bits[i]);
}

static const gb_st_tensor_in samples[] = {
    {"emb.weight", w_emb, 2, {3, 4}},
    {"lstm.w_hh \"q\" \\ \n\x01 ünï 🎹", w_hh, 4, {2, 3, 5, 7}},
    {"special", w_special, 1, {8}},
    {"scalar", &w_scalar, 0, {0}},
    {"empty", NULL, 2, {0, 5}},
};
#define N_SAMPLES (sizeof samples / sizeof samples[0])
static const char *const sample_meta[] = {"format", "pt", "groovybee", "0.1.0 \"é\" ✓ 🎵 \t",
                                          "", "empty key", NULL};

static void sample_lines(char *out, size_t cap) {
    out[0] = '\0';
    for (size_t i = 0; i < N_SAMPLES; i++) {
        const gb_st_tensor_in *t = &samples[i];
        size_t n = 1;
        for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
        size_t l = strlen(out);
        tensor_line(out + l, cap - l, t->name, t->ndim, t->shape, t->data, n);
    }
    /* metadata by key: "", "format", "groovybee" */
    const int order[3] = {2, 0, 1};
    for (int i = 0; i < 3; i++) {
        char k[600], v[600];
        hexs(k, sample_meta[2 * order[i]]);
        hexs(v, sample_meta[2 * order[i] + 1]);
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "meta %s %s\n", k, v);
    }
}

/* ---- round trip ---- */

static void check_samples(const gb_st_file *f) {
    CHECK_INT(f->n, N_SAMPLES);
    for (size_t i = 0; i < N_SAMPLES && i < f->n; i++) {
        const gb_st_tensor_in *w = &samples[i];
        const gb_st_tensor *r = &f->t[i];
        CHECK(!strcmp(r->name, w->name));
        CHECK(gb_st_find(f, w->name) == r);
        CHECK_INT(r->ndim, w->ndim);
        size_t n = 1;
        for (int d = 0; d < w->ndim; d++) {
            CHECK_INT(r->shape[d], w->shape[d]);
            n *= (size_t)w->shape[d];
        }
        CHECK_INT(r->n, n);
        CHECK(r->data != NULL);
        CHECK((uintptr_t)r->data % 4 == 0);
        if (n) CHECK(r->data && !memcmp(r->data, w->data, n * 4)); /* bit-exact, NaNs too */
    }
    CHECK(gb_st_find(f, "missing") == NULL);
    CHECK_INT(f->n_meta, 3);
    for (int i = 0; sample_meta[2 * i]; i++) {
        const char *v = gb_st_meta(f, sample_meta[2 * i]);
        CHECK(v && !strcmp(v, sample_meta[2 * i + 1]));
        if (i < (int)f->n_meta) CHECK(!strcmp(f->meta[2 * i], sample_meta[2 * i])); /* order */
    }
    CHECK(gb_st_meta(f, "nope") == NULL);
}

static void test_roundtrip(void) {
    const char *path = tmp_path("rt.safetensors");
    gb_error e = {0};
    CHECK_INT(gb_st_write(path, samples, N_SAMPLES, sample_meta, &e), GB_OK);
    gb_st_file f;
    CHECK_INT(gb_st_read(path, &f, &e), GB_OK);
    check_samples(&f);
    gb_st_free(&f);
    gb_st_free(&f); /* twice is harmless */

    /* From memory, at an odd address: the reader copies, so alignment of the input is free. */
    gb_buf b;
    CHECK_INT(gb_st_encode(samples, N_SAMPLES, sample_meta, &b, &e), GB_OK);
    CHECK(b.len > 8 && b.data[0] % 8 == 0); /* header length: the data starts 8-aligned */
    uint8_t *odd = malloc(b.len + 1);
    memcpy(odd + 1, b.data, b.len);
    CHECK_INT(gb_st_parse(odd + 1, b.len, &f, &e), GB_OK);
    check_samples(&f);
    gb_st_free(&f);
    free(odd);
    gb_buf_free(&b);

    /* No tensors, no metadata: "{}" and 6 spaces. */
    CHECK_INT(gb_st_encode(NULL, 0, NULL, &b, &e), GB_OK);
    CHECK_INT(b.len, 16);
    CHECK(b.len == 16 && !memcmp(b.data, "\x08\0\0\0\0\0\0\0{}      ", 16));
    CHECK_INT(gb_st_parse(b.data, b.len, &f, &e), GB_OK);
    CHECK_INT(f.n, 0);
    CHECK_INT(f.n_meta, 0);
    gb_st_free(&f);
    gb_buf_free(&b);
}

/* ---- the exact bytes of a tiny file ---- */

static void test_exact_bytes(void) {
    const float a[2] = {1.0f, -2.0f}, s = 0.5f;
    const gb_st_tensor_in t[2] = {{"a", a, 1, {2}}, {"b", &s, 0, {0}}};
    const char *const meta[] = {"format", "pt", NULL};
    const char want_header[] =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[8,12]}}"
        "      "; /* 138 bytes of JSON + 6 spaces = 144, a multiple of 8 */
    const uint8_t want_len[8] = {144, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t want_data[12] = {0x00, 0x00, 0x80, 0x3F,  /* 1.0 */
                                   0x00, 0x00, 0x00, 0xC0,  /* -2.0 */
                                   0x00, 0x00, 0x00, 0x3F}; /* 0.5 */
    CHECK_INT(sizeof want_header - 1, 144);
    const char *path = tmp_path("tiny.safetensors");
    gb_error e = {0};
    CHECK_INT(gb_st_write(path, t, 2, meta, &e), GB_OK);
    uint8_t got[256];
    FILE *fp = fopen(path, "rb");
    size_t n = fp ? fread(got, 1, sizeof got, fp) : 0;
    if (fp) fclose(fp);
    CHECK_INT(n, 8 + 144 + 12);
    if (n == 8 + 144 + 12) {
        CHECK(!memcmp(got, want_len, 8));
        CHECK(!memcmp(got + 8, want_header, 144));
        CHECK(!memcmp(got + 152, want_data, 12));
        if (memcmp(got + 8, want_header, 144))
            fprintf(stderr, "  got header: %.144s\n", (const char *)got + 8);
    }
}

/* ---- hostile input ---- */

/* A file of the given header (N = its length) and data bytes. */
static size_t build(uint8_t *out, const char *json, size_t data_len) {
    size_t n = strlen(json);
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(out + 8, json, n);
    for (size_t i = 0; i < data_len; i++) out[8 + n + i] = (uint8_t)(i * 7 + 1);
    return 8 + n + data_len;
}

/* Expects status and a message containing sub; when at is given, the error's offset is that of
 * at's first occurrence in the header (8 + its index), or of the byte after a '^' in at (which
 * is not searched for). */
static void expect_bad_bytes(const uint8_t *b, size_t len, gb_status want, const char *sub,
                             int64_t want_off, const char *label) {
    gb_st_file f;
    gb_error e = {GB_OK, -7, ""};
    gb_status st = gb_st_parse(b, len, &f, &e);
    int before = tst_checks_failed;
    CHECK_INT(st, want);
    CHECK_INT(e.status, want);
    CHECK_STR_HAS(e.msg, sub);
    CHECK(is_zeroed(&f));
    if (want_off != -2) CHECK_INT(e.offset, want_off);
    CHECK(e.offset >= -1 && e.offset <= (int64_t)len);
    if (tst_checks_failed != before) fprintf(stderr, "    (case %s: \"%s\")\n", label, e.msg);
    gb_st_free(&f);
}

static void expect_bad(const char *json, size_t data_len, gb_status want, const char *sub,
                       const char *at) {
    static uint8_t b[4096];
    size_t len = build(b, json, data_len);
    int64_t off = -2;
    if (at) {
        char m[256];
        const char *caret = strchr(at, '^');
        size_t skip = caret ? (size_t)(caret - at) : 0;
        snprintf(m, sizeof m, "%.*s%s", (int)skip, at, caret ? caret + 1 : at + skip);
        const char *p = strstr(json, m);
        CHECK(p != NULL);
        off = p ? 8 + (p - json) + (int64_t)skip : -2;
    }
    expect_bad_bytes(b, len, want, sub, off, json);
}

#define T1(shape, offs) "{\"dtype\":\"F32\",\"shape\":" shape ",\"data_offsets\":" offs "}"

static void test_hostile_framing(void) {
    uint8_t b[64] = {0};
    for (size_t n = 0; n < 8; n++)
        expect_bad_bytes(b, n, GB_ERR_FORMAT, "shorter than its 8-byte header length",
                         (int64_t)n, "short");
    /* header length past the end; over 100 MB (before looking for the bytes); 2^64 - 1 */
    size_t len = build(b, "{}", 0);
    b[0] = 3;
    expect_bad_bytes(b, len, GB_ERR_FORMAT, "runs past the end of the file", 0, "past end");
    const uint64_t big[3] = {100000001u, UINT64_MAX, (uint64_t)1 << 40};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 8; i++) b[i] = (uint8_t)(big[k] >> (8 * i));
        expect_bad_bytes(b, len, GB_ERR_LIMIT, "more than the limit of 100000000", 0, "huge");
    }
    /* exactly 100000000 is allowed by the limit, so this one fails only for running past */
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)100000000u >> (8 * i));
    expect_bad_bytes(b, len, GB_ERR_FORMAT, "runs past the end", 0, "limit");
}

static void test_hostile_json(void) {
    expect_bad("", 0, GB_ERR_FORMAT, "does not start with '{'", NULL);
    expect_bad(" {}", 0, GB_ERR_FORMAT, "does not start with '{'", " ");
    expect_bad("[]", 0, GB_ERR_FORMAT, "does not start with '{'", "[");
    expect_bad("{", 0, GB_ERR_FORMAT, "expected a string", NULL);
    expect_bad("{}x", 0, GB_ERR_FORMAT, "unexpected byte 0x78 after", "x");
    expect_bad("{}}", 0, GB_ERR_FORMAT, "unexpected byte", "}^}");
    expect_bad("{\"a\":" T1("[1]", "[0,4]") ",}", 4, GB_ERR_FORMAT, "expected a string", ",^}");
    expect_bad("{\"a\" {", 0, GB_ERR_FORMAT, "expected ':'", "\" ^{");
    expect_bad("{\"a\":" T1("[1]", "[0,4]"), 4, GB_ERR_FORMAT, "expected ',' or '}'", NULL);
    expect_bad("{\"a\":" T1("[1]", "[0,4]") " \"b\"", 4, GB_ERR_FORMAT, "expected ',' or '}'",
               "\"b\"");
    expect_bad("{\"abc", 0, GB_ERR_FORMAT, "string runs past the end", "\"abc");
    expect_bad("{\"abc\\", 0, GB_ERR_FORMAT, "string runs past the end", "\\");
    expect_bad("{\"a\\x\":{}}", 0, GB_ERR_FORMAT, "invalid escape", "\\x");
    expect_bad("{\"a\\u12\":{}}", 0, GB_ERR_FORMAT, "\\u not followed by 4 hex digits", "\\u");
    expect_bad("{\"a\\u12g4\":{}}", 0, GB_ERR_FORMAT, "\\u not followed", "\\u");
    expect_bad("{\"\\ud800\":{}}", 0, GB_ERR_FORMAT, "unpaired UTF-16 surrogate \\uD800", "\\u");
    expect_bad("{\"\\ud800\\u0041\":{}}", 0, GB_ERR_FORMAT, "unpaired", "\\u");
    expect_bad("{\"\\udc00\":{}}", 0, GB_ERR_FORMAT, "unpaired UTF-16 surrogate \\uDC00", "\\u");
    expect_bad("{\"a\\u0000b\":{}}", 0, GB_ERR_FORMAT, "NUL", "\\u");
    expect_bad("{\"a\x01\":{}}", 0, GB_ERR_FORMAT, "control character 0x01", "\x01");
    expect_bad("{\"a\n\":{}}", 0, GB_ERR_FORMAT, "control character 0x0a", "\n");
    expect_bad("{\"\xff\":{}}", 0, GB_ERR_FORMAT, "invalid UTF-8", "\xff");
    expect_bad("{\"\xc0\x80\":{}}", 0, GB_ERR_FORMAT, "invalid UTF-8", "\xc0");
    expect_bad("{\"\xe0\x80\x80\":{}}", 0, GB_ERR_FORMAT, "invalid UTF-8", "\xe0");
    expect_bad("{\"\xed\xa0\x80\":{}}", 0, GB_ERR_FORMAT, "invalid UTF-8", "\xed");
    expect_bad("{\"\xf4\x90\x80\x80\":{}}", 0, GB_ERR_FORMAT, "invalid UTF-8", "\xf4");
    expect_bad("{\"\xe2\x82\":{}}", 0, GB_ERR_FORMAT, "invalid UTF-8", "\xe2");
    expect_bad("{\"a\":null}", 0, GB_ERR_FORMAT, "tensor 'a': expected an object", "null");
    expect_bad("{\"a\":[1]}", 0, GB_ERR_FORMAT, "expected an object", "[");
    expect_bad("{1:{}}", 0, GB_ERR_FORMAT, "expected a string", "1");
}

static void test_hostile_tensors(void) {
    /* dtype */
    expect_bad("{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2,
               GB_ERR_FORMAT, "tensor 'a' has dtype 'F16'; only F32 is supported", "\"F16\"");
    expect_bad("{\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2,
               GB_ERR_FORMAT, "dtype 'BF16'", "\"BF16\"");
    expect_bad("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               GB_ERR_FORMAT, "dtype 'f32'", "\"f32\"");
    expect_bad("{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, GB_ERR_FORMAT,
               "expected a string", "32");
    /* numbers */
    expect_bad("{\"a\":" T1("[1.5]", "[0,4]") "}", 4, GB_ERR_FORMAT,
               "number in shape is not an integer", "1.5");
    expect_bad("{\"a\":" T1("[1e3]", "[0,4]") "}", 4, GB_ERR_FORMAT, "not an integer", "1e3");
    expect_bad("{\"a\":" T1("[-1]", "[0,4]") "}", 4, GB_ERR_FORMAT, "negative number in shape",
               "-1");
    expect_bad("{\"a\":" T1("[01]", "[0,4]") "}", 4, GB_ERR_FORMAT, "leading zero", "01");
    expect_bad("{\"a\":" T1("[18446744073709551616]", "[0,4]") "}", 4, GB_ERR_FORMAT,
               "larger than 2^64 - 1", "18446744073709551616");
    expect_bad("{\"a\":" T1("[1,]", "[0,4]") "}", 4, GB_ERR_FORMAT,
               "expected a non-negative integer in shape", ",^]");
    expect_bad("{\"a\":" T1("[1 2]", "[0,4]") "}", 4, GB_ERR_FORMAT, "expected ',' or ']'",
               "1 ^2]");
    expect_bad("{\"a\":" T1("[\"1\"]", "[0,4]") "}", 4, GB_ERR_FORMAT,
               "expected a non-negative integer", "\"1\"");
    expect_bad("{\"a\":" T1("1", "[0,4]") "}", 4, GB_ERR_FORMAT, "expected '['", "1,");
    expect_bad("{\"a\":" T1("[1]", "[0,4") "}", 4, GB_ERR_FORMAT, "expected ',' or ']'", "}}");
    /* shape product overflow, in elements and in bytes; a dimension above int64 */
    expect_bad("{\"a\":" T1("[4294967296,4294967296]", "[0,4]") "}", 4, GB_ERR_LIMIT,
               "shape product overflows", "[4294967296");
    expect_bad("{\"a\":" T1("[4611686018427387904]", "[0,4]") "}", 4, GB_ERR_LIMIT,
               "shape product overflows", "[4611686018427387904");
    expect_bad("{\"a\":" T1("[0,9223372036854775808]", "[0,0]") "}", 0, GB_ERR_LIMIT,
               "dimension 1 is above 2^63", "[0,");
    /* ndim */
    expect_bad("{\"a\":" T1("[1,1,1,1,1]", "[0,4]") "}", 4, GB_ERR_LIMIT,
               "shape has more than 4 entries", "1]");
    /* data_offsets */
    expect_bad("{\"a\":" T1("[2]", "[0,4]") "}", 4, GB_ERR_FORMAT,
               "tensor 'a': data_offsets span 4 bytes, its shape needs 8", "[0,4]");
    expect_bad("{\"a\":" T1("[1]", "[0,4,8]") "}", 8, GB_ERR_FORMAT,
               "data_offsets has more than 2 entries", "8]");
    expect_bad("{\"a\":" T1("[1]", "[4]") "}", 4, GB_ERR_FORMAT,
               "data_offsets must be [begin, end]", "[4]");
    expect_bad("{\"a\":" T1("[0]", "[]") "}", 0, GB_ERR_FORMAT, "data_offsets must be", "[]");
    expect_bad("{\"a\":" T1("[1]", "[8,4]") "}", 8, GB_ERR_FORMAT, "end before they begin",
               "[8,4]");
    expect_bad("{\"a\":" T1("[2]", "[0,8]") "}", 4, GB_ERR_FORMAT,
               "data_offsets [0, 8] run past the end of the data (4 bytes)", "[0,8]");
    expect_bad("{\"a\":" T1("[4611686018427387903]", "[0,18446744073709551612]") "}", 4,
               GB_ERR_FORMAT, "run past the end", "[0,1844");
    expect_bad("{\"a\":" T1("[2]", "[0,8]") ",\"b\":" T1("[2]", "[4,12]") "}", 12,
               GB_ERR_FORMAT, "tensor 'b': data_offsets [4, 12] overlap tensor 'a'", "[4,12]");
    expect_bad("{\"b\":" T1("[2]", "[4,12]") ",\"a\":" T1("[2]", "[0,8]") "}", 12,
               GB_ERR_FORMAT, "overlap", "[4,12]");
    expect_bad("{\"a\":" T1("[2]", "[0,8]") ",\"b\":" T1("[2]", "[0,8]") "}", 8, GB_ERR_FORMAT,
               "overlap", NULL);
    expect_bad("{\"a\":" T1("[1]", "[0,4]") ",\"b\":" T1("[1]", "[8,12]") "}", 12,
               GB_ERR_FORMAT, "tensor 'b': data_offsets [8, 12] leave bytes 4..7 unused",
               "[8,12]");
    expect_bad("{\"a\":" T1("[1]", "[0,4]") "}", 8, GB_ERR_FORMAT,
               "the tensors cover 4 data bytes but the file has 8", NULL);
    expect_bad("{\"a\":" T1("[1]", "[4,8]") "}", 8, GB_ERR_FORMAT, "leave bytes 0..3 unused",
               "[4,8]");
    /* keys of a tensor */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 0, GB_ERR_FORMAT,
               "tensor 'a' has no data_offsets", "{\"dtype");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, GB_ERR_FORMAT,
               "has no shape", "{\"dtype");
    expect_bad("{\"a\":{}}", 0, GB_ERR_FORMAT, "tensor 'a' has no dtype", "}}");
    expect_bad("{\"a\":{\"dtypo\":\"F32\"}}", 0, GB_ERR_FORMAT, "tensor 'a': unknown key 'dtypo'",
               "\"dtypo\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
               4, GB_ERR_FORMAT, "tensor 'a': duplicate key 'dtype'", "\"dtype\":\"F32\",\"shape");
    expect_bad("{\"a\":{\"dtype\":\"F32\",}}", 0, GB_ERR_FORMAT, "expected a string", ",^}");
    /* names */
    expect_bad("{\"a\":" T1("[1]", "[0,4]") ",\"a\":" T1("[1]", "[4,8]") "}", 8, GB_ERR_FORMAT,
               "duplicate tensor name 'a'", "\"a\":" T1("[1]", "[4,8]"));
    expect_bad("{\"a\":" T1("[1]", "[0,4]") ",\"\\u0061\":" T1("[1]", "[4,8]") "}", 8,
               GB_ERR_FORMAT, "duplicate tensor name 'a'", "\"\\u0061");
    char json[1024], name[200];
    memset(name, 'n', 128);
    name[128] = '\0';
    snprintf(json, sizeof json, "{\"%s\":" T1("[1]", "[0,4]") "}", name);
    expect_bad(json, 4, GB_ERR_LIMIT, "tensor name of 128 bytes, more than the limit of 127", "\"");
    /* 127 bytes is fine, and so are 127 bytes that take escapes to write */
    name[127] = '\0';
    snprintf(json, sizeof json, "{\"%s\":" T1("[1]", "[0,4]") "}", name);
    uint8_t b[2048];
    gb_st_file f;
    gb_error e = {0};
    CHECK_INT(gb_st_parse(b, build(b, json, 4), &f, &e), GB_OK);
    CHECK(f.n == 1 && strlen(f.t[0].name) == 127);
    gb_st_free(&f);
    /* the empty name, 4 dimensions, a zero-size tensor amid others, scalars */
    const char *ok = "{\"\":" T1("[1,1,1,1]", "[0,4]") ",\"z\":" T1("[3,0,2]", "[4,4]")
                     ",\"s\":" T1("[]", "[4,8]") "} \t\r\n ";
    CHECK_INT(gb_st_parse(b, build(b, ok, 8), &f, &e), GB_OK);
    CHECK_INT(f.n, 3);
    if (f.n == 3) {
        CHECK_INT(f.t[0].ndim, 4);
        CHECK_INT(f.t[0].n, 1);
        CHECK_INT(f.t[1].n, 0);
        CHECK_INT(f.t[1].shape[1], 0);
        CHECK_INT(f.t[2].ndim, 0);
        CHECK_INT(f.t[2].n, 1);
        CHECK(gb_st_find(&f, "") == &f.t[0]);
    }
    gb_st_free(&f);
}

static void test_hostile_metadata(void) {
    expect_bad("{\"__metadata__\":{\"k\":1}}", 0, GB_ERR_FORMAT,
               "__metadata__ value of 'k' is not a string", "1}");
    expect_bad("{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0, GB_ERR_FORMAT, "is not a string",
               "{\"x");
    expect_bad("{\"__metadata__\":{\"k\":null}}", 0, GB_ERR_FORMAT, "is not a string", "null");
    expect_bad("{\"__metadata__\":{\"k\":[\"v\"]}}", 0, GB_ERR_FORMAT, "is not a string", "[");
    expect_bad("{\"__metadata__\":\"x\"}", 0, GB_ERR_FORMAT, "__metadata__ is not an object",
               "\"x\"");
    expect_bad("{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, GB_ERR_FORMAT,
               "duplicate __metadata__ key 'k'", "\"k\":\"w");
    expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0, GB_ERR_FORMAT,
               "duplicate __metadata__", "\"__metadata__\":{}}");
    expect_bad("{\"__metadata__\":{\"k\" \"v\"}}", 0, GB_ERR_FORMAT, "expected ':'", " ^\"v");
    expect_bad("{\"__metadata__\":{\"k\":\"v\"", 0, GB_ERR_FORMAT, "expected ',' or '}'", NULL);
    /* valid: metadata anywhere, escapes decoded to UTF-8 */
    uint8_t b[512];
    gb_st_file f;
    gb_error e = {0};
    const char *ok = "{\"a\":" T1("[1]", "[0,4]") ", \"__metadata__\" : { \"k\\\"\\\\\\/\\b\\f"
                     "\\n\\r\\t\" : \"\\u00e9\\u2713\\ud83c\\udfb5\" , \"e\":\"\" } }";
    CHECK_INT(gb_st_parse(b, build(b, ok, 4), &f, &e), GB_OK);
    CHECK_INT(f.n_meta, 2);
    const char *v = gb_st_meta(&f, "k\"\\/\b\f\n\r\t");
    CHECK(v && !strcmp(v, "\xc3\xa9\xe2\x9c\x93\xf0\x9f\x8e\xb5"));
    v = gb_st_meta(&f, "e");
    CHECK(v && !strcmp(v, ""));
    gb_st_free(&f);
}

/* ---- truncations and flips of a valid file ---- */

static void check_parsed(const gb_st_file *f) { /* what any successful parse must satisfy */
    for (size_t i = 0; i < f->n; i++) {
        const gb_st_tensor *t = &f->t[i];
        size_t n = 1;
        for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
        CHECK(t->ndim >= 0 && t->ndim <= 4);
        CHECK(t->n == n);
        CHECK((const uint8_t *)t->data >= f->buf.data &&
              (const uint8_t *)(t->data + t->n) <= f->buf.data + f->buf.len);
        CHECK(strlen(t->name) <= 127);
    }
}

static void test_truncations(void) {
    gb_buf b;
    gb_error e = {0};
    CHECK_INT(gb_st_encode(samples, N_SAMPLES, sample_meta, &b, &e), GB_OK);
    int clean = 1;
    for (size_t n = 0; n < b.len; n++) {
        gb_st_file f;
        uint8_t *cut = malloc(n ? n : 1); /* exactly n bytes, so ASan sees any overread */
        memcpy(cut, b.data, n);
        e = (gb_error){GB_OK, -7, ""};
        gb_status st = gb_st_parse(cut, n, &f, &e);
        if (st == GB_OK || e.status != st || !e.msg[0] || !is_zeroed(&f) || e.offset < -1 ||
            e.offset > (int64_t)n) {
            clean = 0;
            fprintf(stderr, "  truncation to %zu bytes: status %d, \"%s\"\n", n, st, e.msg);
        }
        gb_st_free(&f);
        free(cut);
    }
    CHECK(clean);

    /* Every byte replaced by each of a few values: fail cleanly or parse to something sane. */
    static const uint8_t vals[] = {0x00, 0x20, 0x22, 0x2C, 0x30, 0x5C, 0x5B, 0x5D,
                                   0x7B, 0x7D, 0x80, 0xFF};
    uint8_t *m = malloc(b.len);
    size_t parsed = 0;
    for (size_t i = 0; i < b.len; i++)
        for (size_t k = 0; k < sizeof vals + 1; k++) {
            memcpy(m, b.data, b.len);
            m[i] = k < sizeof vals ? vals[k] : (uint8_t)(m[i] ^ 1);
            gb_st_file f;
            if (gb_st_parse(m, b.len, &f, &e) == GB_OK) {
                parsed++;
                check_parsed(&f);
            } else {
                CHECK(is_zeroed(&f));
            }
            gb_st_free(&f);
        }
    CHECK(parsed > 0); /* flips inside the float data leave a valid file */
    free(m);
    gb_buf_free(&b);
}

/* ---- the writer's checks ---- */

static void test_writer_rejects(void) {
    const float x[2] = {1, 2};
    char longname[200];
    memset(longname, 'l', 128);
    longname[128] = '\0';
    const struct {
        gb_st_tensor_in t[2];
        size_t n;
        const char *const *meta;
        gb_status want;
        const char *sub;
    } cases[] = {
        {{{NULL, x, 1, {2}}}, 1, NULL, GB_ERR_ARG, "has no name"},
        {{{longname, x, 1, {2}}}, 1, NULL, GB_ERR_ARG, "128 bytes, more than 127"},
        {{{"bad\xff", x, 1, {2}}}, 1, NULL, GB_ERR_ARG, "not UTF-8"},
        {{{"__metadata__", x, 1, {2}}}, 1, NULL, GB_ERR_ARG, "cannot name a tensor"},
        {{{"a", x, 5, {1, 1, 1, 1}}}, 1, NULL, GB_ERR_ARG, "ndim 5"},
        {{{"a", x, -1, {0}}}, 1, NULL, GB_ERR_ARG, "ndim -1"},
        {{{"a", x, 1, {-2}}}, 1, NULL, GB_ERR_ARG, "negative dimension"},
        {{{"a", NULL, 1, {2}}}, 1, NULL, GB_ERR_ARG, "has no data"},
        {{{"a", x, 2, {INT64_MAX, 2}}}, 1, NULL, GB_ERR_LIMIT, "too large"},
        {{{"a", x, 1, {2}}, {"a", x, 1, {1}}}, 2, NULL, GB_ERR_ARG, "duplicate tensor name 'a'"},
        {{{"a", x, 1, {2}}}, 1, (const char *const[]){"k", NULL}, GB_ERR_ARG, "has no value"},
        {{{"a", x, 1, {2}}}, 1, (const char *const[]){"k", "v", "k", "w", NULL}, GB_ERR_ARG,
         "duplicate metadata key 'k'"},
        {{{"a", x, 1, {2}}}, 1, (const char *const[]){"k", "\xc0\x80", NULL}, GB_ERR_ARG,
         "not UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gb_buf b = {(uint8_t *)1, 1, 1};
        gb_error e = {0};
        CHECK_INT(gb_st_encode(cases[i].t, cases[i].n, cases[i].meta, &b, &e), cases[i].want);
        CHECK_STR_HAS(e.msg, cases[i].sub);
        CHECK(!b.data && !b.len); /* zeroed on failure */
    }
    gb_error e = {0};
    CHECK_INT(gb_st_write(NULL, NULL, 0, NULL, &e), GB_ERR_ARG);
    CHECK_INT(gb_st_encode(NULL, 1, NULL, &(gb_buf){0}, &e), GB_ERR_ARG);
    CHECK_INT(gb_st_parse(NULL, 3, &(gb_st_file){0}, &e), GB_ERR_ARG);
    CHECK_INT(gb_st_read(tmp_path("does-not-exist"), &(gb_st_file){0}, &e), GB_ERR_IO);
    /* A NULL data pointer is fine for a tensor without elements. */
    gb_buf b;
    const gb_st_tensor_in z = {"z", NULL, 3, {4, 0, 2}};
    CHECK_INT(gb_st_encode(&z, 1, NULL, &b, &e), GB_OK);
    gb_buf_free(&b);
}

/* ---- atomic writes ---- */

static void test_atomic(void) {
    const char *path = tmp_path("ckpt.safetensors");
    const float one[1] = {1.0f};
    const gb_st_tensor_in t1 = {"old", one, 1, {1}};
    gb_error e = {0};
    char listing[512];
    unlink(path);
    CHECK_INT(gb_st_write(path, &t1, 1, NULL, &e), GB_OK);

    /* a target in a directory that does not exist */
    CHECK_INT(gb_st_write(tmp_path("no-such-dir/x.safetensors"), &t1, 1, NULL, &e), GB_ERR_IO);
    CHECK_INT(e.status, GB_ERR_IO);

    /* a write that fails half way (the file size limit): the old file stays whole */
    static float big[4096];
    const gb_st_tensor_in t2 = {"new", big, 1, {4096}};
    struct rlimit old_lim, lim;
    CHECK(getrlimit(RLIMIT_FSIZE, &old_lim) == 0);
    lim = old_lim;
    lim.rlim_cur = 4096;
    void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    gb_status st = gb_st_write(path, &t2, 1, NULL, &e);
    CHECK(setrlimit(RLIMIT_FSIZE, &old_lim) == 0);
    signal(SIGXFSZ, old_sig);
    CHECK_INT(st, GB_ERR_IO);
    CHECK_STR_HAS(e.msg, "cannot write");
    /* and a write refused before any I/O */
    const gb_st_tensor_in bad = {"bad", NULL, 1, {3}};
    CHECK_INT(gb_st_write(path, &bad, 1, NULL, &e), GB_ERR_ARG);

    gb_st_file f;
    CHECK_INT(gb_st_read(path, &f, &e), GB_OK);
    CHECK(f.n == 1 && !strcmp(f.t[0].name, "old") && f.t[0].data[0] == 1.0f);
    gb_st_free(&f);

    /* overwriting succeeds and replaces the file */
    CHECK_INT(gb_st_write(path, &t2, 1, NULL, &e), GB_OK);
    CHECK_INT(gb_st_read(path, &f, &e), GB_OK);
    CHECK(f.n == 1 && !strcmp(f.t[0].name, "new") && f.t[0].n == 4096);
    gb_st_free(&f);

    /* no temporary files left behind by any of it */
    dir_list(tmpdir, listing, sizeof listing);
    CHECK(!strstr(listing, ".tmp"));
    if (strstr(listing, ".tmp")) fprintf(stderr, "  directory holds: %s\n", listing);
}

/* ---- Python by the spec, both ways ---- */

static const char py_read[] =
    "import json, math, struct, sys, zlib\n"
    "import numpy as np\n"
    "raw = open(sys.argv[1], 'rb').read()\n"
    "(n,) = struct.unpack('<Q', raw[:8])\n"
    "head = raw[8:8 + n]\n"
    "assert n % 8 == 0, 'data not 8-byte aligned'\n"
    "assert head.rstrip(b' ').endswith(b'}'), 'header not padded with spaces'\n"
    "h = json.loads(head.decode('utf-8'))\n"
    "meta = h.pop('__metadata__', {})\n"
    "data = raw[8 + n:]\n"
    "at = 0\n"
    "out = []\n"
    "for name, info in h.items():  # json keeps the header's order\n"
    "    assert info['dtype'] == 'F32', info['dtype']\n"
    "    b, e = info['data_offsets']\n"
    "    assert b == at, 'not contiguous'\n"
    "    shape = info['shape']\n"
    "    arr = np.frombuffer(data[b:e], dtype='<f4').reshape(shape)\n"
    "    at = e\n"
    "    fin = arr[np.isfinite(arr)].astype(np.float64).ravel().tolist()\n"
    "    out.append('%s %s %08x %.17g' % (name.encode().hex(), 'x'.join(map(str, shape)) or '-',\n"
    "               zlib.crc32(arr.tobytes()), math.fsum(fin)))\n"
    "assert at == len(data), 'trailing bytes'\n"
    "for k in sorted(meta):\n"
    "    assert isinstance(meta[k], str)\n"
    "    out.append('meta %s %s' % (k.encode().hex(), meta[k].encode().hex()))\n"
    "print('\\n'.join(out))\n";

/* Writes the sample checkpoint the way the spec says, twice: a.safetensors as json.dumps does by
 * default (ASCII with \\u escapes, ", " and ": ", padded to 8 bytes) and b.safetensors compact,
 * raw UTF-8, unpadded, with the header listing tensors in another order than their data. */
static const char py_write[] =
    "import json, math, struct, sys, zlib\n"
    "import numpy as np\n"
    "ts = [('emb.weight', np.arange(12, dtype='<f4').reshape(3, 4) * np.float32(0.25) - 1),\n"
    "      ('lstm.w_hh \\\"q\\\" \\\\ \\n\\x01 \\u00fcn\\u00ef \\U0001F3B9',\n"
    "       ((np.arange(210, dtype=np.int64) * 7919 % 1048576 - 524288) / 1048576.0)\n"
    "       .astype('<f4').reshape(2, 3, 5, 7)),\n"
    "      ('special', np.frombuffer(struct.pack('<8I', 0x7FC00123, 0x7F800000, 0xFF800000,\n"
    "                  0x80000000, 1, 0x7F7FFFFF, 0x3F800000, 0xFFFFFFFF), dtype='<f4')),\n"
    "      ('scalar', np.array(42.5, dtype='<f4')),\n"
    "      ('empty', np.zeros((0, 5), dtype='<f4'))]\n"
    "meta = {'format': 'pt', 'groovybee': '0.1.0 \"\\u00e9\" \\u2713 \\U0001F3B5 \\t',\n"
    "        '': 'empty key'}\n"
    "data, info, at = b'', {}, 0\n"
    "for name, a in ts:\n"
    "    b = a.tobytes()\n"
    "    info[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [at, at + len(b)]}\n"
    "    data += b\n"
    "    at += len(b)\n"
    "def save(path, header):\n"
    "    open(path, 'wb').write(struct.pack('<Q', len(header)) + header + data)\n"
    "h = dict(info)\n"
    "h['__metadata__'] = meta\n"
    "s = json.dumps(h).encode()\n"
    "s += b' ' * (-len(s) % 8)\n"
    "save(sys.argv[1] + '/a.safetensors', s)\n"
    "h = {'__metadata__': meta}\n"
    "for name in reversed(list(info)):\n"
    "    h[name] = info[name]\n"
    "s = json.dumps(h, ensure_ascii=False, separators=(',', ':')).encode()\n"
    "if len(s) % 8 == 0: s += b' '  # make sure the data starts unaligned in the file\n"
    "save(sys.argv[1] + '/b.safetensors', s)\n"
    "out = []\n"
    "for order in (list(info), list(reversed(list(info)))):\n"
    "    for name in order:\n"
    "        a = dict(ts)[name]\n"
    "        fin = a[np.isfinite(a)].astype(np.float64).ravel().tolist()\n"
    "        out.append('%s %s %08x %.17g' % (name.encode().hex(),\n"
    "                   'x'.join(map(str, a.shape)) or '-', zlib.crc32(a.tobytes()),\n"
    "                   math.fsum(fin)))\n"
    "    for k in sorted(meta):\n"
    "        out.append('meta %s %s' % (k.encode().hex(), meta[k].encode().hex()))\n"
    "    out.append('--')\n"
    "print('\\n'.join(out))\n";

static char py_out[65536], want[65536];

static void test_python_reads_ours(void) {
    const char *script = tmp_path("read.py"), *path = tmp_path("ours.safetensors");
    CHECK(write_file(script, py_read, sizeof py_read - 1));
    gb_error e = {0};
    CHECK_INT(gb_st_write(path, samples, N_SAMPLES, sample_meta, &e), GB_OK);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s 2>&1", script, path);
    int rc = run_cmd(cmd, py_out, sizeof py_out);
    CHECK_INT(rc, 0); /* no python3 or no numpy fails here: they are test dependencies */
    sample_lines(want, sizeof want);
    CHECK(!strcmp(py_out, want));
    if (rc || strcmp(py_out, want))
        fprintf(stderr, "  python printed:\n%s  expected:\n%s", py_out, want);
}

static void test_we_read_python(void) {
    const char *script = tmp_path("write.py");
    CHECK(write_file(script, py_write, sizeof py_write - 1));
    char cmd[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s 2>&1", script, tmpdir);
    int rc = run_cmd(cmd, py_out, sizeof py_out);
    CHECK_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "  python printed:\n%s", py_out);
        return;
    }
    /* Python's own lines are the expectation: header order of a, then of b. */
    want[0] = '\0';
    static char got[32768];
    for (int k = 0; k < 2; k++) {
        gb_st_file f;
        gb_error e = {0};
        gb_status st = gb_st_read(tmp_path(k ? "b.safetensors" : "a.safetensors"), &f, &e);
        CHECK_INT(st, GB_OK);
        if (st != GB_OK) fprintf(stderr, "  %s at %lld\n", e.msg, (long long)e.offset);
        file_lines(&f, got, sizeof got);
        strcat(want, got);
        strcat(want, "--\n");
        gb_st_free(&f);
    }
    CHECK(!strcmp(py_out, want));
    if (strcmp(py_out, want)) fprintf(stderr, "  python printed:\n%s  we read:\n%s", py_out, want);
    /* and they are the samples, so the two sides agree with each other too */
    sample_lines(got, sizeof got);
    CHECK(!strncmp(py_out, got, strlen(got)));
}

int main(void) {
    if (!tmpdir_make("st_test")) return 1;
    fill_samples();
    RUN(test_roundtrip);
    RUN(test_exact_bytes);
    RUN(test_hostile_framing);
    RUN(test_hostile_json);
    RUN(test_hostile_tensors);
    RUN(test_hostile_metadata);
    RUN(test_truncations);
    RUN(test_writer_rejects);
    RUN(test_atomic);
    RUN(test_python_reads_ours);
    RUN(test_we_read_python);
    rm_tree(tmpdir);
    TEST_END();
}
