/* tests/data/test_store.c — the SQLite store: migrations, transactions,
** traces. */
#include <sys/stat.h>
#include <unistd.h>

#include "data/store.h"
#include "data/store_impl.h"   /* white-box: the test reads the tables */
#include "data/store_traces.h"
#include "test.h"

static mast_store *open_fresh(char **dir_out)
{
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/m.db", dir);
    mast_store *s = NULL;
    if (mast_store_open(&s, path) != MAST_OK)
        fprintf(stderr, "  open: %s\n", mast_errmsg());
    *dir_out = dir;
    return s;
}

static int64_t count(mast_store *s, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}

static void test_migrates_an_empty_database_and_reopens(void)
{
    char *dir;
    mast_store *s = open_fresh(&dir);
    REQUIRE(s);
    CHECK_EQ_INT(count(s, "SELECT version FROM schema_version"), MAST_STORE_SCHEMA_VERSION);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM sqlite_master WHERE name IN "
                          "('collections','documents','chunks','traces','spans','embeddings')"), 6);
    char journal[16] = "";
    sqlite3_stmt *st;
    sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(journal, sizeof journal, "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    CHECK_EQ_STR(journal, "wal");
    int64_t id;
    REQUIRE(mast_store_collection_ensure(s, "docs", &id) == MAST_OK);
    char *path = strdup(s->path);
    mast_store_close(s);
    REQUIRE(mast_store_open(&s, path) == MAST_OK);
    int64_t again;
    CHECK(mast_store_collection_find(s, "docs", &again) == MAST_OK && again == id);
    CHECK_EQ_INT(mast_store_collection_find(s, "nope", &again), MAST_ERR_NOT_FOUND);
    CHECK_EQ_STR(mast_errmsg(), "collection 'nope' does not exist");
    CHECK_EQ_INT(mast_store_collection_ensure(s, "bad name!", &again), MAST_ERR_INVALID);
    mast_store_close(s);
    free(path);
    free(dir);
}

static void test_schema_1_database_upgrades_without_loss(void)
{
    char *dir;
    mast_store *s = open_fresh(&dir);
    REQUIRE(s);
    int64_t c;
    REQUIRE(mast_store_collection_ensure(s, "kept", &c) == MAST_OK);
    mast_doc_in doc = {"u1", "/src", "T", NULL, "00000000000000000000000000000001", NULL, 0, NULL};
    mast_chunk_in ch[] = {{"survives the upgrade", 3, "", NULL, 0, 0}};
    REQUIRE(mast_store_doc_put(s, c, &doc, ch, 1, NULL) == MAST_OK);
    /* turn it back into a schema-1 database: no embeddings, keys, usage or prompt
    ** tables, no chunk pages, no signatures, no trace context */
    REQUIRE(mast_store_exec(s, "DROP TABLE doc_minhash; DROP TABLE embeddings; DROP TABLE usage; DROP TABLE api_keys;"
                               " DROP TABLE prompt_labels; DROP TABLE prompt_versions; DROP TABLE prompts;"
                               " ALTER TABLE chunks DROP COLUMN page_start;"
                               " ALTER TABLE chunks DROP COLUMN page_end;"
                               " DROP INDEX traces_trace_id; ALTER TABLE traces DROP COLUMN trace_id;"
                               " ALTER TABLE traces DROP COLUMN parent_span_id;"
                               " UPDATE schema_version SET version = 1") == MAST_OK);
    char *path = strdup(s->path);
    mast_store_close(s);
    REQUIRE(mast_store_open(&s, path) == MAST_OK);
    CHECK_EQ_INT(count(s, "SELECT version FROM schema_version"), MAST_STORE_SCHEMA_VERSION);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM sqlite_master WHERE name = 'embeddings'"), 1);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM sqlite_master WHERE name = 'api_keys'"), 1);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM chunks WHERE text = 'survives the upgrade'"), 1);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM chunks WHERE page_start = 0 AND page_end = 0"), 1);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM sqlite_master WHERE name = 'doc_minhash'"), 1);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM doc_minhash"), 0);   /* the old document has none */
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM sqlite_master WHERE name = 'traces_trace_id'"), 1);
    mast_store_close(s);
    free(path);
    free(dir);
}

