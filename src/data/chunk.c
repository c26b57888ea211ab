/*
** data/chunk.c — structure-aware chunking (see chunk.h).
*/
#include "data/chunk.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/status.h"
#include "base/utf8.h"

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_cjk(int32_t cp)
{
    return (cp >= 0x2E80 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x2FFFF);
}

size_t mast_estimate_tokens(void *ctx, const char *text, size_t len)
{
    (void)ctx;
    size_t words = 0, i = 0;
    int in_word = 0;
    while (i < len) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x80) {
            if (is_space(c))
                in_word = 0;
            else if (!in_word) {
                in_word = 1;
                words++;
            }
            i++;
            continue;
        }
        int32_t cp;
        size_t n = mast_utf8_decode(text + i, len - i, &cp);
        if (is_cjk(cp)) {
            words++;
            in_word = 0;
        } else if (!in_word) {
            in_word = 1;
            words++;
        }
        i += n;
    }
    return (words * 4 + 2) / 3;
}

/* ---- sentences ---- */

static const char *const abbreviations[] = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e",
    "fig", "no", "cf", "al", "a.m", "p.m", "approx", "inc", "ltd", "co", "eq", "vol", "pp",
};

static int ends_with_abbreviation(const char *text, size_t dot)
{
    size_t start = dot;
    while (start > 0 && !is_space((unsigned char)text[start - 1]) && text[start - 1] != '(')
        start--;
    size_t n = dot - start;
    if (n == 1 && isupper((unsigned char)text[start]))
        return 1;   /* an initial: "J. Smith" */
    for (size_t i = 0; i < sizeof abbreviations / sizeof *abbreviations; i++)
        if (strlen(abbreviations[i]) == n && strncasecmp(text + start, abbreviations[i], n) == 0)
            return 1;
    return 0;
}

size_t mast_sentence_end(const char *text, size_t len, size_t pos)
{
    size_t i = pos;
    while (i < len) {
        unsigned char c = (unsigned char)text[i];
        size_t after = 0;
        if (c == '.' || c == '!' || c == '?') {
            after = i + 1;
        } else if (c >= 0x80) {
            int32_t cp;
            size_t n = mast_utf8_decode(text + i, len - i, &cp);
            if (cp == 0x3002 || cp == 0xFF01 || cp == 0xFF1F) {   /* 。！？ end without a space */
                size_t e = i + n;
                return e;
            }
            i += n;
            continue;
        } else {
            i++;
            continue;
        }
        /* closing quotes and brackets stay with the sentence */
        while (after < len && (text[after] == '"' || text[after] == '\'' || text[after] == ')' ||
                               text[after] == ']'))
            after++;
        if (after >= len)
            return len;
        if (is_space((unsigned char)text[after]) && !(c == '.' && ends_with_abbreviation(text, i)))
            return after;
        i = after;
    }
    return len;
}

/* ---- packing ---- */

typedef struct unit {
    const char *text;
    size_t len;
    int tokens;
    int code;
    size_t block;         /* index of the block it comes from */
    const char *heading;
} unit;

typedef struct unit_list {
    unit *items;
    size_t n, cap;
} unit_list;

static mast_status push_unit(unit_list *l, unit u)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        unit *p = realloc(l->items, cap * sizeof *p);
        if (!p)
            return mast_fail(MAST_ERR_NOMEM, "out of memory while chunking");
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n++] = u;
    return MAST_OK;
}

static void trim(const char **text, size_t *len)
{
    while (*len && is_space((unsigned char)**text)) {
        (*text)++;
        (*len)--;
    }
    while (*len && is_space((unsigned char)(*text)[*len - 1]))
        (*len)--;
}

typedef struct ctx {
    const mast_chunk_opts *opts;
    int budget;
    size_t block;         /* the block being split */
    unit_list units;
} ctx;

