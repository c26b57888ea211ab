/*
** model/qtile_avx512.c — batched products of quantized weights on AVX-512
** VNNI (see quant_impl.h, "Interleaved tiles").
**
** A tile holds 16 weight rows with their values as unsigned bytes,
** interleaved four at a time: bytes [64 g, 64 g + 64) are values 4g..4g+3
** of rows 0..15 (row r at 4 r). One vpdpbusd then multiplies four values of
** all 16 rows by the same four activation bytes (a broadcast) and adds them
** to 16 per-row sums, so no horizontal sums are needed; each weight load
** serves 4 activation rows. Per type the unit (a 32-value block or a
** 256-value super-block) also holds the rows' scales as 16-lane vectors:
**
**   b32 (q4_0, q5_0, q8_0):  values + 128 (512 B), d (16 floats)
**   k4  (q4_K, q5_K):        values 0..31 (4096 B), 8 scales (int32 x 16
**                            each), 4 pairs of mins (int16 pairs x 16), d, dmin
**   k6  (q6_K):              values + 32 (4096 B), 16 scales (int32 x 16),
**                            8 pairs of scales (int16 pairs x 16), d
**
** The integer sums are exact, so any adding order gives the reference's
** integers; the float steps per block are the reference dot product's own
** (quant.c, quant_k.c) in its order, lane for lane, so results are the same
** bits as mast_vec_dot's (tested in test_matmul.c).
*/
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "model/quant_impl.h"

#undef F16
#define F16(x) _cvtsh_ss(x)   /* F16C, inline: the same value as mast_f16_to_f32 */

#define TR MAST_QT_ROWS   /* 16 rows, one per 32-bit lane */
#define NB 4              /* activation rows per pass */

enum { B32_UNIT = 8 * 64 + 64, K4_UNIT = 64 * 64 + 8 * 64 + 4 * 64 + 2 * 64,
       K6_UNIT = 64 * 64 + 16 * 64 + 8 * 64 + 64 };

static int kind_of(mast_dtype t)
{
    switch (t) {
    case MAST_Q4_0: case MAST_Q5_0: case MAST_Q8_0: return 1;
    case MAST_Q4_K: case MAST_Q5_K: return 2;
    case MAST_Q6_K: return 3;
    default: return 0;
    }
}

bool mast_qt_supported(mast_dtype wtype)
{
    return mast_avx512_available() && kind_of(wtype);
}

size_t mast_qt_tile_bytes(mast_dtype wtype, int64_t cols)
{
    switch (kind_of(wtype)) {
    case 1: return (size_t)(cols / 32) * B32_UNIT;
    case 2: return (size_t)(cols / 256) * K4_UNIT;
    case 3: return (size_t)(cols / 256) * K6_UNIT;
    default: return 0;
    }
}

/* ---- packing ---- */

/* n values of row r (bytes in v) into the interleaved area q */
static void interleave(unsigned char *q, int r, const uint8_t *v, int n)
{
    for (int g = 0; g < n / 4; g++)
        memcpy(q + 64 * g + 4 * r, v + 4 * g, 4);
}

static void lane_i32(unsigned char *vec, int r, int32_t x) { memcpy(vec + 4 * r, &x, 4); }
static void lane_f32(unsigned char *vec, int r, float x) { memcpy(vec + 4 * r, &x, 4); }
static int32_t pair16(int lo, int hi) { return (int32_t)((uint32_t)(uint16_t)lo | (uint32_t)hi << 16); }

