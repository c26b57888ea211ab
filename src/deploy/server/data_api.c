/*
** deploy/server/data_api.c — the data API over HTTP (see server.h for the
** routes): collections, documents, search, ask and traces. Request bodies
** are read and results written by deploy/api.c, as the CLI's are.
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/status.h"
#include "base/log.h"
#include "observe/metrics.h"
#include "data/collection.h"
#include "data/ingest/ingest.h"
#include "data/store_keys.h"
#include "data/store_traces.h"
#include "deploy/api.h"
#include "deploy/server/http.h"

static http_reply not_allowed(const http_request *req, const char *allow)
{
    http_reply r = http_error(405, "method_not_allowed", "method %s is not allowed on %s "
                              "(allowed: %s)", req->method, req->path, allow);
    r.allow = allow;
    return r;
}

static int is(const http_request *req, const char *method)
{
    return strcmp(req->method, method) == 0;
}

/* ---- collections ---- */

static http_reply list_collections(http_ctx *c)
{
    json_t *data;
    mast_status st = mast_api_collections(c->store, NULL, &data);
    return st == MAST_OK ? http_ok(200, json_pack("{s:s, s:o}", "object", "list", "data", data))
                         : http_status_error(st);
}

static http_reply show_collection(http_ctx *c, const char *name, unsigned status)
{
    json_t *o;
    mast_status st = mast_api_collections(c->store, name, &o);
    return st == MAST_OK ? http_ok(status, o) : http_status_error(st);
}

static http_reply create_collection(http_ctx *c, const http_request *req)
{
    static const char *const fields[] = {"name", "embed_model", "language", "dim", "metric", NULL};
    json_t *body;
    mast_status st = http_body_object(req, fields, &body);
    if (st != MAST_OK)
        return http_status_error(st);
    json_t *name = json_object_get(body, "name"), *dim = json_object_get(body, "dim");
    const char *model = mast_json_get_str(body, "embed_model", NULL);
    const char *language = mast_json_get_str(body, "language", NULL);
    const char *metric = mast_json_get_str(body, "metric", NULL);
    int64_t id;
    if (!json_is_string(name))
        st = mast_fail(MAST_ERR_INVALID, "\"name\" (a string) is required");
    else if (mast_store_collection_find(c->store, json_string_value(name), &id) == MAST_OK)
        st = mast_fail(MAST_ERR_EXISTS, "collection '%s' already exists", json_string_value(name));
    else if (dim && !json_is_integer(dim))
        st = mast_fail(MAST_ERR_INVALID, "\"dim\" must be an integer");
    else if (dim && (json_integer_value(dim) < 1 || json_integer_value(dim) > MAST_MAX_VECTOR_DIM))
        st = mast_fail(MAST_ERR_INVALID, "\"dim\" must be from 1 to %d", MAST_MAX_VECTOR_DIM);
    const char *string_fields[] = {"embed_model", "language", "metric"};
    for (size_t i = 0; st == MAST_OK && i < 3; i++) {
        json_t *v = json_object_get(body, string_fields[i]);
        if (v && !json_is_string(v))
            st = mast_fail(MAST_ERR_INVALID, "\"%s\" must be a string", string_fields[i]);
    }
    const char *n = json_is_string(name) ? json_string_value(name) : "";
    mast_collection_options co = MAST_COLLECTION_OPTIONS_INIT;
    co.embed_model = model;
    co.language = language;
    co.dim = dim ? (int)json_integer_value(dim) : 0;
    co.metric = metric;
    if (st == MAST_OK)
        st = mast_collection_create(c->store, n, &co);   /* the C API's own checks and cleanup */
    if (st == MAST_ERR_NOT_FOUND)   /* a model file that is not there is a bad field value */
        st = mast_fail_prefix(MAST_ERR_INVALID, "\"embed_model\"");
    http_reply r = st == MAST_OK ? show_collection(c, n, 201) : http_status_error(st);
    json_decref(body);   /* n points into it */
    return r;
}

static http_reply delete_collection(http_ctx *c, const char *name)
{
    int64_t id;
    mast_status st = mast_store_collection_find(c->store, name, &id);
    if (st == MAST_OK)
        st = mast_collection_delete(c->retriever, c->store, name);
    return st == MAST_OK ? http_ok(200, json_pack("{s:s, s:b}", "name", name, "deleted", 1))
                         : http_status_error(st);
}

