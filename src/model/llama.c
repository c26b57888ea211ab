/*
** model/llama.c — the Llama-family decoder (see llama.h).
*/
#include "model/llama_impl.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/status.h"
#include "model/attention.h"
#include "model/gemm.h"
#include "model/matmul.h"
#include "model/quant.h"
#include "model/quant_impl.h"
#include "model/vecmath.h"
#include "model/weights.h"


/* ---- loading ---- */

static mast_status find(const mast_gguf *g, const char *name, int64_t ne0, int64_t ne1,
                        bool optional, tensor *out)
{
    memset(out, 0, sizeof *out);
    if (optional && !mast_gguf_tensor(g, name))
        return MAST_OK;
    const mast_tensor_info *t;
    MAST_TRY(mast_weights_find(g, name, ne0, ne1 > 0 ? ne1 : 0, &t));
    *out = (tensor){t->type, t->data, t->ne[0], ne1 > 0 ? ne1 : 1, NULL};
    return MAST_OK;
}

/* A 1-D tensor of n floats as f32 (converted and owned by the model when needed). */
static mast_status vector(mast_llama *m, const mast_gguf *g, const char *name, int64_t n,
                          bool optional, const float **out)
{
    tensor t;
    *out = NULL;
    MAST_TRY(find(g, name, n, 0, optional, &t));
    if (!t.data)
        return MAST_OK;
    if (t.type == MAST_F32) {
        *out = t.data;
        return MAST_OK;
    }
    float *v = malloc((size_t)n * sizeof *v);
    MAST_TRY(mast_owned_add(&m->owned, v));
    mast_dequantize_row(t.type, t.data, v, n);
    *out = v;
    return MAST_OK;
}

static mast_status key_u32(const mast_gguf *g, const char *arch, const char *key, bool optional,
                           int dflt, int *out)
{
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    uint32_t v;
    mast_status st = mast_gguf_get_u32(g, full, &v);
    if (st == MAST_ERR_NOT_FOUND && optional) {
        *out = dflt;
        return MAST_OK;
    }
    if (st == MAST_ERR_NOT_FOUND)
        return mast_fail(MAST_ERR_FORMAT, "%s: missing key '%s'", g->path, full);
    MAST_TRY(st);
    if (v == 0 || v > (1u << 24))
        return mast_fail(MAST_ERR_FORMAT, "%s: key '%s' = %u is out of range", g->path, full, v);
    *out = (int)v;
    return MAST_OK;
}

static mast_status key_f32(const mast_gguf *g, const char *arch, const char *key, float dflt,
                           float *out)
{
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    mast_status st = mast_gguf_get_f32(g, full, out);
    if (st == MAST_ERR_NOT_FOUND) {
        *out = dflt;
        return MAST_OK;
    }
    MAST_TRY(st);
    if (!(*out > 0) || !isfinite(*out))
        return mast_fail(MAST_ERR_FORMAT, "%s: key '%s' = %g is out of range", g->path, full,
                         (double)*out);
    return MAST_OK;
}

static uint64_t tensor_bytes(const tensor *t)
{
    return t->data ? (uint64_t)mast_dtype_row_size(t->type, t->cols) * (uint64_t)t->rows : 0;
}

