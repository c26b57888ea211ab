/*
** data/vindex/vindex.h — dense vector indexes: exact (flat) and HNSW, over
** one vector storage (f32, f16 or 8-bit scalar-quantized), one id space and
** one file format.
**
** Ids are the caller's int64 ids (chunk ids in the stack, row numbers for
** raw vectors). Metrics: cosine (vectors normalized on the way in), inner
** product, squared L2; a hit's score is the similarity (cosine, inner
** product) or the negated squared distance (L2), so larger is better for all.
**
** Concurrency: any number of searches may run while one thread adds or
** deletes; adds and deletes must come from one thread at a time (a batch add
** uses the pool itself). Readers never see a half-added vector: a search
** only follows nodes published before it started.
**
** HNSW follows Malkov & Yashunin (2018): levels drawn with mL = 1 / ln M,
** M links per node above level 0 and 2M at level 0, the neighbour-selection
** heuristic, greedy descent then a beam of ef at level 0. Deleted ids are
** tombstones: never returned, still traversed; mast_vindex_compact rebuilds
** without them.
*/
#ifndef MAST_DATA_VINDEX_VINDEX_H
#define MAST_DATA_VINDEX_VINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/pool.h"
#include "mast.h"

typedef enum { MAST_METRIC_COS, MAST_METRIC_IP, MAST_METRIC_L2 } mast_metric;
typedef enum { MAST_VSTORE_F32, MAST_VSTORE_F16, MAST_VSTORE_INT8 } mast_vstore;
typedef enum { MAST_VINDEX_FLAT, MAST_VINDEX_HNSW } mast_vindex_type;

typedef struct mast_vindex_params {
    mast_vindex_type type;
    mast_metric metric;
    mast_vstore storage;
    int dim;
    int m;                   /* HNSW links per node (level 0: 2m); default 16 */
    int ef_construction;     /* default 200 */
    uint64_t seed;           /* level draws; default 42 */
} mast_vindex_params;

typedef struct mast_vindex mast_vindex;

typedef struct mast_vhit {
    int64_t id;
    float score;
} mast_vhit;

/* Filter: true when `id` may be returned. */
typedef bool (*mast_vfilter)(void *ctx, int64_t id);

typedef struct mast_vsearch_opts {
    size_t k;
    int ef;                  /* HNSW beam width (at least k); 0 = max(k, 64) */
    mast_vfilter filter;     /* NULL = every live id */
    void *filter_ctx;
    /* re-ranking with full-precision vectors: get(ctx, id, out) writes the
    ** original vector of id (dim floats) and returns false when it cannot;
    ** the top rerank_k candidates (0 = 4k) are re-scored exactly */
    bool (*rerank_get)(void *ctx, int64_t id, float *out);
    void *rerank_ctx;
    size_t rerank_k;
    /* exact scans (the flat index, narrow filters) of 16,384 nodes or more
    ** split across this pool (NULL: the calling thread); one search at a
    ** time per pool */
    mast_pool *pool;
} mast_vsearch_opts;

/* Per-search counters (may be NULL) */
typedef struct mast_vsearch_stats {
    uint64_t distances;      /* distance computations */
    int brute_force;         /* the filter kept so few ids that all were scanned */
} mast_vsearch_stats;

mast_status mast_vindex_create(const mast_vindex_params *p, mast_vindex **out);
void mast_vindex_free(mast_vindex *v);
const mast_vindex_params *mast_vindex_params_of(const mast_vindex *v);

/* Adds n vectors (n * dim floats) with their ids; an id already present is
** refused (MAST_ERR_INVALID) before anything is added. 8-bit storage learns
** its per-dimension ranges from the first batch added. The pool (may be
** NULL) builds the graph in parallel. */
mast_status mast_vindex_add(mast_vindex *v, mast_pool *pool, size_t n, const int64_t *ids,
                            const float *vecs);
/* MAST_ERR_NOT_FOUND when id is not in the index (or already deleted). */
mast_status mast_vindex_delete(mast_vindex *v, int64_t id);
bool mast_vindex_contains(const mast_vindex *v, int64_t id);
size_t mast_vindex_count(const mast_vindex *v);      /* live vectors */
size_t mast_vindex_deleted(const mast_vindex *v);    /* tombstones */
size_t mast_vindex_memory(const mast_vindex *v);     /* bytes held for vectors, links and ids */
/* The live ids (malloc'ed, in insertion order). */
mast_status mast_vindex_ids(const mast_vindex *v, int64_t **ids, size_t *n);

/* Top k hits, best first, into hits[k]; *n_hits <= k. */
mast_status mast_vindex_search(const mast_vindex *v, const float *query,
                               const mast_vsearch_opts *o, mast_vhit *hits, size_t *n_hits,
                               mast_vsearch_stats *stats);

/* Rebuilds the index without its tombstones (same parameters). */
mast_status mast_vindex_compact(mast_vindex *v, mast_pool *pool);

/* Files: a header (magic, version, parameters, counts, the caller's data
** version, an XXH3 checksum of the body) then aligned sections; written to
** a temp file, fsynced and renamed. Opening maps the file and checks sizes
** and the checksum: a truncated, corrupt or foreign file is refused with
** MAST_ERR_FORMAT and a message naming it. An opened index is read from the
** map until it is first changed. */
mast_status mast_vindex_save(const mast_vindex *v, const char *path, uint64_t data_version);
mast_status mast_vindex_open(const char *path, mast_vindex **out, uint64_t *data_version);

const char *mast_metric_name(mast_metric m);
const char *mast_vstore_name(mast_vstore s);
mast_status mast_metric_parse(const char *s, mast_metric *out);
mast_status mast_vstore_parse(const char *s, mast_vstore *out);

#endif
