/*
** model/quant_avx512.c — AVX-512 (F, BW, VL, VNNI) row kernels for single
** tokens (generation): q6_K against q8_K activations (64 weight values per
** register, twice the AVX2 kernel's in quant_avx2.c, which it replaces
** through mast_avx512_dot), and, called from matmul.c with activations in a
** form it makes once per product, q4_K (q8_K bytes in paired order), q8_0
** (vpdpbusd on offset bytes, block sums and scales precomputed) and f16
** (activations held as f32). Each takes the integer sums and float steps
** of the reference (quant.c, quant_k.c) — the integers in any order, the
** floats in the reference's — so the same bits (test_quant.c,
** test_matmul.c). They prefetch the weights ahead (PREFETCH_AHEAD).
*/
#include <immintrin.h>
#include <string.h>

#include "model/quant_impl.h"

#undef F16
#define F16(x) _cvtsh_ss(x)   /* F16C, inline */

/* Weights stream from memory once per token: each kernel asks for the
** bytes PREFETCH_AHEAD past the ones it is reading (rows follow each
** other, so that runs into the next rows), which keeps more reads in
** flight than the hardware prefetcher does (from DRAM, 1 thread: f16 30 ->
** 35, q8_0 31 -> 39 GB/s at 8 KiB; 1-4 KiB gained less or lost). Non-
** temporal: a model larger than the L3 gains nothing from keeping its
** weights there, and the KV cache stays (generation 0-8% faster than with
** T0, measured side by side). A hint: no fault past the end. */
#define PREFETCH_AHEAD 8192

static inline void prefetch_ahead(const void *p, int lines)
{
    for (int k = 0; k < lines; k++)
        _mm_prefetch((const char *)p + PREFETCH_AHEAD + 64 * k, _MM_HINT_NTA);
}

static inline int32_t hsum512(__m512i v)
{
    return _mm512_reduce_add_epi32(v);
}

/* 16-bit shift counts: lo in the low 256 bits, hi in the high */
static inline __m512i counts16(short lo, short hi)
{
    return _mm512_inserti64x4(_mm512_set1_epi16(lo), _mm256_set1_epi16(hi), 1);
}

/* A q4_K super-block's 8 scales (16-bit, low 128 bits) and 8 mins (16-bit) */
static inline void k4_scales512(const uint8_t packed[12], __m512i *sc, __m128i *mins)
{
    uint32_t s[2], m[2];
    k4_scale_words(packed, s, m);
    *sc = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)s[1], (int)s[0])));
    *mins = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)m[1], (int)m[0]));
}

/* the reference's float step for one q4_K super-block: d dy total - dmin dy mins */
static inline float k4_term(const block_q4_K *x, const block_q8_K *y, __m512i acc, __m128i mins)
{
    __m128i lo = _mm_loadu_si128((const __m128i *)y->bsums);
    __m128i hi = _mm_loadu_si128((const __m128i *)(y->bsums + 8));
    __m128i m = _mm_madd_epi16(mins, _mm_hadd_epi16(lo, hi));
    m = _mm_add_epi32(m, _mm_shuffle_epi32(m, 0x4E));
    m = _mm_add_epi32(m, _mm_shuffle_epi32(m, 0xB1));
    int32_t total = hsum512(acc), mn = _mm_cvtsi128_si32(m);
    return F16(x->d) * y->d * (float)total - F16(x->dmin) * y->d * (float)mn;
}

void mast_avx512_q8_K_paired(const void *act, int64_t n, void *out)
{
    const block_q8_K *y = act;
    block_q8_K *o = out;
    for (int64_t i = 0; i < n / QK_K; i++) {
        o[i] = y[i];
        for (int h = 0; h < 2; h++)
            for (int part = 0; part < 4; part++) {   /* 32-byte pieces 0, 2, 1, 3 of each 128 */
                static const int from[4] = {0, 2, 1, 3};
                memcpy(o[i].qs + 128 * h + 32 * part, y[i].qs + 128 * h + 32 * from[part], 32);
            }
    }
}

