/*
** model/quant_k.c — the K-quants (q2_K..q6_K, q8_K): super-blocks of 256
** elements split into sub-blocks of 16 or 32, each with its own quantized
** scale (and minimum), relative to the super-block's f16 scale(s).
**
** Each type has an unpack function giving the integer quants of a block in
** element order plus the per-sub-block integer scales; dequantize and the
** reference dot products are written on top of it, so the bit layout lives
** in one place per type (pack, in the quantizer, is its inverse).
*/
#include <float.h>
#include <stddef.h>
#include <string.h>

#include "model/quant_impl.h"

/* ---- fitting one sub-block (mast's own, see quant.h) ---- */

/* x ~= scale * L with L in [-nmax, nmax - 1]; returns scale, fills L. */
static float fit_symmetric(const float *x, int n, int nmax, int8_t *L)
{
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < 1e-30f) {
        memset(L, 0, (size_t)n);
        return 0;
    }
    float best_scale = 0, best_err = FLT_MAX;
    int8_t tmp[32];
    for (int k = -9; k <= 9; k++) {
        float iscale = -(nmax + 0.1f * k) / max;
        double sxl = 0, sll = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale * x[i]);
            l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
            tmp[i] = (int8_t)l;
            sxl += (double)x[i] * l;
            sll += (double)l * l;
        }
        if (sll == 0)
            continue;
        float scale = (float)(sxl / sll);
        double err = 0;
        for (int i = 0; i < n; i++) {
            double e = x[i] - scale * tmp[i];
            err += e * e;
        }
        if (err < best_err) {
            best_err = (float)err;
            best_scale = scale;
            memcpy(L, tmp, (size_t)n);
        }
    }
    return best_scale;
}

/* x ~= scale * L - min with L in [0, nmax] and min >= 0. */
static void fit_affine(const float *x, int n, int nmax, uint8_t *L, float *scale_out,
                       float *min_out)
{
    float lo = 0, hi = -FLT_MAX;
    for (int i = 0; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    if (hi - lo < 1e-30f) {
        memset(L, 0, (size_t)n);
        *scale_out = 0;
        *min_out = -lo;
        return;
    }
    float best_err = FLT_MAX, best_scale = 0, best_b = lo;
    uint8_t tmp[32];
    for (int k = -4; k <= 4; k++) {
        float scale = (hi - lo) / (nmax + 0.15f * k), b = lo;
        for (int iter = 0; iter < 4; iter++) {
            double sl = 0, sll = 0, sx = 0, sxl = 0;
            for (int i = 0; i < n; i++) {
                int l = nearest_int((x[i] - b) / scale);
                l = l < 0 ? 0 : l > nmax ? nmax : l;
                tmp[i] = (uint8_t)l;
                sl += l;
                sll += (double)l * l;
                sx += x[i];
                sxl += (double)x[i] * l;
            }
            double err = 0;
            for (int i = 0; i < n; i++) {
                double e = x[i] - (scale * tmp[i] + b);
                err += e * e;
            }
            if (err < best_err) {
                best_err = (float)err;
                best_scale = scale;
                best_b = b;
                memcpy(L, tmp, (size_t)n);
            }
            /* least-squares refit of scale and offset, offset kept <= 0 */
            double det = n * sll - sl * sl;
            if (det <= 0)
                break;
            double s = (n * sxl - sx * sl) / det, bb = (sx - s * sl) / n;
            if (bb > 0) {
                bb = 0;
                s = sll > 0 ? sxl / sll : 0;
            }
            if (s <= 0)
                break;
            scale = (float)s;
            b = (float)bb;
        }
    }
    *scale_out = best_scale;
    *min_out = -best_b;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- q8_K (activations) ---- */

void mast_quant_q8_K(const float *x, void *dst, int64_t n)
{
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK_K; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        memset(y[i].bsums, 0, sizeof y[i].bsums);
        if (amax == 0) {
            y[i].d = 0;
            memset(y[i].qs, 0, QK_K);
            continue;
        }
        float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; j++) {
            int v = nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v > 127 ? 127 : v);
            y[i].bsums[j / 16] = (int16_t)(y[i].bsums[j / 16] + y[i].qs[j]);
        }
        y[i].d = 1 / iscale;
    }
}

void mast_dequant_q8_K(const void *src, float *y, int64_t n)
{
    const block_q8_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++)
        for (int j = 0; j < QK_K; j++)
            *y++ = x[i].d * x[i].qs[j];
}

/* ---- unpacking: integer quants in element order, integer scales ---- */

