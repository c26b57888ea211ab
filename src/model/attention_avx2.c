/*
** model/attention_avx2.c — one query head's attention over its KV head with
** AVX2 + FMA + F16C (see attention.h); compiled with those flags, called only
** where the CPU has them. The scalar reference is in llama.c (attend).
*/
#include "model/attention.h"
#include "model/attention_impl.h"

static void wsum64(float *o, const float *w,
                                                            const unsigned char *v, size_t stride,
                                                            int n, bool f16)
{
    wsum_regs(o, w, v, stride, n, f16, 8);
}

static void wsum128(float *o, const float *w,
                                                             const unsigned char *v, size_t stride,
                                                             int n, bool f16)
{
    wsum_regs(o, w, v, stride, n, f16, 16);
}

void mast_attn_scores_avx2(const float *q, const unsigned char *K, size_t st, int n, int D,
                           bool f16, float *s)
{
    int p = 0;
    for (; p + 8 <= n; p += 8)
        dot8_simd(q, K + (size_t)p * st, st, D, f16, s + p);
    for (; p < n; p++)
        s[p] = dot_simd(q, K + (size_t)p * st, D, f16);
}

void mast_attn_wsum_avx2(float *o, const float *w, const unsigned char *V, size_t st, int n, int D,
                         bool f16)
{
    if (D == 64) {
        wsum64(o, w, V, st, n, f16);
        return;
    }
    if (D == 128) {
        wsum128(o, w, V, st, n, f16);
        return;
    }
    for (int i = 0; i < D; i++)
        o[i] = 0;
    for (int p = 0; p < n; p++)
        axpy_simd(o, w[p], V + (size_t)p * st, D, f16);
}
