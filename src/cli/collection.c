/*
** cli/collection.c — `mast collections` and `mast collection
** create|show|delete`: what a store holds, and its settings.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/status.h"
#include "cli/cli.h"
#include "data/collection.h"
#include "deploy/api.h"

static const char collections_help[] =
    "Usage: mast collections [--json] [--db PATH]\n"
    "\n"
    "Lists the collections with their document and chunk counts and their settings\n"
    "(embedding model or own vectors, analyzer language). --json prints the objects of\n"
    "GET /v1/collections.\n";

/* Where a collection's vectors come from ("embeds with MODEL", "own vectors: 3
** dimensions, cos"); 0 when it has none. */
static int vectors_of(json_t *collection, char *out, size_t n)
{
    const char *model = mast_json_get_str(collection, "embed_model", NULL);
    json_t *vec = json_object_get(collection, "vectors");
    if (model)
        snprintf(out, n, "embeds with %s", model);
    else if (json_is_object(vec))
        snprintf(out, n, "own vectors: %lld dimensions, %s", (long long)mast_json_get_int(vec, "dim", 0),
                 mast_json_get_str(vec, "metric", "cos"));
    return model || json_is_object(vec);
}

int cmd_collections(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_JSON };
    static const struct option options[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"db", required_argument, NULL, OPT_DB},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL;
    int json = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: json = 1; break;
        case OPT_DB: db = optarg; break;
        case 'h': fputs(collections_help, stdout); return 0;
        default: return cli_bad_option("collections", argv);
        }
    }
    if (optind < argc)
        return cli_usage("collections", "unexpected argument '%s'", argv[optind]);
    mast_store *store;
    mast_status st = cli_open_store_read(db, &store);
    if (st != MAST_OK)
        return cli_fail(st);
    json_t *arr = NULL;
    st = mast_api_collections(store, NULL, &arr);
    mast_store_close(store);
    if (st != MAST_OK)
        return cli_fail(st);
    if (json) {
        cli_print_json(arr);
        return 0;
    }
    if (json_array_size(arr) == 0)
        fprintf(stderr, "no collections yet: add documents with 'mast ingest PATH'\n");
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        char dense[512];
        printf("%-24s %8lld documents %9lld chunks", mast_json_get_str(o, "name", ""),
               (long long)mast_json_get_int(o, "documents", 0),
               (long long)mast_json_get_int(o, "chunks", 0));
        if (vectors_of(o, dense, sizeof dense))
            printf("  %s", dense);
        const char *lang = mast_json_get_str(o, "language", "english");
        if (strcmp(lang, "english") != 0)
            printf("  language %s", lang);
        printf("\n");
    }
    json_decref(arr);
    return 0;
}

static const char collection_help[] =
    "Usage: mast collection create NAME [--embed MODEL [--reembed] | --dim N [--metric M]]\n"
    "                              [--language L]\n"
    "       mast collection show NAME [--json]\n"
    "       mast collection delete NAME [--yes]\n"
    "\n"
    "create: creates a collection (or updates its settings). --embed MODEL sets its embedding\n"
    "  model (a BERT-family GGUF or a static word-vector model, see 'mast embed'): 'mast\n"
    "  ingest' then stores a vector per chunk and 'mast search' defaults to hybrid retrieval.\n"
    "  Changing the model of a collection that has one needs --reembed: its vectors are\n"
    "  deleted and the next 'mast ingest' of its files computes them again.\n"
    "  --dim N [--metric cos|ip|l2] makes a collection whose documents bring their own\n"
    "  vectors (from a provider's embedding API, say): JSON Lines ingest reads them from\n"
    "  --vector-field, the HTTP API from each document's \"vector\", and search takes a query\n"
    "  vector (--vector, or \"vector\" over HTTP). Each such document is one chunk.\n"
    "  --language L sets the BM25 analyzer: english (the default: Lucene's stop words and the\n"
    "  Snowball stemmer), another Snowball language (french, german, spanish, italian, dutch,\n"
    "  portuguese, russian, ...: its stemmer, no stop words), or none (no stemming and no\n"
    "  stop words, '_' kept inside tokens: for identifiers and code). The index follows at\n"
    "  the next search.\n"
    "show: its settings, counts, data version and index files with their sizes.\n"
    "delete: deletes it with every document, chunk, vector and index file. It asks first on\n"
    "  a terminal; --yes (needed without a terminal) does not ask.\n"
    "\n"
    "Options: --json (show), --db PATH (default $MAST_DB or ./mast.db), -h, --help\n";

static int show(const char *db, const char *name, int json)
{
    mast_store *store;
    mast_status st = cli_open_store_read(db, &store);
    if (st != MAST_OK)
        return cli_fail(st);
    json_t *o = NULL;
    st = mast_api_collections(store, name, &o);
    mast_store_close(store);
    if (st != MAST_OK)
        return cli_fail_arg(st);   /* an invalid name is a bad argument */
    if (json) {
        cli_print_json(o);
        return 0;
    }
    char when[32];
    printf("collection   %s (created %s, data version %lld)\n", name,
           cli_format_time(mast_json_get_int(o, "created_at", 0), when, sizeof when),
           (long long)mast_json_get_int(o, "data_version", 0));
    printf("documents    %lld\nchunks       %lld\n", (long long)mast_json_get_int(o, "documents", 0),
           (long long)mast_json_get_int(o, "chunks", 0));
    char dense[512];
    printf("vectors      %s\n", vectors_of(o, dense, sizeof dense) ? dense : "none (BM25 only)");
    printf("language     %s\n", mast_json_get_str(o, "language", "english"));
    cli_print_index_files(json_object_get(o, "index"));
    json_decref(o);
    return 0;
}