static void unpack_q2_K(const block_q2_K *b, int8_t q[QK_K], int sc[16], int mn[16])
{
    for (int e = 0; e < QK_K; e++)
        q[e] = (int8_t)((b->qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3);
    for (int s = 0; s < 16; s++) {
        sc[s] = b->scales[s] & 0xF;
        mn[s] = b->scales[s] >> 4;
    }
}

static void unpack_q3_K(const block_q3_K *b, int8_t q[QK_K], int sc[16])
{
    for (int e = 0; e < QK_K; e++) {
        int c = e / 128, j = (e % 128) / 32, l = e % 32;
        int v = (b->qs[32 * c + l] >> (2 * j)) & 3;
        int high = b->hmask[l] & (1 << (4 * c + j));
        q[e] = (int8_t)(v - (high ? 0 : 4));
    }
    int8_t s8[16];
    q3_K_scales(b->scales, s8);
    for (int s = 0; s < 16; s++)
        sc[s] = s8[s];
}

static void unpack_q4_K(const block_q4_K *b, int8_t q[QK_K], int sc[8], int mn[8])
{
    for (int e = 0; e < QK_K; e++) {
        int j = e / 32, l = e % 32;
        uint8_t byte = b->qs[32 * (j / 2) + l];
        q[e] = (int8_t)(j % 2 ? byte >> 4 : byte & 0xF);
    }
    for (int j = 0; j < 8; j++) {
        uint8_t s, m;
        get_scale_min_k4(j, b->scales, &s, &m);
        sc[j] = s;
        mn[j] = m;
    }
}

static void unpack_q5_K(const block_q5_K *b, int8_t q[QK_K], int sc[8], int mn[8])
{
    for (int e = 0; e < QK_K; e++) {
        int j = e / 32, l = e % 32;
        uint8_t byte = b->qs[32 * (j / 2) + l];
        int v = j % 2 ? byte >> 4 : byte & 0xF;
        q[e] = (int8_t)(v + ((b->qh[l] >> j) & 1) * 16);
    }
    for (int j = 0; j < 8; j++) {
        uint8_t s, m;
        get_scale_min_k4(j, b->scales, &s, &m);
        sc[j] = s;
        mn[j] = m;
    }
}

static void unpack_q6_K(const block_q6_K *b, int8_t q[QK_K], int sc[16])
{
    for (int e = 0; e < QK_K; e++) {
        int c = e / 128, quarter = (e % 128) / 32, l = e % 32;
        uint8_t lo = b->ql[64 * c + l + (quarter & 1) * 32];
        int v = quarter < 2 ? lo & 0xF : lo >> 4;
        v |= ((b->qh[32 * c + l] >> (2 * quarter)) & 3) << 4;
        q[e] = (int8_t)(v - 32);
    }
    for (int s = 0; s < 16; s++)
        sc[s] = b->scales[s];
}

/* ---- dequantize ---- */

void mast_dequant_q2_K(const void *src, float *y, int64_t n)
{
    const block_q2_K *x = src;
    int8_t q[QK_K];
    int sc[16], mn[16];
    for (int64_t i = 0; i < n / QK_K; i++) {
        unpack_q2_K(&x[i], q, sc, mn);
        float d = F16(x[i].d), dmin = F16(x[i].dmin);
        for (int e = 0; e < QK_K; e++)
            *y++ = d * sc[e / 16] * q[e] - dmin * mn[e / 16];
    }
}


/* q3_K and q6_K: 16 sub-blocks of 16 with a signed scale each, one f16 d
** (at d_offset in the block); they differ only in how quants are packed */
typedef void (*unpack_16_fn)(const void *block, int8_t q[QK_K], int sc[16]);

static void unpack_q3_K_any(const void *b, int8_t q[QK_K], int sc[16])
{
    unpack_q3_K(b, q, sc);
}

static void unpack_q6_K_any(const void *b, int8_t q[QK_K], int sc[16])
{
    unpack_q6_K(b, q, sc);
}

static float block_d(const unsigned char *block, size_t d_offset)
{
    mast_f16 d;
    memcpy(&d, block + d_offset, sizeof d);
    return F16(d);
}

static void dequant_16(const unsigned char *x, size_t block_size, size_t d_offset,
                       unpack_16_fn unpack, float *y, int64_t n)
{
    int8_t q[QK_K];
    int sc[16];
    for (int64_t i = 0; i < n / QK_K; i++, x += block_size) {
        unpack(x, q, sc);
        float d = block_d(x, d_offset);
        for (int e = 0; e < QK_K; e++)
            *y++ = d * sc[e / 16] * q[e];
    }
}

void mast_dequant_q3_K(const void *src, float *y, int64_t n)
{
    dequant_16(src, sizeof(block_q3_K), offsetof(block_q3_K, d), unpack_q3_K_any, y, n);
}

void mast_dequant_q6_K(const void *src, float *y, int64_t n)
{
    dequant_16(src, sizeof(block_q6_K), offsetof(block_q6_K, d), unpack_q6_K_any, y, n);
}

/* q4_K and q5_K differ only in how their quants are packed; d and dmin
** lead both layouts (offsetof asserts below) */
_Static_assert(offsetof(block_q4_K, d) == offsetof(block_q5_K, d) &&
                   offsetof(block_q4_K, dmin) == offsetof(block_q5_K, dmin),
               "q4_K and q5_K share their header");
typedef void (*unpack_k4_fn)(const void *block, int8_t q[QK_K], int sc[8], int mn[8]);

static void unpack_q4_K_any(const void *b, int8_t q[QK_K], int sc[8], int mn[8])
{
    unpack_q4_K(b, q, sc, mn);
}

static void unpack_q5_K_any(const void *b, int8_t q[QK_K], int sc[8], int mn[8])
{
    unpack_q5_K(b, q, sc, mn);
}

static void dequant_k4(const unsigned char *x, size_t block_size, unpack_k4_fn unpack, float *y,
                       int64_t n)
{
    int8_t q[QK_K];
    int sc[8], mn[8];
    for (int64_t i = 0; i < n / QK_K; i++, x += block_size) {
        unpack(x, q, sc, mn);
        float d = block_d(x, offsetof(block_q4_K, d)), dmin = block_d(x, offsetof(block_q4_K, dmin));
        for (int e = 0; e < QK_K; e++)
            *y++ = d * sc[e / 32] * q[e] - dmin * mn[e / 32];
    }
}

void mast_dequant_q4_K(const void *src, float *y, int64_t n)
{
    dequant_k4(src, sizeof(block_q4_K), unpack_q4_K_any, y, n);
}

void mast_dequant_q5_K(const void *src, float *y, int64_t n)
{
    dequant_k4(src, sizeof(block_q5_K), unpack_q5_K_any, y, n);
}


/* ---- quantize (pack is the inverse of unpack) ---- */

void mast_quant_q2_K(const float *x, void *dst, int64_t n)
{
    block_q2_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        uint8_t L[QK_K];
        float scales[16], mins[16], max_scale = 0, max_min = 0;
        for (int s = 0; s < 16; s++) {
            fit_affine(x + 16 * s, 16, 3, L + 16 * s, &scales[s], &mins[s]);
            max_scale = fmaxf(max_scale, scales[s]);
            max_min = fmaxf(max_min, mins[s]);
        }
        float is = max_scale > 0 ? 15 / max_scale : 0, im = max_min > 0 ? 15 / max_min : 0;
        for (int s = 0; s < 16; s++)
            y[i].scales[s] = (uint8_t)(clampi(nearest_int(is * scales[s]), 0, 15) |
                                       (clampi(nearest_int(im * mins[s]), 0, 15) << 4));
        y[i].d = mast_f32_to_f16(max_scale / 15);
        y[i].dmin = mast_f32_to_f16(max_min / 15);
        for (int s = 0; s < 16; s++) {
            float d = F16(y[i].d) * (y[i].scales[s] & 0xF), dm = F16(y[i].dmin) * (y[i].scales[s] >> 4);
            for (int k = 0; k < 16; k++)
                L[16 * s + k] = d ? (uint8_t)clampi(nearest_int((x[16 * s + k] + dm) / d), 0, 3) : 0;
        }
        memset(y[i].qs, 0, sizeof y[i].qs);
        for (int e = 0; e < QK_K; e++)
            y[i].qs[32 * (e / 128) + e % 32] |= (uint8_t)(L[e] << (2 * ((e % 128) / 32)));
    }
}