/* One 32-value block of row r as value + 128 */
static void b32_values(mast_dtype t, const unsigned char *blk, uint8_t v[32], float *d)
{
    if (t == MAST_Q8_0) {
        const block_q8_0 *x = (const void *)blk;
        for (int k = 0; k < 32; k++)
            v[k] = (uint8_t)(x->qs[k] ^ 0x80);
        *d = F16(x->d);
    } else if (t == MAST_Q4_0) {
        const block_q4_0 *x = (const void *)blk;
        for (int k = 0; k < 16; k++) {
            v[k] = (uint8_t)((x->qs[k] & 0x0F) + 120);
            v[k + 16] = (uint8_t)((x->qs[k] >> 4) + 120);
        }
        *d = F16(x->d);
    } else {
        const block_q5_0 *x = (const void *)blk;
        uint32_t qh;
        memcpy(&qh, x->qh, 4);
        for (int k = 0; k < 16; k++) {
            v[k] = (uint8_t)(((x->qs[k] & 0x0F) | (((qh >> k) & 1) << 4)) + 112);
            v[k + 16] = (uint8_t)(((x->qs[k] >> 4) | (((qh >> (k + 16)) & 1) << 4)) + 112);
        }
        *d = F16(x->d);
    }
}

static void k4_values(mast_dtype t, const unsigned char *blk, uint8_t v[256])
{
    const block_q4_K *x = (const void *)blk;
    const block_q5_K *x5 = (const void *)blk;
    const uint8_t *qs = t == MAST_Q4_K ? x->qs : x5->qs;
    for (int p = 0; p < 4; p++)
        for (int l = 0; l < 32; l++) {
            v[64 * p + l] = qs[32 * p + l] & 0x0F;
            v[64 * p + 32 + l] = qs[32 * p + l] >> 4;
        }
    if (t == MAST_Q5_K)
        for (int j = 0; j < 8; j++)
            for (int l = 0; l < 32; l++)
                v[32 * j + l] |= (uint8_t)(((x5->qh[l] >> j) & 1) << 4);
}

static void q6_values(const block_q6_K *x, uint8_t v[256])
{
    for (int c = 0; c < 2; c++)
        for (int l = 0; l < 32; l++) {
            uint8_t l0 = x->ql[64 * c + l], l1 = x->ql[64 * c + 32 + l], h = x->qh[32 * c + l];
            v[128 * c + l] = (uint8_t)((l0 & 0x0F) | ((h & 3) << 4));
            v[128 * c + 32 + l] = (uint8_t)((l1 & 0x0F) | (((h >> 2) & 3) << 4));
            v[128 * c + 64 + l] = (uint8_t)((l0 >> 4) | (((h >> 4) & 3) << 4));
            v[128 * c + 96 + l] = (uint8_t)((l1 >> 4) | (((h >> 6) & 3) << 4));
        }
}

void mast_qt_pack(mast_dtype wtype, const unsigned char *W, size_t w_row_bytes, int nrows,
                  int64_t cols, void *tile)
{
    unsigned char *T = tile;
    memset(T, 0, mast_qt_tile_bytes(wtype, cols));   /* missing rows: zeros, never stored */
    uint8_t v[256];
    for (int r = 0; r < nrows; r++) {
        const unsigned char *row = W + (size_t)r * w_row_bytes;
        if (kind_of(wtype) == 1) {
            size_t bs = mast_dtype_get(wtype)->type_size;
            for (int64_t i = 0; i < cols / 32; i++) {
                unsigned char *u = T + i * B32_UNIT;
                float d;
                b32_values(wtype, row + i * bs, v, &d);
                interleave(u, r, v, 32);
                lane_f32(u + 512, r, d);
            }
        } else if (kind_of(wtype) == 2) {
            for (int64_t i = 0; i < cols / 256; i++) {
                const block_q4_K *x = (const void *)(row + i * mast_dtype_get(wtype)->type_size);
                unsigned char *u = T + i * K4_UNIT;
                k4_values(wtype, (const void *)x, v);
                interleave(u, r, v, 256);
                uint8_t sc[8], mn[8];
                for (int j = 0; j < 8; j++) {
                    get_scale_min_k4(j, x->scales, &sc[j], &mn[j]);
                    lane_i32(u + 4096 + 64 * j, r, sc[j]);
                }
                for (int p = 0; p < 4; p++)
                    lane_i32(u + 4096 + 512 + 64 * p, r, pair16(mn[2 * p], mn[2 * p + 1]));
                lane_f32(u + 4096 + 768, r, F16(x->d));
                lane_f32(u + 4096 + 832, r, F16(x->dmin));
            }
        } else {
            for (int64_t i = 0; i < cols / 256; i++) {
                const block_q6_K *x = (const void *)(row + i * sizeof(block_q6_K));
                unsigned char *u = T + i * K6_UNIT;
                q6_values(x, v);
                interleave(u, r, v, 256);
                for (int s = 0; s < 16; s++)
                    lane_i32(u + 4096 + 64 * s, r, x->scales[s]);
                for (int p = 0; p < 8; p++)
                    lane_i32(u + 4096 + 1024 + 64 * p, r, pair16(x->scales[2 * p], x->scales[2 * p + 1]));
                lane_f32(u + 4096 + 1536, r, F16(x->d));
            }
        }
    }
}

