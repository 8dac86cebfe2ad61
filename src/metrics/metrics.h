/* metrics.h - how close generated music is to a corpus, in the figures the field publishes
 * (docs/metrics.md defines each one exactly).
 *
 * - Features of a piece (features.c): Yang & Lerch (2018) and MusPy (Dong et al. 2020), over the
 *   piece's non-drum notes, every part merged.
 * - Two sets compared (compare.c): Yang & Lerch's protocol. For each feature, the distances
 *   between the pieces of the reference (intra-set) and between each generated piece and each
 *   reference piece (inter-set), smoothed by Gaussian kernels; the KL divergence of the
 *   inter-set density from the intra-set one and the area the two densities share.
 * - Copying (copying.c): the longest stretch of a generated piece that stands verbatim in the
 *   reference, and the share of its 4-bar windows found there. */
#ifndef GB_METRICS_H
#define GB_METRICS_H

#include "core/rng.h"
#include "groovybee.h"

/* ------------------------------------------------------------------------------------------ */
/* features of one piece */

typedef enum {
    GB_F_PITCH_COUNT,    /* Yang & Lerch PC: distinct pitches */
    GB_F_PC_HIST,        /* PCH: 12 pitch-class shares of the notes */
    GB_F_PC_TRANS,       /* PCTM: 12 x 12 pitch-class transition shares */
    GB_F_PITCH_RANGE,    /* PR: highest - lowest pitch, semitones */
    GB_F_PITCH_INTERVAL, /* PI: mean |interval| between consecutive notes, semitones */
    GB_F_NOTE_COUNT,     /* NC */
    GB_F_IOI,            /* IOI: mean inter-onset interval, quarter notes */
    GB_F_LENGTH_HIST,    /* NLH: 12 note-length classes */
    GB_F_POLYPHONY,      /* MusPy: mean pitches sounding while any does */
    GB_F_POLY_RATE,      /* share of the time two pitches or more sound */
    GB_F_SCALE,          /* scale consistency: best share of notes in one major/minor scale */
    GB_F_PITCH_ENTROPY,  /* bits, over the 128 pitches */
    GB_F_PC_ENTROPY,     /* bits, over the 12 pitch classes */
    GB_F_EMPTY_BEAT,     /* share of beats where nothing sounds */
    GB_F_GROOVE,         /* groove consistency: 1 - mean Hamming distance of next bars' onsets */
    GB_F_COUNT
} gb_feature_id;

typedef struct {
    const char *key;    /* JSON key: "pitch_count" */
    const char *name;   /* for people: "pitch count" */
    const char *source; /* "Yang & Lerch" or "MusPy" */
    const char *unit;   /* "", "semitones", "quarters", "bits", "share" */
    int dim;            /* 1 for a number; 12 or 144 for a histogram */
    int offset;         /* where its values start in gb_piece_features.v */
} gb_feature_info;

#define GB_FEATURE_DIMS (1 + 12 + 144 + 1 + 1 + 1 + 1 + 12 + 7)
extern const gb_feature_info gb_features[GB_F_COUNT];

/* The 12 note-length classes of GB_F_LENGTH_HIST in quarter notes, and their names. */
extern const double gb_length_classes[12];
extern const char *const gb_length_class_names[12];

/* Why a feature has no value for a piece (never a NaN without a reason). */
typedef enum {
    GB_UNDEF_NONE = 0,
    GB_UNDEF_NO_NOTES,      /* the piece has no non-drum note */
    GB_UNDEF_ONE_NOTE,      /* an interval needs two notes */
    GB_UNDEF_ONE_ONSET,     /* an inter-onset interval needs two onset times */
    GB_UNDEF_ONE_BAR,       /* groove consistency needs two bars */
    GB_UNDEF_COUNT
} gb_undef;
const char *gb_undef_str(gb_undef u); /* "the piece has no notes" ... */

typedef struct {
    double v[GB_FEATURE_DIMS];   /* values; those of an undefined feature are 0 */
    uint8_t undef[GB_F_COUNT];   /* gb_undef per feature */
} gb_piece_features;

/* A piece as the features see it: the non-drum notes of every part merged, sorted by start then
 * pitch, with the song's grid and its first time signature (4/4 when it has none). */
typedef struct {
    gb_note *notes;
    size_t n;
    int tpq;              /* ticks per quarter note */
    int bar_num, bar_den; /* time signature: a bar is bar_num * 4 / bar_den quarter notes */
} gb_piece_notes;

gb_status gb_piece_notes_of(const gb_song *s, gb_piece_notes *out, gb_error *err);
/* The notes starting in ticks [t0, t0 + len), moved to start at 0, their ends cut at len. */
gb_status gb_piece_notes_cut(const gb_piece_notes *p, uint64_t t0, uint64_t len,
                             gb_piece_notes *out, gb_error *err);
