/*
** data/textindex/analyzer.c — tokenizing, folding, stopping, stemming.
*/
#include "data/textindex/analyzer.h"

#include <libstemmer.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/status.h"
#include "base/utf8.h"

struct mast_analyzer {
    struct sb_stemmer *stemmer;   /* NULL: "none" */
    const char *const *stop;      /* the language's stop words (NULL-terminated), or NULL */
    int elision;                  /* French / Italian / Catalan: drop "l'", "qu'", ... */
    int underscore;               /* "_" joins (identifiers) */
};

/* Stop words, written as the analyzer folds them (lower case, accents
** stripped): English is Lucene's list of 33; the others are the language's
** most frequent function words (articles, pronouns, prepositions,
** conjunctions, forms of "to be" and "to have"), kept short as Lucene's
** English list is, because a long list also drops words that matter in
** queries. */
static const char *const stop_english[] = {
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with", NULL,
};
static const char *const stop_french[] = {
    "a", "au", "aux", "avec", "ce", "ces", "dans", "de", "des", "du", "elle", "en", "est", "et",
    "il", "ils", "je", "la", "le", "les", "leur", "lui", "mais", "ne", "nous", "on", "ou", "par",
    "pas", "pour", "qu", "que", "qui", "sa", "se", "ses", "son", "sont", "sur", "un", "une",
    "vous", "c", "d", "j", "l", "m", "n", "s", "t", "y", NULL,
};
static const char *const stop_german[] = {
    "aber", "als", "am", "an", "auch", "auf", "aus", "bei", "bin", "bis", "das", "dass", "dem",
    "den", "der", "des", "die", "ein", "eine", "einem", "einen", "einer", "eines", "er", "es",
    "fur", "hat", "ich", "im", "in", "ist", "mit", "nach", "nicht", "oder", "sich", "sie", "sind",
    "so", "uber", "um", "und", "von", "vor", "war", "wie", "wir", "zu", "zum", "zur", NULL,
};
static const char *const stop_spanish[] = {
    "a", "al", "como", "con", "de", "del", "el", "en", "es", "esta", "este", "la", "las", "le",
    "lo", "los", "mas", "no", "o", "para", "pero", "por", "que", "se", "si", "sin", "sobre", "su",
    "sus", "un", "una", "uno", "y", "ya", NULL,
};
static const char *const stop_italian[] = {
    "a", "al", "alla", "che", "chi", "con", "da", "dal", "dei", "del", "della", "di", "e", "ed",
    "gli", "ha", "i", "il", "in", "la", "le", "lo", "ma", "nel", "nella", "non", "o", "per",
    "piu", "se", "si", "sono", "su", "tra", "un", "una", "uno", NULL,
};
static const char *const stop_portuguese[] = {
    "a", "ao", "aos", "as", "com", "como", "da", "das", "de", "do", "dos", "e", "em", "era", "foi",
    "mais", "mas", "na", "nao", "nas", "no", "nos", "o", "os", "ou", "para", "pela", "pelo",
    "por", "que", "se", "sem", "ser", "seu", "sua", "um", "uma", NULL,
};
static const char *const stop_dutch[] = {
    "aan", "al", "als", "bij", "dat", "de", "den", "der", "die", "dit", "een", "en", "er", "had",
    "heb", "het", "hij", "ik", "in", "is", "je", "maar", "met", "naar", "niet", "of", "om", "op",
    "te", "tot", "van", "voor", "was", "wat", "ze", "zijn", NULL,
};
static const char *const stop_swedish[] = {
    "att", "av", "de", "den", "det", "en", "ett", "for", "har", "i", "med", "men", "och", "om",
    "pa", "som", "till", "var", "vi", "ar", "fran", "han", "hon", "inte", "jag", "kan", "man",
    "sa", "sig", NULL,
};
static const char *const stop_danish_norwegian[] = {
    "af", "at", "av", "de", "den", "der", "det", "du", "en", "er", "et", "for", "fra", "han",
    "har", "hun", "i", "ikke", "jeg", "kan", "med", "men", "og", "om", "pa", "som", "til", "var",
    "vi", NULL,
};

