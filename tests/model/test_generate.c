/* tests/model/test_generate.c — the generator on real models: greedy text
** as llama.cpp's, quantized copies, stop strings, limits, seeds, bad input,
** chat templates. */
#include <dirent.h>
#include <jansson.h>
#include <unistd.h>

#include "model/generate.h"
#include "model/grammar.h"
#include "model/tokenizer.h"
#include "model/quantize.h"
#include "test.h"

static char path_buf[512];

static const char *shared(const char *rel)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s", test_shared_data(), rel);
    return path_buf;
}

static mast_generator *open_gen(const char *path, mast_dtype kv, int n_ctx)
{
    mast_local_opts o = MAST_LOCAL_OPTS_DEFAULT;
    o.n_ctx = n_ctx;
    o.kv_type = kv;
    o.threads = 2;
    mast_generator *g = NULL;
    if (mast_local_generator_open(path, &o, &g) != MAST_OK)
        fprintf(stderr, "  %s\n", mast_errmsg());
    return g;
}

static mast_gen_params greedy(int n)
{
    mast_gen_params p = MAST_GEN_PARAMS_DEFAULT;
    p.max_tokens = n;
    p.sampler.temperature = 0;
    return p;
}

typedef struct collected {
    mast_buf text;
    int calls;
} collected;

static int collect(void *ctx, const char *text, size_t len)
{
    collected *c = ctx;
    c->calls++;
    return mast_buf_append(&c->text, text, len) != MAST_OK;
}

/* The greedy continuations of stories260K's six prompts, ids and text, as
** llama.cpp's (no near-ties there: every margin >= 0.026), with the f32 and
** the default f16 cache. */
static void test_greedy_text_equals_llama_cpp(void)
{
    json_error_t err;
    json_t *o = json_load_file(shared("oracle/stories260K.json"), 0, &err);
    REQUIRE(o != NULL);
    for (int kv = 0; kv < 2; kv++) {
        mast_generator *g = open_gen(shared("models/stories260K.gguf"), kv ? MAST_F16 : MAST_F32, 0);
        REQUIRE(g != NULL);
        size_t i;
        json_t *p;
        int same = 0;
        json_array_foreach(json_object_get(o, "prompts"), i, p) {
            json_t *gr = json_object_get(p, "greedy"), *want = json_object_get(gr, "tokens");
            mast_gen_request r = {.messages = NULL, .n_messages = 0, .prompt = json_string_value(json_object_get(p, "prompt")), .params = greedy(48)};
            collected c = {{0}, 0};
            mast_gen_result res;
            REQUIRE(mast_generate(g, &r, collect, &c, &res) == MAST_OK);
            CHECK_EQ_INT(res.completion_tokens, 48);
            CHECK_EQ_STR(res.finish_reason, "length");
            int ok = res.completion_tokens == (int)json_array_size(want);
            for (int t = 0; ok && t < res.completion_tokens; t++)
                ok = res.ids[t] == json_integer_value(json_array_get(want, t));
            same += ok;
            if (kv == 0) {
                CHECK(ok);
                CHECK_EQ_STR(mast_buf_cstr(&c.text), json_string_value(json_object_get(gr, "text")));
            }
            mast_gen_result_free(&res);
            mast_buf_free(&c.text);
        }
        if (kv == 1)
            fprintf(stderr, "  f16 cache: %d of 6 continuations identical to llama.cpp's f32-cache ones\n", same);
        CHECK(same >= (kv ? 5 : 6));
        mast_generator_free(g);
    }
    json_decref(o);
}

