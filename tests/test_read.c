/* test_read.c - the MIDI reader: VLQs, running status, meta events, formats 0/1/2, SMPTE,
 * note pairing, programs, the tempo map, and every kind of malformed input. Files are written
 * byte by byte here, in hex, so each test shows exactly what the reader is given. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <stdlib.h>

#include "midi/midi.h"
#include "test.h"

/* ---- building files from hex ---- */

typedef struct {
    uint8_t b[1 << 16];
    size_t n;
} bytes;

static void hex(bytes *x, const char *s) {
    while (*s) {
        if (*s == ' ' || *s == '|') {
            s++;
            continue;
        }
        unsigned v;
        sscanf(s, "%2x", &v);
        x->b[x->n++] = (uint8_t)v;
        s += 2;
    }
}
static void be(bytes *x, uint32_t v, int n) {
    while (n--) x->b[x->n++] = (uint8_t)(v >> (8 * n));
}
static void header(bytes *x, int format, int ntracks, int division) {
    hex(x, "4D546864 00000006");
    be(x, (uint32_t)format, 2);
    be(x, (uint32_t)ntracks, 2);
    be(x, (uint32_t)division, 2);
}
static void track(bytes *x, const char *events) {
    bytes t = {.n = 0};
    hex(&t, events);
    hex(x, "4D54726B");
    be(x, (uint32_t)t.n, 4);
    memcpy(x->b + x->n, t.b, t.n);
    x->n += t.n;
}

/* A format 0 file of one track. */
static bytes *file0(const char *events) {
    static bytes x;
    x.n = 0;
    header(&x, 0, 1, 96);
    track(&x, events);
    return &x;
}

static gb_status song(const bytes *x, gb_song *s, gb_error *e) {
    memset(e, 0, sizeof *e);
    return gb_song_parse(x->b, x->n, s, e);
}

#define CHECK_NOTE(n, s, e, p, v)                                                            \
    do {                                                                                     \
        CHECK_INT((n).start, s);                                                             \
        CHECK_INT((n).end, e);                                                               \
        CHECK_INT((n).pitch, p);                                                             \
        CHECK_INT((n).velocity, v);                                                          \
    } while (0)

/* ---- tests ---- */

static void test_vlq_read(void) {
    static const struct {
        const char *hex;
        uint32_t value;
        size_t len;
    } cases[] = {{"00", 0, 1},          {"40", 0x40, 1},          {"7F", 0x7F, 1},
                 {"8100", 0x80, 2},     {"C000", 0x2000, 2},      {"FF7F", 0x3FFF, 2},
                 {"818000", 0x4000, 3}, {"FFFF7F", 0x1FFFFF, 3},  {"81808000", 0x200000, 4},
                 {"FFFFFF7F", GB_VLQ_MAX, 4}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bytes x = {.n = 0};
        hex(&x, cases[i].hex);
        size_t pos = 0;
        uint32_t v = 12345;
        CHECK_INT(gb_vlq_read(x.b, x.n, &pos, &v), GB_OK);
        CHECK_INT(v, cases[i].value);
        CHECK_INT(pos, cases[i].len);
    }
    bytes five = {.n = 0}, cut = {.n = 0};
    hex(&five, "8080808000");
    hex(&cut, "8180");
    size_t pos = 0;
    uint32_t v;
    CHECK_INT(gb_vlq_read(five.b, five.n, &pos, &v), GB_ERR_FORMAT);
    pos = 0;
    CHECK_INT(gb_vlq_read(cut.b, cut.n, &pos, &v), GB_ERR_FORMAT);
}

