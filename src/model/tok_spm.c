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

typedef struct symbol {
    int prev, next;
    size_t off, n;   /* n = 0: merged away */
} symbol;

typedef struct bigram {
    int left, right;
    float score;
    size_t size;
} bigram;

typedef struct heap {
    bigram *items;
    size_t n, cap;
} heap;

/* a comes out before b: higher score, then smaller left index */
static int before(const bigram *a, const bigram *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int heap_push(heap *h, bigram b)
{
    if (!mast_grow_array((void **)&h->items, &h->cap, h->n + 1, sizeof *h->items))
        return 0;
    size_t i = h->n++;
    h->items[i] = b;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&h->items[i], &h->items[p]))
            break;
        bigram t = h->items[i];
        h->items[i] = h->items[p];
        h->items[p] = t;
        i = p;
    }
    return 1;
}

static bigram heap_pop(heap *h)
{
    bigram top = h->items[0];
    h->items[0] = h->items[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && before(&h->items[l], &h->items[m]))
            m = l;
        if (r < h->n && before(&h->items[r], &h->items[m]))
            m = r;
        if (m == i)
            break;
        bigram t = h->items[i];
        h->items[i] = h->items[m];
        h->items[m] = t;
        i = m;
    }
    return top;
}

static size_t utf8_len(unsigned char c)
{
    static const size_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[c >> 4];
}

static int try_bigram(const mast_tokenizer *t, const char *text, const symbol *sym, int left,
                      int right, heap *h)
{
    if (left < 0 || right < 0)
        return 1;
    size_t n = sym[left].n + sym[right].n;
    int32_t id = tok_find(t, text + sym[left].off, n);
    if (id < 0)
        return 1;
    return heap_push(h, (bigram){left, right, t->scores[id], n});
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
    symbol *sym = malloc((len + 1) * sizeof *sym);
    heap h = {0};
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
        sym[n_sym] = (symbol){n_sym - 1, off + n < len ? n_sym + 1 : -1, off, n};
        n_sym++;
        off += n;
    }
    mast_status st = MAST_OK;
    for (int i = 1; i < n_sym && st == MAST_OK; i++)
        if (!try_bigram(t, text, sym, i - 1, i, &h))
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    while (st == MAST_OK && h.n) {
        bigram b = heap_pop(&h);
        symbol *l = &sym[b.left], *r = &sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;   /* stale: one side was merged since */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = b.left;
        if (!try_bigram(t, text, sym, l->prev, b.left, &h) ||
            !try_bigram(t, text, sym, b.left, l->next, &h))
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
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
