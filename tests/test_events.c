/* test_events.c - performance events: the token layout and classes, the encoder's order of
 * events, velocity bins, the 10 ms grid and the tempo map, long gaps, ensembles with PROGRAM
 * tokens, the decoder's rules (stray NOTE_OFFs, the 5 s rule, notes of no duration, unisons),
 * limits, round trips through tokens and through MIDI, and the token .npy files (hostile ones
 * included, and NumPy itself). */
#define _DEFAULT_SOURCE
#include "groovybee.h"
#include "test.h"
#include "tmpdir.h"

#include <stdlib.h>

#include "events/events.h"

/* Shorthands for expected streams. */
#define ON(p) (GB_EV_NOTE_ON + (p))
#define OFF(p) (GB_EV_NOTE_OFF + (p))
#define SHIFT(k) (GB_EV_TIME_SHIFT + (k) - 1)
#define VEL(b) (GB_EV_VELOCITY + (b) - 1)
#define PROG(x) (GB_EV_PROGRAM + (x))

/* A song at 60 bpm with 1000 ticks a quarter: a tick is a millisecond. */
static gb_tempo tempo_1ms = {0, 1000000, 0, 0.0};

static gb_song song_ms(void) {
    gb_song s;
    memset(&s, 0, sizeof s);
    s.format = 1;
    s.division = 1000;
    s.tempos = &tempo_1ms;
    s.n_tempos = 1;
    return s;
}

static gb_part part(gb_note *notes, size_t n, int program, int drum) {
    gb_part p;
    memset(&p, 0, sizeof p);
    p.notes = notes;
    p.n_notes = n;
    p.program = program;
    p.is_drum = drum;
    p.channel = drum ? 9 : 0;
    return p;
}

/* Checks the stream t against want[0..n), printing both on a difference. */
static void check_stream(const gb_tokens *t, const int *want, size_t n, int line) {
    int same = t->n == n;
    for (size_t i = 0; same && i < n; i++) same = t->v[i] == want[i];
    if (same) return;
    tst_checks_failed++;
    char a[32];
    fprintf(stderr, "  FAIL line %d: stream of %zu tokens:", line, t->n);
    for (size_t i = 0; i < t->n; i++)
        fprintf(stderr, " [%s]", gb_events_token_str(t->v[i], a, sizeof a));
    fprintf(stderr, "\n    expected %zu:", n);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " [%s]", gb_events_token_str((unsigned)want[i], a, sizeof a));
    fprintf(stderr, "\n");
}
#define CHECK_STREAM(t, ...)                                                                 \
    do {                                                                                     \
        const int want_[] = {__VA_ARGS__};                                                   \
        check_stream((t), want_, sizeof want_ / sizeof *want_, __LINE__);                    \
    } while (0)

static gb_status encode1(gb_note *notes, size_t n, gb_tokens *t) {
    gb_song s = song_ms();
    gb_part p = part(notes, n, 0, 0);
    return gb_events_encode(&s, &p, 1, NULL, t, NULL);
}

/* ------------------------------------------------------------------------------------------ */

