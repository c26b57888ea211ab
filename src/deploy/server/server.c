/*
** deploy/server/server.c — the HTTP core on libmicrohttpd (see server.h):
** connections and their limits, request bodies, CORS, HEAD and OPTIONS, the
** route to an API family (http.h), traces, replies.
**
** libmicrohttpd calls the access handler several times per request: first
** with the headers, then with each piece of the body, then once with no data,
** when we answer. A declared Content-Length over the limit is answered 413 at
** the first call, before any of the body is read; a chunked body passing the
** limit closes the connection there (libmicrohttpd 0.9.75 cannot answer while
** a body is still arriving), so no more of it is read either way.
**
** Slow clients: every connection is registered (NOTIFY_CONNECTION); a
** watchdog thread shuts down any connection whose request (headers and body)
** has not fully arrived within the read timeout of the connection's start or
** of its previous request's end, however slowly it trickles in (the idle
** timeout alone is reset by every byte). Connections per client address are
** limited, and the total limit is above the per-address one, so one address
** cannot take the slots that /health and other clients need.
**
** Each request borrows a store (one SQLite connection) from a small pool, so
** handler threads never share a connection; the retriever (the in-memory
** indexes) is shared by all.
*/
#include "deploy/server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "base/status.h"
#include "data/store_traces.h"
#include "deploy/models.h"
#include "data/store_keys.h"
#include "deploy/keys.h"
#include "deploy/server/gateway.h"
#include "model/providers/translate.h"
#include "deploy/server/http.h"
#include "observe/metrics.h"
#include "observe/otlp.h"

#define STORE_POOL_MAX 16
#define WATCHDOG_PERIOD_MS 250

/* one per TCP connection, from its start to its close */
typedef struct conn_state {
    struct conn_state *prev, *next;
    int fd;
    int64_t phase_start_ms;    /* connection start, or the end of its previous request */
    int handling;              /* the request is complete and being answered */
    int killed;
} conn_state;

struct mast_server {
    struct MHD_Daemon *daemon;
    bool metrics_on;             /* collect_server is registered */
    bool trace_content;          /* --trace-content */
    int64_t retention_ms, max_trace_bytes;   /* <0: no limit */
    int64_t prune_every_us;
    mast_otlp otlp;              /* the OTLP exporter's configuration (OTEL_* variables) */
    pthread_t exporter;
    bool exporter_running, export_stop;
    pthread_mutex_t export_mu;
    pthread_cond_t export_cv;
    char export_after[33];       /* the last trace exported (by id: the order they began) */
    int n_handling;              /* requests being answered (conn_mu) */
    int64_t last_active_ms;      /* a request began or ended, or a connection opened (conn_mu) */
    mast_models *models;
    mast_gateway *gateway;
    mast_keyring *keys;          /* the virtual keys; required on the model API when any exists */
    pthread_mutex_t keys_mu;     /* keys is replaced on reload */
    char *db_path;
    size_t max_body, max_batch;
    int read_timeout_ms;
    char *cors_origin;         /* NULL: no CORS headers */
    mast_retriever *retriever;
    pthread_mutex_t pool_mu;
    mast_store *pool[STORE_POOL_MAX];
    int n_pool;
    int port;
    pthread_mutex_t conn_mu;
    conn_state *conns;
    size_t n_conns;
    pthread_t watchdog;
    int watchdog_running, stopping;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    /* traces are written by one thread, many per transaction */
    pthread_mutex_t trace_mu;
    pthread_cond_t trace_cv;
    mast_trace **trace_q;
    size_t n_trace_q;
    struct queued_usage *usage_q;   /* written with the traces */
    size_t n_usage_q;
    bool trace_stop, trace_writing;
    pthread_cond_t trace_done_cv;  /* a batch was written */
    pthread_t trace_writer;
    int trace_writer_running;
};

#define TRACE_QUEUE_MAX 8192

/* A request's usage waiting for the writer: the row and the strings it
** points to, together. */
typedef struct queued_usage {
    mast_usage_row row;
    char model[128];
    char day[11];
} queued_usage;

typedef struct request {
    mast_buf body;
    int answered;              /* a reply was queued early (413) */
    http_pending *pending;     /* waiting for another thread's reply */
    char *method, *url;        /* kept for the trace of a pending reply */
} request;

/* A reply another thread gives (http.h). Two owners: the connection and the
** worker; the last to let go frees it. */
struct http_pending {
    pthread_mutex_t mu;
    struct MHD_Connection *conn;
    mast_server *server;
    mast_trace *trace;
    int refs;
    int ready, suspended;
    http_reply reply;
};

/* An event-stream body: the worker appends, libmicrohttpd's content reader
** takes (suspending the connection while there is nothing to send). */
struct http_stream {
    pthread_mutex_t mu;
    struct MHD_Connection *conn;
    mast_server *server;
    mast_trace *trace;
    mast_buf data;
    size_t sent;               /* bytes of data already handed to libmicrohttpd */
    int refs;
    int closed, gone, suspended;
    unsigned trace_status;
};

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

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

/* ---- replies (http.h) ---- */

