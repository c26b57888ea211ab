/*
** data/collection.h — collection settings kept in collections.config (JSON):
** the embedding model {"embed": {"model": PATH, "id": ID, "dim": N}}, the
** analyzer {"language": L}, or, for a collection whose documents bring their
** own vectors, {"vectors": {"dim": N, "metric": "cos"|"ip"|"l2"}}.
*/
#ifndef MAST_DATA_COLLECTION_H
#define MAST_DATA_COLLECTION_H

#include "data/store.h"
#include "data/vindex/vindex.h"
#include "model/embedder.h"

#define MAST_MAX_VECTOR_DIM 65536

/* Sets the collection's embedding model (created if needed). Replacing a
** different model needs `reembed`, which also deletes the stored vectors
** (the next ingest re-embeds: the model id is part of the content hash). */
mast_status mast_collection_set_embedder(mast_store *store, const char *collection,
                                         const char *model_path, int reembed);

/* Opens the collection's embedding model, or sets *out = NULL if it has none. */
mast_status mast_collection_open_embedder(mast_store *store, int64_t collection_id,
                                          mast_embedder **out);
/* The same with n_threads for the model (0 = every CPU). */
mast_status mast_collection_open_embedder_threads(mast_store *store, int64_t collection_id,
                                                  int n_threads, mast_embedder **out);

/* The configured model path (caller frees) or NULL. */
mast_status mast_collection_embed_model(mast_store *store, int64_t collection_id, char **path);

/* The collection's analyzer language (caller frees), NULL for the default
** (English); see mast_analyzer_open. */
mast_status mast_collection_language(mast_store *store, int64_t collection_id, char **language);
/* The chunk budget (tokens) and overlap the collection's documents were last
** ingested with, 0 and 0 when never recorded; recording the same again
** writes nothing (and so leaves the data version alone). */
mast_status mast_collection_chunking(mast_store *store, int64_t collection_id, int *tokens,
                                     int *overlap);
mast_status mast_collection_set_chunking(mast_store *store, int64_t collection_id, int tokens,
                                         int overlap);
/* Sets it (creating the collection if needed); an unknown language is
** refused before anything changes. The BM25 index follows at the next search. */
mast_status mast_collection_set_language(mast_store *store, const char *collection,
                                         const char *language);

/* A collection whose documents carry their own vectors (the Chroma/Qdrant
** workflow): dim 1..MAST_MAX_VECTOR_DIM and a metric (cos, ip, l2; NULL =
** cos). Refused for a collection with an embedding model, or with vectors of
** another shape already stored. */
mast_status mast_collection_set_vectors(mast_store *store, const char *collection, int dim,
                                        const char *metric);
/* Its dimension and metric (*dim = 0 when it brings no vectors). */
mast_status mast_collection_vectors(mast_store *store, int64_t collection_id, int *dim,
                                    mast_metric *metric);

#endif