static void test_layout_and_classes(void) {
    CHECK_INT(GB_EV_VOCAB, 388); /* note_seq's PerformanceOneHotEncoding with 32 bins */
    CHECK_INT(GB_EV_VOCAB_ENSEMBLE, 517);
    static const struct {
        unsigned token;
        gb_ev_class c;
        int value;
        const char *text;
    } cases[] = {
        {0, GB_EVC_NOTE_ON, 0, "NOTE_ON 0"},
        {127, GB_EVC_NOTE_ON, 127, "NOTE_ON 127"},
        {128, GB_EVC_NOTE_OFF, 0, "NOTE_OFF 0"},
        {255, GB_EVC_NOTE_OFF, 127, "NOTE_OFF 127"},
        {256, GB_EVC_TIME_SHIFT, 1, "TIME_SHIFT 1"},
        {355, GB_EVC_TIME_SHIFT, 100, "TIME_SHIFT 100"},
        {356, GB_EVC_VELOCITY, 1, "VELOCITY 1"},
        {387, GB_EVC_VELOCITY, 32, "VELOCITY 32"},
        {388, GB_EVC_PROGRAM, 0, "PROGRAM 0"},
        {515, GB_EVC_PROGRAM, 127, "PROGRAM 127"},
        {516, GB_EVC_PROGRAM, 128, "PROGRAM drums"},
        {517, GB_EVC_INVALID, -1, "INVALID 517"},
        {65535, GB_EVC_INVALID, -1, "INVALID 65535"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int v = 99;
        char buf[32];
        CHECK_INT(gb_events_class(cases[i].token, &v), cases[i].c);
        CHECK_INT(v, cases[i].value);
        CHECK_STR_HAS(gb_events_token_str(cases[i].token, buf, sizeof buf), cases[i].text);
    }
    CHECK_INT(gb_events_class(300, NULL), GB_EVC_TIME_SHIFT);
    CHECK(!strcmp(gb_events_class_name(GB_EVC_VELOCITY), "VELOCITY"));
    CHECK(!strcmp(gb_events_class_name(GB_EVC_INVALID), "INVALID"));
    /* every token of the vocabulary has a class, and the token functions agree with it */
    int counts[GB_EVC_COUNT + 1] = {0};
    for (unsigned t = 0; t < GB_EV_VOCAB_ENSEMBLE; t++) counts[gb_events_class(t, NULL)]++;
    CHECK_INT(counts[GB_EVC_NOTE_ON], 128);
    CHECK_INT(counts[GB_EVC_NOTE_OFF], 128);
    CHECK_INT(counts[GB_EVC_TIME_SHIFT], 100);
    CHECK_INT(counts[GB_EVC_VELOCITY], 32);
    CHECK_INT(counts[GB_EVC_PROGRAM], 129);
    CHECK_INT(counts[GB_EVC_INVALID], 0);
    CHECK_INT(gb_ev_shift(100), 355);
    CHECK_INT(gb_ev_velocity(32), 387);
    CHECK_INT(gb_ev_program(128), GB_EV_DRUMS);
}

static void test_velocity_bins(void) {
    /* note_seq: bin size ceil(127 / 32) = 4, bin = (v - 1) // 4 + 1, back to 1 + (bin - 1) * 4 */
    static const int v[] = {1, 4, 5, 8, 9, 64, 100, 124, 125, 127};
    static const int bin[] = {1, 1, 2, 2, 3, 16, 25, 31, 32, 32};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        CHECK_INT(gb_ev_velocity_bin(v[i]), bin[i]);
        int back = gb_ev_bin_velocity(bin[i]);
        CHECK(back <= v[i] && v[i] - back <= 3);
    }
    CHECK_INT(gb_ev_bin_velocity(32), 125);
    for (int x = 1; x <= 127; x++) {
        int b = gb_ev_velocity_bin(x);
        CHECK_INT(gb_ev_velocity_bin(gb_ev_bin_velocity(b)), b);
    }

    /* VELOCITY only when the bin changes: 1 and 4 share a bin, 5 does not, 127 and 125 share */
    gb_note notes[] = {{0, 10, 60, 1}, {20, 30, 61, 4}, {40, 50, 62, 5},
                       {60, 70, 63, 127}, {80, 90, 64, 125}};
    gb_tokens t;
    CHECK_INT(encode1(notes, 5, &t), GB_OK);
    CHECK_STREAM(&t, VEL(1), ON(60), SHIFT(1), OFF(60), SHIFT(1), ON(61), SHIFT(1), OFF(61),
                 SHIFT(1), VEL(2), ON(62), SHIFT(1), OFF(62), SHIFT(1), VEL(32), ON(63),
                 SHIFT(1), OFF(63), SHIFT(1), ON(64), SHIFT(1), OFF(64));
    gb_tokens_free(&t);
    gb_tokens_free(&t); /* twice is harmless */
}

/* The order within a step, as note_seq sorts (step, note index, offset after onset), with notes
 * indexed by (start time, pitch): the notes that end go before those that start. */
static void test_order_of_events(void) {
    gb_note notes[] = {
        {0, 500, 60, 80},     /* a C major chord, then C struck again and G */
        {0, 500, 64, 80},
        {500, 1000, 60, 80},  /* the same bin: no VELOCITY */
        {500, 1000, 67, 100}, /* bin 25 */
    };
    gb_tokens t;
    CHECK_INT(encode1(notes, 4, &t), GB_OK);
    CHECK_STREAM(&t, VEL(20), ON(60), ON(64), SHIFT(50), OFF(60), OFF(64), ON(60), VEL(25),
                 ON(67), SHIFT(50), OFF(60), OFF(67));
    gb_tokens_free(&t);

    /* the notes of a part in any order give the same stream: the encoder sorts them */
    gb_note shuffled[] = {notes[3], notes[1], notes[2], notes[0]};
    gb_tokens u;
    CHECK_INT(encode1(shuffled, 4, &u), GB_OK);
    CHECK_STREAM(&u, VEL(20), ON(60), ON(64), SHIFT(50), OFF(60), OFF(64), ON(60), VEL(25),
                 ON(67), SHIFT(50), OFF(60), OFF(67));
    gb_tokens_free(&u);

    /* overlapping notes of one pitch: both onsets, then both offsets (FIFO on decoding) */
    gb_note overlap[] = {{0, 300, 60, 64}, {100, 200, 60, 64}};
    CHECK_INT(encode1(overlap, 2, &t), GB_OK);
    CHECK_STREAM(&t, VEL(16), ON(60), SHIFT(10), ON(60), SHIFT(10), OFF(60), SHIFT(10), OFF(60));
    gb_tokens_free(&t);

    /* nothing: no tokens */
    CHECK_INT(encode1(NULL, 0, &t), GB_OK);
    CHECK(t.n == 0 && t.v == NULL);
}

