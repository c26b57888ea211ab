/*
** bench/bench_embed.c — BERT embedding throughput on an all-MiniLM-L6-v2-
** shaped model (6 layers, hidden 384, 12 heads, FFN 1536, vocab 30522).
**
**   bench_embed MODEL.gguf      (make one with: mast gguf synth --arch bert
**       --n-embd 384 --n-layer 6 --n-head 12 --n-ff 1536 --vocab VOCAB --type T -o MODEL)
**
** Batches of 32 sequences of 128 and of 16 tokens ([CLS] … [SEP], random ids),
** 1 and 2 threads, best of 3: embeddings per second.
*/
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "model/bert.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_embed MODEL.gguf\n");
        return 2;
    }
    mast_gguf *g;
    mast_bert *m;
    if (mast_gguf_open(&g, argv[1]) != MAST_OK || mast_bert_load(&m, g) != MAST_OK) {
        fprintf(stderr, "bench_embed: %s\n", mast_errmsg());
        return 1;
    }
    enum { BATCH = 32 };
    static const size_t lengths[] = {128, 16};
    int dim = mast_bert_dim(m);
    float *out = malloc((size_t)BATCH * (size_t)dim * sizeof *out);
    uint64_t rng = 1;
    for (int l = 0; l < 2; l++) {
        size_t n = lengths[l];
        int32_t *ids = malloc((size_t)BATCH * n * sizeof *ids);
        const int32_t *seqs[BATCH];
        size_t lens[BATCH];
        for (int s = 0; s < BATCH; s++) {
            for (size_t t = 0; t < n; t++) {
                rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                ids[(size_t)s * n + t] = t == 0 ? 101 : t == n - 1 ? 102 : 1000 + (int32_t)((rng >> 33) % 29000);
            }
            seqs[s] = ids + (size_t)s * n;
            lens[s] = n;
        }
        for (int threads = 1; threads <= 2; threads++) {
            mast_pool *pool;
            mast_pool_create(&pool, threads);
            double best = 1e30;
            for (int rep = 0; rep < 3; rep++) {
                int64_t t0 = mast_mono_us();
                mast_bert_embed(m, pool, seqs, lens, BATCH, true, out, NULL, NULL);
                double dt = (double)(mast_mono_us() - t0) / 1e6;
                if (dt < best)
                    best = dt;
            }
            printf("| %zu tokens | %d | %.1f ms | %.1f |\n", n, threads, best * 1e3, BATCH / best);
            mast_pool_free(pool);
        }
        free(ids);
    }
    free(out);
    mast_bert_free(m);
    mast_gguf_close(g);
    return 0;
}
