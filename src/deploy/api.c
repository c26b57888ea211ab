/*
** deploy/api.c — the data API's JSON, read once and written once (see api.h).
*/
#include "deploy/api.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"
#include "base/status.h"
#include "data/collection.h"
#include "data/vindex/vindex.h"

/* ---- writing ---- */

json_t *mast_api_results(const mast_result *results, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, mast_result_to_json(&results[i]));
    return arr;
}

json_t *mast_api_answer(const mast_answer *a)
{
    json_t *cites = json_array();
    for (size_t i = 0; i < a->n_sources; i++) {
        json_t *c = mast_result_to_json(&a->sources[i]);
        json_object_set_new(c, "n", json_integer((json_int_t)i + 1));
        json_array_append_new(cites, c);
    }
    json_t *out = json_object();
    json_object_set_new(out, "answer", mast_json_string_lossy(a->answer));
    json_object_set_new(out, "citations", cites);
    json_object_set_new(out, "extractive", json_boolean(a->extractive));
    json_object_set_new(out, "note", json_string(a->note ? a->note : ""));
    return out;
}

json_t *mast_api_document(const mast_document *d, const mast_document_list *with_chunks)
{
    json_t *meta = json_loads(d->metadata ? d->metadata : "{}", 0, NULL);
    if (!json_is_object(meta)) {
        json_decref(meta);
        meta = json_object();
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", mast_json_string_lossy(d->id));
    json_object_set_new(o, "doc_id", json_integer((json_int_t)d->doc_id));
    json_object_set_new(o, "source", mast_json_string_lossy(d->source));
    json_object_set_new(o, "title", mast_json_string_lossy(d->title));
    json_object_set_new(o, "metadata", meta);
    json_object_set_new(o, "content_hash", json_string(d->content_hash));
    json_object_set_new(o, "chunks", json_integer((json_int_t)d->n_chunks));
    json_object_set_new(o, "tokens", json_integer((json_int_t)d->n_tokens));
    json_object_set_new(o, "vectors", json_integer((json_int_t)d->n_vectors));
    json_object_set_new(o, "created_at", json_integer((json_int_t)d->created_at));
    json_object_set_new(o, "updated_at", json_integer((json_int_t)d->updated_at));
    if (with_chunks) {
        json_t *list = json_array();
        for (size_t i = 0; i < mast_document_chunk_count(with_chunks); i++) {
            const mast_stored_chunk *c = mast_document_chunk_at(with_chunks, i);
            json_t *chunk = json_pack("{s:I, s:i, s:i, s:o, s:o}", "id", (json_int_t)c->chunk_id,
                                      "ordinal", c->ordinal, "tokens", c->n_tokens, "heading",
                                      mast_json_string_lossy(c->heading), "text",
                                      mast_json_string_lossy(c->text));
            if (c->page_start > 0) {
                json_object_set_new(chunk, "page_start", json_integer(c->page_start));
                json_object_set_new(chunk, "page_end", json_integer(c->page_end));
            }
            json_array_append_new(list, chunk);
        }
        json_object_set_new(o, "chunk_list", list);
    }
    return o;
}

json_t *mast_api_document_list(const mast_document_list *l, int64_t limit, int64_t offset)
{
    json_t *data = json_array();
    for (size_t i = 0; i < mast_document_list_count(l); i++)
        json_array_append_new(data, mast_api_document(mast_document_list_at(l, i), NULL));
    return json_pack("{s:s, s:o, s:I, s:I, s:I}", "object", "list", "data", data, "total",
                     (json_int_t)mast_document_list_total(l), "limit", (json_int_t)limit, "offset",
                     (json_int_t)offset);
}

static json_t *vindex_json(const char *path)
{
    mast_vindex *v;
    uint64_t dv;
    if (!path || mast_vindex_open(path, &v, &dv) != MAST_OK) {
        mast_clear_error();
        return json_null();
    }
    const mast_vindex_params *p = mast_vindex_params_of(v);
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I}", "file", path, "type",
                          p->type == MAST_VINDEX_HNSW ? "hnsw" : "flat", "metric",
                          mast_metric_name(p->metric), "dim", p->dim, "vectors",
                          (json_int_t)mast_vindex_count(v), "deleted",
                          (json_int_t)mast_vindex_deleted(v), "memory_bytes",
                          (json_int_t)mast_vindex_memory(v), "data_version", (json_int_t)dv);
    mast_vindex_free(v);
    return o;
}

static json_t *tindex_json(mast_store *store, int64_t id)
{
    mast_bm25_info info;
    uint64_t dv;
    char *path = mast_retrieve_tindex_path(store, id);
    json_t *o = json_null();
    if (path && mast_index_text_info(store, id, &info, &dv) == MAST_OK)
        o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "file", path, "segments",
                      (json_int_t)info.segments, "chunks", (json_int_t)info.chunks, "deleted",
                      (json_int_t)info.deleted, "postings", (json_int_t)info.postings, "bytes",
                      (json_int_t)info.bytes, "data_version", (json_int_t)dv);
    mast_clear_error();
    free(path);
    return o;
}

