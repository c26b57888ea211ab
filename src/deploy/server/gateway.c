/*
** deploy/server/gateway.c — the gateway's HTTP side (see gateway.h).
*/
#include "deploy/server/gateway.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "base/status.h"
#include "deploy/router.h"
#include "deploy/server/http.h"
#include "model/providers/provider.h"
#include "model/providers/translate.h"

#define QUEUE_MAX 4096          /* requests waiting for a loop to take them, per loop */
#define MAX_LOOPS 64

typedef struct gw_job gw_job;

/* A thread that drives its requests' upstream calls together: one libcurl
** multi handle waits on all of their sockets, so a busy gateway serves
** many requests per wakeup instead of a thread per request. */
typedef struct gw_loop {
    struct mast_gateway *g;
    pthread_t thread;
    mast_http_loop *http;
    pthread_mutex_t mu;          /* inbox, stop */
    gw_job *inbox[QUEUE_MAX];
    size_t n_inbox;
    bool stop;
    gw_job *waiting;             /* backing off until their due time (the loop's own) */
    size_t n_jobs;               /* taken and not finished (the loop's own) */
} gw_loop;

struct mast_gateway {
    char *path;
    pthread_mutex_t mu;          /* router, port */
    mast_router *router;
    int port;
    gw_loop *loops;
    int n_loops;
    atomic_uint next_loop;
};

