/*
** observe/report.c — see report.h.
*/
#include "observe/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/mmap.h"
#include "base/status.h"

void mast_eval_run_label(const mast_eval_opts *o, char *out, size_t size)
{
    const mast_fusion *f = &o->fusion;
    if (o->mode != MAST_MODE_HYBRID)
        snprintf(out, size, "%s", mast_search_mode_name(o->mode));
    else if (f->method == MAST_FUSION_RRF)
        snprintf(out, size, "hybrid rrf k=%g", f->rrf_k);
    else
        snprintf(out, size, "hybrid convex a=%g %s", f->alpha,
                 f->norm == MAST_NORM_ZSCORE ? "zscore" : "minmax");
}

static json_t *metrics_json(const mast_eval_metrics *m)
{
    return json_pack("{s:f, s:f, s:f, s:f, s:f}", "ndcg@10", m->ndcg_10, "recall@10", m->recall_10,
                     "recall@100", m->recall_100, "mrr@10", m->mrr_10, "map@100", m->map_100);
}

static mast_status write_text(const char *dir, const char *name, const char *text, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    mast_file_out f;
    MAST_TRY(mast_file_begin(&f, path));
    mast_file_write(&f, text, len);
    return mast_file_commit(&f);
}

static mast_status write_json(const char *dir, const char *name, json_t *v)
{
    char *text = json_dumps(v, JSON_INDENT(2));
    json_decref(v);
    if (!text)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_status st = write_text(dir, name, text, strlen(text));
    free(text);
    return st;
}

/* nDCG@10 per run as horizontal bars, scaled to the best run */
static mast_status chart(mast_buf *b, const mast_eval_run *runs, size_t n)
{
    double best = 1e-9;
    for (size_t i = 0; i < n; i++)
        best = runs[i].report.mean.ndcg_10 > best ? runs[i].report.mean.ndcg_10 : best;
    int row = 28, left = 230, width = 400, height = 40 + (int)n * row;
    MAST_TRY(mast_buf_printf(b,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
        "font-family=\"sans-serif\" font-size=\"13\">\n"
        "<text x=\"10\" y=\"20\" font-weight=\"bold\">nDCG@10 — %s</text>\n",
        left + width + 70, height, runs[0].report.collection));
    for (size_t i = 0; i < n; i++) {
        double v = runs[i].report.mean.ndcg_10;
        int y = 32 + (int)i * row, w = (int)(v / best * width);
        MAST_TRY(mast_buf_printf(b,
            "<text x=\"10\" y=\"%d\">%s</text>\n"
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n"
            "<text x=\"%d\" y=\"%d\">%.4f</text>\n",
            y + 16, runs[i].label, left, y + 4, w, row - 8, v == best ? "#2a7" : "#79b",
            left + w + 6, y + 16, v));
    }
    return mast_buf_printf(b, "</svg>\n");
}

