/*
** deploy/capi.c — the public C API of include/mast.h over the modules that
** do the work: the store, ingest, retrieval and the RAG pipeline. It owns the
** conversions: option structs (checked by their version field) to the
** modules' options, and the modules' results to the public structs, which are
** allocated by the library and read through accessors.
*/
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "data/collection.h"
#include "data/ingest/ingest.h"
#include "data/retrieve.h"
#include "data/store.h"
#include "data/textindex/analyzer.h"
#include "deploy/rag.h"
#include "mast.h"

static mast_status check_version(unsigned got, unsigned known, const char *what)
{
    if (got == 0 || got > known)
        return mast_fail(MAST_ERR_INVALID, "%s: version %u is not one this library knows (1..%u): "
                         "start from its _INIT macro", what, got, known);
    return MAST_OK;
}

/* ---- collections ---- */

mast_status mast_collection_create(mast_store *store, const char *name,
                                   const mast_collection_options *opts)
{
    static const mast_collection_options none = MAST_COLLECTION_OPTIONS_INIT;
    const mast_collection_options *o = opts ? opts : &none;
    MAST_TRY(check_version(o->version, MAST_COLLECTION_OPTIONS_VERSION, "mast_collection_options"));
    if (!name)
        return mast_fail(MAST_ERR_INVALID, "a collection needs a name");
    if (o->embed_model && o->dim)
        return mast_fail(MAST_ERR_INVALID, "give an embedding model (mast embeds the text) or a "
                         "dimension (documents bring their vectors), not both");
    if (o->metric && !o->dim)
        return mast_fail(MAST_ERR_INVALID, "a metric goes with a dimension (the documents' own "
                         "vectors)");
    if (o->language) {   /* refused before anything is created */
        mast_analyzer *a;
        MAST_TRY(mast_analyzer_open(&a, o->language));
        mast_analyzer_free(a);
    }
    int64_t id;
    int existed = mast_store_collection_find(store, name, &id) == MAST_OK;
    mast_status st = mast_store_collection_ensure(store, name, &id);
    if (st == MAST_OK && o->language)
        st = mast_collection_set_language(store, name, o->language);
    if (st == MAST_OK && o->dim)
        st = mast_collection_set_vectors(store, name, o->dim, o->metric);
    if (st == MAST_OK && o->embed_model)
        st = mast_collection_set_embedder(store, name, o->embed_model, 0);
    if (st != MAST_OK && !existed) {   /* a half-made collection is not left behind */
        char *msg = strdup(mast_errmsg());
        if (mast_store_collection_find(store, name, &id) == MAST_OK)
            mast_store_collection_delete(store, id);
        mast_fail(st, "%s", msg ? msg : "");
        free(msg);
    }
    return st;
}

struct mast_collection_list {
    mast_collection *items;
    size_t n;
    mast_collection_info *infos;   /* the strings the items point into */
    char **owned;                  /* model, language per item */
};

mast_status mast_collection_list_get(mast_store *store, mast_collection_list **out)
{
    *out = NULL;
    mast_collection_list *l = calloc(1, sizeof *l);
    if (!l)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_status st = mast_store_collection_list(store, &l->infos, &l->n);
    if (st == MAST_OK && (!(l->items = calloc(l->n ? l->n : 1, sizeof *l->items)) ||
                          !(l->owned = calloc(2 * (l->n ? l->n : 1), sizeof *l->owned))))
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == MAST_OK && i < l->n; i++) {
        const mast_collection_info *c = &l->infos[i];
        mast_collection *x = &l->items[i];
        mast_metric metric;
        *x = (mast_collection){.name = c->name, .n_documents = c->n_documents,
                               .n_chunks = c->n_chunks, .data_version = c->data_version,
                               .created_at = c->created_at};
        st = mast_collection_embed_model(store, c->id, &l->owned[2 * i]);
        if (st == MAST_OK)
            st = mast_collection_language(store, c->id, &l->owned[2 * i + 1]);
        if (st == MAST_OK)
            st = mast_collection_vectors(store, c->id, &x->vector_dim, &metric);
        x->embed_model = l->owned[2 * i];
        x->language = l->owned[2 * i + 1] ? l->owned[2 * i + 1] : "english";
        x->metric = x->vector_dim ? mast_metric_name(metric) : NULL;
    }
    if (st != MAST_OK) {
        mast_collection_list_free(l);
        return st;
    }
    *out = l;
    return MAST_OK;
}

