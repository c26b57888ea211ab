/*
** model/bert.h — the BERT encoder (architecture "bert": MiniLM, bge, e5, gte).
**
** Forward pass as llama.cpp runs it: token + absolute position + token-type
** (row 0) embeddings, embedding LayerNorm, then per layer post-LN blocks:
** x = LN(x + Attn(x)), x = LN(x + FFN(x)) with biased projections, scaled
** dot-product attention over the whole sequence (no causal mask) and a
** GELU FFN (tanh approximation). Pooling from bert.pooling_type: 1 mean
** (over all tokens, [CLS] and [SEP] included), 2 CLS, 3 last; 0 (none) is
** treated as mean. Weights may be of any type mast has kernels for; layer
** weights that are not F32 are expanded to F32 at load (embedding models
** are small) so that every projection runs on the SGEMM.
**
** Several sequences are packed into one matrix for the linear layers (no
** padding work); attention runs per sequence. A sequence longer than the
** model's context is truncated to it (mast_bert_embed reports how many
** were). A mast_bert is read-only after loading; one embed call at a time.
*/
#ifndef MAST_MODEL_BERT_H
#define MAST_MODEL_BERT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/pool.h"
#include "model/gguf.h"

typedef struct mast_bert mast_bert;

/* Loads from an open GGUF (which must outlive the model: weights are used
** in place). Errors name the missing or malformed tensor. */
mast_status mast_bert_load(mast_bert **out, const mast_gguf *g);
void mast_bert_free(mast_bert *m);

int mast_bert_dim(const mast_bert *m);
int mast_bert_context(const mast_bert *m);

/* Embeds `n_seqs` token sequences; out is n_seqs x dim. With `hidden` non-NULL
** it also receives the final hidden state of every token (sum of lengths x
** dim, sequences back to back, after truncation). *n_truncated (if not NULL)
** counts sequences cut to the context. pool may be NULL. */
mast_status mast_bert_embed(const mast_bert *m, mast_pool *pool, const int32_t *const *tokens,
                            const size_t *n_tokens, size_t n_seqs, bool normalize, float *out,
                            float *hidden, size_t *n_truncated);

#endif
