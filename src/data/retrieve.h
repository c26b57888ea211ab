/*
** data/retrieve.h — retrieval over a collection: the shared index cache and
** search.
**
** A mast_retriever caches each collection's derived BM25 index, tagged with
** the collection's data_version; a search first compares the version with the
** store and rebuilds the index when it is stale, so writes by this or any
** other process are always seen and a replaced or pruned chunk is never
** returned. The retriever is thread-safe: indexes are reference-counted, so a
** rebuild never frees an index a concurrent search still reads.
**
** Each chunk is indexed as its document title, heading path and text.
*/
#ifndef MAST_DATA_RETRIEVE_H
#define MAST_DATA_RETRIEVE_H

#include <jansson.h>

#include "data/store.h"
#include "data/textindex/bm25.h"
#include "observe/trace.h"

#define MAST_DEFAULT_K 10
#define MAST_MAX_K 1000

/* The top k chunks of a collection for a query. With group_by_doc, at most
** one hit (the best chunk) per document, so k distinct documents. The caller
** frees *hits. */
mast_status mast_retrieve(mast_retriever *r, mast_store *store, int64_t collection_id,
                          const char *query, size_t k, int group_by_doc, mast_trace *trace,
                          mast_hit **hits, size_t *n_hits);

/* Search by collection name, returning full results (uri, title, heading,
** text) ranked from 1. Free with mast_results_free. Errors: unknown
** collection (MAST_ERR_NOT_FOUND), k out of 1..MAST_MAX_K (MAST_ERR_INVALID). */
mast_status mast_search(mast_retriever *r, mast_store *store, const char *collection,
                        const char *query, size_t k, mast_trace *trace, mast_result **results,
                        size_t *n_results);

/* A result as the JSON object of the CLI's --json and the HTTP API:
** {rank, score, chunk_id, doc_id, uri, title, heading, text}. Caller owns. */
json_t *mast_result_to_json(const mast_result *result);

#endif