size_t mast_collection_list_count(const mast_collection_list *l) { return l ? l->n : 0; }

const mast_collection *mast_collection_list_at(const mast_collection_list *l, size_t i)
{
    return l && i < l->n ? &l->items[i] : NULL;
}

void mast_collection_list_free(mast_collection_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; l->owned && i < 2 * l->n; i++)
        free(l->owned[i]);
    free(l->owned);
    mast_collection_infos_free(l->infos, l->n);
    free(l->items);
    free(l);
}

/* ---- documents ---- */

mast_status mast_documents_upsert(mast_store *store, const char *collection,
                                  const mast_document_input *docs, size_t n,
                                  mast_upsert_result *results)
{
    int64_t cid;
    MAST_TRY(mast_store_collection_find(store, collection, &cid));
    mast_embedder *embedder = NULL;
    MAST_TRY(mast_collection_open_embedder(store, cid, &embedder));
    mast_status first = MAST_OK;
    for (size_t i = 0; i < n; i++) {
        const mast_document_input *d = &docs[i];
        mast_doc_input in = {d->id, d->title, d->text, d->metadata, d->vector, d->vector_dim};
        mast_put_result put = MAST_PUT_UNCHANGED;
        int64_t doc_id = 0;
        size_t n_chunks = 0;
        mast_status st = check_version(d->version, MAST_DOCUMENT_INPUT_VERSION,
                                       "mast_document_input");
        if (st == MAST_OK)
            st = mast_document_put(store, cid, embedder, NULL, &in, &put, &doc_id, &n_chunks);
        if (st != MAST_OK && first == MAST_OK)
            first = st;
        if (results) {
            mast_upsert_result *r = &results[i];
            memset(r, 0, sizeof *r);
            r->error = st;
            r->doc_id = doc_id;
            r->n_chunks = put == MAST_PUT_UNCHANGED ? 0 : n_chunks;
            r->status = st != MAST_OK              ? MAST_UPSERT_FAILED
                        : put == MAST_PUT_CREATED  ? MAST_UPSERT_CREATED
                        : put == MAST_PUT_UPDATED  ? MAST_UPSERT_UPDATED
                                                   : MAST_UPSERT_UNCHANGED;
            if (st != MAST_OK)
                snprintf(r->message, sizeof r->message, "%s", mast_errmsg());
        }
    }
    mast_embedder_free(embedder);
    if (first != MAST_OK)
        mast_fail(first, "%s", results ? results[0].message : mast_errmsg());
    return first;
}

struct mast_document_list {
    mast_document *items;
    mast_doc_info *infos;
    size_t n;
    int64_t total;
    mast_chunk_info *chunks;   /* mast_document_get only */
    mast_stored_chunk *chunk_items;
    size_t n_chunks;
};

