/* test_gen.c - generation (src/gen): key finding and correction against keys worked out by
 * hand, the decoding of generated rows into notes, and the feedback loop against the stream run
 * over the same sequence whole. */
#include <math.h>
#include <stdlib.h>

#include "gen/generate.h"
#include "model/stream.h"
#include "test.h"

static gb_key key_of_notes(const int *pcs, const double *dur, int n, int shift) {
    double h[12] = {0};
    for (int i = 0; i < n; i++) h[(pcs[i] + shift) % 12] += dur[i];
    return gb_key_detect(h);
}

static void test_key_detect(void) {
    /* a C major scale, tonic and dominant held longer */
    int scale[7] = {0, 2, 4, 5, 7, 9, 11};
    double dur[7] = {4, 1, 2, 1, 3, 1, 1};
    for (int shift = 0; shift < 12; shift++) {
        gb_key k = key_of_notes(scale, dur, 7, shift);
        CHECK_INT(k.tonic, shift);
        CHECK_INT(k.minor, 0);
        CHECK(k.r > 0.8);
    }
    /* A harmonic minor: A, B, C, D, E, F, G#, tonic triad A C E held */
    int am[7] = {9, 11, 0, 2, 4, 5, 8};
    double amd[7] = {4, 1, 3, 1, 3, 1, 1};
    gb_key k = key_of_notes(am, amd, 7, 0);
    CHECK_INT(k.tonic, 9);
    CHECK_INT(k.minor, 1);
    char buf[16];
    CHECK_STR_HAS(gb_key_name(k, buf), "A minor");
    double silent[12] = {0};
    k = gb_key_detect(silent);
    CHECK(k.tonic == 0 && k.minor == 0 && k.r == 0);
}

static void test_key_fix(void) {
    gb_key c = {0, 0, 1}, am = {9, 1, 1};
    CHECK_INT(gb_key_fix(c, 61), 60); /* C#: C (tonic, 6.35) over D (3.48) */
    CHECK_INT(gb_key_fix(c, 66), 67); /* F#: G (5.19) over F (4.09) */
    CHECK_INT(gb_key_fix(c, 70), 69); /* Bb: A (3.66) over B (2.88) */
    CHECK_INT(gb_key_fix(c, 64), 64); /* in key: unchanged */
    CHECK_INT(gb_key_fix(am, 68), 68); /* G#, the leading tone of A minor, is in key */
    CHECK_INT(gb_key_fix(am, 66), 65); /* F#: F (the sixth, 3.98) over G (3.34)... */
    CHECK(gb_key_has(am, 67));         /* ...G natural is in key too */
    for (int t = 0; t < 12; t++)
        for (int minor = 0; minor < 2; minor++) {
            gb_key k = {t, minor, 1};
            int in_key = 0;
            for (int p = 0; p < 128; p++) {
                int q = gb_key_fix(k, p);
                in_key += gb_key_has(k, p);
                CHECK(gb_key_has(k, q) && abs(q - p) <= 1 && q >= 0 && q <= 127);
                if (gb_key_has(k, p)) CHECK_INT(q, p);
            }
            CHECK(in_key > 70 && in_key < 90); /* 7 or 8 of 12 pitch classes */
        }
}

