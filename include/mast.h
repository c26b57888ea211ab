/*
** mast.h — the public C API of mast, the modern AI stack in one library.
**
** Conventions (as libgit2): every fallible function returns a mast_status
** (MAST_OK or an error code) and, on error, leaves a human-readable detail in
** a thread-local message readable with mast_errmsg(). Constructors write to an
** out-parameter; every type has a _free/_close that accepts NULL. Ownership of
** every returned pointer is stated next to the function. Options travel in
** structs that begin with a version field: start from their _INIT macro and
** set fields by name, so that a newer library can add fields without breaking
** a caller built against this header. Results are read through accessors, or
** as structs whose new fields are only ever appended.
**
** Thread safety: a mast_store is one SQLite connection and must be used by one
** thread at a time; a mast_retriever is shared and thread-safe.
**
** examples/quickstart.c is a whole program: a store, a collection, documents,
** a search and an answer.
*/
#ifndef MAST_H
#define MAST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MAST_VERSION_MAJOR 0
#define MAST_VERSION_MINOR 1
#define MAST_VERSION_PATCH 0
#define MAST_VERSION_STRING "0.1.0"
/* comparable: MAST_VERSION_NUMBER >= 100 is 0.1.0 or later */
#define MAST_VERSION_NUMBER (MAST_VERSION_MAJOR * 10000 + MAST_VERSION_MINOR * 100 + MAST_VERSION_PATCH)

#if defined(_WIN32)
#define MAST_API __declspec(dllexport)
#else
#define MAST_API __attribute__((visibility("default")))
#endif

/* ---- Status codes ------------------------------------------------------ */

typedef enum mast_status {
    MAST_OK = 0,
    MAST_ERR_INVALID,      /* a bad argument or malformed input */
    MAST_ERR_NOMEM,        /* out of memory */
    MAST_ERR_IO,           /* a file or socket operation failed */
    MAST_ERR_NOT_FOUND,    /* the named thing does not exist */
    MAST_ERR_EXISTS,       /* the named thing already exists */
    MAST_ERR_FORMAT,       /* input is not in the expected format */
    MAST_ERR_DB,           /* the SQLite store reported an error */
    MAST_ERR_LIMIT,        /* a configured limit was exceeded */
    MAST_ERR_UNSUPPORTED,  /* not supported (yet) */
    MAST_ERR_INTERNAL      /* a bug in mast */
} mast_status;

/* A static, short description of a status code ("invalid input"...). */
MAST_API const char *mast_strerror(mast_status status);

/* The detail message of the last error on this thread ("" if none). The
** pointer stays valid until the next mast call on the same thread. */
MAST_API const char *mast_errmsg(void);

/* The library version, e.g. "0.1.0" (MAST_VERSION_STRING of the library). */
MAST_API const char *mast_version(void);

/* ---- Store ------------------------------------------------------------- */

typedef struct mast_store mast_store;

/* Opens (creating and migrating if needed) the SQLite store at `path`; its
** derived index files live in the folder `path`.idx beside it. The caller
** owns *out and frees it with mast_store_close(). */
MAST_API mast_status mast_store_open(mast_store **out, const char *path);
/* Opens an existing store only (MAST_ERR_NOT_FOUND "PATH: no such store"
** otherwise), read-only when this process cannot write it. */
MAST_API mast_status mast_store_open_existing(mast_store **out, const char *path);
MAST_API void mast_store_close(mast_store *store);

/* ---- Collections -------------------------------------------------------- */

typedef struct mast_collection_options {
    unsigned version;          /* MAST_COLLECTION_OPTIONS_VERSION */
    const char *embed_model;   /* a GGUF embedding model: chunks are embedded, search is hybrid */
    const char *language;      /* BM25 analyzer: "english" (NULL), a Snowball language, "none" */
    int dim;                   /* > 0: the documents bring their own vectors of this size */
    const char *metric;        /* with dim: "cos" (NULL), "ip" or "l2" */
} mast_collection_options;

#define MAST_COLLECTION_OPTIONS_VERSION 1
#define MAST_COLLECTION_OPTIONS_INIT {MAST_COLLECTION_OPTIONS_VERSION, NULL, NULL, 0, NULL}

/* Creates a collection (names: 1 to 64 of A-Z a-z 0-9 . _ -), or applies the
** options to an existing one; opts may be NULL. The options are checked
** before anything is created, and a collection this call created is removed
** again when applying them fails. */
MAST_API mast_status mast_collection_create(mast_store *store, const char *name,
                                            const mast_collection_options *opts);

typedef struct mast_retriever mast_retriever;

/* Deletes a collection with its documents, chunks and vectors (one
** transaction), then its index files and `retriever`'s cached index
** (retriever may be NULL). MAST_ERR_NOT_FOUND when it does not exist. */
MAST_API mast_status mast_collection_delete(mast_retriever *retriever, mast_store *store,
                                            const char *name);