void mast_quant_q3_K(const float *x, void *dst, int64_t n)
{
    block_q3_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        int8_t L[QK_K];
        float scales[16], amax = 0, max_scale = 0;
        for (int s = 0; s < 16; s++) {
            scales[s] = fit_symmetric(x + 16 * s, 16, 4, L + 16 * s);
            if (fabsf(scales[s]) > amax) {
                amax = fabsf(scales[s]);
                max_scale = scales[s];
            }
        }
        memset(y[i].scales, 0, 12);
        if (max_scale != 0) {
            float iscale = -32 / max_scale;
            for (int s = 0; s < 16; s++) {
                int l = clampi(nearest_int(iscale * scales[s]), -32, 31) + 32;
                if (s < 8)
                    y[i].scales[s] = (uint8_t)(l & 0xF);
                else
                    y[i].scales[s - 8] |= (uint8_t)((l & 0xF) << 4);
                y[i].scales[8 + s % 4] |= (uint8_t)((l >> 4) << (2 * (s / 4)));
            }
            y[i].d = mast_f32_to_f16(1 / iscale);
        } else {
            y[i].d = 0;
        }
        int8_t sc[16];
        q3_K_scales(y[i].scales, sc);
        for (int s = 0; s < 16; s++) {
            float d = F16(y[i].d) * sc[s];
            for (int k = 0; k < 16; k++)
                L[16 * s + k] = (int8_t)(d ? clampi(nearest_int(x[16 * s + k] / d), -4, 3) : 0);
        }
        memset(y[i].hmask, 0, sizeof y[i].hmask);
        memset(y[i].qs, 0, sizeof y[i].qs);
        for (int e = 0; e < QK_K; e++) {
            int c = e / 128, j = (e % 128) / 32, l = e % 32, v = L[e] + 4;
            if (v > 3) {
                y[i].hmask[l] |= (uint8_t)(1 << (4 * c + j));
                v -= 4;
            }
            y[i].qs[32 * c + l] |= (uint8_t)(v << (2 * j));
        }
    }
}

