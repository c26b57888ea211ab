/*
** data/retrieve.c — search over a collection (see retrieve.h): BM25, dense
** (the query embedded, or the caller's vector), hybrid fusion, metadata
** filters, one hit per document; the indexes come from the cache
** (index_cache.c).
*/
#include "data/retrieve.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/status.h"
#include "data/retrieve_impl.h"

static mast_status group_hits(mast_hit *hits, size_t n, size_t k, size_t *n_out)
{
    /* keep the first (best) hit of each document, in rank order */
    size_t kept = 0;
    for (size_t i = 0; i < n && kept < k; i++) {
        int dup = 0;
        for (size_t j = 0; j < kept && !dup; j++)
            dup = hits[j].doc_id == hits[i].doc_id;
        if (!dup)
            hits[kept++] = hits[i];
    }
    *n_out = kept;
    return MAST_OK;
}

int mast_search_mode_parse(const char *name)
{
    if (strcmp(name, "auto") == 0) return MAST_MODE_AUTO;
    if (strcmp(name, "bm25") == 0) return MAST_MODE_BM25;
    if (strcmp(name, "dense") == 0) return MAST_MODE_DENSE;
    if (strcmp(name, "hybrid") == 0) return MAST_MODE_HYBRID;
    return -1;
}

const char *mast_search_mode_name(mast_search_mode mode)
{
    static const char *names[] = {"auto", "bm25", "dense", "hybrid"};
    return names[mode];
}

static int cmp_chunk_id(const void *a, const void *b)
{
    int64_t x = ((const mast_hit *)a)->chunk_id, y = ((const mast_hit *)b)->chunk_id;
    return (x > y) - (x < y);
}

static int64_t doc_of(const index_ref *ref, int64_t chunk_id)
{
    const int64_t *p = ref->n_vec ? bsearch(&chunk_id, ref->vchunk, ref->n_vec, sizeof *ref->vchunk,
                                            mast_cmp_i64)
                                  : NULL;
    return p ? ref->vdoc[p - ref->vchunk] : -1;
}

/* A metadata filter resolved to document ids (ascending); NULL = none. */
typedef struct doc_set {
    const index_ref *ref;
    int64_t *ids;
    size_t n;
} doc_set;

static int doc_allowed(const doc_set *f, int64_t doc_id)
{
    return !f || (f->n && bsearch(&doc_id, f->ids, f->n, sizeof *f->ids, mast_cmp_i64) != NULL);
}

static bool chunk_allowed(void *ctx, int64_t chunk_id)
{
    const doc_set *f = ctx;
    return doc_allowed(f, doc_of(f->ref, chunk_id));
}

/* The top `want` chunks from the collection's vector index, for the query
** vector the caller gave, or else for the query text embedded by the model. */
static mast_status dense_search(index_ref *ref, const char *query, const mast_search_opts *o,
                                size_t want, const doc_set *filter, mast_hit **hits,
                                size_t *n_hits)
{
    *hits = NULL;
    *n_hits = 0;
    if (!ref->dense)
        return MAST_OK;
    float *q = malloc((size_t)ref->dim * sizeof *q);
    mast_vhit *vh = malloc(want * sizeof *vh);
    mast_hit *out = malloc(want * sizeof *out);
    mast_status st = q && vh && out ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (st == MAST_OK && o->query_vector) {
        memcpy(q, o->query_vector, (size_t)ref->dim * sizeof *q);   /* dimension checked */
    } else if (st == MAST_OK) {
        pthread_mutex_lock(&ref->embed_mu);
        st = mast_embedder_embed(ref->embedder, &query, 1, true, q, NULL);
        pthread_mutex_unlock(&ref->embed_mu);
    }
    int zero = 1;   /* a query with nothing the model knows: no dense hits */
    for (int d = 0; st == MAST_OK && d < ref->dim; d++)
        zero &= q[d] == 0.0f;
    size_t n = 0;
    if (st == MAST_OK && !zero) {
        /* a beam of twice the list (at least 128) keeps HNSW's recall near exact */
        mast_vsearch_opts o = {want, (int)(want * 2 > 128 ? want * 2 : 128),
                               filter ? chunk_allowed : NULL, (void *)filter, NULL, NULL, 0, NULL};
        st = mast_vindex_search(ref->dense, q, &o, vh, &n, NULL);
    }
    for (size_t i = 0; st == MAST_OK && i < n; i++)
        out[i] = (mast_hit){vh[i].id, doc_of(ref, vh[i].id), vh[i].score};
    if (st == MAST_OK) {
        *hits = out;
        *n_hits = n;
    } else {
        free(out);
    }
    free(q);
    free(vh);
    return st;
}

