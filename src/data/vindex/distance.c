/*
** data/vindex/distance.c — see distance.h.
*/
#include "data/vindex/distance.h"

#include <string.h>

#include "base/simd.h"

#define MULTIVERSION MAST_MULTIVERSION
#define LANES MAST_LANES


/* half -> float without branches (so it vectorizes): the 15 bits shifted
** into a float's place and scaled by 2^112 re-bias the exponent and make
** half subnormals normal; infinities and NaNs get the full exponent. */
static inline float h2f(uint16_t h)
{
    uint32_t em = (uint32_t)(h & 0x7fff) << 13, sign = (uint32_t)(h & 0x8000) << 16;
    float f;
    memcpy(&f, &em, 4);
    f *= 5.192296858534828e33f;   /* 2^112 */
    uint32_t bits;
    memcpy(&bits, &f, 4);
    bits = em >= (0x7c00u << 13) ? em | 0x7f800000u : bits;
    bits |= sign;
    memcpy(&f, &bits, 4);
    return f;
}

float mast_vf16_to_f32(uint16_t h) { return h2f(h); }

uint16_t mast_vf32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7fffffff;
    if (ax >= 0x7f800000)   /* inf or NaN */
        return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000 ? 0x200 : 0));
    if (ax >= 0x477ff000)   /* rounds to >= 65520: inf */
        return (uint16_t)(sign | 0x7c00);
    if (ax < 0x38800000) {  /* half subnormal or zero: scale and round once */
        float a;
        memcpy(&a, &ax, 4);
        float s = a * 16777216.0f;   /* 2^24: units of the smallest subnormal */
        uint32_t q = (uint32_t)s;
        float rem = s - (float)q;
        if (rem > 0.5f || (rem == 0.5f && (q & 1)))
            q++;
        return (uint16_t)(sign | q);
    }
    uint32_t mant = ax & 0x7fffff, e = (ax >> 23) - 112;
    uint32_t h = (e << 10) | (mant >> 13), rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
        h++;   /* may carry into the exponent, which is right */
    return (uint16_t)(sign | h);
}

MULTIVERSION
float mast_vdot_f32(const float *a, const float *b, size_t n)
{
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++)
            acc[l] += a[i + l] * b[i + l];
    for (; i < n; i++)
        acc[i % LANES] += a[i] * b[i];
    return mast_lane_sum(acc);
}

MULTIVERSION
float mast_vl2_f32(const float *a, const float *b, size_t n)
{
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float d = a[i + l] - b[i + l];
            acc[l] += d * d;
        }
    for (; i < n; i++) {
        float d = a[i] - b[i];
        acc[i % LANES] += d * d;
    }
    return mast_lane_sum(acc);
}

MULTIVERSION
float mast_vdot_f16(const float *q, const uint16_t *x, size_t n)
{
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++)
            acc[l] += q[i + l] * h2f(x[i + l]);
    for (; i < n; i++)
        acc[i % LANES] += q[i] * h2f(x[i]);
    return mast_lane_sum(acc);
}

MULTIVERSION
float mast_vl2_f16(const float *q, const uint16_t *x, size_t n)
{
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float d = q[i + l] - h2f(x[i + l]);
            acc[l] += d * d;
        }
    for (; i < n; i++) {
        float d = q[i] - h2f(x[i]);
        acc[i % LANES] += d * d;
    }
    return mast_lane_sum(acc);
}

MULTIVERSION
float mast_vdot_u8(const float *q, const uint8_t *x, size_t n)
{
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++)
            acc[l] += q[i + l] * (float)x[i + l];
    for (; i < n; i++)
        acc[i % LANES] += q[i] * (float)x[i];
    return mast_lane_sum(acc);
}
