/* test_render.c - songs built by hand rendered with the GM soundfont: silence where no note
 * sounds, sound where one does, the release tail and its end, programs, drum kits, the channel
 * of a part, overlapping notes, format 2 tempo maps, errors, and the WAV file byte by byte. */
#include "tmpdir.h" /* first: it asks for _DEFAULT_SOURCE (mkdtemp, setenv, strdup) */

#include <math.h>
#include <stdlib.h>

#include "audio/render.h"
#include "test.h"

#define RATE 22050
#define TQ 480 /* ticks per quarter; at the default 120 bpm a second is 960 ticks */
#define AUDIBLE 100 /* an RMS of -50 dBFS: sound (silence renders as exact zeros) */

static gb_part part(int program, int is_drum, gb_note *notes, size_t n) {
    gb_part p;
    memset(&p, 0, sizeof p);
    p.program = program;
    p.is_drum = is_drum;
    p.channel = is_drum ? 9 : 0;
    p.notes = notes;
    p.n_notes = n;
    return p;
}

static gb_song song(gb_part *parts, size_t n) {
    gb_song s;
    memset(&s, 0, sizeof s);
    s.format = 1;
    s.division = TQ;
    s.n_tracks = 1;
    s.parts = parts;
    s.n_parts = n;
    return s;
}

static gb_render_opts opts(void) {
    gb_render_opts o;
    gb_render_opts_default(&o);
    o.rate = RATE;
    return o;
}

/* Renders s; on failure records it and returns NULL. */
static int16_t *render(const gb_song *s, const gb_render_opts *o, size_t *n) {
    int16_t *pcm = NULL;
    gb_error e = {0};
    gb_status st = gb_render_song(s, o, &pcm, n, &e);
    if (st != GB_OK) fprintf(stderr, "  render: %s\n", e.msg);
    CHECK_INT(st, GB_OK);
    return pcm;
}

/* RMS and peak of both channels over seconds [t0, t1), clipped to the n frames there are. */
static double rms(const int16_t *pcm, size_t n, double t0, double t1) {
    size_t a = (size_t)(t0 * RATE), b = (size_t)(t1 * RATE);
    if (b > n) b = n;
    double ss = 0;
    for (size_t i = 2 * a; i < 2 * b; i++) ss += (double)pcm[i] * pcm[i];
    return b > a ? sqrt(ss / (2.0 * (b - a))) : 0;
}

static int peak(const int16_t *pcm, size_t n, double t0, double t1) {
    size_t a = (size_t)(t0 * RATE), b = (size_t)(t1 * RATE);
    int p = 0;
    for (size_t i = 2 * a; i < 2 * b && i < 2 * n; i++) p = abs(pcm[i]) > p ? abs(pcm[i]) : p;
    return p;
}

static int same(const int16_t *a, size_t na, const int16_t *b, size_t nb) {
    return a && b && na == nb && memcmp(a, b, 4 * na) == 0;
}

static void test_soundfont_present(void) {
    const char *sf = gb_render_find_soundfont();
    if (!sf) printf("skipped: no GM soundfont (install fluid-soundfont-gm)\n");
    CHECK(sf != NULL);
}

/* Piano C4 from 1.0 s to 1.5 s: silence, the note, the release tail, and its end. */
static void test_one_note(void) {
    gb_note n = {960, 1440, 60, 100};
    gb_part p = part(0, 0, &n, 1);
    gb_song s = song(&p, 1);
    gb_render_opts o = opts();
    size_t frames;
    int16_t *pcm = render(&s, &o, &frames);
    if (!pcm) return;
    double loud = rms(pcm, frames, 1.05, 1.45);
    CHECK_INT(peak(pcm, frames, 0, 0.9), 0);
    CHECK(loud > AUDIBLE);
    CHECK(frames > (size_t)(1.55 * RATE));             /* the release is there */
    CHECK(frames < (size_t)((1.5 + o.max_tail) * RATE)); /* and ended by silence, not the cap */
    CHECK(rms(pcm, frames, (double)frames / RATE - 0.1, 1e9) < loud / 10);
    CHECK(peak(pcm, frames, (double)frames / RATE - 0.01, 1e9) < 33);
    free(pcm);

    o.max_tail = 0.05; /* the cap cuts the tail short */
    pcm = render(&s, &o, &frames);
    CHECK_NEAR(frames, 1.55 * RATE, 2);
    free(pcm);
}

