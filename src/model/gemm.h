/*
** model/gemm.h — single-precision matrix product for batched activations.
**
**   C[m][n] = sum_k A[m][k] * B[n][k] (+ bias[n])
**   (A: M x K, B: N x K, C: M x N, all row-major)
**
** i.e. activations (A, one row per token) times the transpose of a weight
** matrix (B, one row per output). Blocked as Goto's algorithm: K in panels of
** KC, B in column micro-panels of NR, A in blocks of up to MC rows packed
** into row micro-panels of MR, and an MR x NR register-tile micro-kernel:
** 12 x 32 with AVX-512, 6 x 16 with AVX2/FMA, a plain C loop otherwise, the
** widest the CPU has picked at run time.
**
** Weights are packed once (mast_sgemm_pack_b) and reused for every batch;
** mast_sgemm_nt packs B on each call. Threads split M in blocks (and N too
** when M is small). Each output element is computed by one thread in a fixed
** order, so results depend neither on the thread count nor on how many rows
** the batch has — only on the kernel.
*/
#ifndef MAST_MODEL_GEMM_H
#define MAST_MODEL_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "base/pool.h"
#include "mast.h"

/* A weight matrix (and optional bias) packed for the active kernel. */
typedef struct mast_sgemm_b mast_sgemm_b;

/* Packs B (N x K) and bias (N floats, or NULL for none). */
mast_status mast_sgemm_pack_b(const float *B, const float *bias, int64_t N, int64_t K,
                              mast_sgemm_b **out);
void mast_sgemm_b_free(mast_sgemm_b *b);
int64_t mast_sgemm_b_rows(const mast_sgemm_b *b);   /* N */
int64_t mast_sgemm_b_cols(const mast_sgemm_b *b);   /* K */

/* Flags of mast_sgemm_packed */
enum {
    MAST_SGEMM_ACCUMULATE = 1,   /* C += A . B^T + bias: a residual connection for free */
    MAST_SGEMM_GELU = 2,         /* C = GELU(A . B^T + bias), applied while the tile is in cache */
};

/* C = A . B^T + bias, A: M x K, changed by `flags`. */
mast_status mast_sgemm_packed(mast_pool *pool, int64_t M, const float *A, const mast_sgemm_b *B,
                              float *C, int flags);

/* C = A . B^T with B unpacked (packed on the fly). */
mast_status mast_sgemm_nt(mast_pool *pool, int64_t M, int64_t N, int64_t K, const float *A,
                          const float *B, float *C);

/* The general form, on matrices inside larger ones: row m of A at
** A + m * lda, of C at C + m * ldc; B is N x K with row n at B + n * ldb,
** or with b_kn K x N with row k at B + k * ldb (C = A . B). Without a pool
** it allocates nothing after a thread's first call. */
mast_status mast_sgemm(mast_pool *pool, int64_t M, int64_t N, int64_t K, const float *A,
                       int64_t lda, const float *B, int64_t ldb, bool b_kn, float *C, int64_t ldc);

/* C = A . B^T (row m of C at C + m * ldc) where B's rows are made by
** row(ctx, n, out) (K floats each: weights in another type, expanded):
** B is packed a chunk of rows at a time, each row made once, into a buffer
** kept by the calling thread, and multiplied as a packed matrix. */
typedef void (*mast_sgemm_row_fn)(const void *ctx, int64_t n, float *out);
mast_status mast_sgemm_rows(mast_pool *pool, int64_t M, const float *A, int64_t N, int64_t K,
                            mast_sgemm_row_fn row, const void *ctx, float *C, int64_t ldc);

/* Whether the active kernel is a SIMD one (else the plain C loop). */
bool mast_sgemm_fast(void);

/* The active kernel's name: "avx512", "avx2" or "scalar". */
const char *mast_sgemm_isa(void);

/* Tests and benchmarks: selects a kernel by name (NULL = the best this CPU
** has). MAST_ERR_UNSUPPORTED when the CPU lacks it. Not thread-safe; matrices
** packed earlier keep the kernel they were packed for. */
mast_status mast_sgemm_use(const char *isa);

#endif