mast_status mast_llama_load(mast_llama **out, const mast_gguf *g)
{
    *out = NULL;
    mast_gguf_str arch_s;
    if (mast_gguf_get_str(g, "general.architecture", &arch_s) != MAST_OK)
        return mast_fail(MAST_ERR_FORMAT, "%s: no general.architecture key", g->path);
    char arch[32];
    snprintf(arch, sizeof arch, "%.*s", (int)(arch_s.len < 31 ? arch_s.len : 31), arch_s.data);
    if (strcmp(arch, "llama") != 0 && strcmp(arch, "qwen2") != 0)
        return mast_fail(MAST_ERR_UNSUPPORTED,
                         "%s: architecture '%s' is not supported for text generation (llama, qwen2)",
                         g->path, arch);
    mast_llama *m = calloc(1, sizeof *m);
    if (!m)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    snprintf(m->arch, sizeof m->arch, "%s", arch);
    mast_llama_info *in = &m->info;
    in->arch = m->arch;
    in->rope_neox = strcmp(arch, "qwen2") == 0;
    mast_status st = key_u32(g, arch, "block_count", false, 0, &in->n_layer);
    if (st == MAST_OK) st = key_u32(g, arch, "embedding_length", false, 0, &in->n_embd);
    if (st == MAST_OK) st = key_u32(g, arch, "feed_forward_length", false, 0, &in->n_ff);
    if (st == MAST_OK) st = key_u32(g, arch, "attention.head_count", false, 0, &in->n_head);
    if (st == MAST_OK) st = key_u32(g, arch, "attention.head_count_kv", true, in->n_head, &in->n_head_kv);
    if (st == MAST_OK) st = key_u32(g, arch, "context_length", true, 2048, &in->n_ctx_train);
    if (st == MAST_OK) st = key_f32(g, arch, "attention.layer_norm_rms_epsilon", 1e-5f, &in->rms_eps);
    if (st == MAST_OK) st = key_f32(g, arch, "rope.freq_base", 10000.0f, &in->rope_base);
    float factor = 1.0f;
    if (st == MAST_OK) {
        char key[64];
        mast_gguf_str type = {0};
        snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
        if (mast_gguf_get_str(g, key, &type) == MAST_OK && type.len == 6 &&
            memcmp(type.data, "linear", 6) == 0)
            st = key_f32(g, arch, "rope.scaling.factor", 1.0f, &factor);
        else if (type.len && !(type.len == 4 && memcmp(type.data, "none", 4) == 0))
            st = mast_fail(MAST_ERR_UNSUPPORTED, "%s: rope scaling '%.*s' is not supported (linear)",
                           g->path, (int)type.len, type.data);
    }
    in->rope_scale = 1.0f / factor;
    if (st == MAST_OK && (in->n_layer > 1024 || in->n_head > 4096 || in->n_embd > (1 << 20)))
        st = mast_fail(MAST_ERR_FORMAT, "%s: %d layers, %d heads, width %d: beyond any model mast runs",
                       g->path, in->n_layer, in->n_head, in->n_embd);
    if (st == MAST_OK && (in->n_embd % in->n_head || in->n_head % in->n_head_kv))
        st = mast_fail(MAST_ERR_FORMAT, "%s: %d heads do not divide the width %d into groups of %d KV heads",
                       g->path, in->n_head, in->n_embd, in->n_head_kv);
    if (st == MAST_OK) {
        in->head_dim = in->n_embd / in->n_head;
        st = key_u32(g, arch, "rope.dimension_count", true, in->head_dim, &in->rope_dims);
        if (st == MAST_OK && (in->rope_dims > in->head_dim || in->rope_dims % 2))
            st = mast_fail(MAST_ERR_FORMAT, "%s: rope.dimension_count %d does not fit head size %d",
                           g->path, in->rope_dims, in->head_dim);
    }
    const mast_tensor_info *te = st == MAST_OK ? mast_gguf_tensor(g, "token_embd.weight") : NULL;
    if (st == MAST_OK && !te)
        st = mast_fail(MAST_ERR_FORMAT, "%s: missing tensor 'token_embd.weight'", g->path);
    if (st == MAST_OK) {
        in->n_vocab = (int)te->ne[1];
        st = find(g, "token_embd.weight", in->n_embd, in->n_vocab, false, &m->tok_embd);
    }
    if (st == MAST_OK) st = vector(m, g, "output_norm.weight", in->n_embd, false, &m->output_norm);
    if (st == MAST_OK) st = find(g, "output.weight", in->n_embd, in->n_vocab, true, &m->output);
    if (st == MAST_OK && !m->output.data) {
        m->output = m->tok_embd;
        in->tied_output = true;
    }
    if (st == MAST_OK && !(m->layers = calloc((size_t)in->n_layer, sizeof *m->layers)))
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    int E = in->n_embd, KV = in->n_head_kv * in->head_dim, F = in->n_ff;
    bool qwen = strcmp(arch, "qwen2") == 0;
    for (int l = 0; st == MAST_OK && l < in->n_layer; l++) {
        layer *L = &m->layers[l];
        char name[96];
#define T(field, part, cols, rows)                                                \
    if (st == MAST_OK) {                                                          \
        snprintf(name, sizeof name, "blk.%d.%s.weight", l, part);                 \
        st = find(g, name, cols, rows, false, &L->field);                         \
    }
#define V(field, part, suffix, n, opt)                                            \
    if (st == MAST_OK) {                                                          \
        snprintf(name, sizeof name, "blk.%d.%s.%s", l, part, suffix);             \
        st = vector(m, g, name, n, opt, &L->field);                               \
    }
        V(attn_norm, "attn_norm", "weight", E, false)
        T(wq, "attn_q", E, E)
        T(wk, "attn_k", E, KV)
        T(wv, "attn_v", E, KV)
        T(wo, "attn_output", E, E)
        V(ffn_norm, "ffn_norm", "weight", E, false)
        T(wg, "ffn_gate", E, F)
        T(wu, "ffn_up", E, F)
        T(wd, "ffn_down", F, E)
        V(bq, "attn_q", "bias", E, !qwen)
        V(bk, "attn_k", "bias", KV, !qwen)
        V(bv, "attn_v", "bias", KV, !qwen)
#undef T
#undef V
        if (st == MAST_OK) {
            const tensor *ts[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->wg, &L->wu, &L->wd};
            for (size_t i = 0; i < sizeof ts / sizeof *ts; i++)
                in->weight_bytes += tensor_bytes(ts[i]);
        }
    }
    if (st == MAST_OK)
        in->weight_bytes += tensor_bytes(&m->output);
    if (st != MAST_OK) {
        mast_llama_free(m);
        return st;
    }
    *out = m;
    return MAST_OK;
}

