/* tests/deploy/test_capi.c — the public C API (include/mast.h): what a
** program embedding mast sees, its errors included. */
#include <sys/stat.h>

#include "mast.h"
#include "test.h"

typedef struct fixture {
    char *dir;
    char db[512];
    mast_store *store;
    mast_retriever *r;
} fixture;

static int setup(fixture *f)
{
    f->dir = test_tmpdir();
    snprintf(f->db, sizeof f->db, "%s/c.db", f->dir);
    return mast_store_open(&f->store, f->db) == MAST_OK && mast_retriever_create(&f->r) == MAST_OK
               ? 0 : -1;
}

static void teardown(fixture *f)
{
    mast_retriever_free(f->r);
    mast_store_close(f->store);
    free(f->dir);
}

static void test_options_are_checked_before_anything_is_created(void)
{
    fixture f;
    REQUIRE(setup(&f) == 0);
    mast_collection_options o = MAST_COLLECTION_OPTIONS_INIT;
    o.language = "klingon";
    CHECK_EQ_INT(mast_collection_create(f.store, "c", &o), MAST_ERR_INVALID);
    CHECK(strstr(mast_errmsg(), "no analyzer for language 'klingon'") != NULL);
    o = (mast_collection_options)MAST_COLLECTION_OPTIONS_INIT;
    o.dim = 3;
    o.metric = "hamming";
    CHECK_EQ_INT(mast_collection_create(f.store, "c", &o), MAST_ERR_INVALID);
    CHECK(strstr(mast_errmsg(), "metric must be cos, ip or l2 (got 'hamming')") != NULL);
    mast_collection_options old = {0};   /* a struct that never met its _INIT */
    CHECK_EQ_INT(mast_collection_create(f.store, "c", &old), MAST_ERR_INVALID);
    CHECK(strstr(mast_errmsg(), "start from its _INIT macro") != NULL);
    mast_collection_list *l;
    REQUIRE(mast_collection_list_get(f.store, &l) == MAST_OK);
    CHECK_EQ_INT(mast_collection_list_count(l), 0);   /* nothing half-made is left */
    mast_collection_list_free(l);
    teardown(&f);
}

static void test_documents_round_trip_and_fail_alone(void)
{
    fixture f;
    REQUIRE(setup(&f) == 0);
    REQUIRE(mast_collection_create(f.store, "c", NULL) == MAST_OK);
    mast_document_input d[3] = {
        {MAST_DOCUMENT_INPUT_VERSION, .id = "a", .title = "Alpha", .text = "Alpha is first.",
         .metadata = "{\"n\": 1}"},
        {MAST_DOCUMENT_INPUT_VERSION, .id = "b", .metadata = "[1]", .text = "x"},
        {MAST_DOCUMENT_INPUT_VERSION, .id = "c", .title = "Only a title"},
    };
    mast_upsert_result res[3];
    CHECK_EQ_INT(mast_documents_upsert(f.store, "c", d, 3, res), MAST_ERR_INVALID);
    CHECK_EQ_INT(res[0].status, MAST_UPSERT_CREATED);
    CHECK_EQ_INT(res[1].status, MAST_UPSERT_FAILED);
    CHECK_EQ_STR(res[1].message, "document 'b': metadata must be a JSON object");
    CHECK_EQ_INT(res[2].status, MAST_UPSERT_CREATED);
    CHECK_EQ_INT(mast_documents_upsert(f.store, "c", d, 1, res), MAST_OK);
    CHECK_EQ_INT(res[0].status, MAST_UPSERT_UNCHANGED);
    CHECK_EQ_INT(mast_documents_upsert(f.store, "nope", d, 1, res), MAST_ERR_NOT_FOUND);
    mast_document_list *doc;
    REQUIRE(mast_document_get(f.store, "c", "a", &doc) == MAST_OK);
    CHECK_EQ_STR(mast_document_list_at(doc, 0)->title, "Alpha");
    CHECK_EQ_INT(mast_document_chunk_count(doc), 1);
    CHECK_EQ_STR(mast_document_chunk(doc, 0), "Alpha is first.");
    mast_document_list_free(doc);
    mast_list_options lo = MAST_LIST_OPTIONS_INIT;
    lo.filter = "n=1";
    mast_document_list *l;
    REQUIRE(mast_document_list_get(f.store, "c", &lo, &l) == MAST_OK);
    CHECK_EQ_INT(mast_document_list_total(l), 1);
    mast_document_list_free(l);
    REQUIRE(mast_document_delete(f.store, "c", "a") == MAST_OK);
    CHECK_EQ_INT(mast_document_get(f.store, "c", "a", &doc), MAST_ERR_NOT_FOUND);
    CHECK_EQ_STR(mast_errmsg(), "document 'a' does not exist in this collection");
    teardown(&f);
}

