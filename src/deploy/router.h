/*
** deploy/router.h — which deployment serves a request, and what happens
** when it fails: retries, fallbacks to other models, cooldown.
**
** A router owns one configuration (immutable) and the live state of its
** deployments: requests in flight, the moving average of time to first
** token, failures in a row and the circuit breaker (closed; open for the
** cooldown after allowed_fails failures in a row; then half-open, one probe
** at a time, closed again on a success), and a one-minute window of
** requests and tokens for rpm/tpm. A reload makes a new router; requests
** keep the one they started with (references counted).
**
** mast_router_run drives one request: the model's deployments by the
** route's policy, then its fallbacks. An attempt that fails with a
** retryable class (rate limit, overloaded, server error, timeout,
** connection) is retried up to the route's retries: at once on another
** deployment that has not failed this request, else on the same one after
** a backoff (doubling from route.backoff, jittered, at least Retry-After,
** at most 10 s). context_window_exceeded goes to the context fallbacks,
** authentication errors to the fallbacks; a bad request is the client's
** and ends the run. An attempt that has sent bytes to the client cannot be
** retried: the run ends with its result.
**
** Before any of that, the request's features (mast_route_req) meet the
** model's rules: the first rule that matches may hand the request to
** another model (whose rules apply in turn, at most 8 hops, never back to
** a model already visited) or restrict it to deployments with given tags
** (for the whole run, fallbacks included). A request with tools only goes
** to deployments that support tools; one with a JSON response_format only
** to those that support json. When no deployment anywhere in the chain is
** eligible the run makes no attempt and says so (none_eligible).
*/
#ifndef MAST_DEPLOY_ROUTER_H
#define MAST_DEPLOY_ROUTER_H

#include <stdbool.h>

#include "deploy/config.h"
#include "observe/trace.h"

typedef enum mast_err_class {
    MAST_CLASS_OK,
    MAST_CLASS_RATE_LIMIT,
    MAST_CLASS_OVERLOADED,
    MAST_CLASS_SERVER,
    MAST_CLASS_TIMEOUT,
    MAST_CLASS_CONNECTION,
    MAST_CLASS_CONTEXT_WINDOW,
    MAST_CLASS_CONTENT_POLICY,
    MAST_CLASS_AUTH,
    MAST_CLASS_BAD_REQUEST,
    MAST_CLASS_STARTED,           /* failed after bytes reached the client: not retried */
} mast_err_class;

/* "rate_limit", "overloaded", "server_error", "timeout", "connection_error",
** "context_window_exceeded", "content_policy", "authentication",
** "bad_request", "stream_broken". */
const char *mast_err_class_name(mast_err_class c);
/* The class of a provider's HTTP error (status and body). */
mast_err_class mast_classify_http(long status, const char *body);

/* The class of a provider call's outcome (model/providers/provider.h). */
mast_err_class mast_classify_call(const mast_provider_call *c);

typedef struct mast_router mast_router;

/* Takes the configuration. */
mast_status mast_router_new(mast_config *c, mast_router **out);
mast_router *mast_router_retain(mast_router *r);
void mast_router_release(mast_router *r);
const mast_config *mast_router_config(const mast_router *r);

/* One attempt on a deployment: performs it and says how it went;
** *retry_after (seconds, or -1) is the provider's Retry-After. */
typedef mast_err_class (*mast_attempt_fn)(void *ctx, const mast_gw_model *model,
                                          const mast_deployment *dep, int attempt,
                                          double *retry_after, double *ttft);

/* What the rules look at in a request. */
typedef struct mast_route_req {
    int prompt_tokens;            /* an estimate (mast_request_tokens) */
    bool tools;                   /* it offers the model tools */
    const char *response_format;  /* "json_object", "json_schema", or NULL (text) */
    const json_t *metadata;       /* an object of strings, or NULL */
    const char *tags;             /* comma-separated, or NULL */
} mast_route_req;

/* The prompt tokens of an OpenAI-shaped chat request, estimated from the
** text of its messages and tool definitions as the chunker estimates
** (data/chunk.h: words and punctuation, CJK characters): rules need a
** figure before a deployment, and so a tokenizer, is chosen. */
int mast_request_tokens(const json_t *body);

typedef struct mast_run_result {
    mast_err_class last;          /* the final attempt's class */
    int attempts;
    const mast_gw_model *model;   /* the model whose deployment answered (or failed last) */
    const mast_deployment *dep;
    double waited;                /* seconds spent in backoff */
    bool none_available;          /* every deployment was resting */
    bool none_eligible;           /* no deployment can serve the request (tools, json, tags) */
    const mast_rule *rule;        /* the last rule that applied, or NULL */
    const mast_gw_model *routed;  /* the model the rules chose (the requested one without rules) */
} mast_run_result;

/* ---- the same, one step at a time (for callers that wait on many
** requests at once): begin; then next says what to do — an attempt on
** (*model, *dep): start it when it starts, report how it went; a wait of
** *wait seconds (a backoff), then next again; or done — and result says how
** it ended. */
#define MAST_ROUTER_MAX_CHAIN 16  /* models tried for one request: the model and its fallbacks */
#define MAST_ROUTER_MAX_DEPS 64   /* deployments of a model the router considers */

typedef enum mast_walk_step { MAST_WALK_ATTEMPT, MAST_WALK_WAIT, MAST_WALK_DONE } mast_walk_step;

typedef struct mast_router_walk {   /* the router's; callers only hold it */
    mast_router *r;
    const mast_route_req *req;
    mast_trace *trace;
    const mast_rule *tags_rule;
    const mast_gw_model *chain[MAST_ROUTER_MAX_CHAIN];
    size_t n_chain, ci;
    bool skip[MAST_ROUTER_MAX_DEPS], tried[MAST_ROUTER_MAX_DEPS];
    int retries, last_dep, di, phase;
    mast_err_class cls;
    double last_retry_after, t_attempt;
    bool any_eligible;
    mast_run_result res;
} mast_router_walk;

void mast_router_walk_begin(mast_router_walk *w, mast_router *r, const mast_gw_model *model,
                            const mast_route_req *req, mast_trace *trace);
mast_walk_step mast_router_walk_next(mast_router_walk *w, const mast_gw_model **model,
                                     const mast_deployment **dep, double *wait);
/* The attempt next gave starts now (its span opens; it counts in flight). */
void mast_router_walk_start(mast_router_walk *w);
void mast_router_walk_report(mast_router_walk *w, mast_err_class cls, double retry_after, double ttft);
mast_run_result mast_router_walk_result(const mast_router_walk *w);

/* Serves a request for model (a name the configuration has) with the
** features req (NULL: none; no rule applies, every deployment is
** eligible). Each attempt is a span of trace (may be NULL) named
** "attempt". */
mast_run_result mast_router_run(mast_router *r, const mast_gw_model *model, const mast_route_req *req,
                                mast_attempt_fn fn, void *ctx, mast_trace *trace);

/* The live state of a deployment, for /v1/models and tests. */
typedef struct mast_dep_status {
    int in_flight, fails;
    double ewma_ttft;             /* seconds; 0 until the first success */
    bool resting;                 /* the breaker is open */
} mast_dep_status;
mast_dep_status mast_router_status(mast_router *r, const mast_deployment *dep);

#endif