static const struct {
    const char *name, *code;
    const char *const *words;
} stop_lists[] = {
    {"english", "en", stop_english},       {"french", "fr", stop_french},
    {"german", "de", stop_german},         {"spanish", "es", stop_spanish},
    {"italian", "it", stop_italian},       {"portuguese", "pt", stop_portuguese},
    {"dutch", "nl", stop_dutch},           {"swedish", "sv", stop_swedish},
    {"danish", "da", stop_danish_norwegian}, {"norwegian", "no", stop_danish_norwegian},
};

mast_status mast_analyzer_open(mast_analyzer **out, const char *language)
{
    const char *lang = language ? language : "english";
    mast_analyzer *a = calloc(1, sizeof *a);
    if (!a)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (strcmp(lang, "none") == 0) {
        a->underscore = 1;
        *out = a;
        return MAST_OK;
    }
    a->stemmer = sb_stemmer_new(lang, "UTF_8");
    if (!a->stemmer) {
        free(a);
        return mast_fail(MAST_ERR_INVALID, "no analyzer for language '%s' (none, or one of "
                         "libstemmer's: english, french, german, spanish, ...)", lang);
    }
    for (size_t i = 0; i < sizeof stop_lists / sizeof *stop_lists; i++)
        if (strcmp(lang, stop_lists[i].name) == 0 || strcmp(lang, stop_lists[i].code) == 0)
            a->stop = stop_lists[i].words;
    if (strcmp(lang, "eng") == 0)
        a->stop = stop_english;
    static const char *const elided[] = {"french", "fr", "italian", "it", "catalan", "ca"};
    for (size_t i = 0; i < sizeof elided / sizeof *elided; i++)
        a->elision |= strcmp(lang, elided[i]) == 0;
    *out = a;
    return MAST_OK;
}

const char *const *mast_analyzer_languages(void)
{
    return sb_stemmer_list();
}

void mast_analyzer_free(mast_analyzer *a)
{
    if (!a)
        return;
    sb_stemmer_delete(a->stemmer);
    free(a);
}

static int is_stopword(const char *const *list, const char *t, size_t n)
{
    if (n > 6)
        return 0;
    for (; *list; list++)
        if (strlen(*list) == n && memcmp(*list, t, n) == 0)
            return 1;
    return 0;
}

static int is_word_char(int32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    if (cp < 0)
        return 0;
    utf8proc_category_t cat = utf8proc_category(cp);
    return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_NO);  /* L*, M*, N* */
}

static int is_digit(int32_t cp)
{
    return cp >= '0' && cp <= '9';
}

