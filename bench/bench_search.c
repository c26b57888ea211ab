/*
** bench/bench_search.c — search latency over a BEIR collection already in a
** store (ingest it first with `mast eval --beir DIR` or `mast ingest`).
**
**   bench_search DB COLLECTION QUERIES.jsonl [K]
**
** Builds the collection's index once (reported separately), then runs every
** query through mast_search (BM25 + fetching the result rows from SQLite, as
** `mast search` does) and prints p50/p90/p99/max latency and queries/s.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"
#include "base/mmap.h"
#include "data/retrieve.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_search DB COLLECTION QUERIES.jsonl [K]\n");
        return 2;
    }
    size_t k = argc > 4 ? (size_t)atoi(argv[4]) : 10;
    mast_store *store;
    mast_retriever *r;
    char *data;
    size_t len;
    if (mast_store_open(&store, argv[1]) != MAST_OK || mast_retriever_create(&r) != MAST_OK ||
        mast_read_file(argv[3], (size_t)1 << 30, &data, &len) != MAST_OK) {
        fprintf(stderr, "bench_search: %s\n", mast_errmsg());
        return 1;
    }
    char *queries[100000];
    size_t n = 0;
    for (char *line = strtok(data, "\n"); line && n < 100000; line = strtok(NULL, "\n")) {
        json_t *o = json_loads(line, 0, NULL);
        const char *t = mast_json_get_str(o, "text", NULL);
        if (t)
            queries[n++] = strdup(t);
        json_decref(o);
    }
    int64_t t0 = mast_mono_us();
    mast_result *res;
    size_t n_res;
    if (mast_search(r, store, argv[2], "warm up", 1, NULL, &res, &n_res) != MAST_OK) {
        fprintf(stderr, "bench_search: %s\n", mast_errmsg());
        return 1;
    }
    mast_results_free(res, n_res);
    int64_t build_us = mast_mono_us() - t0;
    int64_t *lat = malloc(n * sizeof *lat);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t s = mast_mono_us();
        if (mast_search(r, store, argv[2], queries[i], k, NULL, &res, &n_res) != MAST_OK) {
            fprintf(stderr, "bench_search: %s\n", mast_errmsg());
            return 1;
        }
        lat[i] = mast_mono_us() - s;
        total += lat[i];
        mast_results_free(res, n_res);
    }
    qsort(lat, n, sizeof *lat, cmp_i64);
    printf("%s: %zu queries, k=%zu, index build %.1f ms, p50 %.3f ms, p90 %.3f ms, "
           "p99 %.3f ms, max %.3f ms, %.0f queries/s\n",
           argv[2], n, k, build_us / 1e3, lat[n / 2] / 1e3, lat[n * 90 / 100] / 1e3,
           lat[n * 99 / 100] / 1e3, lat[n - 1] / 1e3, n / (total / 1e6));
    for (size_t i = 0; i < n; i++)
        free(queries[i]);
    free(lat);
    free(data);
    mast_retriever_free(r);
    mast_store_close(store);
    return 0;
}
