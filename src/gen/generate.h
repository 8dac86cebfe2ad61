/* generate.h - new music from a trained model: the report's procedure. A primer (a window of
 * real music) is fed to the network from zero states; then each prediction is fed back as the
 * next input for as many steps as asked, states carried (src/model/stream.h).
 *
 * What is fed back: velocity (MSE) models feed back the predicted velocities as they are, as the
 * report did; binary (BCE) models draw each feature from its probability, sigmoid(logit /
 * temperature), or take p >= 0.5 at temperature 0, and feed back the drawn 0/1 row; with a NADE
 * head the features are drawn one after the other, each conditioned on those drawn before it
 * (nade.h), so that the notes of a chord are drawn together. With meter inputs, the fed-back
 * row carries the meter of its step, counted on from the primer's. With onset
 * features (D = 256) the drawn row is made consistent before it goes back: an onset only where
 * its pitch sounds, and always where a pitch starts to sound. The rows fed back are the music;
 * gb_gen_decode turns them into notes. */
#ifndef GB_GEN_GENERATE_H
#define GB_GEN_GENERATE_H

#include "gen/key.h"
#include "model/lstm.h"
#include "roll/dataset.h"

/* Where generated steps sit in the meter: step k generated is step `step` + k of that part of
 * ds (gb_ds_meter_row goes on past its end). */
typedef struct {
    const gb_dataset *ds;
    size_t part;
    uint64_t step;
} gb_gen_meter;

/* Feeds primer (T rows of Din features, T >= 1) then generates n steps into out (n, D). Models
 * with meter inputs (E > 0) need meter: the meter of the steps fed back. rng draws the samples of
 * binary models (unused for MSE, and at temperature 0: then each feature, or each conditional of
 * a NADE, is on where its probability is >= 0.5). prec: the network's precision (stream.h:
 * GB_PREC_FP32, 0, or GB_PREC_BF16: weights read in bf16, other draws than fp32's). */
gb_status gb_generate(const gb_lstm *m, gb_loss_kind loss, const float *primer, int T, int n,
                      float temperature, const gb_gen_meter *meter, gb_rng *rng,
                      gb_precision prec, float *out, gb_error *err);

/* How a softmax model's next token is drawn (gb_softmax_filter's rules). */
typedef struct {
    float temperature; /* the logits divided by it; <= 0: the most likely token */
    int top_k;         /* only the k most likely tokens (0: all) */
    float top_p;       /* then the fewest most likely ones holding this mass (0 or >= 1: all) */
} gb_gen_sampling;

#define GB_GEN_MAX_PROGRAMS 15 /* melodic instruments a generated ensemble may play: MIDI's
                                 channels but drums' */

/* Token models (V > 0 and a softmax head: performance events): feeds the primer's T >= 1 tokens,
 * then draws the next token (one number of rng each, none when greedy) and feeds it back, until
 * max_events tokens are drawn or, when max_steps > 0, the drawn TIME_SHIFTs reach max_steps steps
 * of 10 ms (the last one cut to end there exactly). With the ensemble vocabulary, once primer and
 * draws hold GB_GEN_MAX_PROGRAMS melodic programs, no PROGRAM token of another melodic program
 * is drawn (its probability goes to the others), so that the stream decodes to a MIDI file.
 * out: room for max_events tokens; *n_out the count drawn. A primer token outside 0..V-1 is
 * GB_ERR_ARG. */
gb_status gb_generate_tokens(const gb_lstm *m, const uint16_t *primer, int T, int max_events,
                             uint64_t max_steps, const gb_gen_sampling *smp, gb_rng *rng,
                             gb_precision prec, uint16_t *out, int *n_out, gb_error *err);

/* Rows (n, D) -> the notes of a part, step k starting at tick k * step_ticks. Binary rows: a
 * pitch sounds where its feature is >= 0.5, at `velocity`; with onsets (D = 256) a re-struck
 * note is two notes. Velocity rows: velocity round(127 v), silence where v < threshold. key
 * (NULL: none) moves every off-key pitch to the nearest pitch of the key (gb_key_fix) before the
 * notes are formed, so that a moved note merges with one already there. */
gb_status gb_gen_decode(const float *rows, int n, int D, int binary, float threshold,
                        int velocity, const gb_key *key, uint64_t step_ticks, gb_part *out,
                        gb_error *err);

/* A random window of T steps among those of the dataset's files (every file, whatever its
 * split) that has at least one sounding step (events: a NOTE_ON), when there is one: *part and
 * *start. GB_ERR_ARG when no part has T steps. */
gb_status gb_gen_pick_primer(const gb_dataset *ds, int T, gb_rng *rng, size_t *part,
                             size_t *start, gb_error *err);

#endif
