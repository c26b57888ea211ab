/* tests/data/test_dense.c — dense and hybrid retrieval in the stack: vectors
** stored with their chunks, kept in sync on replace/prune, model changes. */
#include <unistd.h>

#include "data/collection.h"
#include "data/ingest/ingest.h"
#include "data/retrieve.h"
#include "data/store_impl.h"   /* white-box: the test reads the tables */
#include "data/vindex/vindex.h"
#include "data/chunk.h"
#include "model/embedder.h"
#include "model/synth.h"
#include "test.h"

static char docs[64], docs2[64], db[128], bert[512], model2[512];

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", docs, name);
    test_write_file(path, text);
}

static int64_t count(mast_store *s, const char *sql)
{
    sqlite3_stmt *st;
    sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}

static int returns_text(mast_retriever *r, mast_store *s, const char *query, mast_search_mode mode,
                        const char *needle, size_t *n_out)
{
    mast_result *res;
    size_t n;
    if (mast_search_with(r, s, "c", query, 1000, &(mast_search_opts){.mode = mode, .filter = NULL, .fusion = MAST_FUSION_DEFAULT, .title_weight = 1.0}, NULL, &res, &n) != MAST_OK) {
        fprintf(stderr, "  search: %s\n", mast_errmsg());
        return -1;
    }
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found |= strstr(res[i].text, needle) != NULL;
    mast_results_free(res, n);
    if (n_out)
        *n_out = n;
    return found;
}

static void test_vectors_follow_replace_and_prune(void)
{
    mast_store *s;
    REQUIRE(mast_store_open(&s, db) == MAST_OK);
    REQUIRE(mast_collection_set_embedder(s, "c", bert, 0) == MAST_OK);
    put("a.txt", "Zebras have black and white stripes.");
    put("b.txt", "The moon orbits the earth every month.");
    put("c.txt", "Photosynthesis turns light into sugar.");
    const char *paths[] = {docs};
    mast_ingest_stats st;
    REQUIRE(mast_ingest(s, "c", paths, 1, NULL, NULL, &st) == MAST_OK);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM embeddings"), 3);
    CHECK_EQ_INT(count(s, "SELECT count(DISTINCT dim) FROM embeddings"), 1);
    mast_retriever *r;
    REQUIRE(mast_retriever_create(&r) == MAST_OK);
    size_t n;
    /* dense ranks every chunk; hybrid is the default with a model */
    CHECK_EQ_INT(returns_text(r, s, "stripes", MAST_MODE_DENSE, "Zebras", &n), 1);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(returns_text(r, s, "stripes", MAST_MODE_AUTO, "Zebras", &n), 1);
    CHECK_EQ_INT(n, 3);   /* fused: bm25's one hit plus the dense list */
    /* the fused score is 1/(60 + rank in bm25) + 1/(60 + rank in dense) */
    mast_result *res, *bm, *dn;
    size_t nb, nd;
    REQUIRE(mast_search_with(r, s, "c", "stripes", 10, &(mast_search_opts){.mode = MAST_MODE_BM25, .filter = NULL, .fusion = MAST_FUSION_DEFAULT, .title_weight = 1.0}, NULL, &bm, &nb) == MAST_OK);
    REQUIRE(mast_search_with(r, s, "c", "stripes", 10, &(mast_search_opts){.mode = MAST_MODE_DENSE, .filter = NULL, .fusion = MAST_FUSION_DEFAULT, .title_weight = 1.0}, NULL, &dn, &nd) == MAST_OK);
    REQUIRE(mast_search_with(r, s, "c", "stripes", 10, &(mast_search_opts){.mode = MAST_MODE_HYBRID, .filter = NULL, .fusion = MAST_FUSION_DEFAULT, .title_weight = 1.0}, NULL, &res, &n) == MAST_OK);
    CHECK_EQ_INT(nb, 1);
    CHECK_EQ_INT(nd, 3);
    for (size_t i = 0; i < n; i++) {
        double want = 0;
        for (size_t j = 0; j < nb; j++)
            if (bm[j].chunk_id == res[i].chunk_id)
                want += 1.0 / (60 + bm[j].rank);
        for (size_t j = 0; j < nd; j++)
            if (dn[j].chunk_id == res[i].chunk_id)
                want += 1.0 / (60 + dn[j].rank);
        CHECK_NEAR(res[i].score, want, 1e-12);
        if (i)
            CHECK(res[i].score <= res[i - 1].score);
    }
    mast_results_free(res, n);
    mast_results_free(bm, nb);
    mast_results_free(dn, nd);
    /* replace a document: its old chunk is never returned again */
    put("a.txt", "Giraffes have long necks.");
    REQUIRE(mast_ingest(s, "c", paths, 1, NULL, NULL, &st) == MAST_OK);
    CHECK_EQ_INT(st.docs_ingested, 1);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM embeddings"), 3);
    CHECK_EQ_INT(returns_text(r, s, "stripes zebras", MAST_MODE_DENSE, "Zebras", NULL), 0);
    CHECK_EQ_INT(returns_text(r, s, "stripes zebras", MAST_MODE_HYBRID, "Zebras", NULL), 0);
    CHECK_EQ_INT(returns_text(r, s, "necks", MAST_MODE_DENSE, "Giraffes", NULL), 1);
    /* prune: the vector goes with its chunk */
    char path[256];
    snprintf(path, sizeof path, "%s/b.txt", docs);
    unlink(path);
    mast_ingest_opts o = {.prune = 1};
    REQUIRE(mast_ingest(s, "c", paths, 1, &o, NULL, &st) == MAST_OK);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM embeddings"), 2);
    CHECK_EQ_INT(returns_text(r, s, "moon", MAST_MODE_DENSE, "moon", &n), 0);
    CHECK_EQ_INT(n, 2);
    mast_retriever_free(r);
    mast_store_close(s);
}

