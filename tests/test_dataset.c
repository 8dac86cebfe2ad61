/* test_dataset.c - the compact corpus (src/roll/dataset.c): its steps equal gb_roll_encode's
 * rolls for several encodings, onsets by hand, memory per step, window counts and contents,
 * short parts as masked windows and the target steps no window covers, batches against
 * gb_ds_cut, transposition, the meter features worked by hand, the split by file, the walk of
 * folders with broken files counted by reason, the part filter, the shuffle and the corpus
 * hash; and performance events: streams equal to gb_events_encode's, windows of tokens, and
 * their transposition and time stretch checked against the source stream. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "events/events.h"
#include "roll/dataset.h"
#include "test.h"
#include "tmpdir.h"

static int write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static int copy_file(const char *from, const char *to, size_t max) {
    gb_buf b;
    gb_error e;
    if (gb_file_read(from, 1 << 26, &b, &e) != GB_OK) return 0;
    int ok = write_file(to, b.data, b.len < max ? b.len : max);
    gb_buf_free(&b);
    return ok;
}

static const char *jsb(int i) {
    static char p[4][64];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "data/jsb/jsb_train_%03d.mid", i);
    return p[k];
}

/* The features gb_ds_cut gives for every step of every part of path equal the roll
 * gb_roll_encode makes of it, as 0/1 or velocity/127. Returns the parts compared. */
static int compare_with_rolls(const char *path, const gb_ds_encoding *enc) {
    gb_song s;
    gb_error e;
    if (gb_song_read(path, &s, &e) != GB_OK) {
        CHECK(!"song reads");
        return 0;
    }
    gb_dataset ds;
    CHECK_INT(gb_ds_init(&ds, enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_song(&ds, &s, path, 0, &e), GB_OK);
    int D = gb_ds_features(enc), compared = 0;
    size_t k = 0; /* dataset part */
    enum { CH = 512 };
    float *buf = malloc((size_t)CH * D * sizeof *buf);
    for (size_t i = 0; i < s.n_parts; i++) {
        if (s.parts[i].is_drum) continue; /* the default filter */
        gb_roll r;
        CHECK_INT(gb_roll_encode(&s, &s.parts[i], &enc->roll, &r, &e), GB_OK);
        if (r.steps == 0) continue;
        if (k >= ds.n_parts) {
            CHECK(!"a part is missing");
            gb_roll_free(&r);
            break;
        }
        const gb_ds_part *p = &ds.parts[k];
        CHECK_INT(p->steps, r.steps);
        CHECK_INT(p->index, (int)i);
        size_t bad = 0;
        for (size_t k0 = 0; k0 < r.steps && p->steps == r.steps; k0 += CH) {
            size_t n = r.steps - k0 < CH ? r.steps - k0 : CH;
            gb_ds_cut(&ds, k, k0, n, 1, 0, buf);
            for (size_t t = 0; t < n; t++)
                for (int q = 0; q < 128; q++) {
                    uint8_t v = r.v[(k0 + t) * 128 + q];
                    float want = enc->binary ? (v ? 1.0f : 0.0f) : (float)v / 127.0f;
                    bad += buf[t * D + q] != want;
                }
        }
        CHECK_INT(bad, 0);
        compared++;
        k++;
        gb_roll_free(&r);
    }
    CHECK_INT(k, ds.n_parts);
    free(buf);
    gb_ds_free(&ds);
    gb_song_free(&s);
    return compared;
}

static void test_steps_equal_rolls(void) {
    gb_ds_encoding enc;
    gb_ds_encoding_default(&enc);
    int n = 0;
    /* sixteenths with rests, binary; quarters (the JSB benchmark's grid) as velocities */
    for (int i = 0; i < 6; i++) n += compare_with_rolls(jsb(i), &enc);
    enc.roll.steps_per_beat = 1, enc.binary = 0;
    for (int i = 0; i < 6; i++) n += compare_with_rolls(jsb(i), &enc);
    /* the report's per-tick encoding, silent steps stripped */
    gb_ds_encoding_default(&enc);
    enc.roll = (gb_roll_opts){.step_ticks = 1, .strip_silence = 1};
    enc.binary = 0;
    n += compare_with_rolls(jsb(7), &enc);
    /* orchestral files: many parts, overlapping notes, triplet grid; stripped coarse ticks */
    const char *cl[] = {"data/classical/beethoven__Concerto_No3.mid",
                        "data/classical/beethoven__Cellosonata_No3_1.mid"};
    gb_ds_encoding_default(&enc);
    enc.roll.steps_per_beat = 12, enc.binary = 0;
    for (int i = 0; i < 2; i++) n += compare_with_rolls(cl[i], &enc);
    enc.roll = (gb_roll_opts){.step_ticks = 7, .strip_silence = 1};
    for (int i = 0; i < 2; i++) n += compare_with_rolls(cl[i], &enc);
    CHECK(n >= 13 + 2 * 13);
}

/* A song made by hand, one tick a step (division 4, 4 steps a beat). */
static gb_song hand_song(gb_note *notes, size_t n) {
    static gb_part part;
    part = (gb_part){.notes = notes, .n_notes = n};
    return (gb_song){.format = 1, .division = 4, .n_tracks = 1, .parts = &part, .n_parts = 1};
}

static void test_onsets(void) {
    gb_note notes[] = {
        {0, 4, 64, 50},  /* held 0..3, overwritten at 2 by the next */
        {0, 4, 60, 100}, /* re-struck at 4 with the same velocity: the roll shows one note */
        {2, 3, 64, 70},
        {4, 8, 60, 100},
        {12, 13, 72, 90}, /* after 4 silent steps */
    };
    gb_song s = hand_song(notes, 5);
    gb_ds_encoding enc;
    gb_ds_encoding_default(&enc);
    enc.onsets = 1;
    gb_dataset ds;
    gb_error e;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_song(&ds, &s, "hand", 0, &e), GB_OK);
    CHECK_INT(ds.n_parts, 1);
    CHECK_INT(gb_ds_features(&enc), 256);
    CHECK_INT(ds.parts[0].steps, 13);
    float x[13 * 256];
    gb_ds_cut(&ds, 0, 0, 13, 1, 0, x);
    /* sounding: 60 at 0..7, 64 at 0..3, 72 at 12; onsets: 60 at 0 and 4, 64 at 0 and 2, 72 at 12 */
    for (int t = 0; t < 13; t++)
        for (int q = 0; q < 128; q++) {
            int on = (q == 60 && t < 8) || (q == 64 && t < 4) || (q == 72 && t == 12);
            int onset = (q == 60 && (t == 0 || t == 4)) || (q == 64 && (t == 0 || t == 2)) ||
                        (q == 72 && t == 12);
            if (x[t * 256 + q] != (float)on || x[t * 256 + 128 + q] != (float)onset) {
                fprintf(stderr, "  step %d pitch %d: %g %g\n", t, q, x[t * 256 + q],
                        x[t * 256 + 128 + q]);
                CHECK(!"onset features");
                t = 13;
                break;
            }
        }
    gb_ds_free(&ds);

    /* velocities and stripped silence: steps 8..11 vanish, the onset of 72 follows to step 8 */
    enc.binary = 0;
    enc.roll.strip_silence = 1;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_song(&ds, &s, "hand", 0, &e), GB_OK);
    CHECK_INT(ds.parts[0].steps, 9);
    gb_ds_cut(&ds, 0, 2, 7, 1, 0, x); /* steps 2..8, starting inside the first block */
    CHECK(x[0 * 256 + 64] == 70 / 127.0f && x[0 * 256 + 128 + 64] == 1.0f);
    CHECK(x[1 * 256 + 64] == 50 / 127.0f && x[1 * 256 + 128 + 64] == 0.0f);
    CHECK(x[2 * 256 + 60] == 100 / 127.0f && x[2 * 256 + 128 + 60] == 1.0f);
    CHECK(x[6 * 256 + 72] == 90 / 127.0f && x[6 * 256 + 128 + 72] == 1.0f);
    CHECK(x[5 * 256 + 60] == 100 / 127.0f && x[6 * 256 + 60] == 0.0f);
    gb_ds_free(&ds);
}

