/*
** data/textindex/bm25_search.c — ranking over the BM25 segments (see
** bm25.h): exact top-k by block-max MaxScore in windows of documents, or the
** whole segment term at a time when that is faster; scores in fixed point so
** that both give the same bits.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/status.h"
#include "data/textindex/bm25_impl.h"

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
