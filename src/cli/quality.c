/*
** cli/quality.c — `mast quality`: what makes a collection bad for retrieval.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/utf8.h"
#include "cli/cli.h"
#include "data/collection.h"
#include "data/quality.h"

static const char quality_help[] =
    "Usage: mast quality [-c C] [--chunk-tokens N] [--min-words N] [--all] [--json]\n"
    "\n"
    "Reports what makes a collection's documents bad for retrieval, document by document:\n"
    "  empty, nearly empty  no words, or fewer than --min-words (default 20)\n"
    "  garbled              U+FFFD replacement characters (0.5%+), mojibake (UTF-8 read as\n"
    "                       Windows-1252: \"Ã©\"), mostly symbols (30%+), or OCR-like words\n"
    "                       (10%+ of 5-letter words without a vowel, or digits inside words)\n"
    "  encoding             converted from UTF-16 or Windows-1252, or repaired, at ingest\n"
    "  near-duplicate       linked to an older document at ingest (mast dedup report)\n"
    "  oversized chunks     past 1.5 times the chunk budget (a code block or table kept whole)\n"
    "  fragmented           3 or more chunks, most under a tenth of the budget\n"
    "and the language of each document (guessed from its script and stop words; a\n"
    "collection's analyzer should match it). Lists the documents with problems (all of\n"
    "them with --all), then a summary; near-duplicates only count in the summary.\n"
    "\n"
    "Options:\n"
    "  -c, --collection NAME   collection (default: default)\n"
    "      --chunk-tokens N    the budget to judge chunks by (default: the one the\n"
    "                          collection was last ingested with, else 256)\n"
    "      --min-words N       fewer words make a document nearly empty (default 20)\n"
    "      --all               list every document, with its language and statistics\n"
    "      --json              print the report as JSON\n"
    "      --db PATH           database (default $MAST_DB or ./mast.db)\n"
    "  -h, --help              this help\n";

static double round3(double x)
{
    return round(x * 1000) / 1000;
}

static json_t *problems_of(const mast_quality_doc *d, const mast_quality_report *r)
{
    json_t *p = json_array();
    char buf[160];
    if (d->flags & MAST_QUALITY_EMPTY)
        json_array_append_new(p, json_string("empty"));
    if (d->flags & MAST_QUALITY_NEAR_EMPTY) {
        snprintf(buf, sizeof buf, "nearly empty: %zu word%s", d->words, d->words == 1 ? "" : "s");
        json_array_append_new(p, json_string(buf));
    }
    if (d->flags & MAST_QUALITY_GARBLED) {
        snprintf(buf, sizeof buf, "garbled: %s", d->garbled_why);
        json_array_append_new(p, json_string(buf));
    }
    if (d->flags & MAST_QUALITY_ENCODING) {
        snprintf(buf, sizeof buf, "encoding: %s", d->encoding);
        json_array_append_new(p, mast_json_string_lossy(buf));
    }
    if (d->flags & MAST_QUALITY_OVERSIZED) {
        snprintf(buf, sizeof buf, "oversized chunks: %zu over %d tokens", d->oversized_chunks,
                 r->chunk_tokens * 3 / 2);
        json_array_append_new(p, json_string(buf));
    }
    if (d->flags & MAST_QUALITY_FRAGMENTED) {
        snprintf(buf, sizeof buf, "fragmented: %zu of %zu chunks tiny", d->tiny_chunks, d->n_chunks);
        json_array_append_new(p, json_string(buf));
    }
    if (d->flags & MAST_QUALITY_DUPLICATE) {
        mast_buf b = {0};
        mast_buf_printf(&b, "near-duplicate of %s", d->duplicate_of);
        json_array_append_new(p, mast_json_string_lossy(mast_buf_cstr(&b)));
        mast_buf_free(&b);
    }
    return p;
}

static json_t *doc_json(const mast_quality_doc *d, const mast_quality_report *r)
{
    json_t *o = json_pack("{s:I, s:o, s:o, s:I, s:I, s:o}", "doc_id", (json_int_t)d->doc_id, "id",
                          mast_json_string_lossy(d->uri), "title", mast_json_string_lossy(d->title),
                          "words", (json_int_t)d->words, "chunks", (json_int_t)d->n_chunks,
                          "problems", problems_of(d, r));
    json_object_set_new(o, "lang", d->lang ? json_string(d->lang) : json_null());
    if (d->declared_lang)
        json_object_set_new(o, "declared_lang", mast_json_string_lossy(d->declared_lang));
    json_object_set_new(o, "stats", json_pack("{s:f, s:f, s:f, s:f, s:I, s:I}", "replacement",
                                              round3(d->replacement), "mojibake", round3(d->mojibake),
                                              "symbols", round3(d->symbols), "ocr_words",
                                              round3(d->ocr_words), "tiny_chunks",
                                              (json_int_t)d->tiny_chunks, "oversized_chunks",
                                              (json_int_t)d->oversized_chunks));
    return o;
}

static json_t *report_json(const char *collection, const mast_quality_report *r, int all)
{
    size_t counts[7] = {0};
    json_t *langs = json_object(), *problems = json_array(), *docs = all ? json_array() : NULL;
    for (size_t i = 0; i < r->n_docs; i++) {
        const mast_quality_doc *d = &r->docs[i];
        for (int b = 0; b < 7; b++)
            counts[b] += (d->flags >> b) & 1;
        const char *lang = d->lang ? d->lang : "none";
        json_object_set_new(langs, lang, json_integer(mast_json_get_int(langs, lang, 0) + 1));
        if (d->flags & ~MAST_QUALITY_DUPLICATE)
            json_array_append_new(problems, doc_json(d, r));
        if (docs)
            json_array_append_new(docs, doc_json(d, r));
    }
    json_t *out = json_pack(
        "{s:s, s:I, s:I, s:i, s:i, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I},"
        " s:{s:I, s:I, s:I, s:i, s:i}, s:o}",
        "collection", collection, "documents", (json_int_t)r->n_docs, "words", (json_int_t)r->words,
        "chunk_tokens", r->chunk_tokens, "min_words", r->min_words, "languages", langs, "counts",
        "empty", (json_int_t)counts[0], "near_empty", (json_int_t)counts[1], "garbled",
        (json_int_t)counts[2], "encoding", (json_int_t)counts[3], "near_duplicates",
        (json_int_t)counts[4], "oversized", (json_int_t)counts[5], "fragmented",
        (json_int_t)counts[6], "chunks", "total", (json_int_t)r->n_chunks, "tiny",
        (json_int_t)r->tiny_chunks, "oversized", (json_int_t)r->oversized_chunks, "tiny_under",
        r->chunk_tokens / 10 > 8 ? r->chunk_tokens / 10 : 8, "oversized_over",
        r->chunk_tokens * 3 / 2, "problems", problems);
    if (docs)
        json_object_set_new(out, "all", docs);
    return out;
}

static void print_report(json_t *rep, int all)
{
    size_t i, j;
    json_t *d, *p;
    json_array_foreach(json_object_get(rep, all ? "all" : "problems"), i, d) {
        mast_buf line = {0};
        json_array_foreach(json_object_get(d, "problems"), j, p)
            mast_buf_printf(&line, "%s%s", j ? "; " : "", json_string_value(p));
        printf("%8lld  %-8s %s  %s\n", (long long)mast_json_get_int(d, "doc_id", 0),
               json_is_string(json_object_get(d, "lang")) ? mast_json_get_str(d, "lang", "") : "-",
               line.len ? mast_buf_cstr(&line) : "ok", mast_json_get_str(d, "id", ""));
        mast_buf_free(&line);
    }
    json_t *c = json_object_get(rep, "counts"), *ch = json_object_get(rep, "chunks");
    mast_buf langs = {0};
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(rep, "languages"), k, v)
        mast_buf_printf(&langs, "%s%s %lld", langs.len ? ", " : "", k, (long long)json_integer_value(v));
    fprintf(stderr,
            "'%s': %lld documents, %lld words; languages: %s\n"
            "  empty %lld, nearly empty %lld, garbled %lld, converted or repaired encoding %lld, "
            "near-duplicates %lld, with oversized chunks %lld, fragmented %lld\n"
            "  chunks %lld: %lld tiny (under %lld tokens), %lld oversized (over %lld tokens)\n",
            mast_json_get_str(rep, "collection", ""), (long long)mast_json_get_int(rep, "documents", 0),
            (long long)mast_json_get_int(rep, "words", 0), langs.len ? mast_buf_cstr(&langs) : "-",
            (long long)mast_json_get_int(c, "empty", 0), (long long)mast_json_get_int(c, "near_empty", 0),
            (long long)mast_json_get_int(c, "garbled", 0), (long long)mast_json_get_int(c, "encoding", 0),
            (long long)mast_json_get_int(c, "near_duplicates", 0),
            (long long)mast_json_get_int(c, "oversized", 0),
            (long long)mast_json_get_int(c, "fragmented", 0),
            (long long)mast_json_get_int(ch, "total", 0), (long long)mast_json_get_int(ch, "tiny", 0),
            (long long)mast_json_get_int(ch, "tiny_under", 0),
            (long long)mast_json_get_int(ch, "oversized", 0),
            (long long)mast_json_get_int(ch, "oversized_over", 0));
    mast_buf_free(&langs);
}

int cmd_quality(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_CHUNK, OPT_MIN_WORDS, OPT_ALL, OPT_JSON };
    static const struct option options[] = {
        {"collection", required_argument, NULL, 'c'},
        {"chunk-tokens", required_argument, NULL, OPT_CHUNK},
        {"min-words", required_argument, NULL, OPT_MIN_WORDS},
        {"all", no_argument, NULL, OPT_ALL},
        {"json", no_argument, NULL, OPT_JSON},
        {"db", required_argument, NULL, OPT_DB},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *collection = DEFAULT_COLLECTION, *db = NULL;
    mast_quality_opts opts = {0, 0};
    long v;
    int c, json = 0, all = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        switch (c) {
        case 'c': collection = optarg; break;
        case OPT_CHUNK:
            if (!cli_parse_int("quality", "--chunk-tokens", optarg, 16, 1 << 20, &v))
                return EXIT_USAGE;
            opts.chunk_tokens = (int)v;
            break;
        case OPT_MIN_WORDS:
            if (!cli_parse_int("quality", "--min-words", optarg, 1, 1 << 20, &v))
                return EXIT_USAGE;
            opts.min_words = (int)v;
            break;
        case OPT_ALL: all = 1; break;
        case OPT_JSON: json = 1; break;
        case OPT_DB: db = optarg; break;
        case 'h': fputs(quality_help, stdout); return 0;
        default: return cli_bad_option("quality", argv);
        }
    }
    if (optind < argc)
        return cli_usage("quality", "unexpected argument '%s'", argv[optind]);
    mast_store *store;
    mast_status st = cli_open_store_read(db, &store);
    if (st != MAST_OK)
        return cli_fail(st);
    int64_t cid;
    mast_quality_report r;
    st = mast_store_collection_find(store, collection, &cid);
    int recorded = 0, overlap;
    if (st == MAST_OK && !opts.chunk_tokens)   /* the budget ingest recorded */
        st = mast_collection_chunking(store, cid, &recorded, &overlap);
    if (st == MAST_OK && !opts.chunk_tokens)
        opts.chunk_tokens = recorded;
    if (st == MAST_OK)
        st = mast_quality_report_build(store, cid, &opts, &r);
    mast_store_close(store);
    if (st != MAST_OK)
        return cli_fail_arg(st);
    json_t *rep = report_json(collection, &r, all);
    mast_quality_report_free(&r);
    if (json) {
        cli_print_json(rep);
        return 0;
    }
    print_report(rep, all);
    json_decref(rep);
    return 0;
}
