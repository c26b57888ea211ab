/*
** data/textindex/analyzer.h — turns text into index terms.
**
** Rules (the skeleton's English analyzer):
**   - a token is a maximal run of letters (L*), digits (N*) and combining
**     marks (M*); an apostrophe (' or U+2019) between two letters stays
**     inside the token, and a trailing possessive 's is dropped;
**   - tokens are case- and accent-folded per code point (utf8proc: compatibility
**     decomposition, marks stripped, case folding), so "Café" and "cafe",
**     "Straße" and "strasse", "ﬁle" and "file" are the same term;
**   - Han, hiragana and katakana characters are each a term of their own
**     (unigrams: those scripts put no spaces between words); Hangul, written
**     with spaces, forms words like Latin (its syllables are not decomposed);
**   - joins inside words: a dot between digits stays ("3.14", "v2.0"); "++"
**     after letters and "#" after one letter stay ("c++", "c#"); hyphens,
**     other dots, slashes and "@" split ("e-mail" is "e" "mail", "U.S." is "u"
**     "s", a URL or an e-mail address is its words). Joining acronyms
**     ("usa") and single-letter hyphenations ("email") was measured and
**     dropped: TIME lost 0.004 nDCG@10 and SciFact / MEDLINE 0.004-0.005
**     (biomedical "T-cell" must meet the query "T cell");
**   - tokens on the stop list (Lucene's 33 English stop words) are dropped;
**   - the rest is stemmed with Snowball's English stemmer (libstemmer);
**   - tokens longer than MAST_MAX_TERM_BYTES are dropped.
** An analyzer holds stemmer state: one per thread.
*/
#ifndef MAST_DATA_TEXTINDEX_ANALYZER_H
#define MAST_DATA_TEXTINDEX_ANALYZER_H

#include <stddef.h>

#include "mast.h"

#define MAST_MAX_TERM_BYTES 128

typedef struct mast_analyzer mast_analyzer;

/* language: NULL or "english" (the rules above), another libstemmer
** algorithm ("french", "german", ...: its stemmer, and its stop words for
** french, german, spanish, italian, portuguese, dutch, swedish, danish and
** norwegian, also by their two-letter codes), or
** "none" (no stemming, no stop words, "_" inside tokens: for identifiers and
** code). An unknown name is MAST_ERR_INVALID. */
mast_status mast_analyzer_open(mast_analyzer **out, const char *language);
/* libstemmer's language names (NULL-terminated); "none" is also accepted. */
const char *const *mast_analyzer_languages(void);
void mast_analyzer_free(mast_analyzer *a);

/* Calls fn(ctx, term, term_len) for every term of text[0..len), in order.
** The term buffer is valid only during the call. */
typedef void (*mast_term_fn)(void *ctx, const char *term, size_t term_len);
void mast_analyze(mast_analyzer *a, const char *text, size_t len, mast_term_fn fn, void *ctx);

/* A guess at the language of text (its first 64 KB), as a BCP 47 tag: by
** script (zh, ja, ko, el, he, th; und-Cyrl, und-Arab, und-Deva for scripts
** of several languages), and for Latin script by the stop list above that
** covers the most words (at least 10% of them): en, fr, de, es, it, pt, nl,
** sv, or da for Danish and Norwegian (one list); "und" when none does; NULL
** for text with fewer than 20 letters. */
const char *mast_guess_language(const char *text, size_t len);

#endif
