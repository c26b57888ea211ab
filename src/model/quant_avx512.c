/*
** model/quant_avx512.c — AVX-512 (F, BW, VL, VNNI) row kernels for single
** tokens (generation), called from matmul.c a tile of rows at a time:
**   - four rows at a time, so that the per-block horizontal sums and float
**     steps (as costly as the products in a one-row kernel) are shared, a
**     row per lane: k4_rows4 (q4_K, q5_K: the q8_K bytes in paired order),
**     k16_rows4 (q6_K, q3_K, q2_K), b32_rows4 (q4_0, q5_0: the activation
**     block sums and scales precomputed);
**   - one row at a time: q6_K (dot_q6_K, also mast_vec_dot's q6_K), q8_0
**     (vpdpbusd on offset bytes, block sums and scales precomputed) and f16
**     (the activations held as f32).
** Each takes the integer sums and float steps of the reference (quant.c,
** quant_k.c) — the integers in any order, the floats in the reference's —
** so the same bits (test_quant.c, test_matmul.c). They prefetch the
** weights ahead (PREFETCH_AHEAD, prefetch_group).
*/
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
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
/* Kernels that read four rows at once prefetch in address order, as many
** bytes per step as the group reads (prefetch_group), at least 12 KiB
** ahead, measured best (Q4_K_M generation, 2 threads: 8 KiB 905, 12 KiB
** 960, 16 KiB 965, 24 KiB 896 tokens/s; 1 thread: 8 KiB 510, 12 KiB 559,
** 16 KiB 536). */
#define PREFETCH_GROUP_AHEAD 12288

/* The addresses are computed as integers: they run past the weights, and
** GCC dropped prefetches of a pointer it could prove went past its object
** (b32_rows4 lost all of them: q4_0 from DRAM 38 -> 16 GB/s). */
static inline void prefetch_ahead(const void *p, int lines)
{
    for (int k = 0; k < lines; k++)
        _mm_prefetch((const char *)((uintptr_t)p + PREFETCH_AHEAD + 64 * (uintptr_t)k), _MM_HINT_NTA);
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

/* [sum of a[0]'s lanes, ... a[3]'s]: four rows' accumulators reduced together */
static inline __m128i hsum4x512(const __m512i a[4])
{
    __m512i t01 = _mm512_add_epi32(_mm512_unpacklo_epi32(a[0], a[1]), _mm512_unpackhi_epi32(a[0], a[1]));
    __m512i t23 = _mm512_add_epi32(_mm512_unpacklo_epi32(a[2], a[3]), _mm512_unpackhi_epi32(a[2], a[3]));
    __m512i v = _mm512_add_epi32(_mm512_unpacklo_epi64(t01, t23), _mm512_unpackhi_epi64(t01, t23));
    __m256i v8 = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(v8), _mm256_extracti128_si256(v8, 1));
}

/* A group of four rows, row_bytes apart from w, read step bytes per
** iteration: at iteration i, prefetch the step bytes at w + i step + lead,
** in address order, lead the larger of the group (so the next group's
** bytes, spread over this group's iterations: rows longer than the
** distance need that, or the last rows' bytes would be read before they
** were asked for) and PREFETCH_GROUP_AHEAD. */
static inline size_t group_lead(size_t row_bytes)
{
    return 4 * row_bytes > PREFETCH_GROUP_AHEAD ? 4 * row_bytes : PREFETCH_GROUP_AHEAD;
}

static inline void prefetch_group(const unsigned char *w, size_t lead, int64_t i, size_t step)
{
    uintptr_t ahead = (uintptr_t)w + lead + (size_t)i * step;
    for (size_t o = 0; o < step; o += 64)
        _mm_prefetch((const char *)(ahead + o), _MM_HINT_NTA);
}

/* The float step of a K-type super-block for four rows, lane 2r: d_r dy
** total_r - dmin_r dy mins_r, as the reference (dd: d, dmin per row as
** F16; a type without mins passes zeros, and x - 0 is x) */
static inline __m256 k_step(__m256 sum, __m128i tot, __m128i mins, const void *dd, float dy)
{
    __m256 tm = _mm256_cvtepi32_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi32(tot, mins)),
                                                           _mm_unpackhi_epi32(tot, mins), 1));
    __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)dd)), _mm256_set1_ps(dy));
    __m256 p = _mm256_mul_ps(d, tm);
    return _mm256_add_ps(sum, _mm256_sub_ps(p, _mm256_movehdup_ps(p)));
}

static inline void k_out(__m256 sum, float out[4])
{
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    for (int r = 0; r < 4; r++)
        out[r] = lanes[2 * r];
}

