/*
** model/generate.h — the generator interface: messages (or a raw prompt)
** and parameters in, streamed text, usage counts and a finish reason out.
**
** The local engine (a GGUF Llama-family model, model/llama.h) implements it
** now; remote providers implement the same operations later. Text arrives
** through the callback as it is produced (byte pieces of tokens, so a
** callback may see part of a UTF-8 character); text that could be the start
** of a stop string is held back until it is decided.
*/
#ifndef MAST_MODEL_GENERATE_H
#define MAST_MODEL_GENERATE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/pool.h"
#include "model/chat.h"
#include "model/dtype.h"
#include "model/sampler.h"

/* A constraint on what may be generated (a grammar, model/grammar.h): the
** engine asks it which tokens may come next and tells it which one came. */
typedef struct mast_gen_constraint {
    void *ctx;
    /* Whether token id (whose text is piece[0..len)) may come next; an
    ** end-of-generation token is asked with piece NULL (allowed = the output
    ** may end here). */
    bool (*allows)(void *ctx, int32_t id, const char *piece, size_t len);
    /* The ids of every token that may come next, ascending, into ids (room
    ** for n_vocab); returns how many. The engine's thread pool is its to use
    ** meanwhile (NULL: none). */
    size_t (*allowed)(void *ctx, int n_vocab, mast_pool *pool, int32_t *ids);
    /* Takes the chosen token; non-zero status stops the generation. */
    mast_status (*accept)(void *ctx, int32_t id, const char *piece, size_t len);
    /* Nothing can follow what was generated: the output is complete. */
    bool (*complete)(void *ctx);
} mast_gen_constraint;

typedef struct mast_gen_params {
    int max_tokens;               /* > 0 */
    mast_sampler_params sampler;
    const char *const *stop;      /* stop strings (not included in the text) */
    size_t n_stop;
    bool ctx_shift;               /* at the context limit, drop the older half and go on */
    bool fit;                     /* the prompt plus max_tokens must fit the context:
                                  ** MAST_ERR_LIMIT (naming both sizes) when they do not */
    const int32_t *bias_ids;      /* logit_bias: added to the logits of these tokens */
    const float *bias;            /* (-100 or less bans a token, as OpenAI's does) */
    size_t n_bias;
    mast_gen_constraint *constraint;   /* NULL: unconstrained */
    bool no_prompt_cache;         /* decode the whole prompt: reuse no cached prefix */
} mast_gen_params;

#define MAST_GEN_PARAMS_DEFAULT \
    ((mast_gen_params){128, MAST_SAMPLER_DEFAULT, NULL, 0, false, false, NULL, NULL, 0, NULL, false})

typedef struct mast_gen_request {
    const mast_chat_message *messages;   /* a chat, rendered with the model's template; or */
    size_t n_messages;
    const char *prompt;                  /* raw text completed as is (messages NULL) */
    mast_gen_params params;
    /* The same chat as OpenAI-shaped JSON ([{"role", "content", "tool_calls"
    ** with arguments as objects, "tool_call_id"}]) and the tool definitions
    ** ([{"type": "function", "function": {…}}]), for a model whose own Jinja
    ** template renders them (model/jinja.h); NULL: built from messages. The
    ** messages are then the fallback's: built-in families, tool markup in
    ** the text (model/tools.h). */
    const json_t *chat;
    const json_t *tools;
    bool no_generation_prompt;           /* the template's add_generation_prompt = false */
} mast_gen_request;

typedef struct mast_gen_result {
    int prompt_tokens, completion_tokens;
    int cached_tokens;           /* prompt tokens the context already held (not decoded again) */
    const char *finish_reason;   /* "stop" (end of turn or a stop string) or "length" */
    int stop_index;              /* the stop string that ended the text, or -1 */
    bool context_full;           /* "length" because the context filled (not max_tokens) */
    int n_ctx;                   /* the context's size in tokens (local engines), else 0 */
    int batch_max;               /* local engines: the most requests decoded in one step with it */
    double wait_seconds;         /* local engines: waiting in its slot for KV memory */
    double prompt_seconds, gen_seconds;
    int32_t *prompt_ids, *ids;   /* local engines: the token ids (malloc'ed), else NULL */
} mast_gen_result;

/* Receives text as it is generated; returning non-zero stops the generation. */
typedef int (*mast_gen_text_fn)(void *ctx, const char *text, size_t len);

typedef struct mast_generator mast_generator;

typedef struct mast_generator_ops {
    mast_status (*generate)(mast_generator *g, const mast_gen_request *r, mast_gen_text_fn fn,
                            void *ctx, mast_gen_result *out);
    /* The prompt's size in tokens, as generate would see it. */
    mast_status (*count)(mast_generator *g, const mast_gen_request *r, int *n_tokens);
    const char *(*describe)(const mast_generator *g);   /* model name / path */
    void (*free)(mast_generator *g);
} mast_generator_ops;

struct mast_generator {
    const mast_generator_ops *ops;
};

mast_status mast_generate(mast_generator *g, const mast_gen_request *r, mast_gen_text_fn fn,
                          void *ctx, mast_gen_result *out);
/* The number of tokens r's prompt (rendered messages, or the raw prompt) takes. */
mast_status mast_gen_count_tokens(mast_generator *g, const mast_gen_request *r, int *n_tokens);
void mast_gen_result_free(mast_gen_result *r);
void mast_generator_free(mast_generator *g);
const char *mast_generator_describe(const mast_generator *g);