/* ---- documents ---- */

static http_reply upsert_documents(http_ctx *c, const http_request *req, const char *collection)
{
    static const char *const fields[] = {"documents", NULL};
    json_t *body;
    int64_t cid;
    mast_status st = mast_store_collection_find(c->store, collection, &cid);
    if (st != MAST_OK)
        return http_status_error(st);
    if ((st = http_body_object(req, fields, &body)) != MAST_OK)
        return http_status_error(st);
    json_t *docs = json_object_get(body, "documents");
    if (!json_is_array(docs) || json_array_size(docs) == 0) {
        json_decref(body);
        return http_error(400, "invalid_request", "\"documents\" must be a non-empty array");
    }
    if (json_array_size(docs) > c->max_batch) {
        size_t n = json_array_size(docs);
        json_decref(body);
        return http_error(413, "too_large", "a batch of %zu documents is over the limit of %zu "
                          "documents per request", n, c->max_batch);
    }
    mast_embedder *embedder = NULL;
    if ((st = mast_collection_open_embedder(c->store, cid, &embedder)) != MAST_OK) {
        json_decref(body);
        return http_status_error(st);
    }
    json_t *results = json_array();
    size_t n_ok = 0, n_failed = 0;
    size_t i;
    json_t *item;
    json_array_foreach(docs, i, item) {
        mast_doc_input in;
        char *metadata;
        float *vector;
        mast_put_result put;
        int64_t doc_id = 0;
        size_t n_chunks = 0;
        st = mast_api_document_parse(item, &in, &metadata, &vector);
        if (st == MAST_OK)   /* each document is its own transaction */
            st = mast_document_put(c->store, cid, embedder, NULL, &in, &put, &doc_id, &n_chunks);
        json_t *id = json_is_object(item) ? json_object_get(item, "id") : NULL;
        json_t *r = json_pack("{s:O}", "id", json_is_string(id) ? id : json_null());
        if (st == MAST_OK) {
            n_ok++;
            json_object_set_new(r, "status", json_string(mast_put_result_name(put)));
            json_object_set_new(r, "doc_id", json_integer((json_int_t)doc_id));
            if (put != MAST_PUT_UNCHANGED)
                json_object_set_new(r, "chunks", json_integer((json_int_t)n_chunks));
        } else {
            n_failed++;
            json_object_set_new(r, "status", json_string("error"));
            json_object_set_new(r, "error", mast_json_string_lossy(mast_errmsg()));
        }
        json_array_append_new(results, r);
        free(metadata);
        free(vector);
    }
    mast_embedder_free(embedder);
    json_decref(body);
    /* every document failed: the request was bad; some did: 207-style, said per document */
    unsigned status = n_failed == 0 ? 200 : n_ok == 0 ? 400 : 200;
    return http_ok(status, json_pack("{s:o, s:I, s:I}", "results", results, "succeeded",
                                     (json_int_t)n_ok, "failed", (json_int_t)n_failed));
}

static mast_status parse_count(const char *text, const char *name, int64_t min, int64_t max,
                               int64_t *out)
{
    if (!text)
        return MAST_OK;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || v < min || v > max)
        return mast_fail(MAST_ERR_INVALID, "\"%s\" must be an integer from %lld to %lld (got '%s')",
                         name, (long long)min, (long long)max, text);
    *out = v;
    return MAST_OK;
}

static http_reply list_documents(http_ctx *c, const http_request *req, const char *collection)
{
    mast_list_options o = MAST_LIST_OPTIONS_INIT;
    mast_status st = parse_count(http_query(req, "limit"), "limit", 1, 10000, &o.limit);
    if (st == MAST_OK)
        st = parse_count(http_query(req, "offset"), "offset", 0, INT64_MAX / 2, &o.offset);
    o.filter = http_query(req, "filter");
    mast_document_list *l = NULL;
    if (st == MAST_OK)
        st = mast_document_list_get(c->store, collection, &o, &l);
    if (st != MAST_OK)
        return http_status_error(st);
    json_t *out = mast_api_document_list(l, o.limit, o.offset);
    mast_document_list_free(l);
    return http_ok(200, out);
}