/* q4_K: sub-block j (32 values) is the low (j even) or high (j odd) nibbles
** of bytes 32 (j / 2) ...; value * scale_j summed, minus min_j * its bsums.
** Against a paired activation row: 64 weight bytes (sub-blocks 4h, 4h + 2
** in their low nibbles, 4h + 1, 4h + 3 in their high) meet 64 contiguous
** activation bytes each, no broadcast or variable shift (8% faster than
** reading the activation in element order, measured); the reference's
** integers and float steps, so the same bits. matmul.c is its only caller
** (the activation copy is made once per product). */
float mast_avx512_dot_q4_K_paired(const void *w, const void *act, int64_t n)
{
    const block_q4_K *x = w;
    const block_q8_K *y = act;
    /* 16-bit lane l of the low register takes scale 4h + 2 (l >= 16), the high one that + 1 */
    const __m512i lane_hi2 = _mm512_set_epi64(0x0002000200020002LL, 0x0002000200020002LL,
                                              0x0002000200020002LL, 0x0002000200020002LL, 0, 0, 0, 0);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m512i sc;
        __m128i mins;
        k4_scales512(x[i].scales, &sc, &mins);
        prefetch_ahead(&x[i], i % 4 == 3 ? 3 : 2);   /* 576 bytes per 4: 9 lines */
        __m512i acc = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            __m512i q = _mm512_loadu_si512(x[i].qs + 64 * h);
            __m512i plo = _mm512_maddubs_epi16(_mm512_and_si512(q, m4), _mm512_loadu_si512(y[i].qs + 128 * h));
            __m512i phi = _mm512_maddubs_epi16(_mm512_and_si512(_mm512_srli_epi16(q, 4), m4),
                                               _mm512_loadu_si512(y[i].qs + 128 * h + 64));
            __m512i idl = _mm512_add_epi16(_mm512_set1_epi16((short)(4 * h)), lane_hi2);
            __m512i idh = _mm512_add_epi16(idl, _mm512_set1_epi16(1));
            acc = _mm512_add_epi32(acc, _mm512_madd_epi16(plo, _mm512_permutexvar_epi16(idl, sc)));
            acc = _mm512_add_epi32(acc, _mm512_madd_epi16(phi, _mm512_permutexvar_epi16(idh, sc)));
        }
        sum += k4_term(&x[i], &y[i], acc, mins);
    }
    return sum;
}

/* q6_K: values 0..63 (stored + 32): low 4 bits from ql, high 2 from qh;
** value * scale summed per sub-block of 16, minus 32 * scale * bsum */
static float dot_q6_K(const void *w, const void *act, int64_t n)
{
    const block_q6_K *x = w;
    const block_q8_K *y = act;
    const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3);
    /* 16-bit lane l of register k takes scale 4k + l / 8 */
    const __m512i lane_sub = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2,
                                              1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i sh0 = counts16(0, 2), sh1 = counts16(4, 6);
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        prefetch_ahead(&x[i], i % 2 ? 4 : 3);   /* 420 bytes per 2: 7 lines */
        __m256i sc256 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        __m512i sc = _mm512_castsi256_si512(sc256);
        __m512i acc = _mm512_setzero_si512();
        for (int c = 0; c < 2; c++) {   /* chunks of 128 values */
            __m512i l = _mm512_loadu_si512(x[i].ql + 64 * c);
            __m512i h = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * c)));
            for (int half = 0; half < 2; half++) {
                /* quarters 2 half and 2 half + 1: 64 values */
                __m512i lo = half ? _mm512_and_si512(_mm512_srli_epi16(l, 4), m4) : _mm512_and_si512(l, m4);
                __m512i hb = _mm512_and_si512(_mm512_srlv_epi16(h, half ? sh1 : sh0), m3);
                __m512i q = _mm512_or_si512(lo, _mm512_slli_epi16(hb, 4));
                int k = 2 * c + half;   /* values 64k.. : sub-blocks 4k..4k+3 */
                __m512i p16 = _mm512_maddubs_epi16(q, _mm512_loadu_si512(y[i].qs + 64 * k));
                __m512i idx = _mm512_add_epi16(lane_sub, _mm512_set1_epi16((short)(4 * k)));
                acc = _mm512_add_epi32(acc, _mm512_madd_epi16(p16, _mm512_permutexvar_epi16(idx, sc)));
            }
        }
        __m256i corr = _mm256_madd_epi16(sc256, _mm256_loadu_si256((const __m256i *)y[i].bsums));
        __m128i c4 = _mm_add_epi32(_mm256_castsi256_si128(corr), _mm256_extracti128_si256(corr, 1));
        c4 = _mm_add_epi32(c4, _mm_shuffle_epi32(c4, 0x4E));
        c4 = _mm_add_epi32(c4, _mm_shuffle_epi32(c4, 0xB1));
        int32_t total = hsum512(acc) - 32 * _mm_cvtsi128_si32(c4);
        sum += F16(x[i].d) * y[i].d * (float)total;
    }
    return sum;
}

bool mast_avx512_available(void)
{
    static int cached = -1;
    if (cached < 0)
        /* this file is compiled with VNNI allowed: require it for all of it
        ** (Ice Lake, Zen 4 and later; Skylake-X keeps the AVX2 kernels) */
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    return cached;
}

mast_dot_fn mast_avx512_dot(mast_dtype weight)
{
    if (!mast_avx512_available())
        return NULL;
    switch (weight) {
    case MAST_Q6_K: return dot_q6_K;
    default: return NULL;
    }
}

