/*
** deploy/server/openai.c — the OpenAI-compatible API for the served models:
**   GET  /v1/models, /v1/models/{id}
**   POST /v1/chat/completions   messages, tools, response_format, streaming
**   POST /v1/completions        a prompt completed as is
**   POST /v1/embeddings         strings or token ids, float or base64
**   POST /apply-template        the prompt a chat renders to (llama-server's route)
** Every request field is honoured or refused with 400 naming it; the wire
** format follows openai/openai-openapi (see ../shared/PROTOCOLS.md 1).
*/
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/status.h"
#include "deploy/server/gateway.h"
#include "deploy/server/gen_job.h"
#include "model/providers/translate.h"

static const char *const NOT_SUPPORTED[] = {
    "reasoning_effort", "service_tier", "audio", "modalities", "prediction", "web_search_options",
    "functions", "function_call", "verbosity", "safety_identifier", "prompt_cache_key", NULL};

static http_reply oai_error(unsigned status, const char *code, const char *message)
{
    return http_error(status, code, "%s", message);
}

static http_reply bad(const char *param)
{
    return http_error_param(400, "invalid_request", param, "%s", mast_errmsg());
}

static int is(const http_request *req, const char *method)
{
    return strcmp(req->method, method) == 0;
}

static http_reply not_allowed(const http_request *req, const char *allow)
{
    http_reply r = http_error(405, "method_not_allowed", "method %s is not allowed on %s "
                              "(allowed: %s)", req->method, req->path, allow);
    r.allow = allow;
    return r;
}

/* Refuses the fields mast does not implement, by name, then any unknown one. */
static mast_status check_fields(const json_t *body, const char *const *allowed)
{
    for (size_t i = 0; NOT_SUPPORTED[i]; i++)
        if (json_object_get(body, NOT_SUPPORTED[i]))
            return mast_fail(MAST_ERR_INVALID, "request body: '%s' is not supported by mast",
                             NOT_SUPPORTED[i]);
    return mast_json_check_fields(body, allowed, "request body");
}

/* ---- models ---- */

