/* tests/model/test_gemm.c — the blocked SGEMM, with every kernel this CPU
** has, against a double-precision reference on awkward shapes; independent
** of the thread count and of the number of rows in the batch. */
#include "model/gemm.h"
#include "model/matmul.h"
#include "model/vecmath.h"
#include "test.h"

static uint64_t rng = 5;

static float frand(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng >> 40) * (1.0 / 16777216.0)) * 2 - 1;
}

static float *random_floats(int64_t n)
{
    float *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; v && i < n; i++)
        v[i] = frand();
    return v;
}

static void check_shape(int64_t M, int64_t N, int64_t K)
{
    float *A = random_floats(M * K), *B = random_floats(N * K);
    float *C1 = malloc((size_t)(M * N) * 4), *C3 = malloc((size_t)(M * N) * 4);
    mast_pool *pool;
    REQUIRE(mast_pool_create(&pool, 3) == MAST_OK);
    REQUIRE(mast_sgemm_nt(NULL, M, N, K, A, B, C1) == MAST_OK);
    REQUIRE(mast_sgemm_nt(pool, M, N, K, A, B, C3) == MAST_OK);
    CHECK(memcmp(C1, C3, (size_t)(M * N) * 4) == 0);
    double worst = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = 0, abs_s = 0;
            for (int64_t k = 0; k < K; k++) {
                s += (double)A[m * K + k] * B[n * K + k];
                abs_s += fabs((double)A[m * K + k] * B[n * K + k]);
            }
            double err = fabs(C1[m * N + n] - s) / (abs_s + 1e-30);
            if (err > worst)
                worst = err;
        }
    if (worst > 1e-6)
        fprintf(stderr, "  %lldx%lldx%lld: relative error %.3g\n", (long long)M, (long long)N,
                (long long)K, worst);
    CHECK(worst <= 1e-6);   /* float accumulation over K <= 600 */
    mast_pool_free(pool);
    free(A);
    free(B);
    free(C1);
    free(C3);
}

static const char *const isas[] = {"scalar", "avx2", "avx512"};

static void test_awkward_shapes_match_double_reference(void)
{
    int ran = 0;
    for (size_t i = 0; i < sizeof isas / sizeof *isas; i++) {
        if (mast_sgemm_use(isas[i]) != MAST_OK) {
            fprintf(stderr, "  (no %s kernel on this CPU)\n", isas[i]);
            continue;
        }
        CHECK_EQ_STR(mast_sgemm_isa(), isas[i]);
        ran++;
        check_shape(1, 1, 1);
        check_shape(7, 17, 5);       /* tails in every dimension */
        check_shape(37, 53, 300);    /* K crosses a panel boundary (256) */
        check_shape(64, 96, 512);
        check_shape(5, 200, 600);
        check_shape(500, 70, 40);    /* several row blocks, a ragged last one */
    }
    CHECK(ran >= 1);
    CHECK_EQ_INT(mast_sgemm_use("sse9"), MAST_ERR_UNSUPPORTED);
    REQUIRE(mast_sgemm_use(NULL) == MAST_OK);
}

