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
    const char *method;        /* GET, POST, DELETE ("HEAD" is routed as GET) */
    const char *path;          /* decoded */
    const mast_buf *body;
    mast_trace *trace;
} http_request;

typedef struct http_reply {
    unsigned status;
    json_t *body;              /* owned; NULL for no body (204) */
    const char *allow;         /* for 405 and OPTIONS */
} http_reply;

/* What every handler may use: the shared retriever and a store borrowed
** from the server's pool for this request. */
typedef struct http_ctx {
    mast_retriever *retriever;
    mast_store *store;
    size_t max_batch;          /* documents per upsert */
} http_ctx;

/* {"error": {"message", "type", "code"}} with status. */
http_reply http_error(unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
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

/* The data API (data_api.c): answers any path under /v1/collections or
** /v1/traces, *matched = 0 for others. */
http_reply mast_data_api(http_ctx *ctx, const http_request *req, int *matched);

#endif
