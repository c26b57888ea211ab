/*
** model/bert.c — the BERT encoder (see bert.h).
*/
#include "model/bert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/status.h"
#include "model/gemm.h"
#include "model/quant.h"
#include "model/weights.h"
#include "model/vecmath.h"

typedef struct linear {
    mast_sgemm_b *w;             /* out x in weights and the bias, packed for the SGEMM */
} linear;

typedef struct layer {
    linear qkv, o, up, down;     /* qkv: the three projections stacked, 3H outputs */
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
} layer;

struct mast_bert {
    int n_embd, n_layer, n_head, n_ff, n_ctx, pooling;
    float eps;
    const mast_tensor_info *tok_embd, *pos_embd, *type_embd;
    float *emb_ln_w, *emb_ln_b;
    float *type0;                /* token type 0's embedding (every token's), as floats */
    layer *layers;
    mast_owned owned;
};

static mast_status own(mast_bert *m, float *p)
{
    return mast_owned_add(&m->owned, p);
}

static mast_status find(const mast_gguf *g, const char *name, int64_t ne0, int64_t ne1,
                        const mast_tensor_info **out)
{
    return mast_weights_find(g, name, ne0, ne1, out);
}

/* A 1-D tensor of n floats, converted to f32 (owned by the model). */
static mast_status vector(mast_bert *m, const mast_gguf *g, const char *name, int64_t n, float **out)
{
    const mast_tensor_info *t = NULL;
    MAST_TRY(find(g, name, n, 1, &t));
    float *v = malloc((size_t)n * sizeof *v);
    MAST_TRY(own(m, v));
    mast_dequantize_row(t->type, t->data, v, n);
    *out = v;
    return MAST_OK;
}

/* Loads blk.l.<part>.weight (out x in) and .bias for each part, stacked
** (outputs concatenated in order), and packs them for the SGEMM. Embedding
** models are small: expanding every weight type to F32 once lets each
** batched projection run on the SGEMM, much faster than quantized dot
** products per token, and keeps results independent of the batch. */
static mast_status load_linear(const mast_gguf *g, int l, const char *const *parts, int n_parts,
                               int64_t in, int64_t out, linear *lin)
{
    int64_t N = out * n_parts;
    float *w = malloc((size_t)(N * in) * sizeof *w), *bias = malloc((size_t)N * sizeof *bias);
    mast_status st = w && bias ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (int p = 0; p < n_parts && st == MAST_OK; p++) {
        char name[96];
        const mast_tensor_info *t = NULL, *tb = NULL;
        snprintf(name, sizeof name, "blk.%d.%s.weight", l, parts[p]);
        st = find(g, name, in, out, &t);
        snprintf(name, sizeof name, "blk.%d.%s.bias", l, parts[p]);
        if (st == MAST_OK) st = find(g, name, out, 1, &tb);
        if (st != MAST_OK)
            break;
        size_t row = mast_dtype_row_size(t->type, in);
        for (int64_t r = 0; r < out; r++)
            mast_dequantize_row(t->type, (const char *)t->data + (size_t)r * row,
                                w + (p * out + r) * in, in);
        mast_dequantize_row(tb->type, tb->data, bias + p * out, out);
    }
    if (st == MAST_OK)
        st = mast_sgemm_pack_b(w, bias, N, in, &lin->w);
    free(w);
    free(bias);
    return st;
}

static mast_status get_u32(const mast_gguf *g, const char *key, int *out)
{
    uint32_t v;
    mast_status st = mast_gguf_get_u32(g, key, &v);
    if (st == MAST_ERR_NOT_FOUND)
        return mast_fail(MAST_ERR_FORMAT, "%s: missing key '%s'", g->path, key);
    MAST_TRY(st);
    if (v == 0 || v > (1u << 24))
        return mast_fail(MAST_ERR_FORMAT, "%s: key '%s' = %u is out of range", g->path, key, v);
    *out = (int)v;
    return MAST_OK;
}

