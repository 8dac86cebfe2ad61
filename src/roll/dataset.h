/* dataset.h - a training corpus: the parts of many MIDI files, kept compact, split into train
 * and validation by file, cut into windows of T+1 steps and into float batches on demand.
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
 * Features of a step (D of them, see gb_ds_features):
 *   [0, 128)    pitch p sounding: 1 (binary) or velocity / 127 (velocity rolls, the report's MSE)
 *   [128, 256)  with onsets only: 1 where a note of pitch p starts at this step (its first step
 *               after later notes have overwritten earlier ones), so that a re-struck note
 *               differs from a held one; 0 elsewhere.
 *
 * Windows: a window of T steps starting at step t needs T+1 steps of its part: inputs are steps
 * t..t+T-1, targets t+1..t+T. Windows start every `stride` steps from 0; a part shorter than T+1
 * steps gives none. A batch of B windows is cut into one buffer of (T+1, B, D) floats: inputs are
 * its first T rows (T, B, D), targets the T rows after the first, both contiguous. */
#ifndef GB_DATASET_H
#define GB_DATASET_H

#include "core/core.h"
#include "core/rng.h"

#define GB_DS_MAX_WINDOWS 0xFFFFFFFFu /* window ids are 32-bit */

/* How parts become features, and which parts are taken. */
typedef struct {
    gb_roll_opts roll; /* steps_per_beat / step_ticks / strip_silence, as gb_roll_encode */
    int binary;        /* 1: features 0/1; 0: velocity / 127 */
    int onsets;        /* 1: 128 more features marking a note's first step (D = 256) */
    /* the part filter: a drum part (channel 10) is taken when drums is set; any other part when
     * programs[its GM program] is set */
    int drums;
    uint8_t programs[128];
} gb_ds_encoding;

/* The default: sixteenth steps, rests kept, binary, no onsets, every non-drum part. */
void gb_ds_encoding_default(gb_ds_encoding *e);
/* Features per step: 128, or 256 with onsets. */
int gb_ds_features(const gb_ds_encoding *e);

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

typedef struct {
    char *path;
    int valid;                     /* 1: in the validation split */
    size_t first_part, n_parts;    /* its parts in gb_dataset.parts */
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
    void *mem;                    /* the one allocation the three arrays live in */
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
    size_t bytes;          /* held by the parts' arrays */
} gb_dataset;

/* An empty dataset with that encoding (validated: GB_ERR_ARG for bad step options). */
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
/* Adds the parts of one song that pass the filter (path is recorded, not read). GB_OK with
 * nothing added when no part passes. On failure nothing is added. */
gb_status gb_ds_add_song(gb_dataset *ds, const gb_song *s, const char *path, int valid,
                         gb_error *err);

/* The split itself, of n files: valid[i] = 1 for round(fraction * n) of them (at least one when
 * fraction > 0 and n >= 2, never all), chosen by a shuffle seeded with seed. Deterministic: same
 * n, fraction and seed, same split (compare --baselines repeats train's). */
gb_status gb_split_choose(size_t n, double fraction, uint64_t seed, uint8_t *valid,
                          gb_error *err);
/* Marks the files gb_split_choose picks as validation, the others as training files. */
gb_status gb_ds_split(gb_dataset *ds, double fraction, uint64_t seed, gb_error *err);

/* A hash of what training sees: the files' split and every part's steps and cells (not paths),
 * so that --resume can tell that the corpus is the same. */
uint64_t gb_ds_hash(const gb_dataset *ds);

/* Writes steps [k0, k0 + n) of a part as feature rows: step k0 + t goes to out + (t * B + b) * D
 * (zeroed first). k0 + n <= steps. */
void gb_ds_cut(const gb_dataset *ds, size_t part, size_t k0, size_t n, int B, int b, float *out);

/* The windows of one split. */
typedef struct {
    int T, stride;
    size_t n_parts;
    size_t *part;    /* (n_parts) parts with at least one window */
    uint64_t *cum;   /* (n_parts + 1) windows before each of them */
    uint64_t n;      /* windows in all */
    size_t short_parts; /* parts of the split shorter than T + 1 steps */
} gb_ds_windows;

/* Enumerates the windows of the training (valid = 0) or validation (1) files. */
gb_status gb_ds_windows_make(const gb_dataset *ds, int valid, int T, int stride,
                             gb_ds_windows *w, gb_error *err);
void gb_ds_windows_free(gb_ds_windows *w);
/* Window i: its part and first step. */
void gb_ds_window_at(const gb_ds_windows *w, uint64_t i, size_t *part, size_t *start);
/* Cuts windows ids[0..B) into buf (T+1, B, D): row t of window b is step start_b + t. */
void gb_ds_cut_batch(const gb_dataset *ds, const gb_ds_windows *w, const uint32_t *ids, int B,
                     float *buf);

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
