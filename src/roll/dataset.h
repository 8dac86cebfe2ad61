/* dataset.h - a training corpus: the parts of many MIDI files, kept compact, split into train
 * and validation by file, cut into windows of up to T+1 steps and into float batches on demand.
 * A part is a piano roll (below) or, with the events encoding, a stream of performance events
 * (groovybee.h; "Performance events" at the end of this comment): a step is then a token.
 *
 * Memory grows with the notes, not with steps x 128: a part is kept as runs of identical steps
 * (a row can only change where a note starts or ends), each run its first step and its
 * sounding pitches as 16-bit cells (pitch | velocity << 7 | onset << 14). A four-voice chorale
 * in sixteenth steps takes 3 to 4 bytes a step instead of 128 (512 as floats); in the report's
 * per-tick encoding, where a quarter note is hundreds of identical steps, well under one byte a
 * step. Encoding a part needs scratch for its notes, never for its steps.
 *
 * The steps are exactly gb_roll_encode's (same quantisation, later notes overwriting earlier ones
 * of the same pitch, silent steps stripped on request): tests/test_dataset.c holds them equal.
 *
 * Features of a step (D of them, see gb_ds_features; the model predicts these):
 *   [0, 128)    pitch p sounding: 1 (binary) or velocity / 127 (velocity rolls, the report's MSE)
 *   [128, 256)  with onsets only: 1 where a note of pitch p starts at this step (its first step
 *               after later notes have overwritten earlier ones), so that a re-struck note
 *               differs from a held one; 0 elsewhere.
 * Inputs (Din = gb_ds_in_features) are those D, then with meter only GB_DS_METER_FEATURES more
 * that say where the step falls in the bar, so that the model need not count steps to know it
 * (they are known ahead, so never predicted). Step k starts at tick k * step ticks (the grid
 * notes are quantised to: tpq / steps_per_beat, or step_ticks, as exact fractions; tpq the
 * ticks per quarter note, gb_song_ticks_per_quarter); a beat lasts 4 * tpq / denominator ticks,
 * a bar `numerator` beats, counted from the tick of the time signature in force (a change
 * starts a new bar there; 4/4 from tick 0 until the first):
 *   [D, D + 8)       one-hot: the step's position inside its beat in eighths of a beat,
 *                    floor(8 * (tick - beat start) / beat ticks): 0, 2, 4, 6 for sixteenth
 *                    steps in quarter-note beats.
 *   [D + 8, D + 20)  one-hot: the beat's index in its bar, 0 = downbeat; beats 11 and above all
 *                    on the last (D + 19), bars that long being rare and alike.
 * Steps past a part's end go on counting in its last time signature, so that generation can
 * continue after a primer (gb_ds_meter_row).
 *
 * Windows: a window of length len <= T starting at step t needs len + 1 steps of its part:
 * inputs are steps t..t+len-1, targets t+1..t+len. Full windows (len = T) start every `stride`
 * steps from 0 while they fit; a part of 2..T steps, which gives none, gives instead one window
 * of len = steps - 1 from step 0, padded to T with zero rows that the mask leaves out of the
 * loss. A batch of B windows is cut into inputs (T, B, Din), targets (T, B, Dt) and a mask
 * (T, B) of 1 on real rows and 0 on padding.
 *
 * Performance events (enc.events != GB_DS_ROLL): each part the filter takes (or, with merge, the
 * taken parts of a file together; with GB_DS_ENSEMBLE, together with PROGRAM tokens) is encoded
 * by gb_events_encode, times in seconds from the file's tempo map; its steps are its tokens. D is
 * the vocabulary (388, ensemble 517: the softmax head's classes), an input row is [token id]
 * (Din 1) and a target row [next token id] (Dt 1); the roll, binary, onsets and meter fields do
 * not apply. Windows are cut as above, in tokens. */
#ifndef GB_DATASET_H
#define GB_DATASET_H

#include "core/core.h"
#include "core/rng.h"

#define GB_DS_MAX_WINDOWS 0xFFFFFFFFu /* window ids are 32-bit */
#define GB_DS_METER_FEATURES 20       /* 8 positions in the beat, 12 beats in the bar */

/* What a part becomes: a piano roll, or a stream of performance events (one instrument's
 * vocabulary of 388, or an ensemble's of 517 with PROGRAM tokens). */