static void test_newer_schema_is_refused(void)
{
    char *dir;
    mast_store *s = open_fresh(&dir);
    REQUIRE(s);
    REQUIRE(mast_store_exec(s, "UPDATE schema_version SET version = 99") == MAST_OK);
    char *path = strdup(s->path);
    mast_store_close(s);
    CHECK_EQ_INT(mast_store_open(&s, path), MAST_ERR_UNSUPPORTED);
    CHECK(strstr(mast_errmsg(), "schema version 99 is newer than this mast supports") != NULL);
    free(path);
    free(dir);
}

static void test_missing_directory_is_a_clear_error(void)
{
    mast_store *s;
    CHECK_EQ_INT(mast_store_open(&s, "/nonexistent-dir/sub/m.db"), MAST_ERR_NOT_FOUND);
    CHECK_EQ_STR(mast_errmsg(), "/nonexistent-dir/sub/m.db: cannot open database: directory "
                                "'/nonexistent-dir/sub' does not exist");
}

static void test_a_file_that_is_not_a_database_is_refused_untouched(void)
{
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    REQUIRE(test_write_file(path, "these are my notes, not a database, and they must survive the "
                                  "attempt to open them as one.\n") == 0);
    mast_store *s;
    CHECK_EQ_INT(mast_store_open(&s, path), MAST_ERR_DB);
    CHECK(strstr(mast_errmsg(), "file is not a database") != NULL);
    char buf[200] = "";
    FILE *f = fopen(path, "r");
    REQUIRE(f);
    CHECK(fgets(buf, sizeof buf, f) != NULL);
    fclose(f);
    CHECK(strncmp(buf, "these are my notes", 18) == 0);
    free(dir);
}

static void test_failure_midway_keeps_the_old_document_whole(void)
{
    char *dir;
    mast_store *s = open_fresh(&dir);
    REQUIRE(s);
    int64_t c;
    REQUIRE(mast_store_collection_ensure(s, "c", &c) == MAST_OK);
    mast_doc_in doc = {"u1", "/src", "T", NULL, "00000000000000000000000000000001", NULL, 0, NULL};
    mast_chunk_in v1[] = {{"old one", 2, "", NULL, 0, 0}, {"old two", 2, "H", NULL, 0, 0}};
    int64_t id;
    REQUIRE(mast_store_doc_put(s, c, &doc, v1, 2, &id) == MAST_OK);
    int64_t version0;
    REQUIRE(mast_store_collection_version(s, c, &version0) == MAST_OK);
    /* the third chunk is invalid: the first two new ones were already written */
    mast_doc_in doc2 = {"u1", "/src", "T2", NULL, "00000000000000000000000000000002", NULL, 0, NULL};
    mast_chunk_in v2[] = {{"new one", 2, "", NULL, 0, 0}, {"new two", 2, "", NULL, 0, 0}, {NULL, 0, "", NULL, 0, 0}};
    CHECK_EQ_INT(mast_store_doc_put(s, c, &doc2, v2, 3, &id), MAST_ERR_INVALID);
    CHECK_EQ_STR(mast_errmsg(), "u1: chunk 2 has no text");
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM chunks WHERE text LIKE 'new%'"), 0);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM chunks WHERE text LIKE 'old%'"), 2);
    char hash[33];
    REQUIRE(mast_store_doc_find(s, c, "u1", &id, hash) == MAST_OK);
    CHECK_EQ_STR(hash, "00000000000000000000000000000001");
    int64_t version1;
    REQUIRE(mast_store_collection_version(s, c, &version1) == MAST_OK);
    CHECK_EQ_INT(version1, version0);
    /* and a valid replacement replaces all chunks, bumping the version */
    REQUIRE(mast_store_doc_put(s, c, &doc2, v2, 2, &id) == MAST_OK);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM chunks"), 2);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM chunks WHERE text LIKE 'new%'"), 2);
    REQUIRE(mast_store_collection_version(s, c, &version1) == MAST_OK);
    CHECK(version1 > version0);
    REQUIRE(mast_store_doc_delete(s, c, id) == MAST_OK);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM chunks"), 0);
    mast_store_close(s);
    free(dir);
}

