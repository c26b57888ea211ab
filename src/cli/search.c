/*
** cli/search.c — `mast search` and `mast ask`.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/buf.h"
#include "base/mmap.h"
#include "base/status.h"
#include "base/utf8.h"
#include "cli/cli.h"
#include "deploy/api.h"
#include "deploy/rag.h"

static const char search_help[] =
    "Usage: mast search \"QUERY\" [options]\n"
    "       mast search [\"QUERY\"] --vector '[0.1, 0.2, ...]' [options]\n"
    "\n"
    "Searches a collection and prints the best passages: rank, score, source (uri and\n"
    "heading path) and a snippet.\n"
    "\n"
    "Options:\n"
    "  -c, --collection NAME   collection (default: default)\n"
    "  -k N                    number of results (default 10, at most 1000)\n"
    "      --mode M            bm25, dense or hybrid (reciprocal-rank fusion, k = 60); the\n"
    "                          default is hybrid when the collection has an embedding model,\n"
    "                          else bm25\n"
    CLI_FUSION_HELP
    "      --filter KEY=VALUE  only documents whose metadata has KEY equal to VALUE (compared\n"
    "                          as text; JSON Lines documents bring their \"metadata\" object,\n"
    "                          every document has \"format\")\n"
    "      --vector JSON       a query vector (a JSON array, or @FILE holding one) of the\n"
    "                          collection's dimension: searched densely, fused with QUERY\n"
    "                          when both are given (for collections with their own vectors)\n"
    "      --expand N|section  small-to-big: give each result's context, the matched chunk\n"
    "                          with N chunks of its document either side (1-10), or its\n"
    "                          whole section (the chunks under the same heading, at most 16\n"
    "                          either side); results are still ranked by the chunk alone\n"
    "      --json              print a JSON array of {rank, score, chunk_id, doc_id, uri,\n"
    "                          title, heading, text, page_start, page_end, context}\n"
    "      --db PATH           database (default $MAST_DB or ./mast.db)\n"
    "  -h, --help              this help\n";

static const char ask_help[] =
    "Usage: mast ask \"QUESTION\" [options]\n"
    "\n"
    "Answers a question from the best passages of a collection, citing them as [n], and\n"
    "prints the numbered sources. With --model, a model (local, or a gateway model of\n"
    "--config) writes the answer from the\n"
    "numbered passages (streamed as it is generated); without one the answer is\n"
    "extractive: the passages' sentences that best match the question.\n"
    "\n"
    "Options:\n"
    "  -c, --collection NAME   collection (default: default)\n"
    "  -k N                    passages to retrieve (default 5, at most 1000)\n"
    "      --expand N|section  with --model: the model reads each passage with N chunks of\n"
    "                          its document either side, or its whole section (small-to-big)\n"
    "      --model FILE|NAME   a GGUF Llama-family model (see 'mast run') to write the answer,\n"
    "                          or a model of the gateway configuration\n"
    "      --config FILE       the gateway configuration (mast.yaml; default $MAST_CONFIG)\n"
    "  -n N                    answer tokens at most (default 512)\n"
    "      --temp T            temperature (default 0: greedy)\n"
    "      --seed N            random seed for --temp above 0 (default 0)\n"
    "      --ctx N             the model's context in tokens (default: its own, at most 4096)\n"
    "  -t, --threads N         threads for the model (default: every CPU)\n"
    "      --json              print {answer, citations: [{n, uri, heading, text, ...}],\n"
    "                          extractive, note}\n"
    "      --db PATH           database (default $MAST_DB or ./mast.db)\n"
    "  -h, --help              this help\n";

typedef struct args {
    const char *collection, *db, *text, *filter, *model, *vector, *config;
    long max_tokens, seed, ctx, threads;
    float temp;
    int gen_option;   /* one of the model options was given */
    mast_fusion fusion;
    double title_weight;
    int expand;
    long k;
    int json;
    mast_search_mode mode;
} args;

