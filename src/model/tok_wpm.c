/*
** model/tok_wpm.c — WordPiece (BERT) tokenization.
**
** Normalization (BERT's basic tokenizer, uncased): NFD; drop NUL, U+FFFD,
** control characters and combining marks (accent stripping); lower-case; a
** white-space character ends a word; punctuation, ASCII symbols and CJK
** ideographs are words of their own. Each word is prefixed with "▁" (the
** way llama.cpp's converter stores word-initial pieces) and split greedily
** into the longest vocabulary pieces; a word with a part that matches
** nothing becomes the unknown token.
*/
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/status.h"
#include "base/utf8.h"
#include "model/tokenizer_impl.h"

static int is_whitespace(int32_t cp)
{
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' ||
        cp == 0x85)
        return 1;
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

static int is_chinese(int32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||   /* sic: HF's */
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

static int is_punct(int32_t cp)
{
    utf8proc_category_t c = utf8proc_category(cp);
    if (c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO)
        return 1;
    /* ASCII symbols ($ + < = > ^ ` | ~) count as punctuation, as in BERT */
    return cp < 0x7F && c >= UTF8PROC_CATEGORY_SM && c <= UTF8PROC_CATEGORY_SO;
}

static int is_control_or_mark(int32_t cp)
{
    utf8proc_category_t c = utf8proc_category(cp);
    /* Cc Cf Cs Co and the marks; unassigned code points (Cn) are kept, as llama.cpp does */
    return (c >= UTF8PROC_CATEGORY_CC && c <= UTF8PROC_CATEGORY_CO) ||
           (c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME);
}

/* Greedy longest-match of one word (with its "▁" prefix). */
static mast_status encode_word(const mast_tokenizer *t, const char *w, size_t n, mast_tokens *out)
{
    size_t start = out->n;
    for (size_t i = 0; i < n;) {
        size_t j = i + t->max_token_len < n ? i + t->max_token_len : n;
        int32_t id = -1;
        for (; j > i; j--)
            if ((id = tok_find(t, w + i, j - i)) >= 0)
                break;
        if (id < 0) {
            out->n = start;   /* discard the partial word */
            break;
        }
        MAST_TRY(mast_tokens_push(out, id));
        i = j;
    }
    if (out->n == start && t->unk >= 0)
        MAST_TRY(mast_tokens_push(out, t->unk));
    return MAST_OK;
}

mast_status mast_wpm_encode(const mast_tokenizer *t, const char *text, size_t len,
                            mast_tokens *out)
{
    utf8proc_int32_t *cps = malloc((len + 1) * 4 * sizeof *cps);
    if (!cps)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    /* decode (invalid bytes become U+FFFD, which is dropped) and NFD */
    size_t n_cps = 0;
    for (size_t i = 0; i < len;) {
        int32_t cp;
        i += mast_utf8_decode(text + i, len - i, &cp);
        utf8proc_int32_t buf[32];
        int last;
        utf8proc_ssize_t k = cp < 0 ? 0
                                    : utf8proc_decompose_char(cp, buf, 32, UTF8PROC_DECOMPOSE,
                                                              &last);
        /* llama.cpp's "NFD" keeps one code point: the first of the canonical
        ** decomposition (é -> e; a Hangul syllable -> its leading consonant) */
        if (k > 0)
            cps[n_cps++] = buf[0];
    }
    /* canonical ordering of marks does not matter: they are all dropped */
    mast_buf word = {0};
    mast_status st = mast_buf_puts(&word, "\xe2\x96\x81");
    size_t prefix = word.len;
    for (size_t i = 0; i <= n_cps && st == MAST_OK; i++) {
        int32_t cp = i < n_cps ? cps[i] : ' ';
        if (is_whitespace(cp)) {
            if (word.len > prefix)
                st = encode_word(t, word.data, word.len, out);
            word.len = prefix;
            continue;
        }
        if (cp == 0 || cp == 0xFFFD || is_control_or_mark(cp))
            continue;
        utf8proc_uint8_t enc[4];
        utf8proc_ssize_t k = utf8proc_encode_char(utf8proc_tolower(cp), enc);
        if (is_punct(cp) || is_chinese(cp)) {
            if (word.len > prefix)
                st = encode_word(t, word.data, word.len, out);
            word.len = prefix;
            if (st == MAST_OK)
                st = mast_buf_append(&word, enc, (size_t)k);
            if (st == MAST_OK)
                st = encode_word(t, word.data, word.len, out);
            word.len = prefix;
        } else {
            st = mast_buf_append(&word, enc, (size_t)k);
        }
    }
    mast_buf_free(&word);
    free(cps);
    return st;
}
