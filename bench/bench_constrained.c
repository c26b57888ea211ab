/*
** bench/bench_constrained.c — what constrained decoding costs per token.
**
**   bench_constrained MODEL.gguf [THREADS] [TOKENS]
**
** Generates TOKENS tokens (default 128, 2 threads) from the same prompt
** three ways with the local engine: unconstrained, and under the grammar of a
** JSON Schema (an array of at least 1000 objects {"name": string of at most
** 12 characters, "age": integer, "tags": up to 3 of an enum}, so the output
** never completes within TOKENS), greedy and sampled (temperature 1, seed 1).
** End-of-generation tokens are banned with logit_bias so every run makes
** TOKENS tokens. The machine's memory bandwidth drifts between runs, so the
** runs interleave (unconstrained, constrained, five times) and each keeps
** its best. Reports ms per generated token, the slowdown against the
** unconstrained run, how often the sampled token was refused so the whole
** vocabulary had to be masked, and the time spent in the constraint's hooks
** (checks, masks, accepts). Prints one JSON object.
*/
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/status.h"
#include "model/generate.h"
#include "model/grammar.h"

static const char SCHEMA[] =
    "{\"type\":\"array\",\"minItems\":1000,\"items\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"name\",\"age\",\"tags\"],\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":12},"
    "\"age\":{\"type\":\"integer\"},\"tags\":{\"type\":\"array\",\"maxItems\":3,"
    "\"items\":{\"enum\":[\"red\",\"green\",\"blue\"]}}}}}";

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The matcher's hooks, counted and timed. */
typedef struct counted {
    mast_gen_constraint inner;
    long steps, masks;
    double mask_seconds, hook_seconds;
} counted;

static bool c_allows(void *ctx, int32_t id, const char *piece, size_t len)
{
    counted *c = ctx;
    double t0 = now();
    bool ok = c->inner.allows(c->inner.ctx, id, piece, len);
    c->hook_seconds += now() - t0;
    return ok;
}

static size_t c_allowed(void *ctx, int n, mast_pool *pool, int32_t *ids)
{
    counted *c = ctx;
    double t0 = now();
    size_t k = c->inner.allowed(c->inner.ctx, n, pool, ids);
    c->mask_seconds += now() - t0;
    c->hook_seconds += now() - t0;
    c->masks++;
    return k;
}

static mast_status c_accept(void *ctx, int32_t id, const char *piece, size_t len)
{
    counted *c = ctx;
    c->steps++;
    double t0 = now();
    mast_status st = c->inner.accept(c->inner.ctx, id, piece, len);
    c->hook_seconds += now() - t0;
    return st;
}

static bool c_complete(void *ctx)
{
    counted *c = ctx;
    return c->inner.complete(c->inner.ctx);
}

typedef struct run_result {
    double ms_per_token;
    long steps, masks;
    double mask_ms_per_token, hook_ms_per_token;
    int tokens;
} run_result;

/* One run; out keeps the best. */
static int run(mast_generator *g, const mast_grammar *gr, float temperature, int n, int32_t *ban,
               float *bias, size_t n_ban, run_result *out)
{
    mast_local_info info;
    mast_local_generator_info(g, &info);
    {
        mast_gen_params p = MAST_GEN_PARAMS_DEFAULT;
        p.max_tokens = n;
        p.sampler.temperature = temperature;
        p.sampler.seed = 1;
        p.bias_ids = ban;
        p.bias = bias;
        p.n_bias = n_ban;
        mast_grammar_matcher *m = NULL;
        counted c = {{0}, 0, 0, 0, 0};
        mast_gen_constraint hook = {&c, c_allows, c_allowed, c_accept, c_complete};
        if (gr) {
            if (mast_grammar_matcher_new(gr, info.tok, &m) != MAST_OK)
                return -1;
            c.inner = mast_grammar_matcher_constraint(m);
            p.constraint = &hook;
        }
        mast_gen_request r = {.messages = NULL, .n_messages = 0, .prompt = "Describe three people as JSON.", .params = p};
        mast_gen_result res;
        mast_status st = mast_generate(g, &r, NULL, NULL, &res);
        mast_grammar_matcher_free(m);
        if (st != MAST_OK)
            return -1;
        double ms = res.gen_seconds * 1e3 / (res.completion_tokens ? res.completion_tokens : 1);
        if (ms < out->ms_per_token) {
            out->ms_per_token = ms;
            out->steps = c.steps;
            out->masks = c.masks;
            out->mask_ms_per_token = c.mask_seconds * 1e3 / (res.completion_tokens ? res.completion_tokens : 1);
            out->hook_ms_per_token = c.hook_seconds * 1e3 / (res.completion_tokens ? res.completion_tokens : 1);
            out->tokens = res.completion_tokens;
        }
        mast_gen_result_free(&res);
    }
    return 0;
}

