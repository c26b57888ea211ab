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

typedef struct linear {
    mast_sgemm_b *w;             /* out x in weights and the bias, packed for the SGEMM */
} linear;

typedef struct layer {
    linear q, k, v, o, up, down;
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
} layer;

struct mast_bert {
    int n_embd, n_layer, n_head, n_ff, n_ctx, pooling;
    float eps;
    const mast_tensor_info *tok_embd, *pos_embd, *type_embd;
    float *emb_ln_w, *emb_ln_b;
    layer *layers;
    float **owned;
    size_t n_owned, cap_owned;
};

static mast_status own(mast_bert *m, float *p)
{
    if (!p || !mast_grow_array((void **)&m->owned, &m->cap_owned, m->n_owned + 1, sizeof *m->owned)) {
        free(p);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    m->owned[m->n_owned++] = p;
    return MAST_OK;
}

static mast_status find(const mast_gguf *g, const char *name, int64_t ne0, int64_t ne1,
                        const mast_tensor_info **out)
{
    const mast_tensor_info *t = mast_gguf_tensor(g, name);
    if (!t)
        return mast_fail(MAST_ERR_FORMAT, "%s: missing tensor '%s'", g->path, name);
    if (t->ne[0] != ne0 || (ne1 > 0 && t->ne[1] != ne1))
        return mast_fail(MAST_ERR_FORMAT, "%s: tensor '%s' has shape %lld x %lld, expected %lld x %lld",
                         g->path, name, (long long)t->ne[0], (long long)t->ne[1], (long long)ne0,
                         (long long)ne1);
    if (!mast_quant_supported(t->type))
        return mast_fail(MAST_ERR_UNSUPPORTED, "%s: tensor '%s' has an unsupported type", g->path, name);
    *out = t;
    return MAST_OK;
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

static mast_status load_linear(mast_bert *m, const mast_gguf *g, int l, const char *what,
                               int64_t in, int64_t out, linear *lin)
{
    char name[96];
    const mast_tensor_info *t = NULL;
    float *bias = NULL;
    snprintf(name, sizeof name, "blk.%d.%s.weight", l, what);
    MAST_TRY(find(g, name, in, out, &t));
    snprintf(name, sizeof name, "blk.%d.%s.bias", l, what);
    MAST_TRY(vector(m, g, name, out, &bias));
    /* Embedding models are small: expanding every weight type to F32 once
    ** lets each batched projection run on the SGEMM with weights packed for
    ** its kernel, much faster than quantized dot products per token, and
    ** keeps results independent of the batch for every weight type. */
    const float *w = t->data;
    float *f = NULL;
    if (t->type != MAST_F32) {
        if (!(f = malloc((size_t)(in * out) * sizeof *f)))
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        size_t row = mast_dtype_row_size(t->type, in);
        for (int64_t r = 0; r < out; r++)
            mast_dequantize_row(t->type, (const char *)t->data + (size_t)r * row, f + r * in, in);
        w = f;
    }
    mast_status st = mast_sgemm_pack_b(w, bias, out, in, &lin->w);
    free(f);
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
    if (st == MAST_OK) st = vector(m, g, "token_embd_norm.weight", H, &m->emb_ln_w);
    if (st == MAST_OK) st = vector(m, g, "token_embd_norm.bias", H, &m->emb_ln_b);
    if (st == MAST_OK && !(m->layers = calloc((size_t)m->n_layer, sizeof *m->layers)))
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (int l = 0; l < m->n_layer && st == MAST_OK; l++) {
        layer *L = &m->layers[l];
        char name[96];
        st = load_linear(m, g, l, "attn_q", H, H, &L->q);
        if (st == MAST_OK) st = load_linear(m, g, l, "attn_k", H, H, &L->k);
        if (st == MAST_OK) st = load_linear(m, g, l, "attn_v", H, H, &L->v);
        if (st == MAST_OK) st = load_linear(m, g, l, "attn_output", H, H, &L->o);
        if (st == MAST_OK) st = load_linear(m, g, l, "ffn_up", H, F, &L->up);
        if (st == MAST_OK) st = load_linear(m, g, l, "ffn_down", F, H, &L->down);
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
    for (size_t i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->owned);
    for (int l = 0; m->layers && l < m->n_layer; l++) {
        linear *lins[] = {&m->layers[l].q, &m->layers[l].k, &m->layers[l].v,
                          &m->layers[l].o, &m->layers[l].up, &m->layers[l].down};
        for (size_t i = 0; i < sizeof lins / sizeof *lins; i++)
            mast_sgemm_b_free(lins[i]->w);
    }
    free(m->layers);
    free(m);
}

int mast_bert_dim(const mast_bert *m) { return m->n_embd; }
int mast_bert_context(const mast_bert *m) { return m->n_ctx; }

/* ---- the forward pass ---- */

static void layer_norm(float *x, int64_t n_rows, int64_t H, const float *w, const float *b, float eps)
{
    for (int64_t r = 0; r < n_rows; r++) {
        float *v = x + r * H;
        float mean = 0;
        for (int64_t i = 0; i < H; i++)
            mean += v[i];
        mean /= (float)H;
        float var = 0;
        for (int64_t i = 0; i < H; i++) {
            v[i] -= mean;
            var += v[i] * v[i];
        }
        var /= (float)H;
        float scale = 1.0f / sqrtf(var + eps);
        for (int64_t i = 0; i < H; i++)
            v[i] = v[i] * scale * w[i] + b[i];
    }
}

static mast_status project(mast_pool *pool, const linear *lin, const float *x, int64_t n,
                           float *y)
{
    return mast_sgemm_packed(pool, n, x, lin->w, y);
}

/* GELU, tanh approximation; tanh(u) = 1 - 2 / (exp(2u) + 1) with expf, which
** is several times faster than tanhf and as accurate at float precision. */
static float gelu(float x)
{
    const float k = 0.7978845608028654f;   /* sqrt(2 / pi) */
    float u = k * x * (1.0f + 0.044715f * x * x);
    if (u > 15.0f)
        return x;
    if (u < -15.0f)
        return 0.0f;
    float t = 1.0f - 2.0f / (expf(2.0f * u) + 1.0f);
    return 0.5f * x * (1.0f + t);
}

typedef struct attn_job {
    const float *q, *k, *v;
    float *out;
    const size_t *start, *len;
    int n_head, hd, H;
    int failed;
} attn_job;

/* items = (sequence, head) pairs. Per item: S = Qh Kh^T / sqrt(hd), row
** softmax, O = S Vh, with both products on the SGEMM (single-threaded inside
** a worker); the head's columns are first copied out contiguously. */
static void attend(void *ctx, size_t begin, size_t end, int worker)
{
    (void)worker;
    attn_job *j = ctx;
    float scale = 1.0f / sqrtf((float)j->hd);
    for (size_t item = begin; item < end; item++) {
        size_t s = item / (size_t)j->n_head, n = j->len[s], t0 = j->start[s];
        int h = (int)(item % (size_t)j->n_head), hd = j->hd;
        float *qh = malloc(n * (size_t)hd * 4), *kh = malloc(n * (size_t)hd * 4),
              *vt = malloc(n * (size_t)hd * 4), *sc = malloc(n * n * 4),
              *oh = malloc(n * (size_t)hd * 4);
        if (!qh || !kh || !vt || !sc || !oh) {
            j->failed = 1;
            free(qh); free(kh); free(vt); free(sc); free(oh);
            return;
        }
        for (size_t t = 0; t < n; t++) {
            size_t row = (t0 + t) * (size_t)j->H + (size_t)h * (size_t)hd;
            memcpy(qh + t * (size_t)hd, j->q + row, (size_t)hd * 4);
            memcpy(kh + t * (size_t)hd, j->k + row, (size_t)hd * 4);
            for (int d = 0; d < hd; d++)
                vt[(size_t)d * n + t] = j->v[row + (size_t)d];
        }
        if (mast_sgemm_nt(NULL, (int64_t)n, (int64_t)n, hd, qh, kh, sc) != MAST_OK)
            j->failed = 1;
        for (size_t i = 0; i < n; i++) {
            float *p = sc + i * n, max = -INFINITY, sum = 0;
            for (size_t k = 0; k < n; k++) {
                p[k] *= scale;
                if (p[k] > max)
                    max = p[k];
            }
            for (size_t k = 0; k < n; k++) {
                p[k] = expf(p[k] - max);
                sum += p[k];
            }
            float inv = 1.0f / sum;
            for (size_t k = 0; k < n; k++)
                p[k] *= inv;
        }
        if (mast_sgemm_nt(NULL, (int64_t)n, hd, (int64_t)n, sc, vt, oh) != MAST_OK)
            j->failed = 1;
        for (size_t t = 0; t < n; t++)
            memcpy(j->out + (t0 + t) * (size_t)j->H + (size_t)h * (size_t)hd, oh + t * (size_t)hd,
                   (size_t)hd * 4);
        free(qh); free(kh); free(vt); free(sc); free(oh);
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
    size_t T = total ? total : 1;
    float *x = malloc(T * (size_t)H * 4), *q = malloc(T * (size_t)H * 4),
          *k = malloc(T * (size_t)H * 4), *v = malloc(T * (size_t)H * 4),
          *a = malloc(T * (size_t)H * 4), *f = malloc(T * (size_t)F * 4),
          *row = malloc((size_t)H * 4);
    mast_status st = x && q && k && v && a && f && row
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
            mast_dequantize_row(m->type_embd->type, m->type_embd->data, row, H);
            for (int64_t i = 0; i < H; i++)
                xt[i] += row[i];
        }
    }
    if (st == MAST_OK && total)
        layer_norm(x, (int64_t)total, H, m->emb_ln_w, m->emb_ln_b, m->eps);
    for (int l = 0; l < m->n_layer && st == MAST_OK && total; l++) {
        const layer *L = &m->layers[l];
        st = project(pool, &L->q, x, (int64_t)total, q);
        if (st == MAST_OK) st = project(pool, &L->k, x, (int64_t)total, k);
        if (st == MAST_OK) st = project(pool, &L->v, x, (int64_t)total, v);
        if (st != MAST_OK)
            break;
        attn_job job = {q, k, v, a, start, len, m->n_head, (int)(H / m->n_head), (int)H, 0};
        if (pool)
            mast_pool_for(pool, n_seqs * (size_t)m->n_head, attend, &job);
        else
            attend(&job, 0, n_seqs * (size_t)m->n_head, 0);
        if (job.failed) {
            st = mast_fail(MAST_ERR_NOMEM, "out of memory in attention");
            break;
        }
        st = project(pool, &L->o, a, (int64_t)total, q);   /* q reused as the output */
        if (st != MAST_OK)
            break;
        for (size_t i = 0; i < total * (size_t)H; i++)
            x[i] += q[i];
        layer_norm(x, (int64_t)total, H, L->ln1_w, L->ln1_b, m->eps);
        st = project(pool, &L->up, x, (int64_t)total, f);
        if (st != MAST_OK)
            break;
        for (size_t i = 0; i < total * (size_t)F; i++)
            f[i] = gelu(f[i]);
        st = project(pool, &L->down, f, (int64_t)total, q);
        if (st != MAST_OK)
            break;
        for (size_t i = 0; i < total * (size_t)H; i++)
            x[i] += q[i];
        layer_norm(x, (int64_t)total, H, L->ln2_w, L->ln2_b, m->eps);
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
    free(x); free(q); free(k); free(v); free(a); free(f); free(row);
    free(start);
    free(len);
    return st;
}
