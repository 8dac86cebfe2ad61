/* test_copying.c - the copying metric (src/metrics/copying.c): stretches and 4-bar windows
 * worked out by hand on songs built in memory, the degenerate cases and the errors, and a
 * brute-force implementation of the definition (docs/metrics.md) on random songs over a tiny
 * pitch alphabet, where matches abound. */
#include <omp.h>
#include <stdlib.h>

#include "metrics/metrics.h"
#include "test.h"

enum { DIV = 480 }; /* ticks per quarter note; at 4 steps a beat a step is 120 ticks */

/* A song under construction: notes laid on a grid of step ticks. */
typedef struct {
    gb_song s;
    gb_part parts[8];
    size_t cap[8];
    gb_timesig ts;
    uint64_t step;
} tsong;

static tsong *ts_new(int n_parts) {
    tsong *t = calloc(1, sizeof *t);
    t->s = (gb_song){.format = 1, .division = DIV, .n_tracks = n_parts, .parts = t->parts,
                     .n_parts = (size_t)n_parts};
    for (int i = 0; i < n_parts; i++) t->parts[i].track = i, t->parts[i].channel = i;
    t->step = DIV / 4;
    return t;
}

static void ts_drum(tsong *t, int part) { t->parts[part].channel = 9, t->parts[part].is_drum = 1; }

static void ts_timesig(tsong *t, int num, int den) {
    t->ts = (gb_timesig){0, (uint8_t)num, (uint8_t)den, 24, 8};
    t->s.timesigs = &t->ts, t->s.n_timesigs = 1;
}

/* A note from step to step + len (notes must come in order of start, then pitch). */
static void ts_note(tsong *t, int part, uint64_t step, uint64_t len, int pitch, int vel) {
    gb_part *p = &t->parts[part];
    if (p->n_notes == t->cap[part]) {
        t->cap[part] = t->cap[part] ? 2 * t->cap[part] : 64;
        p->notes = realloc(p->notes, t->cap[part] * sizeof *p->notes);
    }
    p->notes[p->n_notes++] =
        (gb_note){step * t->step, (step + len) * t->step, (uint8_t)pitch, (uint8_t)vel};
}

/* One step each, from step0; pitch 0 is a rest. */
static void ts_line(tsong *t, int part, uint64_t step0, const int *pitches, size_t n, int vel) {
    for (size_t k = 0; k < n; k++)
        if (pitches[k]) ts_note(t, part, step0 + k, 1, pitches[k], vel);
}

static void ts_free(tsong *t) {
    for (int i = 0; i < 8; i++) free(t->parts[i].notes);
    free(t);
}

static gb_copy_index *new_index(int spb) {
    gb_copy_index *ix = NULL;
    gb_error e;
    CHECK_INT(gb_copy_new(spb, &ix, &e), GB_OK);
    return ix;
}

static void add(gb_copy_index *ix, const tsong *t, size_t piece) {
    gb_error e;
    CHECK_INT(gb_copy_add(ix, &t->s, piece, &e), GB_OK);
}

static gb_copy_result find(gb_copy_index *ix, const tsong *t) {
    gb_copy_result r;
    gb_error e;
    CHECK_INT(gb_copy_find(ix, &t->s, &r, &e), GB_OK);
    return r;
}

/* ------------------------------------------------------------------------------------------ */
/* by hand, at 4 steps a beat in 4/4: a bar is 16 steps, a window 64 */

/* Part 0: a melody on steps 0..94 resting on every third step (k % 3 == 2), so its roll has 95
 * steps, sounding from 0 to 94: span 95. Part 1: 16 bass notes of 2 steps from step 8, every 4
 * steps: the last covers 68..69, 70 steps, span 69 - 8 + 1 = 62. */
