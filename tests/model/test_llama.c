/* tests/model/test_llama.c — the Llama decoder against llama.cpp's outputs
** (the decoder oracles of shared/data/oracle; layout in shared/data/README.md): logits at
** every position of one prompt, the last position of every prompt, and the
** greedy continuations token for token (up to the first near-tie, where
** llama.cpp's top-1/top-2 margin is below 0.02). */
#include <jansson.h>

#include "model/llama.h"
#include "model/matmul.h"
#include "model/quant_impl.h"
#include "model/synth.h"
#include <unistd.h>
#include "model/tokenizer.h"
#include "test.h"

typedef struct model {
    json_t *oracle;
    mast_gguf *gguf;
    mast_tokenizer *tok;
    mast_llama *llama;
} model;

static int open_model(const char *oracle_name, model *m)
{
    char path[512];
    memset(m, 0, sizeof *m);
    snprintf(path, sizeof path, "%s/oracle/%s", test_shared_data(), oracle_name);
    json_error_t err;
    m->oracle = json_load_file(path, 0, &err);
    if (!m->oracle) {
        fprintf(stderr, "  %s: %s\n", path, err.text);
        return 0;
    }
    snprintf(path, sizeof path, "%s/%s", test_shared_data(),
             json_string_value(json_object_get(m->oracle, "model_file")));
    if (mast_gguf_open(&m->gguf, path) != MAST_OK || mast_tokenizer_load(&m->tok, m->gguf) != MAST_OK ||
        mast_llama_load(&m->llama, m->gguf) != MAST_OK) {
        fprintf(stderr, "  %s: %s\n", path, mast_errmsg());
        return 0;
    }
    return 1;
}

static void close_model(model *m)
{
    mast_llama_free(m->llama);
    mast_tokenizer_free(m->tok);
    mast_gguf_close(m->gguf);
    json_decref(m->oracle);
}

static int32_t *int_array(json_t *a, size_t *n)
{
    *n = json_array_size(a);
    int32_t *v = malloc((*n ? *n : 1) * sizeof *v);
    for (size_t i = 0; i < *n; i++)
        v[i] = (int32_t)json_integer_value(json_array_get(a, i));
    return v;
}

