/*
** data/collection.c — collection settings (see collection.h).
*/
#include "data/collection.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/status.h"
#include "data/textindex/analyzer.h"


/* The collection's config as a JSON object (never NULL on MAST_OK). */
static mast_status load_config(mast_store *store, int64_t id, json_t **out)
{
    char *config = NULL;
    MAST_TRY(mast_store_collection_config(store, id, &config));
    json_t *c = json_loads(config, 0, NULL);
    free(config);
    if (!json_is_object(c)) {
        json_decref(c);
        c = json_object();
    }
    *out = c;
    return c ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
}

/* the config's string at obj.key (caller frees), or NULL */
static mast_status config_string(mast_store *store, int64_t collection_id, const char *obj,
                                 const char *key, char **out)
{
    *out = NULL;
    json_t *c;
    MAST_TRY(load_config(store, collection_id, &c));
    const char *v = mast_json_get_str(obj ? json_object_get(c, obj) : c, key, NULL);
    mast_status st = v && !(*out = strdup(v)) ? mast_fail(MAST_ERR_NOMEM, "out of memory") : MAST_OK;
    json_decref(c);
    return st;
}

mast_status mast_collection_embed_model(mast_store *store, int64_t collection_id, char **path)
{
    return config_string(store, collection_id, "embed", "model", path);
}

mast_status mast_collection_language(mast_store *store, int64_t collection_id, char **language)
{
    return config_string(store, collection_id, NULL, "language", language);
}

/* Sets the config's `key` to `value` (a new reference, taken). */
static mast_status set_key(mast_store *store, int64_t id, const char *key, json_t *value)
{
    json_t *c;
    mast_status st = load_config(store, id, &c);
    if (st != MAST_OK) {
        json_decref(value);
        return st;
    }
    json_object_set_new(c, key, value);
    char *text = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    st = text ? mast_store_collection_set_config(store, id, text)
              : mast_fail(MAST_ERR_NOMEM, "out of memory");
    free(text);
    return st;
}

mast_status mast_collection_chunking(mast_store *store, int64_t collection_id, int *tokens,
                                     int *overlap)
{
    json_t *c;
    MAST_TRY(load_config(store, collection_id, &c));
    json_t *ch = json_object_get(c, "chunking");
    json_int_t t = json_integer_value(json_object_get(ch, "tokens")),
               o = json_integer_value(json_object_get(ch, "overlap"));
    *tokens = t > 0 && t < INT_MAX ? (int)t : 0;
    *overlap = o > 0 && o < INT_MAX ? (int)o : 0;
    json_decref(c);
    return MAST_OK;
}

mast_status mast_collection_set_chunking(mast_store *store, int64_t collection_id, int tokens,
                                         int overlap)
{
    int old_tokens, old_overlap;
    MAST_TRY(mast_collection_chunking(store, collection_id, &old_tokens, &old_overlap));
    if (old_tokens == tokens && old_overlap == overlap)
        return MAST_OK;
    return set_key(store, collection_id, "chunking",
                   json_pack("{s:i, s:i}", "tokens", tokens, "overlap", overlap));
}

mast_status mast_collection_set_language(mast_store *store, const char *collection,
                                         const char *language)
{
    mast_analyzer *a;
    MAST_TRY(mast_analyzer_open(&a, language));   /* refuses an unknown language first */
    mast_analyzer_free(a);
    int64_t id;
    MAST_TRY(mast_store_collection_ensure(store, collection, &id));
    return set_key(store, id, "language", json_string(language));
}

mast_status mast_collection_open_embedder(mast_store *store, int64_t collection_id,
                                          mast_embedder **out)
{
    return mast_collection_open_embedder_threads(store, collection_id, 0, out);
}

mast_status mast_collection_open_embedder_threads(mast_store *store, int64_t collection_id,
                                                  int n_threads, mast_embedder **out)
{
    *out = NULL;
    char *path;
    MAST_TRY(mast_collection_embed_model(store, collection_id, &path));
    if (!path)
        return MAST_OK;
    mast_status st = mast_embedder_open(out, path, n_threads);
    if (st != MAST_OK)
        mast_fail_prefix(st, "the collection's embedding model");
    free(path);
    return st;
}

