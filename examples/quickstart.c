/*
** examples/quickstart.c — mast embedded in a program, through include/mast.h
** alone: a store, a collection, documents (with a replacement and a listing),
** a search and an extractive answer, and a collection of the caller's own
** vectors searched by vector.
**
**   cc quickstart.c -I include -L build -lmast $(pkg-config ...)   (CMake builds it as
**   build/examples/quickstart; it writes its store in a temporary folder)
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mast.h>

static int fail(const char *what, mast_status st)
{
    fprintf(stderr, "quickstart: %s: %s (%s)\n", what, mast_errmsg(), mast_strerror(st));
    return 1;
}

#define TRY(what, call) do { mast_status st_ = (call); if (st_ != MAST_OK) return fail(what, st_); } while (0)

int main(void)
{
    char dir[] = "/tmp/mast-quickstart-XXXXXX", path[64];
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/notes.db", dir);
    printf("mast %s (header %s)\n", mast_version(), MAST_VERSION_STRING);

    mast_store *db;
    TRY("open", mast_store_open(&db, path));
    TRY("create", mast_collection_create(db, "notes", NULL));

    mast_document_input docs[] = {
        {MAST_DOCUMENT_INPUT_VERSION, .id = "zebra", .title = "Zebras",
         .text = "Zebras are striped horses. They live in the grasslands of Africa.",
         .metadata = "{\"kind\": \"animal\"}"},
        {MAST_DOCUMENT_INPUT_VERSION, .id = "tide", .title = "Tides",
         .text = "The moon's pull raises the tides twice a day."},
    };
    mast_upsert_result res[2];
    TRY("upsert", mast_documents_upsert(db, "notes", docs, 2, res));
    printf("upserted: %s, %s\n", res[0].status == MAST_UPSERT_CREATED ? "created" : "?",
           res[1].status == MAST_UPSERT_CREATED ? "created" : "?");
    docs[1].text = "Tides rise and fall as the moon pulls the oceans.";
    TRY("replace", mast_documents_upsert(db, "notes", &docs[1], 1, res));
    printf("replaced tide: %s\n", res[0].status == MAST_UPSERT_UPDATED ? "updated" : "?");

    mast_document_list *list;
    mast_list_options lo = MAST_LIST_OPTIONS_INIT;
    lo.filter = "kind=animal";
    TRY("list", mast_document_list_get(db, "notes", &lo, &list));
    printf("animals: %zu of %lld: %s\n", mast_document_list_count(list),
           (long long)mast_document_list_total(list), mast_document_list_at(list, 0)->id);
    mast_document_list_free(list);

    mast_retriever *r;
    TRY("retriever", mast_retriever_create(&r));
    mast_result *hits;
    size_t n;
    mast_search_options so = MAST_SEARCH_OPTIONS_INIT;
    so.k = 1;
    TRY("search", mast_search_collection(r, db, "notes", "where do zebras live", &so, &hits, &n));
    printf("search: %zu hit, %s\n", n, n ? hits[0].uri : "-");
    int ok = n == 1 && strcmp(hits[0].uri, "zebra") == 0;
    mast_results_free(hits, n);

    mast_ask_result *a;
    TRY("ask", mast_ask_collection(r, db, "notes", "What pulls the tides?", 0, &a));
    printf("ask: %s\n", mast_ask_result_answer(a));
    ok &= strstr(mast_ask_result_answer(a), "moon pulls the oceans. [1]") != NULL;
    ok &= strcmp(mast_ask_result_source(a, 1)->uri, "tide") == 0;
    mast_ask_result_free(a);

    /* the caller's own vectors */
    mast_collection_options co = MAST_COLLECTION_OPTIONS_INIT;
    co.dim = 3;
    TRY("create vecs", mast_collection_create(db, "vecs", &co));
    float red[3] = {1, 0, 0}, green[3] = {0, 1, 0}, query[3] = {0.2f, 0.9f, 0};
    mast_document_input v[] = {
        {MAST_DOCUMENT_INPUT_VERSION, .id = "red", .text = "a red apple", .vector = red, .vector_dim = 3},
        {MAST_DOCUMENT_INPUT_VERSION, .id = "green", .text = "a green pear", .vector = green, .vector_dim = 3},
    };
    TRY("upsert vecs", mast_documents_upsert(db, "vecs", v, 2, NULL));
    so = (mast_search_options)MAST_SEARCH_OPTIONS_INIT;
    so.vector = query;
    so.vector_dim = 3;
    TRY("vector search", mast_search_collection(r, db, "vecs", NULL, &so, &hits, &n));
    printf("vector search: %s first\n", n ? hits[0].uri : "-");
    ok &= n == 2 && strcmp(hits[0].uri, "green") == 0;
    mast_results_free(hits, n);

    /* errors come back as a status and a message */
    mast_status st = mast_collection_create(db, "bad name/x", NULL);
    printf("bad name: %s: %s\n", mast_strerror(st), mast_errmsg());
    ok &= st == MAST_ERR_INVALID;

    mast_collection_list *cl;
    TRY("collections", mast_collection_list_get(db, &cl));
    for (size_t i = 0; i < mast_collection_list_count(cl); i++) {
        const mast_collection *c = mast_collection_list_at(cl, i);
        printf("collection %s: %lld documents, %d-dimensional own vectors\n", c->name,
               (long long)c->n_documents, c->vector_dim);
    }
    mast_collection_list_free(cl);
    TRY("delete", mast_collection_delete(r, db, "vecs"));
    mast_retriever_free(r);
    mast_store_close(db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    printf("%s\n", ok ? "quickstart: ok" : "quickstart: FAILED");
    return ok ? 0 : 1;
}
