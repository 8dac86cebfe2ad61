/* groovybee.h - the public API of libgroovybee, one umbrella header.
 *
 * Data flows MIDI bytes -> gb_midi (events) -> gb_song (parts of notes, tempo map)
 * -> gb_roll (steps x 128 velocities) and back.
 *
 * Conventions
 * - Every fallible call returns a gb_status and, when it fails, fills the caller's gb_error
 *   (which may be NULL) with a message and the byte offset of the problem. Library code never
 *   prints and never exits; only the CLI does.
 * - Ownership: a struct filled by gb_X_read / gb_X_parse / gb_X_encode / gb_X_decode owns its
 *   arrays and is released by gb_X_free, which accepts a zeroed or already-freed struct. On
 *   failure the output struct is left zeroed: nothing to free.
 * - Ticks are absolute (from the start of their track) and 64-bit: a hostile file can add up
 *   many 28-bit delta times.
 */
#ifndef GROOVYBEE_H
#define GROOVYBEE_H

#include <stddef.h>
#include <stdint.h>

#define GB_VERSION "0.1.0"

/* ------------------------------------------------------------------------------------------ */
/* status and errors */

typedef enum {
    GB_OK = 0,
    GB_ERR_IO,     /* a file could not be opened, read or written */
    GB_ERR_FORMAT, /* the input is malformed */
    GB_ERR_LIMIT,  /* the input is well formed but exceeds a safety limit */
    GB_ERR_NOMEM,  /* an allocation failed */
    GB_ERR_ARG,    /* the caller passed an invalid argument */
} gb_status;

typedef struct {
    gb_status status;
    int64_t offset; /* byte offset in the input where the problem was found; -1 if none */
    char msg[256];
} gb_error;

const char *gb_status_str(gb_status s);

/* ------------------------------------------------------------------------------------------ */
/* byte buffers and files */

typedef struct {
    uint8_t *data;
    size_t len, cap;
} gb_buf;

/* Grows b to hold at least len + n bytes. */
gb_status gb_buf_reserve(gb_buf *b, size_t n);
gb_status gb_buf_append(gb_buf *b, const void *p, size_t n);
void gb_buf_free(gb_buf *b);

/* Reads a whole file; fails with GB_ERR_LIMIT when it is larger than max_len bytes. */
gb_status gb_file_read(const char *path, size_t max_len, gb_buf *out, gb_error *err);
/* Writes a temporary file beside path, fsyncs it and renames it over path: readers see the old
 * file or the new one, never half of one. */
gb_status gb_file_write_atomic(const char *path, const void *data, size_t len, gb_error *err);

/* ------------------------------------------------------------------------------------------ */
/* MIDI events: the Standard MIDI File as it is (src/midi/midi_read.c) */

enum {
    GB_META_TEXT = 0x01,
    GB_META_COPYRIGHT = 0x02,
    GB_META_TRACK_NAME = 0x03,
    GB_META_INSTRUMENT = 0x04,
    GB_META_LYRIC = 0x05,
    GB_META_MARKER = 0x06,
    GB_META_CUE = 0x07,
    GB_META_CHANNEL_PREFIX = 0x20,
    GB_META_PORT = 0x21,
    GB_META_END_OF_TRACK = 0x2F,
    GB_META_TEMPO = 0x51,
    GB_META_SMPTE_OFFSET = 0x54,
    GB_META_TIME_SIGNATURE = 0x58,
    GB_META_KEY_SIGNATURE = 0x59,
    GB_META_SEQUENCER = 0x7F,
};

typedef struct {
    uint64_t tick;       /* absolute tick from the start of the track */
    uint32_t offset;     /* byte offset of the event's first byte after its delta time */
    uint8_t status;      /* 0x80..0xEF: channel message (low nibble = channel);
                            0xF0, 0xF7: sysex; 0xFF: meta */
    uint8_t meta;        /* meta type when status == 0xFF */
    uint8_t d1, d2;      /* data bytes of a channel message (d2 = 0 when it has one) */
    uint32_t len;        /* payload length of sysex and meta events */
    const uint8_t *data; /* payload, pointing into gb_midi.bytes */
} gb_midi_event;

typedef struct {
    gb_midi_event *events;
    size_t n_events;
    uint32_t offset; /* byte offset of the track's MTrk chunk */
} gb_midi_track;

/* Limits that keep hostile input from allocating without bound. */
#define GB_MIDI_MAX_BYTES (256u << 20) /* largest file read */
#define GB_MIDI_MAX_TRACKS 4096u       /* more MTrk chunks than this is an error */

typedef struct {
    int format;    /* 0, 1 or 2 */
    int division;  /* ticks per quarter note; 0 when the file uses SMPTE time */
    int smpte_fps; /* SMPTE frames per second (24, 25, 29 meaning 29.97, 30); 0 if metrical */
    int smpte_tpf; /* SMPTE ticks per frame */
    int declared_tracks; /* the header's track count; n_tracks counts the MTrk chunks found */
    gb_midi_track *tracks;
    size_t n_tracks;
    uint8_t *bytes; /* owned copy of the file that payloads point into */
    size_t n_bytes;
} gb_midi;

/* Parses a Standard MIDI File from memory (copied; the caller keeps its buffer). */
gb_status gb_midi_parse(const uint8_t *bytes, size_t len, gb_midi *out, gb_error *err);
void gb_midi_free(gb_midi *m);

/* ------------------------------------------------------------------------------------------ */
/* Songs: notes grouped in parts, with the tempo map (src/midi/song.c) */

