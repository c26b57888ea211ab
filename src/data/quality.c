/*
** data/quality.c — a stored corpus's quality, document by document (see
** quality.h).
*/
#include "data/quality.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/buf.h"
#include "base/status.h"
#include "base/utf8.h"
#include "data/chunk.h"
#include "data/textindex/analyzer.h"

static int is_letter(int32_t cp)
{
    if (cp < 0x80)
        return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    utf8proc_category_t c = utf8proc_category(cp);
    return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}

static int is_digit(int32_t cp)
{
    return cp >= '0' && cp <= '9';
}

static int is_number(int32_t cp)   /* any script's digits and numerals */
{
    if (cp < 0x80)
        return is_digit(cp);
    utf8proc_category_t c = utf8proc_category(cp);
    return c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO;
}

static int is_space(int32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v' ||
           cp == 0xA0;
}

/* Punctuation that ordinary prose is full of. */
static int is_common_punct(int32_t cp)
{
    if (cp < 0x80)
        return cp && strchr(".,;:!?'\"()[]-/%&", (int)cp) != NULL;
    utf8proc_category_t c = utf8proc_category(cp);
    /* Unicode punctuation (dashes, quotes, brackets), and combining marks */
    return (c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO) ||
           (c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME);
}

static int is_vowel(int32_t cp)
{
    cp |= 0x20;
    return cp == 'a' || cp == 'e' || cp == 'i' || cp == 'o' || cp == 'u' || cp == 'y';
}

/* One word's OCR-likeness: 5+ ASCII letters and no vowel, or a digit between letters. */
typedef struct word_state {
    size_t letters, ascii_letters, vowels, len;
    int digit_after_letter, noisy;
    int32_t prev;
} word_state;

static void word_end(word_state *w, size_t *words, size_t *noisy)
{
    if (w->len) {
        (*words)++;
        *noisy += w->noisy || (w->ascii_letters >= 5 && w->ascii_letters == w->len && !w->vowels);
    }
    memset(w, 0, sizeof *w);
}

void mast_quality_text(const char *text, size_t len, mast_quality_doc *d)
{
    size_t chars = 0, visible = 0, fffd = 0, moji = 0, symbols = 0, words = 0, noisy = 0;
    word_state w = {0};
    int32_t prev = 0;
    for (size_t i = 0; i < len;) {
        int32_t cp;
        size_t n = mast_utf8_decode(text + i, len - i, &cp);
        i += n ? n : 1;
        chars++;
        if (cp == 0xFFFD || cp < 0)
            fffd++;
        /* "é" read as Windows-1252 is "Ã©"; "’" is "â€™" */
        if (((prev == 0xC3 || prev == 0xC2) && cp >= 0x80 && cp <= 0xBF) ||
            (prev == 0xE2 && cp == 0x20AC))
            moji++;
        prev = cp;
        if (is_space(cp)) {
            word_end(&w, &words, &noisy);
            continue;
        }
        visible++;
        if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
            (cp >= 0xAC00 && cp <= 0xD7AF)) {   /* CJK: each character a word, as chunk.c counts */
            word_end(&w, &words, &noisy);
            words++;
            continue;
        }
        int letter = is_letter(cp), digit = is_digit(cp);
        if (!letter && !is_number(cp) && !is_common_punct(cp) && cp != 0xFFFD)
            symbols++;
        if (letter || digit) {
            if (letter && w.digit_after_letter)
                w.noisy = 1;   /* l1ke, rn0del */
            if (digit && w.letters)
                w.digit_after_letter = 1;
            else if (letter)
                w.digit_after_letter = 0;
            w.letters += letter;
            w.ascii_letters += letter && cp < 0x80;
            w.vowels += letter && cp < 0x80 && is_vowel(cp);
            w.len++;
        } else {
            word_end(&w, &words, &noisy);   /* punctuation ends a word */
        }
    }
    word_end(&w, &words, &noisy);
    d->chars = chars;
    d->words = words;
    d->replacement = chars ? (double)fffd / chars : 0;
    d->mojibake = chars ? (double)moji / chars : 0;
    d->symbols = visible ? (double)symbols / visible : 0;
    d->ocr_words = words ? (double)noisy / words : 0;
    d->garbled_why[0] = '\0';
    const char *why = NULL;
    char buf[96];
    if (fffd && d->replacement >= 0.005) {
        snprintf(buf, sizeof buf, "U+FFFD replacement characters: %.1f%%", 100 * d->replacement);
        why = buf;
    } else if (moji >= 3 && d->mojibake >= 0.002) {
        snprintf(buf, sizeof buf, "mojibake (UTF-8 read as Windows-1252): %zu", moji);
        why = buf;
    } else if (visible >= 50 && d->symbols > 0.3) {
        snprintf(buf, sizeof buf, "symbols: %.0f%% of the characters", 100 * d->symbols);
        why = buf;
    } else if (words >= 20 && d->ocr_words > 0.1) {
        snprintf(buf, sizeof buf, "OCR-like words: %.0f%%", 100 * d->ocr_words);
        why = buf;
    }
    if (why) {
        d->flags |= MAST_QUALITY_GARBLED;
        snprintf(d->garbled_why, sizeof d->garbled_why, "%s", why);
    }
}

