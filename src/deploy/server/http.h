/*
** deploy/server/http.h — what the HTTP core (server.c) gives the files that
** implement one API family each (data_api.c: collections, documents, search,
** ask, traces): the request as parsed, the reply to send, and helpers for
** the OpenAI-shaped errors. Internal to src/deploy/server/.
*/
#ifndef MAST_DEPLOY_SERVER_HTTP_H
#define MAST_DEPLOY_SERVER_HTTP_H

#include <jansson.h>
#include <microhttpd.h>

#include "base/buf.h"
#include "data/retrieve.h"
#include "data/store.h"
#include "observe/trace.h"

typedef struct http_request {
    struct MHD_Connection *conn;
    struct mast_server *server;
    const char *method;        /* GET, POST, DELETE ("HEAD" is routed as GET) */
    const char *path;          /* decoded */
    const mast_buf *body;
    mast_trace *trace;
    int64_t key_id;            /* the virtual key it presented (0: none) */
} http_request;

typedef struct http_pending http_pending;
typedef struct http_stream http_stream;

typedef struct http_reply {
    unsigned status;
    json_t *body;              /* owned; NULL for no body (204) */
    const char *allow;         /* for 405 and OPTIONS */
    int retry_after;           /* seconds, for 429 and 503; 0 = no header */
    http_pending *pending;     /* the reply comes later, from another thread */
    http_stream *stream;       /* the body is this event stream (text/event-stream) */
    json_t *headers;           /* more response headers, {"Name": "value"} (owned); NULL: none */
    mast_buf raw;              /* a JSON body as bytes, sent as it is (owned), instead of body */
    const char *content_type;  /* raw is this type (sent without a newline added); NULL: JSON */
} http_reply;

struct mast_models;
struct mast_gateway;

/* What every handler may use: the shared retriever and a store borrowed
** from the server's pool for this request, and the served models. */
typedef struct http_ctx {
    mast_retriever *retriever;
    mast_store *store;
    size_t max_batch;          /* documents per upsert */
    struct mast_models *models;
    struct mast_gateway *gateway;   /* mast.yaml's models; NULL: none */
    bool trace_content;        /* --trace-content: generations record their messages */
} http_ctx;

/* {"error": {"message", "type", "param": null, "code"}} with status; the
** type follows the status as OpenAI's does (invalid_request_error,
** authentication_error, not_found_error, rate_limit_error, server_error,
** unavailable_error). */
http_reply http_error(unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same naming the request field that is wrong. */
http_reply http_error_param(unsigned status, const char *code, const char *param, const char *fmt,
                            ...) __attribute__((format(printf, 4, 5)));
const char *http_error_type(unsigned status);
/* The reply for a failed library call: 404 not found, 400 invalid or
** malformed, 413 over a limit, 409 exists, 500 otherwise; the message is
** mast_errmsg(). */
http_reply http_status_error(mast_status st);
http_reply http_ok(unsigned status, json_t *body);

/* The body as a JSON object whose members are all in `allowed` (NULL
** terminated; NULL = the caller checks): 400 names a malformed body (line and
** column) or the first unknown field. */
mast_status http_body_object(const http_request *req, const char *const *allowed, json_t **out);
/* A query-string argument, or NULL. */
const char *http_query(const http_request *req, const char *key);

/* ---- replies that another thread finishes ----
** A handler that hands its work to a model's worker returns
** (http_reply){.pending = http_pending_new(req)}: the connection waits
** (suspended, holding no thread) until the worker calls http_pending_done
** with the real reply, which may be an event stream the worker then writes.
** The worker may use req->trace until it calls http_pending_done with a
** plain reply, or until it closes the stream. */
http_pending *http_pending_new(const http_request *req);
/* Gives the reply (and gives up the pending: do not touch it after). */
void http_pending_done(http_pending *p, http_reply reply);

/* An event stream for the pending request's connection; give it with
** http_pending_done(p, (http_reply){200, .stream = s}), then write. */
http_stream *http_stream_new(http_pending *p);
/* Queues bytes; -1 when the client has gone (stop generating). */
int http_stream_write(http_stream *s, const char *data, size_t len);
/* "data: <json>\n\n" (the json is consumed). */
int http_stream_event(http_stream *s, const char *event, json_t *data);
int http_stream_gone(http_stream *s);
/* Ends the body; the request's trace is saved once both sides are done. */
void http_stream_close(http_stream *s, unsigned status_for_trace);

/* A finished model request's usage and cost, for the key's limits and the
** usage table (written with the traces). Any thread. */
struct mast_usage;
void http_record_usage(struct mast_server *server, int64_t key_id, const char *model,
                       const struct mast_usage *u, double cost_usd);

/* The model API families: each answers the paths it owns, *matched = 0 for
** others. */
http_reply mast_openai_api(http_ctx *ctx, const http_request *req, int *matched);
http_reply mast_anthropic_api(http_ctx *ctx, const http_request *req, int *matched);

/* The models' state and their management (admin.c): /slots, /admin/models/…;
** http_model_json is a model as /v1/models shows it. */
struct mast_model;
http_reply mast_admin_api(http_ctx *ctx, const http_request *req, int *matched);
json_t *http_model_json(struct mast_model *m);

/* The gateway (gateway.c): /v1/chat/completions for a model of mast.yaml;
** *matched = 0 when the request names another model. */
http_reply mast_gateway_api(http_ctx *ctx, const http_request *req, int *matched);

/* The prompt registry (prompts_api.c): /v1/prompts…; *matched = 0 for others. */
http_reply mast_prompts_api(http_ctx *ctx, const http_request *req, int *matched);
/* A chat body that names a prompt ({"prompt": {"name", "label"|"version",
** "variables"}}) as the body it stands for: the prompt's messages first, its
** config as defaults, the version on the trace. out stays empty when the
** body names no prompt (use it as it is); errors are the client's. */
mast_status http_resolve_prompt(mast_store *store, const mast_buf *body, mast_trace *trace,
                                mast_buf *out);

/* The data API (data_api.c): answers any path under /v1/collections or
** /v1/traces, *matched = 0 for others. */
http_reply mast_data_api(http_ctx *ctx, const http_request *req, int *matched);

#endif