static http_reply list_models(http_ctx *c)
{
    mast_models_refresh(c->models);   /* models pulled into the folder since start-up */
    json_t *data = json_array();
    for (size_t i = 0; i < mast_models_count(c->models); i++)
        json_array_append_new(data, http_model_json(mast_models_at(c->models, i)));
    if (c->gateway) {   /* mast.yaml's models, with their deployments' live state */
        json_t *gm = mast_gateway_models(c->gateway);
        json_array_extend(data, gm);
        json_decref(gm);
    }
    return http_ok(200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

/* ---- chat: the request ---- */

typedef struct chat_state {
    bool role_sent;
    bool tools_active;          /* calls may come: the role chunk waits for the first delta */
    bool completion;
} chat_state;

/* The text of a message's content: a string, or text parts joined. */
static mast_status content_text(const json_t *content, size_t i, char **out)
{
    mast_buf b = {0};
    mast_status st = mast_openai_content_text(content, i, "mast's models read text", &b);
    *out = st == MAST_OK ? (b.data ? mast_buf_detach(&b) : strdup("")) : NULL;
    mast_buf_free(&b);
    if (st == MAST_OK && !*out)
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    return st;
}

/* OpenAI messages as the system/user/assistant turns the model's renderer
** takes: developer is system, assistant tool calls and tool results as the
** tool-call convention writes them (model/tools.h). */
static mast_status read_messages(gen_job *j, const json_t *msgs, bool render_tools)
{
    static const char *const fields[] = {"role", "content", "name", "tool_calls", "tool_call_id",
                                         "refusal", NULL};
    if (!json_is_array(msgs) || !json_array_size(msgs))
        return mast_fail(MAST_ERR_INVALID, "\"messages\" must be a non-empty array");
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        if (!json_is_object(m))
            return mast_fail(MAST_ERR_INVALID, "messages[%zu] must be an object", i);
        char what[48];
        snprintf(what, sizeof what, "messages[%zu]", i);
        MAST_TRY(mast_json_check_fields(m, fields, what));
        const char *role = mast_json_get_str(m, "role", NULL);
        if (!role)
            return mast_fail(MAST_ERR_INVALID, "messages[%zu].role (a string) is required", i);
        char *text;
        MAST_TRY(content_text(json_object_get(m, "content"), i, &text));
        const json_t *calls = json_object_get(m, "tool_calls");
        const json_t *content = json_object_get(m, "content");
        bool no_content = !content || json_is_null(content);
        mast_status st = MAST_OK;
        json_t *cm = NULL;   /* the message as a template takes it */
        if (!strcmp(role, "system") || !strcmp(role, "developer")) {
            cm = json_pack("{s:s, s:s}", "role", "system", "content", text);
            st = gen_push_msg(j, "system", text);
        } else if (!strcmp(role, "user")) {
            cm = json_pack("{s:s, s:s}", "role", "user", "content", text);
            st = gen_push_msg(j, "user", text);
        } else if (!strcmp(role, "assistant")) {
            mast_buf b = {0};
            json_t *seen = json_array();
            st = mast_buf_puts(&b, text);
            size_t k;
            json_t *c;
            if (calls && !json_is_array(calls))
                st = mast_fail(MAST_ERR_INVALID, "messages[%zu].tool_calls must be an array", i);
            json_array_foreach(calls, k, c) {
                const json_t *fn = json_object_get(c, "function");
                const char *name = mast_json_get_str(fn, "name", NULL);
                const char *args = mast_json_get_str(fn, "arguments", "{}");
                if (st == MAST_OK && !name)
                    st = mast_fail(MAST_ERR_INVALID, "messages[%zu].tool_calls[%zu].function.name "
                                   "is required", i, k);
                if (st == MAST_OK && b.len)
                    st = mast_buf_putc(&b, '\n');
                if (st == MAST_OK)
                    st = mast_tools_render_call(name, args, &b);
                if (st == MAST_OK)
                    json_array_append_new(seen, json_pack("{s:s, s:s, s:s}", "id",
                                                          mast_json_get_str(c, "id", ""), "name", name,
                                                          "arguments", args));
            }
            if (st == MAST_OK)
                cm = gen_chat_assistant(no_content && json_array_size(seen) ? NULL : text, seen);
            free(text);
            json_decref(seen);
            if (st == MAST_OK)
                st = gen_push_msg(j, "assistant", b.data ? mast_buf_detach(&b) : strdup(""));
            mast_buf_free(&b);
        } else if (!strcmp(role, "tool")) {
            if (!json_is_string(json_object_get(m, "tool_call_id")))
                st = mast_fail(MAST_ERR_INVALID, "messages[%zu]: a tool message needs "
                               "\"tool_call_id\"", i);
            mast_buf b = {0};
            if (st == MAST_OK) {
                cm = json_pack("{s:s, s:s, s:s}", "role", "tool", "tool_call_id",
                               mast_json_get_str(m, "tool_call_id", ""), "content", text);
                if (json_is_string(json_object_get(m, "name")))
                    json_object_set(cm, "name", json_object_get(m, "name"));
                st = render_tools ? mast_tools_render_result(text, &b) : mast_buf_puts(&b, text);
            }
            if (st == MAST_OK)
                st = gen_push_or_join(j, "user", i > 0 && !strcmp(mast_json_get_str(json_array_get(msgs, i - 1),
                                                                               "role", ""), "tool"),
                                  mast_buf_cstr(&b));
            mast_buf_free(&b);
            free(text);
        } else {
            free(text);
            return mast_fail(MAST_ERR_INVALID, "messages[%zu].role must be system, developer, "
                             "user, assistant or tool (got '%s')", i, role);
        }
        if (st == MAST_OK && cm)
            st = gen_chat_push(j, cm);
        else
            json_decref(cm);
        if (st != MAST_OK)
            return st;
        if (calls && strcmp(role, "assistant"))
            return mast_fail(MAST_ERR_INVALID, "messages[%zu]: only assistant messages have "
                             "tool_calls", i);
    }
    return MAST_OK;
}

/* The tools: each {"type":"function","function":{"name","description"?,
** "parameters"?,"strict"?}}. */
static mast_status read_tools(const json_t *tools)
{
    static const char *const tfields[] = {"type", "function", NULL};
    static const char *const ffields[] = {"name", "description", "parameters", "strict", NULL};
    if (!json_is_array(tools))
        return mast_fail(MAST_ERR_INVALID, "\"tools\" must be an array");
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        char what[48];
        snprintf(what, sizeof what, "tools[%zu]", i);
        if (!json_is_object(t))
            return mast_fail(MAST_ERR_INVALID, "%s must be an object", what);
        MAST_TRY(mast_json_check_fields(t, tfields, what));
        if (strcmp(mast_json_get_str(t, "type", ""), "function"))
            return mast_fail(MAST_ERR_INVALID, "%s.type must be \"function\"", what);
        const json_t *fn = json_object_get(t, "function");
        snprintf(what, sizeof what, "tools[%zu].function", i);
        if (!json_is_object(fn))
            return mast_fail(MAST_ERR_INVALID, "%s must be an object", what);
        MAST_TRY(mast_json_check_fields(fn, ffields, what));
        const json_t *p = json_object_get(fn, "parameters");
        if (p && !json_is_object(p))
            return mast_fail(MAST_ERR_INVALID, "%s.parameters must be a JSON Schema object", what);
    }
    return MAST_OK;
}