mast_status mast_bert_load(mast_bert **out, const mast_gguf *g)
{
    *out = NULL;
    mast_bert *m = calloc(1, sizeof *m);
    if (!m)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_status st = get_u32(g, "bert.embedding_length", &m->n_embd);
    if (st == MAST_OK) st = get_u32(g, "bert.block_count", &m->n_layer);
    if (st == MAST_OK) st = get_u32(g, "bert.attention.head_count", &m->n_head);
    if (st == MAST_OK) st = get_u32(g, "bert.feed_forward_length", &m->n_ff);
    if (st == MAST_OK) st = get_u32(g, "bert.context_length", &m->n_ctx);
    uint32_t pooling = 1;
    mast_gguf_get_u32(g, "bert.pooling_type", &pooling);
    m->pooling = pooling == 2 || pooling == 3 ? (int)pooling : 1;
    m->eps = 1e-12f;
    mast_gguf_get_f32(g, "bert.attention.layer_norm_epsilon", &m->eps);
    if (st == MAST_OK && m->n_embd % m->n_head)
        st = mast_fail(MAST_ERR_FORMAT, "%s: %d heads do not divide embedding length %d", g->path,
                       m->n_head, m->n_embd);
    int64_t H = m->n_embd, F = m->n_ff;
    if (st == MAST_OK) st = find(g, "token_embd.weight", H, -1, &m->tok_embd);
    if (st == MAST_OK) st = find(g, "position_embd.weight", H, -1, &m->pos_embd);
    if (st == MAST_OK) st = find(g, "token_types.weight", H, -1, &m->type_embd);
    if (st == MAST_OK && m->pos_embd->ne[1] < m->n_ctx)
        m->n_ctx = (int)m->pos_embd->ne[1];
    if (st == MAST_OK)   /* own() takes the buffer, or frees it and fails */
        st = own(m, m->type0 = malloc((size_t)H * sizeof *m->type0));
    if (st == MAST_OK)
        mast_dequantize_row(m->type_embd->type, m->type_embd->data, m->type0, H);
    if (st == MAST_OK) st = vector(m, g, "token_embd_norm.weight", H, &m->emb_ln_w);
    if (st == MAST_OK) st = vector(m, g, "token_embd_norm.bias", H, &m->emb_ln_b);
    if (st == MAST_OK && !(m->layers = calloc((size_t)m->n_layer, sizeof *m->layers)))
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (int l = 0; l < m->n_layer && st == MAST_OK; l++) {
        layer *L = &m->layers[l];
        char name[96];
        static const char *const qkv[] = {"attn_q", "attn_k", "attn_v"}, *o[] = {"attn_output"},
                                 *up[] = {"ffn_up"}, *down[] = {"ffn_down"};
        st = load_linear(g, l, qkv, 3, H, H, &L->qkv);
        if (st == MAST_OK) st = load_linear(g, l, o, 1, H, H, &L->o);
        if (st == MAST_OK) st = load_linear(g, l, up, 1, H, F, &L->up);
        if (st == MAST_OK) st = load_linear(g, l, down, 1, F, H, &L->down);
        snprintf(name, sizeof name, "blk.%d.attn_output_norm.weight", l);
        if (st == MAST_OK) st = vector(m, g, name, H, &L->ln1_w);
        snprintf(name, sizeof name, "blk.%d.attn_output_norm.bias", l);
        if (st == MAST_OK) st = vector(m, g, name, H, &L->ln1_b);
        snprintf(name, sizeof name, "blk.%d.layer_output_norm.weight", l);
        if (st == MAST_OK) st = vector(m, g, name, H, &L->ln2_w);
        snprintf(name, sizeof name, "blk.%d.layer_output_norm.bias", l);
        if (st == MAST_OK) st = vector(m, g, name, H, &L->ln2_b);
    }
    if (st != MAST_OK) {
        mast_bert_free(m);
        return st;
    }
    *out = m;
    return MAST_OK;
}

void mast_bert_free(mast_bert *m)
{
    if (!m)
        return;
    mast_owned_free(&m->owned);
    for (int l = 0; m->layers && l < m->n_layer; l++) {
        linear *lins[] = {&m->layers[l].qkv, &m->layers[l].o, &m->layers[l].up,
                          &m->layers[l].down};
        for (size_t i = 0; i < sizeof lins / sizeof *lins; i++)
            mast_sgemm_b_free(lins[i]->w);
    }
    free(m->layers);
    free(m);
}