/* One collection as listed; owned by its list. New fields are only appended. */
typedef struct mast_collection {
    const char *name;
    int64_t n_documents, n_chunks;
    int64_t data_version, created_at;   /* created_at: unix seconds */
    const char *embed_model;            /* NULL: none */
    const char *language;               /* "english" unless set */
    int vector_dim;                     /* 0: the documents bring no vectors */
    const char *metric;                 /* of the own vectors, else NULL */
} mast_collection;

typedef struct mast_collection_list mast_collection_list;
/* Every collection, ordered by name. Free with mast_collection_list_free. */
MAST_API mast_status mast_collection_list_get(mast_store *store, mast_collection_list **out);
MAST_API size_t mast_collection_list_count(const mast_collection_list *list);
MAST_API const mast_collection *mast_collection_list_at(const mast_collection_list *list, size_t i);
MAST_API void mast_collection_list_free(mast_collection_list *list);

/* ---- Documents ---------------------------------------------------------- */

typedef struct mast_document_input {
    unsigned version;          /* MAST_DOCUMENT_INPUT_VERSION */
    const char *id;            /* the caller's id, unique in the collection */
    const char *title;         /* may be NULL */
    const char *text;          /* may be NULL when the title is the whole document */
    const char *metadata;      /* a JSON object's text, or NULL */
    const float *vector;       /* for collections with their own vectors, else NULL */
    size_t vector_dim;
} mast_document_input;

#define MAST_DOCUMENT_INPUT_VERSION 1
#define MAST_DOCUMENT_INPUT_INIT {MAST_DOCUMENT_INPUT_VERSION, NULL, NULL, NULL, NULL, NULL, 0}

typedef enum mast_upsert_status {
    MAST_UPSERT_CREATED, MAST_UPSERT_UPDATED, MAST_UPSERT_UNCHANGED, MAST_UPSERT_FAILED
} mast_upsert_status;

typedef struct mast_upsert_result {
    mast_upsert_status status;
    int64_t doc_id;
    size_t n_chunks;           /* written (0 when unchanged or failed) */
    mast_status error;         /* MAST_OK unless failed */
    char message[256];         /* why it failed */
} mast_upsert_result;

/* Stores n documents, each in its own transaction (a document whose id is
** stored replaces it; an identical one is left alone). results (may be NULL)
** receives one entry per document. Returns MAST_OK when every document was
** stored, else the first failure's status (the others are stored all the
** same); MAST_ERR_NOT_FOUND for an unknown collection. */
MAST_API mast_status mast_documents_upsert(mast_store *store, const char *collection,
                                           const mast_document_input *docs, size_t n,
                                           mast_upsert_result *results);

/* One stored document; owned by its list. New fields are only appended. */
typedef struct mast_document {
    int64_t doc_id;
    const char *id;            /* its uri: the caller's id, a file path, or path#line-id */
    const char *title, *source, *metadata, *content_hash;
    int64_t n_chunks, n_tokens, n_vectors;
    int64_t created_at, updated_at;
} mast_document;

typedef struct mast_document_list mast_document_list;

typedef struct mast_list_options {
    unsigned version;          /* MAST_LIST_OPTIONS_VERSION */
    int64_t limit, offset;     /* limit 0 = every document */
    const char *filter;        /* "key=value" on the metadata, or NULL */
} mast_list_options;

#define MAST_LIST_OPTIONS_VERSION 1
#define MAST_LIST_OPTIONS_INIT {MAST_LIST_OPTIONS_VERSION, 100, 0, NULL}

/* A page of a collection's documents in the order they were first stored;
** opts may be NULL (the first 100). Free with mast_document_list_free. */
MAST_API mast_status mast_document_list_get(mast_store *store, const char *collection,
                                            const mast_list_options *opts,
                                            mast_document_list **out);
MAST_API size_t mast_document_list_count(const mast_document_list *list);
/* The documents that match, before limit and offset. */
MAST_API int64_t mast_document_list_total(const mast_document_list *list);
MAST_API const mast_document *mast_document_list_at(const mast_document_list *list, size_t i);
MAST_API void mast_document_list_free(mast_document_list *list);

/* One document by its id (uri; never taken for a numeric doc id), as a list of one
** (mast_document_list_at(*out, 0)) that also holds its chunks' texts in order
** (mast_document_chunk). Free with mast_document_list_free. */
MAST_API mast_status mast_document_get(mast_store *store, const char *collection, const char *id,
                                       mast_document_list **out);
MAST_API size_t mast_document_chunk_count(const mast_document_list *doc);
/* The text of chunk j; owned by the list. */
MAST_API const char *mast_document_chunk(const mast_document_list *doc, size_t j);

/* One chunk of a fetched document; owned by the list. New fields are only appended. */
typedef struct mast_stored_chunk {
    int64_t chunk_id;
    int ordinal, n_tokens;
    const char *heading;       /* heading path, "" if none */
    const char *text;
    int page_start, page_end;  /* its pages in a paged source (PDF), else 0 */
} mast_stored_chunk;
MAST_API const mast_stored_chunk *mast_document_chunk_at(const mast_document_list *doc, size_t j);

/* Deletes a document (by its id) with its chunks and vectors. */
MAST_API mast_status mast_document_delete(mast_store *store, const char *collection,
                                          const char *id);

