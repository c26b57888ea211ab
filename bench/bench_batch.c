/*
** bench/bench_batch.c — continuous batching in the engine: the tokens/s of
** B sequences decoded together (mast_llama_decode_seqs), each after its own
** prompt, against one sequence decoded alone.
**
**   bench_batch MODEL.gguf [THREADS] [PROMPT_TOKENS] [STEPS] [KV_TYPE] [packed|unpacked]
**
** With packed (the default, as mast serve with --parallel above 1 runs), the
** weights are packed into the batched products' tiles once (mast_llama_prepack).
** Defaults: 2 threads, 256-token prompts, 64 steps, f16. For B = 1, 2, 4, 8,
** 16, 32, 64: B contexts each decode their own random prompt (not timed),
** then STEPS steps decode one argmax token of every sequence in one pass
** (timed, best of 2). Prints one JSON object per B: aggregate tokens/s,
** milliseconds per step, and the speed-up over B = 1.
*/
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/llama.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

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
        fprintf(stderr, "usage: bench_batch MODEL.gguf [THREADS] [PROMPT_TOKENS] [STEPS] [f16|f32]\n");
        return 2;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 2, n_prompt = argc > 3 ? atoi(argv[3]) : 256,
        steps = argc > 4 ? atoi(argv[4]) : 64;
    mast_dtype kv = argc > 5 && !strcmp(argv[5], "f32") ? MAST_F32 : MAST_F16;
    bool packed = !(argc > 6 && !strcmp(argv[6], "unpacked"));
    mast_gguf *g;
    mast_llama *m;
    mast_pool *pool;
    mast_llama_batch *b;
    if (mast_gguf_open(&g, argv[1]) != MAST_OK || mast_llama_load(&m, g) != MAST_OK ||
        mast_pool_create(&pool, threads) != MAST_OK || mast_llama_batch_new(m, &b) != MAST_OK) {
        fprintf(stderr, "bench_batch: %s\n", mast_errmsg());
        return 1;
    }
    int V = mast_llama_info_of(m)->n_vocab;
    size_t packed_bytes = packed ? mast_llama_prepack(m) : 0;
    enum { MAXB = 64 };
    mast_llama_ctx *ctx[MAXB];
    float *logits = malloc((size_t)MAXB * V * sizeof *logits);
    int32_t *prompt = malloc((size_t)n_prompt * sizeof *prompt), tok[MAXB];
    for (int i = 0; i < MAXB; i++)
        if (mast_llama_ctx_new(m, n_prompt + 2 * steps + 8, kv, &ctx[i]) != MAST_OK) {
            fprintf(stderr, "bench_batch: %s\n", mast_errmsg());
            return 1;
        }
    double one = 0;
    for (int B = 1; B <= MAXB; B *= 2) {
        double best = 1e30;
        for (int run = 0; run < 2; run++) {
            for (int i = 0; i < B; i++) {
                mast_llama_ctx_truncate(ctx[i], 0);
                for (int k = 0; k < n_prompt; k++)
                    prompt[k] = (int32_t)((k * 7919 + i * 104729 + 1) % V);
                if (mast_llama_batch_decode(b, ctx[i], pool, prompt, n_prompt, false, logits) != MAST_OK) {
                    fprintf(stderr, "bench_batch: %s\n", mast_errmsg());
                    return 1;
                }
                tok[i] = argmax(logits, V);
            }
            double t0 = now();
            for (int s = 0; s < steps; s++) {
                mast_status st = B == 1 ? mast_llama_batch_decode(b, ctx[0], pool, tok, 1, false, logits)
                                        : mast_llama_decode_seqs(b, pool, ctx, tok, B, logits);
                if (st != MAST_OK) {
                    fprintf(stderr, "bench_batch: %s\n", mast_errmsg());
                    return 1;
                }
                for (int i = 0; i < B; i++)
                    tok[i] = argmax(logits + (size_t)i * V, V);
            }
            double t = now() - t0;
            best = t < best ? t : best;
        }
        double tps = (double)B * steps / best;
        if (B == 1)
            one = tps;
        printf("{\"batch\": %d, \"threads\": %d, \"prompt_tokens\": %d, \"tokens_per_s\": %.1f, "
               "\"ms_per_step\": %.2f, \"speedup\": %.2f, \"packed_mb\": %.1f}\n", B, threads, n_prompt, tps,
               best / steps * 1e3, tps / one, packed_bytes / 1e6);
        fflush(stdout);
    }
    for (int i = 0; i < MAXB; i++)
        mast_llama_ctx_free(ctx[i]);
    mast_llama_batch_free(b);
    mast_pool_free(pool);
    mast_llama_free(m);
    mast_gguf_close(g);
    free(logits);
    free(prompt);
    return 0;
}
