/*
** model/tok_bpe.c — byte-level BPE (GPT-2 style) with pre-tokenizer regexes.
**
** Pre-tokenization applies the regexes of the vocabulary's family in order;
** each one splits every piece the previous one produced into its matches and
** the gaps between them (both kept), matching within the piece only, as
** llama.cpp does. Each piece's bytes are then mapped to GPT-2's byte-level
** characters and merged by rank: repeatedly the adjacent pair with the
** lowest merge rank (ties: the leftmost) is joined.
**
** The regexes are the pre_tokenizer patterns of each model family's
** tokenizer.json, keyed by tokenizer.ggml.pre the way llama.cpp keys them.
*/
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "base/utf8.h"
#include "model/tokenizer_impl.h"

#define GPT2_PAT "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define LLAMA3_PAT CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+" \
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_PAT CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+" \
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define CJK_PAT "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"
#define DEEPSEEK_LLM_LETTERS "\\s?[A-Za-z\\x{00B5}\\x{00C0}-\\x{00D6}\\x{00D8}-\\x{00F6}" \
    "\\x{00F8}-\\x{01BA}\\x{01BC}-\\x{01BF}\\x{01C4}-\\x{0293}\\x{0295}-\\x{02AF}\\x{0370}-\\x{0373}" \
    "\\x{0376}\\x{0377}\\x{037B}-\\x{037D}\\x{037F}\\x{0386}\\x{0388}-\\x{038A}\\x{038C}" \
    "\\x{038E}-\\x{03A1}\\x{03A3}-\\x{03F5}\\x{03F7}-\\x{0481}\\x{048A}-\\x{052F}\\x{0531}-\\x{0556}" \
    "\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}" \
    "\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}" \
    "\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}" \
    "\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}" \
    "\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}" \
    "\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}" \
    "\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}" \
    "\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}" \
    "\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}" \
    "\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}" \
    "\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}" \
    "\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}" \
    "\\x{1E900}-\\x{1E943}]+"

typedef struct family {
    const char *names;          /* '|'-separated tokenizer.ggml.pre values */
    const char *patterns[MAX_PRE_REGEX];
    bool ignore_merges, add_bos;
} family;

static const family families[] = {
    {"llama3|llama-v3|llama-bpe|falcon3", {LLAMA3_PAT}, true, true},
    {"dbrx|smaug-bpe|chatglm-bpe|glm4", {LLAMA3_PAT}, false, false},
    {"qwen2|qwen2.5|qwen-2.5|deepseek-r1-qwen|stablelm2|hunyuan|megrez", {QWEN2_PAT}, false, false},
    {"gpt-2|phi-2|mpt|olmo|jais|roberta-bpe|trillion", {GPT2_PAT}, false, false},
    {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva", {"\\p{N}", GPT2_PAT}, false,
     false},
    {"falcon", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2_PAT, "[0-9][0-9][0-9]"}, false, false},
    {"deepseek-llm",
     {"[\\r\\n]", DEEPSEEK_LLM_LETTERS,
      "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
      "\\s+$", CJK_PAT, "\\p{N}+"},
     false, false},
    {"deepseek-coder", {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", CJK_PAT, "\\p{N}"}, false, false},
    {"default", {"[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_PAT, "\\p{N}+", "[0-9][0-9][0-9]"}, false,
     false},
};

static const family *find_family(const char *pre, size_t len)
{
    for (size_t f = 0; f < sizeof families / sizeof *families; f++) {
        const char *p = families[f].names;
        while (*p) {
            const char *bar = strchr(p, '|');
            size_t n = bar ? (size_t)(bar - p) : strlen(p);
            if (n == len && memcmp(p, pre, len) == 0)
                return &families[f];
            p += n + (bar ? 1 : 0);
        }
    }
    return NULL;
}

mast_status mast_bpe_init(mast_tokenizer *t, const char *pre, size_t pre_len, const char *path)
{
    const family *f = find_family(pre, pre_len);
    if (!f)
        return mast_fail(MAST_ERR_UNSUPPORTED, "%s: pre-tokenizer '%.*s' is not supported", path,
                         (int)pre_len, pre);
    t->ignore_merges = f->ignore_merges;
    t->add_bos = f->add_bos;
    for (size_t i = 0; i < MAX_PRE_REGEX && f->patterns[i]; i++) {
        int err;
        PCRE2_SIZE at;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)f->patterns[i], PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY |
                                           PCRE2_NO_UTF_CHECK,
                                       &err, &at, NULL);
        if (!re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            return mast_fail(MAST_ERR_INTERNAL, "pre-tokenizer regex %zu of '%.*s': %s at %zu", i,
                             (int)pre_len, pre, (const char *)msg, (size_t)at);
        }
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);   /* speed only; optional */
        t->regex[t->n_regex++] = re;
    }
    return MAST_OK;
}