static void test_compact_memory(void) {
    gb_ds_encoding enc;
    gb_ds_encoding_default(&enc);
    gb_dataset ds;
    gb_error e;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    const char *paths[40];
    for (int i = 0; i < 40; i++) paths[i] = strdup(jsb(i));
    CHECK_INT(gb_ds_add_paths(&ds, paths, 40, 0, NULL, NULL, &e), GB_OK);
    CHECK_INT(ds.n_files, 40);
    CHECK_INT(ds.n_parts, 40);
    /* four voices in sixteenths, kept as runs of identical steps: a few bytes a step, against
     * 128 for a dense roll (512 as floats) */
    double per_step = (double)ds.bytes / (double)ds.steps;
    if (getenv("GB_TEST_VERBOSE"))
        fprintf(stderr, "  info sixteenths: %llu steps, %llu runs, %zu bytes: %.2f bytes a step\n",
                (unsigned long long)ds.steps, (unsigned long long)ds.runs, ds.bytes, per_step);
    CHECK(per_step < 6);
    CHECK(ds.runs < ds.steps && ds.cells >= ds.runs * 2 && ds.cells <= ds.runs * 4);
    gb_ds_free(&ds);
    /* the report's per-tick encoding: hundreds of identical steps a note, a fraction of a byte */
    enc.roll = (gb_roll_opts){.step_ticks = 1, .strip_silence = 1};
    enc.binary = 0;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_paths(&ds, paths, 40, 0, NULL, NULL, &e), GB_OK);
    per_step = (double)ds.bytes / (double)ds.steps;
    if (getenv("GB_TEST_VERBOSE"))
        fprintf(stderr, "  info per tick: %llu steps, %llu runs, %zu bytes: %.3f bytes a step\n",
                (unsigned long long)ds.steps, (unsigned long long)ds.runs, ds.bytes, per_step);
    CHECK(ds.steps > 1000000);
    CHECK(per_step < 0.05);
    for (int i = 0; i < 40; i++) free((void *)paths[i]);
    gb_ds_free(&ds);
}

static void test_windows(void) {
    gb_ds_encoding enc;
    gb_ds_encoding_default(&enc);
    gb_dataset ds;
    gb_error e;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    const char *paths[] = {jsb(0), jsb(1), jsb(2), jsb(3)};
    CHECK_INT(gb_ds_add_paths(&ds, paths, 4, 0, NULL, NULL, &e), GB_OK);
    int T = 40, S = 24;
    gb_ds_windows w;
    CHECK_INT(gb_ds_windows_make(&ds, 0, T, S, &w, &e), GB_OK);
    uint64_t want = 0;
    for (size_t i = 0; i < ds.n_parts; i++)
        want += ds.parts[i].steps >= (uint32_t)T + 1 ? (ds.parts[i].steps - T - 1) / S + 1 : 1;
    CHECK_INT(w.n, want);
    CHECK(w.n > 40);
    /* no validation files yet: no validation windows */
    gb_ds_windows wv;
    CHECK_INT(gb_ds_windows_make(&ds, 1, T, S, &wv, &e), GB_OK);
    CHECK_INT(wv.n, 0);
    gb_ds_windows_free(&wv);
    /* every window fits its part; consecutive ids walk parts in order */
    size_t prev_part = 0, prev_start = 0;
    for (uint64_t i = 0; i < w.n; i++) {
        size_t part, start;
        int len;
        gb_ds_window_at(&w, i, &part, &start, &len);
        CHECK(start + T + 1 <= ds.parts[part].steps && len == T);
        if (i) CHECK(part > prev_part || (part == prev_part && start == prev_start + S));
        prev_part = part, prev_start = start;
    }
    /* a batch of windows against the rolls: input row t of window b is step start + t, target
     * row t step start + t + 1, every row real */
    gb_roll rolls[4];
    for (int i = 0; i < 4; i++) {
        gb_song s;
        gb_song_read(paths[i], &s, &e);
        CHECK_INT(gb_roll_encode(&s, &s.parts[0], &enc.roll, &rolls[i], &e), GB_OK);
        gb_song_free(&s);
    }
    enum { B = 5 };
    uint32_t ids[B] = {0, (uint32_t)w.n - 1, 7, 3, (uint32_t)w.n / 2};
    float *x = malloc((size_t)T * B * 128 * sizeof *x);
    float *tg = malloc((size_t)T * B * 128 * sizeof *tg), *mask = malloc((size_t)T * B * 4);
    gb_ds_cut_batch(&ds, &w, ids, B, NULL, x, tg, mask);
    size_t bad = 0;
    for (int b = 0; b < B; b++) {
        size_t part, start;
        int len;
        gb_ds_window_at(&w, ids[b], &part, &start, &len);
        const gb_roll *r = &rolls[ds.parts[part].file];
        for (int t = 0; t < T; t++) {
            bad += mask[t * B + b] != 1.0f;
            for (int q = 0; q < 128; q++) {
                size_t i = ((size_t)t * B + b) * 128 + q;
                bad += x[i] != (r->v[(start + t) * 128 + q] ? 1.0f : 0.0f);
                bad += tg[i] != (r->v[(start + t + 1) * 128 + q] ? 1.0f : 0.0f);
            }
        }
    }
    CHECK_INT(bad, 0);
    /* a part of exactly T + 1 steps has one full window and leaves no target out; one longer
     * by 5 than its last full window, with stride > T, leaves the tail out */
    gb_ds_windows w2;
    uint32_t S0 = ds.parts[0].steps;
    CHECK_INT(gb_ds_windows_make(&ds, 0, (int)S0 - 1, 1000000, &w2, &e), GB_OK);
    CHECK(w2.n >= 1);
    CHECK_INT(w2.cum[1], 1);
    CHECK_INT(w2.len[0], (int)S0 - 1);
    gb_ds_windows_free(&w2);
    CHECK_INT(gb_ds_windows_make(&ds, 0, (int)S0 - 6, 1000000, &w2, &e), GB_OK);
    CHECK_INT(w2.cum[1], 1);
    /* part 0 leaves its last 5 targets out, a longer part more, a shorter one none */
    uint64_t unc = 5;
    for (size_t i = 1; i < ds.n_parts; i++)
        if (ds.parts[i].steps >= S0 - 5) unc += ds.parts[i].steps - 1 - (S0 - 6);
    CHECK_INT(w2.uncovered, unc);
    gb_ds_windows_free(&w2);
    /* windows longer than every part: one short window each, covering every target */
    CHECK_INT(gb_ds_windows_make(&ds, 0, 100000, 1, &w2, &e), GB_OK);
    CHECK_INT(w2.n, 4);
    CHECK_INT(w2.n_parts, 4);
    CHECK_INT(w2.short_parts, 4);
    CHECK_INT(w2.uncovered, 0);
    for (uint64_t i = 0; i < 4; i++) {
        size_t part, start;
        int len;
        gb_ds_window_at(&w2, i, &part, &start, &len);
        CHECK(part == i && start == 0 && len == (int)ds.parts[i].steps - 1);
    }
    gb_ds_windows_free(&w2);
    CHECK_INT(gb_ds_windows_make(&ds, 0, 0, 1, &w2, &e), GB_ERR_ARG);
    for (int i = 0; i < 4; i++) gb_roll_free(&rolls[i]);
    free(x);
    free(tg);
    free(mask);
    gb_ds_windows_free(&w);
    gb_ds_free(&ds);
}

