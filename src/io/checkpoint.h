/* checkpoint.h - a gb_lstm as a safetensors file, named as PyTorch names the module
 *
 *     lstm1 = nn.LSTMCell(Din, H); lstm2 = nn.LSTMCell(H, H); ...; fc = nn.Linear(H, Dout)
 *     (and for a NADE head: nade.W, nade.V = nn.Parameter (D, Hn) each)
 *
 * that is lstmK.weight_ih (4H, in), lstmK.weight_hh (4H, H), lstmK.bias_ih (4H),
 * lstmK.bias_hh (4H) for K = 1..L, then fc.weight (Dout, H), fc.bias (Dout), [nade.W, nade.V],
 * all F32 (lstm.h's legend), so that
 * `model.load_state_dict(safetensors.torch.load_file(path))` takes it as it is; and
 * __metadata__ strings with everything needed to use the model (gb_model_info, keys in
 * docs/formats.md).
 *
 * Resuming needs more than the best model: the optimizer state, the dropout RNG and where the
 * run stands. They go to a second file beside the model, MODEL.optim.safetensors for
 * MODEL.safetensors (gb_ckpt_optim_path). Both are written atomically (temporary file, fsync,
 * rename). Loading checks everything a damaged or hostile file can get wrong (a missing or
 * unexpected tensor, shapes that disagree with each other or with the metadata, metadata
 * numbers that do not parse or are out of range) and fails with a message that names the file. */
#ifndef GB_CHECKPOINT_H
#define GB_CHECKPOINT_H

#include "model/lstm.h"
#include "roll/dataset.h"

#define GB_CKPT_FORMAT "groovybee-1"
#define GB_CKPT_OPTIM_FORMAT "groovybee-optim-1"

/* Everything about a model that its checkpoint records: how to use it (network, loss, encoding)
 * and how it was trained (options and figures). */
typedef struct {
    char preset[16];     /* "paper", "roll", or "" when unknown */
    gb_lstm_config net;  /* D, E, H, L, dropouts, head, Hn */
    gb_loss_kind loss;
    gb_loss_on loss_on;
    gb_ds_encoding enc;  /* steps, silence, binary/velocity, onsets, part filter */
    /* training options */
    int seq, stride, batch;
    float lr, clip;      /* clip <= 0: none */
    double valid_fraction;
    int transpose;       /* training windows shifted by up to this many semitones (0: none) */
    float stretch;       /* events: training windows' times scaled by 1 +- up to this (0: none) */
    float weight_decay;  /* AdamW's decoupled decay (0: Adam) */
    float lr_decay;      /* lr multiplied by this after lr_patience epochs without improvement
                            (1: never) */
    int lr_patience;
    float ema;           /* > 0: the decay of averaged weights, which validation and the model
                            file then use (gb_ema_step); 0: none */
    uint64_t seed;
    int threads;         /* 0: the libraries' default */
    char *corpus;        /* the corpus arguments as a JSON array of strings (owned; may be NULL) */
    char *valid_corpus;  /* the validation paths given apart, likewise (NULL: none) */
    uint64_t corpus_hash; /* gb_ds_hash of the data it was trained on */
    uint64_t train_windows, valid_windows;
    /* figures of the saved weights */
    int epochs;             /* epochs of training behind them */
    double train_loss;      /* mean training loss of their epoch (NaN unknown) */
    double best_valid_loss; /* their validation loss, the best of the run (NaN: no validation) */
} gb_model_info;

/* The roll preset's values (D 128, H 256, L 1, lr 3e-3: the best of the JSB measurements in
 * bench/README.md), nothing trained yet. */
void gb_model_info_default(gb_model_info *info);
void gb_model_info_free(gb_model_info *info);
/* Checks the values a model needs (dimensions, loss, encoding, D against the encoding). */
gb_status gb_model_info_check(const gb_model_info *info, gb_error *err);

/* The corpus paths as the metadata keeps them, a JSON array of strings: ["data/jsb", "a.mid"].
 * gb_ckpt_paths_json returns a malloc'd string (NULL: out of memory); gb_ckpt_paths_parse
 * returns n malloc'd strings in *paths (free each, then the array); GB_ERR_FORMAT when json is
 * not such an array. */
char *gb_ckpt_paths_json(const char *const *paths, int n);
gb_status gb_ckpt_paths_parse(const char *json, char ***paths, int *n, gb_error *err);

/* Writes params (the model's parameter block, laid out as m->params; NULL: m->params) with
 * info as metadata. */
gb_status gb_ckpt_save(const char *path, const gb_lstm *m, const float *params,
                       const gb_model_info *info, gb_error *err);
/* Reads a model: allocates m (gb_lstm_init, then the file's parameters) and fills info (free it
 * with gb_model_info_free). D, H and L come from the tensors' shapes; metadata keys that are
 * absent take the roll preset's defaults (a file PyTorch wrote with no metadata loads as a
 * binary BCE model of sixteenth steps), keys that are present must parse and agree with the
 * shapes. On failure m and info are zeroed. */
gb_status gb_ckpt_load(const char *path, gb_lstm *m, gb_model_info *info, gb_error *err);
/* Only the metadata (the tensors are still read and checked). */
gb_status gb_ckpt_read_info(const char *path, gb_model_info *info, gb_error *err);

/* Where a training run stands after an epoch: saved in the optim file with the last
 * parameters, Adam's moments and step count. */
typedef struct {
    int epoch;            /* epochs completed */
    int best_epoch;       /* epoch of the model in the model file (0: none yet) */
    double best_loss;     /* its criterion: validation loss, or training loss without one */
    int bad_epochs;       /* epochs since the best (for --patience) */
    double train_loss;    /* of the last epoch */
    float lr;             /* the learning rate the next epoch starts with (0: the model's) */
    uint64_t corpus_hash; /* gb_ds_hash of the corpus the run trains on */
    /* the run's own budget, as its last invocation set it, so that a bare --resume keeps it
     * (0: not recorded, a file from before issue 14) */
    int run_epochs, run_patience; /* run_patience: -1 off */
    double run_target_loss;       /* -1: off */
    uint64_t run_max_windows;     /* UINT64_MAX: every window */
} gb_ckpt_progress;

/* "DIR/name.safetensors" -> "DIR/name.optim.safetensors"; any other name gets
 * ".optim.safetensors" appended. Returns a malloc'd string, NULL when out of memory. */
char *gb_ckpt_optim_path(const char *model_path);
/* The last parameters, Adam's m, v and t, the averaged weights when m->ema is set, and the
 * progress. Loading wants the ema tensor exactly when m->ema is allocated. */
gb_status gb_ckpt_save_optim(const char *path, const gb_lstm *m, const gb_ckpt_progress *pr,
                             gb_error *err);
/* Into an allocated m of the same configuration: its params, adam_m, adam_v, adam_t. */
gb_status gb_ckpt_load_optim(const char *path, gb_lstm *m, gb_ckpt_progress *pr, gb_error *err);
/* The progress alone, without the tensors: what `train --resume` needs before it builds the
 * model. */
gb_status gb_ckpt_read_progress(const char *path, gb_ckpt_progress *pr, gb_error *err);

#endif
