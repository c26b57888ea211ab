/*
** model/matmul.c — threaded matrix products (see matmul.h).
*/
#include "model/matmul.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "model/gemm.h"
#include "model/quant_impl.h"

#define MAX_PARTS 4

/* One weight matrix of a product: its rows are tiles first_tile.. of the job. */
typedef struct part {
    mast_dtype wtype;
    float (*dot)(const void *w, const void *a, int64_t n);
    const unsigned char *W;
    size_t w_row_bytes;
    int64_t rows;
    float *Y;
    const unsigned char *A;      /* the activation rows converted to this part's dot type */
    size_t a_row_bytes;
    size_t first_tile;
    const float *a_scales;       /* Q8_0: the activation blocks' scales as floats */
    const int32_t *a_sumy;       /* ... and on AVX-512, 128 * each activation block's sum */
    /* AVX-512 q4_0, q5_0, q4_1, q5_1 (mast_avx512_dot_b32_rows): a_scales
    ** the activation blocks' d, a_s q8_1's s (inside a_scales' allocation,
    ** NULL for the _0 types), a_sumy the _0 types' offset * block sums */
    bool b32;
    const float *a_s;
    /* AVX-512 row kernels, a tile's rows per call (quant_impl.h): against A,
    ** or against A2, the activations in another form made once per product
    ** (f16/bf16 held as f32, q8_K bytes in paired order for q4_K/q5_K) */
    void (*rows_dot)(const void *w, size_t row_bytes, int64_t rows, const void *a, int64_t n, float *out);
    const unsigned char *A2;
    size_t a2_row_bytes;
    bool k4_batch;               /* Q4_K batches: weight scales unpacked once per tile */
    bool qt;                     /* batches on interleaved tiles (AVX-512 VNNI) */
    const unsigned char *packed; /* ... packed already (mast_matmul_prepack), or NULL */
    const int32_t *qt_aux;       /* ... and the activation rows' sums they need */
} part;

typedef struct job {
    part p[MAX_PARTS];
    int n;
    int64_t cols, batch;
    size_t qt_bytes;             /* the largest interleaved tile of the parts */
} job;

/* Rows are handed out in tiles so that a tile's weights stay in cache while
** every activation row of the batch uses them. */
#define ROW_TILE MAST_QT_ROWS   /* 16 */
#define QT_MIN_BATCH 4          /* below, packing a tile costs more than it saves */
/* ... for the k-quants, whose tiles take longer to pack, below 12 rows
** (Q4_K_M 124M prompts, 2 threads: 8 tokens 1,474 against 827 tokens/s on
** the row kernels, 16 tokens 1,526 against 1,662) */
#define QT_MIN_BATCH_K 12

/* A Q8_0 tile over a batch (AVX2): the weight rows' block scales converted
** once, the activations' once per product (a_scales). dx holds ROW_TILE * nb
** floats. */
static void q8_0_tile(const job *j, const part *p, int64_t r0, int64_t r1, float *dx)
{
    int64_t nb = j->cols / QK8_0;
    for (int64_t r = r0; r < r1; r++) {
        const block_q8_0 *row = (const block_q8_0 *)(p->W + (size_t)r * p->w_row_bytes);
        for (int64_t i = 0; i < nb; i++)
            dx[(r - r0) * nb + i] = mast_f16_to_f32(row[i].d);
    }
    for (int64_t b = 0; b < j->batch; b++) {
        const unsigned char *a = p->A + (size_t)b * p->a_row_bytes;
        const float *dy = p->a_scales + b * nb;
        for (int64_t r = r0; r < r1; r++)
            p->Y[b * p->rows + r] = mast_avx2_dot_q8_0_scaled(p->W + (size_t)r * p->w_row_bytes, a,
                                                              dx + (r - r0) * nb, dy, j->cols);
    }
}