static http_reply document(http_ctx *c, const http_request *req, const char *collection,
                           const char *key)
{
    mast_document_list *d;
    mast_status st = mast_document_get(c->store, collection, key, &d);
    if (st != MAST_OK)
        return http_status_error(st);
    const mast_document *doc = mast_document_list_at(d, 0);
    json_t *out = NULL;
    if (is(req, "DELETE")) {
        st = mast_document_delete(c->store, collection, key);
        if (st == MAST_OK)
            out = json_pack("{s:o, s:I, s:b}", "id", mast_json_string_lossy(doc->id), "doc_id",
                            (json_int_t)doc->doc_id, "deleted", 1);
    } else {
        out = mast_api_document(doc, d);
    }
    mast_document_list_free(d);
    return st == MAST_OK ? http_ok(200, out) : http_status_error(st);
}

/* ---- search and ask ---- */

static mast_metric_family *search_latency;
static pthread_once_t search_once = PTHREAD_ONCE_INIT;

static void search_metrics_init(void)
{
    search_latency = mast_metric_new("mast_retrieval_duration_seconds", "Time a search took (retrieval "
                                     "and fusion), by collection and mode", MAST_HISTOGRAM,
                                     (const char *const[]){"collection", "mode", NULL},
                                     MAST_BUCKETS_FAST, MAST_BUCKETS_FAST_N);
}

static http_reply search(http_ctx *c, const http_request *req, const char *collection)
{
    json_t *body;
    mast_api_search s;
    mast_status st = http_body_object(req, NULL, &body);   /* fields: mast_api_search_parse */
    if (st != MAST_OK)
        return http_status_error(st);
    mast_result *results = NULL;
    size_t n = 0;
    st = mast_api_search_parse(body, &s);
    int64_t t0 = mast_mono_us();
    if (st == MAST_OK)
        st = mast_search_with(c->retriever, c->store, collection, s.query, s.k, &s.opts,
                              req->trace, &results, &n);
    if (st == MAST_OK) {   /* the search itself, without the request's parsing and reply */
        pthread_once(&search_once, search_metrics_init);
        mast_metric_observe(search_latency, (const char *const[]){collection, mast_search_mode_name(s.opts.mode)},
                            (double)(mast_mono_us() - t0) / 1e6);
    }
    mast_api_search_free(&s);
    json_decref(body);
    if (st != MAST_OK)
        return http_status_error(st);
    json_t *arr = mast_api_results(results, n);
    mast_results_free(results, n);
    return http_ok(200, json_pack("{s:o}", "results", arr));
}

static http_reply ask(http_ctx *c, const http_request *req, const char *collection)
{
    static const char *const fields[] = {"question", "k", NULL};
    json_t *body;
    mast_status st = http_body_object(req, fields, &body);
    if (st != MAST_OK)
        return http_status_error(st);
    json_t *q = json_object_get(body, "question"), *k = json_object_get(body, "k");
    size_t kk = MAST_ASK_DEFAULT_K;
    if (!json_is_string(q) || json_string_length(q) == 0)
        st = mast_fail(MAST_ERR_INVALID, "\"question\" must be a non-empty string");
    else if (k && !json_is_null(k) &&
             (!json_is_integer(k) || json_integer_value(k) < 1 || json_integer_value(k) > MAST_MAX_K))
        st = mast_fail(MAST_ERR_INVALID, "\"k\" must be an integer from 1 to %d", MAST_MAX_K);
    else if (k && json_is_integer(k))
        kk = (size_t)json_integer_value(k);
    mast_answer ans;
    if (st == MAST_OK)
        st = mast_ask(c->retriever, c->store, collection, json_string_value(q), kk, req->trace, &ans);
    json_decref(body);
    if (st != MAST_OK)
        return http_status_error(st);
    json_t *out = mast_api_answer(&ans);
    mast_answer_free(&ans);
    return http_ok(200, out);
}

/* ---- traces ---- */

static http_reply traces(http_ctx *c, const http_request *req, const char *id)
{
    json_t *out = NULL;
    mast_status st;
    if (id) {
        st = mast_store_trace_get(c->store, id, &out);
    } else {
        int64_t limit = 20;
        st = parse_count(http_query(req, "limit"), "limit", 1, 1000, &limit);
        json_t *arr = NULL;
        if (st == MAST_OK)
            st = mast_store_trace_list(c->store, (int)limit, &arr);
        if (st == MAST_OK)
            out = json_pack("{s:s, s:o}", "object", "list", "data", arr);
    }
    return st == MAST_OK ? http_ok(200, out) : http_status_error(st);
}

