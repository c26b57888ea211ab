/*
** cli/documents.c — `mast documents list|show|delete`: what a collection
** holds, document by document.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/status.h"
#include "base/utf8.h"
#include "cli/cli.h"
#include "deploy/api.h"

static const char documents_help[] =
    "Usage: mast documents list [-c C] [--limit N] [--offset N] [--filter KEY=VALUE] [--json]\n"
    "       mast documents show ID|URI [-c C] [--chunks] [--json]\n"
    "       mast documents delete ID|URI... [-c C]\n"
    "\n"
    "list: the collection's documents in the order they were first stored (id, chunks,\n"
    "  tokens, title, uri), a page at a time (--limit, default 100; --offset), optionally\n"
    "  only those whose metadata has KEY = VALUE; the total is printed on standard error.\n"
    "show: one document by its uri (a file's absolute path, a JSON line's path#id, or the id\n"
    "  given over the HTTP API) or, when no uri matches, its numeric id: title, source,\n"
    "  metadata, hash, counts, times; --chunks adds every chunk's text.\n"
    "delete: deletes documents with their chunks and vectors (each one transaction); the\n"
    "  indexes follow at the next search.\n"
    "\n"
    "Options:\n"
    "  -c, --collection NAME   collection (default: default)\n"
    "      --json              print the objects of the HTTP API\n"
    "      --db PATH           database (default $MAST_DB or ./mast.db)\n"
    "  -h, --help              this help\n";

static void print_doc_line(json_t *d)
{
    mast_buf title = {0};
    const char *t = mast_json_get_str(d, "title", "");
    mast_utf8_preview(t, strlen(t), 40, &title);
    size_t chars = 0;   /* pad by characters, not bytes */
    for (size_t i = 0; i < title.len; i++)
        chars += ((unsigned char)title.data[i] & 0xC0) != 0x80;
    printf("%8lld  %5lld chunks %7lld tokens  %s%*s  %s\n", (long long)mast_json_get_int(d, "doc_id", 0),
           (long long)mast_json_get_int(d, "chunks", 0), (long long)mast_json_get_int(d, "tokens", 0),
           mast_buf_cstr(&title), chars < 40 ? (int)(40 - chars) : 0, "", mast_json_get_str(d, "id", ""));
    mast_buf_free(&title);
}

static int list(mast_store *store, const char *collection, const mast_list_options *o, int json)
{
    mast_document_list *l;
    mast_status st = mast_document_list_get(store, collection, o, &l);
    if (st != MAST_OK)
        return cli_fail_arg(st);
    json_t *page = mast_api_document_list(l, o->limit, o->offset);
    size_t n = mast_document_list_count(l);
    int64_t total = mast_document_list_total(l);
    mast_document_list_free(l);
    if (json) {
        cli_print_json(page);
        return 0;
    }
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(page, "data"), i, d)
        print_doc_line(d);
    fprintf(stderr, "%zu of %lld document%s in '%s'%s\n", n, (long long)total, total == 1 ? "" : "s",
            collection, (int64_t)n + o->offset < total ? " (more with --offset)" : "");
    json_decref(page);
    return 0;
}

/* The uri of the document a person named: its uri, or its numeric id when no
** uri matches (caller frees). */
static mast_status resolve(mast_store *store, int64_t cid, const char *key, char **uri)
{
    mast_doc_info d;
    MAST_TRY(mast_store_doc_get(store, cid, key, 1, &d));
    *uri = d.uri;
    d.uri = NULL;
    mast_doc_info_free(&d);
    return MAST_OK;
}

static int show(mast_store *store, int64_t cid, const char *collection, const char *key,
                int chunks, int json)
{
    char *uri = NULL;
    mast_document_list *l = NULL;
    mast_status st = resolve(store, cid, key, &uri);
    if (st == MAST_OK)
        st = mast_document_get(store, collection, uri, &l);
    free(uri);
    if (st != MAST_OK)
        return cli_fail(st);
    json_t *o = mast_api_document(mast_document_list_at(l, 0), chunks ? l : NULL);
    mast_document_list_free(l);
    if (json) {
        cli_print_json(o);
        return 0;
    }
    char *meta = json_dumps(json_object_get(o, "metadata"), JSON_COMPACT);
    char created[32], updated[32];
    printf("document  %lld\nuri       %s\ntitle     %s\nsource    %s\nmetadata  %s\nhash      %s\n"
           "chunks    %lld (%lld tokens, %lld vectors)\ncreated   %s\nupdated   %s\n",
           (long long)mast_json_get_int(o, "doc_id", 0), mast_json_get_str(o, "id", ""),
           mast_json_get_str(o, "title", ""), mast_json_get_str(o, "source", ""), meta ? meta : "{}",
           mast_json_get_str(o, "content_hash", ""), (long long)mast_json_get_int(o, "chunks", 0),
           (long long)mast_json_get_int(o, "tokens", 0), (long long)mast_json_get_int(o, "vectors", 0),
           cli_format_time(mast_json_get_int(o, "created_at", 0), created, sizeof created),
           cli_format_time(mast_json_get_int(o, "updated_at", 0), updated, sizeof updated));
    free(meta);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(o, "chunk_list"), i, c) {
        const char *heading = mast_json_get_str(c, "heading", "");
        printf("\n--- chunk %lld (#%lld, %lld tokens)%s%s\n%s\n", (long long)mast_json_get_int(c, "id", 0),
               (long long)mast_json_get_int(c, "ordinal", 0), (long long)mast_json_get_int(c, "tokens", 0),
               *heading ? " > " : "", heading, mast_json_get_str(c, "text", ""));
    }
    json_decref(o);
    return 0;
}