static tsong *two_parts(int changed_bass) {
    tsong *t = ts_new(2);
    for (int k = 0; k < 95; k++)
        if (k % 3 != 2) ts_note(t, 0, (uint64_t)k, 1, 60 + (k * 7) % 12, 100);
    for (int j = 0; j < 16; j++)
        ts_note(t, 1, 8 + 4 * (uint64_t)j, 2, 36 + (j * 5) % 12 + (j == 10 && changed_bass), 80);
    return t;
}

static void test_identical(void) {
    tsong *other = ts_new(1), *song = two_parts(0), *changed = two_parts(1);
    for (int k = 0; k < 40; k++) ts_note(other, 0, (uint64_t)k, 1, 90 + k % 5, 64);
    gb_copy_index *ix = new_index(4);
    add(ix, other, 3);
    add(ix, song, 7);
    /* the piece itself: found whole from part 0's first step. Windows: part 0 (95 steps) starts
     * them at 0 and 16 (32 + 64 > 95), part 1 (70 steps) at 0: 3, all found */
    gb_copy_result r = find(ix, song);
    CHECK_INT(r.longest, 95);
    CHECK_INT(r.span, 95);
    CHECK_INT(r.whole, 1);
    CHECK(r.gen_part == 0 && r.gen_step == 0);
    CHECK(r.ref_piece == 7 && r.ref_part == 0 && r.ref_step == 0);
    CHECK_INT(r.windows, 3);
    CHECK_INT(r.windows_found, 3);
    /* one bass note a semitone up (j = 10, step 48): part 1 is no longer found whole, nor its
     * window; part 0 still is */
    r = find(ix, changed);
    CHECK_INT(r.longest, 95);
    CHECK_INT(r.whole, 0);
    CHECK_INT(r.windows, 3);
    CHECK_INT(r.windows_found, 2);
    gb_copy_free(ix);
    ts_free(other), ts_free(song), ts_free(changed);
}

/* A whole-tone melody on even pitches; everything else in the reference is even too, so the
 * melody a semitone up (odd pitches) meets nothing. */
static const int tone[10] = {60, 62, 64, 66, 68, 70, 72, 74, 76, 78};

/* The reference: piece 0 unrelated; piece 2 part 1 holds tone[3..8] at steps 5..10 between
 * other notes; piece 5 holds it again, later in insertion order. */
static gb_copy_index *excerpt_index(void) {
    static const int before[5] = {50, 52, 54, 56, 58}, after[3] = {40, 42, 44},
                     high[3] = {90, 92, 94};
    tsong *p0 = ts_new(1), *p2 = ts_new(2), *p5 = ts_new(1);
    ts_line(p0, 0, 0, before, 4, 100);
    ts_line(p2, 0, 0, high, 3, 100);
    ts_line(p2, 1, 0, before, 5, 100);
    ts_line(p2, 1, 5, tone + 3, 6, 100);
    ts_line(p2, 1, 11, after, 3, 100);
    ts_line(p5, 0, 0, tone + 3, 6, 100);
    gb_copy_index *ix = new_index(4);
    add(ix, p0, 0);
    add(ix, p2, 2);
    add(ix, p5, 5);
    ts_free(p0), ts_free(p2), ts_free(p5);
    return ix;
}