/* q4_K and q5_K share the scale packing (6-bit scales and mins). */
static void pack_scales_k4(uint8_t out[12], const int ls[8], const int lm[8])
{
    memset(out, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            out[j] = (uint8_t)ls[j];
            out[j + 4] = (uint8_t)lm[j];
        } else {
            out[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
            out[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            out[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

static void fit_k4(const float *x, int nmax, uint8_t L[QK_K], mast_f16 *d_out, mast_f16 *dmin_out,
                   uint8_t packed[12])
{
    float scales[8], mins[8], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        fit_affine(x + 32 * j, 32, nmax, L + 32 * j, &scales[j], &mins[j]);
        max_scale = fmaxf(max_scale, scales[j]);
        max_min = fmaxf(max_min, mins[j]);
    }
    float is = max_scale > 0 ? 63 / max_scale : 0, im = max_min > 0 ? 63 / max_min : 0;
    int ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        ls[j] = clampi(nearest_int(is * scales[j]), 0, 63);
        lm[j] = clampi(nearest_int(im * mins[j]), 0, 63);
    }
    pack_scales_k4(packed, ls, lm);
    *d_out = mast_f32_to_f16(max_scale / 63);
    *dmin_out = mast_f32_to_f16(max_min / 63);
    for (int j = 0; j < 8; j++) {
        float d = F16(*d_out) * ls[j], dm = F16(*dmin_out) * lm[j];
        for (int k = 0; k < 32; k++)
            L[32 * j + k] = d ? (uint8_t)clampi(nearest_int((x[32 * j + k] + dm) / d), 0, nmax) : 0;
    }
}

void mast_quant_q4_K(const float *x, void *dst, int64_t n)
{
    block_q4_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        uint8_t L[QK_K];
        fit_k4(x, 15, L, &y[i].d, &y[i].dmin, y[i].scales);
        memset(y[i].qs, 0, sizeof y[i].qs);
        for (int e = 0; e < QK_K; e++) {
            int j = e / 32;
            y[i].qs[32 * (j / 2) + e % 32] |= (uint8_t)(L[e] << (j % 2 ? 4 : 0));
        }
    }
}

void mast_quant_q5_K(const float *x, void *dst, int64_t n)
{
    block_q5_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        uint8_t L[QK_K];
        fit_k4(x, 31, L, &y[i].d, &y[i].dmin, y[i].scales);
        memset(y[i].qs, 0, sizeof y[i].qs);
        memset(y[i].qh, 0, sizeof y[i].qh);
        for (int e = 0; e < QK_K; e++) {
            int j = e / 32, l = e % 32;
            y[i].qs[32 * (j / 2) + l] |= (uint8_t)((L[e] & 0xF) << (j % 2 ? 4 : 0));
            y[i].qh[l] |= (uint8_t)((L[e] >> 4) << j);
        }
    }
}

void mast_quant_q6_K(const float *x, void *dst, int64_t n)
{
    block_q6_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        int8_t L[QK_K];
        float scales[16], amax = 0, max_scale = 0;
        for (int s = 0; s < 16; s++) {
            scales[s] = fit_symmetric(x + 16 * s, 16, 32, L + 16 * s);
            if (fabsf(scales[s]) > amax) {
                amax = fabsf(scales[s]);
                max_scale = scales[s];
            }
        }
        if (max_scale == 0) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float iscale = -128 / max_scale;
        y[i].d = mast_f32_to_f16(1 / iscale);
        for (int s = 0; s < 16; s++) {
            y[i].scales[s] = (int8_t)clampi(nearest_int(iscale * scales[s]), -128, 127);
            float d = F16(y[i].d) * y[i].scales[s];
            for (int k = 0; k < 16; k++)
                L[16 * s + k] = (int8_t)(d ? clampi(nearest_int(x[16 * s + k] / d), -32, 31) : 0);
        }
        memset(y[i].ql, 0, sizeof y[i].ql);
        memset(y[i].qh, 0, sizeof y[i].qh);
        for (int e = 0; e < QK_K; e++) {
            int c = e / 128, quarter = (e % 128) / 32, l = e % 32, v = L[e] + 32;
            y[i].ql[64 * c + l + (quarter & 1) * 32] |= (uint8_t)((v & 0xF) << (quarter < 2 ? 0 : 4));
            y[i].qh[32 * c + l] |= (uint8_t)((v >> 4) << (2 * quarter));
        }
    }
}

