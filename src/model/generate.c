/*
** model/generate.c — the generator interface and the local engine (see
** generate.h).
**
** The local engine keeps the tokens its context holds, so a chat that grows
** turn by turn only decodes the new part (the common prefix is kept).
*/
#include "model/generate.h"

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
} local;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The longest suffix of text[0..n) that is a proper prefix of a stop string. */
static size_t held_back(const char *text, size_t n, const char *const *stop, size_t n_stop)
{
    size_t best = 0;
    for (size_t s = 0; s < n_stop; s++) {
        size_t k = mast_partial_suffix(text, n, stop[s]);
        if (k > best)
            best = k;
    }
    return best;
}

static mast_status push_held(slot *sl, const int32_t *ids, size_t n)
{
    if (!mast_grow_array((void **)&sl->held, &sl->cap_held, sl->n_held + n, sizeof *sl->held))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    memcpy(sl->held + sl->n_held, ids, n * sizeof *ids);
    sl->n_held += n;
    return MAST_OK;
}

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
static mast_status prompt_tokens(local *l, const mast_gen_request *r, mast_tokens *ids)
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
    mast_status st = prompt_tokens((local *)g, r, &ids);
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
static int32_t next_token(local *l, mast_sampler *sampler, const mast_gen_params *p, int V,
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

/* ---- requests as sequences: begun, stepped together, ended ---- */

static const mast_generator_ops local_ops;

/* A cached prefix shorter than this is not worth reusing (unless it is the
** whole prompt): the prompt is decoded from its start, in the same chunks
** as on an empty slot, so that its results do not depend on which slot it
** lands on. */
#define MIN_REUSE 32

struct seq {
    slot *sl;
    const mast_gen_request *r;
    mast_gen_text_fn fn;
    void *cb_ctx;
    mast_gen_result *out;
    mast_gen_done_fn done;
    void *done_ctx;
    uint64_t order;           /* when it began: prompts are decoded oldest first */
    mast_tokens ids;          /* the prompt */
    size_t next;              /* the prompt tokens the context holds */
    mast_sampler *sampler;
    float *scratch;
    int32_t *scratch_ids;
    int32_t *hist;            /* the prompt and then the generated tokens (penalties see both) */
    size_t n_hist, cap_hist;
    mast_buf text;
    size_t emitted;           /* bytes of text handed to the callback */
    size_t longest_stop;
    int stopped;
    int32_t tok;              /* generating: the token to decode next */
    bool generating;
    bool admitted;            /* its KV cache's room is reserved (it waits for memory until) */
    int need;                 /* the positions it may take: prompt + max_tokens, at most n_ctx */
    double t_prompt, t_gen;
};

static void seq_free(seq *q)
{
    mast_sampler_free(q->sampler);
    free(q->scratch);
    free(q->scratch_ids);
    free(q->hist);
    mast_buf_free(&q->text);
    mast_tokens_free(&q->ids);
    free(q);
}

/* Ends a sequence: its result filled (the token ids handed over), the slot
** idle (its context still holding the tokens: a cached prefix), done told. */
static void seq_end(local *l, seq *q, mast_status st)
{
    mast_gen_result *out = q->out;
    out->gen_seconds = q->generating ? now() - q->t_gen : 0;
    if (st == MAST_OK && !q->stopped && q->text.len > q->emitted && q->fn)   /* held back, never completed */
        q->fn(q->cb_ctx, q->text.data + q->emitted, q->text.len - q->emitted);
    int32_t *gen = NULL;   /* the generated tail of hist */
    if (st == MAST_OK && !(gen = malloc(((size_t)out->completion_tokens + 1) * sizeof *gen)))
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (st == MAST_OK) {
        memcpy(gen, q->hist + q->ids.n, (size_t)out->completion_tokens * sizeof *gen);
        out->prompt_ids = q->ids.ids;   /* handed over */
        out->ids = gen;
        q->ids = (mast_tokens){0};
    }
    slot *sl = q->sl;
    sl->seq = NULL;
    sl->used_at = ++l->clock;
    if ((size_t)mast_llama_ctx_used(sl->ctx) != sl->n_held) {   /* out of step after a failure */
        mast_llama_ctx_truncate(sl->ctx, 0);
        sl->n_held = 0;
    }
    mast_gen_done_fn done = q->done;
    void *done_ctx = q->done_ctx;
    seq_free(q);
    if (done)
        done(done_ctx, st);
}

/* The longest prefix of ids that s holds, as it would be reused. */
static size_t common_prefix(const slot *s, const mast_tokens *ids)
{
    size_t common = 0;
    while (common < s->n_held && common < ids->n && s->held[common] == ids->ids[common])
        common++;
    if (common == ids->n && common > 0)
        common--;   /* the last token is decoded again: its logits are needed */
    size_t least = ids->n - 1 < MIN_REUSE ? ids->n - 1 : MIN_REUSE;
    return common >= least ? common : 0;
}

/* Where a request goes: the idle slot with the longest reusable prefix;
** without one, an empty slot, else the least recently used. A longer
** prefix held by a busy slot is copied over (its positions up to there do
** not change while it runs on). NULL when every slot is busy. */
static mast_status pick_slot(local *l, const mast_tokens *ids, bool no_cache, slot **out, size_t *common)
{
    slot *best = NULL, *lru = NULL, *donor = NULL;
    size_t best_n = 0, donor_n = 0;
    for (int i = 0; i < l->n_slots; i++) {
        slot *s = &l->slots[i];
        size_t c = no_cache ? 0 : common_prefix(s, ids);
        if (s->seq) {
            if (c > donor_n && (size_t)mast_llama_ctx_used(s->ctx) >= c) {
                donor = s;
                donor_n = c;
            }
            continue;
        }
        if (c > best_n || (c == best_n && best && c && s->used_at > best->used_at)) {
            best = s;
            best_n = c;
        }
        if (!lru || (s->n_held == 0) > (lru->n_held == 0) ||
            ((s->n_held == 0) == (lru->n_held == 0) && s->used_at < lru->used_at))
            lru = s;
    }
    *out = best_n ? best : lru;
    *common = best_n;
    if (!*out)
        return mast_fail(MAST_ERR_LIMIT, "every one of the %d slots is busy", l->n_slots);
    if (donor_n > best_n) {   /* a running request holds more of this prompt */
        slot *s = *out;
        MAST_TRY(mast_llama_ctx_copy(s->ctx, donor->ctx, (int)donor_n));
        s->n_held = 0;
        MAST_TRY(push_held(s, donor->held, donor_n));
        *common = donor_n;
    }
    return MAST_OK;
}

static size_t kv_held(const local *l)
{
    size_t n = 0;
    for (int i = 0; i < l->n_slots; i++)
        n += mast_llama_ctx_bytes(l->slots[i].ctx);
    return n;
}

/* Reserves q's KV room within the budget, freeing idle slots' cached
** prefixes (least recently used first) when it must; false: not now (it
** waits, and is tried again each step as running requests end). */
static bool admit(local *l, seq *q)
{
    if (q->admitted)
        return true;
    slot *sl = q->sl;
    if (l->kv_budget) {
        size_t grow = mast_llama_ctx_bytes_after(sl->ctx, q->need) - mast_llama_ctx_bytes(sl->ctx);
        while (kv_held(l) + grow > l->kv_budget) {
            slot *lru = NULL;
            for (int i = 0; i < l->n_slots; i++) {
                slot *s = &l->slots[i];
                if (!s->seq && mast_llama_ctx_bytes(s->ctx) && (!lru || s->used_at < lru->used_at))
                    lru = s;
            }
            if (!lru)
                return false;
            mast_llama_ctx_release(lru->ctx);   /* its cached prefix is dropped */
            lru->n_held = 0;
        }
    }
    if (mast_llama_ctx_reserve(sl->ctx, q->need) != MAST_OK)
        return false;   /* no memory now: try again when some is freed */
    q->admitted = true;
    q->t_prompt = now();   /* the wait for memory is queue time, not prompt time */
    return true;
}

static mast_status seq_begin(local *l, const mast_gen_request *r, mast_gen_text_fn fn, void *cb_ctx,
                             mast_gen_result *out, mast_gen_done_fn done, void *done_ctx)
{
    const mast_gen_params *p = &r->params;
    int n_ctx = l->n_ctx, V = mast_llama_info_of(l->llama)->n_vocab;
    seq *q = calloc(1, sizeof *q);
    if (!q)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    q->r = r;
    q->fn = fn;
    q->cb_ctx = cb_ctx;
    q->out = out;
    q->done = done;
    q->done_ctx = done_ctx;
    mast_status st = mast_sampler_new(&p->sampler, &q->sampler);
    if (st == MAST_OK && p->constraint && (!(q->scratch = malloc((size_t)V * sizeof *q->scratch)) ||
                                           !(q->scratch_ids = malloc((size_t)V * sizeof *q->scratch_ids))))
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (st == MAST_OK)
        st = prompt_tokens(l, r, &q->ids);
    if (st == MAST_OK && q->ids.n == 0)
        st = mast_fail(MAST_ERR_INVALID, "the prompt is empty and the model adds no BOS token");
    if (st == MAST_OK && p->fit && q->ids.n + (size_t)p->max_tokens > (size_t)n_ctx)
        st = mast_fail(MAST_ERR_LIMIT, "the prompt is %zu tokens and max_tokens is %d: %zu tokens, "
                       "more than the context's %d", q->ids.n, p->max_tokens,
                       q->ids.n + (size_t)p->max_tokens, n_ctx);
    if (st == MAST_OK && q->ids.n >= (size_t)n_ctx)
        st = mast_fail(MAST_ERR_LIMIT, "the prompt is %zu tokens; the context holds %d (raise --ctx)",
                       q->ids.n, n_ctx);
    out->prompt_tokens = (int)q->ids.n;
    out->n_ctx = n_ctx;
    q->need = (size_t)p->max_tokens >= (size_t)n_ctx - q->ids.n ? n_ctx : (int)q->ids.n + p->max_tokens;
    size_t need_bytes = mast_llama_kv_bytes(l->llama, l->kv_type, q->need);
    if (st == MAST_OK && l->kv_budget && need_bytes > l->kv_budget)
        st = mast_fail(MAST_ERR_LIMIT, "the request may take %d positions (its prompt and max_tokens), "
                       "%.1f MB of KV cache: more than the %.1f MB of --kv-memory (lower max_tokens, "
                       "or raise --kv-memory)", q->need, need_bytes / 1e6, l->kv_budget / 1e6);
    size_t common = 0;
    if (st == MAST_OK)
        st = pick_slot(l, &q->ids, p->no_prompt_cache, &q->sl, &common);
    if (st == MAST_OK && !mast_grow_array((void **)&q->hist, &q->cap_hist, q->ids.n + 64, sizeof *q->hist))
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (st != MAST_OK) {
        seq_free(q);
        return st;
    }
    out->cached_tokens = (int)common;
    mast_llama_ctx_truncate(q->sl->ctx, (int)common);
    q->sl->n_held = common;
    q->sl->seq = q;
    q->next = common;
    memcpy(q->hist, q->ids.ids, q->ids.n * sizeof *q->hist);
    q->n_hist = q->ids.n;
    out->finish_reason = "length";
    for (size_t s = 0; s < p->n_stop; s++)
        if (strlen(p->stop[s]) > q->longest_stop)
            q->longest_stop = strlen(p->stop[s]);
    q->order = ++l->clock;
    q->t_prompt = now();
    admit(l, q);   /* else it waits in its slot for memory */
    return MAST_OK;
}

/* The sequence's next token from logits: sampled, its text given to the
** callback (up to a stop string); 1 when the sequence is finished, 0 when
** q->tok is to be decoded next, or a failure. */
static int seq_take(local *l, seq *q, float *logits, mast_status *st)
{
    const mast_gen_params *p = &q->r->params;
    mast_gen_result *out = q->out;
    int V = mast_llama_info_of(l->llama)->n_vocab;
    mast_gen_constraint *c = p->constraint;
    if (out->completion_tokens >= p->max_tokens)
        return 1;
    if (c && c->complete(c->ctx)) {   /* the grammar admits nothing more */
        out->finish_reason = "stop";
        return 1;
    }
    int32_t tok = next_token(l, q->sampler, p, V, q->hist, q->n_hist, q->scratch, q->scratch_ids, logits);
    if (tok < 0) {
        *st = mast_fail(MAST_ERR_UNSUPPORTED, "no token of %s's vocabulary can continue the "
                        "grammar after %d generated tokens (does logit_bias ban the ones it "
                        "needs, or is the grammar too ambiguous to follow?)", l->path,
                        out->completion_tokens);
        return -1;
    }
    if (mast_tokenizer_is_eog(l->tok, tok)) {
        out->finish_reason = "stop";
        return 1;
    }
    if (c) {
        size_t plen = 0;
        const char *piece = mast_tokenizer_piece(l->tok, tok, &plen);
        if ((*st = c->accept(c->ctx, tok, piece, plen)) != MAST_OK)
            return -1;
    }
    if (!mast_grow_array((void **)&q->hist, &q->cap_hist, q->n_hist + 1, sizeof *q->hist)) {
        *st = mast_fail(MAST_ERR_NOMEM, "out of memory");
        return -1;
    }
    q->hist[q->n_hist++] = tok;
    out->completion_tokens++;
    mast_buf *text = &q->text;
    if ((*st = mast_token_to_piece(l->tok, tok, false, text)) != MAST_OK)
        return -1;
    /* a stop string ends the text before it */
    size_t upto = text->len;
    for (size_t s = 0; s < p->n_stop; s++) {
        size_t from = q->emitted > q->longest_stop ? q->emitted - q->longest_stop : 0;
        const char *hit = p->stop[s][0] ? strstr(text->data + from, p->stop[s]) : NULL;
        if (hit && (size_t)(hit - text->data) < upto) {
            upto = (size_t)(hit - text->data);
            q->stopped = 1;
            out->stop_index = (int)s;
        }
    }
    if (q->stopped) {
        out->finish_reason = "stop";
        text->len = upto;
        text->data[upto] = '\0';
    }
    size_t safe = q->stopped ? text->len : text->len - held_back(text->data, text->len, p->stop, p->n_stop);
    if (safe > q->emitted) {
        if (q->fn && q->fn(q->cb_ctx, text->data + q->emitted, safe - q->emitted)) {
            q->stopped = 1;   /* the caller had enough */
            out->finish_reason = "stop";
        }
        q->emitted = safe;
    }
    if (q->stopped || out->completion_tokens >= p->max_tokens)
        return 1;
    slot *sl = q->sl;
    if (mast_llama_ctx_used(sl->ctx) >= l->n_ctx) {
        if (!p->ctx_shift) {   /* a finish reason, not a failure */
            out->context_full = true;
            return 1;
        }
        /* keep the first token (BOS), drop half of the rest */
        int keep = 1, discard = (mast_llama_ctx_used(sl->ctx) - keep) / 2;
        if ((*st = mast_llama_ctx_shift(sl->ctx, keep, discard)) != MAST_OK)
            return -1;
        memmove(sl->held + keep, sl->held + keep + discard,
                (sl->n_held - (size_t)keep - (size_t)discard) * sizeof *sl->held);
        sl->n_held -= (size_t)discard;
    }
    q->tok = tok;
    return 0;
}

/* After a sequence's logits: on to generating, or its end. */
static void seq_after(local *l, seq *q, float *logits)
{
    mast_status st = MAST_OK;
    if (!q->generating) {
        q->generating = true;
        q->t_gen = now();
        q->out->prompt_seconds = q->t_gen - q->t_prompt;
    }
    int r = seq_take(l, q, logits, &st);
    if (r)
        seq_end(l, q, r < 0 ? st : MAST_OK);
}

/* The packer thread: the weights' tiles, for local_step to install (the
** model serves meanwhile, on kernels that pack as they go). */
static void *pack_weights(void *arg)
{
    local *l = arg;
    size_t bytes;
    mast_llama_packed *p = mast_llama_pack(l->llama, &bytes);
    if (bytes)
        mast_info("%s: %.0f MB of weights packed for decoding requests together", l->path, bytes / 1e6);
    atomic_store(&l->packed, p);
    return NULL;
}

/* Decodes the next chunk of q's prompt; true when the prompt is done (or
** failed: the sequence ended). */
static bool prompt_chunk(local *l, seq *q)
{
    size_t n = q->ids.n - q->next;
    if (n > (size_t)l->prompt_chunk)
        n = (size_t)l->prompt_chunk;
    bool last = q->next + n == q->ids.n;
    mast_status st = mast_llama_batch_decode(l->batch, q->sl->ctx, l->pool, q->ids.ids + q->next,
                                             (int)n, false, last ? l->logits : NULL);
    if (st == MAST_OK)
        st = push_held(q->sl, q->ids.ids + q->next, n);
    q->next += n;
    if (st != MAST_OK)
        seq_end(l, q, st);
    else if (last)
        seq_after(l, q, l->logits);
    return last || st != MAST_OK;
}

/* One step: a chunk of the oldest unfinished prompt (the whole prompt,
** chunk after chunk, when nothing is generating: nobody waits for it), then
** the next token of every generating sequence, all in one pass. The chunks
** are the same either way, so a prompt's results do not depend on what runs
** beside it. */
static mast_status local_step(local *l)
{
    mast_llama_packed *packed = atomic_exchange(&l->packed, NULL);
    if (packed)   /* the packer is done: between decodes, the tiles are installed */
        mast_llama_use_packed(l->llama, packed);
    seq *oldest = NULL, *waiting[l->n_slots > 0 ? l->n_slots : 1];
    int n_waiting = 0;
    bool generating = false;
    for (int i = 0; i < l->n_slots; i++) {
        seq *q = l->slots[i].seq;
        if (q && !q->admitted)
            waiting[n_waiting++] = q;
        generating |= q && q->generating;
    }
    for (int i = 0; i < n_waiting; i++)   /* those waiting for KV memory, oldest first */
        for (int k = i + 1; k < n_waiting; k++)
            if (waiting[k]->order < waiting[i]->order) {
                seq *t = waiting[i];
                waiting[i] = waiting[k];
                waiting[k] = t;
            }
    for (int i = 0; i < n_waiting && admit(l, waiting[i]); i++)
        ;
    for (int i = 0; i < l->n_slots; i++) {
        seq *q = l->slots[i].seq;
        if (q && q->admitted && !q->generating && (!oldest || q->order < oldest->order))
            oldest = q;
    }
    int V = mast_llama_info_of(l->llama)->n_vocab;
    if (oldest)
        while (!prompt_chunk(l, oldest) && !generating)
            ;
    mast_llama_ctx *ctxs[l->n_slots > 0 ? l->n_slots : 1];
    int32_t toks[l->n_slots > 0 ? l->n_slots : 1];
    seq *who[l->n_slots > 0 ? l->n_slots : 1];
    int n = 0;
    for (int i = 0; i < l->n_slots; i++) {
        seq *q = l->slots[i].seq;
        if (q && q->generating && q != oldest) {   /* a first token waits for the next step */
            ctxs[n] = q->sl->ctx;
            toks[n] = q->tok;
            who[n++] = q;
        }
    }
    if (!n)
        return MAST_OK;
    if (n > 1 && !l->packing) {   /* requests decoded together: the tiles packed once, meanwhile */
        l->packing = true;
        l->packer_started = pthread_create(&l->packer, NULL, pack_weights, l) == 0;
        if (!l->packer_started)
            mast_llama_prepack(l->llama);
    }
    mast_status st = n == 1 ? mast_llama_batch_decode(l->batch, ctxs[0], l->pool, toks, 1, false, l->logits)
                            : mast_llama_decode_seqs(l->batch, l->pool, ctxs, toks, n, l->logits);
    for (int i = 0; i < n; i++) {
        if (who[i]->out->batch_max < n)
            who[i]->out->batch_max = n;
        if (st == MAST_OK && push_held(who[i]->sl, &toks[i], 1) == MAST_OK)
            seq_after(l, who[i], l->logits + (size_t)i * V);
        else
            seq_end(l, who[i], st != MAST_OK ? st : MAST_ERR_NOMEM);
    }
    return st;
}

static int local_active(const local *l)
{
    int n = 0;
    for (int i = 0; i < l->n_slots; i++)
        n += l->slots[i].seq != NULL;
    return n;
}

typedef struct sync_done {
    bool done;
    mast_status st;
} sync_done;

static void on_sync_done(void *ctx, mast_status st)
{
    sync_done *d = ctx;
    d->done = true;
    d->st = st;
}

static mast_status local_generate(mast_generator *g, const mast_gen_request *r, mast_gen_text_fn fn,
                                  void *cb_ctx, mast_gen_result *out)
{
    local *l = (local *)g;
    sync_done d = {false, MAST_OK};
    MAST_TRY(seq_begin(l, r, fn, cb_ctx, out, on_sync_done, &d));
    while (!d.done)
        local_step(l);   /* a failure ends the sequence it hit: d says */
    return d.st;
}

mast_status mast_local_generator_begin(mast_generator *g, const mast_gen_request *r,
                                       mast_gen_text_fn fn, void *ctx, mast_gen_result *out,
                                       mast_gen_done_fn done, void *done_ctx)
{
    memset(out, 0, sizeof *out);
    out->stop_index = -1;
    if (g->ops != &local_ops)
        return mast_fail(MAST_ERR_INVALID, "%s is not a local model", mast_generator_describe(g));
    if (r->params.max_tokens <= 0)
        return mast_fail(MAST_ERR_INVALID, "max tokens must be at least 1 (got %d)", r->params.max_tokens);
    if (!r->messages && !r->chat && !r->prompt)
        return mast_fail(MAST_ERR_INVALID, "nothing to generate from: no messages and no prompt");
    return seq_begin((local *)g, r, fn, ctx, out, done, done_ctx);
}

mast_status mast_local_generator_step(mast_generator *g)
{
    if (g->ops != &local_ops)
        return mast_fail(MAST_ERR_INVALID, "%s is not a local model", mast_generator_describe(g));
    return local_step((local *)g);
}

int mast_local_generator_active(const mast_generator *g)
{
    return g->ops == &local_ops ? local_active((const local *)g) : 0;
}

int mast_local_generator_slot_info(const mast_generator *g, mast_slot_info *out, int cap)
{
    if (g->ops != &local_ops)
        return 0;
    const local *l = (const local *)g;
    for (int i = 0; i < l->n_slots && i < cap; i++) {
        const slot *sl = &l->slots[i];
        const seq *q = sl->seq;
        out[i] = (mast_slot_info){
            .state = !q ? "idle" : !q->admitted ? "waiting" : q->generating ? "generating" : "prompt",
            .n_ctx = l->n_ctx,
            .cached_tokens = (int)sl->n_held,
            .prompt_tokens = q ? (int)q->ids.n : 0,
            .generated_tokens = q ? q->out->completion_tokens : 0,
            .kv_bytes = mast_llama_ctx_bytes(sl->ctx),
        };
    }
    return l->n_slots;
}

int mast_local_generator_slots(const mast_generator *g)
{
    return g->ops == &local_ops ? ((const local *)g)->n_slots : 0;
}

static const char *local_describe(const mast_generator *g)
{
    return ((const local *)g)->path;
}

static void local_free(mast_generator *g)
{
    local *l = (local *)g;
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

static const mast_generator_ops local_ops = {local_generate, local_count, local_describe, local_free};
static mast_status open_template(local *l, const mast_local_opts *o);

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