static json_t *result_json(const run_result *r, const run_result *base)
{
    json_t *o = json_pack("{s:i, s:f, s:f}", "tokens", r->tokens, "ms_per_token", r->ms_per_token,
                          "slowdown", base ? r->ms_per_token / base->ms_per_token - 1 : 0.0);
    if (base) {
        json_object_set_new(o, "full_masks", json_integer(r->masks));
        json_object_set_new(o, "steps", json_integer(r->steps));
        json_object_set_new(o, "mask_ms_per_token", json_real(r->mask_ms_per_token));
        json_object_set_new(o, "hook_ms_per_token", json_real(r->hook_ms_per_token));
    }
    return o;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_constrained MODEL.gguf [THREADS] [TOKENS]\n");
        return 2;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 2, n = argc > 3 ? atoi(argv[3]) : 128;
    mast_local_opts o = MAST_LOCAL_OPTS_DEFAULT;
    o.threads = threads;
    o.n_ctx = n + 64;
    mast_generator *g;
    json_t *schema = json_loads(SCHEMA, 0, NULL);
    mast_buf gbnf = {0};
    mast_grammar *gr = NULL;
    if (mast_local_generator_open(argv[1], &o, &g) != MAST_OK || !schema ||
        mast_schema_to_gbnf(schema, &gbnf) != MAST_OK || mast_grammar_parse(gbnf.data, gbnf.len, &gr) != MAST_OK) {
        fprintf(stderr, "bench_constrained: %s\n", mast_errmsg());
        return 1;
    }
    mast_local_info info;
    mast_local_generator_info(g, &info);
    /* ban every end-of-generation token: each run makes n tokens */
    int32_t *ban = malloc((size_t)info.n_vocab * sizeof *ban);
    float *bias = malloc((size_t)info.n_vocab * sizeof *bias);
    size_t n_ban = 0;
    for (int id = 0; id < info.n_vocab; id++)
        if (mast_tokenizer_is_eog(info.tok, id)) {
            ban[n_ban] = id;
            bias[n_ban++] = -100;
        }
    run_result free_greedy = {1e30, 0, 0, 0, 0, 0}, free_sampled = free_greedy, con_greedy = free_greedy,
               con_sampled = free_greedy;
    for (int rep = 0; rep < 5; rep++)
        if (run(g, NULL, 0, n, ban, bias, n_ban, &free_greedy) || run(g, gr, 0, n, ban, bias, n_ban, &con_greedy) ||
            run(g, NULL, 1, n, ban, bias, n_ban, &free_sampled) || run(g, gr, 1, n, ban, bias, n_ban, &con_sampled)) {
            fprintf(stderr, "bench_constrained: %s\n", mast_errmsg());
            return 1;
        }
    json_t *out = json_pack("{s:s, s:i, s:i, s:i, s:{s:o, s:o}, s:{s:o, s:o}}", "model", argv[1],
                            "n_vocab", info.n_vocab, "threads", threads, "tokens", n,
                            "unconstrained", "greedy", result_json(&free_greedy, NULL), "sampled",
                            result_json(&free_sampled, NULL), "json_schema", "greedy",
                            result_json(&con_greedy, &free_greedy), "sampled",
                            result_json(&con_sampled, &free_sampled));
    char *s = json_dumps(out, JSON_COMPACT);
    puts(s);
    free(s);
    json_decref(out);
    json_decref(schema);
    mast_buf_free(&gbnf);
    mast_grammar_free(gr);
    free(ban);
    free(bias);
    mast_generator_free(g);
    return 0;
}