/* Five parts of 1, 2, 5, 10 and 20 steps (one tick a step), step k holding pitch 40 + k alone. */
static gb_song ladder_song(void) {
    static gb_note notes[20];
    static gb_part parts[5];
    static const size_t len[5] = {1, 2, 5, 10, 20};
    for (int k = 0; k < 20; k++) notes[k] = (gb_note){(uint64_t)k, (uint64_t)k + 1, 40 + k, 100};
    for (int i = 0; i < 5; i++) parts[i] = (gb_part){.track = i, .notes = notes, .n_notes = len[i]};
    return (gb_song){.format = 1, .division = 4, .n_tracks = 5, .parts = parts, .n_parts = 5};
}

static void test_short_parts(void) {
    gb_song s = ladder_song();
    gb_ds_encoding enc;
    gb_ds_encoding_default(&enc);
    gb_dataset ds;
    gb_error e;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_song(&ds, &s, "ladder", 0, &e), GB_OK);
    CHECK_INT(ds.n_parts, 5);
    /* T = 4 every 6: 1 step, nothing to predict; 2, one window of 1; 5, one full window; 10,
     * one at 0 (targets 1..4; 5..9 left out); 20, at 0, 6, 12 (targets 1-4, 7-10, 13-16; 5, 6,
     * 11, 12, 17, 18, 19 left out) */
    gb_ds_windows w;
    CHECK_INT(gb_ds_windows_make(&ds, 0, 4, 6, &w, &e), GB_OK);
    CHECK_INT(w.n, 6);
    CHECK_INT(w.n_parts, 4);
    CHECK_INT(w.short_parts, 2);
    CHECK_INT(w.uncovered, 12);
    const int want[6][3] = {{1, 0, 1}, {2, 0, 4}, {3, 0, 4}, {4, 0, 4}, {4, 6, 4}, {4, 12, 4}};
    for (uint64_t i = 0; i < w.n && i < 6; i++) {
        size_t part, start;
        int len;
        gb_ds_window_at(&w, i, &part, &start, &len);
        if (part != (size_t)want[i][0] || start != (size_t)want[i][1] || len != want[i][2]) {
            fprintf(stderr, "  window %d: part %zu, start %zu, len %d\n", (int)i, part, start,
                    len);
            CHECK(!"window");
        }
    }
    /* every 2: 10 steps at 0, 2, 4 (target 9 left out), 20 at 0..14 (target 19) */
    gb_ds_windows w2;
    CHECK_INT(gb_ds_windows_make(&ds, 0, 4, 2, &w2, &e), GB_OK);
    CHECK_INT(w2.n, 1 + 1 + 3 + 8);
    CHECK_INT(w2.uncovered, 2);
    CHECK_INT(w2.short_parts, 2);
    gb_ds_windows_free(&w2);
    /* T = 1: only the 1-step part is short, and it still gives nothing */
    CHECK_INT(gb_ds_windows_make(&ds, 0, 1, 1, &w2, &e), GB_OK);
    CHECK_INT(w2.n, 1 + 4 + 9 + 19);
    CHECK_INT(w2.short_parts, 1);
    CHECK_INT(w2.uncovered, 0);
    gb_ds_windows_free(&w2);

    /* the 2-step part's window and the last of the 20-step part: one real row, then padding */
    enum { T = 4, B = 2 };
    uint32_t ids[B] = {0, 5};
    float x[T * B * 128], tg[T * B * 128], mask[T * B];
    for (int i = 0; i < T * B * 128; i++) x[i] = tg[i] = 7.0f;
    for (int i = 0; i < T * B; i++) mask[i] = 7.0f;
    gb_ds_cut_batch(&ds, &w, ids, B, NULL, x, tg, mask);
    size_t bad = 0;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            bad += mask[t * B + b] != (b == 1 || t == 0 ? 1.0f : 0.0f);
            for (int q = 0; q < 128; q++) {
                int wx = b ? q == 52 + t : t == 0 && q == 40;
                int wt = b ? q == 53 + t : t == 0 && q == 41;
                bad += x[(t * B + b) * 128 + q] != (float)wx;
                bad += tg[(t * B + b) * 128 + q] != (float)wt;
            }
        }
    CHECK_INT(bad, 0);
    gb_ds_windows_free(&w);
    gb_ds_free(&ds);
}

/* Every window of a batch against gb_ds_cut of its steps, with onsets, velocities and meter:
 * input row t is step start + t (all Din features), target row t the D features of step
 * start + t + 1, for t < len; padding zero and masked; the chorales' full windows and the
 * ladder's short ones together. */
static void test_batch_against_cut(void) {
    gb_ds_encoding enc;
    gb_ds_encoding_default(&enc);
    enc.onsets = 1, enc.binary = 0, enc.meter = 1;
    int D = gb_ds_features(&enc), Din = gb_ds_in_features(&enc);
    CHECK_INT(D, 256);
    CHECK_INT(Din, 276);
    gb_dataset ds;
    gb_error e;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    const char *paths[] = {jsb(0), jsb(1), jsb(2)};
    CHECK_INT(gb_ds_add_paths(&ds, paths, 3, 0, NULL, NULL, &e), GB_OK);
    gb_song s = ladder_song();
    CHECK_INT(gb_ds_add_song(&ds, &s, "ladder", 0, &e), GB_OK);
    int T = 16;
    gb_ds_windows w;
    CHECK_INT(gb_ds_windows_make(&ds, 0, T, 8, &w, &e), GB_OK);
    int B = (int)w.n;
    uint32_t *ids = malloc((size_t)B * sizeof *ids);
    for (int b = 0; b < B; b++) ids[b] = (uint32_t)(B - 1 - b);
    float *x = malloc((size_t)T * B * Din * sizeof *x), *tg = malloc((size_t)T * B * D * 4);
    float *mask = malloc((size_t)T * B * 4), *rows = malloc((size_t)(T + 1) * Din * 4);
    float *zero = calloc((size_t)Din, 4);
    for (size_t i = 0; i < (size_t)T * B * Din; i++) x[i] = 7.0f;
    for (size_t i = 0; i < (size_t)T * B * D; i++) tg[i] = 7.0f;
    gb_ds_cut_batch(&ds, &w, ids, B, NULL, x, tg, mask);
    size_t bad = 0, shorts = 0, metered = 0;
    for (int b = 0; b < B; b++) {
        size_t part, start;
        int len;
        gb_ds_window_at(&w, ids[b], &part, &start, &len);
        shorts += len < T;
        gb_ds_cut(&ds, part, start, (size_t)len + 1, 1, 0, rows);
        for (int t = 0; t < T; t++) {
            const float *xr = x + ((size_t)t * B + b) * Din, *tr = tg + ((size_t)t * B + b) * D;
            if (t < len) {
                bad += memcmp(xr, rows + (size_t)t * Din, (size_t)Din * 4) != 0;
                bad += memcmp(tr, rows + (size_t)(t + 1) * Din, (size_t)D * 4) != 0;
                for (int f = D; f < Din; f++) metered += xr[f] == 1.0f;
            } else {
                bad += memcmp(xr, zero, (size_t)Din * 4) != 0;
                bad += memcmp(tr, zero, (size_t)D * 4) != 0;
            }
            bad += mask[(size_t)t * B + b] != (t < len ? 1.0f : 0.0f);
        }
    }
    CHECK_INT(bad, 0);
    CHECK_INT(shorts, 3); /* the ladder's parts of 2, 5 and 10 steps */
    CHECK(B > 50);
    /* two one-hots in every real input row */
    uint64_t real = 0;
    for (size_t i = 0; i < (size_t)T * B; i++) real += mask[i] == 1.0f;
    CHECK_INT(metered, 2 * real);
    free(ids), free(x), free(tg), free(mask), free(rows), free(zero);
    gb_ds_windows_free(&w);
    gb_ds_free(&ds);
}

