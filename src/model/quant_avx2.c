/*
** model/quant_avx2.c — AVX2 + FMA + F16C dot products, chosen at run time.
**
** Each kernel computes exactly the integer sums of the scalar reference
** (quant.c, quant_k.c) with SIMD and then performs the same float operations
** in the same order, so its result is bit-identical to the reference (the
** tests check this). Float types accumulate in 8 lanes with FMA and reduce
** pairwise, which is the reference's definition too.
**
** This file is compiled with -mavx2 -mfma -mf16c; nothing in it runs unless
** mast_avx2_available() said the CPU has those features.
*/
#include <cpuid.h>
#include <immintrin.h>
#include <string.h>

#include "model/quant_impl.h"

/* F16C converts exactly like mast_f16_to_f32, in one instruction */
#undef F16
#define F16(x) _cvtsh_ss(x)

bool mast_avx2_available(void)
{
    static int cached = -1;
    if (cached < 0) {
        /* AVX2 and FMA from the compiler's CPU model (which also checks that
        ** the OS saves YMM state); F16C from CPUID leaf 1, ECX bit 29 */
        __builtin_cpu_init();
        unsigned a, b, c = 0, d;
        int f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
    }
    return cached;
}

static inline int hsum_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

static inline int hsum_i32_128(__m128i s)
{
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* pairwise reduction of 8 float lanes: (k, k+4), then (k, k+2), then (0, 1) */
static inline float reduce8(__m256 acc)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* sum of x*y over 32 signed bytes, as 8 int32 lanes */
static inline __m256i dot_i8(__m256i x, __m256i y)
{
    __m256i ax = _mm256_sign_epi8(x, x), sy = _mm256_sign_epi8(y, x);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
}

/* sum of u*y, u unsigned bytes (< 128), y signed bytes, as 8 int32 lanes */
static inline __m256i dot_u8(__m256i u, __m256i y)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, y), _mm256_set1_epi16(1));
}

static inline __m256 load_bf16(const uint16_t *p)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

static inline __m256 load_f16(const mast_f16 *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline float f32_same(float v) { return v; }
static inline float bf16f(uint16_t v) { return mast_bf16_to_f32(v); }

/* Float types: four chains of 8 lanes over each 32 elements, folded as
** (a0 + a1) + (a2 + a3), then groups of 8, reduce8, the tail — the
** reference's order (quant.c), so the same bits. */
#define DOT_FLOAT(name, T, LOAD, SCALAR)                                             \
    static float name(const void *w, const void *a, int64_t n)                     \
    {                                                                               \
        const T *x = w, *y = a;                                                     \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                 \
        int64_t i = 0;                                                              \
        for (; i + 32 <= n; i += 32) {                                              \
            a0 = _mm256_fmadd_ps(LOAD(x + i), LOAD(y + i), a0);                     \
            a1 = _mm256_fmadd_ps(LOAD(x + i + 8), LOAD(y + i + 8), a1);             \
            a2 = _mm256_fmadd_ps(LOAD(x + i + 16), LOAD(y + i + 16), a2);           \
            a3 = _mm256_fmadd_ps(LOAD(x + i + 24), LOAD(y + i + 24), a3);           \
        }                                                                           \
        __m256 acc = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));   \
        for (; i + 8 <= n; i += 8)                                                  \
            acc = _mm256_fmadd_ps(LOAD(x + i), LOAD(y + i), acc);                   \
        float sum = reduce8(acc);                                                   \
        for (; i < n; i++)                                                          \
            sum = fmaf(SCALAR(x[i]), SCALAR(y[i]), sum);                            \
        return sum;                                                                 \
    }

DOT_FLOAT(dot_f32, float, _mm256_loadu_ps, f32_same)
DOT_FLOAT(dot_f16, mast_f16, load_f16, F16)
DOT_FLOAT(dot_bf16, uint16_t, load_bf16, bf16f)

