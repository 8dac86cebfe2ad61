/* vmath.h - internal: exp, sigmoid and tanh of a float, written for loops the compiler turns
 * into vector code (`#pragma omp simd`): no libm calls (gcc vectorises neither expf nor floorf
 * without -ffast-math), no branches (both sides of a choice are computed and one is selected
 * by bit masks), no float-to-int conversion. Shared by the LSTM's gate kernel (kernels.c) and
 * the NADE (nade.c).
 *
 * The operations are plain float +, -, *, / in a fixed order, and gcc contracts nothing into
 * FMAs under -std=c11, so every vector width gives the bits scalar code gives: a result does
 * not depend on which GB_VCLONES clone ran. (clang contracts by default, so there the AVX2 and
 * AVX-512 clones may differ from the baseline in the last bit.)
 *
 * Accuracy against double-precision libm (tests/test_lstm.c, test_vmath: every 1021st float of
 * magnitude <= 100, [-100, 100] in steps of 2^-10, and 0, -0, tiny, huge and infinite points),
 * measured, with the bounds the test holds in brackets:
 *   gb_vexpf      relative 8.2e-8 on [-87, 87] [1.2e-7] (libm's expf: 6.0e-8); arguments are
 *                 clamped to [-87, 87], so exp(-100) gives 1.6e-38 and exp(100) 6.1e37.
 *   gb_vsigmoidf  absolute 8.9e-8 everywhere [1.2e-7], relative 1.5e-7 for x >= -87 [2e-7]
 *                 (1 / (1 + expf(-x)): the same); below -87 it gives 1.6e-38 instead of less.
 *   gb_vtanhf     absolute 7.8e-8 [1.2e-7] and relative 1.4e-7 [2e-7] everywhere (tanhf:
 *                 1.0e-7, 1.6e-7), tiny x included: tanh(x) = x exactly for |x| < 2^-13, odd,
 *                 -0 kept (2 sigmoid(2x) - 1 would lose all of a tiny x).
 * NaN gives NaN; +-inf saturate like the clamp. */
#ifndef GB_MODEL_VMATH_H
#define GB_MODEL_VMATH_H

#include <math.h>
#include <stdint.h>

/* For the functions whose loops use these: one clone per x86-64 level, chosen when the program
 * loads (an ifunc), so one binary runs on any x86-64 and uses AVX-512 or AVX2 where there is
 * one. (-DGB_VCLONES= builds the baseline alone.) */
#ifndef GB_VCLONES
#if defined(__x86_64__) && defined(__GNUC__)
#define GB_VCLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GB_VCLONES
#endif
#endif

#define GB_VINLINE static inline __attribute__((always_inline))

typedef union {
    float f;
    uint32_t u;
} gb_vbits;

/* c ? a : b by bit masks. A float ?: would do in principle, but gcc (12, with the default
 * -ftrapping-math) often turns it into a branch around the arithmetic of one side and then will
 * not vectorise the loop ("control flow in loop"): it does not speculate float operations that
 * may trap. Masks leave no branch to make. */
GB_VINLINE float gb_vsel(int c, float a, float b) {
    gb_vbits x = {.f = a}, y = {.f = b};
    uint32_t m = -(uint32_t)c;
    x.u = (x.u & m) | (y.u & ~m);
    return x.f;
}

/* exp(x): Cody-Waite range reduction x = k ln2 + r, |r| <= ln2 / 2, Cephes' degree-6
 * polynomial for e^r, and 2^k from the exponent bits. k = round(x log2 e) comes from adding
 * 1.5 * 2^23, which leaves k in the low mantissa bits of the sum (|k| <= 126 after the clamp). */
GB_VINLINE float gb_vexpf(float x) {
    x = gb_vsel(x < -87.0f, -87.0f, x); /* NaN falls through both */
    x = gb_vsel(x > 87.0f, 87.0f, x);
    float t = x * 1.44269504f + 12582912.0f;
    float k = t - 12582912.0f;
    float r = x - k * 0.693359375f + k * 2.12194440e-4f; /* ln2 in two parts, the first exact */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    gb_vbits tk = {.f = t}, s;
    s.u = (tk.u - 0x4B400000u + 127u) << 23; /* bits of t: 0x4B400000 + k */
    return p * s.f;
}

/* 1 / (1 + exp(-x)) */
GB_VINLINE float gb_vsigmoidf(float x) { return 1.0f / (1.0f + gb_vexpf(-x)); }

/* tanh(x), on a = |x| with x's sign put back at the end (exactly odd): for a < 0.625 Cephes'
 * polynomial a + a^3 P(a^2) (no cancellation near 0: tanh(x) = x below |x| ~ 2^-12), above,
 * 1 - 2 / (exp(2a) + 1) (1 exactly from a ~ 9 on). */
GB_VINLINE float gb_vtanhf(float x) {
    float a = fabsf(x), s = x * x;
    float big = 1.0f - 2.0f / (gb_vexpf(a + a) + 1.0f);
    float q = -5.70498872745e-3f;
    q = q * s + 2.06390887954e-2f;
    q = q * s - 5.37397155531e-2f;
    q = q * s + 1.33314422036e-1f;
    q = q * s - 3.33332819422e-1f;
    float small = q * s * a + a;
    gb_vbits r = {.f = gb_vsel(a < 0.625f, small, big)}, sign = {.f = x};
    r.u |= sign.u & 0x80000000u;
    return r.f;
}

#endif