const char *http_error_type(unsigned status)
{
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    case 503: return "unavailable_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

static http_reply error_reply(unsigned status, const char *code, const char *param,
                              const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    json_t *err = json_object();
    json_object_set_new(err, "message", mast_json_string_lossy(msg));
    json_object_set_new(err, "type", json_string(http_error_type(status)));
    json_object_set_new(err, "param", param ? json_string(param) : json_null());
    json_object_set_new(err, "code", json_string(code));
    json_t *body = json_object();
    json_object_set_new(body, "error", err);
    return (http_reply){.status = status, .body = body};
}

http_reply http_error(unsigned status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    http_reply r = error_reply(status, code, NULL, fmt, ap);
    va_end(ap);
    return r;
}

http_reply http_error_param(unsigned status, const char *code, const char *param, const char *fmt,
                            ...)
{
    va_list ap;
    va_start(ap, fmt);
    http_reply r = error_reply(status, code, param, fmt, ap);
    va_end(ap);
    return r;
}

http_reply http_status_error(mast_status st)
{
    const char *msg = mast_errmsg();
    switch (st) {
    case MAST_ERR_NOT_FOUND: return http_error(404, "not_found", "%s", msg);
    case MAST_ERR_INVALID:
    case MAST_ERR_FORMAT: return http_error(400, "invalid_request", "%s", msg);
    case MAST_ERR_EXISTS: return http_error(409, "conflict", "%s", msg);
    case MAST_ERR_LIMIT: return http_error(413, "too_large", "%s", msg);
    case MAST_ERR_UNSUPPORTED: return http_error(400, "unsupported", "%s", msg);
    default: return http_error(500, "internal_error", "%s", msg);
    }
}

http_reply http_ok(unsigned status, json_t *body)
{
    return (http_reply){.status = status, .body = body};
}

mast_status http_body_object(const http_request *req, const char *const *allowed, json_t **out)
{
    const mast_buf *b = req->body;
    MAST_TRY(mast_json_parse(b->data ? b->data : "", b->len, "request body", out));
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return mast_fail(MAST_ERR_INVALID, "request body: expected a JSON object");
    }
    mast_status st = allowed ? mast_json_check_fields(*out, allowed, "request body") : MAST_OK;
    if (st != MAST_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return st;
}

const char *http_query(const http_request *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

/* ---- pending replies and event streams (http.h) ---- */

static void trace_reply(mast_server *s, const char *method, const char *url, unsigned status,
                        mast_trace *trace);

http_pending *http_pending_new(const http_request *req)
{
    http_pending *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    p->conn = req->conn;
    p->server = req->server;
    p->trace = req->trace;
    p->refs = 2;
    return p;
}

static void pending_release(http_pending *p)
{
    pthread_mutex_lock(&p->mu);
    int left = --p->refs;
    pthread_mutex_unlock(&p->mu);
    if (left)
        return;
    json_decref(p->reply.body);
    json_decref(p->reply.headers);
    mast_buf_free(&p->reply.raw);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void http_pending_done(http_pending *p, http_reply reply)
{
    pthread_mutex_lock(&p->mu);
    p->reply = reply;
    p->ready = 1;
    if (p->suspended) {
        p->suspended = 0;
        MHD_resume_connection(p->conn);
    }
    pthread_mutex_unlock(&p->mu);
    pending_release(p);
}

http_stream *http_stream_new(http_pending *p)
{
    http_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    s->conn = p->conn;
    s->server = p->server;
    s->trace = p->trace;
    s->refs = 2;   /* the worker, and the response once queued */
    s->trace_status = 200;
    return s;
}

static void stream_release(http_stream *s)
{
    pthread_mutex_lock(&s->mu);
    int left = --s->refs;
    pthread_mutex_unlock(&s->mu);
    if (left)
        return;
    if (s->server)
        trace_reply(s->server, NULL, NULL, s->trace_status, s->trace);
    mast_buf_free(&s->data);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int http_stream_write(http_stream *s, const char *data, size_t len)
{
    pthread_mutex_lock(&s->mu);
    int ok = !s->gone && mast_buf_append(&s->data, data, len) == MAST_OK;
    if (s->suspended) {
        s->suspended = 0;
        MHD_resume_connection(s->conn);
    }
    pthread_mutex_unlock(&s->mu);
    return ok ? 0 : -1;
}

int http_stream_event(http_stream *s, const char *event, json_t *data)
{
    mast_buf b = {0};
    mast_status st = event ? mast_buf_printf(&b, "event: %s\n", event) : MAST_OK;
    if (st == MAST_OK)
        st = mast_buf_puts(&b, "data: ");
    if (st == MAST_OK)
        st = mast_json_dump(data, 0, &b);
    if (st == MAST_OK)
        st = mast_buf_puts(&b, "\n\n");
    json_decref(data);
    int r = st == MAST_OK ? http_stream_write(s, b.data, b.len) : -1;
    mast_buf_free(&b);
    return r;
}

int http_stream_gone(http_stream *s)
{
    pthread_mutex_lock(&s->mu);
    int gone = s->gone;
    pthread_mutex_unlock(&s->mu);
    return gone;
}

void http_stream_close(http_stream *s, unsigned status_for_trace)
{
    pthread_mutex_lock(&s->mu);
    s->closed = 1;
    s->trace_status = status_for_trace;
    if (s->suspended) {
        s->suspended = 0;
        MHD_resume_connection(s->conn);
    }
    pthread_mutex_unlock(&s->mu);
    stream_release(s);
}

/* libmicrohttpd asks for the next bytes of the body. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    http_stream *s = cls;
    pthread_mutex_lock(&s->mu);
    ssize_t n;
    if (s->data.len > s->sent) {
        size_t k = s->data.len - s->sent < max ? s->data.len - s->sent : max;
        memcpy(buf, s->data.data + s->sent, k);
        s->sent += k;
        if (s->sent == s->data.len)
            s->sent = s->data.len = 0;   /* everything handed over: reuse the buffer */
        n = (ssize_t)k;
    } else if (s->closed) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        s->suspended = 1;   /* the next write resumes the connection */
        MHD_suspend_connection(s->conn);
        n = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* The response is done with the stream: the body ended, or the client went. */
static void stream_free(void *cls)
{
    http_stream *s = cls;
    pthread_mutex_lock(&s->mu);
    s->gone = 1;
    pthread_mutex_unlock(&s->mu);
    stream_release(s);
}

/* ---- routing ---- */

static http_reply health(mast_server *s, const http_request *req)
{
    if (strcmp(req->method, "GET") != 0) {
        http_reply r = http_error(405, "method_not_allowed", "method %s is not allowed on "
                                  "%s (allowed: GET, HEAD)", req->method, req->path);
        r.allow = "GET, HEAD, OPTIONS";
        return r;
    }
    const char *id;
    mast_model_state state;
    if (!mast_models_ready(s->models, &id, &state)) {
        mast_model_view v;   /* a copy: a retried load may replace the error meanwhile */
        mast_model_view_of(mast_models_find(s->models, id), &v);
        http_reply r = state == MAST_MODEL_LOADING
                           ? http_error(503, "loading", "Loading model %s", id)
                           : http_error(503, "model_failed", "model %s failed to load: %s", id,
                                        v.error[0] ? v.error : "unknown error");
        r.retry_after = state == MAST_MODEL_LOADING ? 1 : 0;
        return r;
    }
    return http_ok(200, json_pack("{s:s, s:s}", "status", "ok", "version", mast_version()));
}

static void flush_traces(mast_server *s);
static bool check_key(mast_server *s, http_request *req, http_reply *refusal);
static bool use_prompt(mast_server *s, http_request *req, mast_buf *resolved, http_reply *refusal);

static http_reply route(mast_server *s, const http_request *req)
{
    if (strcmp(req->path, "/health") == 0)
        return health(s, req);
    http_ctx ctx = {s->retriever, NULL, s->max_batch, s->models, s->gateway, s->trace_content};
    int matched = 0;
    http_reply r = mast_gateway_api(&ctx, req, &matched);
    if (!matched)
        r = mast_openai_api(&ctx, req, &matched);
    if (!matched)
        r = mast_anthropic_api(&ctx, req, &matched);
    if (!matched)
        r = mast_admin_api(&ctx, req, &matched);
    if (matched)
        return r;
    if (!strncmp(req->path, "/v1/traces", 10))
        flush_traces(s);
    mast_status st = borrow_store(s, &ctx.store);
    if (st != MAST_OK)
        return http_status_error(st);
    r = mast_prompts_api(&ctx, req, &matched);
    if (!matched)
        r = mast_data_api(&ctx, req, &matched);
    return_store(s, ctx.store);
    if (!matched)
        return http_error(404, "not_found", "no such route: %s %s", req->method, req->path);
    return r;
}

/* The methods a path allows, for OPTIONS (NULL: no such route). */
static const char *allowed_methods(mast_server *s, struct MHD_Connection *conn, const char *path)
{
    if (strcmp(path, "/health") == 0)
        return "GET, HEAD, OPTIONS";
    /* each API says it in its 405: ask with a method nothing allows */
    http_request probe = {conn, s, "OPTIONS", path, &(mast_buf){0}, NULL, 0};
    http_ctx ctx = {s->retriever, NULL, s->max_batch, s->models, s->gateway, s->trace_content};
    int matched = 0;
    http_reply r = mast_openai_api(&ctx, &probe, &matched);
    if (!matched)
        r = mast_anthropic_api(&ctx, &probe, &matched);
    if (!matched)
        r = mast_admin_api(&ctx, &probe, &matched);
    if (!matched)
        r = mast_data_api(&ctx, &probe, &matched);
    json_decref(r.body);
    return matched ? r.allow : NULL;
}

/* ---- sending ---- */

static void add_cors(mast_server *s, struct MHD_Connection *conn, struct MHD_Response *resp,
                     int preflight, const char *allow)
{
    if (!s->cors_origin)
        return;
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    if (!origin)
        return;
    int any = strcmp(s->cors_origin, "*") == 0;
    /* a comma-separated list of origins, matched exactly */
    int ok = any;
    size_t n = strlen(origin);
    for (const char *p = s->cors_origin; !ok && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && *p == ' ') {
            p++;
            len--;
        }
        ok = len == n && strncmp(p, origin, n) == 0;
        p = end ? end + 1 : p + len;
    }
    if (!ok)
        return;
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", any ? "*" : origin);
    if (!any)
        MHD_add_response_header(resp, "Vary", "Origin");
    if (preflight) {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", allow);
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                "Content-Type, Authorization, X-Request-Id");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    }
}

static void add_headers(struct MHD_Response *resp, json_t *headers)
{
    const char *k;
    json_t *v;
    json_object_foreach(headers, k, v)
        if (json_is_string(v))
            MHD_add_response_header(resp, k, json_string_value(v));
    json_decref(headers);
}

static enum MHD_Result send_stream(mast_server *s, struct MHD_Connection *conn, http_stream *st,
                                   json_t *headers)
{
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
                                                                  stream_read, st, stream_free);
    if (!resp) {
        json_decref(headers);
        stream_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    add_headers(resp, headers);
    add_cors(s, conn, resp, 0, NULL);
    enum MHD_Result ret = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_reply(mast_server *s, struct MHD_Connection *conn, http_reply r,
                                  int preflight)
{
    if (r.stream)
        return send_stream(s, conn, r.stream, r.headers);
    mast_buf b = r.raw;   /* bytes ready to send, or the body serialised */
    if ((r.raw.len && !r.content_type && mast_buf_putc(&b, '\n') != MAST_OK) ||
        (!r.raw.len && r.body && (mast_json_dump(r.body, 0, &b) != MAST_OK ||
                                  mast_buf_putc(&b, '\n') != MAST_OK))) {
        mast_buf_free(&b);
        json_decref(r.body);
        json_decref(r.headers);
        return MHD_NO;
    }
    json_decref(r.body);
    size_t len = b.len;
    char *data = mast_buf_detach(&b);
    struct MHD_Response *resp =
        data ? MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(data);
        json_decref(r.headers);
        return MHD_NO;
    }
    if (len)
        MHD_add_response_header(resp, "Content-Type", r.content_type ? r.content_type : "application/json");
    if (r.allow)
        MHD_add_response_header(resp, "Allow", r.allow);
    add_headers(resp, r.headers);
    if (r.retry_after > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", r.retry_after);
        MHD_add_response_header(resp, "Retry-After", v);
    }
    add_cors(s, conn, resp, preflight, r.allow);
    enum MHD_Result ret = MHD_queue_response(conn, r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Traces (freed here) and usage rows, in one visit to the store. */
static void write_batch(mast_server *s, mast_trace **traces, size_t n, queued_usage *usage, size_t nu)
{
    mast_store *store;
    if ((n || nu) && borrow_store(s, &store) == MAST_OK) {
        bool own = false;   /* traces and usage in one transaction */
        if (mast_store_begin_own(store, &own) != MAST_OK)
            own = false;
        if (n && mast_store_traces_save(store, traces, n) != MAST_OK)
            mast_warn("cannot save %zu trace%s: %s", n, n == 1 ? "" : "s", mast_errmsg());
        mast_usage_row rows[64];
        for (size_t i = 0; i < nu; i += 64) {
            size_t k = nu - i < 64 ? nu - i : 64;
            for (size_t r = 0; r < k; r++) {
                rows[r] = usage[i + r].row;
                rows[r].model = usage[i + r].model;
                rows[r].day = usage[i + r].day;
            }
            if (mast_store_usage_add(store, rows, k) != MAST_OK)
                mast_warn("cannot record the usage of %zu request%s: %s", k, k == 1 ? "" : "s",
                          mast_errmsg());
        }
        if (mast_store_end(store, own, MAST_OK) != MAST_OK)
            mast_warn("cannot save traces and usage: %s", mast_errmsg());
        return_store(s, store);
    }
    for (size_t i = 0; i < n; i++)
        mast_trace_free(traces[i]);
}

static pthread_once_t metrics_once;
static void metrics_init(void);
static mast_metric_family *m_cost, *m_tokens, *m_pruned;

void http_record_usage(mast_server *s, int64_t key_id, const char *model, const mast_usage *u,
                       double cost_usd)
{
    pthread_once(&metrics_once, metrics_init);
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)key_id);
    mast_metric_add(m_cost, (const char *const[]){model, key_id ? key : ""}, cost_usd);
    mast_metric_observe(m_tokens, (const char *const[]){"input", model}, (double)u->input);
    mast_metric_observe(m_tokens, (const char *const[]){"output", model}, (double)u->output);
    pthread_mutex_lock(&s->keys_mu);
    mast_keyring_spend(s->keys, key_id, u->input + u->output, cost_usd);
    pthread_mutex_unlock(&s->keys_mu);
    queued_usage q = {{key_id, NULL, NULL, u->input, u->cache_read, u->cache_write, u->output,
                       u->reasoning, cost_usd}, "", ""};
    snprintf(q.model, sizeof q.model, "%s", model);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(q.day, sizeof q.day, "%Y-%m-%d", &tm);
    pthread_mutex_lock(&s->trace_mu);
    bool queued = s->trace_writer_running && s->n_usage_q < TRACE_QUEUE_MAX;
    if (queued) {
        s->usage_q[s->n_usage_q++] = q;
        pthread_cond_signal(&s->trace_cv);
    }
    pthread_mutex_unlock(&s->trace_mu);
    if (!queued)   /* the store is slow: this thread writes its own */
        write_batch(s, NULL, 0, &q, 1);
}

/* The trace writer: what queued in the last 20 ms goes in one transaction,
** so a request costs no store write of its own. */
/* The traces past the retention limits deleted (by the trace writer). */
static void prune_traces(mast_server *s)
{
    if (s->retention_ms < 0 && s->max_trace_bytes < 0)
        return;
    mast_store *store;
    if (borrow_store(s, &store) != MAST_OK)
        return;
    int64_t deleted = 0;
    int64_t before = s->retention_ms >= 0 ? mast_now_us() - s->retention_ms * 1000 : 0;
    if (mast_store_traces_prune(store, before > 0 ? before : 0, s->max_trace_bytes > 0 ?
                                (uint64_t)s->max_trace_bytes : 0, 500, &deleted) != MAST_OK)
        mast_warn("cannot prune traces: %s", mast_errmsg());
    else if (deleted)
        mast_info("pruned %lld traces (retention)", (long long)deleted);
    return_store(s, store);
    pthread_once(&metrics_once, metrics_init);
    mast_metric_add(m_pruned, NULL, (double)deleted);
}

static void *trace_writer(void *arg)
{
    mast_server *s = arg;
    pthread_setname_np(pthread_self(), "mast-traces");
    mast_trace **batch = malloc(TRACE_QUEUE_MAX * sizeof *batch);
    queued_usage *usage = malloc(TRACE_QUEUE_MAX * sizeof *usage);
    int64_t next_prune = mast_mono_us() + 1000000;   /* a second after start, then every interval */
    pthread_mutex_lock(&s->trace_mu);
    for (;;) {
        while (!s->trace_stop && !s->n_trace_q && !s->n_usage_q && mast_mono_us() < next_prune) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            int64_t wait_us = next_prune - mast_mono_us();
            until.tv_sec += (time_t)(wait_us / 1000000);
            until.tv_nsec += (long)(wait_us % 1000000) * 1000;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->trace_cv, &s->trace_mu, &until);
        }
        if (!s->n_trace_q && !s->n_usage_q && s->trace_stop)
            break;
        if (mast_mono_us() >= next_prune) {   /* retention: off the request path, in small batches */
            pthread_mutex_unlock(&s->trace_mu);
            prune_traces(s);
            next_prune = mast_mono_us() + s->prune_every_us;
            pthread_mutex_lock(&s->trace_mu);
            continue;
        }
        size_t n = s->n_trace_q, nu = s->n_usage_q;
        memcpy(batch, s->trace_q, n * sizeof *batch);
        memcpy(usage, s->usage_q, nu * sizeof *usage);
        s->n_trace_q = s->n_usage_q = 0;
        s->trace_writing = true;
        pthread_mutex_unlock(&s->trace_mu);
        write_batch(s, batch, n, usage, nu);
        pthread_mutex_lock(&s->trace_mu);
        s->trace_writing = false;
        pthread_cond_broadcast(&s->trace_done_cv);
        pthread_mutex_unlock(&s->trace_mu);
        struct timespec pause = {0, 20 * 1000 * 1000};
        if (!s->trace_stop)
            nanosleep(&pause, NULL);
        pthread_mutex_lock(&s->trace_mu);
    }
    pthread_mutex_unlock(&s->trace_mu);
    free(batch);
    free(usage);
    return NULL;
}