typedef struct mast_local_opts {
    int n_ctx;                   /* 0: the model's training context (at most 4096) */
    mast_dtype kv_type;          /* MAST_F16 (default), MAST_F32 or MAST_Q8_0 */
    int threads;                 /* 0: every CPU */
    int chat_format;             /* -1: from the model's template; else a mast_chat_format */
    bool fast_prompt;            /* see mast_llama_ctx_set_fast_prompt */
    /* A Jinja chat template's text instead of the model's own
    ** tokenizer.chat_template (--chat-template-file); NULL: the model's. A
    ** template given here that does not parse fails the open; the model's
    ** own falls back to its built-in family with a warning. */
    const char *chat_template;
    const char *chat_template_name;   /* for messages (the file's path) */
    int slots;                   /* requests that run together (continuous batching); 0: 1;
                                  ** < 0: as many full contexts as a quarter of the
                                  ** available memory holds, 1 to 16 */
    int prompt_chunk;            /* prompt tokens decoded per step; 0: 128 */
    size_t kv_memory;            /* bytes the slots' KV caches may hold together; 0: no limit.
                                 ** A request reserves room for its prompt and max_tokens
                                 ** when it begins, dropping idle slots' cached prefixes
                                 ** (least recently used first) as needed, or waits in its
                                 ** slot (state "waiting") until running ones end */
    const char *cache_dir;       /* the slots' cached prefixes are saved here when the
                                 ** generator is freed and restored when one opens the
                                 ** same model file again (NULL: not kept) */
} mast_local_opts;

#define MAST_LOCAL_OPTS_DEFAULT \
    ((mast_local_opts){.n_ctx = 0, .kv_type = MAST_F16, .threads = 0, .chat_format = -1})

/* Opens a GGUF model as a generator. Errors name the file and what is wrong
** (not a GGUF, an unsupported architecture, a missing tensor). */
mast_status mast_local_generator_open(const char *path, const mast_local_opts *opts,
                                      mast_generator **out);
/* Continuous batching on the local engine: requests begin (each in a slot:
** its own context, reusing the longest prefix a slot holds), and every step
** advances them all together: a prompt_chunk of the oldest unfinished
** prompt, then one token of every generating request, decoded in one pass.
** A request's tokens are those it gets alone (greedy: the same ids; with a
** seed: the same text), whatever runs beside it. All from one thread. */
typedef void (*mast_gen_done_fn)(void *ctx, mast_status st);
/* Starts r in an idle slot: MAST_ERR_LIMIT when every slot is busy, or the
** request's own error (nothing started, done not called). Else text comes
** through fn during later steps, and done(done_ctx, status) is called when
** it ends (out filled), from within a step. r must live until then. */
mast_status mast_local_generator_begin(mast_generator *g, const mast_gen_request *r,
                                       mast_gen_text_fn fn, void *ctx, mast_gen_result *out,
                                       mast_gen_done_fn done, void *done_ctx);
/* One step of every running request (a failure of the decode ends the
** requests it ran, with that status, and is returned). */
mast_status mast_local_generator_step(mast_generator *g);
/* Requests running now; slots in all (0 for other generators). */
int mast_local_generator_active(const mast_generator *g);
int mast_local_generator_slots(const mast_generator *g);

/* What a slot holds now (from the thread that steps, between steps). */
typedef struct mast_slot_info {
    const char *state;           /* "idle", "waiting" (for KV memory), "prompt" (processing
                                 ** it) or "generating" */
    int n_ctx;                   /* the slot's context size */
    int cached_tokens;           /* tokens its KV cache holds (idle: a cached prefix) */
    int prompt_tokens, generated_tokens;   /* the running request's (0 when idle) */
    size_t kv_bytes;             /* the memory its KV cache holds */
} mast_slot_info;
/* Fills out[0..cap) with the first slots; returns how many there are. */
int mast_local_generator_slot_info(const mast_generator *g, mast_slot_info *out, int cap);

/* The chat format the local engine uses (-1 for other generators). */
int mast_local_generator_chat_format(const mast_generator *g);
/* How the local engine renders chats: "jinja" (the template), or the
** built-in family's name; *why (when not NULL) is why a template present
** is not used ("" when none). */
const char *mast_local_generator_template(const mast_generator *g, const char **why);
/* The prompt text a chat request renders to (what generation tokenizes, a
** leading BOS the tokenizer adds itself dropped). MAST_ERR_INVALID with the
** template's own message when it refuses the conversation. */
mast_status mast_local_generator_render(const mast_generator *g, const mast_gen_request *r,
                                        mast_buf *out);

/* What a local model is, for listings (/v1/models); NULL fields for others. */
typedef struct mast_local_info {
    const char *arch;            /* general.architecture */
    const char *quant;           /* the type of most of the weights' bytes ("q4_K", "f32") */
    int n_ctx, n_ctx_train, n_vocab;
    const struct mast_tokenizer *tok;
    const struct mast_gguf *gguf;
} mast_local_info;
/* MAST_ERR_INVALID for a generator that is not local. */
mast_status mast_local_generator_info(const mast_generator *g, mast_local_info *out);

#endif
