/*
** observe/report.h — evaluation reports on disk, and reading them back.
**
** `mast eval --out DIR` writes, for one or more configurations (a sweep):
**   metrics.json     {"collection", "runs": [{"label", "mode", "fusion", "alpha",
**                     "normalize", "rrf_k", "ndcg@10", "recall@10", "recall@100",
**                     "mrr@10", "map@100", "queries", "qps"}]}
**   per_query.jsonl  one line per (run, query): {"label", "query", "ndcg@10", ...}
**   report.md        the runs as a table, the best nDCG@10 in bold, and the chart
**   chart.svg        nDCG@10 per run as horizontal bars
** `mast eval --compare A B` reads per_query.jsonl back.
*/
#ifndef MAST_OBSERVE_REPORT_H
#define MAST_OBSERVE_REPORT_H

#include "observe/eval.h"

typedef struct mast_eval_run {
    char label[96];
    mast_eval_opts opts;
    mast_eval_report report;
} mast_eval_run;

/* "bm25", "dense", "hybrid rrf k=60", "hybrid convex a=0.25 minmax" */
void mast_eval_run_label(const mast_eval_opts *o, char *out, size_t size);

mast_status mast_eval_write_report(const char *dir, const mast_eval_run *runs, size_t n);

/* The per-query results of one run of a report folder: `label` NULL = the
** first run. *label_out names the run read (static storage of the result). */
mast_status mast_eval_read_run(const char *dir, const char *label, mast_eval_query_result **out,
                               size_t *n, char *label_out, size_t label_size);
void mast_eval_query_results_free(mast_eval_query_result *r, size_t n);

#endif
