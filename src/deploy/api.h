/*
** deploy/api.h — the data API's JSON: one reading of requests and one
** writing of results, shared by the HTTP routes (server/data_api.c) and the
** CLI's --json output, so that both say the same thing in the same shape.
**
** Readers are strict: a member that is not one of the request's fields is
** refused (400 over HTTP) with its name, and every value is type-checked,
** with the field's name in the message.
*/
#ifndef MAST_DEPLOY_API_H
#define MAST_DEPLOY_API_H

#include <jansson.h>

#include "data/ingest/ingest.h"
#include "data/retrieve.h"
#include "deploy/rag.h"

/* ---- writing ---- */

/* [{rank, score, chunk_id, doc_id, uri, title, heading, text}] */
json_t *mast_api_results(const mast_result *results, size_t n);
/* {answer, citations: [result + "n"], extractive, note} */
json_t *mast_api_answer(const mast_answer *answer);
/* {id, doc_id, source, title, metadata (object), content_hash, chunks, tokens,
** vectors, created_at, updated_at} and, when with_chunks (a fetched document,
** mast_document_get) is given, "chunk_list": [{id, ordinal, tokens, heading, text}]. */
json_t *mast_api_document(const mast_document *doc, const mast_document_list *with_chunks);
/* {object: "list", data: [document], total, limit, offset} */
json_t *mast_api_document_list(const mast_document_list *list, int64_t limit, int64_t offset);
/* {name, documents, chunks, created_at, data_version, embed_model, language,
** vectors: {dim, metric} | null} */
json_t *mast_api_collection(const mast_collection *c);
/* Every collection as an array of mast_api_collection objects; or, with
** `only`, that collection's object with "index" (mast_api_index) added
** (MAST_ERR_NOT_FOUND, or MAST_ERR_INVALID for a bad name, when there is none). */
mast_status mast_api_collections(mast_store *store, const char *only, json_t **out);
/* A collection's index files: {"text": {file, segments, chunks, deleted,
** postings, bytes, data_version} | null, "vectors": {file, type, metric, dim,
** vectors, deleted, memory_bytes, data_version} | null}. */
json_t *mast_api_index(mast_store *store, int64_t collection_id);

/* ---- reading ---- */

/* A JSON array of finite numbers as floats (malloc'ed), at most
** MAST_MAX_VECTOR_DIM; `what` names the field in errors. */
mast_status mast_api_vector(const json_t *v, const char *what, float **out, size_t *dim);

/* A search request: {"query"?, "vector"?, "k", "mode", "fusion", "alpha",
** "normalize", "rrf_k", "title_weight", "filter"} (query or vector, or both).
** The strings point into `body`, which must outlive it. */
typedef struct mast_api_search {
    const char *query;        /* NULL when only a vector is given */
    size_t k;
    mast_search_opts opts;    /* opts.filter points at .filter */
    mast_filter filter;
    float *vector;            /* owned */
    size_t vector_dim;
    char *owned;              /* the filter's strings, when given as "key=value" */
    char number[64];
} mast_api_search;

mast_status mast_api_search_parse(const json_t *body, mast_api_search *out);
void mast_api_search_free(mast_api_search *s);

/* One document of an upsert: {"id", "text", "title"?, "metadata"?, "vector"?};
** strings point into `obj`. *vector is owned by the caller (free). */
mast_status mast_api_document_parse(const json_t *obj, mast_doc_input *out, char **metadata,
                                    float **vector);

#endif
