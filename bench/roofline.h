/*
** bench/roofline.h — the read-only memory bandwidth of this machine, the
** roofline of work that streams its operands once (matrix x vector, token
** generation). Shared by the benchmarks that report a fraction of it.
*/
#ifndef MAST_BENCH_ROOFLINE_H
#define MAST_BENCH_ROOFLINE_H

#include <immintrin.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/pool.h"

static inline double roofline_now_s(void)
{
    return (double)mast_mono_us() / 1e6;
}

typedef struct reader {
    const float *a;
    int prefetch;   /* also prefetch 8 KiB ahead in software, as the generation kernels do */
    double partial[64];
} reader;

__attribute__((target("avx2"))) static void read_part(void *ctx, size_t begin, size_t end,
                                                      int worker)
{
    reader *r = ctx;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    size_t i = begin * 32;
    end *= 32;
    for (; i + 32 <= end; i += 32) {   /* four chains: load-bound, not add-bound */
        if (r->prefetch) {
            _mm_prefetch((const char *)(r->a + i) + 8192, _MM_HINT_NTA);
            _mm_prefetch((const char *)(r->a + i) + 8192 + 64, _MM_HINT_NTA);
        }
        acc0 = _mm256_add_ps(acc0, _mm256_loadu_ps(r->a + i));
        acc1 = _mm256_add_ps(acc1, _mm256_loadu_ps(r->a + i + 8));
        acc2 = _mm256_add_ps(acc2, _mm256_loadu_ps(r->a + i + 16));
        acc3 = _mm256_add_ps(acc3, _mm256_loadu_ps(r->a + i + 24));
    }
    float v[8];
    _mm256_storeu_ps(v, _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    r->partial[worker] = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}

/* Read-only bandwidth (what a matrix x vector needs): a sum over 3n floats,
** the best of plain loads and loads with the software prefetch the
** generation kernels use (so that their roofline is the best streaming read
** we know, not only what the hardware prefetcher reaches). */
static double read_bandwidth(mast_pool *pool, size_t n)
{
    size_t m = 3 * n;
    float *a = malloc(m * 4);
    for (size_t i = 0; i < m; i++)
        a[i] = 1;
    double best = 1e30;
    for (int k = 0; k < 12; k++) {
        reader r = {a, k % 2, {0}};
        double t0 = roofline_now_s();
        mast_pool_for(pool, m / 32, read_part, &r);   /* index space in units of 32 */
        double dt = roofline_now_s() - t0;
        if (dt < best)
            best = dt;
    }
    free(a);
    return (double)m * 4 / best / 1e9;
}

#endif