/* The int32 sums of four 8-lane vectors: {sum(v0), sum(v1), sum(v2), sum(v3)}. */
static inline __m128i hsum4_i32(__m256i v0, __m256i v1, __m256i v2, __m256i v3)
{
    __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* The float results (float)isum[k] * dx[k] * dy[k] of four consecutive
** blocks, added to the four lanes (block i goes to lane i % 4). */
static inline __m128 add4(__m128 lanes, __m128i isum, __m128 dx, __m128 dy)
{
    return _mm_add_ps(lanes, _mm_mul_ps(_mm_mul_ps(_mm_cvtepi32_ps(isum), dx), dy));
}

/* (l0 + l1) + (l2 + l3), as the reference combines its lanes */
static inline float lanes4(const float l[4])
{
    return (l[0] + l[1]) + (l[2] + l[3]);
}

static inline __m128 f16x4(mast_f16 a, mast_f16 b, mast_f16 c, mast_f16 d)
{
    return _mm_cvtph_ps(_mm_setr_epi16((short)a, (short)b, (short)c, (short)d, 0, 0, 0, 0));
}

/* Q8_0 x Q8_0: block i's integer sum times its two scales goes to lane
** i % 4. The scales come from the blocks (dx, dy NULL) or, for products over
** a batch where converting them per pair costs more than the bytes, already
** converted to float: the same values in the same operations, so the same
** bits. Inlined with constant arguments, the unused branch disappears. */
static inline float q8_0_dot(const block_q8_0 *x, const block_q8_0 *y, const float *dx,
                             const float *dy, int64_t n)
{
    int64_t nb = n / QK8_0, i = 0;
    __m128 acc = _mm_setzero_ps();
    for (; i + 4 <= nb; i += 4) {
        __m256i d[4];
        for (int k = 0; k < 4; k++)
            d[k] = dot_i8(_mm256_loadu_si256((const __m256i *)x[i + k].qs),
                          _mm256_loadu_si256((const __m256i *)y[i + k].qs));
        __m128 sx = dx ? _mm_loadu_ps(dx + i) : f16x4(x[i].d, x[i + 1].d, x[i + 2].d, x[i + 3].d);
        __m128 sy = dy ? _mm_loadu_ps(dy + i) : f16x4(y[i].d, y[i + 1].d, y[i + 2].d, y[i + 3].d);
        acc = add4(acc, hsum4_i32(d[0], d[1], d[2], d[3]), sx, sy);
    }
    float lane[4];
    _mm_storeu_ps(lane, acc);
    for (; i < nb; i++) {
        __m256i qx = _mm256_loadu_si256((const __m256i *)x[i].qs);
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        lane[i % 4] += (float)hsum_i32(dot_i8(qx, qy)) * (dx ? dx[i] : F16(x[i].d)) *
                       (dy ? dy[i] : F16(y[i].d));
    }
    return lanes4(lane);
}

static float dot_q8_0(const void *w, const void *a, int64_t n)
{
    return q8_0_dot(w, a, NULL, NULL, n);
}

float mast_avx2_dot_q8_0_scaled(const void *w, const void *a, const float *dx, const float *dy,
                                int64_t n)
{
    return q8_0_dot(w, a, dx, dy, n);
}

/* 16 bytes of nibbles -> 32 bytes: low nibbles first, then high nibbles */
static inline __m256i unpack_nibbles(const uint8_t *p)
{
    __m128i b = _mm_loadu_si128((const __m128i *)p);
    __m128i lo = _mm_and_si128(b, _mm_set1_epi8(0x0F));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0F));
    return _mm256_set_m128i(hi, lo);
}

static float dot_q4_0(const void *w, const void *a, int64_t n)
{
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    const __m256i eight = _mm256_set1_epi8(8);
    int64_t nb = n / QK8_0, i = 0;
    __m128 acc = _mm_setzero_ps();
    for (; i + 4 <= nb; i += 4) {
        __m256i d[4];
        for (int k = 0; k < 4; k++)
            d[k] = dot_i8(_mm256_sub_epi8(unpack_nibbles(x[i + k].qs), eight),
                          _mm256_loadu_si256((const __m256i *)y[i + k].qs));
        acc = add4(acc, hsum4_i32(d[0], d[1], d[2], d[3]),
                   f16x4(x[i].d, x[i + 1].d, x[i + 2].d, x[i + 3].d),
                   f16x4(y[i].d, y[i + 1].d, y[i + 2].d, y[i + 3].d));
    }
    float lane[4];
    _mm_storeu_ps(lane, acc);
    for (; i < nb; i++) {
        __m256i qx = _mm256_sub_epi8(unpack_nibbles(x[i].qs), eight);
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        lane[i % 4] += (float)hsum_i32(dot_i8(qx, qy)) * F16(x[i].d) * F16(y[i].d);
    }
    return lanes4(lane);
}