struct gw_job {
    mast_gateway *g;
    mast_router *router;         /* the configuration this request started with */
    const mast_gw_model *model;
    json_t *body;
    http_pending *pending;
    http_stream *stream;
    mast_trace *trace;
    char traceparent[56];        /* sent to providers: this request's root span as the parent */
    struct mast_server *server;  /* for the usage record */
    int64_t key_id;
    bool streaming, include_usage;
    bool anthropic_client;       /* came in as /v1/messages: answered in Anthropic's shape */
    mast_route_req route;        /* what the router's rules look at */
    char *tags;                  /* x-mast-tags and metadata.tags, comma-separated */
    mast_openai_stream ostream;  /* its stream's events */
    double t_received, upstream_seconds, t_attempt;
    gw_loop *loop;               /* the loop that drives it */
    mast_router_walk walk;       /* where the router is with it */
    mast_provider_call call;     /* the attempt in flight */
    mast_http_call http;
    double due;                  /* backing off: when to go on */
    gw_job *next_waiting;
    /* the attempt in progress */
    const mast_deployment *dep;
    const mast_gw_model *dep_model;
    int attempt;
    json_t *held;                /* chunks before the first worth sending */
    bool started, client_gone;
    char error[800];             /* the last failure, for the client */
    char local_url[64];
    long error_status;
    mast_usage usage;
    json_t *reply;               /* a non-streamed reply (OpenAI's shape) */
    mast_buf model_json;         /* the model's name as a JSON string, for raw chunks */
    mast_buf raw;                /* or its bytes, ready to send */
    double backoff_waited;
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- replies to the client ---- */

/* Seconds not spent waiting on providers or backing off (an attempt in
** progress counts as waiting). */
static double overhead(const gw_job *j)
{
    double in_upstream = j->upstream_seconds + (j->t_attempt ? now() - j->t_attempt : 0);
    double o = now() - j->t_received - in_upstream - j->backoff_waited;
    return o > 0 ? o : 0;
}

/* The USD of the usage at the answering deployment's prices; -1 when it
** has none or the provider reported no usage. */
static double cost(const gw_job *j)
{
    const mast_price *p = j->dep ? &j->dep->price : NULL;
    if (!p || !p->set || !j->usage.known)
        return -1;
    return mast_usage_cost(&j->usage, p->input, p->cached_input, p->cache_write, p->output);
}

static json_t *reply_headers(gw_job *j)
{
    char v[64];
    json_t *h = json_object();
    if (j->dep) {
        json_object_set_new(h, "x-mast-model", json_string(j->dep_model->name));
        json_object_set_new(h, "x-mast-deployment", json_string(j->dep->id));
    }
    snprintf(v, sizeof v, "%d", j->attempt);
    json_object_set_new(h, "x-mast-attempts", json_string(v));
    snprintf(v, sizeof v, "%.3f", overhead(j) * 1000);
    json_object_set_new(h, "x-mast-overhead-ms", json_string(v));
    if (cost(j) >= 0) {
        snprintf(v, sizeof v, "%.8f", cost(j));
        json_object_set_new(h, "x-mast-cost-usd", json_string(v));
    }
    return h;
}

static int write_event(void *ctx, const char *event, json_t *data)
{
    gw_job *j = ctx;
    if (http_stream_event(j->stream, event, data) < 0) {
        j->client_gone = true;
        return -1;
    }
    return 0;
}

/* Sends a chunk to the client, starting the stream with the first (an
** Anthropic client gets it as that API's events). */
static int send_chunk(gw_job *j, json_t *chunk)
{
    if (!j->started) {
        j->stream = http_stream_new(j->pending);
        if (!j->stream) {
            json_decref(chunk);
            return -1;
        }
        http_pending_done(j->pending, (http_reply){.status = 200, .stream = j->stream,
                                                   .headers = reply_headers(j)});
        j->pending = NULL;
        j->started = true;
    }
    if (j->anthropic_client) {
        const json_t *err = json_object_get(chunk, "error");
        int rc = err ? write_event(j, "error", json_pack("{s:s, s:{s:s, s:O}}", "type", "error", "error",
                                                         "type", "api_error", "message",
                                                         json_object_get(err, "message")))
                     : mast_openai_stream_chunk(&j->ostream, chunk, write_event, j);
        json_decref(chunk);
        return rc;
    }
    if (http_stream_event(j->stream, NULL, chunk) < 0) {
        j->client_gone = true;
        return -1;
    }
    return 0;
}

/* A chunk worth starting the stream for: content, a tool call, a finish. */
static bool substantial(const json_t *chunk)
{
    const json_t *c = json_array_get(json_object_get(chunk, "choices"), 0);
    const json_t *d = json_object_get(c, "delta");
    const json_t *content = json_object_get(d, "content");
    return (json_is_string(content) && json_string_length(content)) ||
           json_array_size(json_object_get(d, "tool_calls")) ||
           json_is_string(json_object_get(c, "finish_reason")) ||
           json_is_string(json_object_get(d, "refusal"));
}

/* A chunk after the stream has started, as the provider's bytes: sent with
** the model renamed. */
static int emit_raw(void *ctx, const char *data, size_t len, size_t model_at, size_t model_len)
{
    gw_job *j = ctx;
    mast_buf b = {0};
    mast_status st = mast_buf_puts(&b, "data: ");
    if (st == MAST_OK)
        st = mast_buf_append(&b, data, model_at);
    if (st == MAST_OK)
        st = mast_buf_append(&b, j->model_json.data, j->model_json.len);
    if (st == MAST_OK)
        st = mast_buf_append(&b, data + model_at + model_len, len - model_at - model_len);
    if (st == MAST_OK)
        st = mast_buf_puts(&b, "\n\n");
    int rc = st == MAST_OK ? http_stream_write(j->stream, b.data, b.len) : -1;
    mast_buf_free(&b);
    if (rc < 0)
        j->client_gone = true;
    return rc < 0 ? -1 : 0;
}

/* A translated or passed-on chunk (taken): held until one is substantial. */
static int emit(void *ctx, json_t *chunk)
{
    gw_job *j = ctx;
    json_object_set_new(chunk, "model", json_string(j->model->name));
    if (!j->started && !substantial(chunk)) {
        json_array_append_new(j->held, chunk);
        return 0;
    }
    size_t i;
    json_t *h;
    json_array_foreach(j->held, i, h)
        if (send_chunk(j, json_incref(h)))
            return -1;
    json_array_clear(j->held);
    int rc = send_chunk(j, chunk);
    if (!j->anthropic_client)   /* started: the rest can go as the provider's bytes */
        j->call.on_raw = emit_raw;
    return rc;
}

/* ---- one attempt ---- */

static double pick_timeout(double dep, double route)
{
    return dep > 0 ? dep : route;
}

static void advance(gw_job *j);

/* The attempt's provider call ended (on the loop's thread). */
static void attempt_done(void *ctx)
{
    gw_job *j = ctx;
    mast_provider_call *call = &j->call;
    const mast_deployment *d = j->dep;
    mast_provider_end(call, &j->http, MAST_OK);
    j->upstream_seconds += now() - j->t_attempt;
    j->t_attempt = 0;
    j->usage = call->usage;
    if (j->trace && call->status)
        mast_trace_attr_int(j->trace, "http.response.status_code", call->status);
    mast_err_class cls = mast_classify_call(call);
    if (call->outcome == MAST_CALL_STOPPED && j->client_gone) {
        snprintf(j->error, sizeof j->error, "the client went away");
        cls = MAST_CLASS_STARTED;
    } else if (cls != MAST_CLASS_OK) {
        snprintf(j->error, sizeof j->error, "%.200s%s%.511s", d->id,
                 call->outcome == MAST_CALL_STATUS ? " " : ": ", call->error);
        if (call->outcome == MAST_CALL_STATUS)
            j->error_status = call->status;
    } else if (!j->streaming && call->raw.len) {   /* the bytes as they came, the model renamed */
        mast_buf_clear(&j->raw);
        json_t *name = json_string(j->model->name);
        mast_status ok = mast_buf_append(&j->raw, call->raw.data, call->model_at);
        if (ok == MAST_OK)
            ok = mast_json_dump(name, 0, &j->raw);
        if (ok == MAST_OK)
            ok = mast_buf_append(&j->raw, call->raw.data + call->model_at + call->model_len,
                                 call->raw.len - call->model_at - call->model_len);
        json_decref(name);
        if (ok != MAST_OK) {
            snprintf(j->error, sizeof j->error, "out of memory");
            cls = MAST_CLASS_SERVER;
        }
    } else if (!j->streaming) {
        json_object_set_new(call->reply, "model", json_string(j->model->name));
        j->reply = json_incref(call->reply);
    }
    double retry_after = call->retry_after, ttft = call->t_first_byte;
    mast_provider_call_free(call);
    if (cls != MAST_CLASS_OK && j->started && cls != MAST_CLASS_STARTED) {
        /* bytes reached the client: the error goes into the stream */
        json_t *err = json_pack("{s:{s:s, s:s, s:s}}", "error", "message", j->error, "type",
                                "server_error", "code", mast_err_class_name(cls));
        send_chunk(j, err);
        cls = MAST_CLASS_STARTED;
    }
    if (cls == MAST_CLASS_OK && j->streaming) {
        size_t i;
        json_t *h;
        json_array_foreach(j->held, i, h)   /* a stream with nothing substantial in it */
            send_chunk(j, json_incref(h));
        json_array_clear(j->held);
        if (j->include_usage) {
            json_t *u = json_pack("{s:s, s:s, s:I, s:s, s:[], s:o}", "id", "chatcmpl-usage", "object",
                                  "chat.completion.chunk", "created", (json_int_t)time(NULL), "model",
                                  j->model->name, "choices", "usage", mast_usage_to_openai(&j->usage));
            send_chunk(j, u);
        }
    }
    mast_router_walk_report(&j->walk, cls, retry_after, ttft);
    advance(j);
}

/* Starts an attempt on d: false when it could not start (the request
** cannot be sent to this provider; reported to the walk). */
static bool attempt_begin(gw_job *j, const mast_gw_model *m, const mast_deployment *d)
{
    j->dep = d;
    j->dep_model = m;
    j->attempt = j->walk.res.attempts;
    j->error[0] = 0;
    j->error_status = 0;
    j->usage = (mast_usage){0};
    json_array_clear(j->held);
    bool is_local = d->provider == MAST_PROVIDER_LOCAL;
    if (is_local)   /* served by this process, under the deployment's id */
        snprintf(j->local_url, sizeof j->local_url, "http://127.0.0.1:%d/v1", j->g->port);
    const mast_route *r = &m->route;
    j->call = (mast_provider_call){
        .kind = is_local ? MAST_PROVIDER_OPENAI_COMPAT : d->provider,
        .base_url = is_local ? j->local_url : d->base_url, .model = is_local ? d->id : d->model,
        .api_key = d->api_key, .request = j->body, .stream = j->streaming,
        .connect_timeout = pick_timeout(d->timeout.connect, r->timeout.connect),
        .first_byte_timeout = pick_timeout(d->timeout.first_token, r->timeout.first_token),
        .total_timeout = pick_timeout(d->timeout.total, r->timeout.total),
        .on_chunk = emit, .ctx = j, .raw_reply = !j->anthropic_client,
        .traceparent = j->traceparent[0] ? j->traceparent : NULL,
    };
    j->t_attempt = now();
    mast_status st = mast_provider_begin(&j->call, &j->http);
    if (st == MAST_OK && (st = mast_http_loop_add(j->loop->http, &j->http, attempt_done, j)) != MAST_OK)
        mast_provider_call_free(&j->call);
    if (st == MAST_OK)
        return true;
    snprintf(j->error, sizeof j->error, "%s", j->call.error[0] ? j->call.error : mast_errmsg());
    j->t_attempt = 0;
    mast_router_walk_report(&j->walk, st == MAST_ERR_INVALID ? MAST_CLASS_BAD_REQUEST : MAST_CLASS_SERVER,
                            -1, 0);
    return false;
}

/* ---- the end of a request ---- */

static unsigned status_of(mast_err_class c)
{
    switch (c) {
    case MAST_CLASS_RATE_LIMIT: return 429;
    case MAST_CLASS_OVERLOADED: return 503;
    case MAST_CLASS_TIMEOUT: return 504;
    case MAST_CLASS_CONTEXT_WINDOW:
    case MAST_CLASS_CONTENT_POLICY:
    case MAST_CLASS_BAD_REQUEST: return 400;
    default: return 502;
    }
}

static void record(gw_job *j, const mast_run_result *res)
{
    mast_trace *t = j->trace;
    if (!t)
        return;
    mast_trace_attr_str(t, "gen_ai.operation.name", "chat");
    mast_trace_attr_str(t, "gen_ai.request.model", j->model->name);
    if (res->dep) {
        mast_trace_attr_str(t, "gen_ai.provider.name", mast_provider_name(res->dep->provider));
        mast_trace_attr_str(t, "gen_ai.response.model", res->dep->model ? res->dep->model : res->dep->id);
        mast_trace_attr_str(t, "mast.deployment", res->dep->id);
        mast_trace_attr_str(t, "mast.model.answered", res->model->name);
    }
    mast_trace_attr_int(t, "mast.gateway.attempts", res->attempts);
    if (j->usage.known) {
        mast_trace_attr_int(t, "gen_ai.usage.input_tokens", j->usage.input);
        mast_trace_attr_int(t, "gen_ai.usage.output_tokens", j->usage.output);
        mast_trace_attr_int(t, "gen_ai.usage.cache_read.input_tokens", j->usage.cache_read);
        mast_trace_attr_int(t, "gen_ai.usage.cache_creation.input_tokens", j->usage.cache_write);
        mast_trace_attr_int(t, "gen_ai.usage.reasoning.output_tokens", j->usage.reasoning);
        if (cost(j) >= 0)
            mast_trace_attr_double(t, "mast.cost_usd", cost(j));
    }
    mast_trace_attr_double(t, "mast.gateway.overhead_ms", overhead(j) * 1000);
    if (res->last != MAST_CLASS_OK)
        mast_trace_attr_str(t, "error.type", mast_err_class_name(res->last));
}

/* Why no deployment could take the request: "it offers tools; ...". */
static void ineligible_reason(const mast_route_req *q, const mast_run_result *res, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    if (q->tools)
        n += (size_t)snprintf(out + n, cap - n, "it offers tools and none supports tools; ");
    if (q->response_format && n < cap)
        n += (size_t)snprintf(out + n, cap - n, "it asks for %s and none supports json; ",
                              q->response_format);
    const mast_rule *u = res->rule;
    if (u && u->n_deployment_tags && n < cap) {
        n += (size_t)snprintf(out + n, cap - n, "the rule at line %d sends it to deployments tagged",
                              u->line);
        for (size_t i = 0; i < u->n_deployment_tags && n < cap; i++)
            n += (size_t)snprintf(out + n, cap - n, " %s", u->deployment_tags[i]);
        if (n < cap)
            n += (size_t)snprintf(out + n, cap - n, "; ");
    }
    if (n >= 2 && n < cap)
        out[n - 2] = 0;
}

static void job_free(gw_job *j);

/* The request is done: its reply, usage and trace; the job is freed. */
static void job_end(gw_job *j)
{
    mast_run_result res = mast_router_walk_result(&j->walk);
    j->backoff_waited = res.waited;
    record(j, &res);
    double usd = cost(j);
    if (j->usage.known && res.dep)   /* what the key spent, and the usage table */
        http_record_usage(j->server, j->key_id, j->model->name, &j->usage, usd > 0 ? usd : 0);
    if (j->started) {
        if (res.last == MAST_CLASS_OK && j->anthropic_client)
            mast_openai_stream_finish(&j->ostream, write_event, j);
        else if (res.last == MAST_CLASS_OK)
            http_stream_write(j->stream, "data: [DONE]\n\n", 14);
        http_stream_close(j->stream, res.last == MAST_CLASS_OK ? 200 : 502);
        j->loop->n_jobs--;
        job_free(j);
        return;
    }
    http_reply r;
    if (res.last == MAST_CLASS_OK && j->raw.len) {
        r = (http_reply){.status = 200, .raw = j->raw};
        j->raw = (mast_buf){0};
    } else if (res.last == MAST_CLASS_OK && j->reply) {
        r = http_ok(200, j->reply);
        j->reply = NULL;
    } else if (res.last == MAST_CLASS_OK) {   /* a stream that sent nothing at all */
        r = http_error(502, "upstream_error", "%s sent an empty stream", res.dep ? res.dep->id : "?");
    } else if (res.none_eligible) {
        char why[512];
        ineligible_reason(&j->route, &res, why, sizeof why);
        r = http_error(400, "no_deployment_eligible", "no deployment of model %s can serve this "
                       "request: %s", res.routed->name, why);
    } else if (res.none_available) {
        r = http_error(503, "no_deployment_available", "every deployment of model %s is resting "
                       "after failures (cooldown %.0f s); try again shortly", j->model->name,
                       j->model->route.cooldown);
        r.retry_after = (int)j->model->route.cooldown > 0 ? (int)j->model->route.cooldown : 1;
    } else {
        unsigned status = status_of(res.last);
        r = http_error(status, mast_err_class_name(res.last), "model %s: %d attempt%s failed; the "
                       "last: %s", j->model->name, res.attempts, res.attempts == 1 ? "" : "s", j->error);
        if (res.last == MAST_CLASS_CONTEXT_WINDOW)
            json_object_set_new(json_object_get(r.body, "error"), "code",
                                json_string("context_length_exceeded"));
        if (status == 429 || status == 503)
            r.retry_after = 1;
    }
    if (j->anthropic_client && r.body) {   /* the reply in Anthropic's shape */
        json_t *a;
        if (r.status == 200) {
            a = mast_openai_reply_to_anthropic(r.body, j->model->name);
        } else {
            const char *type = r.status == 429 ? "rate_limit_error" : r.status == 503 ? "overloaded_error"
                             : r.status == 400 ? "invalid_request_error" : "api_error";
            a = json_pack("{s:s, s:{s:s, s:O}}", "type", "error", "error", "type", type, "message",
                          json_object_get(json_object_get(r.body, "error"), "message"));
        }
        json_decref(r.body);
        r.body = a;
    }
    r.headers = reply_headers(j);
    http_pending_done(j->pending, r);
    j->pending = NULL;
    j->loop->n_jobs--;
    job_free(j);
}

/* Takes the request as far as it goes now: an attempt started, a backoff
** begun, or the end. */
static void advance(gw_job *j)
{
    for (;;) {
        const mast_gw_model *m;
        const mast_deployment *d;
        double wait;
        mast_walk_step step = mast_router_walk_next(&j->walk, &m, &d, &wait);
        if (step == MAST_WALK_DONE) {
            job_end(j);
            return;
        }
        if (step == MAST_WALK_WAIT) {
            j->due = now() + wait;
            j->next_waiting = j->loop->waiting;
            j->loop->waiting = j;
            return;
        }
        mast_router_walk_start(&j->walk);
        if (attempt_begin(j, m, d))
            return;
    }
}

static void job_free(gw_job *j)
{
    json_decref(j->held);
    json_decref(j->reply);
    mast_buf_free(&j->raw);
    mast_buf_free(&j->model_json);
    json_decref(j->body);
    free(j->tags);
    mast_router_release(j->router);
    free(j);
}

static void *loop_main(void *arg)
{
    gw_loop *l = arg;
    pthread_setname_np(pthread_self(), "mast-gateway");
    gw_job *taken[QUEUE_MAX];
    for (;;) {
        pthread_mutex_lock(&l->mu);
        size_t n = l->n_inbox;
        memcpy(taken, l->inbox, n * sizeof *taken);
        l->n_inbox = 0;
        bool stop = l->stop;
        pthread_mutex_unlock(&l->mu);
        for (size_t i = 0; i < n; i++) {
            gw_job *j = taken[i];
            l->n_jobs++;
            mast_router_walk_begin(&j->walk, j->router, j->model, &j->route, j->trace);
            advance(j);
        }
        if (stop && !l->n_jobs)
            break;
        /* until the first backoff ends, or 10 ms (the calls' deadlines), or a wakeup */
        double t = now(), first = t + 0.010;
        for (gw_job *w = l->waiting; w; w = w->next_waiting)
            if (w->due < first)
                first = w->due;
        mast_http_loop_run(l->http, n ? 0 : (int)((first - t) * 1000 + 0.999));
        t = now();
        gw_job *due = NULL;
        for (gw_job **p = &l->waiting; *p;) {
            gw_job *w = *p;
            if (w->due <= t) {
                *p = w->next_waiting;
                w->next_waiting = due;
                due = w;
            } else {
                p = &w->next_waiting;
            }
        }
        while (due) {
            gw_job *w = due;
            due = w->next_waiting;
            advance(w);
        }
    }
    return NULL;
}

/* ---- the route ---- */

/* The features the router's rules look at. */
static mast_status route_features(gw_job *j, const http_request *req)
{
    const json_t *b = j->body, *meta = json_object_get(b, "metadata");
    const char *type = mast_json_get_str(json_object_get(b, "response_format"), "type", NULL);
    j->route = (mast_route_req){
        .prompt_tokens = mast_router_config(j->router)->rules_count_tokens ? mast_request_tokens(b) : 0,
        .tools = json_array_size(json_object_get(b, "tools")) > 0,
        .response_format = type && (!strcmp(type, "json_object") || !strcmp(type, "json_schema"))
                         ? type : NULL,
        .metadata = json_is_object(meta) ? meta : NULL,
    };
    const char *h = req->conn ? MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "x-mast-tags")
                              : NULL;
    const char *m = mast_json_get_str(meta, "tags", NULL);
    if (!h && !m)
        return MAST_OK;
    size_t n = (h ? strlen(h) : 0) + (m ? strlen(m) : 0) + 2;
    if (!(j->tags = malloc(n)))
        return MAST_ERR_NOMEM;
    snprintf(j->tags, n, "%s%s%s", h ? h : "", h && m ? "," : "", m ? m : "");
    j->route.tags = j->tags;
    return MAST_OK;
}