static void test_grid_and_gaps(void) {
    gb_tokens t;
    /* 4 ms rounds to step 0, 6 ms to step 1; a note shorter than a step lasts one */
    gb_note a[] = {{4, 6, 60, 100}};
    CHECK_INT(encode1(a, 1, &t), GB_OK);
    CHECK_STREAM(&t, VEL(25), ON(60), SHIFT(1), OFF(60));
    gb_tokens_free(&t);
    gb_note b[] = {{16, 994, 60, 100}}; /* steps 2 .. 99 */
    CHECK_INT(encode1(b, 1, &t), GB_OK);
    CHECK_STREAM(&t, SHIFT(2), VEL(25), ON(60), SHIFT(97), OFF(60));
    gb_tokens_free(&t);

    /* gaps of exactly 100 steps, 101, 200 and 249: TIME_SHIFT 100 as often as it fits */
    gb_note c[] = {{0, 1000, 60, 100}, {2010, 2020, 61, 100}, {4020, 6510, 62, 100}};
    CHECK_INT(encode1(c, 3, &t), GB_OK);
    CHECK_STREAM(&t, VEL(25), ON(60), SHIFT(100), OFF(60), SHIFT(100), SHIFT(1), ON(61),
                 SHIFT(1), OFF(61), SHIFT(100), SHIFT(100), ON(62), SHIFT(100), SHIFT(100),
                 SHIFT(49), OFF(62));
    gb_tokens_free(&t);

    /* seconds from the tempo map: 120 bpm for the first 960 ticks (1 s), then 60 bpm */
    gb_tempo tempos[] = {{0, 500000, 0, 0.0}, {960, 1000000, 0, 1.0}};
    gb_song s = song_ms();
    s.division = 480;
    s.tempos = tempos;
    s.n_tempos = 2;
    gb_note d[] = {{480, 960, 60, 100},   /* 0.5 s .. 1 s */
                   {1440, 1452, 62, 100}}; /* 2 s .. 2.025 s: step 203 (202.5 rounds up) */
    gb_part p = part(d, 2, 0, 0);
    CHECK_INT(gb_events_encode(&s, &p, 1, NULL, &t, NULL), GB_OK);
    CHECK_STREAM(&t, SHIFT(50), VEL(25), ON(60), SHIFT(50), OFF(60), SHIFT(100), ON(62),
                 SHIFT(3), OFF(62));
    gb_tokens_free(&t);
}

/* ------------------------------------------------------------------------------------------ */
/* decoding */

static gb_status decode(const int *tok, size_t n, const gb_events_opts *o, gb_song *s,
                        gb_events_stats *st, gb_error *e) {
    uint16_t *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = (uint16_t)tok[i];
    gb_status r = gb_events_decode(v, n, o, s, st, e);
    free(v);
    return r;
}
#define DECODE(o, s, st, e, ...)                                                             \
    decode((const int[]){__VA_ARGS__}, sizeof((const int[]){__VA_ARGS__}) / sizeof(int), (o),  \
           (s), (st), (e))

static int has_note(const gb_part *p, uint64_t start, uint64_t end, int pitch, int velocity) {
    for (size_t i = 0; i < p->n_notes; i++) {
        const gb_note *x = &p->notes[i];
        if (x->start == start && x->end == end && x->pitch == pitch && x->velocity == velocity)
            return 1;
    }
    return 0;
}

static void test_decode_rules(void) {
    gb_song s;
    gb_events_stats st;
    gb_error e;
    /* 120 bpm (default): a division of 500, a tick of 1 ms, a step of 10 ticks */
    CHECK_INT(DECODE(NULL, &s, &st, &e, ON(60), SHIFT(50), OFF(60), VEL(20), ON(62), SHIFT(10),
                     OFF(62), OFF(70)),
              GB_OK);
    CHECK_INT(s.format, 1);
    CHECK_INT(s.division, 500);
    CHECK(s.n_tempos == 1 && s.tempos[0].usec_per_quarter == 500000);
    CHECK_INT(s.n_parts, 1);
    CHECK_INT(s.n_tracks, 2);
    if (s.n_parts == 1) {
        const gb_part *p = &s.parts[0];
        CHECK_INT(p->n_notes, 2);
        CHECK(has_note(p, 0, 500, 60, 100));   /* before any VELOCITY: 100, as note_seq */
        CHECK(has_note(p, 500, 600, 62, 77));  /* bin 20: 1 + 19 * 4 */
        CHECK(p->track == 1 && p->channel == 0 && p->program == 0 && !p->is_drum);
        CHECK(!strcmp(p->name, "Acoustic Grand Piano"));
    }
    CHECK_INT(s.end_tick, 600);
    CHECK_INT(st.notes, 2);
    CHECK_INT(st.stray_offs, 1); /* OFF 70: nothing sounds, ignored */
    CHECK_INT(st.open_notes, 0);
    CHECK_INT(st.steps, 60);
    gb_song_free(&s);

    /* Never turned off: 5 s, or the end of the stream; at the very end, no duration: dropped.
     * A NOTE_OFF in the step of its NOTE_ON: dropped too. */
    CHECK_INT(DECODE(NULL, &s, &st, &e, ON(60), SHIFT(100), SHIFT(100), SHIFT(100), SHIFT(100),
                     SHIFT(100), SHIFT(100), SHIFT(100), ON(61), SHIFT(50), ON(62), ON(63),
                     OFF(63)),
              GB_OK);
    if (s.n_parts == 1) {
        CHECK_INT(s.parts[0].n_notes, 2);
        CHECK(has_note(&s.parts[0], 0, 5000, 60, 100));    /* 5 s */
        CHECK(has_note(&s.parts[0], 7000, 7500, 61, 100)); /* to the end at 7.5 s */
    }
    CHECK_INT(st.open_notes, 2);
    CHECK_INT(st.empty, 2);
    gb_song_free(&s);

    /* open_note_s, the tempo asked for, the instrument of a stream without PROGRAM tokens */
    gb_events_opts o = {.bpm = 100, .open_note_s = 0.5, .program = 0, .is_drum = 1};
    CHECK_INT(DECODE(&o, &s, &st, &e, ON(36), SHIFT(100)), GB_OK);
    CHECK_INT(s.division, 600); /* about 1 ms a tick at 100 bpm */
    CHECK_INT(s.tempos[0].usec_per_quarter, 600000);
    if (s.n_parts == 1) {
        CHECK(s.parts[0].is_drum && s.parts[0].channel == 9);
        CHECK(has_note(&s.parts[0], 0, 500, 36, 100)); /* 0.5 s: a quarter is 600 ms */
    }
    gb_song_free(&s);
    o = (gb_events_opts){.program = 40};
    CHECK_INT(DECODE(&o, &s, &st, &e, SHIFT(3), ON(67), SHIFT(1), OFF(67)), GB_OK);
    CHECK(s.n_parts == 1 && s.parts[0].program == 40 && !strcmp(s.parts[0].name, "Violin"));
    gb_song_free(&s);

    /* FIFO: a NOTE_OFF closes the earliest sounding note of its pitch */
    CHECK_INT(DECODE(NULL, &s, &st, &e, ON(60), SHIFT(10), ON(60), SHIFT(10), OFF(60),
                     SHIFT(10), OFF(60)),
              GB_OK);
    if (s.n_parts >= 1) {
        CHECK(has_note(&s.parts[0], 0, 200, 60, 100));
        int other = has_note(&s.parts[0], 100, 300, 60, 100) ||
                    (s.n_parts == 2 && has_note(&s.parts[1], 100, 300, 60, 100));
        CHECK(other);
    }
    gb_song_free(&s);

    /* restrike: the same stream, one key a pitch: the second ON ends the first at 100 ms, the
     * first OFF ends the second, the last OFF is stray; a restrike in the step of its note
     * leaves none of it */
    o = (gb_events_opts){.restrike = 1};
    CHECK_INT(DECODE(&o, &s, &st, &e, ON(60), SHIFT(10), ON(60), SHIFT(10), OFF(60), SHIFT(10),
                     OFF(60), ON(62), ON(62), SHIFT(5), OFF(62)),
              GB_OK);
    CHECK_INT(s.n_parts, 1);
    if (s.n_parts == 1) {
        CHECK_INT(s.parts[0].n_notes, 3);
        CHECK(has_note(&s.parts[0], 0, 100, 60, 100) && has_note(&s.parts[0], 100, 200, 60, 100));
        CHECK(has_note(&s.parts[0], 300, 350, 62, 100));
    }
    CHECK(st.stray_offs == 1 && st.empty == 1 && st.voices == 0);
    gb_song_free(&s);

    /* Nothing but time: a song without parts, still a MIDI file. */
    CHECK_INT(DECODE(NULL, &s, &st, &e, SHIFT(5), OFF(3), ON(60)), GB_OK);
    CHECK(s.n_parts == 0 && s.parts == NULL);
    CHECK_INT(s.n_tracks, 1);
    CHECK_INT(st.stray_offs, 1);
    CHECK_INT(st.empty, 1);
    gb_buf b = {0};
    CHECK_INT(gb_song_write(&s, &b, NULL), GB_OK);
    gb_buf_free(&b);
    gb_song_free(&s);
}

