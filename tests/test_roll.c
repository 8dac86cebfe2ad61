/* test_roll.c - piano roll encoding and decoding, the .npy writer and reader (including hostile
 * files), and a cross-check against NumPy itself. */
#define _POSIX_C_SOURCE 200809L
#include "groovybee.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/gb_test_roll_XXXXXX";

static gb_song song(int division) {
    gb_song s;
    memset(&s, 0, sizeof s);
    s.division = division;
    return s;
}

static gb_part part(gb_note *notes, size_t n) {
    gb_part p;
    memset(&p, 0, sizeof p);
    p.notes = notes;
    p.n_notes = n;
    return p;
}

static int at(const gb_roll *r, size_t step, int pitch) { return r->v[step * 128 + pitch]; }

static size_t sounding(const gb_roll *r) {
    size_t n = 0;
    for (size_t i = 0; i < r->steps * 128; i++) n += r->v[i] != 0;
    return n;
}

static void test_encode_grid(void) {
    gb_song s = song(480);
    gb_note notes[] = {{0, 480, 60, 100}, {100, 130, 64, 90}};
    gb_part p = part(notes, 2);
    gb_roll r;
    gb_error e;
    gb_roll_opts o = {.steps_per_beat = 4};
    CHECK_INT(gb_roll_encode(&s, &p, &o, &r, &e), GB_OK);
    CHECK_INT(r.steps, 4);
    for (size_t k = 0; k < 4; k++) CHECK_INT(at(&r, k, 60), 100);
    /* 100 and 130 ticks both round to step 1; the note still gets one step. */
    CHECK_INT(at(&r, 1, 64), 90);
    CHECK_INT(sounding(&r), 5);

    gb_roll d; /* steps_per_beat 0 is the default, 4 */
    o.steps_per_beat = 0;
    CHECK_INT(gb_roll_encode(&s, &p, &o, &d, &e), GB_OK);
    CHECK(d.steps == r.steps && memcmp(d.v, r.v, r.steps * 128) == 0);
    gb_roll_free(&d);
    gb_roll_free(&r);
    gb_roll_free(&r); /* freeing twice is harmless */

    int bad_spb[] = {-1, 961};
    for (int i = 0; i < 2; i++) {
        o.steps_per_beat = bad_spb[i];
        CHECK_INT(gb_roll_encode(&s, &p, &o, &r, &e), GB_ERR_ARG);
        CHECK(r.v == NULL && r.steps == 0);
    }
    gb_part empty = part(NULL, 0);
    o.steps_per_beat = 4;
    CHECK_INT(gb_roll_encode(&s, &empty, &o, &r, &e), GB_OK);
    CHECK_INT(r.steps, 0);
    gb_roll_free(&r);
}

static void test_strip_silence(void) {
    gb_note notes[] = {{0, 3, 60, 10}, {10, 12, 62, 20}, {11, 15, 64, 30}};
    gb_part p = part(notes, 3);
    gb_roll r;
    gb_error e;
    gb_roll_opts o = {.step_ticks = 1};
    CHECK_INT(gb_roll_encode(NULL, &p, &o, &r, &e), GB_OK);
    CHECK_INT(r.steps, 15);
    gb_roll_free(&r);

    o.strip_silence = 1; /* steps 3..9 are silent: 7 of 15 go */
    CHECK_INT(gb_roll_encode(NULL, &p, &o, &r, &e), GB_OK);
    CHECK_INT(r.steps, 8);
    if (r.steps == 8) {
        for (size_t k = 0; k < 3; k++) CHECK_INT(at(&r, k, 60), 10);
        CHECK_INT(at(&r, 3, 62), 20);
        CHECK_INT(at(&r, 4, 62), 20);
        for (size_t k = 4; k < 8; k++) CHECK_INT(at(&r, k, 64), 30);
        CHECK_INT(sounding(&r), 3 + 2 + 4);
    }
    gb_roll_free(&r);
}