/* The semitones by which rows [0, T) of window b in got are those of base moved up (pitch and
 * onset features; the rest equal), or 99 when no shift in -20..20 does it. */
static int shift_of(const float *base, const float *got, int T, int B, int b, int width, int D) {
    for (int sh = -20; sh <= 20; sh++) {
        int ok = 1;
        for (int t = 0; t < T && ok; t++) {
            const float *r0 = base + ((size_t)t * B + b) * width;
            const float *r1 = got + ((size_t)t * B + b) * width;
            for (int f = 0; f < width && ok; f++) {
                int q = f % 128 - sh, block = f - f % 128;
                float want = f >= D ? r0[f] : q >= 0 && q < 128 ? r0[block + q] : 0.0f;
                ok = r1[f] == want;
            }
        }
        if (ok) return sh;
    }
    return 99;
}

static void test_transpose(void) {
    gb_note notes[] = {
        {0, 3, 60, 100}, {3, 4, 126, 90}, /* window 0, steps 0..4: room for -5..+1 */
        {5, 6, 2, 80},   {6, 8, 64, 70},  /* window 1, steps 4..8: -2..+5 */
        {9, 13, 70, 60}, {10, 11, 72, 50}, /* window 2, steps 8..12: -5..+5 */
    };
    gb_song s = hand_song(notes, 6);
    gb_ds_encoding enc;
    gb_ds_encoding_default(&enc);
    enc.onsets = 1, enc.binary = 0, enc.meter = 1;
    gb_dataset ds;
    gb_error e;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_song(&ds, &s, "hand", 0, &e), GB_OK);
    CHECK_INT(ds.parts[0].steps, 13);
    enum { T = 4, B = 3, D = 256, DIN = 276 };
    gb_ds_windows w;
    CHECK_INT(gb_ds_windows_make(&ds, 0, T, 4, &w, &e), GB_OK);
    CHECK_INT(w.n, 3);
    uint32_t ids[B] = {0, 1, 2};
    static float x0[T * B * DIN], t0[T * B * D], x[T * B * DIN], tg[T * B * D];
    float m0[T * B], m[T * B];
    gb_ds_cut_batch(&ds, &w, ids, B, NULL, x0, t0, m0);
    gb_rng rng;
    gb_rng_seed(&rng, 11);
    uint64_t keys[B];
    gb_ds_aug aug = {.transpose = 5, .keys = keys};
    const int lo[B] = {-5, -2, -5}, hi[B] = {1, 5, 5};
    int seen[B][11] = {{0}}, bad = 0, misaligned = 0;
    static float x1[T * DIN], t1[T * D];
    float m1[T];
    for (int it = 0; it < 300; it++) {
        for (int b = 0; b < B; b++) keys[b] = gb_rng_next(&rng);
        gb_ds_cut_batch(&ds, &w, ids, B, &aug, x, tg, m);
        /* a window's shift is its key's: window 2 cut alone with its key moves alike */
        gb_ds_aug alone = {.transpose = 5, .keys = keys + 2};
        gb_ds_cut_batch(&ds, &w, ids + 2, 1, &alone, x1, t1, m1);
        for (int t = 0; t < T; t++)
            misaligned += memcmp(x1 + t * DIN, x + (t * B + 2) * DIN, DIN * sizeof *x) != 0 ||
                          memcmp(t1 + t * D, tg + (t * B + 2) * D, D * sizeof *tg) != 0;
        bad += memcmp(m, m0, sizeof m) != 0;
        for (int b = 0; b < B; b++) {
            int sx = shift_of(x0, x, T, B, b, DIN, D), st = shift_of(t0, tg, T, B, b, D, D);
            if (sx != st || sx < lo[b] || sx > hi[b]) {
                if (!bad) fprintf(stderr, "  window %d: inputs by %d, targets by %d\n", b, sx, st);
                bad++;
            } else {
                seen[b][sx + 5]++;
            }
        }
    }
    CHECK_INT(bad, 0);
    CHECK_INT(misaligned, 0);
    int missing = 0; /* 300 draws hit each of at most 11 shifts */
    for (int b = 0; b < B; b++)
        for (int sh = lo[b]; sh <= hi[b]; sh++) missing += seen[b][sh + 5] == 0;
    CHECK_INT(missing, 0);
    CHECK(seen[0][0 + 5] > 0 && seen[1][-2 + 5] > 0); /* the extremes are reachable */
    /* the same keys, the same batch */
    static float x2[T * B * DIN], t2[T * B * D];
    uint64_t k2[B];
    memcpy(k2, keys, sizeof k2);
    gb_ds_aug a2 = {.transpose = 5, .keys = k2};
    gb_ds_cut_batch(&ds, &w, ids, B, &aug, x, tg, m);
    gb_ds_cut_batch(&ds, &w, ids, B, &a2, x2, t2, m);
    CHECK(!memcmp(x, x2, sizeof x) && !memcmp(tg, t2, sizeof tg));
    /* N = 0: nothing moves */
    gb_ds_aug none = {.keys = keys};
    gb_ds_cut_batch(&ds, &w, ids, B, &none, x, tg, m);
    CHECK(!memcmp(x, x0, sizeof x) && !memcmp(tg, t0, sizeof tg) && !memcmp(m, m0, sizeof m));
    gb_ds_windows_free(&w);
    gb_ds_free(&ds);
}

/* Whether 20 meter features are the one-hots of position pos in the beat and beat in the bar. */
static int is_meter(const float *m, int pos, int beat) {
    for (int f = 0; f < GB_DS_METER_FEATURES; f++)
        if (m[f] != (f == pos || f == 8 + beat ? 1.0f : 0.0f)) return 0;
    return 1;
}

typedef struct {
    int step, pos, beat;
} meter_want;

/* Checks steps of part 0 of ds: inside the part through gb_ds_cut's rows (after the D
 * features), past its end through gb_ds_meter_row. */
static void check_meter(const gb_dataset *ds, const meter_want *want, size_t n) {
    int D = gb_ds_features(&ds->enc), Din = gb_ds_in_features(&ds->enc);
    float row[276], m[GB_DS_METER_FEATURES];
    for (size_t i = 0; i < n; i++) {
        const meter_want *wt = &want[i];
        const float *got = m;
        if ((uint32_t)wt->step < ds->parts[0].steps) {
            gb_ds_cut(ds, 0, (size_t)wt->step, 1, 1, 0, row);
            got = row + D;
        } else {
            gb_ds_meter_row(ds, 0, (uint64_t)wt->step, m);
        }
        if (!is_meter(got, wt->pos, wt->beat)) {
            fprintf(stderr, "  step %d: want position %d, beat %d; got", wt->step, wt->pos,
                    wt->beat);
            for (int f = 0; f < GB_DS_METER_FEATURES; f++)
                if (got[f] != 0) fprintf(stderr, " %d:%g", f, got[f]);
            fprintf(stderr, " (Din %d)\n", Din);
            CHECK(!"meter features");
        }
    }
}