/* A Q4_K tile over a batch: each weight row's scales unpacked once. */
static void q4_K_tile(const job *j, const part *p, int64_t r0, int64_t r1, mast_k4_pre *pre)
{
    int64_t nb = j->cols / 256;
    for (int64_t r = r0; r < r1; r++)
        mast_avx2_q4_K_prepare(p->W + (size_t)r * p->w_row_bytes, j->cols, pre + (r - r0) * nb);
    int64_t b = 0;
    for (; b + 2 <= j->batch; b += 2) {   /* two activation rows per weight row pass */
        const unsigned char *a0 = p->A + (size_t)b * p->a_row_bytes, *a1 = a0 + p->a_row_bytes;
        for (int64_t r = r0; r < r1; r++) {
            float out[2];
            mast_avx2_dot_q4_K_prepared2(p->W + (size_t)r * p->w_row_bytes, a0, a1,
                                         pre + (r - r0) * nb, j->cols, out);
            p->Y[b * p->rows + r] = out[0];
            p->Y[(b + 1) * p->rows + r] = out[1];
        }
    }
    for (; b < j->batch; b++) {
        const unsigned char *a = p->A + (size_t)b * p->a_row_bytes;
        for (int64_t r = r0; r < r1; r++)
            p->Y[b * p->rows + r] = mast_avx2_dot_q4_K_prepared(p->W + (size_t)r * p->w_row_bytes,
                                                                a, pre + (r - r0) * nb, j->cols);
    }
}

static size_t qt_stride(mast_dtype wtype, int64_t cols)
{
    return (mast_qt_tile_bytes(wtype, cols) + 63) / 64 * 64;
}

static void run_tiles(void *ctx, size_t begin, size_t end, int worker)
{
    (void)worker;
    const job *j = ctx;
    int k = 0;
    float *dx = NULL;
    mast_k4_pre *pre = NULL;
    void *qt = NULL;
    for (size_t t = begin; t < end; t++) {
        while (k + 1 < j->n && t >= j->p[k + 1].first_tile)
            k++;
        const part *p = &j->p[k];
        int64_t r0 = (int64_t)(t - p->first_tile) * ROW_TILE;
        int64_t r1 = r0 + ROW_TILE < p->rows ? r0 + ROW_TILE : p->rows;
        if (p->qt && p->packed) {   /* packed once, before */
            mast_qt_run(p->wtype, p->packed + (t - p->first_tile) * qt_stride(p->wtype, j->cols), (int)(r1 - r0),
                        j->cols, p->A, p->a_row_bytes, p->qt_aux, j->batch, p->Y + r0, p->rows);
            continue;
        }
        if (p->qt && (qt || (qt = aligned_alloc(64, (j->qt_bytes + 63) / 64 * 64)))) {
            mast_qt_pack(p->wtype, p->W + (size_t)r0 * p->w_row_bytes, p->w_row_bytes,
                         (int)(r1 - r0), j->cols, qt);
            mast_qt_run(p->wtype, qt, (int)(r1 - r0), j->cols, p->A, p->a_row_bytes,
                        p->qt_aux, j->batch, p->Y + r0, p->rows);
            continue;
        }
        if (p->rows_dot) {
            const unsigned char *a = p->A2 ? p->A2 : p->A;
            size_t a_bytes = p->A2 ? p->a2_row_bytes : p->a_row_bytes;
            for (int64_t b = 0; b < j->batch; b++)
                p->rows_dot(p->W + (size_t)r0 * p->w_row_bytes, p->w_row_bytes, r1 - r0, a + (size_t)b * a_bytes,
                            j->cols, p->Y + b * p->rows + r0);
            continue;
        }
        if (p->b32) {   /* q4_0, q5_0, q4_1, q5_1 */
            int64_t nb = j->cols / QK8_0;
            for (int64_t b = 0; b < j->batch; b++)
                mast_avx512_dot_b32_rows(p->wtype, p->W + (size_t)r0 * p->w_row_bytes, p->w_row_bytes, r1 - r0,
                                         p->A + (size_t)b * p->a_row_bytes, p->a_sumy ? p->a_sumy + b * nb : NULL,
                                         p->a_scales + b * nb, p->a_s ? p->a_s + b * nb : NULL, j->cols,
                                         p->Y + b * p->rows + r0);
            continue;
        }
        if (p->a_sumy) {   /* Q8_0 rows on AVX-512, activation sums and scales precomputed */
            int64_t nb = j->cols / QK8_0;
            for (int64_t b = 0; b < j->batch; b++)
                for (int64_t r = r0; r < r1; r++)
                    p->Y[b * p->rows + r] = mast_avx512_dot_q8_0_aux(
                        p->W + (size_t)r * p->w_row_bytes, p->A + (size_t)b * p->a_row_bytes,
                        p->a_sumy + b * nb, p->a_scales + b * nb, j->cols);
            continue;
        }
        if (p->a_scales && (dx || (dx = malloc((size_t)(ROW_TILE * (j->cols / QK8_0)) * sizeof *dx)))) {
            q8_0_tile(j, p, r0, r1, dx);
            continue;
        }
        if (p->k4_batch && (pre || (pre = malloc((size_t)(ROW_TILE * (j->cols / 256)) * sizeof *pre)))) {
            q4_K_tile(j, p, r0, r1, pre);
            continue;
        }
        for (int64_t b = 0; b < j->batch; b++) {
            const unsigned char *a = p->A + (size_t)b * p->a_row_bytes;
            for (int64_t r = r0; r < r1; r++)
                p->Y[b * p->rows + r] = p->dot(p->W + (size_t)r * p->w_row_bytes, a, j->cols);
        }
    }
    free(dx);
    free(pre);
    free(qt);
}

