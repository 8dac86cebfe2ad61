/* api.h - internal: what the public API's opaque types hold (include/groovybee.h, "Models").
 * src/api/ is the library's top layer, the one the CLI's generate, train, eval and compare
 * call: model.c (loading, precision), generate.c, train.c (configuration and runs), and the
 * evaluation and comparison of music. */
#ifndef GB_API_H
#define GB_API_H

#include "dist/dist.h"
#include "io/checkpoint.h"
#include "metrics/metrics.h"

struct gb_model {
    char *path;
    gb_lstm net;
    gb_model_info info;
};

/* ---- evaluation (eval.c) */

/* gb_model_eval with the parts shared out over the ranks of dist (`groovybee eval` under
 * mpirun): every rank calls it with the same arguments, runs parts i with i % size == rank, and
 * gets the whole result, the ranks' sums added up: one process's figures, bit for bit. When a
 * rank read other files than rank 0, every rank fails (GB_ERR_IO). *together tells whether a
 * failure came to every rank alike (bad options, no part to evaluate); otherwise the others
 * may be waiting for this rank, and the caller ends the job (gb_dist_abort). */
gb_status gb_model_eval_dist(const gb_model *m, const char *const *paths, size_t n,
                             const gb_eval_opts *o, const gb_dist *dist, gb_eval_result *out,
                             int *together, gb_error *err);

/* ---- comparison (compare.c) */


/* The reference's files as read. */
typedef struct {
    gb_strs files;    /* the files read, in order: gb_copy_result.ref_piece indexes them */
    size_t *file_of;      /* (ref.n) the file of each piece */
    size_t file_cap;
    gb_piece_notes *kept; /* (files.n) with keep_notes: each file's notes, for the floor */
} gb_cmp_files;

typedef struct {
    gb_piece_set set;
    gb_set_cmp cmp;       /* set against the reference */
} gb_cmp_gen;

/* The baselines: the ceiling (the reference's validation files against its training files,
 * split as `train` splits) and the floor (random notes with the density of those validation
 * pieces, against the training files). */
typedef struct {
    gb_piece_set train, valid, floor;
    gb_set_cmp ceiling_cmp, floor_cmp;
} gb_cmp_baselines;

struct gb_comparison {
    gb_compare_opts o;
    int keep_notes;       /* keep the reference's notes (the baselines need them) */
    gb_copy_index *ix;    /* the reference's frames; NULL: no copy search */
    gb_piece_set ref;
    gb_cmp_files ref_files;
    gb_cmp_gen *gen;      /* (n_gen) the generated sets, in the order added */
    size_t n_gen, cap_gen;
    gb_cmp_baselines *base; /* NULL until gb_comparison_baselines */
};

/* gb_compare_paths in steps, for the CLI, which reports the reference before reading the
 * generated sets (gb_comparison_add) and may want the baselines. */
gb_status gb_comparison_new(const gb_compare_opts *o, int keep_notes, gb_comparison **out,
                            gb_error *err);
gb_status gb_comparison_read_reference(gb_comparison *c, const char *const *paths, size_t n,
                                       gb_error *err);
/* Makes c->base (c made with keep_notes; the split of gb_split_choose by fraction and seed). */
gb_status gb_comparison_baselines(gb_comparison *c, double fraction, uint64_t seed,
                                  gb_error *err);

/* Adds the pieces of notes p to set, with their features: the whole, or with o.segment its
 * segments with notes. file_ix records the file each piece came from (NULL: not needed). */
gb_status gb_comparison_add_pieces(const gb_comparison *c, gb_piece_set *set, const char *path,
                                   const char *id, const gb_piece_notes *p, size_t file,
                                   size_t **file_ix, size_t *file_cap, gb_error *err);

/* The copy results of a set's pieces, summed. */
typedef struct {
    size_t n, whole;          /* pieces searched, pieces that are copies */
    uint64_t longest;         /* the longest stretch of any */
    uint64_t windows, found;  /* their 4-bar windows, and those found */
} gb_cmp_copy_sum;
gb_cmp_copy_sum gb_comparison_copy_sum(const gb_piece_set *set);

#endif