static void test_meter(void) {
    /* format 0, 96 ticks a quarter: 3/4 from tick 0, 6/8 from tick 480 (beat 2 of bar 2, so
     * the change starts a bar off the 3/4 grid), one C4 from tick 0 to 864 */
    static const uint8_t mid[] = {
        'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 96,
        'M', 'T', 'r', 'k', 0, 0, 0, 30,
        0x00, 0xFF, 0x58, 4, 3, 2, 24, 8,       /* 3/4 */
        0x00, 0x90, 60, 100,
        0x83, 0x60, 0xFF, 0x58, 4, 6, 3, 24, 8, /* +480: 6/8 */
        0x83, 0x00, 0x80, 60, 64,               /* +384: tick 864 */
        0x00, 0xFF, 0x2F, 0};
    const char *path = tmp_path("meter.mid");
    CHECK(write_file(path, mid, sizeof mid));
    gb_ds_encoding enc;
    gb_ds_encoding_default(&enc);
    enc.meter = 1;
    CHECK_INT(gb_ds_in_features(&enc), 148);
    gb_dataset ds;
    gb_error e;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_paths(&ds, &path, 1, 0, NULL, NULL, &e), GB_OK);
    CHECK_INT(ds.n_parts, 1);
    if (ds.n_parts == 1) {
        CHECK_INT(ds.parts[0].steps, 36);
        /* sixteenths (24 ticks). 3/4: beats of 96 ticks, bars of 288; 6/8 from tick 480 (step
         * 20): beats of 48 ticks, bars of 288 */
        const meter_want w4[] = {
            {0, 0, 0},  {1, 2, 0},  {7, 6, 1},  /* tick 168: 72 into beat 1 */
            {11, 6, 2}, {12, 0, 0}, {19, 6, 1}, /* tick 456: 168 into bar 2 */
            {20, 0, 0}, {21, 4, 0}, {23, 4, 1}, /* tick 552: 72 into the 6/8 bar */
            {31, 4, 5}, {32, 0, 0}, {35, 4, 1},
            {100, 0, 4}, /* past the end, tick 2400: 1920 = 6 bars of 288 + 192 */
            {101, 4, 4}, /* tick 2424: + 216 */
        };
        check_meter(&ds, w4, sizeof w4 / sizeof *w4);
        float row[148];
        gb_ds_cut(&ds, 0, 30, 1, 1, 0, row);
        CHECK(row[60] == 1.0f && row[61] == 0.0f); /* the pitch features stay first */
    }
    uint64_t h4 = gb_ds_hash(&ds);
    gb_ds_free(&ds);
    /* quarter steps (96 ticks): every step on a beat of 3/4, then every other eighth of 6/8 */
    enc.roll.steps_per_beat = 1;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_paths(&ds, &path, 1, 0, NULL, NULL, &e), GB_OK);
    if (ds.n_parts == 1) {
        CHECK_INT(ds.parts[0].steps, 9);
        const meter_want w1[] = {{0, 0, 0}, {2, 0, 2}, {3, 0, 0}, {4, 0, 1}, {5, 0, 0},
                                 {6, 0, 2}, {7, 0, 4}, {8, 0, 0}, {20, 0, 0}, {21, 0, 2}};
        check_meter(&ds, w1, sizeof w1 / sizeof *w1);
    }
    CHECK(gb_ds_hash(&ds) != h4);
    gb_ds_free(&ds);

    /* A song by hand, 4 ticks a quarter, steps of 3 ticks: 4/4 until 13/16 at tick 6 (beats
     * of one tick, beats 11 and 12 on the last feature); a signature of numerator 0 ignored;
     * 4/4 at tick 100 overtaken by 3/4 at 101 before any step starts (step 34 starts at 102,
     * one tick into the 3/4 bar) */
    gb_note note = {0, 30, 60, 100};
    gb_song s = hand_song(&note, 1);
    gb_timesig sigs[] = {{6, 13, 16, 24, 8}, {50, 0, 4, 24, 8}, {100, 4, 4, 24, 8},
                         {101, 3, 4, 24, 8}};
    s.timesigs = sigs, s.n_timesigs = 4;
    enc.roll = (gb_roll_opts){.step_ticks = 3};
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_song(&ds, &s, "hand", 0, &e), GB_OK);
    CHECK_INT(ds.parts[0].steps, 10);
    const meter_want wh[] = {
        {0, 0, 0},  {1, 6, 0},  /* tick 3 of a 4-tick beat */
        {2, 0, 0},  {3, 0, 3},  {6, 0, 11}, /* 13/16, tick 18: beat 12 */
        {7, 0, 2},  {20, 0, 2}, {33, 0, 2}, /* tick 99: 93 = 7 * 13 + 2 */
        {34, 2, 0}, {35, 0, 1}, {38, 2, 0}, /* tick 114: 13 = 12 + 1 */
        {39, 0, 1},
    };
    check_meter(&ds, wh, sizeof wh / sizeof *wh);
    /* the hash sees the time signatures with meter, and only then */
    uint64_t h1 = gb_ds_hash(&ds);
    gb_ds_free(&ds);
    sigs[3].numerator = 2;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_song(&ds, &s, "hand", 0, &e), GB_OK);
    CHECK(gb_ds_hash(&ds) != h1);
    gb_ds_free(&ds);
    enc.meter = 0;
    uint64_t hn[2];
    for (int i = 0; i < 2; i++) {
        sigs[3].numerator = (uint8_t)(3 - i);
        CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
        CHECK_INT(gb_ds_add_song(&ds, &s, "hand", 0, &e), GB_OK);
        CHECK(ds.files[0].sigs == NULL);
        hn[i] = gb_ds_hash(&ds);
        gb_ds_free(&ds);
    }
    CHECK(hn[0] == hn[1] && hn[0] != h1);
    CHECK_INT(gb_ds_in_features(&enc), 128);

    /* meter counts time that stripping silence would take away */
    enc.meter = 1;
    enc.roll = (gb_roll_opts){.step_ticks = 1, .strip_silence = 1};
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_ERR_ARG);
    CHECK_STR_HAS(e.msg, "meter");
}

static void test_split(void) {
    gb_ds_encoding enc;
    gb_ds_encoding_default(&enc);
    gb_dataset ds;
    gb_error e;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    const char *paths[12];
    for (int i = 0; i < 12; i++) paths[i] = strdup(jsb(i));
    CHECK_INT(gb_ds_add_paths(&ds, paths, 12, 0, NULL, NULL, &e), GB_OK);
    int v1[12], nv = 0;
    CHECK_INT(gb_ds_split(&ds, 0.25, 7, NULL), GB_OK);
    for (int i = 0; i < 12; i++) nv += v1[i] = ds.files[i].valid;
    CHECK_INT(nv, 3);
    uint64_t h1 = gb_ds_hash(&ds);
    CHECK_INT(gb_ds_split(&ds, 0.25, 7, NULL), GB_OK); /* deterministic */
    int same = 1;
    for (int i = 0; i < 12; i++) same &= ds.files[i].valid == v1[i];
    CHECK(same);
    CHECK(gb_ds_hash(&ds) == h1);
    int differs = 0; /* another seed picks other files (for some seed among a few) */
    for (uint64_t seed = 8; seed < 12 && !differs; seed++) {
        CHECK_INT(gb_ds_split(&ds, 0.25, seed, NULL), GB_OK);
        for (int i = 0; i < 12; i++) differs |= ds.files[i].valid != v1[i];
    }
    CHECK(differs);
    CHECK(gb_ds_hash(&ds) != h1);
    /* windows follow the files: validation windows only from validation files */
    CHECK_INT(gb_ds_split(&ds, 0.25, 7, NULL), GB_OK);
    gb_ds_windows wt, wv;
    CHECK_INT(gb_ds_windows_make(&ds, 0, 16, 16, &wt, &e), GB_OK);
    CHECK_INT(gb_ds_windows_make(&ds, 1, 16, 16, &wv, &e), GB_OK);
    CHECK_INT(wt.n_parts, 9);
    CHECK_INT(wv.n_parts, 3);
    for (size_t i = 0; i < wv.n_parts; i++) CHECK(ds.files[ds.parts[wv.part[i]].file].valid);
    for (size_t i = 0; i < wt.n_parts; i++) CHECK(!ds.files[ds.parts[wt.part[i]].file].valid);
    gb_ds_windows_free(&wt);
    gb_ds_windows_free(&wv);
    /* rounding: at least one, never all; nothing for fraction 0 */
    nv = 0;
    CHECK_INT(gb_ds_split(&ds, 0.01, 1, NULL), GB_OK);
    for (int i = 0; i < 12; i++) nv += ds.files[i].valid;
    CHECK_INT(nv, 1);
    nv = 0;
    CHECK_INT(gb_ds_split(&ds, 0.99, 1, NULL), GB_OK);
    for (int i = 0; i < 12; i++) nv += ds.files[i].valid;
    CHECK_INT(nv, 11);
    nv = 0;
    CHECK_INT(gb_ds_split(&ds, 0, 1, NULL), GB_OK);
    for (int i = 0; i < 12; i++) nv += ds.files[i].valid;
    CHECK_INT(nv, 0);
    for (int i = 0; i < 12; i++) free((void *)paths[i]);
    gb_ds_free(&ds);
}