static void test_a_collection_without_model_refuses_dense(void)
{
    mast_store *s;
    REQUIRE(mast_store_open(&s, db) == MAST_OK);
    int64_t id;
    REQUIRE(mast_store_collection_ensure(s, "plain", &id) == MAST_OK);
    mast_retriever *r;
    REQUIRE(mast_retriever_create(&r) == MAST_OK);
    mast_result *res;
    size_t n;
    CHECK_EQ_INT(mast_search_with(r, s, "plain", "x", 5, &(mast_search_opts){.mode = MAST_MODE_DENSE, .filter = NULL, .fusion = MAST_FUSION_DEFAULT, .title_weight = 1.0}, NULL, &res, &n),
                 MAST_ERR_INVALID);
    CHECK(strstr(mast_errmsg(), "mode 'dense' needs an embedding model and this collection has none") != NULL);
    CHECK_EQ_INT(mast_search_with(r, s, "plain", "x", 5, &(mast_search_opts){.mode = MAST_MODE_HYBRID, .filter = NULL, .fusion = MAST_FUSION_DEFAULT, .title_weight = 1.0}, NULL, &res, &n),
                 MAST_ERR_INVALID);
    REQUIRE(mast_search_with(r, s, "plain", "x", 5, &(mast_search_opts){.mode = MAST_MODE_BM25, .filter = NULL, .fusion = MAST_FUSION_DEFAULT, .title_weight = 1.0}, NULL, &res, &n) == MAST_OK);
    mast_results_free(res, n);
    mast_retriever_free(r);
    mast_store_close(s);
}

static void test_changing_the_model_needs_reembed_and_reembeds(void)
{
    mast_store *s;
    REQUIRE(mast_store_open(&s, db) == MAST_OK);
    CHECK_EQ_INT(mast_collection_set_embedder(s, "c", model2, 0), MAST_ERR_EXISTS);
    CHECK(strstr(mast_errmsg(), "pass --reembed") != NULL);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM embeddings"), 2);   /* untouched */
    REQUIRE(mast_collection_set_embedder(s, "c", model2, 1) == MAST_OK);
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM embeddings"), 0);
    const char *paths[] = {docs};
    mast_ingest_stats st;
    REQUIRE(mast_ingest(s, "c", paths, 1, NULL, NULL, &st) == MAST_OK);
    CHECK_EQ_INT(st.docs_ingested, 2);   /* the model id is part of the content hash */
    CHECK_EQ_INT(count(s, "SELECT count(*) FROM embeddings"), 2);
    CHECK_EQ_INT(count(s, "SELECT min(dim) FROM embeddings"), 64);
    CHECK_EQ_INT(mast_collection_set_embedder(s, "c", "/no/such/model.gguf", 1), MAST_ERR_NOT_FOUND);
    mast_store_close(s);
}