/* A q4_K/q5_K block's 8 scales as 16-bit values in both 128-bit halves, and
** its 8 mins as 16-bit values (k4_scale_words) */
static inline void k4_scales(const uint8_t packed[12], __m256i *sc16, __m128i *mins16)
{
    uint32_t sc[2], mn[2];
    k4_scale_words(packed, sc, mn);
    *sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)sc[1], (int)sc[0])));
    *mins16 = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)mn[1], (int)mn[0]));
}

/* scale j of sc16 in every 16-bit lane */
static inline __m256i k4_scale(__m256i sc16, int j)
{
    return _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0202 * j)));
}

/* sum over j of mins[j] * (bsums[2j] + bsums[2j+1]) */
static inline int32_t k4_mins(__m128i mins16, const int16_t bsums[16])
{
    __m128i lo = _mm_loadu_si128((const __m128i *)bsums);
    __m128i hi = _mm_loadu_si128((const __m128i *)(bsums + 8));
    return hsum_i32_128(_mm_madd_epi16(mins16, _mm_hadd_epi16(lo, hi)));
}

/* One Q4_K superblock's contribution, its scales already unpacked: the
** integer sums scaled in the 16-bit domain, then one float expression. */
static inline float q4_K_superblock(const block_q4_K *x, const block_q8_K *y, __m256i sc16,
                                    __m128i mins16, float d, float dmin)
{
    const __m256i mask = _mm256_set1_epi8(0x0F);
    /* scale in the 16-bit domain: madd(q*y pairs, scale) = scale * (sum of 4) */
    __m256i acc = _mm256_setzero_si256();
    for (int p = 0; p < 4; p++) {   /* pairs of sub-blocks share 32 bytes */
        __m256i b = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * p));
        __m256i lo = _mm256_maddubs_epi16(_mm256_and_si256(b, mask),
                                          _mm256_loadu_si256((const __m256i *)(y->qs + 64 * p)));
        __m256i hi = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(b, 4), mask),
                                          _mm256_loadu_si256((const __m256i *)(y->qs + 64 * p + 32)));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(lo, k4_scale(sc16, 2 * p)));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(hi, k4_scale(sc16, 2 * p + 1)));
    }
    int32_t total = hsum_i32(acc), mins = k4_mins(mins16, y->bsums);
    return d * y->d * (float)total - dmin * y->d * (float)mins;
}

static float dot_q4_K(const void *w, const void *act, int64_t n)
{
    const block_q4_K *x = w;
    const block_q8_K *y = act;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i sc16;
        __m128i mins16;
        k4_scales(x[i].scales, &sc16, &mins16);
        sum += q4_K_superblock(&x[i], &y[i], sc16, mins16, F16(x[i].d), F16(x[i].dmin));
    }
    return sum;
}

/* A Q4_K row's per-superblock scales unpacked once (mast_k4_prepare), for
** products over a batch; dot_q4_K_prepared then does dot_q4_K's integer and
** float steps exactly, so the same bits. */
void mast_avx2_q4_K_prepare(const void *w, int64_t n, mast_k4_pre *pre)
{
    const block_q4_K *x = w;
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i sc16;
        __m128i mins16;
        k4_scales(x[i].scales, &sc16, &mins16);
        _mm256_storeu_si256((__m256i *)pre[i].sc, sc16);
        _mm_storeu_si128((__m128i *)pre[i].mins, mins16);
        pre[i].d = F16(x[i].d);
        pre[i].dmin = F16(x[i].dmin);
    }
}

float mast_avx2_dot_q4_K_prepared(const void *w, const void *act, const mast_k4_pre *pre, int64_t n)
{
    const block_q4_K *x = w;
    const block_q8_K *y = act;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++)
        sum += q4_K_superblock(&x[i], &y[i], _mm256_loadu_si256((const __m256i *)pre[i].sc),
                               _mm_loadu_si128((const __m128i *)pre[i].mins), pre[i].d, pre[i].dmin);
    return sum;
}

