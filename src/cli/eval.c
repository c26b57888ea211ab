/*
** cli/eval.c — `mast eval --beir DIR`.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "cli/cli.h"
#include "observe/eval.h"
#include "observe/report.h"

static const char eval_help[] =
    "Usage: mast eval --beir DIR [options]\n"
    "\n"
    "Measures retrieval quality on a test collection in BEIR layout (DIR/corpus.jsonl or\n"
    "corpus.jsonl.zst, DIR/queries.jsonl, DIR/qrels/SPLIT.tsv). Ingests the corpus into a\n"
    "collection (unchanged documents are skipped, so a second run reuses it), runs every\n"
    "judged query (top 100 documents) and prints the mean nDCG@10, Recall@10, Recall@100,\n"
    "MRR@10 and MAP@100 (trec_eval definitions; nDCG uses the graded judgments) and the\n"
    "queries per second of retrieval.\n"
    "\n"
    "Options:\n"
    "      --beir DIR          the test collection folder (required)\n"
    "  -c, --collection NAME   collection to use (default: the folder's name)\n"
    "      --split NAME        qrels split (default test)\n"
    "      --mode M            bm25, dense or hybrid (default: hybrid when the collection has\n"
    "                          an embedding model, else bm25)\n"
    CLI_FUSION_HELP
    "      --embed MODEL       set MODEL as the collection's embedding model first\n"
    "      --chunk-tokens N    token budget per chunk when ingesting (default 1024, so that\n"
    "                          documents stay whole, as the judgments are per document)\n"
    "      --sweep alpha=A,B,...  one run per alpha: hybrid search, convex fusion, e.g.\n"
    "                          alpha=0,0.25,0.5,0.75,1 (alpha 0 = BM25 alone, 1 = dense alone)\n"
    "      --exhaustive        BM25 scores every posting of the query terms instead of\n"
    "                          skipping what cannot reach the top (same results; to measure)\n"
    "      --answers           also answer every query extractively ('mast ask', k 5) and\n"
    "                          report answer_hit@1: the share whose first cited sentence\n"
    "                          comes from a relevant document\n"
    "      --min-seconds S     repeat the queries until they took S seconds, for a steadier\n"
    "                          queries/s (the metrics come from the first pass)\n"
    "      --out DIR           write DIR/report.md, metrics.json, per_query.jsonl, chart.svg\n"
    "      --compare A B       compare two --out folders (A or A:LABEL picks a run of a sweep;\n"
    "                          default its first) per query on nDCG@10: wins, losses, ties and\n"
    "                          a paired randomization test (10,000 sign flips); no --beir\n"
    "      --json              print {\"ndcg@10\", \"recall@10\", \"recall@100\", \"mrr@10\",\n"
    "                          \"map@100\", \"queries\", \"qps\", \"fusion\"} (a sweep: an array)\n"
    "      --db PATH           database (default $MAST_DB or ./mast.db)\n"
    "  -h, --help              this help\n";

static json_t *run_json(const mast_eval_run *run)
{
    const mast_eval_metrics *m = &run->report.mean;
    const mast_fusion *f = &run->opts.fusion;
    json_t *o = json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:I, s:f}", "collection",
                          run->report.collection, "label", run->label, "mode",
                          mast_search_mode_name(run->opts.mode), "ndcg@10", m->ndcg_10,
                          "recall@10", m->recall_10, "recall@100", m->recall_100, "mrr@10",
                          m->mrr_10, "map@100", m->map_100, "queries",
                          (json_int_t)run->report.n_queries, "qps", run->report.qps);
    json_object_set_new(o, "ingest_seconds", json_real(run->report.ingest.seconds));
    if (run->report.answer_hit_1 >= 0)
        json_object_set_new(o, "answer_hit@1", json_real(run->report.answer_hit_1));
    json_object_set_new(o, "title_weight", json_real(run->opts.title_weight > 0 ? run->opts.title_weight
                                                           : MAST_BM25_TITLE_WEIGHT));
    /* BM25 postings of the query terms, and the fraction pruning decoded */
    const mast_bm25_stats *b = &run->report.bm25;
    json_object_set_new(o, "bm25_postings", json_integer((json_int_t)b->postings));
    json_object_set_new(o, "qps_top10", json_real(run->report.qps_top10));
    json_object_set_new(o, "bm25_decoded_fraction_top10",
                        json_real(b->postings ? (double)b->decoded / (double)b->postings : 0));
    /* the fusion settings (used when the search is hybrid) */
    json_object_set_new(o, "fusion", json_pack("{s:s, s:f, s:s, s:f}", "method",
                                               mast_fusion_method_name(f->method), "alpha",
                                               f->alpha, "normalize",
                                               f->norm == MAST_NORM_ZSCORE ? "zscore" : "minmax",
                                               "rrf_k", f->rrf_k));
    return o;
}

