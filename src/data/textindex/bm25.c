/*
** data/textindex/bm25.c — the BM25 index over segments (see bm25.h).
**
** Added chunks collect in a pending in-memory inverted index (a term
** dictionary over interned strings, postings of (chunk, tf_body, tf_title));
** a flush sorts its terms and writes them as one segment image. Search runs
** over the segments one after another with one top-k heap, so a later
** segment starts with the threshold the earlier ones reached.
**
** This file: adding, deleting, merging; bm25_search.c ranks, bm25_file.c
** reads and writes the files; bm25_impl.h holds what they share.
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
#include "data/textindex/bm25_impl.h"
#include "data/textindex/segment.h"

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

mast_status mast_bm25_push_segment(mast_bm25 *x, uint8_t *image, size_t size, uint8_t *deleted,
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
        st = mast_bm25_push_segment(x, image, size, bits, n_deleted, x->n_segs);
    else
        free(bits);
    if (st == MAST_OK)
        pending_free(p);
    return st;
}

mast_status bm25_adopt_segment(mast_bm25 *x, uint8_t *image, size_t size)
{
    MAST_TRY(mast_bm25_flush(x));
    return mast_bm25_push_segment(x, image, size, NULL, 0, x->n_segs);
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
    return mast_bm25_push_segment(x, image, size, NULL, 0, from);
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
