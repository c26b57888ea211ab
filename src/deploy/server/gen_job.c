/*
** deploy/server/gen_job.c — a generation request on a model's worker (see
** gen_job.h).
*/
#include "deploy/server/gen_job.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/log.h"
#include "base/random.h"
#include "base/status.h"
#include "observe/metrics.h"

/* A request that arrives while its model loads waits this long for it. */
#define MODEL_LOAD_WAIT_S 300

/* Seconds on mast_mono_us's clock (the spans' clock). */
static double now_s(void)
{
    return (double)mast_mono_us() / 1e6;
}

void gen_random_id(const char *prefix, char *out, size_t cap)
{
    unsigned char r[12];
    mast_random_fast(r, sizeof r);
    int n = snprintf(out, cap, "%s", prefix);
    for (size_t i = 0; i < sizeof r && n + 2 < (int)cap; i++)
        n += snprintf(out + n, cap - (size_t)n, "%02x", r[i]);
}

const char *gen_job_keep(gen_job *j, char *owned)
{
    if (!owned)
        return NULL;
    char **grown = realloc(j->owned, (j->n_owned + 1) * sizeof *grown);
    if (!grown) {
        free(owned);
        return NULL;
    }
    j->owned = grown;
    j->owned[j->n_owned++] = owned;
    return owned;
}

void gen_job_free(gen_job *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n_owned; i++)
        free(j->owned[i]);
    free(j->owned);
    for (size_t i = 0; i < j->n_stops; i++)
        free(j->stops[i]);
    free(j->stops);
    free(j->msgs);
    free(j->bias_ids);
    free(j->bias);
    mast_grammar_matcher_free(j->matcher);
    mast_grammar_free(j->grammar);
    mast_buf_free(&j->content);
    mast_buf_free(&j->partial);
    mast_tool_parser_free(&j->parser);
    json_decref(j->calls);
    json_decref(j->body);
    mast_gen_result_free(&j->res);
    json_decref(j->tools);
    json_decref(j->chat);
    free(j->family);
    if (j->pinned)   /* the model may unload once its requests are answered */
        mast_model_release(j->model, j->keep_alive_ms);
    free(j);
}

/* ---- request readers ---- */