void mast_llama_free(mast_llama *m)
{
    if (!m)
        return;
    mast_owned_free(&m->owned);
    for (int l = 0; m->layers && l < m->info.n_layer; l++) {
        layer *L = &m->layers[l];
        free(L->wq.packed);
        free(L->wk.packed);
        free(L->wv.packed);
        free(L->wo.packed);
        free(L->wg.packed);
        free(L->wu.packed);
        free(L->wd.packed);
    }
    free(m->output.packed);
    free(m->layers);
    free(m);
}

const mast_llama_info *mast_llama_info_of(const mast_llama *m)
{
    return &m->info;
}

void llama_scratch_free(scratch *s)
{
    free(s->x);
    free(s->rows);
    free(s->scores);
    free(s->att_buf);
}

/* Batches of at least ATT_GEMM_MIN tokens attend on the SGEMM, a head and
** ATT_QCHUNK queries at a time: S = Q K^T over the positions the chunk's
** last query sees, the causal softmax per row, O = S V. */
#define ATT_GEMM_MIN 32
#define ATT_QCHUNK 64

static size_t att_buf_floats(int n_ctx, int head_dim)
{
    return 2 * (size_t)n_ctx * (size_t)head_dim + ATT_QCHUNK * (size_t)n_ctx;
}

/* scratch for a batch of n tokens (one allocation, carved up) over
** contexts of up to n_ctx positions; att_buf: the per-worker buffers of
** attend_gemm and of expanded q8_0 heads too */
static mast_status reserve(scratch *s, const mast_llama_info *in, int n, int n_workers, int n_ctx,
                           bool att_buf)
{
    if (n > s->cap_batch) {
        size_t E = (size_t)in->n_embd, KV = (size_t)in->n_head_kv * in->head_dim,
               F = (size_t)in->n_ff, N = (size_t)n;
        size_t total = N * (E * 4 + KV * 2 + F * 2 + E);
        float *p = malloc(total * sizeof *p);
        int *ints = malloc(2 * N * sizeof *ints);
        if (!p || !ints) {
            free(p);
            free(ints);
            return mast_fail(MAST_ERR_NOMEM, "out of memory for a batch of %d tokens", n);
        }
        free(s->x);
        free(s->rows);
        s->rows = ints;
        s->row_seq = ints + N;
        s->x = p;
        s->h = s->x + N * E;
        s->q = s->h + N * E;
        s->att = s->q + N * E;
        s->kk = s->att + N * E;
        s->vv = s->kk + N * KV;
        s->g = s->vv + N * KV;
        s->u = s->g + N * F;
        s->tmp = s->u + N * F;
        s->cap_batch = n;
    }
    if (n_workers > s->n_score_rows || n_ctx > s->score_ctx) {   /* a row per query head of a KV group */
        size_t group = (size_t)(in->n_head / in->n_head_kv);
        float *sc = malloc((size_t)n_workers * group * (size_t)n_ctx * sizeof *sc);
        if (!sc)
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        free(s->scores);
        s->scores = sc;
        s->n_score_rows = n_workers;
        s->score_ctx = n_ctx;
    }
    if (att_buf && (n_workers > s->att_buf_workers || n_ctx > s->att_buf_ctx)) {
        float *b = malloc((size_t)n_workers * att_buf_floats(n_ctx, in->head_dim) * sizeof *b);
        if (!b)
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        free(s->att_buf);
        s->att_buf = b;
        s->att_buf_workers = n_workers;
        s->att_buf_ctx = n_ctx;
    }
    return MAST_OK;
}

/* ---- the forward pass ---- */

static void rms_norm(const float *x, const float *w, float *out, int n, float eps)
{
    double sum = 0;   /* ggml sums the squares in double */
    for (int i = 0; i < n; i++)
        sum += (double)(x[i] * x[i]);
    float scale = 1.0f / sqrtf((float)(sum / n) + eps);
    for (int i = 0; i < n; i++)
        out[i] = x[i] * scale * w[i];
}

