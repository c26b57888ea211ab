/*
** model/tokenizer_impl.h — the tokenizer's internals, shared by the
** algorithm files (tok_spm.c, tok_bpe.c, tok_wpm.c). Not a public header.
*/
#ifndef MAST_MODEL_TOKENIZER_IMPL_H
#define MAST_MODEL_TOKENIZER_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>

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
    uint8_t *eog;              /* per token: ends a generation (llama.cpp's end-of-generation set) */
    mast_strmap by_text;       /* token text -> id */
    mast_strmap merges;        /* "left right" -> rank (BPE) */
    int32_t bos, eos, unk, sep, pad, cls, eot;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;
    int32_t byte_token[256];   /* SPM <0xNN> / BPE single byte-level char; -1 = none */
    int32_t *specials;         /* user-defined/control/unknown, longest first */
    size_t n_specials;
    pcre2_code *regex[MAX_PRE_REGEX];
    size_t n_regex;
    size_t max_token_len;
    char *pieces;              /* every token's output bytes (mast_tokenizer_piece) */
    uint32_t *piece_off;       /* n_vocab + 1 offsets into pieces */
    pthread_mutex_t sorted_mu; /* guards the lazy build of: */
    mast_sorted_vocab *sorted; /* mast_tokenizer_sorted */
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

/* ---- the merge loop shared by SPM and BPE ----
** Symbols are a doubly linked list over a text (n = 0 once merged away).
** Repeatedly the adjacent pair with the lowest key (ties: the leftmost) is
** merged, and the new pairs it forms are offered; SPM's key is minus the
** merged piece's score, BPE's the merge rank. */
typedef struct mast_tok_symbol {
    int prev, next;
    size_t off, n;
} mast_tok_symbol;

typedef struct mast_tok_merge {
    int left, right;
    double key;
    size_t left_n, right_n;     /* the sides' lengths when offered: stale if changed */
} mast_tok_merge;

typedef struct mast_tok_heap {
    mast_tok_merge *items;
    size_t n, cap;
} mast_tok_heap;

/* 1 when symbols left and right may merge (sets *key), 0 when not, -1 on
** out of memory. */
typedef int (*mast_tok_key_fn)(void *ctx, const mast_tok_symbol *sym, int left, int right,
                               double *key);

/* Runs the merges over sym[0..n_sym) (linked from 0); heap is scratch space
** the caller frees. */
mast_status mast_tok_merge_all(mast_tok_symbol *sym, int n_sym, mast_tok_key_fn key, void *ctx,
                               mast_tok_heap *heap);

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