mast_status mast_collection_set_embedder(mast_store *store, const char *collection,
                                         const char *model_path, int reembed)
{
    int64_t id;
    MAST_TRY(mast_store_collection_ensure(store, collection, &id));
    int own_dim;
    mast_metric own_metric;
    MAST_TRY(mast_collection_vectors(store, id, &own_dim, &own_metric));
    if (own_dim)
        return mast_fail(MAST_ERR_EXISTS, "collection '%s' takes its documents' own vectors "
                         "(%d dimensions); it cannot embed with a model as well", collection,
                         own_dim);
    char abs[PATH_MAX];
    if (!realpath(model_path, abs))
        return mast_fail(MAST_ERR_NOT_FOUND, "%s: model not found", model_path);
    mast_embedder *e;
    MAST_TRY(mast_embedder_open(&e, abs, 1));
    char *old = NULL;
    mast_status st = mast_collection_embed_model(store, id, &old);
    if (st == MAST_OK && old && strcmp(old, abs) != 0 && !reembed)
        st = mast_fail(MAST_ERR_EXISTS, "collection '%s' already embeds with %s; changing the model "
                       "re-embeds every chunk: pass --reembed", collection, old);
    char *config = NULL;
    if (st == MAST_OK)
        st = mast_store_collection_config(store, id, &config);
    json_t *c = st == MAST_OK ? json_loads(config, 0, NULL) : NULL;
    if (st == MAST_OK && !json_is_object(c)) {
        json_decref(c);
        c = json_object();
    }
    if (st == MAST_OK) {
        json_object_set_new(c, "embed", json_pack("{s:s, s:s, s:i}", "model", abs, "id",
                                                  mast_embedder_id(e), "dim", mast_embedder_dim(e)));
        char *text = json_dumps(c, JSON_COMPACT);
        st = mast_store_begin(store);
        if (st == MAST_OK && old && strcmp(old, abs) != 0)
            st = mast_store_clear_embeddings(store, id);
        if (st == MAST_OK)
            st = mast_store_collection_set_config(store, id, text);
        if (st == MAST_OK)
            st = mast_store_commit(store);
        else
            mast_store_rollback(store);
        free(text);
    }
    json_decref(c);
    free(config);
    free(old);
    mast_embedder_free(e);
    return st;
}

mast_status mast_collection_vectors(mast_store *store, int64_t collection_id, int *dim,
                                    mast_metric *metric)
{
    *dim = 0;
    *metric = MAST_METRIC_COS;
    json_t *c;
    MAST_TRY(load_config(store, collection_id, &c));
    json_t *v = json_object_get(c, "vectors");
    *dim = (int)mast_json_get_int(v, "dim", 0);
    if (mast_metric_parse(mast_json_get_str(v, "metric", "cos"), metric) != MAST_OK)
        *metric = MAST_METRIC_COS;
    mast_clear_error();
    json_decref(c);
    return MAST_OK;
}

mast_status mast_collection_set_vectors(mast_store *store, const char *collection, int dim,
                                        const char *metric)
{
    mast_metric m;
    if (dim < 1 || dim > MAST_MAX_VECTOR_DIM)
        return mast_fail(MAST_ERR_INVALID, "vector dimension must be from 1 to %d (got %d)",
                         MAST_MAX_VECTOR_DIM, dim);
    if (mast_metric_parse(metric ? metric : "cos", &m) != MAST_OK)
        return mast_fail(MAST_ERR_INVALID, "metric must be cos, ip or l2 (got '%s')", metric);
    int64_t id;
    MAST_TRY(mast_store_collection_ensure(store, collection, &id));
    json_t *c;
    MAST_TRY(load_config(store, id, &c));
    mast_status st = MAST_OK;
    json_t *old = json_object_get(c, "vectors");
    int64_t n_chunks = 0;
    if (json_object_get(c, "embed"))
        st = mast_fail(MAST_ERR_EXISTS, "collection '%s' embeds with a model; it cannot take "
                       "vectors of its own as well", collection);
    else if (!old && (st = mast_store_count_chunks(store, id, &n_chunks)) == MAST_OK && n_chunks > 0)
        st = mast_fail(MAST_ERR_EXISTS, "collection '%s' holds %lld chunks without vectors; a "
                       "collection takes its documents' own vectors from the start (create a "
                       "new one)", collection, (long long)n_chunks);
    else if (old && (mast_json_get_int(old, "dim", 0) != dim ||
                     strcmp(mast_json_get_str(old, "metric", "cos"), mast_metric_name(m)) != 0) &&
             (st = mast_store_count_chunks(store, id, &n_chunks)) == MAST_OK && n_chunks > 0)
        st = mast_fail(MAST_ERR_EXISTS, "collection '%s' holds vectors of %lld dimensions (%s); "
                       "delete it to change them", collection,
                       (long long)mast_json_get_int(old, "dim", 0),
                       mast_json_get_str(old, "metric", "cos"));
    if (st == MAST_OK) {
        json_object_set_new(c, "vectors", json_pack("{s:i, s:s}", "dim", dim, "metric",
                                                    mast_metric_name(m)));
        char *text = json_dumps(c, JSON_COMPACT);
        st = text ? mast_store_collection_set_config(store, id, text)
                  : mast_fail(MAST_ERR_NOMEM, "out of memory");
        free(text);
    }
    json_decref(c);
    return st;
}