static int allow_doc(void *ctx, int64_t doc_id)
{
    return doc_allowed(ctx, doc_id);
}

/* The top `want` BM25 hits among the allowed documents. */
static mast_status sparse_search(index_ref *ref, mast_analyzer *a, const char *query, size_t want,
                                 const doc_set *filter, const mast_search_opts *o,
                                 mast_hit **hits, size_t *n_hits)
{
    mast_bm25_query q = {want, o->title_weight,
                         o->exhaustive ? MAST_BM25_EXHAUSTIVE : MAST_BM25_AUTO,
                         filter ? allow_doc : NULL, (void *)filter};
    mast_bm25_stats stats;
    MAST_TRY(mast_bm25_search_with(ref->bm25, a, query, strlen(query), &q, hits, n_hits, &stats));
    if (o->bm25_stats) {
        o->bm25_stats->postings += stats.postings;
        o->bm25_stats->decoded += stats.decoded;
        o->bm25_stats->scored += stats.scored;
    }
    return MAST_OK;
}

int mast_fusion_method_parse(const char *name)
{
    return !strcmp(name, "rrf") ? MAST_FUSION_RRF : !strcmp(name, "convex") ? MAST_FUSION_CONVEX : -1;
}

int mast_fusion_norm_parse(const char *name)
{
    return !strcmp(name, "minmax") ? MAST_NORM_MINMAX : !strcmp(name, "zscore") ? MAST_NORM_ZSCORE : -1;
}

const char *mast_fusion_method_name(mast_fusion_method m) { return m == MAST_FUSION_CONVEX ? "convex" : "rrf"; }

/* The list's scores normalized in place (see mast_fusion); returns the
** lowest normalized score, which a chunk absent from the list takes. */
static double normalize_list(mast_hit *h, size_t n, mast_fusion_norm norm)
{
    if (n == 0)
        return 0;
    double lo = h[0].score, hi = h[0].score, sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        lo = h[i].score < lo ? h[i].score : lo;
        hi = h[i].score > hi ? h[i].score : hi;
        sum += h[i].score;
    }
    double mean = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        sq += (h[i].score - mean) * (h[i].score - mean);
    double sd = sqrt(sq / (double)n);
    for (size_t i = 0; i < n; i++) {
        if (norm == MAST_NORM_ZSCORE)
            h[i].score = sd > 0 ? (h[i].score - mean) / sd : 0;
        else
            h[i].score = hi > lo ? (h[i].score - lo) / (hi - lo) : 1;
    }
    /* an absent chunk ranks with the list's lowest, and below every listed
    ** one when they are all equal (a single hit, say: it normalizes to 1, or
    ** to 0 as a z-score, and an absent chunk must not match it) */
    if (norm == MAST_NORM_ZSCORE)
        return sd > 0 ? (lo - mean) / sd : -1;
    return 0;
}

