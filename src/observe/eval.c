/*
** observe/eval.c — retrieval metrics and the BEIR runner (see eval.h).
*/
#include "observe/eval.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"
#include "base/log.h"
#include "base/mmap.h"
#include "base/progress.h"
#include "base/status.h"
#include "data/collection.h"
#include "deploy/rag.h"

/* ---- metrics ---- */

static int judged_score(const char *doc, const mast_qrel *qrels, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(qrels[i].doc_id, doc) == 0)
            return qrels[i].score;
    return 0;
}

static int cmp_desc_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (y > x) - (y < x);
}

int mast_eval_query(const char *const *ranked, size_t n_ranked, const mast_qrel *qrels,
                    size_t n_qrels, mast_eval_metrics *out)
{
    memset(out, 0, sizeof *out);
    size_t n_rel = 0;
    int *ideal = malloc((n_qrels ? n_qrels : 1) * sizeof *ideal);
    if (!ideal)
        return 0;
    for (size_t i = 0; i < n_qrels; i++)
        if (qrels[i].score >= 1)
            ideal[n_rel++] = qrels[i].score;
    if (n_rel == 0) {
        free(ideal);
        return 0;
    }
    if (n_rel > 1)
        qsort(ideal, n_rel, sizeof *ideal, cmp_desc_int);
    double idcg = 0;
    for (size_t i = 0; i < n_rel && i < 10; i++)
        idcg += ideal[i] / log2((double)i + 2.0);
    free(ideal);

    double dcg = 0, ap = 0;
    size_t found = 0;
    for (size_t i = 0; i < n_ranked && i < 100; i++) {
        int s = judged_score(ranked[i], qrels, n_qrels);
        if (s < 1)
            continue;
        found++;
        if (i < 10) {
            dcg += s / log2((double)i + 2.0);
            out->recall_10 += 1;
            if (out->mrr_10 == 0)
                out->mrr_10 = 1.0 / (double)(i + 1);
        }
        ap += (double)found / (double)(i + 1);
    }
    out->ndcg_10 = dcg / idcg;
    out->recall_10 /= (double)n_rel;
    out->recall_100 = (double)found / (double)n_rel;
    out->map_100 = ap / (double)n_rel;
    return 1;
}

/* ---- BEIR files ---- */

typedef struct qrel_row {
    char *query_id;
    mast_qrel q;
} qrel_row;

typedef struct beir {
    qrel_row *qrels;
    size_t n_qrels;
    char **query_ids, **query_texts;
    size_t n_queries;
    int64_t *doc_ids;           /* store ids, sorted */
    char **doc_beir_ids;        /* parallel: the corpus _id */
    size_t n_docs;
} beir;

static void beir_free(beir *b)
{
    for (size_t i = 0; i < b->n_qrels; i++) {
        free(b->qrels[i].query_id);
        free((char *)b->qrels[i].q.doc_id);
    }
    free(b->qrels);
    for (size_t i = 0; i < b->n_queries; i++) {
        free(b->query_ids[i]);
        free(b->query_texts[i]);
    }
    free(b->query_ids);
    free(b->query_texts);
    for (size_t i = 0; i < b->n_docs; i++)
        free(b->doc_beir_ids[i]);
    free(b->doc_ids);
    free(b->doc_beir_ids);
}

static int cmp_qrel(const void *a, const void *b)
{
    return strcmp(((const qrel_row *)a)->query_id, ((const qrel_row *)b)->query_id);
}

