/*
** model/tokenizer_impl.h — the tokenizer's internals, shared by the
** algorithm files (tok_spm.c, tok_bpe.c, tok_wpm.c). Not a public header.
*/
#ifndef MAST_MODEL_TOKENIZER_IMPL_H
#define MAST_MODEL_TOKENIZER_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "model/tokenizer.h"

#define MAX_PRE_REGEX 8
#define STRIP_LEFT 1     /* a matched special token eats the white space before it */
#define STRIP_RIGHT 2    /* ... and after it */

struct mast_tokenizer {
    mast_tok_kind kind;
    size_t n_vocab;
    char *blob;                /* all token texts */
    uint32_t *off, *len;
    float *scores;
    int32_t *types;
    uint8_t *strip;            /* per token: STRIP_LEFT | STRIP_RIGHT */
    mast_strmap by_text;       /* token text -> id */
    mast_strmap merges;        /* "left right" -> rank (BPE) */
    int32_t bos, eos, unk, sep, pad, cls;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;
    int32_t byte_token[256];   /* SPM <0xNN> / BPE single byte-level char; -1 = none */
    int32_t *specials;         /* user-defined/control/unknown, longest first */
    size_t n_specials;
    pcre2_code *regex[MAX_PRE_REGEX];
    size_t n_regex;
    size_t max_token_len;
};

static inline const char *tok_text(const mast_tokenizer *t, int32_t id)
{
    return t->blob + t->off[id];
}

static inline int32_t tok_find(const mast_tokenizer *t, const char *s, size_t n)
{
    return mast_strmap_get(&t->by_text, s, n);
}

mast_status mast_tokens_push(mast_tokens *out, int32_t id);

/* One raw-text fragment, tokenized by the algorithm. */
mast_status mast_spm_encode(const mast_tokenizer *t, const char *text, size_t len,
                            mast_tokens *out);
mast_status mast_bpe_encode(const mast_tokenizer *t, const char *text, size_t len,
                            mast_tokens *out);
mast_status mast_wpm_encode(const mast_tokenizer *t, const char *text, size_t len,
                            mast_tokens *out);

/* BPE setup: compiles the pre-tokenizer regexes for tokenizer.ggml.pre. */
mast_status mast_bpe_init(mast_tokenizer *t, const char *pre, size_t pre_len, const char *path);

/* GPT-2 byte <-> code point mapping of byte-level BPE. */
uint32_t mast_bpe_byte_to_cp(uint8_t byte);
int mast_bpe_cp_to_byte(uint32_t cp);   /* -1 if cp is not a byte-level char */

#endif