/* Returns once every trace queued before the call is in the store (a
** reader of /v1/traces sees the requests it made). */
static void flush_traces(mast_server *s)
{
    pthread_mutex_lock(&s->trace_mu);
    pthread_cond_signal(&s->trace_cv);
    while (s->trace_writer_running && (s->n_trace_q || s->trace_writing))
        pthread_cond_wait(&s->trace_done_cv, &s->trace_mu);
    pthread_mutex_unlock(&s->trace_mu);
}

/* Takes the trace: queued for the writer, or written here when the queue
** is full (the store is slow: requests slow down, no trace is dropped). */
static void save_trace(mast_server *s, mast_trace *trace)
{
    if (!trace)
        return;
    pthread_mutex_lock(&s->trace_mu);
    bool queued = s->trace_writer_running && s->n_trace_q < TRACE_QUEUE_MAX;
    if (queued) {
        s->trace_q[s->n_trace_q++] = trace;
        pthread_cond_signal(&s->trace_cv);
    }
    pthread_mutex_unlock(&s->trace_mu);
    if (!queued)
        write_batch(s, &trace, 1, NULL, 0);
}

static http_reply too_large(mast_server *s)
{
    return http_error(413, "too_large", "request body is larger than the limit of %zu bytes",
                      s->max_body);
}

