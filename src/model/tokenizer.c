/*
** model/tokenizer.c — vocabulary loading, special-token partitioning,
** dispatch to the algorithm, and decoding (see tokenizer.h).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "base/utf8.h"
#include "model/tokenizer_impl.h"

mast_status mast_tokens_push(mast_tokens *out, int32_t id)
{
    if (!mast_grow_array((void **)&out->ids, &out->cap, out->n + 1, sizeof *out->ids))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    out->ids[out->n++] = id;
    return MAST_OK;
}

/* ---- the merge loop ---- */

static int merge_before(const mast_tok_merge *a, const mast_tok_merge *b)
{
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

static void heap_swap(mast_tok_merge *a, mast_tok_merge *b)
{
    mast_tok_merge t = *a;
    *a = *b;
    *b = t;
}

static int offer(mast_tok_heap *h, const mast_tok_symbol *sym, int left, int right,
                 mast_tok_key_fn key_fn, void *ctx)
{
    if (left < 0 || right < 0)
        return 1;
    double key;
    int ok = key_fn(ctx, sym, left, right, &key);
    if (ok <= 0)
        return ok == 0;
    if (!mast_grow_array((void **)&h->items, &h->cap, h->n + 1, sizeof *h->items))
        return 0;
    size_t i = h->n++;
    h->items[i] = (mast_tok_merge){left, right, key, sym[left].n, sym[right].n};
    while (i > 0 && merge_before(&h->items[i], &h->items[(i - 1) / 2])) {
        heap_swap(&h->items[i], &h->items[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    return 1;
}

static mast_tok_merge pop(mast_tok_heap *h)
{
    mast_tok_merge top = h->items[0];
    h->items[0] = h->items[--h->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && merge_before(&h->items[l], &h->items[m]))
            m = l;
        if (r < h->n && merge_before(&h->items[r], &h->items[m]))
            m = r;
        if (m == i)
            break;
        heap_swap(&h->items[i], &h->items[m]);
        i = m;
    }
    return top;
}

mast_status mast_tok_merge_all(mast_tok_symbol *sym, int n_sym, mast_tok_key_fn key, void *ctx,
                               mast_tok_heap *h)
{
    h->n = 0;
    for (int i = 1; i < n_sym; i++)
        if (!offer(h, sym, i - 1, i, key, ctx))
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
    while (h->n) {
        mast_tok_merge m = pop(h);
        mast_tok_symbol *l = &sym[m.left], *r = &sym[m.right];
        /* symbols only grow, so unchanged lengths mean the pair still stands */
        if (l->n != m.left_n || r->n != m.right_n || l->next != m.right)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = m.left;
        if (!offer(h, sym, l->prev, m.left, key, ctx) || !offer(h, sym, m.left, l->next, key, ctx))
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    return MAST_OK;
}

void mast_tokens_free(mast_tokens *tokens)
{
    free(tokens->ids);
    memset(tokens, 0, sizeof *tokens);
}

static mast_status build_pieces(mast_tokenizer *t);

void mast_tokenizer_free(mast_tokenizer *t)
{
    if (!t)
        return;
    free(t->blob);
    free(t->pieces);
    free(t->piece_off);
    if (t->sorted) {
        free(t->sorted->ids);
        free(t->sorted->lcp);
        free(t->sorted->eog);
        free(t->sorted);
    }
    pthread_mutex_destroy(&t->sorted_mu);
    free(t->off);
    free(t->len);
    free(t->scores);
    free(t->types);
    free(t->strip);
    free(t->specials);
    mast_strmap_free(&t->by_text);
    mast_strmap_free(&t->merges);
    free(t->eog);
    for (size_t i = 0; i < t->n_regex; i++)
        pcre2_code_free(t->regex[i]);
    free(t);
}

static int32_t get_id(const mast_gguf *g, const char *key, int32_t dflt, size_t n_vocab)
{
    uint32_t v;
    if (mast_gguf_get_u32(g, key, &v) != MAST_OK || v >= n_vocab)
        return dflt;
    return (int32_t)v;
}

static bool get_flag(const mast_gguf *g, const char *key, bool dflt)
{
    bool v;
    return mast_gguf_get_bool(g, key, &v) == MAST_OK ? v : dflt;
}

static mast_status load_vocab(mast_tokenizer *t, const mast_gguf *g)
{
    const mast_gguf_kv *tokens, *scores = NULL, *types = NULL;
    mast_status st = mast_gguf_get_arr(g, "tokenizer.ggml.tokens", MAST_GGUF_STRING, &tokens);
    if (st == MAST_ERR_NOT_FOUND)
        return mast_fail(MAST_ERR_FORMAT, "%s: no tokenizer.ggml.tokens", g->path);
    MAST_TRY(st);
    if (tokens->arr_n == 0 || tokens->arr_n > INT32_MAX)
        return mast_fail(MAST_ERR_FORMAT, "%s: vocabulary of %llu tokens", g->path,
                         (unsigned long long)tokens->arr_n);
    size_t n = (size_t)tokens->arr_n;
    st = mast_gguf_get_arr(g, "tokenizer.ggml.scores", MAST_GGUF_FLOAT32, &scores);
    if (st != MAST_OK && st != MAST_ERR_NOT_FOUND)
        return st;
    st = mast_gguf_get_arr(g, "tokenizer.ggml.token_type", MAST_GGUF_INT32, &types);
    if (st != MAST_OK && st != MAST_ERR_NOT_FOUND)
        return st;
    if ((scores && scores->arr_n != n) || (types && types->arr_n != n))
        return mast_fail(MAST_ERR_FORMAT, "%s: token scores/types do not match the %zu tokens",
                         g->path, n);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += tokens->arr_strs[i].len ? tokens->arr_strs[i].len : 24;
    t->n_vocab = n;
    t->blob = malloc(total + n);
    t->off = malloc(n * sizeof *t->off);
    t->len = malloc(n * sizeof *t->len);
    t->scores = calloc(n, sizeof *t->scores);
    t->types = malloc(n * sizeof *t->types);
    if (!t->blob || !t->off || !t->len || !t->scores || !t->types)
        return mast_fail(MAST_ERR_NOMEM, "out of memory loading the vocabulary");
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        mast_gguf_str s = tokens->arr_strs[i];
        char empty[24];
        if (s.len == 0) {   /* as llama.cpp: an empty token gets a placeholder text */
            s.len = (size_t)snprintf(empty, sizeof empty, "[EMPTY_%zu]", i);
            s.data = empty;
        }
        memcpy(t->blob + pos, s.data, s.len);
        t->blob[pos + s.len] = '\0';
        t->off[i] = (uint32_t)pos;
        t->len[i] = (uint32_t)s.len;
        pos += s.len + 1;
        if (s.len > t->max_token_len)
            t->max_token_len = s.len;
        if (scores)
            memcpy(&t->scores[i], scores->arr_data + 4 * i, 4);
        int32_t type = MAST_TOKEN_NORMAL;
        if (types)
            memcpy(&type, types->arr_data + 4 * i, 4);
        t->types[i] = type;
        MAST_TRY(mast_strmap_put(&t->by_text, s.data, s.len, (int32_t)i));
    }
    return MAST_OK;
}

/* llama.cpp sets strip attributes by model name: for Phi-3 every special
** token strips the white space to its right, except <unk>, <s> and
** <|endoftext|>, and </s> does too. */
static mast_status set_strip_attributes(mast_tokenizer *t, const mast_gguf *g)
{
    t->strip = calloc(t->n_vocab, 1);
    if (!t->strip)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_gguf_str name = {"", 0};
    mast_gguf_get_str(g, "general.name", &name);
    char lower[128];
    size_t n = name.len < sizeof lower - 1 ? name.len : sizeof lower - 1;
    for (size_t i = 0; i < n; i++)
        lower[i] = (char)(name.data[i] >= 'A' && name.data[i] <= 'Z' ? name.data[i] + 32 : name.data[i]);
    lower[n] = '\0';
    if (!strstr(lower, "phi-3") && !strstr(lower, "phi3"))
        return MAST_OK;
    for (size_t i = 0; i < t->n_specials; i++)
        t->strip[t->specials[i]] |= STRIP_RIGHT;
    int32_t id = tok_find(t, "</s>", 4);
    if (id >= 0)
        t->strip[id] |= STRIP_RIGHT;
    static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
    for (size_t i = 0; i < 3; i++)
        if ((id = tok_find(t, keep[i], strlen(keep[i]))) >= 0)
            t->strip[id] &= (uint8_t)~STRIP_RIGHT;
    return MAST_OK;
}

/* ---- llama.cpp's rules by token text ----
**
** llama.cpp (src/llama-vocab.cpp, b10573) recognizes end-of-generation and
** fill-in-the-middle tokens by their text and forces them to CONTROL whatever
** type the file gives them, so that ordinary text holding "</s>" is not
** parsed into that token unless special tokens are parsed. The lists are its
** facts, cited; the code is ours. */

static const char *const eog_names[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "[e~[", NULL};

/* one forced per kind, and only when the metadata names none; the last three are also EOG */
static const struct fim_kind {
    const char *key;
    const char *names[9];
} fim_kinds[] = {
    {"tokenizer.ggml.fim_pre_id", {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
      "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>", "\xe2\x96\x81<PRE>",
      "<|code_prefix|>", "<|prefix|>", NULL}},
    {"tokenizer.ggml.fim_suf_id", {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
      "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>", "<SUF>", "\xe2\x96\x81<SUF>",
      "<|code_suffix|>", "<|suffix|>", NULL}},
    {"tokenizer.ggml.fim_mid_id", {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
      "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>", "\xe2\x96\x81<MID>",
      "<|code_middle|>", "<|middle|>", NULL}},
    {"tokenizer.ggml.fim_pad_id", {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL}},
    {"tokenizer.ggml.fim_rep_id", {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
      "<reponame>", NULL}},
    {"tokenizer.ggml.fim_sep_id", {"<|file_sep|>", NULL}},
};

static int32_t find_name(const mast_tokenizer *t, const char *name)
{
    return tok_find(t, name, strlen(name));
}

/* llama.cpp adds the CONTROL attribute; a user-defined token so marked is never
** matched in ordinary text, so it is CONTROL here (unknown tokens stay unknown) */
static void force_control(mast_tokenizer *t, int32_t id)
{
    if (t->types[id] != MAST_TOKEN_UNKNOWN)
        t->types[id] = MAST_TOKEN_CONTROL;
}

static mast_status apply_name_rules(mast_tokenizer *t, const mast_gguf *g)
{
    if (!(t->eog = calloc(t->n_vocab ? t->n_vocab : 1, 1)))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < sizeof fim_kinds / sizeof *fim_kinds; k++) {
        uint32_t given;
        int32_t id = mast_gguf_get_u32(g, fim_kinds[k].key, &given) == MAST_OK &&
                             given < t->n_vocab ? (int32_t)given : -1;
        /* llama.cpp takes the first name it meets in a hash map; the first in its list here */
        for (size_t i = 0; id < 0 && fim_kinds[k].names[i]; i++)
            if ((id = find_name(t, fim_kinds[k].names[i])) >= 0)
                force_control(t, id);
        if (id >= 0 && k >= 3)
            t->eog[id] = 1;   /* pad, repo and file separator end a generation */
    }
    for (size_t i = 0; eog_names[i]; i++) {
        int32_t id = find_name(t, eog_names[i]);
        if (id >= 0) {
            force_control(t, id);
            t->eog[id] = 1;
        }
    }
    /* its exceptions: harmony's message markers stay text-like */
    static const char *const plain[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"};
    for (size_t i = 0; i < 4; i++) {
        int32_t id = find_name(t, plain[i]);
        if (id >= 0)
            t->types[id] = MAST_TOKEN_USER_DEFINED;
    }
    int32_t end = find_name(t, "<|end|>");
    int has_call = find_name(t, "<|call|>") >= 0 || find_name(t, "<|calls|>") >= 0;
    if (end >= 0 && has_call && (find_name(t, "<|return|>") >= 0 || find_name(t, "<|flush|>") >= 0)) {
        t->types[end] = MAST_TOKEN_USER_DEFINED;
        t->eog[end] = 0;
    }
    int32_t s_end = find_name(t, "</s>");
    if (s_end >= 0 && find_name(t, "<|tool_response>") >= 0) {
        t->types[s_end] = MAST_TOKEN_NORMAL;
        t->eog[s_end] = 0;
    }
    return MAST_OK;
}

static int cmp_special(const void *a, const void *b, void *ctx)
{
    const mast_tokenizer *t = ctx;
    uint32_t la = t->len[*(const int32_t *)a], lb = t->len[*(const int32_t *)b];
    if (la != lb)
        return la > lb ? -1 : 1;
    return *(const int32_t *)a - *(const int32_t *)b;
}

static mast_status cache_specials(mast_tokenizer *t)
{
    size_t cap = 0;
    for (size_t i = 0; i < t->n_vocab; i++) {
        int32_t type = t->types[i];
        if (type != MAST_TOKEN_CONTROL && type != MAST_TOKEN_USER_DEFINED &&
            type != MAST_TOKEN_UNKNOWN)
            continue;
        if (!mast_grow_array((void **)&t->specials, &cap, t->n_specials + 1, sizeof *t->specials))
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        t->specials[t->n_specials++] = (int32_t)i;
    }
    if (t->n_specials > 1)
        qsort_r(t->specials, t->n_specials, sizeof *t->specials, cmp_special, t);
    return MAST_OK;
}

static mast_status load_merges(mast_tokenizer *t, const mast_gguf *g)
{
    const mast_gguf_kv *merges;
    mast_status st = mast_gguf_get_arr(g, "tokenizer.ggml.merges", MAST_GGUF_STRING, &merges);
    if (st == MAST_ERR_NOT_FOUND)
        return mast_fail(MAST_ERR_FORMAT, "%s: byte-level BPE vocabulary without "
                         "tokenizer.ggml.merges", g->path);
    MAST_TRY(st);
    for (uint64_t i = 0; i < merges->arr_n && i < INT32_MAX; i++) {
        mast_gguf_str m = merges->arr_strs[i];
        /* as llama.cpp: a merge is split at the first space after its first byte */
        const char *sp = m.len > 1 ? memchr(m.data + 1, ' ', m.len - 1) : NULL;
        if (!sp)
            continue;
        /* keep the first (lowest) rank of a duplicated merge */
        if (mast_strmap_get(&t->merges, m.data, m.len) < 0)
            MAST_TRY(mast_strmap_put(&t->merges, m.data, m.len, (int32_t)i));
    }
    return MAST_OK;
}

mast_status mast_tokenizer_load(mast_tokenizer **out, const mast_gguf *g)
{
    *out = NULL;
    mast_gguf_str model;
    mast_status st = mast_gguf_get_str(g, "tokenizer.ggml.model", &model);
    if (st == MAST_ERR_NOT_FOUND)
        return mast_fail(MAST_ERR_FORMAT, "%s: no tokenizer (tokenizer.ggml.model is missing)",
                         g->path);
    MAST_TRY(st);
    mast_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&t->sorted_mu, NULL);
#define IS(s) (model.len == strlen(s) && memcmp(model.data, s, model.len) == 0)
    if (IS("llama"))
        t->kind = MAST_TOK_SPM;
    else if (IS("gpt2"))
        t->kind = MAST_TOK_BPE;
    else if (IS("bert"))
        t->kind = MAST_TOK_WPM;
    else
        st = mast_fail(MAST_ERR_UNSUPPORTED, "%s: tokenizer model '%.*s' is not supported "
                       "(llama, gpt2, bert)", g->path, (int)model.len, model.data);
#undef IS
    if (st == MAST_OK)
        st = load_vocab(t, g);
    if (st == MAST_OK)
        st = apply_name_rules(t, g);
    if (st == MAST_OK)
        st = cache_specials(t);
    if (st == MAST_OK)
        st = set_strip_attributes(t, g);
    if (st != MAST_OK) {
        mast_tokenizer_free(t);
        return st;
    }
    size_t n = t->n_vocab;
    /* defaults per type, as llama.cpp; then the metadata */
    bool def_bos = t->kind != MAST_TOK_BPE;
    t->bos = t->kind == MAST_TOK_SPM ? 1 : -1;
    t->eos = t->kind == MAST_TOK_SPM ? 2 : -1;
    t->unk = t->kind == MAST_TOK_SPM ? 0 : -1;
    if ((size_t)t->bos >= n)
        t->bos = -1;
    if ((size_t)t->eos >= n)
        t->eos = -1;
    t->bos = get_id(g, "tokenizer.ggml.bos_token_id", t->bos, n);
    t->eos = get_id(g, "tokenizer.ggml.eos_token_id", t->eos, n);
    t->unk = get_id(g, "tokenizer.ggml.unknown_token_id", t->unk, n);
    t->sep = get_id(g, "tokenizer.ggml.seperator_token_id", -1, n);
    t->pad = get_id(g, "tokenizer.ggml.padding_token_id", -1, n);
    t->cls = get_id(g, "tokenizer.ggml.cls_token_id", -1, n);
    t->eot = get_id(g, "tokenizer.ggml.eot_token_id", -1, n);
    if (t->kind == MAST_TOK_WPM && t->cls >= 0)
        t->bos = t->cls;
    t->add_space_prefix = get_flag(g, "tokenizer.ggml.add_space_prefix", t->kind == MAST_TOK_SPM);
    for (int b = 0; b < 256; b++)
        t->byte_token[b] = -1;
    if (t->kind == MAST_TOK_SPM) {
        for (int b = 0; b < 256; b++) {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", b);
            t->byte_token[b] = tok_find(t, name, 6);
        }
    } else if (t->kind == MAST_TOK_BPE) {
        mast_gguf_str pre = {"default", 7};
        mast_gguf_get_str(g, "tokenizer.ggml.pre", &pre);
        st = load_merges(t, g);
        if (st == MAST_OK)
            st = mast_bpe_init(t, pre.data, pre.len, g->path);
        def_bos = t->add_bos;   /* set by the pre-tokenizer family */
        for (int b = 0; b < 256 && st == MAST_OK; b++) {
            char u[4];
            uint32_t cp = mast_bpe_byte_to_cp((uint8_t)b);
            size_t k = cp < 0x80 ? 1 : 2;
            if (k == 1)
                u[0] = (char)cp;
            else {
                u[0] = (char)(0xC0 | (cp >> 6));
                u[1] = (char)(0x80 | (cp & 0x3F));
            }
            t->byte_token[b] = tok_find(t, u, k);
        }
    }
    if (st != MAST_OK) {
        mast_tokenizer_free(t);
        return st;
    }
    t->add_bos = get_flag(g, "tokenizer.ggml.add_bos_token", def_bos);
    t->add_eos = get_flag(g, "tokenizer.ggml.add_eos_token", t->kind == MAST_TOK_WPM);
    if (t->kind == MAST_TOK_WPM && t->sep >= 0)
        t->eos = t->sep;
    st = build_pieces(t);
    if (st != MAST_OK) {
        mast_tokenizer_free(t);
        return st;
    }
    *out = t;
    return MAST_OK;
}

/* ---- special tokens ---- */

typedef struct fragment {
    int32_t token;            /* -1: raw text */
    size_t off, len;
} fragment;

typedef struct fragments {
    fragment *items;
    size_t n, cap;
} fragments;

static mast_status frag_insert(fragments *f, size_t at, fragment x)
{
    if (!mast_grow_array((void **)&f->items, &f->cap, f->n + 1, sizeof *f->items))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    memmove(f->items + at + 1, f->items + at, (f->n - at) * sizeof *f->items);
    f->items[at] = x;
    f->n++;
    return MAST_OK;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Splits raw fragments around every occurrence of the special tokens,
** longest tokens first (llama.cpp's tokenizer_st_partition). */
static mast_status partition(const mast_tokenizer *t, const char *text, size_t len,
                             bool parse_special, fragments *f)
{
    /* bytes present in the text: a token whose first byte is absent cannot
    ** occur, which skips the scan for almost every special token */
    uint8_t present[256] = {0};
    for (size_t i = 0; i < len; i++)
        present[(unsigned char)text[i]] = 1;
    for (size_t s = 0; s < t->n_specials; s++) {
        int32_t id = t->specials[s];
        if (!parse_special && t->types[id] != MAST_TOKEN_USER_DEFINED)
            continue;
        const char *tt = tok_text(t, id);
        size_t tl = t->len[id];
        if (!present[(unsigned char)tt[0]])
            continue;
        for (size_t i = 0; i < f->n; i++) {
            if (f->items[i].token >= 0 || f->items[i].len < tl)
                continue;
            const char *start = text + f->items[i].off;
            const char *hit = memmem(start, f->items[i].len, tt, tl);
            if (!hit)
                continue;
            size_t before = (size_t)(hit - start), end = f->items[i].off + f->items[i].len;
            fragment left = {-1, f->items[i].off, before};
            fragment tok = {id, 0, 0};
            fragment right = {-1, f->items[i].off + before + tl, end - (f->items[i].off + before + tl)};
            if (t->strip[id] & STRIP_LEFT)
                while (left.len && is_space(text[left.off + left.len - 1]))
                    left.len--;
            if (t->strip[id] & STRIP_RIGHT)
                while (right.len && is_space(text[right.off])) {
                    right.off++;
                    right.len--;
                }
            f->items[i] = tok;
            if (right.len)
                MAST_TRY(frag_insert(f, i + 1, right));
            if (left.len) {
                MAST_TRY(frag_insert(f, i, left));
                i++;   /* now at the token; the right part is examined next */
            }
        }
    }
    return MAST_OK;
}

mast_status mast_tokenize(const mast_tokenizer *t, const char *text, size_t len, bool add_special,
                          bool parse_special, mast_tokens *out)
{
    fragments f = {0};
    mast_status st = MAST_OK;
    if (len)
        st = frag_insert(&f, 0, (fragment){-1, 0, len});
    if (st == MAST_OK)
        st = partition(t, text, len, parse_special, &f);
    if (st == MAST_OK && add_special && t->add_bos && t->bos >= 0)
        st = mast_tokens_push(out, t->bos);
    bool prev_special = true;   /* SPM: a space goes before text that starts the input */
    mast_buf spm = {0};
    for (size_t i = 0; i < f.n && st == MAST_OK; i++) {
        fragment *fr = &f.items[i];
        if (fr->token >= 0) {
            st = mast_tokens_push(out, fr->token);
            prev_special = true;
            continue;
        }
        const char *s = text + fr->off;
        switch (t->kind) {
        case MAST_TOK_SPM:
            mast_buf_clear(&spm);
            if (t->add_space_prefix && prev_special)
                st = mast_buf_putc(&spm, ' ');
            if (st == MAST_OK)
                st = mast_buf_append(&spm, s, fr->len);
            if (st == MAST_OK)
                st = mast_spm_encode(t, spm.data, spm.len, out);
            break;
        case MAST_TOK_BPE: st = mast_bpe_encode(t, s, fr->len, out); break;
        case MAST_TOK_WPM: st = mast_wpm_encode(t, s, fr->len, out); break;
        }
        prev_special = false;
    }
    if (st == MAST_OK && add_special && t->add_eos && t->eos >= 0)
        st = mast_tokens_push(out, t->eos);
    mast_buf_free(&spm);
    free(f.items);
    return st;
}

/* ---- decoding ---- */

static mast_status append_unescaped(mast_buf *out, const char *s, size_t n)
{
    /* "▁" (U+2581, e2 96 81) -> ' ' */
    for (size_t i = 0; i < n;) {
        if (i + 2 < n && (unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x96 &&
            (unsigned char)s[i + 2] == 0x81) {
            MAST_TRY(mast_buf_putc(out, ' '));
            i += 3;
        } else {
            MAST_TRY(mast_buf_putc(out, s[i]));
            i++;
        }
    }
    return MAST_OK;
}

/* Every token's output bytes (mast_token_to_piece without specials), for
** the grammar's per-step checks. */
static mast_status build_pieces(mast_tokenizer *t)
{
    mast_buf b = {0};
    if (!(t->piece_off = malloc((t->n_vocab + 1) * sizeof *t->piece_off)))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < t->n_vocab; i++) {
        t->piece_off[i] = (uint32_t)b.len;
        MAST_TRY(mast_token_to_piece(t, (int32_t)i, false, &b));
    }
    t->piece_off[t->n_vocab] = (uint32_t)b.len;
    if (!b.data && mast_buf_putc(&b, '\0') != MAST_OK)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    t->pieces = mast_buf_detach(&b);
    return MAST_OK;
}

static int cmp_piece(const void *a, const void *b, void *tok)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    size_t lx, ly;
    const char *px = mast_tokenizer_piece(tok, x, &lx), *py = mast_tokenizer_piece(tok, y, &ly);
    int c = memcmp(px, py, lx < ly ? lx : ly);
    return c ? c : lx < ly ? -1 : lx > ly ? 1 : x < y ? -1 : x > y;
}

static mast_sorted_vocab *build_sorted(const mast_tokenizer *t)
{
    mast_sorted_vocab *v = calloc(1, sizeof *v);
    size_t cap = t->n_vocab ? t->n_vocab : 1;
    if (!v || !(v->ids = malloc(cap * sizeof *v->ids)) || !(v->lcp = malloc(cap * sizeof *v->lcp)) ||
        !(v->eog = malloc(cap * sizeof *v->eog))) {
        if (v) {
            free(v->ids);
            free(v->lcp);
        }
        free(v);
        return NULL;
    }
    size_t len;
    for (size_t i = 0; i < t->n_vocab; i++) {
        if (mast_tokenizer_is_eog(t, (int32_t)i))
            v->eog[v->n_eog++] = (int32_t)i;
        else if (mast_tokenizer_piece(t, (int32_t)i, &len) && len)
            v->ids[v->n++] = (int32_t)i;
    }
    qsort_r(v->ids, v->n, sizeof *v->ids, cmp_piece, (void *)t);
    size_t la = 0;
    const char *a = "";
    for (size_t i = 0, b = 0; i < v->n; i++) {
        size_t lb;
        const char *p = mast_tokenizer_piece(t, v->ids[i], &lb);
        uint32_t c = 0;
        while (c < la && c < lb && a[c] == p[c])
            c++;
        v->lcp[i] = c;
        for (; b <= (unsigned char)p[0]; b++)
            v->first[b] = (uint32_t)i;
        a = p;
        la = lb;
    }
    for (int b = 0; b < 257; b++)   /* the first bytes no piece begins with: empty runs */
        if (b == 256 || !v->n || (unsigned char)mast_tokenizer_piece(t, v->ids[v->n - 1], &len)[0] < b)
            v->first[b] = (uint32_t)v->n;
    return v;
}

const mast_sorted_vocab *mast_tokenizer_sorted(const mast_tokenizer *ct)
{
    mast_tokenizer *t = (mast_tokenizer *)ct;   /* a cache filled once, under its mutex */
    pthread_mutex_lock(&t->sorted_mu);
    if (!t->sorted)
        t->sorted = build_sorted(t);
    pthread_mutex_unlock(&t->sorted_mu);
    return t->sorted;
}

const char *mast_tokenizer_piece(const mast_tokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || (size_t)id >= t->n_vocab) {
        *len = 0;
        return "";
    }
    *len = t->piece_off[id + 1] - t->piece_off[id];
    return t->pieces + t->piece_off[id];
}

mast_status mast_token_to_piece(const mast_tokenizer *t, int32_t id, bool special, mast_buf *out)
{
    if (id < 0 || (size_t)id >= t->n_vocab)
        return mast_fail(MAST_ERR_INVALID, "token id %d is outside the vocabulary (0..%zu)", id,
                         t->n_vocab - 1);
    const char *s = tok_text(t, id);
    size_t n = t->len[id];
    int32_t type = t->types[id];
    if (type == MAST_TOKEN_CONTROL || type == MAST_TOKEN_UNKNOWN)
        return special ? mast_buf_append(out, s, n) : MAST_OK;
    if (type == MAST_TOKEN_USER_DEFINED)
        return mast_buf_append(out, s, n);
    switch (t->kind) {
    case MAST_TOK_SPM:
        if (type == MAST_TOKEN_BYTE && n == 6) {
            unsigned v;
            if (sscanf(s, "<0x%02X>", &v) == 1)
                return mast_buf_putc(out, (char)v);
        }
        return append_unescaped(out, s, n);
    case MAST_TOK_WPM:
        return append_unescaped(out, s, n);
    case MAST_TOK_BPE:
        for (size_t i = 0; i < n;) {
            int32_t cp;
            size_t k = mast_utf8_decode(s + i, n - i, &cp);
            int b = cp >= 0 ? mast_bpe_cp_to_byte((uint32_t)cp) : -1;
            MAST_TRY(b >= 0 ? mast_buf_putc(out, (char)b) : mast_buf_append(out, s + i, k));
            i += k;
        }
        return MAST_OK;
    }
    return MAST_OK;
}

mast_status mast_detokenize(const mast_tokenizer *t, const int32_t *ids, size_t n, bool special,
                            mast_buf *out)
{
    size_t start = out->len;
    for (size_t i = 0; i < n; i++) {
        if (t->kind == MAST_TOK_WPM && (ids[i] == t->bos || ids[i] == t->eos) && !special)
            continue;
        MAST_TRY(mast_token_to_piece(t, ids[i], special, out));
    }
    /* SPM and WordPiece pieces carry a leading space for each word */
    if ((t->kind == MAST_TOK_SPM && t->add_space_prefix) || t->kind == MAST_TOK_WPM) {
        if (out->len > start && out->data[start] == ' ') {
            memmove(out->data + start, out->data + start + 1, out->len - start - 1);
            out->len--;
            out->data[out->len] = '\0';
        }
    }
    return MAST_OK;
}

mast_tok_kind mast_tokenizer_kind(const mast_tokenizer *t) { return t->kind; }
size_t mast_tokenizer_n_vocab(const mast_tokenizer *t) { return t->n_vocab; }
bool mast_tokenizer_adds_bos(const mast_tokenizer *t)
{
    return t->add_bos && t->bos >= 0;
}

int32_t mast_tokenizer_bos(const mast_tokenizer *t) { return t->bos; }
int32_t mast_tokenizer_eos(const mast_tokenizer *t) { return t->eos; }

bool mast_tokenizer_is_eog(const mast_tokenizer *t, int32_t id)
{
    if (id < 0 || (size_t)id >= t->n_vocab)
        return false;
    return id == t->eos || id == t->eot || t->eog[id];
}

const char *mast_tokenizer_text(const mast_tokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || (size_t)id >= t->n_vocab)
        return NULL;
    *len = t->len[id];
    return tok_text(t, id);
}