static int is_letter(int32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    if (cp < 0)
        return 0;
    utf8proc_category_t cat = utf8proc_category(cp);
    return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

/* Han and kana have no spaces between words: each such character is a
** term of its own (unigrams). Hangul is written with spaces and stays a
** word character. */
static int is_cjk(int32_t cp)
{
    return (cp >= 0x3040 && cp <= 0x30FF) ||   /* hiragana, katakana */
           (cp >= 0x3400 && cp <= 0x4DBF) ||   /* CJK extension A */
           (cp >= 0x4E00 && cp <= 0x9FFF) ||   /* CJK unified ideographs */
           (cp >= 0xF900 && cp <= 0xFAFF) ||   /* compatibility ideographs */
           (cp >= 0x20000 && cp <= 0x3134F);   /* extensions B to G */
}

/* Case- and accent-folds one code point into out (at most 4 code points):
** compatibility decomposition, marks stripped, case folded (utf8proc), so
** "Café" and "cafe", "ß" and "ss", "ﬁ" and "fi" meet. */
static utf8proc_ssize_t fold(int32_t cp, utf8proc_int32_t out[4])
{
    if (cp >= 0xAC00 && cp <= 0xD7A3) {   /* Hangul syllables stay composed */
        out[0] = cp;
        return 1;
    }
    utf8proc_int32_t boundclass = 0;
    utf8proc_ssize_t k = utf8proc_decompose_char(
        cp, out, 4, UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE | UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD,
        &boundclass);
    if (k < 0 || k > 4) {   /* no decomposition that fits: lower-case only */
        out[0] = utf8proc_tolower(cp);
        return 1;
    }
    return k;
}

static void emit(mast_analyzer *a, char *term, size_t n, mast_term_fn fn, void *ctx)
{
    /* drop a possessive 's */
    if (n > 2 && term[n - 1] == 's' && term[n - 2] == '\'')
        n -= 2;
    /* elision: "l'ete" is "ete", "qu'il" is "il", "dell'anno" is "anno" */
    const char *ap = a->elision ? memchr(term, '\'', n) : NULL;
    if (ap && ap - term <= 4 && (size_t)(ap - term) + 1 < n) {
        size_t cut = (size_t)(ap - term) + 1;
        memmove(term, term + cut, n - cut);
        n -= cut;
    }
    if (n == 0 || n > MAST_MAX_TERM_BYTES || (a->stop && is_stopword(a->stop, term, n)))
        return;
    if (!a->stemmer) {
        fn(ctx, term, n);
        return;
    }
    const sb_symbol *stem = sb_stemmer_stem(a->stemmer, (const sb_symbol *)term, (int)n);
    if (stem)
        fn(ctx, (const char *)stem, (size_t)sb_stemmer_length(a->stemmer));
    else
        fn(ctx, term, n);
}

void mast_analyze(mast_analyzer *a, const char *text, size_t len, mast_term_fn fn, void *ctx)
{
    char term[MAST_MAX_TERM_BYTES + 8];
    size_t n = 0, seg = 0;   /* seg: word characters since the token began or last joined */
    int overflow = 0;
    int32_t prev = 0;
    size_t i = 0;
    while (i <= len) {
        int32_t cp = -1;
        size_t step = 1;
        if (i < len)
            step = mast_utf8_decode(text + i, len - i, &cp);
        int apostrophe = (cp == '\'' || cp == 0x2019);
        if (apostrophe && n && is_letter(prev) && i + step < len) {
            int32_t next;
            mast_utf8_decode(text + i + step, len - i - step, &next);
            if (is_letter(next)) {
                if (n + 1 < sizeof term)
                    term[n++] = '\'';
                prev = cp;
                i += step;
                continue;
            }
        }
        /* joins inside words (see analyzer.h) */
        if ((cp == '.' || cp == '-' || cp == '+' || cp == '#') && n && !overflow) {
            int32_t n1 = -1, n2 = -1;
            size_t s1 = 0;
            if (i + step < len) {
                s1 = mast_utf8_decode(text + i + step, len - i - step, &n1);
                if (i + step + s1 < len)
                    mast_utf8_decode(text + i + step + s1, len - i - step - s1, &n2);
            }
            const char *add = NULL;
            size_t skip = step;
            if (cp == '.' && is_digit(prev) && is_digit(n1))
                add = ".";   /* 3.14, v2.0 */
            else if (cp == '+' && n1 == '+' && is_letter(prev) && !is_word_char(n2)) {
                add = "++";  /* C++ */
                skip = step + s1;
            } else if (cp == '#' && seg == 1 && is_letter(prev) && !is_word_char(n1))
                add = "#";   /* C#, F# */
            if (add) {
                size_t k = strlen(add);
                if (n + k <= MAST_MAX_TERM_BYTES) {
                    memcpy(term + n, add, k);
                    n += k;
                }
                seg = 0;
                prev = cp;
                i += skip;
                continue;
            }
        }
        if (i < len && is_cjk(cp)) {
            if (n && !overflow)   /* the word before it ends here */
                emit(a, term, n, fn, ctx);
            utf8proc_uint8_t enc[4];
            utf8proc_ssize_t k = utf8proc_encode_char(cp, enc);
            fn(ctx, (const char *)enc, (size_t)k);
            n = 0;
            seg = 0;
            overflow = 0;
        } else if (i < len && (is_word_char(cp) || (cp == '_' && a->underscore))) {
            seg++;
            utf8proc_int32_t folded[4];
            utf8proc_ssize_t nf = fold(cp, folded);
            for (utf8proc_ssize_t f = 0; f < nf; f++) {
                utf8proc_uint8_t enc[4];
                utf8proc_ssize_t k = utf8proc_encode_char(folded[f], enc);
                if (n + (size_t)k <= MAST_MAX_TERM_BYTES) {
                    memcpy(term + n, enc, (size_t)k);
                    n += (size_t)k;
                } else {
                    overflow = 1;
                }
            }
        } else if (n || overflow) {
            if (!overflow)
                emit(a, term, n, fn, ctx);
            n = 0;
            overflow = 0;
        }
        if (!(i < len && (is_word_char(cp) || (cp == '_' && a->underscore))))
            seg = 0;
        prev = cp;
        i += step;
    }
}

/* ---- guessing a text's language ---- */

typedef struct lang_count {
    size_t tokens, hits[sizeof stop_lists / sizeof *stop_lists];
} lang_count;

static void count_stop(void *ctx, const char *t, size_t n)
{
    lang_count *c = ctx;
    c->tokens++;
    for (size_t i = 0; i < sizeof stop_lists / sizeof *stop_lists; i++)
        c->hits[i] += is_stopword(stop_lists[i].words, t, n);
}

const char *mast_guess_language(const char *text, size_t len)
{
    if (len > 65536)
        len = 65536;
    /* the script first: letters by Unicode block */
    enum { LATIN, HAN, KANA, HANGUL, CYRILLIC, ARABIC, GREEK, HEBREW, DEVANAGARI, THAI, N_SCRIPTS };
    static const char *const script_lang[N_SCRIPTS] = {
        NULL, "zh", "ja", "ko", "und-Cyrl", "und-Arab", "el", "he", "und-Deva", "th"};
    size_t counts[N_SCRIPTS] = {0}, letters = 0;
    for (size_t i = 0; i < len;) {
        int32_t cp;
        size_t n = mast_utf8_decode(text + i, len - i, &cp);
        i += n ? n : 1;
        int s = -1;
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= 0xC0 && cp <= 0x24F))
            s = LATIN;
        else if (cp >= 0x4E00 && cp <= 0x9FFF)
            s = HAN;
        else if (cp >= 0x3040 && cp <= 0x30FF)
            s = KANA;
        else if (cp >= 0xAC00 && cp <= 0xD7AF)
            s = HANGUL;
        else if (cp >= 0x400 && cp <= 0x4FF)
            s = CYRILLIC;
        else if (cp >= 0x600 && cp <= 0x6FF)
            s = ARABIC;
        else if (cp >= 0x370 && cp <= 0x3FF)
            s = GREEK;
        else if (cp >= 0x590 && cp <= 0x5FF)
            s = HEBREW;
        else if (cp >= 0x900 && cp <= 0x97F)
            s = DEVANAGARI;
        else if (cp >= 0xE00 && cp <= 0xE7F)
            s = THAI;
        if (s >= 0) {
            counts[s]++;
            letters++;
        }
    }
    if (letters < 20)
        return NULL;
    if (counts[KANA] * 10 >= letters)   /* Japanese mixes kana with kanji */
        return "ja";
    int best = LATIN;
    for (int s = 1; s < N_SCRIPTS; s++)
        if (counts[s] > counts[best])
            best = s;
    if (best != LATIN)
        return counts[best] * 2 >= letters ? script_lang[best] : "und";
    /* Latin script: the stop list that covers most of the words */
    mast_analyzer *a;
    if (mast_analyzer_open(&a, "none") != MAST_OK)
        return NULL;
    lang_count c = {0};
    mast_analyze(a, text, len, count_stop, &c);
    mast_analyzer_free(a);
    size_t top = 0;
    for (size_t i = 1; i < sizeof stop_lists / sizeof *stop_lists; i++)
        if (c.hits[i] > c.hits[top])
            top = i;
    if (c.hits[top] < 3 || c.hits[top] * 10 < c.tokens)
        return "und";
    return stop_lists[top].code;
}
