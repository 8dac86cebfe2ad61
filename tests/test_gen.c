/* test_gen.c - generation (src/gen): key finding and correction against keys worked out by
 * hand, the decoding of generated rows into notes, and the feedback loop against the stream run
 * over the same sequence whole (linear heads; a NADE head with meter inputs, its greedy rows
 * against the NADE's conditionals worked out in double and its meter against 4/4 by hand). */
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
    gb_lstm_config cfg = {.D = D, .H = 24, .L = 2, .dropout = 0.2f};
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
    CHECK_INT(gb_generate(&m, loss, all, T, N, temperature, NULL, &s1, GB_PREC_FP32,
                          all + T * D, &e), GB_OK);
    float *again = malloc((size_t)N * D * sizeof *again);
    CHECK_INT(gb_generate(&m, loss, all, T, N, temperature, NULL, &s2, GB_PREC_FP32,
                          again, &e), GB_OK);
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

/* The meter features of step s of a 4/4 part in sixteenth steps, by hand (dataset.h): position
 * (s % 4) * 2 of 8 in the beat, beat (s / 4) % 4 of 12 in the bar. */
static void meter_44(uint64_t s, float *out) {
    memset(out, 0, GB_DS_METER_FEATURES * sizeof *out);
    out[(s % 4) * 2] = 1;
    out[8 + (s / 4) % 4] = 1;
}

/* The NADE's logits l_k (D) in double for the step x (D) under the head's outputs y (D + Hn):
 * nade.h's definition, written again. */
static void nade_logits(const gb_lstm *m, const float *y, const float *x, double *l) {
    int D = m->cfg.D, Hn = m->cfg.Hn;
    double a[64];
    for (int j = 0; j < Hn; j++) a[j] = y[D + j];
    for (int k = 0; k < D; k++) {
        l[k] = y[k];
        for (int j = 0; j < Hn; j++)
            l[k] += m->p.nade_v[(size_t)k * Hn + j] * (1.0 / (1.0 + exp(-a[j])));
        for (int j = 0; j < Hn; j++) a[j] += x[k] * m->p.nade_w[(size_t)k * Hn + j];
    }
}

/* A NADE head with the meter as extra inputs (E = 20): what is fed back carries the meter of its
 * step, counted on from the primer's; the stream run over primer + generated rows (with the meter
 * of 4/4 written by hand) must predict each row: at temperature 0 each feature is on exactly
 * where its conditional's logit, given the features below it as drawn, is >= 0. Logits within
 * 1e-4 of 0 are left out (2 of 3072 here, both agreeing): the stream's one-step and chunk
 * kernels round differently, by float rounding (~1e-6), so such a feature could go either way
 * without anything being wrong. Then: the same
 * seed gives the same rows at temperature 1, binary; a meter shifted by one step changes the
 * greedy rows (the check above could fail); a model with meter inputs refuses to run without a
 * meter. */