static mast_status read_response_format(gen_job *j, const json_t *rf)
{
    static const char *const fields[] = {"type", "json_schema", NULL};
    static const char *const sfields[] = {"name", "description", "schema", "strict", NULL};
    if (!rf || json_is_null(rf))
        return MAST_OK;
    if (!json_is_object(rf))
        return mast_fail(MAST_ERR_INVALID, "\"response_format\" must be an object");
    MAST_TRY(mast_json_check_fields(rf, fields, "response_format"));
    const char *type = mast_json_get_str(rf, "type", "");
    if (!strcmp(type, "text"))
        return MAST_OK;
    if (!strcmp(type, "json_object")) {
        j->json_output = true;
        MAST_TRY(gen_add_system(j, "Respond with a JSON object only."));
        const char *g = mast_grammar_json_object_gbnf();
        return gen_compile_grammar(j, g, strlen(g));
    }
    if (strcmp(type, "json_schema"))
        return mast_fail(MAST_ERR_INVALID, "response_format.type must be text, json_object or "
                         "json_schema (got '%s')", type);
    const json_t *js = json_object_get(rf, "json_schema");
    if (!json_is_object(js))
        return mast_fail(MAST_ERR_INVALID, "response_format.json_schema (an object) is required");
    MAST_TRY(mast_json_check_fields(js, sfields, "response_format.json_schema"));
    if (!gen_valid_name(mast_json_get_str(js, "name", NULL)))
        return mast_fail(MAST_ERR_INVALID, "response_format.json_schema.name must be 1 to 64 of "
                         "a-z, A-Z, 0-9, _ and -");
    const json_t *schema = json_object_get(js, "schema");
    json_t *any = NULL;
    if (!schema)
        schema = any = json_object();
    mast_buf g = {0}, note = {0};
    mast_status st = mast_schema_to_gbnf(schema, &g);
    if (st != MAST_OK)
        mast_fail_prefix(st, "response_format.json_schema.schema");
    if (st == MAST_OK)
        st = gen_compile_grammar(j, g.data, g.len);
    /* the schema in the prompt too: constrained decoding alone leaves the
    ** model guessing what the fields mean */
    if (st == MAST_OK)
        st = mast_buf_puts(&note, "Respond with a JSON value only, matching this JSON Schema:\n");
    if (st == MAST_OK)
        st = mast_json_dump(schema, 0, &note);
    if (st == MAST_OK)
        st = gen_add_system(j, mast_buf_cstr(&note));
    json_decref(any);
    mast_buf_free(&g);
    mast_buf_free(&note);
    j->json_output = true;
    return st;
}

static mast_status read_max_tokens(gen_job *j, const json_t *body, int dflt)
{
    const json_t *a = json_object_get(body, "max_tokens"), *b = json_object_get(body, "max_completion_tokens");
    if (a && json_is_null(a))
        a = NULL;
    if (b && json_is_null(b))
        b = NULL;
    if (a && b && !json_equal((json_t *)a, (json_t *)b))
        return mast_fail(MAST_ERR_INVALID, "\"max_tokens\" and \"max_completion_tokens\" differ; "
                         "send one");
    const json_t *v = b ? b : a;
    if (!v) {   /* until the context is full, which is a finish reason */
        j->req.params.max_tokens = dflt > 0 ? dflt : j->model->info.n_ctx;
        j->req.params.fit = dflt > 0;
        return MAST_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000)
        return mast_fail(MAST_ERR_INVALID, "\"%s\" must be an integer of at least 1",
                         b ? "max_completion_tokens" : "max_tokens");
    j->req.params.max_tokens = (int)json_integer_value(v);
    return MAST_OK;
}

/* The fields both chat and text completions read. */
static mast_status read_common(gen_job *j, const json_t *body)
{
    const json_t *n = json_object_get(body, "n");
    if (n && !json_is_null(n) && (!json_is_integer(n) || json_integer_value(n) != 1))
        return mast_fail(MAST_ERR_INVALID, "\"n\" must be 1: mast generates one choice per request");
    const json_t *lp = json_object_get(body, "logprobs");
    if (lp && !json_is_null(lp) && !json_is_false(lp) && !(json_is_integer(lp) && !json_integer_value(lp)))
        return mast_fail(MAST_ERR_INVALID, "\"logprobs\" is not supported by mast yet");
    const json_t *tlp = json_object_get(body, "top_logprobs");
    if (tlp && !json_is_null(tlp) && !(json_is_integer(tlp) && !json_integer_value(tlp)))
        return mast_fail(MAST_ERR_INVALID, "\"top_logprobs\" is not supported by mast yet");
    const json_t *store = json_object_get(body, "store");
    if (store && json_is_true(store))
        return mast_fail(MAST_ERR_INVALID, "\"store\": true is not supported (mast's traces record "
                         "requests: GET /v1/traces)");
    const json_t *stream = json_object_get(body, "stream");
    if (stream && !json_is_boolean(stream) && !json_is_null(stream))
        return mast_fail(MAST_ERR_INVALID, "\"stream\" must be true or false");
    j->streaming = json_is_true(stream);
    const json_t *so = json_object_get(body, "stream_options");
    if (so && !json_is_null(so)) {
        static const char *const sof[] = {"include_usage", "include_obfuscation", NULL};
        if (!j->streaming)
            return mast_fail(MAST_ERR_INVALID, "\"stream_options\" is only allowed with \"stream\": true");
        if (!json_is_object(so))
            return mast_fail(MAST_ERR_INVALID, "\"stream_options\" must be an object");
        MAST_TRY(mast_json_check_fields(so, sof, "stream_options"));
        j->include_usage = json_is_true(json_object_get(so, "include_usage"));
    }
    const json_t *user = json_object_get(body, "user");
    if (user && !json_is_string(user))
        return mast_fail(MAST_ERR_INVALID, "\"user\" must be a string");
    if (user)
        mast_trace_attr_str(j->trace, "user.id", json_string_value(user));
    const json_t *meta = json_object_get(body, "metadata");
    if (meta && !json_is_null(meta)) {
        if (!json_is_object(meta) || json_object_size(meta) > 16)
            return mast_fail(MAST_ERR_INVALID, "\"metadata\" must be an object of at most 16 strings");
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)meta, k, v) {
            if (!json_is_string(v))
                return mast_fail(MAST_ERR_INVALID, "\"metadata\".%s must be a string", k);
            char key[160];
            snprintf(key, sizeof key, "mast.metadata.%.64s", k);
            mast_trace_attr_str(j->trace, key, json_string_value(v));
        }
    }
    MAST_TRY(gen_read_sampling(j, body));
    MAST_TRY(gen_read_stop(j, json_object_get(body, "stop"), "stop"));
    const json_t *grammar = json_object_get(body, "grammar");
    if (grammar && !json_is_null(grammar)) {
        if (!json_is_string(grammar))
            return mast_fail(MAST_ERR_INVALID, "\"grammar\" must be a GBNF text");
        if (j->grammar)
            return mast_fail(MAST_ERR_INVALID, "\"grammar\" cannot be combined with response_format "
                             "or a required tool call");
        MAST_TRY(gen_compile_grammar(j, json_string_value(grammar), json_string_length(grammar)));
        j->json_output = true;
    }
    return MAST_OK;
}