/* Parses the options shared by search and ask; returns -1 to go on, else an
** exit code. */
static int parse(const char *cmd, const char *help, long default_k, int argc, char **argv,
                 args *a)
{
    enum { OPT_DB = 256, OPT_JSON, OPT_MODE, OPT_FILTER, OPT_MODEL, OPT_TEMP, OPT_SEED, OPT_CTX,
           OPT_VECTOR, OPT_CONFIG, OPT_EXPAND };
    static const struct option options[] = {
        {"collection", required_argument, NULL, 'c'},
        {"filter", required_argument, NULL, OPT_FILTER},
        {"vector", required_argument, NULL, OPT_VECTOR},
        {"expand", required_argument, NULL, OPT_EXPAND},
        CLI_FUSION_OPTIONS,
        {"json", no_argument, NULL, OPT_JSON},
        {"mode", required_argument, NULL, OPT_MODE},
        {"db", required_argument, NULL, OPT_DB},
        {"model", required_argument, NULL, OPT_MODEL},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"temp", required_argument, NULL, OPT_TEMP},
        {"seed", required_argument, NULL, OPT_SEED},
        {"ctx", required_argument, NULL, OPT_CTX},
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *a = (args){.collection = DEFAULT_COLLECTION, .k = default_k, .fusion = MAST_FUSION_DEFAULT,
                .max_tokens = 512};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:k:n:t:h", options, NULL)) != -1) {
        switch (c) {
        case 'c': a->collection = optarg; break;
        case OPT_MODEL: a->model = optarg; a->gen_option = 1; break;
        case OPT_CONFIG: a->config = optarg; a->gen_option = 1; break;
        case 'n':
            if (!cli_parse_int(cmd, "-n", optarg, 1, 1 << 20, &a->max_tokens))
                return EXIT_USAGE;
            a->gen_option = 1;
            break;
        case 't':
            if (!cli_parse_int(cmd, "--threads", optarg, 1, 1024, &a->threads))
                return EXIT_USAGE;
            a->gen_option = 1;
            break;
        case OPT_SEED:
            if (!cli_parse_int(cmd, "--seed", optarg, 0, 0x7fffffffffffffffL, &a->seed))
                return EXIT_USAGE;
            a->gen_option = 1;
            break;
        case OPT_CTX:
            if (!cli_parse_int(cmd, "--ctx", optarg, 16, 1 << 20, &a->ctx))
                return EXIT_USAGE;
            a->gen_option = 1;
            break;
        case OPT_TEMP: {
            char *end;
            double t = strtod(optarg, &end);
            if (end == optarg || *end || !(t >= 0 && t <= 100))
                return cli_usage(cmd, "--temp must be a number from 0 to 100 (got '%s')", optarg);
            a->temp = (float)t;
            a->gen_option = 1;
            break;
        }
        case 'k':
            if (!cli_parse_int(cmd, "-k", optarg, 1, 1000, &a->k))
                return EXIT_USAGE;
            break;
        case OPT_JSON: a->json = 1; break;
        case OPT_MODE: {
            int m = mast_search_mode_parse(optarg);
            if (m < 0)
                return cli_usage(cmd, "--mode must be bm25, dense or hybrid (got '%s')", optarg);
            a->mode = (mast_search_mode)m;
            break;
        }
        case OPT_DB: a->db = optarg; break;
        case OPT_FILTER:
            if (!strchr(optarg, '=') || optarg[0] == '=')
                return cli_usage(cmd, "--filter must be KEY=VALUE (got '%s')", optarg);
            a->filter = optarg;
            break;
        case OPT_VECTOR: a->vector = optarg; break;
        case OPT_EXPAND:
            if (strcmp(optarg, "section") == 0) {
                a->expand = MAST_EXPAND_SECTION;
            } else {
                long e;
                if (!cli_parse_int(cmd, "--expand", optarg, 0, MAST_EXPAND_MAX, &e))
                    return EXIT_USAGE;
                a->expand = (int)e;
            }
            break;
        case 'h': fputs(help, stdout); return 0;
        default: {
            int r = cli_fusion_option(cmd, c, optarg, &a->fusion, &a->title_weight);
            if (r < 0)
                return EXIT_USAGE;
            if (r == 0)
                return cli_bad_option(cmd, argv);
        }
        }
    }
    if (a->vector && strcmp(cmd, "ask") == 0)
        return cli_usage(cmd, "--vector is an option of 'mast search'");
    if (a->expand && strcmp(cmd, "ask") == 0 && !a->model)
        return cli_usage(cmd, "--expand gives a model the passages' context: it needs --model");
    if (optind >= argc && a->vector)
        return -1;   /* a vector alone */
    if (optind >= argc)
        return cli_usage(cmd, "no %s given", strcmp(cmd, "ask") == 0 ? "QUESTION" : "QUERY");
    if (optind + 1 < argc)
        return cli_usage(cmd, "unexpected argument '%s' (quote the %s)", argv[optind + 1],
                         strcmp(cmd, "ask") == 0 ? "question" : "query");
    a->text = argv[optind];
    if (!*a->text)
        return cli_usage(cmd, "the %s is empty", strcmp(cmd, "ask") == 0 ? "question" : "query");
    return -1;
}

