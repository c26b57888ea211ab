/*
** data/ingest/put.c — storing one loaded document (chunked, embedded, in one
** transaction) for ingest and for callers that bring documents themselves:
** the HTTP API and the C API (see ingest.h).
*/
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/hash.h"
#include "base/status.h"
#include "base/utf8.h"
#include "data/collection.h"
#include "data/dedup.h"
#include "data/ingest/ingest_impl.h"

int mast_is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\f' &&
            s[i] != '\v')
            return 0;
    return 1;
}

/* Chunk budgets in the embedding model's own tokens (its tokenizer, without
** special tokens), else the estimate. */
static size_t model_tokens(void *ctx, const char *text, size_t len)
{
    size_t n;
    return mast_embedder_text_tokens(ctx, text, len, &n) ? n : mast_estimate_tokens(NULL, text, len);
}

void mast_doc_minhash(const mast_doc *doc, mast_minhash *m)
{
    mast_minhash_begin(m);
    for (size_t i = 0; i < doc->n_blocks; i++)
        mast_minhash_add(m, doc->blocks[i].text, doc->blocks[i].len);
    mast_minhash_end(m);
}

/* Chunks doc, embeds the chunks with `embedder` (or gives the one chunk the
** caller's `vector`) and stores it all in one transaction. */
mast_status mast_ingest_put_doc(mast_store *store, int64_t collection_id, mast_embedder *embedder,
                                const mast_chunk_opts *chunk_opts, const mast_doc_in *d_in,
                                mast_doc *doc, const float *vector, int vector_dim,
                                int64_t *doc_id, size_t *n_out)
{
    mast_chunk *chunks = NULL;
    size_t n_chunks = 0;
    if (vector) {   /* the caller's vector is the whole text's: one chunk */
        mast_buf all = {0};
        mast_status st = MAST_OK;
        for (size_t i = 0; i < doc->n_blocks && st == MAST_OK; i++) {
            if (i)
                st = mast_buf_puts(&all, "\n\n");
            if (st == MAST_OK)
                st = mast_buf_append(&all, doc->blocks[i].text, doc->blocks[i].len);
        }
        chunks = st == MAST_OK ? calloc(1, sizeof *chunks) : NULL;
        if (!chunks) {
            mast_buf_free(&all);
            return st == MAST_OK ? mast_fail(MAST_ERR_NOMEM, "out of memory") : st;
        }
        chunks[0].heading = strdup("");
        chunks[0].n_tokens = (int)mast_estimate_tokens(NULL, all.data ? all.data : "", all.len);
        chunks[0].text = all.data ? mast_buf_detach(&all) : strdup("");
        n_chunks = 1;
        if (!chunks[0].heading || !chunks[0].text) {
            mast_chunks_free(chunks, 1);
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        }
    } else {
        mast_chunk_opts o = *chunk_opts;
        if (embedder && !o.count && mast_embedder_has_tokenizer(embedder)) {
            o.count = model_tokens;   /* exact for the model that embeds the chunks */
            o.count_ctx = embedder;
        }
        MAST_TRY(mast_chunk_blocks(doc->blocks, doc->n_blocks, &o, &chunks, &n_chunks));
    }
    mast_chunk_in *in = calloc(n_chunks ? n_chunks : 1, sizeof *in);
    if (!in) {
        mast_chunks_free(chunks, n_chunks);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_chunks; i++)
        in[i] = (mast_chunk_in){chunks[i].text, chunks[i].n_tokens, chunks[i].heading, NULL,
                                chunks[i].page_start, chunks[i].page_end};
    mast_doc_in d = *d_in;
    float *vectors = NULL;
    mast_status st = MAST_OK;
    mast_minhash mh;
    if (!d.minhash) {   /* every stored document has its signature (mast dedup report) */
        mast_doc_minhash(doc, &mh);
        if (mh.n_shingles)
            d.minhash = mh.v;
    }
    if (vector) {
        in[0].vector = vector;
        d.embed_model = "";
        d.embed_dim = vector_dim;
    } else if (embedder && n_chunks) {
        /* vectors are computed before the transaction and stored in it */
        int dim = mast_embedder_dim(embedder);
        vectors = malloc(n_chunks * (size_t)dim * sizeof *vectors);
        char **texts = calloc(n_chunks, sizeof *texts);
        if (!vectors || !texts)
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n_chunks && st == MAST_OK; i++) {
            /* a contextual chunk header: the title and heading path are embedded with
            ** the text (as BM25 weights them in its title field); the stored text stays
            ** the source's slice */
            mast_buf b = {0};
            const char *t = doc->title ? doc->title : "", *h = chunks[i].heading;
            st = mast_buf_printf(&b, "%s%s%s%s%s", t, *t && *h ? " > " : "", h, *t || *h ? "\n" : "",
                                 chunks[i].text);
            texts[i] = mast_buf_detach(&b);
        }
        if (st == MAST_OK)
            st = mast_embedder_embed(embedder, (const char *const *)texts, n_chunks, true,
                                     vectors, NULL);
        for (size_t i = 0; texts && i < n_chunks; i++)
            free(texts[i]);
        free(texts);
        for (size_t i = 0; i < n_chunks && st == MAST_OK; i++)
            in[i].vector = vectors + i * (size_t)dim;
        d.embed_model = mast_embedder_id(embedder);
        d.embed_dim = dim;
    }
    if (st == MAST_OK)
        st = mast_store_doc_put(store, collection_id, &d, in, n_chunks, doc_id);
    free(vectors);
    free(in);
    mast_chunks_free(chunks, n_chunks);
    if (st == MAST_OK && n_out)
        *n_out = n_chunks;
    return st;
}

