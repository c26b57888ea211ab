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
#include "deploy/server/http.h"

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
};

typedef struct request {
    mast_buf body;
    int answered;              /* a reply was queued early (413) */
} request;

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

http_reply http_error(unsigned status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *err = json_object();
    json_object_set_new(err, "message", mast_json_string_lossy(msg));
    json_object_set_new(err, "type", json_string(status >= 500 ? "server_error"
                                                               : "invalid_request_error"));
    json_object_set_new(err, "code", json_string(code));
    json_t *body = json_object();
    json_object_set_new(body, "error", err);
    return (http_reply){status, body, NULL};
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
    return (http_reply){status, body, NULL};
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

/* ---- routing ---- */

static http_reply route(mast_server *s, const http_request *req)
{
    if (strcmp(req->path, "/health") == 0) {
        if (strcmp(req->method, "GET") != 0) {
            http_reply r = http_error(405, "method_not_allowed", "method %s is not allowed on "
                                      "%s (allowed: GET, HEAD)", req->method, req->path);
            r.allow = "GET, HEAD, OPTIONS";
            return r;
        }
        return http_ok(200, json_pack("{s:s, s:s}", "status", "ok", "version", mast_version()));
    }
    http_ctx ctx = {s->retriever, NULL, s->max_batch};
    mast_status st = borrow_store(s, &ctx.store);
    if (st != MAST_OK)
        return http_status_error(st);
    int matched = 0;
    http_reply r = mast_data_api(&ctx, req, &matched);
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
    /* the data API says it in its 405: ask it with a method nothing allows */
    http_request probe = {conn, "OPTIONS", path, &(mast_buf){0}, NULL};
    http_ctx ctx = {s->retriever, NULL, s->max_batch};
    int matched = 0;
    http_reply r = mast_data_api(&ctx, &probe, &matched);
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

static enum MHD_Result send_reply(mast_server *s, struct MHD_Connection *conn, http_reply r,
                                  int preflight)
{
    mast_buf b = {0};
    if (r.body && (mast_json_dump(r.body, 0, &b) != MAST_OK || mast_buf_putc(&b, '\n') != MAST_OK)) {
        mast_buf_free(&b);
        json_decref(r.body);
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
        return MHD_NO;
    }
    if (len)
        MHD_add_response_header(resp, "Content-Type", "application/json");
    if (r.allow)
        MHD_add_response_header(resp, "Allow", r.allow);
    add_cors(s, conn, resp, preflight, r.allow);
    enum MHD_Result ret = MHD_queue_response(conn, r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void save_trace(mast_server *s, mast_trace *trace)
{
    mast_store *store;
    if (trace && borrow_store(s, &store) == MAST_OK) {
        if (mast_store_trace_save(store, trace) != MAST_OK)
            mast_warn("cannot save trace: %s", mast_errmsg());
        return_store(s, store);
    }
}

static http_reply too_large(mast_server *s)
{
    return http_error(413, "too_large", "request body is larger than the limit of %zu bytes",
                      s->max_body);
}

/* Records the request and its reply as one trace. */
static void trace_reply(mast_server *s, const char *method, const char *url, unsigned status,
                        mast_trace *trace)
{
    if (!trace) {
        trace = mast_trace_begin("http.request");
        mast_trace_attr_str(trace, "http.request.method", method);
        mast_trace_attr_str(trace, "url.path", url);
    }
    mast_trace_attr_int(trace, "http.response.status_code", status);
    mast_trace_end(trace, status < 400 ? MAST_OK : status < 500 ? MAST_ERR_INVALID
                                                                : MAST_ERR_INTERNAL);
    save_trace(s, trace);
    mast_trace_free(trace);
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
    c->handling = handling;
    if (!handling)
        c->phase_start_ms = now_ms();   /* the next request's time starts now */
    pthread_mutex_unlock(&s->conn_mu);
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
    set_handling(s, conn, 1);
    const char *routed = strcmp(method, "HEAD") == 0 ? "GET" : method;
    if (strcmp(method, "OPTIONS") == 0) {
        const char *allow = allowed_methods(s, conn, url);
        http_reply r = allow ? (http_reply){204, NULL, allow}
                             : http_error(404, "not_found", "no such route: OPTIONS %s", url);
        return send_reply(s, conn, r, allow != NULL);
    }
    mast_trace *trace = mast_trace_begin("http.request");
    mast_trace_attr_str(trace, "http.request.method", method);
    mast_trace_attr_str(trace, "url.path", url);
    mast_clear_error();
    http_request hr = {conn, routed, url, &req->body, trace};
    http_reply r = route(s, &hr);
    trace_reply(s, method, url, r.status, trace);
    return send_reply(s, conn, r, 0);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    request *req = *con_cls;
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
    s->max_body = opts->max_body_bytes ? opts->max_body_bytes : MAST_SERVER_DEFAULT_MAX_BODY;
    s->max_batch = opts->max_batch ? opts->max_batch : MAST_SERVER_DEFAULT_MAX_BATCH;
    s->read_timeout_ms = (opts->read_timeout_s > 0 ? opts->read_timeout_s
                                                   : MAST_SERVER_DEFAULT_READ_TIMEOUT) * 1000;
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
    unsigned per_ip = opts->max_conns_per_ip > 0 ? (unsigned)opts->max_conns_per_ip
                                                 : MAST_SERVER_DEFAULT_CONNS_PER_IP;
    unsigned limit = connection_limit(opts->max_conns > 0 ? (unsigned)opts->max_conns
                                                          : MAST_SERVER_DEFAULT_CONNS);
    if (per_ip > limit / 2)
        per_ip = limit / 2 ? limit / 2 : 1;   /* one address never takes every slot */
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
        on_request, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
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
    if (s->watchdog_running) {
        pthread_mutex_lock(&s->stop_mu);
        s->stopping = 1;
        pthread_cond_signal(&s->stop_cv);
        pthread_mutex_unlock(&s->stop_mu);
        pthread_join(s->watchdog, NULL);
    }
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
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
