/* groovybee.h - the public API of libgroovybee, one umbrella header.
 *
 * Data flows MIDI bytes -> gb_midi (events) -> gb_song (parts of notes, tempo map)
 * -> gb_roll (steps x 128 velocities) or gb_tokens (performance events) and back.
 *
 * Conventions
 * - Every fallible call returns a gb_status and, when it fails, fills the caller's gb_error
 *   (which may be NULL) with a message and the byte offset of the problem. Library code never
 *   prints and never exits; only the CLI does. (One exception: under mpirun, a rank's error in
 *   gb_train_corpus ends the whole job, since the other ranks would wait for it forever.)
 * - Ownership: a struct filled by gb_X_read / gb_X_parse / gb_X_encode / gb_X_decode owns its
 *   arrays and is released by gb_X_free, which accepts a zeroed or already-freed struct. On
 *   failure the output struct is left zeroed: nothing to free.
 * - Opaque objects (gb_model, gb_train_config, gb_comparison) are made by their _load or _new
 *   call and released by their _free, which accepts NULL; on failure *out is NULL.
 * - Ticks are absolute (from the start of their track) and 64-bit: a hostile file can add up
 *   many 28-bit delta times.
 */
#ifndef GROOVYBEE_H
#define GROOVYBEE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" { /* the library is C: its names unmangled for C++ callers */
#endif

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

/* ------------------------------------------------------------------------------------------ */
/* Performance events (src/events/): Performance RNN's token streams (Oore et al. 2018), in
 * note_seq's PerformanceOneHotEncoding order with 32 velocity bins and 100 shifts of 10 ms, so
 * that a vocabulary compares with Magenta's; and, beyond it, PROGRAM tokens for one stream of a
 * whole ensemble. The rules are in docs/formats.md ("Performance events"). */

enum {
    GB_EV_NOTE_ON = 0,      /* + pitch 0..127 */
    GB_EV_NOTE_OFF = 128,   /* + pitch 0..127 */
    GB_EV_TIME_SHIFT = 256, /* + (steps - 1): 1..100 steps of 10 ms */
    GB_EV_VELOCITY = 356,   /* + (bin - 1): bins 1..32 of 4 velocities, 1-4, 5-8, ..., 125-127 */
    GB_EV_PROGRAM = 388,    /* + GM program 0..127 (ensemble streams only) */
    GB_EV_DRUMS = 516,      /* the PROGRAM token of drums (channel 10), whatever their program */
    GB_EV_VOCAB = 388,          /* tokens of a one-part stream, note_seq's 388 */
    GB_EV_VOCAB_ENSEMBLE = 517, /* tokens of an ensemble stream: 388 + 129 PROGRAM */
    GB_EV_STEPS_PER_SECOND = 100, /* the time grid: 10 ms */
    GB_EV_MAX_SHIFT = 100,        /* steps of the longest TIME_SHIFT (1 s); longer gaps: several */
    GB_EV_VELOCITY_BINS = 32,
    GB_EV_BIN_SIZE = 4,           /* ceil(127 / 32): velocity v is in bin (v - 1) / 4 + 1 */
};
#define GB_EV_MAX_TOKENS (1u << 27) /* longest stream (256 MiB as uint16); GB_ERR_LIMIT beyond */

typedef enum {
    GB_EVC_NOTE_ON,
    GB_EVC_NOTE_OFF,
    GB_EVC_TIME_SHIFT,
    GB_EVC_VELOCITY,
    GB_EVC_PROGRAM,
    GB_EVC_COUNT,              /* the number of classes */
    GB_EVC_INVALID = GB_EVC_COUNT, /* a value outside the ensemble vocabulary */
} gb_ev_class;

/* The class of a token and, in *value when not NULL, what it carries: the pitch (NOTE_ON,
 * NOTE_OFF), the steps of 10 ms (TIME_SHIFT, 1..100), the velocity bin (VELOCITY, 1..32), the
 * GM program (PROGRAM, 0..127; 128 for drums). GB_EVC_INVALID (value -1) at or above 517. */
gb_ev_class gb_events_class(unsigned token, int *value);
/* "NOTE_ON", "NOTE_OFF", "TIME_SHIFT", "VELOCITY", "PROGRAM"; "INVALID" for anything else. */
const char *gb_events_class_name(gb_ev_class c);
/* A token as text: "NOTE_ON 60", "TIME_SHIFT 25", "VELOCITY 20", "PROGRAM 40", "PROGRAM drums",
 * "INVALID 600"; returns buf. */