/* ---- Ingest ------------------------------------------------------------- */

typedef struct mast_ingest_options {
    unsigned version;          /* MAST_INGEST_OPTIONS_VERSION */
    int chunk_tokens;          /* 0 = 256 */
    int overlap_tokens;
    int prune;                 /* delete documents whose file (or JSON line) is gone */
    int force;                 /* rewrite unchanged documents too */
    const char *id_field, *title_field, *text_field, *vector_field;   /* JSON Lines; NULL: defaults */
} mast_ingest_options;

#define MAST_INGEST_OPTIONS_VERSION 1
#define MAST_INGEST_OPTIONS_INIT {MAST_INGEST_OPTIONS_VERSION, 0, 0, 0, 0, NULL, NULL, NULL, NULL}

typedef struct mast_ingest_summary {
    size_t files_seen, files_ingested, files_unchanged, files_skipped, files_failed;
    size_t docs_ingested, docs_unchanged, docs_skipped, docs_failed, docs_pruned;
    size_t chunks;
    double seconds;
} mast_ingest_summary;

/* Ingests files and folders (text, Markdown, JSON Lines, .zst) into a
** collection (created if needed) and brings its indexes up to date; opts may
** be NULL. Problems with single files are counted in *summary (and warned
** about on stderr), not returned. */
MAST_API mast_status mast_ingest_paths(mast_store *store, const char *collection,
                                       const char *const *paths, size_t n_paths,
                                       const mast_ingest_options *opts,
                                       mast_ingest_summary *summary);

/* ---- Retrieval --------------------------------------------------------- */

/* A shared, thread-safe cache of the derived indexes of every collection. */
MAST_API mast_status mast_retriever_create(mast_retriever **out);
MAST_API void mast_retriever_free(mast_retriever *retriever);

/* One search result. All strings are owned by the result array. */
typedef struct mast_result {
    int rank;              /* 1-based */
    double score;
    int64_t chunk_id;
    int64_t doc_id;
    char *uri;
    char *title;
    char *heading;         /* heading path, " > " separated; "" if none */
    char *text;
    int page_start, page_end;   /* its pages in a paged source (PDF), else 0 */
    char *context;         /* with expand: the chunk with its neighbours or its section; else NULL */
} mast_result;

MAST_API void mast_results_free(mast_result *results, size_t n_results);

typedef struct mast_search_options {
    unsigned version;          /* MAST_SEARCH_OPTIONS_VERSION */
    size_t k;                  /* results, 1..1000 */
    const char *mode;          /* "bm25", "dense", "hybrid"; NULL: hybrid with vectors, else bm25 */
    const char *fusion;        /* hybrid: "rrf" (NULL) or "convex" */
    double alpha;              /* convex: the dense list's weight, 0..1 */
    const char *normalize;     /* convex: "minmax" (NULL) or "zscore" */
    double rrf_k;              /* rrf: 0 = 60 */
    double title_weight;       /* BM25 title and headings against the body; 0 = 2 */
    const char *filter;        /* "key=value" on the metadata, or NULL */
    const float *vector;       /* a query vector of the collection's dimension, or NULL */
    size_t vector_dim;
    /* version 2: small-to-big, each result's context: N chunks either side
    ** (1..10), MAST_EXPAND_SECTION its whole section, 0 none */
    int expand;
} mast_search_options;

#define MAST_EXPAND_SECTION (-1)
#define MAST_SEARCH_OPTIONS_VERSION 2
#define MAST_SEARCH_OPTIONS_INIT \
    {MAST_SEARCH_OPTIONS_VERSION, 10, NULL, NULL, 0.5, NULL, 0, 0, NULL, NULL, 0, 0}

/* Searches a collection for `query` (may be NULL with a vector); opts may be
** NULL (MAST_SEARCH_OPTIONS_INIT). *results (free with mast_results_free)
** holds *n results ranked from 1. MAST_ERR_INVALID names a bad option. */
MAST_API mast_status mast_search_collection(mast_retriever *retriever, mast_store *store,
                                            const char *collection, const char *query,
                                            const mast_search_options *opts,
                                            mast_result **results, size_t *n);

/* ---- Ask ---------------------------------------------------------------- */

typedef struct mast_ask_result mast_ask_result;

/* Answers a question from the k best passages (k 0 = 5) with [n] citations,
** extractively: the passages' best whole sentences. Free with
** mast_ask_result_free. */
MAST_API mast_status mast_ask_collection(mast_retriever *retriever, mast_store *store,
                                         const char *collection, const char *question, size_t k,
                                         mast_ask_result **out);
MAST_API const char *mast_ask_result_answer(const mast_ask_result *a);
/* How it was answered ("no model is configured: ..."). */
MAST_API const char *mast_ask_result_note(const mast_ask_result *a);
MAST_API size_t mast_ask_result_source_count(const mast_ask_result *a);
/* Source n (1-based, as cited [n]); owned by the result. */
MAST_API const mast_result *mast_ask_result_source(const mast_ask_result *a, size_t n);
MAST_API void mast_ask_result_free(mast_ask_result *a);

#ifdef __cplusplus
}
#endif
#endif