static int count(ctx *c, const char *text, size_t len)
{
    size_t n = c->opts->count ? c->opts->count(c->opts->count_ctx, text, len)
                              : mast_estimate_tokens(NULL, text, len);
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

/* The end of the last whole word in rest[0..w), trailing spaces excluded;
** 0 when rest[0..w) holds no word boundary (w inside the first word). */
static size_t word_cut(const char *rest, size_t rest_len, size_t w)
{
    size_t e = w;
    if (e < rest_len && !is_space((unsigned char)rest[e])) {
        while (e > 0 && !is_space((unsigned char)rest[e - 1]))
            e--;
        if (e == 0)
            return 0;
    }
    while (e > 0 && is_space((unsigned char)rest[e - 1]))
        e--;
    return e;
}

/* Splits a run with no sentence boundary (or a giant word) into pieces of at
** most `budget` tokens: at word boundaries where there are any, else at UTF-8
** boundaries. Each piece is looked for in a window of at most PIECE_BYTES
** per budget token, so the work is linear in the run's length (counting the
** whole remainder for every piece made 4 MB lines take minutes). */
#define PIECE_BYTES 16   /* bytes per token a piece may hold at most */

static size_t piece_max_bytes(const ctx *c)
{
    size_t max_bytes = (size_t)c->budget * PIECE_BYTES;
    return max_bytes < 64 ? 64 : max_bytes;
}

/* A unit is kept whole when it is within the budget in tokens and in bytes
** (a 4 MB base64 blob is one "word" to the estimator). */
static int fits(const ctx *c, const unit *u)
{
    return u->tokens <= c->budget && u->len <= piece_max_bytes(c);
}

static mast_status split_long(ctx *c, unit u)
{
    size_t max_bytes = piece_max_bytes(c);
    size_t pos = 0;
    while (pos < u.len) {
        const char *rest = u.text + pos;
        size_t rest_len = u.len - pos;
        trim(&rest, &rest_len);
        if (!rest_len)
            break;
        pos = (size_t)(rest - u.text);
        size_t w = rest_len;
        if (w > max_bytes) {
            w = mast_utf8_truncate(rest, rest_len, max_bytes);
            size_t e = word_cut(rest, rest_len, w);
            if (e)
                w = e;
        }
        int tokens = count(c, rest, w);
        while (tokens > c->budget) {
            size_t one = mast_utf8_truncate(rest, w, 4);   /* a single character */
            if (w <= one)
                break;
            size_t target = (size_t)((double)w * c->budget / tokens * 0.95);
            size_t cut = mast_utf8_truncate(rest, w, target ? target : 1);
            size_t e = word_cut(rest, w, cut);
            size_t next = e ? e : cut;
            if (next == 0)
                next = one;
            if (next >= w)   /* always shrink */
                next = mast_utf8_truncate(rest, w, w - 1);
            w = next ? next : one;
            tokens = count(c, rest, w);
        }
        unit piece = u;
        piece.text = rest;
        piece.len = w;
        piece.tokens = tokens;
        MAST_TRY(push_unit(&c->units, piece));
        pos += w;
    }
    return MAST_OK;
}

static mast_status add_paragraph(ctx *c, const char *text, size_t len, const char *heading)
{
    trim(&text, &len);
    if (!len)
        return MAST_OK;
    unit u = {text, len, count(c, text, len), 0, c->block, heading};
    if (fits(c, &u))
        return push_unit(&c->units, u);
    size_t pos = 0;
    while (pos < len) {
        while (pos < len && is_space((unsigned char)text[pos]))
            pos++;
        if (pos >= len)
            break;
        size_t end = mast_sentence_end(text, len, pos);
        const char *s = text + pos;
        size_t s_len = end - pos;
        trim(&s, &s_len);
        if (s_len) {
            unit su = {s, s_len, count(c, s, s_len), 0, c->block, heading};
            MAST_TRY(fits(c, &su) ? push_unit(&c->units, su) : split_long(c, su));
        }
        pos = end;
    }
    return MAST_OK;
}

static int same_heading(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static mast_status emit(mast_chunk **out, size_t *n_out, size_t *cap, const mast_block *blocks,
                        const unit *units, size_t begin, size_t end)
{
    mast_buf b = {0};
    int tokens = 0, page_start = 0, page_end = 0;
    for (size_t i = begin; i < end; i++) {
        int page = blocks[units[i].block].page;
        if (page > 0 && (page_start == 0 || page < page_start))
            page_start = page;
        page_end = page > page_end ? page : page_end;
        const unit *prev = &units[i - (i > begin)];
        if (i > begin && prev->block == units[i].block && units[i].text >= prev->text + prev->len)
            /* pieces of one block: the source's own text between them (spaces, or none
            ** between CJK sentences), so a chunk is a slice of its source */
            MAST_TRY(mast_buf_append(&b, prev->text + prev->len,
                                     (size_t)(units[i].text - (prev->text + prev->len))));
        else if (i > begin)
            MAST_TRY(mast_buf_puts(&b, "\n\n"));
        MAST_TRY(mast_buf_append(&b, units[i].text, units[i].len));
        tokens += units[i].tokens;
    }
    if (*n_out == *cap) {
        size_t new_cap = *cap ? *cap * 2 : 16;
        mast_chunk *p = realloc(*out, new_cap * sizeof *p);
        if (!p) {
            mast_buf_free(&b);
            return mast_fail(MAST_ERR_NOMEM, "out of memory while chunking");
        }
        *out = p;
        *cap = new_cap;
    }
    mast_chunk *ch = &(*out)[(*n_out)++];
    ch->text = mast_buf_detach(&b);
    ch->heading = strdup(units[begin].heading ? units[begin].heading : "");
    ch->n_tokens = tokens;
    ch->page_start = page_start;
    ch->page_end = page_end;
    if (!ch->text || !ch->heading)
        return mast_fail(MAST_ERR_NOMEM, "out of memory while chunking");
    return MAST_OK;
}

mast_status mast_chunk_blocks(const mast_block *blocks, size_t n_blocks,
                              const mast_chunk_opts *opts, mast_chunk **out, size_t *n_out)
{
    static const mast_chunk_opts defaults = {0};
    ctx c = {.opts = opts ? opts : &defaults};
    c.budget = c.opts->chunk_tokens > 0 ? c.opts->chunk_tokens : MAST_DEFAULT_CHUNK_TOKENS;
    int overlap = c.opts->overlap_tokens > 0 ? c.opts->overlap_tokens : 0;
    if (overlap >= c.budget)
        overlap = c.budget / 2;
    *out = NULL;
    *n_out = 0;

    mast_status st = MAST_OK;
    for (size_t i = 0; i < n_blocks && st == MAST_OK; i++) {
        const mast_block *b = &blocks[i];
        if (b->kind == MAST_BLOCK_CODE) {
            const char *t = b->text;
            size_t len = b->len;
            /* keep the fence's own lines; only drop blank lines around it */
            while (len && (t[len - 1] == '\n' || t[len - 1] == '\r'))
                len--;
            while (len && (*t == '\n' || *t == '\r')) {
                t++;
                len--;
            }
            if (len)
                st = push_unit(&c.units, (unit){t, len, count(&c, t, len), 1, i, b->heading});
        } else {
            c.block = i;
            st = add_paragraph(&c, b->text, b->len, b->heading);
        }
    }

    size_t cap = 0, begin = 0, i = 0, bytes = 0, max_bytes = piece_max_bytes(&c);
    int tokens = 0;
    unit *u = c.units.items;
    while (st == MAST_OK && i < c.units.n) {
        int fits = tokens + u[i].tokens <= c.budget && bytes + u[i].len <= max_bytes;
        int same = begin == i || same_heading(u[begin].heading, u[i].heading);
        if (begin < i && (!fits || !same)) {
            st = emit(out, n_out, &cap, blocks, u, begin, i);
            /* start the next chunk with the tail of this one, if asked and it fits */
            size_t next = i;
            int carried = 0;
            size_t carried_bytes = 0;
            if (overlap && same) {
                while (next > begin + 1 && !u[next - 1].code &&
                       carried + u[next - 1].tokens <= overlap &&
                       carried + u[next - 1].tokens + u[i].tokens <= c.budget &&
                       carried_bytes + u[next - 1].len + u[i].len <= max_bytes) {
                    carried += u[next - 1].tokens;
                    carried_bytes += u[next - 1].len;
                    next--;
                }
            }
            begin = next;
            tokens = carried;
            bytes = carried_bytes;
            continue;
        }
        tokens += u[i].tokens;
        bytes += u[i].len;
        i++;
    }
    if (st == MAST_OK && begin < c.units.n)
        st = emit(out, n_out, &cap, blocks, u, begin, c.units.n);
    free(c.units.items);
    if (st != MAST_OK) {
        mast_chunks_free(*out, *n_out);
        *out = NULL;
        *n_out = 0;
    }
    return st;
}

void mast_chunks_free(mast_chunk *chunks, size_t n)
{
    if (!chunks)
        return;
    for (size_t i = 0; i < n; i++) {
        free(chunks[i].text);
        free(chunks[i].heading);
    }
    free(chunks);
}