/* ---- chat: the answer ---- */

static json_t *usage_json(const gen_job *j)
{
    const mast_gen_result *r = &j->res;
    return json_pack("{s:i, s:i, s:i, s:{s:i}, s:{s:i}}", "prompt_tokens", r->prompt_tokens,
                     "completion_tokens", r->completion_tokens, "total_tokens",
                     r->prompt_tokens + r->completion_tokens, "prompt_tokens_details",
                     "cached_tokens", r->cached_tokens, "completion_tokens_details",
                     "reasoning_tokens", 0);
}

static json_t *chunk(gen_job *j, json_t *delta, const char *finish)
{
    chat_state *cs = j->family;
    if (!delta)
        delta = json_object();
    const json_t *text = json_object_get(delta, "content");
    json_t *choice = cs->completion
                         ? json_pack("{s:i, s:o, s:n, s:o}", "index", 0, "text",
                                     json_is_string(text) ? json_incref((json_t *)text)
                                                          : json_string(""), "logprobs",
                                     "finish_reason", finish ? json_string(finish) : json_null())
                         : json_pack("{s:i, s:O, s:n, s:o}", "index", 0, "delta", delta, "logprobs",
                                     "finish_reason", finish ? json_string(finish) : json_null());
    json_decref(delta);
    json_t *c = json_pack("{s:s, s:s, s:I, s:s, s:s, s:[o]}", "id", j->id, "object",
                          cs->completion ? "text_completion" : "chat.completion.chunk", "created",
                          (json_int_t)j->created, "model", j->model->id, "system_fingerprint",
                          "mast-" MAST_VERSION, "choices", choice);
    if (j->include_usage)
        json_object_set_new(c, "usage", json_null());
    return c;
}

static int send_role(gen_job *j, json_t *extra)
{
    chat_state *cs = j->family;
    if (cs->role_sent || cs->completion) {
        json_decref(extra);
        return 0;
    }
    cs->role_sent = true;
    json_t *delta = json_pack("{s:s}", "role", "assistant");
    if (extra) {
        json_object_update(delta, extra);
        json_decref(extra);
    } else {
        json_object_set_new(delta, "content", json_string(""));
    }
    return http_stream_event(j->stream, NULL, chunk(j, delta, NULL));
}

static int chat_start(gen_job *j)
{
    chat_state *cs = j->family;
    /* without tools the role goes first; with tools it waits for the first
    ** delta, which says whether content or calls come */
    return cs->tools_active ? 0 : send_role(j, NULL);
}

static int chat_content(gen_job *j, const char *text, size_t len)
{
    if (send_role(j, NULL))
        return -1;
    json_t *s = json_stringn(text, len);
    if (!s)
        s = mast_json_string_lossy(text);
    return http_stream_event(j->stream, NULL, chunk(j, json_pack("{s:o}", "content", s), NULL));
}

static int chat_tool_call(gen_job *j, size_t index, const char *id, const char *name, const char *args)
{
    json_t *first = json_pack("{s:[{s:i, s:s, s:s, s:{s:s, s:s}}]}", "tool_calls", "index", (int)index,
                              "id", id, "type", "function", "function", "name", name, "arguments", "");
    chat_state *cs = j->family;
    int r;
    if (!cs->role_sent) {
        json_object_set_new(first, "content", json_null());
        r = send_role(j, first);
    } else {
        r = http_stream_event(j->stream, NULL, chunk(j, first, NULL));
    }
    if (r)
        return r;
    return http_stream_event(j->stream, NULL,
                             chunk(j, json_pack("{s:[{s:i, s:{s:s}}]}", "tool_calls", "index",
                                                (int)index, "function", "arguments", args),
                                   NULL));
}

static void chat_finish(gen_job *j)
{
    if (send_role(j, NULL))
        return;
    http_stream_event(j->stream, NULL, chunk(j, NULL, j->finish_reason));
    if (j->include_usage) {
        chat_state *cs = j->family;
        json_t *c = json_pack("{s:s, s:s, s:I, s:s, s:s, s:[], s:o}", "id", j->id, "object",
                              cs->completion ? "text_completion" : "chat.completion.chunk",
                              "created", (json_int_t)j->created, "model", j->model->id,
                              "system_fingerprint", "mast-" MAST_VERSION, "choices", "usage",
                              usage_json(j));
        http_stream_event(j->stream, NULL, c);
    }
    http_stream_write(j->stream, "data: [DONE]\n\n", 14);
}

static void chat_stream_error(gen_job *j, const char *message)
{
    json_t *e = json_pack("{s:{s:s, s:s, s:n, s:s}}", "error", "message", message, "type",
                          "server_error", "param", "code", "internal_error");
    http_stream_event(j->stream, NULL, e);
}

