/* test_gemm.c - the matrix products of src/model/gemm.c against the double-precision reference,
 * in fp32 and bf16, the bf16 rounding, and the kernels line and OpenBLAS core fix.
 *
 * Error bounds (docs/testing.md), each relative to S_ij = sum_k |a_ik| |b_kj|:
 *   fp32 product against the reference:                      |c - c_ref| <= 1e-5 S
 *   bf16 product against the reference on bf16 operands:     |c - c_ref| <= 1e-5 S
 *   bf16 product against the fp32 reference (the rounding):  |c - c_ref| <= 1.01 2^-7 S
 * (bf16 keeps 8 significant bits: rounding moves an operand by at most 2^-8 of itself, a
 * product of two by (1 + 2^-8)^2 - 1 < 1.01 2^-7.) */
#include "model/gemm.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>

static float frand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void test_bf16_round(void) {
    float in[] = {1.0f, -2.5f, 0.0f, 1.00390625f /* tie: to even (1.0) */,
                  1.01171875f /* tie: to even (1.015625) */, 3.0e38f, INFINITY, NAN};
    uint16_t out[8];
    gb_bf16_round(8, in, out);
    CHECK_INT(out[0], 0x3f80);
    CHECK_INT(out[1], 0xc020);
    CHECK_INT(out[2], 0);
    CHECK_INT(out[3], 0x3f80);
    CHECK_INT(out[4], 0x3f82);
    CHECK(gb_bf16_to_f32(out[5]) > 2.9e38f && isfinite(gb_bf16_to_f32(out[5])));
    CHECK(isinf(gb_bf16_to_f32(out[6])));
    CHECK(isnan(gb_bf16_to_f32(out[7])));
    /* every rounding within half a unit in the last of bf16's 8 significant bits */
    unsigned s = 7;
    for (int i = 0; i < 10000; i++) {
        float v = frand(&s) * 1000.0f;
        uint16_t b;
        gb_bf16_round(1, &v, &b);
        CHECK(fabsf(gb_bf16_to_f32(b) - v) <= fabsf(v) * 0x1p-8f);
    }
}

/* Multiplies random (M, K) x (K, N) in every transpose layout, with a padded ld and beta 0 or
 * 1, through gb_gemm in precision p and through the reference in precision ref_p; returns the
 * largest |c - c_ref| / S. */
static double worst(gb_precision p, gb_precision ref_p, int M, int N, int K) {
    gb_gemm_ctx *x = gb_gemm_ctx_new(p);
    CHECK(x != NULL);
    double w = 0;
    unsigned s = (unsigned)(M * 31 + N * 7 + K);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int beta = 0; beta < 2; beta++) {
                int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
                size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
                float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc((size_t)M * ldc * 4);
                float *r = malloc((size_t)M * ldc * 4);
                for (size_t i = 0; i < na; i++) a[i] = frand(&s);
                for (size_t i = 0; i < nb; i++) b[i] = frand(&s);
                for (size_t i = 0; i < (size_t)M * ldc; i++) c[i] = r[i] = frand(&s);
                gb_mat A = {a, NULL, lda, ta}, B = {b, NULL, ldb, tb};
                gb_gemm(x, M, N, K, A, B, (float)beta, c, ldc);
                gb_gemm_ref(ref_p, M, N, K, A, B, (float)beta, r, ldc);
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        double S = 1e-30;
                        for (int k = 0; k < K; k++)
                            S += fabs(ta ? a[(size_t)k * lda + i] : a[(size_t)i * lda + k]) *
                                 fabs(tb ? b[(size_t)j * ldb + k] : b[(size_t)k * ldb + j]);
                        double e = fabs((double)c[(size_t)i * ldc + j] - r[(size_t)i * ldc + j]) / S;
                        if (e > w) w = e;
                    }
                free(a), free(b), free(c), free(r);
            }
    gb_gemm_ctx_free(x);
    return w;
}

static const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {16, 64, 33}, {64, 96, 128}, {1, 256, 64},
                                {70, 17, 300}};

/* fp32 through the library chosen for this process (GB_GEMM_FP32; tests/run.sh runs this
 * program with each) */
static void test_fp32(void) {
    printf("fp32 products by %s\n", gb_gemm_fp32_onednn() ? "oneDNN" : "OpenBLAS");
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        CHECK(worst(GB_PREC_FP32, GB_PREC_FP32, shapes[i][0], shapes[i][1], shapes[i][2]) <= 1e-5);
}

static void test_bf16(void) {
    if (!gb_bf16_native()) {
        printf("skip test_bf16: this CPU has no bf16 instructions (%s)\n", gb_kernels_line());
        return;
    }
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        int M = shapes[i][0], N = shapes[i][1], K = shapes[i][2];
        double same = worst(GB_PREC_BF16, GB_PREC_BF16, M, N, K);
        double vs32 = worst(GB_PREC_BF16, GB_PREC_FP32, M, N, K);
        CHECK(same <= 1e-5);
        CHECK(vs32 <= 0x1p-7 * 1.01);
        CHECK(vs32 > 1e-5 || K == 1); /* the rounding is there: bf16 is not fp32 in disguise */
    }
}

/* An operand given in bf16 already (a weight's copy) is read as given. */
static void test_bf16_given(void) {
    if (!gb_bf16_native()) return;
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, c[4], r[4];
    uint16_t bb[6];
    gb_bf16_round(6, b, bb);
    bb[0] = 0x4000; /* 2.0: different from b's f */
    gb_gemm_ctx *x = gb_gemm_ctx_new(GB_PREC_BF16);
    gb_gemm(x, 2, 2, 3, (gb_mat){a, NULL, 3, 0}, (gb_mat){b, bb, 2, 0}, 0.0f, c, 2);
    b[0] = 2;
    gb_gemm_ref(GB_PREC_FP32, 2, 2, 3, (gb_mat){a, NULL, 3, 0}, (gb_mat){b, NULL, 2, 0}, 0.0f, r, 2);
    for (int i = 0; i < 4; i++) CHECK_NEAR(c[i], r[i], 1e-6);
    gb_gemm_ctx_free(x);
}

static void test_coretype(void) {
    CHECK(gb_openblas_coretype_for("Prescott", 1, 1) != NULL);
    CHECK_STR_HAS(gb_openblas_coretype_for("Prescott", 1, 1), "SkylakeX");
    CHECK_STR_HAS(gb_openblas_coretype_for("Nehalem", 0, 1), "Haswell");
    CHECK(gb_openblas_coretype_for("Prescott", 0, 0) == NULL); /* an old CPU: Prescott is right */
    CHECK(gb_openblas_coretype_for("Cooperlake", 1, 1) == NULL);
    CHECK(gb_openblas_coretype_for("Zen", 0, 1) == NULL);
    CHECK(gb_openblas_coretype_for("Haswell", 1, 1) == NULL);
    const char *k = gb_kernels_line();
    CHECK_STR_HAS(k, "OpenBLAS");
    CHECK_STR_HAS(k, "core ");
    CHECK_STR_HAS(k, "oneDNN");
}

int main(void) {
    RUN(test_bf16_round);
    RUN(test_fp32);
    RUN(test_bf16);
    RUN(test_bf16_given);
    RUN(test_coretype);
    TEST_END();
}