/* A q4_K super-block's 12 packed bytes as [8 scales, 8 mins], bytes, in
** one register (k4_scale_words' arithmetic, a word per lane): the 16 bytes
** loaded start at the scales and run 4 into qs, which lane 3 holds and
** nothing uses. */
static inline __m128i k4_scales_mins(const uint8_t *packed)
{
    __m128i w = _mm_loadu_si128((const __m128i *)packed);   /* [a, b, c, -] */
    __m128i low = _mm_and_si128(w, _mm_set1_epi32(0x3F3F3F3F));   /* [sc0, mn0] */
    __m128i c = _mm_srlv_epi32(_mm_shuffle_epi32(w, 0xAA), _mm_setr_epi32(0, 4, 0, 0));
    __m128i high = _mm_or_si128(_mm_and_si128(c, _mm_set1_epi32(0x0F0F0F0F)),
                                _mm_and_si128(_mm_srli_epi32(w, 2), _mm_set1_epi32(0x30303030)));
    return _mm_unpacklo_epi32(low, high);   /* [sc0, sc1, mn0, mn1] */
}

void mast_avx512_q8_K_paired(const void *act, int64_t n, void *out)
{
    const block_q8_K *y = act;
    block_q8_K *o = out;
    for (int64_t i = 0; i < n / QK_K; i++) {
        o[i].d = y[i].d;
        for (int h = 0; h < 2; h++)
            for (int part = 0; part < 4; part++) {   /* 32-byte pieces 0, 2, 1, 3 of each 128 */
                static const int from[4] = {0, 2, 1, 3};
                memcpy(o[i].qs + 128 * h + 32 * part, y[i].qs + 128 * h + 32 * from[part], 32);
            }
        /* bsums[j] = sub-block j's sum (32 values: at most 32 * 128), the rest zero */
        for (int j = 0; j < 16; j++)
            o[i].bsums[j] = j < 8 ? (int16_t)(y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]) : 0;
    }
}

/* q4_K (q5_K: plus a fifth bit): sub-block j (32 values) is the low (j
** even) or high (j odd) nibbles of bytes 32 (j / 2) ...; value * scale_j
** summed, minus min_j * its sum.
** Against a paired activation row (mast_avx512_q8_K_paired): 64 weight
** bytes (sub-blocks 4h, 4h + 2 in their low nibbles, 4h + 1, 4h + 3 in
** their high) meet 64 contiguous activation bytes each, no broadcast or
** variable shift, and the sub-block sums come ready. matmul.c is the only
** caller (the activation copy is made once per product).
**
** Four rows at a time (k4_rows4): a super-block's horizontal sums and
** float steps cost as much as its products, and four rows share them: the
** four accumulators reduce together, and the float steps run a row per
** lane. Each lane takes the reference's integers and float steps in its
** order, so every row gets the reference's bits. */

/* 16-bit lane l of the low register takes scale 4h + 2 (l >= 16), the high one that + 1 */
#define K4_LANE_HI2                                                                              \
    _mm512_set_epi64(0x0002000200020002LL, 0x0002000200020002LL, 0x0002000200020002LL,          \
                     0x0002000200020002LL, 0, 0, 0, 0)

/* A row's products with the activation: scale-weighted sums, 16 lanes.
** qs: the 128 bytes of 4-bit values; qh: q5_K's 32 bytes of fifth bits
** (bit j of byte l: value l of sub-block j), NULL for q4_K. */
static inline __m512i k4_products(const uint8_t *qs, const uint8_t *qh, const __m512i y[4], __m512i sc)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F), b4 = _mm512_set1_epi8(0x10);
    /* a byte's bit b to bit 4: its 32-bit lane rotated left by 4 - b (mod
    ** 32); [h][high nibbles][256-bit half]: sub-blocks 4h, 4h + 2 (low
    ** nibbles), 4h + 1, 4h + 3 (high) */
    static const int rot[2][2][2] = {{{4, 2}, {3, 1}}, {{0, 30}, {31, 29}}};
    __m512i h5 = qh ? _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)qh)) : _mm512_setzero_si512();
    __m512i acc = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) {
        __m512i q = _mm512_loadu_si512(qs + 64 * h);
        __m512i lo = q, hi = _mm512_srli_epi16(q, 4);
        if (qh) {   /* (nibble & 0x0F) | (fifth bit in place & 0x10) */
            __m512i rl = _mm512_inserti64x4(_mm512_set1_epi32(rot[h][0][0]), _mm256_set1_epi32(rot[h][0][1]), 1);
            __m512i rh = _mm512_inserti64x4(_mm512_set1_epi32(rot[h][1][0]), _mm256_set1_epi32(rot[h][1][1]), 1);
            lo = _mm512_ternarylogic_epi32(lo, m4, _mm512_and_si512(_mm512_rolv_epi32(h5, rl), b4), 0xEA);
            hi = _mm512_ternarylogic_epi32(hi, m4, _mm512_and_si512(_mm512_rolv_epi32(h5, rh), b4), 0xEA);
        } else {
            lo = _mm512_and_si512(lo, m4);
            hi = _mm512_and_si512(hi, m4);
        }
        __m512i idl = _mm512_add_epi16(_mm512_set1_epi16((short)(4 * h)), K4_LANE_HI2);
        __m512i idh = _mm512_add_epi16(idl, _mm512_set1_epi16(1));
        acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(lo, y[2 * h]), _mm512_permutexvar_epi16(idl, sc));
        acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(hi, y[2 * h + 1]), _mm512_permutexvar_epi16(idh, sc));
    }
    return acc;
}

