/*
** model/quant.c — conversions, the 32-element block types (q4_0, q4_1,
** q5_0, q5_1, q8_0, q8_1), float types, and dispatch (see quant.h).
*/
#include <float.h>
#include <string.h>

#include "model/quant_impl.h"

/* ---- half and bfloat16 ---- */

float mast_f16_to_f32(mast_f16 h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {   /* subnormal: normalize */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3FF) << 13);
        }
    } else if (exp == 0x1F) {
        bits = sign | 0x7F800000 | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

mast_f16 mast_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7FFFFFFF;
    if (absx >= 0x7F800000)   /* inf or NaN */
        return (mast_f16)(sign | 0x7C00 | (absx > 0x7F800000 ? 0x200 : 0));
    if (absx >= 0x477FF000)   /* rounds to >= 65520: overflow to inf */
        return (mast_f16)(sign | 0x7C00);
    if (absx < 0x38800000) {  /* below the smallest normal half: subnormal or zero */
        if (absx < 0x33000000)
            return (mast_f16)sign;
        /* value = man * 2^(e - 150); half subnormal units are 2^-24 */
        uint32_t man = (absx & 0x7FFFFF) | 0x800000;
        int s = 126 - (int)(absx >> 23);   /* 14..24 */
        uint32_t q = man >> s, rem = man & ((1u << s) - 1), mid = 1u << (s - 1);
        if (rem > mid || (rem == mid && (q & 1)))
            q++;
        return (mast_f16)(sign | q);
    }
    uint32_t r = absx - 0x38000000;   /* rebias exponent by (127 - 15) << 23 */
    uint32_t q = r >> 13, rem = r & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (q & 1)))
        q++;
    return (mast_f16)(sign | q);
}

float mast_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t mast_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7FFFFFFF) > 0x7F800000)
        return (uint16_t)((x >> 16) | 64);   /* quiet NaN, as ggml */
    return (uint16_t)((x + (0x7FFF + ((x >> 16) & 1))) >> 16);
}

/* ---- 32-element blocks: dequantize ---- */

static void dequant_q4_0(const void *src, float *y, int64_t n)
{
    const block_q4_0 *x = src;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        float d = F16(x[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[i * QK4_0 + j] = ((x[i].qs[j] & 0x0F) - 8) * d;
            y[i * QK4_0 + j + QK4_0 / 2] = ((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void dequant_q4_1(const void *src, float *y, int64_t n)
{
    const block_q4_1 *x = src;
    for (int64_t i = 0; i < n / QK4_1; i++) {
        float d = F16(x[i].d), m = F16(x[i].m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            y[i * QK4_1 + j] = (x[i].qs[j] & 0x0F) * d + m;
            y[i * QK4_1 + j + QK4_1 / 2] = (x[i].qs[j] >> 4) * d + m;
        }
    }
}

static void dequant_q5_0(const void *src, float *y, int64_t n)
{
    const block_q5_0 *x = src;
    for (int64_t i = 0; i < n / QK5_0; i++) {
        float d = F16(x[i].d);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < QK5_0 / 2; j++) {
            int xh0 = ((qh >> j) << 4) & 0x10, xh1 = (qh >> (j + 12)) & 0x10;
            y[i * QK5_0 + j] = (((x[i].qs[j] & 0x0F) | xh0) - 16) * d;
            y[i * QK5_0 + j + QK5_0 / 2] = (((x[i].qs[j] >> 4) | xh1) - 16) * d;
        }
    }
}

static void dequant_q5_1(const void *src, float *y, int64_t n)
{
    const block_q5_1 *x = src;
    for (int64_t i = 0; i < n / QK5_1; i++) {
        float d = F16(x[i].d), m = F16(x[i].m);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < QK5_1 / 2; j++) {
            int xh0 = ((qh >> j) << 4) & 0x10, xh1 = (qh >> (j + 12)) & 0x10;
            y[i * QK5_1 + j] = ((x[i].qs[j] & 0x0F) | xh0) * d + m;
            y[i * QK5_1 + j + QK5_1 / 2] = ((x[i].qs[j] >> 4) | xh1) * d + m;
        }
    }
}

static void dequant_q8_0(const void *src, float *y, int64_t n)
{
    const block_q8_0 *x = src;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        float d = F16(x[i].d);
        for (int j = 0; j < QK8_0; j++)
            y[i * QK8_0 + j] = x[i].qs[j] * d;
    }
}

static void dequant_q8_1(const void *src, float *y, int64_t n)
{
    const block_q8_1 *x = src;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        float d = F16(x[i].d);
        for (int j = 0; j < QK8_1; j++)
            y[i * QK8_1 + j] = x[i].qs[j] * d;
    }
}

/* ---- 32-element blocks: quantize ---- */

/* The element of largest magnitude, with its sign. */
static float signed_absmax(const float *x, int n)
{
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    return max;
}

static void quant_q4_0(const float *x, void *dst, int64_t n)
{
    block_q4_0 *y = dst;
    for (int64_t i = 0; i < n / QK4_0; i++, x += QK4_0) {
        float d = signed_absmax(x, QK4_0) / -8, id = d ? 1.0f / d : 0.0f;
        y[i].d = mast_f32_to_f16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            int a = (int)(x[j] * id + 8.5f), b = (int)(x[j + QK4_0 / 2] * id + 8.5f);
            a = a < 0 ? 0 : a > 15 ? 15 : a;
            b = b < 0 ? 0 : b > 15 ? 15 : b;
            y[i].qs[j] = (uint8_t)(a | (b << 4));
        }
    }
}