/* ---- metrics ---- */

/* A path as its route's pattern ("/v1/collections/{name}/search"): the
** metrics' route label, so that names in paths do not make new series. */
static const char *route_of(const char *path)
{
    static const char *const patterns[] = {
        "/health", "/metrics", "/slots", "/apply-template", "/v1/models", "/v1/models/{id}",
        "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/messages",
        "/v1/messages/count_tokens", "/v1/collections", "/v1/collections/{name}",
        "/v1/collections/{name}/documents", "/v1/collections/{name}/documents/{id}",
        "/v1/collections/{name}/search", "/v1/collections/{name}/ask", "/v1/traces",
        "/v1/traces/{id}", "/v1/prompts", "/v1/prompts/{name}", "/v1/prompts/{name}/versions",
        "/v1/prompts/{name}/labels", "/admin/models/{id}/load", "/admin/models/{id}/unload",
        "/v1/usage", NULL};
    for (size_t i = 0; patterns[i]; i++) {
        const char *p = patterns[i], *q = path;
        while (*p && *q) {
            if (*p == '{') {   /* one non-empty segment */
                if (*q == '/')
                    break;
                while (*q && *q != '/')
                    q++;
                while (*p && *p != '}')
                    p++;
                p++;
            } else if (*p++ != *q++) {
                break;
            }
        }
        if (!*p && !*q)
            return patterns[i];
    }
    return "other";
}

static mast_metric_family *m_requests, *m_duration, *m_in_flight, *m_conns, *m_cost, *m_tokens, *m_pruned;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void)
{
    m_requests = mast_metric_new("mast_http_requests_total", "HTTP requests answered, by route, method "
                                 "and status", MAST_COUNTER,
                                 (const char *const[]){"route", "method", "status", NULL}, NULL, 0);
    m_duration = mast_metric_new("mast_http_request_duration_seconds", "Time to answer an HTTP request "
                                 "(a stream: until it ended)", MAST_HISTOGRAM,
                                 (const char *const[]){"route", NULL}, MAST_BUCKETS_FAST, MAST_BUCKETS_FAST_N);
    m_in_flight = mast_metric_new("mast_http_requests_in_flight", "HTTP requests being answered now",
                                  MAST_GAUGE, NULL, NULL, 0);
    m_conns = mast_metric_new("mast_http_connections", "Open client connections", MAST_GAUGE, NULL, NULL, 0);
    m_pruned = mast_metric_new("mast_traces_pruned_total", "Traces deleted by the retention limits "
                               "(--trace-retention, --trace-max-bytes)", MAST_COUNTER, NULL, NULL, 0);
    m_cost = mast_metric_new("mast_cost_usd_total", "What the gateway's requests cost, by model and key "
                             "(key id; \"\" without a key)", MAST_COUNTER,
                             (const char *const[]){"model", "key", NULL}, NULL, 0);
    m_tokens = mast_metric_new("gen_ai_client_token_usage", "Tokens of the gateway's requests to "
                               "providers, by type (gen_ai.client.token.usage)", MAST_HISTOGRAM,
                               (const char *const[]){"gen_ai_token_type", "gen_ai_request_model", NULL},
                               MAST_BUCKETS_TOKENS, MAST_BUCKETS_TOKENS_N);
}

static void count_request(mast_trace *trace, unsigned status)
{
    pthread_once(&metrics_once, metrics_init);
    char method[16], path[512], code[8];
    if (!mast_trace_root_str(trace, "http.request.method", method, sizeof method))
        snprintf(method, sizeof method, "?");
    if (!mast_trace_root_str(trace, "url.path", path, sizeof path))
        path[0] = '\0';
    snprintf(code, sizeof code, "%u", status);
    const char *route = route_of(path);
    mast_metric_add(m_requests, (const char *const[]){route, method, code}, 1);
    double secs = trace && trace->n_spans ? (double)(mast_mono_us() - trace->spans[0].mono_start_us) / 1e6 : 0;
    mast_metric_observe(m_duration, (const char *const[]){route}, secs);
}