bool gen_valid_name(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n >= 1 && n <= 64 &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

http_reply gen_status_reply(const gen_format *fmt, mast_status st)
{
    switch (st) {
    case MAST_ERR_NOT_FOUND: return fmt->error(404, "not_found", mast_errmsg());
    case MAST_ERR_LIMIT: return fmt->error(413, "too_large", mast_errmsg());
    case MAST_ERR_INVALID:
    case MAST_ERR_FORMAT:
    case MAST_ERR_UNSUPPORTED: return fmt->error(400, "invalid_request", mast_errmsg());
    default: return fmt->error(500, "internal_error", mast_errmsg());
    }
}

mast_status gen_read_keep_alive(const json_t *body, int64_t *ms)
{
    const json_t *v = json_object_get(body, "keep_alive");
    *ms = MAST_KEEP_ALIVE_DEFAULT;
    if (!v || json_is_null(v))
        return MAST_OK;
    if (json_is_number(v)) {   /* seconds; negative: forever */
        double s = json_number_value(v);
        *ms = s < 0 ? -1 : s > 1e12 ? (int64_t)1e15 : (int64_t)(s * 1e3);
        return MAST_OK;
    }
    if (json_is_string(v) && mast_parse_keep_alive(json_string_value(v), ms) != MAST_OK) {
        char why[300];
        snprintf(why, sizeof why, "%s", mast_errmsg());
        return mast_fail(MAST_ERR_INVALID, "\"keep_alive\": %s", why);
    }
    if (json_is_string(v))
        return MAST_OK;
    return mast_fail(MAST_ERR_INVALID, "\"keep_alive\" must be a number of seconds or a duration "
                     "such as \"5m\" (0 unloads the model after the request, -1 keeps it)");
}

mast_model *gen_pick_model(http_ctx *c, const json_t *body, mast_model_kind kind, bool optional,
                           const gen_format *fmt, mast_model_use *use, http_reply *err)
{
    const json_t *v = json_object_get(body, "model");
    if (v && !json_is_string(v)) {
        *err = fmt->error(400, "invalid_request", "\"model\" must be a string");
        return NULL;
    }
    const char *id = json_string_value(v);
    if (!optional && !id) {
        *err = fmt->error(400, "invalid_request", "\"model\" (a string) is required");
        return NULL;
    }
    mast_model *m = id && *id ? mast_models_find(c->models, id) : mast_models_first(c->models, kind);
    char msg[512];
    if (!m) {
        if (id && *id)
            snprintf(msg, sizeof msg, "The model '%.200s' does not exist (GET /v1/models lists them)", id);
        else
            snprintf(msg, sizeof msg, "no %s model is served (start mast serve with %s FILE.gguf)",
                     kind == MAST_MODEL_CHAT ? "chat" : "embedding",
                     kind == MAST_MODEL_CHAT ? "-m" : "--embed-model");
        *err = fmt->error(404, "model_not_found", msg);
        return NULL;
    }
    if (m->kind != kind) {
        snprintf(msg, sizeof msg, "model '%s' is %s model, not %s one", m->id,
                 m->kind == MAST_MODEL_CHAT ? "a chat" : "an embedding",
                 kind == MAST_MODEL_CHAT ? "a chat" : "an embedding");
        *err = fmt->error(400, "wrong_model_kind", msg);
        return NULL;
    }
    mast_model_use u;
    mast_status st = mast_model_acquire(m, MODEL_LOAD_WAIT_S, &u);   /* loads it if need be */
    if (st != MAST_OK) {
        *err = fmt->error(503, st == MAST_ERR_LIMIT ? "loading" : "model_failed", mast_errmsg());
        err->retry_after = st == MAST_ERR_LIMIT ? 1 : 0;
        return NULL;
    }
    if (use)
        *use = u;
    return m;
}

gen_job *gen_job_open(http_ctx *c, const http_request *req, const char *const *fields,
                      const gen_format *fmt, bool model_optional, size_t family_size,
                      http_reply *err)
{
    json_t *body;
    mast_status st = http_body_object(req, fields, &body);
    if (st != MAST_OK) {
        *err = gen_status_reply(fmt, st);
        return NULL;
    }
    int64_t keep;
    if ((st = gen_read_keep_alive(body, &keep)) != MAST_OK) {
        json_decref(body);
        *err = fmt->error(400, "invalid_request", mast_errmsg());
        return NULL;
    }
    mast_model_use use;
    double t_pick = now_s();
    mast_model *m = gen_pick_model(c, body, MAST_MODEL_CHAT, model_optional, fmt, &use, err);
    if (!m) {
        json_decref(body);
        return NULL;
    }
    gen_job *j = calloc(1, sizeof *j);
    if (!j || !(j->family = calloc(1, family_size ? family_size : 1))) {
        free(j);
        json_decref(body);
        mast_model_release(m, keep);
        *err = fmt->error(500, "internal_error", "out of memory");
        return NULL;
    }
    j->fmt = fmt;
    j->model = m;
    j->t_pick = t_pick;
    j->capture = c->trace_content;
    j->pinned = true;
    j->keep_alive_ms = keep;
    j->use = use;
    j->trace = req->trace;
    j->body = body;
    j->req.params = MAST_GEN_PARAMS_DEFAULT;
    j->req.params.fit = true;
    j->created = (int64_t)time(NULL);
    j->calls = json_array();
    j->operation = "chat";
    return j;
}


mast_status gen_read_stop(gen_job *j, const json_t *stop, const char *field)
{
    if (!stop || json_is_null(stop))
        return MAST_OK;
    size_t n = json_is_string(stop) ? 1 : json_is_array(stop) ? json_array_size(stop) : 0;
    if (!json_is_string(stop) && !json_is_array(stop))
        return mast_fail(MAST_ERR_INVALID, "\"%s\" must be a string or an array of strings", field);
    if (n > 16)
        return mast_fail(MAST_ERR_INVALID, "\"%s\" has %zu strings; at most 16", field, n);
    if (!(j->stops = calloc(n ? n : 1, sizeof *j->stops)))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_is_string(stop) ? stop : json_array_get(stop, i);
        if (!json_is_string(s) || !json_string_length(s))
            return mast_fail(MAST_ERR_INVALID, "\"%s\"[%zu] must be a non-empty string", field, i);
        if (!(j->stops[j->n_stops++] = strdup(json_string_value(s))))
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    j->req.params.stop = (const char *const *)j->stops;
    j->req.params.n_stop = j->n_stops;
    return MAST_OK;
}

static mast_status read_number(const json_t *body, const char *key, double lo, double hi,
                               float *out)
{
    const json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return MAST_OK;
    if (!json_is_number(v))
        return mast_fail(MAST_ERR_INVALID, "\"%s\" must be a number", key);
    double x = json_number_value(v);
    if (x < lo || x > hi)
        return mast_fail(MAST_ERR_INVALID, "\"%s\" must be between %g and %g (got %g)", key, lo, hi, x);
    *out = (float)x;
    return MAST_OK;
}

mast_status gen_read_sampling(gen_job *j, const json_t *body)
{
    mast_sampler_params *s = &j->req.params.sampler;
    MAST_TRY(read_number(body, "temperature", 0, 2, &s->temperature));
    MAST_TRY(read_number(body, "top_p", 0, 1, &s->top_p));
    MAST_TRY(read_number(body, "min_p", 0, 1, &s->min_p));
    MAST_TRY(read_number(body, "presence_penalty", -2, 2, &s->presence_penalty));
    MAST_TRY(read_number(body, "frequency_penalty", -2, 2, &s->frequency_penalty));
    MAST_TRY(read_number(body, "repeat_penalty", 0, 10, &s->repeat_penalty));
    const json_t *k = json_object_get(body, "top_k");
    if (k && !json_is_null(k)) {
        if (!json_is_integer(k) || json_integer_value(k) < 0)
            return mast_fail(MAST_ERR_INVALID, "\"top_k\" must be an integer >= 0");
        s->top_k = (int)json_integer_value(k);
    }
    if (json_object_get(body, "top_p") && !json_object_get(body, "top_k"))
        s->top_k = 0;   /* a client that sets top_p means top_p alone, as OpenAI's does */
    const json_t *cache = json_object_get(body, "cache_prompt");   /* llama-server's extension */
    if (cache && !json_is_boolean(cache))
        return mast_fail(MAST_ERR_INVALID, "\"cache_prompt\" must be true or false");
    j->req.params.no_prompt_cache = cache && json_is_false(cache);
    const json_t *seed = json_object_get(body, "seed");
    if (seed && !json_is_null(seed)) {
        if (!json_is_integer(seed))
            return mast_fail(MAST_ERR_INVALID, "\"seed\" must be an integer");
        s->seed = (uint64_t)json_integer_value(seed);
    } else {
        mast_random_fast(&s->seed, sizeof s->seed);
    }
    const json_t *bias = json_object_get(body, "logit_bias");
    if (bias && !json_is_null(bias)) {
        if (!json_is_object(bias))
            return mast_fail(MAST_ERR_INVALID, "\"logit_bias\" must be an object of token ids to "
                             "numbers");
        size_t n = json_object_size(bias), i = 0;
        j->bias_ids = calloc(n ? n : 1, sizeof *j->bias_ids);
        j->bias = calloc(n ? n : 1, sizeof *j->bias);
        if (!j->bias_ids || !j->bias)
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        const char *key;
        json_t *v;
        int n_vocab = j->model->info.n_vocab;
        json_object_foreach((json_t *)bias, key, v) {
            char *end;
            long id = strtol(key, &end, 10);
            if (!*key || *end || id < 0 || id >= n_vocab)
                return mast_fail(MAST_ERR_INVALID, "\"logit_bias\": '%s' is not a token id of "
                                 "model %s (0..%d)", key, j->model->id, n_vocab - 1);
            if (!json_is_number(v) || json_number_value(v) < -100 || json_number_value(v) > 100)
                return mast_fail(MAST_ERR_INVALID, "\"logit_bias\"[\"%s\"] must be a number "
                                 "from -100 to 100", key);
            j->bias_ids[i] = (int32_t)id;
            j->bias[i++] = (float)json_number_value(v);
        }
        j->req.params.bias_ids = j->bias_ids;
        j->req.params.bias = j->bias;
        j->req.params.n_bias = n;
    }
    return MAST_OK;
}

/* ---- messages and grammars ---- */

mast_status gen_push_msg(gen_job *j, const char *role, char *text)
{
    if (!gen_job_keep(j, text))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_chat_message *m = realloc(j->msgs, (j->n_msgs + 1) * sizeof *m);
    if (!m)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    j->msgs = m;
    j->msgs[j->n_msgs++] = (mast_chat_message){role, text};
    return MAST_OK;
}

/* Appends text to the last message when it has this role (tool results in a
** row share one user turn), else adds one. */
mast_status gen_push_or_join(gen_job *j, const char *role, bool join, const char *text)
{
    if (join && j->n_msgs && !strcmp(j->msgs[j->n_msgs - 1].role, role)) {
        mast_buf b = {0};
        mast_status st = mast_buf_printf(&b, "%s\n%s", j->msgs[j->n_msgs - 1].content, text);
        if (st != MAST_OK)
            return st;
        char *t = mast_buf_detach(&b);
        if (!gen_job_keep(j, t))
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        j->msgs[j->n_msgs - 1].content = t;
        return MAST_OK;
    }
    char *t = strdup(text);
    return t ? gen_push_msg(j, role, t) : mast_fail(MAST_ERR_NOMEM, "out of memory");
}

/* The fallback's system turn gets text (made first when there is none). */
static mast_status add_system_text(gen_job *j, const char *text)
{
    if (j->n_msgs && !strcmp(j->msgs[0].role, "system")) {
        mast_buf b = {0};
        MAST_TRY(mast_buf_printf(&b, "%s%s%s", j->msgs[0].content, *j->msgs[0].content ? "\n\n" : "",
                                 text));
        char *t = mast_buf_detach(&b);
        if (!gen_job_keep(j, t))
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        j->msgs[0].content = t;
        return MAST_OK;
    }
    char *t = strdup(text);
    MAST_TRY(t ? gen_push_msg(j, "system", t) : mast_fail(MAST_ERR_NOMEM, "out of memory"));
    memmove(j->msgs + 1, j->msgs, (j->n_msgs - 1) * sizeof *j->msgs);
    j->msgs[0] = (mast_chat_message){"system", t};
    return MAST_OK;
}

mast_status gen_chat_push(gen_job *j, json_t *msg)
{
    if (!j->chat && !(j->chat = json_array())) {
        json_decref(msg);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    if (!msg || json_array_append_new(j->chat, msg))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    return MAST_OK;
}

json_t *gen_chat_assistant(const char *content, const json_t *calls)
{
    json_t *m = json_pack("{s:s}", "role", "assistant");
    json_object_set_new(m, "content", content ? mast_json_string_lossy(content) : json_null());
    if (json_array_size(calls)) {
        json_t *out = json_array();
        size_t i;
        json_t *c;
        json_array_foreach(calls, i, c) {
            const char *args = mast_json_get_str(c, "arguments", "{}");
            json_t *parsed = json_loads(args, JSON_DECODE_ANY, NULL);
            if (!json_is_object(parsed)) {   /* templates expect a mapping; keep the text else */
                json_decref(parsed);
                parsed = mast_json_string_lossy(args);
            }
            json_t *call = json_pack("{s:s, s:{s:s, s:o}}", "type", "function", "function", "name",
                                     mast_json_get_str(c, "name", ""), "arguments", parsed);
            const char *id = mast_json_get_str(c, "id", NULL);
            if (id)
                json_object_set_new(call, "id", mast_json_string_lossy(id));
            json_array_append_new(out, call);
        }
        json_object_set_new(m, "tool_calls", out);
    }
    return m;
}

mast_status gen_add_system(gen_job *j, const char *text)
{
    MAST_TRY(add_system_text(j, text));
    if (!j->chat && !(j->chat = json_array()))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    json_t *first = json_array_get(j->chat, 0);
    if (first && !strcmp(mast_json_get_str(first, "role", ""), "system") &&
        json_is_string(json_object_get(first, "content"))) {
        const char *old = json_string_value(json_object_get(first, "content"));
        mast_buf b = {0};
        MAST_TRY(mast_buf_printf(&b, "%s%s%s", old, *old ? "\n\n" : "", text));
        json_object_set_new(first, "content", mast_json_string_lossy(mast_buf_cstr(&b)));
        mast_buf_free(&b);
        return MAST_OK;
    }
    if (json_array_insert_new(j->chat, 0, json_pack("{s:s, s:s}", "role", "system", "content", text)))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    return MAST_OK;
}

void gen_job_request(gen_job *j)
{
    j->req.messages = j->msgs;
    j->req.n_messages = j->n_msgs;
    j->req.chat = j->chat;
    j->req.tools = j->tools;
}

static const char *tool_name(const json_t *tools, size_t i)
{
    return json_string_value(json_object_get(json_object_get(json_array_get(tools, i), "function"),
                                             "name"));
}

mast_status gen_use_tools(gen_job *j, json_t *tools)
{
    json_decref(j->tools);
    j->tools = tools;
    for (size_t i = 0; i < json_array_size(tools); i++) {
        const char *name = tool_name(tools, i);
        if (!gen_valid_name(name))
            return mast_fail(MAST_ERR_INVALID, "tools[%zu]: the name '%s' must be 1 to 64 of a-z, "
                             "A-Z, 0-9, _ and -", i, name ? name : "");
        for (size_t k = 0; k < i; k++)
            if (!strcmp(name, tool_name(tools, k)))
                return mast_fail(MAST_ERR_INVALID, "tools[%zu]: two tools are named '%s'", i, name);
    }
    mast_buf defs = {0};
    mast_status st = mast_tools_render_definitions(tools, &defs);
    if (st == MAST_OK)   /* the fallback's; a template renders the tools itself */
        st = add_system_text(j, mast_buf_cstr(&defs));
    mast_buf_free(&defs);
    return st;
}

mast_status gen_compile_grammar(gen_job *j, const char *gbnf, size_t len)
{
    return mast_grammar_parse(gbnf, len, &j->grammar);
}

/* The grammar of one or more calls (tool_choice required or named): each
** <tool_call>{"name":"f","arguments":ARGS}</tool_call>, ARGS from f's
** parameters schema. */
mast_status gen_tool_grammar(gen_job *j, const json_t *tools, const char *only, bool parallel)
{
    mast_buf g = {0};
    int n_rules = 0;
    mast_status st = mast_buf_puts(&g, "call ::=");
    mast_buf rules = {0};
    size_t i, n = 0;
    json_t *t;
    json_array_foreach(tools, i, t) {
        const json_t *fn = json_object_get(t, "function");
        const char *name = mast_json_get_str(fn, "name", "");
        if (st != MAST_OK || (only && strcmp(name, only)))
            continue;
        const json_t *params = json_object_get(fn, "parameters");
        json_t *any = NULL;
        if (!params)
            params = any = json_pack("{s:s}", "type", "object");
        int root;
        st = mast_schema_to_gbnf_rules(params, &n_rules, &rules, &root);
        json_decref(any);
        if (st != MAST_OK) {
            mast_fail_prefix(st, "tools[%zu].function.parameters", i);
            break;
        }
        st = mast_buf_printf(&g, "%s \"{\\\"name\\\":\\\"%s\\\",\\\"arguments\\\":\" r%d \"}\"",
                             n++ ? " |" : "", name, root);
    }
    if (st == MAST_OK && !n)
        st = mast_fail(MAST_ERR_INVALID, "\"tool_choice\" names '%s', which is not in \"tools\"", only);
    if (st == MAST_OK)
        st = mast_buf_printf(&g, "\nroot ::= \"<tool_call>\\n\" call \"\\n</tool_call>\"%s\n%s%s",
                             parallel ? " (\"\\n<tool_call>\\n\" call \"\\n</tool_call>\"){0,7}" : "",
                             mast_buf_cstr(&rules), mast_grammar_primitives_gbnf());
    if (st == MAST_OK)
        st = gen_compile_grammar(j, g.data, g.len);
    mast_buf_free(&g);
    mast_buf_free(&rules);
    return st;
}

/* ---- the worker ---- */

/* Starts the stream (headers, the first events) at the first output. */
static int ensure_started(gen_job *j)
{
    if (!j->streaming)
        return 0;
    if (j->stream)
        return http_stream_gone(j->stream) ? -1 : 0;
    j->stream = http_stream_new(j->pending);
    if (!j->stream)
        return -1;
    http_pending_done(j->pending, (http_reply){.status = 200, .stream = j->stream});
    j->pending = NULL;
    return j->fmt->start(j);
}

static int on_content(void *ctx, const char *text, size_t len)
{
    gen_job *j = ctx;
    if (mast_buf_append(&j->content, text, len) != MAST_OK)
        return -1;
    if (!j->streaming)
        return 0;
    if (ensure_started(j))
        return -1;
    return j->fmt->content(j, text, len);
}

static int on_call(void *ctx, const char *name, const char *arguments)
{
    gen_job *j = ctx;
    char id[40];
    gen_random_id("call_", id, sizeof id);
    size_t index = json_array_size(j->calls);
    json_array_append_new(j->calls, json_pack("{s:s, s:s, s:s}", "id", id, "name", name,
                                              "arguments", arguments));
    if (!j->streaming)
        return 0;
    if (ensure_started(j))
        return -1;
    return j->fmt->tool_call(j, index, id, name, arguments);
}

/* The length of s[0..n) without an unfinished UTF-8 character at its end. */
static size_t whole_chars(const char *s, size_t n)
{
    for (size_t back = 1; back <= 4 && back <= n; back++) {
        unsigned char c = (unsigned char)s[n - back];
        if ((c & 0xC0) == 0x80)
            continue;   /* a continuation byte: look further back */
        size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                    : (c & 0xF8) == 0xF0 ? 4 : 1;
        return back < need ? n - back : n;
    }
    return n;
}

static int on_text(void *ctx, const char *text, size_t len)
{
    gen_job *j = ctx;
    if (!j->t_first)
        j->t_first = now_s();
    if (mast_buf_append(&j->partial, text, len) != MAST_OK)
        return -1;
    size_t n = whole_chars(j->partial.data, j->partial.len);
    mast_tool_parser_cb cb = {j, on_content, on_call};
    int r = n ? mast_tool_parser_feed(&j->parser, j->partial.data, n, &cb) : 0;
    memmove(j->partial.data, j->partial.data + n, j->partial.len - n);
    j->partial.len -= n;
    if (!r && j->stream && http_stream_gone(j->stream))
        r = -1;   /* the client went: stop generating */
    return r;
}

static void error_status(mast_status st, unsigned *status, const char **code)
{
    switch (st) {
    case MAST_ERR_LIMIT: *status = 400; *code = "context_length_exceeded"; break;
    case MAST_ERR_INVALID:
    case MAST_ERR_FORMAT: *status = 400; *code = "invalid_request"; break;
    case MAST_ERR_UNSUPPORTED: *status = 400; *code = "unsupported"; break;
    default: *status = 500; *code = "internal_error"; break;
    }
}

static int64_t us(double seconds)
{
    return (int64_t)(seconds * 1e6);
}

/* The time to first token split into its parts, as spans: model.load (the
** wait for the model: cold when it was loaded for this request), queue (for
** a slot, then for KV memory), prompt (its processing) and first_token (to
** the first text sent); then generate (the rest). */
static void record_spans(gen_job *j, mast_status st)
{
    mast_trace *t = j->trace;
    const mast_gen_result *r = &j->res;
    double t_end = now_s();
    mast_trace_span_begin_at(t, "model.load", us(j->t_pick));
    mast_trace_attr_str(t, "mast.model.load", j->use.cold ? "cold" : "warm");
    mast_trace_attr_str(t, "gen_ai.request.model", j->model->id);
    mast_trace_span_end_at(t, MAST_OK, us(j->t_pick + j->use.wait_seconds));
    if (!j->t_start)
        return;
    double t_slot = j->t_start + r->wait_seconds;   /* its room reserved: prompt processing may begin */
    mast_trace_span_begin_at(t, "queue", us(j->t_submit));
    mast_trace_attr_double(t, "mast.queue.slot_wait_seconds", j->t_start - j->t_submit);
    mast_trace_attr_double(t, "mast.queue.memory_wait_seconds", r->wait_seconds);
    mast_trace_span_end_at(t, MAST_OK, us(r->prompt_tokens ? t_slot : t_end));
    if (!r->prompt_tokens)
        return;
    double t_gen = t_slot + r->prompt_seconds;
    bool generated = r->prompt_seconds > 0 || r->completion_tokens;
    mast_trace_span_begin_at(t, "prompt", us(t_slot));
    mast_trace_attr_int(t, "gen_ai.usage.input_tokens", r->prompt_tokens);
    mast_trace_attr_int(t, "gen_ai.usage.cache_read.input_tokens", r->cached_tokens);
    mast_trace_span_end_at(t, generated ? MAST_OK : st, us(generated ? t_gen : t_end));
    if (!generated)
        return;
    double t_first = j->t_first ? j->t_first : t_end;
    mast_trace_span_begin_at(t, "first_token", us(t_gen));
    mast_trace_span_end_at(t, j->t_first ? MAST_OK : st, us(t_first));
    if (!j->t_first)
        return;
    mast_trace_span_begin_at(t, "generate", us(t_first));
    mast_trace_attr_int(t, "gen_ai.usage.output_tokens", r->completion_tokens);
    mast_trace_span_end_at(t, st, us(t_end));
}

static mast_metric_family *m_ttft, *m_tpot, *m_duration, *m_queue, *m_tokens[3], *m_secs[2], *m_done;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void)
{
    const char *const gen[] = {"gen_ai_operation_name", "gen_ai_request_model", NULL};
    const char *const model[] = {"model", NULL};
    m_ttft = mast_metric_new("gen_ai_server_time_to_first_token_seconds", "Time to the first token "
                             "sent, from the request's arrival (gen_ai.server.time_to_first_token)",
                             MAST_HISTOGRAM, gen, MAST_BUCKETS_TTFT, MAST_BUCKETS_TTFT_N);
    m_tpot = mast_metric_new("gen_ai_server_time_per_output_token_seconds", "Time per output token "
                             "after the first (gen_ai.server.time_per_output_token)", MAST_HISTOGRAM,
                             gen, MAST_BUCKETS_TPOT, MAST_BUCKETS_TPOT_N);
    m_duration = mast_metric_new("gen_ai_server_request_duration_seconds", "A generation from its "
                                 "arrival to its last token (gen_ai.server.request.duration)",
                                 MAST_HISTOGRAM, (const char *const[]){"gen_ai_operation_name",
                                 "gen_ai_request_model", "error_type", NULL},
                                 MAST_BUCKETS_DURATION, MAST_BUCKETS_DURATION_N);
    m_queue = mast_metric_new("mast_queue_wait_seconds", "Time a generation waited for a slot and for "
                              "KV memory", MAST_HISTOGRAM, model, MAST_BUCKETS_FAST, MAST_BUCKETS_FAST_N);
    m_tokens[0] = mast_metric_new("mast_prompt_tokens_total", "Prompt tokens of local generations "
                                  "(cached ones included)", MAST_COUNTER, model, NULL, 0);
    m_tokens[1] = mast_metric_new("mast_prompt_cached_tokens_total", "Prompt tokens a slot's cache "
                                  "already held (not computed again)", MAST_COUNTER, model, NULL, 0);
    m_tokens[2] = mast_metric_new("mast_generation_tokens_total", "Tokens local models generated",
                                  MAST_COUNTER, model, NULL, 0);
    m_secs[0] = mast_metric_new("mast_prompt_seconds_total", "Time spent processing prompts (prompt "
                                "tokens / this: the prefill rate)", MAST_COUNTER, model, NULL, 0);
    m_secs[1] = mast_metric_new("mast_generation_seconds_total", "Time spent generating (generation "
                                "tokens / this: the decode rate)", MAST_COUNTER, model, NULL, 0);
    m_done = mast_metric_new("mast_generations_total", "Local generations ended, by finish reason "
                             "(stop, length, tool_calls, error, cancelled)", MAST_COUNTER,
                             (const char *const[]){"model", "finish_reason", NULL}, NULL, 0);
}

static void record_metrics(gen_job *j, mast_status st)
{
    pthread_once(&metrics_once, metrics_init);
    const mast_gen_result *r = &j->res;
    const char *id = j->model->id;
    const char *const gen[] = {j->operation, id};
    const char *const model[] = {id};
    double now = now_s();
    if (j->t_first)
        mast_metric_observe(m_ttft, gen, j->t_first - j->t_pick);
    if (st == MAST_OK && r->completion_tokens > 1 && r->gen_seconds > 0)
        mast_metric_observe(m_tpot, gen, r->gen_seconds / (r->completion_tokens - 1));
    mast_metric_observe(m_duration, (const char *const[]){j->operation, id,
                        st == MAST_OK ? "" : mast_strerror(st)}, now - j->t_pick);
    if (j->t_start)
        mast_metric_observe(m_queue, model, j->t_start - j->t_submit + r->wait_seconds);
    mast_metric_add(m_tokens[0], model, r->prompt_tokens);
    mast_metric_add(m_tokens[1], model, r->cached_tokens);
    mast_metric_add(m_tokens[2], model, r->completion_tokens);
    mast_metric_add(m_secs[0], model, r->prompt_seconds);
    mast_metric_add(m_secs[1], model, r->gen_seconds);
    const char *why = st != MAST_OK ? (j->t_start ? "error" : "cancelled")
                    : j->finish_reason ? j->finish_reason : "stop";
    mast_metric_add(m_done, (const char *const[]){id, why}, 1);
}

/* ---- content capture (--trace-content), in the GenAI conventions' shapes ---- */

#define CONTENT_CAP (256 * 1024)   /* bytes of each content attribute */

/* OpenAI-shaped messages as [{role, parts: [{type: text|tool_call|tool_call_response, …}]}]. */
static json_t *semconv_messages(const json_t *chat)
{
    json_t *out = json_array();
    size_t i, k;
    const json_t *m, *p;
    json_array_foreach((json_t *)chat, i, m) {
        const char *role = mast_json_get_str(m, "role", "user");
        const json_t *content = json_object_get(m, "content");
        json_t *parts = json_array();
        if (!strcmp(role, "tool")) {
            json_t *r = json_pack("{s:s, s:O}", "type", "tool_call_response", "response",
                                  content ? content : json_null());
            const char *id = mast_json_get_str(m, "tool_call_id", NULL);
            if (id)
                json_object_set_new(r, "id", json_string(id));
            json_array_append_new(parts, r);
        } else if (json_is_string(content)) {
            json_array_append_new(parts, json_pack("{s:s, s:O}", "type", "text", "content", content));
        } else {
            json_array_foreach((json_t *)content, k, p)
                if (json_is_string(json_object_get(p, "text")))
                    json_array_append_new(parts, json_pack("{s:s, s:O}", "type", "text", "content",
                                                           json_object_get(p, "text")));
        }
        json_array_foreach(json_object_get(m, "tool_calls"), k, p) {
            const json_t *fn = json_object_get(p, "function");
            json_t *call = json_pack("{s:s, s:s, s:O}", "type", "tool_call", "name",
                                     mast_json_get_str(fn, "name", ""), "arguments",
                                     json_object_get(fn, "arguments") ? json_object_get(fn, "arguments") : json_null());
            if (json_is_string(json_object_get(p, "id")))
                json_object_set(call, "id", json_object_get(p, "id"));
            json_array_append_new(parts, call);
        }
        json_array_append_new(out, json_pack("{s:s, s:o}", "role", role, "parts", parts));
    }
    return out;
}

/* value's JSON as a string attribute, cut at CONTENT_CAP (mast.content.truncated says so). */
static void content_attr(mast_trace *t, const char *key, json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(value);
    if (!text)
        return;
    if (strlen(text) > CONTENT_CAP) {
        text[CONTENT_CAP] = '\0';
        mast_trace_attr_int(t, "mast.content.truncated", 1);
    }
    mast_trace_attr_str(t, key, text);
    free(text);
}

static void capture_content(gen_job *j)
{
    mast_trace *t = j->trace;
    if (!j->capture || !t)
        return;
    if (j->chat)
        content_attr(t, "gen_ai.input.messages", semconv_messages(j->chat));
    else if (j->req.prompt)
        content_attr(t, "gen_ai.input.messages", json_pack("[{s:s, s:[{s:s, s:s}]}]", "role", "user", "parts",
                                                         "type", "text", "content", j->req.prompt));
    json_t *parts = json_array();
    if (j->content.len)
        json_array_append_new(parts, json_pack("{s:s, s:o}", "type", "text", "content",
                                               mast_json_string_lossy(mast_buf_cstr(&j->content))));
    size_t i;
    json_t *c;
    json_array_foreach(j->calls, i, c)
        json_array_append_new(parts, json_pack("{s:s, s:s, s:s, s:s}", "type", "tool_call", "id",
                                               mast_json_get_str(c, "id", ""), "name", mast_json_get_str(c, "name", ""),
                                               "arguments", mast_json_get_str(c, "arguments", "")));
    content_attr(t, "gen_ai.output.messages", json_pack("[{s:s, s:o, s:s}]", "role", "assistant", "parts", parts,
                                                        "finish_reason", j->finish_reason ? j->finish_reason : ""));
    if (j->tools)
        content_attr(t, "gen_ai.tool.definitions", json_incref(j->tools));
}

static void record_trace(gen_job *j, mast_status st)
{
    record_metrics(j, st);
    capture_content(j);
    mast_trace *t = j->trace;
    if (!t)
        return;
    const mast_gen_result *r = &j->res;
    mast_trace_attr_str(t, "gen_ai.operation.name", j->operation);
    mast_trace_attr_str(t, "gen_ai.provider.name", "mast");
    mast_trace_attr_str(t, "gen_ai.request.model", j->model->id);
    mast_trace_attr_str(t, "gen_ai.response.model", j->model->id);
    if (j->id[0])
        mast_trace_attr_str(t, "gen_ai.response.id", j->id);
    mast_trace_attr_int(t, "gen_ai.request.max_tokens", j->req.params.max_tokens);
    mast_trace_attr_double(t, "gen_ai.request.temperature", j->req.params.sampler.temperature);
    mast_trace_attr_int(t, "gen_ai.request.seed", (int64_t)j->req.params.sampler.seed);
    mast_trace_attr_int(t, "gen_ai.usage.input_tokens", r->prompt_tokens);
    mast_trace_attr_int(t, "gen_ai.usage.output_tokens", r->completion_tokens);
    mast_trace_attr_str(t, "mast.model.load", j->use.cold ? "cold" : "warm");
    mast_trace_attr_int(t, "mast.batch.max_size", r->batch_max);
    mast_trace_attr_int(t, "gen_ai.usage.cache_read.input_tokens", r->cached_tokens);
    mast_trace_attr_double(t, "mast.prompt.seconds", r->prompt_seconds);
    mast_trace_attr_double(t, "mast.generation.seconds", r->gen_seconds);
    if (r->gen_seconds > 0 && r->completion_tokens)
        mast_trace_attr_double(t, "mast.generation.tokens_per_second",
                               r->completion_tokens / r->gen_seconds);
    if (j->t_first)   /* from the request's arrival at its model */
        mast_trace_attr_double(t, "gen_ai.response.time_to_first_chunk", j->t_first - j->t_pick);
    if (j->finish_reason)
        mast_trace_attr_str(t, "gen_ai.response.finish_reasons", j->finish_reason);
    if (j->parser.malformed)
        mast_trace_attr_str(t, "mast.tool_call.error", j->parser.error);
    if (j->grammar)
        mast_trace_attr_str(t, "mast.constraint", "grammar");
    if (j->req.messages || j->req.chat) {   /* how the chat became a prompt */
        const char *why;
        const char *how = mast_local_generator_template(j->model->gen, &why);
        if (how)
            mast_trace_attr_str(t, "mast.chat_template", how);
        if (why && *why)
            mast_trace_attr_str(t, "mast.chat_template.fallback_reason", why);
    }
    if (st != MAST_OK)
        mast_trace_attr_str(t, "error.type", mast_strerror(st));
    record_spans(j, st);
}

/* The end of a job: the output's last tool call parsed, the trace, and the
** reply (or the stream's closing events). */
static void finish(void *arg, mast_status st)
{
    gen_job *j = arg;
    mast_tool_parser_cb cb = {j, on_content, on_call};
    if (st == MAST_OK) {
        if (j->partial.len)   /* a character the output never finished */
            mast_tool_parser_feed(&j->parser, j->partial.data, j->partial.len, &cb);
        mast_tool_parser_finish(&j->parser, &cb);
        j->finish_reason = json_array_size(j->calls) ? "tool_calls" : j->res.finish_reason;
    }
    record_trace(j, st);
    if (st != MAST_OK && !j->stream) {
        unsigned status;
        const char *code;
        error_status(st, &status, &code);
        http_pending_done(j->pending, j->fmt->error(status, code, mast_errmsg()));
    } else if (st != MAST_OK) {
        j->fmt->stream_error(j, mast_errmsg());
        http_stream_close(j->stream, 500);
    } else if (j->streaming) {
        if (ensure_started(j) == 0)
            j->fmt->finish(j);
        if (j->stream)
            http_stream_close(j->stream, 200);
    } else {
        http_pending_done(j->pending, j->fmt->reply(j));
    }
    gen_job_free(j);
}

/* On the model's worker: the job begins in a slot (continuous batching;
** the worker's steps generate it, and finish ends it), or fails now. */
static void run(void *arg, mast_model *m, bool cancelled)
{
    gen_job *j = arg;
    j->t_start = now_s();
    mast_status st;
    if (cancelled) {   /* the trace first: once answered, the request's trace is not ours */
        st = mast_fail(MAST_ERR_UNSUPPORTED, "the server is stopping");
        record_trace(j, st);
        http_pending_done(j->pending, j->fmt->error(503, "unavailable", mast_errmsg()));
        gen_job_free(j);
        return;
    }
    mast_tool_parser_init(&j->parser, j->json_output ? NULL : j->tools);
    if (j->grammar) {
        st = mast_grammar_matcher_new(j->grammar, j->model->info.tok, &j->matcher);
        if (st == MAST_OK) {
            j->constraint = mast_grammar_matcher_constraint(j->matcher);
            j->req.params.constraint = &j->constraint;
        }
    } else {
        st = MAST_OK;
    }
    if (st == MAST_OK)
        st = mast_local_generator_begin(m->gen, &j->req, on_text, j, &j->res, finish, j);
    if (st != MAST_OK)
        finish(j, st);
}

http_reply gen_job_submit(gen_job *j, const http_request *req)
{
    j->pending = http_pending_new(req);
    if (!j->pending) {
        gen_job_free(j);
        return http_error(500, "internal_error", "out of memory");
    }
    j->t_submit = now_s();
    http_pending *p = j->pending;
    mast_status st = mast_model_submit(j->model, run, j);
    if (st == MAST_OK)
        return (http_reply){.pending = p};
    /* not queued: nobody else holds the pending; answer now */
    http_reply r = st == MAST_ERR_LIMIT ? j->fmt->error(429, "rate_limit_exceeded", mast_errmsg())
                                        : j->fmt->error(503, "unavailable", mast_errmsg());
    r.retry_after = 1;
    http_pending_done(p, r);
    j->pending = NULL;
    gen_job_free(j);
    return (http_reply){.pending = p};
}
