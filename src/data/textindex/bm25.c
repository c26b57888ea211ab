/*
** data/textindex/bm25.c — the BM25 index over segments (see bm25.h).
**
** Added chunks collect in a pending in-memory inverted index (a term
** dictionary over interned strings, postings of (chunk, tf_body, tf_title));
** a flush sorts its terms and writes them as one segment image. Search runs
** over the segments one after another with one top-k heap, so a later
** segment starts with the threshold the earlier ones reached.
*/
#include "data/textindex/bm25.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/hash.h"
#include "base/mmap.h"
#include "base/status.h"
#include "data/textindex/segment.h"

#define MAX_SEGMENTS 8
#define MAX_QUERY_TERMS 1024
/* Scoring a segment whole (term at a time into an accumulator for all its
** chunks) beats pruning when the segment is small or the query's postings
** outnumber its chunks (long queries of common words): measured on the
** shared collections, LISA (6,004 chunks, 11,568 postings per query): 8.3k
** against 5.2k queries/s for the top 10; SciFact (5,194, 4,424) and NPL
** (11,426, 4,151) are faster pruned (18.1k against 16.3k; 18.3k against
** 14.8k), as is every size of bench/bm25/bench_prune.c from 20,000 chunks
** (1.5x; 2.3x at 200,000, 2.4x at 500,000). */
#define SMALL_SEGMENT 4096
#define WHOLE_POSTINGS_PER_CHUNK 1.5

typedef struct plist {   /* pending postings of one term */
    uint32_t *docs, *tfb, *tft;
    uint32_t n, cap;
} plist;

typedef struct pending {
    /* terms */
    char *strings;
    size_t strings_len, strings_cap;
    uint32_t *term_off, *term_len;
    plist *post;
    size_t n_terms, cap_terms;
    uint32_t *table;      /* term id + 1, 0 = empty */
    size_t table_cap;
    /* chunks */
    int64_t *chunk_ids, *doc_ids;
    uint32_t *lb, *lt;
    uint8_t *deleted;
    size_t n, cap;
} pending;

typedef struct segment {
    mast_seg seg;
    uint8_t *deleted;     /* bitmap, NULL when none */
    uint32_t n_deleted;
    uint64_t gen;         /* its file is path-<gen>; 0 = not saved yet */
} segment;

struct mast_bm25 {
    mast_bm25_params params;
    segment *segs;
    size_t n_segs, cap_segs;
    pending p;
    int64_t max_chunk;
    uint64_t next_gen;
};

mast_status mast_bm25_create(mast_bm25 **out, const mast_bm25_params *params)
{
    mast_bm25 *x = calloc(1, sizeof *x);
    if (!x)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    x->params.k1 = params ? params->k1 : 1.2;
    x->params.b = params ? params->b : 0.75;
    x->next_gen = 1;
    x->max_chunk = INT64_MIN;
    *out = x;
    return MAST_OK;
}

static void pending_free(pending *p)
{
    for (size_t i = 0; i < p->n_terms; i++) {
        free(p->post[i].docs);
        free(p->post[i].tfb);
        free(p->post[i].tft);
    }
    free(p->strings);
    free(p->term_off);
    free(p->term_len);
    free(p->post);
    free(p->table);
    free(p->chunk_ids);
    free(p->doc_ids);
    free(p->lb);
    free(p->lt);
    free(p->deleted);
    memset(p, 0, sizeof *p);
}

void mast_bm25_free(mast_bm25 *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->n_segs; i++) {
        seg_free(&x->segs[i].seg);
        free(x->segs[i].deleted);
    }
    free(x->segs);
    pending_free(&x->p);
    free(x);
}

/* ---- the pending term dictionary ---- */

static long term_find(const pending *p, const char *t, size_t n, uint64_t h)
{
    if (!p->table_cap)
        return -1;
    size_t mask = p->table_cap - 1, i = h & mask;
    while (p->table[i]) {
        uint32_t id = p->table[i] - 1;
        if (p->term_len[id] == n && memcmp(p->strings + p->term_off[id], t, n) == 0)
            return id;
        i = (i + 1) & mask;
    }
    return -1;
}

static int rehash(pending *p)
{
    size_t cap = p->table_cap ? p->table_cap * 2 : 4096;
    uint32_t *table = calloc(cap, sizeof *table);
    if (!table)
        return 0;
    for (size_t id = 0; id < p->n_terms; id++) {
        size_t i = mast_hash64(p->strings + p->term_off[id], p->term_len[id]) & (cap - 1);
        while (table[i])
            i = (i + 1) & (cap - 1);
        table[i] = (uint32_t)id + 1;
    }
    free(p->table);
    p->table = table;
    p->table_cap = cap;
    return 1;
}

static long term_intern(pending *p, const char *t, size_t n)
{
    uint64_t h = mast_hash64(t, n);
    long id = term_find(p, t, n, h);
    if (id >= 0)
        return id;
    if ((p->n_terms + 1) * 2 > p->table_cap && !rehash(p))
        return -1;
    if (!mast_grow_array((void **)&p->strings, &p->strings_cap, p->strings_len + n, 1))
        return -1;
    if (p->n_terms + 1 > p->cap_terms) {
        size_t c1 = p->cap_terms, c2 = p->cap_terms, c3 = p->cap_terms;
        if (!mast_grow_array((void **)&p->term_off, &c1, p->n_terms + 1, sizeof *p->term_off) ||
            !mast_grow_array((void **)&p->term_len, &c2, p->n_terms + 1, sizeof *p->term_len) ||
            !mast_grow_array((void **)&p->post, &c3, p->n_terms + 1, sizeof *p->post))
            return -1;
        p->cap_terms = c1;
    }
    memcpy(p->strings + p->strings_len, t, n);
    id = (long)p->n_terms++;
    p->term_off[id] = (uint32_t)p->strings_len;
    p->term_len[id] = (uint32_t)n;
    memset(&p->post[id], 0, sizeof p->post[id]);
    p->strings_len += n;
    size_t mask = p->table_cap - 1, i = h & mask;
    while (p->table[i])
        i = (i + 1) & mask;
    p->table[i] = (uint32_t)id + 1;
    return id;
}