static void test_excerpt(void) {
    gb_copy_index *ix = excerpt_index();
    /* part 0 is drums playing the same pitches, which are neither indexed nor searched: the
     * melody in part 1 is found at its steps 3..8, in piece 2 part 1 from step 5 (piece 5
     * holds it too, but later) */
    tsong *g = ts_new(2);
    ts_drum(g, 0);
    ts_line(g, 0, 0, tone, 10, 100);
    ts_line(g, 1, 0, tone, 10, 100);
    gb_copy_result r = find(ix, g);
    CHECK_INT(r.longest, 6);
    CHECK_INT(r.gen_part, 1);
    CHECK_INT(r.gen_step, 3);
    CHECK_INT(r.ref_piece, 2);
    CHECK_INT(r.ref_part, 1);
    CHECK_INT(r.ref_step, 5);
    CHECK_INT(r.span, 10);
    CHECK_INT(r.whole, 0);
    CHECK_INT(r.windows, 0); /* 10 steps: shorter than a window */
    ts_free(g);

    /* softer: velocities are not compared */
    g = ts_new(1);
    ts_line(g, 0, 0, tone, 10, 20);
    r = find(ix, g);
    CHECK(r.longest == 6 && r.gen_part == 0 && r.gen_step == 3);
    CHECK(r.ref_piece == 2 && r.ref_part == 1 && r.ref_step == 5);
    ts_free(g);

    /* a semitone up: nothing */
    int up[10];
    for (int k = 0; k < 10; k++) up[k] = tone[k] + 1;
    g = ts_new(1);
    ts_line(g, 0, 0, up, 10, 100);
    r = find(ix, g);
    CHECK_INT(r.longest, 0);
    CHECK_INT(r.span, 10);
    CHECK(r.gen_step == 0 && r.ref_piece == 0 && r.ref_step == 0);
    ts_free(g);
    gb_copy_free(ix);
}

static void test_silence(void) {
    static const int ref0[7] = {70, 72, 74, 0, 0, 0, 80}, gen0[7] = {70, 72, 74, 0, 0, 0, 76};
    static const int ref1[5] = {30, 0, 0, 32, 50}, gen1[5] = {30, 0, 0, 32, 99};
    static const int gen2[5] = {0, 0, 0, 0, 88};
    tsong *a = ts_new(1), *b = ts_new(1);
    ts_line(a, 0, 0, ref0, 7, 100);
    ts_line(b, 0, 0, ref1, 5, 100);
    gb_copy_index *ix = new_index(4);
    add(ix, a, 0);
    add(ix, b, 1);
    /* steps 0..5 match (three notes, three rests), step 6 does not: the stretch ends on the
     * last sounding step, 2, so it is 3 long */
    tsong *g = ts_new(1);
    ts_line(g, 0, 0, gen0, 7, 100);
    gb_copy_result r = find(ix, g);
    CHECK_INT(r.longest, 3);
    CHECK(r.gen_step == 0 && r.ref_piece == 0 && r.ref_step == 0);
    CHECK_INT(r.span, 7);
    ts_free(g);
    /* rests inside a stretch count: 30, rest, rest, 32 is 4 long */
    g = ts_new(1);
    ts_line(g, 0, 0, gen1, 5, 100);
    r = find(ix, g);
    CHECK_INT(r.longest, 4);
    CHECK(r.gen_step == 0 && r.ref_piece == 1 && r.ref_step == 0);
    ts_free(g);
    /* four rests match everywhere, the note after them nowhere: no copying */
    g = ts_new(1);
    ts_line(g, 0, 0, gen2, 5, 100);
    r = find(ix, g);
    CHECK_INT(r.longest, 0);
    CHECK_INT(r.span, 1);
    ts_free(g);
    gb_copy_free(ix);
    ts_free(a), ts_free(b);
}