static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint64_t xorshift(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int by_start_pitch(const void *a, const void *b) {
    const gb_note *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return (x->pitch > y->pitch) - (x->pitch < y->pitch);
}

static void test_round_trip(void) {
    enum { MAX = 2000 };
    static gb_note notes[MAX];
    size_t n = 0;
    for (int pitch = 30; pitch < 90; pitch += 1 + (int)(xorshift() % 3)) {
        uint64_t step = xorshift() % 8;
        int prev_vel = 0;
        for (int i = 0; i < 25 && n < MAX; i++) {
            uint64_t gap = xorshift() % 3, len = 1 + xorshift() % 8;
            int vel = 1 + (int)(xorshift() % 127);
            if (gap == 0 && vel == prev_vel) vel = vel % 127 + 1; /* touching: must differ */
            step += gap;
            notes[n++] = (gb_note){step * 120, (step + len) * 120, (uint8_t)pitch, (uint8_t)vel};
            step += len;
            prev_vel = vel;
        }
    }
    qsort(notes, n, sizeof *notes, by_start_pitch);
    gb_song s = song(480);
    gb_part p = part(notes, n);
    gb_roll r, r4;
    gb_part back;
    gb_error e;
    CHECK_INT(gb_roll_encode(&s, &p, &(gb_roll_opts){.step_ticks = 120}, &r, &e), GB_OK);
    CHECK_INT(gb_roll_encode(&s, &p, &(gb_roll_opts){.steps_per_beat = 4}, &r4, &e), GB_OK);
    CHECK(r.steps == r4.steps && memcmp(r.v, r4.v, r.steps * 128) == 0);
    CHECK_INT(gb_roll_decode(&r, 1, 120, &back, &e), GB_OK);
    CHECK_INT(back.n_notes, n);
    size_t bad = 0;
    for (size_t i = 0; i < n && i < back.n_notes; i++) {
        const gb_note *a = &notes[i], *b = &back.notes[i];
        bad += a->start != b->start || a->end != b->end || a->pitch != b->pitch ||
               a->velocity != b->velocity;
    }
    CHECK_INT(bad, 0);
    CHECK(n > 500);
    gb_roll_free(&r);
    gb_roll_free(&r4);
    gb_part_free(&back);
    CHECK(back.notes == NULL && back.n_notes == 0);
}

static void test_velocity_runs(void) {
    gb_note change[] = {{0, 240, 60, 100}, {240, 480, 60, 80}};
    gb_note same[] = {{0, 240, 60, 100}, {240, 480, 60, 100}};
    gb_part p = part(change, 2);
    gb_roll r;
    gb_part back;
    gb_error e;
    gb_roll_opts o = {.step_ticks = 120};
    CHECK_INT(gb_roll_encode(NULL, &p, &o, &r, &e), GB_OK);
    CHECK_INT(gb_roll_decode(&r, 1, 120, &back, &e), GB_OK);
    CHECK_INT(back.n_notes, 2);
    if (back.n_notes == 2) {
        const gb_note *a = back.notes, *b = back.notes + 1;
        CHECK(a->start == 0 && a->end == 240 && a->velocity == 100);
        CHECK(b->start == 240 && b->end == 480 && b->velocity == 80);
    }
    gb_roll_free(&r);
    gb_part_free(&back);

    /* The documented ambiguity: touching notes of equal velocity decode as one. */
    p = part(same, 2);
    CHECK_INT(gb_roll_encode(NULL, &p, &o, &r, &e), GB_OK);
    CHECK_INT(gb_roll_decode(&r, 1, 120, &back, &e), GB_OK);
    CHECK_INT(back.n_notes, 1);
    if (back.n_notes == 1)
        CHECK(back.notes[0].start == 0 && back.notes[0].end == 480 && back.notes[0].pitch == 60 &&
              back.notes[0].velocity == 100);
    gb_roll_free(&r);
    gb_part_free(&back);
}

static void test_threshold(void) {
    uint8_t v[4 * 128] = {0};
    v[0 * 128 + 60] = 10;
    v[1 * 128 + 60] = 10;
    v[2 * 128 + 60] = 50;
    v[3 * 128 + 61] = 200; /* not a velocity: clamped */
    gb_roll r = {v, 4};
    gb_part back;
    gb_error e;
    CHECK_INT(gb_roll_decode(&r, 20, 10, &back, &e), GB_OK);
    CHECK_INT(back.n_notes, 2);
    if (back.n_notes == 2) {
        CHECK(back.notes[0].start == 20 && back.notes[0].end == 30 && back.notes[0].pitch == 60 &&
              back.notes[0].velocity == 50);
        CHECK(back.notes[1].start == 30 && back.notes[1].pitch == 61 &&
              back.notes[1].velocity == 127);
    }
    gb_part_free(&back);
    CHECK_INT(gb_roll_decode(&r, 0, 10, &back, &e), GB_OK); /* < 1 means 1 */
    CHECK_INT(back.n_notes, 3);
    if (back.n_notes == 3) CHECK(back.notes[0].end == 20 && back.notes[0].velocity == 10);
    gb_part_free(&back);
    CHECK_INT(gb_roll_decode(&r, 1, 0, &back, &e), GB_ERR_ARG);
    CHECK(back.notes == NULL && back.n_notes == 0);
}

static void test_limit(void) {
    gb_note notes[] = {{0, 480, 60, 100}, {1000, (uint64_t)1 << 40, 61, 100}};
    gb_part p = part(notes, 2);
    gb_roll r;
    gb_error e;
    CHECK_INT(gb_roll_encode(NULL, &p, &(gb_roll_opts){.step_ticks = 1}, &r, &e), GB_ERR_LIMIT);
    CHECK(r.v == NULL && r.steps == 0);
    CHECK_STR_HAS(e.msg, "1099511627776");
    CHECK_STR_HAS(e.msg, "16777216");
    /* Ticks near 2^64 at 960 steps per beat of a 1-tick quarter must not wrap around. */
    gb_note far[] = {{UINT64_MAX - 5, UINT64_MAX, 60, 100}};
    gb_song s = song(1);
    p = part(far, 1);
    CHECK_INT(gb_roll_encode(&s, &p, &(gb_roll_opts){.steps_per_beat = 960}, &r, &e),
              GB_ERR_LIMIT);
    CHECK(r.v == NULL && r.steps == 0);
}

/* ------------------------------------------------------------------------------------------ */
/* .npy */

static void tmp_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void test_npy_round_trip(void) {
    uint8_t v[3 * 128];
    for (size_t i = 0; i < sizeof v; i++) v[i] = (uint8_t)(i * 7 % 128);
    gb_roll r = {v, 3}, back;
    gb_error e;
    char path[256];
    tmp_path(path, sizeof path, "rt.npy");
    CHECK_INT(gb_npy_write(path, &r, &e), GB_OK);
    CHECK_INT(gb_npy_read(path, &back, &e), GB_OK);
    CHECK(back.steps == 3 && memcmp(back.v, v, sizeof v) == 0);
    gb_roll_free(&back);

    gb_buf b;
    CHECK_INT(gb_file_read(path, 1 << 20, &b, &e), GB_OK);
    const char hdr[] = "\x93NUMPY\x01\x00\x76\x00"
                       "{'descr': '|u1', 'fortran_order': False, 'shape': (3, 128), }";
    CHECK_INT(b.len, 128 + sizeof v);
    if (b.len == 128 + sizeof v) {
        CHECK(memcmp(b.data, hdr, sizeof hdr - 1) == 0);
        for (size_t i = sizeof hdr - 1; i < 127; i++) CHECK_INT(b.data[i], ' ');
        CHECK_INT(b.data[127], '\n');
        CHECK(memcmp(b.data + 128, v, sizeof v) == 0);
    }
    gb_buf_free(&b);

    gb_roll none = {NULL, 0};
    tmp_path(path, sizeof path, "empty.npy");
    CHECK_INT(gb_npy_write(path, &none, &e), GB_OK);
    back.steps = 99;
    CHECK_INT(gb_npy_read(path, &back, &e), GB_OK);
    CHECK(back.steps == 0 && back.v == NULL);
    tmp_path(path, sizeof path, "missing.npy");
    CHECK_INT(gb_npy_read(path, &back, &e), GB_ERR_IO);
}

/* A .npy of the given version whose header text is hdr (padded to 64 like NumPy when pad),
 * followed by payload bytes of value 1. Returned in an exact-size allocation so that the
 * sanitizers catch a read past its end. */
static uint8_t *npy(int major, const char *hdr, int pad, size_t payload, size_t *len) {
    size_t pre = major == 1 ? 10 : 12, h = strlen(hdr);
    size_t hlen = pad ? (pre + h + 1 + 63) / 64 * 64 - pre : h;
    *len = pre + hlen + payload;
    uint8_t *b = malloc(*len);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)major;
    b[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) b[8 + i] = (uint8_t)(hlen >> (8 * i));
    memset(b + pre, ' ', hlen);
    memcpy(b + pre, hdr, h);
    if (pad) b[pre + hlen - 1] = '\n';
    memset(b + pre + hlen, 1, payload);
    return b;
}