/* Notes only in the second part, on another program: it sounds, with that program. */
static void test_parts_and_programs(void) {
    gb_note first = {0, 240, 72, 90}, second = {960, 1440, 60, 100};
    gb_part p[2] = {part(0, 0, &first, 1), part(40, 0, &second, 1)};
    gb_song s = song(p, 2);
    gb_render_opts o = opts();
    size_t n1, n2;
    int16_t *violin = render(&s, &o, &n1);
    p[1].program = 0;
    int16_t *piano = render(&s, &o, &n2);
    if (violin && piano) {
        CHECK(rms(violin, n1, 1.05, 1.45) > AUDIBLE);
        CHECK(rms(violin, n1, 0.02, 0.2) > AUDIBLE); /* the first part too */
        CHECK(!same(violin, n1, piano, n2));
        CHECK(rms(violin, n1, 1.05, 1.45) != rms(piano, n2, 1.05, 1.45));
    }
    free(violin);
    free(piano);
}

/* A snare on a drum part sounds, and not as the piano's D2; a part's synth channel is its
 * index (not its MIDI channel), so part 9 is no drum kit unless it is a drum part. */
static void test_drums_and_channels(void) {
    gb_note snare = {480, 540, 38, 110}, c4 = {480, 960, 60, 100};
    gb_render_opts o = opts();
    size_t n_drum, n_piano, n_drum9, n_piano9;
    gb_part one = part(0, 1, &snare, 1);
    gb_song s = song(&one, 1);
    int16_t *drum = render(&s, &o, &n_drum);
    one.is_drum = 0;
    int16_t *piano_d2 = render(&s, &o, &n_piano);
    if (drum && piano_d2) {
        CHECK(rms(drum, n_drum, 0.5, 0.6) > AUDIBLE);
        CHECK(!same(drum, n_drum, piano_d2, n_piano));
    }
    free(piano_d2);

    gb_part ten[10];
    for (int i = 0; i < 10; i++) ten[i] = part(0, 0, NULL, 0);
    ten[9] = part(0, 1, &snare, 1); /* drums on synth channel 9 = drums on channel 0 */
    s = song(ten, 10);
    int16_t *drum9 = render(&s, &o, &n_drum9);
    CHECK(same(drum, n_drum, drum9, n_drum9));
    free(drum);
    free(drum9);

    one = part(0, 0, &c4, 1);
    s = song(&one, 1);
    int16_t *piano = render(&s, &o, &n_piano);
    ten[9] = part(0, 0, &c4, 1); /* a melodic part on synth channel 9 plays its piano */
    s = song(ten, 10);
    int16_t *piano9 = render(&s, &o, &n_piano9);
    CHECK(piano && rms(piano, n_piano, 0.55, 0.95) > AUDIBLE);
    CHECK(same(piano, n_piano, piano9, n_piano9));
    free(piano);
    free(piano9);
}

/* Two notes of one pitch overlap: the key is held until the later end, not released by the
 * earlier note's off. An organ holds its level while the key is down. */
static void test_overlapping_notes(void) {
    gb_note held[2] = {{0, 1440, 60, 100}, {480, 672, 60, 100}}; /* 0-1.5 s and 0.5-0.7 s */
    gb_note alone = {0, 672, 60, 100};                           /* ends at 0.7 s */
    gb_part p = part(16, 0, held, 2);
    gb_song s = song(&p, 1);
    gb_render_opts o = opts();
    size_t n1, n2;
    int16_t *a = render(&s, &o, &n1);
    p = part(16, 0, &alone, 1);
    int16_t *b = render(&s, &o, &n2);
    if (a && b) {
        CHECK(rms(a, n1, 1.2, 1.45) > 0.5 * rms(a, n1, 0.2, 0.45));
        CHECK(rms(b, n2, 1.2, 1.45) < 0.01 * rms(b, n2, 0.2, 0.45));
    }
    free(a);
    free(b);
}

/* A note of no length (cut at a track's end) still strikes, and its key does not stay down
 * even when no later note of its pitch comes: the audio ends soon after. */
static void test_zero_length_note(void) {
    gb_note notes[2] = {{480, 672, 60, 100}, {960, 960, 60, 100}}; /* 0.5-0.7 s; 1.0 s */
    gb_part p = part(16, 0, notes, 2);
    gb_song s = song(&p, 1);
    gb_render_opts o = opts();
    size_t frames;
    int16_t *pcm = render(&s, &o, &frames);
    if (pcm) {
        CHECK(rms(pcm, frames, 0.5, 0.7) > AUDIBLE);
        CHECK(peak(pcm, frames, 1.0, 1.1) > AUDIBLE);
        CHECK(frames < (size_t)(2.0 * RATE));
    }
    free(pcm);
}