static int search_texts(mast_retriever *r, mast_store *s, const char *coll, const char *query,
                        mast_search_mode mode, const mast_filter *f, const char *needle,
                        size_t *n_out)
{
    mast_result *res;
    size_t n;
    if (mast_search_with(r, s, coll, query, 100, &(mast_search_opts){.mode = mode, .filter = f, .fusion = MAST_FUSION_DEFAULT, .title_weight = 1.0}, NULL, &res, &n) != MAST_OK) {
        fprintf(stderr, "  search: %s\n", mast_errmsg());
        return -1;
    }
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found += strstr(res[i].text, needle) != NULL;
    mast_results_free(res, n);
    *n_out = n;
    return found;
}

/* the collection's saved vector index: its type and live count, -1 if none */
static int vix_info(mast_store *s, const char *coll, mast_vindex_type *type, size_t *deleted)
{
    int64_t id;
    if (mast_store_collection_find(s, coll, &id) != MAST_OK)
        return -1;
    char path[256];
    snprintf(path, sizeof path, "%s.idx/c%lld.vix", db, (long long)id);
    mast_vindex *v;
    if (mast_vindex_open(path, &v, NULL) != MAST_OK)
        return -1;
    *type = mast_vindex_params_of(v)->type;
    *deleted = mast_vindex_deleted(v);
    int n = (int)mast_vindex_count(v);
    mast_vindex_free(v);
    return n;
}

static void put2(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", docs2, name);
    test_write_file(path, text);
}

static void test_hnsw_index_file_follows_the_store(void)
{
    mast_store *s;
    REQUIRE(mast_store_open(&s, db) == MAST_OK);
    REQUIRE(mast_collection_set_embedder(s, "h", bert, 0) == MAST_OK);
    put2("a.txt", "Zebras have black and white stripes.");
    put2("b.txt", "The moon orbits the earth every month.");
    put2("c.txt", "Photosynthesis turns light into sugar.");
    put2("d.txt", "Volcanoes erupt molten rock.");
    const char *paths[] = {docs2};
    mast_ingest_stats st;
    REQUIRE(mast_ingest(s, "h", paths, 1, NULL, NULL, &st) == MAST_OK);
    mast_retriever *r;
    REQUIRE(mast_retriever_create(&r) == MAST_OK);
    mast_retriever_set_hnsw_min(r, 1);   /* a graph even for four vectors */
    size_t n, deleted;
    mast_vindex_type type;
    CHECK_EQ_INT(search_texts(r, s, "h", "stripes", MAST_MODE_DENSE, NULL, "Zebras", &n), 1);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(vix_info(s, "h", &type, &deleted), 4);
    CHECK_EQ_INT(type, MAST_VINDEX_HNSW);
    /* replace: the old vector is deleted from the saved graph, the new one added */
    put2("a.txt", "Giraffes have long necks.");
    REQUIRE(mast_ingest(s, "h", paths, 1, NULL, NULL, &st) == MAST_OK);
    CHECK_EQ_INT(search_texts(r, s, "h", "stripes zebras", MAST_MODE_DENSE, NULL, "Zebras", &n), 0);
    CHECK_EQ_INT(search_texts(r, s, "h", "stripes zebras", MAST_MODE_HYBRID, NULL, "Zebras", &n), 0);
    CHECK_EQ_INT(search_texts(r, s, "h", "necks", MAST_MODE_DENSE, NULL, "Giraffes", &n), 1);
    CHECK_EQ_INT(vix_info(s, "h", &type, &deleted), 4);
    CHECK_EQ_INT(deleted, 1);
    /* another process opens the saved index */
    mast_retriever *r2;
    REQUIRE(mast_retriever_create(&r2) == MAST_OK);
    CHECK_EQ_INT(search_texts(r2, s, "h", "necks", MAST_MODE_DENSE, NULL, "Giraffes", &n), 1);
    CHECK_EQ_INT(n, 4);
    mast_retriever_free(r2);
    /* a damaged file is rebuilt from the database (with a warning) */
    int64_t id;
    REQUIRE(mast_store_collection_find(s, "h", &id) == MAST_OK);
    char path[256];
    snprintf(path, sizeof path, "%s.idx/c%lld.vix", db, (long long)id);
    test_write_file(path, "MASTVIX1 but not really an index");
    REQUIRE(mast_retriever_create(&r2) == MAST_OK);
    CHECK_EQ_INT(search_texts(r2, s, "h", "necks", MAST_MODE_DENSE, NULL, "Giraffes", &n), 1);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(vix_info(s, "h", &type, &deleted), 4);
    CHECK_EQ_INT(deleted, 0);
    mast_retriever_free(r2);
    mast_retriever_free(r);
    mast_store_close(s);
}