static void test_running_status(void) {
    /* Plain running status, then running status carried across a meta event, a sysex (F0)
     * and an escape (F7): the note-offs are note-ons of velocity 0 written without status. */
    gb_song s;
    gb_error e;
    CHECK_INT(song(file0("00 903C64 | 00 3E50 | 30 3C00 | 00 FF0103616263 | 10 3E00"
                         "| 00 4060 | 00 F003 7E7F F7 | 10 4000"
                         "| 00 4170 | 00 F702 F8FA | 10 4100 | 00 FF2F00"),
                   &s, &e),
              GB_OK);
    CHECK_INT(s.n_parts, 1);
    if (s.n_parts == 1) {
        CHECK_INT(s.parts[0].n_notes, 4);
        CHECK_NOTE(s.parts[0].notes[0], 0, 0x30, 60, 100);
        CHECK_NOTE(s.parts[0].notes[1], 0, 0x40, 62, 80);
        CHECK_NOTE(s.parts[0].notes[2], 0x40, 0x50, 64, 96);
        CHECK_NOTE(s.parts[0].notes[3], 0x50, 0x60, 65, 112);
    }
    gb_song_free(&s);
    /* Running status applies to every channel message, 1-byte ones too. */
    gb_midi m;
    bytes *x = file0("00 C105 | 00 07 | 00 D140 | 00 41 | 00 E10040 | 00 7F7F | 00 FF2F00");
    CHECK_INT(gb_midi_parse(x->b, x->n, &m, &e), GB_OK);
    CHECK_INT(m.n_tracks, 1);
    if (m.n_tracks == 1 && m.tracks[0].n_events == 7) {
        const gb_midi_event *v = m.tracks[0].events;
        CHECK_INT(v[1].status, 0xC1);
        CHECK_INT(v[1].d1, 7);
        CHECK_INT(v[3].status, 0xD1);
        CHECK_INT(v[3].d1, 0x41);
        CHECK_INT(v[5].status, 0xE1);
        CHECK_INT(v[5].d1, 0x7F);
        CHECK_INT(v[5].d2, 0x7F);
    } else {
        CHECK(!"7 events expected");
    }
    gb_midi_free(&m);
}

static void test_meta_events(void) {
    gb_midi m;
    gb_song s;
    gb_error e;
    /* text, track name, instrument, tempo 0x07A120 = 500000, 6/8, 2 flats minor, EOT. */
    bytes *x = file0("00 FF01 05 68656C6C6F | 00 FF03 04 4C656164 | 00 FF04 05 4F626F6521"
                     "| 00 FF51 03 07A120 | 00 FF58 04 06031808 | 00 FF59 02 FE01"
                     "| 00 FF7F 03 000041 | 00 903C40 | 60 803C40 | 00 FF2F00");
    CHECK_INT(gb_midi_parse(x->b, x->n, &m, &e), GB_OK);
    static const uint8_t types[] = {0x01, 0x03, 0x04, 0x51, 0x58, 0x59, 0x7F};
    static const uint32_t lens[] = {5, 4, 5, 3, 4, 2, 3};
    CHECK_INT(m.tracks[0].n_events, 10);
    for (int i = 0; i < 7 && m.tracks[0].n_events == 10; i++) {
        CHECK_INT(m.tracks[0].events[i].status, 0xFF);
        CHECK_INT(m.tracks[0].events[i].meta, types[i]);
        CHECK_INT(m.tracks[0].events[i].len, lens[i]);
    }
    if (m.tracks[0].n_events == 10) {
        CHECK(!memcmp(m.tracks[0].events[0].data, "hello", 5));
        CHECK_INT(m.tracks[0].events[9].meta, GB_META_END_OF_TRACK);
        CHECK_INT(m.tracks[0].events[0].offset, 14 + 8 + 1); /* after header, MTrk, delta */
    }
    gb_midi_free(&m);
    CHECK_INT(gb_song_parse(x->b, x->n, &s, &e), GB_OK);
    CHECK_INT(s.n_tempos, 1);
    CHECK_INT(s.tempos[0].usec_per_quarter, 500000);
    CHECK_INT(s.n_timesigs, 1);
    CHECK_INT(s.timesigs[0].numerator, 6);
    CHECK_INT(s.timesigs[0].denominator, 8);
    CHECK_INT(s.timesigs[0].clocks_per_click, 24);
    CHECK_INT(s.n_keysigs, 1);
    CHECK_INT(s.keysigs[0].sharps, -2);
    CHECK_INT(s.keysigs[0].minor, 1);
    CHECK_INT(s.n_parts, 1);
    if (s.n_parts) CHECK(!strcmp(s.parts[0].name, "Lead")); /* the track name wins */
    gb_song_free(&s);
    /* Without a track name, the instrument name names the part. */
    CHECK_INT(song(file0("00 FF04 05 4F626F6521 | 00 903C40 | 60 803C40"), &s, &e), GB_OK);
    if (s.n_parts) CHECK(!strcmp(s.parts[0].name, "Oboe!"));
    gb_song_free(&s);
}