static inline void k4_load_act(const block_q8_K *y, __m512i a[4])
{
    for (int k = 0; k < 4; k++)
        a[k] = _mm512_loadu_si512(y->qs + 64 * k);
}

/* out[r] = row r . act for rows r = 0..3, row_bytes apart (0: one row four
** times), of q4_K or (five) q5_K blocks: both start with d, dmin and the
** packed scales; q5_K's fifth bits come before its 4-bit values. */
static inline void k4_rows4(const unsigned char *w, size_t row_bytes, const block_q8_K *y, int64_t n,
                            float out[4], const bool five)
{
    /* lanes 8-15 of each 128 (the mins) widened to 16 bits */
    const __m512i mins_ctl = _mm512_broadcast_i32x4(
        _mm_setr_epi8(8, -1, 9, -1, 10, -1, 11, -1, 12, -1, 13, -1, 14, -1, 15, -1));
    const __m512i lane0 = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    const size_t bs = five ? sizeof(block_q5_K) : sizeof(block_q4_K);
    const size_t step = 4 * bs, lead = group_lead(row_bytes);
    __m256 sum = _mm256_setzero_ps();   /* lane 2r: row r */
    for (int64_t i = 0; i < n / QK_K; i++) {
        prefetch_group(w, lead, i, step);
        __m512i a[4], acc[4];
        k4_load_act(&y[i], a);
        __m128i sm[4];
        uint32_t dd[4];   /* d, dmin: the blocks' first 4 bytes */
        for (int r = 0; r < 4; r++) {
            const unsigned char *blk = w + (size_t)r * row_bytes + (size_t)i * bs;
            const block_q4_K *x4 = (const block_q4_K *)blk;
            const block_q5_K *x5 = (const block_q5_K *)blk;
            sm[r] = k4_scales_mins(x4->scales);
            acc[r] = k4_products(five ? x5->qs : x4->qs, five ? x5->qh : NULL, a,
                                 _mm512_castsi128_si512(_mm_cvtepu8_epi16(sm[r])));
            memcpy(&dd[r], blk, sizeof dd[r]);
        }
        __m128i t = hsum4x512(acc);   /* lane r: row r's total */
        /* mins . sub-block sums: row r in 128-bit lane r, summed across it */
        __m512i sm4 = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_inserti128_si256(_mm256_castsi128_si256(sm[0]), sm[1], 1)),
            _mm256_inserti128_si256(_mm256_castsi128_si256(sm[2]), sm[3], 1), 1);
        __m512i m = _mm512_madd_epi16(_mm512_shuffle_epi8(sm4, mins_ctl),
                                      _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)y[i].bsums)));
        m = _mm512_add_epi32(m, _mm512_shuffle_epi32(m, _MM_PERM_BADC));
        m = _mm512_add_epi32(m, _mm512_shuffle_epi32(m, _MM_PERM_CDAB));
        __m128i mn = _mm512_castsi512_si128(_mm512_permutexvar_epi32(lane0, m));
        sum = k_step(sum, t, mn, dd, y[i].d);
    }
    k_out(sum, out);
}

static void q4_K_rows4(const unsigned char *w, size_t row_bytes, const block_q8_K *y, int64_t n, float out[4])
{
    k4_rows4(w, row_bytes, y, n, out, false);
}

static void q5_K_rows4(const unsigned char *w, size_t row_bytes, const block_q8_K *y, int64_t n, float out[4])
{
    k4_rows4(w, row_bytes, y, n, out, true);
}

