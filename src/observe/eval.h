/*
** observe/eval.h — retrieval evaluation: trec_eval metrics and a BEIR runner.
**
** Metric definitions (trec_eval's, averaged over the queries that have at
** least one relevant document; a document is relevant when its judgment
** score is >= 1):
**   nDCG@10   ndcg_cut_10: sum_{i<=10} rel_i / log2(i + 1), divided by the same
**             sum over the ideal ordering of all judged documents; the gain
**             is the graded score itself (linear gain)
**   Recall@k  relevant documents in the top k / all relevant documents
**   MRR@10    1 / rank of the first relevant document in the top 10, else 0
**   MAP@100   map_cut_100: sum of precision@r over the ranks r <= 100 that
**             hold a relevant document, divided by all relevant documents
**   answer_hit@1  (not trec_eval's) the extractive `ask` of the query, k 5:
**             1 when its first cited sentence comes from a relevant document
*/
#ifndef MAST_OBSERVE_EVAL_H
#define MAST_OBSERVE_EVAL_H

#include "data/ingest/ingest.h"
#include "data/retrieve.h"

typedef struct mast_qrel {
    const char *doc_id;
    int score;
} mast_qrel;

typedef struct mast_eval_metrics {
    double ndcg_10, recall_10, recall_100, mrr_10, map_100;
} mast_eval_metrics;

/* Metrics of one ranked list (document ids, best first, no duplicates)
** against the judgments of its query. Returns 0 (and zeros) when the query
** has no relevant document, so that it is left out of the averages; else 1. */
int mast_eval_query(const char *const *ranked, size_t n_ranked, const mast_qrel *qrels,
                    size_t n_qrels, mast_eval_metrics *out);

typedef struct mast_eval_opts {
    const char *dir;            /* BEIR folder: corpus.jsonl[.zst], queries.jsonl, qrels/ */
    const char *collection;     /* NULL = the folder's base name */
    const char *split;          /* NULL = "test" */
    mast_ingest_opts ingest;   /* chunk_tokens 0 = MAST_EVAL_CHUNK_TOKENS */
    mast_search_mode mode;     /* MAST_MODE_AUTO: hybrid with a model, else bm25 */
    mast_fusion fusion;        /* for hybrid (MAST_FUSION_DEFAULT: RRF, k 60) */
    const char *embed_model;   /* set as the collection's embedding model first, or NULL */
    double min_seconds;        /* repeat the queries until their time reaches this, for qps */
    double title_weight;       /* BM25 title vs body weight (0 = 1) */
    int exhaustive;            /* BM25 without pruning (the reference; same results) */
    int answers;               /* also ask every query extractively: answer_hit@1 */
    int progress;
} mast_eval_opts;

/* Test collections judge whole documents, so eval chunks them coarsely by
** default: 1024 tokens keeps almost every document of the shared collections
** in one chunk (see docs/benchmarks.md for the effect of smaller chunks). */
#define MAST_EVAL_CHUNK_TOKENS 1024

typedef struct mast_eval_query_result {
    char *query_id;
    mast_eval_metrics m;
} mast_eval_query_result;

typedef struct mast_eval_report {
    mast_eval_metrics mean;
    mast_eval_query_result *per_query;   /* the evaluated queries, in file order */
    size_t n_queries;           /* evaluated queries */
    double qps;                 /* queries per second, retrieval only */
    double search_seconds;
    mast_ingest_stats ingest;
    mast_bm25_stats bm25;       /* postings of the query terms and those BM25 decoded, top 10 */
    double qps_top10;           /* queries per second for the top 10 chunks (one pass) */
    double answer_hit_1;        /* with opts.answers: the share of the evaluated queries whose
                                   extractive answer's first cited sentence comes from a
                                   relevant document (-1 when not measured) */
    char collection[80];
} mast_eval_report;

/* Ingests (or reuses, unchanged documents are skipped) the corpus, runs every
** judged query (top 100 documents, one best chunk per document) and averages
** the metrics. Free the report with mast_eval_report_free. */
mast_status mast_eval_beir(mast_store *store, mast_retriever *r, const mast_eval_opts *opts,
                           mast_trace *trace, mast_eval_report *report);
void mast_eval_report_free(mast_eval_report *report);

/* Two runs over the same queries, paired by query id on nDCG@10: wins
** (a > b), losses, ties, the mean difference (a - b) and the two-sided
** p-value of a paired randomization test (10,000 random sign flips of the
** per-query differences, fixed seed; p = (extreme + 1) / (10,000 + 1)). */
typedef struct mast_eval_comparison {
    size_t n, wins, losses, ties;
    double mean_diff, p_value;
} mast_eval_comparison;

mast_status mast_eval_compare(const mast_eval_query_result *a, size_t na,
                              const mast_eval_query_result *b, size_t nb,
                              mast_eval_comparison *out);

#endif