static json_t *content_json(const gen_job *j)
{
    if (!j->content.len && json_array_size(j->calls))
        return json_null();
    json_t *s = json_stringn(j->content.data ? j->content.data : "", j->content.len);
    return s ? s : mast_json_string_lossy(mast_buf_cstr(&j->content));
}

static http_reply chat_reply(gen_job *j)
{
    chat_state *cs = j->family;
    json_t *choice;
    if (cs->completion) {
        choice = json_pack("{s:i, s:o, s:n, s:s}", "index", 0, "text", content_json(j), "logprobs",
                           "finish_reason", j->finish_reason);
    } else {
        json_t *msg = json_pack("{s:s, s:o, s:n}", "role", "assistant", "content", content_json(j),
                                "refusal");
        if (json_array_size(j->calls)) {
            json_t *calls = json_array();
            size_t i;
            json_t *c;
            json_array_foreach(j->calls, i, c)
                json_array_append_new(calls, json_pack("{s:O, s:s, s:{s:O, s:O}}", "id",
                                                       json_object_get(c, "id"), "type", "function",
                                                       "function", "name", json_object_get(c, "name"),
                                                       "arguments", json_object_get(c, "arguments")));
            json_object_set_new(msg, "tool_calls", calls);
        }
        choice = json_pack("{s:i, s:o, s:n, s:s}", "index", 0, "message", msg, "logprobs",
                           "finish_reason", j->finish_reason);
    }
    json_t *body = json_pack("{s:s, s:s, s:I, s:s, s:s, s:[o], s:o}", "id", j->id, "object",
                             cs->completion ? "text_completion" : "chat.completion", "created",
                             (json_int_t)j->created, "model", j->model->id, "system_fingerprint",
                             "mast-" MAST_VERSION, "choices", choice, "usage", usage_json(j));
    return http_ok(200, body);
}

static const gen_format CHAT = {chat_start, chat_content, chat_tool_call, chat_finish,
                                chat_stream_error, chat_reply, oai_error};

static gen_job *open_job(http_ctx *c, const http_request *req, const char *const *fields,
                         bool completion, http_reply *err)
{
    gen_job *j = gen_job_open(c, req, fields, &CHAT, true, sizeof(chat_state), err);
    if (j) {
        ((chat_state *)j->family)->completion = completion;
        gen_random_id(completion ? "cmpl-" : "chatcmpl-", j->id, sizeof j->id);
    }
    return j;
}

static http_reply chat_completions(http_ctx *c, const http_request *req)
{
    static const char *const fields[] = {
        "model", "messages", "stream", "stream_options", "temperature", "top_p", "top_k", "min_p",
        "repeat_penalty", "n", "stop", "max_tokens", "max_completion_tokens", "presence_penalty",
        "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "seed", "user", "tools",
        "tool_choice", "parallel_tool_calls", "response_format", "metadata", "store", "grammar",
        "cache_prompt", "keep_alive", NULL};
    http_reply err;
    gen_job *j = open_job(c, req, NULL, false, &err);
    if (!j)
        return err;
    json_t *body = j->body;
    mast_status st = check_fields(body, fields);
    const char *param = NULL;
    const json_t *tools = json_object_get(body, "tools"), *choice = json_object_get(body, "tool_choice");
    const json_t *ptc = json_object_get(body, "parallel_tool_calls");
    const char *mode = "auto", *named = NULL;
    if (tools && json_is_null(tools))
        tools = NULL;
    if (st == MAST_OK && tools && (st = read_tools(tools)) != MAST_OK)
        param = "tools";
    if (st == MAST_OK && choice && !json_is_null(choice)) {
        param = "tool_choice";
        if (json_is_string(choice))
            mode = json_string_value(choice);
        else if (json_is_object(choice) && !strcmp(mast_json_get_str(choice, "type", ""), "function") &&
                 (named = mast_json_get_str(json_object_get(choice, "function"), "name", NULL)))
            mode = "named";
        else
            st = mast_fail(MAST_ERR_INVALID, "\"tool_choice\" must be none, auto, required or "
                           "{\"type\": \"function\", \"function\": {\"name\": ...}}");
        if (st == MAST_OK && strcmp(mode, "none") && strcmp(mode, "auto") && strcmp(mode, "required") &&
            strcmp(mode, "named"))
            st = mast_fail(MAST_ERR_INVALID, "\"tool_choice\" must be none, auto, required or a "
                           "named function (got '%s')", mode);
        if (st == MAST_OK && strcmp(mode, "none") && !tools)
            st = mast_fail(MAST_ERR_INVALID, "\"tool_choice\" is '%s' but there are no \"tools\"", mode);
    }
    if (st == MAST_OK && ptc && !json_is_boolean(ptc)) {
        param = "parallel_tool_calls";
        st = mast_fail(MAST_ERR_INVALID, "\"parallel_tool_calls\" must be true or false");
    }
    bool use_tools = tools && strcmp(mode, "none");
    if (st == MAST_OK) {
        param = "messages";
        st = read_messages(j, json_object_get(body, "messages"), use_tools);
    }
    if (st == MAST_OK && use_tools) {
        st = gen_use_tools(j, json_incref((json_t *)tools));
        ((chat_state *)j->family)->tools_active = true;
    }
    if (st == MAST_OK) {
        param = "response_format";
        st = read_response_format(j, json_object_get(body, "response_format"));
        if (st == MAST_OK && j->grammar && use_tools && strcmp(mode, "auto"))
            st = mast_fail(MAST_ERR_INVALID, "\"response_format\" cannot be combined with a "
                           "required or named tool call");
    }
    if (st == MAST_OK && use_tools && (!strcmp(mode, "required") || !strcmp(mode, "named"))) {
        param = "tool_choice";
        st = gen_tool_grammar(j, tools, named, !ptc || json_is_true(ptc));
    }
    if (st == MAST_OK) {
        param = NULL;
        st = read_common(j, body);
    }
    if (st == MAST_OK)
        st = read_max_tokens(j, body, 0);
    if (st != MAST_OK) {
        http_reply r = st == MAST_ERR_NOMEM ? http_status_error(st) : bad(param);
        gen_job_free(j);
        return r;
    }
    gen_job_request(j);
    return gen_job_submit(j, req);
}