http_reply mast_gateway_api(http_ctx *c, const http_request *req, int *matched)
{
    *matched = 0;
    mast_gateway *g = c->gateway;
    bool anthropic = !strcmp(req->path, "/v1/messages");
    if (!g || (strcmp(req->path, "/v1/chat/completions") && !anthropic) || strcmp(req->method, "POST"))
        return (http_reply){0};
    json_t *body = NULL;
    if (http_body_object(req, NULL, &body) != MAST_OK)
        return (http_reply){0};   /* the local API reports a malformed body */
    pthread_mutex_lock(&g->mu);
    mast_router *router = mast_router_retain(g->router);
    pthread_mutex_unlock(&g->mu);
    /* both shapes name the model the same way */
    const mast_gw_model *m = mast_config_model(mast_router_config(router),
                                               mast_json_get_str(body, "model", NULL));
    if (!m) {
        mast_router_release(router);
        json_decref(body);
        return (http_reply){0};
    }
    if (anthropic) {   /* an Anthropic client: the request in the gateway's (OpenAI's) shape */
        json_t *o = NULL;
        mast_status st = mast_anthropic_request_to_openai(body, &o);
        json_decref(body);
        if (st != MAST_OK) {
            *matched = 1;
            mast_router_release(router);
            return http_ok(400, json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type",
                                          "invalid_request_error", "message", mast_errmsg()));
        }
        body = o;
    }
    *matched = 1;
    const json_t *stream = json_object_get(body, "stream");
    if (!json_is_array(json_object_get(body, "messages")) || (stream && !json_is_boolean(stream))) {
        mast_router_release(router);
        json_decref(body);
        return http_error_param(400, "invalid_request", json_is_array(json_object_get(body, "messages"))
                                ? "stream" : "messages", "%s", "\"messages\" must be an array and "
                                "\"stream\" true or false");
    }
    gw_job *j = calloc(1, sizeof *j);
    if (!j || !(j->held = json_array())) {
        free(j);
        mast_router_release(router);
        json_decref(body);
        return http_error(500, "internal_error", "out of memory");
    }
    j->g = g;
    j->router = router;
    j->model = m;
    json_t *name = json_string(m->name);
    mast_json_dump(name, 0, &j->model_json);
    json_decref(name);
    j->body = body;
    j->trace = req->trace;
    if (j->trace)
        mast_trace_traceparent(j->trace, 0, j->traceparent);
    j->server = req->server;
    j->key_id = req->key_id;
    j->t_received = now();
    j->streaming = json_is_true(stream);
    j->include_usage = json_is_true(json_object_get(json_object_get(body, "stream_options"),
                                                    "include_usage"));
    j->anthropic_client = anthropic;
    if (anthropic) {
        j->include_usage = true;   /* for message_delta's usage */
        mast_openai_stream_init(&j->ostream, m->name);
    }
    json_object_del(body, "stream_options");
    if (route_features(j, req) != MAST_OK) {
        job_free(j);
        return http_error(500, "internal_error", "out of memory");
    }
    j->pending = http_pending_new(req);
    if (!j->pending) {
        job_free(j);
        return http_error(500, "internal_error", "out of memory");
    }
    http_pending *p = j->pending;
    gw_loop *l = &g->loops[atomic_fetch_add(&g->next_loop, 1) % (unsigned)g->n_loops];
    j->loop = l;
    pthread_mutex_lock(&l->mu);
    bool full = l->n_inbox == QUEUE_MAX;
    if (!full)
        l->inbox[l->n_inbox++] = j;
    pthread_mutex_unlock(&l->mu);
    if (!full)
        mast_http_loop_wakeup(l->http);
    if (full) {
        http_reply r = http_error(429, "rate_limit_exceeded", "the gateway's queue is full (%d "
                                  "requests waiting)", QUEUE_MAX);
        r.retry_after = 1;
        http_pending_done(p, r);
        j->pending = NULL;
        job_free(j);
    }
    return (http_reply){.pending = p};
}