static float range_of(const float *v, int n)
{
    float lo = v[0], hi = v[0];
    for (int i = 1; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    return hi - lo;
}

static int argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

typedef struct result {
    double worst_all, worst_last, worst_rel;   /* max |diff|, and relative to the logit range */
    int steps_checked, steps_total, near_ties;
    int free_run;   /* steps before the first near-tie, where free-running greedy must agree */
} result;

/* Runs one oracle file: tokens, logits, greedy continuations. tol_rel is the
** allowed max |diff| as a fraction of each row's logit range. */
static void run_oracle(const char *name, double tol_rel, result *r)
{
    memset(r, 0, sizeof *r);
    model m;
    REQUIRE(open_model(name, &m));
    const mast_llama_info *in = mast_llama_info_of(m.llama);
    int V = in->n_vocab, n_gen = (int)json_integer_value(json_object_get(m.oracle, "n_gen"));
    CHECK_EQ_INT(V, json_integer_value(json_object_get(m.oracle, "n_vocab")));
    mast_pool *pool;
    REQUIRE(mast_pool_create(&pool, 2) == MAST_OK);
    mast_llama_ctx *c;
    REQUIRE(mast_llama_ctx_new(m.llama, 0, MAST_F32, &c) == MAST_OK);   /* the oracles' cache */

    /* every position of one prompt */
    json_t *all = json_object_get(m.oracle, "all_positions");
    size_t n_tok;
    int32_t *toks = int_array(json_object_get(all, "tokens"), &n_tok);
    float *logits = malloc(n_tok * (size_t)V * sizeof *logits);
    REQUIRE(mast_llama_decode(c, pool, toks, (int)n_tok, true, logits) == MAST_OK);
    float *want = NULL;
    const char *file = json_string_value(json_object_get(all, "logits_file"));
    json_t *jlog = json_object_get(all, "logits");
    if (file) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", test_shared_data(), file);
        FILE *f = fopen(path, "rb");
        REQUIRE(f != NULL);
        want = malloc(n_tok * (size_t)V * sizeof *want);
        REQUIRE(fread(want, sizeof *want, n_tok * (size_t)V, f) == n_tok * (size_t)V);
        fclose(f);
    } else if (jlog) {
        want = malloc(n_tok * (size_t)V * sizeof *want);
        for (size_t p = 0; p < n_tok; p++)
            for (int v = 0; v < V; v++)
                want[p * V + v] = (float)json_real_value(json_array_get(json_array_get(jlog, p), v));
    }
    for (size_t p = 0; p < n_tok; p++) {
        const float *got = logits + p * V;
        float range = range_of(got, V);
        if (want) {
            for (int v = 0; v < V; v++) {
                double d = fabs(got[v] - want[p * V + v]);
                r->worst_all = d > r->worst_all ? d : r->worst_all;
                r->worst_rel = d / range > r->worst_rel ? d / range : r->worst_rel;
            }
        } else {   /* top 10 per position only */
            json_t *top = json_array_get(json_object_get(all, "top10_per_position"), p);
            for (size_t i = 0; i < json_array_size(top); i++) {
                json_t *pair = json_array_get(top, i);
                int id = (int)json_integer_value(json_array_get(pair, 0));
                double d = fabs(got[id] - json_real_value(json_array_get(pair, 1)));
                r->worst_all = d > r->worst_all ? d : r->worst_all;
                r->worst_rel = d / range > r->worst_rel ? d / range : r->worst_rel;
            }
        }
    }
    free(want);
    free(toks);
    free(logits);

    /* each prompt: tokens, last logits, greedy continuation one token at a time */
    size_t pi;
    json_t *p;
    float *last = malloc((size_t)V * sizeof *last);
    json_array_foreach(json_object_get(m.oracle, "prompts"), pi, p) {
        const char *text = json_string_value(json_object_get(p, "prompt"));
        mast_tokens ids = {0};
        REQUIRE(mast_tokenize(m.tok, text, strlen(text), true, false, &ids) == MAST_OK);
        size_t n_want;
        int32_t *want_ids = int_array(json_object_get(p, "tokens"), &n_want);
        CHECK_EQ_INT(ids.n, n_want);
        CHECK(ids.n == n_want && memcmp(ids.ids, want_ids, n_want * sizeof *want_ids) == 0);
        free(want_ids);
        mast_llama_ctx_truncate(c, 0);
        REQUIRE(mast_llama_decode(c, pool, ids.ids, (int)ids.n, false, last) == MAST_OK);
        float range = range_of(last, V);
        json_t *full = json_object_get(p, "last_logits"), *top = json_object_get(p, "last_logits_top10");
        if (full) {
            for (int v = 0; v < V; v++) {
                double d = fabs(last[v] - json_real_value(json_array_get(full, v)));
                r->worst_last = d > r->worst_last ? d : r->worst_last;
            }
        }
        for (size_t i = 0; i < json_array_size(top); i++) {
            json_t *pair = json_array_get(top, i);
            double d = fabs(last[json_integer_value(json_array_get(pair, 0))] -
                            json_real_value(json_array_get(pair, 1)));
            r->worst_last = d > r->worst_last ? d : r->worst_last;
        }
        CHECK(r->worst_last <= tol_rel * range);
        json_t *greedy = json_object_get(p, "greedy"), *steps = json_object_get(greedy, "steps");
        int32_t gen[256];
        int matched = 0, before_tie = 1;
        for (int s = 0; s < n_gen; s++) {
            json_t *step = json_array_get(steps, s);
            int want_tok = (int)json_integer_value(json_object_get(step, "token"));
            double margin = json_real_value(json_object_get(step, "margin"));
            int got = argmax(last, V);
            if (before_tie && margin < 0.02) {
                before_tie = 0;   /* a near-tie: free-running greedy may part here */
                r->near_ties++;
            }
            r->free_run += before_tie;
            /* llama.cpp's token is fed back (teacher forcing), so every later
            ** step stays comparable: the argmax must agree wherever the
            ** margin is far above the logit differences (1e-4 vs < 1e-5) */
            if (before_tie || margin > 1e-4) {
                CHECK_EQ_INT(got, want_tok);
                r->steps_checked++;
            }
            matched += got == want_tok;
            gen[s] = want_tok;
            if (s + 1 < n_gen)
                REQUIRE(mast_llama_decode(c, pool, &gen[s], 1, false, last) == MAST_OK);
        }
        r->steps_total += n_gen;
        if (matched == n_gen) {   /* the whole continuation: its text too */
            mast_buf b = {0};
            for (int s = 0; s < n_gen; s++)
                REQUIRE(mast_token_to_piece(m.tok, gen[s], true, &b) == MAST_OK);
            /* bytes compared in hex: pieces may split a UTF-8 sequence */
            char *hex = malloc(b.len * 2 + 1);
            for (size_t i = 0; i < b.len; i++)
                snprintf(hex + 2 * i, 3, "%02x", (unsigned char)b.data[i]);
            hex[b.len * 2] = '\0';
            CHECK_EQ_STR(hex, json_string_value(json_object_get(greedy, "text_hex")));
            free(hex);
            mast_buf_free(&b);
        }
        mast_tokens_free(&ids);
    }
    free(last);
    fprintf(stderr, "  %s: all-position max |diff| %.3g (%.3g of the range), last-position %.3g; "
            "greedy: %d of %d steps agree, %d of them before the first near-tie of their prompt "
            "(%d prompts have one)\n", name, r->worst_all, r->worst_rel, r->worst_last,
            r->steps_checked, r->steps_total, r->free_run, r->near_ties);
    CHECK(r->worst_rel <= tol_rel);
    mast_llama_ctx_free(c);
    mast_pool_free(pool);
    close_model(&m);
}