static http_reply completions(http_ctx *c, const http_request *req)
{
    static const char *const fields[] = {
        "model", "prompt", "stream", "stream_options", "temperature", "top_p", "top_k", "min_p",
        "repeat_penalty", "n", "stop", "max_tokens", "presence_penalty", "frequency_penalty",
        "logit_bias", "logprobs", "seed", "user", "echo", "suffix", "best_of", "grammar", "metadata",
        "cache_prompt", "keep_alive", NULL};
    http_reply err;
    gen_job *j = open_job(c, req, fields, true, &err);
    if (!j)
        return err;
    json_t *body = j->body;
    mast_status st = MAST_OK;
    j->operation = "text_completion";
    const json_t *prompt = json_object_get(body, "prompt");
    const char *param = "prompt";
    if (json_is_array(prompt) && json_array_size(prompt) == 1 && json_is_string(json_array_get(prompt, 0)))
        prompt = json_array_get(prompt, 0);
    if (!json_is_string(prompt))
        st = mast_fail(MAST_ERR_INVALID, json_is_array(prompt)
                       ? "\"prompt\": one prompt per request (send the others separately)"
                       : "\"prompt\" (a string) is required");
    const json_t *echo = json_object_get(body, "echo"), *suffix = json_object_get(body, "suffix");
    const json_t *best = json_object_get(body, "best_of");
    if (st == MAST_OK && echo && !json_is_false(echo) && !json_is_null(echo))
        param = "echo", st = mast_fail(MAST_ERR_INVALID, "\"echo\" is not supported by mast");
    if (st == MAST_OK && suffix && !json_is_null(suffix))
        param = "suffix", st = mast_fail(MAST_ERR_INVALID, "\"suffix\" is not supported by mast");
    if (st == MAST_OK && best && !json_is_null(best) && !(json_is_integer(best) && json_integer_value(best) == 1))
        param = "best_of", st = mast_fail(MAST_ERR_INVALID, "\"best_of\" must be 1");
    if (st == MAST_OK) {
        param = NULL;
        st = read_common(j, body);
    }
    if (st == MAST_OK)
        st = read_max_tokens(j, body, 16);   /* OpenAI's default for completions */
    if (st != MAST_OK) {
        http_reply r = bad(param);
        gen_job_free(j);
        return r;
    }
    j->req.prompt = json_string_value(prompt);
    return gen_job_submit(j, req);
}

/* ---- embeddings ---- */

typedef struct embed_job {
    http_pending *pending;
    mast_trace *trace;
    json_t *body;
    char **texts;
    int32_t **ids;
    size_t *lens;
    size_t n;
    bool base64, tokens;
    mast_model *model;           /* pinned until the job is freed */
    int64_t keep_alive_ms;
} embed_job;

static void embed_job_free(embed_job *e)
{
    for (size_t i = 0; i < e->n; i++) {
        if (e->texts)
            free(e->texts[i]);
        if (e->ids)
            free(e->ids[i]);
    }
    free(e->texts);
    free(e->ids);
    free(e->lens);
    json_decref(e->body);
    if (e->model)
        mast_model_release(e->model, e->keep_alive_ms);
    free(e);
}

static char *base64(const float *v, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)v;
    size_t len = n * sizeof *v, k = 0;
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        unsigned x = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < len ? p[i + 2] : 0);
        out[k++] = tab[(x >> 18) & 63];
        out[k++] = tab[(x >> 12) & 63];
        out[k++] = i + 1 < len ? tab[(x >> 6) & 63] : '=';
        out[k++] = i + 2 < len ? tab[x & 63] : '=';
    }
    out[k] = '\0';
    return out;
}

