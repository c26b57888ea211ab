/*
** model/tok_spm.c — SentencePiece-style tokenization over piece scores.
**
** Spaces become "▁" (U+2581); the text is split into UTF-8 characters; then,
** repeatedly, the adjacent pair whose concatenation is a vocabulary piece
** with the highest score (ties: the leftmost) is merged. Every merged symbol
** is a piece by construction; a remaining single character that is not a
** piece falls back to its bytes (<0xNN> tokens), else to the unknown token.
** This is llama.cpp's llm_tokenizer_spm, whose reverse-merge resegmentation
** never applies for that reason.
*/
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "model/tokenizer_impl.h"

static size_t utf8_len(unsigned char c)
{
    static const size_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[c >> 4];
}

typedef struct spm_ctx {
    const mast_tokenizer *t;
    const char *text;
} spm_ctx;

/* a pair may merge when its text is a piece; the best piece has the highest score */
static int spm_key(void *ctx, const mast_tok_symbol *sym, int left, int right, double *key)
{
    const spm_ctx *c = ctx;
    int32_t id = tok_find(c->t, c->text + sym[left].off, sym[left].n + sym[right].n);
    if (id < 0)
        return 0;
    *key = -(double)c->t->scores[id];
    return 1;
}

mast_status mast_spm_encode(const mast_tokenizer *t, const char *raw, size_t raw_len,
                            mast_tokens *out)
{
    /* escape spaces */
    size_t n_spaces = 0;
    for (size_t i = 0; i < raw_len; i++)
        n_spaces += raw[i] == ' ';
    size_t len = raw_len + 2 * n_spaces;
    char *text = malloc(len + 1);
    mast_tok_symbol *sym = malloc((len + 1) * sizeof *sym);
    mast_tok_heap h = {0};
    if (!text || !sym) {
        free(text);
        free(sym);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    size_t p = 0;
    for (size_t i = 0; i < raw_len; i++) {
        if (raw[i] == ' ') {
            memcpy(text + p, "\xe2\x96\x81", 3);
            p += 3;
        } else {
            text[p++] = raw[i];
        }
    }
    int n_sym = 0;
    for (size_t off = 0; off < len;) {
        size_t n = utf8_len((unsigned char)text[off]);
        if (n > len - off)
            n = len - off;
        sym[n_sym] = (mast_tok_symbol){n_sym - 1, off + n < len ? n_sym + 1 : -1, off, n};
        n_sym++;
        off += n;
    }
    spm_ctx ctx = {t, text};
    mast_status st = mast_tok_merge_all(sym, n_sym, spm_key, &ctx, &h);
    for (int i = 0; st == MAST_OK && i != -1 && n_sym > 0; i = sym[i].next) {
        int32_t id = tok_find(t, text + sym[i].off, sym[i].n);
        if (id >= 0) {
            st = mast_tokens_push(out, id);
            continue;
        }
        for (size_t j = 0; j < sym[i].n && st == MAST_OK; j++) {
            unsigned char byte = (unsigned char)text[sym[i].off + j];
            int32_t b = t->byte_token[byte];
            if (b < 0)
                b = tok_find(t, (const char *)&byte, 1);
            if (b < 0)
                b = t->unk;
            if (b >= 0)
                st = mast_tokens_push(out, b);
        }
    }
    free(h.items);
    free(sym);
    free(text);
    return st;
}