/* Two activation rows against one weight row: the weight bytes unpacked
** and the scale vectors formed once for both; each result takes exactly
** q4_K_superblock's integer and float steps. */
void mast_avx2_dot_q4_K_prepared2(const void *w, const void *act0, const void *act1,
                                  const mast_k4_pre *pre, int64_t n, float out[2])
{
    const block_q4_K *x = w;
    const block_q8_K *y0 = act0, *y1 = act1;
    const __m256i mask = _mm256_set1_epi8(0x0F);
    float sum0 = 0, sum1 = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i sc16 = _mm256_loadu_si256((const __m256i *)pre[i].sc);
        __m128i mins16 = _mm_loadu_si128((const __m128i *)pre[i].mins);
        __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
        for (int p = 0; p < 4; p++) {
            __m256i b = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * p));
            __m256i ql = _mm256_and_si256(b, mask), qh = _mm256_and_si256(_mm256_srli_epi16(b, 4), mask);
            __m256i sl = k4_scale(sc16, 2 * p), sh = k4_scale(sc16, 2 * p + 1);
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_maddubs_epi16(ql,
                       _mm256_loadu_si256((const __m256i *)(y0[i].qs + 64 * p))), sl));
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_maddubs_epi16(qh,
                       _mm256_loadu_si256((const __m256i *)(y0[i].qs + 64 * p + 32))), sh));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_maddubs_epi16(ql,
                       _mm256_loadu_si256((const __m256i *)(y1[i].qs + 64 * p))), sl));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_maddubs_epi16(qh,
                       _mm256_loadu_si256((const __m256i *)(y1[i].qs + 64 * p + 32))), sh));
        }
        int32_t t0 = hsum_i32(acc0), m0 = k4_mins(mins16, y0[i].bsums);
        int32_t t1 = hsum_i32(acc1), m1 = k4_mins(mins16, y1[i].bsums);
        sum0 += pre[i].d * y0[i].d * (float)t0 - pre[i].dmin * y0[i].d * (float)m0;
        sum1 += pre[i].d * y1[i].d * (float)t1 - pre[i].dmin * y1[i].d * (float)m1;
    }
    out[0] = sum0;
    out[1] = sum1;
}

static float dot_q6_K(const void *w, const void *act, int64_t n)
{
    const block_q6_K *x = w;
    const block_q8_K *y = act;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        /* the 16 scales as 16-bit values; quarter q of chunk c uses scales
        ** s = 8c + 2q (lanes 0-7 of the 16-bit products) and s + 1 (lanes 8-15) */
        __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        __m256i acc = _mm256_setzero_si256();
        for (int c = 0; c < 2; c++) {   /* chunks of 128 elements */
            __m256i l0 = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * c));
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * c + 32));
            __m256i h = _mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * c));
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(h, m3), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m3), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m3), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m3), 4));
            for (int quarter = 0; quarter < 4; quarter++) {
                const int8_t *ay = y[i].qs + 128 * c + 32 * quarter;
                int s = 8 * c + 2 * quarter;
                /* pairs of q*y (|.| <= 2 * 63 * 128, no saturation), times the
                ** sub-block's scale in the 16-bit multiply-add: exact int32 */
                __m256i p16 = _mm256_maddubs_epi16(q[quarter], _mm256_loadu_si256((const __m256i *)ay));
                __m256i scale = _mm256_set_m128i(_mm_set1_epi16(x[i].scales[s + 1]),
                                                 _mm_set1_epi16(x[i].scales[s]));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p16, scale));
            }
        }
        /* minus 32 * sum over sub-blocks of scale * bsum (q6 values are q - 32) */
        __m256i b16 = _mm256_loadu_si256((const __m256i *)y[i].bsums);
        int32_t corr = hsum_i32(_mm256_madd_epi16(sc, b16));
        int32_t total = hsum_i32(acc) - 32 * corr;
        sum += F16(x[i].d) * y[i].d * (float)total;
    }
    return sum;
}

/* 32 bits -> 32 bytes: byte i is 0xFF when bit i is set, else 0 */
static inline __m256i bits_to_bytes(const uint8_t *p)
{
    uint32_t bits;
    memcpy(&bits, p, 4);
    const __m256i pick = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i mask = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), pick);
    return _mm256_cmpeq_epi8(_mm256_and_si256(bytes, mask), mask);
}

