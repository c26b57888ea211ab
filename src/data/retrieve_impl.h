/*
** data/retrieve_impl.h — what the index cache (index_cache.c) and search
** (retrieve.c) share: a collection's in-memory indexes and how a search
** borrows them. Internal to src/data.
*/
#ifndef MAST_DATA_RETRIEVE_IMPL_H
#define MAST_DATA_RETRIEVE_IMPL_H

#include <pthread.h>

#include "data/retrieve.h"
#include "data/vindex/vindex.h"
#include "model/embedder.h"

typedef struct index_ref {
    int64_t collection_id;
    int64_t version;
    mast_bm25 *bm25;
    /* dense: the chunk vectors (normalized at ingest) in a vector index, and
    ** each chunk's document (vchunk ascending, vdoc alongside) */
    mast_vindex *dense;
    int64_t *vchunk, *vdoc;
    size_t n_vec;
    int dim;
    mast_embedder *embedder;      /* the collection's model, for queries */
    int own_dim;                  /* > 0: the documents bring their own vectors */
    mast_metric metric;           /* of the dense index: cos for a model's vectors */
    char *language;               /* the collection's analyzer (NULL: English) */
    pthread_mutex_t embed_mu;     /* an embedder runs one call at a time */
    int refs;             /* holders: the cache (while current) + searches */
} index_ref;

struct mast_retriever {
    pthread_mutex_t mu;
    size_t hnsw_min;      /* vectors from which the dense index is HNSW */
    index_ref **entries;  /* the current index of each cached collection */
    size_t n_entries, cap_entries;
};

/* A referenced, current index for the collection (built, or brought up to
** the store, when stale); give it back with mast_index_release. */
mast_status mast_index_acquire(mast_retriever *r, mast_store *store, int64_t collection_id,
                               mast_trace *trace, index_ref **out);
void mast_index_release(mast_retriever *r, index_ref *ref);

#endif
