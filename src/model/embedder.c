/*
** model/embedder.c — dispatch of the embedder interface (see embedder.h).
*/
#include "model/embedder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/pool.h"
#include "base/status.h"
#include "model/bert.h"
#include "model/gguf.h"
#include "model/static_vectors.h"
#include "model/tokenizer.h"

#define EMBED_BATCH_TOKENS 1024

struct mast_embedder {
    mast_gguf *gguf;
    mast_pool *pool;
    mast_tokenizer *tok;     /* bert */
    mast_bert *bert;
    mast_static *vectors;    /* mast-static */
    int dim;
    char id[192];
};

mast_status mast_embedder_open(mast_embedder **out, const char *path, int n_threads)
{
    *out = NULL;
    mast_embedder *e = calloc(1, sizeof *e);
    if (!e)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_status st = mast_gguf_open(&e->gguf, path);
    mast_gguf_str arch = {"", 0}, name = {"", 0};
    if (st == MAST_OK && mast_gguf_get_str(e->gguf, "general.architecture", &arch) != MAST_OK)
        st = mast_fail(MAST_ERR_FORMAT, "%s: no general.architecture", path);
    if (st == MAST_OK && arch.len == 4 && memcmp(arch.data, "bert", 4) == 0) {
        st = mast_tokenizer_load(&e->tok, e->gguf);
        if (st == MAST_OK)
            st = mast_bert_load(&e->bert, e->gguf);
        if (st == MAST_OK) {
            e->dim = mast_bert_dim(e->bert);
            st = mast_pool_create(&e->pool, n_threads);
        }
    } else if (st == MAST_OK && arch.len == 11 && memcmp(arch.data, "mast-static", 11) == 0) {
        st = mast_static_load(&e->vectors, e->gguf);
        if (st == MAST_OK)
            e->dim = mast_static_dim(e->vectors);
    } else if (st == MAST_OK) {
        st = mast_fail(MAST_ERR_UNSUPPORTED, "%s: architecture '%.*s' is not an embedding model "
                       "(bert or mast-static)", path, (int)arch.len, arch.data);
    }
    if (st != MAST_OK) {
        mast_embedder_free(e);
        return st;
    }
    if (mast_gguf_get_str(e->gguf, "general.name", &name) != MAST_OK) {
        const char *base = strrchr(path, '/');
        name.data = base ? base + 1 : path;
        name.len = strlen(name.data);
    }
    snprintf(e->id, sizeof e->id, "%.*s:%.*s:%d", (int)(name.len < 120 ? name.len : 120),
             name.data, (int)arch.len, arch.data, e->dim);
    *out = e;
    return MAST_OK;
}

void mast_embedder_free(mast_embedder *e)
{
    if (!e)
        return;
    mast_bert_free(e->bert);
    mast_static_free(e->vectors);
    mast_tokenizer_free(e->tok);
    mast_pool_free(e->pool);
    mast_gguf_close(e->gguf);
    free(e);
}

int mast_embedder_dim(const mast_embedder *e) { return e->dim; }
const char *mast_embedder_id(const mast_embedder *e) { return e->id; }
bool mast_embedder_default_normalize(const mast_embedder *e) { (void)e; return true; }

mast_status mast_embedder_embed(mast_embedder *e, const char *const *texts, size_t n,
                                bool normalize, float *out, size_t *n_truncated)
{
    if (n_truncated)
        *n_truncated = 0;
    if (e->vectors)
        return mast_static_embed(e->vectors, texts, n, normalize, out);
    mast_tokens *ids = calloc(n ? n : 1, sizeof *ids);
    const int32_t **seqs = calloc(n ? n : 1, sizeof *seqs);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    mast_status st = ids && seqs && lens ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && st == MAST_OK; i++) {
        st = mast_tokenize(e->tok, texts[i], strlen(texts[i]), true, false, &ids[i]);
        seqs[i] = ids[i].ids;
        lens[i] = ids[i].n;
    }
    size_t truncated = 0;
    if (st == MAST_OK)
        st = mast_embedder_embed_ids(e, seqs, lens, n, normalize, out, &truncated);
    if (n_truncated)
        *n_truncated = truncated;
    for (size_t i = 0; ids && i < n; i++)
        mast_tokens_free(&ids[i]);
    free(ids);
    free(seqs);
    free(lens);
    return st;
}

mast_status mast_embedder_embed_ids(mast_embedder *e, const int32_t *const *seqs, const size_t *lens,
                                    size_t n, bool normalize, float *out, size_t *n_truncated)
{
    if (n_truncated)
        *n_truncated = 0;
    if (!e->bert)
        return mast_fail(MAST_ERR_UNSUPPORTED, "%s: static word vectors take text, not token ids",
                         e->id);
    size_t vocab = mast_tokenizer_n_vocab(e->tok);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < lens[i]; k++)
            if (seqs[i][k] < 0 || (size_t)seqs[i][k] >= vocab)
                return mast_fail(MAST_ERR_INVALID, "input %zu: token %d is outside the vocabulary "
                                 "(0..%zu)", i, seqs[i][k], vocab - 1);
    /* batches of at most EMBED_BATCH_TOKENS keep the activations in cache;
    ** results do not depend on the batching (see mast_bert_embed) */
    size_t done = 0, truncated = 0;
    mast_status st = MAST_OK;
    while (st == MAST_OK && done < n) {
        size_t end = done, tokens = 0;
        while (end < n && (end == done || tokens + lens[end] <= EMBED_BATCH_TOKENS))
            tokens += lens[end++];
        size_t t = 0;
        st = mast_bert_embed(e->bert, e->pool, seqs + done, lens + done, end - done,
                             normalize, out + done * (size_t)e->dim, NULL, &t);
        truncated += t;
        done = end;
    }
    if (n_truncated)
        *n_truncated = truncated;
    return st;
}

bool mast_embedder_has_tokenizer(const mast_embedder *e)
{
    return e->tok != NULL;
}

bool mast_embedder_text_tokens(const mast_embedder *e, const char *text, size_t len, size_t *n)
{
    mast_tokens ids = {0};
    if (!e->tok || mast_tokenize(e->tok, text, len, false, false, &ids) != MAST_OK) {
        mast_tokens_free(&ids);
        mast_clear_error();
        return false;
    }
    *n = ids.n;
    mast_tokens_free(&ids);
    return true;
}

size_t mast_embedder_count_tokens(const mast_embedder *e, const char *text)
{
    if (!e->tok) {   /* static vectors: words */
        size_t n = 0;
        for (const char *p = text; *p;) {
            while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                p++;
            if (!*p)
                break;
            n++;
            while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
                p++;
        }
        return n;
    }
    mast_tokens ids = {0};
    size_t n = mast_tokenize(e->tok, text, strlen(text), true, false, &ids) == MAST_OK ? ids.n : 0;
    mast_tokens_free(&ids);
    return n;
}
