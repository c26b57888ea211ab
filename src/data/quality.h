/*
** data/quality.h — what makes a stored corpus bad for retrieval, document by
** document (mast quality): empty or nearly empty documents, garbled text,
** converted or repaired encodings, near-duplicates, chunks far under or over
** the budget, and each document's language.
**
** Garbled text is found by character statistics over the document's chunks:
**   - U+FFFD replacement characters: 0.5% of the characters or more;
**   - mojibake, UTF-8 read as Windows-1252 ("Ã©", "â€™"): 3 or more, and 0.2%;
**   - symbols (neither letters, digits, space nor common punctuation): over
**     30% of the visible characters;
**   - OCR-like words (5+ letters without a vowel, or a digit between letters:
**     "rnxdfg", "l1ke"): over 10% of the words.
** A chunk is tiny under a tenth of the budget (and 8 tokens), oversized past
** one and a half budgets (a code block or table kept whole).
*/
#ifndef MAST_DATA_QUALITY_H
#define MAST_DATA_QUALITY_H

#include <stddef.h>
#include <stdint.h>

#include "data/store.h"

enum {
    MAST_QUALITY_EMPTY = 1,          /* no words */
    MAST_QUALITY_NEAR_EMPTY = 2,     /* fewer than min_words */
    MAST_QUALITY_GARBLED = 4,
    MAST_QUALITY_ENCODING = 8,       /* converted from UTF-16 or Windows-1252, or repaired */
    MAST_QUALITY_DUPLICATE = 16,     /* ingest linked it to an older near-duplicate */
    MAST_QUALITY_OVERSIZED = 32,     /* a chunk past 1.5 budgets */
    MAST_QUALITY_FRAGMENTED = 64,    /* 3+ chunks, most of them tiny */
};

typedef struct mast_quality_opts {
    int chunk_tokens;                /* the budget it was chunked with; 0 = the default */
    int min_words;                   /* below: nearly empty; 0 = 20 */
} mast_quality_opts;

typedef struct mast_quality_doc {
    int64_t doc_id;
    char *uri, *title;
    const char *lang;                /* guessed (mast_guess_language), or NULL */
    char *declared_lang;             /* what the source said (HTML lang), or NULL */
    char *encoding;                  /* from the metadata, or NULL */
    char *duplicate_of;              /* from the metadata, or NULL */
    size_t chars, words, n_chunks, tiny_chunks, oversized_chunks;
    double replacement, mojibake, symbols, ocr_words;   /* shares (see above) */
    int flags;
    char garbled_why[96];            /* the first test that found it garbled */
} mast_quality_doc;

typedef struct mast_quality_report {
    mast_quality_doc *docs;          /* every document, in id order */
    size_t n_docs;
    size_t n_chunks, tiny_chunks, oversized_chunks, words;
    int chunk_tokens, min_words;
} mast_quality_report;

mast_status mast_quality_report_build(mast_store *store, int64_t collection_id,
                                      const mast_quality_opts *opts, mast_quality_report *r);
void mast_quality_report_free(mast_quality_report *r);

/* The character statistics of one text (for tests and the report): fills
** chars, words, replacement, mojibake, symbols, ocr_words and, when one of
** the tests finds it garbled, MAST_QUALITY_GARBLED with its reason. */
void mast_quality_text(const char *text, size_t len, mast_quality_doc *d);

#endif