static float dot_q5_0(const void *w, const void *a, int64_t n)
{
    const block_q5_0 *x = w;
    const block_q8_0 *y = a;
    const __m256i h = _mm256_set1_epi8(0x10), sixteen = _mm256_set1_epi8(16);
    int64_t nb = n / QK8_0, i = 0;
    __m128 acc = _mm_setzero_ps();
    __m256i d[4];
    for (; i + 4 <= nb; i += 4) {
        for (int k = 0; k < 4; k++) {
            __m256i q = _mm256_or_si256(unpack_nibbles(x[i + k].qs),
                                        _mm256_and_si256(bits_to_bytes(x[i + k].qh), h));
            d[k] = dot_i8(_mm256_sub_epi8(q, sixteen),
                          _mm256_loadu_si256((const __m256i *)y[i + k].qs));
        }
        acc = add4(acc, hsum4_i32(d[0], d[1], d[2], d[3]),
                   f16x4(x[i].d, x[i + 1].d, x[i + 2].d, x[i + 3].d),
                   f16x4(y[i].d, y[i + 1].d, y[i + 2].d, y[i + 3].d));
    }
    float lane[4];
    _mm_storeu_ps(lane, acc);
    for (; i < nb; i++) {
        __m256i q = _mm256_or_si256(unpack_nibbles(x[i].qs), _mm256_and_si256(bits_to_bytes(x[i].qh), h));
        int isum = hsum_i32(dot_i8(_mm256_sub_epi8(q, sixteen),
                                   _mm256_loadu_si256((const __m256i *)y[i].qs)));
        lane[i % 4] += (float)isum * F16(x[i].d) * F16(y[i].d);
    }
    return lanes4(lane);
}

/* q4_1 and q5_1: unsigned quants with a minimum; the float step per block is
** (dx * dy) * isum + mx * sy, as in the reference. */
static float dot_x_1(const void *w, const void *a, int64_t n, int five)
{
    const block_q8_1 *y = a;
    const block_q4_1 *x4 = w;
    const block_q5_1 *x5 = w;
    const __m256i h = _mm256_set1_epi8(0x10);
    int64_t nb = n / QK8_1;
    float lane[4] = {0};
    for (int64_t i = 0; i < nb; i += 4) {
        int m = nb - i < 4 ? (int)(nb - i) : 4;
        __m256i d[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                        _mm256_setzero_si256()};
        for (int k = 0; k < m; k++) {
            __m256i q = five ? _mm256_or_si256(unpack_nibbles(x5[i + k].qs),
                                               _mm256_and_si256(bits_to_bytes(x5[i + k].qh), h))
                             : unpack_nibbles(x4[i + k].qs);
            d[k] = dot_u8(q, _mm256_loadu_si256((const __m256i *)y[i + k].qs));
        }
        int32_t is[4];
        _mm_storeu_si128((__m128i *)is, hsum4_i32(d[0], d[1], d[2], d[3]));
        for (int k = 0; k < m; k++) {
            mast_f16 xd = five ? x5[i + k].d : x4[i + k].d, xm = five ? x5[i + k].m : x4[i + k].m;
            lane[(i + k) % 4] += (F16(xd) * F16(y[i + k].d)) * (float)is[k] + F16(xm) * F16(y[i + k].s);
        }
    }
    return lanes4(lane);
}

static float dot_q4_1(const void *w, const void *a, int64_t n) { return dot_x_1(w, a, n, 0); }
static float dot_q5_1(const void *w, const void *a, int64_t n) { return dot_x_1(w, a, n, 1); }

static float dot_q5_K(const void *w, const void *act, int64_t n)
{
    const block_q5_K *x = w;
    const block_q8_K *y = act;
    const __m256i mask = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i sc16;
        __m128i mins16;
        k4_scales(x[i].scales, &sc16, &mins16);
        __m256i qh = _mm256_loadu_si256((const __m256i *)x[i].qh), acc = _mm256_setzero_si256();
        for (int p = 0; p < 4; p++) {
            __m256i b = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * p));
            __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * p), one);
            __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * p + 1), one);
            __m256i q0 = _mm256_or_si256(_mm256_and_si256(b, mask), _mm256_slli_epi16(h0, 4));
            __m256i q1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), mask),
                                         _mm256_slli_epi16(h1, 4));
            __m256i lo = _mm256_maddubs_epi16(q0, _mm256_loadu_si256((const __m256i *)(y[i].qs + 64 * p)));
            __m256i hi = _mm256_maddubs_epi16(q1, _mm256_loadu_si256((const __m256i *)(y[i].qs + 64 * p + 32)));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(lo, k4_scale(sc16, 2 * p)));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(hi, k4_scale(sc16, 2 * p + 1)));
        }
        int32_t total = hsum_i32(acc), mins = k4_mins(mins16, y[i].bsums);
        sum += F16(x[i].d) * y[i].d * (float)total - F16(x[i].dmin) * y[i].d * (float)mins;
    }
    return sum;
}