static mast_status load_qrels(beir *b, const char *path)
{
    char *data;
    size_t len;
    MAST_TRY(mast_read_file(path, (size_t)1 << 30, &data, &len));
    size_t cap = 0, line_no = 0;
    char *save = NULL;
    mast_status st = MAST_OK;
    for (char *line = strtok_r(data, "\n", &save); line && st == MAST_OK;
         line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        char *q = line, *d = strchr(q, '\t');
        char *s = d ? strchr(d + 1, '\t') : NULL;
        if (!d || !s) {
            if (line_no == 1 || line[0] == '\r' || line[0] == '\0')
                continue;   /* header or blank */
            st = mast_fail(MAST_ERR_FORMAT, "%s: line %zu: expected query-id, corpus-id and score "
                           "separated by tabs", path, line_no);
            break;
        }
        *d++ = '\0';
        *s++ = '\0';
        char *end;
        long score = strtol(s, &end, 10);
        if (end == s) {
            if (line_no == 1)
                continue;   /* the header line */
            st = mast_fail(MAST_ERR_FORMAT, "%s: line %zu: score '%s' is not an integer", path,
                           line_no, s);
            break;
        }
        if (b->n_qrels == cap) {
            cap = cap ? cap * 2 : 1024;
            qrel_row *p = realloc(b->qrels, cap * sizeof *p);
            if (!p) {
                st = mast_fail(MAST_ERR_NOMEM, "out of memory");
                break;
            }
            b->qrels = p;
        }
        qrel_row *row = &b->qrels[b->n_qrels];
        row->query_id = strdup(q);
        row->q.doc_id = strdup(d);
        row->q.score = (int)score;
        b->n_qrels++;
        if (!row->query_id || !row->q.doc_id)
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    free(data);
    if (st == MAST_OK)
        if (b->n_qrels > 1)
            qsort(b->qrels, b->n_qrels, sizeof *b->qrels, cmp_qrel);
    return st;
}

static mast_status load_queries(beir *b, const char *path)
{
    char *data;
    size_t len;
    MAST_TRY(mast_read_file(path, (size_t)1 << 30, &data, &len));
    size_t cap = 0, line_no = 0;
    mast_status st = MAST_OK;
    char *pos = data;
    while (pos < data + len && st == MAST_OK) {
        char *nl = memchr(pos, '\n', (size_t)(data + len - pos));
        size_t n = nl ? (size_t)(nl - pos) : (size_t)(data + len - pos);
        line_no++;
        if (n > 0 && !(n == 1 && pos[0] == '\r')) {
            char what[PATH_MAX + 32];
            snprintf(what, sizeof what, "%s: line %zu", path, line_no);
            json_t *obj;
            st = mast_json_parse(pos, n, what, &obj);
            if (st != MAST_OK)
                break;
            json_t *idv = json_object_get(obj, "_id");
            const char *text = mast_json_get_str(obj, "text", NULL);
            char idbuf[32];
            const char *id = json_is_string(idv) ? json_string_value(idv) : NULL;
            if (json_is_integer(idv)) {
                snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(idv));
                id = idbuf;
            }
            if (!id || !text) {
                json_decref(obj);
                st = mast_fail(MAST_ERR_FORMAT, "%s: needs \"_id\" and \"text\"", what);
                break;
            }
            if (b->n_queries == cap) {
                cap = cap ? cap * 2 : 256;
                char **p1 = realloc(b->query_ids, cap * sizeof *p1);
                if (p1)
                    b->query_ids = p1;
                char **p2 = p1 ? realloc(b->query_texts, cap * sizeof *p2) : NULL;
                if (p2)
                    b->query_texts = p2;
                if (!p1 || !p2) {
                    json_decref(obj);
                    st = mast_fail(MAST_ERR_NOMEM, "out of memory");
                    break;
                }
            }
            b->query_ids[b->n_queries] = strdup(id);
            b->query_texts[b->n_queries] = strdup(text);
            b->n_queries++;
            json_decref(obj);
        }
        pos = nl ? nl + 1 : data + len;
    }
    free(data);
    return st;
}

typedef struct id_sink {
    beir *b;
    size_t cap_ids, cap_names;
    int failed;
} id_sink;

static int add_doc_id(void *ctx, int64_t doc_id, const char *beir_id)
{
    id_sink *k = ctx;
    beir *b = k->b;
    if (!mast_grow_array((void **)&b->doc_ids, &k->cap_ids, b->n_docs + 1, sizeof *b->doc_ids) ||
        !mast_grow_array((void **)&b->doc_beir_ids, &k->cap_names, b->n_docs + 1,
                         sizeof *b->doc_beir_ids) ||
        !(b->doc_beir_ids[b->n_docs] = strdup(beir_id))) {
        k->failed = 1;
        return 1;
    }
    b->doc_ids[b->n_docs++] = doc_id;
    return 0;
}

/* Each document's BEIR id, kept by ingest in its metadata as "_id". */
static mast_status load_doc_ids(beir *b, mast_store *store, int64_t collection_id,
                                const char *source)
{
    id_sink k = {b, 0, 0, 0};
    MAST_TRY(mast_store_doc_meta_scan(store, collection_id, source, "_id", add_doc_id, &k));
    return k.failed ? mast_fail(MAST_ERR_NOMEM, "out of memory") : MAST_OK;
}