static void test_decode_errors(void) {
    gb_song s;
    gb_error e;
    uint16_t one = ON(60);
    CHECK_INT(gb_events_decode(&one, 0, NULL, &s, NULL, &e), GB_ERR_FORMAT);
    CHECK_STR_HAS(e.msg, "empty token stream");
    CHECK(s.parts == NULL && s.n_parts == 0);
    CHECK_INT(DECODE(NULL, &s, NULL, &e, ON(60), SHIFT(1), 517, OFF(60)), GB_ERR_FORMAT);
    CHECK_STR_HAS(e.msg, "token 2 is 517, outside the vocabulary (0..516)");
    CHECK(s.parts == NULL && s.tempos == NULL);
    CHECK_INT(DECODE(NULL, &s, NULL, &e, 65535), GB_ERR_FORMAT);
    gb_events_opts o = {.bpm = 2};
    CHECK_INT(DECODE(&o, &s, NULL, &e, ON(60)), GB_ERR_ARG);
    o = (gb_events_opts){.program = 128};
    CHECK_INT(DECODE(&o, &s, NULL, &e, ON(60)), GB_ERR_ARG);
    o = (gb_events_opts){.open_note_s = -1};
    CHECK_INT(DECODE(&o, &s, NULL, &e, ON(60)), GB_ERR_ARG);
    CHECK_INT(gb_events_decode(NULL, 3, NULL, &s, NULL, &e), GB_ERR_ARG);
    CHECK_INT(gb_events_decode(&one, 1, NULL, NULL, NULL, NULL), GB_ERR_ARG);

    /* 16 melodic instruments cannot be a MIDI file's */
    int tok[64], n = 0;
    for (int x = 0; x < 16; x++) tok[n++] = PROG(x), tok[n++] = ON(60), tok[n++] = SHIFT(1);
    CHECK_INT(decode(tok, (size_t)n, NULL, &s, NULL, &e), GB_ERR_LIMIT);
    CHECK_STR_HAS(e.msg, "16 melodic instruments");
    tok[0] = GB_EV_DRUMS; /* 15 and drums: fine */
    CHECK_INT(decode(tok, (size_t)n, NULL, &s, NULL, &e), GB_OK);
    CHECK_INT(s.n_parts, 16);
    if (s.n_parts == 16) {
        CHECK(s.parts[15].is_drum && s.parts[15].channel == 9);
        CHECK_INT(s.parts[14].channel, 15); /* 9 skipped */
        CHECK_INT(s.parts[8].channel, 8);
        CHECK_INT(s.parts[9].channel, 10);
    }
    gb_song_free(&s);
}

/* ------------------------------------------------------------------------------------------ */
/* ensembles */