static void test_frames(void) {
    /* frames are pitch sets: the lowest and highest pitches count, a chord is not its subset,
     * and notes off the grid land where the roll puts them (tick 110 rounds to step 1, 245 to
     * step 2) */
    tsong *ref = ts_new(1), *same = ts_new(1), *subset = ts_new(1), *off = ts_new(1);
    ts_note(ref, 0, 0, 1, 0, 100);
    ts_note(ref, 0, 1, 1, 127, 100);
    for (int q = 0; q < 3; q++) ts_note(ref, 0, 2, 1, 60 + 4 * q - (q == 2), 100);
    ts_note(ref, 0, 3, 1, 60, 100), ts_note(ref, 0, 3, 1, 64, 100);
    gb_copy_index *ix = new_index(4);
    add(ix, ref, 0);
    gb_copy_result r = find(ix, ref);
    CHECK(r.longest == 4 && r.whole == 1);
    ts_note(subset, 0, 0, 1, 0, 100);
    ts_note(subset, 0, 1, 1, 127, 100);
    ts_note(subset, 0, 2, 1, 60, 100), ts_note(subset, 0, 2, 1, 64, 100);
    ts_note(subset, 0, 3, 1, 60, 100), ts_note(subset, 0, 3, 1, 64, 100);
    r = find(ix, subset);
    CHECK(r.longest == 2 && r.gen_step == 0 && r.ref_step == 0 && r.whole == 0);
    ts_note(same, 0, 1, 1, 127, 100);
    r = find(ix, same);
    CHECK(r.longest == 1 && r.gen_step == 1 && r.ref_step == 1 && r.span == 1);
    off->parts[0].notes = malloc(sizeof(gb_note)), off->cap[0] = 1;
    off->parts[0].notes[0] = (gb_note){110, 245, 127, 100}, off->parts[0].n_notes = 1;
    r = find(ix, off);
    CHECK(r.longest == 1 && r.gen_step == 1 && r.ref_step == 1);
    gb_copy_free(ix);
    ts_free(ref), ts_free(same), ts_free(subset), ts_free(off);
}

static void test_part_boundary(void) {
    /* tone[0..3] ends part 0 (steps 3..6), tone[4..9] starts part 1: the melody runs on across
     * the parts in the reference's frames, but a stretch stays in one part: 6, from part 1 */
    static const int lead[3] = {40, 42, 44}, tail[2] = {46, 48};
    tsong *ref = ts_new(2), *g = ts_new(1);
    ts_line(ref, 0, 0, lead, 3, 100);
    ts_line(ref, 0, 3, tone, 4, 100);
    ts_line(ref, 1, 0, tone + 4, 6, 100);
    ts_line(ref, 1, 6, tail, 2, 100);
    ts_line(g, 0, 0, tone, 10, 100);
    gb_copy_index *ix = new_index(4);
    add(ix, ref, 4);
    gb_copy_result r = find(ix, g);
    CHECK_INT(r.longest, 6);
    CHECK_INT(r.gen_step, 4);
    CHECK(r.ref_piece == 4 && r.ref_part == 1 && r.ref_step == 0);
    gb_copy_free(ix);
    ts_free(ref), ts_free(g);
}

/* Material for windows: a[k] for 64 steps, every step sounding, not periodic. */
static int mat(int k) { return 48 + (k * k * 7 + 3 * k) % 29; }

/* The reference: a[0..64) then 32 steps of a + 2. */
static gb_copy_index *window_index(void) {
    tsong *ref = ts_new(1);
    for (int k = 0; k < 96; k++) ts_note(ref, 0, (uint64_t)k, 1, mat(k % 64) + 2 * (k >= 64), 90);
    gb_copy_index *ix = new_index(4);
    add(ix, ref, 0);
    ts_free(ref);
    return ix;
}

/* 8 bars: bars 1-4 a, bars 5-8 a + 1 (unlike anything in the reference); silent_bar1: bar 1
 * is rests. */
static tsong *eight_bars(int silent_bar1) {
    tsong *t = ts_new(1);
    for (int k = silent_bar1 ? 16 : 0; k < 128; k++)
        ts_note(t, 0, (uint64_t)k, 1, mat(k % 64) + (k >= 64), 90);
    return t;
}