typedef void (*rows4_fn)(const unsigned char *w, size_t row_bytes, const block_q8_K *y, int64_t n,
                         float out[4]);

/* rows in fours; a remainder row as four copies of itself (row_bytes 0),
** every lane the reference's bits for it */
static void rows_by_four(const void *w, size_t row_bytes, int64_t rows, const void *act, int64_t n,
                         float *out, rows4_fn four)
{
    const unsigned char *W = w;
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4)
        four(W + (size_t)r * row_bytes, row_bytes, act, n, out + r);
    for (; r < rows; r++) {
        float o[4];
        four(W + (size_t)r * row_bytes, 0, act, n, o);
        out[r] = o[0];
    }
}

void mast_avx512_dot_q4_K_paired_rows(const void *w, size_t row_bytes, int64_t rows, const void *act,
                                      int64_t n, float *out)
{
    rows_by_four(w, row_bytes, rows, act, n, out, q4_K_rows4);
}

void mast_avx512_dot_q5_K_paired_rows(const void *w, size_t row_bytes, int64_t rows, const void *act,
                                      int64_t n, float *out)
{
    rows_by_four(w, row_bytes, rows, act, n, out, q5_K_rows4);
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

/* q3_K's 16 signed 6-bit scales (q3_K_scales' arithmetic) as bytes. A
** masked load of the 12 packed bytes: the block's d follows them, and then
** perhaps the end of the tensor. */
static inline __m128i q3_K_scales128(const uint8_t *packed)
{
    __m128i p = _mm_maskz_loadu_epi8(0x0FFF, packed);
    /* low 4 bits: byte j (< 8) of packed, or its high half (j >= 8) */
    __m128i x = _mm_shuffle_epi8(p, _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7));
    __m128i lo = _mm_and_si128(_mm_srlv_epi64(x, _mm_set_epi64x(4, 0)), _mm_set1_epi8(0x0F));
    /* high 2: bits 2 (j / 4) of byte 8 + j % 4 */
    __m128i h = _mm_shuffle_epi8(p, _mm_setr_epi8(8, 9, 10, 11, 8, 9, 10, 11, 8, 9, 10, 11, 8, 9, 10, 11));
    __m128i hi = _mm_and_si128(_mm_srlv_epi32(h, _mm_setr_epi32(0, 2, 4, 6)), _mm_set1_epi8(3));
    return _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi8(32));
}