static void test_ensemble(void) {
    gb_song s = song_ms();
    gb_note piano[] = {{0, 100, 60, 64}};
    gb_note violin[] = {{0, 200, 67, 64}};
    gb_note drums[] = {{100, 110, 36, 100}};
    gb_part parts[] = {part(piano, 1, 0, 0), part(violin, 1, 40, 0), part(drums, 1, 0, 1)};
    parts[2].program = 5; /* a drum part's program does not matter */
    gb_events_opts o = {.ensemble = 1};
    gb_tokens t;
    CHECK_INT(gb_events_encode(&s, parts, 3, &o, &t, NULL), GB_OK);
    CHECK_STREAM(&t, PROG(0), VEL(16), ON(60), PROG(40), ON(67), SHIFT(10), PROG(0), OFF(60),
                 GB_EV_DRUMS, VEL(25), ON(36), SHIFT(1), OFF(36), SHIFT(9), PROG(40), OFF(67));
    gb_song back;
    gb_events_stats st;
    CHECK_INT(gb_events_decode(t.v, t.n, NULL, &back, &st, NULL), GB_OK);
    CHECK_INT(back.n_parts, 3);
    if (back.n_parts == 3) { /* 120 bpm, a tick of 1 ms */
        CHECK(back.parts[0].program == 0 && back.parts[0].channel == 0 &&
              has_note(&back.parts[0], 0, 100, 60, 61));
        CHECK(back.parts[1].program == 40 && back.parts[1].channel == 1 &&
              has_note(&back.parts[1], 0, 200, 67, 61) && !strcmp(back.parts[1].name, "Violin"));
        CHECK(back.parts[2].is_drum && back.parts[2].channel == 9 &&
              has_note(&back.parts[2], 100, 110, 36, 97) && !strcmp(back.parts[2].name, "Drums"));
        for (int k = 0; k < 3; k++) CHECK_INT(back.parts[k].track, k + 1);
    }
    gb_song_free(&back);
    gb_tokens_free(&t);

    /* Without --ensemble the parts are one instrument: note_seq's stream of all instruments. */
    CHECK_INT(gb_events_encode(&s, parts, 3, NULL, &t, NULL), GB_OK);
    CHECK_STREAM(&t, VEL(16), ON(60), ON(67), SHIFT(10), OFF(60), VEL(25), ON(36), SHIFT(1),
                 OFF(36), SHIFT(9), OFF(67));
    gb_tokens_free(&t);

    /* One pitch in two instruments at once: each NOTE_OFF ends its own instrument's note. */
    gb_note p2[] = {{0, 50, 60, 100}};
    gb_note v2[] = {{0, 100, 60, 100}};
    gb_part two[] = {part(p2, 1, 0, 0), part(v2, 1, 40, 0)};
    CHECK_INT(gb_events_encode(&s, two, 2, &o, &t, NULL), GB_OK);
    CHECK_STREAM(&t, PROG(0), VEL(25), ON(60), PROG(40), ON(60), SHIFT(5), PROG(0), OFF(60),
                 SHIFT(5), PROG(40), OFF(60));
    CHECK_INT(gb_events_decode(t.v, t.n, NULL, &back, NULL, NULL), GB_OK);
    CHECK_INT(back.n_parts, 2);
    if (back.n_parts == 2) {
        CHECK(has_note(&back.parts[0], 0, 50, 60, 97));
        CHECK(has_note(&back.parts[1], 0, 100, 60, 97));
    }
    gb_song_free(&back);
    gb_tokens_free(&t);

    /* A bad program is refused when it would be written. */
    two[1].program = 128;
    CHECK_INT(gb_events_encode(&s, two, 2, &o, &t, NULL), GB_ERR_ARG);
}

/* Two violins in unison, as two parts of one program: one MIDI channel cannot hold both, so
 * decoding puts the later in a second part; drums (all on channel 10) stay one part. */
static void test_unisons(void) {
    gb_song s = song_ms();
    gb_note v1[] = {{0, 1000, 60, 100}}, v2[] = {{500, 1500, 60, 100}};
    gb_note d1[] = {{0, 1000, 36, 100}}, d2[] = {{500, 1500, 36, 100}};
    gb_part parts[] = {part(v1, 1, 40, 0), part(v2, 1, 40, 0), part(d1, 1, 0, 1),
                       part(d2, 1, 0, 1)};
    gb_events_opts o = {.ensemble = 1};
    gb_tokens t;
    gb_song back;
    gb_events_stats st;
    CHECK_INT(gb_events_encode(&s, parts, 4, &o, &t, NULL), GB_OK);
    CHECK_INT(gb_events_decode(t.v, t.n, NULL, &back, &st, NULL), GB_OK);
    CHECK_INT(back.n_parts, 3);
    CHECK_INT(st.voices, 1);
    if (back.n_parts == 3) {
        CHECK(back.parts[0].program == 40 && back.parts[1].program == 40);
        CHECK(back.parts[0].n_notes == 1 && has_note(&back.parts[0], 0, 1000, 60, 97));
        CHECK(back.parts[1].n_notes == 1 && has_note(&back.parts[1], 500, 1500, 60, 97));
        CHECK(!strcmp(back.parts[1].name, "Violin 2"));
        CHECK(back.parts[0].channel != back.parts[1].channel);
        CHECK(back.parts[2].is_drum && back.parts[2].n_notes == 2);
    }
    /* and the MIDI file holds all four notes */
    gb_buf b = {0};
    gb_song again;
    CHECK_INT(gb_song_write(&back, &b, NULL), GB_OK);
    CHECK_INT(gb_song_parse(b.data, b.len, &again, NULL), GB_OK);
    size_t notes = 0;
    for (size_t k = 0; k < again.n_parts; k++) notes += again.parts[k].n_notes;
    CHECK_INT(notes, 4);
    gb_song_free(&again);
    gb_buf_free(&b);
    gb_song_free(&back);
    gb_tokens_free(&t);

    /* 15 melodic instruments leave no channel for a second violin: the notes stay in one part */
    int tok[64], n = 0;
    for (int x = 0; x < 14; x++) tok[n++] = PROG(x), tok[n++] = ON(70);
    tok[n++] = PROG(40), tok[n++] = ON(60), tok[n++] = ON(60), tok[n++] = SHIFT(10);
    CHECK_INT(decode(tok, (size_t)n, NULL, &back, &st, NULL), GB_OK);
    CHECK_INT(back.n_parts, 15);
    CHECK_INT(st.voices, 0);
    if (back.n_parts == 15) CHECK_INT(back.parts[14].n_notes, 2);
    gb_song_free(&back);
}