/* The floor baseline: a piece of random notes with p's note density. As many notes over the
 * same span (0 to p's last note end), onsets uniform on a grid of steps_per_beat steps a quarter
 * note, pitches uniform over p's range, lengths p's own lengths shuffled. */
gb_status gb_piece_notes_random(const gb_piece_notes *p, int steps_per_beat, gb_rng *rng,
                                gb_piece_notes *out, gb_error *err);
void gb_piece_notes_free(gb_piece_notes *p);

/* The features of a piece. steps_per_beat is the grid of groove consistency's onset patterns
 * (docs/metrics.md). */
gb_status gb_features_of(const gb_piece_notes *p, int steps_per_beat, gb_piece_features *out,
                         gb_error *err);

/* ------------------------------------------------------------------------------------------ */
/* copying */

typedef struct {
    /* the longest stretch of one part of the piece, on the grid, that stands verbatim in one
     * part of a reference piece (pitches sounding at each step compared, velocities not), from a
     * sounding step to a sounding step; 0 when no sounding step is found at all */
    uint64_t longest;
    int gen_part;                /* where it is: the part of the generated song ... */
    uint64_t gen_step;           /* ... and its first step */
    size_t ref_piece;            /* the reference piece (the index passed to gb_copy_add) */
    int ref_part;                /* its part (index in gb_song.parts) */
    uint64_t ref_step;
    uint64_t span;               /* the longest it could be: the piece's longest part from its
                                    first sounding step to its last */
    int whole;                   /* 1: every part with a note is found from its first sounding
                                    step to its last (the piece is a copy) */
    uint64_t windows;            /* 4-bar windows of the parts with a sounding step ... */
    uint64_t windows_found;      /* ... and those found verbatim in the reference */
} gb_copy_result;

typedef struct gb_copy_index gb_copy_index;

/* An empty index of reference music on a grid of steps_per_beat steps a quarter note. */
gb_status gb_copy_new(int steps_per_beat, gb_copy_index **out, gb_error *err);
/* Adds the non-drum parts of reference piece number piece. */
gb_status gb_copy_add(gb_copy_index *ix, const gb_song *s, size_t piece, gb_error *err);
/* Finds a generated song's parts in the reference (every gb_copy_add done before). */
gb_status gb_copy_find(gb_copy_index *ix, const gb_song *s, gb_copy_result *out,
                       gb_error *err);
void gb_copy_free(gb_copy_index *ix);

/* ------------------------------------------------------------------------------------------ */
/* sets of pieces and their comparison */

typedef struct {
    char *path;
    char *id;             /* the real path: a file given in both sets is not compared with
                             itself */
    gb_piece_features f;
    int has_copy;         /* copy is filled (generated pieces) */
    gb_copy_result copy;
} gb_piece;

typedef struct {
    char label[64];
    gb_piece *pieces;
    size_t n, cap;
    size_t seen, skipped; /* MIDI files found and those skipped (unreadable) */
} gb_piece_set;

gb_status gb_piece_set_add(gb_piece_set *set, const char *path, const char *id,
                           const gb_piece_features *f, gb_error *err);
void gb_piece_set_free(gb_piece_set *set);

/* Mean and standard deviation (n - 1 in the denominator; 0 for one piece) of each value over
 * the pieces where its feature is defined, and how many those are. */
typedef struct {
    size_t n[GB_F_COUNT];
    double mean[GB_FEATURE_DIMS], sd[GB_FEATURE_DIMS];
} gb_set_stats;
void gb_set_stats_of(const gb_piece_set *set, gb_set_stats *out);

/* Distances: the absolute difference of numbers, the Euclidean distance of histograms.
 * Pairs beyond GB_CMP_MAX_PAIRS are thinned to that many, evenly through their order. */
#define GB_CMP_MAX_PAIRS 4000

typedef struct {
    size_t n_intra, n_inter;        /* distances of each kind (intra: ordered pairs) */
    double intra_mean, intra_sd;    /* reference intra-set distances */
    double inter_mean, inter_sd;
    int defined;                    /* KL and OA computed; else why says why not */
    const char *why;
    double kl;                      /* KL(intra || inter), nats */
    double oa;                      /* overlapping area of the two densities, 0..1 */
} gb_feature_cmp;

typedef struct {
    gb_set_stats gen, ref;
    gb_feature_cmp f[GB_F_COUNT];
} gb_set_cmp;

gb_status gb_compare_sets(const gb_piece_set *gen, const gb_piece_set *ref, gb_set_cmp *out,
                          gb_error *err);

/* The density, by Gaussian kernels with Scott's bandwidth, of x[0..n) (compare.c; docs/metrics.md
 * says how a sample without spread is smoothed): KL(p || q) and the overlapping area of p's and
 * q's densities. n_p, n_q >= 1. */
void gb_kde_compare(const double *p, size_t n_p, const double *q, size_t n_q, double *kl,
                    double *oa);

#endif
