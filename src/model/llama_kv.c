/*
** model/llama_kv.c — the decoder's contexts (see llama.h): each sequence's KV
** cache, grown as it fills, copied, released, and shifted at its limit.
*/
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "model/llama_impl.h"
#include "model/quant.h"

/* ---- context ---- */

static void rope_table(mast_llama_ctx *c, int from)
{
    const mast_llama_info *in = &c->m->info;
    int half = in->rope_dims / 2;
    float theta_scale = powf(in->rope_base, -2.0f / (float)in->rope_dims);
    for (int p = from; p < c->n_ctx; p++) {
        float theta = (float)p;   /* as ggml: multiplied by theta_scale per pair, in float */
        for (int i = 0; i < half; i++) {
            float t = theta * in->rope_scale;
            c->rope_cos[(size_t)p * half + i] = cosf(t);
            c->rope_sin[(size_t)p * half + i] = sinf(t);
            theta *= theta_scale;
        }
    }
}

mast_status mast_llama_ctx_new(const mast_llama *m, int n_ctx, mast_dtype kv_type,
                               mast_llama_ctx **out)
{
    *out = NULL;
    const mast_llama_info *in = &m->info;
    if (n_ctx <= 0)
        n_ctx = in->n_ctx_train;
    if (kv_type != MAST_F32 && kv_type != MAST_F16 && kv_type != MAST_Q8_0)
        return mast_fail(MAST_ERR_INVALID, "the KV cache type must be f32, f16 or q8_0");
    if (kv_type == MAST_Q8_0 && in->head_dim % 32)
        return mast_fail(MAST_ERR_UNSUPPORTED, "a q8_0 KV cache needs a head size that is a multiple "
                         "of 32 (this model's is %d): use f16", in->head_dim);
    mast_llama_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    c->m = m;
    c->n_ctx = n_ctx;
    c->kv_type = kv_type;
    c->kv_pos = mast_dtype_row_size(kv_type, in->head_dim);
    c->k = calloc((size_t)in->n_layer, sizeof *c->k);
    c->v = calloc((size_t)in->n_layer, sizeof *c->v);
    int half = in->rope_dims / 2;
    c->rope_cos = malloc((size_t)n_ctx * (size_t)(half ? half : 1) * sizeof(float));
    c->rope_sin = malloc((size_t)n_ctx * (size_t)(half ? half : 1) * sizeof(float));
    if (!c->k || !c->v || !c->rope_cos || !c->rope_sin) {
        mast_llama_ctx_free(c);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    rope_table(c, 0);
    *out = c;
    return MAST_OK;
}

static void kv_free(mast_llama_ctx *c)
{
    for (int l = 0; c->k && c->v && l < c->m->info.n_layer; l++) {
        free(c->k[l]);
        free(c->v[l]);
        c->k[l] = c->v[l] = NULL;
    }
    c->cap = c->used = 0;
}

void mast_llama_ctx_free(mast_llama_ctx *c)
{
    if (!c)
        return;
    kv_free(c);
    free(c->k);
    free(c->v);
    llama_scratch_free(&c->s);
    free(c->rope_cos);
    free(c->rope_sin);
    free(c);
}

int mast_llama_ctx_size(const mast_llama_ctx *c) { return c->n_ctx; }
int mast_llama_ctx_used(const mast_llama_ctx *c) { return c->used; }

void mast_llama_ctx_truncate(mast_llama_ctx *c, int n)
{
    if (n >= 0 && n < c->used)
        c->used = n;
}

size_t mast_llama_kv_bytes(const mast_llama *m, mast_dtype kv_type, int positions)
{
    const mast_llama_info *in = &m->info;
    size_t pos = mast_dtype_row_size(kv_type, in->head_dim);
    return 2 * (size_t)in->n_layer * (size_t)in->n_head_kv * pos * (size_t)(positions > 0 ? positions : 0);
}

size_t mast_llama_ctx_bytes(const mast_llama_ctx *c)
{
    return mast_llama_kv_bytes(c->m, c->kv_type, c->cap);
}

void mast_llama_ctx_release(mast_llama_ctx *c)
{
    kv_free(c);
}

/* The room kv_reserve gives for need positions (the doubling policy). */
static int cap_for(const mast_llama_ctx *c, int need)
{
    if (need <= c->cap)
        return c->cap;
    int cap = c->cap ? c->cap : 256;
    while (cap < need)
        cap *= 2;
    return cap > c->n_ctx ? c->n_ctx : cap;
}

/* Room for cap positions (more than now, at most n_ctx), all or nothing:
** each KV head's positions moved to the new stride. */
static mast_status resize(mast_llama_ctx *c, int cap)
{
    const mast_llama_info *in = &c->m->info;
    size_t head_old = c->kv_pos * (size_t)c->cap, head_new = c->kv_pos * (size_t)cap;
    size_t kept = c->kv_pos * (size_t)c->used, n = 2 * (size_t)in->n_layer;
    unsigned char **fresh = calloc(n, sizeof *fresh);   /* all or nothing */
    bool ok = fresh != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = (fresh[i] = malloc(head_new * (size_t)in->n_head_kv)) != NULL;
    if (!ok) {
        for (size_t i = 0; fresh && i < n; i++)
            free(fresh[i]);
        free(fresh);
        return mast_fail(MAST_ERR_NOMEM, "out of memory for a KV cache of %d positions", cap);
    }
    for (int l = 0; l < in->n_layer; l++) {
        unsigned char **caches[2] = {&c->k[l], &c->v[l]};
        for (int w = 0; w < 2; w++) {
            unsigned char *to = fresh[2 * (size_t)l + (size_t)w];
            for (int h = 0; *caches[w] && kept && h < in->n_head_kv; h++)
                memcpy(to + (size_t)h * head_new, *caches[w] + (size_t)h * head_old, kept);
            free(*caches[w]);
            *caches[w] = to;
        }
    }
    free(fresh);
    c->cap = cap;
    return MAST_OK;
}

/* Room for at least need positions (at most n_ctx), as the cache fills:
** by doubling, from 256. */
mast_status llama_kv_reserve(mast_llama_ctx *c, int need)
{
    if (need <= c->cap)
        return MAST_OK;
    if (need > c->n_ctx)
        return mast_fail(MAST_ERR_LIMIT, "%d positions do not fit in a context of %d", need, c->n_ctx);
    return resize(c, cap_for(c, need));
}

/* The room an explicit reservation of positions leaves (no doubling). */
static int reserved(const mast_llama_ctx *c, int positions)
{
    int want = positions > c->n_ctx ? c->n_ctx : positions;
    return want > c->cap ? want : c->cap;
}

size_t mast_llama_ctx_bytes_after(const mast_llama_ctx *c, int positions)
{
    return mast_llama_kv_bytes(c->m, c->kv_type, reserved(c, positions));
}

mast_status mast_llama_ctx_reserve(mast_llama_ctx *c, int positions)
{
    int cap = reserved(c, positions);
    return cap > c->cap ? resize(c, cap) : MAST_OK;
}

mast_status mast_llama_ctx_copy(mast_llama_ctx *dst, const mast_llama_ctx *src, int n)
{
    if (dst->m != src->m || dst->kv_type != src->kv_type || n < 0 || n > src->used || n > dst->n_ctx)
        return mast_fail(MAST_ERR_INVALID, "cannot copy %d positions between these contexts", n);
    if (dst == src) {
        mast_llama_ctx_truncate(dst, n);
        return MAST_OK;
    }
    dst->used = 0;   /* nothing of its own is kept */
    MAST_TRY(llama_kv_reserve(dst, n));
    const mast_llama_info *in = &src->m->info;
    size_t bytes = src->kv_pos * (size_t)n;
    for (int l = 0; l < in->n_layer; l++)
        for (int h = 0; h < in->n_head_kv; h++) {
            memcpy(dst->k[l] + (size_t)h * dst->cap * dst->kv_pos, src->k[l] + (size_t)h * src->cap * src->kv_pos, bytes);
            memcpy(dst->v[l] + (size_t)h * dst->cap * dst->kv_pos, src->v[l] + (size_t)h * src->cap * src->kv_pos, bytes);
        }
    dst->used = n;
    return MAST_OK;
}

size_t mast_llama_ctx_state_bytes(const mast_llama_ctx *c, int n)
{
    return 2 * (size_t)c->m->info.n_layer * (size_t)c->m->info.n_head_kv * c->kv_pos * (size_t)n;
}

mast_status mast_llama_ctx_write(const mast_llama_ctx *c, int n, FILE *f)
{
    if (n < 0 || n > c->used)
        return mast_fail(MAST_ERR_INVALID, "cannot save %d positions of a context holding %d", n, c->used);
    const mast_llama_info *in = &c->m->info;
    size_t bytes = c->kv_pos * (size_t)n;
    for (int l = 0; l < in->n_layer; l++)
        for (int w = 0; w < 2; w++)
            for (int h = 0; bytes && h < in->n_head_kv; h++)
                if (fwrite((w ? c->v[l] : c->k[l]) + (size_t)h * c->cap * c->kv_pos, 1, bytes, f) != bytes)
                    return mast_fail(MAST_ERR_IO, "cannot write a KV cache: %s", strerror(errno));
    return MAST_OK;
}

mast_status mast_llama_ctx_read(mast_llama_ctx *c, int n, FILE *f)
{
    c->used = 0;
    if (n < 0 || n > c->n_ctx)
        return mast_fail(MAST_ERR_FORMAT, "a saved KV cache of %d positions does not fit a context of %d",
                         n, c->n_ctx);
    MAST_TRY(llama_kv_reserve(c, n));
    const mast_llama_info *in = &c->m->info;
    size_t bytes = c->kv_pos * (size_t)n;
    for (int l = 0; l < in->n_layer; l++)
        for (int w = 0; w < 2; w++)
            for (int h = 0; bytes && h < in->n_head_kv; h++)
                if (fread((w ? c->v[l] : c->k[l]) + (size_t)h * c->cap * c->kv_pos, 1, bytes, f) != bytes)
                    return mast_fail(ferror(f) ? MAST_ERR_IO : MAST_ERR_FORMAT, "a saved KV cache is %s",
                                     ferror(f) ? strerror(errno) : "shorter than its header says");
    c->used = n;
    return MAST_OK;
}

/* a position's keys or values, all KV heads (row: n_head_kv * head_dim floats) */
void llama_store_kv(mast_llama_ctx *c, unsigned char *cache, int pos, const float *row)
{
    const mast_llama_info *in = &c->m->info;
    int D = in->head_dim;
    for (int h = 0; h < in->n_head_kv; h++) {
        unsigned char *dst = kv_at_pos(c, cache, h, pos);
        if (c->kv_type == MAST_F32)
            memcpy(dst, row + (size_t)h * D, (size_t)D * sizeof *row);
        else
            mast_quantize_row(c->kv_type, row + (size_t)h * D, dst, D);
    }
}

/* a position's keys or values, all KV heads, as floats (row: n_head_kv * head_dim) */
void llama_load_kv(const mast_llama_ctx *c, unsigned char *cache, int pos, float *row)
{
    const mast_llama_info *in = &c->m->info;
    for (int h = 0; h < in->n_head_kv; h++)
        mast_dequantize_row(c->kv_type, kv_at_pos(c, cache, h, pos), row + (size_t)h * in->head_dim,
                            in->head_dim);
}

mast_status mast_llama_ctx_key(const mast_llama_ctx *c, int layer, int pos, float *out)
{
    const mast_llama_info *in = &c->m->info;
    if (layer < 0 || layer >= in->n_layer || pos < 0 || pos >= c->used)
        return mast_fail(MAST_ERR_INVALID, "no key at layer %d, position %d", layer, pos);
    llama_load_kv(c, c->k[layer], pos, out);
    return MAST_OK;
}

void mast_llama_ctx_set_fast_prompt(mast_llama_ctx *c, bool fast)
{
    c->fast_prompt = fast;
}

mast_status mast_llama_ctx_shift(mast_llama_ctx *c, int keep, int n_discard)
{
    const mast_llama_info *in = &c->m->info;
    if (keep < 0 || n_discard <= 0 || keep + n_discard > c->used)
        return mast_fail(MAST_ERR_INVALID, "cannot discard %d positions after %d of %d", n_discard,
                         keep, c->used);
    int KV = in->n_head_kv * in->head_dim, half = in->rope_dims / 2, D = in->head_dim;
    float *row = malloc((size_t)KV * sizeof *row);
    if (!row)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (int l = 0; l < in->n_layer; l++) {
        for (int p = keep + n_discard; p < c->used; p++) {
            int to = p - n_discard;
            /* keys: un-rotate by p, rotate by the new position (rotation by -n_discard) */
            llama_load_kv(c, c->k[l], p, row);
            for (int h = 0; h < in->n_head_kv; h++) {
                float *v = row + (size_t)h * D;
                for (int i = 0; i < half; i++) {
                    int a = in->rope_neox ? i : 2 * i, b = in->rope_neox ? i + half : 2 * i + 1;
                    /* R(to) R(p)^-1 = R(to - p): cos(a - b) from the tables */
                    float cp = c->rope_cos[(size_t)p * half + i], sp = c->rope_sin[(size_t)p * half + i];
                    float ct = c->rope_cos[(size_t)to * half + i], st = c->rope_sin[(size_t)to * half + i];
                    float cd = ct * cp + st * sp, sd = st * cp - ct * sp;
                    float x0 = v[a], x1 = v[b];
                    v[a] = x0 * cd - x1 * sd;
                    v[b] = x0 * sd + x1 * cd;
                }
            }
            llama_store_kv(c, c->k[l], to, row);
            for (int h = 0; h < in->n_head_kv; h++)
                memmove(kv_at_pos(c, c->v[l], h, to), kv_at_pos(c, c->v[l], h, p), c->kv_pos);
        }
    }
    free(row);
    c->used -= n_discard;
    return MAST_OK;
}