static gb_status parse_npy(int major, const char *hdr, size_t payload, gb_roll *r, gb_error *e) {
    size_t len;
    uint8_t *b = npy(major, hdr, 1, payload, &len);
    gb_status st = gb_npy_parse(b, len, r, e);
    free(b);
    return st;
}

#define HDR(descr, fo, shape)                                                                \
    "{'descr': '" descr "', 'fortran_order': " fo ", 'shape': " shape ", }"

static void test_npy_accepts(void) {
    const char *good[] = {
        HDR("|u1", "False", "(2, 128)"), HDR("<u1", "False", "(2,128)"),
        HDR("u1", "False", "(2, 128,)"), HDR("|b1", "False", "( 2 ,128 , )"),
        "{\"shape\": (2, 128), \"fortran_order\": False, \"descr\": \"|u1\"}",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        for (int major = 1; major <= 3; major++) {
            gb_roll r;
            gb_error e;
            CHECK_INT(parse_npy(major, good[i], 256, &r, &e), GB_OK);
            CHECK(r.steps == 2 && r.v && r.v[0] == 1 && r.v[255] == 1);
            gb_roll_free(&r);
        }
    }
}

static void expect_refused(const uint8_t *b, size_t len, gb_status want, const char *what,
                           int64_t offset) {
    gb_roll r;
    gb_error e = {0};
    gb_status st = gb_npy_parse(b, len, &r, &e);
    if (st != want) fprintf(stderr, "  case: %s: got %s (%s)\n", what, gb_status_str(st), e.msg);
    CHECK_INT(st, want);
    CHECK(r.v == NULL && r.steps == 0);
    CHECK(e.msg[0] != '\0');
    if (offset >= 0) CHECK_INT(e.offset, offset);
}

