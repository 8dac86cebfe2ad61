/* rng.c - xoshiro256** (Blackman & Vigna), seeded by splitmix64. */
#include "core/rng.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void gb_rng_seed(gb_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t gb_rng_next(gb_rng *r) {
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

float gb_rng_float(gb_rng *r) { return (float)(gb_rng_next(r) >> 40) * (1.0f / 16777216.0f); }

uint64_t gb_rng_below(gb_rng *r, uint64_t n) {
    uint64_t limit = -n % n; /* 2^64 mod n: values below it would bias the result */
    for (;;) {
        uint64_t x = gb_rng_next(r);
        if (x >= limit) return x % n;
    }
}