/* ---- life ---- */

mast_status mast_gateway_new(const char *config_path, int threads, mast_gateway **out)
{
    *out = NULL;
    mast_config *cfg;
    MAST_TRY(mast_config_load(config_path, &cfg));
    mast_gateway *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(config_path))) {
        free(g);
        mast_config_free(cfg);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&g->mu, NULL);
    mast_status st = mast_router_new(cfg, &g->router);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int n = threads > 0 ? threads : cpus > 0 ? (int)cpus : 1;
    n = n > MAX_LOOPS ? MAX_LOOPS : n;
    g->loops = st == MAST_OK ? calloc((size_t)n, sizeof *g->loops) : NULL;
    if (st == MAST_OK && !g->loops)
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (; st == MAST_OK && g->n_loops < n; g->n_loops++) {
        gw_loop *l = &g->loops[g->n_loops];
        l->g = g;
        pthread_mutex_init(&l->mu, NULL);
        st = mast_http_loop_new(&l->http);
        if (st == MAST_OK && pthread_create(&l->thread, NULL, loop_main, l)) {
            mast_http_loop_free(l->http);
            st = mast_fail(MAST_ERR_IO, "cannot start the gateway's threads");
        }
        if (st != MAST_OK)
            pthread_mutex_destroy(&l->mu);
    }
    if (st != MAST_OK) {
        mast_gateway_free(g);
        return st;
    }
    *out = g;
    return MAST_OK;
}