/* Records the request and its reply as one trace. */
static void trace_reply(mast_server *s, const char *method, const char *url, unsigned status,
                        mast_trace *trace)
{
    if (!trace && method) {
        trace = mast_trace_begin("http.request");
        mast_trace_attr_str(trace, "http.request.method", method);
        mast_trace_attr_str(trace, "url.path", url);
    }
    if (!trace)
        return;
    count_request(trace, status);
    mast_trace_attr_int(trace, "http.response.status_code", status);
    mast_trace_end(trace, status < 400 ? MAST_OK : status < 500 ? MAST_ERR_INVALID
                                                                : MAST_ERR_INTERNAL);
    save_trace(s, trace);
}

static conn_state *state_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void set_handling(mast_server *s, struct MHD_Connection *conn, int handling)
{
    conn_state *c = state_of(conn);
    if (!c)
        return;
    pthread_mutex_lock(&s->conn_mu);
    if (c->handling != handling)   /* for --idle-exit: requests being answered, the last change */
        s->n_handling += handling ? 1 : -1;
    s->last_active_ms = now_ms();
    c->handling = handling;
    if (!handling)
        c->phase_start_ms = now_ms();   /* the next request's time starts now */
    pthread_mutex_unlock(&s->conn_mu);
}

/* A pending reply: suspends the connection until it is ready, then sends it. */
static enum MHD_Result resume_pending(mast_server *s, struct MHD_Connection *conn, request *req)
{
    http_pending *p = req->pending;
    pthread_mutex_lock(&p->mu);
    if (!p->ready) {
        p->suspended = 1;   /* http_pending_done resumes it */
        MHD_suspend_connection(conn);
        pthread_mutex_unlock(&p->mu);
        return MHD_YES;
    }
    http_reply r = p->reply;
    p->reply = (http_reply){0};
    pthread_mutex_unlock(&p->mu);
    mast_trace *trace = p->trace;
    req->pending = NULL;
    pending_release(p);
    if (r.stream) {
        pthread_mutex_lock(&r.stream->mu);   /* the stream now owns the trace */
        r.stream->trace = trace;
        pthread_mutex_unlock(&r.stream->mu);
    } else {
        trace_reply(s, NULL, NULL, r.status, trace);
    }
    return send_reply(s, conn, r, 0);
}

/* GET /metrics: Prometheus's text format, or OpenMetrics when the scraper asks for it. */
static http_reply metrics_reply(struct MHD_Connection *conn, const char *method)
{
    pthread_once(&metrics_once, metrics_init);
    if (strcmp(method, "GET")) {
        http_reply r = http_error(405, "method_not_allowed", "method %s is not allowed on /metrics "
                                  "(allowed: GET, HEAD)", method);
        r.allow = "GET, HEAD, OPTIONS";
        return r;
    }
    const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
    bool om = accept && strstr(accept, "application/openmetrics-text");
    http_reply r = {.status = 200, .content_type = om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                                      : "text/plain; version=0.0.4; charset=utf-8"};
    if (mast_metrics_render(&r.raw, om) != MAST_OK) {
        mast_buf_free(&r.raw);
        return http_error(500, "internal_error", "%s", mast_errmsg());
    }
    mast_metric_add(m_requests, (const char *const[]){"/metrics", "GET", "200"}, 1);
    return r;
}

/* The server's live state as gauges, at each render. */
static void collect_server(void *arg)
{
    mast_server *s = arg;
    pthread_mutex_lock(&s->conn_mu);
    int handling = s->n_handling;
    pthread_mutex_unlock(&s->conn_mu);
    mast_metric_set(m_in_flight, NULL, handling);
    const union MHD_DaemonInfo *di = s->daemon ? MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS) : NULL;
    if (di)
        mast_metric_set(m_conns, NULL, di->num_connections);
    static mast_metric_family *loaded, *memory, *slots, *busy, *queued, *kv, *holding;
    if (!loaded) {
        const char *const model[] = {"model", NULL};
        loaded = mast_metric_new("mast_model_loaded", "Whether a model is in memory (1) or not (0)",
                                 MAST_GAUGE, model, NULL, 0);
        memory = mast_metric_new("mast_model_memory_bytes", "A model's weights and KV cache in memory",
                                 MAST_GAUGE, model, NULL, 0);
        slots = mast_metric_new("mast_model_slots", "A loaded chat model's slots (requests it runs "
                                "together)", MAST_GAUGE, model, NULL, 0);
        busy = mast_metric_new("mast_model_slots_busy", "Slots running a request", MAST_GAUGE, model, NULL, 0);
        queued = mast_metric_new("mast_model_requests_queued", "Requests waiting for a slot", MAST_GAUGE,
                                 model, NULL, 0);
        kv = mast_metric_new("mast_model_kv_cache_bytes", "The slots' KV caches, cached prefixes "
                             "included", MAST_GAUGE, model, NULL, 0);
        holding = mast_metric_new("mast_model_requests_active", "Requests holding a model now (parsing, "
                                  "queued, running)", MAST_GAUGE, model, NULL, 0);
    }
    for (size_t i = 0; i < mast_models_count(s->models); i++) {
        mast_model *m = mast_models_at(s->models, i);
        mast_model_view v;
        mast_model_view_of(m, &v);
        const char *const id[] = {m->id};
        mast_metric_set(loaded, id, v.state == MAST_MODEL_READY);
        mast_metric_set(memory, id, (double)(v.weights_bytes + v.kv_bytes));
        mast_metric_set(holding, id, v.users);
        if (m->kind != MAST_MODEL_CHAT)
            continue;
        mast_metric_set(slots, id, v.slots);
        mast_metric_set(busy, id, v.slots_busy);
        mast_metric_set(queued, id, (double)v.queued);
        mast_metric_set(kv, id, (double)v.kv_bytes);
    }
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
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > s->max_body) {
            req->answered = 1;   /* answered before any of the body is read */
            trace_reply(s, method, url, 413, NULL);
            return send_reply(s, conn, too_large(s), 0);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (req->body.len + *upload_size > s->max_body) {
            /* a chunked body stops being read at the limit: this libmicrohttpd (0.9.75)
            ** cannot queue a reply while a body is arriving, so the connection closes */
            trace_reply(s, method, url, 413, NULL);
            return MHD_NO;
        }
        if (mast_buf_append(&req->body, upload_data, *upload_size) != MAST_OK)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (req->answered)
        return MHD_YES;
    if (req->pending)
        return resume_pending(s, conn, req);
    set_handling(s, conn, 1);
    const char *routed = strcmp(method, "HEAD") == 0 ? "GET" : method;
    if (strcmp(method, "OPTIONS") == 0) {
        const char *allow = allowed_methods(s, conn, url);
        http_reply r = allow ? (http_reply){.status = 204, .allow = allow}
                             : http_error(404, "not_found", "no such route: OPTIONS %s", url);
        return send_reply(s, conn, r, allow != NULL);
    }
    if (!strcmp(url, "/metrics"))   /* scraped every few seconds: counted, not traced */
        return send_reply(s, conn, metrics_reply(conn, routed), 0);
    mast_trace *trace = mast_trace_begin("http.request");
    mast_trace_attr_str(trace, "http.request.method", method);
    mast_trace_attr_str(trace, "url.path", url);
    const char *tp = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "traceparent");
    if (tp && mast_trace_continue(trace, tp)) {   /* the caller's trace goes on here */
        const char *ts = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "tracestate");
        if (ts && strlen(ts) <= 512)
            mast_trace_attr_str(trace, "w3c.tracestate", ts);
    }
    mast_clear_error();
    http_request hr = {conn, s, routed, url, &req->body, trace, 0};
    http_reply r;
    mast_buf resolved = {0};
    if (use_prompt(s, &hr, &resolved, &r) && check_key(s, &hr, &r))
        r = route(s, &hr);
    mast_buf_free(&resolved);
    if (r.pending) {   /* the connection waits for the worker, holding no thread */
        req->pending = r.pending;
        return resume_pending(s, conn, req);
    }
    trace_reply(s, method, url, r.status, trace);
    return send_reply(s, conn, r, 0);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    request *req = *con_cls;
    if (req && req->pending) {   /* the connection closed while the worker works */
        pending_release(req->pending);
        req->pending = NULL;
    }
    if (req) {
        mast_buf_free(&req->body);
        free(req);
        *con_cls = NULL;
    }
    set_handling(cls, conn, 0);
}