static void test_metadata_filters_every_mode(void)
{
    mast_store *s;
    REQUIRE(mast_store_open(&s, db) == MAST_OK);
    REQUIRE(mast_collection_set_embedder(s, "f", bert, 0) == MAST_OK);
    char path[256];
    snprintf(path, sizeof path, "%s/f.jsonl", docs2);
    test_write_file(path,
                    "{\"_id\": \"1\", \"text\": \"Rivers flow to the sea.\", \"metadata\": {\"lang\": \"en\", \"year\": 2020}}\n"
                    "{\"_id\": \"2\", \"text\": \"Rivers carry sediment.\", \"metadata\": {\"lang\": \"fr\", \"year\": 2021}}\n"
                    "{\"_id\": \"3\", \"text\": \"Rivers freeze in winter.\", \"metadata\": {\"lang\": \"en\", \"year\": 2021}}\n");
    const char *paths[] = {path};
    mast_ingest_stats st;
    REQUIRE(mast_ingest(s, "f", paths, 1, NULL, NULL, &st) == MAST_OK);
    mast_retriever *r;
    REQUIRE(mast_retriever_create(&r) == MAST_OK);
    mast_filter fr = {"lang", "fr"}, en = {"lang", "en"}, y = {"year", "2021"}, none = {"lang", "de"};
    mast_search_mode modes[] = {MAST_MODE_BM25, MAST_MODE_DENSE, MAST_MODE_HYBRID};
    size_t n;
    for (int m = 0; m < 3; m++) {
        CHECK_EQ_INT(search_texts(r, s, "f", "rivers", modes[m], NULL, "Rivers", &n), 3);
        CHECK_EQ_INT(search_texts(r, s, "f", "rivers", modes[m], &fr, "sediment", &n), 1);
        CHECK_EQ_INT(n, 1);
        CHECK_EQ_INT(search_texts(r, s, "f", "rivers", modes[m], &en, "sediment", &n), 0);
        CHECK_EQ_INT(n, 2);
        CHECK_EQ_INT(search_texts(r, s, "f", "rivers", modes[m], &y, "Rivers", &n), 2);   /* a number as text */
        CHECK_EQ_INT(search_texts(r, s, "f", "rivers", modes[m], &none, "Rivers", &n), 0);
        CHECK_EQ_INT(n, 0);
    }
    mast_filter parsed;
    char *owned;
    REQUIRE(mast_filter_parse("lang=fr", &parsed, &owned) == MAST_OK);
    CHECK_EQ_STR(parsed.key, "lang");
    CHECK_EQ_STR(parsed.value, "fr");
    free(owned);
    CHECK_EQ_INT(mast_filter_parse("lang", &parsed, &owned), MAST_ERR_INVALID);
    CHECK_EQ_INT(mast_filter_parse("=x", &parsed, &owned), MAST_ERR_INVALID);
    mast_retriever_free(r);
    mast_store_close(s);
}

