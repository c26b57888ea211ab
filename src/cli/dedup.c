/*
** cli/dedup.c — `mast dedup report`: a collection's clusters of
** near-duplicate documents.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/utf8.h"
#include "cli/cli.h"
#include "data/dedup.h"

static const char dedup_help[] =
    "Usage: mast dedup report [-c C] [--threshold T] [--pairs] [--json]\n"
    "\n"
    "Lists a collection's clusters of near-duplicate documents: documents whose 3-word\n"
    "shingles overlap by at least T (Jaccard similarity, estimated from the MinHash\n"
    "signature stored with each document at ingest). Each cluster starts with its oldest\n"
    "document; every other member is at least T like it (shown), having joined the most\n"
    "similar older cluster in id order, so similar-to-similar chains do not merge.\n"
    "Documents stored before signatures existed have none: 'mast ingest --force' adds them.\n"
    "\n"
    "Options:\n"
    "  -c, --collection NAME   collection (default: default)\n"
    "      --threshold T       similarity that makes a near-duplicate, 0 < T <= 1 (default\n"
    "                          0.5, as ingest's --dedup-threshold)\n"
    "      --pairs             also list every pair at or above T with its similarity\n"
    "      --json              print the report as JSON\n"
    "      --db PATH           database (default $MAST_DB or ./mast.db)\n"
    "  -h, --help              this help\n";

static json_t *doc_json(mast_store *store, int64_t cid, int64_t id, double similarity)
{
    mast_doc_info d;
    json_t *o = json_pack("{s:I, s:f}", "doc_id", (json_int_t)id, "similarity", similarity);
    if (mast_store_doc_by_id(store, cid, id, &d) == MAST_OK) {
        json_object_set_new(o, "id", mast_json_string_lossy(d.uri));
        json_object_set_new(o, "title", mast_json_string_lossy(d.title));
        mast_doc_info_free(&d);
    }
    return o;
}

static json_t *report_json(mast_store *store, int64_t cid, const char *collection, double t,
                           const mast_dedup_report *r, int pairs)
{
    json_t *clusters = json_array();
    for (size_t i = 0; i < r->n_clusters; i++) {
        json_t *docs = json_array();
        for (size_t j = 0; j < r->clusters[i].n; j++)
            json_array_append_new(docs, doc_json(store, cid, r->clusters[i].members[j].doc_id,
                                                 r->clusters[i].members[j].similarity));
        json_array_append_new(clusters, json_pack("{s:I, s:o}", "size",
                                                  (json_int_t)r->clusters[i].n, "documents", docs));
    }
    json_t *out = json_pack("{s:s, s:f, s:I, s:I, s:I, s:I, s:o}", "collection", collection,
                            "threshold", t, "documents", (json_int_t)r->n_documents, "signed",
                            (json_int_t)r->n_signed, "near_duplicates",
                            (json_int_t)r->n_duplicates, "n_clusters", (json_int_t)r->n_clusters,
                            "clusters", clusters);
    if (pairs) {
        json_t *p = json_array();
        for (size_t i = 0; i < r->n_pairs; i++)
            json_array_append_new(p, json_pack("{s:I, s:I, s:f}", "a", (json_int_t)r->pairs[i].a,
                                               "b", (json_int_t)r->pairs[i].b, "similarity",
                                               r->pairs[i].similarity));
        json_object_set_new(out, "pairs", p);
    }
    return out;
}

static void print_report(json_t *rep)
{
    size_t i, j;
    json_t *c, *d;
    json_array_foreach(json_object_get(rep, "clusters"), i, c) {
        printf("cluster %zu: %lld documents\n", i + 1, (long long)mast_json_get_int(c, "size", 0));
        json_array_foreach(json_object_get(c, "documents"), j, d) {
            mast_buf title = {0};
            const char *t = mast_json_get_str(d, "title", "");
            mast_utf8_preview(t, strlen(t), 40, &title);
            if (j == 0)
                printf("  oldest %8lld  %s  %s\n", (long long)mast_json_get_int(d, "doc_id", 0),
                       mast_buf_cstr(&title), mast_json_get_str(d, "id", ""));
            else
                printf("  %6.2f %8lld  %s  %s\n", json_real_value(json_object_get(d, "similarity")),
                       (long long)mast_json_get_int(d, "doc_id", 0), mast_buf_cstr(&title),
                       mast_json_get_str(d, "id", ""));
            mast_buf_free(&title);
        }
    }
    json_array_foreach(json_object_get(rep, "pairs"), i, d)
        printf("pair %lld %lld %.3f\n", (long long)mast_json_get_int(d, "a", 0),
               (long long)mast_json_get_int(d, "b", 0),
               json_real_value(json_object_get(d, "similarity")));
    long long docs = mast_json_get_int(rep, "documents", 0), sig = mast_json_get_int(rep, "signed", 0);
    fprintf(stderr, "'%s': %lld document%s (%lld with a signature); %lld cluster%s, %lld "
            "near-duplicate%s at similarity >= %.2f\n", mast_json_get_str(rep, "collection", ""),
            docs, docs == 1 ? "" : "s", sig, (long long)mast_json_get_int(rep, "n_clusters", 0),
            mast_json_get_int(rep, "n_clusters", 0) == 1 ? "" : "s",
            (long long)mast_json_get_int(rep, "near_duplicates", 0),
            mast_json_get_int(rep, "near_duplicates", 0) == 1 ? "" : "s",
            json_real_value(json_object_get(rep, "threshold")));
    if (sig < docs)
        fprintf(stderr, "%lld document%s without a signature (stored by an older mast): "
                "'mast ingest --force' adds them\n", docs - sig, docs - sig == 1 ? "" : "s");
}

int cmd_dedup(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_THRESHOLD, OPT_PAIRS, OPT_JSON };
    static const struct option options[] = {
        {"collection", required_argument, NULL, 'c'},
        {"threshold", required_argument, NULL, OPT_THRESHOLD},
        {"pairs", no_argument, NULL, OPT_PAIRS},
        {"json", no_argument, NULL, OPT_JSON},
        {"db", required_argument, NULL, OPT_DB},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(dedup_help, stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "report"))
        return cli_usage("dedup", argc < 2 ? "missing subcommand (report)"
                                           : "unknown subcommand '%s' (report)", argv[1]);
    const char *collection = DEFAULT_COLLECTION, *db = NULL;
    double threshold = MAST_DEDUP_THRESHOLD;
    int c, json = 0, pairs = 0;
    opterr = 0;
    optind = 2;
    while ((c = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        switch (c) {
        case 'c': collection = optarg; break;
        case OPT_THRESHOLD: {
            char *end;
            threshold = strtod(optarg, &end);
            if (end == optarg || *end || !(threshold > 0 && threshold <= 1))
                return cli_usage("dedup", "--threshold must be a number above 0 and at most 1, "
                                 "not '%s'", optarg);
            break;
        }
        case OPT_PAIRS: pairs = 1; break;
        case OPT_JSON: json = 1; break;
        case OPT_DB: db = optarg; break;
        case 'h': fputs(dedup_help, stdout); return 0;
        default: return cli_bad_option("dedup", argv);
        }
    }
    if (optind < argc)
        return cli_usage("dedup", "unexpected argument '%s'", argv[optind]);
    mast_store *store;
    mast_status st = cli_open_store_read(db, &store);
    if (st != MAST_OK)
        return cli_fail(st);
    int64_t cid;
    mast_dedup_report r;
    st = mast_store_collection_find(store, collection, &cid);
    if (st == MAST_OK)
        st = mast_dedup_report_build(store, cid, threshold, &r);
    if (st != MAST_OK) {
        mast_store_close(store);
        return cli_fail_arg(st);
    }
    json_t *rep = report_json(store, cid, collection, threshold, &r, pairs);
    mast_dedup_report_free(&r);
    mast_store_close(store);
    if (json) {
        cli_print_json(rep);
        return 0;
    }
    print_report(rep);
    json_decref(rep);
    return 0;
}
