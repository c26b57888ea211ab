/*
** data/ingest/ingest_impl.h — what the walker (ingest.c) and the document
** writer (put.c) share. Internal to src/data/ingest.
*/
#ifndef MAST_DATA_INGEST_IMPL_H
#define MAST_DATA_INGEST_IMPL_H

#include "data/ingest/doc.h"
#include "data/ingest/ingest.h"

#include <stdbool.h>

/* True when s[0..len) is only white space. */
int mast_is_blank(const char *s, size_t len);

/* Chunks doc, embeds the chunks with `embedder` (or gives the one chunk the
** caller's `vector` of vector_dim floats) and stores it all in one
** transaction; *n_out (may be NULL) gets the chunks written. */
mast_status mast_ingest_put_doc(mast_store *store, int64_t collection_id, mast_embedder *embedder,
                                const mast_chunk_opts *chunk_opts, const mast_doc_in *d_in,
                                mast_doc *doc, const float *vector, int vector_dim,
                                int64_t *doc_id, size_t *n_out);

/* A document's MinHash signature over its blocks' text (data/dedup.h). */
struct mast_minhash;
void mast_doc_minhash(const mast_doc *doc, struct mast_minhash *m);

/* ---- decode.c: from bytes to text ---- */

/* "gzip", "bzip2", "xz" or "zstd" when data starts with that format's magic
** bytes, else NULL. */
const char *mast_compression_of(const char *data, size_t len);
/* Decompresses one stream (any of those formats) into a malloc'ed,
** NUL-terminated buffer; MAST_ERR_LIMIT past `max` bytes. `what` names the
** input in errors. */
mast_status mast_decompress(const char *what, const char *in, size_t len, size_t max, char **out,
                            size_t *out_len);

/* True for a zip, 7z or tar archive (by magic bytes; a tar without them by
** its header's checksum). */
int mast_is_archive(const char *data, size_t len);

/* What a walk of nested archives may expand to, shared by the levels. */
typedef struct mast_archive_budget {
    size_t packed;             /* bytes of the outermost file */
    size_t max_bytes;          /* all entries together, at every level */
    size_t max_entry_bytes;    /* one entry */
    size_t max_entries;
    size_t bytes, entries;     /* used so far */
} mast_archive_budget;

/* Calls fn for each regular file of an archive with its decompressed bytes
** (valid during the call). A damaged entry is warned of and skipped; going
** past the budget refuses the archive with an error naming the limit. fn
** returns MAST_OK to go on. */
typedef mast_status (*mast_archive_fn)(void *ctx, const char *name, const char *data, size_t len);
mast_status mast_archive_walk(const char *what, const char *data, size_t len,
                              mast_archive_budget *budget, mast_archive_fn fn, void *ctx);

/* Zip-packaged documents (office.c): "docx", "odt", "epub", "pptx", "xlsx"
** (.xlsx, .xlsm) or "ods" when the name ends so, else NULL. */
const char *mast_office_kind(const char *name);
/* Loads one: its parts read through the archive walker within budget, its
** XML through libxml2. A missing part it needs is an error naming it. */
mast_status mast_load_office(mast_doc *doc, const char *kind, const char *data, size_t len,
                             mast_archive_budget *budget, const char *fallback_title);

/* True when text begins (after a byte-order mark and white space) like an
** HTML document. */
bool mast_looks_like_html(const char *data, size_t len);

/* Raw bytes to NFC UTF-8: UTF-16 (byte-order mark or detected) converted,
** text not UTF-8 but like Windows-1252 (or an HTML page declaring it, with
** `html`) read as such, a few invalid bytes repaired, each with a warning
** naming `what`; MAST_ERR_FORMAT "not a text file" for binary data.
** *encoding (may be NULL) gets what was done: NULL for UTF-8 as it was,
** else "utf-16le", "utf-16be", "windows-1252" or "utf-8, repaired". */
mast_status mast_decode_text(const char *what, const char *data, size_t len, bool html,
                             char **out, size_t *out_len, const char **encoding);

#endif
