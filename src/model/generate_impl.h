/*
** model/generate_impl.h — the local engine's insides, shared by generate.c
** (opening a model, templates, sampling) and generate_seq.c (requests as
** sequences in slots, stepped together).
*/
#ifndef MAST_MODEL_GENERATE_IMPL_H
#define MAST_MODEL_GENERATE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/pool.h"
#include "model/generate.h"
#include "model/gguf.h"
#include "model/jinja.h"
#include "model/llama.h"
#include "model/tokenizer.h"

typedef struct seq seq;

/* A slot: a context and the tokens it holds (a cached prefix while idle),
** and the request it runs, if any. */
typedef struct slot {
    mast_llama_ctx *ctx;
    int32_t *held;            /* the tokens the context holds */
    size_t n_held, cap_held;
    uint64_t used_at;         /* when a request last ended here (the LRU's clock) */
    seq *seq;                 /* the running request; NULL: idle */
} slot;

typedef struct local {
    mast_generator base;
    char *path;
    mast_gguf *gguf;
    mast_tokenizer *tok;
    mast_llama *llama;
    mast_llama_batch *batch;
    slot *slots;
    int n_slots, n_ctx, prompt_chunk;
    size_t kv_budget;         /* bytes every slot's KV cache may hold together; 0: no limit */
    mast_dtype kv_type;
    uint64_t clock;           /* counts requests begun: their order, and the LRU's */
    mast_pool *pool;
    mast_chat_format format;
    mast_jinja *tmpl;         /* the chat template, when the interpreter takes it */
    char tmpl_note[240];      /* why a template present is not used */
    char *bos_text, *eos_text;
    float *logits;            /* n_slots x n_vocab */
    pthread_t packer;         /* packs the weights' tiles meanwhile, once requests run together */
    bool packing, packer_started;
    _Atomic(mast_llama_packed *) packed;   /* ... its result, installed at the next step */
    char *cache_dir;          /* where the slots are saved on close (NULL: nowhere) */
    uint64_t cache_key;       /* the model's and the engine's identity, in those files' names */
} local;

/* The slots' saved prefixes restored from dir (NULL: none), and dir kept for
** gen_cache_save; files that do not fit are left out with a warning
** (generate_cache.c). */
mast_status gen_cache_open(local *l, const char *dir);
/* Every idle slot holding a reusable prefix saved to the cache folder. */
void gen_cache_save(local *l);

/* The request's prompt as tokens: the rendered chat (special tokens parsed)
** or the raw prompt (generate.c). */
mast_status gen_prompt_tokens(local *l, const mast_gen_request *r, mast_tokens *ids);
/* The next token from logits under p (biases, the sampler, a constraint);
** -1 when the constraint allows none (generate.c). */
int32_t gen_next_token(local *l, mast_sampler *sampler, const mast_gen_params *p, int V,
                       const int32_t *hist, size_t n_hist, float *scratch, int32_t *ids, float *logits);
/* Whether g is the local engine (generate.c). */
bool gen_is_local(const mast_generator *g);
/* The engine's generate operation: one request, begun and stepped to its end
** (generate_seq.c). */
mast_status gen_local_generate(mast_generator *g, const mast_gen_request *r, mast_gen_text_fn fn,
                               void *cb_ctx, mast_gen_result *out);

#endif