static void minmax(const float *x, int n, float *lo, float *hi)
{
    *lo = FLT_MAX;
    *hi = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < *lo)
            *lo = x[j];
        if (x[j] > *hi)
            *hi = x[j];
    }
}

static void quant_q4_1(const float *x, void *dst, int64_t n)
{
    block_q4_1 *y = dst;
    for (int64_t i = 0; i < n / QK4_1; i++, x += QK4_1) {
        float lo, hi;
        minmax(x, QK4_1, &lo, &hi);
        float d = (hi - lo) / 15, id = d ? 1.0f / d : 0.0f;
        y[i].d = mast_f32_to_f16(d);
        y[i].m = mast_f32_to_f16(lo);
        for (int j = 0; j < QK4_1 / 2; j++) {
            int a = (int)((x[j] - lo) * id + 0.5f), b = (int)((x[j + QK4_1 / 2] - lo) * id + 0.5f);
            a = a > 15 ? 15 : a;
            b = b > 15 ? 15 : b;
            y[i].qs[j] = (uint8_t)(a | (b << 4));
        }
    }
}

static void quant_q5_0(const float *x, void *dst, int64_t n)
{
    block_q5_0 *y = dst;
    for (int64_t i = 0; i < n / QK5_0; i++, x += QK5_0) {
        float d = signed_absmax(x, QK5_0) / -16, id = d ? 1.0f / d : 0.0f;
        y[i].d = mast_f32_to_f16(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            int a = (int)(x[j] * id + 16.5f), b = (int)(x[j + QK5_0 / 2] * id + 16.5f);
            a = a < 0 ? 0 : a > 31 ? 31 : a;
            b = b < 0 ? 0 : b > 31 ? 31 : b;
            y[i].qs[j] = (uint8_t)((a & 0x0F) | ((b & 0x0F) << 4));
            qh |= ((uint32_t)(a & 0x10) >> 4) << j;
            qh |= ((uint32_t)(b & 0x10) >> 4) << (j + QK5_0 / 2);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

static void quant_q5_1(const float *x, void *dst, int64_t n)
{
    block_q5_1 *y = dst;
    for (int64_t i = 0; i < n / QK5_1; i++, x += QK5_1) {
        float lo, hi;
        minmax(x, QK5_1, &lo, &hi);
        float d = (hi - lo) / 31, id = d ? 1.0f / d : 0.0f;
        y[i].d = mast_f32_to_f16(d);
        y[i].m = mast_f32_to_f16(lo);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_1 / 2; j++) {
            int a = (int)((x[j] - lo) * id + 0.5f), b = (int)((x[j + QK5_1 / 2] - lo) * id + 0.5f);
            a = a > 31 ? 31 : a;
            b = b > 31 ? 31 : b;
            y[i].qs[j] = (uint8_t)((a & 0x0F) | ((b & 0x0F) << 4));
            qh |= ((uint32_t)(a & 0x10) >> 4) << j;
            qh |= ((uint32_t)(b & 0x10) >> 4) << (j + QK5_1 / 2);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

/* Activation quantizer: scale = amax / 127, values rounded half to even
** after multiplying by 127 / amax (llama.cpp's AVX2 quantize_row_q8_0). */
static void quant_q8_0(const float *x, void *dst, int64_t n)
{
    block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / QK8_0; i++, x += QK8_0) {
        float amax = 0;
        for (int j = 0; j < QK8_0; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[i].d = mast_f32_to_f16(amax / 127.0f);
        for (int j = 0; j < QK8_0; j++)
            y[i].qs[j] = (int8_t)nearest_int(x[j] * id);
    }
}

static void quant_q8_1(const float *x, void *dst, int64_t n)
{
    block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / QK8_1; i++, x += QK8_1) {
        float amax = 0;
        for (int j = 0; j < QK8_1; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) {
            y[i].qs[j] = (int8_t)nearest_int(x[j] * id);
            sum += y[i].qs[j];
        }
        y[i].d = mast_f32_to_f16(d);
        y[i].s = mast_f32_to_f16((float)sum * d);
    }
}

/* ---- 32-element blocks: reference dot products ----
** The float result of block i is added to lane i % 4, and the lanes are
** combined as (l0 + l1) + (l2 + l3): four independent sums instead of one
** serial chain, which the SIMD path reproduces exactly. */

static float lanes4(const float l[4])
{
    return (l[0] + l[1]) + (l[2] + l[3]);
}

static float dot_q4_0(const void *w, const void *a, int64_t n)
{
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    float lane[4] = {0};
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int isum = 0;
        for (int j = 0; j < QK4_0 / 2; j++)
            isum += ((x[i].qs[j] & 0x0F) - 8) * y[i].qs[j] +
                    ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + QK4_0 / 2];
        lane[i % 4] += (float)isum * F16(x[i].d) * F16(y[i].d);
    }
    return lanes4(lane);
}

static float dot_q4_1(const void *w, const void *a, int64_t n)
{
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    float lane[4] = {0};
    for (int64_t i = 0; i < n / QK8_1; i++) {
        int isum = 0;
        for (int j = 0; j < QK4_1 / 2; j++)
            isum += (x[i].qs[j] & 0x0F) * y[i].qs[j] + (x[i].qs[j] >> 4) * y[i].qs[j + QK4_1 / 2];
        lane[i % 4] += (F16(x[i].d) * F16(y[i].d)) * (float)isum + F16(x[i].m) * F16(y[i].s);
    }
    return lanes4(lane);
}

static float dot_q5_0(const void *w, const void *a, int64_t n)
{
    const block_q5_0 *x = w;
    const block_q8_0 *y = a;
    float lane[4] = {0};
    for (int64_t i = 0; i < n / QK8_0; i++) {
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        int isum = 0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            int xh0 = ((qh >> j) << 4) & 0x10, xh1 = (qh >> (j + 12)) & 0x10;
            isum += (((x[i].qs[j] & 0x0F) | xh0) - 16) * y[i].qs[j] +
                    (((x[i].qs[j] >> 4) | xh1) - 16) * y[i].qs[j + QK5_0 / 2];
        }
        lane[i % 4] += (float)isum * F16(x[i].d) * F16(y[i].d);
    }
    return lanes4(lane);
}

static float dot_q5_1(const void *w, const void *a, int64_t n)
{
    const block_q5_1 *x = w;
    const block_q8_1 *y = a;
    float lane[4] = {0};
    for (int64_t i = 0; i < n / QK8_1; i++) {
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        int isum = 0;
        for (int j = 0; j < QK5_1 / 2; j++) {
            int xh0 = ((qh >> j) << 4) & 0x10, xh1 = (qh >> (j + 12)) & 0x10;
            isum += ((x[i].qs[j] & 0x0F) | xh0) * y[i].qs[j] +
                    ((x[i].qs[j] >> 4) | xh1) * y[i].qs[j + QK5_1 / 2];
        }
        lane[i % 4] += (F16(x[i].d) * F16(y[i].d)) * (float)isum + F16(x[i].m) * F16(y[i].s);
    }
    return lanes4(lane);
}

static float dot_q8_0(const void *w, const void *a, int64_t n)
{
    const block_q8_0 *x = w, *y = a;
    float lane[4] = {0};
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int isum = 0;
        for (int j = 0; j < QK8_0; j++)
            isum += x[i].qs[j] * y[i].qs[j];
        lane[i % 4] += (float)isum * F16(x[i].d) * F16(y[i].d);
    }
    return lanes4(lane);
}

