/*
** base/pool.h — a fixed-size thread pool with a parallel-for.
**
** mast_pool_for() splits [0, n) into contiguous ranges, one per worker plus
** the calling thread, and returns when all ranges are done. One caller at a
** time per pool (the pool itself is not re-entrant).
*/
#ifndef MAST_BASE_POOL_H
#define MAST_BASE_POOL_H

#include <stddef.h>

#include "mast.h"

typedef struct mast_pool mast_pool;

/* fn(ctx, begin, end, worker): process items [begin, end); `worker` is in
** [0, n_threads) and identifies per-thread scratch state. */
typedef void (*mast_pool_fn)(void *ctx, size_t begin, size_t end, int worker);

/* Creates a pool using n_threads threads in total (the caller's thread counts
** as one, so n_threads - 1 are started). n_threads <= 0 picks the number of
** online CPUs. Free with mast_pool_free(). */
mast_status mast_pool_create(mast_pool **out, int n_threads);
void mast_pool_free(mast_pool *pool);
int mast_pool_size(const mast_pool *pool);

/* Runs fn over [0, n) split across the pool; blocks until done. */
void mast_pool_for(mast_pool *pool, size_t n, mast_pool_fn fn, void *ctx);

/* A buffer of at least `bytes`, 64-byte aligned, owned by the pool and kept
** for the next call (so repeated parallel work does not allocate and fault
** in fresh pages each time); the caller splits it among the workers. Valid
** until the next call or mast_pool_free; NULL when out of memory. */
void *mast_pool_scratch(mast_pool *pool, size_t bytes);

#endif
