/* dist.h - the MPI seam: the few collective operations data-parallel training needs, and
 * nothing else of MPI anywhere else. A process started by mpirun (Open MPI; any launcher that
 * sets PMI's or PMIx's variables) is one rank of a job; a process started alone is a job of one
 * rank and never initialises MPI (no launcher to talk to, no start-up cost), and every call below
 * is then a no-op or a copy. Only `train` and `eval` call gb_dist_init.
 *
 * Faults: MPI's default error handler (MPI_ERRORS_ARE_FATAL) stays, so a peer that dies makes
 * the next collective of every other rank end the job rather than wait; an error that one rank
 * alone meets goes through gb_dist_abort, which ends every rank. A GPU cluster would put NCCL's
 * allreduce behind gb_dist_sum_float, on device memory, and change nothing above this file
 * (docs/scaling.md). */
#ifndef GB_DIST_H
#define GB_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef struct {
    int rank, size;  /* this process's rank in 0..size-1; size 1: alone */
    int local_size;  /* ranks on this machine (sharing its cores) */
    int mpi;         /* MPI was initialised (gb_dist_finalize ends it) */
} gb_dist;

/* Joins the job when a launcher started this process (MPI_Init); else {0, 1, 1}. GB_ERR_IO
 * when the launcher's variables are set and MPI cannot start. */
gb_status gb_dist_init(gb_dist *d, gb_error *err);
/* Ends MPI after a barrier (every rank's last collective), when it was started. */
void gb_dist_finalize(gb_dist *d);
/* Ends the whole job with exit status code: every rank, wherever it waits. Alone: exit(code). */
_Noreturn void gb_dist_abort(const gb_dist *d, int code);

/* In place, buf becomes the sum over the ranks of their buf (same n on every rank). The sum's
 * order is MPI's, fixed for a given size and placement of the ranks: the same job gives the
 * same bits. */
void gb_dist_sum_float(const gb_dist *d, float *buf, size_t n);
void gb_dist_sum_double(const gb_dist *d, double *buf, size_t n);
void gb_dist_sum_u64(const gb_dist *d, uint64_t *buf, size_t n);
/* all[r] = rank r's v, on every rank (all has size entries). */
void gb_dist_gather_u64(const gb_dist *d, uint64_t v, uint64_t *all);
/* Whether every rank holds rank 0's v (a corpus hash): the first rank whose v differs, on every
 * rank, or 0 when they all agree (-1: out of memory). *v0 (may be NULL) gets rank 0's v. */
int gb_dist_differs(const gb_dist *d, uint64_t v, uint64_t *v0);
/* A value carried through the ranks in order: gb_dist_chain_in returns the value rank - 1 passed
 * on (rank 0: v as given); after updating it, the rank passes it on with gb_dist_chain_out,
 * which returns the last rank's, on every rank. For a hash over data split in rank order. */
uint64_t gb_dist_chain_in(const gb_dist *d, uint64_t v);
uint64_t gb_dist_chain_out(const gb_dist *d, uint64_t v);

#endif
