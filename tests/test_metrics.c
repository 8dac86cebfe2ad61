/* test_metrics.c - the features of crafted pieces against values worked out by hand, the
 * degenerate pieces, the kernel-density comparison against closed forms, and the protocol:
 * a set against itself, against a different set, and with too few pieces. */
#include <math.h>
#include <stdlib.h>

#include "metrics/metrics.h"
#include "test.h"

#define V(pf, f) ((pf).v + gb_features[f].offset)

/* Piece A, 4/4, 4 ticks a quarter note (a tick is a sixteenth), two parts and a drum part:
 *   part 0: C4 [0,4)  D4 [8,10)  C4 [12,28)       part 1: E4 [4,8)  G4 [4,8)  C5 [36,37)
 *   drums:  a bass drum at 0 (never counted)
 * In (start, pitch) order: C4 E4 G4 D4 C4 C5. */
static gb_note a0[] = {{0, 4, 60, 90}, {8, 10, 62, 90}, {12, 28, 60, 90}};
static gb_note a1[] = {{4, 8, 64, 90}, {4, 8, 67, 90}, {36, 37, 72, 90}};
static gb_note ad[] = {{0, 1, 36, 100}};
static gb_part a_parts[3];

static gb_song piece_a(void) {
    gb_song s;
    memset(&s, 0, sizeof s);
    s.format = 1, s.division = 4, s.n_tracks = 3;
    a_parts[0] = (gb_part){.track = 1, .notes = a0, .n_notes = 3};
    a_parts[1] = (gb_part){.track = 2, .channel = 1, .notes = a1, .n_notes = 3};
    a_parts[2] = (gb_part){.track = 3, .channel = 9, .is_drum = 1, .notes = ad, .n_notes = 1};
    s.parts = a_parts, s.n_parts = 3;
    return s;
}

/* The features of notes given directly (tpq ticks a quarter, bar_num/4 time). */
static gb_piece_features features(const gb_note *notes, size_t n, int tpq, int bar_num) {
    gb_piece_notes p = {(gb_note *)notes, n, tpq, bar_num, 4};
    gb_piece_features f;
    gb_error e;
    CHECK_INT(gb_features_of(&p, 4, &f, &e), GB_OK);
    return f;
}