static void test_formats(void) {
    gb_song s;
    gb_error e;
    /* Format 0: one track, two channels -> two parts. */
    CHECK_INT(song(file0("00 903C40 | 00 914050 | 60 803C00 | 00 814000"), &s, &e), GB_OK);
    CHECK_INT(s.format, 0);
    CHECK_INT(s.n_parts, 2);
    if (s.n_parts == 2) {
        CHECK_INT(s.parts[0].channel, 0);
        CHECK_INT(s.parts[1].channel, 1);
        CHECK_NOTE(s.parts[1].notes[0], 0, 0x60, 64, 0x50);
    }
    gb_song_free(&s);

    /* Format 1: the tempo in the conductor track times the notes of the other tracks. */
    bytes x = {.n = 0};
    header(&x, 1, 3, 480);
    track(&x, "00 FF5103 0F4240 | 00 FF2F00"); /* 1,000,000 us per quarter: 60 bpm */
    track(&x, "00 903C40 | 8360 803C00 | 00 FF2F00");
    track(&x, "8360 924050 | 8360 824000 | 00 FF2F00");
    CHECK_INT(song(&x, &s, &e), GB_OK);
    CHECK_INT(s.format, 1);
    CHECK_INT(s.n_tracks, 3);
    CHECK_INT(s.n_parts, 2);
    if (s.n_parts == 2) {
        CHECK_INT(s.parts[0].track, 1);
        CHECK_INT(s.parts[1].track, 2);
        CHECK_NOTE(s.parts[1].notes[0], 480, 960, 64, 0x50);
        CHECK_NEAR(gb_song_seconds(&s, 2, 960), 2.0, 1e-12);
    }
    CHECK_INT(s.end_tick, 960);
    gb_song_free(&s);

    /* Format 2: independent tracks, each timed by its own tempo events. */
    x.n = 0;
    header(&x, 2, 2, 480);
    track(&x, "00 FF5103 0F4240 | 00 903C40 | 8360 803C00 | 00 FF2F00"); /* 60 bpm */
    track(&x, "00 FF5103 03D090 | 00 903C40 | 8360 803C00 | 00 FF2F00"); /* 240 bpm */
    CHECK_INT(song(&x, &s, &e), GB_OK);
    CHECK_INT(s.format, 2);
    CHECK_INT(s.n_parts, 2);
    CHECK_NEAR(gb_song_seconds(&s, 0, 480), 1.0, 1e-12);
    CHECK_NEAR(gb_song_seconds(&s, 1, 480), 0.25, 1e-12);
    CHECK_INT(gb_song_tick_at(&s, 1, 0.25), 480);
    gb_song_free(&s);
}