/* q8_0 weights x q8_0 activations with AVX-512 VNNI, for single tokens: the
** weight bytes offset to unsigned (x ^ 0x80) so that one vpdpbusd does 64
** products; the activation side's 128 * sum per block (sumy128) and float
** scales (dy) come precomputed, once per activation row. Block i's integer
** sum times its two scales goes to lane i % 4, as the reference. */
float mast_avx512_dot_q8_0_aux(const void *w, const void *a, const int32_t *sumy128, const float *dy,
                               int64_t n)
{
    const block_q8_0 *x = w, *y = a;
    int64_t nb = n / QK8_0, i = 0;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m128 acc = _mm_setzero_ps();
    for (; i + 4 <= nb; i += 4) {
        prefetch_ahead(&x[i], 2 + (i % 32 != 28));   /* 136 bytes per 4 blocks */
        __m512i u0 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)x[i].qs)),
                                        _mm256_loadu_si256((const __m256i *)x[i + 1].qs), 1);
        __m512i u1 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)x[i + 2].qs)),
                                        _mm256_loadu_si256((const __m256i *)x[i + 3].qs), 1);
        __m512i a0 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)y[i].qs)),
                                        _mm256_loadu_si256((const __m256i *)y[i + 1].qs), 1);
        __m512i a1 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)y[i + 2].qs)),
                                        _mm256_loadu_si256((const __m256i *)y[i + 3].qs), 1);
        __m512i z0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_xor_si512(u0, flip), a0);
        __m512i z1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_xor_si512(u1, flip), a1);
        /* per 128-bit lane L: [z0 sum of L, z1 sum of L, ...] */
        __m512i t = _mm512_add_epi32(_mm512_unpacklo_epi32(z0, z1), _mm512_unpackhi_epi32(z0, z1));
        t = _mm512_add_epi32(t, _mm512_shuffle_epi32(t, _MM_PERM_BADC));
        /* lanes 0+1 (blocks i, i+2) and 2+3 (blocks i+1, i+3) */
        t = _mm512_add_epi32(t, _mm512_shuffle_i32x4(t, t, _MM_SHUFFLE(2, 3, 0, 1)));
        __m128i lo = _mm512_castsi512_si128(t), hi = _mm512_extracti32x4_epi32(t, 2);
        __m128i isum = _mm_sub_epi32(_mm_unpacklo_epi32(lo, hi), _mm_loadu_si128((const __m128i *)(sumy128 + i)));
        __m128 dx = _mm_cvtph_ps(_mm_setr_epi16((short)x[i].d, (short)x[i + 1].d, (short)x[i + 2].d,
                                                (short)x[i + 3].d, 0, 0, 0, 0));
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_mul_ps(_mm_cvtepi32_ps(isum), dx), _mm_loadu_ps(dy + i)));
    }
    float lane[4];
    _mm_storeu_ps(lane, acc);
    for (; i < nb; i++) {
        __m256i d = _mm256_dpbusd_epi32(_mm256_setzero_si256(),
                                        _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)x[i].qs),
                                                         _mm256_set1_epi8((char)0x80)),
                                        _mm256_loadu_si256((const __m256i *)y[i].qs));
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(d), _mm256_extracti128_si256(d, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
        lane[i % 4] += (float)(_mm_cvtsi128_si32(s) - sumy128[i]) * F16(x[i].d) * dy[i];
    }
    return (lane[0] + lane[1]) + (lane[2] + lane[3]);
}

/* f16 weights x f16 activations held as f32 (converted once per activation
** row: exact), for single tokens: dot_f16's lanes (element j of each 32 in
** lane j % 32 = two 16-lane registers), folds and tail, so the same bits,
** with one conversion per 16 weights instead of two. */
float mast_avx512_dot_f16_f32(const void *w, const void *act, int64_t n)
{
    const mast_f16 *x = w;
    const float *y = act;
    __m512 z0 = _mm512_setzero_ps(), z1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        prefetch_ahead(x + i, 1);
        z0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))),
                             _mm512_loadu_ps(y + i), z0);
        z1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i + 16))),
                             _mm512_loadu_ps(y + i + 16), z1);
    }
    /* (a0 + a1) + (a2 + a3), a_k the 8-lane quarters */
    __m256 acc = _mm256_add_ps(_mm256_add_ps(_mm512_castps512_ps256(z0), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(z0), 1))),
                               _mm256_add_ps(_mm512_castps512_ps256(z1), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(z1), 1))));
    for (; i + 8 <= n; i += 8)
        acc = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))), _mm256_loadu_ps(y + i),
                              acc);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    float sum = _mm_cvtss_f32(s);
    for (; i < n; i++)
        sum = fmaf(F16(x[i]), y[i], sum);
    return sum;
}
