/*
** deploy/server/server.h — the HTTP API on libmicrohttpd.
**
** Routes (JSON in and out; errors in the OpenAI shape
** {"error":{"message","type","code"}}; unknown body fields are refused):
**   GET  /health                              {"status":"ok","version":…}
**   GET  /v1/collections                      {"object":"list","data":[collection…]}
**   POST /v1/collections                      create {"name", "embed_model"?, "language"?,
**                                             "dim"?, "metric"?}
**   GET|DELETE /v1/collections/{name}         one collection (config, counts, index files)
**   POST /v1/collections/{name}/documents     upsert a batch {"documents": [{"id", "text",
**                                             "title"?, "metadata"?, "vector"?}]}
**   GET  /v1/collections/{name}/documents     ?limit&offset&filter=key=value
**   GET|DELETE /v1/collections/{name}/documents/{id}
**   POST /v1/collections/{name}/search        {"query"|"vector", "k"?, "mode"?, ...}
**   POST /v1/collections/{name}/ask           {"question", "k"?}
**   GET  /v1/traces?limit=N, /v1/traces/{id}
** and with served models (opts.models) the model API of openai.c (/v1/models,
** /v1/chat/completions, /v1/completions, /v1/embeddings, /apply-template) and
** anthropic.c (/v1/messages, /v1/messages/count_tokens); /health is 503 while
** a model loads.
** HEAD answers every GET route without a body; OPTIONS answers 204 with Allow
** (and the CORS preflight headers when the Origin is allowed).
** Status codes: 400 malformed JSON (with line and column), an unknown field or
** a bad value; 404 unknown route, collection or document; 405 wrong method
** (with Allow); 409 a collection that exists; 413 a body or batch over its
** limit; 500 internal errors. Every request is recorded as a trace.
*/
#ifndef MAST_DEPLOY_SERVER_H
#define MAST_DEPLOY_SERVER_H

#include <stddef.h>

#include "deploy/models.h"
#include "mast.h"

#define MAST_SERVER_DEFAULT_PORT 8080
#define MAST_SERVER_DEFAULT_MAX_BODY ((size_t)1 << 20)

#define MAST_SERVER_DEFAULT_MAX_BATCH 1000      /* documents per upsert request */
#define MAST_SERVER_DEFAULT_READ_TIMEOUT 15     /* seconds for a request's headers and body */
#define MAST_SERVER_DEFAULT_CONNS 4096
#define MAST_SERVER_DEFAULT_CONNS_PER_IP 256

typedef struct mast_server_opts {
    const char *host;         /* IPv4 address or "localhost"; NULL = 127.0.0.1 */
    int port;                 /* 0 = an ephemeral port (see mast_server_port) */
    const char *db_path;      /* the store every request opens */
    size_t max_body_bytes;    /* 0 = MAST_SERVER_DEFAULT_MAX_BODY */
    int threads;              /* worker threads; 0 = number of CPUs */
    const char *cors_origin;  /* allowed origins ("*" or a comma-separated list); NULL = no CORS */
    size_t max_batch;         /* documents per upsert; 0 = MAST_SERVER_DEFAULT_MAX_BATCH */
    int read_timeout_s;       /* a request must arrive within it; 0 = the default */
    int max_conns;            /* 0 = MAST_SERVER_DEFAULT_CONNS (capped by the open-file limit) */
    int max_conns_per_ip;     /* 0 = MAST_SERVER_DEFAULT_CONNS_PER_IP (at most half the total) */
    const mast_model_spec *models;   /* served by the model APIs (see models.h) */
    size_t n_models;
    const mast_local_opts *local;   /* the chat models' engine options; NULL = defaults */
    int model_threads;        /* the embedding models' threads (0: every CPU) */
    size_t queue;             /* requests waiting per model; 0 = 16 */
    int max_loaded;           /* models in memory at once (0: no limit) */
    uint64_t max_model_memory;   /* their bytes (0: no limit) */
    bool keep_alive_set;      /* keep_alive_ms is set; else models stay loaded */
    int64_t keep_alive_ms;    /* how long an idle model stays (<0 forever, 0 unload after each request) */
    bool preload;             /* load the models at start-up (/health answers 503 until then) */
    const char *models_dir;   /* offer every GGUF file of this folder by name (NULL: none) */
    int64_t trace_retention_ms;   /* traces older than this are pruned; 0: 30 days; <0: none are */
    int64_t trace_max_bytes;  /* ... and the oldest while they take more; 0: 1 GiB; <0: no limit */
    bool trace_content;       /* generations' traces record their messages, output and tools */
    const char *config_path;  /* mast.yaml: the gateway's models; NULL = none */
    int gateway_threads;      /* 0 = 32 */
    int listen_fd;            /* > 0: serve on this listening socket (systemd's LISTEN_FDS),
                              ** not on host:port */
} mast_server_opts;

typedef struct mast_server mast_server;

/* Opens the store (to fail early on a bad path), binds and starts serving in
** background threads. Stop and free with mast_server_stop. */
mast_status mast_server_start(mast_server **out, const mast_server_opts *opts);
int mast_server_port(const mast_server *server);
/* Seconds since the last request ended (0 while one is being answered,
** streams included): for --idle-exit. */
double mast_server_idle_seconds(mast_server *server);
/* The models it offers (the -m ones, local deployments, a models folder's). */
size_t mast_server_models_count(mast_server *server);
/* Re-reads the gateway's configuration (SIGHUP): requests in flight keep
** theirs. The old one stays when the file has a problem (the error says it). */
mast_status mast_server_reload(mast_server *server);
/* Stops accepting, finishes in-flight requests, frees everything. NULL ok. */
void mast_server_stop(mast_server *server);

#endif
