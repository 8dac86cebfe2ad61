/* test_write.c - the MIDI writer: VLQ encoding, exact output bytes, write-then-read round trips,
 * argument errors, atomic saving, and the General MIDI names. */
#define _POSIX_C_SOURCE 200809L
#include "midi/midi.h"
#include "test.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

static void test_vlq(void) {
    static const struct {
        uint32_t v;
        int n;
        uint8_t b[4];
    } cases[] = {
        {0x00, 1, {0x00}},
        {0x7F, 1, {0x7F}},
        {0x80, 2, {0x81, 0x00}},
        {0x2000, 2, {0xC0, 0x00}},
        {0x3FFF, 2, {0xFF, 0x7F}},
        {0x4000, 3, {0x81, 0x80, 0x00}},
        {0x1FFFFF, 3, {0xFF, 0xFF, 0x7F}},
        {0x200000, 4, {0x81, 0x80, 0x80, 0x00}},
        {0x0FFFFFFF, 4, {0xFF, 0xFF, 0xFF, 0x7F}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t b[6] = {0xAA, 0, 0, 0, 0, 0xAA};
        int n = gb_vlq_write(cases[i].v, b + 1);
        CHECK_INT(n, cases[i].n);
        CHECK(memcmp(b + 1, cases[i].b, (size_t)cases[i].n) == 0);
        /* read back from inside a larger buffer: the reader must stop at the last byte */
        size_t pos = 1;
        uint32_t v = 0xDEAD;
        CHECK_INT(gb_vlq_read(b, sizeof b, &pos, &v), GB_OK);
        CHECK_INT(v, cases[i].v);
        CHECK_INT(pos, 1 + (size_t)n);
    }
    const uint8_t five[] = {0x80, 0x80, 0x80, 0x80, 0x00};
    size_t pos = 0;
    uint32_t v;
    CHECK_INT(gb_vlq_read(five, sizeof five, &pos, &v), GB_ERR_FORMAT);
    const uint8_t cut[] = {0x00, 0x81};
    pos = 1;
    CHECK_INT(gb_vlq_read(cut, sizeof cut, &pos, &v), GB_ERR_FORMAT);
}

/* One part ("Pno", channel 2, program 5) holding one note, one tempo, division 480. */
static void test_exact_bytes(void) {
    gb_note note = {.start = 0, .end = 480, .pitch = 60, .velocity = 100};
    gb_part part = {.channel = 2, .program = 5, .name = "Pno", .notes = &note, .n_notes = 1};
    gb_tempo tempo = {.tick = 0, .usec_per_quarter = 600000};
    gb_song s = {.division = 480, .tempos = &tempo, .n_tempos = 1, .parts = &part, .n_parts = 1};
    static const uint8_t want[] = {
        'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 1, 0, 2, 0x01, 0xE0, /* format 1, 2 tracks, 480 */
        'M', 'T', 'r', 'k', 0, 0, 0, 11,
        0x00, 0xFF, 0x51, 0x03, 0x09, 0x27, 0xC0, /* tempo 600000 = 0x0927C0 */
        0x00, 0xFF, 0x2F, 0x00,
        'M', 'T', 'r', 'k', 0, 0, 0, 23,
        0x00, 0xFF, 0x03, 0x03, 'P', 'n', 'o', /* track name */
        0x00, 0xC2, 0x05,                      /* program change */
        0x00, 0x92, 0x3C, 0x64,                /* note-on 60 velocity 100 */
        0x83, 0x60, 0x82, 0x3C, 0x00,          /* delta 480, note-off */
        0x00, 0xFF, 0x2F, 0x00,
    };
    gb_buf out;
    gb_error err = {0};
    CHECK_INT(gb_song_write(&s, &out, &err), GB_OK);
    CHECK_INT(out.len, sizeof want);
    CHECK(out.len == sizeof want && memcmp(out.data, want, sizeof want) == 0);
    gb_buf_free(&out);

    /* no tempo: 120 bpm is written; SMPTE 25 fps x 40 ticks: division bytes E7 28 */
    s.n_tempos = 0;
    s.division = 0;
    s.smpte_fps = 25;
    s.smpte_tpf = 40;
    CHECK_INT(gb_song_write(&s, &out, &err), GB_OK);
    CHECK(out.len > 33 && out.data[12] == 0xE7 && out.data[13] == 0x28);
    CHECK(out.len > 33 && memcmp(out.data + 22, "\x00\xFF\x51\x03\x07\xA1\x20", 7) == 0);
    gb_song back;
    CHECK_INT(gb_song_parse(out.data, out.len, &back, &err), GB_OK);
    CHECK_INT(back.division, 0);
    CHECK_INT(back.smpte_fps, 25);
    CHECK_INT(back.smpte_tpf, 40);
    gb_song_free(&back);
    gb_buf_free(&out);
}

static void check_notes(const gb_part *p, const gb_note *want, size_t n) {
    CHECK_INT(p->n_notes, n);
    for (size_t i = 0; i < n && i < p->n_notes; i++) {
        CHECK_INT(p->notes[i].start, want[i].start);
        CHECK_INT(p->notes[i].end, want[i].end);
        CHECK_INT(p->notes[i].pitch, want[i].pitch);
        CHECK_INT(p->notes[i].velocity, want[i].velocity);
    }
}

static void test_round_trip(void) {
    /* unsorted on purpose; pitch 60 is struck again where it ends (480, 960); pitch 67 has
     * zero length */
    gb_note piano[] = {
        {960, 1440, 60, 80}, {0, 480, 60, 100}, {480, 960, 60, 90}, {0, 960, 64, 70},
        {100, 100, 67, 50},
    };
    /* pitch 40 overlaps itself; two 43s start together */
    gb_note bass[] = {
        {0, 1000, 40, 90}, {500, 1500, 40, 80}, {2000, 2100, 43, 60}, {2000, 2400, 43, 70},
    };
    gb_note drums[] = {{480, 600, 38, 100}, {0, 120, 36, 100}, {0, 120, 42, 80},
                       {480, 600, 42, 80}};
    gb_part parts[] = {
        {.channel = 0, .program = 0, .name = "Piano", .notes = piano, .n_notes = 5},
        {.channel = 3, .program = 33, .name = "Bass", .notes = bass, .n_notes = 4},
        {.channel = 5, .program = 0, .is_drum = 1, .notes = drums, .n_notes = 4},
    };
    gb_tempo tempos[] = {{.tick = 0, .usec_per_quarter = 500000},
                         {.tick = 1440, .usec_per_quarter = 400000}};
    gb_timesig ts = {.tick = 0, .numerator = 3, .denominator = 4, .clocks_per_click = 24,
                     .n32_per_quarter = 8};
    gb_keysig ks = {.tick = 0, .sharps = -3, .minor = 1};
    gb_song s = {.division = 480, .tempos = tempos, .n_tempos = 2, .timesigs = &ts,
                 .n_timesigs = 1, .keysigs = &ks, .n_keysigs = 1, .parts = parts, .n_parts = 3};

    gb_buf out;
    gb_error err = {0};
    CHECK_INT(gb_song_write(&s, &out, &err), GB_OK);
    gb_song r;
    gb_status st = gb_song_parse(out.data, out.len, &r, &err);
    CHECK_INT(st, GB_OK);
    gb_buf_free(&out);
    if (st != GB_OK) {
        fprintf(stderr, "  parse: %s\n", err.msg);
        return;
    }
    CHECK_INT(r.format, 1);
    CHECK_INT(r.division, 480);
    CHECK_INT(r.n_tracks, 4);
    CHECK_INT(r.end_tick, 2400);
    CHECK_INT(r.n_parts, 3);
    if (r.n_parts == 3) {
        const int channel[] = {0, 3, 9}, program[] = {0, 33, 0}, drum[] = {0, 0, 1};
        const char *name[] = {"Piano", "Bass", ""};
        for (int k = 0; k < 3; k++) {
            CHECK_INT(r.parts[k].track, k + 1);
            CHECK_INT(r.parts[k].channel, channel[k]);
            CHECK_INT(r.parts[k].program, program[k]);
            CHECK_INT(r.parts[k].is_drum, drum[k]);
            CHECK(strcmp(r.parts[k].name, name[k]) == 0);
        }
        const gb_note want_piano[] = {{0, 480, 60, 100}, {0, 960, 64, 70}, {100, 101, 67, 50},
                                      {480, 960, 60, 90}, {960, 1440, 60, 80}};
        const gb_note want_bass[] = {{0, 500, 40, 90}, {500, 1500, 40, 80},
                                     {2000, 2400, 43, 70}};
        const gb_note want_drums[] = {{0, 120, 36, 100}, {0, 120, 42, 80}, {480, 600, 38, 100},
                                      {480, 600, 42, 80}};
        check_notes(&r.parts[0], want_piano, 5);
        check_notes(&r.parts[1], want_bass, 3);
        check_notes(&r.parts[2], want_drums, 4);
    }
    CHECK_INT(r.n_tempos, 2);
    if (r.n_tempos == 2) {
        CHECK_INT(r.tempos[0].tick, 0);
        CHECK_INT(r.tempos[0].usec_per_quarter, 500000);
        CHECK_INT(r.tempos[0].track, 0);
        CHECK_NEAR(r.tempos[0].seconds, 0.0, 1e-9);
        CHECK_INT(r.tempos[1].tick, 1440);
        CHECK_INT(r.tempos[1].usec_per_quarter, 400000);
        CHECK_NEAR(r.tempos[1].seconds, 1.5, 1e-9); /* 3 quarters at 0.5 s */
    }
    CHECK_INT(r.n_timesigs, 1);
    if (r.n_timesigs == 1) {
        CHECK_INT(r.timesigs[0].tick, 0);
        CHECK_INT(r.timesigs[0].numerator, 3);
        CHECK_INT(r.timesigs[0].denominator, 4);
        CHECK_INT(r.timesigs[0].clocks_per_click, 24);
        CHECK_INT(r.timesigs[0].n32_per_quarter, 8);
    }
    CHECK_INT(r.n_keysigs, 1);
    if (r.n_keysigs == 1) {
        CHECK_INT(r.keysigs[0].tick, 0);
        CHECK_INT(r.keysigs[0].sharps, -3);
        CHECK_INT(r.keysigs[0].minor, 1);
    }
    CHECK_NEAR(gb_song_seconds(&r, -1, 0), 0.0, 1e-9);
    CHECK_NEAR(gb_song_seconds(&r, -1, 480), 0.5, 1e-9);
    CHECK_NEAR(gb_song_seconds(&r, -1, 1440), 1.5, 1e-9);
    CHECK_NEAR(gb_song_seconds(&r, -1, 1920), 1.9, 1e-9);  /* + 1 quarter at 0.4 s */
    CHECK_NEAR(gb_song_seconds(&r, -1, 2880), 2.7, 1e-9);  /* + 3 quarters at 0.4 s */
    gb_song_free(&r);
}

/* The largest delta a VLQ holds is written; one tick more is GB_ERR_LIMIT. */
static void test_delta_limit(void) {
    gb_note n = {.start = GB_VLQ_MAX, .end = (uint64_t)GB_VLQ_MAX + 1, .pitch = 60,
                 .velocity = 64};
    gb_part p = {.channel = 0, .notes = &n, .n_notes = 1};
    gb_song s = {.division = 96, .parts = &p, .n_parts = 1};
    gb_buf out;
    gb_error err = {0};
    CHECK_INT(gb_song_write(&s, &out, &err), GB_OK);
    gb_song r;
    if (gb_song_parse(out.data, out.len, &r, &err) == GB_OK) {
        CHECK_INT(r.n_parts, 1);
        if (r.n_parts == 1 && r.parts[0].n_notes == 1) {
            CHECK_INT(r.parts[0].notes[0].start, GB_VLQ_MAX);
            CHECK_INT(r.parts[0].notes[0].end, (uint64_t)GB_VLQ_MAX + 1);
        }
        gb_song_free(&r);
    } else {
        CHECK(0);
    }
    gb_buf_free(&out);

    n.start++;
    n.end++;
    out.len = 1;
    CHECK_INT(gb_song_write(&s, &out, &err), GB_ERR_LIMIT);
    CHECK_INT(err.status, GB_ERR_LIMIT);
    CHECK(out.data == NULL && out.len == 0 && out.cap == 0);
}

static void expect_arg(gb_song *s, const char *what) {
    gb_buf out = {.len = 7};
    gb_error err = {0};
    CHECK_INT(gb_song_write(s, &out, &err), GB_ERR_ARG);
    CHECK_INT(err.status, GB_ERR_ARG);
    CHECK_STR_HAS(err.msg, what);
    CHECK(out.data == NULL && out.len == 0 && out.cap == 0);
}

static void test_errors(void) {
    gb_note notes[] = {{0, 10, 60, 64}, {10, 20, 62, 64}};
    gb_part parts[] = {{.channel = 0, .notes = notes, .n_notes = 2},
                       {.channel = 1, .notes = notes, .n_notes = 2}};
    gb_song s = {.division = 96, .parts = parts, .n_parts = 2};
    parts[1].channel = 16;
    expect_arg(&s, "part 1: channel 16");
    parts[1].channel = 1;
    parts[1].program = 200;
    expect_arg(&s, "part 1: program 200");
    parts[1].program = 0;
    notes[1].velocity = 0;
    expect_arg(&s, "part 0 note 1: velocity 0");
    notes[1].velocity = 128;
    expect_arg(&s, "part 0 note 1: velocity 128");
    notes[1].velocity = 64;
    notes[1].pitch = 128;
    expect_arg(&s, "part 0 note 1: pitch 128");
    notes[1].pitch = 62;
    gb_tempo tempo = {.tick = 0, .usec_per_quarter = 0};
    s.tempos = &tempo;
    s.n_tempos = 1;
    expect_arg(&s, "tempo 0: 0 us");
    tempo.usec_per_quarter = 500000;
    gb_timesig ts = {.tick = 0, .numerator = 3, .denominator = 6};
    s.timesigs = &ts;
    s.n_timesigs = 1;
    expect_arg(&s, "time signature 0: 3/6");
    ts.denominator = 8;
    gb_keysig ks = {.tick = 0, .sharps = 8};
    s.keysigs = &ks;
    s.n_keysigs = 1;
    expect_arg(&s, "key signature 0: 8 sharps");
    ks.sharps = 0;
    s.division = 0;
    expect_arg(&s, "division");
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

static void test_save(void) {
    char dir[] = "/tmp/gb-test-write-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/song.mid", dir);
    gb_note n = {0, 96, 64, 100};
    gb_part p = {.channel = 0, .notes = &n, .n_notes = 1};
    gb_song s = {.division = 96, .parts = &p, .n_parts = 1};
    gb_error err = {0};
    gb_buf want, got;
    CHECK_INT(gb_song_write(&s, &want, &err), GB_OK);
    /* the second save replaces the first file */
    CHECK_INT(gb_song_save(&s, path, &err), GB_OK);
    n.end = 192;
    CHECK_INT(gb_song_save(&s, path, &err), GB_OK);
    n.end = 96;
    CHECK_INT(gb_song_save(&s, path, &err), GB_OK);
    CHECK_INT(gb_file_read(path, 1 << 20, &got, &err), GB_OK);
    CHECK(got.len == want.len && memcmp(got.data, want.data, want.len) == 0);
    CHECK_INT(count_entries(dir), 1);
    gb_buf_free(&want);
    gb_buf_free(&got);

    char bad[96];
    snprintf(bad, sizeof bad, "%s/missing/song.mid", dir);
    CHECK_INT(gb_song_save(&s, bad, &err), GB_ERR_IO);
    p.channel = 99;
    CHECK_INT(gb_song_save(&s, path, &err), GB_ERR_ARG);
    CHECK_INT(count_entries(dir), 1);

    unlink(path);
    rmdir(dir);
}

static void test_gm_names(void) {
    CHECK(strcmp(gb_gm_name(0, 0), "Acoustic Grand Piano") == 0);
    CHECK(strcmp(gb_gm_name(40, 0), "Violin") == 0);
    CHECK(strcmp(gb_gm_name(73, 0), "Flute") == 0);
    CHECK(strcmp(gb_gm_name(127, 0), "Gunshot") == 0);
    CHECK(strcmp(gb_gm_name(0, 1), "Drums") == 0);
    CHECK(strcmp(gb_gm_name(-1, 0), "Unknown") == 0);
    CHECK(strcmp(gb_gm_name(128, 0), "Unknown") == 0);
}

int main(void) {
    RUN(test_vlq);
    RUN(test_exact_bytes);
    RUN(test_round_trip);
    RUN(test_delta_limit);
    RUN(test_errors);
    RUN(test_save);
    RUN(test_gm_names);
    TEST_END();
}