static void test_features_by_hand(void) {
    gb_song s = piece_a();
    gb_piece_notes p;
    gb_error e;
    CHECK_INT(gb_piece_notes_of(&s, &p, &e), GB_OK);
    CHECK_INT(p.n, 6); /* the drum note left out */
    CHECK_INT(p.tpq, 4);
    CHECK(p.bar_num == 4 && p.bar_den == 4);
    static const int order[6] = {60, 64, 67, 62, 60, 72};
    for (int i = 0; i < 6; i++) CHECK_INT(p.notes[i].pitch, order[i]);
    gb_piece_features f;
    CHECK_INT(gb_features_of(&p, 4, &f, &e), GB_OK);
    for (int k = 0; k < GB_F_COUNT; k++) CHECK_INT(f.undef[k], GB_UNDEF_NONE);
    /* Yang & Lerch */
    CHECK_NEAR(V(f, GB_F_PITCH_COUNT)[0], 5, 0);  /* 60 62 64 67 72 */
    CHECK_NEAR(V(f, GB_F_NOTE_COUNT)[0], 6, 0);
    CHECK_NEAR(V(f, GB_F_PITCH_RANGE)[0], 12, 0); /* 72 - 60 */
    /* |64-60| + |67-64| + |62-67| + |60-62| + |72-60| = 4+3+5+2+12 = 26 over 5 */
    CHECK_NEAR(V(f, GB_F_PITCH_INTERVAL)[0], 26.0 / 5, 1e-12);
    /* onsets 0 4 8 12 36 ticks: 36 ticks = 9 quarters over 4 intervals */
    CHECK_NEAR(V(f, GB_F_IOI)[0], 2.25, 1e-12);
    /* pitch classes: C C C(72) D E G */
    double pch[12] = {3, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0};
    for (int c = 0; c < 12; c++) CHECK_NEAR(V(f, GB_F_PC_HIST)[c], pch[c] / 6, 1e-12);
    /* transitions between onset groups {C} {E,G} {D} {C} {C5}: C>E C>G E>D G>D D>C C>C */
    double tm[144] = {0};
    tm[0 * 12 + 4] = tm[0 * 12 + 7] = tm[4 * 12 + 2] = tm[7 * 12 + 2] = tm[2 * 12 + 0] =
        tm[0 * 12 + 0] = 1.0 / 6;
    for (int k = 0; k < 144; k++) CHECK_NEAR(V(f, GB_F_PC_TRANS)[k], tm[k], 1e-12);
    /* lengths 1 1 1 1/2 4 1/4 quarters: quarter x3, 8th, whole, 16th */
    double nlh[12] = {1, 0, 3, 1, 1, 0, 0, 0, 0, 0, 0, 0};
    for (int c = 0; c < 12; c++) CHECK_NEAR(V(f, GB_F_LENGTH_HIST)[c], nlh[c] / 6, 1e-12);
    /* MusPy. Sounding pitches: [0,4) 1, [4,8) 2, [8,10) 1, [10,12) 0, [12,28) 1, [28,36) 0,
     * [36,37) 1: pitch-ticks 4+8+2+16+1 = 31 over 27 sounding ticks; 4 ticks of two pitches
     * out of 37 */
    CHECK_NEAR(V(f, GB_F_POLYPHONY)[0], 31.0 / 27, 1e-12);
    CHECK_NEAR(V(f, GB_F_POLY_RATE)[0], 4.0 / 37, 1e-12);
    CHECK_NEAR(V(f, GB_F_SCALE)[0], 1, 1e-12); /* C D E G: all in C major */
    /* pitches 60 x2, 62 64 67 72: -(1/3 log2 1/3 + 4/6 log2 1/6) */
    CHECK_NEAR(V(f, GB_F_PITCH_ENTROPY)[0], log2(3) / 3 + 4.0 / 6 * log2(6), 1e-12);
    /* classes C x3, D E G: -(1/2 log2 1/2 + 3/6 log2 1/6) */
    CHECK_NEAR(V(f, GB_F_PC_ENTROPY)[0], 0.5 + 0.5 * log2(6), 1e-12);
    /* beats [0,4) .. [36,40): 10, of which [28,32) and [32,36) empty */
    CHECK_NEAR(V(f, GB_F_EMPTY_BEAT)[0], 0.2, 1e-12);
    /* bars of 16 steps (a step is a tick here): onsets {0,4,8,12} | {} | {4}, 3 bars as the
     * last note ends at step 37: Hamming 4 + 1 over 2 x 16 */
    CHECK_NEAR(V(f, GB_F_GROOVE)[0], 1 - 5.0 / 32, 1e-12);
    gb_piece_notes_free(&p);
}

static void test_features_small(void) {
    /* C C# D E: C major and D major both hold 3 of the 4 */
    gb_note sc[] = {{0, 4, 60, 90}, {4, 8, 61, 90}, {8, 12, 62, 90}, {12, 16, 64, 90}};
    gb_piece_features f = features(sc, 4, 4, 4);
    CHECK_NEAR(V(f, GB_F_SCALE)[0], 0.75, 1e-12);
    CHECK_NEAR(V(f, GB_F_POLYPHONY)[0], 1, 1e-12);
    CHECK_NEAR(V(f, GB_F_POLY_RATE)[0], 0, 0);
    CHECK_INT(f.undef[GB_F_GROOVE], GB_UNDEF_ONE_BAR); /* 16 ticks: one bar */
    /* 3/4: a bar is 12 steps. Onsets at 0 and 12 (bar 0 pos 0, bar 1 pos 0) and 18 (bar 1
     * pos 6), ending at 20: 2 bars, Hamming 1 over 12 */
    gb_note g[] = {{0, 4, 60, 90}, {12, 16, 60, 90}, {18, 20, 60, 90}};
    f = features(g, 3, 4, 3);
    CHECK_NEAR(V(f, GB_F_GROOVE)[0], 1 - 1.0 / 12, 1e-12);
    /* the same note struck twice without a gap sounds without a break: polyphony 1; tied
     * notes of one pitch in two parts overlap and count once */
    gb_note t[] = {{0, 8, 60, 90}, {4, 12, 60, 90}, {12, 16, 60, 90}};
    f = features(t, 3, 4, 4);
    CHECK_NEAR(V(f, GB_F_POLYPHONY)[0], 1, 1e-12);
    CHECK_NEAR(V(f, GB_F_POLY_RATE)[0], 0, 0);
    /* lengths in quarters to the nearest class: 3 (dotted half), 1.5, 2/3 (a triplet
     * quarter: 8 ticks of 12), 5 (longer than a whole: whole) */
    gb_note l[] = {{0, 36, 60, 90}, {36, 54, 60, 90}, {54, 62, 60, 90}, {62, 122, 60, 90}};
    f = features(l, 4, 12, 4);
    double nlh[12] = {1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0};
    for (int c = 0; c < 12; c++) CHECK_NEAR(V(f, GB_F_LENGTH_HIST)[c], nlh[c] / 4, 1e-12);
}