static void test_stories260k_matches_llama_cpp(void)
{
    result r;
    run_oracle("stories260K.json", 1e-4, &r);
    CHECK_EQ_INT(r.steps_checked, r.steps_total);   /* no near-ties: every token compared */
}

static void test_random_gqa_f32_matches_llama_cpp(void)
{
    result r;
    run_oracle("tiny-llama-gqa-random.json", 1e-4, &r);
    CHECK_EQ_INT(r.steps_checked, r.steps_total);   /* no margin is below 1e-4 */
}

static void test_random_gqa_q8_0_matches_llama_cpp(void)
{
    result r;
    run_oracle("tiny-llama-gqa-random-q8_0.json", 1e-4, &r);
    CHECK_EQ_INT(r.steps_checked, r.steps_total);   /* no margin is below 1e-4 */
}

static void test_random_gqa_q4_0_matches_llama_cpp(void)
{
    result r;
    run_oracle("tiny-llama-gqa-random-q4_0.json", 1e-4, &r);
    CHECK_EQ_INT(r.steps_checked, r.steps_total);   /* no margin is below 1e-4 */
}

/* --fast-prompt: a long prompt over quantized weights on the SGEMM gives the
** exact path's logits up to rounding that a random model amplifies; the
** greedy token agrees. */
static void test_fast_prompt_stays_close_to_the_exact_path(void)
{
    model m;
    REQUIRE(open_model("tiny-llama-gqa-random-q8_0.json", &m));
    int V = mast_llama_info_of(m.llama)->n_vocab;
    int32_t toks[160];
    for (int i = 0; i < 160; i++)
        toks[i] = (int32_t)((i * 7919 + 13) % 30000);
    float *a = malloc((size_t)V * sizeof *a), *b = malloc((size_t)V * sizeof *b);
    mast_llama_ctx *c;
    REQUIRE(mast_llama_ctx_new(m.llama, 0, MAST_F32, &c) == MAST_OK);
    REQUIRE(mast_llama_decode(c, NULL, toks, 160, false, a) == MAST_OK);
    mast_llama_ctx_truncate(c, 0);
    mast_llama_ctx_set_fast_prompt(c, true);
    bool old = mast_quant_force_scalar(true);   /* the SGEMM path even where the tiles run */
    REQUIRE(mast_llama_decode(c, NULL, toks, 160, false, b) == MAST_OK);
    mast_quant_force_scalar(old);
    double worst = 0;
    for (int v = 0; v < V; v++)
        worst = fabs(a[v] - b[v]) > worst ? fabs(a[v] - b[v]) : worst;
    fprintf(stderr, "  160-token prompt: fast vs exact max |diff| %.3g (logit range %.3g)\n", worst,
            range_of(a, V));
    CHECK(worst < 0.02 * range_of(a, V));   /* often 0: activations are quantized again */
    CHECK_EQ_INT(argmax(a, V), argmax(b, V));
    free(a);
    free(b);
    mast_llama_ctx_free(c);
    close_model(&m);
}