/* ---- GPT-2 byte-level characters ---- */

static int printable(int b)
{
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t mast_bpe_byte_to_cp(uint8_t byte)
{
    if (printable(byte))
        return byte;
    uint32_t n = 0;
    for (int b = 0; b < byte; b++)
        n += !printable(b);
    return 256 + n;
}

int mast_bpe_cp_to_byte(uint32_t cp)
{
    if (cp < 256)
        return printable((int)cp) ? (int)cp : -1;
    uint32_t n = 256;
    for (int b = 0; b < 256; b++)
        if (!printable(b) && n++ == cp)
            return b;
    return -1;
}

/* ---- pre-tokenization ---- */

typedef struct span {
    size_t off, len;
} span;

typedef struct spans {
    span *items;
    size_t n, cap;
} spans;

static int push_span(spans *s, size_t off, size_t len)
{
    if (!mast_grow_array((void **)&s->items, &s->cap, s->n + 1, sizeof *s->items))
        return 0;
    s->items[s->n++] = (span){off, len};
    return 1;
}

static mast_status split(const mast_tokenizer *t, const char *text, size_t len, spans *out)
{
    spans cur = {0}, next = {0};
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    mast_status st = md && push_span(&cur, 0, len) ? MAST_OK
                                                   : mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (size_t r = 0; r < t->n_regex && st == MAST_OK; r++) {
        next.n = 0;
        for (size_t i = 0; i < cur.n && st == MAST_OK; i++) {
            const char *subject = text + cur.items[i].off;
            size_t n = cur.items[i].len, pos = 0, gap = 0;
            while (pos < n && st == MAST_OK) {
                int rc = pcre2_match(t->regex[r], (PCRE2_SPTR)subject, n, pos, PCRE2_NO_UTF_CHECK,
                                     md, NULL);
                if (rc == PCRE2_ERROR_NOMATCH)
                    break;
                if (rc < 0) {
                    st = mast_fail(MAST_ERR_INTERNAL, "pre-tokenizer regex failed (%d)", rc);
                    break;
                }
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                size_t ms = ov[0], me = ov[1];
                if (me == ms) {   /* empty match: step over one character, no cut */
                    int32_t cp;
                    pos = ms + mast_utf8_decode(subject + ms, n - ms, &cp);
                    continue;
                }
                if ((ms > gap && !push_span(&next, cur.items[i].off + gap, ms - gap)) ||
                    !push_span(&next, cur.items[i].off + ms, me - ms))
                    st = mast_fail(MAST_ERR_NOMEM, "out of memory");
                gap = pos = me;
            }
            if (st == MAST_OK && gap < n && !push_span(&next, cur.items[i].off + gap, n - gap))
                st = mast_fail(MAST_ERR_NOMEM, "out of memory");
        }
        spans tmp = cur;
        cur = next;
        next = tmp;
    }
    pcre2_match_data_free(md);
    free(next.items);
    if (st != MAST_OK) {
        free(cur.items);
        return st;
    }
    *out = cur;
    return MAST_OK;
}

/* ---- merging ---- */

typedef struct scratch {
    mast_buf word, key;
    mast_tok_symbol *sym;
    size_t cap_sym;
    mast_tok_heap h;
    const mast_tokenizer *t;
} scratch;

/* a pair may merge when "left right" is a merge; the best has the lowest rank */
static int bpe_key(void *ctx, const mast_tok_symbol *sym, int left, int right, double *key)
{
    scratch *s = ctx;
    const mast_tok_symbol *l = &sym[left], *r = &sym[right];
    mast_buf_clear(&s->key);
    if (mast_buf_append(&s->key, s->word.data + l->off, l->n) != MAST_OK ||
        mast_buf_putc(&s->key, ' ') != MAST_OK ||
        mast_buf_append(&s->key, s->word.data + r->off, r->n) != MAST_OK)
        return -1;
    int32_t rank = mast_strmap_get(&s->t->merges, s->key.data, s->key.len);
    if (rank < 0)
        return 0;
    *key = rank;
    return 1;
}

static mast_status encode_word(const mast_tokenizer *t, scratch *s, const char *w, size_t len,
                               mast_tokens *out)
{
    mast_buf_clear(&s->word);
    for (size_t i = 0; i < len; i++) {
        uint32_t cp = mast_bpe_byte_to_cp((uint8_t)w[i]);
        char u[2];
        size_t k = 1;
        if (cp < 0x80) {
            u[0] = (char)cp;
        } else {
            u[0] = (char)(0xC0 | (cp >> 6));
            u[1] = (char)(0x80 | (cp & 0x3F));
            k = 2;
        }
        MAST_TRY(mast_buf_append(&s->word, u, k));
    }
    const char *word = s->word.data;
    size_t n = s->word.len;
    if (t->ignore_merges) {
        int32_t id = tok_find(t, word, n);
        if (id >= 0)
            return mast_tokens_push(out, id);
    }
    if (!mast_grow_array((void **)&s->sym, &s->cap_sym, n + 1, sizeof *s->sym))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    int n_sym = 0;
    for (size_t off = 0; off < n;) {
        size_t k = ((unsigned char)word[off] & 0xE0) == 0xC0 ? 2 : 1;
        s->sym[n_sym] = (mast_tok_symbol){n_sym - 1, off + k < n ? n_sym + 1 : -1, off, k};
        n_sym++;
        off += k;
    }
    MAST_TRY(mast_tok_merge_all(s->sym, n_sym, bpe_key, s, &s->h));
    for (int i = 0; i != -1 && n_sym > 0; i = s->sym[i].next) {
        int32_t id = tok_find(t, word + s->sym[i].off, s->sym[i].n);
        if (id >= 0) {
            MAST_TRY(mast_tokens_push(out, id));
            continue;
        }
        /* as llama.cpp: a symbol that is not a token is emitted byte by byte,
        ** keeping only the bytes that are tokens themselves */
        for (size_t j = 0; j < s->sym[i].n; j++) {
            id = tok_find(t, word + s->sym[i].off + j, 1);
            if (id >= 0)
                MAST_TRY(mast_tokens_push(out, id));
        }
    }
    return MAST_OK;
}

mast_status mast_bpe_encode(const mast_tokenizer *t, const char *text, size_t len,
                            mast_tokens *out)
{
    char *repaired = NULL;
    if (!mast_utf8_valid(text, len, NULL)) {
        MAST_TRY(mast_utf8_repair(text, len, &repaired, &len, NULL));
        text = repaired;
    }
    spans words = {0};
    scratch s = {.t = t};
    mast_status st = split(t, text, len, &words);
    for (size_t i = 0; i < words.n && st == MAST_OK; i++)
        st = encode_word(t, &s, text + words.items[i].off, words.items[i].len, out);
    free(words.items);
    mast_buf_free(&s.word);
    mast_buf_free(&s.key);
    free(s.sym);
    free(s.h.items);
    free(repaired);
    return st;
}