/* ------------------------------------------------------------------------------------------ */
/* round trips */

static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng % n);
}
/* a millisecond that does not fall half-way between two steps */
static uint64_t ms_off_tie(uint64_t t) { return t % 10 == 5 ? t + 1 : t; }
static uint64_t on_grid(uint64_t t) { return (t + 5) / 10 * 10; }

/* Random parts (notes of one pitch never overlapping within a part, pitches apart between
 * parts), encoded per part and as an ensemble, decoded at 60 bpm (a tick of 1 ms): every note
 * comes back on the grid with the lowest velocity of its bin. */
static void test_round_trip(void) {
    enum { PARTS = 4, NOTES = 300 };
    static gb_note notes[PARTS][NOTES];
    static const int programs[PARTS] = {0, 40, 73, 0};
    gb_part parts[PARTS];
    gb_song s = song_ms();
    for (int k = 0; k < PARTS; k++) {
        uint64_t free_at[128] = {0};
        size_t n = 0;
        for (int i = 0; i < NOTES; i++) {
            int pitch = 24 * k + (int)rnd(24);
            uint64_t start = ms_off_tie(free_at[pitch] + rnd(3000));
            uint64_t end = ms_off_tie(start + 1 + rnd(2500));
            if (on_grid(end) <= on_grid(start)) continue; /* kept simple: a step or more */
            notes[k][n++] = (gb_note){start, end, (uint8_t)pitch, (uint8_t)(1 + rnd(127))};
            free_at[pitch] = end + 10;
        }
        parts[k] = part(notes[k], n, programs[k], k == 3);
    }
    for (int ensemble = 0; ensemble <= 1; ensemble++) {
        for (int k = 0; k < (ensemble ? 1 : PARTS); k++) {
            /* per part, the decoder is told the part's instrument (as decode --events reads it
             * off the file's name) */
            gb_events_opts o = {.ensemble = ensemble, .bpm = 60, .program = parts[k].program,
                                .is_drum = parts[k].is_drum};
            gb_tokens t;
            gb_song back;
            gb_events_stats st;
            const gb_part *in = ensemble ? parts : &parts[k];
            size_t n_in = ensemble ? PARTS : 1;
            CHECK_INT(gb_events_encode(&s, in, n_in, &o, &t, NULL), GB_OK);
            for (size_t i = 0; i < t.n; i++)
                CHECK(t.v[i] < (ensemble ? GB_EV_VOCAB_ENSEMBLE : GB_EV_VOCAB));
            CHECK_INT(gb_events_decode(t.v, t.n, &o, &back, &st, NULL), GB_OK);
            CHECK_INT(back.division, 1000);
            CHECK_INT(back.n_parts, n_in);
            CHECK(st.stray_offs == 0 && st.open_notes == 0 && st.empty == 0 && st.voices == 0);
            size_t want = 0, found = 0;
            for (size_t j = 0; j < n_in && back.n_parts == n_in; j++) {
                /* parts come back in order of program, drums last: here the input's order */
                const gb_part *a = &in[j], *b = &back.parts[j];
                CHECK(a->is_drum == b->is_drum && (a->is_drum || a->program == b->program));
                want += a->n_notes;
                CHECK_INT(b->n_notes, a->n_notes);
                for (size_t i = 0; i < a->n_notes; i++) {
                    const gb_note *x = &a->notes[i];
                    int v = gb_ev_bin_velocity(gb_ev_velocity_bin(x->velocity));
                    found += has_note(b, on_grid(x->start), on_grid(x->end), x->pitch, v);
                }
            }
            CHECK_INT(found, want);
            /* and through a MIDI file: the same notes */
            gb_buf buf = {0};
            gb_song again;
            CHECK_INT(gb_song_write(&back, &buf, NULL), GB_OK);
            CHECK_INT(gb_song_parse(buf.data, buf.len, &again, NULL), GB_OK);
            size_t same = 0;
            for (size_t j = 0; j < again.n_parts && j < back.n_parts; j++)
                for (size_t i = 0; i < again.parts[j].n_notes; i++) {
                    const gb_note *x = &again.parts[j].notes[i];
                    same += has_note(&back.parts[j], x->start, x->end, x->pitch, x->velocity);
                }
            CHECK_INT(same, want);
            gb_song_free(&again);
            gb_buf_free(&buf);
            /* notes on the grid come back exactly: decode(encode(x)) == x */
            gb_tokens t2;
            gb_song back2;
            CHECK_INT(gb_events_encode(&back, back.parts, back.n_parts, &o, &t2, NULL), GB_OK);
            CHECK_INT(gb_events_decode(t2.v, t2.n, &o, &back2, NULL, NULL), GB_OK);
            CHECK_INT(back2.n_parts, back.n_parts);
            for (size_t j = 0; j < back.n_parts && back2.n_parts == back.n_parts; j++) {
                const gb_part *a = &back.parts[j], *b = &back2.parts[j];
                size_t diff = a->n_notes != b->n_notes;
                for (size_t i = 0; !diff && i < a->n_notes; i++) {
                    const gb_note *x = &a->notes[i], *y = &b->notes[i];
                    diff = x->start != y->start || x->end != y->end || x->pitch != y->pitch ||
                           x->velocity != y->velocity;
                }
                CHECK(!diff);
            }
            gb_song_free(&back2);
            gb_tokens_free(&t2);
            gb_song_free(&back);
            gb_tokens_free(&t);
        }
    }
}