const char *gb_events_token_str(unsigned token, char *buf, size_t cap);

/* A stream of tokens; owned, released by gb_tokens_free. */
typedef struct {
    uint16_t *v;
    size_t n;
} gb_tokens;
void gb_tokens_free(gb_tokens *t);

typedef struct {
    /* encoding */
    int ensemble; /* PROGRAM tokens before each change of instrument, so each note keeps its GM
                     program (or drums): vocabulary 517. Off: the parts are one instrument,
                     vocabulary 388 (note_seq's stream of a performance with instrument=None). */
    /* decoding (0 for any field: its default) */
    double bpm;         /* tempo of the song made, quarter notes per minute [120] */
    int program;        /* GM program 0..127 of notes before any PROGRAM token [0] */
    int is_drum;        /* those notes are drums [0] */
    double open_note_s; /* a note never turned off lasts this long, or to the stream's end [5] */
    int velocity;       /* velocity of notes before any VELOCITY token [100, as note_seq] */
    int restrike;       /* 1: a NOTE_ON of a pitch that sounds on its instrument first ends the
                           notes sounding there (one key a pitch, as in the streams `train`
                           makes of merged parts); 0: they stack, as note_seq's [0] */
} gb_events_opts;

/* Encodes the notes of n_parts parts of s (one: &s->parts[i], 1; all: s->parts, s->n_parts)
 * into one stream: times in seconds from s's tempo map (each part's track) rounded to 10 ms, a
 * note at least one step long; at each step, the events of notes in the order of their start
 * time then pitch (ensemble: grouped by instrument, programs ascending, drums last), a note's
 * NOTE_OFF before a later note's NOTE_ON, VELOCITY only when the bin changes. o may be NULL. */
gb_status gb_events_encode(const gb_song *s, const gb_part *parts, size_t n_parts,
                           const gb_events_opts *o, gb_tokens *out, gb_error *err);

/* What decoding did beyond making notes. */
typedef struct {
    size_t notes;      /* notes made */
    size_t stray_offs; /* NOTE_OFFs with no sounding note of their pitch (ignored) */
    size_t open_notes; /* notes never turned off (ended by open_note_s or the stream's end) */
    size_t empty;      /* notes of no duration (a NOTE_OFF in the step of its NOTE_ON, or an
                          open note at the very end), dropped as note_seq drops them */
    size_t voices;     /* parts made beyond one per instrument, for notes of one pitch that
                          sound at once (unisons: one MIDI channel cannot hold them) */
    uint64_t steps;    /* the stream's length in steps of 10 ms */
} gb_events_stats;

/* Decodes n tokens (values 0..516) to a format 1 song at o->bpm, with a division of about 1 ms
 * a tick (round(60000 / bpm)) and a 4/4 meter. One part per instrument that has notes (notes
 * before any PROGRAM token are o->program's, or drums with o->is_drum; a stream without PROGRAM
 * tokens is thus one part), programs ascending, drums last, named after the instrument; where
 * two notes of one pitch of a melodic instrument sound at once (a unison of two players), the
 * later goes to another part of the instrument ("Violin 2"), while melodic channels remain.
 * Channels 0, 1, ... (9 skipped), 9 for drums; track k + 1 for part k. A stream without notes
 * gives a song without parts. A NOTE_OFF closes the earliest sounding note of its pitch and
 * instrument. An empty stream is GB_ERR_FORMAT, a value above 516 GB_ERR_FORMAT naming its
 * index, more than 15 melodic instruments GB_ERR_LIMIT. stats may be NULL. */
gb_status gb_events_decode(const uint16_t *tokens, size_t n, const gb_events_opts *o,
                           gb_song *out, gb_events_stats *stats, gb_error *err);

/* Token files: NumPy .npy, uint16 little-endian ('<u2'), shape (n,) (docs/formats.md). The
 * reader also takes big-endian '>u2' and refuses any other dtype or shape, and any value above
 * 516 (GB_ERR_FORMAT at that value's byte offset). */
