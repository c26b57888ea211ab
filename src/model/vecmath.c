/*
** model/vecmath.c — see vecmath.h.
**
** exp(x) = 2^j * p(r) with j = round(x / ln 2), r = x - j ln 2 in two
** parts (Cody-Waite), p(r) = 1 + r + r^2 q(r) with q Cephes expf's degree-5
** minimax polynomial, and 2^j
** built in the exponent bits. Rounding uses the 1.5 * 2^23 trick so that
** the loops hold only arithmetic and selects, which vectorize everywhere.
** Reductions keep LANES partial sums in a fixed order.
*/
#include "model/vecmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/simd.h"

#define MULTIVERSION MAST_MULTIVERSION
#define LANES MAST_LANES

/* Every branch is a select between values already computed, so that the
** loops if-convert (and vectorize) without -fno-trapping-math. */
static inline float exp1(float x)
{
    const float log2e = 1.44269504088896341f, ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    const float magic = 12582912.0f;   /* 1.5 * 2^23: adding it rounds to an integer */
    const float lo = -87.3365448f, hi = 88.7228391f;
    float c = x < lo ? lo : x;
    c = c > hi ? hi : c;
    float t = c * log2e + magic;
    float j = t - magic;
    float r = c - j * ln2_hi;
    r = r - j * ln2_lo;
    float p = 1.9875691500e-4f;   /* Cephes expf's minimax polynomial */
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    /* 2^j, j in [-126, 128], from t's low mantissa bits; 2^128 is not a
    ** float, so j = 128 scales by 2 * 2^127 */
    uint32_t bits;
    memcpy(&bits, &t, 4);
    uint32_t e = (bits - 0x4B400000u + 127u) << 23, e127 = 254u << 23;
    float scale, s127;
    memcpy(&scale, &e, 4);
    memcpy(&s127, &e127, 4);
    float y = p * scale, y128 = (p * 2.0f) * s127;
    y = j > 127.0f ? y128 : y;
    y = x > hi ? INFINITY : y;
    return x < lo ? 0.0f : y;
}

MULTIVERSION
void mast_vec_exp(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = exp1(x[i]);
}

MULTIVERSION
void mast_vec_gelu(float *x, size_t n)
{
    const float k = 0.7978845608028654f;   /* sqrt(2 / pi) */
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float u = k * v * (1.0f + 0.044715f * v * v);
        /* tanh(u) = 1 - 2 / (exp(2u) + 1) */
        float t = 1.0f - 2.0f / (exp1(2.0f * u) + 1.0f);
        x[i] = 0.5f * v * (1.0f + t);
    }
}

MULTIVERSION
void mast_vec_swiglu(float *g, const float *u, size_t n)
{
    for (size_t i = 0; i < n; i++)
        g[i] = g[i] / (1.0f + exp1(-g[i])) * u[i];
}

MULTIVERSION
void mast_vec_softmax(float *x, size_t n, float scale)
{
    if (!n)
        return;
    float mx[LANES];
    for (int l = 0; l < LANES; l++)
        mx[l] = -INFINITY;
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float v = x[i + l] * scale;
            x[i + l] = v;
            mx[l] = v > mx[l] ? v : mx[l];
        }
    for (; i < n; i++) {
        x[i] *= scale;
        mx[0] = x[i] > mx[0] ? x[i] : mx[0];
    }
    float max = mx[0];
    for (int l = 1; l < LANES; l++)
        max = mx[l] > max ? mx[l] : max;
    float sum[LANES] = {0};
    for (i = 0; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float e = exp1(x[i + l] - max);
            x[i + l] = e;
            sum[l] += e;
        }
    for (; i < n; i++) {
        x[i] = exp1(x[i] - max);
        sum[0] += x[i];
    }
    float total = 0;
    for (int l = 0; l < LANES; l++)
        total += sum[l];
    float inv = 1.0f / total;
    for (i = 0; i < n; i++)
        x[i] *= inv;
}


MULTIVERSION
void mast_vec_layer_norm(float *x, size_t n, const float *w, const float *b, float eps)
{
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++)
            acc[l] += x[i + l];
    for (; i < n; i++)
        acc[0] += x[i];
    float mean = mast_lane_sum(acc) / (float)n;
    memset(acc, 0, sizeof acc);
    for (i = 0; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float d = x[i + l] - mean;
            x[i + l] = d;
            acc[l] += d * d;
        }
    for (; i < n; i++) {
        x[i] -= mean;
        acc[0] += x[i] * x[i];
    }
    float scale = 1.0f / sqrtf(mast_lane_sum(acc) / (float)n + eps);
    for (i = 0; i < n; i++)
        x[i] = x[i] * scale * w[i] + b[i];
}