/* Prints a one-line preview of text: at most max_chars characters, cut on a
** character (and word) boundary. */
static void print_snippet(const char *text, size_t max_chars)
{
    mast_buf b = {0};
    if (mast_utf8_preview(text, strlen(text), max_chars, &b) == MAST_OK)
        fputs(mast_buf_cstr(&b), stdout);
    mast_buf_free(&b);
}

static void print_source(const mast_result *r)
{
    printf("%s", r->uri);
    if (r->heading && *r->heading)
        printf(" > %s", r->heading);
    if (r->page_start > 0 && r->page_end > r->page_start)
        printf(" (pp. %d-%d)", r->page_start, r->page_end);
    else if (r->page_start > 0)
        printf(" (p. %d)", r->page_start);
}

/* --vector: a JSON array, or @FILE holding one */
static mast_status parse_vector(const char *arg, float **out, size_t *dim)
{
    char *text = NULL;
    size_t len = 0;
    if (arg[0] == '@' && !arg[1])
        return mast_fail(MAST_ERR_INVALID, "--vector @FILE needs a file name after the @");
    if (arg[0] == '@' && mast_read_file(arg + 1, 64 << 20, &text, &len) != MAST_OK)
        return mast_fail_prefix(MAST_ERR_INVALID, "--vector");   /* "--vector: PATH: why" */
    json_t *v = NULL;
    mast_status st = mast_json_parse(text ? text : arg, text ? len : strlen(arg), "--vector", &v);
    free(text);
    if (st == MAST_OK)
        st = mast_api_vector(v, "--vector", out, dim);
    json_decref(v);
    return st == MAST_ERR_FORMAT ? MAST_ERR_INVALID : st;   /* a bad argument either way */
}