/* Float types: element j of each 32 into lane j % 32 (four independent
** chains of 8, so that the SIMD path is not bound by the FMA latency),
** the four folded to 8 lanes as (a0 + a1) + (a2 + a3), remaining groups of
** 8 into those lanes, the 8 summed pairwise, then the tail: the 8-wide SIMD
** path (quant_avx2.c) does exactly this. */
static float reduce8(const float acc[8])
{
    float s4[4], s2[2];
    for (int k = 0; k < 4; k++)
        s4[k] = acc[k] + acc[k + 4];
    for (int k = 0; k < 2; k++)
        s2[k] = s4[k] + s4[k + 2];
    return s2[0] + s2[1];
}

#define DOT_FLOAT(name, T, CONV)                                                                   \
    static float name(const void *w, const void *a, int64_t n)                                   \
    {                                                                                             \
        const T *x = w, *y = a;                                                                   \
        float acc[32] = {0}, acc8[8];                                                             \
        int64_t i = 0;                                                                            \
        for (; i + 32 <= n; i += 32)                                                              \
            for (int k = 0; k < 32; k++)                                                          \
                acc[k] = fmaf(CONV(x[i + k]), CONV(y[i + k]), acc[k]);                            \
        for (int k = 0; k < 8; k++)                                                               \
            acc8[k] = (acc[k] + acc[k + 8]) + (acc[k + 16] + acc[k + 24]);                        \
        for (; i + 8 <= n; i += 8)                                                                \
            for (int k = 0; k < 8; k++)                                                           \
                acc8[k] = fmaf(CONV(x[i + k]), CONV(y[i + k]), acc8[k]);                          \
        float sum = reduce8(acc8);                                                                \
        for (; i < n; i++)                                                                        \
            sum = fmaf(CONV(x[i]), CONV(y[i]), sum);                                              \
        return sum;                                                                               \
    }

