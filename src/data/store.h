/*
** data/store.h — the SQLite source of truth: collections, documents, chunks
** (and, in store_traces.c, traces and spans).
**
** One mast_store is one SQLite connection (WAL mode, foreign keys on, a busy
** timeout so that several processes can share the file). It is not
** thread-safe: use one store per thread. Every document write is one
** transaction that also bumps the collection's data_version, which derived
** indexes compare against to know they are stale.
*/
#ifndef MAST_DATA_STORE_H
#define MAST_DATA_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/hash.h"
#include "mast.h"

#define MAST_STORE_SCHEMA_VERSION 7
#define MAST_DEFAULT_DB "mast.db"
#define MAST_STORE_MINHASH_K 128      /* values of a document's signature */

/* struct mast_store is private to src/data/store*.c (store_impl.h): nothing
** else sees the SQLite connection, so that the store can have another engine
** behind this interface. */

/* The database path a command should use: `flag` (from --db) if given, else
** $MAST_DB, else "mast.db". Never NULL. */
const char *mast_store_default_path(const char *flag);

/* mast_store_open_existing (mast.h) opens a store for reading commands; this
** says whether it came out read-only. */
int mast_store_readonly(const mast_store *store);

mast_status mast_store_begin(mast_store *store);   /* BEGIN IMMEDIATE */
mast_status mast_store_commit(mast_store *store);
void mast_store_rollback(mast_store *store);
/* Begins a transaction unless one is open: *own says whether this call
** began it, and mast_store_end then commits it (st MAST_OK) or rolls it
** back, returning how that went; a call that did not begin it returns st. */
mast_status mast_store_begin_own(mast_store *store, bool *own);
mast_status mast_store_end(mast_store *store, bool own, mast_status st);

/* Formats the current SQLite error of the store into the thread message. */
mast_status mast_store_error(mast_store *store, const char *what);


/* ---- collections ---- */

typedef struct mast_collection_info {
    int64_t id;
    char *name;
    char *config;          /* JSON object */
    int64_t data_version;
    int64_t n_documents, n_chunks;
    int64_t created_at;    /* unix seconds */
} mast_collection_info;

/* Finds a collection by name. MAST_ERR_NOT_FOUND with "collection 'x' does
** not exist" when absent. */
mast_status mast_store_collection_find(mast_store *store, const char *name, int64_t *id);
/* Finds or creates a collection. Names are 1..64 chars of [A-Za-z0-9._-]. */
mast_status mast_store_collection_ensure(mast_store *store, const char *name, int64_t *id);
mast_status mast_store_collection_version(mast_store *store, int64_t id, int64_t *version);

/* The database file's path, as opened. */
const char *mast_store_path(const mast_store *store);

/* Ids (ascending, malloc'ed) of the collection's documents whose metadata
** has `key` equal to `value` (compared as text: 2 matches "2" and 2). */
mast_status mast_store_docs_matching(mast_store *store, int64_t collection_id, const char *key,
                                     const char *value, int64_t **ids, size_t *n);
/* All collections ordered by name; free with mast_collection_infos_free. */
mast_status mast_store_collection_list(mast_store *store, mast_collection_info **out, size_t *n);
void mast_collection_infos_free(mast_collection_info *infos, size_t n);

/* ---- documents ---- */

typedef struct mast_doc_in {
    const char *uri;           /* unique within the collection */
    const char *source;        /* the file it came from (for --prune) */
    const char *title;
    const char *metadata;      /* JSON object text, or NULL for {} */
    const char *content_hash;  /* MAST_HASH_HEX_LEN hex digits */
    const char *embed_model;   /* id of the model of the chunk vectors, or NULL */
    int embed_dim;             /* their dimension; 0 = no vectors */
    /* its MinHash signature (MAST_STORE_MINHASH_K values; data/dedup.h), or NULL */
    const uint32_t *minhash;
} mast_doc_in;