static void test_windows(void) {
    gb_copy_index *ix = window_index();
    /* 4/4: windows of 64 steps at 0, 16, 32, 48, 64 (64 + 64 = 128): 5, of which only the first
     * lies in bars 1-4; the longest stretch is bars 1-4 */
    tsong *g = eight_bars(0);
    gb_copy_result r = find(ix, g);
    CHECK_INT(r.windows, 5);
    CHECK_INT(r.windows_found, 1);
    CHECK_INT(r.longest, 64);
    CHECK(r.gen_step == 0 && r.ref_step == 0);
    CHECK_INT(r.span, 128);
    CHECK_INT(r.whole, 0);
    /* 3/4: a bar is 12 steps, a window 48: starts 0, 12, ..., 72 (84 + 48 > 128): 7; those in
     * steps 0..63 start at 0 and 12 (24 + 48 > 64): 2 */
    ts_timesig(g, 3, 4);
    r = find(ix, g);
    CHECK_INT(r.windows, 7);
    CHECK_INT(r.windows_found, 2);
    CHECK_INT(r.longest, 64);
    ts_free(g);
    /* bar 1 silent: the first window's 16 rests are not in the reference (a is there), so no
     * window is found; the stretch is steps 16..63 */
    g = eight_bars(1);
    r = find(ix, g);
    CHECK_INT(r.windows, 5);
    CHECK_INT(r.windows_found, 0);
    CHECK_INT(r.longest, 48);
    CHECK(r.gen_step == 16 && r.ref_step == 16);
    CHECK_INT(r.span, 112);
    ts_free(g);
    /* bars 1 and 8 sounding, 2-7 silent: windows at 16, 32 and 48 are silence, not counted */
    g = ts_new(1);
    for (int k = 0; k < 128; k++)
        if (k < 16 || k >= 112) ts_note(g, 0, (uint64_t)k, 1, mat(k % 64), 90);
    r = find(ix, g);
    CHECK_INT(r.windows, 2);
    CHECK_INT(r.windows_found, 0);
    ts_free(g);
    /* 3 bars copied from the reference: found whole, but no window fits in 48 steps */
    g = ts_new(1);
    for (int k = 0; k < 48; k++) ts_note(g, 0, (uint64_t)k, 1, mat(k), 90);
    r = find(ix, g);
    CHECK(r.longest == 48 && r.span == 48 && r.whole == 1);
    CHECK_INT(r.windows, 0);
    CHECK_INT(r.windows_found, 0);
    ts_free(g);
    gb_copy_free(ix);
}

static void test_window_boundary(void) {
    /* a window's first half (chords, each once in the reference) ends part 0 and its second half
     * (single notes, three times more) starts part 1: the window is checked from a chord of part
     * 0 and must not run on into part 1 */
    tsong *ref = ts_new(3), *g = ts_new(1);
    for (int k = 0; k < 64; k++) {
        int part = k < 32 ? 0 : 1;
        ts_note(ref, part, (uint64_t)k % 32, 1, mat(k), 90);
        if (k < 32) ts_note(ref, 0, (uint64_t)k, 1, 100, 90);
        ts_note(g, 0, (uint64_t)k, 1, mat(k), 90);
        if (k < 32) ts_note(g, 0, (uint64_t)k, 1, 100, 90);
    }
    for (int k = 0; k < 96; k++) ts_note(ref, 2, (uint64_t)k, 1, mat(32 + k % 32), 90);
    gb_copy_index *ix = new_index(4);
    add(ix, ref, 0);
    gb_copy_result r = find(ix, g);
    CHECK_INT(r.windows, 1);
    CHECK_INT(r.windows_found, 0);
    CHECK_INT(r.longest, 32);
    gb_copy_free(ix);
    ts_free(ref), ts_free(g);
}