static inline float f32_same(float v) { return v; }

DOT_FLOAT(dot_f32, float, f32_same)
DOT_FLOAT(dot_f16, mast_f16, F16)
DOT_FLOAT(dot_bf16, uint16_t, mast_bf16_to_f32)

static void dequant_f32(const void *src, float *y, int64_t n) { memcpy(y, src, (size_t)n * 4); }
static void quant_f32(const float *x, void *dst, int64_t n) { memcpy(dst, x, (size_t)n * 4); }

static void dequant_f16(const void *src, float *y, int64_t n)
{
    const mast_f16 *x = src;
    for (int64_t i = 0; i < n; i++)
        y[i] = F16(x[i]);
}

static void quant_f16(const float *x, void *dst, int64_t n)
{
    mast_f16 *y = dst;
    for (int64_t i = 0; i < n; i++)
        y[i] = mast_f32_to_f16(x[i]);
}

static void dequant_bf16(const void *src, float *y, int64_t n)
{
    const uint16_t *x = src;
    for (int64_t i = 0; i < n; i++)
        y[i] = mast_bf16_to_f32(x[i]);
}

static void quant_bf16(const float *x, void *dst, int64_t n)
{
    uint16_t *y = dst;
    for (int64_t i = 0; i < n; i++)
        y[i] = mast_f32_to_bf16(x[i]);
}

/* ---- dispatch ---- */

typedef struct kernels {
    void (*dequant)(const void *, float *, int64_t);
    void (*quant)(const float *, void *, int64_t);
    mast_dot_fn dot;
    mast_dtype dot_type;
} kernels;

