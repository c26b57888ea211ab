/*
** model/synth.c — synthetic models (see synth.h).
*/
#include "model/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/status.h"
#include "model/gguf.h"
#include "model/quant.h"

typedef struct gen {
    uint64_t state;
    mast_gguf_writer *w;
    void **buffers;
    size_t n_buffers, cap_buffers;
    mast_dtype type;
} gen;

static double uniform(gen *g)
{
    g->state ^= g->state << 13;
    g->state ^= g->state >> 7;
    g->state ^= g->state << 17;
    return ((g->state >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static float normal(gen *g, double std)
{
    double u = uniform(g), v = uniform(g);
    return (float)(std * sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static mast_status keep(gen *g, void *p)
{
    if (!p || !mast_grow_array((void **)&g->buffers, &g->cap_buffers, g->n_buffers + 1,
                               sizeof *g->buffers)) {
        free(p);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    g->buffers[g->n_buffers++] = p;
    return MAST_OK;
}

/* kind: 0 = matrix (N(0, 1/cols), stored in g->type), 1 = norm, 2 = bias,
** 3 = matrix kept in F32 (BERT's position and token-type embeddings) */
static mast_status tensor(gen *g, const char *name, int64_t cols, int64_t rows, int kind)
{
    int64_t n = cols * rows;
    float *x = malloc((size_t)n * sizeof *x);
    MAST_TRY(keep(g, x));
    for (int64_t i = 0; i < n; i++)
        x[i] = kind == 0 || kind == 3 ? normal(g, 1 / sqrt((double)cols))
               : kind == 1 ? 1 + normal(g, 0.1)
                           : normal(g, 0.02);
    int64_t ne[2] = {cols, rows};
    if (kind != 0 || rows == 1 || g->type == MAST_F32)
        return mast_gguf_add_tensor(g->w, name, MAST_F32, ne, rows > 1 ? 2 : 1, x);
    if (cols % mast_dtype_get(g->type)->block_size)
        return mast_fail(MAST_ERR_INVALID, "tensor '%s': row length %lld does not fit %s blocks",
                         name, (long long)cols, mast_dtype_get(g->type)->name);
    size_t row = mast_dtype_row_size(g->type, cols);
    unsigned char *q = malloc(row * (size_t)rows);
    MAST_TRY(keep(g, q));
    for (int64_t r = 0; r < rows; r++)
        mast_quantize_row(g->type, x + r * cols, q + (size_t)r * row, cols);
    return mast_gguf_add_tensor(g->w, name, g->type, ne, 2, q);
}

static mast_status minimal_vocab(gen *g, int bert, int n_vocab)
{
    mast_gguf_str *toks = calloc((size_t)n_vocab, sizeof *toks);
    float *scores = calloc((size_t)n_vocab, sizeof *scores);
    int32_t *types = calloc((size_t)n_vocab, sizeof *types);
    char *text = calloc((size_t)n_vocab, 32);
    mast_status st = keep(g, toks);
    if (st == MAST_OK) st = keep(g, scores);
    if (st == MAST_OK) st = keep(g, types);
    if (st == MAST_OK) st = keep(g, text);
    if (st != MAST_OK)
        return st;
    for (int i = 0; i < n_vocab; i++) {
        char *t = text + 32 * i;
        int type = 1;   /* normal */
        if (bert) {
            static const char *sp[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
            if (i < 5) {
                snprintf(t, 32, "%s", sp[i]);
                type = 3;
            } else if (i < 5 + 95) {   /* "▁c" word starts, then "c" continuations */
                snprintf(t, 32, "\xe2\x96\x81%c", ' ' + (i - 5) + 1 > '~' ? '~' : ' ' + (i - 5) + 1);
            } else if (i < 5 + 190) {
                snprintf(t, 32, "%c", ' ' + (i - 100) + 1 > '~' ? '~' : ' ' + (i - 100) + 1);
            } else {
                snprintf(t, 32, "[unused%d]", i);
            }
        } else if (i < 3) {
            static const char *sp[] = {"<unk>", "<s>", "</s>"};
            snprintf(t, 32, "%s", sp[i]);
            type = i == 0 ? 2 : 3;
        } else if (i < 259) {
            snprintf(t, 32, "<0x%02X>", i - 3);
            type = 6;
        } else {
            snprintf(t, 32, "<extra_%d>", i);
            type = 5;
        }
        toks[i] = (mast_gguf_str){t, strlen(t)};
        types[i] = type;
    }
    st = mast_gguf_set_str(g->w, "tokenizer.ggml.model", bert ? "bert" : "llama");
    if (st == MAST_OK) st = mast_gguf_set_arr_str(g->w, "tokenizer.ggml.tokens", toks, (uint64_t)n_vocab);
    if (st == MAST_OK && !bert)
        st = mast_gguf_set_arr(g->w, "tokenizer.ggml.scores", MAST_GGUF_FLOAT32, scores, (uint64_t)n_vocab);
    if (st == MAST_OK)
        st = mast_gguf_set_arr(g->w, "tokenizer.ggml.token_type", MAST_GGUF_INT32, types, (uint64_t)n_vocab);
    if (st == MAST_OK && bert) {
        st = mast_gguf_set_u32(g->w, "tokenizer.ggml.unknown_token_id", 1);
        if (st == MAST_OK) st = mast_gguf_set_u32(g->w, "tokenizer.ggml.cls_token_id", 2);
        if (st == MAST_OK) st = mast_gguf_set_u32(g->w, "tokenizer.ggml.seperator_token_id", 3);
        if (st == MAST_OK) st = mast_gguf_set_u32(g->w, "tokenizer.ggml.padding_token_id", 0);
    } else if (st == MAST_OK) {
        st = mast_gguf_set_u32(g->w, "tokenizer.ggml.bos_token_id", 1);
        if (st == MAST_OK) st = mast_gguf_set_u32(g->w, "tokenizer.ggml.eos_token_id", 2);
        if (st == MAST_OK) st = mast_gguf_set_u32(g->w, "tokenizer.ggml.unknown_token_id", 0);
    }
    return st;
}

void mast_synth_defaults(mast_synth_opts *o)
{
    int bert = o->arch && strcmp(o->arch, "bert") == 0;
    if (!o->n_embd) o->n_embd = bert ? 64 : 256;
    if (!o->n_layer) o->n_layer = 2;
    if (!o->n_head) o->n_head = 4;
    if (!o->n_head_kv) o->n_head_kv = bert ? o->n_head : 2;
    if (!o->n_ff) o->n_ff = 2 * o->n_embd;
    if (!o->n_vocab) o->n_vocab = bert ? 256 : 512;
    if (!o->n_ctx) o->n_ctx = bert ? 512 : 2048;
    if (!o->seed) o->seed = 42;
}

static mast_status write_llama(gen *g, const mast_synth_opts *o)
{
    mast_gguf_writer *w = g->w;
    int head_dim = o->n_embd / o->n_head, n_embd_kv = head_dim * o->n_head_kv;
    mast_status st = mast_gguf_set_u32(w, "llama.context_length", (uint32_t)o->n_ctx);
    if (st == MAST_OK) st = mast_gguf_set_u32(w, "llama.embedding_length", (uint32_t)o->n_embd);
    if (st == MAST_OK) st = mast_gguf_set_u32(w, "llama.block_count", (uint32_t)o->n_layer);
    if (st == MAST_OK) st = mast_gguf_set_u32(w, "llama.feed_forward_length", (uint32_t)o->n_ff);
    if (st == MAST_OK) st = mast_gguf_set_u32(w, "llama.attention.head_count", (uint32_t)o->n_head);
    if (st == MAST_OK) st = mast_gguf_set_u32(w, "llama.attention.head_count_kv", (uint32_t)o->n_head_kv);
    if (st == MAST_OK) st = mast_gguf_set_u32(w, "llama.rope.dimension_count", (uint32_t)head_dim);
    if (st == MAST_OK) st = mast_gguf_set_f32(w, "llama.rope.freq_base", 10000.0f);
    if (st == MAST_OK) st = mast_gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    if (st == MAST_OK) st = mast_gguf_set_u32(w, "llama.vocab_size", (uint32_t)o->n_vocab);
    if (st == MAST_OK) st = tensor(g, "token_embd.weight", o->n_embd, o->n_vocab, 0);
    if (st == MAST_OK) st = tensor(g, "output_norm.weight", o->n_embd, 1, 1);
    if (st == MAST_OK) st = tensor(g, "output.weight", o->n_embd, o->n_vocab, 0);
    char name[64];
    for (int l = 0; l < o->n_layer && st == MAST_OK; l++) {
        struct { const char *n; int64_t c, r; int kind; } t[] = {
            {"attn_norm", o->n_embd, 1, 1},   {"attn_q", o->n_embd, o->n_embd, 0},
            {"attn_k", o->n_embd, n_embd_kv, 0}, {"attn_v", o->n_embd, n_embd_kv, 0},
            {"attn_output", o->n_embd, o->n_embd, 0}, {"ffn_norm", o->n_embd, 1, 1},
            {"ffn_gate", o->n_embd, o->n_ff, 0}, {"ffn_up", o->n_embd, o->n_ff, 0},
            {"ffn_down", o->n_ff, o->n_embd, 0},
        };
        for (size_t k = 0; k < sizeof t / sizeof *t && st == MAST_OK; k++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, t[k].n);
            st = tensor(g, name, t[k].c, t[k].r, t[k].kind);
        }
    }
    return st;
}

static mast_status write_bert(gen *g, const mast_synth_opts *o)
{
    mast_gguf_writer *w = g->w;
    mast_status st = mast_gguf_set_u32(w, "bert.context_length", (uint32_t)o->n_ctx);
    if (st == MAST_OK) st = mast_gguf_set_u32(w, "bert.embedding_length", (uint32_t)o->n_embd);
    if (st == MAST_OK) st = mast_gguf_set_u32(w, "bert.block_count", (uint32_t)o->n_layer);
    if (st == MAST_OK) st = mast_gguf_set_u32(w, "bert.feed_forward_length", (uint32_t)o->n_ff);
    if (st == MAST_OK) st = mast_gguf_set_u32(w, "bert.attention.head_count", (uint32_t)o->n_head);
    if (st == MAST_OK) st = mast_gguf_set_f32(w, "bert.attention.layer_norm_epsilon", 1e-12f);
    if (st == MAST_OK) st = mast_gguf_set_bool(w, "bert.attention.causal", false);
    if (st == MAST_OK) st = mast_gguf_set_u32(w, "bert.pooling_type", 1);
    if (st == MAST_OK) st = mast_gguf_set_u32(w, "tokenizer.ggml.token_type_count", 2);
    if (st == MAST_OK) st = tensor(g, "token_embd.weight", o->n_embd, o->n_vocab, 0);
    if (st == MAST_OK) st = tensor(g, "token_types.weight", o->n_embd, 2, 3);
    if (st == MAST_OK) st = tensor(g, "position_embd.weight", o->n_embd, o->n_ctx, 3);
    if (st == MAST_OK) st = tensor(g, "token_embd_norm.weight", o->n_embd, 1, 1);
    if (st == MAST_OK) st = tensor(g, "token_embd_norm.bias", o->n_embd, 1, 2);
    char name[64];
    for (int l = 0; l < o->n_layer && st == MAST_OK; l++) {
        struct { const char *n; int64_t c, r; } t[] = {
            {"attn_q", o->n_embd, o->n_embd}, {"attn_k", o->n_embd, o->n_embd},
            {"attn_v", o->n_embd, o->n_embd}, {"attn_output", o->n_embd, o->n_embd},
            {"ffn_up", o->n_embd, o->n_ff},   {"ffn_down", o->n_ff, o->n_embd},
        };
        for (size_t k = 0; k < sizeof t / sizeof *t && st == MAST_OK; k++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, t[k].n);
            st = tensor(g, name, t[k].c, t[k].r, 0);
            snprintf(name, sizeof name, "blk.%d.%s.bias", l, t[k].n);
            if (st == MAST_OK) st = tensor(g, name, t[k].r, 1, 2);
        }
        const char *norms[] = {"attn_output_norm", "layer_output_norm"};
        for (int k = 0; k < 2 && st == MAST_OK; k++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, norms[k]);
            st = tensor(g, name, o->n_embd, 1, 1);
            snprintf(name, sizeof name, "blk.%d.%s.bias", l, norms[k]);
            if (st == MAST_OK) st = tensor(g, name, o->n_embd, 1, 2);
        }
    }
    return st;
}

mast_status mast_synth_write(const mast_synth_opts *opts, const char *path)
{
    mast_synth_opts o = *opts;
    mast_synth_defaults(&o);
    int bert = strcmp(o.arch, "bert") == 0;
    if (!bert && strcmp(o.arch, "llama") != 0)
        return mast_fail(MAST_ERR_INVALID, "--arch must be llama or bert (got '%s')", o.arch);
    if (o.n_embd % o.n_head || o.n_head % o.n_head_kv)
        return mast_fail(MAST_ERR_INVALID, "n_embd must divide by n_head, n_head by n_head_kv");
    if (!mast_quant_supported(o.type))
        return mast_fail(MAST_ERR_INVALID, "unsupported weight type");
    gen g = {.state = o.seed, .type = o.type};
    MAST_TRY(mast_gguf_writer_new(&g.w));
    mast_gguf *vocab = NULL;
    mast_status st = mast_gguf_set_str(g.w, "general.architecture", o.arch);
    if (st == MAST_OK) st = mast_gguf_set_str(g.w, "general.name", bert ? "mast-synth-bert" : "mast-synth-llama");
    if (st == MAST_OK && o.vocab_path) {
        st = mast_gguf_open(&vocab, o.vocab_path);
        for (size_t i = 0; st == MAST_OK && i < vocab->n_kv; i++)
            if (vocab->kv[i].key.len > 10 && memcmp(vocab->kv[i].key.data, "tokenizer.", 10) == 0 &&
                !(bert && vocab->kv[i].key.len == 31 &&
                  memcmp(vocab->kv[i].key.data, "tokenizer.ggml.token_type_count", 31) == 0) &&
                !(o.chat_template && vocab->kv[i].key.len == 23 &&
                  memcmp(vocab->kv[i].key.data, "tokenizer.chat_template", 23) == 0))
                st = mast_gguf_copy_kv(g.w, &vocab->kv[i]);
        const mast_gguf_kv *toks = vocab && st == MAST_OK ? mast_gguf_find(vocab, "tokenizer.ggml.tokens") : NULL;
        if (st == MAST_OK && toks)
            o.n_vocab = (int)toks->arr_n;
    } else if (st == MAST_OK) {
        if (!bert && o.n_vocab < 259)
            o.n_vocab = 259;
        if (bert && o.n_vocab < 195)
            o.n_vocab = 195;
        st = minimal_vocab(&g, bert, o.n_vocab);
    }
    if (st == MAST_OK && o.chat_template)
        st = mast_gguf_set_str(g.w, "tokenizer.chat_template", o.chat_template);
    if (st == MAST_OK)
        st = bert ? write_bert(&g, &o) : write_llama(&g, &o);
    if (st == MAST_OK)
        st = mast_gguf_write(g.w, path);
    for (size_t i = 0; i < g.n_buffers; i++)
        free(g.buffers[i]);
    free(g.buffers);
    mast_gguf_writer_free(g.w);
    mast_gguf_close(vocab);
    return st;
}