/* ---- one document from a caller ---- */

const char *mast_put_result_name(mast_put_result r)
{
    return r == MAST_PUT_CREATED ? "created" : r == MAST_PUT_UPDATED ? "updated" : "unchanged";
}

static mast_status check_doc_input(mast_store *store, int64_t collection_id,
                                   const mast_doc_input *in, const char *title, const char *text,
                                   mast_embedder *embedder)
{
    const char *id = in->id ? in->id : "";
    if (!*id)
        return mast_fail(MAST_ERR_INVALID, "a document needs a non-empty \"id\"");
    if (strlen(id) > MAST_MAX_DOC_ID_BYTES)
        return mast_fail(MAST_ERR_INVALID, "document id of %zu bytes is longer than the limit of "
                         "%d", strlen(id), MAST_MAX_DOC_ID_BYTES);
    if (!mast_utf8_valid(id, strlen(id), NULL) || !mast_utf8_valid(title, strlen(title), NULL) ||
        !mast_utf8_valid(text, strlen(text), NULL))
        return mast_fail(MAST_ERR_INVALID, "document '%s': not valid UTF-8", id);
    if (mast_is_blank(title, strlen(title)) && mast_is_blank(text, strlen(text)))
        return mast_fail(MAST_ERR_INVALID, "document '%s' has no title and no text", id);
    if (in->metadata) {
        json_t *m = json_loads(in->metadata, 0, NULL);
        int ok = json_is_object(m);
        json_decref(m);
        if (!ok)
            return mast_fail(MAST_ERR_INVALID, "document '%s': metadata must be a JSON object", id);
    }
    int dim;
    mast_metric metric;
    MAST_TRY(mast_collection_vectors(store, collection_id, &dim, &metric));
    if (in->vector && !dim)
        return mast_fail(MAST_ERR_INVALID, "document '%s' has a vector, but this collection %s", id,
                         embedder ? "computes its own with its embedding model"
                                  : "takes no vectors (create it with a dimension)");
    if (!in->vector && dim)
        return mast_fail(MAST_ERR_INVALID, "document '%s' needs a \"vector\" of %d numbers: "
                         "this collection takes its documents' own vectors", id, dim);
    if (in->vector && in->vector_dim != (size_t)dim)
        return mast_fail(MAST_ERR_INVALID, "document '%s': vector has %zu dimensions, the "
                         "collection's have %d", id, in->vector_dim, dim);
    double norm2 = 0;
    for (size_t i = 0; in->vector && i < in->vector_dim; i++) {
        if (!isfinite(in->vector[i]))
            return mast_fail(MAST_ERR_INVALID, "document '%s': vector value %zu is not a finite "
                             "number", id, i);
        norm2 += (double)in->vector[i] * in->vector[i];
    }
    if (in->vector && metric == MAST_METRIC_COS && norm2 == 0)
        return mast_fail(MAST_ERR_INVALID, "document '%s': a zero vector has no direction "
                         "(the collection's metric is cos)", id);
    return MAST_OK;
}

