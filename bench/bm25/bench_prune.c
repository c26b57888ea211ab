/*
** bench/bm25/bench_prune.c — what block-max MaxScore saves over scoring every
** posting, on a synthetic corpus large enough for it to matter.
**
**   build/bench/bench_prune [CHUNKS] [QUERIES] [K]
**
** The corpus: CHUNKS chunks (default 1,000,000) of 20-300 words drawn from a
** Zipf(1) vocabulary of 200,000 words ("w<rank>"), indexed with the "none"
** analyzer in one segment. Queries: 2-5 words from ranks 20-20,000 (no
** stop-word-like heads). Prints, for pruned and exhaustive search at top K
** (default 10): queries/s single-threaded, and the fraction of the query
** terms' postings decoded. Both return the same hits (checked here too).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/textindex/bm25.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static double unit(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static unsigned zipf(unsigned n)   /* rank 1..n with P ~ 1/rank */
{
    double h = log((double)n) + 0.5772;
    double u = unit() * h;
    unsigned r = (unsigned)exp(u - 0.5772);
    return r < 1 ? 1 : r > n ? n : r;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long chunks = argc > 1 ? atol(argv[1]) : 1000000;
    int n_queries = argc > 2 ? atoi(argv[2]) : 1000;
    size_t k = argc > 3 ? (size_t)atol(argv[3]) : 10;
    mast_analyzer *a;
    mast_bm25 *x;
    if (mast_analyzer_open(&a, "none") != MAST_OK || mast_bm25_create(&x, NULL) != MAST_OK)
        return 1;
    char *text = malloc(300 * 10);
    double t0 = now();
    for (long i = 0; i < chunks; i++) {
        int words = 20 + (int)(unit() * 280);
        size_t n = 0;
        for (int w = 0; w < words; w++)
            n += (size_t)sprintf(text + n, "w%u ", zipf(200000));
        if (mast_bm25_add(x, a, i + 1, i + 1, "", 0, text, n) != MAST_OK) {
            fprintf(stderr, "add: %s\n", mast_errmsg());
            return 1;
        }
    }
    if (mast_bm25_flush(x) != MAST_OK)
        return 1;
    fprintf(stderr, "indexed %ld chunks in %.1f s\n", chunks, now() - t0);
    char (*queries)[128] = malloc((size_t)n_queries * 128);
    for (int q = 0; q < n_queries; q++) {
        int words = 2 + (int)(unit() * 4);
        size_t n = 0;
        for (int w = 0; w < words; w++) {
            unsigned r;
            do
                r = zipf(20000);
            while (r < 20);
            n += (size_t)snprintf(queries[q] + n, 128 - n, "w%u ", r);
        }
    }
    double secs[2];
    mast_bm25_stats total[2];
    size_t mismatches = 0;
    mast_hit **first = calloc((size_t)n_queries, sizeof *first);
    size_t *first_n = calloc((size_t)n_queries, sizeof *first_n);
    for (int mode = 0; mode < 2; mode++) {
        memset(&total[mode], 0, sizeof total[mode]);
        double s = now();
        for (int q = 0; q < n_queries; q++) {
            mast_bm25_query opts = {.k = k, .strategy = mode ? MAST_BM25_EXHAUSTIVE : MAST_BM25_PRUNED};
            mast_hit *h;
            size_t n;
            mast_bm25_stats st;
            if (mast_bm25_search_with(x, a, queries[q], strlen(queries[q]), &opts, &h, &n, &st) != MAST_OK)
                return 1;
            total[mode].postings += st.postings;
            total[mode].decoded += st.decoded;
            total[mode].scored += st.scored;
            if (mode == 0) {
                first[q] = h;
                first_n[q] = n;
            } else {
                mismatches += n != first_n[q] ||
                              (n && memcmp(h, first[q], n * sizeof *h) != 0);
                free(h);
                free(first[q]);
            }
        }
        secs[mode] = now() - s;
    }
    printf("{\"chunks\": %ld, \"queries\": %d, \"k\": %zu, "
           "\"pruned_qps\": %.1f, \"exhaustive_qps\": %.1f, \"speedup\": %.2f, "
           "\"pruned_decoded_fraction\": %.4f, \"pruned_scored_fraction\": %.4f, "
           "\"mismatches\": %zu}\n",
           chunks, n_queries, k, n_queries / secs[0], n_queries / secs[1], secs[1] / secs[0],
           (double)total[0].decoded / (double)total[0].postings,
           (double)total[0].scored / (double)total[0].postings, mismatches);
    mast_bm25_free(x);
    mast_analyzer_free(a);
    free(text);
    free(queries);
    free(first);
    free(first_n);
    return mismatches != 0;
}
