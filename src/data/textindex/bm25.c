/*
** data/textindex/bm25.c — in-memory BM25 (see bm25.h).
**
** Layout: a term dictionary (open addressing over interned strings) maps a
** term to its id; each term has a postings list of (chunk slot, tf). Each
** chunk slot keeps its length, liveness and a forward list of its distinct
** term ids, so that removing a chunk can decrement the document frequencies
** exactly. Search is term-at-a-time into a dense accumulator, then a heap for
** the top k.
*/
#include "data/textindex/bm25.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/hash.h"
#include "base/status.h"

typedef struct postings {
    uint32_t *slots;
    uint32_t *tfs;
    uint32_t n, cap;
    uint32_t df;          /* live chunks containing the term */
} postings;

typedef struct slot_map {  /* chunk id -> slot */
    int64_t *keys;
    uint32_t *vals;
    size_t cap, n;
} slot_map;

struct mast_bm25 {
    mast_bm25_params params;
    /* terms */
    char *strings;
    size_t strings_len, strings_cap;
    uint32_t *term_off, *term_len;
    postings *post;
    size_t n_terms, cap_terms;
    uint32_t *table;      /* term id + 1, 0 = empty */
    size_t table_cap;
    /* chunk slots */
    int64_t *chunk_ids, *doc_ids;
    uint32_t *lens;
    uint8_t *live;
    size_t *fwd_start;
    uint32_t *fwd_n;
    size_t n_slots, cap_slots;
    uint32_t *fwd;
    size_t fwd_len, fwd_cap;
    slot_map by_chunk;
    size_t n_live;
    uint64_t total_len;   /* over live chunks */
};

mast_status mast_bm25_create(mast_bm25 **out, const mast_bm25_params *params)
{
    mast_bm25 *x = calloc(1, sizeof *x);
    if (!x)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    x->params.k1 = params ? params->k1 : 1.2;
    x->params.b = params ? params->b : 0.75;
    *out = x;
    return MAST_OK;
}

void mast_bm25_free(mast_bm25 *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->n_terms; i++) {
        free(x->post[i].slots);
        free(x->post[i].tfs);
    }
    free(x->strings);
    free(x->term_off);
    free(x->term_len);
    free(x->post);
    free(x->table);
    free(x->chunk_ids);
    free(x->doc_ids);
    free(x->lens);
    free(x->live);
    free(x->fwd_start);
    free(x->fwd_n);
    free(x->fwd);
    free(x->by_chunk.keys);
    free(x->by_chunk.vals);
    free(x);
}

/* ---- chunk id -> slot map ---- */

static uint64_t mix64(uint64_t v)
{
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdULL;
    v ^= v >> 33;
    return v;
}

static long map_get(const slot_map *m, int64_t key)
{
    if (!m->cap)
        return -1;
    size_t mask = m->cap - 1, i = mix64((uint64_t)key) & mask;
    while (m->vals[i] != UINT32_MAX) {
        if (m->keys[i] == key)
            return (long)m->vals[i];
        i = (i + 1) & mask;
    }
    return -1;
}

static int map_put(slot_map *m, int64_t key, uint32_t val)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        int64_t *keys = malloc(cap * sizeof *keys);
        uint32_t *vals = malloc(cap * sizeof *vals);
        if (!keys || !vals) {
            free(keys);
            free(vals);
            return 0;
        }
        memset(vals, 0xff, cap * sizeof *vals);
        for (size_t i = 0; i < m->cap; i++) {
            if (m->vals[i] == UINT32_MAX)
                continue;
            size_t j = mix64((uint64_t)m->keys[i]) & (cap - 1);
            while (vals[j] != UINT32_MAX)
                j = (j + 1) & (cap - 1);
            keys[j] = m->keys[i];
            vals[j] = m->vals[i];
        }
        free(m->keys);
        free(m->vals);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    size_t mask = m->cap - 1, i = mix64((uint64_t)key) & mask;
    while (m->vals[i] != UINT32_MAX)
        i = (i + 1) & mask;
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
    return 1;
}

/* ---- term dictionary ---- */