/* Packed weights with a bias: every row of a batch equals the same row
** computed alone (so embeddings do not depend on what they are batched
** with), and equals the unpacked product plus the bias. */
static void test_packed_bias_rows_independent_of_batch(void)
{
    int64_t M = 203, N = 45, K = 300;
    float *A = malloc((size_t)(M * K) * 4), *B = malloc((size_t)(N * K) * 4);
    float *bias = malloc((size_t)N * 4), *C = malloc((size_t)(M * N) * 4);
    float *row = malloc((size_t)N * 4), *U = malloc((size_t)(M * N) * 4);
    for (int64_t i = 0; i < M * K; i++)
        A[i] = frand();
    for (int64_t i = 0; i < N * K; i++)
        B[i] = frand();
    for (int64_t i = 0; i < N; i++)
        bias[i] = frand();
    mast_pool *pool;
    REQUIRE(mast_pool_create(&pool, 2) == MAST_OK);
    mast_sgemm_b *P;
    REQUIRE(mast_sgemm_pack_b(B, bias, N, K, &P) == MAST_OK);
    CHECK_EQ_INT((int)mast_sgemm_b_rows(P), (int)N);
    CHECK_EQ_INT((int)mast_sgemm_b_cols(P), (int)K);
    REQUIRE(mast_sgemm_packed(pool, M, A, P, C, 0) == MAST_OK);
    REQUIRE(mast_sgemm_nt(NULL, M, N, K, A, B, U) == MAST_OK);
    int same_alone = 1, bias_added = 1;
    for (int64_t m = 0; m < M; m++) {
        REQUIRE(mast_sgemm_packed(NULL, 1, A + m * K, P, row, 0) == MAST_OK);
        same_alone &= memcmp(row, C + m * N, (size_t)N * 4) == 0;
        for (int64_t n = 0; n < N; n++)
            bias_added &= C[m * N + n] == U[m * N + n] + bias[n];
    }
    CHECK(same_alone);
    CHECK(bias_added);
    /* the GELU epilogue equals GELU applied afterwards, tiles and edges alike */
    REQUIRE(mast_sgemm_packed(pool, M, A, P, U, MAST_SGEMM_GELU) == MAST_OK);
    mast_vec_gelu(C, (size_t)(M * N));
    CHECK(memcmp(U, C, (size_t)(M * N) * 4) == 0);
    CHECK_EQ_INT(mast_sgemm_packed(NULL, 0, A, P, C, 0), MAST_ERR_INVALID);
    CHECK_EQ_INT(mast_sgemm_pack_b(B, NULL, 0, K, &(mast_sgemm_b *){NULL}), MAST_ERR_INVALID);
    mast_sgemm_b_free(P);
    mast_pool_free(pool);
    free(A); free(B); free(bias); free(C); free(row); free(U);
}

/* Submatrices (the heads of an attention layer): strided A, B and C, B in
** both orientations, and accumulation into C with a bias. */
static void test_strided_views_and_accumulate(void)
{
    int64_t T = 50, H = 96, hd = 32, h0 = 32;   /* head 1 of 3 */
    float *q = malloc((size_t)(T * H) * 4), *k = malloc((size_t)(T * H) * 4);
    float *S = malloc((size_t)(T * T) * 4), *O = malloc((size_t)(T * H) * 4);
    for (int64_t i = 0; i < T * H; i++) {
        q[i] = frand();
        k[i] = frand();
        O[i] = 7.0f;
    }
    /* S = Q_h K_h^T */
    REQUIRE(mast_sgemm(NULL, T, T, hd, q + h0, H, k + h0, H, false, S, T) == MAST_OK);
    double worst = 0;
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < T; j++) {
            double s = 0;
            for (int64_t d = 0; d < hd; d++)
                s += (double)q[i * H + h0 + d] * k[j * H + h0 + d];
            worst = fmax(worst, fabs(S[i * T + j] - s));
        }
    CHECK(worst < 1e-5);
    /* O_h = S K_h, K_h read as T x hd (K x N); the other heads' columns untouched */
    mast_pool *pool;
    REQUIRE(mast_pool_create(&pool, 2) == MAST_OK);
    REQUIRE(mast_sgemm(pool, T, hd, T, S, T, k + h0, H, true, O + h0, H) == MAST_OK);
    worst = 0;
    int untouched = 1;
    for (int64_t i = 0; i < T; i++)
        for (int64_t c = 0; c < H; c++) {
            if (c < h0 || c >= h0 + hd) {
                untouched &= O[i * H + c] == 7.0f;
                continue;
            }
            double s = 0;
            for (int64_t j = 0; j < T; j++)
                s += (double)S[i * T + j] * k[j * H + c];
            worst = fmax(worst, fabs(O[i * H + c] - s) / (fabs(s) + 1));
        }
    CHECK(worst < 1e-5);
    CHECK(untouched);
    /* accumulate: C += A B^T + bias */
    float bias[3] = {1, 2, 3}, W[3 * 4] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1};
    float X[2 * 4] = {1, 2, 3, 4, 5, 6, 7, 8}, Y[2 * 3] = {10, 20, 30, 40, 50, 60};
    mast_sgemm_b *P;
    REQUIRE(mast_sgemm_pack_b(W, bias, 3, 4, &P) == MAST_OK);
    REQUIRE(mast_sgemm_packed(NULL, 2, X, P, Y, MAST_SGEMM_ACCUMULATE) == MAST_OK);
    float want[6] = {10 + 1 + 1, 20 + 2 + 2, 30 + 7 + 3, 40 + 5 + 1, 50 + 6 + 2, 60 + 15 + 3};
    CHECK(memcmp(Y, want, sizeof want) == 0);
    mast_sgemm_b_free(P);
    mast_pool_free(pool);
    free(q); free(k); free(S); free(O);
}