gb_status gb_npy_write_tokens(const char *path, const gb_tokens *t, gb_error *err);
gb_status gb_npy_read_tokens(const char *path, gb_tokens *out, gb_error *err);
gb_status gb_npy_parse_tokens(const uint8_t *bytes, size_t len, gb_tokens *out, gb_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Models: load, generate, train, evaluate, compare (src/api/) - what the CLI's generate, train,
 * eval and compare do, for programs. The model and the training configuration are opaque:
 * they are made by their _load/_new call and released by their _free, which accepts NULL.
 * Nothing here prints: what a run has to say goes through the callbacks given. */

/* The precision of the network's matrix products: fp32, or bf16 operands summed in fp32 (half
 * the bytes of each weight read; other numbers, and a seed gives other music, than fp32's). */
typedef enum { GB_PREC_FP32 = 0, GB_PREC_BF16 = 1 } gb_precision;
/* bf16 where it is the faster here (a CPU with AMX, or AMD's AVX512-BF16), else fp32. */
gb_precision gb_precision_auto(void);
/* bf16 only where the CPU has bf16 instructions (elsewhere fp32 is returned). */
gb_precision gb_precision_supported(gb_precision p);

/* A trained model: its network and what its file records (src/io/checkpoint.h's metadata). */
typedef struct gb_model gb_model;

/* Reads a model file (MODEL.safetensors, as `groovybee train` writes it); every tensor and
 * metadata key is checked and an error names the file. */
gb_status gb_model_load(const char *path, gb_model **out, gb_error *err);
void gb_model_free(gb_model *m);

typedef struct {
    const char *path;           /* the file it was loaded from (the model's storage) */
    const char *preset;         /* "roll", "events", "paper", or "" when unknown */
    const char *representation; /* "roll" (steps x pitches), "events" (performance events) or
                                   "ensemble" (events with PROGRAM tokens) */
    int features;    /* predicted per step: pitches (128, 256 with onsets) or tokens (388, 517) */
    int hidden, layers;
    size_t params;   /* trainable parameters */
    int window;      /* steps (or events) of a training window: the length of a primer */
    int epochs;      /* epochs of training behind the weights */
    double train_loss, valid_loss; /* of that epoch (NaN: unknown, or no validation) */
} gb_model_summary;
void gb_model_summarize(const gb_model *m, gb_model_summary *out);

/* A corpus file that a call skips (it cannot be read): its path and why. */
typedef void (*gb_skip_fn)(void *ctx, const char *path, const gb_error *e);

/* ---- generation: `groovybee generate` ---- */

#define GB_GEN_MAX_MODELS 16
#define GB_GEN_MAX_PARTS 64  /* parts of a generated song (an ensemble model makes several) */
#define GB_GEN_DIVISION 960  /* ticks per quarter note of a generated song */

typedef struct {
    uint64_t seed;        /* of the primers' choice and of the sampling */
    long steps;           /* steps to generate (event models: events); 0: roll models 64 beats
                             of the first model's grid, event models `seconds` */
    double seconds;       /* the length in seconds instead (0: unset; event models: 30) */
    const char *primer;   /* prime with a random window of this MIDI file's parts; NULL: of the
                             model's corpus, or of the primers/ folder beside the model file */
    int keep_primer;      /* put the primer before the generated music */
    double temperature;   /* < 0: the default (binary models 0.9, event models 1) */
    int top_k;            /* event models: draw among the k most likely (0: all) */
    double top_p;         /* event models: nucleus sampling (1: all) [0.9] */
    double threshold;     /* velocity models: below it is silence [0.1] */
    int velocity;         /* binary models: their notes' velocity [80] */
    double bpm;           /* tempo; 0: the first model's primer's */
    int programs[GB_GEN_MAX_MODELS]; /* model k's GM program when k < n_programs, else its
                                        primer part's */
    int n_programs;
    int key_fix;          /* roll models: move off-key notes into the primer's key */
    gb_precision precision;
    gb_skip_fn skip;      /* corpus files skipped while looking for a primer (may be NULL) */
    void *ctx;
} gb_generate_opts;
/* The defaults above, seed 0 and fp32. */
void gb_generate_opts_default(gb_generate_opts *o);

/* What generation did, per part of the song. */
typedef struct {
    int model;            /* the index of its model */
    char primer[512];     /* the file its primer came from */
    uint64_t primer_at;   /* the primer's first step (event models: event) in that part */
    char key[16];         /* with key_fix: the key its notes were moved into ("D minor") */
} gb_generated_part;

typedef struct {
    double seconds, bpm;  /* the song's length and tempo */
    size_t n_parts;
    gb_generated_part parts[GB_GEN_MAX_PARTS];
} gb_generate_report;

/* The report's procedure for each model: a random window of its primer source, fed from zero
 * states, then each prediction fed back as the next input (binary models draw each pitch,
 * NADE models each given those below, event models each event from the softmax). The models'
 * parts are merged into one format-1 song at GB_GEN_DIVISION (each on its own track and
 * channel, drums on 10) with the first model's tempo, meter and, with key_fix, its key. The
 * same options and seed give the same song. out is owned by the caller (gb_song_free); rep may
 * be NULL. Errors: a primer source that is missing or has no window long enough, more parts or
 * melodic instruments than MIDI holds (GB_ERR_LIMIT), key_fix for an event model (GB_ERR_ARG).
 * Models are not changed: a model may be used by several threads at once. */
gb_status gb_generate_song(const gb_model *const *models, int n_models,
                           const gb_generate_opts *o, gb_song *out, gb_generate_report *rep,
                           gb_error *err);

/* ---- evaluation: groovybee eval ---- */

/* How a model is evaluated. */
typedef struct {
    int keys_lo, keys_hi; /* BCE roll models: the pitches the NLL sums over [0, 127]; 21-108
                             are the 88 piano keys (onset features are never counted) */
    gb_precision precision; /* [fp32: the yardstick, figures that do not depend on the CPU] */
    gb_skip_fn skip;      /* files skipped because they cannot be read (may be NULL) */
    void *ctx;
} gb_eval_opts;
/* The defaults above. */
void gb_eval_opts_default(gb_eval_opts *o);

/* One part, run whole. */
typedef struct {
    size_t file;     /* its file: gb_eval_result.files[file]; a file's parts are consecutive */
    int part;        /* its index in the song's parts (gb_song.parts) */
    int track, channel, program, is_drum;
    uint64_t steps;  /* steps predicted (event models: events, all but the stream's first) */
    double loss;     /* mean loss per step */
    double nll;      /* mean NLL per step (nats); NaN for MSE models */
} gb_eval_part;

typedef struct {
    const char *loss_kind; /* "ce" (event models), "bce" or "mse" */
    const char *head;      /* "softmax", "nade" or "linear" */
    int events;            /* an event model: perplexity and the classes below apply */
    int has_nll;           /* an NLL is reported (BCE and event models) */
    char **files;          /* the files that gave parts, in the order read */
    size_t n_files;
    gb_eval_part *parts;   /* every part of those files, file by file */
    size_t n_parts;
    size_t files_seen, files_skipped, files_no_parts; /* MIDI files found; of those, the ones
                             that could not be read and the ones without a part the model's
                             part filter takes */
    /* over every part, weighted by steps */
    uint64_t steps;
    double loss, nll;      /* means per step (nll NaN for MSE models) */
    double perplexity;     /* event models: exp(nll); else NaN */
    uint64_t class_events[GB_EVC_COUNT]; /* event models: the events predicted per token class */
    double class_share[GB_EVC_COUNT];    /* their share of all events */
    double class_nll[GB_EVC_COUNT];      /* their mean NLL (NaN: no event of the class) */
} gb_eval_result;

/* Runs m over each part of each file the paths name (folders walked for .mid/.midi), with the
 * model's own encoding and part filter, from its first step to its last with the LSTM's states
 * carried, every step predicted from the steps before it (the first from a zero input; event
 * models: every event but the first from the events before it). The loss per step is the
 * model's, averaged over its features; BCE models also give the frame-level NLL of the
 * polyphonic music literature (Boulanger-Lewandowski et al. 2012), nats per step summed over
 * the pitches of keys_lo..keys_hi; event models the NLL per event (Performance RNN's figure),
 * its perplexity and each token class's share of the events and of the NLL (docs/metrics.md).
 * o may be NULL (the defaults). A file that cannot be read goes to o->skip and is counted; a
 * path that does not exist fails the call (GB_ERR_IO), as do keys outside 0..127 or reversed
 * (GB_ERR_ARG) and paths with no part to evaluate (GB_ERR_ARG, saying how many files were
 * found, skipped and without a part the filter takes). out is owned by the caller
 * (gb_eval_result_free); on failure it is left zeroed. The model is not changed: threads may
 * evaluate one model at once. This call runs in the calling process alone; `groovybee eval`
 * under mpirun shares the parts out over the ranks through the same code (src/api/api.h) and
 * prints the same figures, bit for bit. */
gb_status gb_model_eval(const gb_model *m, const char *const *paths, size_t n,
                        const gb_eval_opts *o, gb_eval_result *out, gb_error *err);
void gb_eval_result_free(gb_eval_result *r);

/* ---- comparison: groovybee compare ---- */

/* How pieces are compared. */
typedef struct {
    int steps_per_beat; /* the grid of the copy search and of groove patterns, 1..96 [4] */
    double segment;     /* > 0: pieces are cut into segments of this many quarter notes (at
                           least 1), so that short generated pieces meet corpus passages of
                           their length; 0: whole pieces [0] */
    int copy_search;    /* look for generated passages copied from the reference [1] */
    gb_skip_fn skip;    /* files skipped because they cannot be read (may be NULL) */
    void *ctx;
} gb_compare_opts;
/* The defaults above. */
void gb_compare_opts_default(gb_compare_opts *o);

/* Generated sets compared with one reference (docs/metrics.md defines every figure). */
typedef struct gb_comparison gb_comparison;

/* Reads the reference (ref paths: MIDI files, or folders walked for .mid/.midi) and one
 * generated set (gen paths), takes the features of each piece (its non-drum notes, every part
 * merged: Yang & Lerch 2018 and MusPy's), and compares the sets by Yang & Lerch's protocol:
 * per feature, the density of the distances between reference pieces (intra-set) against that
 * of the distances from each generated piece to each reference piece (inter-set): their KL
 * divergence (0: alike) and overlapping area, OA (1: alike). With copy_search, each generated
 * piece's longest stretch that stands verbatim in the reference and its 4-bar windows found
 * there. o may be NULL (the defaults). Unreadable files go to o->skip and are counted; a path
 * that does not exist fails the call (GB_ERR_IO), as do options out of range and a set without
 * a readable file (GB_ERR_ARG). The generated set is set 0, labelled "generated". *out is
 * released by gb_comparison_free; on failure it is NULL. */
gb_status gb_compare_paths(const char *const *gen, size_t n_gen, const char *const *ref,
                           size_t n_ref, const gb_compare_opts *o, gb_comparison **out,
                           gb_error *err);
/* Compares one more generated set with the same reference: the next set index. label names it
 * (NULL: "generated N"; at most 63 bytes are kept). On failure c is unchanged. */
gb_status gb_comparison_add(gb_comparison *c, const char *label, const char *const *gen,
                            size_t n, gb_error *err);
void gb_comparison_free(gb_comparison *c);

/* The features, k = 0 .. gb_compare_features() - 1: their JSON key ("pitch_count") and their
 * name for people ("pitch count"); NULL for any other k. */
int gb_compare_features(void);
const char *gb_compare_feature_key(int k);
const char *gb_compare_feature_name(int k);

/* The generated sets compared so far. */
size_t gb_comparison_sets(const gb_comparison *c);

/* Feature k of a generated set against the reference. */
typedef struct {
    int defined;        /* KL and OA computed; else why says why not */
    const char *why;
    double kl, oa;      /* NaN when not defined */
} gb_compare_feature;
/* GB_ERR_ARG for a set or k out of range (out then undefined, with why). */
gb_status gb_comparison_feature(const gb_comparison *c, size_t set, int k,
                                gb_compare_feature *out, gb_error *err);

/* What a set holds, and for a generated set its figures over all features. */
typedef struct {
    const char *label;
    size_t files;          /* MIDI files found */
    size_t skipped;        /* of those, unreadable */
    size_t pieces;         /* pieces compared: files, or with segment their segments with notes */
    double mean_oa;        /* the mean OA of the features that have one; NaN: none (and for the
                              reference) */
    int copy_searched;     /* the copy figures below are filled (generated sets, copy_search) */
    size_t copies;         /* pieces found whole in the reference */
    uint64_t longest;      /* the longest verbatim stretch of any piece, in steps of the grid */
    uint64_t windows, windows_found; /* the pieces' 4-bar windows, and those found verbatim */
} gb_compare_set;
/* set < gb_comparison_sets(c), else GB_ERR_ARG. */
gb_status gb_comparison_set(const gb_comparison *c, size_t set, gb_compare_set *out,
                            gb_error *err);
void gb_comparison_reference(const gb_comparison *c, gb_compare_set *out);

/* ---- training: `groovybee train` ---- */

/* A training configuration: a preset and options over it, set by name as `groovybee train`
 * takes them (its --help documents each; `man groovybee-train`). */
typedef struct gb_train_config gb_train_config;
/* The roll preset, nothing else set. */
gb_status gb_train_config_new(gb_train_config **out, gb_error *err);
void gb_train_config_free(gb_train_config *c);
/* The options: the name of option i (NULL past the last) and whether it takes a value. */
const char *gb_train_option(int i, int *takes_value);
/* Sets an option: key is its name without the dashes ("preset", "hidden", "epochs", "valid",
 * "resume", ...), value its argument as text, NULL for a flag ("resume", "onsets"). The
 * lists (program, instrument, valid) take one value a call. The value is copied. GB_ERR_ARG
 * for an unknown key or a value out of range, naming the option and what it wants. */
gb_status gb_train_config_set(gb_train_config *c, const char *key, const char *value,
                              gb_error *err);
/* Resolves the configuration for a run writing model_path: the preset, then each option over
 * it; with "resume", reads the run's files there (when there are none yet, the run starts) and
 * checks each option given against the run's own value. GB_ERR_ARG: options that contradict
 * each other or the run being resumed (the message names both values); others: its files
 * cannot be read. gb_train_corpus does this itself; call it first to tell a usage error from
 * a failed run. */
gb_status gb_train_config_check(gb_train_config *c, const char *model_path, gb_error *err);

/* What the progress callback sees: after every batch, and once more at the end of the epoch. */
typedef struct {
    int epoch, epochs;   /* the current epoch (1-based) and the last one */
    uint64_t done, total; /* windows trained in this epoch, and the epoch's count */
    double loss;          /* mean training loss of the epoch so far */
    double seconds;       /* since the epoch began */
    int end;              /* 1: the epoch is over and the fields below are set */
    double train_loss, valid_loss; /* valid_loss NaN without validation windows */
    double windows_per_s; /* training windows per second of training (not validation) */
    double comm_seconds;  /* of training spent summing losses and gradients over the ranks */
    int improved;         /* the model file was rewritten with this epoch's weights */
    float lr;             /* the learning rate the next epoch will use (lr decay) */
} gb_train_progress;

typedef void (*gb_train_progress_fn)(void *ctx, const gb_train_progress *p);

typedef enum {
    GB_STOP_EPOCHS = 0, /* the last epoch was reached (perhaps already before a resume) */
    GB_STOP_TARGET,     /* the training loss fell below target_loss */
    GB_STOP_PATIENCE,   /* no improvement for `patience` epochs */
    GB_STOP_NONFINITE,  /* a NaN or infinite loss or gradient */
} gb_train_stop;

typedef struct {
    gb_train_stop stop;
    int epochs_done;        /* epochs completed, counting those before a resume */
    int epochs_run;         /* ... by this call */
    int best_epoch;         /* the epoch of the model file's weights (0: none written) */
    double best_loss;       /* its criterion */
    double train_loss, valid_loss; /* of the last completed epoch */
    int bad_epoch;          /* NONFINITE: where: epoch, batch (0-based) */
    uint64_t bad_batch;
    int bad_in_valid;       /* NONFINITE: it was the validation loss */
    uint64_t train_windows, valid_windows; /* an epoch's (after max_windows) */
    /* filled by gb_train_corpus: */
    int patience;           /* the run's budget: epochs without improvement, 0: off */
    double target_loss;     /* 0: none */
    int rank, ranks;        /* this process in its MPI job (0 of 1 alone) */
} gb_train_result;

typedef struct {
    gb_train_progress_fn progress; /* after every batch and every epoch (may be NULL) */
    void (*message)(void *ctx, const char *text); /* lines for people: the configuration, the
                                                     corpus's figures, notices (may be NULL) */
    gb_skip_fn skip;                /* a corpus file skipped (may be NULL) */
    void *ctx;                      /* given to all three */
} gb_train_hooks;

/* Trains a model on the MIDI files of corpus (files, and folders walked for .mid/.midi) with
 * configuration c, writing model_path (always the best model so far) and, beside it,
 * MODEL.optim.safetensors (the last state, to resume from), atomically after each epoch
 * (docs/formats.md). Run under mpirun, the job's ranks train one model together, rank 0 alone
 * writing and calling progress and message; an error on one rank then ends the whole job
 * (after a message naming the rank), since the others would wait for it: call it once per
 * process there. A non-finite loss is not an error: GB_OK with res->stop ==
 * GB_STOP_NONFINITE, the files on disk those of the last good epoch. Errors: c's own (as
 * gb_train_config_check), no part to train on (GB_ERR_FORMAT), no training windows or a
 * corpus other than the run being resumed (GB_ERR_ARG), files that cannot be read or
 * written. */
gb_status gb_train_corpus(gb_train_config *c, const char *const *corpus, size_t n,
                          const char *model_path, const gb_train_hooks *h, gb_train_result *res,
                          gb_error *err);

#ifdef __cplusplus
}
#endif

#endif
