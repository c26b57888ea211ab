/* tests/model/test_matmul.c — threaded products equal row-by-row dots. */
#include "model/matmul.h"
#include "test.h"

static uint64_t rng = 99;

static float frand(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng >> 40) * (1.0 / 16777216.0)) * 2 - 1;
}

static void check_type(mast_dtype t, int64_t rows, int64_t cols, int64_t batch)
{
    float *wf = malloc((size_t)(rows * cols) * 4), *X = malloc((size_t)(batch * cols) * 4);
    for (int64_t i = 0; i < rows * cols; i++)
        wf[i] = frand();
    for (int64_t i = 0; i < batch * cols; i++)
        X[i] = frand();
    size_t wrow = mast_dtype_row_size(t, cols);
    unsigned char *W = malloc(wrow * (size_t)rows);
    for (int64_t r = 0; r < rows; r++)
        mast_quantize_row(t, wf + r * cols, W + r * wrow, cols);
    float *Y1 = malloc((size_t)(batch * rows) * 4), *Y4 = malloc((size_t)(batch * rows) * 4);
    mast_pool *pool;
    REQUIRE(mast_pool_create(&pool, 4) == MAST_OK);
    REQUIRE(mast_matmul(NULL, t, W, rows, cols, X, batch, Y1) == MAST_OK);
    REQUIRE(mast_matmul(pool, t, W, rows, cols, X, batch, Y4) == MAST_OK);
    CHECK(memcmp(Y1, Y4, (size_t)(batch * rows) * 4) == 0);   /* thread count does not matter */
    /* each output is the dot of a weight row with the converted activation row */
    mast_dtype at = mast_vec_dot_type(t);
    size_t arow = mast_dtype_row_size(at, cols);
    unsigned char *a = malloc(arow);
    int bad = 0;
    for (int64_t b = 0; b < batch; b++) {
        mast_quantize_row(at, X + b * cols, a, cols);
        for (int64_t r = 0; r < rows; r++) {
            float want = mast_vec_dot(t, W + r * wrow, a, cols);
            bad += memcmp(&want, &Y1[b * rows + r], 4) != 0;
        }
        float y[64];
        if (rows <= 64) {   /* matvec is the batch-of-one case */
            REQUIRE(mast_matvec(pool, t, W, rows, cols, X + b * cols, y) == MAST_OK);
            CHECK(memcmp(y, Y1 + b * rows, (size_t)rows * 4) == 0);
        }
    }
    CHECK_EQ_INT(bad, 0);
    mast_pool_free(pool);
    free(a);
    free(wf);
    free(X);
    free(W);
    free(Y1);
    free(Y4);
}

static void test_products_for_every_weight_type(void)
{
    static const mast_dtype types[] = {MAST_F32, MAST_F16, MAST_BF16, MAST_Q8_0, MAST_Q4_0,
                                       MAST_Q4_1, MAST_Q5_0, MAST_Q5_1, MAST_Q2_K, MAST_Q3_K,
                                       MAST_Q4_K, MAST_Q5_K, MAST_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        check_type(types[i], 37, 512, 3);   /* rows not a multiple of the tile */
}

/* Batches take the tiled kernels (interleaved on AVX-512 VNNI): groups of
** four activation rows and a remainder, a partial last tile, block counts
** that are not a multiple of the reference's four lanes. */
static void test_batches_equal_dot_products(void)
{
    static const mast_dtype types[] = {MAST_Q8_0, MAST_Q4_0, MAST_Q5_0, MAST_Q4_K, MAST_Q5_K, MAST_Q6_K,
                                       MAST_Q4_1, MAST_Q2_K, MAST_Q3_K};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        check_type(types[i], 37, 768, 9);
        check_type(types[i], 16, 256, 4);
        if (mast_dtype_get(types[i])->block_size == 32) {
            check_type(types[i], 21, 224, 6);
            check_type(types[i], 21, 224, 2);   /* the row kernels, 7 blocks */
        }
    }
    /* single tokens: q4_K, q5_K and q6_K rows four at a time (AVX-512), a
    ** tile's remainder rows each as four copies; several super-blocks a row */
    check_type(MAST_Q4_K, 23, 1024, 1);
    check_type(MAST_Q5_K, 23, 1024, 1);
    check_type(MAST_Q6_K, 23, 1024, 1);
    for (int64_t cols = 229; cols <= 237; cols += 8)   /* f16 rows: 32s, an 8, a tail */
        check_type(MAST_F16, 21, cols, 2);
}

static void test_bad_row_length_is_refused(void)
{
    float x[8] = {0}, y[1];
    unsigned char w[64] = {0};
    CHECK_EQ_INT(mast_matvec(NULL, MAST_Q4_K, w, 1, 96, x, y), MAST_ERR_INVALID);
    CHECK(strstr(mast_errmsg(), "96 is not a multiple of the q4_K block size") != NULL);
}

/* Several matrices in one pass (a layer's q, k, v of mixed types) give the
** bits of separate products, single tokens and batches alike. */
static void test_parts_equal_separate_products(void)
{
    enum { COLS = 512 };
    static const mast_dtype types[3] = {MAST_Q4_K, MAST_Q6_K, MAST_Q8_0};
    static const int64_t rows[3] = {40, 24, 33};
    mast_pool *pool;
    REQUIRE(mast_pool_create(&pool, 2) == MAST_OK);
    float *X = malloc(8 * COLS * sizeof *X);
    uint32_t seed = 11;
    for (int i = 0; i < 8 * COLS; i++)
        X[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    unsigned char *W[3];
    float *sep[3], *fused[3];
    for (int k = 0; k < 3; k++) {
        size_t rb = mast_dtype_row_size(types[k], COLS);
        W[k] = malloc(rb * (size_t)rows[k]);
        float *row = malloc(COLS * sizeof *row);
        for (int64_t r = 0; r < rows[k]; r++) {
            for (int i = 0; i < COLS; i++)
                row[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
            mast_quantize_row(types[k], row, W[k] + (size_t)r * rb, COLS);
        }
        free(row);
        sep[k] = malloc(8 * (size_t)rows[k] * sizeof(float));
        fused[k] = malloc(8 * (size_t)rows[k] * sizeof(float));
    }
    for (int batch = 1; batch <= 8; batch += 7) {
        mast_matmul_part parts[3];
        for (int k = 0; k < 3; k++) {
            REQUIRE(mast_matmul(pool, types[k], W[k], rows[k], COLS, X, batch, sep[k]) == MAST_OK);
            parts[k] = (mast_matmul_part){types[k], W[k], rows[k], fused[k], NULL};
        }
        REQUIRE(mast_matmul_parts(pool, parts, 3, COLS, X, batch, false) == MAST_OK);
        for (int k = 0; k < 3; k++)
            CHECK(memcmp(sep[k], fused[k], (size_t)(batch * rows[k]) * sizeof(float)) == 0);
    }
    mast_matmul_part too_many[5];
    CHECK_EQ_INT(mast_matmul_parts(pool, too_many, 5, COLS, X, 1, false), MAST_ERR_INVALID);
    for (int k = 0; k < 3; k++) {
        free(W[k]);
        free(sep[k]);
        free(fused[k]);
    }
    free(X);
    mast_pool_free(pool);
}

int main(void)
{
    RUN(test_products_for_every_weight_type);
    RUN(test_batches_equal_dot_products);
    RUN(test_parts_equal_separate_products);
    RUN(test_bad_row_length_is_refused);
    return test_summary();
}