static long term_find(const mast_bm25 *x, const char *t, size_t n, uint64_t h)
{
    if (!x->table_cap)
        return -1;
    size_t mask = x->table_cap - 1, i = h & mask;
    while (x->table[i]) {
        uint32_t id = x->table[i] - 1;
        if (x->term_len[id] == n && memcmp(x->strings + x->term_off[id], t, n) == 0)
            return id;
        i = (i + 1) & mask;
    }
    return -1;
}

static int rehash(mast_bm25 *x)
{
    size_t cap = x->table_cap ? x->table_cap * 2 : 4096;
    uint32_t *table = calloc(cap, sizeof *table);
    if (!table)
        return 0;
    for (size_t id = 0; id < x->n_terms; id++) {
        size_t i = mast_hash64(x->strings + x->term_off[id], x->term_len[id]) & (cap - 1);
        while (table[i])
            i = (i + 1) & (cap - 1);
        table[i] = (uint32_t)id + 1;
    }
    free(x->table);
    x->table = table;
    x->table_cap = cap;
    return 1;
}

static long term_intern(mast_bm25 *x, const char *t, size_t n)
{
    uint64_t h = mast_hash64(t, n);
    long id = term_find(x, t, n, h);
    if (id >= 0)
        return id;
    if ((x->n_terms + 1) * 2 > x->table_cap) {
        if (!rehash(x))
            return -1;
    }
    size_t cap_terms = x->cap_terms;
    if (!mast_grow_array((void **)&x->strings, &x->strings_cap, x->strings_len + n, 1))
        return -1;
    if (x->n_terms + 1 > cap_terms) {
        size_t c1 = cap_terms, c2 = cap_terms, c3 = cap_terms;
        if (!mast_grow_array((void **)&x->term_off, &c1, x->n_terms + 1, sizeof *x->term_off) ||
            !mast_grow_array((void **)&x->term_len, &c2, x->n_terms + 1, sizeof *x->term_len) ||
            !mast_grow_array((void **)&x->post, &c3, x->n_terms + 1, sizeof *x->post))
            return -1;
        x->cap_terms = c1;
    }
    memcpy(x->strings + x->strings_len, t, n);
    id = (long)x->n_terms++;
    x->term_off[id] = (uint32_t)x->strings_len;
    x->term_len[id] = (uint32_t)n;
    memset(&x->post[id], 0, sizeof x->post[id]);
    x->strings_len += n;
    size_t mask = x->table_cap - 1, i = h & mask;
    while (x->table[i])
        i = (i + 1) & mask;
    x->table[i] = (uint32_t)id + 1;
    return id;
}

/* ---- adding ---- */

typedef struct collect {
    mast_bm25 *x;
    uint32_t *ids;
    size_t n, cap;
    int failed;
} collect;

