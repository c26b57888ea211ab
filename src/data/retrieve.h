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
** Each chunk is indexed as its document title, heading path and text. The
** chunk vectors stored by ingest form an exact (flat) dense index kept in
** sync the same way; queries are embedded with the collection's model.
*/
#ifndef MAST_DATA_RETRIEVE_H
#define MAST_DATA_RETRIEVE_H

#include <jansson.h>

#include "data/store.h"
#include "data/textindex/bm25.h"
#include "observe/trace.h"

#define MAST_DEFAULT_K 10
#define MAST_MAX_K 1000
#define MAST_RRF_K 60   /* reciprocal-rank fusion: score = sum of 1 / (60 + rank) */

typedef enum mast_search_mode {
    MAST_MODE_AUTO,     /* hybrid when the collection has an embedding model, else bm25 */
    MAST_MODE_BM25,
    MAST_MODE_DENSE,    /* exact (flat) cosine search over the chunk vectors */
    MAST_MODE_HYBRID,   /* bm25 and dense fused by reciprocal rank (k = 60) */
} mast_search_mode;

/* "bm25" / "dense" / "hybrid" / "auto" -> mode; -1 for anything else. */
int mast_search_mode_parse(const char *name);
const char *mast_search_mode_name(mast_search_mode mode);

/* The top k chunks of a collection for a query. With group_by_doc, at most
** one hit (the best chunk) per document, so k distinct documents. The caller
** frees *hits. */
mast_status mast_retrieve(mast_retriever *r, mast_store *store, int64_t collection_id,
                          const char *query, size_t k, int group_by_doc, mast_trace *trace,
                          mast_hit **hits, size_t *n_hits);

/* mast_retrieve with an explicit mode. MAST_ERR_INVALID with a message when
** dense or hybrid is asked of a collection without an embedding model. */
mast_status mast_retrieve_mode(mast_retriever *r, mast_store *store, int64_t collection_id,
                               const char *query, size_t k, mast_search_mode mode,
                               int group_by_doc, mast_trace *trace, mast_hit **hits,
                               size_t *n_hits);

/* mast_search with an explicit mode. */
mast_status mast_search_with(mast_retriever *r, mast_store *store, const char *collection,
                             const char *query, size_t k, mast_search_mode mode,
                             mast_trace *trace, mast_result **results, size_t *n_results);

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
