/*
** model/matmul.c — threaded matrix products (see matmul.h).
*/
#include "model/matmul.h"

#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "model/gemm.h"

typedef struct job {
    mast_dtype wtype;
    const unsigned char *W;
    size_t w_row_bytes;
    int64_t cols;
    const unsigned char *A;      /* converted activation rows */
    size_t a_row_bytes;
    int64_t batch, rows;
    float *Y;
} job;

/* Rows are handed out in tiles so that a tile's weights stay in cache while
** every activation row of the batch uses them. */
#define ROW_TILE 16

static void run_tiles(void *ctx, size_t begin, size_t end, int worker)
{
    (void)worker;
    const job *j = ctx;
    for (size_t t = begin; t < end; t++) {
        int64_t r0 = (int64_t)t * ROW_TILE, r1 = r0 + ROW_TILE < j->rows ? r0 + ROW_TILE : j->rows;
        for (int64_t b = 0; b < j->batch; b++) {
            const unsigned char *a = j->A + (size_t)b * j->a_row_bytes;
            for (int64_t r = r0; r < r1; r++)
                j->Y[b * j->rows + r] =
                    mast_vec_dot(j->wtype, j->W + (size_t)r * j->w_row_bytes, a, j->cols);
        }
    }
}

typedef struct dequant_job {
    mast_dtype wtype;
    const unsigned char *W;
    size_t w_row_bytes;
    int64_t cols, r0;
    float *out;
} dequant_job;

static void dequant_rows(void *ctx, size_t begin, size_t end, int worker)
{
    (void)worker;
    const dequant_job *j = ctx;
    for (size_t r = begin; r < end; r++)
        mast_dequantize_row(j->wtype, j->W + (size_t)(j->r0 + (int64_t)r) * j->w_row_bytes,
                            j->out + r * (size_t)j->cols, j->cols);
}

#define DEQUANT_CHUNK 512   /* weight rows expanded to f32 at a time */

/* A large batch over non-f32 weights: the activations rounded as the
** quantized dot product would see them (quantized to the weight's dot type
** and back), the weights expanded to f32 a chunk of rows at a time, and
** the product on the SGEMM. The same products as the quantized path, summed
** in another order. */
static mast_status matmul_dequant(mast_pool *pool, mast_dtype wtype, const void *W, int64_t rows,
                                  int64_t cols, const float *X, int64_t batch, float *Y)
{
    mast_dtype atype = mast_vec_dot_type(wtype);
    const mast_dtype_info *ai = mast_dtype_get(atype);
    if (atype != MAST_F32 && cols % ai->block_size)
        return mast_fail(MAST_ERR_INVALID, "row length %lld is not a multiple of the %s block size",
                         (long long)cols, ai->name);
    int64_t chunk = rows < DEQUANT_CHUNK ? rows : DEQUANT_CHUNK;
    float *A = malloc((size_t)(batch * cols) * sizeof *A), *B = malloc((size_t)(chunk * cols) * sizeof *B);
    void *q = atype != MAST_F32 ? malloc(mast_dtype_row_size(atype, cols)) : NULL;
    mast_status st = A && B && (q || atype == MAST_F32) ? MAST_OK
                                                       : mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (int64_t b = 0; st == MAST_OK && b < batch; b++) {
        if (atype == MAST_F32) {
            memcpy(A + b * cols, X + b * cols, (size_t)cols * sizeof *A);
        } else {
            mast_quantize_row(atype, X + b * cols, q, cols);
            mast_dequantize_row(atype, q, A + b * cols, cols);
        }
    }
    dequant_job j = {wtype, W, mast_dtype_row_size(wtype, cols), cols, 0, B};
    for (int64_t r0 = 0; st == MAST_OK && r0 < rows; r0 += chunk) {
        int64_t n = rows - r0 < chunk ? rows - r0 : chunk;
        j.r0 = r0;
        if (pool)
            mast_pool_for(pool, (size_t)n, dequant_rows, &j);
        else
            dequant_rows(&j, 0, (size_t)n, 0);
        st = mast_sgemm(pool, batch, n, cols, A, cols, B, cols, false, Y + r0, rows);
    }
    free(A);
    free(B);
    free(q);
    return st;
}

mast_status mast_matmul(mast_pool *pool, mast_dtype wtype, const void *W, int64_t rows,
                        int64_t cols, const float *X, int64_t batch, float *Y)
{
    return mast_matmul_ex(pool, wtype, W, rows, cols, X, batch, Y, false);
}

mast_status mast_matmul_ex(mast_pool *pool, mast_dtype wtype, const void *W, int64_t rows,
                           int64_t cols, const float *X, int64_t batch, float *Y, bool fast)
{
    if (!mast_quant_supported(wtype))
        return mast_fail(MAST_ERR_UNSUPPORTED, "no kernels for weight type %d", (int)wtype);
    /* a batch of f32 rows is a real matrix product: the blocked SGEMM */
    if (wtype == MAST_F32 && batch >= MAST_GEMM_MIN_BATCH && mast_sgemm_fast())
        return mast_sgemm_nt(pool, batch, rows, cols, X, W, Y);
    /* f16 / bf16 products are exact in f32 either way; quantized ones only when asked */
    bool exact_products = wtype == MAST_F16 || wtype == MAST_BF16;
    if (wtype != MAST_F32 && mast_sgemm_fast() &&
        ((exact_products && batch >= MAST_DEQUANT_MIN_BATCH) || (fast && batch >= MAST_FAST_MIN_BATCH)))
        return matmul_dequant(pool, wtype, W, rows, cols, X, batch, Y);
    mast_dtype atype = mast_vec_dot_type(wtype);
    const mast_dtype_info *wi = mast_dtype_get(wtype), *ai = mast_dtype_get(atype);
    if (cols % wi->block_size || cols % ai->block_size)
        return mast_fail(MAST_ERR_INVALID, "row length %lld is not a multiple of the %s block size",
                         (long long)cols, wi->name);
    size_t a_row = mast_dtype_row_size(atype, cols);
    unsigned char *A = NULL;
    if (atype != MAST_F32) {
        A = malloc(a_row * (size_t)batch);
        if (!A)
            return mast_fail(MAST_ERR_NOMEM, "out of memory converting activations");
        for (int64_t b = 0; b < batch; b++)
            mast_quantize_row(atype, X + b * cols, A + (size_t)b * a_row, cols);
    }
    job j = {wtype, W, mast_dtype_row_size(wtype, cols), cols,
             A ? A : (const unsigned char *)X, a_row, batch, rows, Y};
    size_t tiles = (size_t)((rows + ROW_TILE - 1) / ROW_TILE);
    if (pool)
        mast_pool_for(pool, tiles, run_tiles, &j);
    else
        run_tiles(&j, 0, tiles, 0);
    free(A);
    return MAST_OK;
}

mast_status mast_matvec(mast_pool *pool, mast_dtype wtype, const void *W, int64_t rows,
                        int64_t cols, const float *x, float *y)
{
    return mast_matmul(pool, wtype, W, rows, cols, x, 1, y);
}
