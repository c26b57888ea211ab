/*
** model/gemm.c — the SGEMM driver (see gemm.h): packing, blocking, threads,
** and the plain C kernel; the SIMD micro-kernels are in gemm_avx2.c and
** gemm_avx512.c.
*/
#include "model/gemm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "model/gemm_impl.h"
#include "model/vecmath.h"

#define KC 256        /* depth of a K panel: a 12 x 32 kernel's B panel is 32 KiB */
#define MC_MAX 192    /* rows of A packed at once: 192 KiB, in L2 */
#define MR_MAX 12
#define NR_MAX 32

/* ---- the plain C kernel, the same contract as the SIMD ones ---- */

#define S_MR 4
#define S_NR 8

static void kernel_scalar(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc,
                          int first, const float *bias)
{
    float c[S_MR][S_NR];
    for (int i = 0; i < S_MR; i++)
        for (int j = 0; j < S_NR; j++)
            c[i][j] = first ? 0.0f : C[i * ldc + j];
    for (int64_t k = 0; k < kc; k++)
        for (int i = 0; i < S_MR; i++)
            for (int j = 0; j < S_NR; j++)
                c[i][j] += Ap[k * S_MR + i] * Bp[k * S_NR + j];
    for (int i = 0; i < S_MR; i++)
        for (int j = 0; j < S_NR; j++)
            C[i * ldc + j] = bias ? c[i][j] + bias[j] : c[i][j];
}

static const mast_gemm_kernel scalar = {"scalar", S_MR, S_NR, kernel_scalar};
static const mast_gemm_kernel *active;

static const mast_gemm_kernel *best(void)
{
    const mast_gemm_kernel *k = mast_gemm_avx512();
    if (!k)
        k = mast_gemm_avx2();
    return k ? k : &scalar;
}

static const mast_gemm_kernel *kernel(void)
{
    if (!active)
        active = best();
    return active;
}

bool mast_sgemm_fast(void) { return kernel() != &scalar; }
const char *mast_sgemm_isa(void) { return kernel()->name; }

mast_status mast_sgemm_use(const char *isa)
{
    const mast_gemm_kernel *k = !isa                    ? best()
                                : !strcmp(isa, "avx512") ? mast_gemm_avx512()
                                : !strcmp(isa, "avx2")   ? mast_gemm_avx2()
                                : !strcmp(isa, "scalar") ? &scalar
                                                         : NULL;
    if (!k)
        return mast_fail(MAST_ERR_UNSUPPORTED, "sgemm: no '%s' kernel on this CPU", isa);
    active = k;
    return MAST_OK;
}

/* ---- packing ---- */

struct mast_sgemm_b {
    const mast_gemm_kernel *k;
    int64_t N, K, panels;
    float *data;     /* panel p, depth k: data[(p * K + k) * nr + j] = B[p * nr + j][k], 0 past N */
    float *bias;     /* panels * nr floats, 0 past N; NULL for none */
    /* mast_sgemm: data is NULL and panels are packed from src as needed,
    ** row n of B at src + n * ld (kn: B is K x N, row k at src + k * ld) */
    const float *src;
    int64_t ld;
    bool kn;
};

/* Rows [n0, n0 + nr) of B (row n at B + n * ld), depth [k0, k0 + kc), as
** one micro-panel: dst[k * nr + j] = B[n0 + j][k0 + k], 0 past N. */
static void pack_panel(const float *B, int64_t ld, int64_t N, int64_t n0, int64_t k0, int64_t kc,
                       int nr, float *dst)
{
    for (int j = 0; j < nr; j++) {
        if (n0 + j >= N) {
            for (int64_t k = 0; k < kc; k++)
                dst[k * nr + j] = 0.0f;
            continue;
        }
        const float *row = B + (n0 + j) * ld + k0;
        for (int64_t k = 0; k < kc; k++)
            dst[k * nr + j] = row[k];
    }
}

/* The same micro-panel from B stored K x N (row k at B + k * ld). */
static void pack_panel_kn(const float *B, int64_t ld, int64_t N, int64_t n0, int64_t k0,
                          int64_t kc, int nr, float *dst)
{
    int64_t ncols = N - n0 < nr ? N - n0 : nr;
    for (int64_t k = 0; k < kc; k++) {
        const float *row = B + (k0 + k) * ld + n0;
        memcpy(dst + k * nr, row, (size_t)ncols * sizeof(float));
        for (int64_t j = ncols; j < nr; j++)
            dst[k * nr + j] = 0.0f;
    }
}