typedef struct mast_chunk_in {
    const char *text;          /* must not be NULL */
    int n_tokens;
    const char *heading;       /* heading path or NULL */
    const float *vector;       /* embed_dim floats, or NULL */
    int page_start, page_end;  /* its pages in a paged source, else 0 */
} mast_chunk_in;

/* Looks up a document by uri: MAST_OK with its id and content hash, or
** MAST_ERR_NOT_FOUND (without setting a message). */
mast_status mast_store_doc_find(mast_store *store, int64_t collection_id, const char *uri,
                                int64_t *doc_id, char hash[MAST_HASH_HEX_LEN + 1]);

/* Inserts or replaces a document and all its chunks in one transaction:
** on any failure nothing of the new version is stored and the old version
** (if any) is kept intact. */
mast_status mast_store_doc_put(mast_store *store, int64_t collection_id, const mast_doc_in *doc,
                               const mast_chunk_in *chunks, size_t n_chunks, int64_t *doc_id);

/* Deletes a document and its chunks (one transaction). */
mast_status mast_store_doc_delete(mast_store *store, int64_t collection_id, int64_t doc_id);

/* Calls fn for every document of a collection (id, uri, source). fn returns
** non-zero to stop. The callback must not write to the store. */
typedef int (*mast_doc_visit_fn)(void *ctx, int64_t doc_id, const char *uri, const char *source);
mast_status mast_store_doc_scan(mast_store *store, int64_t collection_id, mast_doc_visit_fn fn,
                                void *ctx);

/* ---- chunks ---- */

typedef struct mast_chunk_row {
    int64_t chunk_id, doc_id;
    const char *text, *heading, *title, *uri;
} mast_chunk_row;

/* Calls fn for every chunk of a collection in chunk-id order; the row's
** strings are valid only during the call. */
typedef int (*mast_chunk_visit_fn)(void *ctx, const mast_chunk_row *row);
mast_status mast_store_chunk_scan(mast_store *store, int64_t collection_id,
                                  mast_chunk_visit_fn fn, void *ctx);
/* The same for the chunks with an id above `after` (the new ones). */
mast_status mast_store_chunk_scan_after(mast_store *store, int64_t collection_id, int64_t after,
                                        mast_chunk_visit_fn fn, void *ctx);
/* The ids of a collection's chunks, ascending (malloc'ed). */
mast_status mast_store_chunk_ids(mast_store *store, int64_t collection_id, int64_t **ids,
                                 size_t *n);

/* Fills a result (strings malloc'ed; free with mast_results_free) for a
** chunk. MAST_ERR_NOT_FOUND if the chunk no longer exists. */
mast_status mast_store_chunk_get(mast_store *store, int64_t chunk_id, mast_result *out);

/* The collection's config JSON (caller frees); replacing it bumps the data
** version. */
mast_status mast_store_collection_config(mast_store *store, int64_t id, char **json);
mast_status mast_store_collection_set_config(mast_store *store, int64_t id, const char *json);
/* Deletes every stored vector of a collection (before re-embedding). */
mast_status mast_store_clear_embeddings(mast_store *store, int64_t collection_id);

/* Calls fn for every stored vector of a collection (chunk-id order). */
typedef int (*mast_vector_visit_fn)(void *ctx, int64_t chunk_id, int64_t doc_id, int dim,
                                    const float *vector);
mast_status mast_store_vector_scan(mast_store *store, int64_t collection_id, mast_vector_visit_fn fn,
                                   void *ctx);

mast_status mast_store_count_chunks(mast_store *store, int64_t collection_id, int64_t *n);

/* ---- managing what is stored (store_docs.c) ---- */

/* Deletes a collection with its documents, chunks and vectors (one
** transaction). MAST_ERR_NOT_FOUND when it does not exist. Its index files
** are the retriever's to remove (mast_index_remove). */
mast_status mast_store_collection_delete(mast_store *store, int64_t collection_id);

