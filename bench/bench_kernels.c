/*
** bench/bench_kernels.c — the roofline of this machine and mast's kernels
** against it.
**
**   bench_kernels [--quick]
**
** 1. Memory bandwidth: a STREAM-like triad a = b + s*c over 3 x 128 MiB
**    arrays, 1 and 2 threads (best of 12; bytes counted as STREAM counts them).
** 1b. Read-only bandwidth: a sum over 384 MiB, 1 and 2 threads; matrix x
**    vector only reads its weights, so this is its roofline.
** 2. Single-core peak FLOP/s: independent AVX2 FMA chains (2 flops x 8 lanes).
** 3. Matrix x vector, 4096 x 4096, per weight type, 1 and 2 threads: GB/s of
**    weights read and the fraction of the measured bandwidth. The product
**    cycles through copies of the matrix totalling > 256 MiB, so that weights
**    come from DRAM and not from the 32 MiB L3 (best of 6 passes).
** 4. F32 matrix x matrix (mast_matmul) at 512x512x512 and 4096x4096x64, as
**    GFLOP/s (OpenBLAS is compared in bench/bench_sgemm.c when available).
*/
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/pool.h"
#include "model/matmul.h"
#include "roofline.h"

static double now_s(void)
{
    return (double)mast_mono_us() / 1e6;
}

typedef struct triad {
    float *a, *b, *c;
    float s;
} triad;

static void triad_part(void *ctx, size_t begin, size_t end, int worker)
{
    (void)worker;
    triad *t = ctx;
    for (size_t i = begin; i < end; i++)
        t->a[i] = t->b[i] + t->s * t->c[i];
}

static double bandwidth(mast_pool *pool, size_t n)
{
    triad t = {malloc(n * 4), malloc(n * 4), malloc(n * 4), 3.0f};
    for (size_t i = 0; i < n; i++) {
        t.a[i] = 0;
        t.b[i] = 1;
        t.c[i] = 2;
    }
    double best = 1e30;
    for (int r = 0; r < 12; r++) {
        double t0 = now_s();
        mast_pool_for(pool, n, triad_part, &t);
        double dt = now_s() - t0;
        if (dt < best)
            best = dt;
    }
    free(t.a);
    free(t.b);
    free(t.c);
    return 3.0 * (double)n * 4 / best / 1e9;
}