/* Sums over the two 16-element halves of a 32-element dot (8 int32 lanes). */
static inline void halves(__m256i d, int32_t *lo, int32_t *hi)
{
    *lo = hsum_i32_128(_mm256_castsi256_si128(d));
    *hi = hsum_i32_128(_mm256_extracti128_si256(d, 1));
}

static float dot_q3_K(const void *w, const void *act, int64_t n)
{
    const block_q3_K *x = w;
    const block_q8_K *y = act;
    const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1), four = _mm256_set1_epi8(4);
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t sc[16];
        q3_K_scales(x[i].scales, sc);
        __m256i hm = _mm256_loadu_si256((const __m256i *)x[i].hmask);
        int32_t acc = 0;
        for (int c = 0; c < 2; c++) {
            __m256i qs = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * c));
            for (int j = 0; j < 4; j++) {
                __m256i v = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * j), three);
                __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * c + j), one);
                __m256i q = _mm256_sub_epi8(_mm256_add_epi8(v, _mm256_slli_epi16(hb, 2)), four);
                const int8_t *ay = y[i].qs + 128 * c + 32 * j;
                int32_t lo, hi;
                halves(dot_i8(q, _mm256_loadu_si256((const __m256i *)ay)), &lo, &hi);
                int s = 8 * c + 2 * j;
                acc += sc[s] * lo;
                acc += sc[s + 1] * hi;
            }
        }
        sum += F16(x[i].d) * y[i].d * (float)acc;
    }
    return sum;
}

static float dot_q2_K(const void *w, const void *act, int64_t n)
{
    const block_q2_K *x = w;
    const block_q8_K *y = act;
    const __m256i three = _mm256_set1_epi8(3);
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int32_t acc = 0, mins = 0;
        for (int c = 0; c < 2; c++) {
            __m256i qs = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * c));
            for (int j = 0; j < 4; j++) {
                __m256i q = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * j), three);
                const int8_t *ay = y[i].qs + 128 * c + 32 * j;
                int32_t lo, hi;
                halves(dot_u8(q, _mm256_loadu_si256((const __m256i *)ay)), &lo, &hi);
                int s = 8 * c + 2 * j;
                acc += (x[i].scales[s] & 0xF) * lo;
                acc += (x[i].scales[s + 1] & 0xF) * hi;
            }
        }
        for (int s = 0; s < 16; s++)
            mins += (x[i].scales[s] >> 4) * y[i].bsums[s];
        sum += F16(x[i].d) * y[i].d * (float)acc - F16(x[i].dmin) * y[i].d * (float)mins;
    }
    return sum;
}

/* ---- activation quantizers (byte-identical to quant.c / quant_k.c) ---- */

static inline float hmax_ps(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

static const __m256i *abs_mask_ptr(void)
{
    static const int32_t mask[8] = {0x7FFFFFFF, 0x7FFFFFFF, 0x7FFFFFFF, 0x7FFFFFFF,
                                    0x7FFFFFFF, 0x7FFFFFFF, 0x7FFFFFFF, 0x7FFFFFFF};
    return (const __m256i *)mask;
}

/* 32 floats * id, rounded half to even, as int8 in element order */
static inline __m256i round_pack32(const float *x, __m256 id)
{
    __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), id));
    __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), id));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), id));
    __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), id));
    __m256i p01 = _mm256_packs_epi32(i0, i1), p23 = _mm256_packs_epi32(i2, i3);
    __m256i p = _mm256_packs_epi16(p01, p23);
    /* undo the per-128-bit-lane interleaving of the packs */
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static void quant_q8_0(const float *x, void *dst, int64_t n)
{
    block_q8_0 *y = dst;
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_loadu_si256(abs_mask_ptr()));
    for (int64_t i = 0; i < n / QK8_0; i++, x += QK8_0) {
        __m256 m = _mm256_and_ps(_mm256_loadu_ps(x), abs_mask);
        for (int k = 8; k < 32; k += 8)
            m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + k), abs_mask));
        float amax = hmax_ps(m);
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[i].d = mast_f32_to_f16(amax / 127.0f);
        _mm256_storeu_si256((__m256i *)y[i].qs, round_pack32(x, _mm256_set1_ps(id)));
    }
}