static void test_traces_round_trip_with_nested_spans(void)
{
    char *dir;
    mast_store *s = open_fresh(&dir);
    REQUIRE(s);
    mast_trace *t = mast_trace_begin("search");
    REQUIRE(t);
    mast_trace_attr_str(t, "query", "hello");
    /* attributes are JSON text built as they are set: each kind, escaped, replaced */
    mast_trace_attr_str(t, "quote", "a \"b\" \\ c\n\x01");
    mast_trace_attr_str(t, "bad", "caf\xe9 \xc3\xa9");   /* invalid UTF-8 repaired */
    mast_trace_attr_double(t, "x", 2);
    mast_trace_attr_double(t, "y", 0.125);
    mast_trace_attr_double(t, "inf", 1.0 / 0.0);
    mast_trace_attr_int(t, "n", -7);
    mast_trace_attr_str(t, "query", "hello again");   /* replaces the first value */
    mast_trace_span_begin(t, "retrieve");
    mast_trace_attr_int(t, "k", 10);
    mast_trace_span_begin(t, "index.build");
    mast_trace_span_end(t, MAST_OK);
    mast_trace_span_end(t, MAST_OK);
    mast_trace_span_begin(t, "render");
    mast_trace_end(t, MAST_ERR_NOT_FOUND);   /* closes render and the root */
    CHECK_EQ_INT(strlen(t->id), 32);
    REQUIRE(mast_store_trace_save(s, t) == MAST_OK);
    char id[33];
    memcpy(id, t->id, 33);
    mast_trace_free(t);
    mast_trace_free(NULL);
    mast_trace_span_begin(NULL, "ignored");   /* NULL traces are no-ops */

    json_t *list;
    REQUIRE(mast_store_trace_list(s, 10, &list) == MAST_OK);
    REQUIRE(json_array_size(list) == 1);
    json_t *row = json_array_get(list, 0);
    CHECK_EQ_STR(json_string_value(json_object_get(row, "name")), "search");
    CHECK_EQ_STR(json_string_value(json_object_get(row, "status")), "not found");
    CHECK_EQ_INT(json_integer_value(json_object_get(row, "n_spans")), 4);
    json_decref(list);

    json_t *tr;
    char prefix[9];
    memcpy(prefix, id, 8);
    prefix[8] = '\0';
    REQUIRE(mast_store_trace_get(s, prefix, &tr) == MAST_OK);
    json_t *spans = json_object_get(tr, "spans");
    REQUIRE(json_array_size(spans) == 4);
    CHECK(json_is_null(json_object_get(json_array_get(spans, 0), "parent_id")));
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(spans, 1), "parent_id")), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(spans, 2), "parent_id")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(spans, 3), "parent_id")), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(spans, 2), "name")),
                 "index.build");
    CHECK_EQ_INT(json_integer_value(json_object_get(
                     json_object_get(json_array_get(spans, 1), "attributes"), "k")), 10);
    char *root = json_dumps(json_object_get(json_array_get(spans, 0), "attributes"), JSON_COMPACT);
    CHECK_EQ_STR(root, "{\"quote\":\"a \\\"b\\\" \\\\ c\\n\\u0001\",\"bad\":\"caf\xef\xbf\xbd \xc3\xa9\","
                       "\"x\":2.0,\"y\":0.125,\"inf\":null,\"n\":-7,\"query\":\"hello again\"}");
    free(root);
    CHECK(json_is_real(json_object_get(json_object_get(json_array_get(spans, 0), "attributes"), "x")));
    json_decref(tr);
    REQUIRE(mast_store_trace_get(s, id + 20, &tr) == MAST_OK);   /* the short id: the last 12 digits */
    CHECK_EQ_STR(json_string_value(json_object_get(tr, "id")), id);
    json_decref(tr);
    CHECK_EQ_INT(mast_store_trace_get(s, "ffffffffffff", &tr), MAST_ERR_NOT_FOUND);
    CHECK_EQ_INT(mast_store_trace_get(s, "xyz", &tr), MAST_ERR_INVALID);
    mast_store_close(s);
    free(dir);
}

