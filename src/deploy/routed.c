/*
** deploy/routed.c — a gateway model as a generator (see routed.h).
*/
#include "deploy/routed.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/status.h"
#include "deploy/router.h"
#include "model/providers/provider.h"

typedef struct routed {
    mast_generator base;
    mast_router *router;
    const mast_gw_model *model;
    mast_local_opts local_opts;
    mast_generator **locals;     /* by deployment slot, opened when first chosen */
    mast_http_client *client;
    char describe[300];
} routed;

/* One generate call. */
typedef struct run {
    routed *g;
    const mast_gen_request *req;
    json_t *body;                /* the OpenAI request for remote deployments */
    mast_gen_text_fn fn;
    void *ctx;
    bool started, stopped;       /* text reached the callback; the callback stopped it */
    char finish[32];
    mast_usage usage;
    mast_gen_result local;       /* a local deployment's result */
    bool is_local;
    char error[800];
} run;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A float option as the decimal the user wrote (0.95, not 0.9499999881). */
static double decimal(float x)
{
    return round((double)x * 1e6) / 1e6;
}

/* The request as OpenAI's. */
static json_t *openai_request(const mast_gen_request *r)
{
    json_t *msgs;
    if (r->chat) {
        msgs = json_deep_copy(r->chat);
    } else {
        msgs = json_array();
        for (size_t i = 0; i < r->n_messages; i++)
            json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", r->messages[i].role, "content",
                                                  r->messages[i].content));
        if (!r->messages && r->prompt)
            json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", r->prompt));
    }
    const mast_gen_params *p = &r->params;
    json_t *b = json_pack("{s:o, s:i, s:f, s:f}", "messages", msgs, "max_tokens", p->max_tokens,
                          "temperature", decimal(p->sampler.temperature), "top_p",
                          decimal(p->sampler.top_p));
    if (!b)
        return NULL;
    json_object_set_new(b, "seed", json_integer((json_int_t)(p->sampler.seed & 0x7fffffff)));
    if (p->sampler.frequency_penalty)
        json_object_set_new(b, "frequency_penalty", json_real(decimal(p->sampler.frequency_penalty)));
    if (p->sampler.presence_penalty)
        json_object_set_new(b, "presence_penalty", json_real(decimal(p->sampler.presence_penalty)));
    if (p->n_stop) {
        json_t *stop = json_array();
        for (size_t i = 0; i < p->n_stop && i < 4; i++)   /* OpenAI takes at most 4 */
            json_array_append_new(stop, json_string(p->stop[i]));
        json_object_set_new(b, "stop", stop);
    }
    return b;
}

static int on_chunk(void *ctx, json_t *chunk)
{
    run *u = ctx;
    const json_t *c = json_array_get(json_object_get(chunk, "choices"), 0);
    const json_t *content = json_object_get(json_object_get(c, "delta"), "content");
    const char *finish = json_string_value(json_object_get(c, "finish_reason"));
    int rc = 0;
    if (json_is_string(content) && json_string_length(content)) {
        u->started = true;
        if (u->fn(u->ctx, json_string_value(content), json_string_length(content))) {
            u->stopped = true;
            rc = 1;
        }
    }
    if (finish)
        snprintf(u->finish, sizeof u->finish, "%s", finish);
    json_decref(chunk);
    return rc;
}

static int local_text(void *ctx, const char *text, size_t len)
{
    run *u = ctx;
    u->started = true;
    int rc = u->fn(u->ctx, text, len);
    u->stopped |= rc != 0;
    return rc;
}

static double pick(double dep, double route)
{
    return dep > 0 ? dep : route;
}

static mast_err_class attempt_local(run *u, const mast_deployment *d)
{
    routed *g = u->g;
    mast_generator **lg = &g->locals[d->slot];
    mast_status st = *lg ? MAST_OK : mast_local_generator_open(d->path, &g->local_opts, lg);
    mast_gen_result_free(&u->local);
    memset(&u->local, 0, sizeof u->local);
    if (st == MAST_OK)
        st = mast_generate(*lg, u->req, local_text, u, &u->local);
    u->is_local = true;
    if (st == MAST_OK)
        return MAST_CLASS_OK;
    snprintf(u->error, sizeof u->error, "%.200s: %.500s", d->id, mast_errmsg());
    if (u->started)
        return MAST_CLASS_STARTED;
    return st == MAST_ERR_LIMIT ? MAST_CLASS_CONTEXT_WINDOW
         : st == MAST_ERR_INVALID || st == MAST_ERR_UNSUPPORTED ? MAST_CLASS_BAD_REQUEST : MAST_CLASS_SERVER;
}