/* expected fused score of chunk c from the BM25 list b and dense list d */
static double expect_fused(const mast_result *b, size_t nb, const mast_result *d, size_t nd,
                           int64_t c, const mast_fusion *f)
{
    const mast_result *lists[2] = {b, d};
    size_t ns[2] = {nb, nd};
    double w[2] = {1 - f->alpha, f->alpha}, total = 0;
    for (int l = 0; l < 2; l++) {
        double lo = INFINITY, hi = -INFINITY, mean = 0, sd = 0, mine = NAN;
        for (size_t i = 0; i < ns[l]; i++) {
            lo = fmin(lo, lists[l][i].score);
            hi = fmax(hi, lists[l][i].score);
            mean += lists[l][i].score / (double)ns[l];
        }
        for (size_t i = 0; i < ns[l]; i++)
            sd += (lists[l][i].score - mean) * (lists[l][i].score - mean) / (double)ns[l];
        sd = sqrt(sd);
        int rank = 0;
        for (size_t i = 0; i < ns[l]; i++)
            if (lists[l][i].chunk_id == c) {
                mine = lists[l][i].score;
                rank = lists[l][i].rank;
            }
        if (f->method == MAST_FUSION_RRF) {
            total += rank ? 1.0 / (f->rrf_k + rank) : 0;
            continue;
        }
        double x = isnan(mine) ? lo : mine;   /* absent: the list's floor */
        total += w[l] * (f->norm == MAST_NORM_ZSCORE ? (sd > 0 ? (x - mean) / sd : 0)
                                                     : (hi > lo ? (x - lo) / (hi - lo) : 1));
    }
    return total;
}

static void test_fusion_methods_match_their_formulas(void)
{
    mast_store *s;
    REQUIRE(mast_store_open(&s, db) == MAST_OK);
    mast_retriever *r;
    REQUIRE(mast_retriever_create(&r) == MAST_OK);
    const char *q = "moon orbits earth sugar";
    mast_result *bm, *dn;
    size_t nb, nd;
    REQUIRE(mast_search_with(r, s, "h", q, 100, &(mast_search_opts){.mode = MAST_MODE_BM25, .filter = NULL, .fusion = MAST_FUSION_DEFAULT, .title_weight = 1.0},
                             NULL, &bm, &nb) == MAST_OK);
    REQUIRE(mast_search_with(r, s, "h", q, 100, &(mast_search_opts){.mode = MAST_MODE_DENSE, .filter = NULL, .fusion = MAST_FUSION_DEFAULT, .title_weight = 1.0},
                             NULL, &dn, &nd) == MAST_OK);
    CHECK(nb >= 2 && nd == 4);
    mast_fusion cases[] = {{MAST_FUSION_CONVEX, 60, 0.3, MAST_NORM_MINMAX},
                           {MAST_FUSION_CONVEX, 60, 0.7, MAST_NORM_ZSCORE},
                           {MAST_FUSION_RRF, 10, 0.5, MAST_NORM_MINMAX},
                           {MAST_FUSION_CONVEX, 60, 0.0, MAST_NORM_MINMAX}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        mast_result *res;
        size_t n;
        REQUIRE(mast_search_with(r, s, "h", q, 100, &(mast_search_opts){.mode = MAST_MODE_HYBRID, .filter = NULL, .fusion = cases[c], .title_weight = 1.0},
                                 NULL, &res, &n) == MAST_OK);
        CHECK_EQ_INT(n, 4);
        for (size_t i = 0; i < n; i++) {
            CHECK_NEAR(res[i].score, expect_fused(bm, nb, dn, nd, res[i].chunk_id, &cases[c]), 1e-9);
            if (i)
                CHECK(res[i].score <= res[i - 1].score);
        }
        if (cases[c].alpha == 0)   /* BM25 alone: its best first */
            CHECK_EQ_INT(res[0].chunk_id, bm[0].chunk_id);
        mast_results_free(res, n);
    }
    mast_result *res;
    size_t n;
    mast_fusion bad = {MAST_FUSION_CONVEX, 60, 1.5, MAST_NORM_MINMAX};
    CHECK_EQ_INT(mast_search_with(r, s, "h", q, 10, &(mast_search_opts){.mode = MAST_MODE_HYBRID, .filter = NULL, .fusion = bad, .title_weight = 1.0},
                                  NULL, &res, &n), MAST_ERR_INVALID);
    mast_results_free(bm, nb);
    mast_results_free(dn, nd);
    mast_retriever_free(r);
    mast_store_close(s);
}

