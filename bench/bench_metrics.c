/*
** bench/bench_metrics.c — what a metric update costs: a counter add, a
** histogram observation (16 buckets) and a gauge set, with 2 label values,
** from 1 and from N threads at once (contending for the family's lock), and
** a render of the registry with S series.
**
**   bench_metrics [THREADS=2] [UPDATES=2000000] [SERIES=100]
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/log.h"
#include "observe/metrics.h"

static mast_metric_family *c, *h;
static long updates;

static void *run(void *arg)
{
    (void)arg;
    const char *const labels[] = {"/v1/chat/completions", "200"};
    const char *const model[] = {"llama124m-q4_k_m", "chat"};
    for (long i = 0; i < updates; i++) {
        mast_metric_add(c, labels, 1);
        mast_metric_observe(h, model, 0.001 * (double)(i % 1000));
    }
    return NULL;
}

static double now(void)
{
    return (double)mast_mono_us() / 1e6;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    updates = argc > 2 ? atol(argv[2]) : 2000000;
    int series = argc > 3 ? atoi(argv[3]) : 100;
    c = mast_metric_new("b_requests_total", "x", MAST_COUNTER, (const char *const[]){"route", "status", NULL}, NULL, 0);
    h = mast_metric_new("b_seconds", "x", MAST_HISTOGRAM, (const char *const[]){"model", "op", NULL},
                        MAST_BUCKETS_TTFT, MAST_BUCKETS_TTFT_N);
    for (int n = 1; n <= threads; n *= 2) {
        pthread_t t[64];
        double t0 = now();
        for (int i = 0; i < n; i++)
            pthread_create(&t[i], NULL, run, NULL);
        for (int i = 0; i < n; i++)
            pthread_join(t[i], NULL);
        double secs = now() - t0;
        printf("%d thread%s: %.0f ns per counter add + histogram observation (each thread)\n", n,
               n == 1 ? "" : "s", secs / (double)updates * 1e9);
    }
    mast_metric_family *many = mast_metric_new("b_many_total", "x", MAST_COUNTER, (const char *const[]){"id", NULL}, NULL, 0);
    char id[16];
    for (int i = 0; i < series; i++) {
        snprintf(id, sizeof id, "%d", i);
        mast_metric_add(many, (const char *const[]){id}, 1);
    }
    mast_buf b = {0};
    double t0 = now();
    for (int i = 0; i < 100; i++) {
        b.len = 0;
        mast_metrics_render(&b, false);
    }
    printf("render: %.1f us for %zu bytes (%d + 2 series)\n", (now() - t0) / 100 * 1e6, b.len, series);
    mast_buf_free(&b);
    return 0;
}