void mast_qt_act_aux(mast_dtype wtype, const void *act, int64_t cols, int32_t *aux)
{
    if (kind_of(wtype) == 1) {   /* 128 x each block's activation sum */
        const block_q8_0 *y = act;
        for (int64_t i = 0; i < cols / 32; i++) {
            int32_t t = 0;
            for (int k = 0; k < 32; k++)
                t += y[i].qs[k];
            aux[i] = 128 * t;
        }
    } else if (kind_of(wtype) == 2) {   /* the sub-blocks' sums, as int16 pairs */
        const block_q8_K *y = act;
        for (int64_t i = 0; i < cols / 256; i++)
            for (int p = 0; p < 4; p++) {
                const int16_t *b = y[i].bsums + 4 * p;
                aux[4 * i + p] = pair16(b[0] + b[1], b[2] + b[3]);
            }
    }
}

size_t mast_qt_aux_ints(mast_dtype wtype, int64_t cols)
{
    int k = kind_of(wtype);
    return k == 1 ? (size_t)(cols / 32) : k == 2 ? (size_t)(cols / 256) * 4 : 0;
}

/* ---- kernels: nb (1..NB) activation rows against one tile ---- */

static inline __m512i bcast4(const void *p)
{
    int32_t x;
    memcpy(&x, p, 4);
    return _mm512_set1_epi32(x);
}

#define ALWAYS_INLINE __attribute__((always_inline)) static inline

/* one block i of b32 into lanes L[b] */
ALWAYS_INLINE void b32_block(const unsigned char *u, const unsigned char *const *a, const int32_t *const *sy,
                             int64_t i, int nb, __m512 *L)
{
    __m512i acc[NB];
    for (int b = 0; b < nb; b++)
        acc[b] = _mm512_setzero_si512();
    for (int g = 0; g < 8; g++) {
        __m512i w = _mm512_loadu_si512(u + 64 * g);
        for (int b = 0; b < nb; b++)
            acc[b] = _mm512_dpbusd_epi32(acc[b], w, bcast4(a[b] + i * sizeof(block_q8_0) + 2 + 4 * g));
    }
    __m512 dx = _mm512_loadu_ps(u + 512);
    for (int b = 0; b < nb; b++) {
        const block_q8_0 *y = (const block_q8_0 *)a[b] + i;
        __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[b], _mm512_set1_epi32(sy[b][i])));
        f = _mm512_mul_ps(_mm512_mul_ps(f, dx), _mm512_set1_ps(F16(y->d)));
        L[b] = _mm512_add_ps(L[b], f);
    }
}

