/*
** model/quantize.h — converting a GGUF model to another weight type.
**
** Targets: q8_0, q4_0, q6_k, f16 (every 2-D weight), and q4_k_m, the mix of
** llama.cpp's Q4_K_M: Q4_K everywhere except Q6_K for output.weight and for
** attn_v / ffn_down in the layers where llama.cpp's use_more_bits() says so
** (the first and last eighth of the layers and every third one between:
** about half). 1-D tensors (norms, biases) stay as they are, and so do BERT's
** position_embd and token_types (llama.cpp adds them to activations as is). A row length
** that does not fit the type's block falls back as llama.cpp does: Q4_K ->
** Q5_0, Q6_K -> Q8_0, and to F16 when not even a 32-block fits.
*/
#ifndef MAST_MODEL_QUANTIZE_H
#define MAST_MODEL_QUANTIZE_H

#include "base/pool.h"
#include "model/gguf.h"

typedef struct mast_quantize_stats {
    size_t n_quantized, n_kept;
    size_t bytes_in, bytes_out;
} mast_quantize_stats;

/* Writes `out` (atomically) as `in` with its weights converted to `target`
** ("q8_0", "q4_0", "q4_k_m", "q6_k", "f16"). pool and stats may be NULL. */
mast_status mast_quantize_model(const mast_gguf *in, const char *out, const char *target,
                                mast_pool *pool, mast_quantize_stats *stats);

#endif