int mast_bert_dim(const mast_bert *m) { return m->n_embd; }
int mast_bert_context(const mast_bert *m) { return m->n_ctx; }

/* ---- the forward pass ---- */

typedef struct rows_job {
    float *x;
    int64_t H;
    const float *w, *b;
    float eps;
} rows_job;

static void norm_rows(void *ctx, size_t begin, size_t end, int worker)
{
    (void)worker;
    const rows_job *j = ctx;
    for (size_t r = begin; r < end; r++)
        mast_vec_layer_norm(j->x + r * (size_t)j->H, (size_t)j->H, j->w, j->b, j->eps);
}

static void layer_norm(mast_pool *pool, float *x, size_t n_rows, int64_t H, const float *w,
                       const float *b, float eps)
{
    rows_job j = {x, H, w, b, eps};
    if (pool)
        mast_pool_for(pool, n_rows, norm_rows, &j);
    else
        norm_rows(&j, 0, n_rows, 0);
}

typedef struct attn_job {
    const float *qkv;            /* T x 3H: the queries, keys and values of each token */
    float *out;                  /* T x H */
    float *scores;               /* per worker: max_len^2 floats */
    size_t max_len;
    const size_t *start, *len;
    int n_head, hd, H;
    int failed;
} attn_job;

/* items = (sequence, head) pairs. Per item: S = Qh Kh^T, row softmax of
** S / sqrt(hd), O = S Vh, both products on the SGEMM reading the head's
** columns in place (single-threaded inside a worker). */
static void attend(void *ctx, size_t begin, size_t end, int worker)
{
    attn_job *j = ctx;
    float scale = 1.0f / sqrtf((float)j->hd);
    float *S = j->scores + (size_t)worker * j->max_len * j->max_len;
    int64_t ld = 3 * (int64_t)j->H;
    for (size_t item = begin; item < end; item++) {
        size_t s = item / (size_t)j->n_head, t0 = j->start[s];
        int64_t n = (int64_t)j->len[s], hd = j->hd, col = (int64_t)(item % (size_t)j->n_head) * hd;
        const float *q = j->qkv + (int64_t)t0 * ld + col, *k = q + j->H, *v = k + j->H;
        if (mast_sgemm(NULL, n, n, hd, q, ld, k, ld, false, S, n) != MAST_OK) {
            j->failed = 1;
            return;
        }
        for (int64_t i = 0; i < n; i++)
            mast_vec_softmax(S + i * n, (size_t)n, scale);
        if (mast_sgemm(NULL, n, hd, n, S, n, v, ld, true, j->out + (int64_t)t0 * j->H + col,
                       j->H) != MAST_OK) {
            j->failed = 1;
            return;
        }
    }
}

