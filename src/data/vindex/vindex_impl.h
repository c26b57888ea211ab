/*
** data/vindex/vindex_impl.h — the index's shared state, for vindex.c
** (storage, ids, flat search, API), hnsw.c (the graph) and vfile.c (files).
** Not a public header.
*/
#ifndef MAST_DATA_VINDEX_IMPL_H
#define MAST_DATA_VINDEX_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/mmap.h"
#include "data/vindex/vindex.h"

#define VINDEX_STRIPES 1024   /* link-update locks, by node */
#define VINDEX_MAX_LEVEL 32

/* id -> label, open addressing; label UINT32_MAX = empty */
typedef struct idmap {
    int64_t *keys;
    uint32_t *vals;
    size_t cap, len;
} idmap;

/* A query prepared against the storage: for 8-bit codes the query is
** folded with the per-dimension scales (dot = base + qs . codes). */
typedef struct vquery {
    const float *q;
    float *qs;         /* int8: q[i] * scale[i] (dim floats) */
    float base;        /* int8: q . min */
    float qq;          /* l2: |q|^2 */
} vquery;

typedef struct cand {
    float d;
    uint32_t id;
} cand;

/* Per-search scratch: visited tags and two heaps, kept in a free list. */
typedef struct vscratch {
    uint16_t *tag;     /* 2 bytes a node: half the cache footprint of 4 */
    size_t tag_cap;
    uint16_t cur;
    cand *c, *r;       /* candidates (min-heap), results (max-heap) */
    size_t c_cap, r_cap;
    float *qbuf;       /* dim floats each: the insert's folded query, */
    float *buf, *buf2; /* a candidate decoded and folded (heuristic), */
    float *buf3, *buf4;/* a neighbour decoded and folded (pruning) */
    struct vscratch *next;
} vscratch;

struct mast_vindex {
    mast_vindex_params p;
    int m0;                      /* level-0 links: 2m */
    double ml;                   /* 1 / ln m */
    size_t code_size;            /* bytes per stored vector */
    size_t cap;
    _Atomic size_t n;            /* nodes published to searches */
    size_t n_deleted;
    unsigned char *codes;        /* cap * code_size */
    int64_t *ids;                /* cap */
    _Atomic unsigned char *deleted;   /* cap */
    float *qmin, *qscale;        /* int8: dim each */
    int trained;
    unsigned char *level;        /* cap */
    _Atomic uint32_t *links0;    /* cap * (m0 + 1): count, then labels */
    uint64_t *upper_off;         /* cap: node's upper levels in `upper` */
    _Atomic uint32_t *upper;     /* per level above 0: count, then m labels */
    size_t upper_len, upper_cap;
    _Atomic uint32_t entry;
    _Atomic int max_level;       /* -1 when empty */
    pthread_mutex_t entry_mu;
    pthread_mutex_t stripes[VINDEX_STRIPES];
    pthread_rwlock_t grow;       /* searches share it; growing arrays takes it alone */
    idmap map;
    mast_mapped file;            /* arrays point into it until the first change */
    int mapped, unmap;           /* unmap: the file is ours to unmap */
    pthread_mutex_t scratch_mu;
    vscratch *free_scratch;
};

/* storage (vindex.c) */
const void *vindex_code(const mast_vindex *v, uint32_t label);
void vindex_prepare(const mast_vindex *v, const float *q, vquery *out, float *qs_buf);
float vindex_dist(const mast_vindex *v, const vquery *q, uint32_t label);
/* the stored vector of label as floats: a pointer into storage for f32, else decoded into buf */
const float *vindex_decode(const mast_vindex *v, uint32_t label, float *buf);
vscratch *vindex_scratch_get(mast_vindex *v);
void vindex_scratch_put(mast_vindex *v, vscratch *s);
int vindex_heap_reserve(cand **a, size_t *cap, size_t need);

/* the graph (hnsw.c) */
int hnsw_draw_level(const mast_vindex *v, uint32_t label);
mast_status hnsw_insert(mast_vindex *v, uint32_t label, const float *vec, vscratch *s);
/* level-0 beam search from the top; fills s->r with up to ef results
** passing `ok` (a max-heap), returns their count and counts distances */
size_t hnsw_search(const mast_vindex *v, const vquery *q, size_t ef,
                   int (*ok)(const mast_vindex *v, uint32_t label, void *ctx), void *ctx,
                   size_t limit, vscratch *s, uint64_t *n_dist);

static inline _Atomic uint32_t *hnsw_links(const mast_vindex *v, uint32_t label, int level)
{
    if (level == 0)
        return v->links0 + (size_t)label * (size_t)(v->m0 + 1);
    return v->upper + v->upper_off[label] + (size_t)(level - 1) * (size_t)(v->p.m + 1);
}

/* heaps of cand: min-heap by d (candidates) and max-heap by d (results) */
void cand_push_min(cand *h, size_t *n, cand c);
cand cand_pop_min(cand *h, size_t *n);
void cand_push_max(cand *h, size_t *n, cand c);
cand cand_pop_max(cand *h, size_t *n);

/* files (vfile.c) */
/* Opens an index from bytes that stay valid while it lives (the caller keeps
** them; mast_vindex_open maps a file and hands it over). verify = 0 skips
** the checksum, so that a fuzzer reaches the structural checks. */
mast_status vindex_open_bytes(mast_mapped file, const char *path, int verify, mast_vindex **out,
                              uint64_t *data_version);
mast_status vindex_build_map(mast_vindex *v);
mast_status vindex_make_owned(mast_vindex *v);

#endif