typedef struct mast_doc_info {
    int64_t id;
    char *uri;             /* the caller's id, or the file path (#line id for JSON Lines) */
    char *source, *title;
    char *metadata;        /* JSON object text */
    char *content_hash;
    int64_t n_chunks, n_tokens, n_vectors;
    int64_t created_at, updated_at;   /* unix seconds */
} mast_doc_info;

typedef struct mast_doc_query {
    int64_t limit, offset;             /* limit 0 = all */
    const char *filter_key, *filter_value;   /* metadata key = value, or NULL */
} mast_doc_query;

/* A page of a collection's documents in id order, and the total count that
** matches (before limit and offset). Free with mast_doc_infos_free. */
mast_status mast_store_doc_list(mast_store *store, int64_t collection_id, const mast_doc_query *q,
                                mast_doc_info **out, size_t *n, int64_t *total);
/* One document by uri or, with by_number, by numeric id when `key` is all
** digits and no document has it as uri (for people at a command line: an API
** caller's ids are never taken for numbers, so "15" cannot reach another
** document once its own is deleted). MAST_ERR_NOT_FOUND names the key. */
mast_status mast_store_doc_get(mast_store *store, int64_t collection_id, const char *key,
                               int by_number, mast_doc_info *out);
/* One document by its numeric id. */
mast_status mast_store_doc_by_id(mast_store *store, int64_t collection_id, int64_t id,
                                 mast_doc_info *out);
void mast_doc_info_free(mast_doc_info *d);
void mast_doc_infos_free(mast_doc_info *docs, size_t n);

typedef struct mast_chunk_info {
    int64_t id;
    int ordinal, n_tokens;
    char *text, *heading;
    int page_start, page_end;
} mast_chunk_info;
/* The text around a chunk, for small-to-big retrieval: with expand N > 0
** the chunks of its document from N before to N after it; with
** MAST_EXPAND_SECTION (mast.h) the run of chunks around it with the same
** heading path, at most 16 either side. Joined by blank lines (overlapping
** chunks repeat their overlap); malloc'ed. */
mast_status mast_store_chunk_context(mast_store *store, int64_t chunk_id, int expand, char **text);
/* A document's chunks in order. Free with mast_chunk_infos_free. */
mast_status mast_store_doc_chunks(mast_store *store, int64_t doc_id, mast_chunk_info **out,
                                  size_t *n);
void mast_chunk_infos_free(mast_chunk_info *chunks, size_t n);

/* Calls fn(ctx, doc_id, value) for every document of a collection that came
** from `source`, in id order, with its metadata's value at `key` as text ("" when
** absent). fn returns non-zero to stop; it must not write to the store. */
typedef int (*mast_doc_meta_fn)(void *ctx, int64_t doc_id, const char *value);
mast_status mast_store_doc_meta_scan(mast_store *store, int64_t collection_id, const char *source,
                                     const char *key, mast_doc_meta_fn fn, void *ctx);

/* ---- near-duplicate signatures (store_dedup.c) ---- */

/* A document's signature as stored with it (mast_doc_in.minhash). */
typedef int (*mast_minhash_visit_fn)(void *ctx, int64_t doc_id, const char *uri,
                                     const uint32_t *sig);
/* A document's signature and uri (malloc'ed): MAST_ERR_NOT_FOUND when it has none. */
mast_status mast_store_minhash_get(mast_store *store, int64_t doc_id, uint32_t *sig, char **uri);
/* Calls fn for every signed document of the collection, in id order. */
mast_status mast_store_minhash_scan(mast_store *store, int64_t collection_id,
                                    mast_minhash_visit_fn fn, void *ctx);
/* The number of the collection's documents and of those with a signature. */
mast_status mast_store_minhash_count(mast_store *store, int64_t collection_id, int64_t *n_docs,
                                     int64_t *n_signed);

#endif
