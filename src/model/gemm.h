/*
** model/gemm.h — single-precision matrix product for batched activations.
**
**   C[m][n] = sum_k A[m][k] * B[n][k]     (A: M x K, B: N x K, C: M x N, all row-major)
**
** i.e. activations (A, one row per token) times the transpose of a weight
** matrix (B, one row per output). Blocked as Goto's algorithm: K in panels of
** KC, B packed into column micro-panels of 16, A into row micro-panels of 6,
** and a 6 x 16 AVX2/FMA micro-kernel accumulating in 12 registers. Threads
** split N, each output element is computed by one thread in a fixed order,
** so the result does not depend on the thread count. Without AVX2 the
** product falls back to a plain loop.
*/
#ifndef MAST_MODEL_GEMM_H
#define MAST_MODEL_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "base/pool.h"
#include "mast.h"

mast_status mast_sgemm_nt(mast_pool *pool, int64_t M, int64_t N, int64_t K, const float *A,
                          const float *B, float *C);

/* Whether mast_sgemm_nt runs the AVX2 kernel on this CPU. */
bool mast_sgemm_fast(void);

#endif