/* GET /v1/usage?model=&since=YYYY-MM-DD&key=: the usage table, by day, key and model. A
** request with a key sees only that key's rows. */
static http_reply usage(http_ctx *c, const http_request *req)
{
    const char *model = http_query(req, "model"), *since = http_query(req, "since"), *key = http_query(req, "key");
    if (since && (strlen(since) != 10 || since[4] != '-' || since[7] != '-'))
        return http_error_param(400, "invalid_request", "since", "since must be a day, YYYY-MM-DD (got '%s')", since);
    char own[128];
    if (req->key_id) {   /* a key sees its own usage, not the others' */
        mast_status st = mast_store_key_name(c->store, req->key_id, own, sizeof own);
        if (st != MAST_OK)
            return http_status_error(st);
        key = own;
    }
    json_t *rows;
    mast_status st = mast_store_usage(c->store, key, model, since, &rows);
    if (st != MAST_OK)
        return http_status_error(st);
    double total = 0;
    long long requests = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        total += json_number_value(json_object_get(r, "cost_usd"));
        requests += json_integer_value(json_object_get(r, "requests"));
    }
    return http_ok(200, json_pack("{s:s, s:o, s:f, s:I}", "object", "list", "data", rows, "total_cost_usd", total,
                                  "total_requests", (json_int_t)requests));
}

/* ---- routing ---- */

#define ALLOW_GET "GET, HEAD, OPTIONS"

http_reply mast_data_api(http_ctx *c, const http_request *req, int *matched)
{
    const char *p = req->path;
    *matched = 1;
    if (!strcmp(p, "/v1/usage"))
        return is(req, "GET") ? usage(c, req) : not_allowed(req, ALLOW_GET);
    if (strcmp(p, "/v1/traces") == 0 || strncmp(p, "/v1/traces/", 11) == 0) {
        if (!is(req, "GET"))
            return not_allowed(req, ALLOW_GET);
        return traces(c, req, p[10] == '/' && p[11] ? p + 11 : NULL);
    }
    if (strcmp(p, "/v1/collections") == 0) {
        if (is(req, "GET"))
            return list_collections(c);
        if (is(req, "POST"))
            return create_collection(c, req);
        return not_allowed(req, "GET, HEAD, POST, OPTIONS");
    }
    if (strncmp(p, "/v1/collections/", 16) != 0) {
        *matched = 0;
        return (http_reply){.status = 404};
    }
    /* /v1/collections/{name}[/action[/rest]]: a document id may hold slashes */
    const char *rest = p + 16, *slash = strchr(rest, '/');
    char name[128];
    size_t name_len = slash ? (size_t)(slash - rest) : strlen(rest);
    if (name_len == 0 || name_len >= sizeof name) {
        *matched = 0;
        return (http_reply){.status = 404};
    }
    memcpy(name, rest, name_len);
    name[name_len] = '\0';
    const char *action = slash ? slash + 1 : "";
    if (!*action) {
        if (is(req, "GET"))
            return show_collection(c, name, 200);
        if (is(req, "DELETE"))
            return delete_collection(c, name);
        return not_allowed(req, "GET, HEAD, DELETE, OPTIONS");
    }
    if (strcmp(action, "search") == 0 || strcmp(action, "ask") == 0) {
        if (!is(req, "POST"))
            return not_allowed(req, "POST, OPTIONS");
        return action[0] == 's' ? search(c, req, name) : ask(c, req, name);
    }
    if (strcmp(action, "documents") == 0) {
        if (is(req, "GET"))
            return list_documents(c, req, name);
        if (is(req, "POST"))
            return upsert_documents(c, req, name);
        return not_allowed(req, "GET, HEAD, POST, OPTIONS");
    }
    if (strncmp(action, "documents/", 10) == 0 && action[10]) {
        if (is(req, "GET") || is(req, "DELETE"))
            return document(c, req, name, action + 10);
        return not_allowed(req, "GET, HEAD, DELETE, OPTIONS");
    }
    *matched = 0;
    return (http_reply){.status = 404};
}