static void test_degenerate(void) {
    gb_copy_index *ix = (gb_copy_index *)&ix; /* not NULL: a failure must clear it */
    gb_error e;
    CHECK_INT(gb_copy_new(0, &ix, &e), GB_ERR_ARG);
    CHECK(ix == NULL);
    CHECK_INT(gb_copy_new(961, &ix, &e), GB_ERR_ARG);
    CHECK_INT(gb_copy_new(-4, &ix, &e), GB_ERR_ARG);
    CHECK_INT(gb_copy_new(960, &ix, &e), GB_OK);
    gb_copy_free(ix);
    gb_copy_free(NULL);

    /* nothing added: windows counted, none found */
    ix = new_index(4);
    tsong *g = eight_bars(0);
    gb_copy_result r = find(ix, g);
    CHECK(r.longest == 0 && r.span == 128 && r.whole == 0);
    CHECK(r.windows == 5 && r.windows_found == 0);
    CHECK_INT(gb_copy_find(ix, NULL, &r, &e), GB_ERR_ARG);
    CHECK_INT(gb_copy_add(ix, NULL, 0, &e), GB_ERR_ARG);

    /* drums are neither indexed nor searched */
    tsong *drums = eight_bars(0);
    ts_drum(drums, 0);
    add(ix, drums, 0);
    r = find(ix, g);
    CHECK_INT(r.longest, 0);
    r = find(ix, drums);
    CHECK(r.longest == 0 && r.span == 0 && r.whole == 0 && r.windows == 0);

    /* no parts; a part without notes. (An add after a search: the next search sees it.) */
    tsong *none = ts_new(0), *empty = ts_new(1);
    add(ix, g, 1);
    r = find(ix, none);
    CHECK(r.longest == 0 && r.span == 0 && r.whole == 0 && r.windows == 0);
    r = find(ix, empty);
    CHECK(r.longest == 0 && r.span == 0 && r.whole == 0 && r.windows == 0);
    r = find(ix, g);
    CHECK(r.longest == 128 && r.whole == 1 && r.ref_piece == 1);

    /* a note ending past the roll's limit: gb_copy_add fails as gb_roll_encode does and keeps
     * nothing of the song, even its first part */
    gb_copy_free(ix);
    ix = new_index(4);
    tsong *huge = eight_bars(0);
    huge->s.n_parts = 2;
    ts_note(huge, 1, 0, (uint64_t)GB_ROLL_MAX_STEPS + 1, 60, 90);
    CHECK_INT(gb_copy_add(ix, &huge->s, 0, &e), GB_ERR_LIMIT);
    r = find(ix, g);
    CHECK_INT(r.longest, 0);
    CHECK_INT(gb_copy_find(ix, &huge->s, &r, &e), GB_ERR_LIMIT);
    CHECK(r.longest == 0 && r.windows == 0);
    gb_copy_free(ix);
    ts_free(g), ts_free(drums), ts_free(none), ts_free(empty), ts_free(huge);
}

/* ------------------------------------------------------------------------------------------ */
/* against brute force */

static const int alphabet[4] = {60, 62, 64, 67};

/* A part as frames over the alphabet: bit b of m[k] = alphabet[b] sounds at step k. */
typedef struct {
    int drum;
    size_t n;
    uint8_t m[512];
} rpart;

typedef struct {
    int n_parts, num, den; /* den 0: no time signature */
    rpart p[4];
} rsong;

/* The steps of a part's roll: to its last note's end. */
static size_t steps_of(const rpart *p) {
    size_t n = p->n;
    while (n && !p->m[n - 1]) n--;
    return n;
}

static tsong *to_song(const rsong *rs, int spb, gb_rng *rng) {
    tsong *t = ts_new(rs->n_parts);
    t->step = DIV / (uint64_t)spb;
    if (rs->den) ts_timesig(t, rs->num, rs->den);
    for (int i = 0; i < rs->n_parts; i++) {
        if (rs->p[i].drum) ts_drum(t, i);
        for (size_t k = 0; k < rs->p[i].n; k++)
            for (int b = 0; b < 4; b++)
                if (rs->p[i].m[k] >> b & 1)
                    ts_note(t, i, k, 1, alphabet[b], 1 + (int)gb_rng_below(rng, 127));
    }
    return t;
}

