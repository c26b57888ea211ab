/*
** model/generate.c — the generator interface and the local engine (see
** generate.h).
**
** The local engine keeps the tokens its context holds, so a chat that grows
** turn by turn only decodes the new part (the common prefix is kept).
*/
#include "model/generate_impl.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "base/status.h"
#include "model/jinja.h"
#include "model/llama.h"
#include "model/tokenizer.h"

/* Prompt tokens per decode call: what a step adds to the running requests'
** inter-token time (124M Q4_K_M, 2 threads: about 40 ms), at a prompt rate
** within 10% of 512-token calls' (3,250 against 3,040-3,400 tokens/s). */
#define PROMPT_CHUNK 128
#define DEFAULT_MAX_CTX 4096

mast_status mast_generate(mast_generator *g, const mast_gen_request *r, mast_gen_text_fn fn,
                          void *ctx, mast_gen_result *out)
{
    memset(out, 0, sizeof *out);
    out->stop_index = -1;
    if (r->params.max_tokens <= 0)
        return mast_fail(MAST_ERR_INVALID, "max tokens must be at least 1 (got %d)", r->params.max_tokens);
    if (!r->messages && !r->chat && !r->prompt)
        return mast_fail(MAST_ERR_INVALID, "nothing to generate from: no messages and no prompt");
    return g->ops->generate(g, r, fn, ctx, out);
}

mast_status mast_gen_count_tokens(mast_generator *g, const mast_gen_request *r, int *n_tokens)
{
    *n_tokens = 0;
    if (!r->messages && !r->chat && !r->prompt)
        return mast_fail(MAST_ERR_INVALID, "nothing to count: no messages and no prompt");
    return g->ops->count(g, r, n_tokens);
}

void mast_gen_result_free(mast_gen_result *r)
{
    free(r->prompt_ids);
    free(r->ids);
    r->prompt_ids = r->ids = NULL;
}

void mast_generator_free(mast_generator *g)
{
    if (g)
        g->ops->free(g);
}

const char *mast_generator_describe(const mast_generator *g)
{
    return g->ops->describe(g);
}

/* ---- the local engine ---- */

/* The chat through the template: transformers' variables (messages, tools,
** add_generation_prompt, bos_token, eos_token). */
static mast_status render_template(const local *l, const mast_gen_request *r, mast_buf *out)
{
    json_t *vars = json_object(), *chat = (json_t *)r->chat, *built = NULL;
    if (!chat) {
        chat = built = json_array();
        for (size_t i = 0; i < r->n_messages; i++)
            json_array_append_new(built, json_pack("{s:s, s:s}", "role", r->messages[i].role,
                                                   "content", r->messages[i].content));
    }
    json_object_set(vars, "messages", chat);
    if (r->tools && json_array_size(r->tools))
        json_object_set(vars, "tools", (json_t *)r->tools);
    json_object_set_new(vars, "add_generation_prompt", json_boolean(!r->no_generation_prompt));
    json_object_set_new(vars, "bos_token", mast_json_string_lossy(l->bos_text ? l->bos_text : ""));
    json_object_set_new(vars, "eos_token", mast_json_string_lossy(l->eos_text ? l->eos_text : ""));
    size_t start = out->len;
    mast_status st = mast_jinja_render(l->tmpl, vars, NULL, out);
    if (st != MAST_OK)
        mast_fail_prefix(st, "the model's chat template refused the conversation");
    /* the tokenizer adds BOS itself: the template's would make two */
    size_t nb = l->bos_text ? strlen(l->bos_text) : 0;
    if (st == MAST_OK && nb && mast_tokenizer_adds_bos(l->tok) && out->len - start >= nb &&
        memcmp(out->data + start, l->bos_text, nb) == 0) {
        memmove(out->data + start, out->data + start + nb, out->len - start - nb + 1);
        out->len -= nb;
    }
    json_decref(built);
    json_decref(vars);
    return st;
}

static mast_status render_chat(const local *l, const mast_gen_request *r, mast_buf *out)
{
    if (l->tmpl)
        return render_template(l, r, out);
    return mast_chat_render(l->format, r->messages, r->n_messages, out);
}

/* The request's prompt as tokens: the rendered chat (special tokens parsed)
** or the raw prompt. */
mast_status gen_prompt_tokens(local *l, const mast_gen_request *r, mast_tokens *ids)
{
    mast_buf prompt = {0};
    bool chat = r->messages != NULL || r->chat != NULL;
    mast_status st = chat ? render_chat(l, r, &prompt) : mast_buf_puts(&prompt, r->prompt);
    if (st == MAST_OK)
        st = mast_tokenize(l->tok, mast_buf_cstr(&prompt), prompt.len, true, chat, ids);
    mast_buf_free(&prompt);
    return st;
}

