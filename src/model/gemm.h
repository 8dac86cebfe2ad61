/* gemm.h - internal: the one place where the model's matrix products run, in either precision,
 * and where the kernels behind them are named (not public API).
 *
 *   fp32  OpenBLAS's cblas_sgemm (its kernels picked for the CPU when the library loads; see
 *         gb_openblas_coretype_fix for the CPUs its detection misses).
 *   bf16  oneDNN's matmul: both operands rounded to bfloat16 (nearest even), products summed
 *         in fp32, fp32 out: the mixed-precision recipe of Kalamkar et al. 2019 (fp32 master
 *         weights, optimizer and cell state stay fp32 in the callers). Only offered on a CPU
 *         with bf16 instructions (AVX512-BF16 or AMX): elsewhere oneDNN would emulate it.
 *
 * gb_gemm_ref is the oracle: plain loops accumulating in double, over the same bf16-rounded
 * operands in bf16 mode, so the fast paths are tested against it to fp32 rounding. */
#ifndef GB_MODEL_GEMM_H
#define GB_MODEL_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "groovybee.h" /* gb_precision */

/* A product's operand: row-major float, and optionally the same values already rounded to
 * bf16 in the same layout (bf: a weight matrix kept in bf16 between updates), which bf16 mode
 * reads instead of converting f itself. */
typedef struct {
    const float *f;
    const uint16_t *bf;
    int ld;
    int trans; /* the product uses the transpose of the stored matrix */
} gb_mat;

/* Per-caller state of the bf16 path: oneDNN primitives by shape, conversion scratch. One per
 * thread that multiplies; NULL-safe to free. */
typedef struct gb_gemm_ctx gb_gemm_ctx;
gb_gemm_ctx *gb_gemm_ctx_new(gb_precision p);
void gb_gemm_ctx_free(gb_gemm_ctx *x);
gb_precision gb_gemm_ctx_precision(const gb_gemm_ctx *x);
/* Whether x's products run on oneDNN (in libgomp's OpenMP pool), not OpenBLAS (NULL: 0). */
int gb_gemm_ctx_onednn(const gb_gemm_ctx *x);

/* C (M, N) = op(A) (M, K) op(B) (K, N) + beta C, beta 0 or 1, C row-major with ldc. In bf16
 * mode the operands are rounded to bf16 (ctx NULL: fp32). */
void gb_gemm(gb_gemm_ctx *x, int M, int N, int K, gb_mat A, gb_mat B, float beta, float *C,
             int ldc);
void gb_gemm_ref(gb_precision p, int M, int N, int K, gb_mat A, gb_mat B, float beta, float *C,
                 int ldc);

/* n floats to bf16, round to nearest even (NaN stays NaN). */
void gb_bf16_round(size_t n, const float *src, uint16_t *dst);
float gb_bf16_to_f32(uint16_t b);

/* Whether fp32 products go through oneDNN's matmul rather than OpenBLAS: the environment's
 * GB_GEMM_FP32=onednn|openblas (benchmarks and tests compare the two), else the default chosen
 * by measurement (bench/README.md). */
int gb_gemm_fp32_onednn(void);

/* Whether this CPU runs bf16 products natively (oneDNN's ISA has AVX512-BF16 or AMX). */
int gb_bf16_native(void);
/* Whether bf16 products are the faster choice here, the default of --precision auto: native,
 * and measured faster than fp32 on such a CPU: with AMX (Intel's figures in issue 11: 4.7x on
 * a 768x512x2048 product), or an AMD CPU with AVX512-BF16 (Zen 4: 1.5-2x a training step,
 * bench/README.md). Not on an Intel CPU with AVX512-BF16 and no AMX, where it measured no
 * faster than fp32 (issue 11). */
int gb_bf16_faster(void);
/* One line naming the kernels in use: OpenBLAS's version, core and threading, oneDNN's version
 * and ISA, e.g. "OpenBLAS 0.3.21 (core Cooperlake, pthreads, 2 threads); oneDNN 2.6.3
 * (avx512_core_bf16)". Static storage. */
const char *gb_kernels_line(void);

/* When OpenBLAS has fallen back to a generic core (its detection predates this CPU) on a CPU
 * with AVX-512 or AVX2, the OPENBLAS_CORETYPE that fixes it ("SkylakeX", "Haswell"), else
 * NULL. corename: openblas_get_corename(); avx512, avx2: the CPU's features. Pure, for tests. */
const char *gb_openblas_coretype_for(const char *corename, int avx512, int avx2);
/* Called first thing in main: when gb_openblas_coretype_for names a core and the environment
 * sets no OPENBLAS_CORETYPE (a user's or the system's value is never overridden), sets it and
 * re-executes the program (OpenBLAS reads it in its library constructor, so only a new process
 * sees it). Returns only when nothing needed doing, or the re-exec failed. */
void gb_openblas_coretype_fix(char **argv);

#endif
