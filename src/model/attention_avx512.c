/*
** model/attention_avx512.c — grouped-query attention for single tokens: a
** KV head's G query heads at once (see attention.h); compiled with AVX-512F/VL
** (besides AVX2, FMA, F16C), called only where the CPU has them.
*/
#include <math.h>

#include "model/attention.h"
#include "model/attention_impl.h"
#include "model/vecmath.h"

/* Grouped-query attention shares a KV head among G query heads: the forms
** below convert each key and value once for all G (attend_group). Each
** (query, position) and each output lane takes dot8_simd's and
** wsum_regs' arithmetic, so the same bits as one head at a time. They
** hold up to 16 accumulators, so they are built for AVX-512 (32 vector
** registers; with AVX2's 16 they spill and lose what they save). */

/* s[g * s_stride + r] = q_g . k(p + r), r < 4, g < G (q_g = q + g D) */
static inline void dot4_group(const float *q, const unsigned char *k, size_t stride, int D,
                                               bool f16, float *s, size_t s_stride, const int G)
{
    __m256 acc[ATT_GROUP_MAX][4];
    for (int g = 0; g < G; g++)
        for (int r = 0; r < 4; r++)
            acc[g][r] = _mm256_setzero_ps();
    for (int i = 0; i < D; i += 8)
        for (int r = 0; r < 4; r++) {
            const unsigned char *row = k + (size_t)r * stride;
            __m256 kv = f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const mast_f16 *)row + i)))
                            : _mm256_loadu_ps((const float *)row + i);
            for (int g = 0; g < G; g++)
                acc[g][r] = _mm256_fmadd_ps(_mm256_loadu_ps(q + (size_t)g * D + i), kv, acc[g][r]);
        }
    for (int g = 0; g < G; g++) {   /* dot8_simd's reduction */
        __m256 u = _mm256_hadd_ps(_mm256_hadd_ps(acc[g][0], acc[g][1]), _mm256_hadd_ps(acc[g][2], acc[g][3]));
        _mm_storeu_ps(s + (size_t)g * s_stride, _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1)));
    }
}

/* o_g[0..32) = sum over p < n of w_g[p] v(p)[0..32), g < G (o_g = o + g D,
** w_g = w + g w_stride) */
static inline void wsum32_group(float *o, int D, const float *w, size_t w_stride,
                                                 const unsigned char *v, size_t stride, int n, bool f16,
                                                 const int G)
{
    __m256 acc[ATT_GROUP_MAX][4];
    for (int g = 0; g < G; g++)
        for (int i = 0; i < 4; i++)
            acc[g][i] = _mm256_setzero_ps();
    for (int p = 0; p < n; p++) {
        const unsigned char *row = v + (size_t)p * stride;
        __m256 x[4];
        for (int i = 0; i < 4; i++)
            x[i] = f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const mast_f16 *)row + 8 * i)))
                       : _mm256_loadu_ps((const float *)row + 8 * i);
        for (int g = 0; g < G; g++) {
            __m256 wv = _mm256_set1_ps(w[(size_t)g * w_stride + (size_t)p]);
            for (int i = 0; i < 4; i++)
                acc[g][i] = _mm256_fmadd_ps(wv, x[i], acc[g][i]);
        }
    }
    for (int g = 0; g < G; g++)
        for (int i = 0; i < 4; i++)
            _mm256_storeu_ps(o + (size_t)g * D + 8 * i, acc[g][i]);
}

/* One query token's G heads over a KV head's first n positions: attend's
** blocks of 8 positions and its tail, softmax, weighted sum 32 lanes at a
** time. G is a constant in each instance (attend_group). */
static inline void attend_heads(const float *q, float *o, float *s, size_t n_ctx,
                                                 const unsigned char *K, const unsigned char *V, size_t st,
                                                 int n, int D, bool f16, const int G)
{
    int p = 0;
    for (; p + 8 <= n; p += 8)
        for (int h = 0; h < 8; h += 4)
            dot4_group(q, K + (size_t)(p + h) * st, st, D, f16, s + p + h, n_ctx, G);
    for (; p < n; p++)
        for (int g = 0; g < G; g++)
            s[(size_t)g * n_ctx + (size_t)p] = dot_simd(q + (size_t)g * D, K + (size_t)p * st, D, f16);
    float scale = 1.0f / sqrtf((float)D);
    for (int g = 0; g < G; g++)
        mast_vec_softmax(s + (size_t)g * n_ctx, (size_t)n, scale);
    for (int c = 0; c < D; c += 32)
        wsum32_group(o + c, D, s, n_ctx, V + (size_t)c * (f16 ? sizeof(mast_f16) : sizeof(float)), st, n, f16, G);
}

void mast_attn_heads_avx512(const float *q, float *o, float *s, size_t n_ctx,
                            const unsigned char *K, const unsigned char *V, size_t st, int n, int D,
                            bool f16, int G)
{
    switch (G) {   /* a constant G in each instance */
    case 2: attend_heads(q, o, s, n_ctx, K, V, st, n, D, f16, 2); break;
    case 3: attend_heads(q, o, s, n_ctx, K, V, st, n, D, f16, 3); break;
    default: attend_heads(q, o, s, n_ctx, K, V, st, n, D, f16, 4); break;
    }
}