/* The K types with 16 scales of 16 values (q6_K, q3_K, q2_K), four rows at
** a time (as k4_rows4), row_bytes apart (0: one row four times). Each 64
** values k of a block become unsigned bytes for vpmaddubsw against the
** activation, weighted by their scales with vpdpwssd:
**   q6_K: 4 low bits from ql, 2 high from qh rotated into bits 4-5
**         (vprolvd) and merged in one vpternlogd; stored + 32, so
**         32 * scale . bsums comes off in the integer lanes;
**   q3_K: 2 low bits from qs, the hmask bit rotated into bit 2; stored
**         + 4 where the bit is clear: 4 * scale . bsums comes off;
**   q2_K: 2 bits from qs, 4-bit scales; the 4-bit mins against bsums
**         make a second sum, times dmin.
** The shared reduction, then the float step a row per lane (d dy total,
** minus dmin dy mins for q2_K): the reference's integers and float steps,
** so its bits. */
static inline void k16_rows4(const unsigned char *w, size_t row_bytes, const block_q8_K *y, int64_t n,
                             float out[4], const mast_dtype t)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3);
    /* 16-bit lane l of register k takes scale 4k + l / 8 */
    const __m512i lane_sub = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2,
                                              1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    /* q3_K, q2_K: a chunk's values 32 (2 half) + ..: qs bits 2 (2 half), 2 (2 half + 1) */
    const __m512i sh[2] = {counts16(0, 2), counts16(4, 6)};
    /* [chunk][half][256-bit half]: q6_K's qh bits 2 quarter to bit 4; q3_K's
    ** hmask bit 4 c + 2 half (+ 1) to bit 2 (left by target - bit, mod 32) */
    static const int rot6[2][2] = {{4, 2}, {0, 30}};
    static const int rot3[2][2][2] = {{{2, 1}, {0, 31}}, {{30, 29}, {28, 27}}};
    const size_t bs = t == MAST_Q6_K ? sizeof(block_q6_K) : t == MAST_Q3_K ? sizeof(block_q3_K) : sizeof(block_q2_K);
    const size_t step = 4 * bs, lead = group_lead(row_bytes);
    __m256 sum = _mm256_setzero_ps();   /* lane 2r: row r */
    for (int64_t i = 0; i < n / QK_K; i++) {
        prefetch_group(w, lead, i, step);
        __m512i a[4], acc[4], mins[4];
        for (int k = 0; k < 4; k++)
            a[k] = _mm512_loadu_si512(y[i].qs + 64 * k);
        __m256i bsums = _mm256_loadu_si256((const __m256i *)y[i].bsums);
        uint16_t dd[8];   /* d, dmin per row (q6_K, q3_K: dmin 0) */
        for (int r = 0; r < 4; r++) {
            const unsigned char *blk = w + (size_t)r * row_bytes + (size_t)i * bs;
            const block_q6_K *x6 = (const block_q6_K *)blk;
            const block_q3_K *x3 = (const block_q3_K *)blk;
            const block_q2_K *x2 = (const block_q2_K *)blk;
            __m256i sc256;
            __m512i z = _mm512_setzero_si512();
            mins[r] = z;
            dd[2 * r + 1] = 0;   /* no dmin: the mins term is 0 * 0 */
            if (t == MAST_Q2_K) {
                __m128i s8 = _mm_loadu_si128((const __m128i *)x2->scales);
                sc256 = _mm256_cvtepu8_epi16(_mm_and_si128(s8, _mm512_castsi512_si128(m4)));
                mins[r] = _mm512_zextsi256_si512(_mm256_madd_epi16(
                    _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s8, 4), _mm512_castsi512_si128(m4))), bsums));
                memcpy(&dd[2 * r], &x2->d, 2 * sizeof dd[0]);
            } else {   /* the offsets first: 32 or 4 * scale_j * bsum_j, 8 lanes */
                sc256 = _mm256_cvtepi8_epi16(t == MAST_Q6_K ? _mm_loadu_si128((const __m128i *)x6->scales)
                                                            : q3_K_scales128(x3->scales));
                z = _mm512_sub_epi32(z, _mm512_zextsi256_si512(
                                            _mm256_slli_epi32(_mm256_madd_epi16(sc256, bsums), t == MAST_Q6_K ? 5 : 2)));
                memcpy(&dd[2 * r], t == MAST_Q6_K ? &x6->d : &x3->d, sizeof dd[0]);
            }
            __m512i sc = _mm512_castsi256_si512(sc256);
            __m512i hm = t == MAST_Q3_K ? _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x3->hmask))
                                        : _mm512_setzero_si512();
            for (int c = 0; c < 2; c++) {   /* chunks of 128 values */
                const uint8_t *qs2 = t == MAST_Q3_K ? x3->qs : x2->qs;
                __m512i l = t == MAST_Q6_K ? _mm512_loadu_si512(x6->ql + 64 * c)
                                           : _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qs2 + 32 * c)));
                __m512i h = t == MAST_Q6_K ? _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x6->qh + 32 * c)))
                                           : hm;
                for (int half = 0; half < 2; half++) {
                    int k = 2 * c + half;   /* values 64k.. : sub-blocks 4k..4k+3 */
                    __m512i q;
                    if (t == MAST_Q6_K) {   /* quarters 2 half, 2 half + 1 of the chunk */
                        __m512i lo = half ? _mm512_and_si512(_mm512_srli_epi16(l, 4), m4) : _mm512_and_si512(l, m4);
                        __m512i rot = _mm512_inserti64x4(_mm512_set1_epi32(rot6[half][0]), _mm256_set1_epi32(rot6[half][1]), 1);
                        q = _mm512_ternarylogic_epi32(lo, _mm512_rolv_epi32(h, rot), _mm512_set1_epi8(0x30), 0xF8);
                    } else {
                        q = _mm512_and_si512(_mm512_srlv_epi16(l, sh[half]), m3);
                        if (t == MAST_Q3_K) {
                            __m512i rot = _mm512_inserti64x4(_mm512_set1_epi32(rot3[c][half][0]),
                                                             _mm256_set1_epi32(rot3[c][half][1]), 1);
                            q = _mm512_ternarylogic_epi32(q, _mm512_rolv_epi32(h, rot), _mm512_set1_epi8(4), 0xF8);
                        }
                    }
                    __m512i idx = _mm512_add_epi16(lane_sub, _mm512_set1_epi16((short)(4 * k)));
                    z = _mm512_dpwssd_epi32(z, _mm512_maddubs_epi16(q, a[k]), _mm512_permutexvar_epi16(idx, sc));
                }
            }
            acc[r] = z;
        }
        sum = k_step(sum, hsum4x512(acc), t == MAST_Q2_K ? hsum4x512(mins) : _mm_setzero_si128(), dd, y[i].d);
    }
    k_out(sum, out);
}

