/*
** deploy/server/gateway.h — mast as the gateway to remote and local models:
** /v1/chat/completions for a model that mast.yaml names is served by one
** of its deployments through the router (deploy/router.h).
**
** The request is OpenAI's; an Anthropic deployment gets it translated
** (model/providers/translate.h) and its reply, streamed or not, comes back
** in OpenAI's shape. A stream reaches the client only once the upstream has
** sent something worth sending (content, a tool call, a finish reason), so
** every failure before that can still fall back; after it, an error is an
** error event in the stream. A local deployment is served by this process
** under the deployment's id, through its own HTTP API on loopback.
**
** Work runs on a few event-loop threads (--gateway-threads): each drives
** all of its requests' upstream calls through one libcurl multi handle
** (connections reused), with the router stepped per attempt and backoffs
** as timers; a full inbox is a 429. Non-streamed OpenAI replies, and
** streamed chunks once the stream has started, are passed on as the
** provider's bytes with the model renamed. The reply carries x-mast-model (the
** model that answered), x-mast-deployment, x-mast-attempts,
** x-mast-overhead-ms (time not spent waiting on providers or backing off)
** and x-mast-cost-usd; each attempt is a span of the request's trace.
*/
#ifndef MAST_DEPLOY_SERVER_GATEWAY_H
#define MAST_DEPLOY_SERVER_GATEWAY_H

#include "deploy/config.h"
#include "deploy/models.h"

typedef struct mast_gateway mast_gateway;

/* Loads the configuration and starts threads workers (0: 32). */
mast_status mast_gateway_new(const char *config_path, int threads, mast_gateway **out);
/* The port of this server, for local deployments. */
void mast_gateway_set_port(mast_gateway *g, int port);
/* Re-reads the file: on success requests that start from now on use it
** (those in flight keep theirs); on failure the old one stays. */
mast_status mast_gateway_reload(mast_gateway *g);
/* The local deployments' models to serve: at most cap specs into out
** (path and alias point into the configuration, valid until reload). */
size_t mast_gateway_local_models(mast_gateway *g, mast_model_spec *out, size_t cap);
/* The configured model names with their deployments' live state, for
** /v1/models (an array of model objects). */
json_t *mast_gateway_models(mast_gateway *g);
void mast_gateway_free(mast_gateway *g);

#endif