typedef enum { GB_DS_ROLL = 0, GB_DS_EVENTS = 1, GB_DS_ENSEMBLE = 2 } gb_ds_repr;

/* How parts become features, and which parts are taken. */
typedef struct {
    gb_ds_repr events; /* GB_DS_ROLL: the roll fields below apply; else token streams */
    gb_roll_opts roll; /* steps_per_beat / step_ticks / strip_silence, as gb_roll_encode */
    int binary;        /* 1: features 0/1; 0: velocity / 127 */
    int onsets;        /* 1: 128 more features marking a note's first step (D = 256) */
    int merge;         /* 1: the parts of a file the filter takes become one part, their notes
                          merged (an ensemble learnt as one texture); 0: a part each */
    int meter;         /* 1: GB_DS_METER_FEATURES more inputs (never targets) placing each step
                          in its beat and bar; needs the rests kept (no strip_silence) */
    /* the part filter: a drum part (channel 10) is taken when drums is set; any other part when
     * programs[its GM program] is set */
    int drums;
    uint8_t programs[128];
} gb_ds_encoding;

/* The default: sixteenth steps, rests kept, binary, no onsets, no meter, every non-drum part. */
void gb_ds_encoding_default(gb_ds_encoding *e);
/* Features per step, the model's outputs (D): 128, or 256 with onsets; events: the vocabulary
 * (388, or 517 for an ensemble). */
int gb_ds_features(const gb_ds_encoding *e);
/* Features per input row (Din): D, plus GB_DS_METER_FEATURES with meter; events: 1. */
int gb_ds_in_features(const gb_ds_encoding *e);
/* Features per target row (Dt): D; events: 1 (the next token's id). */
int gb_ds_target_features(const gb_ds_encoding *e);

/* Part filter helpers. gb_ds_filter_clear takes no part; gb_ds_filter_add_instrument adds the
 * parts NAME names, case-insensitively: "drums"; a GM family ("piano", "chromatic percussion",
 * "organ", "guitar", "bass", "strings", "ensemble", "brass", "reed", "pipe", "synth lead",
 * "synth pad", "synth effects", "ethnic", "percussive", "sound effects": 8 programs each); else
 * every program whose GM name contains NAME ("cello", "sax"). GB_ERR_ARG when nothing matches. */
void gb_ds_filter_clear(gb_ds_encoding *e);
gb_status gb_ds_filter_add_instrument(gb_ds_encoding *e, const char *name, gb_error *err);
/* The filter as text, as checkpoints store it: "all", "none" or ranges "0-7,40,42"; and back. */
void gb_ds_filter_format(const gb_ds_encoding *e, char *out, size_t cap);
gb_status gb_ds_filter_parse(gb_ds_encoding *e, const char *programs, gb_error *err);

/* A time signature on the step grid: in force from `step`, the first step starting at or
 * after its tick, which starts `late` / num ticks after that tick (late < den; 0 when the
 * signature falls on the grid). */
typedef struct {
    uint64_t step;
    uint32_t late;
    uint8_t numerator, denominator;
} gb_ds_timesig;

typedef struct {
    char *path;
    int valid;                     /* 1: in the validation split */
    size_t first_part, n_parts;    /* its parts in gb_dataset.parts */
    /* with meter only (else NULL, 0): the song's time signatures, a few a file. Step k starts
     * at tick k * den / num (the quantiser's fraction), a quarter note lasts tpq ticks. */
    gb_ds_timesig *sigs;           /* (n_sigs) steps increasing, the first at step 0 */
    uint32_t n_sigs;
    uint32_t num, den, tpq;
} gb_ds_file;

typedef struct {
    size_t file;                  /* index in gb_dataset.files */
    int index;                    /* the part's index in its song (gb_song.parts) */
    int track, channel, program, is_drum;
    uint32_t steps;
    uint32_t n_runs;              /* runs of identical steps */
    const uint32_t *run_start;    /* (n_runs) first step of each run: 0, increasing */
    const uint32_t *run_cell;     /* (n_runs + 1) first cell of each run, then n_cells */
    const uint16_t *cells;        /* (n_cells) pitch | velocity << 7 | onset << 14, pitches
                                     ascending within a run; the onset bit only with onsets */
    uint32_t n_cells;
    const uint16_t *tokens;       /* events only (then no runs or cells): (steps) the stream */
    void *mem;                    /* the one allocation the arrays live in */
} gb_ds_part;

