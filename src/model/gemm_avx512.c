/*
** model/gemm_avx512.c — the SGEMM's 12 x 32 AVX-512 micro-kernel (see
** gemm_impl.h): 24 accumulators of 16 floats, the shape BLIS uses on
** Skylake-X (there 32 x 12, column-major). Compiled with -mavx512f;
** offered only when the CPU and the OS support it.
*/
#include <immintrin.h>

#include "model/gemm_impl.h"

#define MR 12
#define NR 32

static void kernel_12x32(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc,
                         int first, const float *bias)
{
    __m512 c[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        c[i][0] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(C + i * ldc);
        c[i][1] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(C + i * ldc + 16);
    }
    for (int64_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(Bp + k * NR), b1 = _mm512_load_ps(Bp + k * NR + 16);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            __m512 a = _mm512_set1_ps(Ap[k * MR + i]);
            c[i][0] = _mm512_fmadd_ps(a, b0, c[i][0]);
            c[i][1] = _mm512_fmadd_ps(a, b1, c[i][1]);
        }
    }
    if (bias) {
        __m512 b0 = _mm512_loadu_ps(bias), b1 = _mm512_loadu_ps(bias + 16);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            c[i][0] = _mm512_add_ps(c[i][0], b0);
            c[i][1] = _mm512_add_ps(c[i][1], b1);
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        _mm512_storeu_ps(C + i * ldc, c[i][0]);
        _mm512_storeu_ps(C + i * ldc + 16, c[i][1]);
    }
}

const mast_gemm_kernel *mast_gemm_avx512(void)
{
    static const mast_gemm_kernel k = {"avx512", MR, NR, kernel_12x32};
    static int ok = -1;
    if (ok < 0) {
        /* libgcc's CPU model also checks that the OS saves the ZMM state */
        __builtin_cpu_init();
        ok = __builtin_cpu_supports("avx512f");
    }
    return ok ? &k : NULL;
}