static void test_search_ask_and_ingest(void)
{
    fixture f;
    REQUIRE(setup(&f) == 0);
    char path[600];
    snprintf(path, sizeof path, "%s/guide.md", f.dir);
    REQUIRE(test_write_file(path, "# Guide\n\nRun the installer with apt on Debian.\n") == 0);
    const char *paths[] = {path};
    mast_ingest_summary s;
    REQUIRE(mast_ingest_paths(f.store, "docs", paths, 1, NULL, &s) == MAST_OK);
    CHECK_EQ_INT(s.files_ingested, 1);
    CHECK_EQ_INT(s.chunks, 1);
    mast_result *res;
    size_t n;
    mast_search_options o = MAST_SEARCH_OPTIONS_INIT;
    REQUIRE(mast_search_collection(f.r, f.store, "docs", "installer", &o, &res, &n) == MAST_OK);
    REQUIRE(n == 1);
    CHECK_EQ_STR(res[0].heading, "Guide");
    CHECK(res[0].context == NULL);
    mast_results_free(res, n);
    o.expand = MAST_EXPAND_SECTION;   /* version 2 */
    REQUIRE(mast_search_collection(f.r, f.store, "docs", "installer", &o, &res, &n) == MAST_OK);
    REQUIRE(n == 1);
    CHECK_EQ_STR(res[0].context, "Run the installer with apt on Debian.");
    mast_results_free(res, n);
    o.version = 1;                    /* a version-1 caller's struct ends before expand */
    REQUIRE(mast_search_collection(f.r, f.store, "docs", "installer", &o, &res, &n) == MAST_OK);
    CHECK(n == 1 && res[0].context == NULL);
    mast_results_free(res, n);
    o.version = MAST_SEARCH_OPTIONS_VERSION;
    o.expand = 0;
    o.mode = "fuzzy";
    CHECK_EQ_INT(mast_search_collection(f.r, f.store, "docs", "x", &o, &res, &n), MAST_ERR_INVALID);
    CHECK_EQ_STR(mast_errmsg(), "mode must be bm25, dense, hybrid or auto (got 'fuzzy')");
    mast_ask_result *a;
    REQUIRE(mast_ask_collection(f.r, f.store, "docs", "How do I install it?", 0, &a) == MAST_OK);
    CHECK_EQ_STR(mast_ask_result_answer(a), "Run the installer with apt on Debian. [1]");
    CHECK_EQ_INT(mast_ask_result_source_count(a), 1);
    CHECK(mast_ask_result_source(a, 2) == NULL);
    mast_ask_result_free(a);
    mast_ingest_options io = MAST_INGEST_OPTIONS_INIT;
    io.chunk_tokens = 64;
    io.overlap_tokens = 64;
    CHECK_EQ_INT(mast_ingest_paths(f.store, "docs", paths, 1, &io, &s), MAST_ERR_INVALID);
    teardown(&f);
}

/* An extractive answer that uses a passage past the k sources cites it after them. */
static void test_ask_cites_a_deeper_passage_after_the_k_sources(void)
{
    fixture f;
    REQUIRE(setup(&f) == 0);
    REQUIRE(mast_collection_create(f.store, "z", NULL) == MAST_OK);
    mast_document_input d[3] = {
        {MAST_DOCUMENT_INPUT_VERSION, .id = "a",
         .text = "Zebras graze on the plains. Zebras run from lions on the plains."},
        {MAST_DOCUMENT_INPUT_VERSION, .id = "b", .text = "Zebras drink at rivers at dawn."},
        {MAST_DOCUMENT_INPUT_VERSION, .id = "c", .text = "Tides follow the moon."},
    };
    REQUIRE(mast_documents_upsert(f.store, "z", d, 3, NULL) == MAST_OK);
    mast_ask_result *a;
    REQUIRE(mast_ask_collection(f.r, f.store, "z", "Where do zebras graze and drink?", 1, &a) ==
            MAST_OK);
    const char *answer = mast_ask_result_answer(a);
    /* "b" (shorter) ranks first; "a" is past k = 1 but holds the sentences on grazing */
    CHECK_EQ_STR(mast_ask_result_source(a, 1)->uri, "b");
    CHECK(strstr(answer, "Zebras drink at rivers at dawn. [1]") != NULL);
    REQUIRE(mast_ask_result_source_count(a) == 2);   /* the top 1, and the deeper one cited */
    CHECK(strstr(answer, "Zebras graze on the plains. [2]") != NULL);
    CHECK_EQ_STR(mast_ask_result_source(a, 2)->uri, "a");
    CHECK_EQ_INT(mast_ask_result_source(a, 2)->rank, 2);
    mast_ask_result_free(a);
    teardown(&f);
}

int main(void)
{
    RUN(test_options_are_checked_before_anything_is_created);
    RUN(test_documents_round_trip_and_fail_alone);
    RUN(test_search_ask_and_ingest);
    RUN(test_ask_cites_a_deeper_passage_after_the_k_sources);
    return test_summary();
}
