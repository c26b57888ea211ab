/*
** deploy/server/server.c — HTTP routing and handlers (see server.h).
**
** libmicrohttpd calls the access handler several times per request: first
** with the headers, then with each piece of the body, then once with no data,
** when we answer. Bodies accumulate in a per-connection buffer up to the
** limit; past it the rest is discarded and the answer is 413.
**
** Each request borrows a store (one SQLite connection) from a small pool, so
** handler threads never share a connection; the retriever (the in-memory
** indexes) is shared by all.
*/
#include "deploy/server/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "base/status.h"
#include "data/retrieve.h"
#include "data/store.h"
#include "data/store_traces.h"
#include "deploy/rag.h"

#define STORE_POOL_MAX 16

struct mast_server {
    struct MHD_Daemon *daemon;
    char *db_path;
    size_t max_body;
    mast_retriever *retriever;
    pthread_mutex_t pool_mu;
    mast_store *pool[STORE_POOL_MAX];
    int n_pool;
    int port;
};

typedef struct request {
    mast_buf body;
    int too_large;
} request;

typedef struct reply {
    unsigned status;
    json_t *body;          /* owned */
    const char *allow;     /* for 405 */
} reply;

/* ---- store pool ---- */

static mast_status borrow_store(mast_server *s, mast_store **out)
{
    pthread_mutex_lock(&s->pool_mu);
    mast_store *store = s->n_pool ? s->pool[--s->n_pool] : NULL;
    pthread_mutex_unlock(&s->pool_mu);
    if (store) {
        *out = store;
        return MAST_OK;
    }
    return mast_store_open(out, s->db_path);
}

static void return_store(mast_server *s, mast_store *store)
{
    if (!store)
        return;
    pthread_mutex_lock(&s->pool_mu);
    if (s->n_pool < STORE_POOL_MAX) {
        s->pool[s->n_pool++] = store;
        store = NULL;
    }
    pthread_mutex_unlock(&s->pool_mu);
    mast_store_close(store);
}

/* ---- replies ---- */

static reply error_reply(unsigned status, const char *code, const char *message)
{
    json_t *err = json_object();
    json_object_set_new(err, "message", mast_json_string_lossy(message));
    json_object_set_new(err, "type", json_string(status >= 500 ? "server_error"
                                                               : "invalid_request_error"));
    json_object_set_new(err, "code", json_string(code));
    json_t *body = json_object();
    json_object_set_new(body, "error", err);
    return (reply){status, body, NULL};
}

static reply status_reply(mast_status st)
{
    switch (st) {
    case MAST_ERR_NOT_FOUND: return error_reply(404, "not_found", mast_errmsg());
    case MAST_ERR_INVALID:
    case MAST_ERR_FORMAT: return error_reply(400, "invalid_request", mast_errmsg());
    case MAST_ERR_LIMIT: return error_reply(413, "too_large", mast_errmsg());
    default: return error_reply(500, "internal_error", mast_errmsg());
    }
}

/* ---- handlers ---- */

static mast_status parse_body(const request *req, json_t **out)
{
    MAST_TRY(mast_json_parse(req->body.data ? req->body.data : "", req->body.len, "request body",
                             out));
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return mast_fail(MAST_ERR_INVALID, "request body: expected a JSON object");
    }
    return MAST_OK;
}

static mast_status field_k(json_t *body, size_t dflt, size_t *k)
{
    json_t *v = json_object_get(body, "k");
    if (!v || json_is_null(v)) {
        *k = dflt;
        return MAST_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > MAST_MAX_K)
        return mast_fail(MAST_ERR_INVALID, "\"k\" must be an integer from 1 to %d", MAST_MAX_K);
    *k = (size_t)json_integer_value(v);
    return MAST_OK;
}

static mast_status field_text(json_t *body, const char *key, const char **out)
{
    json_t *v = json_object_get(body, key);
    if (!json_is_string(v) || json_string_length(v) == 0)
        return mast_fail(MAST_ERR_INVALID, "\"%s\" must be a non-empty string", key);
    *out = json_string_value(v);
    return MAST_OK;
}