__attribute__((target("avx2,fma"))) static double peak_flops(void)
{
    __m256 acc[10];
    for (int k = 0; k < 10; k++)
        acc[k] = _mm256_set1_ps((float)k);
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    long iters = 100000000;
    double t0 = now_s();
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < 10; k++)
            acc[k] = _mm256_fmadd_ps(acc[k], m, c);
    double dt = now_s() - t0;
    float sink = 0;
    for (int k = 0; k < 10; k++)
        sink += _mm256_cvtss_f32(acc[k]);
    if (sink == 12345.0f)
        printf(" ");
    return (double)iters * 10 * 8 * 2 / dt / 1e9;
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    mast_pool *p1, *p2;
    mast_pool_create(&p1, 1);
    mast_pool_create(&p2, 2);
    size_t n = quick ? (8u << 20) : (32u << 20);
    double tr1 = bandwidth(p1, n), tr2 = bandwidth(p2, n);
    double rd1 = read_bandwidth(p1, n), rd2 = read_bandwidth(p2, n);
    /* the roofline: the best bandwidth this run measured, per thread count */
    double bw1 = rd1 > tr1 ? rd1 : tr1, bw2 = rd2 > tr2 ? rd2 : tr2;
    printf("memory bandwidth, triad (%zu MiB arrays): 1 thread %.1f GB/s, 2 threads %.1f GB/s\n",
           n * 4 >> 20, tr1, tr2);
    printf("memory bandwidth, read-only sweep (%zu MiB): 1 thread %.1f GB/s, 2 threads %.1f GB/s\n"
           "('of bw' below: relative to the higher of the two, per thread count)\n",
           3 * n * 4 >> 20, rd1, rd2);
    printf("single-core peak (AVX2 FMA): %.1f GFLOP/s\n", peak_flops());
    printf("kernel backend: %s\n\n", mast_quant_backend());

    const int64_t rows = 4096, cols = 4096;
    float *wf = malloc((size_t)(rows * cols) * 4), *x = malloc((size_t)cols * 4), *y = malloc((size_t)rows * 4);
    uint64_t rng = 1;
    for (int64_t i = 0; i < rows * cols; i++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        wf[i] = (float)((rng >> 40) / 16777216.0) - 0.5f;
    }
    for (int64_t i = 0; i < cols; i++)
        x[i] = (float)i / cols - 0.5f;
    static const mast_dtype types[] = {MAST_F16, MAST_BF16, MAST_Q8_0, MAST_Q4_0, MAST_Q5_0, MAST_Q4_1,
                                       MAST_Q5_1, MAST_Q4_K, MAST_Q6_K, MAST_Q5_K, MAST_Q3_K, MAST_Q2_K};
    printf("| type | MB | 1 thread ms | GB/s | of bw | 2 threads ms | GB/s | of bw |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        size_t row = mast_dtype_row_size(types[t], cols), bytes = row * (size_t)rows;
        /* enough copies that each matvec streams from DRAM, not the 32 MiB L3 */
        int copies = (int)((256u << 20) / bytes) + 1;
        unsigned char **W = malloc((size_t)copies * sizeof *W);
        for (int c = 0; c < copies; c++) {
            W[c] = malloc(bytes);
            if (c == 0)
                for (int64_t r = 0; r < rows; r++)
                    mast_quantize_row(types[t], wf + r * cols, W[0] + (size_t)r * row, cols);
            else
                memcpy(W[c], W[0], bytes);
        }
        double best[2] = {1e30, 1e30};
        for (int th = 0; th < 2; th++)
            for (int rep = 0; rep < 6 * copies; rep++) {
                double t0 = now_s();
                mast_matvec(th ? p2 : p1, types[t], W[rep % copies], rows, cols, x, y);
                double dt = now_s() - t0;
                if (dt < best[th])
                    best[th] = dt;
            }
        printf("| %s | %.1f | %.2f | %.1f | %.0f%% | %.2f | %.1f | %.0f%% |\n",
               mast_dtype_get(types[t])->name, bytes / 1e6, best[0] * 1e3, bytes / best[0] / 1e9,
               100 * bytes / best[0] / 1e9 / bw1, best[1] * 1e3, bytes / best[1] / 1e9,
               100 * bytes / best[1] / 1e9 / bw2);
        for (int c = 0; c < copies; c++)
            free(W[c]);
        free(W);
    }
    printf("\n");
    static const int64_t shapes[][3] = {{512, 512, 512}, {4096, 4096, 64}};
    for (int s = 0; s < 2; s++) {
        int64_t M = shapes[s][0], K = shapes[s][1], B = shapes[s][2];
        float *X = malloc((size_t)(B * K) * 4), *Y = malloc((size_t)(B * M) * 4);
        for (int64_t i = 0; i < B * K; i++)
            X[i] = (float)(i % 97) / 97;
        double best = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = now_s();
            mast_matmul(p2, MAST_F32, wf, M, K, X, B, Y);
            double dt = now_s() - t0;
            if (dt < best)
                best = dt;
        }
        printf("f32 matmul %lldx%lldx%lld (2 threads): %.1f ms, %.1f GFLOP/s\n", (long long)M,
               (long long)K, (long long)B, best * 1e3, 2.0 * M * K * B / best / 1e9);
        free(X);
        free(Y);
    }
    free(wf);
    free(x);
    free(y);
    mast_pool_free(p1);
    mast_pool_free(p2);
    return 0;
}