/* Rotates the first rope_dims of each head of one row at position pos. */
static void rope(const mast_llama_ctx *c, float *row, int n_heads, int pos)
{
    const mast_llama_info *in = &c->m->info;
    int half = in->rope_dims / 2, D = in->head_dim;
    const float *cs = c->rope_cos + (size_t)pos * half, *sn = c->rope_sin + (size_t)pos * half;
    for (int h = 0; h < n_heads; h++) {
        float *v = row + (size_t)h * D;
        for (int i = 0; i < half; i++) {
            int a = in->rope_neox ? i : 2 * i, b = in->rope_neox ? i + half : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * cs[i] - x1 * sn[i];
            v[b] = x0 * sn[i] + x1 * cs[i];
        }
    }
}

/* The rows of one sequence in a forward pass: n tokens at positions
** pos0.. of c, rows row0.. of the scratch. */
typedef struct seq_rows {
    mast_llama_ctx *c;
    int row0, n, pos0;
    bool gemm;          /* attends on the SGEMM (ATT_GEMM_MIN tokens or more) */
} seq_rows;

typedef struct attn_job {
    scratch *s;
    const seq_rows *seqs;
    const int *rows;    /* attend, attend_group: the rows of the item list, as */
    const int *row_seq; /* ... their sequences (indices into seqs) */
    int seq;            /* attend_gemm: the sequence */
    int layer, score_ctx;
    bool simd;          /* AVX2 + F16C kernels (head size a multiple of 8) */
    atomic_int failed;  /* attend_gemm: a product could not get its packing memory */
} attn_job;

static float dot_plain(const float *q, const void *k, int D, bool f16)
{
    float dot = 0;
    for (int i = 0; i < D; i++)
        dot += q[i] * (f16 ? mast_f16_to_f32(((const mast_f16 *)k)[i]) : ((const float *)k)[i]);
    return dot;
}

static void axpy_plain(float *o, float w, const void *v, int D, bool f16)
{
    for (int i = 0; i < D; i++)
        o[i] += w * (f16 ? mast_f16_to_f32(((const mast_f16 *)v)[i]) : ((const float *)v)[i]);
}

/* A KV head's first n keys and values for the attention kernels: in the
** cache (F32, F16), or a q8_0 cache's expanded into the worker's floats
** (its att_buf; *last remembers which, so that the heads of a group expand
** them once). */
static void kv_head(const attn_job *j, const mast_llama_ctx *c, int kvh, int n, int worker, long *last,
                    long key, const unsigned char **K, const unsigned char **V, size_t *st, bool *f16)
{
    *K = kv_at_pos(c, c->k[j->layer], kvh, 0);
    *V = kv_at_pos(c, c->v[j->layer], kvh, 0);
    *st = c->kv_pos;
    *f16 = c->kv_type == MAST_F16;
    if (c->kv_type != MAST_Q8_0)
        return;
    int D = c->m->info.head_dim;
    float *Kf = j->s->att_buf + (size_t)worker * att_buf_floats(j->score_ctx, D);
    float *Vf = Kf + (size_t)j->score_ctx * D;
    if (*last != key) {
        mast_dequantize_row(MAST_Q8_0, *K, Kf, (int64_t)n * D);
        mast_dequantize_row(MAST_Q8_0, *V, Vf, (int64_t)n * D);
        *last = key;
    }
    *K = (const unsigned char *)Kf;
    *V = (const unsigned char *)Vf;
    *st = (size_t)D * sizeof(float);
}

/* One (row, head) pair per item: causal softmax(q k / sqrt(d)) v over the
** row's own sequence. */
static void attend(void *ctx, size_t begin, size_t end, int worker)
{
    const attn_job *j = ctx;
    const mast_llama_info *in = &j->seqs[0].c->m->info;
    int D = in->head_dim, H = in->n_head, group = in->n_head / in->n_head_kv;
    float scale = 1.0f / sqrtf((float)D);
    float *s = j->s->scores + (size_t)worker * (size_t)j->score_ctx;
    long last = -1;
    for (size_t item = begin; item < end; item++) {
        int t = j->rows[item / (size_t)H], h = (int)(item % (size_t)H), kvh = h / group;
        const seq_rows *sq = &j->seqs[j->row_seq[t]];
        const mast_llama_ctx *c = sq->c;
        int n = sq->pos0 + (t - sq->row0) + 1;   /* attends to positions 0..its own */
        const float *q = j->s->q + (size_t)t * in->n_embd + (size_t)h * D;
        const unsigned char *K, *V;
        size_t st;
        bool f16;
        kv_head(j, c, kvh, n, worker, &last, (long)t * in->n_head_kv + kvh, &K, &V, &st, &f16);
        if (j->simd)
            mast_attn_scores_avx2(q, K, st, n, D, f16, s);
        else
            for (int p = 0; p < n; p++)
                s[p] = dot_plain(q, K + (size_t)p * st, D, f16);
        mast_vec_softmax(s, (size_t)n, scale);
        float *o = j->s->att + (size_t)t * in->n_embd + (size_t)h * D;
        if (j->simd) {
            mast_attn_wsum_avx2(o, s, V, st, n, D, f16);
            continue;
        }
        memset(o, 0, (size_t)D * sizeof *o);
        for (int p = 0; p < n; p++)
            axpy_plain(o, s[p], V + (size_t)p * st, D, f16);
    }
}