static void test_decode(void) {
    enum { N = 6 };
    /* binary rows: pitch 60 on steps 0..3, pitch 64 on steps 2..5 */
    float rows[N * 256] = {0};
    for (int k = 0; k < 4; k++) rows[k * 128 + 60] = 1;
    for (int k = 2; k < 6; k++) rows[k * 128 + 64] = 1;
    gb_part p;
    gb_error e;
    CHECK_INT(gb_gen_decode(rows, N, 128, 1, 0.5f, 90, NULL, 240, &p, &e), GB_OK);
    CHECK_INT(p.n_notes, 2);
    if (p.n_notes == 2) {
        CHECK(p.notes[0].pitch == 60 && p.notes[0].start == 0 && p.notes[0].end == 960);
        CHECK(p.notes[1].pitch == 64 && p.notes[1].start == 480 && p.notes[1].end == 1440);
        CHECK_INT(p.notes[0].velocity, 90);
    }
    gb_part_free(&p);
    /* a key fix moves C# onto the C held beside it: one note, not two */
    for (int k = 0; k < 4; k++) rows[k * 128 + 61] = 1;
    gb_key c = {0, 0, 1};
    CHECK_INT(gb_gen_decode(rows, N, 128, 1, 0.5f, 90, &c, 240, &p, &e), GB_OK);
    CHECK_INT(p.n_notes, 2);
    gb_part_free(&p);
    /* with onsets (D = 256) a re-struck note is two notes */
    float on[N * 256] = {0};
    for (int k = 0; k < N; k++) on[k * 256 + 60] = 1;
    on[0 * 256 + 128 + 60] = 1, on[3 * 256 + 128 + 60] = 1;
    CHECK_INT(gb_gen_decode(on, N, 256, 1, 0.5f, 90, NULL, 1, &p, &e), GB_OK);
    CHECK_INT(p.n_notes, 2);
    if (p.n_notes == 2) CHECK(p.notes[0].end == 3 && p.notes[1].start == 3 && p.notes[1].end == 6);
    gb_part_free(&p);
    /* velocity rows: round(127 v); silence under the threshold */
    float v[2 * 128] = {0};
    v[60] = 0.5f, v[61] = 0.05f, v[128 + 60] = 0.5f, v[128 + 62] = 1.3f;
    CHECK_INT(gb_gen_decode(v, 2, 128, 0, 0.1f, 90, NULL, 10, &p, &e), GB_OK);
    CHECK_INT(p.n_notes, 2);
    if (p.n_notes == 2) {
        CHECK(p.notes[0].pitch == 60 && p.notes[0].velocity == 64 && p.notes[0].end == 20);
        CHECK(p.notes[1].pitch == 62 && p.notes[1].velocity == 127);
    }
    gb_part_free(&p);
}

/* The loop feeds back what it generates: running the stream over primer + generated rows
 * whole must predict each generated row from the ones before it. */
static void check_feedback(gb_loss_kind loss, int D, float temperature) {
    gb_lstm_config cfg = {D, 24, 2, 0.2f};
    gb_rng r;
    gb_rng_seed(&r, 7);
    gb_lstm m;
    gb_error e;
    CHECK_INT(gb_lstm_init(&m, &cfg, &r, &e), GB_OK);
    enum { T = 5, N = 20 };
    float *all = calloc((size_t)(T + N) * D, sizeof *all), *y = malloc((T + N) * D * sizeof *y);
    for (int i = 0; i < T * D; i++) all[i] = gb_rng_float(&r) < 0.1f;
    gb_rng s1, s2;
    gb_rng_seed(&s1, 3), gb_rng_seed(&s2, 3);
    CHECK_INT(gb_generate(&m, loss, all, T, N, temperature, &s1, all + T * D, &e), GB_OK);
    float *again = malloc((size_t)N * D * sizeof *again);
    CHECK_INT(gb_generate(&m, loss, all, T, N, temperature, &s2, again, &e), GB_OK);
    CHECK(!memcmp(again, all + T * D, (size_t)N * D * sizeof *again)); /* same seed, same rows */
    gb_lstm_stream *st;
    CHECK_INT(gb_lstm_stream_new(&cfg, 1, T + N, &st, &e), GB_OK);
    gb_lstm_stream_run(&m, st, all, T + N - 1, y);
    int bad = 0, ones = 0;
    for (int k = 0; k < N; k++) {
        const float *pred = y + (size_t)(T - 1 + k) * D, *row = all + (size_t)(T + k) * D;
        for (int d = 0; d < D; d++) {
            if (loss == GB_LOSS_MSE) bad += fabsf(row[d] - pred[d]) > 1e-5f;
            else if (temperature == 0 && d < 128) bad += row[d] != (pred[d] >= 0);
            else bad += row[d] != 0 && row[d] != 1;
            ones += row[d] == 1;
        }
        if (D == 256) /* onsets only on sounding pitches, and wherever a pitch starts */
            for (int p = 0; p < 128; p++) {
                bad += row[128 + p] == 1 && row[p] != 1;
                bad += row[p] == 1 && row[p - D] != 1 && row[128 + p] != 1;
            }
    }
    CHECK_INT(bad, 0);
    if (loss == GB_LOSS_BCE) CHECK(ones > 0);
    gb_lstm_stream_free(st);
    gb_lstm_free(&m);
    free(all), free(y), free(again);
}

static void test_feedback(void) {
    check_feedback(GB_LOSS_MSE, 128, 1);
    check_feedback(GB_LOSS_BCE, 128, 0);
    check_feedback(GB_LOSS_BCE, 128, 1);
    check_feedback(GB_LOSS_BCE, 256, 1);
}

int main(void) {
    RUN(test_key_detect);
    RUN(test_key_fix);
    RUN(test_decode);
    RUN(test_feedback);
    TEST_END();
}