/* Fuses the BM25 list a and the dense list b (see mast_fusion): every chunk
** gets its term from each list (RRF: 1 / (k + rank), 0 when absent; convex:
** the weighted normalized score, the list's floor when absent), summed. */
static mast_status fuse(mast_hit *a, size_t na, mast_hit *b, size_t nb, const mast_fusion *fu,
                        mast_hit **out, size_t *n_out)
{
    mast_hit *f = malloc((na + nb ? na + nb : 1) * sizeof *f);
    if (!f)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    int convex = fu->method == MAST_FUSION_CONVEX;
    double wa = convex ? 1 - fu->alpha : 1, wb = convex ? fu->alpha : 1, floor_a = 0, floor_b = 0;
    if (convex) {
        floor_a = normalize_list(a, na, fu->norm);
        floor_b = normalize_list(b, nb, fu->norm);
    }
    /* each entry carries its own term plus the other list's floor; a chunk in
    ** both lists then replaces the floor by the real term (below) */
    for (size_t i = 0; i < na; i++)
        f[i] = (mast_hit){a[i].chunk_id, a[i].doc_id,
                          convex ? wa * a[i].score + wb * floor_b : 1.0 / (fu->rrf_k + (double)(i + 1))};
    for (size_t i = 0; i < nb; i++)
        f[na + i] = (mast_hit){b[i].chunk_id, b[i].doc_id,
                               convex ? wb * b[i].score + wa * floor_a : 1.0 / (fu->rrf_k + (double)(i + 1))};
    if (na + nb > 1)
        qsort(f, na + nb, sizeof *f, cmp_chunk_id);
    size_t n = 0;
    for (size_t i = 0; i < na + nb; i++) {
        if (n && f[n - 1].chunk_id == f[i].chunk_id) {
            /* in both lists: the two terms (convex: minus the two floors) */
            f[n - 1].score += f[i].score - (convex ? wa * floor_a + wb * floor_b : 0);
        } else {
            f[n++] = f[i];
        }
    }
    *out = f;
    *n_out = mast_hits_top(f, n, n);
    return MAST_OK;
}

static mast_status ranked(index_ref *ref, mast_analyzer *a, const char *query, size_t want,
                          mast_search_mode mode, const doc_set *filter, const mast_search_opts *o,
                          mast_hit **hits, size_t *n_hits)
{
    const mast_fusion *fu = &o->fusion;
    if (mode == MAST_MODE_BM25)
        return sparse_search(ref, a, query, want, filter, o, hits, n_hits);
    if (mode == MAST_MODE_DENSE)
        return dense_search(ref, query, o, want, filter, hits, n_hits);
    mast_hit *sparse = NULL, *dense = NULL;
    size_t ns = 0, nd = 0;
    mast_status st = sparse_search(ref, a, query, want, filter, o, &sparse, &ns);
    if (st == MAST_OK)
        st = dense_search(ref, query, o, want, filter, &dense, &nd);
    if (st == MAST_OK)
        st = fuse(sparse, ns, dense, nd, fu, hits, n_hits);
    free(sparse);
    free(dense);
    return st;
}

/* Settles the mode (auto: hybrid when there is a dense side, dense for a
** vector alone) and refuses what the collection or the query cannot do. */
static mast_status check_mode(const index_ref *ref, const char *query, const mast_search_opts *o,
                              mast_search_mode *mode)
{
    int has_text = query != NULL, has_vector = o->query_vector != NULL;
    int dense_ok = has_vector ? ref->embedder || ref->own_dim : ref->embedder != NULL;
    if (*mode == MAST_MODE_AUTO)
        *mode = !has_text ? MAST_MODE_DENSE : dense_ok ? MAST_MODE_HYBRID : MAST_MODE_BM25;
    if (has_vector && !ref->embedder && !ref->own_dim)
        return mast_fail(MAST_ERR_INVALID, "a query vector was given, but this collection has "
                         "no vectors (no embedding model, no dimension of its own)");
    if (has_vector && (int)o->query_vector_dim != (ref->own_dim ? ref->own_dim : ref->dim) &&
        (ref->own_dim || ref->dim))
        return mast_fail(MAST_ERR_INVALID, "the query vector has %zu dimensions, the "
                         "collection's have %d", o->query_vector_dim,
                         ref->own_dim ? ref->own_dim : ref->dim);
    if (has_vector && ref->metric == MAST_METRIC_COS) {
        double norm2 = 0;
        for (size_t i = 0; i < o->query_vector_dim; i++)
            norm2 += (double)o->query_vector[i] * o->query_vector[i];
        if (norm2 == 0)
            return mast_fail(MAST_ERR_INVALID, "a zero query vector has no direction (the "
                             "collection's metric is cos)");
    }
    if (!has_text && *mode != MAST_MODE_DENSE)
        return mast_fail(MAST_ERR_INVALID, "mode '%s' needs a query text",
                         mast_search_mode_name(*mode));
    if (*mode != MAST_MODE_BM25 && !dense_ok)
        return ref->own_dim
                   ? mast_fail(MAST_ERR_INVALID, "mode '%s' in this collection needs a query "
                               "vector (its documents bring their own vectors; there is no "
                               "model to embed the text)", mast_search_mode_name(*mode))
                   : mast_fail(MAST_ERR_INVALID, "mode '%s' needs an embedding model and this "
                               "collection has none (give it one: mast collection create NAME "
                               "--embed MODEL)", mast_search_mode_name(*mode));
    return MAST_OK;
}

