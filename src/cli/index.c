/*
** cli/index.c — `mast index info|rebuild|optimize`: a collection's derived indexes.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/status.h"
#include "cli/cli.h"
#include "data/retrieve.h"
#include "data/vindex/vindex.h"
#include "deploy/api.h"
#include "base/json.h"

static const char index_help[] =
    "Usage: mast index info|rebuild|optimize [-c NAME] [--db PATH]\n"
    "\n"
    "A collection's indexes are derived from the database and kept in one folder beside it\n"
    "(<db>.idx/), brought up to date by ingest and by the first search after any change:\n"
    "  c<id>.tix, .tix-N       BM25: a manifest and compressed postings segments; new\n"
    "                          chunks become a new segment, deleted ones are marked, and\n"
    "                          past 8 segments the newest are merged\n"
    "  c<id>.vix               vectors: exact below 10,000, HNSW from there on\n"
    "A damaged file is rebuilt from the database with a warning.\n"
    "\n"
    "  info      print the collection's data version and its index files (BM25: segments,\n"
    "            chunks, deleted, postings, bytes; vectors: type, vectors, tombstones,\n"
    "            memory; each with the data version it reflects); --json prints it as JSON\n"
    "  rebuild   delete the index files and build them again from the database\n"
    "  optimize  merge the BM25 segments into one, dropping deleted chunks (their\n"
    "            statistics count until then, as in Lucene)\n"
    "\n"
    "Options:\n"
    "  -c, --collection NAME   collection (default: default)\n"
    "      --json              print JSON\n"
    "      --db PATH           database (default $MAST_DB or ./mast.db)\n";

static void print_index(const char *collection, int64_t version, json_t *idx)
{
    printf("collection   %s (data version %lld)\n", collection, (long long)version);
    cli_print_index_files(idx);
}

int cmd_index(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_JSON };
    static const struct option options[] = {
        {"collection", required_argument, NULL, 'c'}, {"db", required_argument, NULL, OPT_DB},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0},
    };
    const char *collection = DEFAULT_COLLECTION, *db = NULL;
    int c, json = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        switch (c) {
        case 'c': collection = optarg; break;
        case OPT_DB: db = optarg; break;
        case OPT_JSON: json = 1; break;
        case 'h': fputs(index_help, stdout); return 0;
        default: return cli_bad_option("index", argv);
        }
    }
    if (optind + 1 != argc || (strcmp(argv[optind], "info") && strcmp(argv[optind], "rebuild") &&
                               strcmp(argv[optind], "optimize")))
        return cli_usage("index", "expected 'info', 'rebuild' or 'optimize'");
    int rebuild = strcmp(argv[optind], "rebuild") == 0;
    int optimize = strcmp(argv[optind], "optimize") == 0;
    mast_store *store;
    mast_status st = rebuild || optimize ? cli_open_store(db, &store) : cli_open_store_read(db, &store);
    if (st != MAST_OK)
        return cli_fail(st);
    int64_t id = 0, version = 0;
    char *path = NULL;
    st = mast_store_collection_find(store, collection, &id);
    if (st == MAST_OK)
        st = mast_store_collection_version(store, id, &version);
    if (st == MAST_OK)
        path = mast_retrieve_vindex_path(store, id);
    if (st == MAST_OK && rebuild) {
        if (path && unlink(path) != 0 && access(path, F_OK) == 0)
            st = mast_fail(MAST_ERR_IO, "%s: cannot delete the old index", path);
        char *tix = mast_retrieve_tindex_path(store, id);
        if (tix)
            mast_bm25_remove_files(tix);
        free(tix);
    }
    if (st == MAST_OK && (rebuild || optimize)) {
        mast_trace *trace = mast_trace_begin(rebuild ? "index.rebuild" : "index.optimize");
        st = rebuild ? mast_index_sync(store, id, trace) : mast_index_optimize(store, id, trace);
        cli_finish_trace(store, trace, st);
    }
    if (st == MAST_OK && (st = mast_store_collection_version(store, id, &version)) == MAST_OK) {
        json_t *idx = mast_api_index(store, id);
        if (json) {
            cli_print_json(json_pack("{s:s, s:I, s:O, s:O}", "collection", collection,
                                     "data_version", (json_int_t)version, "text_index",
                                     json_object_get(idx, "text"), "vector_index",
                                     json_object_get(idx, "vectors")));
        } else {
            print_index(collection, version, idx);
        }
        json_decref(idx);
    }
    free(path);
    mast_store_close(store);
    return st == MAST_OK ? 0 : cli_fail_arg(st);
}