/* Warnings about files that are skipped: path and why. Library code never prints; the CLI
 * passes a function that does. */
typedef void (*gb_ds_warn_fn)(void *ctx, const char *path, const gb_error *e);

#define GB_DS_N_STATUS 6 /* gb_status values, to count skipped files by reason */

typedef struct {
    gb_ds_encoding enc;
    gb_ds_file *files; /* files that gave at least one part, in the order met */
    size_t n_files, cap_files;
    gb_ds_part *parts;
    size_t n_parts, cap_parts;
    /* figures for the report */
    size_t files_seen;     /* MIDI files found (read or not) */
    size_t files_skipped;  /* could not be read or encoded */
    size_t skipped_by[GB_DS_N_STATUS]; /* ... by gb_status */
    size_t files_no_parts; /* read, but no part passed the filter */
    size_t parts_filtered; /* parts the filter left out */
    uint64_t steps, runs, cells;
    size_t bytes;          /* held by the parts' arrays and the files' time signatures */
} gb_dataset;

/* An empty dataset with that encoding (validated: GB_ERR_ARG for bad step options, and for
 * meter with strip_silence, where steps no longer keep time). */
gb_status gb_ds_init(gb_dataset *ds, const gb_ds_encoding *e, gb_error *err);
void gb_ds_free(gb_dataset *ds);

/* Adds files and directories. A directory is walked recursively, entries sorted by name (byte
 * order), taking files whose name ends in .mid or .midi (any case) and skipping names that start
 * with '.'; a file given by name is taken whatever its name. A file that cannot be read or
 * encoded is skipped: warn (may be NULL) is told, and it is counted by reason. A path that does
 * not exist or cannot be opened fails the call (GB_ERR_IO naming it): a typo in a corpus
 * argument should stop a run, a bad file in a folder should not. valid marks the files as
 * validation files. */
gb_status gb_ds_add_paths(gb_dataset *ds, const char *const *paths, size_t n, int valid,
                          gb_ds_warn_fn warn, void *ctx, gb_error *err);
/* The same for shard k of `shards` (data-parallel training, one shard a rank): of the F files
 * the paths name, in the walk's order, only files [F k / shards, F (k + 1) / shards) are read
 * and counted (the paths are walked twice, once to count them); a directory that cannot be
 * opened is reported by shard 0. The shards' files in shard order are the whole walk's. */
gb_status gb_ds_add_paths_shard(gb_dataset *ds, const char *const *paths, size_t n, int valid,
                                int k, int shards, gb_ds_warn_fn warn, void *ctx,
                                gb_error *err);
/* Adds the parts of one song that pass the filter (path is recorded, not read), or with merge
 * one part of all their notes. GB_OK with nothing added when no part passes. On failure nothing
 * is added. */
gb_status gb_ds_add_song(gb_dataset *ds, const gb_song *s, const char *path, int valid,
                         gb_error *err);

/* The split itself, of n files: valid[i] = 1 for round(fraction * n) of them (at least one when
 * fraction > 0 and n >= 2, never all), chosen by a shuffle seeded with seed. Deterministic: same
 * n, fraction and seed, same split (compare --baselines repeats train's). */
gb_status gb_split_choose(size_t n, double fraction, uint64_t seed, uint8_t *valid,
                          gb_error *err);
/* Marks the files gb_split_choose picks as validation, the others as training files. */
gb_status gb_ds_split(gb_dataset *ds, double fraction, uint64_t seed, gb_error *err);
/* The same for a dataset that holds files first..first + n_files of a corpus of n_all (a shard
 * of data-parallel training): they get the marks they would get in the whole corpus. */
gb_status gb_ds_split_range(gb_dataset *ds, double fraction, uint64_t seed, size_t n_all,
                            size_t first, gb_error *err);

/* A hash of what training sees: the files' split and every part's steps and cells (not paths),
 * with meter also the flag and each file's time signatures, so that --resume can tell that the
 * corpus is the same: the head (the encoding and the file count), then the training files in
 * order, then the validation files. gb_ds_hash is gb_ds_hash_files(ds, gb_ds_hash_files(ds,
 * gb_ds_hash_head(&ds->enc, ds->n_files), 0), 1); shards of one corpus, each continuing the
 * previous one's hash, give the whole corpus' (src/train). */
uint64_t gb_ds_hash(const gb_dataset *ds);
uint64_t gb_ds_hash_head(const gb_ds_encoding *e, size_t n_files);
uint64_t gb_ds_hash_files(const gb_dataset *ds, uint64_t h, int valid);

