/* quantise.h - ticks to piano-roll steps, one rule for gb_roll_encode and the dataset
 * (docs/formats.md): step(t) = round(t * num / den), halves up, exact in 64-bit integers, and
 * a note occupies steps [step(start), max(step(end), step(start) + 1)). */
#ifndef GB_QUANTISE_H
#define GB_QUANTISE_H

#include "core/core.h"

typedef struct {
    uint64_t num, den;
} gb_quantiser;

/* From the encoding options: a step of o->step_ticks raw ticks, else o->steps_per_beat (0: 4)
 * steps per quarter note of s (which may be NULL only with step_ticks). */
gb_status gb_quantiser_of(const gb_song *s, const gb_roll_opts *o, gb_quantiser *q,
                          gb_error *err);
/* The step of tick t; a result near 2^64 saturates to UINT64_MAX. */
uint64_t gb_quantise(const gb_quantiser *q, uint64_t t);
/* The steps [*a, *b) a note occupies: at least one, so that short notes never vanish. */
void gb_note_steps(const gb_quantiser *q, const gb_note *n, uint64_t *a, uint64_t *b);

#endif
