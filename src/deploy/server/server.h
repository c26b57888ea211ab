/*
** deploy/server/server.h — the HTTP API on libmicrohttpd.
**
** Routes (JSON in and out; errors in the OpenAI shape
** {"error":{"message","type","code"}}):
**   GET  /health                          {"status":"ok","version":…}
**   GET  /v1/collections                  {"object":"list","data":[{name,documents,chunks}]}
**   POST /v1/collections/{name}/search    {"query","k"?} -> {"results":[…]}
**   POST /v1/collections/{name}/ask       {"question","k"?} -> {"answer","citations":[…],…}
**   GET  /v1/traces?limit=N               recent traces
**   GET  /v1/traces/{id}                  one trace with its spans
** Status codes: 400 malformed JSON (with line and column) or bad fields, 404
** unknown route or collection, 405 wrong method, 413 body over the limit,
** 500 internal errors. Every request is recorded as a trace.
*/
#ifndef MAST_DEPLOY_SERVER_H
#define MAST_DEPLOY_SERVER_H

#include <stddef.h>

#include "mast.h"

#define MAST_SERVER_DEFAULT_PORT 8080
#define MAST_SERVER_DEFAULT_MAX_BODY ((size_t)1 << 20)

typedef struct mast_server_opts {
    const char *host;         /* IPv4 address or "localhost"; NULL = 127.0.0.1 */
    int port;                 /* 0 = an ephemeral port (see mast_server_port) */
    const char *db_path;      /* the store every request opens */
    size_t max_body_bytes;    /* 0 = MAST_SERVER_DEFAULT_MAX_BODY */
    int threads;              /* worker threads; 0 = number of CPUs */
} mast_server_opts;

typedef struct mast_server mast_server;

/* Opens the store (to fail early on a bad path), binds and starts serving in
** background threads. Stop and free with mast_server_stop. */
mast_status mast_server_start(mast_server **out, const mast_server_opts *opts);
int mast_server_port(const mast_server *server);
/* Stops accepting, finishes in-flight requests, frees everything. NULL ok. */
void mast_server_stop(mast_server *server);

#endif
