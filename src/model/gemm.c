/* gemm.c - the model's matrix products (gemm.h): OpenBLAS in fp32, oneDNN's matmul in bf16, the
 * double-precision reference, and the line that names the kernels. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "model/gemm.h"

#include <cblas.h>
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* fp32 products through oneDNN unless GB_GEMM_FP32 says otherwise (bench/README.md) */
#define GB_FP32_ONEDNN_DEFAULT 1

/* ---- bf16 ---- */

void gb_bf16_round(size_t n, const float *src, uint16_t *dst) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        uint32_t nan = (u & 0x7fffffffu) > 0x7f800000u;
        uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
        dst[i] = (uint16_t)(nan ? (u >> 16) | 0x40u : r);
    }
}

float gb_bf16_to_f32(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* rows x cols of a row-major matrix with leading dimension ld, as stored */
static void stored_shape(int M, int K, gb_mat a, int *rows, int *cols) {
    *rows = a.trans ? K : M;
    *cols = a.trans ? M : K;
}

/* ---- reference ---- */

static double ref_at(gb_precision p, gb_mat a, int i, int k) {
    float v = a.trans ? a.f[(size_t)k * a.ld + i] : a.f[(size_t)i * a.ld + k];
    if (p == GB_PREC_BF16) {
        uint16_t b;
        gb_bf16_round(1, &v, &b);
        v = gb_bf16_to_f32(b);
    }
    return v;
}

void gb_gemm_ref(gb_precision p, int M, int N, int K, gb_mat A, gb_mat B, float beta, float *C,
                 int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = beta != 0.0f ? (double)beta * C[(size_t)i * ldc + j] : 0.0;
            for (int k = 0; k < K; k++) {
                /* op(B) (K, N): element (k, j) */
                gb_mat bt = B;
                bt.trans = !B.trans;
                s += ref_at(p, A, i, k) * ref_at(p, bt, j, k);
            }
            C[(size_t)i * ldc + j] = (float)s;
        }
}

/* ---- oneDNN ---- */

enum { CACHE = 48 };

typedef struct {
    int M, N, K, lda, ldb, ldc, ta, tb, sum;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
} entry;

struct gb_gemm_ctx {
    gb_precision prec;
    int onednn; /* products through oneDNN (bf16 always; fp32 when gb_gemm_fp32_onednn()) */
    dnnl_engine_t eng;
    dnnl_stream_t st;
    entry e[CACHE];
    int n, next;
    uint16_t *scratch[2]; /* A's and B's conversions */
    size_t cap[2];
};

static void entry_free(entry *e) {
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->a) dnnl_memory_destroy(e->a);
    if (e->b) dnnl_memory_destroy(e->b);
    if (e->c) dnnl_memory_destroy(e->c);
    memset(e, 0, sizeof *e);
}

gb_gemm_ctx *gb_gemm_ctx_new(gb_precision p) {
    gb_gemm_ctx *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->prec = p;
    x->onednn = p == GB_PREC_BF16 || gb_gemm_fp32_onednn();
    if (x->onednn &&
        (dnnl_engine_create(&x->eng, dnnl_cpu, 0) != dnnl_success ||
         dnnl_stream_create(&x->st, x->eng, dnnl_stream_default_flags) != dnnl_success)) {
        gb_gemm_ctx_free(x);
        return NULL;
    }
    return x;
}

void gb_gemm_ctx_free(gb_gemm_ctx *x) {
    if (!x) return;
    for (int i = 0; i < x->n; i++) entry_free(&x->e[i]);
    if (x->st) dnnl_stream_destroy(x->st);
    if (x->eng) dnnl_engine_destroy(x->eng);
    free(x->scratch[0]), free(x->scratch[1]);
    free(x);
}

gb_precision gb_gemm_ctx_precision(const gb_gemm_ctx *x) { return x ? x->prec : GB_PREC_FP32; }
int gb_gemm_ctx_onednn(const gb_gemm_ctx *x) { return x && x->onednn; }

