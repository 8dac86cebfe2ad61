/* train.h - the training loop: epochs of shuffled batches (forward with dropout, loss,
 * backward, optional clipping, Adam), a validation loss after each epoch, the best model kept
 * on disk, early stopping, and resumption that reproduces an uninterrupted run bit for bit.
 *
 * Per epoch e (1-based):
 *   - the training windows are shuffled by a permutation (gb_ds_perm: nothing stored per
 *     window) keyed by an RNG seeded from (seed, e), so the order depends only on the seed and
 *     the epoch, and a resumed run needs no shuffle state; with max_windows the epoch takes the
 *     first max_windows of that order (a new random subset each epoch);
 *   - batches of `batch` windows in that order; the last, smaller batch is kept (every window
 *     of the epoch is trained on; the loss is PyTorch's mean over the batch it has);
 *   - each window's dropout masks, and its transposition and time stretch (info->transpose,
 *     info->stretch), come from RNGs seeded from (seed, e, its position in the epoch's order):
 *     a window is dropped and augmented alike whichever batch, rank or resumed run trains it;
 *   - Adam (AdamW with info->weight_decay) at a learning rate that falls by info->lr_decay
 *     after every info->lr_patience epochs without improvement (saved in the optim file);
 *   - the validation loss: evaluation mode (no dropout), every validation window (or, with
 *     max_windows, the same seeded subset of that many each epoch), the mean over windows;
 *   - the criterion is the validation loss, or the training loss when there are no validation
 *     windows. When it improves on the best so far, the model file is rewritten with these
 *     weights; then, every epoch, the optim file gets the last weights, Adam's state, the
 *     dropout RNG and the progress. The model file goes first: if the run is interrupted
 *     between the two writes, the resumed run recomputes that epoch, identically, and rewrites
 *     both. So the model file always holds the best model and the optim file the last state.
 * Stops: `epochs` reached (counting epochs before a resume), the training loss below
 * target_loss, `patience` epochs without improvement, or a loss (or gradient norm) that is NaN
 * or infinite, which ends the run at once without writing anything more: the files on disk stay
 * those of the last good epoch.
 *
 * Bit-identical resumption needs the same corpus (checked by gb_ds_hash), the same
 * configuration (taken from the checkpoint) and the same thread count (OpenBLAS splits its
 * sums by thread).
 *
 * Data-parallel training (opts.dist, a job of several ranks, dist.h): every rank runs this loop
 * on the same epochs, orders and batches. Each takes a slice of each batch (or with shard, the
 * windows of the batch that its shard of the files holds), runs forward and backward on it, and
 * the ranks sum the batch's loss (its pieces' losses times their rows) and their gradients
 * (each scaled by its rows' share of the batch's) with MPI_Allreduce on the flat gradient
 * block; every rank then clips and takes the same Adam step. The validation batches are shared
 * out and their losses summed. So N ranks give one process's losses up to the order of the
 * fp32 sums (docs/testing.md states the bound), and rank 0 alone logs, reports progress and
 * writes the files. A rank's error ends only that rank's call: the caller ends the job
 * (gb_dist_abort), since the others would wait for it. */
#ifndef GB_TRAIN_H
#define GB_TRAIN_H

#include "dist/dist.h"
#include "io/checkpoint.h"

/* gb_train_progress, gb_train_progress_fn, gb_train_stop and gb_train_result are public
 * (include/groovybee.h). */

typedef struct {
    const char *model_path; /* MODEL.safetensors; the optim file goes beside it */
    int epochs;             /* the last epoch to train (a resumed run continues up to it) */
    int patience;           /* stop after this many epochs without improvement; 0: never */
    double target_loss;     /* > 0: stop once an epoch's training loss is below it */
    uint64_t max_windows;   /* > 0: at most this many training (and validation) windows an
                               epoch */
    int resume;             /* continue from model_path's optim file */
    gb_precision precision; /* of the products (model/gemm.h); 0: fp32. A resumed run is
                               bit-identical only in the precision it began with */
    const char *log_path;   /* JSONL, one object per epoch (appended to on resume); NULL: none */
    gb_train_progress_fn progress; /* may be NULL */
    void *ctx;
    /* for tests: called before each batch's forward with the model, which it may change */
    void (*hook)(void *ctx, int epoch, uint64_t batch, gb_lstm *m);
    const gb_dist *dist;    /* the job (NULL: one process) */
    int shard;              /* each rank's ds holds only its shard of the corpus: the ranks'
                               files in rank order make the corpus (gb_ds_split_range) */
} gb_train_opts;

/* Trains on ds with the configuration in info (net, loss, seq, stride, batch, lr, clip, seed;
 * on resume, info must be the checkpoint's, from gb_ckpt_read_info). info's figures
 * (corpus_hash, windows, epochs, losses) are updated as the model file is written. A
 * non-finite loss is not an error: GB_OK with res->stop == GB_STOP_NONFINITE. Errors: no
 * training windows (GB_ERR_ARG), a corpus other than the one being resumed (GB_ERR_ARG),
 * checkpoint and log files that cannot be read or written. */
gb_status gb_train(const gb_dataset *ds, gb_model_info *info, const gb_train_opts *o,
                   gb_train_result *res, gb_error *err);

/* The RNG seeds the run derives from its seed: weights, dropout, each epoch's shuffle, the
 * validation subset. */
uint64_t gb_train_seed(uint64_t seed, uint64_t stream, uint64_t index);
enum { GB_SEED_INIT = 1, GB_SEED_DROPOUT = 2, GB_SEED_SHUFFLE = 3, GB_SEED_VALID = 4,
       GB_SEED_AUG = 5 };

#endif
