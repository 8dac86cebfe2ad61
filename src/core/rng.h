/* rng.h - the seeded random number generator passed wherever randomness is needed
 * (xoshiro256**, seeded through splitmix64). Its state is four words, saved with checkpoints
 * so that a resumed run draws what the uninterrupted one would have. */
#ifndef GB_RNG_H
#define GB_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} gb_rng;

void gb_rng_seed(gb_rng *r, uint64_t seed);
uint64_t gb_rng_next(gb_rng *r);
/* Uniform in [0, 1) with 24 random bits (every float value it returns is exact). */
float gb_rng_float(gb_rng *r);
/* Uniform in [0, n) without modulo bias; n > 0. */
uint64_t gb_rng_below(gb_rng *r, uint64_t n);

#endif