/* One (row, KV head) pair per item: the KV head's G query heads together
** (attend_heads), where attend_group_ok. */
static void attend_group(void *ctx, size_t begin, size_t end, int worker)
{
    const attn_job *j = ctx;
    const mast_llama_info *in = &j->seqs[0].c->m->info;
    int D = in->head_dim, KVH = in->n_head_kv, G = in->n_head / in->n_head_kv;
    size_t n_ctx = (size_t)j->score_ctx;
    float *s = j->s->scores + (size_t)worker * (size_t)G * n_ctx;
    for (size_t item = begin; item < end; item++) {
        int t = j->rows[item / (size_t)KVH], kvh = (int)(item % (size_t)KVH);
        const seq_rows *sq = &j->seqs[j->row_seq[t]];
        const mast_llama_ctx *c = sq->c;
        int n = sq->pos0 + (t - sq->row0) + 1;
        size_t first = (size_t)t * in->n_embd + (size_t)kvh * G * D;
        const unsigned char *K, *V;
        size_t st;
        bool f16;
        long last = -1;
        kv_head(j, c, kvh, n, worker, &last, 0, &K, &V, &st, &f16);
        mast_attn_heads_avx512(j->s->q + first, j->s->att + first, s, n_ctx, K, V, st, n, D, f16, G);
    }
}

/* head sizes a multiple of 32, groups of 2 to ATT_GROUP_MAX, AVX-512 */
static bool attend_group_ok(const mast_llama_info *in, bool simd)
{
    int G = in->n_head / in->n_head_kv;
    return simd && in->head_dim % 32 == 0 && G >= 2 && G <= ATT_GROUP_MAX && mast_avx512_available();
}

/* One query head of one sequence per item, on the SGEMM (see
** ATT_GEMM_MIN): the same products as attend's, summed in another order. */
static void attend_gemm(void *ctx, size_t begin, size_t end, int worker)
{
    attn_job *j = ctx;   /* not const: it records a failure */
    const seq_rows *sq = &j->seqs[j->seq];
    const mast_llama_ctx *c = sq->c;
    const mast_llama_info *in = &c->m->info;
    int D = in->head_dim, E = in->n_embd, group = in->n_head / in->n_head_kv;
    int n_kv = sq->pos0 + sq->n;
    float scale = 1.0f / sqrtf((float)D);
    float *Kf = j->s->att_buf + (size_t)worker * att_buf_floats(j->score_ctx, D);
    float *Vf = Kf + (size_t)j->score_ctx * D, *S = Vf + (size_t)j->score_ctx * D;
    const float *Q = j->s->q + (size_t)sq->row0 * E;
    float *O = j->s->att + (size_t)sq->row0 * E;
    for (size_t h = begin; h < end; h++) {
        int kvh = (int)h / group;   /* its positions are contiguous: one conversion each */
        mast_dequantize_row(c->kv_type, kv_at_pos(c, c->k[j->layer], kvh, 0), Kf, (int64_t)n_kv * D);
        mast_dequantize_row(c->kv_type, kv_at_pos(c, c->v[j->layer], kvh, 0), Vf, (int64_t)n_kv * D);
        for (int t0 = 0; t0 < sq->n; t0 += ATT_QCHUNK) {
            int rows = sq->n - t0 < ATT_QCHUNK ? sq->n - t0 : ATT_QCHUNK, nk = sq->pos0 + t0 + rows;
            /* S = Q K^T (fails only without memory for the thread's packing buffer) */
            if (mast_sgemm(NULL, rows, nk, D, Q + (size_t)t0 * E + h * D, E, Kf, D, false, S, nk) != MAST_OK) {
                atomic_store(&j->failed, 1);
                return;
            }
            for (int r = 0; r < rows; r++) {
                int len = sq->pos0 + t0 + r + 1;   /* positions 0..pos0+t0+r */
                mast_vec_softmax(S + (size_t)r * nk, (size_t)len, scale);
                memset(S + (size_t)r * nk + len, 0, (size_t)(nk - len) * sizeof *S);
            }
            if (mast_sgemm(NULL, rows, D, nk, S, nk, Vf, D, true, O + (size_t)t0 * E + h * D, E) != MAST_OK) {
                atomic_store(&j->failed, 1);
                return;
            }
        }
    }
}