static mast_status make_list(mast_doc_info *infos, size_t n, int64_t total,
                             mast_document_list **out)
{
    mast_document_list *l = calloc(1, sizeof *l);
    if (!l || !(l->items = calloc(n ? n : 1, sizeof *l->items))) {
        free(l);
        mast_doc_infos_free(infos, n);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    l->infos = infos;
    l->n = n;
    l->total = total;
    for (size_t i = 0; i < n; i++) {
        const mast_doc_info *d = &infos[i];
        l->items[i] = (mast_document){d->id, d->uri, d->title, d->source, d->metadata,
                                      d->content_hash, d->n_chunks, d->n_tokens, d->n_vectors,
                                      d->created_at, d->updated_at};
    }
    *out = l;
    return MAST_OK;
}

mast_status mast_document_list_get(mast_store *store, const char *collection,
                                   const mast_list_options *opts, mast_document_list **out)
{
    static const mast_list_options none = MAST_LIST_OPTIONS_INIT;
    const mast_list_options *o = opts ? opts : &none;
    *out = NULL;
    MAST_TRY(check_version(o->version, MAST_LIST_OPTIONS_VERSION, "mast_list_options"));
    if (o->limit < 0 || o->offset < 0)
        return mast_fail(MAST_ERR_INVALID, "limit and offset must not be negative");
    int64_t cid;
    MAST_TRY(mast_store_collection_find(store, collection, &cid));
    mast_filter f = {NULL, NULL};
    char *owned = NULL;
    if (o->filter)
        MAST_TRY(mast_filter_parse(o->filter, &f, &owned));
    mast_doc_query q = {o->limit, o->offset, f.key, f.value};
    mast_doc_info *infos;
    size_t n;
    int64_t total;
    mast_status st = mast_store_doc_list(store, cid, &q, &infos, &n, &total);
    free(owned);
    return st == MAST_OK ? make_list(infos, n, total, out) : st;
}

mast_status mast_document_get(mast_store *store, const char *collection, const char *id,
                              mast_document_list **out)
{
    *out = NULL;
    int64_t cid;
    MAST_TRY(mast_store_collection_find(store, collection, &cid));
    mast_doc_info *d = calloc(1, sizeof *d);
    if (!d)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_status st = mast_store_doc_get(store, cid, id ? id : "", 0, d);
    if (st != MAST_OK) {
        free(d);
        return st;
    }
    mast_chunk_info *chunks = NULL;
    size_t n_chunks = 0;
    if ((st = mast_store_doc_chunks(store, d->id, &chunks, &n_chunks)) != MAST_OK) {
        mast_doc_infos_free(d, 1);
        return st;
    }
    if ((st = make_list(d, 1, 1, out)) != MAST_OK) {
        mast_chunk_infos_free(chunks, n_chunks);
        return st;
    }
    mast_stored_chunk *items = calloc(n_chunks ? n_chunks : 1, sizeof *items);
    if (!items) {
        mast_chunk_infos_free(chunks, n_chunks);
        mast_document_list_free(*out);
        *out = NULL;
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    for (size_t j = 0; j < n_chunks; j++)
        items[j] = (mast_stored_chunk){chunks[j].id, chunks[j].ordinal, chunks[j].n_tokens,
                                       chunks[j].heading, chunks[j].text, chunks[j].page_start,
                                       chunks[j].page_end};
    (*out)->chunks = chunks;
    (*out)->chunk_items = items;
    (*out)->n_chunks = n_chunks;
    return MAST_OK;
}

size_t mast_document_list_count(const mast_document_list *l) { return l ? l->n : 0; }
int64_t mast_document_list_total(const mast_document_list *l) { return l ? l->total : 0; }

const mast_document *mast_document_list_at(const mast_document_list *l, size_t i)
{
    return l && i < l->n ? &l->items[i] : NULL;
}

size_t mast_document_chunk_count(const mast_document_list *l) { return l ? l->n_chunks : 0; }

const char *mast_document_chunk(const mast_document_list *l, size_t j)
{
    return l && j < l->n_chunks ? l->chunks[j].text : NULL;
}

const mast_stored_chunk *mast_document_chunk_at(const mast_document_list *l, size_t j)
{
    return l && j < l->n_chunks ? &l->chunk_items[j] : NULL;
}

void mast_document_list_free(mast_document_list *l)
{
    if (!l)
        return;
    mast_doc_infos_free(l->infos, l->n);
    mast_chunk_infos_free(l->chunks, l->n_chunks);
    free(l->chunk_items);
    free(l->items);
    free(l);
}

mast_status mast_document_delete(mast_store *store, const char *collection, const char *id)
{
    int64_t cid;
    MAST_TRY(mast_store_collection_find(store, collection, &cid));
    mast_doc_info d;
    MAST_TRY(mast_store_doc_get(store, cid, id ? id : "", 0, &d));
    mast_status st = mast_store_doc_delete(store, cid, d.id);
    mast_doc_info_free(&d);
    return st;
}

/* ---- ingest ---- */

mast_status mast_ingest_paths(mast_store *store, const char *collection,
                              const char *const *paths, size_t n_paths,
                              const mast_ingest_options *opts, mast_ingest_summary *summary)
{
    static const mast_ingest_options none = MAST_INGEST_OPTIONS_INIT;
    const mast_ingest_options *o = opts ? opts : &none;
    MAST_TRY(check_version(o->version, MAST_INGEST_OPTIONS_VERSION, "mast_ingest_options"));
    if (o->chunk_tokens < 0 || o->overlap_tokens < 0 ||
        (o->overlap_tokens && o->overlap_tokens >= (o->chunk_tokens ? o->chunk_tokens : 256)))
        return mast_fail(MAST_ERR_INVALID, "chunk_tokens must be positive and overlap_tokens "
                         "smaller (got %d and %d)", o->chunk_tokens, o->overlap_tokens);
    mast_ingest_opts io = {.chunk = {o->chunk_tokens, o->overlap_tokens, NULL, NULL},
                           .prune = o->prune, .force = o->force, .id_field = o->id_field,
                           .title_field = o->title_field, .text_field = o->text_field,
                           .vector_field = o->vector_field};
    mast_ingest_stats s;
    mast_status st = mast_ingest(store, collection, paths, n_paths, &io, NULL, &s);
    int64_t cid;
    if (st == MAST_OK && s.docs_ingested + s.docs_pruned > 0 &&
        mast_store_collection_find(store, collection, &cid) == MAST_OK)
        st = mast_index_sync(store, cid, NULL);
    if (summary)
        *summary = (mast_ingest_summary){s.files_seen, s.files_ingested, s.files_unchanged,
                                         s.files_skipped, s.files_failed, s.docs_ingested,
                                         s.docs_unchanged, s.docs_skipped, s.docs_failed,
                                         s.docs_pruned, s.chunks, s.seconds};
    return st;
}

/* ---- search ---- */

static mast_status parse_enum(const char *text, int (*parse)(const char *), const char *what,
                              const char *allowed, int dflt, int *out)
{
    *out = dflt;
    if (!text)
        return MAST_OK;
    if ((*out = parse(text)) < 0)
        return mast_fail(MAST_ERR_INVALID, "%s must be %s (got '%s')", what, allowed, text);
    return MAST_OK;
}

mast_status mast_search_collection(mast_retriever *r, mast_store *store, const char *collection,
                                   const char *query, const mast_search_options *opts,
                                   mast_result **results, size_t *n)
{
    static const mast_search_options none = MAST_SEARCH_OPTIONS_INIT;
    const mast_search_options *o = opts ? opts : &none;
    *results = NULL;
    *n = 0;
    MAST_TRY(check_version(o->version, MAST_SEARCH_OPTIONS_VERSION, "mast_search_options"));
    int mode, method, norm;
    MAST_TRY(parse_enum(o->mode, mast_search_mode_parse, "mode", "bm25, dense, hybrid or auto",
                        MAST_MODE_AUTO, &mode));
    MAST_TRY(parse_enum(o->fusion, mast_fusion_method_parse, "fusion", "rrf or convex",
                        MAST_FUSION_RRF, &method));
    MAST_TRY(parse_enum(o->normalize, mast_fusion_norm_parse, "normalize", "minmax or zscore",
                        MAST_NORM_MINMAX, &norm));
    if (!query && !o->vector)
        return mast_fail(MAST_ERR_INVALID, "give a query text or a query vector, or both");
    mast_filter f = {NULL, NULL};
    char *owned = NULL;
    if (o->filter)
        MAST_TRY(mast_filter_parse(o->filter, &f, &owned));
    mast_search_opts so = {
        .mode = (mast_search_mode)mode,
        .filter = &f,
        .fusion = {(mast_fusion_method)method, o->rrf_k, o->alpha, (mast_fusion_norm)norm},
        .title_weight = o->title_weight,
        .query_vector = o->vector,
        .query_vector_dim = o->vector_dim,
        .expand = o->version >= 2 ? o->expand : 0,   /* version 1 structs end before it */
    };
    mast_status st = mast_search_with(r, store, collection, query, o->k, &so, NULL, results, n);
    free(owned);
    return st;
}

/* ---- ask ---- */

struct mast_ask_result {
    mast_answer answer;
};

mast_status mast_ask_collection(mast_retriever *r, mast_store *store, const char *collection,
                                const char *question, size_t k, mast_ask_result **out)
{
    *out = NULL;
    mast_ask_result *a = calloc(1, sizeof *a);
    if (!a)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_status st = mast_ask(r, store, collection, question, k ? k : MAST_ASK_DEFAULT_K, NULL,
                              &a->answer);
    if (st != MAST_OK) {
        free(a);
        return st;
    }
    *out = a;
    return MAST_OK;
}

const char *mast_ask_result_answer(const mast_ask_result *a) { return a ? a->answer.answer : NULL; }
const char *mast_ask_result_note(const mast_ask_result *a) { return a ? a->answer.note : NULL; }
size_t mast_ask_result_source_count(const mast_ask_result *a) { return a ? a->answer.n_sources : 0; }

const mast_result *mast_ask_result_source(const mast_ask_result *a, size_t n)
{
    return a && n >= 1 && n <= a->answer.n_sources ? &a->answer.sources[n - 1] : NULL;
}

void mast_ask_result_free(mast_ask_result *a)
{
    if (!a)
        return;
    mast_answer_free(&a->answer);
    free(a);
}
