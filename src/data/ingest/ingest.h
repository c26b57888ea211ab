/*
** data/ingest/ingest.h — ingesting files and folders into a collection.
**
** Paths are walked recursively (hidden entries and directory symlinks are
** skipped, entries in name order). Each file is read whole (again if it
** changed while it was read) and goes to a loader by its content first and
** its name second (README.md beside this file; `mast ingest --help` lists the
** formats): compressed data is decompressed, archives are walked, PDFs read
** in a child process, zip-packaged office documents, HTML, man pages, e-mail
** and mbox, CSV/TSV, JSON Lines, Markdown and any other text. Text is NFC
** UTF-8 (UTF-16 and Windows-1252 converted, invalid bytes repaired, each with
** a warning and the encoding in the metadata). Files that are not text are
** skipped with a warning.
**
** Incremental: a document whose content hash (of the file's bytes, or of the
** JSON line, and of the chunking options and embedding model) is unchanged is
** skipped; a changed one has its chunks replaced; each document is one
** transaction. With `prune`, documents under the given paths whose file is
** gone (or, for JSON Lines, whose line is gone) are deleted. Near-duplicates
** of older documents are linked or skipped (`dedup`).
*/
#ifndef MAST_DATA_INGEST_INGEST_H
#define MAST_DATA_INGEST_INGEST_H

#include <stdint.h>

#include "data/chunk.h"
#include "data/store.h"
#include "model/embedder.h"
#include "observe/trace.h"

#define MAST_DEFAULT_MAX_FILE_BYTES ((size_t)256 << 20)

typedef struct mast_ingest_opts {
    mast_chunk_opts chunk;
    int prune;                 /* delete documents whose source is gone */
    int force;                 /* re-ingest unchanged documents too */
    const char *id_field;      /* JSON Lines field names; NULL = "_id" */
    const char *title_field;   /* NULL = "title" */
    const char *text_field;    /* NULL = "text" */
    const char *vector_field;  /* NULL = "vector": a collection with its own vectors reads them */
    size_t max_file_bytes;     /* per file (after decompression); 0 = default */
    int pdf_seconds;           /* the PDF reader's CPU (and half its wall-clock) limit; 0 = 60 */
    size_t pdf_memory;         /* its memory limit in bytes; 0 = 2 GiB */
    int progress;              /* draw a progress bar on a terminal */
    /* CSV/TSV: with an id column each row is a document (uri FILE#ID), else the file
    ** is one table; column lists are comma-separated names */
    const char *csv_id_column, *csv_title_column;
    const char *csv_text_columns;      /* NULL: every column not otherwise used */
    const char *csv_metadata_columns;  /* copied into each row's metadata */
    /* near-duplicates (data/dedup.h): a document whose estimated Jaccard
    ** similarity to an older one of the collection is at least the threshold
    ** is stored with "duplicate_of" and "similarity" in its metadata
    ** (MAST_DEDUP_LINK, the default), left out (MAST_DEDUP_SKIP) or not looked
    ** for (MAST_DEDUP_OFF); every stored document keeps its signature */
    int threads;               /* for the embedding model; 0 = every CPU */
    int dedup;                 /* mast_dedup_mode */
    double dedup_threshold;    /* 0 = MAST_DEDUP_THRESHOLD */
} mast_ingest_opts;

typedef struct mast_ingest_stats {
    size_t files_seen;         /* files found under the paths */
    size_t files_ingested;     /* at least one document written */
    size_t files_unchanged;    /* every document unchanged */
    size_t files_skipped;      /* not text, empty, HTML, not a regular file */
    size_t files_failed;       /* unreadable or unparsable */
    /* every file seen lands in exactly one of ingested, unchanged, skipped, failed */
    size_t docs_ingested, docs_unchanged, docs_skipped, docs_failed, docs_pruned;
    size_t docs_duplicate;     /* near-duplicates found: linked (ingested) or skipped */
    size_t chunks;             /* chunks written */
    size_t pages;              /* pages of the PDFs read */
    uint64_t bytes;            /* bytes read */
    double seconds;
} mast_ingest_stats;

/* Ingests `paths` into `collection` (created if needed). Problems with
** single files are warnings counted in *stats; the return value reports only
** errors that stop the whole run (bad collection name, database failure). */
mast_status mast_ingest(mast_store *store, const char *collection, const char *const *paths,
                        size_t n_paths, const mast_ingest_opts *opts, mast_trace *trace,
                        mast_ingest_stats *stats);

/* ---- one document from a caller (the HTTP API, the C API) ---- */

typedef struct mast_doc_input {
    const char *id;           /* the caller's id, unique in the collection (its uri) */
    const char *title;        /* NULL or "" for none */
    const char *text;         /* NULL or "" when the title is the whole document */
    const char *metadata;     /* a JSON object's text, or NULL for {} */
    const float *vector;      /* for collections with their own vectors; else NULL */
    size_t vector_dim;
} mast_doc_input;

typedef enum { MAST_PUT_CREATED, MAST_PUT_UPDATED, MAST_PUT_UNCHANGED } mast_put_result;
const char *mast_put_result_name(mast_put_result r);   /* "created", "updated", "unchanged" */

#define MAST_MAX_DOC_ID_BYTES 1024

/* Stores one document in one transaction, replacing an earlier version with
** the same id (or leaving it alone when nothing changed: MAST_PUT_UNCHANGED).
** Text and title are NFC-normalized and chunked as ingest does; `embedder`
** (the collection's model, or NULL) embeds the chunks; a collection with its
** own vectors takes `vector` (its dimension, finite values) and keeps the
** document as one chunk. Errors name the document: an empty or overlong id,
** invalid UTF-8, metadata that is not a JSON object, no title and no text, a
** vector where none is taken or of the wrong dimension. */
mast_status mast_document_put(mast_store *store, int64_t collection_id, mast_embedder *embedder,
                              const mast_chunk_opts *chunk, const mast_doc_input *doc,
                              mast_put_result *result, int64_t *doc_id, size_t *n_chunks);

#endif
