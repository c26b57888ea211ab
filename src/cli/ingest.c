/*
** cli/ingest.c — `mast ingest` and `mast collections`.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "data/collection.h"
#include "data/retrieve.h"
#include "data/ingest/ingest.h"

static const char ingest_help[] =
    "Usage: mast ingest PATH... [options]\n"
    "\n"
    "Ingests files and folders (recursively; hidden entries are skipped) into a collection.\n"
    "Formats by extension: .md/.markdown (Markdown: headings become each chunk's heading path,\n"
    "fenced code blocks are never split), .jsonl/.ndjson (JSON Lines, one document per line,\n"
    "BEIR layout {\"_id\",\"title\",\"text\"}), anything else that is text (plain text). A .zst\n"
    "suffix is decompressed first. Files that are not text are skipped with a warning.\n"
    "Unchanged documents (same content hash) are skipped; changed ones are replaced.\n"
    "\n"
    "Options:\n"
    "  -c, --collection NAME   collection to ingest into (default: default; created if needed)\n"
    "      --chunk-tokens N    token budget per chunk (default 256)\n"
    "      --overlap N         tokens of overlap between consecutive chunks (default 0)\n"
    "      --prune             delete documents under PATH whose files (or JSON lines) are gone\n"
    "      --force             re-ingest documents even when unchanged\n"
    "      --id-field F        JSON Lines id field (default _id)\n"
    "      --title-field F     JSON Lines title field (default title)\n"
    "      --text-field F      JSON Lines text field (default text)\n"
    "      --db PATH           database (default $MAST_DB or ./mast.db)\n"
    "  -h, --help              this help\n"
    "\n"
    "Ends with a summary line. Exit status 1 if any file failed or nothing could be ingested.\n";

int cmd_ingest(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_CHUNK, OPT_OVERLAP, OPT_PRUNE, OPT_FORCE, OPT_ID, OPT_TITLE, OPT_TEXT };
    static const struct option options[] = {
        {"collection", required_argument, NULL, 'c'},
        {"chunk-tokens", required_argument, NULL, OPT_CHUNK},
        {"overlap", required_argument, NULL, OPT_OVERLAP},
        {"prune", no_argument, NULL, OPT_PRUNE},
        {"force", no_argument, NULL, OPT_FORCE},
        {"id-field", required_argument, NULL, OPT_ID},
        {"title-field", required_argument, NULL, OPT_TITLE},
        {"text-field", required_argument, NULL, OPT_TEXT},
        {"db", required_argument, NULL, OPT_DB},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *collection = DEFAULT_COLLECTION, *db = NULL;
    mast_ingest_opts opts = {.progress = 1};
    long v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        switch (c) {
        case 'c': collection = optarg; break;
        case OPT_CHUNK:
            if (!cli_parse_int("ingest", "--chunk-tokens", optarg, 16, 1 << 20, &v))
                return EXIT_USAGE;
            opts.chunk.chunk_tokens = (int)v;
            break;
        case OPT_OVERLAP:
            if (!cli_parse_int("ingest", "--overlap", optarg, 0, 1 << 19, &v))
                return EXIT_USAGE;
            opts.chunk.overlap_tokens = (int)v;
            break;
        case OPT_PRUNE: opts.prune = 1; break;
        case OPT_FORCE: opts.force = 1; break;
        case OPT_ID: opts.id_field = optarg; break;
        case OPT_TITLE: opts.title_field = optarg; break;
        case OPT_TEXT: opts.text_field = optarg; break;
        case OPT_DB: db = optarg; break;
        case 'h': fputs(ingest_help, stdout); return 0;
        default: return cli_bad_option("ingest", argv);
        }
    }
    if (optind >= argc)
        return cli_usage("ingest", "no PATH given");
    int budget = opts.chunk.chunk_tokens ? opts.chunk.chunk_tokens : 256;
    if (opts.chunk.overlap_tokens >= budget)
        return cli_usage("ingest", "--overlap (%d) must be smaller than --chunk-tokens (%d)",
                         opts.chunk.overlap_tokens, budget);

    mast_store *store;
    mast_status st = cli_open_store(db, &store);
    if (st != MAST_OK)
        return cli_fail(st);
    mast_trace *trace = mast_trace_begin("ingest");
    mast_trace_attr_str(trace, "collection", collection);
    mast_ingest_stats s;
    st = mast_ingest(store, collection, (const char *const *)argv + optind, (size_t)(argc - optind),
                     &opts, trace, &s);
    /* the index files follow now, not at the first search */
    int64_t collection_id;
    if (st == MAST_OK && s.docs_ingested + s.docs_pruned > 0 &&
        mast_store_collection_find(store, collection, &collection_id) == MAST_OK)
        st = mast_index_sync(store, collection_id, trace);
    cli_finish_trace(store, trace, st);
    mast_store_close(store);
    if (st != MAST_OK)
        return cli_fail(st);
    fprintf(stderr,
            "ingested into '%s': files %zu seen, %zu ingested, %zu unchanged, %zu skipped, "
            "%zu failed; documents %zu ingested, %zu unchanged, %zu skipped, %zu failed; "
            "%zu chunks; %.1f MB in %.2f s\n",
            collection, s.files_seen, s.files_ingested, s.files_unchanged, s.files_skipped,
            s.files_failed, s.docs_ingested, s.docs_unchanged, s.docs_skipped, s.docs_failed,
            s.chunks, (double)s.bytes / 1e6, s.seconds);
    if (opts.prune)
        fprintf(stderr, "pruned %zu document%s whose source is gone\n", s.docs_pruned,
                s.docs_pruned == 1 ? "" : "s");
    if (s.files_failed) {
        fprintf(stderr, "mast: ingest: %zu file%s failed (see the warnings above)\n",
                s.files_failed, s.files_failed == 1 ? "" : "s");
        return 1;
    }
    if (s.files_ingested + s.files_unchanged == 0 && s.docs_pruned == 0) {
        fprintf(stderr, "mast: ingest: no text files found in the given path%s\n",
                argc - optind > 1 ? "s" : "");
        return 1;
    }
    return 0;
}

