/*
** model/matmul.h — matrix x vector and matrix x matrix over quantized
** weights, split by weight rows across a thread pool.
**
** W is `rows` rows of `cols` elements of type wtype, row-major (a GGUF
** tensor with ne0 = cols, ne1 = rows). Activations are float rows of `cols`;
** they are converted once to the weight's activation type
** (mast_vec_dot_type) and every output is mast_vec_dot of a weight row with
** an activation row — the same bits whichever kernel computes it (row dots,
** or for batches of 4+ rows the interleaved int8 tiles on AVX-512 VNNI,
** quant_impl.h). Exceptions: F32 weights with a batch of at least
** MAST_GEMM_MIN_BATCH rows go through the blocked SGEMM (gemm.h), whose
** summation order differs from the dot product's; F16 and BF16 weights with
** a batch of at least MAST_DEQUANT_MIN_BATCH rows are expanded to f32 as the
** SGEMM packs them and multiplied with the activations rounded to the
** weight's type, so the products are the same and only their summation
** order differs. mast_matmul_ex with `fast` does the same for the quantized
** types from MAST_FAST_MIN_BATCH rows (activations quantized to the dot type
** and back; Q8_0, 2 threads, before the tiles: 574 vs 785 rows/s at 64 rows,
** 846 vs 770 at 128, 1,279 vs 752 at 256): the same products again, but a
** different sum can move a later activation across a quantization step, so
** logits are no longer llama.cpp's to the last bits (measured in
** docs/benchmarks.md). Where the tiles take the type, `fast` is ignored:
** they are exact and faster.
** Results never depend on the number of threads.
** Safe to call from one thread per pool at a time.
*/
#ifndef MAST_MODEL_MATMUL_H
#define MAST_MODEL_MATMUL_H

#include <stdbool.h>

#include "base/pool.h"
#include "model/quant.h"

#define MAST_GEMM_MIN_BATCH 4
#define MAST_DEQUANT_MIN_BATCH 32
#define MAST_FAST_MIN_BATCH 128   /* below it expanding the weights costs more (measured) */

/* How a product may run. EXACT: as described above (the SGEMM for F32
** weights from MAST_GEMM_MIN_BATCH rows, F16/BF16 from
** MAST_DEQUANT_MIN_BATCH); FAST: `fast` above; ROWS: every type on the dot
** products and tiles, so each row's result is the bits it has in a batch of
** one (decoding many sequences together, llama.h). */
typedef enum mast_matmul_mode { MAST_MATMUL_EXACT, MAST_MATMUL_FAST, MAST_MATMUL_ROWS } mast_matmul_mode;

/* y[r] = W[r] . x   (y has `rows` floats). pool may be NULL (one thread). */
mast_status mast_matvec(mast_pool *pool, mast_dtype wtype, const void *W, int64_t rows,
                        int64_t cols, const float *x, float *y);

/* Y[b * rows + r] = W[r] . X[b * cols ...]  for b < batch. Each weight row is
** read once for the whole batch. */
mast_status mast_matmul(mast_pool *pool, mast_dtype wtype, const void *W, int64_t rows,
                        int64_t cols, const float *X, int64_t batch, float *Y);
mast_status mast_matmul_ex(mast_pool *pool, mast_dtype wtype, const void *W, int64_t rows,
                           int64_t cols, const float *X, int64_t batch, float *Y,
                           mast_matmul_mode mode);
/* mast_matmul_ex with W's prepacked tiles (NULL: none). */
mast_status mast_matmul_packed(mast_pool *pool, mast_dtype wtype, const void *W, const void *packed,
                               int64_t rows, int64_t cols, const float *X, int64_t batch, float *Y,
                               mast_matmul_mode mode);

/* Several matrices over the same activations (a layer's q, k and v; gate
** and up): the activations converted once per dot type and all rows in one
** parallel pass. parts[k].Y receives batch x parts[k].rows. At most 4 parts. */
typedef struct mast_matmul_part {
    mast_dtype wtype;
    const void *W;
    int64_t rows;
    float *Y;
    const void *packed;   /* W's tiles from mast_matmul_prepack, or NULL */
} mast_matmul_part;

/* W's interleaved tiles (AVX-512 VNNI, the types quant_impl.h names),
** packed once for products that repeat over the same weights: batches then
** skip packing each tile every time (the same bits). NULL when this CPU or
** type has no tiles, or without memory; free() it. *bytes: its size. */
void *mast_matmul_prepack(mast_dtype wtype, const void *W, int64_t rows, int64_t cols, size_t *bytes);

mast_status mast_matmul_parts(mast_pool *pool, const mast_matmul_part *parts, int n, int64_t cols,
                              const float *X, int64_t batch, mast_matmul_mode mode);

#endif