static mast_status linear(mast_pool *pool, const tensor *w, const float *x, int n, float *y,
                          mast_matmul_mode mode)
{
    return mast_matmul_packed(pool, w->type, w->data, w->packed, w->rows, w->cols, x, n, y, mode);
}

/* The matrices tiles are made for, in one order: every layer's seven, then the LM head. */
static size_t packable(const mast_llama *m, const tensor **out)
{
    size_t n = 0;
    for (int l = 0; l < m->info.n_layer; l++) {
        const layer *L = &m->layers[l];
        const tensor *ts[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->wg, &L->wu, &L->wd};
        for (size_t i = 0; i < sizeof ts / sizeof *ts; i++)
            if (out)
                out[n++] = ts[i];
            else
                n++;
    }
    if (out)
        out[n] = &m->output;
    return n + 1;
}

struct mast_llama_packed {
    size_t n, bytes;
    void **tiles;   /* packable's order */
};

mast_llama_packed *mast_llama_pack(const mast_llama *m, size_t *bytes)
{
    *bytes = 0;
    size_t n = packable(m, NULL);
    const tensor **ts = malloc(n * sizeof *ts);
    mast_llama_packed *p = calloc(1, sizeof *p);
    if (!ts || !p || !(p->tiles = calloc(n, sizeof *p->tiles))) {
        free(ts);
        free(p);
        return NULL;
    }
    packable(m, ts);
    p->n = n;
    for (size_t i = 0; i < n; i++) {
        size_t b;
        p->tiles[i] = mast_matmul_prepack(ts[i]->type, ts[i]->data, ts[i]->rows, ts[i]->cols, &b);
        p->bytes += b;
    }
    free(ts);
    *bytes = p->bytes;
    return p;
}

void mast_llama_use_packed(mast_llama *m, mast_llama_packed *p)
{
    if (!p)
        return;
    if (m->prepacked || p->n != packable(m, NULL)) {   /* packed already (or not this model's) */
        for (size_t i = 0; i < p->n; i++)
            free(p->tiles[i]);
    } else {
        tensor **ts = malloc(p->n * sizeof *ts);
        if (ts) {
            packable(m, (const tensor **)ts);
            for (size_t i = 0; i < p->n; i++)
                ts[i]->packed = p->tiles[i];
            m->prepacked = true;
            m->packed_bytes = p->bytes;
            free(ts);
        } else {
            for (size_t i = 0; i < p->n; i++)
                free(p->tiles[i]);
        }
    }
    free(p->tiles);
    free(p);
}

size_t mast_llama_prepack(mast_llama *m)
{
    if (m->prepacked)
        return m->packed_bytes;
    size_t bytes;
    mast_llama_use_packed(m, mast_llama_pack(m, &bytes));
    return m->packed_bytes;
}