ALWAYS_INLINE void b32_run(const unsigned char *T, int64_t cols, const unsigned char *const *a,
                           const int32_t *const *sy, int nb, float *const *out, __mmask16 m)
{
    int64_t n = cols / 32, i = 0;
    __m512 L0[NB], L1[NB], L2[NB], L3[NB];
    for (int b = 0; b < nb; b++)
        L0[b] = L1[b] = L2[b] = L3[b] = _mm512_setzero_ps();
    for (; i + 4 <= n; i += 4) {   /* block i adds to lane i % 4, as the reference */
        b32_block(T + i * B32_UNIT, a, sy, i, nb, L0);
        b32_block(T + (i + 1) * B32_UNIT, a, sy, i + 1, nb, L1);
        b32_block(T + (i + 2) * B32_UNIT, a, sy, i + 2, nb, L2);
        b32_block(T + (i + 3) * B32_UNIT, a, sy, i + 3, nb, L3);
    }
    if (i < n)
        b32_block(T + i * B32_UNIT, a, sy, i, nb, L0);
    if (i + 1 < n)
        b32_block(T + (i + 1) * B32_UNIT, a, sy, i + 1, nb, L1);
    if (i + 2 < n)
        b32_block(T + (i + 2) * B32_UNIT, a, sy, i + 2, nb, L2);
    for (int b = 0; b < nb; b++)   /* (l0 + l1) + (l2 + l3) */
        _mm512_mask_storeu_ps(out[b], m,
                              _mm512_add_ps(_mm512_add_ps(L0[b], L1[b]), _mm512_add_ps(L2[b], L3[b])));
}

/* A K-type super-block's scale-weighted sums for nb activation rows: subs
** sub-blocks of 256 / subs values, each 4 values of the 16 rows a 64-byte
** group (vpdpbusd against 4 broadcast activation bytes), times the
** sub-block's 16 scales at u + 4096 (vpmulld). */
ALWAYS_INLINE void k_products(const unsigned char *u, const block_q8_K *const *y, int nb, const int subs,
                              __m512i *acc)
{
    const int groups = 64 / subs, len = 256 / subs;
    for (int s = 0; s < subs; s++) {
        __m512i t[NB];
        for (int b = 0; b < nb; b++)
            t[b] = _mm512_setzero_si512();
        for (int g = 0; g < groups; g++) {
            __m512i w = _mm512_loadu_si512(u + 64 * (groups * s + g));
            for (int b = 0; b < nb; b++)
                t[b] = _mm512_dpbusd_epi32(t[b], w, bcast4(y[b]->qs + len * s + 4 * g));
        }
        __m512i sc = _mm512_loadu_si512(u + 4096 + 64 * s);
        for (int b = 0; b < nb; b++)
            acc[b] = _mm512_add_epi32(acc[b], _mm512_mullo_epi32(t[b], sc));
    }
}

ALWAYS_INLINE void k4_run(const unsigned char *T, int64_t cols, const unsigned char *const *a,
                          const int32_t *const *s2, int nb, float *const *out, __mmask16 m)
{
    __m512 sum[NB];
    for (int b = 0; b < nb; b++)
        sum[b] = _mm512_setzero_ps();
    for (int64_t i = 0; i < cols / 256; i++) {
        const unsigned char *u = T + i * K4_UNIT;
        const block_q8_K *y[NB];
        __m512i acc[NB], mn[NB];
        for (int b = 0; b < nb; b++) {
            y[b] = (const block_q8_K *)a[b] + i;
            acc[b] = mn[b] = _mm512_setzero_si512();
        }
        k_products(u, y, nb, 8, acc);
        for (int p = 0; p < 4; p++) {
            __m512i mp = _mm512_loadu_si512(u + 4096 + 512 + 64 * p);
            for (int b = 0; b < nb; b++)
                mn[b] = _mm512_dpwssd_epi32(mn[b], mp, _mm512_set1_epi32(s2[b][4 * i + p]));
        }
        __m512 d = _mm512_loadu_ps(u + 4096 + 768), dmin = _mm512_loadu_ps(u + 4096 + 832);
        for (int b = 0; b < nb; b++) {   /* d * dy * acc - dmin * dy * mins */
            __m512 dy = _mm512_set1_ps(y[b]->d);
            __m512 f = _mm512_sub_ps(_mm512_mul_ps(_mm512_mul_ps(d, dy), _mm512_cvtepi32_ps(acc[b])),
                                     _mm512_mul_ps(_mm512_mul_ps(dmin, dy), _mm512_cvtepi32_ps(mn[b])));
            sum[b] = _mm512_add_ps(sum[b], f);
        }
    }
    for (int b = 0; b < nb; b++)
        _mm512_mask_storeu_ps(out[b], m, sum[b]);
}

