/*
** deploy/router.c — deployment choice, retries, fallbacks, cooldown (see
** router.h).
*/
#include "deploy/router.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/status.h"
#include "data/chunk.h"

#define MAX_BACKOFF 10.0
#define MAX_HOPS 8            /* rules handing a request from model to model */

typedef struct dep_state {
    pthread_mutex_t mu;
    int in_flight;
    double ewma_ttft;
    int fails;
    double open_until;        /* the breaker rests until then (0: closed) */
    bool probing;             /* half-open: a probe is in flight */
    double window_start;
    long window_requests;
} dep_state;

struct mast_router {
    atomic_int refs;
    mast_config *config;
    dep_state *states;
    pthread_mutex_t rng_mu;
    uint64_t rng;
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

const char *mast_err_class_name(mast_err_class c)
{
    static const char *const names[] = {"ok", "rate_limit", "overloaded", "server_error", "timeout",
                                        "connection_error", "context_window_exceeded",
                                        "content_policy", "authentication", "bad_request",
                                        "stream_broken"};
    return (unsigned)c < sizeof names / sizeof *names ? names[c] : "error";
}

static bool has_word(const char *body, const char *w)
{
    return body && strcasestr(body, w) != NULL;
}

mast_err_class mast_classify_http(long status, const char *body)
{
    if (status >= 200 && status < 300)
        return MAST_CLASS_OK;
    if (status == 429)
        return has_word(body, "overloaded") ? MAST_CLASS_OVERLOADED : MAST_CLASS_RATE_LIMIT;
    if (status == 529 || (status == 503 && has_word(body, "overloaded")))
        return MAST_CLASS_OVERLOADED;
    if (status == 408 || status == 504)
        return MAST_CLASS_TIMEOUT;
    if (status >= 500)
        return MAST_CLASS_SERVER;
    if (status == 401 || status == 403)
        return MAST_CLASS_AUTH;
    if (has_word(body, "context_length_exceeded") || has_word(body, "context window") ||
        has_word(body, "maximum context") || has_word(body, "prompt is too long") ||
        has_word(body, "too many tokens"))
        return MAST_CLASS_CONTEXT_WINDOW;
    if (has_word(body, "content_policy") || has_word(body, "content_filter") ||
        has_word(body, "content management policy"))
        return MAST_CLASS_CONTENT_POLICY;
    return MAST_CLASS_BAD_REQUEST;
}

mast_err_class mast_classify_call(const mast_provider_call *c)
{
    switch (c->outcome) {
    case MAST_CALL_OK: return MAST_CLASS_OK;
    case MAST_CALL_TRANSPORT:
        return c->http_fail == MAST_HTTP_CONNECT ? MAST_CLASS_CONNECTION
             : c->http_fail == MAST_HTTP_BROKEN ? MAST_CLASS_SERVER : MAST_CLASS_TIMEOUT;
    case MAST_CALL_STATUS: return mast_classify_http(c->status, mast_buf_cstr(&c->error_body));
    default: return MAST_CLASS_SERVER;   /* a protocol error; stopped (the caller knows why) */
    }
}

mast_status mast_router_new(mast_config *c, mast_router **out)
{
    mast_router *r = calloc(1, sizeof *r);
    dep_state *st = calloc((size_t)c->n_slots + 1, sizeof *st);
    if (!r || !st) {
        free(r);
        free(st);
        mast_config_free(c);
        *out = NULL;
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < c->n_slots; i++)
        pthread_mutex_init(&st[i].mu, NULL);
    atomic_init(&r->refs, 1);
    r->config = c;
    r->states = st;
    pthread_mutex_init(&r->rng_mu, NULL);
    r->rng = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull | 1;
    *out = r;
    return MAST_OK;
}

mast_router *mast_router_retain(mast_router *r)
{
    if (r)
        atomic_fetch_add(&r->refs, 1);
    return r;
}

void mast_router_release(mast_router *r)
{
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    for (int i = 0; i < r->config->n_slots; i++)
        pthread_mutex_destroy(&r->states[i].mu);
    free(r->states);
    mast_config_free(r->config);
    free(r);
}

const mast_config *mast_router_config(const mast_router *r)
{
    return r->config;
}

static double uniform(mast_router *r)
{
    pthread_mutex_lock(&r->rng_mu);
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    uint64_t x = r->rng;
    pthread_mutex_unlock(&r->rng_mu);
    return (double)(x >> 11) / 9007199254740992.0;
}

/* Whether a deployment may take a request now; a half-open breaker lets
** one probe through. */
static bool available(dep_state *s, const mast_deployment *d, double t)
{
    bool ok;
    pthread_mutex_lock(&s->mu);
    if (t - s->window_start >= 60) {
        s->window_start = t;
        s->window_requests = 0;
    }
    ok = s->open_until == 0 || (t >= s->open_until && !s->probing);
    if (ok && d->rpm && s->window_requests >= d->rpm)
        ok = false;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static double price_of(const mast_deployment *d)
{
    return d->price.set ? d->price.input + d->price.output : 0;
}

/* The deployment the policy picks among the available ones not in tried;
** -1 for none. */
static int pick(mast_router *r, const mast_gw_model *m, const bool *tried, bool *none_available)
{
    double t = now();
    int cand[MAST_ROUTER_MAX_DEPS], n = 0;
    for (size_t i = 0; i < m->n_deps && n < MAST_ROUTER_MAX_DEPS; i++)
        if (!tried[i] && available(&r->states[m->deps[i].slot], &m->deps[i], t))
            cand[n++] = (int)i;
    if (!n) {
        *none_available = true;
        return -1;
    }
    int best = cand[0];
    switch (m->route.policy) {
    case MAST_POLICY_SHUFFLE: {
        double total = 0;
        for (int k = 0; k < n; k++)
            total += m->deps[cand[k]].weight;
        double x = uniform(r) * total;
        for (int k = 0; k < n; k++) {
            best = cand[k];
            if ((x -= m->deps[cand[k]].weight) < 0)
                break;
        }
        break;
    }
    case MAST_POLICY_LATENCY: {   /* unmeasured deployments first, so each gets measured */
        double bv = INFINITY;
        for (int k = 0; k < n; k++) {
            dep_state *s = &r->states[m->deps[cand[k]].slot];
            double v = s->ewma_ttft;
            if (v < bv) {
                bv = v;
                best = cand[k];
            }
        }
        break;
    }
    case MAST_POLICY_COST: {
        double bv = INFINITY;
        for (int k = 0; k < n; k++)
            if (price_of(&m->deps[cand[k]]) < bv) {
                bv = price_of(&m->deps[cand[k]]);
                best = cand[k];
            }
        break;
    }
    case MAST_POLICY_BUSY:
    case MAST_POLICY_USAGE: {
        double bv = INFINITY;
        for (int k = 0; k < n; k++) {
            const mast_deployment *d = &m->deps[cand[k]];
            dep_state *s = &r->states[d->slot];
            double v = m->route.policy == MAST_POLICY_BUSY ? s->in_flight
                     : d->rpm ? (double)s->window_requests / d->rpm : 0;
            if (v < bv) {
                bv = v;
                best = cand[k];
            }
        }
        break;
    }
    }
    return best;
}

static void begin(mast_router *r, const mast_deployment *d)
{
    dep_state *s = &r->states[d->slot];
    pthread_mutex_lock(&s->mu);
    s->in_flight++;
    s->window_requests++;
    if (s->open_until && now() >= s->open_until)
        s->probing = true;
    pthread_mutex_unlock(&s->mu);
}

static void finish(mast_router *r, const mast_gw_model *m, const mast_deployment *d, mast_err_class c,
                   double ttft)
{
    dep_state *s = &r->states[d->slot];
    pthread_mutex_lock(&s->mu);
    s->in_flight--;
    bool failed = c != MAST_CLASS_OK && c != MAST_CLASS_BAD_REQUEST && c != MAST_CLASS_CONTEXT_WINDOW &&
                  c != MAST_CLASS_CONTENT_POLICY;
    if (!failed) {
        s->fails = 0;
        s->open_until = 0;
        s->probing = false;
        if (c == MAST_CLASS_OK && ttft > 0)
            s->ewma_ttft = s->ewma_ttft ? 0.8 * s->ewma_ttft + 0.2 * ttft : ttft;
    } else {
        s->fails++;
        if (s->probing || s->fails >= m->route.allowed_fails)
            s->open_until = now() + m->route.cooldown;
        s->probing = false;
    }
    pthread_mutex_unlock(&s->mu);
}

static bool retryable(mast_err_class c)
{
    return c == MAST_CLASS_RATE_LIMIT || c == MAST_CLASS_OVERLOADED || c == MAST_CLASS_SERVER ||
           c == MAST_CLASS_TIMEOUT || c == MAST_CLASS_CONNECTION;
}

static void sleep_for(double s)
{
    if (s <= 0)
        return;
    struct timespec t = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    nanosleep(&t, NULL);
}

/* ---- rules ---- */

/* The estimated tokens of the strings in v (object keys with string values too). */
static size_t text_tokens(const json_t *v)
{
    if (json_is_string(v))
        return mast_estimate_tokens(NULL, json_string_value(v), json_string_length(v));
    size_t n = 0, i;
    const char *k;
    json_t *e;
    if (json_is_array(v))
        json_array_foreach(v, i, e)
            n += text_tokens(e);
    else if (json_is_object(v))
        json_object_foreach((json_t *)v, k, e)
            n += text_tokens(e) + (json_is_string(e) ? 1 : 0);
    return n;
}

int mast_request_tokens(const json_t *body)
{
    size_t t = text_tokens(json_object_get(body, "messages")) + text_tokens(json_object_get(body, "tools"));
    return t > INT_MAX ? INT_MAX : (int)t;
}

/* Whether tag is one of the comma-separated tags (spaces around ignored). */
static bool has_tag(const char *tags, const char *tag)
{
    size_t n = strlen(tag);
    for (const char *p = tags; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *end = e;
        while (end > p && end[-1] == ' ')
            end--;
        if ((size_t)(end - p) == n && !strncmp(p, tag, n))
            return true;
        p = e;
    }
    return false;
}

static bool rule_matches(const mast_rule *u, const mast_route_req *q)
{
    if (u->prompt_tokens_over && q->prompt_tokens <= u->prompt_tokens_over)
        return false;
    if (u->tools >= 0 && u->tools != (int)q->tools)
        return false;
    if (u->response_format) {
        const char *f = q->response_format;
        bool ok = !strcmp(u->response_format, "text") ? !f
                : !strcmp(u->response_format, "json") ? f != NULL
                : f && !strcmp(u->response_format, f);
        if (!ok)
            return false;
    }
    for (size_t i = 0; i < u->n_tags; i++)
        if (!has_tag(q->tags, u->tags[i]))
            return false;
    for (size_t i = 0; i < u->n_meta; i++) {
        const char *v = json_string_value(json_object_get(q->metadata, u->meta_keys[i]));
        if (!v || strcmp(v, u->meta_values[i]))
            return false;
    }
    return true;
}

/* The model the rules hand the request to; *tags_rule: the last rule
** that restricted deployments by tag. */
static const mast_gw_model *route_by_rules(mast_router *r, const mast_gw_model *m,
                                           const mast_route_req *q, const mast_rule **applied,
                                           const mast_rule **tags_rule)
{
    const mast_gw_model *seen[MAX_HOPS + 1] = {m};
    size_t n_seen = 1;
    for (int hop = 0; q && hop < MAX_HOPS; hop++) {
        const mast_rule *u = NULL;
        for (size_t i = 0; i < m->route.n_rules && !u; i++)
            if (rule_matches(&m->route.rules[i], q))
                u = &m->route.rules[i];
        if (!u)
            break;
        *applied = u;
        if (u->n_deployment_tags)
            *tags_rule = u;
        const mast_gw_model *next = u->model ? mast_config_model(r->config, u->model) : NULL;
        bool loop = false;
        for (size_t k = 0; k < n_seen; k++)
            loop |= seen[k] == next;
        if (!next || loop)
            break;
        m = seen[n_seen++] = next;
    }
    return m;
}

/* Whether a deployment can serve the request at all. */
static bool eligible(const mast_deployment *d, const mast_route_req *q, const mast_rule *tags_rule)
{
    if (!q)
        return true;
    if (q->tools && !(d->supports & MAST_SUPPORTS_TOOLS))
        return false;
    if (q->response_format && !(d->supports & MAST_SUPPORTS_JSON))
        return false;
    for (size_t i = 0; tags_rule && i < tags_rule->n_deployment_tags; i++) {
        bool found = false;
        for (size_t t = 0; t < d->n_tags && !found; t++)
            found = !strcmp(d->tags[t], tags_rule->deployment_tags[i]);
        if (!found)
            return false;
    }
    return true;
}

/* ---- a request's run ---- */

enum { PH_MODEL, PH_PICK, PH_WAITED, PH_RUNNING, PH_DONE };

void mast_router_walk_begin(mast_router_walk *w, mast_router *r, const mast_gw_model *model,
                            const mast_route_req *req, mast_trace *trace)
{
    memset(w, 0, sizeof *w);
    w->r = r;
    w->req = req;
    w->trace = trace;
    w->res.last = MAST_CLASS_SERVER;
    model = route_by_rules(r, model, req, &w->res.rule, &w->tags_rule);
    w->res.model = w->res.routed = model;
    if (trace && w->res.rule) {
        mast_trace_attr_int(trace, "mast.route.rule_line", w->res.rule->line);
        mast_trace_attr_str(trace, "mast.route.model", model->name);
    }
    w->chain[0] = model;
    w->n_chain = 1;
    w->phase = PH_MODEL;
}

/* The model in hand is done: its fallbacks, by the class of the last failure. */
static void model_done(mast_router_walk *w)
{
    const mast_gw_model *m = w->chain[w->ci];
    mast_err_class cls = w->cls;
    bool ctx = cls == MAST_CLASS_CONTEXT_WINDOW && m->route.n_context_fallbacks;
    char **fb = ctx ? m->route.context_fallbacks : m->route.fallbacks;
    size_t nfb = ctx ? m->route.n_context_fallbacks : m->route.n_fallbacks;
    if (cls == MAST_CLASS_CONTENT_POLICY)
        nfb = 0;   /* another model is not a way around a policy */
    for (size_t f = 0; f < nfb && w->n_chain < MAST_ROUTER_MAX_CHAIN; f++) {
        const mast_gw_model *next = mast_config_model(w->r->config, fb[f]);
        bool seen = false;
        for (size_t k = 0; k < w->n_chain; k++)
            seen |= w->chain[k] == next;
        if (next && !seen)
            w->chain[w->n_chain++] = next;
    }
    w->ci++;
    w->phase = PH_MODEL;
}

mast_walk_step mast_router_walk_next(mast_router_walk *w, const mast_gw_model **model,
                                     const mast_deployment **dep, double *wait)
{
    for (;;) {
        if (w->phase == PH_DONE)
            return MAST_WALK_DONE;
        if (w->phase == PH_MODEL) {
            if (w->ci >= w->n_chain) {
                w->phase = PH_DONE;
                continue;
            }
            const mast_gw_model *m = w->chain[w->ci];
            memset(w->skip, 0, sizeof w->skip);
            for (size_t i = 0; i < m->n_deps && i < MAST_ROUTER_MAX_DEPS; i++) {
                w->skip[i] = !eligible(&m->deps[i], w->req, w->tags_rule);
                w->any_eligible |= !w->skip[i];
            }
            memcpy(w->tried, w->skip, sizeof w->tried);
            w->retries = 0;
            w->cls = MAST_CLASS_SERVER;
            w->last_dep = -1;
            w->last_retry_after = -1;
            w->phase = PH_PICK;
        }
        const mast_gw_model *m = w->chain[w->ci];
        bool none = false;
        int di = -1;
        if (w->phase == PH_PICK) {
            di = pick(w->r, m, w->tried, &none);
            if (di < 0 && w->last_dep >= 0 && retryable(w->cls)) {
                /* every deployment failed this request: the same one again, after a backoff */
                double t = m->route.backoff * pow(2, w->retries - 1) * (0.5 + 0.5 * uniform(w->r));
                if (w->last_retry_after > t)
                    t = w->last_retry_after;
                if (t > MAX_BACKOFF)
                    t = MAX_BACKOFF;
                w->phase = PH_WAITED;
                if (t > 0) {
                    w->res.waited += t;
                    *wait = t;
                    return MAST_WALK_WAIT;
                }
            }
        }
        if (w->phase == PH_WAITED) {
            memcpy(w->tried, w->skip, sizeof w->tried);
            di = pick(w->r, m, w->tried, &none);
        }
        if (di < 0) {
            bool some = false;
            for (size_t i = 0; i < m->n_deps && i < MAST_ROUTER_MAX_DEPS; i++)
                some |= !w->skip[i];
            if (none && w->last_dep < 0 && some)
                w->res.none_available = true;
            model_done(w);
            continue;
        }
        w->di = di;
        w->phase = PH_RUNNING;
        *model = m;
        *dep = &m->deps[di];
        return MAST_WALK_ATTEMPT;
    }
}

void mast_router_walk_start(mast_router_walk *w)
{
    const mast_gw_model *m = w->chain[w->ci];
    const mast_deployment *d = &m->deps[w->di];
    w->res.attempts++;
    if (w->trace) {
        mast_trace_span_begin(w->trace, "attempt");
        mast_trace_attr_str(w->trace, "mast.model", m->name);
        mast_trace_attr_str(w->trace, "mast.deployment", d->id);
        mast_trace_attr_str(w->trace, "gen_ai.provider.name", mast_provider_name(d->provider));
        mast_trace_attr_int(w->trace, "mast.attempt", w->res.attempts);
    }
    begin(w->r, d);
    w->t_attempt = now();
}

void mast_router_walk_report(mast_router_walk *w, mast_err_class cls, double retry_after, double ttft)
{
    const mast_gw_model *m = w->chain[w->ci];
    const mast_deployment *d = &m->deps[w->di];
    finish(w->r, m, d, cls, ttft);
    if (w->trace) {
        mast_trace_attr_double(w->trace, "mast.attempt.seconds", now() - w->t_attempt);
        if (cls != MAST_CLASS_OK)
            mast_trace_attr_str(w->trace, "error.type", mast_err_class_name(cls));
        if (retry_after >= 0)
            mast_trace_attr_double(w->trace, "mast.retry_after_seconds", retry_after);
        mast_trace_span_end(w->trace, cls == MAST_CLASS_OK ? MAST_OK : MAST_ERR_IO);
    }
    w->cls = cls;
    w->res.last = cls;
    w->res.model = m;
    w->res.dep = d;
    if (cls == MAST_CLASS_OK || cls == MAST_CLASS_STARTED || cls == MAST_CLASS_BAD_REQUEST) {
        w->phase = PH_DONE;
        return;
    }
    w->tried[w->di] = true;
    w->last_dep = w->di;
    w->last_retry_after = retry_after;
    if (!retryable(cls) || w->retries >= m->route.retries) {
        model_done(w);
        return;
    }
    w->retries++;
    w->phase = PH_PICK;
}

mast_run_result mast_router_walk_result(const mast_router_walk *w)
{
    mast_run_result res = w->res;
    res.none_eligible = !w->any_eligible;
    return res;
}

mast_run_result mast_router_run(mast_router *r, const mast_gw_model *model, const mast_route_req *req,
                                mast_attempt_fn fn, void *ctx, mast_trace *trace)
{
    mast_router_walk w;
    mast_router_walk_begin(&w, r, model, req, trace);
    const mast_gw_model *m;
    const mast_deployment *d;
    double wait;
    mast_walk_step step;
    while ((step = mast_router_walk_next(&w, &m, &d, &wait)) != MAST_WALK_DONE) {
        if (step == MAST_WALK_WAIT) {
            sleep_for(wait);
            continue;
        }
        mast_router_walk_start(&w);
        double retry_after = -1, ttft = 0;
        mast_err_class cls = fn(ctx, m, d, w.res.attempts, &retry_after, &ttft);
        mast_router_walk_report(&w, cls, retry_after, ttft);
    }
    return mast_router_walk_result(&w);
}

mast_dep_status mast_router_status(mast_router *r, const mast_deployment *d)
{
    dep_state *s = &r->states[d->slot];
    pthread_mutex_lock(&s->mu);
    mast_dep_status st = {s->in_flight, s->fails, s->ewma_ttft, s->open_until > now()};
    pthread_mutex_unlock(&s->mu);
    return st;
}
