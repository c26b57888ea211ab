/*
** bench/ann/bench_ann.c — mast's HNSW on an ANN benchmark set, measured the
** same way as the peers in peer_ann.cpp: load the vectors, build (timed, the
** growth of resident memory taken as the index's memory), then search every
** query at one thread for each ef, writing the ids as JSON for recall.py.
**
**   bench_ann BASE.fvecs QUERY.fvecs M EF_CONSTRUCTION STORAGE THREADS EF,EF,... PREFIX [RERANK_K [filters]]
**
** STORAGE is f32, f16 or int8; RERANK_K > 0 re-scores that many candidates
** with the full-precision base vectors (held in memory as a store would).
** Prints one JSON line per ef: {"lib", "m", "storage", "build_s",
** "index_mb", "ef", "qps", "distances_per_query", "file"}. With "filters",
** then searches 1,000 queries at the last ef keeping 50%, 10% and 1% of the
** ids (id % 2, % 10, % 100 == 0) and prints their recall@10 against an exact
** filtered scan and their queries/s.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/pool.h"
#include "data/vindex/fvecs.h"
#include "data/vindex/vindex.h"

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

typedef struct rows {
    const float *x;
    int dim;
} rows;

static bool keep(void *ctx, int64_t id)
{
    return id % *(const int64_t *)ctx == 0;
}

static bool get_row(void *ctx, int64_t id, float *out)
{
    const rows *r = ctx;
    memcpy(out, r->x + (size_t)id * (size_t)r->dim, (size_t)r->dim * sizeof *out);
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 9) {
        fprintf(stderr, "usage: bench_ann BASE QUERY M EFC f32|f16|int8 THREADS EF,EF,... PREFIX [RERANK_K]\n");
        return 2;
    }
    float *base, *q;
    size_t nb, nq;
    int dim, qdim;
    if (mast_fvecs_read(argv[1], &base, &nb, &dim) != MAST_OK ||
        mast_fvecs_read(argv[2], &q, &nq, &qdim) != MAST_OK || qdim != dim) {
        fprintf(stderr, "bench_ann: %s\n", mast_errmsg());
        return 1;
    }
    mast_vindex_params p = {MAST_VINDEX_HNSW, MAST_METRIC_COS, MAST_VSTORE_F32, dim,
                            atoi(argv[3]), atoi(argv[4]), 42};
    if (mast_vstore_parse(argv[5], &p.storage) != MAST_OK) {
        fprintf(stderr, "bench_ann: %s\n", mast_errmsg());
        return 2;
    }
    size_t rerank_k = argc > 9 ? (size_t)atoi(argv[9]) : 0;
    int64_t *ids = malloc(nb * sizeof *ids);
    for (size_t i = 0; i < nb; i++)
        ids[i] = (int64_t)i;
    mast_pool *pool;
    mast_vindex *v;
    if (mast_pool_create(&pool, atoi(argv[6])) != MAST_OK || mast_vindex_create(&p, &v) != MAST_OK)
        return 1;
    long rss0 = rss_kb();
    int64_t t0 = mast_mono_us();
    if (mast_vindex_add(v, pool, nb, ids, base) != MAST_OK) {
        fprintf(stderr, "bench_ann: %s\n", mast_errmsg());
        return 1;
    }
    double build_s = (double)(mast_mono_us() - t0) / 1e6;
    double index_mb = (double)(rss_kb() - rss0) / 1024.0;
    rows r = {base, dim};
    int64_t *out = malloc(nq * 10 * sizeof *out);
    int last_ef = 64;
    for (char *tok = strtok(argv[7], ","); tok; tok = strtok(NULL, ",")) {
        int ef = last_ef = atoi(tok);
        mast_vsearch_opts o = {10, ef, NULL, NULL, rerank_k ? get_row : NULL, &r, rerank_k, NULL};
        uint64_t dists = 0;
        int64_t s0 = mast_mono_us();
        for (size_t i = 0; i < nq; i++) {
            mast_vhit h[10];
            size_t nh;
            mast_vsearch_stats st;
            mast_vindex_search(v, q + i * (size_t)dim, &o, h, &nh, &st);
            dists += st.distances;
            for (size_t j = 0; j < 10; j++)
                out[i * 10 + j] = j < nh ? h[j].id : -1;
        }
        double secs = (double)(mast_mono_us() - s0) / 1e6;
        char path[4096];
        snprintf(path, sizeof path, "%s-ef%d.json", argv[8], ef);
        FILE *f = fopen(path, "w");
        fprintf(f, "{\"qps\": %.1f, \"ids\": [", (double)nq / secs);
        for (size_t i = 0; i < nq; i++) {
            fprintf(f, i ? ",\n[" : "[");
            for (size_t j = 0; j < 10; j++)
                fprintf(f, j ? ",%lld" : "%lld", (long long)out[i * 10 + j]);
            fprintf(f, "]");
        }
        fprintf(f, "]}\n");
        fclose(f);
        printf("{\"lib\": \"mast\", \"m\": %d, \"storage\": \"%s%s\", \"build_s\": %.2f, "
               "\"index_mb\": %.1f, \"ef\": %d, \"qps\": %.1f, \"distances_per_query\": %.1f, "
               "\"file\": \"%s\"}\n",
               p.m, argv[5], rerank_k ? "+rerank" : "", build_s, index_mb, ef, (double)nq / secs,
               (double)dists / (double)nq, path);
        fflush(stdout);
    }
    if (argc > 10 && strcmp(argv[10], "filters") == 0) {
        mast_vindex_params fp = p;
        fp.type = MAST_VINDEX_FLAT;
        fp.storage = MAST_VSTORE_F32;
        mast_vindex *exact;
        if (mast_vindex_create(&fp, &exact) != MAST_OK || mast_vindex_add(exact, pool, nb, ids, base) != MAST_OK)
            return 1;
        static const int64_t mods[] = {2, 10, 100};
        size_t nf = nq < 1000 ? nq : 1000;
        for (int m = 0; m < 3; m++) {
            int64_t mod = mods[m];
            mast_vsearch_opts o = {10, last_ef, keep, &mod, rerank_k ? get_row : NULL, &r, rerank_k, NULL};
            mast_vsearch_opts oe = {10, 0, keep, &mod, NULL, NULL, 0, NULL};
            size_t found = 0, brute = 0;
            double secs = 0;
            for (size_t i = 0; i < nf; i++) {
                mast_vhit h[10], e[10];
                size_t nh, ne;
                mast_vsearch_stats st;
                int64_t s0 = mast_mono_us();
                mast_vindex_search(v, q + i * (size_t)dim, &o, h, &nh, &st);
                secs += (double)(mast_mono_us() - s0) / 1e6;
                brute += (size_t)st.brute_force;
                mast_vindex_search(exact, q + i * (size_t)dim, &oe, e, &ne, NULL);
                for (size_t a = 0; a < ne; a++)
                    for (size_t b = 0; b < nh; b++)
                        found += e[a].id == h[b].id;
            }
            printf("{\"lib\": \"mast\", \"m\": %d, \"storage\": \"%s%s\", \"filter_keeps\": %.2f, "
                   "\"ef\": %d, \"recall\": %.4f, \"qps\": %.1f, \"scanned\": %zu}\n",
                   p.m, argv[5], rerank_k ? "+rerank" : "", 1.0 / (double)mod, last_ef,
                   (double)found / (double)(nf * 10), (double)nf / secs, brute);
        }
        mast_vindex_free(exact);
    }
    mast_vindex_free(v);
    mast_pool_free(pool);
    free(out);
    free(ids);
    free(base);
    free(q);
    return 0;
}