typedef struct dequant_job {
    mast_dtype wtype;
    const unsigned char *W;
    size_t w_row_bytes;
    int64_t cols;
} dequant_job;

static void dequant_row(const void *ctx, int64_t n, float *out)
{
    const dequant_job *j = ctx;
    mast_dequantize_row(j->wtype, j->W + (size_t)n * j->w_row_bytes, out, j->cols);
}

/* A large batch over non-f32 weights: the activations rounded as the
** quantized dot product would see them (quantized to the weight's dot type
** and back), the weights expanded to f32 as the SGEMM packs them. The same
** products as the quantized path, summed in another order. */
static mast_status matmul_dequant(mast_pool *pool, mast_dtype wtype, const void *W, int64_t rows,
                                  int64_t cols, const float *X, int64_t batch, float *Y)
{
    mast_dtype atype = mast_vec_dot_type(wtype);
    const mast_dtype_info *ai = mast_dtype_get(atype);
    if (atype != MAST_F32 && cols % ai->block_size)
        return mast_fail(MAST_ERR_INVALID, "row length %lld is not a multiple of the %s block size",
                         (long long)cols, ai->name);
    float *A = malloc((size_t)(batch * cols) * sizeof *A);
    void *q = atype != MAST_F32 ? malloc(mast_dtype_row_size(atype, cols)) : NULL;
    mast_status st = A && (q || atype == MAST_F32) ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (int64_t b = 0; st == MAST_OK && b < batch; b++) {
        if (atype == MAST_F32) {
            memcpy(A + b * cols, X + b * cols, (size_t)cols * sizeof *A);
        } else {
            mast_quantize_row(atype, X + b * cols, q, cols);
            mast_dequantize_row(atype, q, A + b * cols, cols);
        }
    }
    dequant_job j = {wtype, W, mast_dtype_row_size(wtype, cols), cols};
    if (st == MAST_OK)
        st = mast_sgemm_rows(pool, batch, A, rows, cols, dequant_row, &j, Y, rows);
    free(A);
    free(q);
    return st;
}

mast_status mast_matmul(mast_pool *pool, mast_dtype wtype, const void *W, int64_t rows,
                        int64_t cols, const float *X, int64_t batch, float *Y)
{
    return mast_matmul_ex(pool, wtype, W, rows, cols, X, batch, Y, MAST_MATMUL_EXACT);
}

/* Whether a batch of this type takes the interleaved tiles (exact, and
** faster than expanding the weights for the SGEMM). */
/* Decoding many sequences (MAST_MATMUL_ROWS) repacks the same weights every
** step: below this many rows, unless they come packed, the row kernels are
** faster (Q4_K 124M, 2 threads: 5.3 against 11.6 ms a step at 4 rows, 17.9
** against 19.1 at 16, 35.7 against 26.6 at 32). */
#define QT_MIN_ROWS_UNPACKED 32

static bool qt_for(mast_dtype wtype, int64_t batch, mast_matmul_mode mode, const void *packed)
{
    bool k = wtype == MAST_Q4_K || wtype == MAST_Q5_K || wtype == MAST_Q6_K;
    int64_t least = packed ? QT_MIN_BATCH
                  : mode == MAST_MATMUL_ROWS ? QT_MIN_ROWS_UNPACKED
                  : k ? QT_MIN_BATCH_K : QT_MIN_BATCH;
    return batch >= least && mast_quant_simd() && mast_qt_supported(wtype);
}