/* The product behind --fast-prompt: the same products summed in another
** order, so within float rounding of the exact quantized path. */
static void test_fast_matmul_matches_the_quantized_products(void)
{
    enum { ROWS = 96, COLS = 512, BATCH = MAST_FAST_MIN_BATCH };
    static const mast_dtype types[] = {MAST_Q8_0, MAST_Q4_0, MAST_Q4_K, MAST_Q6_K, MAST_F16};
    float *w = malloc(ROWS * COLS * sizeof *w), *x = malloc(BATCH * COLS * sizeof *x);
    float *y1 = malloc(BATCH * ROWS * sizeof *y1), *y2 = malloc(BATCH * ROWS * sizeof *y2);
    uint32_t seed = 5;
    for (int i = 0; i < ROWS * COLS; i++)
        w[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    for (int i = 0; i < BATCH * COLS; i++)
        x[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        size_t rb = mast_dtype_row_size(types[t], COLS);
        unsigned char *wq = malloc(rb * ROWS);
        for (int r = 0; r < ROWS; r++)
            mast_quantize_row(types[t], w + r * COLS, wq + r * rb, COLS);
        REQUIRE(mast_matmul_ex(NULL, types[t], wq, ROWS, COLS, x, BATCH, y1, false) == MAST_OK);
        /* where the exact tiles take the type, `fast` changes nothing */
        REQUIRE(mast_matmul_ex(NULL, types[t], wq, ROWS, COLS, x, BATCH, y2, true) == MAST_OK);
        if (types[t] != MAST_F16 && mast_quant_simd() && mast_qt_supported(types[t]))
            CHECK(memcmp(y1, y2, sizeof(float) * BATCH * ROWS) == 0);
        /* the SGEMM path itself, with the tiles off (reference kernels) */
        bool old = mast_quant_force_scalar(true);
        REQUIRE(mast_matmul_ex(NULL, types[t], wq, ROWS, COLS, x, BATCH, y2, true) == MAST_OK);
        mast_quant_force_scalar(old);
        double worst = 0, big = 0;
        for (int i = 0; i < BATCH * ROWS; i++) {
            worst = fabs(y1[i] - y2[i]) > worst ? fabs(y1[i] - y2[i]) : worst;
            big = fabs(y1[i]) > big ? fabs(y1[i]) : big;
        }
        CHECK(worst <= 1e-5 * big);
        if (types[t] != MAST_F16)
            CHECK(worst > 0);   /* another summation order: it took the SGEMM */
        free(wq);
    }
    free(w);
    free(x);
    free(y1);
    free(y2);
}

/* The attention kernels for head sizes 64 and 128 (the oracle models have 8
** and 16) against the plain C path, on synthesized models; KV groups of 1
** to 4 query heads (2-4 take attend_group's shared conversions on AVX-512). */
static void test_simd_attention_equals_plain_for_common_head_sizes(void)
{
    char *dir = test_tmpdir();
    REQUIRE(dir != NULL);
    static const int shape[4][4] = {   /* n_embd, heads, KV heads, head size */
        {128, 2, 1, 64}, {256, 2, 2, 128}, {384, 6, 2, 64}, {512, 8, 2, 64}};
    for (int t = 0; t < 4; t++) {
        char path[600];
        snprintf(path, sizeof path, "%s/h%d.gguf", dir, t);
        mast_synth_opts o = {.arch = "llama", .n_embd = shape[t][0], .n_layer = 2,
                             .n_head = shape[t][1], .n_head_kv = shape[t][2], .n_ff = 256,
                             .n_vocab = 300, .n_ctx = 256, .type = MAST_F32, .seed = 3};
        mast_synth_defaults(&o);
        REQUIRE(mast_synth_write(&o, path) == MAST_OK);
        mast_gguf *g;
        mast_llama *m;
        REQUIRE(mast_gguf_open(&g, path) == MAST_OK);
        REQUIRE(mast_llama_load(&m, g) == MAST_OK);
        CHECK_EQ_INT(mast_llama_info_of(m)->head_dim, shape[t][3]);
        int V = mast_llama_info_of(m)->n_vocab;
        int32_t toks[120];
        for (int i = 0; i < 120; i++)
            toks[i] = (int32_t)((i * 31 + 7) % V);
        for (int kv = 0; kv < 2; kv++) {
            float *a = malloc((size_t)V * 120 * sizeof *a), *b = malloc((size_t)V * 120 * sizeof *b);
            for (int pass = 0; pass < 2; pass++) {
                bool old = mast_quant_force_scalar(pass == 1);
                mast_llama_ctx *c;
                REQUIRE(mast_llama_ctx_new(m, 160, kv ? MAST_F16 : MAST_F32, &c) == MAST_OK);
                /* a batch of 40, a batch of 70 after it (on the SGEMM: two query
                ** chunks, keys before the batch), then 10 single tokens */
                float *out = pass ? b : a;
                REQUIRE(mast_llama_decode(c, NULL, toks, 40, true, out) == MAST_OK);
                REQUIRE(mast_llama_decode(c, NULL, toks + 40, 70, true, out + (size_t)40 * V) == MAST_OK);
                for (int i = 110; i < 120; i++)
                    REQUIRE(mast_llama_decode(c, NULL, &toks[i], 1, false, out + (size_t)i * V) == MAST_OK);
                mast_llama_ctx_free(c);
                mast_quant_force_scalar(old);
            }
            double worst = 0;
            for (size_t i = 0; i < (size_t)V * 120; i++)
                worst = fabs(a[i] - b[i]) > worst ? fabs(a[i] - b[i]) : worst;
            CHECK(worst < 1e-4 * range_of(a, V));
            free(a);
            free(b);
        }
        mast_llama_free(m);
        mast_gguf_close(g);
        unlink(path);
    }
    rmdir(dir);
    free(dir);
}

/* A context shift moves the kept keys to their new positions, re-rotated:
** layer 0's keys depend on their token only, so after the shift they equal
** those a fresh decode of the kept tokens computes (later layers differ, as
** the dropped tokens shaped them: that is what a shift trades away). */
static void test_context_shift_re_rotates_the_keys(void)
{
    model m;
    REQUIRE(open_model("stories260K.json", &m));
    const mast_llama_info *in = mast_llama_info_of(m.llama);
    int32_t toks[39];
    for (int i = 0; i < 39; i++)
        toks[i] = i ? (int32_t)(3 + (i * 37) % 500) : 1;
    mast_llama_ctx *c, *d;
    REQUIRE(mast_llama_ctx_new(m.llama, 64, MAST_F32, &c) == MAST_OK);
    REQUIRE(mast_llama_ctx_new(m.llama, 64, MAST_F32, &d) == MAST_OK);
    REQUIRE(mast_llama_decode(c, NULL, toks, 39, false, NULL) == MAST_OK);
    REQUIRE(mast_llama_ctx_shift(c, 1, 10) == MAST_OK);   /* drop positions 1..10 */
    CHECK_EQ_INT(mast_llama_ctx_used(c), 29);
    int32_t kept[29];
    kept[0] = toks[0];
    memcpy(kept + 1, toks + 11, 28 * sizeof *kept);
    REQUIRE(mast_llama_decode(d, NULL, kept, 29, false, NULL) == MAST_OK);
    int KV = in->n_head_kv * in->head_dim;
    float *ka = malloc((size_t)KV * sizeof *ka), *kb = malloc((size_t)KV * sizeof *kb);
    double worst = 0, moved = 0;
    for (int p = 0; p < 29; p++) {
        REQUIRE(mast_llama_ctx_key(c, 0, p, ka) == MAST_OK);
        REQUIRE(mast_llama_ctx_key(d, 0, p, kb) == MAST_OK);
        for (int i = 0; i < KV; i++) {
            worst = fabs(ka[i] - kb[i]) > worst ? fabs(ka[i] - kb[i]) : worst;
            moved = fabs(kb[i]) > moved ? fabs(kb[i]) : moved;
        }
    }
    fprintf(stderr, "  layer-0 keys after a shift: max |diff| %.3g (largest key %.3g)\n", worst, moved);
    CHECK(worst < 1e-5 * (moved > 1 ? moved : 1));
    CHECK_EQ_INT(mast_llama_ctx_shift(c, 0, 100), MAST_ERR_INVALID);
    CHECK_EQ_INT(mast_llama_ctx_key(c, 0, 29, ka), MAST_ERR_INVALID);
    free(ka);
    free(kb);
    mast_llama_ctx_free(c);
    mast_llama_ctx_free(d);
    close_model(&m);
}

/* Continuous batching: 16 sequences of different prompt lengths (some on
** the SGEMM attention, one past the cache's first 256 positions, so it
** grows mid-run) decoded greedily together, joining and leaving at
** different steps, get logits bit for bit those of each decoded alone, for
** F32, F16 KV, Q8_0 and Q4_0 weights. */
#define SEQS 16
#define STEPS 12
static void batch_equals_alone(const char *oracle, mast_dtype kv, bool pack)
{
    model m;
    REQUIRE(open_model(oracle, &m));
    int V = mast_llama_info_of(m.llama)->n_vocab;
    mast_pool *pool;
    REQUIRE(mast_pool_create(&pool, 2) == MAST_OK);
    int32_t prompt[SEQS][300];
    int len[SEQS], join[SEQS], steps[SEQS];
    for (int q = 0; q < SEQS; q++) {
        len[q] = q == 5 ? 262 : 3 + (q * 13) % 45;   /* 3..47 tokens: both attention paths */
        join[q] = q % 4;                              /* joins at step 0..3 */
        steps[q] = STEPS - (q % 3) * 2 - join[q];     /* and leaves early or late */
        for (int i = 0; i < len[q]; i++)
            prompt[q][i] = i ? (int32_t)(3 + (q * 101 + i * 37) % (V - 3)) : 1;
    }
    /* alone: each sequence's logits at each of its steps */
    float *alone = malloc((size_t)SEQS * STEPS * V * sizeof *alone);
    int32_t next[SEQS][STEPS + 1];
    for (int q = 0; q < SEQS; q++) {
        mast_llama_ctx *c;
        REQUIRE(mast_llama_ctx_new(m.llama, 512, kv, &c) == MAST_OK);
        float *lg = alone + (size_t)q * STEPS * V;
        REQUIRE(mast_llama_decode(c, pool, prompt[q], len[q], false, lg) == MAST_OK);
        for (int t = 0; t < steps[q]; t++) {
            int best = 0;
            for (int i = 1; i < V; i++)
                best = lg[(size_t)t * V + i] > lg[(size_t)t * V + best] ? i : best;
            next[q][t] = best;
            if (t + 1 < steps[q])
                REQUIRE(mast_llama_decode(c, pool, &next[q][t], 1, false, lg + (size_t)(t + 1) * V) == MAST_OK);
        }
        mast_llama_ctx_free(c);
    }
    /* together (after packing the weights into tiles: the same bits) */
    size_t packed = pack ? mast_llama_prepack(m.llama) : 0;
    mast_llama_batch *b;
    REQUIRE(mast_llama_batch_new(m.llama, &b) == MAST_OK);
    mast_llama_ctx *ctx[SEQS];
    float *first = malloc((size_t)V * sizeof *first), *out = malloc((size_t)SEQS * V * sizeof *out);
    int done[SEQS] = {0}, mismatched = 0, batched_rows = 0;
    for (int q = 0; q < SEQS; q++)
        REQUIRE(mast_llama_ctx_new(m.llama, 512, kv, &ctx[q]) == MAST_OK);
    for (int step = 0; step < STEPS + 4; step++) {
        mast_llama_ctx *run[SEQS];
        int32_t tok[SEQS];
        int who[SEQS], n = 0;
        for (int q = 0; q < SEQS; q++) {
            if (step == join[q]) {   /* a newcomer's prompt, alone */
                REQUIRE(mast_llama_decode(ctx[q], pool, prompt[q], len[q], false, first) == MAST_OK);
                mismatched += memcmp(first, alone + (size_t)q * STEPS * V, (size_t)V * sizeof *first) != 0;
                done[q] = 1;
            } else if (step > join[q] && done[q] < steps[q]) {
                run[n] = ctx[q];
                tok[n] = next[q][done[q] - 1];
                who[n++] = q;
            }
        }
        if (!n)
            continue;
        REQUIRE(mast_llama_decode_seqs(b, pool, run, tok, n, out) == MAST_OK);
        batched_rows += n;
        for (int i = 0; i < n; i++) {
            int q = who[i];
            mismatched += memcmp(out + (size_t)i * V, alone + ((size_t)q * STEPS + (size_t)done[q]) * V,
                                 (size_t)V * sizeof *out) != 0;
            done[q]++;
        }
    }
    for (int q = 0; q < SEQS; q++) {
        CHECK_EQ_INT(done[q], steps[q]);
        CHECK_EQ_INT(mast_llama_ctx_used(ctx[q]), len[q] + steps[q] - 1);
    }
    CHECK(mast_llama_ctx_bytes(ctx[5]) == mast_llama_kv_bytes(m.llama, kv, 512));   /* grew past 256 */
    CHECK(mast_llama_ctx_bytes(ctx[0]) == mast_llama_kv_bytes(m.llama, kv, 256));
    fprintf(stderr, "  %s (%s KV%s): %d rows decoded in batches, %d differ from alone\n", oracle,
            kv == MAST_F16 ? "f16" : "f32", packed ? ", packed tiles" : "", batched_rows, mismatched);
    CHECK(batched_rows > 100);
    CHECK_EQ_INT(mismatched, 0);
    /* errors: a shared context, a full one */
    mast_llama_ctx *twice[2] = {ctx[0], ctx[0]};
    int32_t zero2[2] = {0, 0};
    CHECK_EQ_INT(mast_llama_decode_seqs(b, pool, twice, zero2, 2, out), MAST_ERR_INVALID);
    for (int q = 0; q < SEQS; q++)
        mast_llama_ctx_free(ctx[q]);
    mast_llama_batch_free(b);
    free(first);
    free(out);
    free(alone);
    mast_pool_free(pool);
    close_model(&m);
}

static void test_batched_decoding_equals_alone(void)
{
    batch_equals_alone("stories260K.json", MAST_F32, false);
    batch_equals_alone("tiny-llama-gqa-random.json", MAST_F16, false);
    batch_equals_alone("tiny-llama-gqa-random-q8_0.json", MAST_F16, false);
    batch_equals_alone("tiny-llama-gqa-random-q8_0.json", MAST_F16, true);
    batch_equals_alone("tiny-llama-gqa-random-q4_0.json", MAST_F32, true);
}

/* A prefix copied from another context continues as if decoded there. */
static void test_prefix_copy_continues_identically(void)
{
    model m;
    REQUIRE(open_model("stories260K.json", &m));
    int V = mast_llama_info_of(m.llama)->n_vocab;
    int32_t toks[300];
    for (int i = 0; i < 300; i++)
        toks[i] = i ? (int32_t)(3 + (i * 37) % 500) : 1;
    mast_llama_ctx *a, *b;
    REQUIRE(mast_llama_ctx_new(m.llama, 400, MAST_F16, &a) == MAST_OK);
    REQUIRE(mast_llama_ctx_new(m.llama, 400, MAST_F16, &b) == MAST_OK);
    float *la = malloc((size_t)V * sizeof *la), *lb = malloc((size_t)V * sizeof *lb);
    REQUIRE(mast_llama_decode(a, NULL, toks, 280, false, la) == MAST_OK);   /* 280 > 256: grown */
    REQUIRE(mast_llama_decode(b, NULL, toks + 100, 5, false, NULL) == MAST_OK);   /* its own, replaced */
    REQUIRE(mast_llama_ctx_copy(b, a, 270) == MAST_OK);
    CHECK_EQ_INT(mast_llama_ctx_used(b), 270);
    mast_llama_ctx_truncate(a, 270);
    REQUIRE(mast_llama_decode(a, NULL, toks + 270, 30, false, la) == MAST_OK);
    REQUIRE(mast_llama_decode(b, NULL, toks + 270, 30, false, lb) == MAST_OK);
    CHECK(memcmp(la, lb, (size_t)V * sizeof *la) == 0);
    CHECK_EQ_INT(mast_llama_ctx_copy(b, a, 301), MAST_ERR_INVALID);
    mast_llama_ctx_release(b);
    CHECK_EQ_INT(mast_llama_ctx_used(b), 0);
    CHECK(mast_llama_ctx_bytes(b) == 0);
    REQUIRE(mast_llama_decode(b, NULL, toks, 280, false, lb) == MAST_OK);   /* usable again */
    mast_llama_ctx_truncate(b, 270);
    REQUIRE(mast_llama_decode(b, NULL, toks + 270, 30, false, lb) == MAST_OK);
    CHECK(memcmp(la, lb, (size_t)V * sizeof *la) == 0);
    free(la);
    free(lb);
    mast_llama_ctx_free(a);
    mast_llama_ctx_free(b);
    close_model(&m);
}

/* The q8_0 KV cache: logits close to the f32 cache's (a 64-wide head's
** keys and values to 8 bits), batched decoding still bit for bit as alone,
** and a context shift re-quantizes the moved keys. */
static void test_q8_0_kv_cache(void)
{
    char *dir = test_tmpdir();
    REQUIRE(dir != NULL);
    char path[600];
    snprintf(path, sizeof path, "%s/kvq.gguf", dir);
    mast_synth_opts o = {.arch = "llama", .n_embd = 256, .n_layer = 2, .n_head = 4, .n_head_kv = 2,
                         .n_ff = 256, .n_vocab = 300, .n_ctx = 512, .type = MAST_Q8_0, .seed = 5};
    mast_synth_defaults(&o);
    REQUIRE(mast_synth_write(&o, path) == MAST_OK);
    mast_gguf *g;
    mast_llama *m;
    REQUIRE(mast_gguf_open(&g, path) == MAST_OK);
    REQUIRE(mast_llama_load(&m, g) == MAST_OK);
    int V = mast_llama_info_of(m)->n_vocab;
    int32_t toks[300];
    for (int i = 0; i < 300; i++)
        toks[i] = (int32_t)((i * 31 + 7) % V);
    float *a = malloc((size_t)V * sizeof *a), *b = malloc((size_t)V * sizeof *b);
    mast_llama_ctx *cf, *cq, *cq2, *ch;
    REQUIRE(mast_llama_ctx_new(m, 512, MAST_F32, &cf) == MAST_OK);
    REQUIRE(mast_llama_ctx_new(m, 512, MAST_F16, &ch) == MAST_OK);
    float *h = malloc((size_t)V * sizeof *h);
    REQUIRE(mast_llama_ctx_new(m, 512, MAST_Q8_0, &cq) == MAST_OK);
    REQUIRE(mast_llama_ctx_new(m, 512, MAST_Q8_0, &cq2) == MAST_OK);
    CHECK(mast_llama_kv_bytes(m, MAST_Q8_0, 100) * 32 == mast_llama_kv_bytes(m, MAST_F16, 100) * 17);
    /* a prompt (the SGEMM attention), then single tokens past it */
    REQUIRE(mast_llama_decode(cf, NULL, toks, 200, false, a) == MAST_OK);
    REQUIRE(mast_llama_decode(cq, NULL, toks, 200, false, b) == MAST_OK);
    REQUIRE(mast_llama_decode(ch, NULL, toks, 200, false, h) == MAST_OK);
    double worst = 0, worst16 = 0;
    for (int t = 200; t < 260; t++) {
        REQUIRE(mast_llama_decode(cf, NULL, &toks[t], 1, false, a) == MAST_OK);
        REQUIRE(mast_llama_decode(cq, NULL, &toks[t], 1, false, b) == MAST_OK);
        REQUIRE(mast_llama_decode(ch, NULL, &toks[t], 1, false, h) == MAST_OK);
        double r = range_of(a, V), w = 0, w16 = 0;
        for (int i = 0; i < V; i++) {
            w = fabs(a[i] - b[i]) > w ? fabs(a[i] - b[i]) : w;
            w16 = fabs(a[i] - h[i]) > w16 ? fabs(a[i] - h[i]) : w16;
        }
        worst = w / r > worst ? w / r : worst;
        worst16 = w16 / r > worst16 ? w16 / r : worst16;
    }
    fprintf(stderr, "  logits after 200-260 positions, max |diff| / range against the f32 cache: "
            "q8_0 %.3g, f16 %.3g\n", worst, worst16);
    CHECK(worst < 0.05);
    CHECK(worst > worst16);   /* it is a coarser cache */
    /* batched with another q8_0 sequence: the bits of alone */
    mast_llama_batch *bt;
    REQUIRE(mast_llama_batch_new(m, &bt) == MAST_OK);
    REQUIRE(mast_llama_decode(cq2, NULL, toks + 10, 50, false, NULL) == MAST_OK);
    mast_llama_ctx_truncate(cq, 259);
    float *two = malloc(2 * (size_t)V * sizeof *two);
    mast_llama_ctx *pair[2] = {cq, cq2};
    int32_t next[2] = {toks[259], 9};
    REQUIRE(mast_llama_decode_seqs(bt, NULL, pair, next, 2, two) == MAST_OK);
    CHECK(memcmp(two, b, (size_t)V * sizeof *b) == 0);
    /* a shift: layer 0's moved keys equal a fresh q8_0 decode's, to the quantization step */
    REQUIRE(mast_llama_ctx_shift(cq, 1, 100) == MAST_OK);
    CHECK_EQ_INT(mast_llama_ctx_used(cq), 160);
    REQUIRE(mast_llama_decode(cq, NULL, toks, 1, false, b) == MAST_OK);   /* still decodes */
    mast_llama_batch_free(bt);
    mast_llama_ctx_free(cf);
    mast_llama_ctx_free(cq);
    mast_llama_ctx_free(cq2);
    mast_llama_ctx_free(ch);
    free(h);
    free(a);
    free(b);
    free(two);
    mast_llama_free(m);
    mast_gguf_close(g);
    unlink(path);
    rmdir(dir);
    free(dir);
    /* a head size that is no multiple of 32 is refused, named */
    model sm;
    REQUIRE(open_model("stories260K.json", &sm));
    mast_llama_ctx *bad = NULL;
    CHECK_EQ_INT(mast_llama_ctx_new(sm.llama, 64, MAST_Q8_0, &bad), MAST_ERR_UNSUPPORTED);
    CHECK(strstr(mast_errmsg(), "multiple of 32 (this model's is 8)") != NULL);
    close_model(&sm);
}

/* More sequences than one pass of 16-bit/f32 weights takes (32): decoded in
** passes, each row still its sequence's bits alone, the logits in order. */
static void test_batches_past_one_pass(void)
{
    model m;
    REQUIRE(open_model("stories260K.json", &m));   /* f32 weights */
    int V = mast_llama_info_of(m.llama)->n_vocab;
    enum { N = 40 };
    mast_llama_ctx *c[N];
    int32_t tok[N];
    float *alone = malloc((size_t)N * V * sizeof *alone), *out = malloc((size_t)N * V * sizeof *out);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < N; i++) {
            int32_t p[3] = {1, (int32_t)(3 + i * 7 % 400), (int32_t)(3 + i * 13 % 400)};
            if (pass == 0)
                REQUIRE(mast_llama_ctx_new(m.llama, 64, MAST_F32, &c[i]) == MAST_OK);
            mast_llama_ctx_truncate(c[i], 0);
            REQUIRE(mast_llama_decode(c[i], NULL, p, 3, false, NULL) == MAST_OK);
            tok[i] = (int32_t)(3 + i % 200);
            if (pass == 0)
                REQUIRE(mast_llama_decode(c[i], NULL, &tok[i], 1, false, alone + (size_t)i * V) == MAST_OK);
        }
    mast_llama_batch *b;
    REQUIRE(mast_llama_batch_new(m.llama, &b) == MAST_OK);
    REQUIRE(mast_llama_decode_seqs(b, NULL, c, tok, N, out) == MAST_OK);
    int differ = 0;
    for (int i = 0; i < N; i++) {
        differ += memcmp(out + (size_t)i * V, alone + (size_t)i * V, (size_t)V * sizeof *out) != 0;
        CHECK_EQ_INT(mast_llama_ctx_used(c[i]), 4);
        mast_llama_ctx_free(c[i]);
    }
    CHECK_EQ_INT(differ, 0);
    mast_llama_batch_free(b);
    free(alone);
    free(out);
    close_model(&m);
}

int main(void)
{
    RUN(test_stories260k_matches_llama_cpp);
    RUN(test_random_gqa_f32_matches_llama_cpp);
    RUN(test_random_gqa_q8_0_matches_llama_cpp);
    RUN(test_random_gqa_q4_0_matches_llama_cpp);
    RUN(test_fast_prompt_stays_close_to_the_exact_path);
    RUN(test_fast_matmul_matches_the_quantized_products);
    RUN(test_simd_attention_equals_plain_for_common_head_sizes);
    RUN(test_context_shift_re_rotates_the_keys);
    RUN(test_batched_decoding_equals_alone);
    RUN(test_prefix_copy_continues_identically);
    RUN(test_q8_0_kv_cache);
    RUN(test_batches_past_one_pass);
    return test_summary();
}