json_t *mast_api_index(mast_store *store, int64_t collection_id)
{
    char *vpath = mast_retrieve_vindex_path(store, collection_id);
    json_t *o = json_pack("{s:o, s:o}", "text", tindex_json(store, collection_id), "vectors",
                          vindex_json(vpath));
    free(vpath);
    return o;
}

json_t *mast_api_collection(const mast_collection *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(c->name));
    json_object_set_new(o, "documents", json_integer((json_int_t)c->n_documents));
    json_object_set_new(o, "chunks", json_integer((json_int_t)c->n_chunks));
    json_object_set_new(o, "created_at", json_integer((json_int_t)c->created_at));
    json_object_set_new(o, "data_version", json_integer((json_int_t)c->data_version));
    json_object_set_new(o, "embed_model", c->embed_model ? mast_json_string_lossy(c->embed_model)
                                                         : json_null());
    json_object_set_new(o, "language", json_string(c->language ? c->language : "english"));
    json_object_set_new(o, "vectors", c->vector_dim ? json_pack("{s:i, s:s}", "dim", c->vector_dim,
                                                                "metric", c->metric ? c->metric : "cos")
                                                    : json_null());
    return o;
}

mast_status mast_api_collections(mast_store *store, const char *only, json_t **out)
{
    *out = NULL;
    mast_collection_list *l;
    int64_t id = 0;
    if (only)
        MAST_TRY(mast_store_collection_find(store, only, &id));
    MAST_TRY(mast_collection_list_get(store, &l));
    json_t *arr = json_array();
    for (size_t i = 0; i < mast_collection_list_count(l); i++) {
        const mast_collection *c = mast_collection_list_at(l, i);
        if (!only) {
            json_array_append_new(arr, mast_api_collection(c));
        } else if (strcmp(c->name, only) == 0) {
            json_t *o = mast_api_collection(c);
            json_object_set_new(o, "index", mast_api_index(store, id));
            json_decref(arr);
            arr = o;
            break;
        }
    }
    mast_collection_list_free(l);
    *out = arr;
    return MAST_OK;
}

/* ---- reading ---- */

mast_status mast_api_vector(const json_t *v, const char *what, float **out, size_t *dim)
{
    return mast_json_vector(v, what, MAST_MAX_VECTOR_DIM, out, dim);
}

static mast_status parse_filter(const json_t *fv, mast_api_search *s)
{
    if (!fv || json_is_null(fv))
        return MAST_OK;
    if (json_is_string(fv))
        return mast_filter_parse(json_string_value(fv), &s->filter, &s->owned);
    if (!json_is_object(fv) || json_object_size(fv) != 1)
        return mast_fail(MAST_ERR_INVALID,
                         "\"filter\" must be {\"key\": \"value\"} (one member) or \"key=value\"");
    void *it = json_object_iter((json_t *)fv);
    json_t *val = json_object_iter_value(it);
    s->filter.key = json_object_iter_key(it);
    if (json_is_string(val)) {
        s->filter.value = json_string_value(val);
    } else if (json_is_integer(val)) {
        snprintf(s->number, sizeof s->number, "%" JSON_INTEGER_FORMAT, json_integer_value(val));
        s->filter.value = s->number;
    } else {
        return mast_fail(MAST_ERR_INVALID, "\"filter\" values must be strings or integers");
    }
    return MAST_OK;
}

static mast_status number_field(const json_t *body, const char *key, double *out)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return MAST_OK;
    if (!json_is_number(v))
        return mast_fail(MAST_ERR_INVALID, "\"%s\" must be a number", key);
    *out = json_number_value(v);
    return MAST_OK;
}

static mast_status enum_field(const json_t *body, const char *key, const char *allowed,
                              int (*parse)(const char *), int *out)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return MAST_OK;
    int parsed = json_is_string(v) ? parse(json_string_value(v)) : -1;
    if (parsed < 0)
        return mast_fail(MAST_ERR_INVALID, "\"%s\" must be %s", key, allowed);
    *out = parsed;
    return MAST_OK;
}