/* mast quantize's Q8_0 and Q4_K_M copies of stories260K continue each prompt
** like the F32 model for at least 8 tokens. */
static void test_quantized_copies_agree_with_f32(void)
{
    char *dir = test_tmpdir();
    REQUIRE(dir != NULL);
    mast_gguf *in;
    REQUIRE(mast_gguf_open(&in, shared("models/stories260K.gguf")) == MAST_OK);
    static const char *const targets[] = {"q8_0", "q4_k_m"};
    mast_generator *f32 = open_gen(shared("models/stories260K.gguf"), MAST_F32, 0);
    REQUIRE(f32 != NULL);
    static const char *const prompts[] = {"Once upon a time", "The little dog", "Lily and Ben went to the park",
                                          "", "Tom was sad because"};
    for (int t = 0; t < 2; t++) {
        char out[600];
        snprintf(out, sizeof out, "%s/stories-%s.gguf", dir, targets[t]);
        REQUIRE(mast_quantize_model(in, out, targets[t], NULL, NULL) == MAST_OK);
        mast_generator *q = open_gen(out, MAST_F32, 0);
        REQUIRE(q != NULL);
        int min_agree = 48;
        for (size_t i = 0; i < sizeof prompts / sizeof *prompts; i++) {
            mast_gen_request r = {.messages = NULL, .n_messages = 0, .prompt = prompts[i], .params = greedy(32)};
            mast_gen_result a, b;
            REQUIRE(mast_generate(f32, &r, NULL, NULL, &a) == MAST_OK);
            REQUIRE(mast_generate(q, &r, NULL, NULL, &b) == MAST_OK);
            int agree = 0;
            while (agree < a.completion_tokens && agree < b.completion_tokens && a.ids[agree] == b.ids[agree])
                agree++;
            min_agree = agree < min_agree ? agree : min_agree;
            mast_gen_result_free(&a);
            mast_gen_result_free(&b);
        }
        fprintf(stderr, "  %s: the F32 model's greedy tokens kept for at least %d of 32 on every prompt\n",
                targets[t], min_agree);
        CHECK(min_agree >= 8);
        mast_generator_free(q);
        unlink(out);
    }
    mast_generator_free(f32);
    mast_gguf_close(in);
    rmdir(dir);
    free(dir);
}

static void test_stop_strings_limits_and_seeds(void)
{
    mast_generator *g = open_gen(shared("models/stories260K.gguf"), MAST_F32, 64);
    REQUIRE(g != NULL);
    /* greedy: ", there was a little girl named Lily. She loved ..." */
    mast_gen_params p = greedy(48);
    const char *stop[] = {"Lily", "zzz"};
    p.stop = stop;
    p.n_stop = 2;
    mast_gen_request r = {.messages = NULL, .n_messages = 0, .prompt = "Once upon a time", .params = p};
    collected c = {{0}, 0};
    mast_gen_result res;
    REQUIRE(mast_generate(g, &r, collect, &c, &res) == MAST_OK);
    CHECK_EQ_STR(mast_buf_cstr(&c.text), ", there was a little girl named ");
    CHECK_EQ_STR(res.finish_reason, "stop");
    CHECK(res.completion_tokens < 12);
    mast_gen_result_free(&res);
    mast_buf_free(&c.text);
    /* the context is 64: 5 prompt tokens and 59 generated fill it; a 61st needs a 65th position */
    r.params = greedy(60);
    REQUIRE(mast_generate(g, &r, NULL, NULL, &res) == MAST_OK);
    CHECK_EQ_INT(res.completion_tokens, 60);
    mast_gen_result_free(&res);
    CHECK(!res.context_full);
    /* a 61st token does not fit: the generation ends there with finish reason "length" */
    r.params = greedy(61);
    REQUIRE(mast_generate(g, &r, NULL, NULL, &res) == MAST_OK);
    CHECK_EQ_INT(res.completion_tokens, 60);
    CHECK_EQ_STR(res.finish_reason, "length");
    CHECK(res.context_full);
    mast_gen_result_free(&res);
    /* ... unless the context may shift */
    r.params.ctx_shift = true;
    REQUIRE(mast_generate(g, &r, NULL, NULL, &res) == MAST_OK);
    CHECK_EQ_INT(res.completion_tokens, 61);
    mast_gen_result_free(&res);
    /* a prompt longer than the context */
    char longp[2000] = "";
    for (int i = 0; i < 100; i++)
        strcat(longp, "the dog ran. ");
    mast_gen_request lr = {.messages = NULL, .n_messages = 0, .prompt = longp, .params = greedy(4)};
    CHECK_EQ_INT(mast_generate(g, &lr, NULL, NULL, &res), MAST_ERR_LIMIT);
    CHECK(strstr(mast_errmsg(), "the context holds 64") != NULL);
    /* seeded sampling: the same seed gives the same tokens, another seed others */
    int32_t first[3][24];
    for (int run = 0; run < 3; run++) {
        mast_gen_params sp = MAST_GEN_PARAMS_DEFAULT;
        sp.max_tokens = 24;
        sp.sampler.temperature = 1.0f;
        sp.sampler.seed = run < 2 ? 7 : 8;
        mast_gen_request sr = {.messages = NULL, .n_messages = 0, .prompt = "Once upon a time", .params = sp};
        REQUIRE(mast_generate(g, &sr, NULL, NULL, &res) == MAST_OK);
        REQUIRE(res.completion_tokens == 24);
        memcpy(first[run], res.ids, sizeof first[run]);
        mast_gen_result_free(&res);
    }
    CHECK(memcmp(first[0], first[1], sizeof first[0]) == 0);
    CHECK(memcmp(first[0], first[2], sizeof first[0]) != 0);
    mast_generator_free(g);
}