static void test_smpte(void) {
    gb_song s;
    gb_error e;
    bytes x = {.n = 0};
    hex(&x, "4D546864 00000006 0000 0001 E728"); /* -25 fps, 40 ticks per frame */
    track(&x, "00 FF5103 0F4240 | 00 903C40 | 8374 803C00 | 00 FF2F00"); /* note to 500 */
    CHECK_INT(song(&x, &s, &e), GB_OK);
    CHECK_INT(s.division, 0);
    CHECK_INT(s.smpte_fps, 25);
    CHECK_INT(s.smpte_tpf, 40);
    /* 1000 ticks per second whatever the tempo events say. */
    CHECK_NEAR(gb_song_seconds(&s, -1, 500), 0.5, 1e-12);
    CHECK_INT(gb_song_tick_at(&s, -1, 0.5), 500);
    CHECK_INT(gb_song_ticks_per_quarter(&s), 500);
    gb_song_free(&s);
    /* 29 means 29.97 drop-frame: 30000/1001 frames per second. */
    x.n = 0;
    hex(&x, "4D546864 00000006 0000 0001 E364");
    track(&x, "00 903C40 | 8360 803C00");
    CHECK_INT(song(&x, &s, &e), GB_OK);
    CHECK_NEAR(gb_song_seconds(&s, -1, 2997), 2997.0 / (100 * 30000.0 / 1001), 1e-12);
    gb_song_free(&s);
    /* Other frame rates do not exist. */
    x.n = 0;
    hex(&x, "4D546864 00000006 0000 0001 E528");
    track(&x, "00 FF2F00");
    CHECK_INT(song(&x, &s, &e), GB_ERR_FORMAT);
    CHECK_STR_HAS(e.msg, "27 frames per second");
}

static void test_note_pairing(void) {
    gb_song s;
    gb_error e;
    /* A note-off (80) and a note-on of velocity 0 both end notes. */
    CHECK_INT(song(file0("00 903C40 | 10 803C7F | 00 903E40 | 10 903E00"), &s, &e), GB_OK);
    CHECK_INT(s.parts[0].n_notes, 2);
    CHECK_NOTE(s.parts[0].notes[0], 0, 16, 60, 64);
    CHECK_NOTE(s.parts[0].notes[1], 16, 32, 62, 64);
    gb_song_free(&s);
    /* Re-strike, off before on at tick 16, and on before off at tick 32: both re-strike. */
    CHECK_INT(song(file0("00 903C40 | 10 803C00 | 00 903C50 | 10 903C60 | 00 803C00"
                         "| 10 803C00"),
                   &s, &e),
              GB_OK);
    CHECK_INT(s.parts[0].n_notes, 3);
    CHECK_NOTE(s.parts[0].notes[0], 0, 16, 60, 0x40);
    CHECK_NOTE(s.parts[0].notes[1], 16, 32, 60, 0x50);
    CHECK_NOTE(s.parts[0].notes[2], 32, 48, 60, 0x60);
    gb_song_free(&s);
    /* Two note-ons then one note-off: the off closes both. */
    CHECK_INT(song(file0("00 903C40 | 10 903C50 | 10 803C00"), &s, &e), GB_OK);
    CHECK_INT(s.parts[0].n_notes, 2);
    CHECK_NOTE(s.parts[0].notes[0], 0, 32, 60, 0x40);
    CHECK_NOTE(s.parts[0].notes[1], 16, 32, 60, 0x50);
    gb_song_free(&s);
    /* An off at the tick of its on leaves that note open; it ends at the next off, and a
     * note never closed ends with the track (at its End of Track). */
    CHECK_INT(song(file0("00 903C40 | 00 803C00 | 20 803C00 | 00 904040 | 40 FF2F00"), &s, &e),
              GB_OK);
    CHECK_INT(s.parts[0].n_notes, 2);
    CHECK_NOTE(s.parts[0].notes[0], 0, 32, 60, 0x40);
    CHECK_NOTE(s.parts[0].notes[1], 32, 96, 64, 0x40);
    gb_song_free(&s);
    /* An off of another channel or pitch closes nothing. */
    CHECK_INT(song(file0("00 903C40 | 10 813C00 | 00 803D00 | 10 803C00"), &s, &e), GB_OK);
    CHECK_INT(s.parts[0].n_notes, 1);
    CHECK_NOTE(s.parts[0].notes[0], 0, 32, 60, 0x40);
    gb_song_free(&s);
}