/* The definition, step by step over every reference step. */
static gb_copy_result naive(const rsong *refs, const size_t *pieces, int n_refs, const rsong *g,
                            int spb) {
    gb_copy_result r;
    memset(&r, 0, sizeof r);
    double bar = g->den ? g->num * 4.0 / g->den : 4;
    size_t W = (size_t)(4 * bar * spb + 0.5), hop = (size_t)(bar * spb + 0.5);
    int any = 0, all = 1;
    for (int p = 0; p < g->n_parts; p++) {
        const rpart *gp = &g->p[p];
        size_t n = steps_of(gp), first = 0;
        if (gp->drum || n == 0) continue;
        while (!gp->m[first]) first++;
        any = 1;
        if (n - first > r.span) r.span = n - first;
        uint64_t best = 0;
        size_t bi = 0, bj = 0, bq = 0, br = 0;
        for (size_t i = 0; i < n; i++) {
            if (!gp->m[i]) continue;
            for (int j = 0; j < n_refs; j++)
                for (int q = 0; q < refs[j].n_parts; q++) {
                    const rpart *rp = &refs[j].p[q];
                    size_t rn = steps_of(rp);
                    if (rp->drum) continue;
                    for (size_t k = 0; k < rn; k++) {
                        size_t L = 0, e = 0;
                        while (i + L < n && k + L < rn && gp->m[i + L] == rp->m[k + L]) {
                            if (gp->m[i + L]) e = i + L;
                            L++;
                        }
                        if (L && e - i + 1 > best)
                            best = e - i + 1, bi = i, bj = (size_t)j, bq = (size_t)q, br = k;
                    }
                }
        }
        if (best != n - first) all = 0;
        if (best > r.longest) {
            r.longest = best, r.gen_part = p, r.gen_step = bi;
            r.ref_piece = pieces[bj], r.ref_part = (int)bq, r.ref_step = br;
        }
        for (size_t s0 = 0; s0 + W <= n; s0 += hop) {
            int sounds = 0, found = 0;
            for (size_t k = s0; k < s0 + W; k++) sounds |= gp->m[k] != 0;
            if (!sounds) continue;
            r.windows++;
            for (int j = 0; j < n_refs && !found; j++)
                for (int q = 0; q < refs[j].n_parts && !found; q++) {
                    const rpart *rp = &refs[j].p[q];
                    size_t rn = steps_of(rp);
                    for (size_t k = 0; !rp->drum && k + W <= rn && !found; k++)
                        found = memcmp(rp->m + k, gp->m + s0, W) == 0;
                }
            r.windows_found += (uint64_t)found;
        }
    }
    r.whole = any && all;
    return r;
}

/* Random frames: silent a quarter of the time, else any nonempty set of the alphabet. */
static void random_frames(uint8_t *m, size_t n, gb_rng *rng) {
    for (size_t k = 0; k < n; k++)
        m[k] = gb_rng_below(rng, 4) == 0 ? 0 : (uint8_t)(1 + gb_rng_below(rng, 15));
}