static void test_feedback_nade_meter(void) {
    enum { D = 128, E = GB_DS_METER_FEATURES, Din = D + E, Hn = 16, Dout = D + Hn };
    enum { T = 6, N = 24, P0 = 3 }; /* the primer is steps P0..P0+T-1 of the part */
    gb_lstm_config cfg = {.D = D, .H = 24, .L = 2, .dropout = 0.2f, .E = E, .dropout_in = 0.1f,
                          .dropout_out = 0.1f, .head = GB_HEAD_NADE, .Hn = Hn};
    gb_rng r;
    gb_rng_seed(&r, 11);
    gb_lstm m;
    gb_error e = {0};
    CHECK_INT(gb_lstm_init(&m, &cfg, &r, &e), GB_OK);
    /* a 4/4 part (the default meter), one tick a step, so that steps past its end go on in 4/4 */
    gb_note note = {0, 8, 60, 100};
    gb_part part = {.notes = &note, .n_notes = 1};
    gb_song song = {.format = 1, .division = 4, .n_tracks = 1, .parts = &part, .n_parts = 1};
    gb_ds_encoding enc;
    gb_ds_encoding_default(&enc);
    enc.meter = 1;
    gb_dataset ds;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_song(&ds, &song, "hand", 0, &e), GB_OK);
    CHECK_INT(ds.n_parts, 1);
    if (ds.n_parts != 1) {
        gb_ds_free(&ds), gb_lstm_free(&m);
        return;
    }
    /* the whole sequence as input rows: primer, then the generated rows, each with its meter */
    float *all = calloc((size_t)(T + N) * Din, sizeof *all), *gen = calloc((size_t)N * D, 4);
    float *again = calloc((size_t)N * D, 4), *y = calloc((size_t)(T + N) * Dout, 4);
    for (int t = 0; t < T; t++) {
        for (int d = 0; d < D; d++) all[(size_t)t * Din + d] = gb_rng_float(&r) < 0.1f;
        meter_44(P0 + t, all + (size_t)t * Din + D);
    }
    gb_gen_meter meter = {&ds, 0, P0 + T};
    CHECK_INT(gb_generate(&m, GB_LOSS_BCE, all, T, N, 0.0f, &meter, NULL, GB_PREC_FP32,
                          gen, &e), GB_OK);
    for (int k = 0; k < N; k++) {
        memcpy(all + (size_t)(T + k) * Din, gen + (size_t)k * D, D * sizeof *all);
        meter_44(P0 + T + k, all + (size_t)(T + k) * Din + D);
    }
    gb_lstm_stream *st;
    CHECK_INT(gb_lstm_stream_new(&cfg, 1, T + N, &st, &e), GB_OK);
    gb_lstm_stream_run(&m, st, all, T + N - 1, y);
    int bad = 0, ties = 0, ones = 0;
    double l[D];
    for (int k = 0; k < N; k++) {
        const float *row = gen + (size_t)k * D;
        nade_logits(&m, y + (size_t)(T - 1 + k) * Dout, row, l);
        for (int d = 0; d < D; d++) {
            if (fabs(l[d]) < 1e-4) {
                ties++;
                continue;
            }
            bad += row[d] != (l[d] >= 0 ? 1.0f : 0.0f);
            ones += row[d] == 1;
        }
    }
    if (bad || getenv("GB_TEST_VERBOSE"))
        fprintf(stderr, "  nade greedy: %d wrong, %d near ties, %d on of %d\n", bad, ties, ones,
                N * D);
    CHECK_INT(bad, 0);
    CHECK(ties <= 10); /* ~1 expected: mean |l| is 0.26, so ~4e-4 of them lie within 1e-4 */
    CHECK(ones > 0 && ones < N * D); /* neither all off nor all on: the check is not vacuous */
    /* the meter one step off: other rows */
    gb_gen_meter off = {&ds, 0, P0 + T + 1};
    CHECK_INT(gb_generate(&m, GB_LOSS_BCE, all, T, N, 0.0f, &off, NULL, GB_PREC_FP32,
                          again, &e), GB_OK);
    CHECK(memcmp(again, gen, (size_t)N * D * sizeof *gen) != 0);
    /* temperature 1: the same seed, the same binary rows */
    gb_rng s1, s2;
    gb_rng_seed(&s1, 5), gb_rng_seed(&s2, 5);
    CHECK_INT(gb_generate(&m, GB_LOSS_BCE, all, T, N, 1.0f, &meter, &s1, GB_PREC_FP32,
                          gen, &e), GB_OK);
    CHECK_INT(gb_generate(&m, GB_LOSS_BCE, all, T, N, 1.0f, &meter, &s2, GB_PREC_FP32,
                          again, &e), GB_OK);
    CHECK(!memcmp(again, gen, (size_t)N * D * sizeof *gen));
    int binary = 1;
    for (int i = 0; i < N * D; i++) binary &= gen[i] == 0.0f || gen[i] == 1.0f;
    CHECK(binary);
    /* meter inputs without a meter */
    e = (gb_error){0};
    CHECK_INT(gb_generate(&m, GB_LOSS_BCE, all, T, N, 1.0f, NULL, &s1, GB_PREC_FP32,
                          gen, &e), GB_ERR_ARG);
    CHECK(e.msg[0] != 0);
    gb_lstm_stream_free(st);
    gb_ds_free(&ds);
    gb_lstm_free(&m);
    free(all), free(gen), free(again), free(y);
}


/* A token model (Performance RNN's 388 tokens, softmax head): greedy generation draws at each
 * event the argmax of the prediction that the stream, run whole over primer + events, makes
 * (near ties of 1e-4 left out, as above); top-k 1 at temperature 1 is greedy too; the same seed
 * gives the same events at temperature 1 with top-p, another seed others; with a length in
 * time the TIME_SHIFTs drawn sum to it exactly; a primer token out of range is refused. */