static mast_status local_count(mast_generator *g, const mast_gen_request *r, int *n_tokens)
{
    mast_tokens ids = {0};
    mast_status st = gen_prompt_tokens((local *)g, r, &ids);
    *n_tokens = (int)ids.n;
    mast_tokens_free(&ids);
    return st;
}

#define CANDIDATES_MAX 256

/* The ids of the n largest finite logits, best first (the lower id first on
** a tie, as the sampler's argmax). */
static size_t top_ids(const float *logits, int V, int32_t *ids, size_t n)
{
    size_t k = 0;
    for (int i = 0; i < V; i++) {
        float v = logits[i];
        if (v == -INFINITY || (k == n && v <= logits[ids[n - 1]]))
            continue;
        size_t j = k < n ? k++ : n - 1;
        while (j > 0 && logits[ids[j - 1]] < v) {
            ids[j] = ids[j - 1];
            j--;
        }
        ids[j] = (int32_t)i;
    }
    return k;
}

static bool constraint_allows(local *l, mast_gen_constraint *c, int32_t tok)
{
    size_t len = 0;
    const char *piece = mast_tokenizer_is_eog(l->tok, tok) ? NULL : mast_tokenizer_piece(l->tok, tok, &len);
    return c->allows(c->ctx, tok, piece, len);
}

static int cmp_id(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The sampler's draw among ids[0..n) alone, in id order: the draw it makes
** over the whole vocabulary with every other logit at -INFINITY (the same
** kept set, ties and random number), without a pass over the vocabulary.
** Only without penalties, which look tokens up by id. */
static int32_t sample_among(mast_sampler *sampler, const float *logits, const int32_t *ids, size_t n,
                            float *buf)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = logits[ids[i]];
    return ids[mast_sampler_sample(sampler, buf, (int)n, NULL, 0)];
}

/* Picks the next token: the logit biases, then the sampler. Under a
** constraint, exactly as if every disallowed token were masked first, at
** the least cost that allows. When no penalty reorders the logits and the
** sampler looks at no more than its top-k tokens (greedy is top-1), one pass
** finds the 4k likeliest (at least 64):
**   1. the sampler's own draw, made from the k likeliest, when the
**      constraint allows it (greedy: the likeliest allowed of the 64);
**   2. else the k likeliest allowed ones among them: the sampler draws
**      again from those alone, which is what masking would have left it.
** Otherwise (penalties, top-k off or above 64) the sampler draws from the
** whole vocabulary and the constraint checks that one token. When neither
** finds an allowed token, the constraint lists every one it allows and the
** sampler draws among them. -1 when the constraint allows no token at all.
** ids and scratch hold V. */
int32_t gen_next_token(local *l, mast_sampler *sampler, const mast_gen_params *p, int V,
                          const int32_t *hist, size_t n_hist, float *scratch, int32_t *ids,
                          float *logits)
{
    for (size_t i = 0; i < p->n_bias; i++)
        if (p->bias_ids[i] >= 0 && p->bias_ids[i] < V)
            logits[p->bias_ids[i]] = p->bias[i] <= -100 ? -INFINITY : logits[p->bias_ids[i]] + p->bias[i];
    mast_gen_constraint *c = p->constraint;
    if (!c)
        return mast_sampler_sample(sampler, logits, V, hist, n_hist);
    const mast_sampler_params *sp = &p->sampler;
    bool reorders = sp->repeat_penalty != 1 || sp->frequency_penalty != 0 || sp->presence_penalty != 0;
    int k = sp->temperature <= 0 ? 1 : sp->top_k;
    if (!reorders && k > 0 && 4 * k <= CANDIDATES_MAX) {
        int32_t cand[CANDIDATES_MAX];
        size_t n = top_ids(logits, V, cand, (size_t)(4 * k < 64 ? 64 : 4 * k)), found = 0;
        if (sp->temperature <= 0) {
            for (size_t i = 0; i < n; i++)
                if (constraint_allows(l, c, cand[i]))
                    return cand[i];
        } else {
            size_t top = n < (size_t)k ? n : (size_t)k;
            memcpy(ids, cand, top * sizeof *ids);
            qsort(ids, top, sizeof *ids, cmp_id);
            int32_t tok = top ? sample_among(sampler, logits, ids, top, scratch) : -1;
            if (tok >= 0 && constraint_allows(l, c, tok))
                return tok;
            for (size_t i = 0; i < n && found < (size_t)k; i++)
                if (constraint_allows(l, c, cand[i]))
                    ids[found++] = cand[i];
            if (found == (size_t)k) {
                qsort(ids, found, sizeof *ids, cmp_id);
                return sample_among(sampler, logits, ids, found, scratch);
            }
        }
    } else {
        /* penalties change the logits in place: draw from a copy */
        float *first = reorders ? memcpy(scratch, logits, (size_t)V * sizeof *scratch) : logits;
        int32_t tok = mast_sampler_sample(sampler, first, V, hist, n_hist);
        if (constraint_allows(l, c, tok))
            return tok;
    }
    size_t listed = c->allowed(c->ctx, V, l->pool, ids), n = 0;
    for (size_t i = 0; i < listed; i++)
        if (logits[ids[i]] != -INFINITY)   /* what logit_bias banned stays banned */
            ids[n++] = ids[i];
    if (!n)
        return -1;   /* a dead end */
    if (!reorders)
        return sample_among(sampler, logits, ids, n, scratch);
    for (int i = 0; i < V; i++)
        scratch[i] = -INFINITY;
    for (size_t i = 0; i < n; i++)
        scratch[ids[i]] = logits[ids[i]];
    return mast_sampler_sample(sampler, scratch, V, hist, n_hist);
}