static void print_runs(const mast_eval_run *runs, size_t n, int json, int many)
{
    if (json) {
        if (!many) {
            cli_print_json(run_json(&runs[0]));
            return;
        }
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, run_json(&runs[i]));
        cli_print_json(arr);
        return;
    }
    const mast_eval_report *rep = &runs[0].report;
    fprintf(stderr, "corpus: %zu documents ingested, %zu unchanged, %zu chunks written, %.2f s\n",
            rep->ingest.docs_ingested, rep->ingest.docs_unchanged, rep->ingest.chunks,
            rep->ingest.seconds);
    if (!many) {
        const mast_eval_metrics *m = &rep->mean;
        printf("collection  %s\nqueries     %zu\nnDCG@10     %.4f\nRecall@10   %.4f\n"
               "Recall@100  %.4f\nMRR@10      %.4f\nMAP@100     %.4f\nqueries/s   %.0f\n",
               rep->collection, rep->n_queries, m->ndcg_10, m->recall_10, m->recall_100,
               m->mrr_10, m->map_100, rep->qps);
        if (rep->bm25.postings)
            printf("top 10      %.0f queries/s; BM25 decoded %.1f%% of the query terms' "
                   "%llu postings\n", rep->qps_top10,
                   100.0 * (double)rep->bm25.decoded / (double)rep->bm25.postings,
                   (unsigned long long)rep->bm25.postings);
        if (rep->answer_hit_1 >= 0)
            printf("answer_hit@1 %.4f (extractive answers whose first cited sentence is from a "
                   "relevant document)\n", rep->answer_hit_1);
        return;
    }
    printf("%-32s %8s %10s %10s %8s %8s %9s\n", "run", "nDCG@10", "Recall@10", "Recall@100",
           "MRR@10", "MAP@100", "queries/s");
    for (size_t i = 0; i < n; i++) {
        const mast_eval_metrics *m = &runs[i].report.mean;
        printf("%-32s %8.4f %10.4f %10.4f %8.4f %8.4f %9.0f\n", runs[i].label, m->ndcg_10,
               m->recall_10, m->recall_100, m->mrr_10, m->map_100, runs[i].report.qps);
    }
}

/* DIR or DIR:LABEL */
static mast_status read_side(const char *arg, mast_eval_query_result **r, size_t *n, char *label,
                             size_t label_size, char **dir)
{
    *dir = strdup(arg);
    if (!*dir)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    char *colon = strchr(*dir, ':');
    if (colon)
        *colon = '\0';
    return mast_eval_read_run(*dir, colon ? colon + 1 : NULL, r, n, label, label_size);
}

static int compare_runs(int argc, char **argv, int json)
{
    if (argc != 2)
        return cli_usage("eval", "--compare takes two report folders (A B)");
    mast_eval_query_result *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    char la[96], lb[96], *da = NULL, *db = NULL;
    mast_eval_comparison cmp;
    mast_status st = read_side(argv[0], &a, &na, la, sizeof la, &da);
    if (st == MAST_OK)
        st = read_side(argv[1], &b, &nb, lb, sizeof lb, &db);
    if (st == MAST_OK)
        st = mast_eval_compare(a, na, b, nb, &cmp);
    if (st == MAST_OK && json) {
        cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:s}", "a", da,
                                 "a_label", la, "b", db, "b_label", lb, "queries", (json_int_t)cmp.n,
                                 "wins", (json_int_t)cmp.wins, "losses", (json_int_t)cmp.losses,
                                 "ties", (json_int_t)cmp.ties, "mean_diff_ndcg@10", cmp.mean_diff,
                                 "p_value", cmp.p_value, "test",
                                 "paired randomization, 10000 sign flips, two-sided"));
    } else if (st == MAST_OK) {
        printf("A  %s (%s)\nB  %s (%s)\nqueries compared   %zu\n"
               "nDCG@10 A - B      %+.4f (mean)\nA better / worse / same   %zu / %zu / %zu\n"
               "p-value            %.4f (paired randomization test, 10,000 sign flips, two-sided)\n",
               da, la, db, lb, cmp.n, cmp.mean_diff, cmp.wins, cmp.losses, cmp.ties, cmp.p_value);
    }
    mast_eval_query_results_free(a, na);
    mast_eval_query_results_free(b, nb);
    free(da);
    free(db);
    return st == MAST_OK ? 0 : cli_fail(st);
}

