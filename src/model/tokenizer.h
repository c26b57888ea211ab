/*
** model/tokenizer.h — text <-> token ids, token for token as llama.cpp.
**
** The algorithm comes from tokenizer.ggml.model:
**   "llama"  SentencePiece-style BPE over piece scores, with byte fallback
**            (<0xNN>) and the leading-space rule (tok_spm.c);
**   "gpt2"   byte-level BPE over merge ranks, after the pre-tokenizer
**            regexes named by tokenizer.ggml.pre (tok_bpe.c, PCRE2);
**   "bert"   WordPiece: NFD, accents stripped, lower-cased, split on white
**            space, punctuation and CJK, greedy longest match (tok_wpm.c).
** Special tokens: user-defined tokens are always matched in the text first;
** control tokens (such as <s>) only when parse_special is set. BOS/EOS (or
** [CLS]/[SEP]) are added when add_special is set and the metadata says so
** (tokenizer.ggml.add_bos_token / add_eos_token, else the per-type default).
**
** A tokenizer is immutable after loading and may be used by many threads.
*/
#ifndef MAST_MODEL_TOKENIZER_H
#define MAST_MODEL_TOKENIZER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/strmap.h"
#include "model/gguf.h"

typedef enum { MAST_TOK_SPM, MAST_TOK_BPE, MAST_TOK_WPM } mast_tok_kind;

/* GGUF token types */
enum {
    MAST_TOKEN_NORMAL = 1,
    MAST_TOKEN_UNKNOWN = 2,
    MAST_TOKEN_CONTROL = 3,
    MAST_TOKEN_USER_DEFINED = 4,
    MAST_TOKEN_UNUSED = 5,
    MAST_TOKEN_BYTE = 6,
};

typedef struct mast_tokens {
    int32_t *ids;
    size_t n, cap;
} mast_tokens;

typedef struct mast_tokenizer mast_tokenizer;

/* Loads the tokenizer of a GGUF file (the vocabulary is copied: the file
** may be closed afterwards). Free with mast_tokenizer_free. */
mast_status mast_tokenizer_load(mast_tokenizer **out, const mast_gguf *g);
void mast_tokenizer_free(mast_tokenizer *t);

/* Appends the ids of text[0..len) to out. */
mast_status mast_tokenize(const mast_tokenizer *t, const char *text, size_t len, bool add_special,
                          bool parse_special, mast_tokens *out);
void mast_tokens_free(mast_tokens *tokens);

/* Appends the text of one token: byte tokens become their byte, "▁" becomes
** a space (SPM, WordPiece), byte-level characters become bytes (BPE).
** Control tokens give "" unless `special`. */
mast_status mast_token_to_piece(const mast_tokenizer *t, int32_t id, bool special, mast_buf *out);

/* The text of a sequence: pieces concatenated; for SPM the leading space of
** the first piece is dropped (as llama_detokenize does); for WordPiece,
** continuation pieces join the previous one. */
mast_status mast_detokenize(const mast_tokenizer *t, const int32_t *ids, size_t n, bool special,
                            mast_buf *out);

/* Accessors. */
mast_tok_kind mast_tokenizer_kind(const mast_tokenizer *t);
size_t mast_tokenizer_n_vocab(const mast_tokenizer *t);
int32_t mast_tokenizer_bos(const mast_tokenizer *t);   /* -1 if none */
int32_t mast_tokenizer_eos(const mast_tokenizer *t);
/* Whether mast_tokenize with add_special puts a BOS first. */
bool mast_tokenizer_adds_bos(const mast_tokenizer *t);
/* Ends a generation: EOS, EOT, or a control token that ends a chat turn
** ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", ...). */
bool mast_tokenizer_is_eog(const mast_tokenizer *t, int32_t id);
/* The vocabulary text of a token (not NUL-terminated), or NULL. */
/* The bytes token id adds to generated text (mast_token_to_piece without
** special tokens: "" for control tokens), from a table built at load. */
const char *mast_tokenizer_piece(const mast_tokenizer *t, int32_t id, size_t *len);
/* The vocabulary in the byte order of its pieces, for walks that share the
** work of common prefixes (the grammar's vocabulary mask): the ids of every
** token with a non-empty piece that does not end a generation, each one's
** common prefix with the one before, where each first byte's run starts, and
** the end-of-generation ids apart. Built on first use; NULL when out of
** memory. */
typedef struct mast_sorted_vocab {
    int32_t *ids;
    uint32_t *lcp;
    size_t n;
    uint32_t first[257];       /* ids[first[b] .. first[b + 1]) begin with byte b */
    int32_t *eog;
    size_t n_eog;
} mast_sorted_vocab;
const mast_sorted_vocab *mast_tokenizer_sorted(const mast_tokenizer *t);
const char *mast_tokenizer_text(const mast_tokenizer *t, int32_t id, size_t *len);

#endif
