/*
** tests/fuzz/fuzz_gguf.c — libFuzzer target: arbitrary bytes as a GGUF file.
**
** Parses the input; when it parses and carries a tokenizer, loads it and
** tokenizes a fixed text with and without special tokens, then decodes.
** Built only with clang (-DMAST_FUZZ=ON); see tests/fuzz/run.sh.
*/
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model/gguf.h"
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
    mast_gguf_close(g);
    return 0;
}
