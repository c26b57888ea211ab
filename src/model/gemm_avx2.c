/*
** model/gemm_avx2.c — the SGEMM's 6 x 16 AVX2/FMA micro-kernel (see
** gemm_impl.h): 12 accumulators of 8 floats. Compiled with -mavx2 -mfma;
** offered only when the CPU has them.
*/
#include <immintrin.h>

#include "model/gemm_impl.h"
#include "model/quant_impl.h"

#define MR 6
#define NR 16

static void kernel_6x16(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc,
                        int first, const float *bias)
{
    __m256 c[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        c[i][0] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(C + i * ldc);
        c[i][1] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(C + i * ldc + 8);
    }
    for (int64_t k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(Bp + k * NR), b1 = _mm256_load_ps(Bp + k * NR + 8);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            __m256 a = _mm256_broadcast_ss(Ap + k * MR + i);
            c[i][0] = _mm256_fmadd_ps(a, b0, c[i][0]);
            c[i][1] = _mm256_fmadd_ps(a, b1, c[i][1]);
        }
    }
    if (bias) {
        __m256 b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            c[i][0] = _mm256_add_ps(c[i][0], b0);
            c[i][1] = _mm256_add_ps(c[i][1], b1);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_ps(C + i * ldc, c[i][0]);
        _mm256_storeu_ps(C + i * ldc + 8, c[i][1]);
    }
}

const mast_gemm_kernel *mast_gemm_avx2(void)
{
    static const mast_gemm_kernel k = {"avx2", MR, NR, kernel_6x16};
    return mast_avx2_available() ? &k : NULL;
}