mast_status mast_retrieve_with(mast_retriever *r, mast_store *store, int64_t collection_id,
                               const char *query, size_t k, const mast_search_opts *opts,
                               int group_by_doc, mast_trace *trace, mast_hit **hits,
                               size_t *n_hits)
{
    *hits = NULL;
    *n_hits = 0;
    mast_search_opts o = opts ? *opts : MAST_SEARCH_OPTS_DEFAULT;
    mast_search_mode mode = o.mode;
    const mast_filter *filter = o.filter;
    if (o.fusion.rrf_k == 0)   /* zero-initialized options: the default k */
        o.fusion.rrf_k = MAST_RRF_K;
    if (!(o.title_weight >= 0 && o.title_weight <= 1000))
        return mast_fail(MAST_ERR_INVALID, "title weight must be within 0..1000 (got %g)",
                         o.title_weight);
    if (!(o.fusion.rrf_k > 0))
        return mast_fail(MAST_ERR_INVALID, "rrf_k must be above 0 (got %g)", o.fusion.rrf_k);
    if (!(o.fusion.alpha >= 0 && o.fusion.alpha <= 1))
        return mast_fail(MAST_ERR_INVALID, "alpha must be within 0..1 (got %g)", o.fusion.alpha);
    mast_trace_span_begin(trace, "retrieve");
    if (query)
        mast_trace_attr_str(trace, "query", query);
    mast_trace_attr_int(trace, "k", (int64_t)k);
    index_ref *ref = NULL;
    mast_analyzer *a = NULL;
    doc_set docs = {NULL, NULL, 0}, *fset = NULL;
    mast_status st = mast_index_acquire(r, store, collection_id, trace, &ref);
    if (st == MAST_OK && filter && filter->key) {
        mast_trace_attr_str(trace, "filter_key", filter->key);
        mast_trace_attr_str(trace, "filter_value", filter->value);
        st = mast_store_docs_matching(store, collection_id, filter->key, filter->value, &docs.ids,
                                      &docs.n);
        docs.ref = ref;
        fset = &docs;
    }
    if (st == MAST_OK)
        st = check_mode(ref, query, &o, &mode);
    mast_trace_attr_str(trace, "mode", mast_search_mode_name(mode));
    if (mode == MAST_MODE_HYBRID) {
        mast_trace_attr_str(trace, "fusion", mast_fusion_method_name(o.fusion.method));
        if (o.fusion.method == MAST_FUSION_CONVEX)
            mast_trace_attr_double(trace, "alpha", o.fusion.alpha);
    }
    if (st == MAST_OK)
        st = mast_analyzer_open(&a, ref->language);
    if (st == MAST_OK) {
        size_t want = group_by_doc ? k * 4 : k;
        if (mode == MAST_MODE_HYBRID && want < 100)
            want = 100;   /* fuse deeper lists than the k asked for */
        for (;;) {
            free(*hits);
            st = ranked(ref, a, query, want, mode, fset, &o, hits, n_hits);
            if (st != MAST_OK)
                break;
            size_t got = *n_hits;
            if (group_by_doc)
                group_hits(*hits, got, k, n_hits);
            else if (*n_hits > k)
                *n_hits = k;
            if (!group_by_doc || *n_hits >= k || got < want)
                break;
            want *= 4;
        }
    }
    mast_analyzer_free(a);
    free(docs.ids);
    if (ref) {
        mast_trace_attr_int(trace, "index_chunks", (int64_t)mast_bm25_count(ref->bm25));
        mast_index_release(r, ref);
    }
    mast_trace_attr_int(trace, "n_results", (int64_t)*n_hits);
    mast_trace_span_end(trace, st);
    if (st != MAST_OK) {
        free(*hits);
        *hits = NULL;
        *n_hits = 0;
    }
    return st;
}