/* Format 2: each track has its own tempo; a part follows its track's (60 bpm here). */
static void test_format2_tempo(void) {
    gb_tempo t[2] = {{0, 500000, 0, 0}, {0, 1000000, 1, 0}};
    gb_note n = {480, 720, 60, 100}; /* 1.0-1.5 s at 60 bpm; 0.5-0.75 s at 120 */
    gb_part p = part(0, 0, &n, 1);
    p.track = 1;
    gb_song s = song(&p, 1);
    s.format = 2;
    s.n_tracks = 2;
    s.tempos = t;
    s.n_tempos = 2;
    gb_render_opts o = opts();
    size_t frames;
    int16_t *pcm = render(&s, &o, &frames);
    if (pcm) {
        CHECK_INT(peak(pcm, frames, 0, 0.9), 0);
        CHECK(rms(pcm, frames, 1.05, 1.45) > AUDIBLE);
    }
    free(pcm);
}

static void test_empty_song(void) {
    gb_render_opts o = opts();
    size_t frames = 99;
    gb_song s = song(NULL, 0);
    int16_t *pcm = render(&s, &o, &frames);
    CHECK(pcm != NULL);
    CHECK(frames > 0 && frames <= RATE / 10);
    CHECK_INT(pcm ? peak(pcm, frames, 0, 1) : -1, 0);
    free(pcm);

    gb_part silent = part(0, 0, NULL, 0);
    s = song(&silent, 1);
    o.max_tail = 0;
    pcm = render(&s, &o, &frames);
    CHECK(pcm != NULL);
    CHECK_INT(frames, 0);
    free(pcm);
}

static void test_errors(void) {
    gb_note n = {0, 480, 60, 100};
    gb_part p = part(0, 0, &n, 1);
    gb_song s = song(&p, 1);
    gb_render_opts o = opts();
    int16_t *pcm = (int16_t *)&n;
    size_t frames = 99;
    gb_error e = {0};

    o.soundfont = tmp_path("missing.sf2");
    CHECK_INT(gb_render_song(&s, &o, &pcm, &frames, &e), GB_ERR_IO);
    CHECK_STR_HAS(e.msg, tmp_path("missing.sf2"));
    CHECK(pcm == NULL && frames == 0);
    CHECK_INT(gb_render_wav(&s, &o, tmp_path("x.wav"), &e), GB_ERR_IO);
    CHECK(access(tmp_path("x.wav"), F_OK) != 0);

    FILE *f = fopen(tmp_path("text.sf2"), "w");
    fputs("not a soundfont\n", f);
    fclose(f);
    o.soundfont = tmp_path("text.sf2");
    CHECK_INT(gb_render_wav(&s, &o, tmp_path("x.wav"), &e), GB_ERR_FORMAT);
    CHECK_STR_HAS(e.msg, tmp_path("text.sf2"));
    CHECK_STR_HAS(e.msg, "not a SoundFont 2 file");
    CHECK(access(tmp_path("x.wav"), F_OK) != 0);
    CHECK_INT(gb_render_song(&s, &o, &pcm, &frames, NULL), GB_ERR_FORMAT); /* err may be NULL */

    /* A SoundFont header on a cut file passes the check of the header and fails in
     * fluidsynth's loader, whose message is kept (libinstpatch's loader, tried next, prints a
     * GLib assertion on stderr). */
    f = fopen(tmp_path("cut.sf2"), "wb");
    fwrite("RIFF\x10\0\0\0sfbkLIST\x04\0\0\0INFO", 1, 24, f);
    fclose(f);
    o.soundfont = tmp_path("cut.sf2");
    CHECK_INT(gb_render_wav(&s, &o, tmp_path("x.wav"), &e), GB_ERR_FORMAT);
    CHECK_STR_HAS(e.msg, tmp_path("cut.sf2"));
    CHECK(strlen(e.msg) > strlen(tmp_path("cut.sf2")) + 12); /* and fluidsynth's reason */
    CHECK(access(tmp_path("x.wav"), F_OK) != 0);

    o = opts();
    o.rate = 7999;
    CHECK_INT(gb_render_song(&s, &o, &pcm, &frames, &e), GB_ERR_ARG);
    o = opts();
    o.gain = -0.1;
    CHECK_INT(gb_render_song(&s, &o, &pcm, &frames, &e), GB_ERR_ARG);
    o = opts();
    o.max_tail = NAN;
    CHECK_INT(gb_render_song(&s, &o, &pcm, &frames, &e), GB_ERR_ARG);

    o = opts();
    n.velocity = 0;
    CHECK_INT(gb_render_song(&s, &o, &pcm, &frames, &e), GB_ERR_ARG);
    n.velocity = 100;
    p.program = 128;
    CHECK_INT(gb_render_song(&s, &o, &pcm, &frames, &e), GB_ERR_ARG);
    p.program = 0;

    /* 14 hours at 120 bpm: longer than a WAV file holds, refused before anything is made */
    n.end = (uint64_t)14 * 3600 * 960;
    CHECK_INT(gb_render_song(&s, &o, &pcm, &frames, &e), GB_ERR_LIMIT);
    CHECK_STR_HAS(e.msg, "longer than a WAV file holds");
    n.end = 480;

    gb_part many[257];
    for (int i = 0; i < 257; i++) many[i] = part(0, 0, NULL, 0);
    s = song(many, 257);
    CHECK_INT(gb_render_song(&s, &o, &pcm, &frames, &e), GB_ERR_LIMIT);
    CHECK_STR_HAS(e.msg, "257 parts");
    s.n_parts = 256; /* the most channels fluidsynth has */
    CHECK_INT(gb_render_song(&s, &o, &pcm, &frames, &e), GB_OK);
    free(pcm);
}