typedef struct {
    char log[1024];
    int n;
} warnings;

static void collect(void *ctx, const char *path, const gb_error *e) {
    warnings *w = ctx;
    size_t k = strlen(w->log);
    snprintf(w->log + k, sizeof w->log - k, "%s|%d|%s\n", strrchr(path, '/') + 1, e->status,
             e->msg);
    w->n++;
}

static void test_walk_and_skips(void) {
    char d[200], sub[256];
    snprintf(d, sizeof d, "%s", tmp_path("corpus"));
    snprintf(sub, sizeof sub, "%s/sub", d);
    CHECK(mkdir(d, 0777) == 0 && mkdir(sub, 0777) == 0);
    char p[300];
    snprintf(p, sizeof p, "%s/b.mid", d);
    CHECK(copy_file(jsb(0), p, SIZE_MAX));
    snprintf(p, sizeof p, "%s/a.MIDI", d);
    CHECK(copy_file(jsb(1), p, SIZE_MAX));
    snprintf(p, sizeof p, "%s/c-cut.mid", d); /* truncated: a malformed file */
    CHECK(copy_file(jsb(2), p, 100));
    snprintf(p, sizeof p, "%s/d-text.mid", d);
    CHECK(write_file(p, "not midi at all", 15));
    snprintf(p, sizeof p, "%s/notes.txt", d); /* not taken: its name */
    CHECK(copy_file(jsb(3), p, SIZE_MAX));
    snprintf(p, sizeof p, "%s/.hidden.mid", d); /* not taken: hidden */
    CHECK(copy_file(jsb(3), p, SIZE_MAX));
    snprintf(p, sizeof p, "%s/z.mid", sub);
    CHECK(copy_file(jsb(4), p, SIZE_MAX));
    snprintf(p, sizeof p, "%s/dangling.mid", d); /* a link to nothing: cannot be opened */
    CHECK(symlink("/nonexistent/x.mid", p) == 0);

    gb_ds_encoding enc;
    gb_ds_encoding_default(&enc);
    gb_dataset ds;
    gb_error e;
    warnings w = {{0}, 0};
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    const char *paths[] = {d};
    CHECK_INT(gb_ds_add_paths(&ds, paths, 1, 0, collect, &w, &e), GB_OK);
    CHECK_INT(ds.files_seen, 6);
    CHECK_INT(ds.files_skipped, 3);
    CHECK_INT(ds.skipped_by[GB_ERR_FORMAT], 2);
    CHECK_INT(ds.skipped_by[GB_ERR_IO], 1);
    CHECK_INT(w.n, 3);
    CHECK_STR_HAS(w.log, "c-cut.mid|2|");
    CHECK_STR_HAS(w.log, "d-text.mid|2|not a MIDI file");
    CHECK_STR_HAS(w.log, "dangling.mid|1|cannot open");
    /* sorted by name, byte order (upper case first), recursing into sub/ in its place */
    CHECK_INT(ds.n_files, 3);
    if (ds.n_files == 3) {
        CHECK_STR_HAS(ds.files[0].path, "/a.MIDI");
        CHECK_STR_HAS(ds.files[1].path, "/b.mid");
        CHECK_STR_HAS(ds.files[2].path, "/sub/z.mid");
    }
    /* a path that does not exist fails the call and names it */
    const char *missing[] = {tmp_path("nope")};
    CHECK_INT(gb_ds_add_paths(&ds, missing, 1, 0, collect, &w, &e), GB_ERR_IO);
    CHECK_STR_HAS(e.msg, "nope: cannot open");
    gb_ds_free(&ds);

    /* an empty folder: no error, nothing in it */
    char empty[256];
    snprintf(empty, sizeof empty, "%s", tmp_path("empty"));
    CHECK(mkdir(empty, 0777) == 0);
    const char *ep[] = {empty};
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_paths(&ds, ep, 1, 0, NULL, NULL, &e), GB_OK);
    CHECK_INT(ds.files_seen, 0);
    CHECK_INT(ds.n_parts, 0);
    gb_ds_free(&ds);
}

static void test_filter(void) {
    gb_ds_encoding enc;
    gb_error e;
    char s[512];
    gb_ds_encoding_default(&enc);
    gb_ds_filter_format(&enc, s, sizeof s);
    CHECK(!strcmp(s, "all") && !enc.drums);
    gb_ds_filter_clear(&enc);
    CHECK_INT(gb_ds_filter_add_instrument(&enc, "Piano", &e), GB_OK);
    CHECK_INT(gb_ds_filter_add_instrument(&enc, "cello", &e), GB_OK);
    CHECK_INT(gb_ds_filter_add_instrument(&enc, "synth lead", &e), GB_OK);
    CHECK_INT(gb_ds_filter_add_instrument(&enc, "drums", &e), GB_OK);
    gb_ds_filter_format(&enc, s, sizeof s);
    CHECK(!strcmp(s, "0-7,42,80-87"));
    CHECK(enc.drums);
    CHECK_INT(gb_ds_filter_add_instrument(&enc, "kazoo", &e), GB_ERR_ARG);
    CHECK_STR_HAS(e.msg, "kazoo");
    gb_ds_encoding back;
    gb_ds_encoding_default(&back);
    CHECK_INT(gb_ds_filter_parse(&back, s, &e), GB_OK);
    CHECK(!memcmp(back.programs, enc.programs, 128));
    CHECK_INT(gb_ds_filter_parse(&back, "none", &e), GB_OK);
    gb_ds_filter_format(&back, s, sizeof s);
    CHECK(!strcmp(s, "none"));
    const char *bad[] = {"", "128", "7-3", "1,", ",1", "1-", "a", "1 2", "99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_INT(gb_ds_filter_parse(&back, bad[i], &e), GB_ERR_FORMAT);

    /* the chorales are all program 0: a cello filter takes none of their parts */
    gb_ds_filter_clear(&enc);
    enc.programs[42] = 1;
    gb_dataset ds;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    const char *paths[] = {jsb(0), jsb(1)};
    CHECK_INT(gb_ds_add_paths(&ds, paths, 2, 0, NULL, NULL, &e), GB_OK);
    CHECK_INT(ds.n_parts, 0);
    CHECK_INT(ds.files_no_parts, 2);
    CHECK_INT(ds.parts_filtered, 2);
    gb_ds_free(&ds);
    /* the concerto's flute (73) among 13 parts */
    gb_ds_filter_clear(&enc);
    CHECK_INT(gb_ds_filter_add_instrument(&enc, "flute", &e), GB_OK);
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    const char *cp[] = {"data/classical/beethoven__Concerto_No3.mid"};
    CHECK_INT(gb_ds_add_paths(&ds, cp, 1, 0, NULL, NULL, &e), GB_OK);
    CHECK(ds.n_parts >= 1);
    for (size_t i = 0; i < ds.n_parts; i++) CHECK_INT(ds.parts[i].program, 73);
    gb_ds_free(&ds);
    /* bad step options are refused up front */
    gb_ds_encoding_default(&enc);
    enc.roll.steps_per_beat = 0;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_ERR_ARG);
}

