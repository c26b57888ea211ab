/*
** bench/bench_generate.c — Llama-family prompt processing and generation
** speed against the machine's memory-bandwidth roofline.
**
**   bench_generate MODEL.gguf [THREADS] [PROMPT_TOKENS] [GEN_TOKENS] [KV_TYPE]
**
** KV_TYPE: f16 (the default), f32 or q8_0.
** Defaults: 2 threads, 512 prompt tokens, 128 generated. As llama-bench
** does, the prompt is random token ids decoded in one batch (prompt
** processing, tokens/s), and generation is GEN_TOKENS tokens decoded one at
** a time from an empty context, each the argmax of the previous logits
** (tokens/s; llama-bench's tg). Generation is also timed right after the
** prompt (tg_after_prompt_tokens_per_s), where each token's attention reads
** 512+ cached positions (after_over_empty: that rate over the empty
** context's). Best of 3 runs each. The
** prompt is also timed with --fast-prompt's kernel (pp_fast_tokens_per_s).
** The roofline: generating one token reads every weight once (the layers'
** matrices and the LM head), so tokens/s cannot exceed read bandwidth /
** those bytes; the read bandwidth is measured in the same run with the
** same thread count (bench/roofline.h). of_roofline is the empty-context
** generation's fraction of it (the roofline counts weights, not the cache).
** Prints one JSON object.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/llama.h"
#include "roofline.h"

static int argmax(const float *v, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b])
            b = i;
    return b;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_generate MODEL.gguf [THREADS] [PROMPT_TOKENS] [GEN_TOKENS]\n");
        return 2;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 2, n_prompt = argc > 3 ? atoi(argv[3]) : 512,
        n_gen = argc > 4 ? atoi(argv[4]) : 128;
    const char *kv_name = argc > 5 ? argv[5] : "f16";
    mast_dtype kv = !strcmp(kv_name, "q8_0") ? MAST_Q8_0 : !strcmp(kv_name, "f32") ? MAST_F32 : MAST_F16;
    mast_gguf *g;
    mast_llama *m;
    mast_pool *pool;
    if (mast_gguf_open(&g, argv[1]) != MAST_OK || mast_llama_load(&m, g) != MAST_OK ||
        mast_pool_create(&pool, threads) != MAST_OK) {
        fprintf(stderr, "bench_generate: %s\n", mast_errmsg());
        return 1;
    }
    const mast_llama_info *in = mast_llama_info_of(m);
    mast_llama_ctx *c;
    if (mast_llama_ctx_new(m, n_prompt + n_gen + 8, kv, &c) != MAST_OK) {
        fprintf(stderr, "bench_generate: %s\n", mast_errmsg());
        return 1;
    }
    int32_t *prompt = malloc((size_t)n_prompt * sizeof *prompt);
    float *logits = malloc((size_t)in->n_vocab * sizeof *logits);
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < n_prompt; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        prompt[i] = (int32_t)(x % (uint64_t)in->n_vocab);
    }
    double best_fast = 1e30;   /* the prompt with --fast-prompt's kernel */
    mast_llama_ctx_set_fast_prompt(c, true);
    for (int run = 0; run < 3; run++) {
        mast_llama_ctx_truncate(c, 0);
        double t0 = roofline_now_s();
        if (mast_llama_decode(c, pool, prompt, n_prompt, false, logits) != MAST_OK)
            return 1;
        double dt = roofline_now_s() - t0;
        best_fast = dt < best_fast ? dt : best_fast;
    }
    mast_llama_ctx_set_fast_prompt(c, false);
    double best_pp = 1e30, best_tg = 1e30, best_tg0 = 1e30;
    for (int run = 0; run < 3; run++) {   /* generation from an empty context */
        mast_llama_ctx_truncate(c, 0);
        int32_t tok = prompt[0];
        double t0 = roofline_now_s();
        for (int i = 0; i < n_gen; i++) {
            if (mast_llama_decode(c, pool, &tok, 1, false, logits) != MAST_OK) {
                fprintf(stderr, "bench_generate: %s\n", mast_errmsg());
                return 1;
            }
            tok = argmax(logits, in->n_vocab);
        }
        double dt = roofline_now_s() - t0;
        best_tg0 = dt < best_tg0 ? dt : best_tg0;
    }
    for (int run = 0; run < 3; run++) {
        mast_llama_ctx_truncate(c, 0);
        double t0 = roofline_now_s();
        if (mast_llama_decode(c, pool, prompt, n_prompt, false, logits) != MAST_OK) {
            fprintf(stderr, "bench_generate: %s\n", mast_errmsg());
            return 1;
        }
        double t1 = roofline_now_s();
        for (int i = 0; i < n_gen; i++) {
            int32_t tok = argmax(logits, in->n_vocab);
            if (mast_llama_decode(c, pool, &tok, 1, false, logits) != MAST_OK) {
                fprintf(stderr, "bench_generate: %s\n", mast_errmsg());
                return 1;
            }
        }
        double t2 = roofline_now_s();
        best_pp = t1 - t0 < best_pp ? t1 - t0 : best_pp;
        best_tg = t2 - t1 < best_tg ? t2 - t1 : best_tg;
    }
    double bw = read_bandwidth(pool, (size_t)32 << 20);   /* 3 x 128 MiB */
    double tg = n_gen / best_tg0, roof = bw * 1e9 / (double)in->weight_bytes;
    printf("{\"model\": \"%s\", \"threads\": %d, \"prompt_tokens\": %d, \"gen_tokens\": %d, "
           "\"pp_tokens_per_s\": %.1f, \"pp_fast_tokens_per_s\": %.1f, \"tg_tokens_per_s\": %.2f, "
           "\"tg_after_prompt_tokens_per_s\": %.2f, \"weight_bytes_per_token\": %llu, "
           "\"read_bandwidth_gb_s\": %.1f, \"roofline_tokens_per_s\": %.2f, \"of_roofline\": %.3f, "
           "\"kv_type\": \"%s\", \"after_over_empty\": %.3f}\n",
           argv[1], threads, n_prompt, n_gen, n_prompt / best_pp, n_prompt / best_fast, tg,
           n_gen / best_tg, (unsigned long long)in->weight_bytes, bw, roof, tg / roof, kv_name,
           (n_gen / best_tg) / tg);
    free(prompt);
    free(logits);
    mast_llama_ctx_free(c);
    mast_llama_free(m);
    mast_pool_free(pool);
    mast_gguf_close(g);
    return 0;
}