static void test_bad_models_are_refused_clearly(void)
{
    mast_generator *g = NULL;
    mast_local_opts o = MAST_LOCAL_OPTS_DEFAULT;
    CHECK_EQ_INT(mast_local_generator_open(shared("models/tiny-bert-random.gguf"), &o, &g), MAST_ERR_UNSUPPORTED);
    CHECK(strstr(mast_errmsg(), "architecture 'bert' is not supported") != NULL);
    CHECK_EQ_INT(mast_local_generator_open("/nonexistent/model.gguf", &o, &g), MAST_ERR_NOT_FOUND);
    /* a copy of stories260K without one tensor */
    char *dir = test_tmpdir();
    REQUIRE(dir != NULL);
    char out[600];
    snprintf(out, sizeof out, "%s/missing.gguf", dir);
    mast_gguf *in;
    REQUIRE(mast_gguf_open(&in, shared("models/stories260K.gguf")) == MAST_OK);
    mast_gguf_writer *w;
    REQUIRE(mast_gguf_writer_new(&w) == MAST_OK);
    for (size_t i = 0; i < in->n_kv; i++)
        REQUIRE(mast_gguf_copy_kv(w, &in->kv[i]) == MAST_OK);
    for (size_t i = 0; i < in->n_tensors; i++) {
        const mast_tensor_info *t = &in->tensors[i];
        if (strcmp(t->name, "blk.2.ffn_up.weight") != 0)
            REQUIRE(mast_gguf_add_tensor(w, t->name, t->type, t->ne, t->n_dims, t->data) == MAST_OK);
    }
    REQUIRE(mast_gguf_write(w, out) == MAST_OK);
    mast_gguf_writer_free(w);
    mast_gguf_close(in);
    CHECK_EQ_INT(mast_local_generator_open(out, &o, &g), MAST_ERR_FORMAT);
    CHECK(strstr(mast_errmsg(), "missing tensor 'blk.2.ffn_up.weight'") != NULL);
    unlink(out);
    rmdir(dir);
    free(dir);
}

static void test_chat_templates_render_each_family(void)
{
    static const struct {
        const char *marker;
        mast_chat_format f;
        const char *want;
    } cases[] = {
        {"{% for m in messages %}<|im_start|>{{m.role}}", MAST_CHAT_CHATML,
         "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
         "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"},
        {"<|start_header_id|>", MAST_CHAT_LLAMA3,
         "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user"
         "<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
         "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
        {"[INST] <<SYS>>", MAST_CHAT_LLAMA2,
         "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello!</s>[INST] Bye [/INST]"},
        {"[INST]", MAST_CHAT_MISTRAL, "[INST] Be brief.\n\nHi [/INST] Hello!</s>[INST] Bye [/INST]"},
        {"<|user|>...</s>", MAST_CHAT_ZEPHYR,
         "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello!</s>\n<|user|>\nBye</s>\n<|assistant|>\n"},
        {"<|user|>...<|end|>", MAST_CHAT_PHI3,
         "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n<|user|>\nBye<|end|>\n<|assistant|>\n"},
        {"<start_of_turn>", MAST_CHAT_GEMMA,
         "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n"
         "<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n"},
        {"{{ unknown }}", MAST_CHAT_PLAIN, "system: Be brief.\nuser: Hi\nassistant: Hello!\nuser: Bye\nassistant:"},
    };
    mast_chat_message msgs[] = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello!"}, {"user", "Bye"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK_EQ_INT(mast_chat_detect(cases[i].marker, strlen(cases[i].marker)), cases[i].f);
        mast_buf b = {0};
        REQUIRE(mast_chat_render(cases[i].f, msgs, 4, &b) == MAST_OK);
        CHECK_EQ_STR(mast_buf_cstr(&b), cases[i].want);
        mast_buf_free(&b);
    }
    mast_chat_message bad[] = {{"wizard", "x"}};
    mast_buf b = {0};
    CHECK_EQ_INT(mast_chat_render(MAST_CHAT_CHATML, bad, 1, &b), MAST_ERR_INVALID);
    CHECK(strstr(mast_errmsg(), "got 'wizard'") != NULL);
    mast_buf_free(&b);
    /* the shared models carry no template: plain */
    mast_gguf *g;
    REQUIRE(mast_gguf_open(&g, shared("models/stories260K.gguf")) == MAST_OK);
    CHECK_EQ_INT(mast_chat_format_of(g), MAST_CHAT_PLAIN);
    mast_gguf_close(g);
}