static void test_npy_hostile(void) {
    static const struct {
        const char *what, *hdr;
        size_t payload;
        gb_status want;
    } cases[] = {
        {"no shape", "{'descr': '|u1', 'fortran_order': False, }", 0, GB_ERR_FORMAT},
        {"shape (N, 127)", HDR("|u1", "False", "(2, 127)"), 254, GB_ERR_FORMAT},
        {"3 dims", HDR("|u1", "False", "(2, 128, 1)"), 256, GB_ERR_FORMAT},
        {"1 dim", HDR("|u1", "False", "(256,)"), 256, GB_ERR_FORMAT},
        {"0 dims", HDR("|u1", "False", "()"), 1, GB_ERR_FORMAT},
        {"negative", HDR("|u1", "False", "(-1, 128)"), 0, GB_ERR_FORMAT},
        {"fortran", HDR("|u1", "True", "(2, 128)"), 256, GB_ERR_FORMAT},
        {"float", HDR("<f4", "False", "(2, 128)"), 1024, GB_ERR_FORMAT},
        {"short", HDR("|u1", "False", "(2, 128)"), 255, GB_ERR_FORMAT},
        {"long", HDR("|u1", "False", "(2, 128)"), 257, GB_ERR_FORMAT},
        {"huge", HDR("|u1", "False", "(99999999999999999999999999, 128)"), 0, GB_ERR_LIMIT},
        {"just over", HDR("|u1", "False", "(16777217, 128)"), 0, GB_ERR_LIMIT},
        {"duplicate", "{'descr': '|u1', 'descr': '|u1', 'fortran_order': False, "
                      "'shape': (0, 128)}", 0, GB_ERR_FORMAT},
        {"unknown key", "{'descr': '|u1', 'x': 1, 'fortran_order': False, 'shape': (0, 128)}",
         0, GB_ERR_FORMAT},
        {"unterminated", "{'descr': '|u1", 0, GB_ERR_FORMAT},
        {"no close", "{'descr': '|u1', 'fortran_order': False, 'shape': (0, 128", 0,
         GB_ERR_FORMAT},
        {"trailing text", HDR("|u1", "False", "(0, 128)") " x", 0, GB_ERR_FORMAT},
        {"not a dict", "[1, 2]", 0, GB_ERR_FORMAT},
        {"control character", "{'descr': '|u1\x01', 'fortran_order': False, 'shape': (0, 128)}",
         0, GB_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len;
        uint8_t *b = npy(1, cases[i].hdr, 1, cases[i].payload, &len);
        expect_refused(b, len, cases[i].want, cases[i].what, -1);
        free(b);
    }

    uint8_t one = 0;
    expect_refused(&one, 0, GB_ERR_FORMAT, "empty", 0);
    size_t len;
    uint8_t *b = npy(1, HDR("|u1", "False", "(2, 128)"), 1, 256, &len);
    b[5] = 'Z';
    expect_refused(b, len, GB_ERR_FORMAT, "wrong magic", 0);
    b[5] = 'Y';
    b[6] = 4;
    expect_refused(b, len, GB_ERR_FORMAT, "version 4", 6);
    b[6] = 1;
    expect_refused(b, 9, GB_ERR_FORMAT, "cut in the length", 9);
    b[9] = 0x40; /* header length 0x4076 */
    expect_refused(b, len, GB_ERR_FORMAT, "header past the end", 8);
    b[9] = 0;
    size_t data = len - 256;
    expect_refused(b, data + 10, GB_ERR_FORMAT, "short payload offset", (int64_t)(data + 10));
    free(b);
    /* An unpadded header that stops exactly at the end of the allocation. */
    b = npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (0, 1", 0, 0, &len);
    expect_refused(b, len, GB_ERR_FORMAT, "header at the very end", -1);
    free(b);

    /* Every truncation and many one-byte changes of a valid file: refused or, if accepted,
     * consistent, and never a crash (the sanitizer build checks the memory accesses). */
    b = npy(2, HDR("|u1", "False", "(2, 128)"), 1, 256, &len);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        memcpy(c, b, cut);
        gb_roll r;
        CHECK(gb_npy_parse(c, cut, &r, NULL) != GB_OK);
        free(c);
    }
    for (size_t i = 0; i < 128; i++) {
        for (int x = 1; x < 256; x += 17) {
            b[i] ^= (uint8_t)x;
            gb_roll r;
            if (gb_npy_parse(b, len, &r, NULL) == GB_OK) CHECK(r.steps == 2);
            gb_roll_free(&r);
            b[i] ^= (uint8_t)x;
        }
    }
    free(b);
}

/* ------------------------------------------------------------------------------------------ */
/* NumPy: the reference reader and writer. The test deps install it, so missing is a failure. */

static int python(const char *code, char *out, size_t cap) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"%s\" 2>&1", code);
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    return pclose(f);
}