static void quant_q8_K(const float *x, void *dst, int64_t n)
{
    block_q8_K *y = dst;
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_loadu_si256(abs_mask_ptr()));
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int k = 0; k < QK_K; k += 8)
            m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + k), abs_mask));
        float amax = hmax_ps(m);
        if (amax == 0) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        int j = 0;   /* the first element of largest magnitude, with its sign */
        while (fabsf(x[j]) != amax)
            j++;
        float iscale = -127.0f / x[j];
        __m256 is = _mm256_set1_ps(iscale);
        const __m256i max127 = _mm256_set1_epi8(127);
        for (int k = 0; k < QK_K; k += 32) {
            /* values reach 128 only for the (negated) maximum itself: clamp */
            __m256i q = round_pack32(x + k, is);
            q = _mm256_min_epi8(q, max127);
            _mm256_storeu_si256((__m256i *)(y[i].qs + k), q);
            __m256i s16 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q),
                                            _mm256_set1_epi16(1));
            /* s16 lanes hold sums of 4; pairs of lanes are the two bsums of 16 */
            int32_t l[8];
            _mm256_storeu_si256((__m256i *)l, s16);
            y[i].bsums[k / 16] = (int16_t)(l[0] + l[1] + l[2] + l[3]);
            y[i].bsums[k / 16 + 1] = (int16_t)(l[4] + l[5] + l[6] + l[7]);
        }
        y[i].d = 1 / iscale;
    }
}

/* F16C: both directions round as the scalar code does (to nearest, ties to
** even; the conversion to f32 is exact). */
static void quant_f16(const float *x, void *dst, int64_t n)
{
    mast_f16 *y = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        y[i] = mast_f32_to_f16(x[i]);
}

static void dequant_f16(const void *src, float *y, int64_t n)
{
    const mast_f16 *x = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++)
        y[i] = F16(x[i]);
}

static void dequant_q8_0(const void *src, float *y, int64_t n)
{
    const block_q8_0 *x = src;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        __m256 d = _mm256_set1_ps(F16(x[i].d));
        for (int k = 0; k < QK8_0; k += 8) {
            __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x[i].qs + k)));
            _mm256_storeu_ps(y + i * QK8_0 + k, _mm256_mul_ps(d, _mm256_cvtepi32_ps(q)));
        }
    }
}

void (*mast_avx2_dequant(mast_dtype type))(const void *, float *, int64_t)
{
    switch (type) {
    case MAST_F16: return dequant_f16;
    case MAST_Q8_0: return dequant_q8_0;
    default: return NULL;
    }
}

void (*mast_avx2_quant(mast_dtype type))(const float *, void *, int64_t)
{
    switch (type) {
    case MAST_F16: return quant_f16;
    case MAST_Q8_0: return quant_q8_0;
    case MAST_Q8_K: return quant_q8_K;
    default: return NULL;
    }
}

mast_dot_fn mast_avx2_dot(mast_dtype weight)
{
    switch (weight) {
    case MAST_F32: return dot_f32;
    case MAST_F16: return dot_f16;
    case MAST_BF16: return dot_bf16;
    case MAST_Q8_0: return dot_q8_0;
    case MAST_Q4_0: return dot_q4_0;
    case MAST_Q4_K: return dot_q4_K;
    case MAST_Q6_K: return dot_q6_K;
    case MAST_Q4_1: return dot_q4_1;
    case MAST_Q5_0: return dot_q5_0;
    case MAST_Q5_1: return dot_q5_1;
    case MAST_Q2_K: return dot_q2_K;
    case MAST_Q3_K: return dot_q3_K;
    case MAST_Q5_K: return dot_q5_K;
    default: return NULL;   /* scalar reference */
    }
}