static const char collections_help[] =
    "Usage: mast collections [--json] [--db PATH]\n"
    "\n"
    "Lists the collections with their document and chunk counts.\n";

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
    mast_collection_info *infos = NULL;
    size_t n = 0;
    if (st == MAST_OK)
        st = mast_store_collection_list(store, &infos, &n);
    mast_store_close(store);
    if (st != MAST_OK)
        return cli_fail(st);
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "name", infos[i].name,
                                                 "documents", (json_int_t)infos[i].n_documents,
                                                 "chunks", (json_int_t)infos[i].n_chunks));
        cli_print_json(arr);
    } else {
        if (n == 0)
            fprintf(stderr, "no collections yet: add documents with 'mast ingest PATH'\n");
        for (size_t i = 0; i < n; i++)
            printf("%-24s %8lld documents %9lld chunks\n", infos[i].name,
                   (long long)infos[i].n_documents, (long long)infos[i].n_chunks);
    }
    mast_collection_infos_free(infos, n);
    return 0;
}

static const char collection_help[] =
    "Usage: mast collection create NAME [--embed MODEL] [--reembed] [--language L] [--db PATH]\n"
    "\n"
    "Creates a collection (or updates its settings). --embed MODEL sets its embedding model (a\n"
    "BERT-family GGUF or a static word-vector model, see 'mast embed'): 'mast ingest' then\n"
    "stores a vector per chunk and 'mast search' defaults to hybrid retrieval. Changing the\n"
    "model of a collection that has one needs --reembed: its vectors are deleted and the next\n"
    "'mast ingest' of its files computes them again.\n"
    "\n"
    "--language L sets the BM25 analyzer: english (the default: Lucene's stop words and the\n"
    "Snowball stemmer), another Snowball language (french, german, spanish, italian, dutch,\n"
    "portuguese, russian, ...: its stemmer, no stop words), or none (no stemming and no stop\n"
    "words, '_' kept inside tokens: for identifiers and code). The index follows at the next\n"
    "search.\n";

int cmd_collection(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_EMBED, OPT_REEMBED, OPT_LANGUAGE };
    static const struct option options[] = {
        {"embed", required_argument, NULL, OPT_EMBED}, {"reembed", no_argument, NULL, OPT_REEMBED},
        {"language", required_argument, NULL, OPT_LANGUAGE},
        {"db", required_argument, NULL, OPT_DB},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *model = NULL, *language = NULL;
    int reembed = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case OPT_EMBED: model = optarg; break;
        case OPT_REEMBED: reembed = 1; break;
        case OPT_LANGUAGE: language = optarg; break;
        case OPT_DB: db = optarg; break;
        case 'h': fputs(collection_help, stdout); return 0;
        default: return cli_bad_option("collection", argv);
        }
    }
    if (optind + 2 != argc || strcmp(argv[optind], "create") != 0)
        return cli_usage("collection", "expected: create NAME");
    const char *name = argv[optind + 1];
    mast_store *store;
    mast_status st = cli_open_store(db, &store);
    int64_t id;
    if (st == MAST_OK && language)
        st = mast_collection_set_language(store, name, language);
    if (st == MAST_OK)
        st = model ? mast_collection_set_embedder(store, name, model, reembed)
                   : mast_store_collection_ensure(store, name, &id);
    mast_store_close(store);
    if (st != MAST_OK)
        return cli_fail_arg(st);   /* a bad name or language is a bad argument */
    fprintf(stderr, "collection '%s' ready%s%s\n", name, model ? ", embedding with " : "",
            model ? model : "");
    return 0;
}
