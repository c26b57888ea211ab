/*
** model/synth.h — random-weight models of a given architecture and shape,
** for benchmarks and tests (`mast gguf synth`).
**
** Weights are N(0, 1/fan_in) (Box-Muller on a fixed-seed xorshift), norm
** weights 1 + N(0, 0.1^2), biases N(0, 0.02^2); 2-D weights are stored in
** `type`, everything else F32. The same seed gives the same file.
** Tensor names, shapes and metadata keys are those llama.cpp expects for
** `llama` and `bert`. The tokenizer is copied from `vocab_path` when given;
** otherwise a minimal one is written: for llama, SentencePiece with the 256
** byte tokens (<0x00>..<0xFF>) after <unk> <s> </s>; for bert, WordPiece
** with [PAD] [UNK] [CLS] [SEP] [MASK] and the printable ASCII characters.
*/
#ifndef MAST_MODEL_SYNTH_H
#define MAST_MODEL_SYNTH_H

#include "model/dtype.h"
#include "mast.h"

typedef struct mast_synth_opts {
    const char *arch;        /* "llama" or "bert" */
    int n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    mast_dtype type;         /* storage of 2-D weights */
    uint64_t seed;
    const char *vocab_path;  /* NULL = minimal vocabulary */
    const char *chat_template;   /* tokenizer.chat_template's text (replacing the vocabulary's); NULL: none */
} mast_synth_opts;

/* Fills unset (zero) shape fields with small defaults. */
void mast_synth_defaults(mast_synth_opts *o);
mast_status mast_synth_write(const mast_synth_opts *o, const char *path);

#endif
