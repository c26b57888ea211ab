/*
** model/quantize.c — model conversion (see quantize.h).
*/
#include "model/quantize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "model/quant.h"

/* llama.cpp's file types, written to general.file_type */
enum { FTYPE_F16 = 1, FTYPE_Q4_0 = 2, FTYPE_Q8_0 = 7, FTYPE_Q4_K_M = 15, FTYPE_Q6_K = 18 };

typedef struct target {
    const char *name;
    mast_dtype base;
    int ftype;
    int mix;   /* 1 = the Q4_K_M rules */
} target;

static const target targets[] = {
    {"q8_0", MAST_Q8_0, FTYPE_Q8_0, 0}, {"q4_0", MAST_Q4_0, FTYPE_Q4_0, 0},
    {"q4_k_m", MAST_Q4_K, FTYPE_Q4_K_M, 1}, {"q6_k", MAST_Q6_K, FTYPE_Q6_K, 0},
    {"f16", MAST_F16, FTYPE_F16, 0},
};

static int use_more_bits(int layer, int n_layers)
{
    return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int layer_of(const char *name)
{
    int layer;
    return sscanf(name, "blk.%d.", &layer) == 1 ? layer : -1;
}

static mast_dtype choose(const target *t, const mast_tensor_info *ti, int n_layers)
{
    if (ti->n_dims < 2 || !has_suffix(ti->name, "weight"))
        return ti->type;   /* norms, biases, 1-D tensors stay */
    if (strcmp(ti->name, "position_embd.weight") == 0 || strcmp(ti->name, "token_types.weight") == 0)
        return ti->type;   /* added to activations as they are (BERT), as llama.cpp keeps them */
    mast_dtype type = t->base;
    if (t->mix) {
        int layer = layer_of(ti->name);
        if (strcmp(ti->name, "output.weight") == 0)
            type = MAST_Q6_K;
        else if ((strstr(ti->name, "attn_v.weight") || strstr(ti->name, "ffn_down.weight")) &&
                 layer >= 0 && use_more_bits(layer, n_layers))
            type = MAST_Q6_K;
    }
    int64_t cols = ti->ne[0];
    if (cols % mast_dtype_get(type)->block_size) {   /* llama.cpp's fallbacks */
        if (type == MAST_Q4_K)
            type = MAST_Q5_0;
        else if (type == MAST_Q6_K)
            type = MAST_Q8_0;
        if (cols % mast_dtype_get(type)->block_size)
            type = MAST_F16;
    }
    return type;
}

typedef struct convert_job {
    const mast_tensor_info *ti;
    mast_dtype to;
    unsigned char *out;
    size_t in_row, out_row;
    float *scratch;        /* one row per worker */
    int64_t cols;
} convert_job;

static void convert_rows(void *ctx, size_t begin, size_t end, int worker)
{
    convert_job *j = ctx;
    float *row = j->scratch + (size_t)worker * (size_t)j->cols;
    const unsigned char *in = j->ti->data;
    for (size_t r = begin; r < end; r++) {
        mast_dequantize_row(j->ti->type, in + r * j->in_row, row, j->cols);
        mast_quantize_row(j->to, row, j->out + r * j->out_row, j->cols);
    }
}

mast_status mast_quantize_model(const mast_gguf *in, const char *out, const char *target_name,
                                mast_pool *pool, mast_quantize_stats *stats)
{
    mast_quantize_stats none;
    if (!stats)
        stats = &none;
    memset(stats, 0, sizeof *stats);
    const target *t = NULL;
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++)
        if (strcmp(targets[i].name, target_name) == 0)
            t = &targets[i];
    if (!t)
        return mast_fail(MAST_ERR_INVALID, "unknown type '%s' (q8_0, q4_0, q4_k_m, q6_k, f16)",
                         target_name);
    uint32_t n_layers = 0;
    mast_gguf_str arch;
    if (mast_gguf_get_str(in, "general.architecture", &arch) == MAST_OK) {
        char key[96];
        snprintf(key, sizeof key, "%.*s.block_count", (int)arch.len, arch.data);
        mast_gguf_get_u32(in, key, &n_layers);
    }
    mast_gguf_writer *w;
    MAST_TRY(mast_gguf_writer_new(&w));
    mast_status st = MAST_OK;
    for (size_t i = 0; i < in->n_kv && st == MAST_OK; i++) {
        const mast_gguf_kv *kv = &in->kv[i];
        if ((kv->key.len == 17 && memcmp(kv->key.data, "general.file_type", 17) == 0) ||
            (kv->key.len == 28 && memcmp(kv->key.data, "general.quantization_version", 28) == 0))
            continue;
        st = mast_gguf_copy_kv(w, kv);
    }
    if (st == MAST_OK)
        st = mast_gguf_set_u32(w, "general.file_type", (uint32_t)t->ftype);
    if (st == MAST_OK)
        st = mast_gguf_set_u32(w, "general.quantization_version", 2);
    unsigned char **buffers = calloc(in->n_tensors ? in->n_tensors : 1, sizeof *buffers);
    if (!buffers)
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    int n_threads = pool ? mast_pool_size(pool) : 1;
    for (size_t i = 0; i < in->n_tensors && st == MAST_OK; i++) {
        const mast_tensor_info *ti = &in->tensors[i];
        mast_dtype to = choose(t, ti, (int)n_layers);
        stats->bytes_in += ti->nbytes;
        if (to == ti->type || !mast_quant_supported(ti->type)) {
            st = mast_gguf_add_tensor(w, ti->name, ti->type, ti->ne, ti->n_dims, ti->data);
            stats->n_kept++;
            stats->bytes_out += ti->nbytes;
            continue;
        }
        int64_t cols = ti->ne[0], rows = 1;
        for (uint32_t d = 1; d < ti->n_dims; d++)
            rows *= ti->ne[d];
        convert_job j = {ti, to, NULL, mast_dtype_row_size(ti->type, cols),
                         mast_dtype_row_size(to, cols), NULL, cols};
        j.out = malloc(j.out_row * (size_t)rows);
        j.scratch = malloc((size_t)cols * sizeof(float) * (size_t)n_threads);
        if (!j.out || !j.scratch) {
            free(j.out);
            free(j.scratch);
            st = mast_fail(MAST_ERR_NOMEM, "out of memory converting '%s'", ti->name);
            break;
        }
        if (pool)
            mast_pool_for(pool, (size_t)rows, convert_rows, &j);
        else
            convert_rows(&j, 0, (size_t)rows, 0);
        free(j.scratch);
        buffers[i] = j.out;
        st = mast_gguf_add_tensor(w, ti->name, to, ti->ne, ti->n_dims, j.out);
        stats->n_quantized++;
        stats->bytes_out += j.out_row * (size_t)rows;
    }
    if (st == MAST_OK)
        st = mast_gguf_write(w, out);
    for (size_t i = 0; buffers && i < in->n_tensors; i++)
        free(buffers[i]);
    free(buffers);
    mast_gguf_writer_free(w);
    return st;
}
