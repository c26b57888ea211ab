/*
** cli/ingest.c — `mast ingest`.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "data/collection.h"
#include "data/dedup.h"
#include "data/retrieve.h"
#include "data/ingest/ingest.h"

static const char ingest_help[] =
    "Usage: mast ingest PATH... [options]\n"
    "\n"
    "Ingests files and folders (recursively; hidden entries are skipped) into a collection.\n"
    "Formats, by content first and extension second:\n"
    "  PDF          the text layer, read by the mast-pdf program in a child process under\n"
    "               limits (--pdf-timeout, --pdf-memory): headings by font size and weight,\n"
    "               running headers, footers and page numbers dropped, tables a line per\n"
    "               row, every chunk with its pages (page_start, page_end in search\n"
    "               results and citations)\n"
    "  HTML         .html/.htm/.xhtml or anything that begins like HTML: its main content\n"
    "               (navigation, headers, footers, sidebars, scripts, link lists dropped;\n"
    "               headings, lists, <pre> and tables kept; title, lang, description and\n"
    "               canonical URL as metadata)\n"
    "  man pages    .1-.9 (ls.1, printf.3p) or any roff source: sections as headings\n"
    "  DOCX, ODT,   headings (styles, outline levels, chapters, slides), list items,\n"
    "  EPUB, PPTX   tables a line per row, footnotes and slide notes; title, author\n"
    "  XLSX, XLSM,  a section per sheet, a block per row with each cell named by the\n"
    "  ODS          header row; dates, times and percentages as their format shows them\n"
    "  e-mail       .eml or text that starts with message headers: Subject as title, From,\n"
    "               To, Cc, Date, Message-ID as metadata, the plain-text part; attachments\n"
    "               read as documents of their own (MESSAGE!/NAME); .mbox: one per message\n"
    "  Markdown     .md/.markdown: headings become each chunk's heading path, fenced code\n"
    "               blocks are never split\n"
    "  JSON Lines   .jsonl/.ndjson: one document per line, BEIR layout {\"_id\",\"title\",\"text\"}\n"
    "  CSV, TSV     .csv, .tsv/.tab (RFC 4180 quoting): the file one table, a block per row\n"
    "               with each cell named by its column (\"name: Ada; year: 1843\"); with\n"
    "               --id-column, a document per row (uri FILE#ID)\n"
    "  text         anything else that is text: UTF-8, UTF-16 (with a byte-order mark or\n"
    "               detected) or Windows-1252/Latin-1 (detected), converted with a note\n"
    "Compressed files (gzip, bzip2, xz, zstd) are decompressed, by their bytes; archives\n"
    "(zip, tar and its compressed forms, 7z) are walked like folders, an entry's uri being\n"
    "ARCHIVE!/ENTRY; an archive that expands past 100 times its size (and past the limit of\n"
    "one file), or to more than 10,000 entries, is refused as a bomb. Files that are not\n"
    "text are skipped with a warning.\n"
    "Unchanged documents (same content hash) are skipped; changed ones are replaced.\n"
    "Near-duplicates: a document whose text shares at least --dedup-threshold of its\n"
    "3-word shingles with an older document of the collection (estimated by MinHash) is\n"
    "stored with \"duplicate_of\" and \"similarity\" in its metadata and a warning, or left\n"
    "out with --dedup skip; 'mast dedup report' lists the clusters.\n"
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
    "      --vector-field F    JSON Lines vector field (default vector), for a collection\n"
    "                          whose documents bring their own (collection create --dim)\n"
    "      --id-column COL     CSV/TSV: each row is a document, COL its id\n"
    "      --title-column COL  ... and COL its title\n"
    "      --text-columns A,B  ... the columns of its text (default: all the others)\n"
    "      --metadata-columns A,B  ... copied into its metadata\n"
    "      --pdf-timeout S     stop the PDF reader after S s of CPU (2S s of wall-clock) on\n"
    "                          one PDF (default 60)\n"
    "      --pdf-memory MB     the PDF reader's memory limit (default 2048)\n"
    "  -t, --threads N         threads for the collection's embedding model (default: every\n"
    "                          CPU)\n"
    "      --dedup MODE        near-duplicates: link (default), skip, off\n"
    "      --dedup-threshold T estimated Jaccard similarity that makes a near-duplicate,\n"
    "                          0 < T <= 1 (default 0.5, measured: docs/benchmarks.md)\n"
    "      --json              print the summary as JSON on standard output\n"
    "      --db PATH           database (default $MAST_DB or ./mast.db)\n"
    "  -h, --help              this help\n"
    "\n"
    "Every file seen is counted as ingested, unchanged, skipped (not text, empty, not a\n"
    "regular file: each with a warning) or failed. A JSON line with a title and no text is\n"
    "its title; one with neither is skipped. Ends with a summary line (a progress bar first,\n"
    "on a terminal). Exit status 1 if any file failed or nothing could be ingested.\n";

int cmd_ingest(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_CHUNK, OPT_OVERLAP, OPT_PRUNE, OPT_FORCE, OPT_ID, OPT_TITLE, OPT_TEXT,
           OPT_VECTOR, OPT_JSON, OPT_PDF_TIMEOUT, OPT_PDF_MEMORY,
           OPT_ID_COL, OPT_TITLE_COL, OPT_TEXT_COLS, OPT_META_COLS, OPT_DEDUP,
           OPT_DEDUP_THRESHOLD, OPT_THREADS };
    static const struct option options[] = {
        {"collection", required_argument, NULL, 'c'},
        {"chunk-tokens", required_argument, NULL, OPT_CHUNK},
        {"overlap", required_argument, NULL, OPT_OVERLAP},
        {"prune", no_argument, NULL, OPT_PRUNE},
        {"force", no_argument, NULL, OPT_FORCE},
        {"id-field", required_argument, NULL, OPT_ID},
        {"title-field", required_argument, NULL, OPT_TITLE},
        {"text-field", required_argument, NULL, OPT_TEXT},
        {"vector-field", required_argument, NULL, OPT_VECTOR},
        {"json", no_argument, NULL, OPT_JSON},
        {"pdf-timeout", required_argument, NULL, OPT_PDF_TIMEOUT},
        {"pdf-memory", required_argument, NULL, OPT_PDF_MEMORY},
        {"id-column", required_argument, NULL, OPT_ID_COL},
        {"title-column", required_argument, NULL, OPT_TITLE_COL},
        {"text-columns", required_argument, NULL, OPT_TEXT_COLS},
        {"metadata-columns", required_argument, NULL, OPT_META_COLS},
        {"dedup", required_argument, NULL, OPT_DEDUP},
        {"dedup-threshold", required_argument, NULL, OPT_DEDUP_THRESHOLD},
        {"threads", required_argument, NULL, 't'},
        {"db", required_argument, NULL, OPT_DB},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *collection = DEFAULT_COLLECTION, *db = NULL;
    mast_ingest_opts opts = {.progress = 1};
    long v;
    int c, json = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:t:h", options, NULL)) != -1) {
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
        case OPT_VECTOR:
            if (!*optarg)
                return cli_usage("ingest", "--vector-field needs a field name");
            opts.vector_field = optarg;
            break;
        case OPT_JSON: json = 1; break;
        case OPT_ID_COL: opts.csv_id_column = optarg; break;
        case OPT_TITLE_COL: opts.csv_title_column = optarg; break;
        case OPT_TEXT_COLS: opts.csv_text_columns = optarg; break;
        case OPT_META_COLS: opts.csv_metadata_columns = optarg; break;
        case OPT_PDF_TIMEOUT:
            if (!cli_parse_int("ingest", "--pdf-timeout", optarg, 1, 86400, &v))
                return EXIT_USAGE;
            opts.pdf_seconds = (int)v;
            break;
        case OPT_PDF_MEMORY:
            if (!cli_parse_int("ingest", "--pdf-memory", optarg, 64, 1 << 20, &v))
                return EXIT_USAGE;
            opts.pdf_memory = (size_t)v << 20;
            break;
        case OPT_DEDUP:
            if ((opts.dedup = mast_dedup_mode_parse(optarg)) < 0)
                return cli_usage("ingest", "--dedup must be link, skip or off, not '%s'", optarg);
            break;
        case OPT_DEDUP_THRESHOLD: {
            char *end;
            double t = strtod(optarg, &end);
            if (end == optarg || *end || !(t > 0 && t <= 1))
                return cli_usage("ingest", "--dedup-threshold must be a number above 0 and at "
                                 "most 1, not '%s'", optarg);
            opts.dedup_threshold = t;
            break;
        }
        case 't':
            if (!cli_parse_int("ingest", "--threads", optarg, 1, 1024, &v))
                return EXIT_USAGE;
            opts.threads = (int)v;
            break;
        case OPT_DB: db = optarg; break;
        case 'h': fputs(ingest_help, stdout); return 0;
        default: return cli_bad_option("ingest", argv);
        }
    }
    if (optind >= argc)
        return cli_usage("ingest", "no PATH given");
    if (!opts.csv_id_column && (opts.csv_title_column || opts.csv_text_columns ||
                                opts.csv_metadata_columns))
        return cli_usage("ingest", "--title-column, --text-columns and --metadata-columns need "
                         "--id-column (a document per row)");
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
        return cli_fail_arg(st);   /* an invalid collection name */
    if (json)
        cli_print_json(json_pack(
            "{s:s, s:{s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:I, s:I,"
            " s:f}",
            "collection", collection, "files", "seen", (json_int_t)s.files_seen, "ingested",
            (json_int_t)s.files_ingested, "unchanged", (json_int_t)s.files_unchanged, "skipped",
            (json_int_t)s.files_skipped, "failed", (json_int_t)s.files_failed, "documents",
            "ingested", (json_int_t)s.docs_ingested, "unchanged", (json_int_t)s.docs_unchanged,
            "skipped", (json_int_t)s.docs_skipped, "failed", (json_int_t)s.docs_failed, "pruned",
            (json_int_t)s.docs_pruned, "near_duplicates", (json_int_t)s.docs_duplicate, "chunks", (json_int_t)s.chunks, "pages",
            (json_int_t)s.pages, "bytes", (json_int_t)s.bytes, "seconds", s.seconds));
    fprintf(stderr,
            "ingested into '%s': files %zu seen, %zu ingested, %zu unchanged, %zu skipped, "
            "%zu failed; documents %zu ingested, %zu unchanged, %zu skipped, %zu failed; "
            "%zu chunks; %.1f MB in %.2f s (%.1f MB/s",
            collection, s.files_seen, s.files_ingested, s.files_unchanged, s.files_skipped,
            s.files_failed, s.docs_ingested, s.docs_unchanged, s.docs_skipped, s.docs_failed,
            s.chunks, (double)s.bytes / 1e6, s.seconds,
            s.seconds > 0 ? (double)s.bytes / 1e6 / s.seconds : 0.0);
    if (s.pages)
        fprintf(stderr, "; %zu PDF pages, %.0f pages/s", s.pages,
                s.seconds > 0 ? (double)s.pages / s.seconds : 0.0);
    fputs(")\n", stderr);
    if (s.docs_duplicate)
        fprintf(stderr, "%zu near-duplicate%s %s (mast dedup report -c %s lists them)\n",
                s.docs_duplicate, s.docs_duplicate == 1 ? "" : "s",
                opts.dedup == MAST_DEDUP_SKIP ? "left out" : "linked to older documents",
                collection);
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