static void run_embed(void *arg, mast_model *m, bool cancelled)
{
    embed_job *e = arg;
    if (cancelled) {
        http_pending_done(e->pending, http_error(503, "unavailable", "the server is stopping"));
        embed_job_free(e);
        return;
    }
    int dim = m->dim;
    float *out = malloc((e->n ? e->n : 1) * (size_t)dim * sizeof *out);
    size_t truncated = 0, tokens = 0;
    mast_status st = out ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (st == MAST_OK && e->tokens)
        st = mast_embedder_embed_ids(m->emb, (const int32_t *const *)e->ids, e->lens, e->n, true,
                                     out, &truncated);
    else if (st == MAST_OK)
        st = mast_embedder_embed(m->emb, (const char *const *)e->texts, e->n, true, out, &truncated);
    for (size_t i = 0; st == MAST_OK && i < e->n; i++)
        tokens += e->tokens ? e->lens[i] : mast_embedder_count_tokens(m->emb, e->texts[i]);
    http_reply r;
    if (st != MAST_OK) {
        r = http_status_error(st);
    } else {
        json_t *data = json_array();
        for (size_t i = 0; i < e->n; i++) {
            json_t *v;
            if (e->base64) {
                char *s = base64(out + i * (size_t)dim, (size_t)dim);
                v = s ? json_string(s) : json_null();
                free(s);
            } else {
                v = json_array();
                for (int k = 0; k < dim; k++)
                    json_array_append_new(v, json_real(out[i * (size_t)dim + (size_t)k]));
            }
            json_array_append_new(data, json_pack("{s:s, s:I, s:o}", "object", "embedding", "index",
                                                  (json_int_t)i, "embedding", v));
        }
        r = http_ok(200, json_pack("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list", "data", data,
                                   "model", m->id, "usage", "prompt_tokens", (json_int_t)tokens,
                                   "total_tokens", (json_int_t)tokens));
    }
    if (e->trace) {
        mast_trace_attr_str(e->trace, "gen_ai.operation.name", "embeddings");
        mast_trace_attr_str(e->trace, "gen_ai.provider.name", "mast");
        mast_trace_attr_str(e->trace, "gen_ai.request.model", m->id);
        mast_trace_attr_int(e->trace, "gen_ai.usage.input_tokens", (int64_t)tokens);
        mast_trace_attr_int(e->trace, "mast.embeddings.inputs", (int64_t)e->n);
        if (truncated)
            mast_trace_attr_int(e->trace, "mast.embeddings.truncated", (int64_t)truncated);
        mast_trace_attr_int(e->trace, "gen_ai.embeddings.dimension.count", dim);
    }
    free(out);
    http_pending_done(e->pending, r);
    embed_job_free(e);
}

/* input: a string, strings, token ids, or arrays of token ids. */
static mast_status read_input(embed_job *e, const json_t *in)
{
    if (json_is_string(in) || (json_is_array(in) && json_array_size(in) && json_is_integer(json_array_get(in, 0)))) {
        e->n = 1;
    } else if (json_is_array(in) && json_array_size(in)) {
        e->n = json_array_size(in);
    } else {
        return mast_fail(MAST_ERR_INVALID, "\"input\" must be a string, an array of strings, an "
                         "array of token ids or an array of such arrays (not empty)");
    }
    if (e->n > 2048)
        return mast_fail(MAST_ERR_LIMIT, "\"input\" has %zu items; at most 2048 per request", e->n);
    bool single = e->n == 1 && !(json_is_array(in) && json_is_array(json_array_get(in, 0))) &&
                  !(json_is_array(in) && json_is_string(json_array_get(in, 0)));
    const json_t *first = single ? in : json_array_get(in, 0);
    e->tokens = json_is_array(first) || json_is_integer(first);
    if (e->tokens) {
        e->ids = calloc(e->n, sizeof *e->ids);
        e->lens = calloc(e->n, sizeof *e->lens);
    } else {
        e->texts = calloc(e->n, sizeof *e->texts);
    }
    if ((e->tokens && (!e->ids || !e->lens)) || (!e->tokens && !e->texts))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < e->n; i++) {
        const json_t *item = single ? in : json_array_get(in, i);
        if (e->tokens) {
            if (!json_is_array(item) || !json_array_size(item))
                return mast_fail(MAST_ERR_INVALID, "\"input\"[%zu] must be a non-empty array of "
                                 "token ids like the others", i);
            size_t n = json_array_size(item);
            if (!(e->ids[i] = malloc(n * sizeof *e->ids[i])))
                return mast_fail(MAST_ERR_NOMEM, "out of memory");
            for (size_t k = 0; k < n; k++) {
                const json_t *t = json_array_get(item, k);
                if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) > INT32_MAX)
                    return mast_fail(MAST_ERR_INVALID, "\"input\"[%zu][%zu] must be a token id", i, k);
                e->ids[i][k] = (int32_t)json_integer_value(t);
            }
            e->lens[i] = n;
        } else {
            if (!json_is_string(item))
                return mast_fail(MAST_ERR_INVALID, "\"input\"[%zu] must be a string like the others", i);
            if (!json_string_length(item))
                return mast_fail(MAST_ERR_INVALID, "\"input\"[%zu] is empty", i);
            if (!(e->texts[i] = strdup(json_string_value(item))))
                return mast_fail(MAST_ERR_NOMEM, "out of memory");
        }
    }
    return MAST_OK;
}