/* With an embedding model that has a tokenizer, chunk budgets are counted in
** its tokens: every chunk fits the model's budget exactly, where the word
** estimate would be off. */
static void test_chunk_budgets_count_the_models_tokens(void)
{
    mast_store *s;
    REQUIRE(mast_store_open(&s, db) == MAST_OK);
    REQUIRE(mast_collection_set_embedder(s, "tok", bert, 0) == MAST_OK);
    char dir[64];
    char *d = test_tmpdir();
    snprintf(dir, sizeof dir, "%s", d);
    free(d);
    /* long, rare words split into many word pieces: the estimate undercounts */
    mast_buf text = {0};
    for (int i = 0; i < 60; i++)
        mast_buf_printf(&text, "Pneumonoultramicroscopic xylophonists %d quizzically "
                        "juxtaposed. ", i);
    char path[128];
    snprintf(path, sizeof path, "%s/long.txt", dir);
    REQUIRE(test_write_file(path, text.data) == 0);
    mast_buf_free(&text);
    const char *paths[] = {dir};
    mast_ingest_opts o = {.chunk = {.chunk_tokens = 32}};
    mast_ingest_stats st;
    REQUIRE(mast_ingest(s, "tok", paths, 1, &o, NULL, &st) == MAST_OK);
    REQUIRE(st.chunks > 1);
    mast_embedder *e;
    REQUIRE(mast_embedder_open(&e, bert, 1) == MAST_OK);
    sqlite3_stmt *q;
    REQUIRE(sqlite3_prepare_v2(s->db, "SELECT k.text, k.n_tokens FROM chunks k JOIN documents d"
                                      " ON d.id = k.document_id JOIN collections c ON c.id ="
                                      " d.collection_id WHERE c.name = 'tok'", -1, &q, NULL) ==
            SQLITE_OK);
    int rows = 0, estimate_differs = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(q, 0);
        size_t n = 0;
        REQUIRE(mast_embedder_text_tokens(e, t, strlen(t), &n));
        CHECK(sqlite3_column_int(q, 1) <= 32);
        CHECK(n <= 32 + 2);   /* the units' sum; joining them may merge a piece or two */
        estimate_differs |= mast_estimate_tokens(NULL, t, strlen(t)) != (size_t)sqlite3_column_int(q, 1);
        rows++;
    }
    sqlite3_finalize(q);
    CHECK(rows == (int)st.chunks);
    CHECK(estimate_differs);
    mast_embedder_free(e);
    mast_store_close(s);
}

int main(void)
{
    char *d = test_tmpdir();
    snprintf(docs, sizeof docs, "%s", d);
    free(d);
    d = test_tmpdir();
    snprintf(docs2, sizeof docs2, "%s", d);
    free(d);
    d = test_tmpdir();
    snprintf(db, sizeof db, "%s/m.db", d);
    snprintf(model2, sizeof model2, "%s/bert64.gguf", d);
    free(d);
    snprintf(bert, sizeof bert, "%s/models/tiny-bert-random.gguf", test_shared_data());
    /* a second model: a synthetic BERT with 64 dimensions on the same vocabulary */
    char vocab[512];
    snprintf(vocab, sizeof vocab, "%s/vocab/ggml-vocab-bert-bge.gguf", test_shared_data());
    mast_synth_opts o = {.arch = "bert", .n_embd = 64, .n_layer = 1, .n_head = 2,
                         .type = MAST_F32, .vocab_path = vocab};
    if (mast_synth_write(&o, model2) != MAST_OK)
        return 1;
    RUN(test_vectors_follow_replace_and_prune);
    RUN(test_a_collection_without_model_refuses_dense);
    RUN(test_changing_the_model_needs_reembed_and_reembeds);
    RUN(test_hnsw_index_file_follows_the_store);
    RUN(test_metadata_filters_every_mode);
    RUN(test_fusion_methods_match_their_formulas);
    RUN(test_chunk_budgets_count_the_models_tokens);
    return test_summary();
}