/* Retention: exactly the traces older than the limit go, with their spans; then, by size,
** the oldest until the traces fit. */
static void test_prune_removes_exactly_the_older_traces(void)
{
    char *dir;
    mast_store *s = open_fresh(&dir);
    REQUIRE(s);
    const int64_t base = 1700000000000000LL;   /* microseconds */
    mast_trace *batch[200];
    for (int i = 0; i < 200; i++) {
        mast_trace *t = mast_trace_begin("http.request");
        mast_trace_attr_str(t, "url.path", "/v1/chat/completions");
        mast_trace_span_begin(t, "prompt");
        mast_trace_span_end(t, MAST_OK);
        mast_trace_end(t, MAST_OK);
        t->spans[0].start_us = base + (int64_t)i * 1000000;   /* one a second */
        snprintf(t->id, sizeof t->id, "%032x", i + 1);
        batch[i] = t;
    }
    REQUIRE(mast_store_traces_save(s, batch, 200) == MAST_OK);
    for (int i = 0; i < 200; i++)
        mast_trace_free(batch[i]);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM spans"), 400);
    int64_t deleted = -1, n;
    uint64_t bytes;
    /* older than the 120th: 0 .. 119 go, in batches of 7 */
    REQUIRE(mast_store_traces_prune(s, base + 120 * 1000000LL, 0, 7, &deleted) == MAST_OK);
    CHECK_EQ_INT(deleted, 120);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM traces"), 80);
    CHECK_EQ_INT(count(s, "SELECT min(start_us) FROM traces"), base + 120 * 1000000LL);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM spans"), 160);   /* with their spans */
    REQUIRE(mast_store_traces_prune(s, base + 120 * 1000000LL, 0, 0, &deleted) == MAST_OK);
    CHECK_EQ_INT(deleted, 0);   /* again: nothing more */
    REQUIRE(mast_store_traces_size(s, &n, &bytes) == MAST_OK);
    CHECK_EQ_INT(n, 80);
    CHECK(bytes > 0);
    /* by size: a limit of half the bytes leaves fewer than half the traces, the newest */
    REQUIRE(mast_store_traces_prune(s, 0, bytes / 2, 0, &deleted) == MAST_OK);
    CHECK(deleted >= 40 && deleted < 80);
    CHECK_EQ_INT(count(s, "SELECT max(start_us) FROM traces"), base + 199 * 1000000LL);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM traces") + deleted, 80);
    mast_store_close(s);
    free(dir);
}

int main(void)
{
    RUN(test_migrates_an_empty_database_and_reopens);
    RUN(test_schema_1_database_upgrades_without_loss);
    RUN(test_newer_schema_is_refused);
    RUN(test_missing_directory_is_a_clear_error);
    RUN(test_a_file_that_is_not_a_database_is_refused_untouched);
    RUN(test_failure_midway_keeps_the_old_document_whole);
    RUN(test_traces_round_trip_with_nested_spans);
    RUN(test_prune_removes_exactly_the_older_traces);
    return test_summary();
}