mast_status mast_sgemm_pack_b(const float *B, const float *bias, int64_t N, int64_t K,
                              mast_sgemm_b **out)
{
    *out = NULL;
    if (N <= 0 || K <= 0)
        return mast_fail(MAST_ERR_INVALID, "sgemm: empty matrix %lld x %lld", (long long)N,
                         (long long)K);
    mast_sgemm_b *b = calloc(1, sizeof *b);
    if (!b)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    b->k = kernel();
    int nr = b->k->nr;
    b->N = N;
    b->K = K;
    b->panels = (N + nr - 1) / nr;
    size_t floats = (size_t)(b->panels * nr * K);
    b->data = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    if (bias)
        b->bias = calloc((size_t)(b->panels * nr), sizeof(float));
    if (!b->data || (bias && !b->bias)) {
        mast_sgemm_b_free(b);
        return mast_fail(MAST_ERR_NOMEM, "out of memory packing a %lld x %lld matrix",
                         (long long)N, (long long)K);
    }
    for (int64_t p = 0; p < b->panels; p++)
        pack_panel(B, K, N, p * nr, 0, K, nr, b->data + p * K * nr);
    if (bias)
        memcpy(b->bias, bias, (size_t)N * sizeof(float));
    *out = b;
    return MAST_OK;
}

void mast_sgemm_b_free(mast_sgemm_b *b)
{
    if (!b)
        return;
    free(b->data);
    free(b->bias);
    free(b);
}

int64_t mast_sgemm_b_rows(const mast_sgemm_b *b) { return b->N; }
int64_t mast_sgemm_b_cols(const mast_sgemm_b *b) { return b->K; }

/* Rows [m0, m0 + rows) of A (row m at A + m * lda), depth [k0, k0 + kc),
** into micro-panels of mr:
** Ap[(p * kc + k) * mr + i] = A[m0 + p * mr + i][k0 + k], 0 past the rows. */
static void pack_a(const float *A, int64_t lda, int64_t m0, int64_t rows, int64_t k0, int64_t kc,
                   int mr, float *Ap)
{
    for (int64_t p = 0; p * mr < rows; p++, Ap += kc * mr) {
        for (int i = 0; i < mr; i++) {
            int64_t r = p * mr + i;
            if (r >= rows) {
                for (int64_t k = 0; k < kc; k++)
                    Ap[k * mr + i] = 0.0f;
                continue;
            }
            const float *src = A + (m0 + r) * lda + k0;
            for (int64_t k = 0; k < kc; k++)
                Ap[k * mr + i] = src[k];
        }
    }
}

/* ---- the driver ---- */

typedef struct job {
    const mast_sgemm_b *B;
    const float *A;
    float *C;
    int64_t lda, ldc;
    int flags;            /* MAST_SGEMM_* */
    int64_t M, mc;        /* rows per block */
    size_t n_groups;      /* N split in this many panel ranges per block */
    float *scratch;       /* per worker: mc * KC floats of A, KC * NR_MAX of B if unpacked */
} job;

/* items = (row block, panel range) pairs */
static void run(void *ctx, size_t begin, size_t end, int worker)
{
    const job *j = ctx;
    const mast_sgemm_b *B = j->B;
    const mast_gemm_kernel *kn = B->k;
    int mr = kn->mr, nr = kn->nr;
    int64_t N = B->N, K = B->K;
    float *Ap = j->scratch + (size_t)worker * (size_t)((j->mc + NR_MAX) * KC);
    float *Bbuf = Ap + j->mc * KC;
    float tile[MR_MAX * NR_MAX];
    for (size_t item = begin; item < end; item++) {
        int64_t m0 = (int64_t)(item / j->n_groups) * j->mc;
        int64_t rows = j->M - m0 < j->mc ? j->M - m0 : j->mc;
        size_t g = item % j->n_groups;
        int64_t p0 = (int64_t)(g * (size_t)B->panels / j->n_groups);
        int64_t p1 = (int64_t)((g + 1) * (size_t)B->panels / j->n_groups);
        for (int64_t k0 = 0; k0 < K; k0 += KC) {
            int64_t kc = K - k0 < KC ? K - k0 : KC;
            int first = k0 == 0 && !(j->flags & MAST_SGEMM_ACCUMULATE), last = k0 + kc == K;
            int gelu = last && (j->flags & MAST_SGEMM_GELU);
            pack_a(j->A, j->lda, m0, rows, k0, kc, mr, Ap);
            for (int64_t p = p0; p < p1; p++) {
                const float *Bp = Bbuf;
                if (B->data)
                    Bp = B->data + (p * K + k0) * nr;
                else if (B->kn)
                    pack_panel_kn(B->src, B->ld, N, p * nr, k0, kc, nr, Bbuf);
                else
                    pack_panel(B->src, B->ld, N, p * nr, k0, kc, nr, Bbuf);
                const float *bias = last && B->bias ? B->bias + p * nr : NULL;
                int64_t n0 = p * nr, ncols = N - n0 < nr ? N - n0 : nr;
                for (int64_t i0 = 0; i0 < rows; i0 += mr) {
                    int64_t nrows = rows - i0 < mr ? rows - i0 : mr;
                    int64_t ldc = j->ldc;
                    float *c = j->C + (m0 + i0) * ldc + n0;
                    const float *a = Ap + i0 * kc;
                    if (nrows == mr && ncols == nr) {
                        kn->fn(kc, a, Bp, c, ldc, first, bias);
                        for (int64_t i = 0; gelu && i < nrows; i++)
                            mast_vec_gelu(c + i * ldc, (size_t)ncols);
                        continue;
                    }
                    if (!first)   /* continue from C's partial sums */
                        for (int64_t i = 0; i < nrows; i++)
                            memcpy(tile + i * nr, c + i * ldc, (size_t)ncols * sizeof(float));
                    kn->fn(kc, a, Bp, tile, nr, first, bias);
                    if (gelu)
                        mast_vec_gelu(tile, (size_t)(nrows * nr));
                    for (int64_t i = 0; i < nrows; i++)
                        memcpy(c + i * ldc, tile + i * nr, (size_t)ncols * sizeof(float));
                }
            }
        }
    }
}