/* ---- adding ---- */

typedef struct collect {
    pending *p;
    uint32_t *ids;        /* term id << 1 | in title */
    size_t n, cap;
    uint32_t field;
    uint32_t len[2];      /* body, title */
    int failed;
} collect;

static void collect_term(void *ctx, const char *t, size_t n)
{
    collect *c = ctx;
    if (c->failed)
        return;
    long id = term_intern(c->p, t, n);
    if (id < 0 || id >= (long)(UINT32_MAX >> 1) ||
        !mast_grow_array((void **)&c->ids, &c->cap, c->n + 1, sizeof *c->ids)) {
        c->failed = 1;
        return;
    }
    c->ids[c->n++] = (uint32_t)id << 1 | c->field;
    c->len[c->field]++;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int plist_push(plist *l, uint32_t doc, uint32_t tfb, uint32_t tft)
{
    if (l->n == l->cap) {
        size_t c1 = l->cap, c2 = l->cap, c3 = l->cap;
        if (!mast_grow_array((void **)&l->docs, &c1, l->n + 1, sizeof *l->docs) ||
            !mast_grow_array((void **)&l->tfb, &c2, l->n + 1, sizeof *l->tfb) ||
            !mast_grow_array((void **)&l->tft, &c3, l->n + 1, sizeof *l->tft))
            return 0;
        l->cap = (uint32_t)(c1 < c2 ? (c1 < c3 ? c1 : c3) : (c2 < c3 ? c2 : c3));
    }
    l->docs[l->n] = doc;
    l->tfb[l->n] = tfb;
    l->tft[l->n] = tft;
    l->n++;
    return 1;
}

mast_status mast_bm25_add(mast_bm25 *x, mast_analyzer *a, int64_t chunk_id, int64_t doc_id,
                          const char *title, size_t title_len, const char *body, size_t body_len)
{
    if (chunk_id <= x->max_chunk)
        return mast_fail(MAST_ERR_INVALID,
                         "chunk %lld added after chunk %lld (chunks are added in ascending id)",
                         (long long)chunk_id, (long long)x->max_chunk);
    pending *p = &x->p;
    if (p->n >= UINT32_MAX - 1)
        return mast_fail(MAST_ERR_LIMIT, "too many chunks before a flush");
    collect c = {.p = p, .field = 1};
    if (title_len)
        mast_analyze(a, title, title_len, collect_term, &c);
    c.field = 0;
    mast_analyze(a, body, body_len, collect_term, &c);
    if (c.n > 1)
        qsort(c.ids, c.n, sizeof *c.ids, cmp_u32);
    int ok = !c.failed;
    if (ok && p->n + 1 > p->cap) {
        size_t c1 = p->cap, c2 = p->cap, c3 = p->cap, c4 = p->cap, c5 = p->cap;
        ok = mast_grow_array((void **)&p->chunk_ids, &c1, p->n + 1, sizeof *p->chunk_ids) &&
             mast_grow_array((void **)&p->doc_ids, &c2, p->n + 1, sizeof *p->doc_ids) &&
             mast_grow_array((void **)&p->lb, &c3, p->n + 1, sizeof *p->lb) &&
             mast_grow_array((void **)&p->lt, &c4, p->n + 1, sizeof *p->lt) &&
             mast_grow_array((void **)&p->deleted, &c5, p->n + 1, 1);
        if (ok)
            p->cap = c1;
    }
    uint32_t slot = (uint32_t)p->n;
    for (size_t i = 0; ok && i < c.n;) {
        uint32_t term = c.ids[i] >> 1, tf[2] = {0, 0};
        for (; i < c.n && c.ids[i] >> 1 == term; i++)
            tf[c.ids[i] & 1]++;
        ok = plist_push(&p->post[term], slot, tf[0], tf[1]);
    }
    free(c.ids);
    if (!ok)   /* postings may hold the slot: it is dropped with the pending index */
        return mast_fail(MAST_ERR_NOMEM, "out of memory indexing chunk %lld", (long long)chunk_id);
    p->chunk_ids[slot] = chunk_id;
    p->doc_ids[slot] = doc_id;
    p->lb[slot] = c.len[0];
    p->lt[slot] = c.len[1];
    p->deleted[slot] = 0;
    p->n++;
    x->max_chunk = chunk_id;
    return MAST_OK;
}

typedef struct term_ref {
    const char *s;
    uint32_t len, id;
} term_ref;

static int cmp_term_refs(const void *a, const void *b)
{
    const term_ref *x = a, *y = b;
    int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static mast_status push_segment(mast_bm25 *x, uint8_t *image, size_t size, uint8_t *deleted,
                                uint32_t n_deleted, size_t at)
{
    if (!mast_grow_array((void **)&x->segs, &x->cap_segs, x->n_segs + 1, sizeof *x->segs)) {
        free(image);
        free(deleted);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    segment s = {.deleted = deleted, .n_deleted = n_deleted};
    mast_status st = seg_parse(&s.seg, image, size, image, NULL, 0, "new segment");
    if (st != MAST_OK) {
        free(deleted);
        return st;
    }
    memmove(&x->segs[at + 1], &x->segs[at], (x->n_segs - at) * sizeof *x->segs);
    x->segs[at] = s;
    x->n_segs++;
    return MAST_OK;
}

mast_status mast_bm25_flush(mast_bm25 *x)
{
    pending *p = &x->p;
    if (p->n == 0) {
        pending_free(p);
        return MAST_OK;
    }
    term_ref *order = malloc((p->n_terms ? p->n_terms : 1) * sizeof *order);
    uint8_t *bits = calloc((p->n + 7) / 8, 1);
    if (!order || !bits) {
        free(order);
        free(bits);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < p->n_terms; i++)
        order[i] = (term_ref){p->strings + p->term_off[i], p->term_len[i], i};
    qsort(order, p->n_terms, sizeof *order, cmp_term_refs);
    seg_writer w;
    seg_writer_begin(&w, (uint32_t)p->n, p->lb, p->lt);
    for (size_t i = 0; i < p->n_terms; i++) {
        const plist *l = &p->post[order[i].id];
        seg_writer_term(&w, order[i].s, order[i].len, l->docs, l->tfb, l->tft, l->n);
    }
    uint8_t *image;
    size_t size;
    mast_status st = seg_writer_finish(&w, p->chunk_ids, p->doc_ids, &image, &size);
    free(order);
    uint32_t n_deleted = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->deleted[i]) {
            bits[i >> 3] |= (uint8_t)(1u << (i & 7));
            n_deleted++;
        }
    if (!n_deleted) {
        free(bits);
        bits = NULL;
    }
    if (st == MAST_OK)
        st = push_segment(x, image, size, bits, n_deleted, x->n_segs);
    else
        free(bits);
    if (st == MAST_OK)
        pending_free(p);
    return st;
}

mast_status bm25_adopt_segment(mast_bm25 *x, uint8_t *image, size_t size)
{
    MAST_TRY(mast_bm25_flush(x));
    return push_segment(x, image, size, NULL, 0, x->n_segs);
}

static void set_deleted(segment *s, uint32_t i)
{
    s->deleted[i >> 3] |= (uint8_t)(1u << (i & 7));
    s->n_deleted++;
}

static int deleted_at(const segment *s, uint32_t i)
{
    return s->deleted && (s->deleted[i >> 3] >> (i & 7) & 1);
}

int mast_bm25_remove(mast_bm25 *x, int64_t chunk_id)
{
    for (size_t i = 0; i < x->n_segs; i++) {
        segment *s = &x->segs[i];
        if (!s->seg.n_docs || chunk_id < s->seg.chunk_ids[0] ||
            chunk_id > s->seg.chunk_ids[s->seg.n_docs - 1])
            continue;
        long d = seg_find_chunk(&s->seg, chunk_id);
        if (d < 0 || deleted_at(s, (uint32_t)d))
            return 0;
        if (!s->deleted && !(s->deleted = calloc((s->seg.n_docs + 7) / 8, 1)))
            return 0;
        set_deleted(s, (uint32_t)d);
        return 1;
    }
    pending *p = &x->p;
    for (size_t lo = 0, hi = p->n; lo < hi;) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->chunk_ids[mid] == chunk_id) {
            if (p->deleted[mid])
                return 0;
            p->deleted[mid] = 1;
            return 1;
        }
        if (p->chunk_ids[mid] < chunk_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

size_t mast_bm25_count(const mast_bm25 *x)
{
    size_t n = 0;
    for (size_t i = 0; i < x->n_segs; i++)
        n += x->segs[i].seg.n_docs - x->segs[i].n_deleted;
    for (size_t i = 0; i < x->p.n; i++)
        n += !x->p.deleted[i];
    return n;
}

int64_t mast_bm25_max_chunk(const mast_bm25 *x)
{
    return x->max_chunk;
}

void mast_bm25_each_live(const mast_bm25 *x, int (*fn)(void *ctx, int64_t chunk_id), void *ctx)
{
    for (size_t i = 0; i < x->n_segs; i++)
        for (uint32_t d = 0; d < x->segs[i].seg.n_docs; d++)
            if (!deleted_at(&x->segs[i], d) && fn(ctx, x->segs[i].seg.chunk_ids[d]))
                return;
    for (size_t i = 0; i < x->p.n; i++)
        if (!x->p.deleted[i] && fn(ctx, x->p.chunk_ids[i]))
            return;
}

/* ---- ranking helpers ---- */

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

/* ---- searching ---- */

typedef struct topk {
    mast_hit *h;
    size_t n, k;
} topk;

static void topk_offer(topk *t, mast_hit hit)
{
    if (t->n < t->k) {
        t->h[t->n++] = hit;
        if (t->n == t->k)
            for (size_t j = t->n / 2; j-- > 0;)
                sift_down(t->h, t->n, j);
    } else if (mast_hit_before(&hit, &t->h[0])) {
        t->h[0] = hit;
        sift_down(t->h, t->n, 0);
    }
}

/* A score must exceed this to enter (ties lose: later chunks have larger ids). */
static double topk_threshold(const topk *t)
{
    return t->n < t->k ? 0.0 : t->h[0].score;
}

typedef struct scorer {
    double k1, b, w, avgdl;
} scorer;

typedef struct qterm {
    char *text;
    size_t len;
    unsigned qtf;         /* times the term occurs in the query */
} qterm;

#define K3 1.0   /* query-term frequency saturation (see bm25.h) */

static inline double weight(const scorer *s, double idf, double tf, double dl)
{
    double norm = s->k1 * (1.0 - s->b + s->b * dl / s->avgdl);
    return idf * tf * (s->k1 + 1.0) / (tf + norm);
}

static inline double posting_weight(const scorer *s, double idf, uint32_t tfb, uint32_t tft,
                                    const mast_seg *g, uint32_t d)
{
    double tf = (double)tfb + s->w * (double)tft;
    double dl = (double)g->lb[d] + s->w * (double)g->lt[d];
    return weight(s, idf, tf, dl);
}

static inline double block_bound(const scorer *s, double idf, const seg_skip *k)
{
    double tf = (double)k->max_tfb + s->w * (double)k->max_tft;
    double dl = (double)k->min_lb + s->w * (double)k->min_lt;
    return weight(s, idf, tf, dl);
}

/* Scores are sums of term weights in fixed point (2^-44 steps), so that any
** order of adding gives the same bits: pruned search adds the terms in
** another order than the reference and must still match it exactly. The
** step is far below any difference that matters (5.7e-14), and a sum of up
** to 1,024 terms of weight < 2^9 cannot overflow. */
#define SCORE_ONE 17592186044416.0   /* 2^44 */

static inline int64_t fixed(double w)
{
    return (int64_t)(w * SCORE_ONE + 0.5);   /* weights are >= 0 */
}

/* The k-th largest of v[0..n) (1 <= k <= n), reordering v: quickselect with
** a three-way partition (ties are common). */
static int64_t kth_largest(int64_t *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n, want = k - 1;   /* the answer is within v[lo, hi) */
    for (;;) {
        if (hi - lo <= 1)
            return v[lo];
        int64_t a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi - 1];
        int64_t pivot = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
        size_t gt = lo, i = lo, lt = hi;   /* [lo, gt) > pivot, [gt, i) = pivot, [lt, hi) < pivot */
        while (i < lt) {
            int64_t x = v[i];
            if (x > pivot) {
                v[i++] = v[gt];
                v[gt++] = x;
            } else if (x < pivot) {
                v[i] = v[--lt];
                v[lt] = x;
            } else {
                i++;
            }
        }
        if (want < gt)
            hi = gt;
        else if (want < lt)
            return pivot;
        else
            lo = lt;
    }
}

typedef struct qparse {
    qterm *t;
    size_t n;
    int failed;
} qparse;

static void query_term(void *ctx, const char *t, size_t n)
{
    qparse *q = ctx;
    if (q->failed || q->n >= MAX_QUERY_TERMS)
        return;
    for (size_t i = 0; i < q->n; i++)
        if (q->t[i].len == n && memcmp(q->t[i].text, t, n) == 0) {
            q->t[i].qtf++;   /* one term, weighted by its repeats */
            return;
        }
    char *copy = malloc(n ? n : 1);
    if (!copy) {
        q->failed = 1;
        return;
    }
    memcpy(copy, t, n);
    q->t[q->n++] = (qterm){copy, n, 1};
}

typedef struct run {
    const scorer *sc;
    const mast_bm25_query *q;
    topk *top;
    mast_bm25_stats *stats;
    int bad;
} run;

static int doc_ok(const run *r, const segment *s, uint32_t d)
{
    return !deleted_at(s, d) && (!r->q->allow || r->q->allow(r->q->allow_ctx, s->seg.doc_ids[d]));
}

/* Scores every posting (the reference): term at a time into an accumulator. */
static mast_status search_exhaustive(run *r, const segment *s, const long *term, const double *idf,
                                     size_t nq)
{
    const mast_seg *g = &s->seg;
    size_t nd = g->n_docs ? g->n_docs : 1;
    int64_t *acc = calloc(nd, sizeof *acc), *vals = malloc(nd * sizeof *vals);
    uint32_t *touched = malloc(nd * sizeof *touched);
    seg_cursor *c = malloc(sizeof *c);
    if (!acc || !vals || !touched || !c) {
        free(acc); free(vals); free(touched); free(c);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    size_t n_touched = 0;
    for (size_t t = 0; t < nq; t++) {
        if (term[t] < 0)
            continue;
        seg_cursor_init(c, g, term[t]);
        for (uint32_t d = c->doc; d != SEG_END; d = seg_cursor_next(c)) {
            int64_t w = fixed(posting_weight(r->sc, idf[t], seg_cursor_tfb(c), seg_cursor_tft(c), g, d));
            if (acc[d] == 0 && w > 0)
                touched[n_touched++] = d;
            acc[d] += w;
            r->stats->scored++;
        }
        r->stats->decoded += c->decoded;
        r->bad |= c->bad;
    }
    /* the candidates' k-th best score first (quickselect), so that only the
    ** chunks at or above it go through the heap */
    size_t n_cand = 0;
    for (size_t i = 0; i < n_touched; i++)
        if (doc_ok(r, s, touched[i]))
            touched[n_cand++] = touched[i];
    for (size_t i = 0; i < n_cand; i++)
        vals[i] = acc[touched[i]];
    int64_t floor = 1;
    if (n_cand > r->top->k && r->top->k)
        floor = kth_largest(vals, n_cand, r->top->k);
    for (size_t i = 0; i < n_cand; i++) {
        uint32_t d = touched[i];
        if (acc[d] >= floor)
            topk_offer(r->top, (mast_hit){g->chunk_ids[d], g->doc_ids[d], (double)acc[d] / SCORE_ONE});
    }
    free(acc); free(vals); free(touched); free(c);
    return MAST_OK;
}

/* A candidate whose bound is within this of the threshold is scored exactly:
** bounds are sums in another order than scores. */
static double margin(double theta)
{
    return theta * 1e-9 + 1e-12;
}

#define WINDOW 8192   /* documents per window at most: the accumulator stays in L2 */

/* Block-max MaxScore over one segment, in windows of documents as Lucene's
** MaxScoreBulkScorer does. A window ends where the first of the terms'
** current postings blocks ends (and is small at first, while the threshold
** is low), so inside it each term's bound is its block's bound. Sorted by
** that bound, the terms whose bounds together cannot beat the threshold are
** non-essential; a window where every term is non-essential is skipped
** without decoding. The essential terms are added term at a time into the
** window's accumulator; each chunk they reached is then probed on the
** non-essential terms (best bound first) only while its bound can still
** beat the threshold. */
static mast_status search_pruned(run *r, const segment *s, const long *term, const double *idf,
                                 size_t nq)
{
    const mast_seg *g = &s->seg;
    size_t m = 0;   /* terms present in this segment */
    size_t nn = nq ? nq : 1;
    seg_cursor *cur = malloc(nn * sizeof *cur);
    size_t *qi = malloc(nn * sizeof *qi);        /* cursor -> query term */
    size_t *ord = malloc(nn * sizeof *ord);      /* by window bound, ascending */
    double *wub = malloc(nn * sizeof *wub), *cum = malloc(nn * sizeof *cum);
    int64_t *acc = calloc(WINDOW, sizeof *acc);
    uint64_t *hit = calloc(WINDOW / 64, sizeof *hit);
    if (!cur || !qi || !ord || !wub || !cum || !acc || !hit) {
        free(cur); free(qi); free(ord); free(wub); free(cum); free(acc); free(hit);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    for (size_t t = 0; t < nq; t++)
        if (term[t] >= 0) {
            seg_cursor_init_lazy(&cur[m], g, term[t]);
            qi[m++] = t;
        }
    uint32_t d0 = 0, width = 256;
    while (m) {
        /* the window [d0, end]: small at first, while the threshold is low */
        uint32_t end = d0 > UINT32_MAX - width ? UINT32_MAX - 1 : d0 + width - 1;
        if (width < WINDOW)
            width *= 2;
        int any = 0;
        for (size_t i = 0; i < m; i++) {
            const seg_skip *k = seg_cursor_block_of(&cur[i], d0);
            wub[i] = k ? block_bound(r->sc, idf[qi[i]], k) : 0.0;
            if (k) {
                any = 1;
                if (k->last_doc < end)
                    end = k->last_doc;
            }
        }
        if (!any)
            break;
        for (size_t i = 0; i < m; i++) {   /* insertion sort by bound: m is small */
            size_t j = i;
            for (; j > 0 && wub[ord[j - 1]] > wub[i]; j--)
                ord[j] = ord[j - 1];
            ord[j] = i;
        }
        double sum = 0;
        for (size_t j = 0; j < m; j++)
            cum[j] = sum += wub[ord[j]];
        double theta = topk_threshold(r->top);
        size_t e = 0;   /* ord[e..m) are essential */
        while (e < m && cum[e] <= theta - margin(theta))
            e++;
        if (e == m) {   /* nothing here can beat the threshold */
            d0 = end + 1;
            continue;
        }
        for (size_t j = e; j < m; j++) {
            seg_cursor *c = &cur[ord[j]];
            double f = idf[qi[ord[j]]];
            for (uint32_t d = seg_cursor_advance(c, d0); d <= end; d = seg_cursor_next(c)) {
                acc[d - d0] += fixed(posting_weight(r->sc, f, seg_cursor_tfb(c), seg_cursor_tft(c), g, d));
                hit[(d - d0) >> 6] |= 1ull << ((d - d0) & 63);
                r->stats->scored++;
            }
        }
        double rest = e ? cum[e - 1] : 0.0;   /* the non-essential terms' bounds */
        for (uint32_t wi = 0; wi < WINDOW / 64; wi++) {
            for (uint64_t bits = hit[wi]; bits; bits &= bits - 1) {
                uint32_t off = wi * 64 + (uint32_t)__builtin_ctzll(bits), d = d0 + off;
                int64_t score = acc[off];
                acc[off] = 0;
                double bound = (double)score / SCORE_ONE + rest;
                if (!doc_ok(r, s, d))
                    continue;
                int alive = 1;
                for (size_t j = e; alive && j-- > 0;) {
                    theta = topk_threshold(r->top);
                    if (bound <= theta - margin(theta)) {
                        alive = 0;
                        break;
                    }
                    seg_cursor *c = &cur[ord[j]];
                    bound -= wub[ord[j]];
                    if (seg_cursor_advance(c, d) == d) {
                        double w = posting_weight(r->sc, idf[qi[ord[j]]], seg_cursor_tfb(c),
                                                  seg_cursor_tft(c), g, d);
                        score += fixed(w);
                        bound += w;
                        r->stats->scored++;
                    }
                }
                if (alive && score > 0)
                    topk_offer(r->top, (mast_hit){g->chunk_ids[d], g->doc_ids[d],
                                                  (double)score / SCORE_ONE});
            }
            hit[wi] = 0;
        }
        if (end >= g->n_docs - 1)
            break;
        d0 = end + 1;
    }
    for (size_t i = 0; i < m; i++) {
        r->stats->decoded += cur[i].decoded;
        r->bad |= cur[i].bad;
    }
    free(cur); free(qi); free(ord); free(wub); free(cum); free(acc); free(hit);
    return MAST_OK;
}

mast_status mast_bm25_search_with(const mast_bm25 *x, mast_analyzer *a, const char *query,
                                  size_t len, const mast_bm25_query *q, mast_hit **hits,
                                  size_t *n_hits, mast_bm25_stats *stats)
{
    *hits = NULL;
    *n_hits = 0;
    mast_bm25_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    if (x->p.n)
        return mast_fail(MAST_ERR_INVALID, "%zu chunks were added after the last flush",
                         x->p.n);
    qparse qp = {malloc(MAX_QUERY_TERMS * sizeof *qp.t), 0, 0};
    if (!qp.t)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_analyze(a, query, len, query_term, &qp);
    size_t nq = qp.n;
    uint64_t n_docs = 0, sum_lb = 0, sum_lt = 0;
    for (size_t i = 0; i < x->n_segs; i++) {
        n_docs += x->segs[i].seg.n_docs;
        sum_lb += x->segs[i].seg.sum_lb;
        sum_lt += x->segs[i].seg.sum_lt;
    }
    double w = q->title_weight > 0 ? q->title_weight : MAST_BM25_TITLE_WEIGHT;
    scorer sc = {x->params.k1, x->params.b, w, 0};
    if (n_docs)
        sc.avgdl = ((double)sum_lb + w * (double)sum_lt) / (double)n_docs;
    if (!(sc.avgdl > 0))
        sc.avgdl = 1;
    long *terms = malloc((nq * (x->n_segs ? x->n_segs : 1) + 1) * sizeof *terms);
    double *idf = malloc((nq ? nq : 1) * sizeof *idf);
    topk top = {malloc((q->k ? q->k : 1) * sizeof(mast_hit)), 0, q->k};
    mast_status st = qp.failed || !terms || !idf || !top.h
                         ? mast_fail(MAST_ERR_NOMEM, "out of memory")
                         : MAST_OK;
    /* each term's dictionary entry per segment, and its idf over all */
    for (size_t t = 0; st == MAST_OK && t < nq; t++) {
        uint64_t df = 0;
        for (size_t i = 0; i < x->n_segs; i++) {
            long e = seg_find_term(&x->segs[i].seg, qp.t[t].text, qp.t[t].len);
            terms[i * nq + t] = e;
            if (e >= 0) {
                df += x->segs[i].seg.terms[e].df;
                stats->postings += x->segs[i].seg.terms[e].df;
            }
        }
        double qtf = qp.t[t].qtf;
        idf[t] = log(1.0 + ((double)n_docs - (double)df + 0.5) / ((double)df + 0.5)) *
                 (qtf * (K3 + 1.0) / (K3 + qtf));
    }
    run r = {&sc, q, &top, stats, 0};
    for (size_t i = 0; st == MAST_OK && q->k && nq && i < x->n_segs; i++) {
        if (x->segs[i].n_deleted == x->segs[i].seg.n_docs)
            continue;
        /* small segments and long queries of common words: faster scored whole */
        const mast_seg *g = &x->segs[i].seg;
        uint64_t seg_postings = 0;
        for (size_t t = 0; t < nq; t++)
            if (terms[i * nq + t] >= 0)
                seg_postings += g->terms[terms[i * nq + t]].df;
        int whole = q->strategy == MAST_BM25_EXHAUSTIVE ||
                    (q->strategy == MAST_BM25_AUTO &&
                     (g->n_docs <= SMALL_SEGMENT ||
                      (double)seg_postings >= WHOLE_POSTINGS_PER_CHUNK * g->n_docs));
        st = whole ? search_exhaustive(&r, &x->segs[i], terms + i * nq, idf, nq)
                   : search_pruned(&r, &x->segs[i], terms + i * nq, idf, nq);
    }
    if (st == MAST_OK && r.bad)
        st = mast_fail(MAST_ERR_FORMAT, "a postings block of the text index is damaged");
    for (size_t t = 0; t < qp.n; t++)
        free(qp.t[t].text);
    free(qp.t);
    free(terms);
    free(idf);
    if (st != MAST_OK) {
        free(top.h);
        return st;
    }
    if (top.n > 1)
        qsort(top.h, top.n, sizeof *top.h, cmp_hits);
    *hits = top.h;
    *n_hits = top.n;
    return MAST_OK;
}

mast_status mast_bm25_search(const mast_bm25 *x, mast_analyzer *a, const char *query, size_t len,
                             size_t k, mast_hit **hits, size_t *n_hits)
{
    mast_bm25_query q = {.k = k};
    return mast_bm25_search_with(x, a, query, len, &q, hits, n_hits, NULL);
}

/* ---- merging ---- */

/* Replaces segments [from, to) by their merge (deleted chunks dropped). */
static mast_status merge_range(mast_bm25 *x, size_t from, size_t to)
{
    size_t n = to - from;
    const mast_seg **segs = malloc(n * sizeof *segs);
    const uint8_t **del = malloc(n * sizeof *del);
    if (!segs || !del) {
        free(segs);
        free(del);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        segs[i] = &x->segs[from + i].seg;
        del[i] = x->segs[from + i].deleted;
    }
    uint8_t *image;
    size_t size;
    mast_status st = seg_merge(segs, del, n, &image, &size);
    free(segs);
    free(del);
    if (st != MAST_OK)
        return st;
    for (size_t i = from; i < to; i++) {
        seg_free(&x->segs[i].seg);
        free(x->segs[i].deleted);
    }
    memmove(&x->segs[from], &x->segs[to], (x->n_segs - to) * sizeof *x->segs);
    x->n_segs -= n;
    return push_segment(x, image, size, NULL, 0, from);
}

mast_status mast_bm25_maintain(mast_bm25 *x, int all)
{
    MAST_TRY(mast_bm25_flush(x));
    if (all) {
        if (x->n_segs > 1 || (x->n_segs == 1 && x->segs[0].n_deleted))
            MAST_TRY(merge_range(x, 0, x->n_segs));
        return MAST_OK;
    }
    for (size_t i = 0; i < x->n_segs; i++)
        if ((uint64_t)x->segs[i].n_deleted * 5 > x->segs[i].seg.n_docs)
            MAST_TRY(merge_range(x, i, i + 1));
    while (x->n_segs > MAX_SEGMENTS) {
        /* the two newest, and each older neighbour no larger than the run so
        ** far: a chunk is merged again only into a segment at least twice
        ** the size, so it is rewritten O(log n) times */
        size_t from = x->n_segs - 2;
        uint64_t run = (uint64_t)x->segs[from].seg.n_docs + x->segs[from + 1].seg.n_docs;
        while (from > 0 && x->segs[from - 1].seg.n_docs <= run) {
            from--;
            run += x->segs[from].seg.n_docs;
        }
        MAST_TRY(merge_range(x, from, x->n_segs));
    }
    /* zero-chunk segments (everything deleted) */
    for (size_t i = 0; i < x->n_segs;)
        if (x->segs[i].seg.n_docs == 0) {
            seg_free(&x->segs[i].seg);
            free(x->segs[i].deleted);
            memmove(&x->segs[i], &x->segs[i + 1], (x->n_segs - i - 1) * sizeof *x->segs);
            x->n_segs--;
        } else {
            i++;
        }
    return MAST_OK;
}

/* ---- files ---- */

#define MANIFEST_MAGIC "MASTTIX1"
#define MANIFEST_VERSION 1

typedef struct manifest_head {
    char magic[8];
    uint32_t version, n_segs;
    uint64_t data_version, next_gen;
    int64_t max_chunk;
    char tag[64];
} manifest_head;

typedef struct manifest_seg {
    uint64_t gen, checksum, size;
    uint32_t n_docs, n_deleted;
} manifest_seg;

static char *seg_path(const char *path, uint64_t gen)
{
    mast_buf b = {0};
    if (mast_buf_printf(&b, "%s-%llu", path, (unsigned long long)gen) != MAST_OK) {
        mast_buf_free(&b);
        return NULL;
    }
    return mast_buf_detach(&b);
}

/* Removes path-<digits> files other than the segments named (keep[0..n)). */
static void remove_stale(const char *path, const segment *keep, size_t n)
{
    const char *slash = strrchr(path, '/');
    mast_buf dir = {0};
    if (slash ? mast_buf_append(&dir, path, (size_t)(slash - path + 1)) != MAST_OK
              : mast_buf_puts(&dir, "./") != MAST_OK) {
        mast_buf_free(&dir);
        return;
    }
    const char *base = slash ? slash + 1 : path;
    size_t nb = strlen(base);
    DIR *d = opendir(mast_buf_cstr(&dir));
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, base, nb) != 0 || e->d_name[nb] != '-' || !e->d_name[nb + 1])
            continue;
        char *endp;
        errno = 0;
        unsigned long long gen = strtoull(e->d_name + nb + 1, &endp, 10);
        if (*endp || errno)
            continue;
        int used = 0;
        for (size_t i = 0; i < n && !used; i++)
            used = keep[i].gen == gen;
        if (!used) {
            size_t mark = dir.len;
            if (mast_buf_puts(&dir, e->d_name) == MAST_OK)
                unlink(dir.data);
            dir.len = mark;
            dir.data[mark] = '\0';
        }
    }
    if (d)
        closedir(d);
    mast_buf_free(&dir);
}

void mast_bm25_remove_files(const char *path)
{
    unlink(path);
    remove_stale(path, NULL, 0);
}

mast_status mast_bm25_save(mast_bm25 *x, const char *path, uint64_t data_version, const char *tag)
{
    MAST_TRY(mast_bm25_flush(x));
    /* the generation after every file already there, so no live file is overwritten */
    for (size_t i = 0; i < x->n_segs; i++)
        if (x->segs[i].gen >= x->next_gen)
            x->next_gen = x->segs[i].gen + 1;
    for (size_t i = 0; i < x->n_segs; i++) {
        segment *s = &x->segs[i];
        if (s->gen)
            continue;
        char *p = seg_path(path, x->next_gen);
        if (!p)
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        mast_file_out f;
        mast_status st = mast_file_begin(&f, p);
        if (st == MAST_OK) {
            mast_file_write(&f, s->seg.data, s->seg.size);
            st = mast_file_commit(&f);
        }
        free(p);
        if (st != MAST_OK)
            return st;
        s->gen = x->next_gen++;
    }
    manifest_head h = {{0}, MANIFEST_VERSION, (uint32_t)x->n_segs, data_version, x->next_gen,
                       x->max_chunk, {0}};
    memcpy(h.magic, MANIFEST_MAGIC, 8);
    if (tag)
        snprintf(h.tag, sizeof h.tag, "%s", tag);
    mast_buf b = {0};
    mast_status st = mast_buf_append(&b, &h, sizeof h);
    for (size_t i = 0; st == MAST_OK && i < x->n_segs; i++) {
        const segment *s = &x->segs[i];
        manifest_seg e = {s->gen, s->seg.checksum, s->seg.size, s->seg.n_docs, s->n_deleted};
        st = mast_buf_append(&b, &e, sizeof e);
    }
    for (size_t i = 0; st == MAST_OK && i < x->n_segs; i++)
        if (x->segs[i].n_deleted)
            st = mast_buf_append(&b, x->segs[i].deleted, (x->segs[i].seg.n_docs + 7) / 8);
    uint64_t sum = st == MAST_OK ? mast_hash64(b.data, b.len) : 0;
    if (st == MAST_OK)
        st = mast_buf_append(&b, &sum, sizeof sum);
    if (st == MAST_OK) {
        mast_file_out f;
        st = mast_file_begin(&f, path);
        if (st == MAST_OK) {
            mast_file_write(&f, b.data, b.len);
            st = mast_file_commit(&f);
        }
    }
    mast_buf_free(&b);
    if (st == MAST_OK)
        remove_stale(path, x->segs, x->n_segs);
    return st;
}

mast_status mast_bm25_open(const char *path, const mast_bm25_params *params, mast_bm25 **out,
                           uint64_t *data_version, char *tag)
{
    *out = NULL;
    char *data;
    size_t len;
    mast_status st = mast_read_file(path, (size_t)1 << 32, &data, &len);
    if (st != MAST_OK) {
        if (access(path, F_OK) != 0 && errno == ENOENT)
            return mast_fail(MAST_ERR_NOT_FOUND, "%s: no text index", path);
        return st;
    }
    manifest_head h;
    uint64_t sum;
    const char *why = NULL;
    if (len < sizeof h + sizeof sum) {
        why = "too short";
    } else {
        memcpy(&h, data, sizeof h);
        memcpy(&sum, data + len - sizeof sum, sizeof sum);
        if (memcmp(h.magic, MANIFEST_MAGIC, 8) != 0)
            why = "not a mast text index";
        else if (h.version != MANIFEST_VERSION)
            why = "unsupported text index version";
        else if (mast_hash64(data, len - sizeof sum) != sum)
            why = "checksum mismatch (the file is corrupt)";
        else if (h.n_segs > (len - sizeof h) / sizeof(manifest_seg))
            why = "segment table out of range";
    }
    mast_bm25 *x = NULL;
    if (!why) {
        st = mast_bm25_create(&x, params);
        if (st != MAST_OK) {
            free(data);
            return st;
        }
        x->next_gen = h.next_gen;
        x->max_chunk = h.max_chunk;
        size_t bits_at = sizeof h + (size_t)h.n_segs * sizeof(manifest_seg);
        for (uint32_t i = 0; !why && st == MAST_OK && i < h.n_segs; i++) {
            manifest_seg e;
            memcpy(&e, data + sizeof h + i * sizeof e, sizeof e);
            size_t nbits = (e.n_docs + 7) / 8;
            if (e.n_deleted > e.n_docs ||
                (e.n_deleted && bits_at + nbits > len - sizeof sum)) {
                why = "deleted-chunk table out of range";
                break;
            }
            char *p = seg_path(path, e.gen);
            mast_mapped map = {0};
            st = p && mast_grow_array((void **)&x->segs, &x->cap_segs, x->n_segs + 1,
                                      sizeof *x->segs)
                     ? mast_mmap_file(p, &map)
                     : mast_fail(MAST_ERR_NOMEM, "out of memory");
            if (st == MAST_OK) {
                segment *s = &x->segs[x->n_segs];
                memset(s, 0, sizeof *s);
                st = seg_parse(&s->seg, map.data, map.size, NULL, &map, 1, p);
                if (st == MAST_OK && (s->seg.checksum != e.checksum || s->seg.n_docs != e.n_docs)) {
                    seg_free(&s->seg);
                    st = mast_fail(MAST_ERR_FORMAT, "%s: not the segment the manifest names", p);
                }
                if (st == MAST_OK) {
                    s->gen = e.gen;
                    x->n_segs++;
                    if (e.n_deleted) {
                        if (!(s->deleted = malloc(nbits))) {
                            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
                        } else {
                            memcpy(s->deleted, data + bits_at, nbits);
                            for (uint32_t d = 0; d < e.n_docs; d++)
                                s->n_deleted += deleted_at(s, d);
                            if (s->n_deleted != e.n_deleted)
                                why = "deleted-chunk count does not match";
                        }
                        bits_at += nbits;
                    }
                }
            } else if (st != MAST_ERR_NOMEM) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s", mast_errmsg());
                st = mast_fail(MAST_ERR_FORMAT, "%s (a segment of %s)", msg, path);
            }
            free(p);
        }
        if (!why && st == MAST_OK && x->n_segs &&
            x->segs[x->n_segs - 1].seg.chunk_ids[x->segs[x->n_segs - 1].seg.n_docs - 1] > x->max_chunk)
            why = "chunk ids beyond the recorded maximum";
        for (size_t i = 1; !why && st == MAST_OK && i < x->n_segs; i++) {
            const mast_seg *a = &x->segs[i - 1].seg, *b = &x->segs[i].seg;
            if (a->n_docs && b->n_docs && a->chunk_ids[a->n_docs - 1] >= b->chunk_ids[0])
                why = "segments overlap";
        }
    }
    free(data);
    if (why || st != MAST_OK) {
        mast_bm25_free(x);
        return why ? mast_fail(MAST_ERR_FORMAT, "%s: %s", path, why) : st;
    }
    if (data_version)
        *data_version = h.data_version;
    if (tag)
        memcpy(tag, h.tag, sizeof h.tag), tag[sizeof h.tag - 1] = '\0';
    *out = x;
    return MAST_OK;
}

void mast_bm25_get_info(const mast_bm25 *x, mast_bm25_info *info)
{
    memset(info, 0, sizeof *info);
    info->segments = x->n_segs;
    for (size_t i = 0; i < x->n_segs; i++) {
        const segment *s = &x->segs[i];
        info->chunks += s->seg.n_docs - s->n_deleted;
        info->deleted += s->n_deleted;
        info->postings += s->seg.total_postings;
        info->bytes += s->seg.size + (s->n_deleted ? (s->seg.n_docs + 7) / 8 : 0);
        if (s->seg.n_terms > info->terms_max)
            info->terms_max = s->seg.n_terms;
    }
}