mast_status mast_retrieve(mast_retriever *r, mast_store *store, int64_t collection_id,
                          const char *query, size_t k, int group_by_doc, mast_trace *trace,
                          mast_hit **hits, size_t *n_hits)
{
    return mast_retrieve_with(r, store, collection_id, query, k, NULL, group_by_doc, trace, hits,
                              n_hits);
}

mast_status mast_search(mast_retriever *r, mast_store *store, const char *collection,
                        const char *query, size_t k, mast_trace *trace, mast_result **results,
                        size_t *n_results)
{
    return mast_search_with(r, store, collection, query, k, NULL, trace, results, n_results);
}

mast_status mast_search_with(mast_retriever *r, mast_store *store, const char *collection,
                             const char *query, size_t k, const mast_search_opts *opts,
                             mast_trace *trace, mast_result **results, size_t *n_results)
{
    *results = NULL;
    *n_results = 0;
    if (k < 1 || k > MAST_MAX_K)
        return mast_fail(MAST_ERR_INVALID, "k must be between 1 and %d (got %zu)", MAST_MAX_K, k);
    int64_t collection_id;
    MAST_TRY(mast_store_collection_find(store, collection, &collection_id));
    mast_hit *hits;
    size_t n_hits;
    MAST_TRY(mast_retrieve_with(r, store, collection_id, query, k, opts, 0, trace, &hits, &n_hits));
    mast_result *res = calloc(n_hits ? n_hits : 1, sizeof *res);
    if (!res) {
        free(hits);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    size_t n = 0;
    mast_status st = MAST_OK;
    for (size_t i = 0; i < n_hits && st == MAST_OK; i++) {
        st = mast_store_chunk_get(store, hits[i].chunk_id, &res[n]);
        if (st == MAST_ERR_NOT_FOUND) {   /* deleted since the index was read */
            st = MAST_OK;
            continue;
        }
        if (st == MAST_OK) {
            res[n].score = hits[i].score;
            res[n].rank = (int)n + 1;
            n++;
        }
    }
    free(hits);
    int expand = opts ? opts->expand : 0;
    if (st == MAST_OK && (expand < MAST_EXPAND_SECTION || expand > MAST_EXPAND_MAX))
        st = mast_fail(MAST_ERR_INVALID, "expand must be 0 to %d chunks, or the section",
                       MAST_EXPAND_MAX);
    for (size_t i = 0; i < n && st == MAST_OK && expand; i++)
        st = mast_store_chunk_context(store, res[i].chunk_id, expand, &res[i].context);
    if (st != MAST_OK) {
        mast_results_free(res, n + 1);
        return st;
    }
    *results = res;
    *n_results = n;
    return MAST_OK;
}

mast_status mast_filter_parse(const char *text, mast_filter *out, char **owned)
{
    *owned = NULL;
    const char *eq = strchr(text, '=');
    if (!eq || eq == text)
        return mast_fail(MAST_ERR_INVALID, "filter '%s' is not key=value", text);
    char *copy = strdup(text);
    if (!copy)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    copy[eq - text] = '\0';
    out->key = copy;
    out->value = copy + (eq - text) + 1;
    *owned = copy;
    return MAST_OK;
}

json_t *mast_result_to_json(const mast_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "rank", json_integer(r->rank));
    json_object_set_new(o, "score", json_real(r->score));
    json_object_set_new(o, "chunk_id", json_integer(r->chunk_id));
    json_object_set_new(o, "doc_id", json_integer(r->doc_id));
    json_object_set_new(o, "uri", mast_json_string_lossy(r->uri));
    json_object_set_new(o, "title", mast_json_string_lossy(r->title));
    json_object_set_new(o, "heading", mast_json_string_lossy(r->heading));
    json_object_set_new(o, "text", mast_json_string_lossy(r->text));
    if (r->page_start > 0) {
        json_object_set_new(o, "page_start", json_integer(r->page_start));
        json_object_set_new(o, "page_end", json_integer(r->page_end));
    }
    if (r->context)
        json_object_set_new(o, "context", mast_json_string_lossy(r->context));
    return o;
}