/* Generation under a grammar, logit_bias, the fit check and the prefix the
** context already holds (what the server's requests use). */
static void test_grammar_bias_fit_and_cache(void)
{
    mast_generator *g = open_gen(shared("models/stories260K.gguf"), MAST_F32, 64);
    REQUIRE(g != NULL);
    mast_local_info info;
    REQUIRE(mast_local_generator_info(g, &info) == MAST_OK);
    const char *gbnf = "root ::= \" \"? (\"yes\" | \"no\") \".\"";
    mast_grammar *gr;
    REQUIRE(mast_grammar_parse(gbnf, strlen(gbnf), &gr) == MAST_OK);
    mast_grammar_matcher *m;
    REQUIRE(mast_grammar_matcher_new(gr, info.tok, &m) == MAST_OK);
    mast_gen_constraint c = mast_grammar_matcher_constraint(m);
    mast_gen_params p = greedy(40);
    p.constraint = &c;
    mast_gen_request r = {.messages = NULL, .n_messages = 0, .prompt = "Once upon a time", .params = p};
    collected col = {{0}, 0};
    mast_gen_result res;
    REQUIRE(mast_generate(g, &r, collect, &col, &res) == MAST_OK);
    const char *t = mast_buf_cstr(&col.text);
    CHECK(!strcmp(t, " yes.") || !strcmp(t, "yes.") || !strcmp(t, " no.") || !strcmp(t, "no."));
    CHECK_EQ_STR(res.finish_reason, "stop");   /* complete: nothing more can follow */
    CHECK(res.completion_tokens <= 5);
    mast_gen_result_free(&res);
    mast_buf_free(&col.text);
    mast_grammar_matcher_free(m);
    mast_grammar_free(gr);

    /* a grammar whose only byte (0x01) is banned by logit_bias: a clear dead end */
    const char *one = "root ::= \"\\x01\"";
    REQUIRE(mast_grammar_parse(one, strlen(one), &gr) == MAST_OK);
    REQUIRE(mast_grammar_matcher_new(gr, info.tok, &m) == MAST_OK);
    c = mast_grammar_matcher_constraint(m);
    int32_t byte01 = 3 + 1;   /* stories260K: <0x00>..<0xFF> are ids 3..258 */
    size_t plen;
    CHECK_EQ_INT(mast_tokenizer_piece(info.tok, byte01, &plen)[0], 1);
    float ban = -100;
    r.params = greedy(8);
    r.params.constraint = &c;
    r.params.bias_ids = &byte01;
    r.params.bias = &ban;
    r.params.n_bias = 1;
    CHECK_EQ_INT(mast_generate(g, &r, NULL, NULL, &res), MAST_ERR_UNSUPPORTED);
    CHECK(strstr(mast_errmsg(), "can continue the grammar after 0 generated tokens") != NULL);
    mast_grammar_matcher_free(m);
    mast_grammar_free(gr);

    /* logit_bias -100 bans the greedy first token; the prompt is then held: cached */
    r.params = greedy(3);
    REQUIRE(mast_generate(g, &r, NULL, NULL, &res) == MAST_OK);
    int32_t first = res.ids[0];
    int prompt = res.prompt_tokens;
    mast_gen_result_free(&res);
    r.params.bias_ids = &first;
    r.params.bias = &ban;
    r.params.n_bias = 1;
    REQUIRE(mast_generate(g, &r, NULL, NULL, &res) == MAST_OK);
    CHECK(res.ids[0] != first);
    CHECK_EQ_INT(res.cached_tokens, prompt - 1);
    mast_gen_result_free(&res);

    /* fit: the prompt plus max_tokens must fit the 64-token context */
    r.params = greedy(60);
    r.params.fit = true;
    CHECK_EQ_INT(mast_generate(g, &r, NULL, NULL, &res), MAST_ERR_LIMIT);
    CHECK(strstr(mast_errmsg(), "max_tokens is 60") && strstr(mast_errmsg(), "context's 64"));
    r.params = greedy(59);
    r.params.fit = true;
    CHECK_EQ_INT(mast_generate(g, &r, NULL, NULL, &res), MAST_OK);
    mast_gen_result_free(&res);
    mast_generator_free(g);
}