static void test_features_degenerate(void) {
    /* no notes: the counts are 0, everything else undefined because of it */
    gb_piece_features f = features(NULL, 0, 480, 4);
    CHECK_NEAR(V(f, GB_F_NOTE_COUNT)[0], 0, 0);
    CHECK_NEAR(V(f, GB_F_PITCH_COUNT)[0], 0, 0);
    CHECK_INT(f.undef[GB_F_NOTE_COUNT], GB_UNDEF_NONE);
    for (int k = 0; k < GB_F_COUNT; k++)
        if (k != GB_F_NOTE_COUNT && k != GB_F_PITCH_COUNT) {
            CHECK_INT(f.undef[k], GB_UNDEF_NO_NOTES);
            for (int d = 0; d < gb_features[k].dim; d++) CHECK(V(f, k)[d] == 0);
        }
    CHECK_STR_HAS(gb_undef_str(GB_UNDEF_NO_NOTES), "no notes");
    /* one note */
    gb_note one[] = {{0, 480, 67, 90}};
    f = features(one, 1, 480, 4);
    CHECK_NEAR(V(f, GB_F_PITCH_COUNT)[0], 1, 0);
    CHECK_NEAR(V(f, GB_F_PITCH_RANGE)[0], 0, 0);
    CHECK_NEAR(V(f, GB_F_PC_HIST)[7], 1, 0);
    CHECK_NEAR(V(f, GB_F_PITCH_ENTROPY)[0], 0, 0);
    CHECK(!signbit(V(f, GB_F_PITCH_ENTROPY)[0]));
    CHECK_NEAR(V(f, GB_F_EMPTY_BEAT)[0], 0, 0);
    CHECK_NEAR(V(f, GB_F_POLYPHONY)[0], 1, 0);
    CHECK_INT(f.undef[GB_F_PITCH_INTERVAL], GB_UNDEF_ONE_NOTE);
    CHECK_INT(f.undef[GB_F_IOI], GB_UNDEF_ONE_ONSET);
    CHECK_INT(f.undef[GB_F_PC_TRANS], GB_UNDEF_ONE_ONSET);
    CHECK_INT(f.undef[GB_F_GROOVE], GB_UNDEF_ONE_BAR);
    /* one chord: intervals inside it, no inter-onset interval */
    gb_note chord[] = {{0, 480, 60, 90}, {0, 480, 64, 90}, {0, 480, 67, 90}};
    f = features(chord, 3, 480, 4);
    CHECK_NEAR(V(f, GB_F_PITCH_INTERVAL)[0], 3.5, 1e-12);
    CHECK_NEAR(V(f, GB_F_POLYPHONY)[0], 3, 1e-12);
    CHECK_NEAR(V(f, GB_F_POLY_RATE)[0], 1, 1e-12);
    CHECK_INT(f.undef[GB_F_IOI], GB_UNDEF_ONE_ONSET);
    /* every value of every feature is finite */
    for (int k = 0; k < GB_FEATURE_DIMS; k++) CHECK(isfinite(f.v[k]));
    /* a note without length (cut at its track's end) lasts a tick */
    gb_note cut[] = {{5, 5, 60, 90}};
    gb_part part = {.notes = cut, .n_notes = 1};
    gb_song s;
    memset(&s, 0, sizeof s);
    s.division = 4, s.parts = &part, s.n_parts = 1;
    gb_piece_notes p;
    gb_error e;
    CHECK_INT(gb_piece_notes_of(&s, &p, &e), GB_OK);
    CHECK(p.n == 1 && p.notes[0].end == 6);
    CHECK_INT(gb_features_of(&p, 4, &f, &e), GB_OK);
    CHECK_NEAR(V(f, GB_F_POLYPHONY)[0], 1, 0);
    CHECK_INT(gb_features_of(&p, 0, &f, &e), GB_ERR_ARG);
    gb_piece_notes_free(&p);
}