static void test_matmul_uses_gemm_for_f32_batches(void)
{
    int64_t rows = 70, cols = 260, batch = 9;
    float *W = malloc((size_t)(rows * cols) * 4), *X = malloc((size_t)(batch * cols) * 4);
    float *Y = malloc((size_t)(batch * rows) * 4), *G = malloc((size_t)(batch * rows) * 4);
    for (int64_t i = 0; i < rows * cols; i++)
        W[i] = frand();
    for (int64_t i = 0; i < batch * cols; i++)
        X[i] = frand();
    REQUIRE(mast_matmul(NULL, MAST_F32, W, rows, cols, X, batch, Y) == MAST_OK);
    REQUIRE(mast_sgemm_nt(NULL, batch, rows, cols, X, W, G) == MAST_OK);
    CHECK(memcmp(Y, G, (size_t)(batch * rows) * 4) == 0);
    CHECK_EQ_INT(mast_sgemm_nt(NULL, 0, 1, 1, X, W, Y), MAST_ERR_INVALID);
    free(W);
    free(X);
    free(Y);
    free(G);
}

/* B made row by row (weights expanded as they are packed): the bits of
** the product over B itself, across chunks (K = 4096: 512 rows per chunk)
** and a last panel past N, on one thread and three; ldc wider than N. */
static void row_of(const void *ctx, int64_t n, float *out)
{
    const float *B = ctx;
    memcpy(out, B + n * 4096, 4096 * sizeof *out);
}

static void test_rows_made_on_the_fly(void)
{
    const int64_t M = 7, N = 600, K = 4096, LDC = 611;
    float *A = random_floats(M * K), *B = random_floats(N * K);
    float *want = malloc((size_t)(M * N) * 4), *got = malloc((size_t)(M * LDC) * 4);
    mast_pool *pool;
    REQUIRE(mast_pool_create(&pool, 3) == MAST_OK);
    REQUIRE(mast_sgemm_nt(NULL, M, N, K, A, B, want) == MAST_OK);
    for (int t = 0; t < 2; t++) {
        REQUIRE(mast_sgemm_rows(t ? pool : NULL, M, A, N, K, row_of, B, got, LDC) == MAST_OK);
        int bad = 0;
        for (int64_t m = 0; m < M; m++)
            bad += memcmp(want + m * N, got + m * LDC, (size_t)N * 4) != 0;
        CHECK_EQ_INT(bad, 0);
    }
    CHECK_EQ_INT(mast_sgemm_rows(NULL, 0, A, N, K, row_of, B, got, LDC), MAST_ERR_INVALID);
    mast_pool_free(pool);
    free(A);
    free(B);
    free(want);
    free(got);
}

int main(void)
{
    RUN(test_rows_made_on_the_fly);
    RUN(test_awkward_shapes_match_double_reference);
    RUN(test_packed_bias_rows_independent_of_batch);
    RUN(test_strided_views_and_accumulate);
    RUN(test_matmul_uses_gemm_for_f32_batches);
    return test_summary();
}