/* Continuous batching at the generator: 16 requests begun at different
** steps in 16 slots, greedy and seeded, each with its own stop string and
** length, give exactly the ids and text each gives alone; a request that
** shares a long prefix with a running one copies that prefix's cache and
** still gives its own tokens. */
#define NREQ 16
typedef struct batched {
    mast_gen_request r;
    char prompt[600];
    const char *stop[1];
    mast_gen_result res;
    collected text;
    int done;
    mast_status st;
} batched;

static void on_done(void *ctx, mast_status st)
{
    batched *b = ctx;
    b->done++;
    b->st = st;
}

static void test_batched_requests_equal_alone(void)
{
    static const char *starts[] = {"Once upon a time", "The little dog", "Lily and Tom", "One day",
                                   "A big red ball", "The sun was", "Sam liked to", "There was a cat"};
    batched *b = calloc(NREQ, sizeof *b);
    for (int i = 0; i < NREQ; i++) {
        snprintf(b[i].prompt, sizeof b[i].prompt, "%s%s", starts[i % 8], i >= 8 ? " and then" : "");
        b[i].r.prompt = b[i].prompt;
        b[i].r.params = greedy(10 + 3 * (i % 5));
        if (i % 2) {   /* seeded sampling */
            b[i].r.params.sampler.temperature = 0.9f;
            b[i].r.params.sampler.seed = 100 + (uint64_t)i;
        }
        if (i % 4 == 3) {
            b[i].stop[0] = "the";
            b[i].r.params.stop = b[i].stop;
            b[i].r.params.n_stop = 1;
        }
    }
    /* one long shared prefix (over MIN_REUSE tokens): the last two requests */
    char longp[560] = "";
    for (int k = 0; k < 12; k++)
        strcat(longp, "Tom had a big red ball and he liked to play. ");
    snprintf(b[14].prompt, sizeof b[14].prompt, "%sOne day", longp);
    snprintf(b[15].prompt, sizeof b[15].prompt, "%sThe ball", longp);
    b[14].r.params = greedy(30);
    b[15].r.params = greedy(12);

    char *alone_text[NREQ];
    int32_t *alone_ids[NREQ];
    int alone_n[NREQ];
    mast_generator *g = open_gen(shared("models/stories260K.gguf"), MAST_F16, 512);
    REQUIRE(g != NULL);
    for (int i = 0; i < NREQ; i++) {
        collected c = {0};
        mast_gen_result res;
        REQUIRE(mast_generate(g, &b[i].r, collect, &c, &res) == MAST_OK);
        alone_text[i] = strdup(mast_buf_cstr(&c.text));
        alone_n[i] = res.completion_tokens;
        alone_ids[i] = malloc(((size_t)res.completion_tokens + 1) * sizeof(int32_t));
        memcpy(alone_ids[i], res.ids, (size_t)res.completion_tokens * sizeof(int32_t));
        mast_gen_result_free(&res);
        mast_buf_free(&c.text);
    }
    mast_generator_free(g);

    mast_local_opts o = MAST_LOCAL_OPTS_DEFAULT;
    o.n_ctx = 512;
    o.threads = 2;
    o.slots = NREQ;
    o.prompt_chunk = 16;   /* the long prompts take several steps */
    REQUIRE(mast_local_generator_open(shared("models/stories260K.gguf"), &o, &g) == MAST_OK);
    CHECK_EQ_INT(mast_local_generator_slots(g), NREQ);
    int begun = 0, steps = 0, most = 0;
    while (begun < NREQ || mast_local_generator_active(g)) {
        /* two newcomers a step; the long-prefix pair once request 14 runs */
        for (int k = 0; k < 2 && begun < NREQ; k++) {
            if (begun == 15 && !b[14].done && b[14].res.completion_tokens == 0 && steps < 40)
                break;   /* 15 begins while 14 is running: it copies 14's prefix */
            batched *x = &b[begun];
            REQUIRE(mast_local_generator_begin(g, &x->r, collect, &x->text, &x->res, on_done, x) == MAST_OK);
            begun++;
        }
        int a = mast_local_generator_active(g);
        most = a > most ? a : most;
        mast_local_generator_step(g);
        steps++;
        REQUIRE(steps < 10000);
    }
    int same = 0;
    for (int i = 0; i < NREQ; i++) {
        CHECK_EQ_INT(b[i].done, 1);
        CHECK_EQ_INT(b[i].st, MAST_OK);
        int ok = b[i].res.completion_tokens == alone_n[i] &&
                 !memcmp(b[i].res.ids, alone_ids[i], (size_t)alone_n[i] * sizeof(int32_t)) &&
                 !strcmp(mast_buf_cstr(&b[i].text.text), alone_text[i]);
        if (!ok)
            fprintf(stderr, "  request %d: alone \"%s\", batched \"%s\"\n", i, alone_text[i],
                    mast_buf_cstr(&b[i].text.text));
        same += ok;
    }
    fprintf(stderr, "  %d of %d requests identical to alone; at most %d ran together in %d steps; "
            "request 15 reused %d cached prompt tokens of %d\n", same, NREQ, most, steps,
            b[15].res.cached_tokens, b[15].res.prompt_tokens);
    CHECK_EQ_INT(same, NREQ);
    CHECK(most >= 12);
    CHECK(b[15].res.cached_tokens >= 100);   /* the shared sentences, copied from 14's slot */
    /* every slot busy: the next request is refused, not queued */
    for (int i = 0; i < NREQ; i++) {
        mast_gen_result_free(&b[i].res);
        mast_buf_free(&b[i].text.text);
        b[i].text = (collected){0};
        b[i].done = 0;
        b[i].r.params = greedy(50);
        REQUIRE(mast_local_generator_begin(g, &b[i].r, collect, &b[i].text, &b[i].res, on_done, &b[i]) == MAST_OK);
    }
    mast_gen_result extra;
    CHECK_EQ_INT(mast_local_generator_begin(g, &b[0].r, NULL, NULL, &extra, NULL, NULL), MAST_ERR_LIMIT);
    CHECK(strstr(mast_errmsg(), "every one of the 16 slots is busy") != NULL);
    while (mast_local_generator_active(g))
        mast_local_generator_step(g);
    for (int i = 0; i < NREQ; i++) {
        CHECK_EQ_INT(b[i].done, 1);
        mast_gen_result_free(&b[i].res);
        mast_buf_free(&b[i].text.text);
        free(alone_text[i]);
        free(alone_ids[i]);
    }
    mast_generator_free(g);
    free(b);
}