static void test_numpy(void) {
    char out[512], code[768], path[256];
    int rc = python("import numpy; print('ok')", out, sizeof out);
    if (rc != 0) fprintf(stderr, "  needs /usr/bin/python3 with numpy (scripts/deps.sh test)\n");
    CHECK_INT(rc, 0);
    if (rc != 0) return;

    uint8_t v[8 * 128] = {0};
    v[3 * 128 + 60] = 77;
    v[3 * 128 + 64] = 5;
    v[7 * 128 + 127] = 127;
    gb_roll r = {v, 8};
    gb_error e;
    tmp_path(path, sizeof path, "to_numpy.npy");
    CHECK_INT(gb_npy_write(path, &r, &e), GB_OK);
    snprintf(code, sizeof code,
             "import numpy as np; a=np.load('%s'); print(a.dtype, a.shape, int(a.sum()), "
             "int(a[3,60]))", path);
    CHECK_INT(python(code, out, sizeof out), 0);
    CHECK_STR_HAS(out, "uint8 (8, 128) 209 77\n");

    tmp_path(path, sizeof path, "from_numpy.npy");
    snprintf(code, sizeof code,
             "import numpy as np; np.save('%s', (np.arange(640) %% 251).astype(np.uint8)"
             ".reshape(5, 128))", path);
    CHECK_INT(python(code, out, sizeof out), 0);
    gb_roll back;
    CHECK_INT(gb_npy_read(path, &back, &e), GB_OK);
    CHECK_INT(back.steps, 5);
    size_t bad = 0;
    for (size_t i = 0; i < back.steps * 128; i++) bad += back.v[i] != i % 251;
    CHECK_INT(bad, 0);
    gb_roll_free(&back);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_encode_grid);
    RUN(test_strip_silence);
    RUN(test_round_trip);
    RUN(test_velocity_runs);
    RUN(test_threshold);
    RUN(test_limit);
    RUN(test_npy_round_trip);
    RUN(test_npy_accepts);
    RUN(test_npy_hostile);
    RUN(test_numpy);
    const char *files[] = {"rt.npy", "empty.npy", "to_numpy.npy", "from_numpy.npy"};
    char path[256];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        tmp_path(path, sizeof path, files[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    TEST_END();
}
