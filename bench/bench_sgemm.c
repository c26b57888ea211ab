/*
** bench/bench_sgemm.c — mast's SGEMM against OpenBLAS cblas_sgemm, in one
** run on the same machine (OpenBLAS from Debian's libopenblas-dev, used by
** this benchmark only). Both compute C = A . B^T with A: M x K, B: N x K.
** The three MiniLM-shaped rows (a batch of 1024 tokens through a 384-wide
** layer) use weights packed once, as the BERT encoder does; the others pack
** on every call.
**
**   OPENBLAS_NUM_THREADS=2 bench_sgemm
*/
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/pool.h"
#include "model/gemm.h"

static double best_of(int reps, void (*fn)(void *), void *ctx)
{
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        int64_t t0 = mast_mono_us();
        fn(ctx);
        double dt = (double)(mast_mono_us() - t0) / 1e6;
        if (dt < best)
            best = dt;
    }
    return best;
}

typedef struct run {
    int64_t M, N, K;
    float *A, *B, *C;
    mast_sgemm_b *packed;
    mast_pool *pool;
} run;

static void run_mast(void *ctx)
{
    run *r = ctx;
    if (r->packed)
        mast_sgemm_packed(r->pool, r->M, r->A, r->packed, r->C, 0);
    else
        mast_sgemm_nt(r->pool, r->M, r->N, r->K, r->A, r->B, r->C);
}

static void run_blas(void *ctx)
{
    run *r = ctx;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)r->M, (int)r->N, (int)r->K, 1.0f,
                r->A, (int)r->K, r->B, (int)r->K, 0.0f, r->C, (int)r->N);
}

int main(void)
{
    static const int64_t shapes[][4] = {{512, 512, 512, 0},    {64, 4096, 4096, 0},
                                        {8, 4096, 4096, 0},    {1024, 384, 384, 1},
                                        {1024, 1536, 384, 1},  {1024, 384, 1536, 1}};
    mast_pool *pool;
    mast_pool_create(&pool, 2);
    printf("mast kernel: %s, 2 threads\n\n", mast_sgemm_isa());
    printf("| M x N x K | mast GFLOP/s | OpenBLAS GFLOP/s | mast / OpenBLAS |\n|---|---:|---:|---:|\n");
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        run r = {shapes[s][0], shapes[s][1], shapes[s][2], NULL, NULL, NULL, NULL, pool};
        r.A = malloc((size_t)(r.M * r.K) * 4);
        r.B = malloc((size_t)(r.N * r.K) * 4);
        r.C = malloc((size_t)(r.M * r.N) * 4);
        for (int64_t i = 0; i < r.M * r.K; i++)
            r.A[i] = (float)(i % 13) / 13 - 0.5f;
        for (int64_t i = 0; i < r.N * r.K; i++)
            r.B[i] = (float)(i % 7) / 7 - 0.5f;
        if (shapes[s][3] && mast_sgemm_pack_b(r.B, NULL, r.N, r.K, &r.packed) != MAST_OK)
            return 1;
        double flops = 2.0 * r.M * r.N * r.K;
        double tm = best_of(5, run_mast, &r), tb = best_of(5, run_blas, &r);
        printf("| %lld x %lld x %lld%s | %.1f | %.1f | %.2f |\n", (long long)r.M, (long long)r.N,
               (long long)r.K, r.packed ? " (packed)" : "", flops / tm / 1e9, flops / tb / 1e9, tb / tm);
        mast_sgemm_b_free(r.packed);
        free(r.A);
        free(r.B);
        free(r.C);
    }
    mast_pool_free(pool);
    return 0;
}