static void test_programs_and_drums(void) {
    gb_song s;
    gb_error e;
    /* A program change splits a channel's notes into two parts; channel 10 is drums. */
    CHECK_INT(song(file0("00 903C40 | 10 803C00 | 00 C028 | 00 903E40 | 10 803E00"
                         "| 00 C91A | 00 992440 | 10 892400"),
                   &s, &e),
              GB_OK);
    CHECK_INT(s.n_parts, 3);
    if (s.n_parts == 3) {
        CHECK_INT(s.parts[0].program, 0);
        CHECK_INT(s.parts[1].program, 40);
        CHECK_INT(s.parts[1].notes[0].pitch, 62);
        CHECK_INT(s.parts[2].channel, 9);
        CHECK_INT(s.parts[2].is_drum, 1);
        CHECK_INT(s.parts[0].is_drum, 0);
    }
    gb_song_free(&s);
    /* A program change during a note: the note keeps the program of its note-on. */
    CHECK_INT(song(file0("00 903C40 | 10 C028 | 10 803C00"), &s, &e), GB_OK);
    CHECK_INT(s.n_parts, 1);
    if (s.n_parts) CHECK_INT(s.parts[0].program, 0);
    gb_song_free(&s);
}

static void test_tempo_map(void) {
    gb_song s;
    gb_error e;
    bytes x = {.n = 0};
    header(&x, 1, 2, 100);
    /* 120 bpm by default until tick 100, then 60 bpm; at 300 (in the other track) 240 bpm. */
    track(&x, "64 FF5103 0F4240 | 00 FF2F00");
    track(&x, "00 903C40 | 822C FF5103 03D090 | 64 803C00");
    CHECK_INT(song(&x, &s, &e), GB_OK);
    CHECK_INT(s.n_tempos, 2);
    CHECK_NEAR(gb_song_seconds(&s, -1, 0), 0.0, 1e-12);
    CHECK_NEAR(gb_song_seconds(&s, -1, 50), 0.25, 1e-12);
    CHECK_NEAR(gb_song_seconds(&s, -1, 100), 0.5, 1e-12);
    CHECK_NEAR(gb_song_seconds(&s, -1, 200), 1.5, 1e-12);
    CHECK_NEAR(gb_song_seconds(&s, -1, 300), 2.5, 1e-12);
    CHECK_NEAR(gb_song_seconds(&s, -1, 400), 2.75, 1e-12);
    CHECK_NEAR(s.tempos[1].seconds, 2.5, 1e-12);
    for (uint64_t t = 0; t <= 1000; t += 37)
        CHECK_INT(gb_song_tick_at(&s, -1, gb_song_seconds(&s, -1, t)), t);
    gb_song_free(&s);
}

static void test_tolerated(void) {
    gb_song s;
    gb_error e;
    /* An unknown chunk between tracks is skipped; bytes after End of Track are ignored; a
     * track without End of Track ends at its last event; an MThd longer than 6 is read. */
    bytes x = {.n = 0};
    hex(&x, "4D546864 00000008 0001 0002 0060 ABCD");
    track(&x, "00 903C40 | 10 803C00 | 00 FF2F00 | 00 F1 F1 F1");
    hex(&x, "58464948 00000003 010203");
    track(&x, "00 914040 | 10 814000");
    CHECK_INT(song(&x, &s, &e), GB_OK);
    CHECK_INT(s.n_tracks, 2);
    CHECK_INT(s.n_parts, 2);
    gb_song_free(&s);
    /* RIFF RMID wraps a standard file in its "data" chunk. */
    bytes *f = file0("00 903C40 | 10 803C00 | 00 FF2F00");
    bytes r = {.n = 0};
    hex(&r, "52494646");
    uint32_t n = (uint32_t)f->n + 12;
    for (int i = 0; i < 4; i++) r.b[r.n++] = (uint8_t)(n >> (8 * i));
    hex(&r, "524D4944 64617461");
    for (int i = 0; i < 4; i++) r.b[r.n++] = (uint8_t)(f->n >> (8 * i));
    memcpy(r.b + r.n, f->b, f->n);
    r.n += f->n;
    CHECK_INT(song(&r, &s, &e), GB_OK);
    CHECK_INT(s.n_parts, 1);
    gb_song_free(&s);
    /* Deltas near the VLQ limit add up in 64 bits. */
    CHECK_INT(song(file0("00 903C40 | FFFFFF7F 3E40 | FFFFFF7F 803C00"), &s, &e), GB_OK);
    CHECK_INT(s.n_parts, 1);
    if (s.n_parts) CHECK_INT(s.parts[0].notes[0].end, 2ull * GB_VLQ_MAX);
    gb_song_free(&s);
}