static void collect_term(void *ctx, const char *t, size_t n)
{
    collect *c = ctx;
    if (c->failed)
        return;
    long id = term_intern(c->x, t, n);
    if (id < 0 || !mast_grow_array((void **)&c->ids, &c->cap, c->n + 1, sizeof *c->ids)) {
        c->failed = 1;
        return;
    }
    c->ids[c->n++] = (uint32_t)id;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

mast_status mast_bm25_add(mast_bm25 *x, mast_analyzer *a, int64_t chunk_id, int64_t doc_id,
                          const char *text, size_t len)
{
    if (map_get(&x->by_chunk, chunk_id) >= 0)
        return mast_fail(MAST_ERR_EXISTS, "chunk %lld is already indexed", (long long)chunk_id);
    if (x->n_slots >= UINT32_MAX - 1)
        return mast_fail(MAST_ERR_LIMIT, "text index is full");
    collect c = {.x = x};
    mast_analyze(a, text, len, collect_term, &c);
    if (c.failed) {
        free(c.ids);
        return mast_fail(MAST_ERR_NOMEM, "out of memory indexing chunk %lld", (long long)chunk_id);
    }
    if (c.n > 1)
        qsort(c.ids, c.n, sizeof *c.ids, cmp_u32);

    size_t slot = x->n_slots, cap = x->cap_slots;
    int ok = 1;
    if (slot + 1 > cap) {
        size_t c1 = cap, c2 = cap, c3 = cap, c4 = cap, c5 = cap, c6 = cap;
        ok = mast_grow_array((void **)&x->chunk_ids, &c1, slot + 1, sizeof *x->chunk_ids) &&
             mast_grow_array((void **)&x->doc_ids, &c2, slot + 1, sizeof *x->doc_ids) &&
             mast_grow_array((void **)&x->lens, &c3, slot + 1, sizeof *x->lens) &&
             mast_grow_array((void **)&x->live, &c4, slot + 1, sizeof *x->live) &&
             mast_grow_array((void **)&x->fwd_start, &c5, slot + 1, sizeof *x->fwd_start) &&
             mast_grow_array((void **)&x->fwd_n, &c6, slot + 1, sizeof *x->fwd_n);
        if (ok)
            x->cap_slots = c1;
    }
    ok = ok && mast_grow_array((void **)&x->fwd, &x->fwd_cap, x->fwd_len + c.n, sizeof *x->fwd);
    ok = ok && map_put(&x->by_chunk, chunk_id, (uint32_t)slot);
    if (!ok) {
        free(c.ids);
        return mast_fail(MAST_ERR_NOMEM, "out of memory indexing chunk %lld", (long long)chunk_id);
    }
    x->chunk_ids[slot] = chunk_id;
    x->doc_ids[slot] = doc_id;
    x->lens[slot] = (uint32_t)c.n;
    x->live[slot] = 1;
    x->fwd_start[slot] = x->fwd_len;
    uint32_t n_distinct = 0;
    for (size_t i = 0; i < c.n;) {
        size_t j = i;
        while (j < c.n && c.ids[j] == c.ids[i])
            j++;
        postings *p = &x->post[c.ids[i]];
        size_t pc1 = p->cap, pc2 = p->cap;
        if (!mast_grow_array((void **)&p->slots, &pc1, p->n + 1, sizeof *p->slots) ||
            !mast_grow_array((void **)&p->tfs, &pc2, p->n + 1, sizeof *p->tfs)) {
            free(c.ids);
            return mast_fail(MAST_ERR_NOMEM, "out of memory indexing chunk %lld",
                             (long long)chunk_id);
        }
        p->cap = (uint32_t)pc1;
        p->slots[p->n] = (uint32_t)slot;
        p->tfs[p->n] = (uint32_t)(j - i);
        p->n++;
        p->df++;
        x->fwd[x->fwd_len + n_distinct++] = c.ids[i];
        i = j;
    }
    x->fwd_len += n_distinct;
    x->fwd_n[slot] = n_distinct;
    x->n_slots++;
    x->n_live++;
    x->total_len += c.n;
    free(c.ids);
    return MAST_OK;
}

int mast_bm25_remove(mast_bm25 *x, int64_t chunk_id)
{
    long slot = map_get(&x->by_chunk, chunk_id);
    if (slot < 0 || !x->live[slot])
        return 0;
    x->live[slot] = 0;
    x->n_live--;
    x->total_len -= x->lens[slot];
    for (uint32_t i = 0; i < x->fwd_n[slot]; i++)
        x->post[x->fwd[x->fwd_start[slot] + i]].df--;
    return 1;
}

size_t mast_bm25_count(const mast_bm25 *x)
{
    return x->n_live;
}

/* ---- searching ---- */

typedef struct qterms {
    uint32_t *ids;
    size_t n, cap;
    const mast_bm25 *x;
    int failed;
} qterms;

static void query_term(void *ctx, const char *t, size_t n)
{
    qterms *q = ctx;
    long id = term_find(q->x, t, n, mast_hash64(t, n));
    if (id < 0 || q->failed)
        return;
    for (size_t i = 0; i < q->n; i++)
        if (q->ids[i] == (uint32_t)id)
            return;
    if (!mast_grow_array((void **)&q->ids, &q->cap, q->n + 1, sizeof *q->ids)) {
        q->failed = 1;
        return;
    }
    q->ids[q->n++] = (uint32_t)id;
}

int mast_hit_before(const mast_hit *a, const mast_hit *b)
{
    return a->score > b->score || (a->score == b->score && a->chunk_id < b->chunk_id);
}

static void sift_down(mast_hit *h, size_t n, size_t i)
{
    for (;;) {   /* min-heap on "better": the root is the worst kept hit */
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && mast_hit_before(&h[w], &h[l]))
            w = l;
        if (r < n && mast_hit_before(&h[w], &h[r]))
            w = r;
        if (w == i)
            return;
        mast_hit t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

static int cmp_hits(const void *a, const void *b)
{
    const mast_hit *x = a, *y = b;
    return mast_hit_before(x, y) ? -1 : mast_hit_before(y, x) ? 1 : 0;
}

size_t mast_hits_top(mast_hit *hits, size_t n, size_t k)
{
    if (k > n)
        k = n;
    if (k == 0)
        return 0;
    for (size_t j = k / 2; j-- > 0;)   /* heap of the first k, worst at the root */
        sift_down(hits, k, j);
    for (size_t i = k; i < n; i++)
        if (mast_hit_before(&hits[i], &hits[0])) {
            hits[0] = hits[i];
            sift_down(hits, k, 0);
        }
    if (k > 1)
        qsort(hits, k, sizeof *hits, cmp_hits);
    return k;
}

mast_status mast_bm25_search(const mast_bm25 *x, mast_analyzer *a, const char *query,
                             size_t len, size_t k, mast_hit **hits, size_t *n_hits)
{
    *hits = NULL;
    *n_hits = 0;
    qterms q = {.x = x};
    mast_analyze(a, query, len, query_term, &q);
    if (q.failed) {
        free(q.ids);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    if (q.n == 0 || x->n_live == 0 || k == 0) {
        free(q.ids);
        return MAST_OK;
    }
    double *acc = calloc(x->n_slots, sizeof *acc);
    uint32_t *touched = malloc(x->n_slots * sizeof *touched);
    if (!acc || !touched) {
        free(acc);
        free(touched);
        free(q.ids);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    size_t n_touched = 0;
    double N = (double)x->n_live;
    double avgdl = (double)x->total_len / N;
    if (avgdl <= 0)
        avgdl = 1;
    double k1 = x->params.k1, b = x->params.b;
    for (size_t t = 0; t < q.n; t++) {
        const postings *p = &x->post[q.ids[t]];
        if (p->df == 0)
            continue;
        double df = p->df;
        double idf = log(1.0 + (N - df + 0.5) / (df + 0.5));
        for (uint32_t i = 0; i < p->n; i++) {
            uint32_t s = p->slots[i];
            if (!x->live[s])
                continue;
            double tf = p->tfs[i];
            double norm = k1 * (1.0 - b + b * (double)x->lens[s] / avgdl);
            if (acc[s] == 0.0)
                touched[n_touched++] = s;
            acc[s] += idf * tf * (k1 + 1.0) / (tf + norm);
        }
    }
    size_t cap = k < n_touched ? k : n_touched;
    mast_hit *heap = malloc((cap ? cap : 1) * sizeof *heap);
    size_t n = 0;
    if (heap) {
        for (size_t i = 0; i < n_touched; i++) {
            uint32_t s = touched[i];
            if (!(acc[s] > 0))
                continue;
            mast_hit h = {x->chunk_ids[s], x->doc_ids[s], acc[s]};
            if (n < cap) {
                heap[n++] = h;
                if (n == cap)
                    for (size_t j = n / 2; j-- > 0;)
                        sift_down(heap, n, j);
            } else if (mast_hit_before(&h, &heap[0])) {
                heap[0] = h;
                sift_down(heap, n, 0);
            }
        }
        if (n > 1)
            qsort(heap, n, sizeof *heap, cmp_hits);
    }
    free(acc);
    free(touched);
    free(q.ids);
    if (!heap)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    *hits = heap;
    *n_hits = n;
    return MAST_OK;
}