/* Buffers kept by each thread between calls and freed when it exits:
** the scratch of products run without a pool (the attention inside each
** worker), and the packed B of mast_sgemm_rows. */
enum { SCRATCH_PACK_A, SCRATCH_PACK_B, SCRATCHES };
static pthread_key_t scratch_key[SCRATCHES];
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_key_init(void)
{
    for (int i = 0; i < SCRATCHES; i++)
        if (pthread_key_create(&scratch_key[i], free) != 0)
            abort();
}

static float *thread_scratch_of(int which, size_t bytes)
{
    pthread_once(&scratch_once, scratch_key_init);
    size_t *have = pthread_getspecific(scratch_key[which]);   /* 64 bytes of size, then floats */
    if (have && *have >= bytes)
        return (float *)(have + 64 / sizeof *have);
    size_t *s = aligned_alloc(64, 64 + (bytes + 63) / 64 * 64);
    if (!s || pthread_setspecific(scratch_key[which], s) != 0) {
        free(s);
        return NULL;
    }
    free(have);
    *s = bytes;
    return (float *)(s + 64 / sizeof *s);
}

static float *thread_scratch(size_t bytes)
{
    return thread_scratch_of(SCRATCH_PACK_A, bytes);
}

static mast_status drive(mast_pool *pool, int64_t M, const float *A, int64_t lda,
                         const mast_sgemm_b *B, float *C, int64_t ldc, int flags)
{
    int mr = B->k->mr;
    int64_t workers = pool ? mast_pool_size(pool) : 1;
    /* blocks of at most MC_MAX rows, as many as a multiple of the workers
    ** (while each keeps a micro-panel), of equal size in micro-panels */
    int64_t blocks = (M + MC_MAX - 1) / MC_MAX, panels_m = (M + mr - 1) / mr;
    blocks = (blocks + workers - 1) / workers * workers;
    if (blocks > panels_m)
        blocks = panels_m;
    int64_t mc = (panels_m + blocks - 1) / blocks * mr;
    blocks = (M + mc - 1) / mc;
    /* few blocks: split N too, so that every worker has work */
    size_t n_groups = 1;
    if (workers > 1 && blocks < 2 * workers) {
        n_groups = (size_t)((2 * workers + blocks - 1) / blocks);
        if (n_groups > (size_t)B->panels)
            n_groups = (size_t)B->panels;
    }
    size_t bytes = (size_t)(workers * (mc + NR_MAX) * KC) * sizeof(float);
    float *scratch = pool ? mast_pool_scratch(pool, bytes) : thread_scratch(bytes);
    if (!scratch)
        return mast_fail(MAST_ERR_NOMEM, "sgemm: out of memory packing %lld rows", (long long)M);
    job j = {B, A, C, lda, ldc, flags, M, mc, n_groups, scratch};
    size_t items = (size_t)blocks * n_groups;
    if (pool)
        mast_pool_for(pool, items, run, &j);
    else
        run(&j, 0, items, 0);
    return MAST_OK;
}

