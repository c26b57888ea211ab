/*
** model/llama.h — decoder-only transformers of the Llama family
** (architectures "llama" and "qwen2") on the CPU.
**
** Forward pass as llama.cpp runs it: token embeddings (a row of
** token_embd, dequantized), then per layer
**   h = RMSNorm(x) * attn_norm;  q, k, v = h Wq, h Wk, h Wv (+ biases, qwen2)
**   RoPE on q and k (llama: adjacent pairs; qwen2: NeoX halves), over the
**   first rope.dimension_count dimensions, theta_i = pos * base^(-2i/d) / linear factor
**   grouped-query causal attention, softmax(q k / sqrt(head_dim)) v
**   x += attn Wo;  h = RMSNorm(x) * ffn_norm;  x += (silu(h Wg) * h Wu) Wd
** then RMSNorm(x) * output_norm and the LM head (`output`, or tied to
** token_embd). RMSNorm sums squares in double as ggml does. Weights stay in
** the file's types (every type of model/quant.h), used in place from the
** memory map; quantized products quantize the activations as llama.cpp's
** CPU backend does (so logits match it closely, not just approximately).
**
** A mast_llama is read-only after loading; a mast_llama_ctx holds one
** sequence's KV cache and scratch and runs one decode at a time. Its cache
** grows as it fills (by doubling, from 256 positions, up to its size), so
** an idle or short sequence holds little memory. A mast_llama_batch decodes
** many sequences' next tokens in one pass (continuous batching): each
** weight is read once for all of them, and each sequence's logits are the
** bits it would get decoded alone.
*/
#ifndef MAST_MODEL_LLAMA_H
#define MAST_MODEL_LLAMA_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/pool.h"
#include "model/dtype.h"
#include "model/gguf.h"

typedef struct mast_llama mast_llama;

typedef struct mast_llama_info {
    const char *arch;          /* "llama" or "qwen2" */
    int n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff;
    int rope_dims;
    bool rope_neox;
    float rope_base, rope_scale, rms_eps;
    bool tied_output;
    uint64_t weight_bytes;     /* the tensors one token reads (for the roofline) */
} mast_llama_info;

/* Loads from an open GGUF (which must outlive the model). Errors name the
** file and the missing key or tensor, or the unsupported architecture. */
mast_status mast_llama_load(mast_llama **out, const mast_gguf *g);
void mast_llama_free(mast_llama *m);
const mast_llama_info *mast_llama_info_of(const mast_llama *m);

typedef struct mast_llama_ctx mast_llama_ctx;

/* A context of n_ctx positions (0: the model's training context) with its KV
** cache in kv_type (MAST_F16 or MAST_F32). */
mast_status mast_llama_ctx_new(const mast_llama *m, int n_ctx, mast_dtype kv_type,
                               mast_llama_ctx **out);
void mast_llama_ctx_free(mast_llama_ctx *c);
int mast_llama_ctx_size(const mast_llama_ctx *c);
/* Positions filled so far. */
int mast_llama_ctx_used(const mast_llama_ctx *c);
/* Forgets everything from position n on (n = 0: a new sequence). */
void mast_llama_ctx_truncate(mast_llama_ctx *c, int n);
/* Bytes of KV cache that positions take in a context of kv_type. */
size_t mast_llama_kv_bytes(const mast_llama *m, mast_dtype kv_type, int positions);
/* Bytes the context's KV cache holds now (its room, not only what is used). */
size_t mast_llama_ctx_bytes(const mast_llama_ctx *c);
/* The bytes the cache would hold after mast_llama_ctx_reserve(c, positions). */
size_t mast_llama_ctx_bytes_after(const mast_llama_ctx *c, int positions);
/* Room for exactly positions (at most the context's size; more if it has
** more already), allocated now, not by doubling: a budget's reservation.
** MAST_ERR_NOMEM now rather than a later decode's. */
mast_status mast_llama_ctx_reserve(mast_llama_ctx *c, int positions);
/* Frees the KV cache: the context is empty and holds no memory. */
void mast_llama_ctx_release(mast_llama_ctx *c);
/* dst holds src's first n positions (and nothing else): a shared prefix
** reused instead of decoded again. Same model and KV type. */
mast_status mast_llama_ctx_copy(mast_llama_ctx *dst, const mast_llama_ctx *src, int n);
/* The first n positions' keys and values, layer by layer, to f (their bytes
** as they are: a file for the same model and KV type only); and back: c
** then holds exactly those n positions. MAST_ERR_IO / MAST_ERR_FORMAT (a
** short file) leave c empty. */
mast_status mast_llama_ctx_write(const mast_llama_ctx *c, int n, FILE *f);
mast_status mast_llama_ctx_read(mast_llama_ctx *c, int n, FILE *f);
/* The bytes mast_llama_ctx_write writes for n positions. */
size_t mast_llama_ctx_state_bytes(const mast_llama_ctx *c, int n);
/* Drops positions [keep, keep + n_discard) and moves the later ones down,
** re-rotating their cached keys (llama.cpp's context shift). */
mast_status mast_llama_ctx_shift(mast_llama_ctx *c, int keep, int n_discard);

