/*
** model/embedder.h — the one interface for turning texts into vectors.
**
** Implemented by the BERT encoder (GGUF architecture "bert") and by static
** word vectors (architecture "mast-static", see static_vectors.h); remote
** providers will implement it later. An embedder owns its model file, its
** tokenizer and a thread pool; one embed call at a time.
*/
#ifndef MAST_MODEL_EMBEDDER_H
#define MAST_MODEL_EMBEDDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mast.h"

typedef struct mast_embedder mast_embedder;

/* Opens a model file; n_threads <= 0 = one per CPU. */
mast_status mast_embedder_open(mast_embedder **out, const char *path, int n_threads);
void mast_embedder_free(mast_embedder *e);

int mast_embedder_dim(const mast_embedder *e);
/* A stable identifier: "<general.name or file name>:<arch>:<dim>". */
const char *mast_embedder_id(const mast_embedder *e);
/* Whether vectors are L2-normalized by default (what `mast embed` does
** without --normalize/--no-normalize): true for both built-in kinds, as
** llama.cpp's embedding tool normalizes by default. */
bool mast_embedder_default_normalize(const mast_embedder *e);

/* Embeds n texts into out (n x dim floats). *n_truncated (optional) counts
** texts cut to the model's context. */
mast_status mast_embedder_embed(mast_embedder *e, const char *const *texts, size_t n,
                                bool normalize, float *out, size_t *n_truncated);

/* The same for inputs given as token ids of the model's vocabulary (BERT
** models; MAST_ERR_UNSUPPORTED for static vectors). */
mast_status mast_embedder_embed_ids(mast_embedder *e, const int32_t *const *seqs, const size_t *lens,
                                    size_t n, bool normalize, float *out, size_t *n_truncated);
/* The tokens a text takes (words for static vectors), for usage counts. */
size_t mast_embedder_count_tokens(const mast_embedder *e, const char *text);
/* Whether the model has a subword tokenizer (BERT models; not static vectors). */
bool mast_embedder_has_tokenizer(const mast_embedder *e);
/* The tokens text[0..len) takes without the model's special tokens (for
** chunk budgets): false without a tokenizer or when it fails. */
bool mast_embedder_text_tokens(const mast_embedder *e, const char *text, size_t len, size_t *n);

#endif