/* The forward pass of n_rows tokens, seqs' rows in order (each sequence's
** tokens at its next positions), on scratch s. logits: the last row of each
** sequence (n_seqs x n_vocab), or every row when all_logits (one sequence);
** may be NULL. The positions must fit (the callers check). */
static mast_status forward(const mast_llama *m, scratch *s, mast_pool *pool, seq_rows *seqs,
                           int n_seqs, const int32_t *tokens, int n_rows, mast_matmul_mode mode,
                           bool all_logits, float *logits)
{
    const mast_llama_info *in = &m->info;
    for (int i = 0; i < n_rows; i++)
        if (tokens[i] < 0 || tokens[i] >= in->n_vocab)
            return mast_fail(MAST_ERR_INVALID, "token id %d is outside the vocabulary (%d)",
                             tokens[i], in->n_vocab);
    int workers = pool ? mast_pool_size(pool) : 1, max_ctx = 0;
    bool simd = in->head_dim % 8 == 0 && mast_quant_simd(), need_att_buf = false;
    for (int q = 0; q < n_seqs; q++) {
        seq_rows *sq = &seqs[q];
        MAST_TRY(llama_kv_reserve(sq->c, sq->pos0 + sq->n));
        if (sq->c->cap > max_ctx)
            max_ctx = sq->c->cap;
        sq->gemm = sq->n >= ATT_GEMM_MIN && simd && mast_sgemm_fast();
        need_att_buf |= sq->gemm || sq->c->kv_type == MAST_Q8_0;   /* both expand a head into it */
    }
    MAST_TRY(reserve(s, in, n_rows, workers, max_ctx, need_att_buf));
    int n_flat = 0;   /* the rows that attend one at a time, and their sequences */
    for (int q = 0; q < n_seqs; q++)
        for (int r = 0; r < seqs[q].n; r++) {
            s->row_seq[seqs[q].row0 + r] = q;
            if (!seqs[q].gemm)
                s->rows[n_flat++] = seqs[q].row0 + r;
        }
    int E = in->n_embd, KV = in->n_head_kv * in->head_dim, F = in->n_ff;
    size_t emb_row = mast_dtype_row_size(m->tok_embd.type, E);
    for (int i = 0; i < n_rows; i++)
        mast_dequantize_row(m->tok_embd.type, (const char *)m->tok_embd.data + (size_t)tokens[i] * emb_row,
                            s->x + (size_t)i * E, E);
    bool grouped = attend_group_ok(in, simd);
    for (int l = 0; l < in->n_layer; l++) {
        const layer *L = &m->layers[l];
        for (int i = 0; i < n_rows; i++)
            rms_norm(s->x + (size_t)i * E, L->attn_norm, s->h + (size_t)i * E, E, in->rms_eps);
        mast_matmul_part qkv[3] = {{L->wq.type, L->wq.data, L->wq.rows, s->q, L->wq.packed},
                                   {L->wk.type, L->wk.data, L->wk.rows, s->kk, L->wk.packed},
                                   {L->wv.type, L->wv.data, L->wv.rows, s->vv, L->wv.packed}};
        MAST_TRY(mast_matmul_parts(pool, qkv, 3, E, s->h, n_rows, mode));
        for (int i = 0; i < n_rows; i++) {
            seq_rows *sq = &seqs[s->row_seq[i]];
            mast_llama_ctx *c = sq->c;
            int pos = sq->pos0 + (i - sq->row0);
            float *q = s->q + (size_t)i * E, *k = s->kk + (size_t)i * KV, *v = s->vv + (size_t)i * KV;
            if (L->bq)
                for (int d = 0; d < E; d++)
                    q[d] += L->bq[d];
            if (L->bk)
                for (int d = 0; d < KV; d++)
                    k[d] += L->bk[d];
            if (L->bv)
                for (int d = 0; d < KV; d++)
                    v[d] += L->bv[d];
            rope(c, q, in->n_head, pos);
            rope(c, k, in->n_head_kv, pos);
            llama_store_kv(c, c->k[l], pos, k);
            llama_store_kv(c, c->v[l], pos, v);
        }
        attn_job aj = {.s = s, .seqs = seqs, .rows = s->rows, .row_seq = s->row_seq, .layer = l,
                       .score_ctx = max_ctx, .simd = simd};
        if (n_flat) {
            size_t items = (size_t)n_flat * (size_t)(grouped ? in->n_head_kv : in->n_head);
            void (*fn)(void *, size_t, size_t, int) = grouped ? attend_group : attend;
            if (pool)
                mast_pool_for(pool, items, fn, &aj);
            else
                fn(&aj, 0, items, 0);
        }
        for (int q = 0; q < n_seqs; q++) {
            if (!seqs[q].gemm)
                continue;
            aj.seq = q;
            if (pool)
                mast_pool_for(pool, (size_t)in->n_head, attend_gemm, &aj);
            else
                attend_gemm(&aj, 0, (size_t)in->n_head, 0);
        }
        if (atomic_load(&aj.failed))
            return mast_fail(MAST_ERR_NOMEM, "out of memory in the attention of layer %d", l);
        MAST_TRY(linear(pool, &L->wo, s->att, n_rows, s->tmp, mode));
        for (size_t i = 0; i < (size_t)n_rows * E; i++)
            s->x[i] += s->tmp[i];
        for (int i = 0; i < n_rows; i++)
            rms_norm(s->x + (size_t)i * E, L->ffn_norm, s->h + (size_t)i * E, E, in->rms_eps);
        mast_matmul_part gate_up[2] = {{L->wg.type, L->wg.data, L->wg.rows, s->g, L->wg.packed},
                                       {L->wu.type, L->wu.data, L->wu.rows, s->u, L->wu.packed}};
        MAST_TRY(mast_matmul_parts(pool, gate_up, 2, E, s->h, n_rows, mode));
        mast_vec_swiglu(s->g, s->u, (size_t)n_rows * F);   /* silu(gate) * up */
        MAST_TRY(linear(pool, &L->wd, s->g, n_rows, s->tmp, mode));
        for (size_t i = 0; i < (size_t)n_rows * E; i++)
            s->x[i] += s->tmp[i];
    }
    for (int q = 0; q < n_seqs; q++)
        seqs[q].c->used = seqs[q].pos0 + seqs[q].n;
    if (!logits)
        return MAST_OK;
    int rows = 0;   /* the rows whose logits are wanted, normalized into h */
    for (int q = 0; q < n_seqs; q++)
        for (int r = all_logits ? 0 : seqs[q].n - 1; r < seqs[q].n; r++, rows++)
            rms_norm(s->x + (size_t)(seqs[q].row0 + r) * E, m->output_norm, s->h + (size_t)rows * E, E,
                     in->rms_eps);
    return linear(pool, &m->output, s->h, rows, logits, mode);
}