static int delete_collection(const char *db, const char *name, int yes)
{
    mast_store *store;
    mast_status st = cli_open_store_read(db, &store);   /* never creates a store to delete from */
    if (st != MAST_OK)
        return cli_fail(st);
    int64_t id;
    st = mast_store_collection_find(store, name, &id);
    if (st == MAST_OK && !yes) {
        if (!isatty(STDIN_FILENO)) {
            mast_store_close(store);
            return cli_usage("collection", "deleting '%s' needs --yes when not on a terminal", name);
        }
        int64_t n_chunks = 0;
        mast_store_count_chunks(store, id, &n_chunks);
        fprintf(stderr, "delete collection '%s' with its %lld chunks and index files? [y/N] ",
                name, (long long)n_chunks);
        char answer[16] = "";
        if (!fgets(answer, sizeof answer, stdin) || (answer[0] != 'y' && answer[0] != 'Y')) {
            fprintf(stderr, "not deleted\n");
            mast_store_close(store);
            return 1;
        }
    }
    if (st == MAST_OK)
        st = mast_collection_delete(NULL, store, name);
    mast_store_close(store);
    if (st != MAST_OK)
        return cli_fail_arg(st);
    fprintf(stderr, "deleted collection '%s'\n", name);
    return 0;
}

int cmd_collection(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_EMBED, OPT_REEMBED, OPT_LANGUAGE, OPT_DIM, OPT_METRIC, OPT_JSON, OPT_YES };
    static const struct option options[] = {
        {"embed", required_argument, NULL, OPT_EMBED}, {"reembed", no_argument, NULL, OPT_REEMBED},
        {"language", required_argument, NULL, OPT_LANGUAGE},
        {"dim", required_argument, NULL, OPT_DIM},     {"metric", required_argument, NULL, OPT_METRIC},
        {"json", no_argument, NULL, OPT_JSON},         {"yes", no_argument, NULL, OPT_YES},
        {"db", required_argument, NULL, OPT_DB},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *model = NULL, *language = NULL, *metric = NULL;
    int reembed = 0, json = 0, yes = 0, c;
    long dim = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hy", options, NULL)) != -1) {
        switch (c) {
        case OPT_EMBED: model = optarg; break;
        case OPT_REEMBED: reembed = 1; break;
        case OPT_LANGUAGE: language = optarg; break;
        case OPT_DIM:
            if (!cli_parse_int("collection", "--dim", optarg, 1, MAST_MAX_VECTOR_DIM, &dim))
                return EXIT_USAGE;
            break;
        case OPT_METRIC:
            if (strcmp(optarg, "cos") && strcmp(optarg, "ip") && strcmp(optarg, "l2"))
                return cli_usage("collection", "--metric must be cos, ip or l2 (got '%s')", optarg);
            metric = optarg;
            break;
        case OPT_JSON: json = 1; break;
        case 'y':
        case OPT_YES: yes = 1; break;
        case OPT_DB: db = optarg; break;
        case 'h': fputs(collection_help, stdout); return 0;
        default: return cli_bad_option("collection", argv);
        }
    }
    if (optind + 2 != argc)
        return cli_usage("collection", "expected: create|show|delete NAME");
    const char *verb = argv[optind], *name = argv[optind + 1];
    if (strcmp(verb, "show") == 0)
        return show(db, name, json);
    if (strcmp(verb, "delete") == 0)
        return delete_collection(db, name, yes);
    if (strcmp(verb, "create") != 0)
        return cli_usage("collection", "unknown subcommand '%s' (create, show or delete)", verb);
    if (model && dim)
        return cli_usage("collection", "--embed (mast embeds the text) and --dim (documents "
                         "bring their vectors) exclude each other");
    if (metric && !dim)
        return cli_usage("collection", "--metric goes with --dim");
    mast_store *store;
    mast_status st = cli_open_store(db, &store);
    mast_collection_options co = MAST_COLLECTION_OPTIONS_INIT;
    co.language = language;
    co.dim = (int)dim;
    co.metric = metric;
    if (st == MAST_OK)   /* a model change needs --reembed: mast_collection_set_embedder asks it */
        st = mast_collection_create(store, name, &co);
    if (st == MAST_OK && model)
        st = mast_collection_set_embedder(store, name, model, reembed);
    mast_store_close(store);
    if (st != MAST_OK)
        return cli_fail_arg(st);   /* a bad name or language is a bad argument */
    if (model)
        fprintf(stderr, "collection '%s' ready, embedding with %s\n", name, model);
    else if (dim)
        fprintf(stderr, "collection '%s' ready for vectors of %ld dimensions (%s)\n", name, dim,
                metric ? metric : "cos");
    else
        fprintf(stderr, "collection '%s' ready\n", name);
    return 0;
}
