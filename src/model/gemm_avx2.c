/*
** model/gemm_avx2.c — blocked SGEMM with an AVX2/FMA micro-kernel (see
** gemm.h). Compiled with -mavx2 -mfma; the kernel runs only when the CPU has
** them (mast_avx2_available), else a scalar loop computes the same product.
*/
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "model/gemm.h"
#include "model/quant_impl.h"

#define MR 6      /* rows of A per micro-kernel */
#define NR 16     /* columns (B rows) per micro-kernel: two 8-float vectors */
#define KC 256    /* depth of a packed panel: a B micro-panel is 16 KiB, in L1 */

bool mast_sgemm_fast(void)
{
    return mast_avx2_available();
}

/* Ap[k * MR + i] = A[(m0 + i) * K + k0 + k], zero past M. */
static void pack_a(const float *A, int64_t M, int64_t K, int64_t m0, int64_t k0, int64_t kc,
                   float *Ap)
{
    for (int64_t k = 0; k < kc; k++)
        for (int i = 0; i < MR; i++)
            Ap[k * MR + i] = m0 + i < M ? A[(m0 + i) * K + k0 + k] : 0.0f;
}

/* Bp[k * NR + j] = B[(n0 + j) * K + k0 + k], zero past N. */
static void pack_b(const float *B, int64_t N, int64_t K, int64_t n0, int64_t k0, int64_t kc,
                   float *Bp)
{
    for (int j = 0; j < NR; j++) {
        if (n0 + j >= N) {
            for (int64_t k = 0; k < kc; k++)
                Bp[k * NR + j] = 0.0f;
            continue;
        }
        const float *row = B + (n0 + j) * K + k0;
        for (int64_t k = 0; k < kc; k++)
            Bp[k * NR + j] = row[k];
    }
}

/* C[MR][NR] (row stride ldc) (+)= Ap . Bp over kc; C is read first unless
** `first`. Full tiles work on the output in place, edge tiles on a buffer. */
static void kernel_6x16(int64_t kc, const float *Ap, const float *Bp, float *tile, int64_t ldc,
                        int first)
{
    __m256 c[MR][2];
    for (int i = 0; i < MR; i++) {
        c[i][0] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(tile + i * ldc);
        c[i][1] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(tile + i * ldc + 8);
    }
    for (int64_t k = 0; k < kc; k++) {
        __m256 b0 = _mm256_loadu_ps(Bp + k * NR), b1 = _mm256_loadu_ps(Bp + k * NR + 8);
        for (int i = 0; i < MR; i++) {
            __m256 a = _mm256_broadcast_ss(Ap + k * MR + i);
            c[i][0] = _mm256_fmadd_ps(a, b0, c[i][0]);
            c[i][1] = _mm256_fmadd_ps(a, b1, c[i][1]);
        }
    }
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_ps(tile + i * ldc, c[i][0]);
        _mm256_storeu_ps(tile + i * ldc + 8, c[i][1]);
    }
}

typedef struct gemm_job {
    int64_t M, N, K;
    const float *A, *B;
    float *C;
    int failed;
} gemm_job;

/* One thread: all of M, the column micro-panels [begin, end) of N. */
static void gemm_part(void *ctx, size_t begin, size_t end, int worker)
{
    (void)worker;
    gemm_job *j = ctx;
    int64_t M = j->M, N = j->N, K = j->K;
    int64_t m_panels = (M + MR - 1) / MR;
    float *Ap = aligned_alloc(64, (size_t)(m_panels * MR * KC) * sizeof(float));
    float *Bp = aligned_alloc(64, (size_t)(NR * KC) * sizeof(float));
    float tile[MR * NR];
    if (!Ap || !Bp) {
        j->failed = 1;
        free(Ap);
        free(Bp);
        return;
    }
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
        int64_t kc = K - k0 < KC ? K - k0 : KC;
        for (int64_t p = 0; p < m_panels; p++)
            pack_a(j->A, M, K, p * MR, k0, kc, Ap + p * MR * kc);
        for (size_t q = begin; q < end; q++) {
            int64_t n0 = (int64_t)q * NR, ncols = N - n0 < NR ? N - n0 : NR;
            pack_b(j->B, N, K, n0, k0, kc, Bp);
            for (int64_t p = 0; p < m_panels; p++) {
                int64_t m0 = p * MR, nrows = M - m0 < MR ? M - m0 : MR;
                if (nrows == MR && ncols == NR) {
                    kernel_6x16(kc, Ap + p * MR * kc, Bp, j->C + m0 * N + n0, N, k0 == 0);
                    continue;
                }
                if (k0 > 0)   /* continue from the previous panel's partial sums */
                    for (int64_t i = 0; i < nrows; i++)
                        memcpy(tile + i * NR, j->C + (m0 + i) * N + n0, (size_t)ncols * 4);
                kernel_6x16(kc, Ap + p * MR * kc, Bp, tile, NR, k0 == 0);
                for (int64_t i = 0; i < nrows; i++)
                    memcpy(j->C + (m0 + i) * N + n0, tile + i * NR, (size_t)ncols * 4);
            }
        }
    }
    free(Ap);
    free(Bp);
}

mast_status mast_sgemm_nt(mast_pool *pool, int64_t M, int64_t N, int64_t K, const float *A,
                          const float *B, float *C)
{
    if (M <= 0 || N <= 0 || K <= 0)
        return mast_fail(MAST_ERR_INVALID, "sgemm: empty shape %lld x %lld x %lld",
                         (long long)M, (long long)N, (long long)K);
    if (!mast_sgemm_fast()) {
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                float s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += A[m * K + k] * B[n * K + k];
                C[m * N + n] = s;
            }
        return MAST_OK;
    }
    gemm_job j = {M, N, K, A, B, C, 0};
    size_t panels = (size_t)((N + NR - 1) / NR);
    if (pool)
        mast_pool_for(pool, panels, gemm_part, &j);
    else
        gemm_part(&j, 0, panels, 0);
    return j.failed ? mast_fail(MAST_ERR_NOMEM, "sgemm: out of memory packing panels") : MAST_OK;
}