void mast_gateway_set_port(mast_gateway *g, int port)
{
    pthread_mutex_lock(&g->mu);
    g->port = port;
    pthread_mutex_unlock(&g->mu);
}

mast_status mast_gateway_reload(mast_gateway *g)
{
    mast_config *cfg;
    MAST_TRY(mast_config_load(g->path, &cfg));
    mast_router *r;
    MAST_TRY(mast_router_new(cfg, &r));
    pthread_mutex_lock(&g->mu);
    mast_router *old = g->router;
    g->router = r;
    pthread_mutex_unlock(&g->mu);
    mast_router_release(old);
    return MAST_OK;
}

size_t mast_gateway_local_models(mast_gateway *g, mast_model_spec *out, size_t cap)
{
    const mast_config *c = mast_router_config(g->router);
    size_t n = 0;
    for (size_t i = 0; i < c->n_models; i++)
        for (size_t d = 0; d < c->models[i].n_deps; d++) {
            const mast_deployment *dp = &c->models[i].deps[d];
            if (dp->provider == MAST_PROVIDER_LOCAL && n < cap)
                out[n++] = (mast_model_spec){dp->path, dp->id, MAST_MODEL_CHAT};
        }
    return n;
}

json_t *mast_gateway_models(mast_gateway *g)
{
    pthread_mutex_lock(&g->mu);
    mast_router *r = mast_router_retain(g->router);
    pthread_mutex_unlock(&g->mu);
    const mast_config *c = mast_router_config(r);
    json_t *out = json_array();
    for (size_t i = 0; i < c->n_models; i++) {
        json_t *deps = json_array();
        for (size_t d = 0; d < c->models[i].n_deps; d++) {
            const mast_deployment *dp = &c->models[i].deps[d];
            mast_dep_status s = mast_router_status(r, dp);
            json_array_append_new(deps, json_pack("{s:s, s:s, s:i, s:i, s:f, s:b}", "id", dp->id,
                                                  "provider", mast_provider_name(dp->provider),
                                                  "in_flight", s.in_flight, "failures", s.fails,
                                                  "ttft_seconds", s.ewma_ttft, "resting", s.resting));
        }
        json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:s, s:s, s:o}", "id", c->models[i].name,
                                             "object", "model", "created", (json_int_t)0, "owned_by",
                                             "mast-gateway", "status", "ready", "deployments", deps));
    }
    mast_router_release(r);
    return out;
}

void mast_gateway_free(mast_gateway *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_loops; i++) {   /* each loop ends once its requests have */
        gw_loop *l = &g->loops[i];
        pthread_mutex_lock(&l->mu);
        l->stop = true;
        pthread_mutex_unlock(&l->mu);
        mast_http_loop_wakeup(l->http);
    }
    for (int i = 0; i < g->n_loops; i++) {
        pthread_join(g->loops[i].thread, NULL);
        mast_http_loop_free(g->loops[i].http);
        pthread_mutex_destroy(&g->loops[i].mu);
    }
    free(g->loops);
    mast_router_release(g->router);
    pthread_mutex_destroy(&g->mu);
    free(g->path);
    free(g);
}