/* Each malformed input: its status, the byte offset of the problem and what the message
 * says. */
static void malformed(const bytes *x, gb_status want, int64_t offset, const char *says) {
    gb_song s;
    gb_error e;
    gb_status st = song(x, &s, &e);
    CHECK_INT(st, want);
    CHECK_INT(e.offset, offset);
    CHECK_STR_HAS(e.msg, says);
    CHECK(s.parts == NULL && s.n_parts == 0);
    if (st == GB_OK) gb_song_free(&s);
}

static void test_malformed(void) {
    bytes x = {.n = 0};
    malformed(&x, GB_ERR_FORMAT, 0, "empty file");
    hex(&x, "68656C6C6F20776F726C6421 0A0A0A0A");
    malformed(&x, GB_ERR_FORMAT, 0, "not a MIDI file");
    x.n = 0;
    hex(&x, "4D546864 00000006 0001"); /* header cut short */
    malformed(&x, GB_ERR_FORMAT, 0, "not a MIDI file");
    x.n = 0;
    hex(&x, "4D546864 00000004 0001 0001 0060");
    malformed(&x, GB_ERR_FORMAT, 4, "bad header chunk length 4");
    x.n = 0;
    header(&x, 3, 1, 96);
    malformed(&x, GB_ERR_FORMAT, 8, "unknown MIDI file format 3");
    x.n = 0;
    header(&x, 1, 1, 0);
    malformed(&x, GB_ERR_FORMAT, 12, "time division of 0");
    /* A track chunk that claims more bytes than the file holds (truncated file), and one
     * that claims 4 GB. */
    x.n = 0;
    header(&x, 0, 1, 96);
    hex(&x, "4D54726B 00000010 00903C40");
    malformed(&x, GB_ERR_FORMAT, 18, "declares 16 bytes but only 4 remain");
    x.n = 0;
    header(&x, 0, 1, 96);
    hex(&x, "4D54726B FFFFFFFF 00903C40");
    malformed(&x, GB_ERR_FORMAT, 18, "declares 4294967295 bytes");
    /* The header declares more tracks than there are; absurd counts allocate nothing. */
    x.n = 0;
    header(&x, 1, 65535, 96);
    track(&x, "00 FF2F00");
    malformed(&x, GB_ERR_FORMAT, 26, "declares 65535 tracks but the file holds 1");
    /* Too many track chunks. */
    x.n = 0;
    header(&x, 1, 0, 96);
    for (unsigned i = 0; i <= GB_MIDI_MAX_TRACKS; i++) hex(&x, "4D54726B 00000000");
    malformed(&x, GB_ERR_LIMIT, 14 + 8 * (int64_t)GB_MIDI_MAX_TRACKS, "more than 4096 tracks");
    /* Inside a track (events start at byte 22). */
    malformed(file0("8080808000 903C40"), GB_ERR_FORMAT, 22, "delta time longer than 4 bytes");
    malformed(file0("00 903C40 | 8180"), GB_ERR_FORMAT, 26, "truncated delta time");
    malformed(file0("00 903C40 | 10"), GB_ERR_FORMAT, 27, "track ends after a delta time");
    malformed(file0("00 3C40"), GB_ERR_FORMAT, 23, "data byte 0x3C where a status byte is needed");
    malformed(file0("00 903C"), GB_ERR_FORMAT, 24, "truncated channel message");
    malformed(file0("00 903C90"), GB_ERR_FORMAT, 25, "status byte 0x90 where a data byte");
    malformed(file0("00 F1 00"), GB_ERR_FORMAT, 23, "status byte 0xF1 is not allowed");
    malformed(file0("00 FF01 10 4142"), GB_ERR_FORMAT, 25, "meta event length 16 runs past");
    malformed(file0("00 F0 8FFFFFFF7F"), GB_ERR_FORMAT, 24, "bad sysex length");
    malformed(file0("00 FF"), GB_ERR_FORMAT, 24, "truncated meta event");
    /* Meta events whose payload is wrong. */
    malformed(file0("00 FF5102 0102"), GB_ERR_FORMAT, 23, "tempo event of 2 bytes");
    malformed(file0("00 FF5103 000000"), GB_ERR_FORMAT, 23, "tempo of 0 microseconds");
    malformed(file0("00 FF5803 040218"), GB_ERR_FORMAT, 23, "bad time signature");
    malformed(file0("00 FF5902 0900"), GB_ERR_FORMAT, 23, "bad key signature");
    /* A missing file is an I/O error. */
    gb_song s;
    gb_error e;
    CHECK_INT(gb_song_read("/nonexistent/file.mid", &s, &e), GB_ERR_IO);
    CHECK_STR_HAS(e.msg, "No such file");
}

