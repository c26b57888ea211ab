/*
** model/attention_impl.h — the single-token attention kernels' building
** blocks (AVX2 + FMA + F16C intrinsics), static inline so that each kernel
** file compiles them with its own instruction-set flags: attention_avx2.c
** (-mavx2 -mfma -mf16c) and attention_avx512.c (and -mavx512f -mavx512vl).
** Include it only from those files; they are called after a run-time check.
*/
#ifndef MAST_MODEL_ATTENTION_IMPL_H
#define MAST_MODEL_ATTENTION_IMPL_H

#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>

#include "model/quant.h"

/* q . k and o += w * v over one head (D floats), k and v as the cache holds
** them. The SIMD forms keep 8 lanes of partial sums. */
static inline float dot_simd(const float *q, const void *k,
                                                               int D, bool f16)
{
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < D; i += 8) {
        __m256 kv = f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const mast_f16 *)k + i)))
                        : _mm256_loadu_ps((const float *)k + i);
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), kv, acc);
    }
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

static inline void axpy_simd(float *o, float w, const void *v,
                                                               int D, bool f16)
{
    __m256 wv = _mm256_set1_ps(w);
    for (int i = 0; i < D; i += 8) {
        __m256 x = f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const mast_f16 *)v + i)))
                       : _mm256_loadu_ps((const float *)v + i);
        _mm256_storeu_ps(o + i, _mm256_fmadd_ps(wv, x, _mm256_loadu_ps(o + i)));
    }
}

/* s[0..8) = q . k(p) for 8 consecutive positions (rows `stride` bytes
** apart): eight FMA chains, then one transposing reduction for all eight. */
static inline void dot8_simd(const float *q, const unsigned char *k,
                                                               size_t stride, int D, bool f16,
                                                               float *s)
{
    __m256 acc[8];
    for (int r = 0; r < 8; r++)
        acc[r] = _mm256_setzero_ps();
    for (int i = 0; i < D; i += 8) {
        __m256 qv = _mm256_loadu_ps(q + i);
        for (int r = 0; r < 8; r++) {
            const unsigned char *row = k + (size_t)r * stride;
            __m256 kv = f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const mast_f16 *)row + i)))
                            : _mm256_loadu_ps((const float *)row + i);
            acc[r] = _mm256_fmadd_ps(qv, kv, acc[r]);
        }
    }
    __m256 t0 = _mm256_hadd_ps(acc[0], acc[1]), t1 = _mm256_hadd_ps(acc[2], acc[3]);
    __m256 t2 = _mm256_hadd_ps(acc[4], acc[5]), t3 = _mm256_hadd_ps(acc[6], acc[7]);
    __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
    _mm256_storeu_ps(s, _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20),
                                      _mm256_permute2f128_ps(u0, u1, 0x31)));
}

/* o = sum over positions p < n of w[p] * v(p), o held in registers: NV
** vectors of 8 (a head size of 64 or 128), inlined with a constant NV. */
static inline void wsum_regs(float *o, const float *w,
                                                                      const unsigned char *v,
                                                                      size_t stride, int n, bool f16,
                                                                      const int NV)
{
    __m256 acc[16];
    for (int i = 0; i < NV; i++)
        acc[i] = _mm256_setzero_ps();
    for (int p = 0; p < n; p++) {
        __m256 wv = _mm256_set1_ps(w[p]);
        const unsigned char *row = v + (size_t)p * stride;
        for (int i = 0; i < NV; i++) {
            __m256 x = f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const mast_f16 *)row + 8 * i)))
                           : _mm256_loadu_ps((const float *)row + 8 * i);
            acc[i] = _mm256_fmadd_ps(wv, x, acc[i]);
        }
    }
    for (int i = 0; i < NV; i++)
        _mm256_storeu_ps(o + 8 * i, acc[i]);
}

#endif