static mast_err_class attempt(void *ctx, const mast_gw_model *m, const mast_deployment *d, int n,
                              double *retry_after, double *ttft)
{
    run *u = ctx;
    (void)n;
    u->finish[0] = 0;
    u->usage = (mast_usage){0};
    u->is_local = false;
    if (d->provider == MAST_PROVIDER_LOCAL)
        return attempt_local(u, d);
    if (u->req->params.constraint) {
        snprintf(u->error, sizeof u->error, "%s: a grammar constraint needs a local model", d->id);
        return MAST_CLASS_BAD_REQUEST;
    }
    mast_provider_call call = {
        .kind = d->provider, .base_url = d->base_url, .model = d->model, .api_key = d->api_key,
        .request = u->body, .stream = true,
        .connect_timeout = pick(d->timeout.connect, m->route.timeout.connect),
        .first_byte_timeout = pick(d->timeout.first_token, m->route.timeout.first_token),
        .total_timeout = pick(d->timeout.total, m->route.timeout.total),
        .on_chunk = on_chunk, .ctx = u,
    };
    mast_status st = mast_provider_perform(u->g->client, &call);
    *retry_after = call.retry_after;
    *ttft = call.t_first_byte;
    u->usage = call.usage;
    mast_err_class cls = st != MAST_OK ? MAST_CLASS_BAD_REQUEST
                       : call.outcome == MAST_CALL_STOPPED && u->stopped ? MAST_CLASS_OK   /* enough */
                       : mast_classify_call(&call);
    if (cls != MAST_CLASS_OK)
        snprintf(u->error, sizeof u->error, "%.200s%s%.500s", d->id,
                 call.outcome == MAST_CALL_STATUS ? " " : ": ", call.error);
    mast_provider_call_free(&call);
    if (cls != MAST_CLASS_OK && u->started)
        cls = MAST_CLASS_STARTED;
    return cls;
}

static mast_status routed_generate(mast_generator *base, const mast_gen_request *r, mast_gen_text_fn fn,
                                   void *ctx, mast_gen_result *out)
{
    routed *g = (routed *)base;
    memset(out, 0, sizeof *out);
    out->stop_index = -1;
    run u = {.g = g, .req = r, .fn = fn, .ctx = ctx};
    if (!(u.body = openai_request(r)))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_route_req q = {.prompt_tokens = mast_router_config(g->router)->rules_count_tokens
                                          ? mast_request_tokens(u.body) : 0};
    double t0 = now();
    mast_run_result res = mast_router_run(g->router, g->model, &q, attempt, &u, NULL);
    out->gen_seconds = now() - t0;
    json_decref(u.body);
    mast_status st = MAST_OK;
    if (res.last == MAST_CLASS_OK && u.is_local) {
        *out = u.local;   /* the local engine's own counts and ids */
        return MAST_OK;
    }
    mast_gen_result_free(&u.local);
    if (res.last == MAST_CLASS_OK) {
        out->prompt_tokens = (int)u.usage.input;
        out->cached_tokens = (int)u.usage.cache_read;
        out->completion_tokens = (int)u.usage.output;
        out->finish_reason = !strcmp(u.finish, "length") ? "length"
                           : !strcmp(u.finish, "tool_calls") ? "tool_calls" : "stop";
    } else if (res.none_eligible) {
        st = mast_fail(MAST_ERR_INVALID, "no deployment of model %s can serve this request",
                       res.routed->name);
    } else if (res.none_available) {
        st = mast_fail(MAST_ERR_IO, "every deployment of model %s is resting after failures",
                       g->model->name);
    } else {
        st = mast_fail(res.last == MAST_CLASS_BAD_REQUEST ? MAST_ERR_INVALID
                       : res.last == MAST_CLASS_CONTEXT_WINDOW ? MAST_ERR_LIMIT : MAST_ERR_IO,
                       "model %s: %d attempt%s failed (%s); the last: %s", g->model->name, res.attempts,
                       res.attempts == 1 ? "" : "s", mast_err_class_name(res.last), u.error);
    }
    return st;
}

static mast_status routed_count(mast_generator *base, const mast_gen_request *r, int *n)
{
    (void)base;
    json_t *b = openai_request(r);
    if (!b)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    *n = mast_request_tokens(b);
    json_decref(b);
    return MAST_OK;
}

static const char *routed_describe(const mast_generator *base)
{
    return ((const routed *)base)->describe;
}

static void routed_free(mast_generator *base)
{
    routed *g = (routed *)base;
    const mast_config *c = mast_router_config(g->router);
    for (int i = 0; i < c->n_slots; i++)
        mast_generator_free(g->locals[i]);
    free(g->locals);
    mast_http_client_free(g->client);
    mast_router_release(g->router);
    free(g);
}

static const mast_generator_ops ops = {routed_generate, routed_count, routed_describe, routed_free};

mast_status mast_routed_generator_open(const char *config_path, const char *model,
                                       const mast_local_opts *local, mast_generator **out)
{
    *out = NULL;
    mast_config *c;
    MAST_TRY(mast_config_load(config_path, &c));
    const mast_gw_model *m = mast_config_model(c, model);
    if (!m) {
        char names[400] = "";
        for (size_t i = 0; i < c->n_models; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     c->models[i].name);
        mast_status st = mast_fail(MAST_ERR_NOT_FOUND, "%s has no model named '%s' (it has: %s)",
                                   config_path, model, names);
        mast_config_free(c);
        return st;
    }
    routed *g = calloc(1, sizeof *g);
    if (!g || !(g->locals = calloc((size_t)c->n_slots + 1, sizeof *g->locals))) {
        free(g);
        mast_config_free(c);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    g->base.ops = &ops;
    g->model = m;
    g->local_opts = local ? *local : MAST_LOCAL_OPTS_DEFAULT;
    snprintf(g->describe, sizeof g->describe, "%s (a model of %s)", model, config_path);
    mast_status st = mast_router_new(c, &g->router);   /* takes c */
    if (st != MAST_OK) {
        free(g->locals);
        free(g);
        return st;
    }
    if ((st = mast_http_client_new(&g->client)) != MAST_OK) {
        routed_free(&g->base);
        return st;
    }
    *out = &g->base;
    return MAST_OK;
}