static const char *local_describe(const mast_generator *g)
{
    return ((const local *)g)->path;
}

static void local_free(mast_generator *g)
{
    local *l = (local *)g;
    gen_cache_save(l);   /* with a cache folder: the prompt cache outlives this */
    free(l->cache_dir);
    if (l->packer_started)
        pthread_join(l->packer, NULL);
    mast_llama_packed *packed = atomic_exchange(&l->packed, NULL);
    if (packed)
        mast_llama_use_packed(l->llama, packed);   /* owned by the model now, freed with it */
    for (int i = 0; l->slots && i < l->n_slots; i++) {
        mast_llama_ctx_free(l->slots[i].ctx);
        free(l->slots[i].held);
    }
    free(l->slots);
    mast_llama_batch_free(l->batch);
    mast_llama_free(l->llama);
    mast_tokenizer_free(l->tok);
    mast_jinja_free(l->tmpl);
    free(l->bos_text);
    free(l->eos_text);
    mast_gguf_close(l->gguf);
    mast_pool_free(l->pool);
    free(l->logits);
    free(l->path);
    free(l);
}

/* MemAvailable of /proc/meminfo in bytes; 0 when unknown. */
static uint64_t available_memory(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    uint64_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

/* As many full contexts as a quarter of the available memory holds, 1 to 16
** (a slot's cache grows only as far as its requests need). */
static int slots_from_memory(const local *l, mast_dtype kv_type)
{
    uint64_t avail = available_memory(), full = mast_llama_kv_bytes(l->llama, kv_type, l->n_ctx);
    uint64_t n = avail && full ? avail / 4 / full : 4;
    return n < 1 ? 1 : n > 16 ? 16 : (int)n;
}

static const mast_generator_ops local_ops = {gen_local_generate, local_count, local_describe, local_free};
static mast_status open_template(local *l, const mast_local_opts *o);

bool gen_is_local(const mast_generator *g)
{
    return g->ops == &local_ops;
}

mast_status mast_local_generator_open(const char *path, const mast_local_opts *opts,
                                      mast_generator **out)
{
    *out = NULL;
    mast_local_opts o = opts ? *opts : MAST_LOCAL_OPTS_DEFAULT;
    local *l = calloc(1, sizeof *l);
    if (!l)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    l->base.ops = &local_ops;
    l->path = strdup(path);
    mast_status st = l->path ? mast_gguf_open(&l->gguf, path) : mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (st == MAST_OK)
        st = mast_llama_load(&l->llama, l->gguf);
    if (st == MAST_OK)
        st = mast_tokenizer_load(&l->tok, l->gguf);
    if (st == MAST_OK) {
        int n_ctx = o.n_ctx;
        int train = mast_llama_info_of(l->llama)->n_ctx_train;
        if (n_ctx <= 0)
            n_ctx = train < DEFAULT_MAX_CTX ? train : DEFAULT_MAX_CTX;
        else if (train > 0 && n_ctx > train)
            mast_warn("%s: a context of %d tokens is more than the %d the model was trained on; "
                      "quality may fall past %d", path, n_ctx, train, train);
        l->n_ctx = n_ctx;
        l->n_slots = o.slots > 0 ? o.slots : o.slots < 0 ? slots_from_memory(l, o.kv_type) : 1;
        l->prompt_chunk = o.prompt_chunk > 0 ? o.prompt_chunk : PROMPT_CHUNK;
        l->kv_budget = o.kv_memory;
        l->kv_type = o.kv_type;
        if (!(l->slots = calloc((size_t)l->n_slots, sizeof *l->slots)))
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; st == MAST_OK && i < l->n_slots; i++) {
        st = mast_llama_ctx_new(l->llama, l->n_ctx, o.kv_type, &l->slots[i].ctx);
        if (st == MAST_OK)
            mast_llama_ctx_set_fast_prompt(l->slots[i].ctx, o.fast_prompt);
    }
    if (st == MAST_OK)
        st = mast_llama_batch_new(l->llama, &l->batch);

    if (st == MAST_OK)
        st = mast_pool_create(&l->pool, o.threads);
    if (st == MAST_OK && !(l->logits = malloc((size_t)l->n_slots * (size_t)mast_llama_info_of(l->llama)->n_vocab * sizeof(float))))
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (st != MAST_OK) {
        local_free(&l->base);
        return st;
    }
    st = open_template(l, &o);
    if (st == MAST_OK)
        st = gen_cache_open(l, o.cache_dir);
    if (st != MAST_OK) {
        local_free(&l->base);
        return st;
    }
    *out = &l->base;
    return MAST_OK;
}

static char *token_text(const mast_tokenizer *t, int32_t id)
{
    size_t n = 0;
    const char *p = id >= 0 ? mast_tokenizer_text(t, id, &n) : NULL;
    return p ? strndup(p, n) : NULL;
}

/* The chat template: the one given, else the model's own, through the
** interpreter; the built-in family (from its markers) when there is none,
** when --chat-format names one, or when the model's own does not parse. */
static mast_status open_template(local *l, const mast_local_opts *o)
{
    mast_gguf_str own = {0};
    const char *src = o->chat_template;
    size_t len = src ? strlen(src) : 0;
    if (!src && mast_gguf_get_str(l->gguf, "tokenizer.chat_template", &own) == MAST_OK) {
        src = own.data;
        len = own.len;
    }
    l->format = o->chat_format >= 0 ? (mast_chat_format)o->chat_format
              : src ? mast_chat_detect(src, len) : MAST_CHAT_PLAIN;
    l->bos_text = token_text(l->tok, mast_tokenizer_bos(l->tok));
    l->eos_text = token_text(l->tok, mast_tokenizer_eos(l->tok));
    if (!src || o->chat_format >= 0)
        return MAST_OK;
    const char *name = o->chat_template ? (o->chat_template_name ? o->chat_template_name : "(given)")
                                        : "tokenizer.chat_template";
    mast_status st = mast_jinja_parse(src, len, name, &l->tmpl);
    if (st == MAST_OK)
        return MAST_OK;
    if (o->chat_template)   /* the user's own file: an error to fix, not a fallback */
        return mast_fail_prefix(st, "%s", "--chat-template-file");
    snprintf(l->tmpl_note, sizeof l->tmpl_note, "%s", mast_errmsg());
    mast_warn("%s: the model's chat template is not supported (%s); rendering chats with the "
              "built-in '%s' format instead", l->path, l->tmpl_note, mast_chat_format_name(l->format));
    return MAST_OK;
}

const char *mast_local_generator_template(const mast_generator *g, const char **why)
{
    if (why)
        *why = "";
    if (g->ops != &local_ops)
        return NULL;
    const local *l = (const local *)g;
    if (why)
        *why = l->tmpl_note;
    return l->tmpl ? "jinja" : mast_chat_format_name(l->format);
}

mast_status mast_local_generator_render(const mast_generator *g, const mast_gen_request *r,
                                        mast_buf *out)
{
    if (g->ops != &local_ops)
        return mast_fail(MAST_ERR_INVALID, "%s is not a local model", mast_generator_describe(g));
    if (!r->messages && !r->chat)
        return mast_fail(MAST_ERR_INVALID, "no messages to render");
    return render_chat((const local *)g, r, out);
}

int mast_local_generator_chat_format(const mast_generator *g)
{
    return g->ops == &local_ops ? (int)((const local *)g)->format : -1;
}

mast_status mast_local_generator_info(const mast_generator *g, mast_local_info *out)
{
    memset(out, 0, sizeof *out);
    if (g->ops != &local_ops)
        return mast_fail(MAST_ERR_INVALID, "%s is not a local model", mast_generator_describe(g));
    const local *l = (const local *)g;
    const mast_llama_info *info = mast_llama_info_of(l->llama);
    out->arch = info->arch;
    out->n_ctx = l->n_ctx;
    out->n_ctx_train = info->n_ctx_train;
    out->n_vocab = info->n_vocab;
    out->tok = l->tok;
    out->gguf = l->gguf;
    /* the weights' type: the one that holds the most bytes */
    size_t bytes[MAST_DTYPE_COUNT] = {0};
    for (size_t i = 0; i < l->gguf->n_tensors; i++)
        if ((unsigned)l->gguf->tensors[i].type < MAST_DTYPE_COUNT)
            bytes[l->gguf->tensors[i].type] += l->gguf->tensors[i].nbytes;
    int best = 0;
    for (int t = 1; t < MAST_DTYPE_COUNT; t++)
        if (bytes[t] > bytes[best])
            best = t;
    out->quant = (mast_dtype_get((uint32_t)best) ? mast_dtype_get((uint32_t)best)->name : "unknown");
    return MAST_OK;
}