/* Writes steps [k0, k0 + n) of a part as input rows of Din features (the D of the step, then
 * its meter): step k0 + t goes to out + (t * B + b) * Din (zeroed first). k0 + n <= steps. */
void gb_ds_cut(const gb_dataset *ds, size_t part, size_t k0, size_t n, int B, int b, float *out);
/* The GB_DS_METER_FEATURES meter features of step `step` of a part, any step >= 0, also past
 * its end (the last time signature goes on). Only with meter. */
void gb_ds_meter_row(const gb_dataset *ds, size_t part, uint64_t step, float *out);

/* The windows of one split. */
typedef struct {
    int T, stride;
    size_t n_parts;
    size_t *part;    /* (n_parts) parts with at least one window: those of 2 steps or more */
    int *len;        /* (n_parts) the length of each of their windows: T, or steps - 1 */
    uint64_t *cum;   /* (n_parts + 1) windows before each of them */
    uint64_t n;      /* windows in all */
    size_t short_parts; /* parts of the split shorter than T + 1 steps: one short window each,
                           none for a part of one step (it has no target) */
    uint64_t uncovered; /* target steps (1..steps-1 of each part) in no window: the gaps when
                           stride > T and the tail after the last full window */
} gb_ds_windows;

/* Enumerates the windows of the training (valid = 0) or validation (1) files. */
gb_status gb_ds_windows_make(const gb_dataset *ds, int valid, int T, int stride,
                             gb_ds_windows *w, gb_error *err);
void gb_ds_windows_free(gb_ds_windows *w);
/* Window i: its part, first step and length (T, or less for the one window of a short part). */
void gb_ds_window_at(const gb_ds_windows *w, uint64_t i, size_t *part, size_t *start, int *len);

/* Augmentation while cutting a batch. transpose N > 0: each window is moved by a semitone
 * count drawn uniformly from [-N, N] cut down to the shifts that keep all of its pitches
 * (its len + 1 steps) inside 0..127, pitch and onset features alike (events: NOTE_ON and
 * NOTE_OFF tokens), inputs and targets by the same count, the meter never. stretch s > 0
 * (events only): the window's times are multiplied by a factor drawn uniformly from
 * [1 - s, 1 + s] (Magenta's time stretch): the k-th TIME_SHIFT total from the window's start,
 * t_k steps, becomes round(t_k * factor), written as TIME_SHIFTs of 100 then the rest, as the
 * encoder writes them; the window takes the tokens that follow until it has len + 1 (fewer at
 * the part's end: the rest is padding). Window b's draws come from a gb_rng seeded with keys[b],
 * one number for each of the two that is on (transposition first): a window is augmented by its
 * key alone, whatever batch it is cut into (a batch split over processes, a resumed run). */
typedef struct {
    int transpose;         /* 0: none */
    float stretch;         /* 0: none; at most 0.5 */
    const uint64_t *keys;  /* (B) a key per window of the batch */
} gb_ds_aug;

/* Cuts windows ids[0..B): x (T, B, Din) inputs, row t of window b step start_b + t; target
 * (T, B, Dt) the next steps, start_b + t + 1; mask (T, B) 1 for t < len_b, 0 on the padding,
 * whose x and target rows are zero. aug may be NULL: no augmentation. */
void gb_ds_cut_batch(const gb_dataset *ds, const gb_ds_windows *w, const uint32_t *ids, int B,
                     const gb_ds_aug *aug, float *x, float *target, float *mask);

/* A pseudorandom permutation of 0..n-1 that stores nothing: position i maps to window
 * gb_ds_perm_at(p, i), computed on demand by a keyed bijection on the next power of two above n
 * and cycle walking (Kensler, "Correlated Multi-Jittered Sampling", Pixar 2013). An epoch of a
 * corpus of hundreds of millions of windows (the per-tick encoding) needs no 4-byte-per-window
 * order array, and taking its first max_windows positions draws a random subset. */
typedef struct {
    uint32_t n, mask, key;
} gb_ds_perm;

/* n <= GB_DS_MAX_WINDOWS; the key is drawn from rng. */
void gb_ds_perm_init(gb_ds_perm *p, uint64_t n, gb_rng *rng);
uint32_t gb_ds_perm_at(const gb_ds_perm *p, uint32_t i);

#endif
