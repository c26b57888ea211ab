/*
** data/vindex/hnsw.c — the HNSW graph (see vindex.h): level draws, greedy
** descent, the level beam search, insertion with the neighbour-selection
** heuristic (Malkov & Yashunin 2018, algorithms 1, 2 and 4) and bounded
** reverse links. Link lists are arrays of atomics (count, then labels), so
** that searches read them while an insert rewrites them: a search may see
** an old or a new neighbour, never an invalid one.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "data/vindex/vindex_impl.h"

#define LOAD(p) atomic_load_explicit((p), memory_order_relaxed)
#define STORE(p, x) atomic_store_explicit((p), (x), memory_order_relaxed)

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* floor(-ln(u) * mL) with u uniform in (0, 1], drawn from (seed, label) so
** that a node's level does not depend on thread scheduling */
int hnsw_draw_level(const mast_vindex *v, uint32_t label)
{
    uint64_t h = splitmix64(v->p.seed ^ splitmix64(label));
    double u = ((double)(h >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    int l = (int)(-log(u) * v->ml);
    return l < VINDEX_MAX_LEVEL - 1 ? l : VINDEX_MAX_LEVEL - 1;
}

/* ---- heaps ---- */

static void sift_up(cand *h, size_t i, int max)
{
    cand x = h[i];
    while (i) {
        size_t p = (i - 1) / 2;
        if (max ? !(h[p].d < x.d) : !(h[p].d > x.d))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static void sift_down(cand *h, size_t n, int max)
{
    if (!n)
        return;
    cand x = h[0];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && (max ? h[c + 1].d > h[c].d : h[c + 1].d < h[c].d))
            c++;
        if (max ? !(h[c].d > x.d) : !(h[c].d < x.d))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

void cand_push_min(cand *h, size_t *n, cand c) { h[*n] = c; sift_up(h, (*n)++, 0); }
void cand_push_max(cand *h, size_t *n, cand c) { h[*n] = c; sift_up(h, (*n)++, 1); }

cand cand_pop_min(cand *h, size_t *n)
{
    cand top = h[0];
    h[0] = h[--*n];
    sift_down(h, *n, 0);
    return top;
}

cand cand_pop_max(cand *h, size_t *n)
{
    cand top = h[0];
    h[0] = h[--*n];
    sift_down(h, *n, 1);
    return top;
}

static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->d != y->d)
        return x->d < y->d ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* ---- search ---- */

static size_t max_links(const mast_vindex *v, int level) { return level ? (size_t)v->p.m : (size_t)v->m0; }

/* Greedy walk to the closest node at `level`. */
static uint32_t greedy(const mast_vindex *v, const vquery *q, uint32_t cur, float *cur_d,
                       int level, size_t limit, uint64_t *n_dist)
{
    for (int changed = 1; changed;) {
        changed = 0;
        _Atomic uint32_t *l = hnsw_links(v, cur, level);
        size_t cnt = LOAD(&l[0]), mx = max_links(v, level);
        for (size_t i = 0; i < cnt && i < mx; i++) {
            uint32_t nb = LOAD(&l[1 + i]);
            if (nb >= limit)
                continue;
            float d = vindex_dist(v, q, nb);
            (*n_dist)++;
            if (d < *cur_d) {
                *cur_d = d;
                cur = nb;
                changed = 1;
            }
        }
    }
    return cur;
}

/* Brings a node's stored vector towards the cache ahead of its distance. */
static inline void prefetch_code(const mast_vindex *v, uint32_t label)
{
    const char *c = vindex_code(v, label);
    for (size_t off = 0; off < v->code_size; off += 64)
        __builtin_prefetch(c + off);
}

/* Beam search of width ef at `level` from ep; results passing `ok` end in
** s->r (max-heap), candidates explore every node (so a filter never cuts
** the graph). Returns the number of results. Each expansion first collects
** the unvisited neighbours and prefetches their vectors, then measures
** them: the memory latency of one overlaps the arithmetic of the others. */
static size_t layer_search(const mast_vindex *v, const vquery *q, uint32_t ep, float ep_d,
                           size_t ef, int level,
                           int (*ok)(const mast_vindex *, uint32_t, void *), void *ctx,
                           size_t limit, vscratch *s, uint64_t *n_dist)
{
    if (s->tag_cap < limit) {
        uint16_t *t = realloc(s->tag, limit * sizeof *t);
        if (!t)
            return 0;
        memset(t + s->tag_cap, 0, (limit - s->tag_cap) * sizeof *t);
        s->tag = t;
        s->tag_cap = limit;
    }
    if (++s->cur == 0) {   /* tags wrapped: start over */
        memset(s->tag, 0, s->tag_cap * sizeof *s->tag);
        s->cur = 1;
    }
    if (!vindex_heap_reserve(&s->r, &s->r_cap, ef + 2) ||
        !vindex_heap_reserve(&s->c, &s->c_cap, 64))
        return 0;
    size_t nc = 0, nr = 0, mx = max_links(v, level);
    uint32_t todo[2 * 128 + 1];
    cand_push_min(s->c, &nc, (cand){ep_d, ep});
    s->tag[ep] = s->cur;
    if (!ok || ok(v, ep, ctx))
        cand_push_max(s->r, &nr, (cand){ep_d, ep});
    while (nc) {
        cand c = cand_pop_min(s->c, &nc);
        if (nr >= ef && c.d > s->r[0].d)
            break;
        if (nc)   /* the next expansion's list */
            __builtin_prefetch((const void *)hnsw_links(v, s->c[0].id, level));
        _Atomic uint32_t *l = hnsw_links(v, c.id, level);
        size_t cnt = LOAD(&l[0]), nt = 0;
        if (cnt > mx)
            cnt = mx;
        for (size_t i = 0; i < cnt; i++) {
            uint32_t nb = LOAD(&l[1 + i]);
            if (nb >= limit || s->tag[nb] == s->cur)
                continue;
            s->tag[nb] = s->cur;
            prefetch_code(v, nb);
            todo[nt++] = nb;
        }
        for (size_t i = 0; i < nt; i++) {
            uint32_t nb = todo[i];
            float d = vindex_dist(v, q, nb);
            (*n_dist)++;
            if (nr < ef || d < s->r[0].d) {
                if (!vindex_heap_reserve(&s->c, &s->c_cap, nc + 1))
                    return nr;
                cand_push_min(s->c, &nc, (cand){d, nb});
                if (!ok || ok(v, nb, ctx)) {
                    cand_push_max(s->r, &nr, (cand){d, nb});
                    if (nr > ef)
                        cand_pop_max(s->r, &nr);
                }
            }
        }
    }
    return nr;
}

size_t hnsw_search(const mast_vindex *v, const vquery *q, size_t ef,
                   int (*ok)(const mast_vindex *, uint32_t, void *), void *ctx, size_t limit,
                   vscratch *s, uint64_t *n_dist)
{
    int top = atomic_load(&v->max_level);
    if (top < 0 || limit == 0)
        return 0;
    uint32_t ep = atomic_load(&v->entry);
    if (ep >= limit)
        return 0;
    float d = vindex_dist(v, q, ep);
    (*n_dist)++;
    for (int l = top; l > 0; l--)
        ep = greedy(v, q, ep, &d, l, limit, n_dist);
    return layer_search(v, q, ep, d, ef, 0, ok, ctx, limit, s, n_dist);
}

/* ---- insertion ---- */

/* Algorithm 4: walk the candidates (sorted, closest first) and keep one
** when it is closer to the base than to every one kept so far. */
static size_t select_neighbours(const mast_vindex *v, const cand *w, size_t n, size_t m,
                                cand *out, vscratch *s)
{
    if (n <= m) {
        memcpy(out, w, n * sizeof *w);
        return n;
    }
    size_t kept = 0;
    for (size_t i = 0; i < n && kept < m; i++) {
        vquery e;
        vindex_prepare(v, vindex_decode(v, w[i].id, s->buf), &e, s->buf2);
        int good = 1;
        for (size_t j = 0; j < kept && good; j++)
            good = vindex_dist(v, &e, out[j].id) >= w[i].d;
        if (good)
            out[kept++] = w[i];
    }
    return kept;
}

static void set_links(_Atomic uint32_t *l, const cand *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        STORE(&l[1 + i], c[i].id);
    atomic_store_explicit(&l[0], (uint32_t)n, memory_order_release);
}

/* Adds `label` to nb's list at `level`, pruning it with the heuristic when full. */
static void link_back(mast_vindex *v, uint32_t nb, uint32_t label, float d, int level, cand *tmp,
                      vscratch *s)
{
    pthread_mutex_t *mu = &v->stripes[nb % VINDEX_STRIPES];
    pthread_mutex_lock(mu);
    _Atomic uint32_t *l = hnsw_links(v, nb, level);
    size_t cnt = LOAD(&l[0]), mx = max_links(v, level);
    if (cnt < mx) {
        STORE(&l[1 + cnt], label);
        atomic_store_explicit(&l[0], (uint32_t)(cnt + 1), memory_order_release);
        pthread_mutex_unlock(mu);
        return;
    }
    vquery q;
    vindex_prepare(v, vindex_decode(v, nb, s->buf3), &q, s->buf4);
    size_t n = 0;
    for (size_t i = 0; i < cnt; i++) {
        uint32_t x = LOAD(&l[1 + i]);
        tmp[n++] = (cand){vindex_dist(v, &q, x), x};
    }
    tmp[n++] = (cand){d, label};
    qsort(tmp, n, sizeof *tmp, cand_cmp);
    cand *kept = tmp + n;
    size_t k = select_neighbours(v, tmp, n, mx, kept, s);
    set_links(l, kept, k);
    pthread_mutex_unlock(mu);
}

mast_status hnsw_insert(mast_vindex *v, uint32_t label, const float *vec, vscratch *s)
{
    vquery q;
    vindex_prepare(v, vec, &q, s->qbuf);
    int l = v->level[label];
    pthread_mutex_lock(&v->entry_mu);
    int top = atomic_load(&v->max_level);
    if (top < 0) {
        atomic_store(&v->entry, label);
        atomic_store(&v->max_level, l);
        pthread_mutex_unlock(&v->entry_mu);
        return MAST_OK;
    }
    uint32_t ep = atomic_load(&v->entry);
    int raise = l > top;   /* keep the entry lock: this node becomes the entry */
    if (!raise)
        pthread_mutex_unlock(&v->entry_mu);
    size_t limit = v->cap;
    uint64_t n_dist = 0;
    float d = vindex_dist(v, &q, ep);
    for (int lev = top; lev > l; lev--)
        ep = greedy(v, &q, ep, &d, lev, limit, &n_dist);
    size_t m0 = (size_t)v->m0;
    cand *w = malloc((size_t)(v->p.ef_construction + 2) * sizeof *w);
    cand *tmp = malloc(2 * (m0 + 2) * sizeof *tmp);
    cand *sel = malloc((m0 + 1) * sizeof *sel);
    mast_status st = w && tmp && sel ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (int lev = l < top ? l : top; lev >= 0 && st == MAST_OK; lev--) {
        size_t nr = layer_search(v, &q, ep, d, (size_t)v->p.ef_construction, lev, NULL, NULL,
                                 limit, s, &n_dist);
        if (nr == 0) {
            st = mast_fail(MAST_ERR_NOMEM, "out of memory searching the graph");
            break;
        }
        memcpy(w, s->r, nr * sizeof *w);
        qsort(w, nr, sizeof *w, cand_cmp);
        size_t k = select_neighbours(v, w, nr, (size_t)v->p.m, sel, s);
        pthread_mutex_t *mu = &v->stripes[label % VINDEX_STRIPES];
        pthread_mutex_lock(mu);
        set_links(hnsw_links(v, label, lev), sel, k);
        pthread_mutex_unlock(mu);
        for (size_t i = 0; i < k; i++)
            link_back(v, sel[i].id, label, sel[i].d, lev, tmp, s);
        ep = w[0].id;
        d = w[0].d;
    }
    if (raise) {
        if (st == MAST_OK) {
            atomic_store(&v->entry, label);
            atomic_store(&v->max_level, l);
        }
        pthread_mutex_unlock(&v->entry_mu);
    }
    free(w);
    free(tmp);
    free(sel);
    return st;
}