/* Merged parts: the notes of every part the filter takes in one part (a drum part and a part
 * the filter leaves out stay out), worked by hand: two parts sounding 60 at 0..3 and 64 at 2..5,
 * the second re-striking 60 at 4..5 with onsets; index 0, the first taken part's program. */
static void test_merge(void) {
    gb_note a[] = {{0, 4, 60, 80}, {8, 9, 67, 80}};
    gb_note b[] = {{2, 6, 64, 90}, {4, 6, 60, 70}};
    gb_note c[] = {{1, 2, 36, 100}}; /* drums */
    gb_note f[] = {{3, 4, 90, 100}}; /* a violin: left out by the filter below */
    gb_part parts[4] = {{.program = 40, .notes = f, .n_notes = 1},
                        {.program = 0, .notes = a, .n_notes = 2},
                        {.channel = 9, .is_drum = 1, .notes = c, .n_notes = 1},
                        {.program = 1, .notes = b, .n_notes = 2}};
    gb_song s = {.format = 1, .division = 4, .n_tracks = 1, .parts = parts, .n_parts = 4};
    gb_ds_encoding enc;
    gb_ds_encoding_default(&enc);
    gb_ds_filter_clear(&enc);
    enc.programs[0] = enc.programs[1] = 1;
    enc.onsets = enc.merge = 1;
    gb_dataset ds;
    gb_error e;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_song(&ds, &s, "merged", 0, &e), GB_OK);
    CHECK_INT(ds.n_parts, 1);
    CHECK_INT(ds.parts_filtered, 2);
    CHECK_INT(ds.parts[0].index, 0);
    CHECK_INT(ds.parts[0].program, 0);
    CHECK_INT(ds.parts[0].steps, 9);
    float x[9 * 256];
    gb_ds_cut(&ds, 0, 0, 9, 1, 0, x);
    for (int t = 0; t < 9; t++)
        for (int q = 0; q < 128; q++) {
            int on = (q == 60 && t < 6) || (q == 64 && t >= 2 && t < 6) || (q == 67 && t == 8);
            int onset = (q == 60 && (t == 0 || t == 4)) || (q == 64 && t == 2) ||
                        (q == 67 && t == 8);
            if (x[t * 256 + q] != (float)on || x[t * 256 + 128 + q] != (float)onset) {
                fprintf(stderr, "  step %d pitch %d: %g %g\n", t, q, x[t * 256 + q],
                        x[t * 256 + 128 + q]);
                CHECK(!"merged features");
                t = 9;
                break;
            }
        }
    gb_ds_free(&ds);
    /* without merge: the two taken parts apart */
    enc.merge = 0;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_song(&ds, &s, "split", 0, &e), GB_OK);
    CHECK_INT(ds.n_parts, 2);
    CHECK_INT(ds.parts[0].index, 1);
    CHECK_INT(ds.parts[1].index, 3);
    gb_ds_free(&ds);
}

/* The stored-nothing permutation: a bijection of 0..n-1 for any n, the same for the same key,
 * another for another key, and well mixed (few fixed points, neighbours far apart). */
static void test_permutation(void) {
    static uint8_t seen[5000];
    uint64_t sizes[] = {1, 2, 3, 7, 64, 1000, 4097, 5000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        uint32_t n = (uint32_t)sizes[k];
        gb_rng r;
        gb_rng_seed(&r, 5 + k);
        gb_ds_perm p;
        gb_ds_perm_init(&p, n, &r);
        memset(seen, 0, sizeof seen);
        uint32_t bad = 0, fixed = 0, close = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t j = gb_ds_perm_at(&p, i);
            if (j >= n || seen[j]++) bad++;
            fixed += j == i;
            if (i && (uint32_t)abs((int)j - (int)gb_ds_perm_at(&p, i - 1)) <= 2) close++;
        }
        CHECK_INT(bad, 0);
        if (n >= 64) {
            CHECK(fixed < n / 16 + 2);
            CHECK(close < n / 16 + 2);
        }
    }
    gb_rng r1, r2;
    gb_rng_seed(&r1, 9), gb_rng_seed(&r2, 9);
    gb_ds_perm a, b, c;
    gb_ds_perm_init(&a, 1000, &r1);
    gb_ds_perm_init(&b, 1000, &r2);
    gb_ds_perm_init(&c, 1000, &r2); /* the next key */
    int same = 1, differ = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        same &= gb_ds_perm_at(&a, i) == gb_ds_perm_at(&b, i);
        differ += gb_ds_perm_at(&a, i) != gb_ds_perm_at(&c, i);
    }
    CHECK(same);
    CHECK(differ > 900);
    /* a prefix of it is a random subset: the first 100 of 1000 spread over the whole range */
    uint32_t lo = 1000, hi = 0;
    for (uint32_t i = 0; i < 100; i++) {
        uint32_t j = gb_ds_perm_at(&a, i);
        if (j < lo) lo = j;
        if (j > hi) hi = j;
    }
    CHECK(lo < 100 && hi > 900);
    gb_ds_perm_init(&a, 0, &r1); /* nothing to permute */
}


/* A window of tokens (n of them) against the source stream it was cut from at start: its
 * non-shift tokens are the source's in order, NOTE_ON/NOTE_OFF moved by one shift for the
 * window; its TIME_SHIFTs are written as the encoder writes them (100s, then the rest, the rest
 * never 0); and the time before each of its tokens is round(f * the source's) for one factor f
 * of [lo, hi] for the whole window. Returns 0 on a mismatch, else 1 + (f could not be 1). */
static int check_window(const uint16_t *src, size_t src_n, size_t start, const float *x,
                        const float *tg, int len, int B, int b, double lo, double hi,
                        int *shift_seen) {
    uint16_t w[600];
    for (int t = 0; t < len; t++) w[t] = (uint16_t)x[(size_t)t * B + b];
    w[len] = (uint16_t)tg[(size_t)(len - 1) * B + b];
    for (int t = 1; t < len; t++) /* targets are the next inputs */
        if ((uint16_t)tg[(size_t)(t - 1) * B + b] != w[t]) return 0;
    size_t i = start;
    uint64_t ts = 0, tw = 0;
    int shift = 99, in_run = 0;
    double flo = lo, fhi = hi;
    for (int t = 0; t <= len; t++) {
        int v;
        gb_ev_class c = gb_events_class(w[t], &v);
        if (c == GB_EVC_TIME_SHIFT) {
            if (in_run && w[t - 1] != GB_EV_TIME_SHIFT + 99) return 0; /* not 100 then rest */
            tw += (uint64_t)v, in_run = 1;
            continue;
        }
        in_run = 0;
        while (i < src_n && gb_events_class(src[i], &v) == GB_EVC_TIME_SHIFT) ts += (uint64_t)v, i++;
        if (i >= src_n) return 0;
        int sv, wv = 0;
        gb_ev_class sc = gb_events_class(src[i], &sv);
        gb_events_class(w[t], &wv);
        if (sc != c) return 0;
        if (c == GB_EVC_NOTE_ON || c == GB_EVC_NOTE_OFF) {
            if (shift == 99) shift = wv - sv;
            if (wv - sv != shift) return 0;
        } else if (w[t] != src[i]) {
            return 0;
        }
        i++;
        if (ts) { /* |tw - f ts| <= 1/2 */
            double a = ((double)tw - 0.5) / (double)ts, z = ((double)tw + 0.5) / (double)ts;
            if (a > flo) flo = a;
            if (z < fhi) fhi = z;
        } else if (tw) {
            return 0;
        }
    }
    if (flo > fhi + 1e-12) return 0;
    if (shift != 99) *shift_seen = shift;
    return 1 + !(flo <= 1 && 1 <= fhi);
}