void *mast_matmul_prepack(mast_dtype wtype, const void *W, int64_t rows, int64_t cols, size_t *bytes)
{
    *bytes = 0;
    if (!mast_quant_simd() || !mast_qt_supported(wtype))
        return NULL;
    size_t stride = qt_stride(wtype, cols), row_bytes = mast_dtype_row_size(wtype, cols);
    size_t tiles = (size_t)((rows + ROW_TILE - 1) / ROW_TILE);
    unsigned char *out = aligned_alloc(64, tiles * stride);
    if (!out)
        return NULL;
    for (size_t t = 0; t < tiles; t++) {
        int64_t r0 = (int64_t)t * ROW_TILE, n = rows - r0 < ROW_TILE ? rows - r0 : ROW_TILE;
        mast_qt_pack(wtype, (const unsigned char *)W + (size_t)r0 * row_bytes, row_bytes, (int)n, cols,
                     out + t * stride);
    }
    *bytes = tiles * stride;
    return out;
}

/* Whether a part goes through the SGEMM (see matmul.h). */
static bool on_sgemm(mast_dtype wtype, int64_t batch, mast_matmul_mode mode)
{
    if (!mast_sgemm_fast() || mode == MAST_MATMUL_ROWS)
        return false;
    if (wtype == MAST_F32)
        return batch >= MAST_GEMM_MIN_BATCH;
    if (wtype == MAST_F16 || wtype == MAST_BF16)   /* exact products either way */
        return batch >= MAST_DEQUANT_MIN_BATCH;
    return mode == MAST_MATMUL_FAST && batch >= MAST_FAST_MIN_BATCH && !qt_for(wtype, batch, mode, NULL);
}

/* What every weight row needs of the activation blocks (q8_0, or q8_1 when
** s is wanted), per block: d as a float, q8_1's s as a float, and factor *
** the block's sum of values; NULL for what is not wanted. */
static void act_block_aux(const unsigned char *A, size_t a_row_bytes, int64_t batch, int64_t nb, int factor,
                          float *d, float *s, int32_t *sumy)
{
    size_t bs = s ? sizeof(block_q8_1) : sizeof(block_q8_0), qs = s ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    for (int64_t r = 0; r < batch; r++)
        for (int64_t i = 0; i < nb; i++) {
            const unsigned char *blk = A + (size_t)r * a_row_bytes + (size_t)i * bs;
            mast_f16 h[2];   /* d, and q8_1's s */
            memcpy(h, blk, sizeof h);
            d[r * nb + i] = mast_f16_to_f32(h[0]);
            if (s)
                s[r * nb + i] = mast_f16_to_f32(h[1]);
            if (sumy) {
                int32_t t = 0;
                for (int e = 0; e < QK8_0; e++)
                    t += ((const int8_t *)blk + qs)[e];
                sumy[r * nb + i] = factor * t;
            }
        }
}

