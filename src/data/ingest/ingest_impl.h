/*
** data/ingest/ingest_impl.h — what the walker (ingest.c) and the document
** writer (put.c) share. Internal to src/data/ingest.
*/
#ifndef MAST_DATA_INGEST_IMPL_H
#define MAST_DATA_INGEST_IMPL_H

#include "data/ingest/doc.h"
#include "data/ingest/ingest.h"

/* True when s[0..len) is only white space. */
int mast_is_blank(const char *s, size_t len);

/* Chunks doc, embeds the chunks with `embedder` (or gives the one chunk the
** caller's `vector` of vector_dim floats) and stores it all in one
** transaction; *n_out (may be NULL) gets the chunks written. */
mast_status mast_ingest_put_doc(mast_store *store, int64_t collection_id, mast_embedder *embedder,
                                const mast_chunk_opts *chunk_opts, const mast_doc_in *d_in,
                                mast_doc *doc, const float *vector, int vector_dim,
                                int64_t *doc_id, size_t *n_out);

#endif
