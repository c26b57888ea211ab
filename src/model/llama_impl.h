/*
** model/llama_impl.h — the decoder's insides, shared by llama.c (loading, the
** forward pass, batches) and llama_kv.c (contexts: the KV cache).
*/
#ifndef MAST_MODEL_LLAMA_IMPL_H
#define MAST_MODEL_LLAMA_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "model/llama.h"
#include "model/weights.h"

typedef struct tensor {
    mast_dtype type;
    const void *data;
    int64_t cols, rows;   /* ne0, ne1 */
    void *packed;         /* its tiles, after mast_llama_prepack (owned), or NULL */
} tensor;

typedef struct layer {
    const float *attn_norm, *ffn_norm;
    tensor wq, wk, wv, wo, wg, wu, wd;
    const float *bq, *bk, *bv;   /* qwen2; NULL for llama */
} layer;

struct mast_llama {
    mast_llama_info info;
    char arch[32];
    tensor tok_embd, output;
    const float *output_norm;
    layer *layers;
    mast_owned owned;
    bool prepacked;
    size_t packed_bytes;
};

/* Scratch of a forward pass, grown to the largest batch seen: a context's
** own (mast_llama_decode), or a batch's (mast_llama_decode_seqs). */
typedef struct scratch {
    int cap_batch;
    float *x, *h, *q, *kk, *vv, *att, *g, *u, *tmp;
    int *rows, *row_seq;    /* forward's row lists (cap_batch each) */
    float *scores;          /* n_workers x (n_head / n_head_kv) x score_ctx */
    int n_score_rows, score_ctx;
    float *att_buf;         /* batches: per worker, a head's keys and values as f32 and scores */
    int att_buf_workers, att_buf_ctx;
} scratch;

struct mast_llama_ctx {
    const mast_llama *m;
    int n_ctx, used;
    int cap;                /* positions the cache has room for (grown as it fills, up to n_ctx) */
    mast_dtype kv_type;
    bool fast_prompt;       /* quantized prompt products on the SGEMM (see matmul.h) */
    size_t kv_pos;          /* bytes of one position's keys (or values) of one KV head */
    /* per layer, head-major: KV head h's cap positions of head_dim values
    ** at h * cap * kv_pos (attention reads a head's positions in order) */
    unsigned char **k, **v;
    scratch s;
    float *rope_cos, *rope_sin;   /* n_ctx x rope_dims / 2, by position */
};

struct mast_llama_batch {
    const mast_llama *m;
    scratch s;
};

/* KV head h's values at position pos */
static inline unsigned char *kv_at_pos(const mast_llama_ctx *c, unsigned char *cache, int h, int pos)
{
    return cache + ((size_t)h * (size_t)c->cap + (size_t)pos) * c->kv_pos;
}

/* The scratch's buffers, freed (the struct itself is the caller's). */
void llama_scratch_free(scratch *s);
/* Room in c's cache for at least need positions (at most n_ctx; llama_kv.c). */
mast_status llama_kv_reserve(mast_llama_ctx *c, int need);
/* A position's keys or values, all KV heads (row: n_head_kv * head_dim floats). */
void llama_store_kv(mast_llama_ctx *c, unsigned char *cache, int pos, const float *row);
void llama_load_kv(const mast_llama_ctx *c, unsigned char *cache, int pos, float *row);

#endif