static reply handle_search(mast_server *s, mast_store *store, const char *collection,
                           const request *req, mast_trace *trace)
{
    json_t *body = NULL;
    const char *query = NULL;
    size_t k = 0;
    mast_result *results = NULL;
    size_t n = 0;
    mast_status st = parse_body(req, &body);
    if (st == MAST_OK)
        st = field_text(body, "query", &query);
    if (st == MAST_OK)
        st = field_k(body, MAST_DEFAULT_K, &k);
    mast_search_mode mode = MAST_MODE_AUTO;
    if (st == MAST_OK) {
        const char *m = mast_json_get_str(body, "mode", "auto");
        int parsed = mast_search_mode_parse(m);
        if (parsed < 0)
            st = mast_fail(MAST_ERR_INVALID, "\"mode\" must be bm25, dense or hybrid");
        else
            mode = (mast_search_mode)parsed;
    }
    /* "fusion": "rrf" | "convex", "alpha", "rrf_k", "normalize": "minmax" | "zscore" */
    mast_fusion fusion = MAST_FUSION_DEFAULT;
    if (st == MAST_OK) {
        int fm = mast_fusion_method_parse(mast_json_get_str(body, "fusion", "rrf"));
        int fn = mast_fusion_norm_parse(mast_json_get_str(body, "normalize", "minmax"));
        json_t *alpha = json_object_get(body, "alpha"), *rk = json_object_get(body, "rrf_k");
        if (fm < 0)
            st = mast_fail(MAST_ERR_INVALID, "\"fusion\" must be rrf or convex");
        else if (fn < 0)
            st = mast_fail(MAST_ERR_INVALID, "\"normalize\" must be minmax or zscore");
        else if ((alpha && !json_is_number(alpha)) || (rk && !json_is_number(rk)))
            st = mast_fail(MAST_ERR_INVALID, "\"alpha\" and \"rrf_k\" must be numbers");
        fusion.method = (mast_fusion_method)(fm < 0 ? 0 : fm);
        fusion.norm = (mast_fusion_norm)(fn < 0 ? 0 : fn);
        if (alpha && json_is_number(alpha))
            fusion.alpha = json_number_value(alpha);
        if (rk && json_is_number(rk))
            fusion.rrf_k = json_number_value(rk);
    }
    /* "title_weight": BM25 weight of titles and headings against the body */
    double title_weight = 0;   /* the default */
    json_t *tw = st == MAST_OK ? json_object_get(body, "title_weight") : NULL;
    if (tw && !json_is_number(tw))
        st = mast_fail(MAST_ERR_INVALID, "\"title_weight\" must be a number");
    else if (tw)
        title_weight = json_number_value(tw);
    /* "filter": {"key": "value"} (one member, a string or a number) or "key=value" */
    mast_filter filter = {NULL, NULL};
    char *owned = NULL, number[64];
    json_t *fv = st == MAST_OK ? json_object_get(body, "filter") : NULL;
    if (fv && json_is_string(fv)) {
        st = mast_filter_parse(json_string_value(fv), &filter, &owned);
    } else if (fv && json_is_object(fv) && json_object_size(fv) == 1) {
        void *it = json_object_iter(fv);
        json_t *val = json_object_iter_value(it);
        filter.key = json_object_iter_key(it);
        if (json_is_string(val)) {
            filter.value = json_string_value(val);
        } else if (json_is_integer(val)) {
            snprintf(number, sizeof number, "%" JSON_INTEGER_FORMAT, json_integer_value(val));
            filter.value = number;
        } else {
            st = mast_fail(MAST_ERR_INVALID, "\"filter\" values must be strings or integers");
        }
    } else if (fv && !json_is_null(fv)) {
        st = mast_fail(MAST_ERR_INVALID,
                       "\"filter\" must be {\"key\": \"value\"} (one member) or \"key=value\"");
    }
    if (st == MAST_OK)
        st = mast_search_with(s->retriever, store, collection, query, k,
                              &(mast_search_opts){mode, &filter, fusion, title_weight, 0, NULL}, trace,
                              &results, &n);
    free(owned);
    if (st != MAST_OK) {
        json_decref(body);
        return status_reply(st);
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, mast_result_to_json(&results[i]));
    mast_results_free(results, n);
    json_decref(body);
    json_t *out = json_object();
    json_object_set_new(out, "results", arr);
    return (reply){200, out, NULL};
}