/* --kv-memory: with room for two requests' caches, four requests in four
** slots run two at a time (the others "waiting"), the held KV never passes
** the budget, idle prefixes are dropped for newcomers, and every request
** gives its tokens alone; one that could never fit is refused, named. */
static void test_kv_budget_waits_and_never_overflows(void)
{
    mast_local_opts o = MAST_LOCAL_OPTS_DEFAULT;
    o.threads = 2;
    mast_generator *g;
    REQUIRE(mast_local_generator_open(shared("models/stories260K.gguf"), &o, &g) == MAST_OK);
    mast_gen_request r = {.prompt = "Once upon a time", .params = greedy(20)};
    mast_gen_result alone;
    mast_status st0 = mast_generate(g, &r, NULL, NULL, &alone);
    if (st0 != MAST_OK)
        fprintf(stderr, "  %s\n", mast_errmsg());
    REQUIRE(st0 == MAST_OK);
    mast_slot_info one;
    REQUIRE(mast_local_generator_slot_info(g, &one, 1) == 1);
    size_t per = one.kv_bytes;   /* a whole 128-token context's */
    CHECK(per > 0);
    mast_generator_free(g);

    o.slots = 4;
    o.kv_memory = 2 * per + per / 2;
    REQUIRE(mast_local_generator_open(shared("models/stories260K.gguf"), &o, &g) == MAST_OK);
    static const char *prompts[4] = {"Once upon a time", "The little dog", "Lily and Tom", "One day"};
    batched b[4] = {0};
    int32_t *ids[4];
    int n_ids[4];
    for (int i = 0; i < 4; i++) {   /* alone first */
        b[i].r.prompt = prompts[i];
        b[i].r.params = greedy(120);   /* reserves about a whole 128-token context */
        mast_gen_result res;
        REQUIRE(mast_generate(g, &b[i].r, NULL, NULL, &res) == MAST_OK);
        n_ids[i] = res.completion_tokens;
        ids[i] = malloc(((size_t)n_ids[i] + 1) * sizeof(int32_t));
        memcpy(ids[i], res.ids, (size_t)n_ids[i] * sizeof(int32_t));
        mast_gen_result_free(&res);
    }
    for (int i = 0; i < 4; i++)
        REQUIRE(mast_local_generator_begin(g, &b[i].r, NULL, NULL, &b[i].res, on_done, &b[i]) == MAST_OK);
    mast_slot_info si[4];
    int most_running = 0, most_waiting = 0, over = 0, steps = 0;
    while (mast_local_generator_active(g) && steps++ < 1000) {
        mast_local_generator_slot_info(g, si, 4);
        int running = 0, waiting = 0;
        size_t held = 0;
        for (int i = 0; i < 4; i++) {
            running += !strcmp(si[i].state, "prompt") || !strcmp(si[i].state, "generating");
            waiting += !strcmp(si[i].state, "waiting");
            held += si[i].kv_bytes;
        }
        over += held > o.kv_memory;
        most_running = running > most_running ? running : most_running;
        most_waiting = waiting > most_waiting ? waiting : most_waiting;
        mast_local_generator_step(g);
    }
    fprintf(stderr, "  budget of 2.5 contexts: at most %d running, %d waiting; %d steps over budget\n",
            most_running, most_waiting, over);
    CHECK_EQ_INT(most_running, 2);
    CHECK_EQ_INT(most_waiting, 2);
    CHECK_EQ_INT(over, 0);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(b[i].done, 1);
        CHECK_EQ_INT(b[i].st, MAST_OK);
        CHECK_EQ_INT(b[i].res.completion_tokens, n_ids[i]);
        CHECK(!memcmp(b[i].res.ids, ids[i], (size_t)n_ids[i] * sizeof(int32_t)));
        mast_gen_result_free(&b[i].res);
        free(ids[i]);
    }
    mast_generator_free(g);

    /* a budget under a whole context: the reservation is the request's own
    ** positions, not the next doubling's (128), so it fits and runs */
    o.kv_memory = per * 100 / 128;
    REQUIRE(mast_local_generator_open(shared("models/stories260K.gguf"), &o, &g) == MAST_OK);
    batched fit = {.r = {.prompt = "Once upon a time", .params = greedy(90)}};
    REQUIRE(mast_local_generator_begin(g, &fit.r, NULL, NULL, &fit.res, on_done, &fit) == MAST_OK);
    for (int i = 0; i < 1000 && mast_local_generator_active(g); i++)
        mast_local_generator_step(g);
    CHECK_EQ_INT(fit.done, 1);
    CHECK_EQ_INT(fit.st, MAST_OK);
    REQUIRE(mast_local_generator_slot_info(g, si, 1) >= 1);
    CHECK(si[0].kv_bytes <= o.kv_memory);
    mast_gen_result_free(&fit.res);
    mast_generator_free(g);

    o.kv_memory = per / 2;   /* not even one request's room */
    REQUIRE(mast_local_generator_open(shared("models/stories260K.gguf"), &o, &g) == MAST_OK);
    mast_gen_result res;
    r.params = greedy(100);
    CHECK_EQ_INT(mast_local_generator_begin(g, &r, NULL, NULL, &res, NULL, NULL), MAST_ERR_LIMIT);
    CHECK(strstr(mast_errmsg(), "more than the") && strstr(mast_errmsg(), "--kv-memory"));
    CHECK_EQ_INT(mast_local_generator_active(g), 0);
    mast_generator_free(g);
    mast_gen_result_free(&alone);
}

