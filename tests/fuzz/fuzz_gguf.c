/*
** tests/fuzz/fuzz_gguf.c — libFuzzer target: arbitrary bytes as a GGUF file.
**
** Parses the input; when it parses and carries a tokenizer, loads it and
** tokenizes a fixed text with and without special tokens, then decodes; when
** it loads as a Llama-family model, runs two tokens through a small one.
** Built only with clang (-DMAST_FUZZ=ON); see tests/fuzz/run.sh.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "model/llama.h"
#include "model/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mast_gguf *g;
    if (mast_gguf_parse(&g, data, size, "fuzz.gguf") != MAST_OK)
        return 0;
    for (size_t i = 0; i < g->n_tensors; i++) {
        volatile uint8_t sink = 0;
        const mast_tensor_info *t = &g->tensors[i];
        if (t->nbytes)   /* touch the first and last byte: both must be in bounds */
            sink ^= ((const uint8_t *)t->data)[0] ^ ((const uint8_t *)t->data)[t->nbytes - 1];
        (void)sink;
    }
    mast_tokenizer *t;
    if (mast_tokenizer_load(&t, g) == MAST_OK) {
        static const char text[] = "Hello <s> world! 123 caf\xc3\xa9 \xe2\x96\x81 \xf0\x9f\xa6\x99\n";
        for (int special = 0; special < 2; special++) {
            mast_tokens ids = {0};
            if (mast_tokenize(t, text, sizeof text - 1, special, special, &ids) == MAST_OK) {
                mast_buf out = {0};
                mast_detokenize(t, ids.ids, ids.n, special, &out);
                mast_buf_free(&out);
            }
            mast_tokens_free(&ids);
        }
        mast_tokenizer_free(t);
    }
    /* a decoder model: load it (every key and tensor validated) and, when
    ** small, run two tokens through it */
    mast_llama *m;
    if (mast_llama_load(&m, g) == MAST_OK) {
        const mast_llama_info *in = mast_llama_info_of(m);
        mast_llama_ctx *c;
        if (in->weight_bytes < ((uint64_t)16 << 20) && in->n_embd <= 4096 && in->n_vocab <= (1 << 17) &&
            mast_llama_ctx_new(m, 8, MAST_F32, &c) == MAST_OK) {
            int32_t toks[2] = {0, in->n_vocab - 1};
            float *logits = malloc((size_t)in->n_vocab * sizeof *logits);
            if (logits)
                mast_llama_decode(c, NULL, toks, 2, false, logits);
            free(logits);
            mast_llama_ctx_free(c);
        }
        mast_llama_free(m);
    }
    mast_gguf_close(g);
    return 0;
}