static http_reply embeddings(http_ctx *c, const http_request *req)
{
    static const char *const fields[] = {"model", "input", "encoding_format", "dimensions", "user",
                                         "keep_alive", NULL};
    json_t *body;
    mast_status st = http_body_object(req, fields, &body);
    if (st != MAST_OK)
        return http_status_error(st);
    int64_t keep;
    if ((st = gen_read_keep_alive(body, &keep)) != MAST_OK) {
        json_decref(body);
        return bad("keep_alive");
    }
    http_reply err;
    mast_model *m = gen_pick_model(c, body, MAST_MODEL_EMBED, true, &CHAT, NULL, &err);
    if (!m) {
        json_decref(body);
        return err;
    }
    embed_job *e = calloc(1, sizeof *e);
    if (!e) {
        json_decref(body);
        mast_model_release(m, keep);
        return http_error(500, "internal_error", "out of memory");
    }
    e->model = m;
    e->keep_alive_ms = keep;
    e->body = body;
    e->trace = req->trace;
    const char *param = "input";
    st = read_input(e, json_object_get(body, "input"));
    const char *fmt = mast_json_get_str(body, "encoding_format", "float");
    if (st == MAST_OK && strcmp(fmt, "float") && strcmp(fmt, "base64"))
        param = "encoding_format",
        st = mast_fail(MAST_ERR_INVALID, "\"encoding_format\" must be float or base64 (got '%s')", fmt);
    e->base64 = !strcmp(fmt, "base64");
    const json_t *dims = json_object_get(body, "dimensions");
    if (st == MAST_OK && dims && !json_is_null(dims) &&
        (!json_is_integer(dims) || json_integer_value(dims) != m->dim))
        param = "dimensions",
        st = mast_fail(MAST_ERR_INVALID, "\"dimensions\": model %s makes vectors of %d dimensions "
                       "and cannot shorten them", m->id, m->dim);
    if (st != MAST_OK) {
        http_reply r = st == MAST_ERR_LIMIT ? http_error_param(413, "too_large", param, "%s", mast_errmsg())
                                            : bad(param);
        embed_job_free(e);
        return r;
    }
    e->pending = http_pending_new(req);
    http_pending *p = e->pending;
    if (!p) {
        embed_job_free(e);
        return http_error(500, "internal_error", "out of memory");
    }
    if ((st = mast_model_submit(m, run_embed, e)) != MAST_OK) {
        http_reply r = http_error(st == MAST_ERR_LIMIT ? 429 : 503, st == MAST_ERR_LIMIT
                                  ? "rate_limit_exceeded" : "unavailable", "%s", mast_errmsg());
        r.retry_after = 1;
        http_pending_done(p, r);
        embed_job_free(e);
    }
    return (http_reply){.pending = p};
}

/* ---- the prompt a chat renders to ---- */

static http_reply apply_template(http_ctx *c, const http_request *req)
{
    static const char *const fields[] = {"model", "messages", "tools", "tool_choice",
                                         "add_generation_prompt", NULL};
    http_reply err;
    gen_job *j = open_job(c, req, fields, false, &err);
    if (!j)
        return err;
    json_t *body = j->body;
    mast_model *m = j->model;
    mast_status st = MAST_OK;
    const json_t *tools = json_object_get(body, "tools");
    bool use_tools = tools && !json_is_null(tools) &&
                     strcmp(mast_json_get_str(body, "tool_choice", "auto"), "none");
    const char *param = "tools";
    if (use_tools)
        st = read_tools(tools);
    if (st == MAST_OK)
        param = "messages", st = read_messages(j, json_object_get(body, "messages"), use_tools);
    mast_buf prompt = {0};
    if (st == MAST_OK && use_tools)
        st = gen_use_tools(j, json_incref((json_t *)tools));
    const json_t *agp = json_object_get(body, "add_generation_prompt");
    if (st == MAST_OK && agp && !json_is_boolean(agp))
        param = "add_generation_prompt",
        st = mast_fail(MAST_ERR_INVALID, "\"add_generation_prompt\" must be true or false");
    gen_job_request(j);
    j->req.no_generation_prompt = agp && json_is_false(agp);
    if (st == MAST_OK)
        st = mast_local_generator_render(m->gen, &j->req, &prompt);
    const char *why;
    const char *how = mast_local_generator_template(m->gen, &why);
    http_reply r = st == MAST_OK ? http_ok(200, json_pack("{s:s, s:s}", "prompt", mast_buf_cstr(&prompt),
                                                          "chat_format", how ? how : "plain"))
                                 : bad(param);
    if (st == MAST_OK && why && *why)
        json_object_set_new(r.body, "template_note", mast_json_string_lossy(why));
    mast_buf_free(&prompt);
    gen_job_free(j);
    return r;
}

http_reply mast_openai_api(http_ctx *c, const http_request *req, int *matched)
{
    const char *p = req->path;
    *matched = 1;
    if (!strcmp(p, "/v1/models"))
        return is(req, "GET") ? list_models(c) : not_allowed(req, "GET, HEAD, OPTIONS");
    if (!strncmp(p, "/v1/models/", 11)) {
        if (!is(req, "GET"))
            return not_allowed(req, "GET, HEAD, OPTIONS");
        mast_model *m = mast_models_find(c->models, p + 11);
        return m ? http_ok(200, http_model_json(m))
                 : http_error_param(404, "model_not_found", "model", "The model '%s' does not exist",
                                    p + 11);
    }
    if (!strcmp(p, "/v1/chat/completions"))
        return is(req, "POST") ? chat_completions(c, req) : not_allowed(req, "POST, OPTIONS");
    if (!strcmp(p, "/v1/completions"))
        return is(req, "POST") ? completions(c, req) : not_allowed(req, "POST, OPTIONS");
    if (!strcmp(p, "/v1/embeddings"))
        return is(req, "POST") ? embeddings(c, req) : not_allowed(req, "POST, OPTIONS");
    if (!strcmp(p, "/apply-template"))
        return is(req, "POST") ? apply_template(c, req) : not_allowed(req, "POST, OPTIONS");
    *matched = 0;
    return (http_reply){.status = 404};
}
