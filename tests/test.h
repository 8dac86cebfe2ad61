/* test.h - the smallest test harness that fails loudly.
 * A test is a void function; CHECK* record failures with file:line and go on, so that one run
 * shows every broken expectation. RUN counts a test as failed when any of its checks failed.
 * TEST_END prints "N passed, N failed" and returns non-zero when anything failed. */
#ifndef GB_TEST_H
#define GB_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/rng.h"

static int tst_checks_failed, tst_passed, tst_failed;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            tst_checks_failed++;                                                             \
            fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                \
        }                                                                                    \
    } while (0)

#define CHECK_INT(a, b)                                                                      \
    do {                                                                                     \
        long long a_ = (long long)(a), b_ = (long long)(b);                                  \
        if (a_ != b_) {                                                                      \
            tst_checks_failed++;                                                             \
            fprintf(stderr, "  FAIL %s:%d: %s == %lld, expected %s == %lld\n", __FILE__,     \
                    __LINE__, #a, a_, #b, b_);                                               \
        }                                                                                    \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                \
    do {                                                                                     \
        double a_ = (double)(a), b_ = (double)(b);                                           \
        if (!(a_ - b_ <= (tol) && b_ - a_ <= (tol))) {                                       \
            tst_checks_failed++;                                                             \
            fprintf(stderr, "  FAIL %s:%d: %s == %.9g, expected %.9g (tol %g)\n", __FILE__,  \
                    __LINE__, #a, a_, b_, (double)(tol));                                    \
        }                                                                                    \
    } while (0)

#define CHECK_STR_HAS(s, sub)                                                                \
    do {                                                                                     \
        const char *s_ = (s);                                                                \
        if (!s_ || !strstr(s_, (sub))) {                                                     \
            tst_checks_failed++;                                                             \
            fprintf(stderr, "  FAIL %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,      \
                    __LINE__, s_ ? s_ : "(null)", (sub));                                    \
        }                                                                                    \
    } while (0)

#define RUN(fn)                                                                              \
    do {                                                                                     \
        int before_ = tst_checks_failed;                                                     \
        fn();                                                                                \
        if (tst_checks_failed == before_) {                                                  \
            tst_passed++;                                                                    \
            printf("ok   %s\n", #fn);                                                        \
        } else {                                                                             \
            tst_failed++;                                                                    \
            printf("FAIL %s\n", #fn);                                                        \
        }                                                                                    \
        fflush(stdout);                                                                      \
    } while (0)

/* Normalised mean squared error sum (a-b)^2 / sum b^2, as ggml's test-backend-ops: how far an
 * output is from its reference, whatever its scale. */
static inline double tst_nmse(const float *a, const float *b, size_t n) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - b[i];
        d += e * e, s += (double)b[i] * b[i];
    }
    return s > 0 ? d / s : d;
}

/* Dropout keys for a training forward of B <= 4096 windows (gb_lstm_forward): the next B numbers
 * of r, in a buffer that the next call overwrites (NULL r: evaluation, NULL). */
static inline const uint64_t *tst_keys(gb_rng *r, int B) {
    static uint64_t keys[4096];
    if (!r || B > 4096) return NULL;
    for (int b = 0; b < B; b++) keys[b] = gb_rng_next(r);
    return keys;
}

#define TEST_END()                                                                           \
    do {                                                                                     \
        printf("%d passed, %d failed\n", tst_passed, tst_failed);                            \
        return tst_failed != 0;                                                              \
    } while (0)

#endif