int cmd_documents(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_LIMIT, OPT_OFFSET, OPT_FILTER, OPT_CHUNKS, OPT_JSON };
    static const struct option options[] = {
        {"collection", required_argument, NULL, 'c'}, {"limit", required_argument, NULL, OPT_LIMIT},
        {"offset", required_argument, NULL, OPT_OFFSET}, {"filter", required_argument, NULL, OPT_FILTER},
        {"chunks", no_argument, NULL, OPT_CHUNKS},    {"json", no_argument, NULL, OPT_JSON},
        {"db", required_argument, NULL, OPT_DB},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *collection = DEFAULT_COLLECTION, *db = NULL, *filter = NULL;
    mast_list_options q = MAST_LIST_OPTIONS_INIT;
    int chunks = 0, json = 0, c;
    long v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        switch (c) {
        case 'c': collection = optarg; break;
        case OPT_LIMIT:
            if (!cli_parse_int("documents", "--limit", optarg, 1, 1000000, &v))
                return EXIT_USAGE;
            q.limit = v;
            break;
        case OPT_OFFSET:
            if (!cli_parse_int("documents", "--offset", optarg, 0, 1L << 40, &v))
                return EXIT_USAGE;
            q.offset = v;
            break;
        case OPT_FILTER: filter = optarg; break;
        case OPT_CHUNKS: chunks = 1; break;
        case OPT_JSON: json = 1; break;
        case OPT_DB: db = optarg; break;
        case 'h': fputs(documents_help, stdout); return 0;
        default: return cli_bad_option("documents", argv);
        }
    }
    if (optind >= argc)
        return cli_usage("documents", "expected: list, show ID or delete ID...");
    const char *verb = argv[optind];
    int n_args = argc - optind - 1;
    int is_list = strcmp(verb, "list") == 0, is_show = strcmp(verb, "show") == 0,
        is_delete = strcmp(verb, "delete") == 0;
    if (!is_list && !is_show && !is_delete)
        return cli_usage("documents", "unknown subcommand '%s' (list, show or delete)", verb);
    if (is_list && n_args)
        return cli_usage("documents", "unexpected argument '%s'", argv[optind + 1]);
    if (is_show && n_args != 1)
        return cli_usage("documents", "show takes one ID or URI");
    if (is_delete && n_args < 1)
        return cli_usage("documents", "delete needs at least one ID or URI");
    mast_filter f = {NULL, NULL};
    char *owned = NULL;
    if (filter) {
        if (!is_list)
            return cli_usage("documents", "--filter is an option of 'documents list'");
        mast_status st = mast_filter_parse(filter, &f, &owned);   /* a usage error if malformed */
        if (st != MAST_OK)
            return cli_fail_arg(st);
        q.filter = filter;
    }
    mast_store *store;
    mast_status st = is_delete ? cli_open_store(db, &store) : cli_open_store_read(db, &store);
    int64_t cid = 0;
    if (st == MAST_OK && (st = mast_store_collection_find(store, collection, &cid)) != MAST_OK)
        mast_store_close(store);
    if (st != MAST_OK) {
        free(owned);
        return cli_fail_arg(st);   /* an invalid collection name is a bad argument */
    }
    int rc = 0;
    if (is_list)
        rc = list(store, collection, &q, json);
    else if (is_show)
        rc = show(store, cid, collection, argv[optind + 1], chunks, json);
    for (int i = 0; is_delete && i < n_args; i++) {
        char *uri = NULL;
        st = resolve(store, cid, argv[optind + 1 + i], &uri);
        if (st == MAST_OK)
            st = mast_document_delete(store, collection, uri);
        if (st == MAST_OK)
            fprintf(stderr, "deleted document %s\n", uri);
        free(uri);
        if (st != MAST_OK)
            rc = cli_fail(st);   /* the others are still deleted */
    }
    mast_store_close(store);
    free(owned);
    return rc;
}
