/*
** model/generate_seq.c — the local engine's requests as sequences (see
** generate.h): each begins in a slot (reusing the longest cached prefix, or
** copying it from a running slot), waits for KV memory when there is a
** budget, and every step advances them all: a prompt chunk, then one token
** of each generating request in one pass.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/status.h"
#include "model/generate_impl.h"

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

/* ---- requests as sequences: begun, stepped together, ended ---- */


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
    double t_begin, t_prompt, t_gen;
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
** not change while it runs on), except under a KV budget: the copy's memory
** would come before the request's reservation. MAST_ERR_LIMIT when every
** slot is busy. */
static mast_status pick_slot(local *l, const mast_tokens *ids, bool no_cache, slot **out, size_t *common)
{
    slot *best = NULL, *lru = NULL, *donor = NULL;
    size_t best_n = 0, donor_n = 0;
    for (int i = 0; i < l->n_slots; i++) {
        slot *s = &l->slots[i];
        size_t c = no_cache ? 0 : common_prefix(s, ids);
        if (s->seq) {
            if (!l->kv_budget && c > donor_n && (size_t)mast_llama_ctx_used(s->ctx) >= c) {
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
        s->n_held = 0;   /* its own cache is gone even if the copy fails */
        MAST_TRY(mast_llama_ctx_copy(s->ctx, donor->ctx, (int)donor_n));
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

/* Under a KV budget, reserves q's room (its prompt and max_tokens, exactly)
** within it, freeing idle slots' cached prefixes (least recently used
** first) when it must; false: not now (it waits, and is tried again each
** step as running requests end). Without a budget a cache grows as it
** fills, and every request is admitted. */
static bool admit(local *l, seq *q)
{
    if (q->admitted)
        return true;
    slot *sl = q->sl;
    if (!l->kv_budget) {
        q->admitted = true;
        return true;
    }
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
    if (mast_llama_ctx_reserve(sl->ctx, q->need) != MAST_OK)
        return false;   /* no memory now: try again when some is freed */
    q->admitted = true;
    q->t_prompt = now();   /* the wait for memory is queue time, not prompt time */
    q->out->wait_seconds = q->t_prompt - q->t_begin;
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
        st = gen_prompt_tokens(l, r, &q->ids);
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
    size_t need_bytes = mast_llama_kv_bytes(l->llama, l->kv_type, q->need);   /* admit reserves this */
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
    q->t_begin = q->t_prompt = now();
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
    int32_t tok = gen_next_token(l, q->sampler, p, V, q->hist, q->n_hist, q->scratch, q->scratch_ids, logits);
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

mast_status gen_local_generate(mast_generator *g, const mast_gen_request *r, mast_gen_text_fn fn,
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
    if (!gen_is_local(g))
        return mast_fail(MAST_ERR_INVALID, "%s is not a local model", mast_generator_describe(g));
    if (r->params.max_tokens <= 0)
        return mast_fail(MAST_ERR_INVALID, "max tokens must be at least 1 (got %d)", r->params.max_tokens);
    if (!r->messages && !r->chat && !r->prompt)
        return mast_fail(MAST_ERR_INVALID, "nothing to generate from: no messages and no prompt");
    return seq_begin((local *)g, r, fn, ctx, out, done, done_ctx);
}

mast_status mast_local_generator_step(mast_generator *g)
{
    if (!gen_is_local(g))
        return mast_fail(MAST_ERR_INVALID, "%s is not a local model", mast_generator_describe(g));
    return local_step((local *)g);
}

int mast_local_generator_active(const mast_generator *g)
{
    return gen_is_local(g) ? local_active((const local *)g) : 0;
}

int mast_local_generator_slot_info(const mast_generator *g, mast_slot_info *out, int cap)
{
    if (!gen_is_local(g))
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
    return gen_is_local(g) ? ((const local *)g)->n_slots : 0;
}

