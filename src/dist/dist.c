/* dist.c - dist.h over Open MPI. */
#include "dist/dist.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>

/* Launched by mpirun (Open MPI), or by a PMI / PMIx launcher (srun, hydra). */
static int launched(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

gb_status gb_dist_init(gb_dist *d, gb_error *err) {
    *d = (gb_dist){.rank = 0, .size = 1, .local_size = 1};
    if (!launched()) return GB_OK;
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS)
        return gb_fail(err, GB_ERR_IO, -1, "MPI_Init failed: a launcher started this process, "
                       "but MPI could not join its job");
    d->mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
    MPI_Comm_size(local, &d->local_size);
    MPI_Comm_free(&local);
    return GB_OK;
}

void gb_dist_finalize(gb_dist *d) {
    if (!d->mpi) return;
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
    d->mpi = 0;
}

_Noreturn void gb_dist_abort(const gb_dist *d, int code) {
    if (d && d->mpi) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

/* MPI counts are ints: large buffers go in pieces. */
static void sum(const gb_dist *d, void *buf, size_t n, MPI_Datatype t, size_t elem) {
    if (!d || !d->mpi || d->size == 1) return;
    char *p = buf;
    while (n) {
        int k = n > INT_MAX ? INT_MAX : (int)n;
        MPI_Allreduce(MPI_IN_PLACE, p, k, t, MPI_SUM, MPI_COMM_WORLD);
        p += (size_t)k * elem, n -= (size_t)k;
    }
}

void gb_dist_sum_float(const gb_dist *d, float *buf, size_t n) {
    sum(d, buf, n, MPI_FLOAT, sizeof *buf);
}
void gb_dist_sum_double(const gb_dist *d, double *buf, size_t n) {
    sum(d, buf, n, MPI_DOUBLE, sizeof *buf);
}
void gb_dist_sum_u64(const gb_dist *d, uint64_t *buf, size_t n) {
    sum(d, buf, n, MPI_UINT64_T, sizeof *buf);
}

void gb_dist_gather_u64(const gb_dist *d, uint64_t v, uint64_t *all) {
    if (!d || !d->mpi || d->size == 1) {
        all[0] = v;
        return;
    }
    MPI_Allgather(&v, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
}

int gb_dist_differs(const gb_dist *d, uint64_t v, uint64_t *v0) {
    int n = d ? d->size : 1, first = 0;
    uint64_t *all = malloc((size_t)n * sizeof *all);
    if (!all) return -1;
    gb_dist_gather_u64(d, v, all);
    for (int r = 1; r < n && !first; r++)
        if (all[r] != all[0]) first = r;
    if (v0) *v0 = all[0];
    free(all);
    return first;
}

uint64_t gb_dist_chain_in(const gb_dist *d, uint64_t v) {
    if (d && d->mpi && d->rank > 0)
        MPI_Recv(&v, 1, MPI_UINT64_T, d->rank - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    return v;
}

uint64_t gb_dist_chain_out(const gb_dist *d, uint64_t v) {
    if (!d || !d->mpi || d->size == 1) return v;
    if (d->rank + 1 < d->size) MPI_Send(&v, 1, MPI_UINT64_T, d->rank + 1, 0, MPI_COMM_WORLD);
    MPI_Bcast(&v, 1, MPI_UINT64_T, d->size - 1, MPI_COMM_WORLD);
    return v;
}