/* The memory descriptor of op(a) (rows, cols as the product sees them) in bf16 or fp32 */
static dnnl_status_t desc(dnnl_memory_desc_t *md, int r, int c, int ld, int trans,
                          dnnl_data_type_t dt) {
    dnnl_dims_t dims = {r, c};
    dnnl_dims_t strides = {trans ? 1 : ld, trans ? ld : 1};
    return dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides);
}

static entry *primitive(gb_gemm_ctx *x, int M, int N, int K, gb_mat A, gb_mat B, int sum,
                        int ldc) {
    for (int i = 0; i < x->n; i++) {
        entry *e = &x->e[i];
        if (e->M == M && e->N == N && e->K == K && e->lda == A.ld && e->ldb == B.ld &&
            e->ldc == ldc && e->ta == A.trans && e->tb == B.trans && e->sum == sum)
            return e;
    }
    entry *e = &x->e[x->n < CACHE ? x->n++ : (x->next++ % CACHE)];
    entry_free(e);
    dnnl_memory_desc_t ma, mb, mc;
    dnnl_matmul_desc_t md;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_data_type_t dt = x->prec == GB_PREC_BF16 ? dnnl_bf16 : dnnl_f32;
    int ok = desc(&ma, M, K, A.ld, A.trans, dt) == dnnl_success &&
             desc(&mb, K, N, B.ld, B.trans, dt) == dnnl_success &&
             desc(&mc, M, N, ldc, 0, dnnl_f32) == dnnl_success &&
             dnnl_matmul_desc_init(&md, &ma, &mb, NULL, &mc) == dnnl_success &&
             dnnl_primitive_attr_create(&attr) == dnnl_success;
    if (ok && sum)
        ok = dnnl_post_ops_create(&po) == dnnl_success &&
             dnnl_post_ops_append_sum(po, 1.0f) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    ok = ok && dnnl_primitive_desc_create(&pd, &md, attr, x->eng, NULL) == dnnl_success &&
         dnnl_primitive_create(&e->prim, pd) == dnnl_success &&
         dnnl_memory_create(&e->a, &ma, x->eng, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&e->b, &mb, x->eng, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&e->c, &mc, x->eng, DNNL_MEMORY_NONE) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (!ok) {
        entry_free(e);
        return NULL;
    }
    *e = (entry){M, N, K, A.ld, B.ld, ldc, A.trans, B.trans, sum, e->prim, e->a, e->b, e->c};
    return e;
}

/* op(a) (R, C) in bf16: its own bf copy, or a conversion of f into scratch, same layout */
static const uint16_t *as_bf16(gb_gemm_ctx *x, int slot, int R, int C, gb_mat a) {
    if (a.bf) return a.bf;
    int rows, cols;
    stored_shape(R, C, a, &rows, &cols);
    size_t n = (size_t)(rows - 1) * a.ld + cols;
    if (n > x->cap[slot]) {
        uint16_t *p = realloc(x->scratch[slot], n * sizeof *p);
        if (!p) return NULL;
        x->scratch[slot] = p, x->cap[slot] = n;
    }
    uint16_t *d = x->scratch[slot];
    if (cols == a.ld) {
        gb_bf16_round(n, a.f, d);
    } else {
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= 65536)
        for (int r = 0; r < rows; r++)
            gb_bf16_round((size_t)cols, a.f + (size_t)r * a.ld, d + (size_t)r * a.ld);
    }
    return d;
}

static int onednn_gemm(gb_gemm_ctx *x, int M, int N, int K, gb_mat A, gb_mat B, float beta,
                       float *C, int ldc) {
    entry *e = primitive(x, M, N, K, A, B, beta != 0.0f, ldc);
    const void *a = NULL, *b = NULL;
    if (e && x->prec == GB_PREC_BF16) {
        a = as_bf16(x, 0, M, K, A);
        b = a ? as_bf16(x, 1, K, N, B) : NULL;
    } else if (e) {
        a = A.f, b = B.f;
    }
    if (!b) return 0;
    dnnl_memory_set_data_handle(e->a, (void *)a);
    dnnl_memory_set_data_handle(e->b, (void *)b);
    dnnl_memory_set_data_handle(e->c, C);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b}, {DNNL_ARG_DST, e->c}};
    return dnnl_primitive_execute(e->prim, x->st, 3, args) == dnnl_success &&
           dnnl_stream_wait(x->st) == dnnl_success;
}