static void test_feedback_tokens(void) {
    enum { V = 388, P = 6, N = 60 };
    gb_lstm_config c = {.D = V, .V = V, .H = 24, .L = 2, .head = GB_HEAD_SOFTMAX};
    gb_lstm m;
    gb_rng r;
    gb_error e;
    gb_rng_seed(&r, 17);
    CHECK_INT(gb_lstm_init(&m, &c, &r, &e), GB_OK);
    for (size_t i = 0; i < m.n_params; i++) m.params[i] *= 8; /* a peaked distribution */
    uint16_t primer[P] = {360, 60, 64, 260, 188, 192}, out[N], out2[N];
    int n = 0, n2 = 0;
    gb_gen_sampling greedy = {.temperature = 0};
    CHECK_INT(gb_generate_tokens(&m, primer, P, N, 0, &greedy, &r, GB_PREC_FP32, out, &n, &e),
              GB_OK);
    CHECK_INT(n, N);
    gb_lstm_stream *st;
    CHECK_INT(gb_lstm_stream_new(&c, 1, P + N, &st, &e), GB_OK);
    static float x[P + N], y[(P + N) * V];
    for (int t = 0; t < P; t++) x[t] = primer[t];
    for (int t = 0; t < N; t++) x[P + t] = out[t];
    gb_lstm_stream_run(&m, st, x, P + N, y);
    int wrong = 0, ties = 0;
    for (int t = 0; t < N; t++) {
        const float *l = y + (size_t)(P - 1 + t) * V;
        int best = 0;
        float second = -INFINITY;
        for (int k = 1; k < V; k++)
            if (l[k] > l[best]) best = k;
        for (int k = 0; k < V; k++)
            if (k != best && l[k] > second) second = l[k];
        if (l[best] - second < 1e-4f) ties++;
        else wrong += out[t] != best;
    }
    CHECK_INT(wrong, 0);
    CHECK(ties < 3);
    gb_lstm_stream_free(st);
    gb_gen_sampling top1 = {.temperature = 1, .top_k = 1};
    CHECK_INT(gb_generate_tokens(&m, primer, P, N, 0, &top1, &r, GB_PREC_FP32, out2, &n2, &e),
              GB_OK);
    CHECK(n2 == N && !memcmp(out, out2, sizeof out));
    /* sampling: a seed, its events */
    gb_gen_sampling smp = {.temperature = 1, .top_p = 0.95f};
    gb_rng r1, r2;
    gb_rng_seed(&r1, 5), gb_rng_seed(&r2, 5);
    CHECK_INT(gb_generate_tokens(&m, primer, P, N, 0, &smp, &r1, GB_PREC_FP32, out, &n, &e), GB_OK);
    CHECK_INT(gb_generate_tokens(&m, primer, P, N, 0, &smp, &r2, GB_PREC_FP32, out2, &n2, &e), GB_OK);
    CHECK(!memcmp(out, out2, sizeof out));
    gb_rng_seed(&r2, 6);
    CHECK_INT(gb_generate_tokens(&m, primer, P, N, 0, &smp, &r2, GB_PREC_FP32, out2, &n2, &e), GB_OK);
    CHECK(memcmp(out, out2, sizeof out) != 0);
    /* a length in time: 4 s of 10 ms; the model's shifts are cut to end there */
    smp.top_p = 1;
    static uint16_t long_out[20000];
    int shifts_seen = 0;
    for (int seed = 0; seed < 5; seed++) {
        gb_rng_seed(&r1, (uint64_t)seed);
        CHECK_INT(gb_generate_tokens(&m, primer, P, 20000, 400, &smp, &r1, GB_PREC_FP32, long_out,
                                     &n, &e), GB_OK);
        uint64_t steps = 0;
        for (int t = 0; t < n; t++) {
            int v;
            if (gb_events_class(long_out[t], &v) == GB_EVC_TIME_SHIFT) steps += (uint64_t)v;
        }
        shifts_seen += n < 20000;
        CHECK(n < 20000 && steps == 400);
        CHECK(n > 0 && gb_events_class(long_out[n - 1], NULL) == GB_EVC_TIME_SHIFT);
    }
    CHECK_INT(shifts_seen, 5);
    /* an ensemble model that favours PROGRAM tokens: it never draws a 16th melodic program,
     * and what it draws decodes */
    {
        gb_lstm_config ce = {.D = 517, .V = 517, .H = 16, .L = 1, .head = GB_HEAD_SOFTMAX};
        gb_lstm me;
        gb_rng_seed(&r1, 3);
        CHECK_INT(gb_lstm_init(&me, &ce, &r1, &e), GB_OK);
        for (int p = 0; p < 129; p++) me.p.fc_b[GB_EV_PROGRAM + p] = 3.0f;
        uint8_t seen[129] = {0};
        int melodic = 0;
        CHECK_INT(gb_generate_tokens(&me, primer, P, 3000, 0, &smp, &r1, GB_PREC_FP32, long_out, &n,
                                     &e), GB_OK);
        for (int t = 0; t < n; t++) {
            int v;
            if (gb_events_class(long_out[t], &v) == GB_EVC_PROGRAM && !seen[v] && v < 128)
                melodic++;
            if (gb_events_class(long_out[t], &v) == GB_EVC_PROGRAM) seen[v] = 1;
        }
        CHECK_INT(melodic, GB_GEN_MAX_PROGRAMS);
        gb_song sg;
        CHECK_INT(gb_events_decode(long_out, (size_t)n, NULL, &sg, NULL, &e), GB_OK);
        gb_song_free(&sg);
        gb_lstm_free(&me);
    }
    primer[2] = V; /* out of the vocabulary */
    CHECK_INT(gb_generate_tokens(&m, primer, P, N, 0, &smp, &r1, GB_PREC_FP32, out, &n, &e),
              GB_ERR_ARG);
    gb_lstm_free(&m);
}

int main(void) {
    RUN(test_key_detect);
    RUN(test_key_fix);
    RUN(test_decode);
    RUN(test_feedback);
    RUN(test_feedback_nade_meter);
    RUN(test_feedback_tokens);
    TEST_END();
}