mast_status mast_eval_write_report(const char *dir, const mast_eval_run *runs, size_t n)
{
    if (n == 0)
        return mast_fail(MAST_ERR_INVALID, "no runs to report");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return mast_fail(MAST_ERR_IO, "%s: cannot create: %s", dir, strerror(errno));
    /* metrics.json */
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const mast_eval_run *r = &runs[i];
        json_t *o = metrics_json(&r->report.mean);
        json_object_set_new(o, "label", json_string(r->label));
        json_object_set_new(o, "mode", json_string(mast_search_mode_name(r->opts.mode)));
        json_object_set_new(o, "fusion", json_string(mast_fusion_method_name(r->opts.fusion.method)));
        json_object_set_new(o, "alpha", json_real(r->opts.fusion.alpha));
        json_object_set_new(o, "normalize", json_string(r->opts.fusion.norm == MAST_NORM_ZSCORE ? "zscore" : "minmax"));
        json_object_set_new(o, "rrf_k", json_real(r->opts.fusion.rrf_k));
        json_object_set_new(o, "queries", json_integer((json_int_t)r->report.n_queries));
        json_object_set_new(o, "qps", json_real(r->report.qps));
        json_array_append_new(arr, o);
    }
    MAST_TRY(write_json(dir, "metrics.json",
                        json_pack("{s:s, s:o}", "collection", runs[0].report.collection, "runs", arr)));
    /* per_query.jsonl */
    mast_buf b = {0};
    mast_status st = MAST_OK;
    for (size_t i = 0; i < n && st == MAST_OK; i++)
        for (size_t q = 0; q < runs[i].report.n_queries && st == MAST_OK; q++) {
            json_t *o = metrics_json(&runs[i].report.per_query[q].m);
            json_object_set_new(o, "label", json_string(runs[i].label));
            json_object_set_new(o, "query", mast_json_string_lossy(runs[i].report.per_query[q].query_id));
            char *line = json_dumps(o, JSON_COMPACT);
            json_decref(o);
            st = line ? mast_buf_printf(&b, "%s\n", line) : mast_fail(MAST_ERR_NOMEM, "out of memory");
            free(line);
        }
    if (st == MAST_OK)
        st = write_text(dir, "per_query.jsonl", b.data ? b.data : "", b.len);
    /* chart.svg and report.md */
    mast_buf_clear(&b);
    if (st == MAST_OK)
        st = chart(&b, runs, n);
    if (st == MAST_OK)
        st = write_text(dir, "chart.svg", b.data, b.len);
    mast_buf_clear(&b);
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (runs[i].report.mean.ndcg_10 > runs[best].report.mean.ndcg_10)
            best = i;
    if (st == MAST_OK)
        st = mast_buf_printf(&b, "# Evaluation: %s\n\n%zu judged queries (`mast eval`; trec_eval "
                                 "definitions, top 100 documents).\n\n"
                                 "| run | nDCG@10 | Recall@10 | Recall@100 | MRR@10 | MAP@100 | queries/s |\n"
                                 "|---|---:|---:|---:|---:|---:|---:|\n",
                             runs[0].report.collection, runs[0].report.n_queries);
    for (size_t i = 0; i < n && st == MAST_OK; i++) {
        const mast_eval_metrics *m = &runs[i].report.mean;
        const char *em = i == best ? "**" : "";
        st = mast_buf_printf(&b, "| %s | %s%.4f%s | %.4f | %.4f | %.4f | %.4f | %.0f |\n",
                             runs[i].label, em, m->ndcg_10, em, m->recall_10, m->recall_100,
                             m->mrr_10, m->map_100, runs[i].report.qps);
    }
    if (st == MAST_OK)
        st = mast_buf_printf(&b, "\n![nDCG@10 per run](chart.svg)\n\nPer-query metrics: "
                                 "`per_query.jsonl`; compare two runs with `mast eval --compare "
                                 "DIR_A[:LABEL] DIR_B[:LABEL]`.\n");
    if (st == MAST_OK)
        st = write_text(dir, "report.md", b.data, b.len);
    mast_buf_free(&b);
    return st;
}

void mast_eval_query_results_free(mast_eval_query_result *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++)
        free(r[i].query_id);
    free(r);
}

mast_status mast_eval_read_run(const char *dir, const char *label, mast_eval_query_result **out,
                               size_t *n, char *label_out, size_t label_size)
{
    *out = NULL;
    *n = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/per_query.jsonl", dir);
    char *data;
    size_t len, cap = 0, line_no = 0;
    MAST_TRY(mast_read_file(path, (size_t)1 << 30, &data, &len));
    mast_status st = MAST_OK;
    label_out[0] = '\0';
    for (char *line = strtok(data, "\n"); line && st == MAST_OK; line = strtok(NULL, "\n")) {
        line_no++;
        json_t *o;
        char what[64];
        snprintf(what, sizeof what, "line %zu", line_no);
        if ((st = mast_json_parse(line, strlen(line), what, &o)) != MAST_OK)
            break;
        const char *l = mast_json_get_str(o, "label", NULL), *q = mast_json_get_str(o, "query", NULL);
        json_t *nd = json_object_get(o, "ndcg@10");
        if (!l || !q || !json_is_number(nd)) {
            json_decref(o);
            st = mast_fail(MAST_ERR_FORMAT, "%s: line %zu lacks label, query or ndcg@10", path, line_no);
            break;
        }
        if (!label_out[0] && (!label || !strcmp(label, l)))
            snprintf(label_out, label_size, "%s", l);
        if (strcmp(l, label_out) != 0) {
            json_decref(o);
            continue;
        }
        char *id = strdup(q);
        if (!id || !mast_grow_array((void **)out, &cap, *n + 1, sizeof **out)) {
            free(id);
            json_decref(o);
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
            break;
        }
        mast_eval_metrics m = {json_number_value(nd), json_number_value(json_object_get(o, "recall@10")),
                               json_number_value(json_object_get(o, "recall@100")),
                               json_number_value(json_object_get(o, "mrr@10")),
                               json_number_value(json_object_get(o, "map@100"))};
        (*out)[(*n)++] = (mast_eval_query_result){id, m};
        json_decref(o);
    }
    free(data);
    if (st == MAST_OK && *n == 0)
        st = label ? mast_fail(MAST_ERR_NOT_FOUND, "%s: no run labelled '%s'", path, label)
                   : mast_fail(MAST_ERR_FORMAT, "%s: no results", path);
    if (st != MAST_OK) {
        mast_eval_query_results_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return st;
}