void gb_gemm(gb_gemm_ctx *x, int M, int N, int K, gb_mat A, gb_mat B, float beta, float *C,
             int ldc) {
    if (M <= 0 || N <= 0) return;
    if (x && x->onednn && K > 0 && onednn_gemm(x, M, N, K, A, B, beta, C, ldc)) return;
    /* OpenBLAS: fp32, and the last resort when oneDNN cannot (out of memory): fp32 */
    cblas_sgemm(CblasRowMajor, A.trans ? CblasTrans : CblasNoTrans,
                B.trans ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A.f, A.ld, B.f, B.ld, beta, C,
                ldc);
}

/* ---- what runs here ---- */

int gb_gemm_fp32_onednn(void) {
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("GB_GEMM_FP32");
        v = e ? strcmp(e, "onednn") == 0 : GB_FP32_ONEDNN_DEFAULT;
    }
    return v;
}

int gb_bf16_native(void) {
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    return (isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) == (unsigned)dnnl_cpu_isa_avx512_core_bf16;
}

int gb_bf16_faster(void) {
    if (!gb_bf16_native()) return 0;
    __builtin_cpu_init();
    return dnnl_get_effective_cpu_isa() == dnnl_cpu_isa_avx512_core_amx || __builtin_cpu_is("amd");
}

static const char *isa_name(void) {
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

const char *gb_kernels_line(void) {
    static char line[512];
    const dnnl_version_t *v = dnnl_version();
    const char *par[] = {"sequential", "pthreads", "OpenMP"};
    int p = openblas_get_parallel();
    /* "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64": its first two words */
    char ver[64] = "OpenBLAS";
    sscanf(openblas_get_config(), "%*s %63s", ver);
    const char *was = getenv("GB_OPENBLAS_DETECTED"), *core = openblas_get_corename();
    __builtin_cpu_init();
    const char *fits = gb_openblas_coretype_for(core, __builtin_cpu_supports("avx512f"),
                                                __builtin_cpu_supports("avx2"));
    char fix[160] = "";
    if (was)
        snprintf(fix, sizeof fix, ", set by groovybee: OpenBLAS detected %.64s", was);
    else if (fits) /* the user's or the system's OPENBLAS_CORETYPE, or a static build */
        snprintf(fix, sizeof fix, ", SLOW on this CPU: OPENBLAS_CORETYPE=%s fits it", fits);
    int nt = openblas_get_num_threads();
    snprintf(line, sizeof line,
             "OpenBLAS %s (core %s%s, %s, %d thread%s); oneDNN %d.%d.%d (%s, bf16 %s); fp32 "
             "products by %s",
             ver, core, fix, p >= 0 && p <= 2 ? par[p] : "?", nt, nt == 1 ? "" : "s", v->major,
             v->minor, v->patch, isa_name(), gb_bf16_native() ? "native" : "not native",
             gb_gemm_fp32_onednn() ? "oneDNN" : "OpenBLAS");
    return line;
}

/* ---- OpenBLAS's core detection ---- */

const char *gb_openblas_coretype_for(const char *corename, int avx512, int avx2) {
    /* cores whose kernels use AVX2 or AVX-512: right for any CPU that has them */
    static const char *modern[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids",
                                   "Excavator"};
    if (!corename || (!avx512 && !avx2)) return NULL;
    for (size_t i = 0; i < sizeof modern / sizeof *modern; i++)
        if (strcmp(corename, modern[i]) == 0) return NULL;
    return avx512 ? "SkylakeX" : "Haswell";
}

void gb_openblas_coretype_fix(char **argv) {
    if (getenv("OPENBLAS_CORETYPE")) return;
    __builtin_cpu_init();
    const char *core = openblas_get_corename();
    const char *want = gb_openblas_coretype_for(core, __builtin_cpu_supports("avx512f"),
                                                __builtin_cpu_supports("avx2"));
    if (!want || !strstr(openblas_get_config(), "DYNAMIC_ARCH")) return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("GB_OPENBLAS_DETECTED", core, 1);
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* the re-exec failed: carry on as loaded */
    unsetenv("GB_OPENBLAS_DETECTED");
}