int cmd_eval(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_JSON, OPT_BEIR, OPT_SPLIT, OPT_CHUNK, OPT_MODE, OPT_EMBED, OPT_SWEEP,
           OPT_OUT, OPT_COMPARE, OPT_MIN_SECONDS, OPT_EXHAUSTIVE, OPT_ANSWERS };
    static const struct option options[] = {
        {"beir", required_argument, NULL, OPT_BEIR},
        {"collection", required_argument, NULL, 'c'},
        {"split", required_argument, NULL, OPT_SPLIT},
        {"chunk-tokens", required_argument, NULL, OPT_CHUNK},
        {"mode", required_argument, NULL, OPT_MODE},
        {"embed", required_argument, NULL, OPT_EMBED},
        {"sweep", required_argument, NULL, OPT_SWEEP},
        {"out", required_argument, NULL, OPT_OUT},
        {"compare", no_argument, NULL, OPT_COMPARE},
        {"min-seconds", required_argument, NULL, OPT_MIN_SECONDS},
        {"exhaustive", no_argument, NULL, OPT_EXHAUSTIVE},
        {"answers", no_argument, NULL, OPT_ANSWERS},
        CLI_FUSION_OPTIONS,
        {"json", no_argument, NULL, OPT_JSON},
        {"db", required_argument, NULL, OPT_DB},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    mast_eval_opts opts = {.progress = 1};
    opts.ingest.progress = 1;
    opts.fusion = MAST_FUSION_DEFAULT;
    const char *db = NULL, *out_dir = NULL, *sweep = NULL;
    int json = 0, compare = 0, fusion_given = 0, c;
    long v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        switch (c) {
        case OPT_BEIR: opts.dir = optarg; break;
        case 'c': opts.collection = optarg; break;
        case OPT_SPLIT: opts.split = optarg; break;
        case OPT_CHUNK:
            if (!cli_parse_int("eval", "--chunk-tokens", optarg, 16, 1 << 20, &v))
                return EXIT_USAGE;
            opts.ingest.chunk.chunk_tokens = (int)v;
            break;
        case OPT_MODE: {
            int m = mast_search_mode_parse(optarg);
            if (m < 0)
                return cli_usage("eval", "--mode must be bm25, dense or hybrid (got '%s')", optarg);
            opts.mode = (mast_search_mode)m;
            break;
        }
        case OPT_EMBED: opts.embed_model = optarg; break;
        case OPT_SWEEP: sweep = optarg; break;
        case OPT_OUT: out_dir = optarg; break;
        case OPT_COMPARE: compare = 1; break;
        case OPT_MIN_SECONDS:
            if (!cli_parse_int("eval", "--min-seconds", optarg, 0, 3600, &v))
                return EXIT_USAGE;
            opts.min_seconds = (double)v;
            break;
        case OPT_JSON: json = 1; break;
        case OPT_EXHAUSTIVE: opts.exhaustive = 1; break;
        case OPT_ANSWERS: opts.answers = 1; break;
        case OPT_DB: db = optarg; break;
        case 'h': fputs(eval_help, stdout); return 0;
        default: {
            int r = cli_fusion_option("eval", c, optarg, &opts.fusion, &opts.title_weight);
            if (r < 0)
                return EXIT_USAGE;
            if (r == 0)
                return cli_bad_option("eval", argv);
            fusion_given |= c == CLI_OPT_FUSION;
        }
        }
    }
    if (compare)
        return compare_runs(argc - optind, argv + optind, json);
    if (optind < argc)
        return cli_usage("eval", "unexpected argument '%s'", argv[optind]);
    if (!opts.dir)
        return cli_usage("eval", "--beir DIR is required");
    /* the runs: one, or one per alpha of the sweep */
    double alphas[64];
    size_t n_runs = 1;
    if (sweep) {
        if (strncmp(sweep, "alpha=", 6) != 0)
            return cli_usage("eval", "--sweep must be alpha=A,B,... (got '%s')", sweep);
        n_runs = 0;
        for (const char *p = sweep + 6; *p && n_runs < 64;) {
            char *end;
            double a = strtod(p, &end);
            if (end == p || !(a >= 0 && a <= 1) || (*end && *end != ','))
                return cli_usage("eval", "--sweep: alpha values are numbers from 0 to 1 (got '%s')", sweep);
            alphas[n_runs++] = a;
            p = *end ? end + 1 : end;
        }
        if (n_runs == 0)
            return cli_usage("eval", "--sweep: no alpha values");
        opts.mode = MAST_MODE_HYBRID;
        if (!fusion_given)
            opts.fusion.method = MAST_FUSION_CONVEX;
    }
    mast_eval_run *runs = calloc(n_runs, sizeof *runs);
    if (!runs)
        return cli_fail(mast_fail(MAST_ERR_NOMEM, "out of memory"));
    mast_store *store;
    mast_status st = cli_open_store(db, &store);
    if (st != MAST_OK) {
        free(runs);
        return cli_fail(st);
    }
    mast_retriever *r = NULL;
    mast_trace *trace = mast_trace_begin("eval");
    mast_trace_attr_str(trace, "beir", opts.dir);
    st = mast_retriever_create(&r);
    size_t done = 0;
    for (; st == MAST_OK && done < n_runs; done++) {
        runs[done].opts = opts;
        if (sweep)
            runs[done].opts.fusion.alpha = alphas[done];
        if (done)   /* the model is set (and the corpus embedded) by the first run */
            runs[done].opts.embed_model = NULL;
        mast_eval_run_label(&runs[done].opts, runs[done].label, sizeof runs[done].label);
        st = mast_eval_beir(store, r, &runs[done].opts, trace, &runs[done].report);
    }
    cli_finish_trace(store, trace, st);
    mast_retriever_free(r);
    mast_store_close(store);
    if (st == MAST_OK && out_dir)
        st = mast_eval_write_report(out_dir, runs, n_runs);
    if (st == MAST_OK)
        print_runs(runs, n_runs, json, sweep != NULL);
    for (size_t i = 0; i < done; i++)
        mast_eval_report_free(&runs[i].report);
    free(runs);
    if (st != MAST_OK)
        return cli_fail(st);
    return 0;
}