mast_status mast_api_search_parse(const json_t *body, mast_api_search *s)
{
    static const char *const fields[] = {"query", "vector", "k", "mode", "fusion", "alpha",
                                         "normalize", "rrf_k", "title_weight", "filter",
                                         "expand", NULL};
    memset(s, 0, sizeof *s);
    s->k = MAST_DEFAULT_K;
    s->opts = MAST_SEARCH_OPTS_DEFAULT;
    MAST_TRY(mast_json_check_fields(body, fields, "request body"));
    json_t *q = json_object_get(body, "query"), *vec = json_object_get(body, "vector");
    if (q && !json_is_null(q)) {
        if (!json_is_string(q) || json_string_length(q) == 0)
            return mast_fail(MAST_ERR_INVALID, "\"query\" must be a non-empty string");
        s->query = json_string_value(q);
    }
    if (vec && !json_is_null(vec))
        MAST_TRY(mast_api_vector(vec, "vector", &s->vector, &s->vector_dim));
    if (!s->query && !s->vector)
        return mast_fail(MAST_ERR_INVALID, "give \"query\" (a string) or \"vector\" (numbers), "
                         "or both");
    json_t *k = json_object_get(body, "k");
    if (k && !json_is_null(k)) {
        if (!json_is_integer(k) || json_integer_value(k) < 1 || json_integer_value(k) > MAST_MAX_K)
            return mast_fail(MAST_ERR_INVALID, "\"k\" must be an integer from 1 to %d", MAST_MAX_K);
        s->k = (size_t)json_integer_value(k);
    }
    int mode = MAST_MODE_AUTO, method = MAST_FUSION_RRF, norm = MAST_NORM_MINMAX;
    MAST_TRY(enum_field(body, "mode", "bm25, dense, hybrid or auto", mast_search_mode_parse, &mode));
    MAST_TRY(enum_field(body, "fusion", "rrf or convex", mast_fusion_method_parse, &method));
    MAST_TRY(enum_field(body, "normalize", "minmax or zscore", mast_fusion_norm_parse, &norm));
    s->opts.mode = (mast_search_mode)mode;
    s->opts.fusion.method = (mast_fusion_method)method;
    s->opts.fusion.norm = (mast_fusion_norm)norm;
    MAST_TRY(number_field(body, "alpha", &s->opts.fusion.alpha));
    MAST_TRY(number_field(body, "rrf_k", &s->opts.fusion.rrf_k));
    MAST_TRY(number_field(body, "title_weight", &s->opts.title_weight));
    MAST_TRY(parse_filter(json_object_get(body, "filter"), s));
    json_t *x = json_object_get(body, "expand");
    if (json_is_string(x) && strcmp(json_string_value(x), "section") == 0)
        s->opts.expand = MAST_EXPAND_SECTION;
    else if (json_is_integer(x) && json_integer_value(x) >= 0 &&
             json_integer_value(x) <= MAST_EXPAND_MAX)
        s->opts.expand = (int)json_integer_value(x);
    else if (x && !json_is_null(x))
        return mast_fail(MAST_ERR_INVALID, "\"expand\" must be an integer from 0 to %d (chunks "
                         "either side) or \"section\"", MAST_EXPAND_MAX);
    s->opts.filter = &s->filter;
    s->opts.query_vector = s->vector;
    s->opts.query_vector_dim = s->vector_dim;
    return MAST_OK;
}

void mast_api_search_free(mast_api_search *s)
{
    free(s->vector);
    free(s->owned);
    s->vector = NULL;
    s->owned = NULL;
}

mast_status mast_api_document_parse(const json_t *obj, mast_doc_input *out, char **metadata,
                                    float **vector)
{
    static const char *const fields[] = {"id", "text", "title", "metadata", "vector", NULL};
    memset(out, 0, sizeof *out);
    *metadata = NULL;
    *vector = NULL;
    if (!json_is_object(obj))
        return mast_fail(MAST_ERR_INVALID, "a document must be a JSON object");
    json_t *id = json_object_get(obj, "id");
    if (json_is_string(id))
        out->id = json_string_value(id);
    else
        return mast_fail(MAST_ERR_INVALID, "a document needs \"id\" (a non-empty string)");
    char what[96];
    snprintf(what, sizeof what, "document '%.64s'", out->id);
    MAST_TRY(mast_json_check_fields(obj, fields, what));
    const char *names[] = {"text", "title"};
    const char **slots[] = {&out->text, &out->title};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(obj, names[i]);
        if (v && !json_is_null(v) && !json_is_string(v))
            return mast_fail(MAST_ERR_INVALID, "document '%s': \"%s\" must be a string", out->id,
                             names[i]);
        *slots[i] = json_is_string(v) ? json_string_value(v) : NULL;
    }
    json_t *m = json_object_get(obj, "metadata");
    if (m && !json_is_null(m)) {
        if (!json_is_object(m))
            return mast_fail(MAST_ERR_INVALID, "document '%s': \"metadata\" must be an object",
                             out->id);
        if (!(*metadata = json_dumps(m, JSON_COMPACT)))
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        out->metadata = *metadata;
    }
    json_t *v = json_object_get(obj, "vector");
    if (v && !json_is_null(v)) {
        mast_status st = mast_api_vector(v, "vector", vector, &out->vector_dim);
        if (st != MAST_OK) {
            free(*metadata);
            *metadata = NULL;
            return mast_fail_prefix(st, "document '%s'", out->id);
        }
        out->vector = *vector;
    }
    return MAST_OK;
}