/* ---- connections and the watchdog ---- */

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    mast_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_state *c = calloc(1, sizeof *c);
        if (!c)
            return;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = ci ? ci->connect_fd : -1;
        c->phase_start_ms = now_ms();
        pthread_mutex_lock(&s->conn_mu);
        s->last_active_ms = now_ms();
        for (conn_state *o = s->conns; o; o = o->next)
            if (o->fd == c->fd)
                o->killed = 1;   /* a closed connection's number, reused: never shut it down */
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        pthread_mutex_unlock(&s->conn_mu);
        *socket_context = c;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        conn_state *c = *socket_context;
        pthread_mutex_lock(&s->conn_mu);
        if (c->prev)
            c->prev->next = c->next;
        else
            s->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        s->n_conns--;
        pthread_mutex_unlock(&s->conn_mu);
        free(c);
        *socket_context = NULL;
    }
}

static void *watchdog(void *arg)
{
    mast_server *s = arg;
    pthread_mutex_lock(&s->stop_mu);
    while (!s->stopping) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_nsec += WATCHDOG_PERIOD_MS * 1000000L;
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->stop_cv, &s->stop_mu, &t);
        if (s->stopping)
            break;
        int64_t now = now_ms();
        size_t killed = 0;
        pthread_mutex_lock(&s->conn_mu);
        for (conn_state *c = s->conns; c; c = c->next)
            if (!c->handling && !c->killed && c->fd >= 0 &&
                now - c->phase_start_ms > s->read_timeout_ms) {
                shutdown(c->fd, SHUT_RDWR);   /* the daemon sees the end and closes it */
                c->killed = 1;
                killed++;
            }
        pthread_mutex_unlock(&s->conn_mu);
        if (killed)
            mast_info("closed %zu connection%s whose request did not arrive within %d ms",
                      killed, killed == 1 ? "" : "s", s->read_timeout_ms);
    }
    pthread_mutex_unlock(&s->stop_mu);
    return NULL;
}

/* The connection limit the process's open-file limit allows (raised to its
** hard limit first). */
static unsigned connection_limit(unsigned wanted)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return wanted < 900 ? wanted : 900;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t room = rl.rlim_cur > 256 ? rl.rlim_cur - 128 : rl.rlim_cur / 2;   /* files, stores */
    return (rlim_t)wanted < room ? wanted : (unsigned)room;
}

/* ---- OTLP export ----
** The store is the exporter's queue: traces are written there as always,
** and this thread sends what came after the last one the collector took.
** A collector that is slow or down never holds a request; its traces wait
** in the store (bounded by the retention) and go when it answers again. */
#define EXPORT_BATCH 256

static mast_metric_family *m_spans, *m_fail;
static pthread_once_t export_once = PTHREAD_ONCE_INIT;

static void export_metrics_init(void)
{
    m_spans = mast_metric_new("mast_otlp_spans_exported_total", "Spans the OTLP collector took",
                              MAST_COUNTER, NULL, NULL, 0);
    m_fail = mast_metric_new("mast_otlp_export_failures_total", "OTLP exports that failed (their "
                             "spans wait in the store and go again)", MAST_COUNTER, NULL, NULL, 0);
}

static void *otlp_exporter(void *arg)
{
    mast_server *s = arg;
    pthread_setname_np(pthread_self(), "mast-otlp");
    pthread_once(&export_once, export_metrics_init);
    double wait = 1.0, backoff = 0;
    bool failing = false;
    for (;;) {
        pthread_mutex_lock(&s->export_mu);
        if (!s->export_stop && wait > 0) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += (time_t)wait;
            until.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->export_cv, &s->export_mu, &until);
        }
        bool stop = s->export_stop;
        pthread_mutex_unlock(&s->export_mu);
        if (stop && failing)
            break;   /* a collector that is down is not waited for at the end */
        mast_store *store;
        json_t *recs = NULL;
        if (borrow_store(s, &store) == MAST_OK) {
            if (mast_store_traces_after(store, s->export_after, EXPORT_BATCH, &recs) != MAST_OK)
                mast_warn("OTLP export: %s", mast_errmsg());
            return_store(s, store);
        }
        size_t n = json_array_size(recs), n_spans = 0;
        if (!n) {
            json_decref(recs);
            if (stop)
                break;
            wait = 1.0;
            continue;
        }
        mast_buf body = {0};
        long status = 0;
        double retry_after = -1;
        mast_status st = mast_otlp_encode(&s->otlp, recs, &body, &n_spans);
        if (st == MAST_OK)
            st = mast_otlp_post(&s->otlp, &body, &status, &retry_after);
        mast_buf_free(&body);
        if (st == MAST_OK) {
            const char *last = mast_json_get_str(json_array_get(recs, n - 1), "id", "");
            snprintf(s->export_after, sizeof s->export_after, "%s", last);
            mast_metric_add(m_spans, NULL, (double)n_spans);
            if (failing)
                mast_info("OTLP export: %s answers again", s->otlp.url);
            failing = false;
            backoff = 0;
            wait = n == EXPORT_BATCH ? 0 : 1.0;   /* a backlog goes at once */
        } else {
            mast_metric_add(m_fail, NULL, 1);
            if (!failing)   /* once per outage, not once per retry */
                mast_warn("%s; the traces wait in the store and are sent when it answers (while this server "
                          "runs; mast traces export --otlp sends older ones)", mast_errmsg());
            failing = true;
            backoff = backoff ? (backoff * 2 > 30 ? 30 : backoff * 2) : 0.5;
            wait = retry_after > 0 ? (retry_after > 300 ? 300 : retry_after) : backoff;
        }
        json_decref(recs);
        if (stop && !failing && n < EXPORT_BATCH)
            break;
    }
    return NULL;
}