static void test_limits(void) {
    gb_song s = song_ms();
    gb_tokens t;
    gb_error e;
    /* a note a century away would need 3e8 TIME_SHIFTs: refused before allocating them */
    gb_note far[] = {{0, 10, 60, 100}, {3155760000000ull, 3155760000010ull, 61, 100}};
    CHECK_INT(encode1(far, 2, &t), GB_ERR_LIMIT);
    CHECK(t.v == NULL && t.n == 0);
    /* ticks near 2^64: beyond the seconds quantised */
    gb_note farther[] = {{UINT64_MAX - 10, UINT64_MAX, 60, 100}};
    gb_part p = part(farther, 1, 0, 0);
    CHECK_INT(gb_events_encode(&s, &p, 1, NULL, &t, &e), GB_ERR_LIMIT);
    CHECK_STR_HAS(e.msg, "beyond the limit");
    gb_note bad[] = {{0, 10, 60, 0}};
    CHECK_INT(encode1(bad, 1, &t), GB_ERR_ARG);
    bad[0] = (gb_note){0, 10, 128, 100};
    CHECK_INT(encode1(bad, 1, &t), GB_ERR_ARG);
    CHECK_INT(gb_events_encode(NULL, &p, 1, NULL, &t, NULL), GB_ERR_ARG);
    CHECK_INT(gb_events_encode(&s, NULL, 1, NULL, &t, NULL), GB_ERR_ARG);
}

/* ------------------------------------------------------------------------------------------ */
/* token files */

static uint8_t *file_bytes(const char *path, size_t *len) {
    gb_buf b;
    if (gb_file_read(path, 1 << 20, &b, NULL) != GB_OK) return NULL;
    *len = b.len;
    return b.data;
}

/* A version 1.0 .npy with header text hdr, padded like NumPy, then the payload bytes. */
static uint8_t *npy(const char *hdr, const uint8_t *payload, size_t n, size_t *len) {
    size_t h = strlen(hdr), hlen = (10 + h + 1 + 63) / 64 * 64 - 10;
    *len = 10 + hlen + n;
    uint8_t *b = malloc(*len);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (uint8_t)(hlen & 0xFF), b[9] = (uint8_t)(hlen >> 8);
    memset(b + 10, ' ', hlen);
    memcpy(b + 10, hdr, h);
    b[10 + hlen - 1] = '\n';
    if (n) memcpy(b + 10 + hlen, payload, n);
    return b;
}

