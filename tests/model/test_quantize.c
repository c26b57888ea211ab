/* tests/model/test_quantize.c — model conversion: types chosen per tensor,
** metadata kept, values close to the original. */
#include "model/quant.h"
#include "model/quantize.h"
#include "test.h"

static char dir[64];

static const mast_tensor_info *tensor(const mast_gguf *g, const char *name)
{
    const mast_tensor_info *t = mast_gguf_tensor(g, name);
    if (!t)
        fprintf(stderr, "  no tensor %s\n", name);
    return t;
}

static double rel_rmse(const mast_tensor_info *a, const mast_tensor_info *b)
{
    int64_t n = a->ne[0] * a->ne[1];
    float *x = malloc((size_t)n * 4), *y = malloc((size_t)n * 4);
    mast_dequantize_row(a->type, a->data, x, n);
    mast_dequantize_row(b->type, b->data, y, n);
    double e = 0, r = 0;
    for (int64_t i = 0; i < n; i++) {
        e += (double)(x[i] - y[i]) * (x[i] - y[i]);
        r += (double)x[i] * x[i];
    }
    free(x);
    free(y);
    return sqrt(e / r);
}

static void test_q8_0_converts_weights_and_keeps_norms_and_metadata(void)
{
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/models/tiny-llama-gqa-random.gguf", test_shared_data());
    snprintf(out, sizeof out, "%s/q8.gguf", dir);
    mast_gguf *g, *q;
    REQUIRE(mast_gguf_open(&g, in) == MAST_OK);
    mast_quantize_stats s;
    REQUIRE(mast_quantize_model(g, out, "q8_0", NULL, &s) == MAST_OK);
    REQUIRE(mast_gguf_open(&q, out) == MAST_OK);
    CHECK_EQ_INT(q->n_tensors, g->n_tensors);
    CHECK_EQ_INT(q->n_kv, g->n_kv + 1);   /* + general.quantization_version */
    uint32_t ft;
    REQUIRE(mast_gguf_get_u32(q, "general.file_type", &ft) == MAST_OK);
    CHECK_EQ_INT(ft, 7);
    for (size_t i = 0; i < g->n_tensors; i++) {
        const mast_tensor_info *a = &g->tensors[i], *b = tensor(q, a->name);
        REQUIRE(b);
        if (a->n_dims == 1) {
            CHECK_EQ_INT(b->type, MAST_F32);
            CHECK(memcmp(a->data, b->data, a->nbytes) == 0);
        } else {
            CHECK_EQ_INT(b->type, MAST_Q8_0);
            CHECK(rel_rmse(a, b) < 0.01);
        }
    }
    mast_gguf_str v1, v2;
    REQUIRE(mast_gguf_get_str(g, "tokenizer.ggml.pre", &v1) == MAST_OK);
    REQUIRE(mast_gguf_get_str(q, "tokenizer.ggml.pre", &v2) == MAST_OK);
    CHECK(v1.len == v2.len && memcmp(v1.data, v2.data, v1.len) == 0);
    mast_gguf_close(q);
    mast_gguf_close(g);
}

/* A llama-shaped model with 256-wide rows and 8 layers. */
static void write_model(const char *path, float **keep)
{
    mast_gguf_writer *w;
    mast_gguf_writer_new(&w);
    mast_gguf_set_str(w, "general.architecture", "llama");
    mast_gguf_set_u32(w, "llama.block_count", 8);
    static const char *names[] = {"attn_q", "attn_v", "ffn_down"};
    int n = 0;
    uint64_t rng = 7;
    char name[64];
    int64_t ne[2] = {256, 32};
    for (int layer = 0; layer < 8; layer++) {
        for (int k = 0; k < 3; k++) {
            float *data = malloc(256 * 32 * 4);
            for (int i = 0; i < 256 * 32; i++) {
                rng = rng * 6364136223846793005ULL + 1;
                data[i] = (float)((rng >> 40) / 16777216.0) - 0.5f;
            }
            keep[n++] = data;
            snprintf(name, sizeof name, "blk.%d.%s.weight", layer, names[k]);
            mast_gguf_add_tensor(w, name, MAST_F32, ne, 2, data);
        }
    }
    float *out = calloc(256 * 32, 4), *norm = calloc(256, 4);
    for (int i = 0; i < 256 * 32; i++)
        out[i] = (float)(i % 17) / 17 - 0.5f;
    keep[n++] = out;
    keep[n++] = norm;
    mast_gguf_add_tensor(w, "output.weight", MAST_F32, ne, 2, out);
    int64_t ne1[1] = {256};
    mast_gguf_add_tensor(w, "output_norm.weight", MAST_F32, ne1, 1, norm);
    if (mast_gguf_write(w, path) != MAST_OK)
        fprintf(stderr, "  %s\n", mast_errmsg());
    mast_gguf_writer_free(w);
}