static void test_find_soundfont(void) {
    const char *old = getenv("GROOVYBEE_SOUNDFONT");
    char *saved = old ? strdup(old) : NULL;
    setenv("GROOVYBEE_SOUNDFONT", "/somewhere/else.sf2", 1);
    CHECK(strcmp(gb_render_find_soundfont(), "/somewhere/else.sf2") == 0);
    setenv("GROOVYBEE_SOUNDFONT", "", 1); /* empty: as if unset */
    const char *found = gb_render_find_soundfont();
    CHECK(found && strstr(found, "/usr/share/") == found && access(found, R_OK) == 0);
    if (saved) setenv("GROOVYBEE_SOUNDFONT", saved, 1);
    else unsetenv("GROOVYBEE_SOUNDFONT");
    free(saved);
}

static uint32_t le(const uint8_t *p, int bytes) {
    uint32_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*len);
    if (b && fread(b, 1, *len, f) != *len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

/* The header read back field by field, the samples as gb_render_song gives them, and the same
 * bytes from a second render. */
static void test_wav_file(void) {
    gb_note notes[] = {{0, 480, 60, 100}, {240, 720, 64, 90}, {480, 960, 67, 80}};
    gb_part p = part(0, 0, notes, 3);
    gb_song s = song(&p, 1);
    gb_render_opts o = opts();
    gb_error e = {0};
    CHECK_INT(gb_render_wav(&s, &o, tmp_path("a.wav"), &e), GB_OK);
    CHECK_INT(gb_render_wav(&s, &o, tmp_path("b.wav"), &e), GB_OK);
    size_t len = 0, len_b = 0, frames = 0;
    uint8_t *w = slurp(tmp_path("a.wav"), &len), *wb = slurp(tmp_path("b.wav"), &len_b);
    int16_t *pcm = render(&s, &o, &frames);
    CHECK(w && wb && pcm && len > 44);
    if (!w || !wb || !pcm || len <= 44) goto done;
    CHECK(memcmp(w, "RIFF", 4) == 0);
    CHECK_INT(le(w + 4, 4), len - 8);
    CHECK(memcmp(w + 8, "WAVEfmt ", 8) == 0);
    CHECK_INT(le(w + 16, 4), 16);
    CHECK_INT(le(w + 20, 2), 1); /* PCM */
    CHECK_INT(le(w + 22, 2), 2); /* stereo */
    CHECK_INT(le(w + 24, 4), RATE);
    CHECK_INT(le(w + 28, 4), RATE * 4);
    CHECK_INT(le(w + 32, 2), 4);
    CHECK_INT(le(w + 34, 2), 16);
    CHECK(memcmp(w + 36, "data", 4) == 0);
    CHECK_INT(le(w + 40, 4), len - 44);
    CHECK_INT(len - 44, 4 * frames);
    int equal = len - 44 == 4 * frames;
    for (size_t i = 0; equal && i < 2 * frames; i++)
        equal = (int16_t)le(w + 44 + 2 * i, 2) == pcm[i];
    CHECK(equal);
    CHECK(rms(pcm, frames, 0.1, 0.9) > AUDIBLE);
    CHECK(len == len_b && memcmp(w, wb, len) == 0);
done:
    free(w);
    free(wb);
    free(pcm);
}

int main(void) {
    RUN(test_soundfont_present);
    if (tst_failed) TEST_END();
    if (!tmpdir_make("render_test")) return 1;
    RUN(test_one_note);
    RUN(test_parts_and_programs);
    RUN(test_drums_and_channels);
    RUN(test_overlapping_notes);
    RUN(test_zero_length_note);
    RUN(test_format2_tempo);
    RUN(test_empty_song);
    RUN(test_errors);
    RUN(test_find_soundfont);
    RUN(test_wav_file);
    rm_tree(tmpdir);
    TEST_END();
}