static void test_cut_and_random(void) {
    gb_song s = piece_a();
    gb_piece_notes p, c;
    gb_error e;
    CHECK_INT(gb_piece_notes_of(&s, &p, &e), GB_OK);
    /* ticks [12, 20): the whole note only, cut to its first 8 ticks */
    CHECK_INT(gb_piece_notes_cut(&p, 12, 8, &c, &e), GB_OK);
    CHECK(c.n == 1 && c.notes[0].start == 0 && c.notes[0].end == 8 && c.notes[0].pitch == 60);
    gb_piece_notes_free(&c);
    CHECK_INT(gb_piece_notes_cut(&p, 4, 8, &c, &e), GB_OK); /* E4 G4 D4 */
    CHECK(c.n == 3 && c.notes[2].start == 4 && c.notes[2].end == 6 && c.notes[2].pitch == 62);
    gb_piece_notes_free(&c);
    CHECK_INT(gb_piece_notes_cut(&p, 100, 8, &c, &e), GB_OK);
    CHECK(c.n == 0);
    gb_piece_notes_free(&c);
    /* the floor: as many notes, lengths shuffled, pitches in range, onsets on the grid and
     * before the span (37 ticks) */
    gb_rng r;
    gb_rng_seed(&r, 7);
    CHECK_INT(gb_piece_notes_random(&p, 2, &r, &c, &e), GB_OK);
    CHECK_INT(c.n, 6);
    int lens[64] = {0}, want[64] = {0};
    for (size_t i = 0; i < 6; i++) {
        CHECK(c.notes[i].pitch >= 60 && c.notes[i].pitch <= 72);
        CHECK(c.notes[i].start % 2 == 0 && c.notes[i].start < 37);
        CHECK(i == 0 || c.notes[i].start >= c.notes[i - 1].start);
        lens[c.notes[i].end - c.notes[i].start]++;
        want[p.notes[i].end - p.notes[i].start]++;
    }
    CHECK(!memcmp(lens, want, sizeof lens));
    gb_piece_notes d;
    gb_rng_seed(&r, 7);
    CHECK_INT(gb_piece_notes_random(&p, 2, &r, &d, &e), GB_OK);
    CHECK(!memcmp(c.notes, d.notes, 6 * sizeof *c.notes)); /* same seed, same piece */
    gb_piece_notes_free(&c);
    gb_piece_notes_free(&d);
    gb_piece_notes_free(&p);
}

/* ------------------------------------------------------------------------------------------ */
/* densities and the protocol */

static double phi(double x) { return 0.5 * erfc(-x / sqrt(2)); }