static reply handle_ask(mast_server *s, mast_store *store, const char *collection,
                        const request *req, mast_trace *trace)
{
    json_t *body = NULL;
    const char *question = NULL;
    size_t k = 0;
    mast_answer ans;
    mast_status st = parse_body(req, &body);
    if (st == MAST_OK)
        st = field_text(body, "question", &question);
    if (st == MAST_OK)
        st = field_k(body, MAST_ASK_DEFAULT_K, &k);
    if (st == MAST_OK)
        st = mast_ask(s->retriever, store, collection, question, k, trace, &ans);
    if (st != MAST_OK) {
        json_decref(body);
        return status_reply(st);
    }
    json_t *cites = json_array();
    for (size_t i = 0; i < ans.n_sources; i++) {
        json_t *c = mast_result_to_json(&ans.sources[i]);
        json_object_set_new(c, "n", json_integer((json_int_t)i + 1));
        json_array_append_new(cites, c);
    }
    json_t *out = json_object();
    json_object_set_new(out, "answer", mast_json_string_lossy(ans.answer));
    json_object_set_new(out, "citations", cites);
    json_object_set_new(out, "extractive", json_boolean(ans.extractive));
    json_object_set_new(out, "note", json_string(ans.note));
    mast_answer_free(&ans);
    json_decref(body);
    return (reply){200, out, NULL};
}

static reply handle_collections(mast_store *store)
{
    mast_collection_info *infos;
    size_t n;
    mast_status st = mast_store_collection_list(store, &infos, &n);
    if (st != MAST_OK)
        return status_reply(st);
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, json_pack("{s:s, s:I, s:I}", "name", infos[i].name,
                                              "documents", (json_int_t)infos[i].n_documents,
                                              "chunks", (json_int_t)infos[i].n_chunks));
    mast_collection_infos_free(infos, n);
    return (reply){200, json_pack("{s:s, s:o}", "object", "list", "data", data), NULL};
}

static reply handle_traces(mast_store *store, struct MHD_Connection *conn, const char *id)
{
    json_t *out;
    mast_status st;
    if (id) {
        st = mast_store_trace_get(store, id, &out);
    } else {
        const char *limit_s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
        int limit = limit_s ? atoi(limit_s) : 20;
        if (limit < 1 || limit > 1000)
            return error_reply(400, "invalid_request", "limit must be from 1 to 1000");
        json_t *arr;
        st = mast_store_trace_list(store, limit, &arr);
        out = st == MAST_OK ? json_pack("{s:s, s:o}", "object", "list", "data", arr) : NULL;
    }
    return st == MAST_OK ? (reply){200, out, NULL} : status_reply(st);
}

static reply method_not_allowed(const char *method, const char *url, const char *allow)
{
    char msg[512];
    snprintf(msg, sizeof msg, "method %s is not allowed on %s (allowed: %s)", method, url, allow);
    reply r = error_reply(405, "method_not_allowed", msg);
    r.allow = allow;
    return r;
}