int cmd_search(int argc, char **argv)
{
    args a;
    int rc = parse("search", search_help, 10, argc, argv, &a);
    if (rc < 0 && a.gen_option)
        return cli_usage("search", "--model, --config, -n, --temp, --seed, --ctx and --threads are options of "
                         "'mast ask'");
    if (rc >= 0)
        return rc;
    mast_store *store;
    mast_status st = cli_open_store_read(a.db, &store);
    if (st != MAST_OK)
        return cli_fail(st);
    mast_retriever *r = NULL;
    mast_result *res = NULL;
    size_t n = 0;
    mast_trace *trace = mast_trace_begin("search");
    mast_trace_attr_str(trace, "collection", a.collection);
    if (a.text)
        mast_trace_attr_str(trace, "query", a.text);
    mast_trace_attr_int(trace, "k", a.k);
    float *vector = NULL;
    size_t dim = 0;
    if (a.vector)
        st = parse_vector(a.vector, &vector, &dim);
    if (st == MAST_OK)
        st = mast_retriever_create(&r);
    if (st == MAST_OK) {
        mast_filter f = {NULL, NULL};
        char *owned = NULL;
        if (a.filter)
            st = mast_filter_parse(a.filter, &f, &owned);
        if (st == MAST_OK)
            st = mast_search_with(r, store, a.collection, a.text, (size_t)a.k,
                                  &(mast_search_opts){.mode = a.mode, .filter = &f, .fusion = a.fusion,
                                                     .title_weight = a.title_weight,
                                                     .query_vector = vector,
                                                     .query_vector_dim = dim,
                                                     .expand = a.expand},
                                  trace, &res, &n);
        free(owned);
    }
    free(vector);
    mast_trace_attr_int(trace, "n_results", (int64_t)n);
    cli_finish_trace(store, trace, st);
    mast_retriever_free(r);
    mast_store_close(store);
    if (st != MAST_OK)
        return cli_fail_arg(st);   /* a bad filter or a mode the collection cannot run */
    if (a.json) {
        cli_print_json(mast_api_results(res, n));
    } else {
        if (n == 0)
            fprintf(stderr, "no results in '%s'\n", a.collection);
        for (size_t i = 0; i < n; i++) {
            printf("%2d. %7.3f  ", res[i].rank, res[i].score);
            print_source(&res[i]);
            printf("\n    ");
            print_snippet(res[i].text, 200);
            printf("\n");
            if (res[i].context) {   /* the whole context, indented */
                printf("    context:\n");
                for (const char *p = res[i].context, *nl; *p; p = nl ? nl + 1 : p + strlen(p)) {
                    nl = strchr(p, '\n');
                    int len = nl ? (int)(nl - p) : (int)strlen(p);
                    printf("%s%.*s\n", len ? "      " : "", len, p);
                }
            }
        }
    }
    mast_results_free(res, n);
    return 0;
}

static int stream_answer(void *ctx, const char *text, size_t len)
{
    (void)ctx;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

int cmd_ask(int argc, char **argv)
{
    args a;
    int rc = parse("ask", ask_help, 5, argc, argv, &a);
    if (rc < 0 && a.filter)
        return cli_usage("ask", "--filter is an option of 'mast search'");
    if (rc >= 0)
        return rc;
    mast_store *store;
    mast_status st = cli_open_store_read(a.db, &store);
    if (st != MAST_OK)
        return cli_fail(st);
    mast_retriever *r = NULL;
    mast_answer ans = {0};
    mast_trace *trace = mast_trace_begin("ask");
    mast_trace_attr_str(trace, "collection", a.collection);
    mast_trace_attr_str(trace, "question", a.text);
    mast_trace_attr_int(trace, "k", a.k);
    st = mast_retriever_create(&r);
    mast_generator *gen = NULL;
    if (st == MAST_OK && a.model) {
        mast_local_opts o = MAST_LOCAL_OPTS_DEFAULT;
        o.n_ctx = (int)a.ctx;
        o.threads = (int)a.threads;
        bool gateway;
        st = cli_open_generator(a.model, a.config, &o, &gen, &gateway);
    }
    mast_gen_params gp = MAST_GEN_PARAMS_DEFAULT;
    gp.max_tokens = (int)a.max_tokens;
    gp.sampler.temperature = a.temp;
    gp.sampler.seed = (uint64_t)a.seed;
    if (st == MAST_OK)
        st = mast_ask_with(r, store, a.collection, a.text, (size_t)a.k, a.expand, gen, &gp,
                           gen && !a.json ? stream_answer : NULL, NULL, trace, &ans);
    mast_generator_free(gen);
    cli_finish_trace(store, trace, st);
    mast_retriever_free(r);
    mast_store_close(store);
    if (st != MAST_OK)
        return cli_fail_arg(st);
    if (a.json) {
        cli_print_json(mast_api_answer(&ans));
    } else {
        if (ans.extractive)   /* a generated answer was streamed already */
            printf("%s", ans.answer);
        printf("\n");
        if (ans.n_sources)
            printf("\nSources:\n");
        for (size_t i = 0; i < ans.n_sources; i++) {
            printf("  [%zu] ", i + 1);
            print_source(&ans.sources[i]);
            printf("  (score %.3f)\n", ans.sources[i].score);
        }
        printf("\n(%s)\n", ans.note);
    }
    mast_answer_free(&ans);
    return 0;
}