static void test_kde_closed_forms(void) {
    /* one sample each: kernels of the floor bandwidth 1e-3 (the scale is 1) two of them apart:
     * KL = d^2 / 2h^2 = 2, OA = 2 Phi(-d / 2h) */
    double p = 0, q = 0.002, kl, oa;
    gb_kde_compare(&p, 1, &q, 1, &kl, &oa);
    CHECK_NEAR(kl, 2, 1e-6);
    CHECK_NEAR(oa, 2 * phi(-1), 1e-3); /* the kink where p and q cross: 1.2e-4 here */
    gb_kde_compare(&p, 1, &p, 1, &kl, &oa);
    CHECK_NEAR(kl, 0, 0);
    CHECK_NEAR(oa, 1, 1e-6);
    /* two Gaussian samples a unit apart (n = 2000 quantiles): the densities are close to
     * normal with variance 1 + h^2 (h = sd n^-1/5): KL = 1 / 2(1 + h^2), OA = 2 Phi(-1/2s) */
    enum { N = 2000 };
    static double x[N], y[N];
    for (int i = 0; i < N; i++) {
        /* the normal quantile of (i + 0.5) / N by bisection on phi */
        double lo = -10, hi = 10, u = (i + 0.5) / N;
        for (int it = 0; it < 80; it++) {
            double mid = (lo + hi) / 2;
            *(phi(mid) < u ? &lo : &hi) = mid;
        }
        x[i] = lo, y[i] = lo + 1;
    }
    double h = pow(N, -0.2), s2 = 1 + h * h;
    gb_kde_compare(x, N, y, N, &kl, &oa);
    CHECK_NEAR(kl, 1 / (2 * s2), 0.01);
    CHECK_NEAR(oa, 2 * phi(-0.5 / sqrt(s2)), 0.01);
    gb_kde_compare(x, N, x, N, &kl, &oa);
    CHECK_NEAR(kl, 0, 0);
    CHECK_NEAR(oa, 1, 1e-6);
}

/* A set of n pieces: random notes over piece A's range and lengths, and, with wide, pitches
 * spread over five octaves. */
static void make_set(gb_piece_set *set, int n, uint64_t seed, int wide, const char *prefix) {
    memset(set, 0, sizeof *set);
    gb_song s = piece_a();
    gb_piece_notes p, r;
    gb_error e;
    CHECK_INT(gb_piece_notes_of(&s, &p, &e), GB_OK);
    if (wide) p.notes[5].pitch = 120, p.notes[0].pitch = 20;
    gb_rng rng;
    gb_rng_seed(&rng, seed);
    for (int i = 0; i < n; i++) {
        CHECK_INT(gb_piece_notes_random(&p, 4, &rng, &r, &e), GB_OK);
        gb_piece_features f;
        CHECK_INT(gb_features_of(&r, 4, &f, &e), GB_OK);
        char path[32];
        snprintf(path, sizeof path, "%s%d.mid", prefix, i);
        CHECK_INT(gb_piece_set_add(set, path, path, &f, &e), GB_OK);
        gb_piece_notes_free(&r);
    }
    gb_piece_notes_free(&p);
}

static void test_set_against_itself(void) {
    gb_piece_set a;
    make_set(&a, 12, 1, 0, "a");
    gb_set_cmp c;
    gb_error e;
    CHECK_INT(gb_compare_sets(&a, &a, &c, &e), GB_OK);
    for (int f = 0; f < GB_F_COUNT; f++) {
        CHECK(c.f[f].defined);
        CHECK_INT(c.f[f].n_intra, 12 * 11);
        CHECK_INT(c.f[f].n_inter, 12 * 11); /* a piece is not compared with itself */
        CHECK_NEAR(c.f[f].kl, 0, 1e-9);
        CHECK_NEAR(c.f[f].oa, 1, 1e-4);
        CHECK_NEAR(c.f[f].intra_mean, c.f[f].inter_mean, 1e-9);
        for (int d = 0; d < gb_features[f].dim; d++)
            CHECK(c.gen.mean[gb_features[f].offset + d] == c.ref.mean[gb_features[f].offset + d]);
    }
    /* the note count is 6 everywhere: every distance 0, KL 0 and overlap 1 still */
    CHECK_NEAR(c.ref.mean[gb_features[GB_F_NOTE_COUNT].offset], 6, 0);
    CHECK_NEAR(c.ref.sd[gb_features[GB_F_NOTE_COUNT].offset], 0, 0);
    CHECK_NEAR(c.f[GB_F_NOTE_COUNT].oa, 1, 1e-4);
    /* another draw from the same process: close, not equal */
    gb_piece_set b, w;
    make_set(&b, 12, 2, 0, "b");
    CHECK_INT(gb_compare_sets(&b, &a, &c, &e), GB_OK);
    CHECK_INT(c.f[GB_F_PITCH_RANGE].n_inter, 12 * 12);
    CHECK(c.f[GB_F_PC_HIST].oa > 0.5);
    /* pitches over five octaves against one: the ranges barely overlap */
    make_set(&w, 12, 3, 1, "w");
    gb_set_cmp cw;
    CHECK_INT(gb_compare_sets(&w, &a, &cw, &e), GB_OK);
    CHECK(cw.f[GB_F_PITCH_RANGE].oa < 0.1);
    CHECK(cw.f[GB_F_PITCH_RANGE].kl > 1);
    CHECK(cw.f[GB_F_PITCH_RANGE].oa < c.f[GB_F_PITCH_RANGE].oa);
    CHECK(cw.f[GB_F_PITCH_RANGE].kl > c.f[GB_F_PITCH_RANGE].kl);
    gb_piece_set_free(&a);
    gb_piece_set_free(&b);
    gb_piece_set_free(&w);
}