/* ---- reference dot products with q8_K ---- */

static int32_t isum(const int8_t *q, const int8_t *a, int n)
{
    int32_t s = 0;
    for (int i = 0; i < n; i++)
        s += q[i] * a[i];
    return s;
}

float mast_dot_q2_K_ref(const void *w, const void *act, int64_t n)
{
    const block_q2_K *x = w;
    const block_q8_K *y = act;
    int8_t q[QK_K];
    int sc[16], mn[16];
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        unpack_q2_K(&x[i], q, sc, mn);
        int32_t acc = 0, mins = 0;
        for (int s = 0; s < 16; s++) {
            acc += sc[s] * isum(q + 16 * s, y[i].qs + 16 * s, 16);
            mins += mn[s] * y[i].bsums[s];
        }
        sum += F16(x[i].d) * y[i].d * (float)acc - F16(x[i].dmin) * y[i].d * (float)mins;
    }
    return sum;
}


static float dot_16(const unsigned char *x, size_t block_size, size_t d_offset,
                    unpack_16_fn unpack, const block_q8_K *y, int64_t n)
{
    int8_t q[QK_K];
    int sc[16];
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++, x += block_size) {
        unpack(x, q, sc);
        int32_t acc = 0;
        for (int s = 0; s < 16; s++)
            acc += sc[s] * isum(q + 16 * s, y[i].qs + 16 * s, 16);
        sum += block_d(x, d_offset) * y[i].d * (float)acc;
    }
    return sum;
}

float mast_dot_q3_K_ref(const void *w, const void *act, int64_t n)
{
    return dot_16(w, sizeof(block_q3_K), offsetof(block_q3_K, d), unpack_q3_K_any, act, n);
}

float mast_dot_q6_K_ref(const void *w, const void *act, int64_t n)
{
    return dot_16(w, sizeof(block_q6_K), offsetof(block_q6_K, d), unpack_q6_K_any, act, n);
}

static float dot_k4(const unsigned char *x, size_t block_size, unpack_k4_fn unpack,
                    const block_q8_K *y, int64_t n)
{
    int8_t q[QK_K];
    int sc[8], mn[8];
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++, x += block_size) {
        unpack(x, q, sc, mn);
        int32_t acc = 0, mins = 0;
        for (int j = 0; j < 8; j++) {
            acc += sc[j] * isum(q + 32 * j, y[i].qs + 32 * j, 32);
            mins += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        }
        /* d and dmin lead both the q4_K and the q5_K layout */
        sum += block_d(x, offsetof(block_q4_K, d)) * y[i].d * (float)acc -
               block_d(x, offsetof(block_q4_K, dmin)) * y[i].d * (float)mins;
    }
    return sum;
}

float mast_dot_q4_K_ref(const void *w, const void *act, int64_t n)
{
    return dot_k4(w, sizeof(block_q4_K), unpack_q4_K_any, act, n);
}

float mast_dot_q5_K_ref(const void *w, const void *act, int64_t n)
{
    return dot_k4(w, sizeof(block_q5_K), unpack_q5_K_any, act, n);
}

