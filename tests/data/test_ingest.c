/* tests/data/test_ingest.c — ingesting folders, incremental updates, prune,
** bad input, and search/ask over the result. */
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "base/buf.h"
#include "data/ingest/doc.h"
#include "data/ingest/ingest.h"
#include "data/retrieve.h"
#include "deploy/rag.h"
#include "test.h"

typedef struct fixture {
    char *dir;        /* documents */
    char db[512];
    mast_store *store;
    mast_retriever *r;
} fixture;

static void put(fixture *f, const char *name, const char *content)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    if (test_write_file(path, content) != 0)
        fprintf(stderr, "cannot write %s\n", path);
}

static void put_bytes(fixture *f, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    FILE *fp = fopen(path, "wb");
    if (fp) {
        fwrite(data, 1, len, fp);
        fclose(fp);
    }
}

static int setup(fixture *f)
{
    memset(f, 0, sizeof *f);
    f->dir = test_tmpdir();
    char *dbdir = test_tmpdir();
    snprintf(f->db, sizeof f->db, "%s/m.db", dbdir);
    free(dbdir);
    if (mast_store_open(&f->store, f->db) != MAST_OK || mast_retriever_create(&f->r) != MAST_OK)
        return -1;
    put(f, "guide.md", "# Guide\n\nWelcome to the guide.\n\n## Install\n\nRun the installer "
                       "with apt on Debian machines.\n\n```sh\napt install mast\n```\n");
    put(f, "notes.txt", "Zebras are striped animals.\n\nThey live in Africa.\n");
    put(f, "corpus.jsonl", "{\"_id\": \"d1\", \"title\": \"Photosynthesis\", \"text\": \"Plants "
                           "convert sunlight into chemical energy.\"}\n"
                           "{\"_id\": 2, \"title\": \"Tides\", \"text\": \"The moon pulls the "
                           "oceans.\"}\n");
    put(f, ".hidden.txt", "secret words never indexed");
    static const unsigned char binary[] = {0x7f, 'E', 'L', 'F', 0, 0, 1, 2, 3, 0, 0xff};
    put_bytes(f, "program.bin", binary, sizeof binary);
    put(f, "latin1.txt", "Caf\xe9 au lait is a coffee drink with milk and sugar, enjoyed "
                         "across France and well beyond its borders every morning.");
    return 0;
}

static void teardown(fixture *f)
{
    mast_retriever_free(f->r);
    mast_store_close(f->store);
    free(f->dir);
}

static size_t search_count(fixture *f, const char *query)
{
    mast_result *res;
    size_t n = 0;
    if (mast_search(f->r, f->store, "c", query, 10, NULL, &res, &n) != MAST_OK)
        return (size_t)-1;
    mast_results_free(res, n);
    return n;
}

static mast_status ingest(fixture *f, int prune, mast_ingest_stats *s)
{
    const char *paths[] = {f->dir};
    mast_ingest_opts o = {.prune = prune};
    return mast_ingest(f->store, "c", paths, 1, &o, NULL, s);
}