/* The exporter, when the OTEL_* variables name a collector: it sends the
** traces that come after the newest one stored now. */
static mast_status start_exporter(mast_server *s)
{
    bool enabled;
    const char *proto = getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
    if (!proto || !*proto)
        proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL");
    if (proto && (!strcmp(proto, "grpc") || !strncmp(proto, "grpc/", 5))) {
        /* often set machine-wide for other programs: not a reason to refuse to serve */
        mast_warn("OTEL_EXPORTER_OTLP_PROTOCOL=%s: mast exports http/protobuf or http/json, not gRPC; "
                  "traces are not exported", proto);
        return MAST_OK;
    }
    MAST_TRY(mast_otlp_from_env(&s->otlp, NULL, NULL, &enabled));
    if (!enabled)
        return MAST_OK;
    mast_store *store;
    json_t *newest = NULL;
    if (borrow_store(s, &store) == MAST_OK) {
        if (mast_store_trace_list(store, 1, &newest) == MAST_OK)
            snprintf(s->export_after, sizeof s->export_after, "%s",
                     mast_json_get_str(json_array_get(newest, 0), "id", ""));
        json_decref(newest);
        return_store(s, store);
    }
    pthread_mutex_init(&s->export_mu, NULL);
    pthread_cond_init(&s->export_cv, NULL);
    if (pthread_create(&s->exporter, NULL, otlp_exporter, s) != 0)
        return mast_fail(MAST_ERR_INTERNAL, "cannot start the OTLP exporter's thread");
    s->exporter_running = true;
    mast_info("exporting traces to %s (OTLP %s)", s->otlp.url, s->otlp.json ? "http/json" : "http/protobuf");
    return MAST_OK;
}