/* The cached key of a position in a layer, as n_head_kv * head_dim floats
** (for tests: after a shift, layer 0's keys equal a fresh computation's). */
mast_status mast_llama_ctx_key(const mast_llama_ctx *c, int layer, int pos, float *out);

/* Prompts of 128 tokens or more over quantized weights on the SGEMM
** (mast_matmul_ex's `fast`): up to 1.7x faster prompt processing (Q8_0, 512
** tokens), logits no longer llama.cpp's to the last bits. Off by default. */
void mast_llama_ctx_set_fast_prompt(mast_llama_ctx *c, bool fast);

/* Runs n tokens at the next positions (all in one batch: matrix x matrix).
** logits: n x n_vocab when all_logits, else n_vocab for the last token only;
** may be NULL. MAST_ERR_LIMIT when the tokens do not fit in the context;
** MAST_ERR_INVALID for a token id outside the vocabulary. pool may be NULL. */
mast_status mast_llama_decode(mast_llama_ctx *c, mast_pool *pool, const int32_t *tokens, int n,
                              bool all_logits, float *logits);

/* Packs the weight matrices into the interleaved tiles of the batched
** products (matmul.h) once, so that decoding many sequences together does not
** repack them every step (the same bits). Costs about the weights' size in
** memory again; returns the bytes (0 where this CPU or the types have no
** tiles). Call before decoding, not while another thread decodes. */
size_t mast_llama_prepack(mast_llama *m);
/* The same in two steps, so that packing can run on another thread while
** the model decodes: mast_llama_pack only reads the weights (NULL without
** memory; *bytes its size); mast_llama_use_packed installs the tiles (and
** owns p) from the thread that decodes, between decodes. */
typedef struct mast_llama_packed mast_llama_packed;
mast_llama_packed *mast_llama_pack(const mast_llama *m, size_t *bytes);
void mast_llama_use_packed(mast_llama *m, mast_llama_packed *p);

/* Several sequences decoded together: scratch for the batch. */
typedef struct mast_llama_batch mast_llama_batch;
mast_status mast_llama_batch_new(const mast_llama *m, mast_llama_batch **out);
void mast_llama_batch_free(mast_llama_batch *b);
/* mast_llama_decode on the batch's scratch (contexts that take turns share
** one, rather than each holding its own). */
mast_status mast_llama_batch_decode(mast_llama_batch *b, mast_llama_ctx *c, mast_pool *pool,
                                    const int32_t *tokens, int n, bool all_logits, float *logits);
/* One token for each of n sequences (ctxs distinct, of this model), at each
** one's next position, in one pass: logits n x n_vocab (may be NULL). Every
** product runs on the dot-product kernels, so a sequence's logits are the
** bits of mast_llama_decode of its token alone. MAST_ERR_LIMIT when a
** context is full (nothing is decoded). */
mast_status mast_llama_decode_seqs(mast_llama_batch *b, mast_pool *pool, mast_llama_ctx *const *ctxs,
                                   const int32_t *tokens, int n, float *logits);

#endif