static void test_ingests_a_folder_skipping_binaries_and_hidden_files(void)
{
    fixture f;
    REQUIRE(setup(&f) == 0);
    mast_ingest_stats s;
    REQUIRE(ingest(&f, 0, &s) == MAST_OK);
    CHECK_EQ_INT(s.files_seen, 5);        /* .hidden.txt is not walked */
    CHECK_EQ_INT(s.files_ingested, 4);
    CHECK_EQ_INT(s.files_skipped, 1);     /* program.bin */
    CHECK_EQ_INT(s.files_failed, 0);
    CHECK_EQ_INT(s.docs_ingested, 5);     /* guide, notes, latin1, 2 JSON lines */
    CHECK(s.chunks >= 5);
    CHECK_EQ_INT(search_count(&f, "zebras"), 1);
    CHECK_EQ_INT(search_count(&f, "secret"), 0);
    CHECK_EQ_INT(search_count(&f, "sunlight"), 1);
    /* not UTF-8 and no multi-byte sequence: read as Windows-1252, é and all */
    CHECK_EQ_INT(search_count(&f, "coffee"), 1);
    CHECK_EQ_INT(search_count(&f, "caf\xc3\xa9"), 1);
    /* heading path and title are carried to the results */
    mast_result *res;
    size_t n;
    REQUIRE(mast_search(f.r, f.store, "c", "installer debian", 10, NULL, &res, &n) == MAST_OK);
    REQUIRE(n >= 1);
    CHECK_EQ_STR(res[0].heading, "Guide > Install");
    CHECK_EQ_STR(res[0].title, "Guide");
    CHECK(strstr(res[0].uri, "/guide.md") != NULL);
    CHECK(strstr(res[0].text, "```sh\napt install mast\n```") != NULL);
    mast_results_free(res, n);
    REQUIRE(mast_search(f.r, f.store, "c", "moon", 10, NULL, &res, &n) == MAST_OK);
    REQUIRE(n == 1);
    CHECK_EQ_STR(res[0].title, "Tides");
    CHECK(strstr(res[0].uri, "/corpus.jsonl#2") != NULL);
    mast_results_free(res, n);
    CHECK_EQ_INT(mast_search(f.r, f.store, "missing", "x", 10, NULL, &res, &n),
                 MAST_ERR_NOT_FOUND);
    CHECK_EQ_INT(mast_search(f.r, f.store, "c", "x", 0, NULL, &res, &n), MAST_ERR_INVALID);
    teardown(&f);
}

static void test_reingest_of_unchanged_files_is_a_no_op(void)
{
    fixture f;
    REQUIRE(setup(&f) == 0);
    mast_ingest_stats s;
    REQUIRE(ingest(&f, 0, &s) == MAST_OK);
    int64_t id, v0, v1;
    REQUIRE(mast_store_collection_find(f.store, "c", &id) == MAST_OK);
    REQUIRE(mast_store_collection_version(f.store, id, &v0) == MAST_OK);
    REQUIRE(ingest(&f, 0, &s) == MAST_OK);
    CHECK_EQ_INT(s.docs_ingested, 0);
    CHECK_EQ_INT(s.docs_unchanged, 5);
    CHECK_EQ_INT(s.files_unchanged, 4);
    CHECK_EQ_INT(s.chunks, 0);
    REQUIRE(mast_store_collection_version(f.store, id, &v1) == MAST_OK);
    CHECK_EQ_INT(v1, v0);
    teardown(&f);
}

static void test_a_changed_file_replaces_its_chunks(void)
{
    fixture f;
    REQUIRE(setup(&f) == 0);
    mast_ingest_stats s;
    REQUIRE(ingest(&f, 0, &s) == MAST_OK);
    CHECK_EQ_INT(search_count(&f, "zebras"), 1);   /* index built in this process */
    put(&f, "notes.txt", "Giraffes have long necks.\n");
    REQUIRE(ingest(&f, 0, &s) == MAST_OK);
    CHECK_EQ_INT(s.docs_ingested, 1);
    CHECK_EQ_INT(s.docs_unchanged, 4);
    CHECK_EQ_INT(search_count(&f, "zebras"), 0);   /* the replaced chunk is gone */
    CHECK_EQ_INT(search_count(&f, "giraffes"), 1);
    teardown(&f);
}

