/*
** bench/bench_sgemm.c — mast's SGEMM against OpenBLAS cblas_sgemm, in one
** run on the same machine (OpenBLAS from Debian's libopenblas-dev, used by
** this benchmark only). Both compute C = A . B^T with A: M x K, B: N x K.
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
    mast_pool *pool;
} run;

static void run_mast(void *ctx)
{
    run *r = ctx;
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
    static const int64_t shapes[][3] = {{512, 512, 512}, {64, 4096, 4096}, {8, 4096, 4096}};
    mast_pool *pool;
    mast_pool_create(&pool, 2);
    printf("| M x N x K | mast GFLOP/s | OpenBLAS GFLOP/s | mast / OpenBLAS |\n|---|---:|---:|---:|\n");
    for (int s = 0; s < 3; s++) {
        run r = {shapes[s][0], shapes[s][1], shapes[s][2], NULL, NULL, NULL, pool};
        r.A = malloc((size_t)(r.M * r.K) * 4);
        r.B = malloc((size_t)(r.N * r.K) * 4);
        r.C = malloc((size_t)(r.M * r.N) * 4);
        for (int64_t i = 0; i < r.M * r.K; i++)
            r.A[i] = (float)(i % 13) / 13 - 0.5f;
        for (int64_t i = 0; i < r.N * r.K; i++)
            r.B[i] = (float)(i % 7) / 7 - 0.5f;
        double flops = 2.0 * r.M * r.N * r.K;
        double tm = best_of(5, run_mast, &r), tb = best_of(5, run_blas, &r);
        printf("| %lld x %lld x %lld | %.1f | %.1f | %.2f |\n", (long long)r.M, (long long)r.N,
               (long long)r.K, flops / tm / 1e9, flops / tb / 1e9, tb / tm);
        free(r.A);
        free(r.B);
        free(r.C);
    }
    mast_pool_free(pool);
    return 0;
}
