/* tests/model/test_synth.c — synthetic models load, have the shapes asked
** for, a working tokenizer, and are reproducible. */
#include "base/mmap.h"
#include "model/gguf.h"
#include "model/quant.h"
#include "model/synth.h"
#include "model/tokenizer.h"
#include "test.h"

static char dir[64];

static void test_llama_shape_types_and_tokenizer(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/llama.gguf", dir);
    mast_synth_opts o = {.arch = "llama", .n_embd = 256, .n_layer = 3, .n_head = 8,
                         .n_head_kv = 2, .n_ff = 512, .type = MAST_Q6_K};
    REQUIRE(mast_synth_write(&o, path) == MAST_OK);
    mast_gguf *g;
    REQUIRE(mast_gguf_open(&g, path) == MAST_OK);
    CHECK_EQ_INT(g->n_tensors, 3 + 9 * 3);
    const mast_tensor_info *k = mast_gguf_tensor(g, "blk.2.attn_k.weight");
    REQUIRE(k);
    CHECK_EQ_INT(k->type, MAST_Q6_K);
    CHECK_EQ_INT(k->ne[0], 256);
    CHECK_EQ_INT(k->ne[1], 64);   /* head_dim 32 x 2 kv heads */
    CHECK_EQ_INT(mast_gguf_tensor(g, "blk.0.ffn_norm.weight")->type, MAST_F32);
    /* the weights have the asked-for scale: std close to 1/sqrt(fan_in) */
    const mast_tensor_info *q = mast_gguf_tensor(g, "blk.0.attn_q.weight");
    float *row = malloc(256 * 256 * sizeof *row);
    mast_dequantize_row(q->type, q->data, row, 256 * 256);
    double ss = 0;
    for (int i = 0; i < 256 * 256; i++)
        ss += (double)row[i] * row[i];
    CHECK_NEAR(sqrt(ss / (256 * 256)), 1 / 16.0, 0.005);
    free(row);
    uint32_t heads;
    REQUIRE(mast_gguf_get_u32(g, "llama.attention.head_count_kv", &heads) == MAST_OK);
    CHECK_EQ_INT(heads, 2);
    mast_tokenizer *t;
    REQUIRE(mast_tokenizer_load(&t, g) == MAST_OK);
    mast_tokens ids = {0};
    REQUIRE(mast_tokenize(t, "hi", 2, true, false, &ids) == MAST_OK);
    /* BOS, then byte fallback for "▁hi": e2 96 81 'h' 'i' (byte b is token b + 3) */
    int32_t want[] = {1, 0xE2 + 3, 0x96 + 3, 0x81 + 3, 'h' + 3, 'i' + 3};
    REQUIRE(ids.n == 6);
    CHECK(memcmp(ids.ids, want, sizeof want) == 0);
    mast_tokens_free(&ids);
    mast_tokenizer_free(t);
    mast_gguf_close(g);
}

static void test_same_seed_same_file(void)
{
    char a[128], b[128];
    snprintf(a, sizeof a, "%s/a.gguf", dir);
    snprintf(b, sizeof b, "%s/b.gguf", dir);
    mast_synth_opts o = {.arch = "bert", .type = MAST_F16, .seed = 7};
    REQUIRE(mast_synth_write(&o, a) == MAST_OK);
    REQUIRE(mast_synth_write(&o, b) == MAST_OK);
    mast_mapped ma, mb;
    REQUIRE(mast_mmap_file(a, &ma) == MAST_OK);
    REQUIRE(mast_mmap_file(b, &mb) == MAST_OK);
    CHECK(ma.size == mb.size && memcmp(ma.data, mb.data, ma.size) == 0);
    mast_munmap(&ma);
    mast_munmap(&mb);
    o.seed = 8;
    REQUIRE(mast_synth_write(&o, b) == MAST_OK);
    REQUIRE(mast_mmap_file(a, &ma) == MAST_OK);
    REQUIRE(mast_mmap_file(b, &mb) == MAST_OK);
    CHECK(ma.size == mb.size && memcmp(ma.data, mb.data, ma.size) != 0);
    mast_munmap(&ma);
    mast_munmap(&mb);
}

static void test_bert_with_a_real_vocabulary(void)
{
    char path[128], vocab[512];
    snprintf(path, sizeof path, "%s/bert.gguf", dir);
    snprintf(vocab, sizeof vocab, "%s/vocab/ggml-vocab-bert-bge.gguf", test_shared_data());
    mast_synth_opts o = {.arch = "bert", .n_embd = 32, .n_layer = 2, .n_head = 2,
                         .type = MAST_Q8_0, .vocab_path = vocab};
    REQUIRE(mast_synth_write(&o, path) == MAST_OK);
    mast_gguf *g;
    REQUIRE(mast_gguf_open(&g, path) == MAST_OK);
    CHECK_EQ_INT(g->n_tensors, 5 + 16 * 2);   /* the shared tiny-bert has the same layout */
    CHECK_EQ_INT(mast_gguf_tensor(g, "token_embd.weight")->ne[1], 30522);
    CHECK_EQ_INT(mast_gguf_tensor(g, "position_embd.weight")->type, MAST_F32);   /* as llama.cpp needs */
    mast_tokenizer *t;
    REQUIRE(mast_tokenizer_load(&t, g) == MAST_OK);
    mast_tokens ids = {0};
    REQUIRE(mast_tokenize(t, "Hello world", 11, true, false, &ids) == MAST_OK);
    CHECK(ids.n == 4 && ids.ids[0] == 101 && ids.ids[3] == 102);
    mast_tokens_free(&ids);
    mast_tokenizer_free(t);
    mast_gguf_close(g);
    mast_synth_opts bad = {.arch = "gpt-j"};
    CHECK_EQ_INT(mast_synth_write(&bad, path), MAST_ERR_INVALID);
}

int main(void)
{
    char *d = test_tmpdir();
    snprintf(dir, sizeof dir, "%s", d);
    free(d);
    RUN(test_llama_shape_types_and_tokenizer);
    RUN(test_same_seed_same_file);
    RUN(test_bert_with_a_real_vocabulary);
    return test_summary();
}