static void test_protocol_degenerate(void) {
    gb_piece_set one, two, empty;
    make_set(&one, 1, 1, 0, "one");
    make_set(&two, 2, 2, 0, "two");
    memset(&empty, 0, sizeof empty);
    gb_piece_features nf;
    gb_error e;
    gb_piece_notes none = {NULL, 0, 480, 4, 4};
    CHECK_INT(gb_features_of(&none, 4, &nf, &e), GB_OK);
    CHECK_INT(gb_piece_set_add(&empty, "empty.mid", "empty.mid", &nf, &e), GB_OK);
    gb_set_cmp c;
    /* a reference of one piece: no intra-set distance, said so */
    CHECK_INT(gb_compare_sets(&two, &one, &c, &e), GB_OK);
    for (int f = 0; f < GB_F_COUNT; f++) {
        CHECK(!c.f[f].defined);
        CHECK_STR_HAS(c.f[f].why, "fewer than two");
        CHECK_INT(c.f[f].n_intra, 0);
    }
    /* a generated piece without notes: only the counts are compared */
    CHECK_INT(gb_compare_sets(&empty, &two, &c, &e), GB_OK);
    CHECK(c.f[GB_F_NOTE_COUNT].defined && c.f[GB_F_PITCH_COUNT].defined);
    CHECK(isfinite(c.f[GB_F_NOTE_COUNT].kl) && isfinite(c.f[GB_F_NOTE_COUNT].oa));
    CHECK(!c.f[GB_F_POLYPHONY].defined);
    CHECK_STR_HAS(c.f[GB_F_POLYPHONY].why, "no generated piece");
    CHECK_INT(c.gen.n[GB_F_POLYPHONY], 0);
    /* a generated set that is the reference's own pieces: nothing left to compare */
    CHECK_INT(gb_compare_sets(&one, &one, &c, &e), GB_OK);
    CHECK_STR_HAS(c.f[GB_F_PITCH_RANGE].why, "fewer than two");
    /* thinning: 100 pieces make 4950 pairs, 4000 are kept */
    gb_piece_set many;
    make_set(&many, 100, 5, 0, "m");
    CHECK_INT(gb_compare_sets(&many, &many, &c, &e), GB_OK);
    CHECK_INT(c.f[GB_F_POLYPHONY].n_intra, 2 * GB_CMP_MAX_PAIRS);
    CHECK_INT(c.f[GB_F_POLYPHONY].n_inter, GB_CMP_MAX_PAIRS);
    CHECK(c.f[GB_F_POLYPHONY].oa > 0.95);
    gb_piece_set_free(&one);
    gb_piece_set_free(&two);
    gb_piece_set_free(&empty);
    gb_piece_set_free(&many);
}

int main(void) {
    RUN(test_features_by_hand);
    RUN(test_features_small);
    RUN(test_features_degenerate);
    RUN(test_cut_and_random);
    RUN(test_kde_closed_forms);
    RUN(test_set_against_itself);
    RUN(test_protocol_degenerate);
    TEST_END();
}