static mast_generator *open_cached(const char *model, const char *dir, mast_dtype kv)
{
    mast_local_opts o = MAST_LOCAL_OPTS_DEFAULT;
    o.n_ctx = 128;
    o.kv_type = kv;
    o.threads = 2;
    o.slots = 2;
    o.cache_dir = dir;
    mast_generator *g = NULL;
    if (mast_local_generator_open(model, &o, &g) != MAST_OK)
        fprintf(stderr, "  %s\n", mast_errmsg());
    return g;
}

/* --cache-dir: a slot's prefix saved when the generator closes comes back when the same
** model opens again (the same tokens as without it); a damaged file, another KV type or a
** changed model file are not restored. */
static void test_prompt_cache_survives_reopening(void)
{
    char dir[] = "/tmp/mast-kvc-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char model[1100];
    snprintf(model, sizeof model, "%s/m.gguf", dir);
    REQUIRE(symlink(shared("models/stories260K.gguf"), model) == 0);
    mast_buf text = {0};
    for (int i = 0; i < 4; i++)
        mast_buf_printf(&text, "The little fox %d ran to the old tree by the river. ", i);
    mast_gen_request r = {.prompt = mast_buf_cstr(&text), .params = greedy(12)};
    mast_gen_result alone = {0}, res = {0};
    mast_generator *g = open_gen(model, MAST_F16, 128);
    REQUIRE(g);
    mast_status st0 = mast_generate(g, &r, NULL, NULL, &alone);
    if (st0 != MAST_OK)
        fprintf(stderr, "  %s\n", mast_errmsg());
    REQUIRE(st0 == MAST_OK);
    mast_generator_free(g);
    REQUIRE(alone.prompt_tokens >= 64);

    g = open_cached(model, dir, MAST_F16);
    REQUIRE(g);
    REQUIRE(mast_generate(g, &r, NULL, NULL, &res) == MAST_OK);
    CHECK_EQ_INT(res.cached_tokens, 0);   /* nothing saved yet */
    mast_gen_result_free(&res);
    mast_generator_free(g);               /* saves slot 0 */
    g = open_cached(model, dir, MAST_F16);
    REQUIRE(g);
    REQUIRE(mast_generate(g, &r, NULL, NULL, &res) == MAST_OK);
    CHECK_EQ_INT(res.cached_tokens, alone.prompt_tokens - 1);   /* restored: only the last decoded */
    CHECK_EQ_INT(res.completion_tokens, alone.completion_tokens);
    CHECK(res.completion_tokens > 0 && !memcmp(res.ids, alone.ids, (size_t)res.completion_tokens * sizeof *res.ids));
    mast_gen_result_free(&res);
    mast_generator_free(g);

    g = open_cached(model, dir, MAST_F32);   /* another KV type: another key, nothing restored */
    REQUIRE(g);
    REQUIRE(mast_generate(g, &r, NULL, NULL, &res) == MAST_OK);
    CHECK_EQ_INT(res.cached_tokens, 0);
    mast_gen_result_free(&res);
    mast_generator_free(g);

    /* a damaged file (a byte of its KV flipped) is left out, with the same text as alone */
    DIR *d = opendir(dir);
    REQUIRE(d);
    struct dirent *e;
    char victim[1400] = "";
    int n_files = 0;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".kvc") && strstr(e->d_name, "-0.kvc")) {
            n_files++;
            if (!victim[0])
                snprintf(victim, sizeof victim, "%s/%s", dir, e->d_name);
        }
    closedir(d);
    CHECK_EQ_INT(n_files, 2);   /* f16's and f32's */
    g = open_cached(model, dir, MAST_F16);
    mast_generator_free(g);      /* f16's written again, unchanged */
    FILE *f = NULL;
    for (d = opendir(dir); d && (e = readdir(d));)
        if (strstr(e->d_name, "-0.kvc")) {
            snprintf(victim, sizeof victim, "%s/%s", dir, e->d_name);
            f = fopen(victim, "r+b");
            REQUIRE(f);
            fseek(f, -5, SEEK_END);
            int c = fgetc(f);
            fseek(f, -5, SEEK_END);
            fputc(c ^ 1, f);
            fclose(f);
        }
    if (d)
        closedir(d);
    g = open_cached(model, dir, MAST_F16);
    REQUIRE(g);
    REQUIRE(mast_generate(g, &r, NULL, NULL, &res) == MAST_OK);
    CHECK_EQ_INT(res.cached_tokens, 0);
    CHECK(!memcmp(res.ids, alone.ids, (size_t)alone.completion_tokens * sizeof *res.ids));
    mast_gen_result_free(&res);
    mast_generator_free(g);
    /* another model file at the same path: the old caches do not apply to it */
    g = open_cached(model, dir, MAST_F16);
    mast_generator_free(g);      /* saved again, whole */
    REQUIRE(unlink(model) == 0);   /* another file at the same path */
    REQUIRE(symlink(shared("models/tiny-llama-gqa-random.gguf"), model) == 0);
    g = open_cached(model, dir, MAST_F16);
    REQUIRE(g);
    REQUIRE(mast_generate(g, &r, NULL, NULL, &res) == MAST_OK);
    CHECK_EQ_INT(res.cached_tokens, 0);
    mast_gen_result_free(&res);
    mast_generator_free(g);
    mast_gen_result_free(&alone);
    mast_buf_free(&text);
    for (d = opendir(dir); d && (e = readdir(d));) {
        char p[1400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.')
            unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

int main(void)
{
    RUN(test_greedy_text_equals_llama_cpp);
    RUN(test_quantized_copies_agree_with_f32);
    RUN(test_stop_strings_limits_and_seeds);
    RUN(test_bad_models_are_refused_clearly);
    RUN(test_chat_templates_render_each_family);
    RUN(test_grammar_bias_fit_and_cache);
    RUN(test_batched_requests_equal_alone);
    RUN(test_kv_budget_waits_and_never_overflows);
    RUN(test_prompt_cache_survives_reopening);
    return test_summary();
}