/* Every prefix of a valid file fails cleanly or parses; none crashes (the sanitizer build
 * runs this too). */
static void test_every_truncation(void) {
    bytes x = {.n = 0};
    header(&x, 1, 2, 480);
    track(&x, "00 FF5103 07A120 | 00 FF5804 04021808 | 00 FF2F00");
    track(&x, "00 FF0304 4C656164 | 00 C028 | 00 903C40 | 8360 3C00 | 00 F003 010203"
              "| 00 3E40 | 60 803E00 | 00 FF2F00");
    gb_song s;
    gb_error e;
    CHECK_INT(song(&x, &s, &e), GB_OK);
    gb_song_free(&s);
    for (size_t n = 0; n < x.n; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exactly n bytes: overreads are caught */
        memcpy(copy, x.b, n);
        gb_status st = gb_song_parse(copy, n, &s, &e);
        if (st == GB_OK) gb_song_free(&s);
        else CHECK(e.offset >= -1 && e.offset <= (int64_t)n);
        free(copy);
    }
}

/* Inputs that once broke the reader under the fuzzer: each must now parse or fail cleanly
 * (the point is the sanitizer build running this). */
static void test_fuzz_regressions(void) {
    DIR *d = opendir("tests/fuzz_regressions");
    CHECK(d != NULL);
    if (!d) return;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, "tests/fuzz_regressions/%s", de->d_name);
        gb_song s;
        gb_error e;
        if (gb_song_read(path, &s, &e) == GB_OK) gb_song_free(&s);
        else CHECK(e.status != GB_ERR_IO);
        n++;
    }
    closedir(d);
    CHECK(n > 0);
}

int main(void) {
    RUN(test_vlq_read);
    RUN(test_running_status);
    RUN(test_meta_events);
    RUN(test_formats);
    RUN(test_smpte);
    RUN(test_note_pairing);
    RUN(test_programs_and_drums);
    RUN(test_tempo_map);
    RUN(test_tolerated);
    RUN(test_malformed);
    RUN(test_every_truncation);
    RUN(test_fuzz_regressions);
    TEST_END();
}