static void stop_exporter(mast_server *s)
{
    if (s->exporter_running) {
        pthread_mutex_lock(&s->export_mu);
        s->export_stop = true;
        pthread_cond_signal(&s->export_cv);
        pthread_mutex_unlock(&s->export_mu);
        pthread_join(s->exporter, NULL);
        pthread_mutex_destroy(&s->export_mu);
        pthread_cond_destroy(&s->export_cv);
        s->exporter_running = false;
    }
    mast_otlp_free(&s->otlp);
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
        return mast_fail(MAST_ERR_INVALID, "host '%s' is not an IPv4 address", host);
    if (opts->port < 0 || opts->port > 65535)
        return mast_fail(MAST_ERR_INVALID, "port %d is not a port number (0-65535)", opts->port);

    mast_server *s = calloc(1, sizeof *s);
    if (!s || !(s->db_path = strdup(opts->db_path)) ||
        (opts->cors_origin && !(s->cors_origin = strdup(opts->cors_origin)))) {
        if (s)
            free(s->db_path);
        free(s);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_mutex_init(&s->conn_mu, NULL);
    pthread_mutex_init(&s->stop_mu, NULL);
    pthread_cond_init(&s->stop_cv, NULL);
    pthread_mutex_init(&s->trace_mu, NULL);
    pthread_cond_init(&s->trace_cv, NULL);
    pthread_cond_init(&s->trace_done_cv, NULL);
    pthread_mutex_init(&s->keys_mu, NULL);
    s->trace_q = malloc(TRACE_QUEUE_MAX * sizeof *s->trace_q);
    s->usage_q = malloc(TRACE_QUEUE_MAX * sizeof *s->usage_q);
    s->trace_content = opts->trace_content;
    s->retention_ms = opts->trace_retention_ms ? opts->trace_retention_ms : 30LL * 86400 * 1000;
    s->max_trace_bytes = opts->trace_max_bytes ? opts->trace_max_bytes : (int64_t)1 << 30;
    /* every minute, or twice per retention period when that is shorter (at least every second) */
    s->prune_every_us = s->retention_ms > 0 && s->retention_ms < 120000 ? s->retention_ms * 500 : 60000000;
    if (s->prune_every_us < 1000000)
        s->prune_every_us = 1000000;
    if (s->trace_q && s->usage_q && pthread_create(&s->trace_writer, NULL, trace_writer, s) == 0)
        s->trace_writer_running = 1;
    s->max_body = opts->max_body_bytes ? opts->max_body_bytes : MAST_SERVER_DEFAULT_MAX_BODY;
    s->max_batch = opts->max_batch ? opts->max_batch : MAST_SERVER_DEFAULT_MAX_BATCH;
    s->read_timeout_ms = (opts->read_timeout_s > 0 ? opts->read_timeout_s
                                                   : MAST_SERVER_DEFAULT_READ_TIMEOUT) * 1000;
    mast_store *first;
    mast_status st = mast_store_open(&first, s->db_path);
    if (st == MAST_OK)
        st = mast_keyring_load(first, &s->keys);
    if (st == MAST_OK) {
        return_store(s, first);
        st = mast_retriever_create(&s->retriever);
    }
    if (st == MAST_OK)
        st = start_exporter(s);
    mast_model_spec *specs = NULL;
    size_t n_specs = opts->n_models;
    if (st == MAST_OK && opts->config_path)
        st = mast_gateway_new(opts->config_path, opts->gateway_threads, &s->gateway);
    if (st == MAST_OK) {   /* the -m models, then the configuration's local deployments */
        specs = calloc(opts->n_models + 256, sizeof *specs);
        if (!specs)
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
        else if (opts->n_models)
            memcpy(specs, opts->models, opts->n_models * sizeof *specs);
        if (specs && s->gateway)
            n_specs += mast_gateway_local_models(s->gateway, specs + n_specs, 256);
    }
    if (st == MAST_OK)
        st = mast_models_open(&s->models, specs, n_specs, &(mast_models_opts){
                                  .local = opts->local, .threads = opts->model_threads,
                                  .queue_max = opts->queue, .max_loaded = opts->max_loaded,
                                  .max_bytes = opts->max_model_memory,
                                  .keep_alive_ms = opts->keep_alive_set ? opts->keep_alive_ms : -1,
                                  .preload = opts->preload, .models_dir = opts->models_dir});
    free(specs);
    if (st != MAST_OK) {
        mast_server_stop(s);
        return st;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = opts->threads > 0 ? (unsigned)opts->threads : (unsigned)(ncpu > 0 ? ncpu : 2);
    unsigned per_ip = opts->max_conns_per_ip > 0 ? (unsigned)opts->max_conns_per_ip
                                                 : MAST_SERVER_DEFAULT_CONNS_PER_IP;
    unsigned limit = connection_limit(opts->max_conns > 0 ? (unsigned)opts->max_conns
                                                          : MAST_SERVER_DEFAULT_CONNS);
    if (per_ip > limit / 2)
        per_ip = limit / 2 ? limit / 2 : 1;   /* one address never takes every slot */
    s->last_active_ms = now_ms();
    if (opts->listen_fd > 0) {   /* a socket handed over (systemd's socket activation) */
        int listening = 0;
        socklen_t len = sizeof listening;
        if (getsockopt(opts->listen_fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
            mast_server_stop(s);
            return mast_fail(MAST_ERR_INVALID, "file descriptor %d (LISTEN_FDS) is not a listening "
                             "socket", opts->listen_fd);
        }
    }
    struct MHD_OptionItem where[] = {   /* the inherited socket, or the address to bind */
        opts->listen_fd > 0 ? (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, opts->listen_fd, NULL}
                            : (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &addr},
        {MHD_OPTION_END, 0, NULL}};
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
        on_request, s,
        MHD_OPTION_ARRAY, where,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(s->read_timeout_ms / 1000 + 45),
        MHD_OPTION_CONNECTION_LIMIT, limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        MHD_OPTION_END);
    if (!s->daemon) {
        mast_server_stop(s);
        return mast_fail(MAST_ERR_IO, "cannot listen on %s:%d (address in use or not allowed)",
                         host, opts->port);
    }
    if (pthread_create(&s->watchdog, NULL, watchdog, s) == 0)
        s->watchdog_running = 1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : opts->port;
    if (s->gateway)
        mast_gateway_set_port(s->gateway, s->port);
    pthread_once(&metrics_once, metrics_init);
    mast_metrics_on_render(collect_server, s);
    s->metrics_on = true;
    *out = s;
    return MAST_OK;
}

mast_status mast_server_reload(mast_server *s)
{
    mast_store *store;
    mast_keyring *keys = NULL;
    MAST_TRY(borrow_store(s, &store));
    mast_status st = mast_keyring_load(store, &keys);
    return_store(s, store);
    MAST_TRY(st);
    pthread_mutex_lock(&s->keys_mu);
    mast_keyring *old = s->keys;
    s->keys = keys;
    pthread_mutex_unlock(&s->keys_mu);
    mast_keyring_free(old);
    return s->gateway ? mast_gateway_reload(s->gateway) : MAST_OK;
}

/* A chat request naming a prompt goes on as the body it stands for. */
static bool use_prompt(mast_server *s, http_request *req, mast_buf *resolved, http_reply *refusal)
{
    if (strcmp(req->method, "POST") || strcmp(req->path, "/v1/chat/completions") || !req->body->len ||
        !memmem(req->body->data, req->body->len, "\"prompt\"", 8))
        return true;
    mast_store *store;
    mast_status st = borrow_store(s, &store);
    if (st == MAST_OK) {
        st = http_resolve_prompt(store, req->body, req->trace, resolved);
        return_store(s, store);
    }
    if (st == MAST_OK && !resolved->len)
        return true;   /* the body names no prompt */
    if (st != MAST_OK) {
        *refusal = http_error_param(st == MAST_ERR_NOT_FOUND ? 404 : 400, st == MAST_ERR_NOT_FOUND
                                    ? "prompt_not_found" : "invalid_request", "prompt", "%s", mast_errmsg());
        return false;
    }
    req->body = resolved;
    return true;
}

/* The model API's routes need a valid key once any key exists. */
static bool is_model_route(const char *path)
{
    return !strncmp(path, "/v1/chat/", 9) || !strcmp(path, "/v1/completions") ||
           !strcmp(path, "/v1/embeddings") || !strncmp(path, "/v1/messages", 12) ||
           !strncmp(path, "/v1/models", 10) || !strcmp(path, "/apply-template") ||
           !strncmp(path, "/admin/", 7) || !strcmp(path, "/v1/usage");
}

/* NULL when the request may go on; else the reply that refuses it. */
static bool check_key(mast_server *s, http_request *req, http_reply *refusal)
{
    if (!is_model_route(req->path))
        return true;
    pthread_mutex_lock(&s->keys_mu);
    if (!mast_keyring_count(s->keys)) {
        pthread_mutex_unlock(&s->keys_mu);
        return true;
    }
    const char *auth = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Authorization");
    const char *presented = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "x-api-key");
    if (auth && !strncasecmp(auth, "Bearer ", 7))
        presented = auth + 7;
    char *model = NULL;
    if (req->body && req->body->len) {
        json_t *b = json_loadb(req->body->data, req->body->len, 0, NULL);
        const char *m = mast_json_get_str(b, "model", NULL);
        model = m ? strdup(m) : NULL;
        json_decref(b);
    }
    char why[300];
    mast_key_verdict v = mast_keyring_check(s->keys, presented, model, &req->key_id, why, sizeof why);
    pthread_mutex_unlock(&s->keys_mu);
    free(model);
    if (req->key_id && req->trace)
        mast_trace_attr_int(req->trace, "mast.key.id", req->key_id);
    if (v == MAST_KEY_OK)
        return true;
    if (req->key_id && !strcmp(req->path, "/v1/usage") && (v == MAST_KEY_BUDGET || v == MAST_KEY_LIMIT))
        return true;   /* a key over its budget may still see what it spent */
    unsigned status = v == MAST_KEY_MODEL ? 403 : v == MAST_KEY_LIMIT || v == MAST_KEY_BUDGET ? 429 : 401;
    *refusal = http_error(status, v == MAST_KEY_MODEL ? "model_not_allowed" : v == MAST_KEY_BUDGET
                          ? "budget_exceeded" : v == MAST_KEY_LIMIT ? "rate_limit_exceeded"
                          : "invalid_api_key", "%s", why);
    if (status == 429)
        refusal->retry_after = v == MAST_KEY_LIMIT ? 60 : 3600;
    return false;
}

double mast_server_idle_seconds(mast_server *s)
{
    pthread_mutex_lock(&s->conn_mu);
    double idle = s->n_handling > 0 ? 0 : (double)(now_ms() - s->last_active_ms) / 1e3;
    pthread_mutex_unlock(&s->conn_mu);
    return idle;
}

size_t mast_server_models_count(mast_server *s)
{
    return mast_models_count(s->models);
}

int mast_server_port(const mast_server *s)
{
    return s->port;
}

void mast_server_stop(mast_server *s)
{
    if (!s)
        return;
    if (s->metrics_on)   /* waits for a render that reads this server */
        mast_metrics_off_render(collect_server, s);
    if (s->watchdog_running) {
        pthread_mutex_lock(&s->stop_mu);
        s->stopping = 1;
        pthread_cond_signal(&s->stop_cv);
        pthread_mutex_unlock(&s->stop_mu);
        pthread_join(s->watchdog, NULL);
    }
    /* the gateway and the models first: every waiting request gets its
    ** answer and every stream its end, so no connection is left suspended */
    mast_gateway_free(s->gateway);
    s->gateway = NULL;
    mast_models_close(s->models);
    s->models = NULL;
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    if (s->trace_writer_running) {   /* every trace queued so far is written */
        pthread_mutex_lock(&s->trace_mu);
        s->trace_stop = true;
        pthread_cond_signal(&s->trace_cv);
        pthread_mutex_unlock(&s->trace_mu);
        pthread_join(s->trace_writer, NULL);
    }
    stop_exporter(s);   /* after the writer: the last traces are in the store, and go */
    free(s->trace_q);
    free(s->usage_q);
    mast_keyring_free(s->keys);
    pthread_mutex_destroy(&s->keys_mu);
    pthread_mutex_destroy(&s->trace_mu);
    pthread_cond_destroy(&s->trace_cv);
    pthread_cond_destroy(&s->trace_done_cv);
    for (int i = 0; i < s->n_pool; i++)
        mast_store_close(s->pool[i]);
    mast_retriever_free(s->retriever);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_mutex_destroy(&s->conn_mu);
    pthread_mutex_destroy(&s->stop_mu);
    pthread_cond_destroy(&s->stop_cv);
    free(s->db_path);
    free(s->cors_origin);
    free(s);
}