static void input_hash(const mast_doc_input *in, const char *title, const char *text,
                       const mast_chunk_opts *chunk, mast_embedder *embedder,
                       char out[MAST_HASH_HEX_LEN + 1])
{
    mast_hasher *h = mast_hasher_new();
    if (!h) {
        snprintf(out, MAST_HASH_HEX_LEN + 1, "unhashed");
        return;
    }
    const char *parts[] = {title, text, in->metadata ? in->metadata : "{}",
                           embedder ? mast_embedder_id(embedder) : ""};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        mast_hasher_add(h, parts[i], strlen(parts[i]) + 1);   /* with the NUL: no ambiguity */
    int32_t params[2] = {chunk && chunk->chunk_tokens > 0 ? chunk->chunk_tokens
                                                          : MAST_DEFAULT_CHUNK_TOKENS,
                         chunk ? chunk->overlap_tokens : 0};
    mast_hasher_add(h, params, sizeof params);
    if (in->vector)
        mast_hasher_add(h, in->vector, in->vector_dim * sizeof *in->vector);
    mast_hasher_hex(h, out);
}

mast_status mast_document_put(mast_store *store, int64_t collection_id, mast_embedder *embedder,
                              const mast_chunk_opts *chunk, const mast_doc_input *in,
                              mast_put_result *result, int64_t *doc_id, size_t *n_chunks)
{
    static const mast_chunk_opts default_chunk = {0};
    const char *title = in->title ? in->title : "", *text = in->text ? in->text : "";
    if (n_chunks)
        *n_chunks = 0;
    MAST_TRY(check_doc_input(store, collection_id, in, title, text, embedder));
    char hash[MAST_HASH_HEX_LEN + 1], old[MAST_HASH_HEX_LEN + 1];
    input_hash(in, title, text, chunk ? chunk : &default_chunk, embedder, hash);
    int64_t existing = 0;
    mast_status st = mast_store_doc_find(store, collection_id, in->id, &existing, old);
    if (st != MAST_OK && st != MAST_ERR_NOT_FOUND)
        return st;
    int exists = st == MAST_OK;
    mast_clear_error();
    if (exists && strcmp(old, hash) == 0) {
        *result = MAST_PUT_UNCHANGED;
        if (doc_id)
            *doc_id = existing;
        return MAST_OK;
    }
    /* a document is its title plus its text: a title alone is its text too */
    const char *body = mast_is_blank(text, strlen(text)) ? title : text;
    char *norm_text = NULL, *norm_title = NULL;
    size_t norm_len = 0, title_len = 0;
    mast_doc doc;
    mast_doc_init(&doc);
    st = mast_utf8_nfc(body, strlen(body), &norm_text, &norm_len);
    if (st == MAST_OK)
        st = mast_utf8_nfc(title, strlen(title), &norm_title, &title_len);
    if (st == MAST_OK)
        st = mast_load_text(&doc, norm_text, norm_len, norm_title);
    if (st == MAST_OK) {
        mast_doc_in d = {in->id, "", norm_title, in->metadata, hash, NULL, 0, NULL};
        int64_t id = 0;
        st = mast_ingest_put_doc(store, collection_id, embedder, chunk ? chunk : &default_chunk, &d, &doc,
                     in->vector, (int)in->vector_dim, &id, n_chunks);
        if (st == MAST_OK && doc_id)
            *doc_id = id;
    }
    mast_doc_free(&doc);
    free(norm_text);
    free(norm_title);
    if (st == MAST_OK)
        *result = exists ? MAST_PUT_UPDATED : MAST_PUT_CREATED;
    return st;
}