typedef struct {
    uint64_t start, end; /* ticks, end > start except for notes cut at a track's end */
    uint8_t pitch;       /* 0..127 */
    uint8_t velocity;    /* 1..127 */
} gb_note;

/* A part is the notes of one (track, channel, program): one instrument of one track. */
typedef struct {
    int track;   /* index of the MTrk chunk the notes came from */
    int channel; /* 0..15; 9 is General MIDI percussion */
    int program; /* 0..127, the GM program in force at the notes' note-ons */
    int is_drum; /* channel == 9 */
    char name[64]; /* the track's name meta event, else its instrument name, else "" */
    gb_note *notes; /* sorted by start, then pitch */
    size_t n_notes;
} gb_part;

typedef struct {
    uint64_t tick;
    uint32_t usec_per_quarter;
    int track;      /* the track the event stands in */
    double seconds; /* time of tick (filled by the reader from the map before it) */
} gb_tempo;

typedef struct {
    uint64_t tick;
    uint8_t numerator, denominator; /* denominator as a note value: 4 = quarter */
    uint8_t clocks_per_click, n32_per_quarter;
} gb_timesig;

typedef struct {
    uint64_t tick;
    int8_t sharps; /* -7..7: negative = flats */
    uint8_t minor; /* 0 major, 1 minor */
} gb_keysig;

typedef struct {
    int format, division, smpte_fps, smpte_tpf;
    int n_tracks;
    uint64_t end_tick; /* tick of the last event of the longest track */
    gb_tempo *tempos;  /* sorted by tick; formats 0/1: one map across all tracks */
    size_t n_tempos;
    gb_timesig *timesigs;
    size_t n_timesigs;
    gb_keysig *keysigs;
    size_t n_keysigs;
    gb_part *parts; /* sorted by (track, channel, program) */
    size_t n_parts;
} gb_song;

/* Pairs notes and builds the tempo map. The note pairing rule is in docs/midi.md. */
gb_status gb_song_from_midi(const gb_midi *m, gb_song *out, gb_error *err);
/* gb_midi_parse + gb_song_from_midi. */
gb_status gb_song_parse(const uint8_t *bytes, size_t len, gb_song *out, gb_error *err);
/* Reads a file whole and parses it. */
gb_status gb_song_read(const char *path, gb_song *out, gb_error *err);
void gb_song_free(gb_song *s);

/* Seconds from the start at a tick of the given track. The track matters only in format 2,
 * where each track has its own tempo events; pass -1 otherwise. */
double gb_song_seconds(const gb_song *s, int track, uint64_t tick);
/* The tick at a time in seconds (rounded to nearest); the inverse of gb_song_seconds. */
uint64_t gb_song_tick_at(const gb_song *s, int track, double seconds);
/* Ticks per quarter note: division, or for SMPTE files the ticks of a quarter at 120 bpm. */
int gb_song_ticks_per_quarter(const gb_song *s);

/* Writes a format 1 file: a conductor track (tempo, time and key signatures) then one track per
 * part with its name, program change and notes, on the part's channel (src/midi/midi_write.c). */
gb_status gb_song_write(const gb_song *s, gb_buf *out, gb_error *err);
/* gb_song_write to a file, atomically. */
gb_status gb_song_save(const gb_song *s, const char *path, gb_error *err);

/* General MIDI program names, "Acoustic Grand Piano" ...; "Drums" for is_drum. */
const char *gb_gm_name(int program, int is_drum);

/* ------------------------------------------------------------------------------------------ */
/* Piano rolls (src/roll/) */

/* A roll: steps x 128 velocities, row-major: v[step * 128 + pitch], 0 = silent. */
typedef struct {
    uint8_t *v; /* [steps][128] */
    size_t steps;
} gb_roll;

#define GB_ROLL_MAX_STEPS (1u << 24) /* 2 GiB of roll; longer parts are GB_ERR_LIMIT */

typedef struct {
    int steps_per_beat;  /* step = ticks per quarter / steps_per_beat (default 4) */
    int step_ticks;      /* when > 0: a step is this many raw ticks, steps_per_beat unused */
    int strip_silence;   /* drop steps where every pitch is silent (the report's encoding) */
} gb_roll_opts;

/* Encodes one part of a song. */
gb_status gb_roll_encode(const gb_song *s, const gb_part *p, const gb_roll_opts *o,
                         gb_roll *out, gb_error *err);
/* Decodes a roll to the notes of a part: consecutive steps of one pitch holding the same
 * velocity >= threshold form a note; a change of velocity starts a new one. Step k begins at
 * tick k * step_ticks. out->track/channel/program/name are left for the caller. */
gb_status gb_roll_decode(const gb_roll *r, int threshold, uint64_t step_ticks, gb_part *out,
                         gb_error *err);
/* The same, where onsets (steps x 128 like r->v, nonzero = a note starts here; NULL: none)
 * also splits a run: a re-struck note of the same velocity becomes two notes. */
gb_status gb_roll_decode_onsets(const gb_roll *r, const uint8_t *onsets, int threshold,
                                uint64_t step_ticks, gb_part *out, gb_error *err);
void gb_roll_free(gb_roll *r);
void gb_part_free(gb_part *p);

/* NumPy .npy files: uint8, shape (steps, 128), C order (layout in docs/formats.md). */
gb_status gb_npy_write(const char *path, const gb_roll *r, gb_error *err);
gb_status gb_npy_read(const char *path, gb_roll *out, gb_error *err);
gb_status gb_npy_parse(const uint8_t *bytes, size_t len, gb_roll *out, gb_error *err);

#endif