mast_status mast_bert_embed(const mast_bert *m, mast_pool *pool, const int32_t *const *tokens,
                            const size_t *n_tokens, size_t n_seqs, bool normalize, float *out,
                            float *hidden, size_t *n_truncated)
{
    const int64_t H = m->n_embd, F = m->n_ff;
    size_t *start = calloc(n_seqs + 1, sizeof *start), *len = calloc(n_seqs + 1, sizeof *len);
    if (!start || !len) {
        free(start);
        free(len);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    size_t total = 0, max_len = 1, truncated = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        len[s] = n_tokens[s] > (size_t)m->n_ctx ? (size_t)m->n_ctx : n_tokens[s];
        truncated += len[s] < n_tokens[s];
        start[s] = total;
        total += len[s];
        if (len[s] > max_len)
            max_len = len[s];
    }
    if (n_truncated)
        *n_truncated = truncated;
    size_t T = total ? total : 1, workers = pool ? (size_t)mast_pool_size(pool) : 1;
    float *x = malloc(T * (size_t)H * 4), *qkv = malloc(T * (size_t)H * 3 * 4),
          *a = malloc(T * (size_t)H * 4), *f = malloc(T * (size_t)F * 4),
          *row = malloc((size_t)H * 4), *scores = malloc(workers * max_len * max_len * 4);
    mast_status st = x && qkv && a && f && row && scores
                         ? MAST_OK
                         : mast_fail(MAST_ERR_NOMEM, "out of memory for %zu tokens", total);
    /* embeddings */
    size_t tok_row = mast_dtype_row_size(m->tok_embd->type, H);
    size_t pos_row = mast_dtype_row_size(m->pos_embd->type, H);
    for (size_t s = 0; s < n_seqs && st == MAST_OK; s++) {
        for (size_t t = 0; t < len[s]; t++) {
            int32_t id = tokens[s][t];
            if (id < 0 || id >= m->tok_embd->ne[1]) {
                st = mast_fail(MAST_ERR_INVALID, "token id %d is outside the vocabulary", id);
                break;
            }
            float *xt = x + (start[s] + t) * (size_t)H;
            mast_dequantize_row(m->tok_embd->type, (const char *)m->tok_embd->data + (size_t)id * tok_row, xt, H);
            mast_dequantize_row(m->pos_embd->type, (const char *)m->pos_embd->data + t * pos_row, row, H);
            for (int64_t i = 0; i < H; i++)
                xt[i] += row[i];
            for (int64_t i = 0; i < H; i++)
                xt[i] += m->type0[i];
        }
    }
    if (st == MAST_OK && total)
        layer_norm(pool, x, total, H, m->emb_ln_w, m->emb_ln_b, m->eps);
    for (int l = 0; l < m->n_layer && st == MAST_OK && total; l++) {
        const layer *L = &m->layers[l];
        st = mast_sgemm_packed(pool, (int64_t)total, x, L->qkv.w, qkv, 0);
        if (st != MAST_OK)
            break;
        attn_job job = {qkv, a, scores, max_len, start, len, m->n_head, (int)(H / m->n_head), (int)H, 0};
        if (pool)
            mast_pool_for(pool, n_seqs * (size_t)m->n_head, attend, &job);
        else
            attend(&job, 0, n_seqs * (size_t)m->n_head, 0);
        if (job.failed) {
            st = mast_fail(MAST_ERR_NOMEM, "out of memory in attention");
            break;
        }
        /* x += attention output projection; x += FFN(x), each then normalized */
        st = mast_sgemm_packed(pool, (int64_t)total, a, L->o.w, x, MAST_SGEMM_ACCUMULATE);
        if (st != MAST_OK)
            break;
        layer_norm(pool, x, total, H, L->ln1_w, L->ln1_b, m->eps);
        st = mast_sgemm_packed(pool, (int64_t)total, x, L->up.w, f, MAST_SGEMM_GELU);
        if (st == MAST_OK)
            st = mast_sgemm_packed(pool, (int64_t)total, f, L->down.w, x, MAST_SGEMM_ACCUMULATE);
        if (st != MAST_OK)
            break;
        layer_norm(pool, x, total, H, L->ln2_w, L->ln2_b, m->eps);
    }
    for (size_t s = 0; s < n_seqs && st == MAST_OK; s++) {
        float *o = out + s * (size_t)H;
        memset(o, 0, (size_t)H * 4);
        if (len[s] == 0)
            continue;
        if (m->pooling == 2 || m->pooling == 3) {
            size_t t = m->pooling == 2 ? 0 : len[s] - 1;
            memcpy(o, x + (start[s] + t) * (size_t)H, (size_t)H * 4);
        } else {
            for (size_t t = 0; t < len[s]; t++)
                for (int64_t i = 0; i < H; i++)
                    o[i] += x[(start[s] + t) * (size_t)H + i];
            for (int64_t i = 0; i < H; i++)
                o[i] /= (float)len[s];
        }
        if (normalize) {
            double ss = 0;
            for (int64_t i = 0; i < H; i++)
                ss += (double)o[i] * o[i];
            float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
            for (int64_t i = 0; i < H; i++)
                o[i] *= inv;
        }
    }
    if (st == MAST_OK && hidden && total)
        memcpy(hidden, x, total * (size_t)H * 4);
    free(x); free(qkv); free(a); free(f); free(row); free(scores);
    free(start);
    free(len);
    return st;
}