static void test_events(void) {
    const char *path = "data/classical/mozart__sonata1.mid";
    gb_song s;
    gb_error e;
    CHECK_INT(gb_song_read(path, &s, &e), GB_OK);
    gb_ds_encoding enc;
    gb_ds_encoding_default(&enc);
    enc.events = GB_DS_EVENTS;
    CHECK_INT(gb_ds_features(&enc), 388);
    CHECK_INT(gb_ds_in_features(&enc), 1);
    CHECK_INT(gb_ds_target_features(&enc), 1);
    enc.meter = 1;
    gb_dataset ds;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_ERR_ARG); /* no meter for events */
    enc.meter = 0;
    /* a part each, then the file's parts as one stream: gb_events_encode's tokens */
    for (int merge = 0; merge < 2; merge++) {
        enc.merge = merge;
        CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
        CHECK_INT(gb_ds_add_song(&ds, &s, path, 0, &e), GB_OK);
        CHECK_INT(ds.n_parts, merge ? 1 : s.n_parts);
        for (size_t k = 0; k < ds.n_parts; k++) {
            gb_tokens t;
            CHECK_INT(gb_events_encode(&s, merge ? s.parts : &s.parts[k], merge ? s.n_parts : 1,
                                       NULL, &t, &e), GB_OK);
            CHECK(ds.parts[k].steps == t.n && t.n > 1000);
            CHECK(!memcmp(ds.parts[k].tokens, t.v, t.n * 2));
            /* gb_ds_cut gives the ids */
            float row[8];
            gb_ds_cut(&ds, k, 100, 8, 1, 0, row);
            int same = 1;
            for (int i = 0; i < 8; i++) same &= row[i] == (float)t.v[100 + i];
            CHECK(same);
            gb_tokens_free(&t);
        }
        if (merge) break;
        gb_ds_free(&ds);
    }
    CHECK_INT(ds.bytes, ds.parts[0].steps * 2);
    uint64_t h = gb_ds_hash(&ds);
    enum { T = 300, B = 8 };
    gb_ds_windows w;
    CHECK_INT(gb_ds_windows_make(&ds, 0, T, 150, &w, &e), GB_OK);
    CHECK(w.n > B);
    uint32_t ids[B];
    for (int b = 0; b < B; b++) ids[b] = (uint32_t)(b * (w.n / B));
    static float x[T * B], tg[T * B], m[T * B];
    /* no augmentation: the stream's own tokens */
    const uint16_t *src = ds.parts[0].tokens;
    gb_ds_cut_batch(&ds, &w, ids, B, NULL, x, tg, m);
    int bad = 0;
    for (int b = 0; b < B; b++) {
        size_t part, start;
        int len;
        gb_ds_window_at(&w, ids[b], &part, &start, &len);
        for (int t = 0; t < T; t++)
            bad += x[t * B + b] != src[start + t] || tg[t * B + b] != src[start + t + 1] ||
                   m[t * B + b] != 1;
    }
    CHECK_INT(bad, 0);
    /* transposition by up to 3 and stretch by up to 5%: 50 batches */
    gb_rng rng;
    gb_rng_seed(&rng, 7);
    uint64_t keys[B];
    gb_ds_aug aug = {.transpose = 3, .stretch = 0.05f, .keys = keys};
    int stretched = 0, shifts[7] = {0}, masked = 0;
    bad = 0;
    for (int it = 0; it < 50; it++) {
        for (int b = 0; b < B; b++) keys[b] = gb_rng_next(&rng);
        gb_ds_cut_batch(&ds, &w, ids, B, &aug, x, tg, m);
        for (int b = 0; b < B; b++) {
            size_t part, start;
            int len, sh = 0;
            gb_ds_window_at(&w, ids[b], &part, &start, &len);
            int n = 0;
            while (n < T && m[n * B + b] == 1) n++;
            for (int t = n; t < T; t++) masked += m[t * B + b] != 0 || x[t * B + b] != 0;
            int r = n > T / 2 ? check_window(src, ds.parts[0].steps, start, x, tg, n, B, b,
                                             0.95, 1.05, &sh) : 0;
            if (!r && !bad) fprintf(stderr, "  window %u: %d tokens do not match\n", ids[b], n);
            bad += !r;
            stretched += r == 2;
            if (sh >= -3 && sh <= 3) shifts[sh + 3]++;
        }
    }
    CHECK_INT(bad, 0);
    CHECK_INT(masked, 0);
    CHECK(stretched > 300); /* nearly every window's factor is not 1 */
    int missing = 0;
    for (int k = 0; k < 7; k++) missing += shifts[k] == 0;
    CHECK_INT(missing, 0);
    /* the hash sees the representation and the tokens */
    CHECK(h != 0);
    gb_ds_windows_free(&w);
    gb_ds_free(&ds);
    enc.events = GB_DS_ENSEMBLE;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_song(&ds, &s, path, 0, &e), GB_OK);
    CHECK_INT(ds.n_parts, 1);
    CHECK_INT(gb_ds_features(&enc), 517);
    CHECK(gb_ds_hash(&ds) != h);
    gb_ds_free(&ds);
    gb_song_free(&s);

    /* merged parts in unison: one key a pitch. A's 60 is struck again by B's at tick 4 (ends
     * there); the two 64s struck together become the longer. A tick is 0.125 s at 120 bpm. */
    gb_note na[] = {{0, 8, 60, 100}, {0, 2, 64, 100}}, nb[] = {{0, 6, 64, 80}, {4, 12, 60, 80}};
    gb_part pp[2] = {{.notes = na, .n_notes = 2}, {.track = 1, .channel = 1, .notes = nb,
                                                   .n_notes = 2}};
    gb_song hs = {.format = 1, .division = 4, .n_tracks = 2, .parts = pp, .n_parts = 2};
    enc.events = GB_DS_EVENTS, enc.merge = 1;
    CHECK_INT(gb_ds_init(&ds, &enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_song(&ds, &hs, "hand", 0, &e), GB_OK);
    CHECK_INT(ds.n_parts, 1);
    gb_song d;
    gb_events_opts o = {.bpm = 120}; /* 500 ticks a quarter: a tick is a millisecond */
    CHECK_INT(gb_events_decode(ds.parts[0].tokens, ds.parts[0].steps, &o, &d, NULL, &e), GB_OK);
    CHECK_INT(d.n_parts, 1);
    if (d.n_parts == 1) {
        const uint64_t want[3][3] = {{0, 500, 60}, {0, 750, 64}, {500, 1500, 60}};
        CHECK_INT(d.parts[0].n_notes, 3);
        for (size_t i = 0; i < 3 && i < d.parts[0].n_notes; i++) {
            const gb_note *nt = &d.parts[0].notes[i];
            CHECK(nt->start == want[i][0] && nt->end == want[i][1] && nt->pitch == want[i][2]);
        }
    }
    gb_song_free(&d);
    gb_ds_free(&ds);
}

int main(void) {
    if (!tmpdir_make("ds_test")) return 1;
    RUN(test_steps_equal_rolls);
    RUN(test_onsets);
    RUN(test_compact_memory);
    RUN(test_windows);
    RUN(test_short_parts);
    RUN(test_batch_against_cut);
    RUN(test_transpose);
    RUN(test_meter);
    RUN(test_split);
    RUN(test_walk_and_skips);
    RUN(test_filter);
    RUN(test_merge);
    RUN(test_permutation);
    RUN(test_events);
    rm_tree(tmpdir);
    TEST_END();
}