static void q6_K_rows4(const unsigned char *w, size_t row_bytes, const block_q8_K *y, int64_t n, float out[4])
{
    k16_rows4(w, row_bytes, y, n, out, MAST_Q6_K);
}

static void q3_K_rows4(const unsigned char *w, size_t row_bytes, const block_q8_K *y, int64_t n, float out[4])
{
    k16_rows4(w, row_bytes, y, n, out, MAST_Q3_K);
}

static void q2_K_rows4(const unsigned char *w, size_t row_bytes, const block_q8_K *y, int64_t n, float out[4])
{
    k16_rows4(w, row_bytes, y, n, out, MAST_Q2_K);
}

void mast_avx512_dot_q6_K_rows(const void *w, size_t row_bytes, int64_t rows, const void *act, int64_t n,
                               float *out)
{
    rows_by_four(w, row_bytes, rows, act, n, out, q6_K_rows4);
}

void mast_avx512_dot_q3_K_rows(const void *w, size_t row_bytes, int64_t rows, const void *act, int64_t n,
                               float *out)
{
    rows_by_four(w, row_bytes, rows, act, n, out, q3_K_rows4);
}

void mast_avx512_dot_q2_K_rows(const void *w, size_t row_bytes, int64_t rows, const void *act, int64_t n,
                               float *out)
{
    rows_by_four(w, row_bytes, rows, act, n, out, q2_K_rows4);
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

/* four 16-byte pieces, `stride` bytes apart, in one register */
static inline __m512i load4x16(const void *p, size_t stride)
{
    const char *c = p;
    __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)c));
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(c + stride)), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(c + 2 * stride)), 2);
    return _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(c + 3 * stride)), 3);
}

/* The 32-value block types against 8-bit activations: q4_0, q5_0 (against
** q8_0: values offset by 8 or 16) and q4_1, q5_1 (against q8_1: unsigned
** values, a min m per block). */
typedef struct b32_layout {
    size_t bs, qs, qh;   /* block size, where its 4-bit values and fifth bits are */
    size_t ybs, yqs;     /* the activation block's */
    int offset;          /* subtracted from each value (0: a _1 type) */
    bool five;
} b32_layout;

static inline b32_layout b32_of(mast_dtype t)
{
    switch (t) {
    case MAST_Q5_0: return (b32_layout){sizeof(block_q5_0), offsetof(block_q5_0, qs), offsetof(block_q5_0, qh),
                                        sizeof(block_q8_0), offsetof(block_q8_0, qs), 16, true};
    case MAST_Q4_1: return (b32_layout){sizeof(block_q4_1), offsetof(block_q4_1, qs), 0,
                                        sizeof(block_q8_1), offsetof(block_q8_1, qs), 0, false};
    case MAST_Q5_1: return (b32_layout){sizeof(block_q5_1), offsetof(block_q5_1, qs), offsetof(block_q5_1, qh),
                                        sizeof(block_q8_1), offsetof(block_q8_1, qs), 0, true};
    default: return (b32_layout){sizeof(block_q4_0), offsetof(block_q4_0, qs), 0,
                                 sizeof(block_q8_0), offsetof(block_q8_0, qs), 8, false};
    }
}

/* the reference's integer sum of one block with its activation block */
static int32_t b32_block(const unsigned char *blk, const unsigned char *yblk, const b32_layout L)
{
    const uint8_t *qs = blk + L.qs;
    const int8_t *y = (const int8_t *)(yblk + L.yqs);
    uint32_t qh = 0;
    if (L.five)
        memcpy(&qh, blk + L.qh, 4);
    int32_t isum = 0;
    for (int j = 0; j < 16; j++) {
        int lo = (qs[j] & 0x0F) | (int)(((qh >> j) << 4) & 0x10), hi = (qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10);
        isum += (lo - L.offset) * y[j] + (hi - L.offset) * y[j + 16];
    }
    return isum;
}

/* A block's float step, as the reference: _0 types (float)isum dx dy, _1
** types (dx dy) isum + mx sy */
static inline float b32_term(int32_t isum, float dx, float mx, float dy, float sy, const b32_layout L)
{
    return L.offset ? (float)isum * dx * dy : (dx * dy) * (float)isum + mx * sy;
}