static void test_prune_removes_vanished_files_and_lines(void)
{
    fixture f;
    REQUIRE(setup(&f) == 0);
    mast_ingest_stats s;
    REQUIRE(ingest(&f, 0, &s) == MAST_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/notes.txt", f.dir);
    REQUIRE(unlink(path) == 0);
    put(&f, "corpus.jsonl", "{\"_id\": \"d1\", \"title\": \"Photosynthesis\", \"text\": \"Plants "
                            "convert sunlight into chemical energy.\"}\n");
    REQUIRE(ingest(&f, 0, &s) == MAST_OK);
    CHECK_EQ_INT(s.docs_pruned, 0);
    CHECK_EQ_INT(search_count(&f, "zebras"), 1);   /* without --prune it stays */
    REQUIRE(ingest(&f, 1, &s) == MAST_OK);
    CHECK_EQ_INT(s.docs_pruned, 2);
    CHECK_EQ_INT(search_count(&f, "zebras"), 0);
    CHECK_EQ_INT(search_count(&f, "moon"), 0);
    CHECK_EQ_INT(search_count(&f, "sunlight"), 1);
    teardown(&f);
}

static void test_jsonl_bad_lines_fail_alone_and_zstd_is_read(void)
{
    fixture f;
    REQUIRE(setup(&f) == 0);
    char *dir2 = test_tmpdir();
    free(f.dir);
    f.dir = dir2;
    const char *jsonl = "{\"_id\": \"a\", \"text\": \"alpha particles\"}\n"
                        "{not json}\n"
                        "{\"_id\": \"b\"}\n"
                        "[1, 2]\n"
                        "{\"_id\": \"c\", \"text\": \"gamma rays\"}\n";
    size_t bound = ZSTD_compressBound(strlen(jsonl));
    char *z = malloc(bound);
    size_t zn = ZSTD_compress(z, bound, jsonl, strlen(jsonl), 3);
    REQUIRE(!ZSTD_isError(zn));
    put_bytes(&f, "c.jsonl.zst", z, zn);
    put_bytes(&f, "broken.jsonl.zst", z, zn / 2);   /* truncated */
    free(z);
    mast_ingest_stats s;
    REQUIRE(ingest(&f, 0, &s) == MAST_OK);
    CHECK_EQ_INT(s.docs_ingested, 2);
    CHECK_EQ_INT(s.docs_failed, 2);      /* not JSON, not an object */
    CHECK_EQ_INT(s.docs_skipped, 1);     /* {"_id": "b"}: no title, no text */
    CHECK_EQ_INT(s.files_failed, 1);     /* the truncated file */
    CHECK_EQ_INT(search_count(&f, "gamma"), 1);
    teardown(&f);
}

static void test_empty_folder_and_missing_path(void)
{
    fixture f;
    REQUIRE(setup(&f) == 0);
    char *empty = test_tmpdir();
    const char *paths[] = {empty, "/definitely/not/here"};
    mast_ingest_stats s;
    REQUIRE(mast_ingest(f.store, "c", paths, 2, NULL, NULL, &s) == MAST_OK);
    CHECK_EQ_INT(s.files_seen, 1);     /* the missing path, failed */
    CHECK_EQ_INT(s.files_failed, 1);
    CHECK_EQ_INT(mast_ingest(f.store, "bad name", paths, 1, NULL, NULL, &s), MAST_ERR_INVALID);
    free(empty);
    teardown(&f);
}

static void test_ask_answers_extractively_with_citations(void)
{
    fixture f;
    REQUIRE(setup(&f) == 0);
    mast_ingest_stats s;
    REQUIRE(ingest(&f, 0, &s) == MAST_OK);
    mast_answer a;
    REQUIRE(mast_ask(f.r, f.store, "c", "Where do zebras live?", 5, NULL, &a) == MAST_OK);
    CHECK(a.extractive);
    REQUIRE(a.n_sources >= 1);
    CHECK(strstr(a.sources[0].uri, "notes.txt") != NULL);
    CHECK(strstr(a.answer, "They live in Africa. [1]") != NULL ||
          strstr(a.answer, "Zebras are striped animals. [1]") != NULL);
    CHECK(strstr(a.note, "no model is configured") != NULL);
    mast_answer_free(&a);
    REQUIRE(mast_ask(f.r, f.store, "c", "quantum chromodynamics", 5, NULL, &a) == MAST_OK);
    CHECK_EQ_INT(a.n_sources, 0);
    CHECK_EQ_STR(a.answer, "No passage in collection 'c' matches the question.");
    mast_answer_free(&a);
    /* code fences are not answer material: the prose about apt is */
    REQUIRE(mast_ask(f.r, f.store, "c", "apt install mast", 5, NULL, &a) == MAST_OK);
    CHECK(strstr(a.answer, "Run the installer with apt on Debian machines. [1]") != NULL);
    CHECK(strstr(a.answer, "```") == NULL);
    mast_answer_free(&a);
    CHECK_EQ_INT(mast_ask(f.r, f.store, "c", "", 5, NULL, &a), MAST_ERR_INVALID);
    teardown(&f);
}

/* Defect: a JSON line with a title and no text got no chunks and could never be found. */
static void test_a_title_alone_is_a_document(void)
{
    fixture f;
    REQUIRE(setup(&f) == 0);
    put(&f, "titles.jsonl", "{\"_id\": \"t1\", \"title\": \"Extraction of Roots by Repeated "
                            "Subtractions\", \"text\": \"\"}\n"
                            "{\"_id\": \"t2\", \"title\": \"\", \"text\": \"  \"}\n"
                            "{\"_id\": \"t3\", \"title\": \"No text field at all\"}\n"
                            "{\"_id\": \"t4\", \"title\": 7, \"text\": \"x\"}\n");
    mast_ingest_stats s;
    REQUIRE(ingest(&f, 0, &s) == MAST_OK);
    CHECK_EQ_INT(s.docs_ingested, 7);     /* the five of setup, t1 and t3 */
    CHECK_EQ_INT(s.docs_skipped, 1);      /* t2: no title, no text */
    CHECK_EQ_INT(s.docs_failed, 1);       /* t4: a title that is not a string */
    mast_result *res;
    size_t n;
    REQUIRE(mast_search(f.r, f.store, "c", "Extraction of Roots by Repeated Subtractions", 10,
                        NULL, &res, &n) == MAST_OK);
    REQUIRE(n >= 1);
    CHECK(strstr(res[0].uri, "/titles.jsonl#t1") != NULL);
    CHECK_EQ_STR(res[0].text, "Extraction of Roots by Repeated Subtractions");
    mast_results_free(res, n);
    teardown(&f);
}

/* Defects: an empty file became a document without a word, HTML was indexed as
** markup, and a FIFO was warned about but counted nowhere. HTML is read now, by
** its content whatever its name: its words, not its tags. */
static void test_every_file_lands_in_exactly_one_count(void)
{
    fixture f;
    REQUIRE(setup(&f) == 0);
    put(&f, "empty.txt", "  \n\n");
    put(&f, "page.html", "<html><body><p>Markup words</p></body></html>");
    put(&f, "page.txt", "<!DOCTYPE html>\n<html><body><p>Sneaky markup</p></body></html>");
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s/pipe", f.dir);
    REQUIRE(mkfifo(fifo, 0600) == 0);
    mast_ingest_stats s;
    REQUIRE(ingest(&f, 0, &s) == MAST_OK);
    CHECK_EQ_INT(s.files_seen, 9);
    CHECK_EQ_INT(s.files_ingested, 6);
    CHECK_EQ_INT(s.files_skipped, 3);     /* program.bin, empty, the FIFO */
    CHECK_EQ_INT(s.files_failed, 0);
    CHECK_EQ_INT(s.files_seen, s.files_ingested + s.files_unchanged + s.files_skipped + s.files_failed);
    CHECK_EQ_INT(search_count(&f, "markup"), 2);   /* both pages, by their words */
    CHECK_EQ_INT(search_count(&f, "body"), 0);     /* never by their tags */
    teardown(&f);
}

static const char PAGE[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>The Analytical Engine</title>"
    "<meta name=\"description\" content=\"Notes on Babbage&#39;s engine\">"
    "<link rel=\"canonical\" href=\"https://example.org/engine\">"
    "<style>p{color:red}</style><script>var noise = 1;</script></head><body>"
    "<header><div class=\"logo\">Site</div><nav><ul><li><a href=\"/\">Home</a></li>"
    "<li><a href=\"/a\">About</a></li></ul></nav></header>"
    "<div class=\"cookie-banner\">We use cookies. <button>OK</button></div>"
    "<main><h1>The Analytical Engine</h1>"
    "<p>Charles Babbage designed the &ldquo;Analytical\n   Engine&rdquo; in 1837.</p>"
    "<h2>Programs</h2><p>Ada Lovelace wrote its <em>first</em> program.</p>"
    "<ul><li>Note A</li><li>Note G</li></ul><ol><li>First</li><li>Second</li></ol>"
    "<pre>for i in range(3):\n    print(i)</pre>"
    "<table><tr><th>Name</th><th>Year</th></tr><tr><td>Ada</td><td>1843</td></tr>"
    "<tr><td>Charles</td><td>1837</td></tr></table>"
    "<div class=\"related\"><a href=\"/1\">One</a> <a href=\"/2\">Two</a> <a href=\"/3\">Three</a></div>"
    "<h3>Notes</h3><p>Hidden<span hidden>secret</span> text.</p>"
    "</main><aside>Sidebar text</aside><footer>Copyright 2026</footer></body></html>";

/* The loaded blocks are exactly `want`: kind, heading path and text. */
typedef struct want_block {
    mast_block_kind kind;
    const char *heading, *text;
} want_block;

static void check_blocks(const mast_doc *doc, const want_block *want, size_t n)
{
    CHECK_EQ_INT(doc->n_blocks, n);
    for (size_t i = 0; i < doc->n_blocks && i < n; i++) {
        CHECK_EQ_INT(doc->blocks[i].kind, want[i].kind);
        CHECK_EQ_STR(doc->blocks[i].heading, want[i].heading);
        char text[256];
        snprintf(text, sizeof text, "%.*s", (int)doc->blocks[i].len, doc->blocks[i].text);
        CHECK_EQ_STR(text, want[i].text);
    }
}

/* The loader keeps the main content's structure and drops the page's furniture. */
static void test_html_main_content_and_structure(void)
{
    mast_doc doc;
    mast_doc_init(&doc);
    REQUIRE(mast_load_html(&doc, PAGE, strlen(PAGE), "page") == MAST_OK);
    CHECK_EQ_STR(doc.title, "The Analytical Engine");
    CHECK_EQ_STR(doc.lang, "en");
    CHECK_EQ_STR(doc.description, "Notes on Babbage's engine");
    CHECK_EQ_STR(doc.url, "https://example.org/engine");
    static const want_block want[] = {
        {MAST_BLOCK_PARA, "The Analytical Engine", "Charles Babbage designed the \xe2\x80\x9c" "Analytical Engine\xe2\x80\x9d in 1837."},
        {MAST_BLOCK_PARA, "The Analytical Engine > Programs", "Ada Lovelace wrote its first program."},
        {MAST_BLOCK_PARA, "The Analytical Engine > Programs", "- Note A"},
        {MAST_BLOCK_PARA, "The Analytical Engine > Programs", "- Note G"},
        {MAST_BLOCK_PARA, "The Analytical Engine > Programs", "1. First"},
        {MAST_BLOCK_PARA, "The Analytical Engine > Programs", "2. Second"},
        {MAST_BLOCK_CODE, "The Analytical Engine > Programs", "for i in range(3):\n    print(i)"},
        {MAST_BLOCK_PARA, "The Analytical Engine > Programs", "Name: Ada; Year: 1843\nName: Charles; Year: 1837"},
        {MAST_BLOCK_PARA, "The Analytical Engine > Programs > Notes", "Hidden text."},
    };
    check_blocks(&doc, want, sizeof want / sizeof *want);
    mast_doc_free(&doc);
}

/* A man page: sections and subsections as the heading path, escapes
** decoded, .TP items as tag + text, .nf verbatim, definitions skipped. */
static void test_man_page_structure(void)
{
    static const char page[] =
        ".\\\" a comment\n"
        ".de XX\n.B never shown\n..\n"
        ".TH FROB 1 \"2026\" \"frob 1.0\"\n"
        ".SH NAME\nfrob \\- turn knobs \\(em quickly\n"
        ".SH SYNOPSIS\n.B frob\n[\\fB\\-v\\fR] \\fIfile\\fP...\n"
        ".SH DESCRIPTION\n\\fBfrob\\fR turns the knobs\nof a \\*(lqfile\\*(rq.\n"
        ".PP\nA second\\c\nparagraph.\n"
        ".TP\n.BR \\-v \", \" \\-\\-verbose\nsay more\n"
        ".SS Examples\n.nf\nfrob  a.txt\nfrob \\-v b\n.fi\n"
        ".ie \\n(.g \\{\\\n.ds Aq \\(aq\n.\\}\n"
        "Done \\[u00E9]t\\['e]!\n";
    mast_doc doc;
    mast_doc_init(&doc);
    REQUIRE(mast_looks_like_roff(page, strlen(page)));
    CHECK(!mast_looks_like_roff("plain notes\n.5 percent\n", 24));
    REQUIRE(mast_load_man(&doc, page, strlen(page), "x") == MAST_OK);
    CHECK_EQ_STR(doc.title, "frob - turn knobs \xe2\x80\x94 quickly");
    static const want_block want[] = {
        {MAST_BLOCK_PARA, "NAME", "frob - turn knobs \xe2\x80\x94 quickly"},
        {MAST_BLOCK_PARA, "SYNOPSIS", "frob [-v] file..."},
        {MAST_BLOCK_PARA, "DESCRIPTION", "frob turns the knobs of a \xe2\x80\x9c" "file\xe2\x80\x9d."},
        {MAST_BLOCK_PARA, "DESCRIPTION", "A secondparagraph."},
        {MAST_BLOCK_PARA, "DESCRIPTION", "-v, --verbose\nsay more"},
        {MAST_BLOCK_CODE, "DESCRIPTION > Examples", "frob  a.txt\nfrob -v b"},
        {MAST_BLOCK_PARA, "DESCRIPTION > Examples", "Done \xc3\xa9t!"},
    };
    check_blocks(&doc, want, sizeof want / sizeof *want);
    mast_doc_free(&doc);
}

/* An HTML page that declares Latin-1 is read as Latin-1; text that only
** looks like it is read the same way. */
static void test_declared_and_detected_latin1(void)
{
    fixture f;
    REQUIRE(setup(&f) == 0);
    put(&f, "latin.html", "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; "
        "charset=ISO-8859-1\"><title>Cr\xe8me br\xfbl\xe9" "e</title></head><body><p>Na\xefve "
        "recipes \xb7 \x93smart quotes\x94 \xe0 la fran\xe7" "aise</p></body></html>");
    mast_ingest_stats s;
    REQUIRE(ingest(&f, 0, &s) == MAST_OK);
    CHECK_EQ_INT(s.files_failed, 0);
    CHECK_EQ_INT(search_count(&f, "na\xc3\xafve fran\xc3\xa7" "aise"), 1);
    mast_result *res;
    size_t n;
    REQUIRE(mast_search(f.r, f.store, "c", "recipes", 10, NULL, &res, &n) == MAST_OK);
    REQUIRE(n == 1);
    CHECK_EQ_STR(res[0].title, "Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e");
    CHECK(strstr(res[0].text, "\xe2\x80\x9csmart quotes\xe2\x80\x9d") != NULL);
    mast_results_free(res, n);
    teardown(&f);
}

/* Hostile HTML: nesting 50,000 deep, unclosed everything, junk bytes; each
** loads (the deep part dropped) or fails cleanly, quickly. */
static void test_html_hostile_inputs(void)
{
    mast_buf deep = {0};
    mast_buf_puts(&deep, "<html><body><p>top</p>");
    for (int i = 0; i < 50000; i++)
        mast_buf_puts(&deep, "<div>");
    mast_buf_puts(&deep, "deep");
    mast_doc doc;
    mast_doc_init(&doc);
    REQUIRE(mast_load_html(&doc, deep.data, deep.len, "deep") == MAST_OK);
    CHECK(doc.n_blocks >= 1);
    CHECK_EQ_STR(doc.title, "deep");
    mast_doc_free(&doc);
    mast_buf_free(&deep);
    const char *odd[] = {"<", "<html", "<table><td>x<tr><th>", "</p></p><li>x", "<pre>\n\n</pre>",
                         "<h1></h1><h7>x</h7>"};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        mast_doc_init(&doc);
        CHECK(mast_load_html(&doc, odd[i], strlen(odd[i]), "odd") == MAST_OK);
        mast_doc_free(&doc);
    }
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Defect: a 2 GB file was read to the 256 MB limit (269 MB resident) and a
** zstd bomb decompressed to 540 MB before they were refused. */
static void test_oversized_inputs_are_refused_cheaply(void)
{
    fixture f;
    REQUIRE(setup(&f) == 0);
    char path[600];
    snprintf(path, sizeof path, "%s/huge.txt", f.dir);
    FILE *fp = fopen(path, "wb");
    REQUIRE(fp && ftruncate(fileno(fp), (off_t)2 << 30) == 0);   /* sparse: no disk used */
    fclose(fp);
    /* 300 MB of zeros, compressed as a stream (no size in the frame header) */
    snprintf(path, sizeof path, "%s/bomb.txt.zst", f.dir);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    size_t piece = (size_t)1 << 20, out_cap = ZSTD_CStreamOutSize();
    char *zeros = calloc(1, piece), *zout = malloc(out_cap);
    fp = fopen(path, "wb");
    REQUIRE(cc && zeros && zout && fp);
    for (int i = 0; i < 300; i++) {
        ZSTD_inBuffer in = {zeros, piece, 0};
        while (in.pos < in.size) {
            ZSTD_outBuffer out = {zout, out_cap, 0};
            ZSTD_compressStream2(cc, &out, &in, ZSTD_e_continue);
            fwrite(zout, 1, out.pos, fp);
        }
    }
    size_t left;
    do {
        ZSTD_inBuffer in = {NULL, 0, 0};
        ZSTD_outBuffer out = {zout, out_cap, 0};
        left = ZSTD_compressStream2(cc, &out, &in, ZSTD_e_end);
        fwrite(zout, 1, out.pos, fp);
    } while (left);
    fclose(fp);
    ZSTD_freeCCtx(cc);
    free(zeros);
    free(zout);
    long before = peak_rss_kb();
    mast_ingest_stats s;
    REQUIRE(ingest(&f, 0, &s) == MAST_OK);
    long grew_mb = (peak_rss_kb() - before) / 1024;
    fprintf(stderr, "  peak resident memory grew by %ld MB\n", grew_mb);
    CHECK_EQ_INT(s.files_failed, 2);
    CHECK_EQ_INT(s.files_ingested, 4);   /* the others are ingested as ever */
    CHECK(grew_mb < 32);
    teardown(&f);
}

int main(void)
{
    RUN(test_html_main_content_and_structure);
    RUN(test_html_hostile_inputs);
    RUN(test_man_page_structure);
    RUN(test_declared_and_detected_latin1);
    RUN(test_oversized_inputs_are_refused_cheaply);   /* first: it measures peak memory */
    RUN(test_a_title_alone_is_a_document);
    RUN(test_every_file_lands_in_exactly_one_count);
    RUN(test_ingests_a_folder_skipping_binaries_and_hidden_files);
    RUN(test_reingest_of_unchanged_files_is_a_no_op);
    RUN(test_a_changed_file_replaces_its_chunks);
    RUN(test_prune_removes_vanished_files_and_lines);
    RUN(test_jsonl_bad_lines_fail_alone_and_zstd_is_read);
    RUN(test_empty_folder_and_missing_path);
    RUN(test_ask_answers_extractively_with_citations);
    return test_summary();
}