/* Routes a complete request. */
static reply route(mast_server *s, struct MHD_Connection *conn, const char *method,
                   const char *url, const request *req, mast_trace *trace)
{
    int is_get = strcmp(method, "GET") == 0, is_post = strcmp(method, "POST") == 0;
    if (req->too_large) {
        char msg[128];
        snprintf(msg, sizeof msg, "request body is larger than the limit of %zu bytes",
                 s->max_body);
        return error_reply(413, "too_large", msg);
    }
    if (strcmp(url, "/health") == 0) {
        if (!is_get)
            return method_not_allowed(method, url, "GET");
        return (reply){200, json_pack("{s:s, s:s}", "status", "ok", "version", mast_version()),
                       NULL};
    }
    const char *prefix = "/v1/collections";
    size_t plen = strlen(prefix);
    int is_collections = strncmp(url, prefix, plen) == 0 &&
                         (url[plen] == '\0' || url[plen] == '/');
    int is_traces = strncmp(url, "/v1/traces", 10) == 0 && (url[10] == '\0' || url[10] == '/');
    if (!is_collections && !is_traces) {
        char msg[512];
        snprintf(msg, sizeof msg, "no such route: %s %s", method, url);
        return error_reply(404, "not_found", msg);
    }

    char name[128] = "", action[32] = "";
    if (is_collections && url[plen] == '/') {
        const char *rest = url + plen + 1;
        const char *slash = strchr(rest, '/');
        if (!slash || strchr(slash + 1, '/') || (size_t)(slash - rest) >= sizeof name ||
            strlen(slash + 1) >= sizeof action) {
            char msg[512];
            snprintf(msg, sizeof msg, "no such route: %s %s", method, url);
            return error_reply(404, "not_found", msg);
        }
        memcpy(name, rest, (size_t)(slash - rest));
        name[slash - rest] = '\0';
        snprintf(action, sizeof action, "%s", slash + 1);
        if (strcmp(action, "search") != 0 && strcmp(action, "ask") != 0) {
            char msg[512];
            snprintf(msg, sizeof msg, "no such route: %s %s", method, url);
            return error_reply(404, "not_found", msg);
        }
        if (!is_post)
            return method_not_allowed(method, url, "POST");
    } else if (!is_get) {
        return method_not_allowed(method, url, "GET");
    }

    mast_store *store = NULL;
    mast_status st = borrow_store(s, &store);
    if (st != MAST_OK)
        return status_reply(st);
    reply r;
    if (is_traces)
        r = handle_traces(store, conn, url[10] == '/' && url[11] ? url + 11 : NULL);
    else if (!name[0])
        r = handle_collections(store);
    else if (strcmp(action, "search") == 0)
        r = handle_search(s, store, name, req, trace);
    else
        r = handle_ask(s, store, name, req, trace);
    return_store(s, store);
    return r;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, reply r)
{
    mast_buf b = {0};
    if (mast_json_dump(r.body, 0, &b) != MAST_OK || mast_buf_putc(&b, '\n') != MAST_OK) {
        mast_buf_free(&b);
        json_decref(r.body);
        return MHD_NO;
    }
    json_decref(r.body);
    size_t len = b.len;
    char *data = mast_buf_detach(&b);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (r.allow)
        MHD_add_response_header(resp, "Allow", r.allow);
    enum MHD_Result ret = MHD_queue_response(conn, r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    mast_server *s = cls;
    request *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!req->too_large) {
            if (req->body.len + *upload_size > s->max_body) {
                req->too_large = 1;
                mast_buf_free(&req->body);
            } else if (mast_buf_append(&req->body, upload_data, *upload_size) != MAST_OK) {
                return MHD_NO;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    mast_trace *trace = mast_trace_begin("http.request");
    mast_trace_attr_str(trace, "http.request.method", method);
    mast_trace_attr_str(trace, "url.path", url);
    mast_clear_error();
    reply r = route(s, conn, method, url, req, trace);
    mast_trace_attr_int(trace, "http.response.status_code", r.status);
    mast_trace_end(trace, r.status < 400 ? MAST_OK : r.status < 500 ? MAST_ERR_INVALID
                                                                   : MAST_ERR_INTERNAL);
    mast_store *store;
    if (trace && borrow_store(s, &store) == MAST_OK) {
        if (mast_store_trace_save(store, trace) != MAST_OK)
            mast_warn("cannot save trace: %s", mast_errmsg());
        return_store(s, store);
    }
    mast_trace_free(trace);
    return send_reply(conn, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    request *req = *con_cls;
    if (req) {
        mast_buf_free(&req->body);
        free(req);
        *con_cls = NULL;
    }
}

mast_status mast_server_start(mast_server **out, const mast_server_opts *opts)
{
    *out = NULL;
    const char *host = opts->host ? opts->host : "127.0.0.1";
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)opts->port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        return mast_fail(MAST_ERR_INVALID, "--host '%s' is not an IPv4 address", host);
    if (opts->port < 0 || opts->port > 65535)
        return mast_fail(MAST_ERR_INVALID, "--port %d is not a port number (0-65535)", opts->port);

    mast_server *s = calloc(1, sizeof *s);
    if (!s || !(s->db_path = strdup(opts->db_path))) {
        free(s);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&s->pool_mu, NULL);
    s->max_body = opts->max_body_bytes ? opts->max_body_bytes : MAST_SERVER_DEFAULT_MAX_BODY;
    mast_store *first;
    mast_status st = mast_store_open(&first, s->db_path);
    if (st == MAST_OK) {
        return_store(s, first);
        st = mast_retriever_create(&s->retriever);
    }
    if (st != MAST_OK) {
        mast_server_stop(s);
        return st;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = opts->threads > 0 ? (unsigned)opts->threads : (unsigned)(ncpu > 0 ? ncpu : 2);
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, on_request, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_END);
    if (!s->daemon) {
        mast_server_stop(s);
        return mast_fail(MAST_ERR_IO, "cannot listen on %s:%d (address in use or not allowed)",
                         host, opts->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : opts->port;
    *out = s;
    return MAST_OK;
}

int mast_server_port(const mast_server *s)
{
    return s->port;
}

void mast_server_stop(mast_server *s)
{
    if (!s)
        return;
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    for (int i = 0; i < s->n_pool; i++)
        mast_store_close(s->pool[i]);
    mast_retriever_free(s->retriever);
    pthread_mutex_destroy(&s->pool_mu);
    free(s->db_path);
    free(s);
}