static void test_token_files(void) {
    uint16_t v[] = {0, 300, 516, 388};
    gb_tokens t = {v, 4}, back;
    gb_error e;
    const char *path = tmp_path("t.npy");
    CHECK_INT(gb_npy_write_tokens(path, &t, &e), GB_OK);
    CHECK_INT(gb_npy_read_tokens(path, &back, &e), GB_OK);
    CHECK(back.n == 4 && !memcmp(back.v, v, sizeof v));
    gb_tokens_free(&back);
    size_t len = 0;
    uint8_t *b = file_bytes(path, &len);
    const char hdr[] = "\x93NUMPY\x01\x00\x76\x00{'descr': '<u2', 'fortran_order': False, "
                       "'shape': (4,), }";
    CHECK_INT(len, 128 + 8);
    if (b && len == 136) {
        CHECK(!memcmp(b, hdr, sizeof hdr - 1));
        CHECK_INT(b[127], '\n');
        static const uint8_t le[] = {0, 0, 0x2C, 1, 0x04, 2, 0x84, 1};
        CHECK(!memcmp(b + 128, le, 8));
    }
    /* a roll reader refuses it, and the token reader a roll */
    gb_roll r;
    CHECK_INT(gb_npy_parse(b, len, &r, &e), GB_ERR_FORMAT);
    CHECK_STR_HAS(e.msg, "descr '<u2' is not uint8");
    free(b);
    uint8_t roll[128] = {0};
    gb_roll one = {roll, 1};
    CHECK_INT(gb_npy_write(tmp_path("roll.npy"), &one, &e), GB_OK);
    CHECK_INT(gb_npy_read_tokens(tmp_path("roll.npy"), &back, &e), GB_ERR_FORMAT);
    CHECK_STR_HAS(e.msg, "descr '|u1' is not uint16");
    CHECK_INT(gb_npy_read_tokens(tmp_path("missing.npy"), &back, &e), GB_ERR_IO);

    /* an empty stream is a valid file (decoding refuses it) */
    gb_tokens none = {NULL, 0};
    CHECK_INT(gb_npy_write_tokens(tmp_path("none.npy"), &none, &e), GB_OK);
    back.n = 7;
    CHECK_INT(gb_npy_read_tokens(tmp_path("none.npy"), &back, &e), GB_OK);
    CHECK(back.n == 0 && back.v == NULL);

    /* hostile headers and values */
    static const uint8_t two[] = {0x05, 0x02, 0x01, 0x00};      /* 517, 1 little-endian */
    static const uint8_t big[] = {0x02, 0x04, 0x00, 0x3C};      /* 516, 60 big-endian */
    static const uint8_t ok4[] = {0x3C, 0x00, 0x01, 0x00};
    struct {
        const char *what, *hdr;
        const uint8_t *payload;
        size_t n;
        gb_status want;
        const char *msg;
    } cases[] = {
        {"int64", "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", ok4, 4,
         GB_ERR_FORMAT, "descr '<i8' is not uint16"},
        {"uint8", "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", ok4, 4,
         GB_ERR_FORMAT, "is not uint16"},
        {"2-d", "{'descr': '<u2', 'fortran_order': False, 'shape': (1, 2), }", ok4, 4,
         GB_ERR_FORMAT, "shape is not (N,)"},
        {"0-d", "{'descr': '<u2', 'fortran_order': False, 'shape': (), }", ok4, 2,
         GB_ERR_FORMAT, "shape is not (N,)"},
        {"short", "{'descr': '<u2', 'fortran_order': False, 'shape': (3,), }", ok4, 4,
         GB_ERR_FORMAT, "needs 6"},
        {"odd", "{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }", ok4, 3,
         GB_ERR_FORMAT, "needs 4"},
        {"huge", "{'descr': '<u2', 'fortran_order': False, 'shape': (134217729,), }", ok4, 0,
         GB_ERR_LIMIT, "more than the limit"},
        {"out of range", "{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }", two, 4,
         GB_ERR_FORMAT, "token 0 is 517, outside the vocabulary (0..516)"},
        {"big-endian", "{'descr': '>u2', 'fortran_order': False, 'shape': (2,), }", big, 4,
         GB_OK, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        b = npy(cases[i].hdr, cases[i].payload, cases[i].n, &len);
        memset(&e, 0, sizeof e);
        gb_status st = gb_npy_parse_tokens(b, len, &back, &e);
        if (st != cases[i].want) fprintf(stderr, "  case %s: %s\n", cases[i].what, e.msg);
        CHECK_INT(st, cases[i].want);
        CHECK_STR_HAS(e.msg, cases[i].msg);
        if (st == GB_OK) CHECK(back.n == 2 && back.v[0] == 516 && back.v[1] == 60);
        else CHECK(back.v == NULL && back.n == 0);
        if (!strcmp(cases[i].what, "out of range")) CHECK_INT(e.offset, len - 4); /* its byte */
        gb_tokens_free(&back);
        free(b);
    }
    /* the second value out of range: its offset */
    static const uint8_t second[] = {0x3C, 0x00, 0xFF, 0xFF};
    b = npy("{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }", second, 4, &len);
    CHECK_INT(gb_npy_parse_tokens(b, len, &back, &e), GB_ERR_FORMAT);
    CHECK_INT(e.offset, len - 2);
    CHECK_STR_HAS(e.msg, "token 1 is 65535");
    /* every truncation fails cleanly */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        memcpy(c, b, cut);
        CHECK(gb_npy_parse_tokens(c, cut, &back, NULL) != GB_OK);
        free(c);
    }
    free(b);
}

/* NumPy reads what we write and we read what NumPy writes. */
static void test_numpy(void) {
    char cmd[1024], out[256] = "";
    const char *mine = tmp_path("mine.npy"), *theirs = tmp_path("theirs.npy");
    uint16_t v[] = {60, 305, 188, 516, 0};
    gb_tokens t = {v, 5};
    CHECK_INT(gb_npy_write_tokens(mine, &t, NULL), GB_OK);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np; a = np.load('%s'); "
             "print(a.dtype, a.shape, a.tolist()); "
             "np.save('%s', np.array([1, 2, 400, 516], dtype=np.uint16))\" 2>&1",
             mine, theirs);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    if (!f) return;
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    int rc = pclose(f);
    if (rc) fprintf(stderr, "  needs /usr/bin/python3 with numpy (scripts/deps.sh test): %s\n",
                    out);
    CHECK_INT(rc, 0);
    CHECK_STR_HAS(out, "uint16 (5,) [60, 305, 188, 516, 0]");
    gb_tokens back;
    CHECK_INT(gb_npy_read_tokens(theirs, &back, NULL), GB_OK);
    CHECK(back.n == 4 && back.v[2] == 400 && back.v[3] == 516);
    gb_tokens_free(&back);
}

int main(void) {
    if (!tmpdir_make("events")) return 1;
    RUN(test_layout_and_classes);
    RUN(test_velocity_bins);
    RUN(test_order_of_events);
    RUN(test_grid_and_gaps);
    RUN(test_decode_rules);
    RUN(test_decode_errors);
    RUN(test_ensemble);
    RUN(test_unisons);
    RUN(test_round_trip);
    RUN(test_limits);
    RUN(test_token_files);
    RUN(test_numpy);
    rm_tree(tmpdir);
    TEST_END();
}
