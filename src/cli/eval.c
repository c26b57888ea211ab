/*
** cli/eval.c — `mast eval --beir DIR`.
*/
#include <stdio.h>

#include "cli/cli.h"
#include "observe/eval.h"

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
    "      --json              print {\"ndcg@10\", \"recall@10\", \"recall@100\", \"mrr@10\",\n"
    "                          \"map@100\", \"queries\", \"qps\"}\n"
    "      --db PATH           database (default $MAST_DB or ./mast.db)\n"
    "  -h, --help              this help\n";

int cmd_eval(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_JSON, OPT_BEIR, OPT_SPLIT, OPT_CHUNK, OPT_MODE, OPT_EMBED };
    static const struct option options[] = {
        {"beir", required_argument, NULL, OPT_BEIR},
        {"collection", required_argument, NULL, 'c'},
        {"split", required_argument, NULL, OPT_SPLIT},
        {"chunk-tokens", required_argument, NULL, OPT_CHUNK},
        {"mode", required_argument, NULL, OPT_MODE},
        {"embed", required_argument, NULL, OPT_EMBED},
        CLI_FUSION_OPTIONS,
        {"json", no_argument, NULL, OPT_JSON},
        {"db", required_argument, NULL, OPT_DB},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    mast_eval_opts opts = {.progress = 1};
    opts.ingest.progress = 1;
    opts.fusion = MAST_FUSION_DEFAULT;
    const char *db = NULL;
    int json = 0, c;
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
        case OPT_JSON: json = 1; break;
        case OPT_DB: db = optarg; break;
        case 'h': fputs(eval_help, stdout); return 0;
        default: {
            int r = cli_fusion_option("eval", c, optarg, &opts.fusion);
            if (r < 0)
                return EXIT_USAGE;
            if (r == 0)
                return cli_bad_option("eval", argv);
        }
        }
    }
    if (optind < argc)
        return cli_usage("eval", "unexpected argument '%s'", argv[optind]);
    if (!opts.dir)
        return cli_usage("eval", "--beir DIR is required");
    mast_store *store;
    mast_status st = cli_open_store(db, &store);
    if (st != MAST_OK)
        return cli_fail(st);
    mast_retriever *r = NULL;
    mast_eval_report rep;
    mast_trace *trace = mast_trace_begin("eval");
    mast_trace_attr_str(trace, "beir", opts.dir);
    st = mast_retriever_create(&r);
    if (st == MAST_OK)
        st = mast_eval_beir(store, r, &opts, trace, &rep);
    cli_finish_trace(store, trace, st);
    mast_retriever_free(r);
    mast_store_close(store);
    if (st != MAST_OK)
        return cli_fail(st);
    const mast_eval_metrics *m = &rep.mean;
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:I, s:f}", "collection",
                              rep.collection, "mode", mast_search_mode_name(opts.mode), "ndcg@10",
                              m->ndcg_10, "recall@10", m->recall_10, "recall@100", m->recall_100,
                              "mrr@10", m->mrr_10, "map@100", m->map_100, "queries",
                              (json_int_t)rep.n_queries, "qps", rep.qps);
        /* the fusion settings (used when the search is hybrid) */
        json_object_set_new(o, "fusion", json_pack("{s:s, s:f, s:s, s:f}", "method",
                                                   mast_fusion_method_name(opts.fusion.method),
                                                   "alpha", opts.fusion.alpha, "normalize",
                                                   opts.fusion.norm == MAST_NORM_ZSCORE ? "zscore" : "minmax",
                                                   "rrf_k", opts.fusion.rrf_k));
        cli_print_json(o);
    } else {
        fprintf(stderr, "corpus: %zu documents ingested, %zu unchanged, %zu chunks written, %.2f s\n",
                rep.ingest.docs_ingested, rep.ingest.docs_unchanged, rep.ingest.chunks,
                rep.ingest.seconds);
        printf("collection  %s\nqueries     %zu\nnDCG@10     %.4f\nRecall@10   %.4f\n"
               "Recall@100  %.4f\nMRR@10      %.4f\nMAP@100     %.4f\nqueries/s   %.0f\n",
               rep.collection, rep.n_queries, m->ndcg_10, m->recall_10, m->recall_100, m->mrr_10,
               m->map_100, rep.qps);
    }
    return 0;
}