/* One sequence's n tokens on scratch s. */
static mast_status decode_one(mast_llama_ctx *c, scratch *s, mast_pool *pool, const int32_t *tokens,
                              int n, bool all_logits, float *logits)
{
    if (n <= 0)
        return mast_fail(MAST_ERR_INVALID, "nothing to decode");
    if (c->used + n > c->n_ctx)
        return mast_fail(MAST_ERR_LIMIT,
                         "the context is full: %d positions used, %d more do not fit in %d",
                         c->used, n, c->n_ctx);
    seq_rows one = {c, 0, n, c->used, false};
    return forward(c->m, s, pool, &one, 1, tokens, n,
                   c->fast_prompt ? MAST_MATMUL_FAST : MAST_MATMUL_EXACT, all_logits, logits);
}

mast_status mast_llama_decode(mast_llama_ctx *c, mast_pool *pool, const int32_t *tokens, int n,
                              bool all_logits, float *logits)
{
    return decode_one(c, &c->s, pool, tokens, n, all_logits, logits);
}

mast_status mast_llama_batch_decode(mast_llama_batch *b, mast_llama_ctx *c, mast_pool *pool,
                                    const int32_t *tokens, int n, bool all_logits, float *logits)
{
    if (c->m != b->m)
        return mast_fail(MAST_ERR_INVALID, "the context is another model's");
    return decode_one(c, &b->s, pool, tokens, n, all_logits, logits);
}

mast_status mast_llama_batch_new(const mast_llama *m, mast_llama_batch **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    (*out)->m = m;
    return MAST_OK;
}

void mast_llama_batch_free(mast_llama_batch *b)
{
    if (!b)
        return;
    llama_scratch_free(&b->s);
    free(b);
}

#define ROWS_PASS 32

mast_status mast_llama_decode_seqs(mast_llama_batch *b, mast_pool *pool, mast_llama_ctx *const *ctxs,
                                   const int32_t *tokens, int n, float *logits)
{
    if (n <= 0)
        return mast_fail(MAST_ERR_INVALID, "nothing to decode");
    seq_rows stack[64], *seqs = n <= 64 ? stack : malloc((size_t)n * sizeof *seqs);
    if (!seqs)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_status st = MAST_OK;
    for (int i = 0; i < n && st == MAST_OK; i++) {
        mast_llama_ctx *c = ctxs[i];
        if (c->m != b->m)
            st = mast_fail(MAST_ERR_INVALID, "sequence %d's context is another model's", i);
        else if (c->used + 1 > c->n_ctx)
            st = mast_fail(MAST_ERR_LIMIT, "sequence %d's context is full (%d positions)", i, c->n_ctx);
        for (int k = 0; k < i && st == MAST_OK; k++)
            if (ctxs[k] == c)
                st = mast_fail(MAST_ERR_INVALID, "sequences %d and %d share a context", k, i);
        seqs[i] = (seq_rows){c, i, 1, c->used, false};
    }
    /* Every row on the dot products: its bits are those of its sequence
    ** alone. 16-bit and f32 weights have no tiles: their row kernels read
    ** the weights once for up to ROWS_PASS rows, which past that fall out
    ** of cache (F16 124M: 521 tokens/s at 32 rows, 469 at 64), so larger
    ** batches go in passes of ROWS_PASS. */
    mast_dtype wt = b->m->layers[0].wq.type;
    int pass = wt == MAST_F16 || wt == MAST_BF16 || wt == MAST_F32 ? ROWS_PASS : n;
    for (int i = 0; i < n && st == MAST_OK; i += pass) {
        int k = n - i < pass ? n - i : pass;
        for (int r = 0; r < k; r++)
            seqs[i + r].row0 = r;
        st = forward(b->m, &b->s, pool, seqs + i, k, tokens + i, k, MAST_MATMUL_ROWS, false,
                     logits ? logits + (size_t)i * b->m->info.n_vocab : NULL);
    }
    if (seqs != stack)
        free(seqs);
    return st;
}