static void test_random(void) {
    static const int sigs[5][2] = {{4, 4}, {3, 4}, {2, 4}, {7, 8}, {0, 0}};
    int copies = 0, wholes = 0, windows_found = 0;
    for (uint64_t seed = 1; seed <= 50; seed++) {
        gb_rng rng;
        gb_rng_seed(&rng, seed);
        int spb = 1 << gb_rng_below(&rng, 3); /* 1, 2 or 4 steps a beat */
        static rsong refs[3], g;
        size_t pieces[3];
        int n_refs = 1 + (int)gb_rng_below(&rng, 3);
        for (int j = 0; j < n_refs; j++) {
            pieces[j] = 10 + 3 * (size_t)j;
            refs[j].n_parts = 1 + (int)gb_rng_below(&rng, 3);
            refs[j].den = 0;
            for (int q = 0; q < refs[j].n_parts; q++) {
                rpart *rp = &refs[j].p[q];
                rp->drum = q > 0 && gb_rng_below(&rng, 4) == 0;
                rp->n = 10 + gb_rng_below(&rng, 290);
                random_frames(rp->m, rp->n, &rng);
            }
        }
        /* the generated piece: a copy of a reference piece now and then, else parts of random
         * frames and runs copied from reference parts (drum parts too) */
        const int *sig = sigs[gb_rng_below(&rng, 5)];
        if (seed % 6 == 0) {
            g = refs[gb_rng_below(&rng, (uint64_t)n_refs)];
        } else {
            g.n_parts = 1 + (int)gb_rng_below(&rng, 3);
            for (int p = 0; p < g.n_parts; p++) {
                rpart *gp = &g.p[p];
                gp->drum = p > 0 && gb_rng_below(&rng, 5) == 0;
                gp->n = 1 + gb_rng_below(&rng, 400);
                for (size_t k = 0; k < gp->n;) {
                    size_t len = 1 + gb_rng_below(&rng, 80);
                    if (len > gp->n - k) len = gp->n - k;
                    const rsong *from = &refs[gb_rng_below(&rng, (uint64_t)n_refs)];
                    const rpart *rp = &from->p[gb_rng_below(&rng, (uint64_t)from->n_parts)];
                    const rpart *next = rp + 1 < from->p + from->n_parts ? rp + 1 : NULL;
                    size_t kind = gb_rng_below(&rng, 3), rn = steps_of(rp);
                    if (kind == 2 && next && rn >= len / 2 && next->n >= len - len / 2) {
                        /* the end of a part, then the start of the next: adjacent in the
                         * reference's frames, but never one stretch */
                        memcpy(gp->m + k, rp->m + rn - len / 2, len / 2);
                        memcpy(gp->m + k + len / 2, next->m, len - len / 2);
                    } else if (kind >= 1 && rp->n >= len) {
                        size_t at = gb_rng_below(&rng, rp->n - len + 1);
                        memcpy(gp->m + k, rp->m + at, len);
                    } else {
                        random_frames(gp->m + k, len, &rng);
                    }
                    k += len;
                }
            }
        }
        g.num = sig[0], g.den = sig[1];

        gb_copy_index *ix = new_index(spb);
        tsong *ts[3];
        for (int j = 0; j < n_refs; j++) {
            ts[j] = to_song(&refs[j], spb, &rng);
            add(ix, ts[j], pieces[j]);
        }
        tsong *gs = to_song(&g, spb, &rng);
        gb_copy_result want = naive(refs, pieces, n_refs, &g, spb), got[2];
        /* the same with one thread and with four */
        int threads = omp_get_max_threads();
        for (int t = 0; t < 2; t++) {
            omp_set_num_threads(t ? 4 : 1);
            got[t] = find(ix, gs);
        }
        omp_set_num_threads(threads);
        for (int t = 0; t < 2; t++) {
            int bad = tst_checks_failed;
            CHECK_INT(got[t].longest, want.longest);
            CHECK_INT(got[t].gen_part, want.gen_part);
            CHECK_INT(got[t].gen_step, want.gen_step);
            CHECK_INT(got[t].ref_piece, want.ref_piece);
            CHECK_INT(got[t].ref_part, want.ref_part);
            CHECK_INT(got[t].ref_step, want.ref_step);
            CHECK_INT(got[t].span, want.span);
            CHECK_INT(got[t].whole, want.whole);
            CHECK_INT(got[t].windows, want.windows);
            CHECK_INT(got[t].windows_found, want.windows_found);
            if (tst_checks_failed != bad)
                fprintf(stderr, "  (seed %" PRIu64 ", %s)\n", seed, t ? "4 threads" : "1 thread");
        }
        copies += want.longest >= 8, wholes += want.whole;
        windows_found += want.windows_found > 0;
        gb_copy_free(ix);
        for (int j = 0; j < n_refs; j++) ts_free(ts[j]);
        ts_free(gs);
    }
    /* the draws exercise what they should */
    CHECK(copies >= 25);
    CHECK(wholes >= 5);
    CHECK(windows_found >= 10);
}

int main(void) {
    RUN(test_identical);
    RUN(test_excerpt);
    RUN(test_silence);
    RUN(test_frames);
    RUN(test_part_boundary);
    RUN(test_windows);
    RUN(test_window_boundary);
    RUN(test_degenerate);
    RUN(test_random);
    TEST_END();
}