static const kernels table[MAST_DTYPE_COUNT] = {
    [MAST_F32] = {dequant_f32, quant_f32, dot_f32, MAST_F32},
    [MAST_F16] = {dequant_f16, quant_f16, dot_f16, MAST_F16},
    [MAST_BF16] = {dequant_bf16, quant_bf16, dot_bf16, MAST_BF16},
    [MAST_Q4_0] = {dequant_q4_0, quant_q4_0, dot_q4_0, MAST_Q8_0},
    [MAST_Q4_1] = {dequant_q4_1, quant_q4_1, dot_q4_1, MAST_Q8_1},
    [MAST_Q5_0] = {dequant_q5_0, quant_q5_0, dot_q5_0, MAST_Q8_0},
    [MAST_Q5_1] = {dequant_q5_1, quant_q5_1, dot_q5_1, MAST_Q8_1},
    [MAST_Q8_0] = {dequant_q8_0, quant_q8_0, dot_q8_0, MAST_Q8_0},
    [MAST_Q8_1] = {dequant_q8_1, quant_q8_1, NULL, MAST_Q8_1},
    [MAST_Q2_K] = {mast_dequant_q2_K, mast_quant_q2_K, mast_dot_q2_K_ref, MAST_Q8_K},
    [MAST_Q3_K] = {mast_dequant_q3_K, mast_quant_q3_K, mast_dot_q3_K_ref, MAST_Q8_K},
    [MAST_Q4_K] = {mast_dequant_q4_K, mast_quant_q4_K, mast_dot_q4_K_ref, MAST_Q8_K},
    [MAST_Q5_K] = {mast_dequant_q5_K, mast_quant_q5_K, mast_dot_q5_K_ref, MAST_Q8_K},
    [MAST_Q6_K] = {mast_dequant_q6_K, mast_quant_q6_K, mast_dot_q6_K_ref, MAST_Q8_K},
    [MAST_Q8_K] = {mast_dequant_q8_K, mast_quant_q8_K, NULL, MAST_Q8_K},
};

static bool force_scalar;

bool mast_quant_simd(void)
{
    return !force_scalar && mast_avx2_available();
}

bool mast_quant_force_scalar(bool on)
{
    bool old = force_scalar;
    force_scalar = on;
    return old;
}

const char *mast_quant_backend(void)
{
    if (force_scalar || !mast_avx2_available())
        return "scalar";
    return mast_avx512_available() ? "avx512-vnni + avx2" : "avx2";
}

bool mast_quant_supported(mast_dtype type)
{
    return (unsigned)type < MAST_DTYPE_COUNT && table[type].dequant != NULL;
}

mast_dtype mast_vec_dot_type(mast_dtype weight)
{
    return mast_quant_supported(weight) ? table[weight].dot_type : MAST_F32;
}

void mast_dequantize_row(mast_dtype type, const void *src, float *dst, int64_t n)
{
    if (!force_scalar && mast_avx2_available()) {
        void (*f)(const void *, float *, int64_t) = mast_avx2_dequant(type);
        if (f) {
            f(src, dst, n);
            return;
        }
    }
    table[type].dequant(src, dst, n);
}

void mast_quantize_row(mast_dtype type, const float *src, void *dst, int64_t n)
{
    if (!force_scalar && mast_avx2_available()) {
        void (*f)(const float *, void *, int64_t) = mast_avx2_quant(type);
        if (f) {
            f(src, dst, n);
            return;
        }
    }
    table[type].quant(src, dst, n);
}

float mast_vec_dot_ref(mast_dtype weight, const void *w, const void *a, int64_t n)
{
    return table[weight].dot(w, a, n);
}

float (*mast_vec_dot_fn(mast_dtype weight))(const void *w, const void *a, int64_t n)
{
    mast_dot_fn f = NULL;
    if (!force_scalar && mast_avx2_available()) {
        f = mast_avx512_dot(weight);
        if (!f)
            f = mast_avx2_dot(weight);
    }
    return f ? f : table[weight].dot;
}

float mast_vec_dot(mast_dtype weight, const void *w, const void *a, int64_t n)
{
    return mast_vec_dot_fn(weight)(w, a, n);
}