/* The 32-value block types, for single tokens, four rows at a time with
** AVX-512 VNNI: the values without their offset (0..15, 0..31) meet the
** activation bytes in vpdpbusd, and for the _0 types offset * each block's
** activation sum (sumy) comes off; four blocks of each row per step, a
** block per 128-bit lane, so one transposing tree gives the 16 sums (lane
** 4 block + row); then the float step for all 16, block i's in lane i % 4
** of its row, as the reference. Fifth bits: the block's 32-bit qh spread a
** bit per byte (vpshufb, a bit test), 16 added where set. dy, sy: the
** activation blocks' d and (q8_1) s as floats. */
static inline __attribute__((always_inline)) void b32_rows4(const unsigned char *w, size_t row_bytes, const unsigned char *y,
                             const int32_t *sumy, const float *dy, const float *sy, int64_t n, float out[4],
                             const mast_dtype t)
{
    const b32_layout L = b32_of(t);
    const __m512i m4 = _mm512_set1_epi8(0x0F), sixteen = _mm512_set1_epi8(0x10);
    /* 128-bit lane b takes element b */
    const __m512i by_block = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    /* byte k of the low values takes qh bit k, of the high ones bit 16 + k */
    const __m512i spread_lo = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
    const __m512i spread_hi = _mm512_broadcast_i32x4(_mm_setr_epi8(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m512i bit = _mm512_broadcast_i32x4(
        _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128));
    int64_t nb = n / QK8_0, i = 0;
    const size_t step = 4 * 4 * L.bs, lead = group_lead(row_bytes);
    __m512 acc = _mm512_setzero_ps();
    for (; i + 4 <= nb; i += 4) {
        prefetch_group(w, lead, i / 4, step);
        const unsigned char *yb = y + (size_t)i * L.ybs + L.yqs;
        __m512i ylo = load4x16(yb, L.ybs), yhi = load4x16(yb + 16, L.ybs);
        __m512i z[4];
        uint16_t d16[16], m16[16];
        for (int r = 0; r < 4; r++) {
            const unsigned char *x = w + (size_t)r * row_bytes + (size_t)i * L.bs;
            __m512i q = load4x16(x + L.qs, L.bs);
            __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
            if (L.five) {
                uint32_t qh[4];
                for (int b = 0; b < 4; b++)
                    memcpy(&qh[b], x + (size_t)b * L.bs + L.qh, 4);
                __m512i h = _mm512_permutexvar_epi32(by_block, _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)qh)));
                lo = _mm512_mask_add_epi8(lo, _mm512_test_epi8_mask(_mm512_shuffle_epi8(h, spread_lo), bit), lo, sixteen);
                hi = _mm512_mask_add_epi8(hi, _mm512_test_epi8_mask(_mm512_shuffle_epi8(h, spread_hi), bit), hi, sixteen);
            }
            z[r] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, ylo), hi, yhi);
            for (int b = 0; b < 4; b++) {   /* d leads every block; the _1 types' m follows it */
                memcpy(&d16[4 * b + r], x + (size_t)b * L.bs, sizeof d16[0]);
                memcpy(&m16[4 * b + r], x + (size_t)b * L.bs + (L.offset ? 0 : 2), sizeof m16[0]);
            }
        }
        /* per 128-bit lane (block b): [row 0, row 1, row 2, row 3] sums */
        __m512i u01 = _mm512_add_epi32(_mm512_unpacklo_epi32(z[0], z[1]), _mm512_unpackhi_epi32(z[0], z[1]));
        __m512i u23 = _mm512_add_epi32(_mm512_unpacklo_epi32(z[2], z[3]), _mm512_unpackhi_epi32(z[2], z[3]));
        __m512i v = _mm512_add_epi32(_mm512_unpacklo_epi64(u01, u23), _mm512_unpackhi_epi64(u01, u23));
        __m512 dyb = _mm512_permutexvar_ps(by_block, _mm512_castps128_ps512(_mm_loadu_ps(dy + i)));
        __m512 dx = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d16));
        if (L.offset) {
            __m512i isum = _mm512_sub_epi32(v, _mm512_permutexvar_epi32(by_block, _mm512_castsi128_si512(
                                                                                    _mm_loadu_si128((const __m128i *)(sumy + i)))));
            acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(isum), dx), dyb));
        } else {
            __m512 syb = _mm512_permutexvar_ps(by_block, _mm512_castps128_ps512(_mm_loadu_ps(sy + i)));
            __m512 mx = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)m16));
            acc = _mm512_add_ps(acc, _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(dx, dyb), _mm512_cvtepi32_ps(v)),
                                                   _mm512_mul_ps(mx, syb)));
        }
    }
    float lane[16];   /* lane 4 b + r: row r's lane b */
    _mm512_storeu_ps(lane, acc);
    for (int r = 0; r < 4; r++) {
        const unsigned char *x = w + (size_t)r * row_bytes;
        float l[4] = {lane[r], lane[4 + r], lane[8 + r], lane[12 + r]};
        for (int64_t b = i; b < nb; b++) {
            const unsigned char *blk = x + (size_t)b * L.bs;
            mast_f16 d, m;
            memcpy(&d, blk, sizeof d);
            memcpy(&m, blk + 2, sizeof m);
            l[b % 4] += b32_term(b32_block(blk, y + (size_t)b * L.ybs, L), F16(d), F16(m), dy[b],
                                 L.offset ? 0 : sy[b], L);
        }
        out[r] = (l[0] + l[1]) + (l[2] + l[3]);
    }
}