mast_status mast_matmul_parts(mast_pool *pool, const mast_matmul_part *parts, int n, int64_t cols,
                              const float *X, int64_t batch, mast_matmul_mode mode)
{
    if (n < 1 || n > MAX_PARTS)
        return mast_fail(MAST_ERR_INVALID, "1 to %d matrices per product (got %d)", MAX_PARTS, n);
    bool gemm = false;
    for (int k = 0; k < n; k++) {
        if (!mast_quant_supported(parts[k].wtype))
            return mast_fail(MAST_ERR_UNSUPPORTED, "no kernels for weight type %d", (int)parts[k].wtype);
        gemm |= on_sgemm(parts[k].wtype, batch, mode);
    }
    if (gemm) {   /* matrix products: one at a time */
        for (int k = 0; k < n; k++) {
            const mast_matmul_part *q = &parts[k];
            mast_status st;
            if (q->wtype == MAST_F32 && on_sgemm(MAST_F32, batch, mode))
                st = mast_sgemm_nt(pool, batch, q->rows, cols, X, q->W, q->Y);
            else if (on_sgemm(q->wtype, batch, mode))
                st = matmul_dequant(pool, q->wtype, q->W, q->rows, cols, X, batch, q->Y);
            else
                st = mast_matmul_parts(pool, q, 1, cols, X, batch, MAST_MATMUL_EXACT);
            if (st != MAST_OK)
                return st;
        }
        return MAST_OK;
    }
    /* dot products: the activations converted once per dot type, one dispatch for all */
    job j = {.n = n, .cols = cols, .batch = batch};
    unsigned char *bufs[MAX_PARTS] = {0};
    mast_dtype btype[MAX_PARTS];
    int n_bufs = 0;
    size_t tiles = 0;
    mast_status st = MAST_OK;
    for (int k = 0; k < n && st == MAST_OK; k++) {
        mast_dtype wtype = parts[k].wtype, atype = mast_vec_dot_type(wtype);
        const mast_dtype_info *wi = mast_dtype_get(wtype), *ai = mast_dtype_get(atype);
        if (cols % wi->block_size || cols % ai->block_size) {
            st = mast_fail(MAST_ERR_INVALID, "row length %lld is not a multiple of the %s block size",
                           (long long)cols, wi->name);
            break;
        }
        part *p = &j.p[k];
        p->wtype = wtype;
        p->dot = mast_vec_dot_fn(wtype);
        p->W = parts[k].W;
        p->w_row_bytes = mast_dtype_row_size(wtype, cols);
        p->rows = parts[k].rows;
        p->Y = parts[k].Y;
        p->packed = parts[k].packed;
        bool qt = qt_for(wtype, batch, mode, p->packed);
        p->a_row_bytes = mast_dtype_row_size(atype, cols);
        p->first_tile = tiles;
        tiles += (size_t)((p->rows + ROW_TILE - 1) / ROW_TILE);
        if (atype == MAST_F32) {
            p->A = (const unsigned char *)X;
            continue;
        }
        int b = 0;
        while (b < n_bufs && btype[b] != atype)
            b++;
        if (b == n_bufs) {
            if (!(bufs[b] = malloc(p->a_row_bytes * (size_t)batch))) {
                st = mast_fail(MAST_ERR_NOMEM, "out of memory converting activations");
                break;
            }
            btype[n_bufs++] = atype;
            for (int64_t r = 0; r < batch; r++)
                mast_quantize_row(atype, X + r * cols, bufs[b] + (size_t)r * p->a_row_bytes, cols);
        }
        p->A = bufs[b];
        if ((wtype == MAST_F16 || wtype == MAST_BF16 || wtype == MAST_Q4_K || wtype == MAST_Q5_K) &&
            !qt && mast_quant_simd() && mast_avx512_available()) {
            bool f16 = wtype == MAST_F16 || wtype == MAST_BF16;   /* 16-bit floats, held as f32 */
            p->a2_row_bytes = f16 ? (size_t)cols * sizeof(float) : p->a_row_bytes;
            unsigned char *a2 = malloc(p->a2_row_bytes * (size_t)batch);
            if (!a2) {
                st = mast_fail(MAST_ERR_NOMEM, "out of memory");
                break;
            }
            for (int64_t r = 0; r < batch; r++) {
                const unsigned char *src = bufs[b] + (size_t)r * p->a_row_bytes;
                if (f16)   /* exact */
                    mast_dequantize_row(wtype, src, (float *)(a2 + (size_t)r * p->a2_row_bytes), cols);
                else
                    mast_avx512_q8_K_paired(src, cols, a2 + (size_t)r * p->a2_row_bytes);
            }
            p->A2 = a2;
            p->rows_dot = wtype == MAST_F16    ? mast_avx512_dot_f16_rows
                          : wtype == MAST_BF16 ? mast_avx512_dot_bf16_rows
                          : wtype == MAST_Q4_K ? mast_avx512_dot_q4_K_paired_rows
                                               : mast_avx512_dot_q5_K_paired_rows;
            continue;
        }
        if ((wtype == MAST_Q6_K || wtype == MAST_Q3_K || wtype == MAST_Q2_K) && !qt &&
            mast_quant_simd() && mast_avx512_available()) {
            p->rows_dot = wtype == MAST_Q6_K   ? mast_avx512_dot_q6_K_rows
                          : wtype == MAST_Q3_K ? mast_avx512_dot_q3_K_rows
                                               : mast_avx512_dot_q2_K_rows;
            continue;
        }
        if (qt) {
            size_t n_aux = mast_qt_aux_ints(wtype, cols), tb = mast_qt_tile_bytes(wtype, cols);
            p->qt = true;
            j.qt_bytes = tb > j.qt_bytes ? tb : j.qt_bytes;
            if (n_aux) {
                int32_t *aux = malloc(n_aux * (size_t)batch * sizeof *aux);
                if (!aux) {
                    st = mast_fail(MAST_ERR_NOMEM, "out of memory");
                    break;
                }
                for (int64_t r = 0; r < batch; r++)
                    mast_qt_act_aux(wtype, bufs[b] + (size_t)r * p->a_row_bytes, cols, aux + (size_t)r * n_aux);
                p->qt_aux = aux;
            }
            continue;
        }
        p->k4_batch = wtype == MAST_Q4_K && batch >= 2 && mast_quant_simd();
        if ((wtype == MAST_Q4_0 || wtype == MAST_Q5_0 || wtype == MAST_Q4_1 || wtype == MAST_Q5_1) &&
            mast_quant_simd() && mast_avx512_available()) {
            /* four rows at a time on AVX-512 VNNI: the activation blocks' d (and
            ** q8_1's s) as floats, and the _0 types' offset * block sums, once */
            int64_t nb = cols / QK8_0, k = batch * nb;
            bool one = wtype == MAST_Q4_1 || wtype == MAST_Q5_1;
            float *f = malloc((size_t)((one ? 2 : 1) * k) * sizeof *f);
            int32_t *sy = one ? NULL : malloc((size_t)k * sizeof *sy);
            if (!f || (!one && !sy)) {   /* no memory: the plain rows */
                free(f);
                free(sy);
                continue;
            }
            act_block_aux(bufs[b], p->a_row_bytes, batch, nb, wtype == MAST_Q4_0 ? 8 : 16, f, one ? f + k : NULL, sy);
            p->b32 = true;
            p->a_scales = f;
            p->a_s = one ? f + k : NULL;
            p->a_sumy = sy;
            continue;
        }
        if (wtype == MAST_Q8_0 && mast_quant_simd() && (batch >= 2 || mast_avx512_available())) {
            /* the activation scales as floats, shared by every weight row */
            int64_t nb = cols / QK8_0;
            float *sc = malloc((size_t)(batch * nb) * sizeof *sc);
            if (!sc) {
                st = mast_fail(MAST_ERR_NOMEM, "out of memory");
                break;
            }
            int32_t *sy = mast_avx512_available() ? malloc((size_t)(batch * nb) * sizeof *sy) : NULL;
            act_block_aux(bufs[b], p->a_row_bytes, batch, nb, 128, sc, NULL, sy);
            p->a_scales = sc;
            p->a_sumy = sy;   /* NULL (no VNNI, or no memory): the AVX2 kernel */
        }
    }
    if (st == MAST_OK) {
        if (pool)
            mast_pool_for(pool, tiles, run_tiles, &j);
        else
            run_tiles(&j, 0, tiles, 0);
    }
    for (int b = 0; b < n_bufs; b++)
        free(bufs[b]);
    for (int k = 0; k < n; k++) {
        free((void *)j.p[k].a_scales);
        free((void *)j.p[k].a_sumy);
        free((void *)j.p[k].qt_aux);
        free((void *)j.p[k].A2);
    }
    return st;
}

mast_status mast_matmul_ex(mast_pool *pool, mast_dtype wtype, const void *W, int64_t rows,
                           int64_t cols, const float *X, int64_t batch, float *Y,
                           mast_matmul_mode mode)
{
    return mast_matmul_packed(pool, wtype, W, NULL, rows, cols, X, batch, Y, mode);
}

mast_status mast_matmul_packed(mast_pool *pool, mast_dtype wtype, const void *W, const void *packed,
                               int64_t rows, int64_t cols, const float *X, int64_t batch, float *Y,
                               mast_matmul_mode mode)
{
    mast_matmul_part part = {wtype, W, rows, Y, packed};
    return mast_matmul_parts(pool, &part, 1, cols, X, batch, mode);
}

mast_status mast_matvec(mast_pool *pool, mast_dtype wtype, const void *W, int64_t rows,
                        int64_t cols, const float *x, float *y)
{
    return mast_matmul(pool, wtype, W, rows, cols, x, 1, y);
}