mast_status mast_sgemm_packed(mast_pool *pool, int64_t M, const float *A, const mast_sgemm_b *B,
                              float *C, int flags)
{
    if (M <= 0)
        return mast_fail(MAST_ERR_INVALID, "sgemm: no rows");
    return drive(pool, M, A, B->K, B, C, B->N, flags);
}

mast_status mast_sgemm(mast_pool *pool, int64_t M, int64_t N, int64_t K, const float *A,
                       int64_t lda, const float *B, int64_t ldb, bool b_kn, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0 || K <= 0)
        return mast_fail(MAST_ERR_INVALID, "sgemm: empty shape %lld x %lld x %lld",
                         (long long)M, (long long)N, (long long)K);
    const mast_gemm_kernel *k = kernel();
    mast_sgemm_b b = {k, N, K, (N + k->nr - 1) / k->nr, NULL, NULL, B, ldb, b_kn};
    return drive(pool, M, A, lda, &b, C, ldc, 0);
}

mast_status mast_sgemm_nt(mast_pool *pool, int64_t M, int64_t N, int64_t K, const float *A,
                          const float *B, float *C)
{
    return mast_sgemm(pool, M, N, K, A, K, B, K, false, C, N);
}

/* ---- B made row by row ---- */

#define ROWS_PACK_BYTES ((size_t)8 << 20)   /* packed B per chunk: a layer's matrix in one */

typedef struct rows_job {
    mast_sgemm_row_fn row;
    const void *ctx;
    int64_t n0, N, K;   /* this chunk: rows [n0, N) of B */
    int nr;
    float *data;
    float *rows;        /* per worker nr x K floats, after the packed chunk */
} rows_job;

/* Panels [begin, end): a panel's nr rows made into rows (nr x K), then
** transposed into the panel 64 depths at a time (those stay in L1). */
static void pack_rows(void *ctx, size_t begin, size_t end, int worker)
{
    const rows_job *j = ctx;
    int64_t K = j->K;
    int nr = j->nr;
    float *rows = j->rows + (size_t)worker * (size_t)(nr * K);
    for (size_t p = begin; p < end; p++) {
        float *dst = j->data + (int64_t)p * K * nr;
        for (int c = 0; c < nr; c++) {
            int64_t n = j->n0 + (int64_t)p * nr + c;
            if (n < j->N)
                j->row(j->ctx, n, rows + c * K);
            else
                memset(rows + c * K, 0, (size_t)K * sizeof *rows);
        }
        for (int64_t k0 = 0; k0 < K; k0 += 64) {
            int64_t k1 = k0 + 64 < K ? k0 + 64 : K;
            for (int64_t k = k0; k < k1; k++)
                for (int c = 0; c < nr; c++)
                    dst[k * nr + c] = rows[c * K + k];
        }
    }
}

mast_status mast_sgemm_rows(mast_pool *pool, int64_t M, const float *A, int64_t N, int64_t K,
                            mast_sgemm_row_fn row, const void *ctx, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0 || K <= 0)
        return mast_fail(MAST_ERR_INVALID, "sgemm: empty shape %lld x %lld x %lld",
                         (long long)M, (long long)N, (long long)K);
    const mast_gemm_kernel *k = kernel();
    int64_t nr = k->nr, chunk = (int64_t)(ROWS_PACK_BYTES / ((size_t)K * sizeof(float))) / nr * nr;
    if (chunk < nr)
        chunk = nr;
    if (chunk > (N + nr - 1) / nr * nr)
        chunk = (N + nr - 1) / nr * nr;
    int64_t workers = pool ? mast_pool_size(pool) : 1;
    float *data = thread_scratch_of(SCRATCH_PACK_B, (size_t)((chunk + workers * nr) * K) * sizeof(float));
    if (!data)
        return mast_fail(MAST_ERR_NOMEM, "sgemm: out of memory packing %lld x %lld", (long long)chunk,
                         (long long)K);
    for (int64_t n0 = 0; n0 < N; n0 += chunk) {
        int64_t n = N - n0 < chunk ? N - n0 : chunk;
        rows_job rj = {row, ctx, n0, N, K, (int)nr, data, data + chunk * K};
        size_t panels = (size_t)((n + nr - 1) / nr);
        if (pool)
            mast_pool_for(pool, panels, pack_rows, &rj);
        else
            pack_rows(&rj, 0, panels, 0);
        mast_sgemm_b b = {k, n, K, (int64_t)panels, data, NULL, NULL, 0, false};
        mast_status st = drive(pool, M, A, K, &b, C + n0, ldc, 0);
        if (st != MAST_OK)
            return st;
    }
    return MAST_OK;
}
