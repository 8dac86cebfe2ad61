/* allreduce.c - the cost of the seam training sums its gradients through (gb_dist_sum_float:
 * MPI_Allreduce, in place, MPI_SUM over floats) against the message size, for the model of a
 * step in docs/scaling.md. Run under mpirun; rank 0 prints one key=value line a size:
 *   ranks= bytes= reps= seconds= (per allreduce, the median of 5 timed rounds) gbit_s=
 * (bytes x 8 / seconds / 1e9: the rate the gradient block crosses at). Each round is a barrier
 * then `reps` back-to-back allreduces, reps chosen so that a round moves about 64 MB.
 *   mpirun -np 2 build/bench_allreduce [MAX_BYTES] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/dist.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    size_t max = argc > 1 ? strtoull(argv[1], NULL, 10) : (size_t)16 << 20;
    gb_dist d;
    gb_error e;
    if (gb_dist_init(&d, &e) != GB_OK) {
        fprintf(stderr, "bench_allreduce: %s\n", e.msg);
        return 1;
    }
    float *buf = malloc(max > 4 ? max : 4);
    if (!buf) gb_dist_abort(&d, 1);
    for (size_t i = 0; i < max / 4; i++) buf[i] = 1e-6f * (float)(i % 1000);
    for (size_t bytes = 4; bytes <= max; bytes *= 4) {
        size_t n = bytes / 4;
        int reps = (int)((64u << 20) / bytes);
        if (reps > 2000) reps = 2000;
        if (reps < 3) reps = 3;
        gb_dist_sum_float(&d, buf, n); /* warm: connections, buffers */
        double t[5];
        for (int r = 0; r < 5; r++) {
            double z[1] = {0};
            gb_dist_sum_double(&d, z, 1); /* a barrier */
            double t0 = now();
            for (int k = 0; k < reps; k++) gb_dist_sum_float(&d, buf, n);
            t[r] = (now() - t0) / reps;
        }
        qsort(t, 5, sizeof *t, by_value);
        if (d.rank == 0)
            printf("ranks=%d bytes=%zu reps=%d seconds=%.9f gbit_s=%.3f\n", d.size, bytes, reps,
                   t[2], (double)bytes * 8 / t[2] / 1e9);
        /* keep the values bounded: sums of sums would overflow to inf over many rounds */
        for (size_t i = 0; i < n; i++) buf[i] = 1e-6f * (float)(i % 1000);
    }
    free(buf);
    gb_dist_finalize(&d);
    return 0;
}
