/*
** model/gemm_impl.h — the SGEMM's micro-kernels (gemm.c drives them).
** Not a public header.
**
** A kernel computes one MR x NR tile of C over a depth of kc:
**   C[i][j] (+)= sum_k Ap[k * MR + i] * Bp[k * NR + j]
** starting from zero when `first`, else from C; when `bias` is not NULL
** (the last K panel) bias[j] is added before the store. C has row stride
** ldc and a whole MR x NR tile is read and written.
*/
#ifndef MAST_MODEL_GEMM_IMPL_H
#define MAST_MODEL_GEMM_IMPL_H

#include <stdint.h>

typedef void (*mast_gemm_fn)(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc,
                             int first, const float *bias);

typedef struct mast_gemm_kernel {
    const char *name;
    int mr, nr;
    mast_gemm_fn fn;
} mast_gemm_kernel;

/* NULL when the CPU (or the compiler) lacks the instructions. */
const mast_gemm_kernel *mast_gemm_avx2(void);
const mast_gemm_kernel *mast_gemm_avx512(void);

#endif
