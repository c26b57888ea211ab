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
** chunk vectors stored by ingest form the dense index (data/vindex): exact
** below MAST_HNSW_MIN vectors, HNSW from there on. It is kept in a file next
** to the database ("<db>-c<collection id>.vix") and brought up to date with
** the store's vectors (new ones added, vanished ones deleted) whenever the
** data version changes, so a new process opens it instead of rebuilding;
** a damaged file is rebuilt with a warning. Queries are embedded with the
** collection's model.
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
#define MAST_HNSW_MIN 10000   /* vectors from which the dense index is a graph */

/* A metadata filter: only documents whose metadata has key = value (compared
** as text). A NULL filter, or a NULL key, keeps everything. */
typedef struct mast_filter {
    const char *key, *value;
} mast_filter;

/* Parses "key=value"; *owned holds the strings (free it after use). */
mast_status mast_filter_parse(const char *text, mast_filter *out, char **owned);


typedef enum mast_search_mode {
    MAST_MODE_AUTO,     /* hybrid when the collection has an embedding model, else bm25 */
    MAST_MODE_BM25,
    MAST_MODE_DENSE,    /* cosine search over the chunk vectors (exact, or HNSW when large) */
    MAST_MODE_HYBRID,   /* bm25 and dense fused by reciprocal rank (k = 60) */
} mast_search_mode;

/* The file of a collection's vector index, "<database>.idx/c<id>.vix" (malloc'ed),
** or NULL for a database without a file. */
char *mast_retrieve_vindex_path(mast_store *store, int64_t collection_id);

/* The file of a collection's BM25 index, "<database>.idx/c<id>.tix" (the
** manifest; segments are "<that>-<n>"), or NULL for a database without a file. */
char *mast_retrieve_tindex_path(mast_store *store, int64_t collection_id);

/* Brings the collection's index files (BM25, and vectors when it has a
** model) up to date now instead of at its next search: ingest calls it,
** `mast index rebuild` after deleting the files. */
mast_status mast_index_sync(mast_store *store, int64_t collection_id, mast_trace *trace);

/* mast_index_sync, then merges the BM25 index into one segment without
** deleted chunks (`mast index optimize`). */
mast_status mast_index_optimize(mast_store *store, int64_t collection_id, mast_trace *trace);

/* The saved BM25 index's figures (MAST_ERR_NOT_FOUND when there is none). */
mast_status mast_index_text_info(mast_store *store, int64_t collection_id, mast_bm25_info *info,
                                 uint64_t *data_version);

/* Vectors from which a collection's dense index is HNSW (default
** MAST_HNSW_MIN); takes effect when an index is next built. */
void mast_retriever_set_hnsw_min(mast_retriever *r, size_t n);

/* "bm25" / "dense" / "hybrid" / "auto" -> mode; -1 for anything else. */
int mast_search_mode_parse(const char *name);
const char *mast_search_mode_name(mast_search_mode mode);

/* How hybrid search fuses the BM25 and dense lists (each the top 100, or
** deeper when more results are asked for):
**   rrf:    score = sum over the lists of 1 / (rrf_k + rank)
**   convex: score = alpha * dense' + (1 - alpha) * bm25', where ' is the
**           score normalized within its list (min-max: (s - min) / (max - min),
**           1 when all are equal; z-score: (s - mean) / stddev, 0 when all are
**           equal); a chunk absent from a list takes that list's lowest
**           normalized score (0 or -1 when every score of the list is equal, so
**           that it ranks below them). alpha = 1 is dense alone, 0 BM25 alone. */
typedef enum { MAST_FUSION_RRF, MAST_FUSION_CONVEX } mast_fusion_method;
typedef enum { MAST_NORM_MINMAX, MAST_NORM_ZSCORE } mast_fusion_norm;

typedef struct mast_fusion {
    mast_fusion_method method;
    double rrf_k;              /* > 0; 0 = MAST_RRF_K */
    double alpha;              /* 0..1 */
    mast_fusion_norm norm;
} mast_fusion;

#define MAST_FUSION_DEFAULT ((mast_fusion){MAST_FUSION_RRF, MAST_RRF_K, 0.5, MAST_NORM_MINMAX})

/* "rrf" / "convex" and "minmax" / "zscore"; -1 for anything else */
int mast_fusion_method_parse(const char *name);
int mast_fusion_norm_parse(const char *name);
const char *mast_fusion_method_name(mast_fusion_method m);

/* Everything a search may set besides the query and k. */
typedef struct mast_search_opts {
    mast_search_mode mode;
    const mast_filter *filter;  /* NULL: every document */
    mast_fusion fusion;
    double title_weight;        /* BM25 weight of title and headings vs body, 0..1000;
                                   0 = MAST_BM25_TITLE_WEIGHT */
    int exhaustive;             /* BM25 scores every posting (no pruning; same results) */
    mast_bm25_stats *bm25_stats;/* NULL, or postings counts are added here */
    const float *query_vector;  /* the dense query as a vector (instead of embedding the
                                   text): the collection's dimension; NULL = none */
    size_t query_vector_dim;
    int expand;                 /* mast_search_with: each result's context, small-to-big:
                                   N chunks either side (1..MAST_EXPAND_MAX), or
                                   MAST_EXPAND_SECTION; 0 = none */
} mast_search_opts;

#define MAST_EXPAND_MAX 10
#define MAST_SEARCH_OPTS_DEFAULT \
    ((mast_search_opts){MAST_MODE_AUTO, NULL, MAST_FUSION_DEFAULT, 0, 0, NULL, NULL, 0, 0})

/* The top k chunks of a collection for a query. With group_by_doc, at most
** one hit (the best chunk) per document, so k distinct documents. The caller
** frees *hits. */
mast_status mast_retrieve(mast_retriever *r, mast_store *store, int64_t collection_id,
                          const char *query, size_t k, int group_by_doc, mast_trace *trace,
                          mast_hit **hits, size_t *n_hits);

/* mast_retrieve with options (NULL: MAST_SEARCH_OPTS_DEFAULT). MAST_ERR_INVALID
** with a message when dense or hybrid is asked of a collection without an
** embedding model, or for fusion parameters out of range. */
mast_status mast_retrieve_with(mast_retriever *r, mast_store *store, int64_t collection_id,
                               const char *query, size_t k, const mast_search_opts *opts,
                               int group_by_doc, mast_trace *trace, mast_hit **hits,
                               size_t *n_hits);

/* mast_search with options (NULL: MAST_SEARCH_OPTS_DEFAULT). */
mast_status mast_search_with(mast_retriever *r, mast_store *store, const char *collection,
                             const char *query, size_t k, const mast_search_opts *opts,
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