static char *meta_str(json_t *meta, const char *key)
{
    json_t *v = json_object_get(meta, key);
    return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static mast_status inspect(mast_store *store, const mast_doc_info *info, const mast_quality_report *r,
                           mast_quality_doc *d)
{
    memset(d, 0, sizeof *d);
    d->doc_id = info->id;
    d->uri = strdup(info->uri ? info->uri : "");
    d->title = strdup(info->title ? info->title : "");
    json_t *meta = json_loads(info->metadata ? info->metadata : "{}", 0, NULL);
    d->encoding = meta_str(meta, "encoding");
    d->duplicate_of = meta_str(meta, "duplicate_of");
    d->declared_lang = meta_str(meta, "lang");
    json_decref(meta);
    if (!d->uri || !d->title)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_chunk_info *chunks;
    size_t n;
    MAST_TRY(mast_store_doc_chunks(store, info->id, &chunks, &n));
    mast_buf all = {0};
    mast_status st = MAST_OK;
    int tiny_under = r->chunk_tokens / 10 > 8 ? r->chunk_tokens / 10 : 8;
    for (size_t i = 0; i < n && st == MAST_OK; i++) {
        if (i)
            st = mast_buf_puts(&all, "\n\n");
        if (st == MAST_OK)
            st = mast_buf_puts(&all, chunks[i].text);
        d->tiny_chunks += chunks[i].n_tokens < tiny_under;
        d->oversized_chunks += chunks[i].n_tokens * 2 > r->chunk_tokens * 3;
    }
    d->n_chunks = n;
    mast_chunk_infos_free(chunks, n);
    if (st == MAST_OK) {
        mast_quality_text(all.data ? all.data : "", all.len, d);
        d->lang = mast_guess_language(all.data ? all.data : "", all.len);
    }
    mast_buf_free(&all);
    if (!d->words)
        d->flags |= MAST_QUALITY_EMPTY;
    else if (d->words < (size_t)r->min_words)
        d->flags |= MAST_QUALITY_NEAR_EMPTY;
    if (d->encoding)
        d->flags |= MAST_QUALITY_ENCODING;
    if (d->duplicate_of)
        d->flags |= MAST_QUALITY_DUPLICATE;
    if (d->oversized_chunks)
        d->flags |= MAST_QUALITY_OVERSIZED;
    if (n >= 3 && d->tiny_chunks * 2 > n)
        d->flags |= MAST_QUALITY_FRAGMENTED;
    return st;
}

mast_status mast_quality_report_build(mast_store *store, int64_t collection_id,
                                      const mast_quality_opts *opts, mast_quality_report *r)
{
    memset(r, 0, sizeof *r);
    r->chunk_tokens = opts && opts->chunk_tokens > 0 ? opts->chunk_tokens : MAST_DEFAULT_CHUNK_TOKENS;
    r->min_words = opts && opts->min_words > 0 ? opts->min_words : 20;
    mast_doc_query q = {0, 0, NULL, NULL};
    mast_doc_info *infos;
    size_t n;
    int64_t total;
    MAST_TRY(mast_store_doc_list(store, collection_id, &q, &infos, &n, &total));
    r->docs = calloc(n ? n : 1, sizeof *r->docs);
    mast_status st = r->docs ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && st == MAST_OK; i++) {
        st = inspect(store, &infos[i], r, &r->docs[i]);
        r->n_docs = i + 1;
        r->n_chunks += r->docs[i].n_chunks;
        r->tiny_chunks += r->docs[i].tiny_chunks;
        r->oversized_chunks += r->docs[i].oversized_chunks;
        r->words += r->docs[i].words;
    }
    mast_doc_infos_free(infos, n);
    if (st != MAST_OK)
        mast_quality_report_free(r);
    return st;
}

void mast_quality_report_free(mast_quality_report *r)
{
    for (size_t i = 0; i < r->n_docs; i++) {
        free(r->docs[i].uri);
        free(r->docs[i].title);
        free(r->docs[i].declared_lang);
        free(r->docs[i].encoding);
        free(r->docs[i].duplicate_of);
    }
    free(r->docs);
    memset(r, 0, sizeof *r);
}