void mast_avx512_dot_b32_rows(mast_dtype t, const void *w, size_t row_bytes, int64_t rows, const void *a,
                              const int32_t *sumy, const float *dy, const float *sy, int64_t n, float *out)
{
    const unsigned char *W = w;
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        float *o = out + r;
        const unsigned char *x = W + (size_t)r * row_bytes;
        switch (t) {   /* a constant type in each instance */
        case MAST_Q5_0: b32_rows4(x, row_bytes, a, sumy, dy, sy, n, o, MAST_Q5_0); break;
        case MAST_Q4_1: b32_rows4(x, row_bytes, a, sumy, dy, sy, n, o, MAST_Q4_1); break;
        case MAST_Q5_1: b32_rows4(x, row_bytes, a, sumy, dy, sy, n, o, MAST_Q5_1); break;
        default: b32_rows4(x, row_bytes, a, sumy, dy, sy, n, o, MAST_Q4_0); break;
        }
    }
    for (; r < rows; r++)
        out[r] = mast_vec_dot(t, W + (size_t)r * row_bytes, a, n);
}

/* 16-bit float weights (f16, or bf16: the top half of an f32) to f32 */
static inline __m512 half16(const uint16_t *p, const bool bf16)
{
    __m256i v = _mm256_loadu_si256((const __m256i *)p);
    return bf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16)) : _mm512_cvtph_ps(v);
}

static inline __m256 half8(const uint16_t *p, const bool bf16)
{
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    return bf16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16)) : _mm256_cvtph_ps(v);
}

/* f16 or bf16 weights x activations of the same type held as f32
** (converted once per activation row: exact), for single tokens:
** dot_f16's / dot_bf16's lanes (element j of each 32 in lane j % 32 = two
** 16-lane registers), folds and tail, so the same bits, with one
** conversion per 16 weights instead of two. */
static inline float half_dot_f32(const uint16_t *x, const float *y, int64_t n, const bool bf16)
{
    __m512 z0 = _mm512_setzero_ps(), z1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        prefetch_ahead(x + i, 1);
        z0 = _mm512_fmadd_ps(half16(x + i, bf16), _mm512_loadu_ps(y + i), z0);
        z1 = _mm512_fmadd_ps(half16(x + i + 16, bf16), _mm512_loadu_ps(y + i + 16), z1);
    }
    /* (a0 + a1) + (a2 + a3), a_k the 8-lane quarters */
    __m256 acc = _mm256_add_ps(_mm256_add_ps(_mm512_castps512_ps256(z0), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(z0), 1))),
                               _mm256_add_ps(_mm512_castps512_ps256(z1), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(z1), 1))));
    for (; i + 8 <= n; i += 8)
        acc = _mm256_fmadd_ps(half8(x + i, bf16), _mm256_loadu_ps(y + i), acc);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    float sum = _mm_cvtss_f32(s);
    for (; i < n; i++)
        sum = fmaf(bf16 ? mast_bf16_to_f32(x[i]) : F16(x[i]), y[i], sum);
    return sum;
}

void mast_avx512_dot_f16_rows(const void *w, size_t row_bytes, int64_t rows, const void *act, int64_t n,
                              float *out)
{
    for (int64_t r = 0; r < rows; r++)
        out[r] = half_dot_f32((const uint16_t *)((const unsigned char *)w + (size_t)r * row_bytes), act, n, false);
}

void mast_avx512_dot_bf16_rows(const void *w, size_t row_bytes, int64_t rows, const void *act, int64_t n,
                               float *out)
{
    for (int64_t r = 0; r < rows; r++)
        out[r] = half_dot_f32((const uint16_t *)((const unsigned char *)w + (size_t)r * row_bytes), act, n, true);
}