static const char *beir_id_of(const beir *b, int64_t doc_id)
{
    size_t lo = 0, hi = b->n_docs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (b->doc_ids[mid] < doc_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < b->n_docs && b->doc_ids[lo] == doc_id ? b->doc_beir_ids[lo] : NULL;
}

/* The judgments of one query: a slice of the sorted qrels. */
static const qrel_row *qrels_of(const beir *b, const char *query_id, size_t *n)
{
    size_t lo = 0, hi = b->n_qrels;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(b->qrels[mid].query_id, query_id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < b->n_qrels && strcmp(b->qrels[end].query_id, query_id) == 0)
        end++;
    *n = end - lo;
    return b->qrels + lo;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Runs every judged query once (top k, grouped by document or not), adding
** the time to *us and the count to *n. */
static mast_status timed_pass(mast_store *store, mast_retriever *r, int64_t collection_id,
                              const beir *b, size_t k, int group, const mast_search_opts *search,
                              int64_t *us, size_t *n)
{
    for (size_t i = 0; i < b->n_queries; i++) {
        size_t n_judged;
        qrels_of(b, b->query_ids[i], &n_judged);
        if (n_judged == 0)
            continue;
        int64_t t0 = mast_mono_us();
        mast_hit *hits = NULL;
        size_t n_hits;
        mast_status st = mast_retrieve_with(r, store, collection_id, b->query_texts[i], k, search,
                                            group, NULL, &hits, &n_hits);
        *us += mast_mono_us() - t0;
        free(hits);
        if (st != MAST_OK)
            return st;
        (*n)++;
    }
    return MAST_OK;
}

static mast_status run_queries(mast_store *store, mast_retriever *r, int64_t collection_id,
                               beir *b, int progress_on, const mast_search_opts *search,
                               double min_seconds, mast_eval_report *report)
{
    mast_eval_metrics sum = {0};
    size_t n_eval = 0, cap_per_query = 0;
    mast_progress progress;
    mast_progress_begin(&progress, "evaluating", b->n_queries);
    if (!progress_on)
        progress.enabled = 0;
    int64_t search_us = 0;
    /* build the index before timing queries */
    mast_hit *none = NULL;
    size_t n_none = 0;
    mast_search_opts warm = MAST_SEARCH_OPTS_DEFAULT;
    warm.mode = MAST_MODE_BM25;
    mast_bm25_stats *stats = search->bm25_stats;   /* filled by the top-10 pass */
    mast_search_opts metrics = *search;
    metrics.bm25_stats = NULL;
    search = &metrics;
    mast_status st = mast_retrieve_with(r, store, collection_id, "", 1, &warm, 0, NULL, &none,
                                        &n_none);
    free(none);
    for (size_t i = 0; i < b->n_queries && st == MAST_OK; i++) {
        size_t n_judged;
        const qrel_row *rows = qrels_of(b, b->query_ids[i], &n_judged);
        if (n_judged == 0)
            continue;   /* no judgments: not evaluable */
        int64_t t0 = mast_mono_us();
        mast_hit *hits;
        size_t n_hits;
        st = mast_retrieve_with(r, store, collection_id, b->query_texts[i], 100, search, 1, NULL,
                                &hits, &n_hits);
        search_us += mast_mono_us() - t0;
        if (st != MAST_OK)
            break;
        const char *ranked[100];
        size_t n_ranked = 0;
        for (size_t h = 0; h < n_hits && n_ranked < 100; h++) {
            const char *id = beir_id_of(b, hits[h].doc_id);
            if (id)
                ranked[n_ranked++] = id;
        }
        free(hits);
        mast_qrel *q = malloc(n_judged * sizeof *q);
        if (!q) {
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
            break;
        }
        for (size_t j = 0; j < n_judged; j++)
            q[j] = rows[j].q;
        mast_eval_metrics m;
        if (mast_eval_query(ranked, n_ranked, q, n_judged, &m)) {
            char *qid = strdup(b->query_ids[i]);
            if (!qid || !mast_grow_array((void **)&report->per_query, &cap_per_query, n_eval + 1,
                                         sizeof *report->per_query)) {
                free(qid);
                free(q);
                st = mast_fail(MAST_ERR_NOMEM, "out of memory");
                break;
            }
            report->per_query[n_eval] = (mast_eval_query_result){qid, m};
            report->n_queries = n_eval + 1;   /* so that a failure later frees it */
            sum.ndcg_10 += m.ndcg_10;
            sum.recall_10 += m.recall_10;
            sum.recall_100 += m.recall_100;
            sum.mrr_10 += m.mrr_10;
            sum.map_100 += m.map_100;
            n_eval++;
        }
        free(q);
        mast_progress_update(&progress, i + 1);
    }
    mast_progress_end(&progress);
    if (st != MAST_OK)
        return st;
    if (n_eval == 0)
        return mast_fail(MAST_ERR_INVALID, "%s: no query has relevance judgments", "qrels");
    double n = (double)n_eval;
    report->mean = (mast_eval_metrics){sum.ndcg_10 / n, sum.recall_10 / n, sum.recall_100 / n,
                                       sum.mrr_10 / n, sum.map_100 / n};
    report->n_queries = n_eval;   /* also the length of per_query */
    /* queries/s: the timed pass, then again over all queries until min_seconds */
    size_t timed = n_eval;
    while (st == MAST_OK && (double)search_us / 1e6 < min_seconds)
        st = timed_pass(store, r, collection_id, b, 100, 1, search, &search_us, &timed);
    if (st != MAST_OK)
        return st;
    report->search_seconds = (double)search_us / 1e6;
    report->qps = search_us > 0 ? (double)timed / report->search_seconds : 0;
    /* the top 10 chunks, as a search asks: its speed, and the postings BM25 decoded */
    mast_search_opts top = metrics;
    top.bm25_stats = stats;
    int64_t top_us = 0;
    size_t n_top = 0;
    st = timed_pass(store, r, collection_id, b, 10, 0, &top, &top_us, &n_top);
    report->qps_top10 = top_us > 0 ? (double)n_top / ((double)top_us / 1e6) : 0;
    return st;
}

/* The number of the first "[n]" citation in an answer, or 0. */
static size_t first_citation(const char *answer)
{
    for (const char *p = strchr(answer, '['); p; p = strchr(p + 1, '[')) {
        char *end;
        unsigned long n = strtoul(p + 1, &end, 10);
        if (end > p + 1 && *end == ']' && n > 0)
            return (size_t)n;
    }
    return 0;
}

/* answer_hit@1 over the judged queries (see eval.h). */
static mast_status answer_pass(mast_store *store, mast_retriever *r, const beir *b,
                               const char *collection, double *out)
{
    size_t n_eval = 0, hits = 0;
    for (size_t i = 0; i < b->n_queries; i++) {
        size_t n_judged;
        const qrel_row *rows = qrels_of(b, b->query_ids[i], &n_judged);
        int any_relevant = 0;
        for (size_t j = 0; j < n_judged; j++)
            any_relevant |= rows[j].q.score >= 1;
        if (!any_relevant)
            continue;
        mast_answer ans;
        MAST_TRY(mast_ask(r, store, collection, b->query_texts[i], MAST_ASK_DEFAULT_K, NULL, &ans));
        n_eval++;
        size_t n = first_citation(ans.answer);
        const char *id = n && n <= ans.n_sources ? beir_id_of(b, ans.sources[n - 1].doc_id) : NULL;
        for (size_t j = 0; id && j < n_judged; j++)
            if (rows[j].q.score >= 1 && strcmp(rows[j].q.doc_id, id) == 0) {
                hits++;
                break;
            }
        mast_answer_free(&ans);
    }
    *out = n_eval ? (double)hits / (double)n_eval : 0;
    return MAST_OK;
}

mast_status mast_eval_beir(mast_store *store, mast_retriever *r, const mast_eval_opts *opts,
                           mast_trace *trace, mast_eval_report *report)
{
    memset(report, 0, sizeof *report);
    char corpus[PATH_MAX], queries[PATH_MAX], qrels[PATH_MAX];
    const char *split = opts->split ? opts->split : "test";
    snprintf(corpus, sizeof corpus, "%s/corpus.jsonl", opts->dir);
    if (!file_exists(corpus))
        snprintf(corpus, sizeof corpus, "%s/corpus.jsonl.zst", opts->dir);
    snprintf(queries, sizeof queries, "%s/queries.jsonl", opts->dir);
    snprintf(qrels, sizeof qrels, "%s/qrels/%s.tsv", opts->dir, split);
    if (!file_exists(corpus))
        return mast_fail(MAST_ERR_NOT_FOUND, "%s: no corpus.jsonl or corpus.jsonl.zst (is it a "
                         "BEIR folder?)", opts->dir);
    if (!file_exists(queries))
        return mast_fail(MAST_ERR_NOT_FOUND, "%s: not found", queries);
    if (!file_exists(qrels))
        return mast_fail(MAST_ERR_NOT_FOUND, "%s: not found (split '%s')", qrels, split);

    char dir[PATH_MAX];
    const char *name = opts->collection;
    if (!name) {
        if (!realpath(opts->dir, dir))
            snprintf(dir, sizeof dir, "%s", opts->dir);
        const char *base = strrchr(dir, '/');
        name = base ? base + 1 : dir;
    }
    if (strlen(name) >= sizeof report->collection)
        return mast_fail(MAST_ERR_INVALID, "collection name '%s' is too long", name);
    memcpy(report->collection, name, strlen(name) + 1);
    mast_trace_attr_str(trace, "collection", report->collection);
    if (opts->embed_model)
        MAST_TRY(mast_collection_set_embedder(store, report->collection, opts->embed_model, 1));
    const char *paths[1] = {corpus};
    mast_ingest_opts ingest = opts->ingest;
    if (ingest.chunk.chunk_tokens <= 0)
        ingest.chunk.chunk_tokens = MAST_EVAL_CHUNK_TOKENS;
    MAST_TRY(mast_ingest(store, report->collection, paths, 1, &ingest, trace, &report->ingest));
    if (report->ingest.files_failed)
        return mast_fail(MAST_ERR_FORMAT, "%s: the corpus could not be ingested", corpus);

    beir b = {0};
    int64_t collection_id;
    char source[PATH_MAX];
    mast_status st = mast_store_collection_find(store, report->collection, &collection_id);
    if (st == MAST_OK && !realpath(corpus, source))
        st = mast_fail(MAST_ERR_IO, "%s: cannot resolve path", corpus);
    if (st == MAST_OK)
        st = load_qrels(&b, qrels);
    if (st == MAST_OK)
        st = load_queries(&b, queries);
    if (st == MAST_OK)
        st = load_doc_ids(&b, store, collection_id, source);
    if (st == MAST_OK) {
        mast_trace_span_begin(trace, "eval.queries");
        mast_search_opts search = {.mode = opts->mode, .fusion = opts->fusion,
                                   .title_weight = opts->title_weight,
                                   .exhaustive = opts->exhaustive, .bm25_stats = &report->bm25};
        st = run_queries(store, r, collection_id, &b, opts->progress, &search, opts->min_seconds,
                         report);
        report->answer_hit_1 = -1;
        if (st == MAST_OK && opts->answers)
            st = answer_pass(store, r, &b, report->collection, &report->answer_hit_1);
        mast_trace_attr_int(trace, "n_queries", (int64_t)report->n_queries);
        mast_trace_attr_double(trace, "ndcg@10", report->mean.ndcg_10);
        mast_trace_span_end(trace, st);
    }
    beir_free(&b);
    return st;
}

void mast_eval_report_free(mast_eval_report *report)
{
    for (size_t i = 0; report->per_query && i < report->n_queries; i++)
        free(report->per_query[i].query_id);
    free(report->per_query);
    report->per_query = NULL;
}

static int cmp_query(const void *x, const void *y)
{
    return strcmp(((const mast_eval_query_result *)x)->query_id,
                  ((const mast_eval_query_result *)y)->query_id);
}

mast_status mast_eval_compare(const mast_eval_query_result *a, size_t na,
                              const mast_eval_query_result *b, size_t nb,
                              mast_eval_comparison *out)
{
    memset(out, 0, sizeof *out);
    mast_eval_query_result *sb = malloc((nb ? nb : 1) * sizeof *sb);
    double *d = malloc((na ? na : 1) * sizeof *d);
    if (!sb || !d) {
        free(sb);
        free(d);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    memcpy(sb, b, nb * sizeof *sb);
    qsort(sb, nb, sizeof *sb, cmp_query);
    size_t n = 0;
    double sum = 0;
    for (size_t i = 0; i < na; i++) {
        const mast_eval_query_result *m = nb ? bsearch(&a[i], sb, nb, sizeof *sb, cmp_query) : NULL;
        if (!m)
            continue;
        d[n] = a[i].m.ndcg_10 - m->m.ndcg_10;
        out->wins += d[n] > 0;
        out->losses += d[n] < 0;
        out->ties += d[n] == 0;
        sum += d[n++];
    }
    free(sb);
    if (n == 0) {
        free(d);
        return mast_fail(MAST_ERR_INVALID, "the two runs have no query in common");
    }
    out->n = n;
    out->mean_diff = sum / (double)n;
    /* randomization: flip each difference's sign at random; how often is the
    ** mean at least as far from 0 as the observed one? */
    enum { ROUNDS = 10000 };
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    size_t extreme = 0;
    double observed = fabs(out->mean_diff) - 1e-12;
    for (int r = 0; r < ROUNDS; r++) {
        double s = 0;
        for (size_t i = 0; i < n; i++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            s += (rng & 1) ? d[i] : -d[i];
        }
        extreme += fabs(s / (double)n) >= observed;
    }
    out->p_value = ((double)extreme + 1) / (ROUNDS + 1);
    free(d);
    return MAST_OK;
}