static void test_q4_k_m_mix_follows_use_more_bits(void)
{
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/synth.gguf", dir);
    snprintf(out, sizeof out, "%s/q4km.gguf", dir);
    float *keep[32];
    write_model(in, keep);
    mast_gguf *g, *q;
    REQUIRE(mast_gguf_open(&g, in) == MAST_OK);
    mast_pool *pool;
    REQUIRE(mast_pool_create(&pool, 2) == MAST_OK);
    mast_quantize_stats s;
    REQUIRE(mast_quantize_model(g, out, "q4_k_m", pool, &s) == MAST_OK);
    mast_pool_free(pool);
    REQUIRE(mast_gguf_open(&q, out) == MAST_OK);
    CHECK_EQ_INT(tensor(q, "output.weight")->type, MAST_Q6_K);
    CHECK_EQ_INT(tensor(q, "output_norm.weight")->type, MAST_F32);
    /* use_more_bits(i, 8): i < 1, i >= 7, (i - 1) % 3 == 2 -> layers 0, 3, 6, 7 */
    for (int layer = 0; layer < 8; layer++) {
        char name[64];
        int more = layer == 0 || layer == 3 || layer == 6 || layer == 7;
        snprintf(name, sizeof name, "blk.%d.attn_v.weight", layer);
        CHECK_EQ_INT(tensor(q, name)->type, more ? MAST_Q6_K : MAST_Q4_K);
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", layer);
        CHECK_EQ_INT(tensor(q, name)->type, more ? MAST_Q6_K : MAST_Q4_K);
        snprintf(name, sizeof name, "blk.%d.attn_q.weight", layer);
        CHECK_EQ_INT(tensor(q, name)->type, MAST_Q4_K);
        CHECK(rel_rmse(tensor(g, name), tensor(q, name)) < 0.08);
    }
    CHECK_EQ_INT(s.n_quantized, 25);
    CHECK_EQ_INT(s.n_kept, 1);
    mast_gguf_close(q);
    mast_gguf_close(g);
    for (int i = 0; i < 26; i++)
        free(keep[i]);
}

static void test_rows_that_do_not_fit_fall_back(void)
{
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/models/tiny-llama-gqa-random.gguf", test_shared_data());
    snprintf(out, sizeof out, "%s/fallback.gguf", dir);
    mast_gguf *g, *q;
    REQUIRE(mast_gguf_open(&g, in) == MAST_OK);
    mast_quantize_stats s;
    REQUIRE(mast_quantize_model(g, out, "q4_k_m", NULL, &s) == MAST_OK);
    REQUIRE(mast_gguf_open(&q, out) == MAST_OK);
    /* 64-wide rows: Q4_K -> Q5_0; Q6_K (attn_v of layer 1 of 2, which
    ** use_more_bits picks: 1 >= 7 * 2 / 8) -> Q8_0 */
    CHECK_EQ_INT(tensor(q, "blk.0.attn_q.weight")->type, MAST_Q5_0);
    CHECK_EQ_INT(tensor(q, "blk.0.attn_v.weight")->type, MAST_Q5_0);
    CHECK_EQ_INT(tensor(q, "blk.1.attn_v.weight")->type, MAST_Q8_0);
    CHECK_EQ_INT(mast_quantize_model(g, out, "q3_xs", NULL, &s), MAST_ERR_INVALID);
    mast_gguf_close(q);
    mast_gguf_close(g);
}

int main(void)
{
    char *d = test_tmpdir();
    snprintf(dir, sizeof dir, "%s", d);
    free(d);
    RUN(test_q8_0_converts_weights_and_keeps_norms_and_metadata);
    RUN(test_q4_k_m_mix_follows_use_more_bits);
    RUN(test_rows_that_do_not_fit_fall_back);
    return test_summary();
}