ALWAYS_INLINE void k6_run(const unsigned char *T, int64_t cols, const unsigned char *const *a, int nb,
                          float *const *out, __mmask16 m)
{
    __m512 sum[NB];
    for (int b = 0; b < nb; b++)
        sum[b] = _mm512_setzero_ps();
    for (int64_t i = 0; i < cols / 256; i++) {
        const unsigned char *u = T + i * K6_UNIT;
        const block_q8_K *y[NB];
        __m512i acc[NB], corr[NB];
        for (int b = 0; b < nb; b++) {
            y[b] = (const block_q8_K *)a[b] + i;
            acc[b] = corr[b] = _mm512_setzero_si512();
        }
        k_products(u, y, nb, 16, acc);
        for (int p = 0; p < 8; p++) {   /* values are stored + 32: subtract 32 * scale * bsum */
            __m512i sp = _mm512_loadu_si512(u + 4096 + 1024 + 64 * p);
            for (int b = 0; b < nb; b++)
                corr[b] = _mm512_dpwssd_epi32(corr[b], sp, bcast4(y[b]->bsums + 2 * p));
        }
        __m512 d = _mm512_loadu_ps(u + 4096 + 1536);
        for (int b = 0; b < nb; b++) {
            __m512i total = _mm512_sub_epi32(acc[b], _mm512_slli_epi32(corr[b], 5));
            __m512 f = _mm512_mul_ps(_mm512_mul_ps(d, _mm512_set1_ps(y[b]->d)), _mm512_cvtepi32_ps(total));
            sum[b] = _mm512_add_ps(sum[b], f);
        }
    }
    for (int b = 0; b < nb; b++)
        _mm512_mask_storeu_ps(out[b], m, sum[b]);
}

static void run4(int kind, const unsigned char *T, int64_t cols, const unsigned char *const *a,
                 const int32_t *const *aux, float *const *out, __mmask16 m)
{
    if (kind == 1)
        b32_run(T, cols, a, aux, NB, out, m);
    else if (kind == 2)
        k4_run(T, cols, a, aux, NB, out, m);
    else
        k6_run(T, cols, a, NB, out, m);
}

static void run1(int kind, const unsigned char *T, int64_t cols, const unsigned char *const *a,
                 const int32_t *const *aux, float *const *out, __mmask16 m)
{
    if (kind == 1)
        b32_run(T, cols, a, aux, 1, out, m);
    else if (kind == 2)
        k4_run(T, cols, a, aux, 1, out, m);
    else
        k6_run(T, cols, a, 1, out, m);
}

void mast_qt_run(mast_dtype wtype, const void *tile, int nrows, int64_t cols, const unsigned char *A,
                 size_t a_row_bytes, const int32_t *aux, int64_t batch, float *Y, int64_t ldy)
{
    int kind = kind_of(wtype);
    size_t aux_n = mast_qt_aux_ints(wtype, cols);
    __mmask16 m = (__mmask16)((1u << nrows) - 1);
    const unsigned char *a[NB];
    const int32_t *x[NB];
    float *out[NB];
    int64_t b = 0;
    for (; b + NB <= batch; b += NB) {
        for (int k = 0; k < NB; k++) {
            a[k] = A + (size_t)(b + k) * a_row_bytes;
            x[k] = aux ? aux + (size_t)(b + k) * aux_n : NULL;
            out[k] = Y + (b + k) * ldy;
        }
        run4(kind, tile, cols, a, x, out, m);
    }
    for (; b < batch; b++) {
        a[0] = A + (size_t)b * a_row_bytes;
        x[0] = aux ? aux + (size_t)b * aux_n : NULL;
        out[0] = Y + b * ldy;
        run1(kind, tile, cols, a, x, out, m);
    }
}
