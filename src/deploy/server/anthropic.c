/*
** deploy/server/anthropic.c — the Anthropic Messages API for the served
** models:
**   POST /v1/messages               system, content blocks (text, tool_use,
**                                   tool_result), tools, tool_choice, stream
**   POST /v1/messages/count_tokens  {"input_tokens": N}
** Errors are in Anthropic's shape {"type":"error","error":{"type","message"}};
** the stream is the event sequence of ../shared/PROTOCOLS.md section 2.
*/
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/status.h"
#include "deploy/server/gen_job.h"

static const char *error_type(unsigned status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503: return "overloaded_error";
    default: return "api_error";
    }
}

static http_reply a_error(unsigned status, const char *code, const char *message)
{
    (void)code;
    return http_ok(status, json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type",
                                     error_type(status), "message", message));
}

typedef struct a_state {
    int block;                 /* the open content block's index, -1: none */
    bool text_open;
    int n_blocks;
} a_state;

static const char *stop_reason(const gen_job *j)
{
    if (!strcmp(j->finish_reason, "tool_calls"))
        return "tool_use";
    if (!strcmp(j->finish_reason, "length"))
        return "max_tokens";
    return j->res.stop_index >= 0 ? "stop_sequence" : "end_turn";
}

static json_t *stop_sequence(const gen_job *j)
{
    return j->res.stop_index >= 0 && (size_t)j->res.stop_index < j->n_stops
               ? json_string(j->stops[j->res.stop_index]) : json_null();
}

static json_t *usage(const gen_job *j)
{
    return json_pack("{s:i, s:i, s:i, s:i}", "input_tokens",
                     j->res.prompt_tokens - j->res.cached_tokens, "output_tokens",
                     j->res.completion_tokens, "cache_creation_input_tokens", 0,
                     "cache_read_input_tokens", j->res.cached_tokens);
}

static int event(gen_job *j, const char *type, json_t *data)
{
    json_object_set_new(data, "type", json_string(type));
    return http_stream_event(j->stream, type, data);
}

static int a_start(gen_job *j)
{
    json_t *msg = json_pack("{s:s, s:s, s:s, s:s, s:[], s:n, s:n, s:{s:i, s:i}}", "id", j->id,
                            "type", "message", "role", "assistant", "model", j->model->id, "content",
                            "stop_reason", "stop_sequence", "usage", "input_tokens", 0,
                            "output_tokens", 0);
    int r = event(j, "message_start", json_pack("{s:o}", "message", msg));
    return r ? r : event(j, "ping", json_object());
}

static int close_block(gen_job *j)
{
    a_state *s = j->family;
    if (s->block < 0)
        return 0;
    int r = event(j, "content_block_stop", json_pack("{s:i}", "index", s->block));
    s->block = -1;
    s->text_open = false;
    return r;
}

static int a_content(gen_job *j, const char *text, size_t len)
{
    a_state *s = j->family;
    if (!s->text_open) {
        if (close_block(j))
            return -1;
        s->block = s->n_blocks++;
        s->text_open = true;
        if (event(j, "content_block_start", json_pack("{s:i, s:{s:s, s:s}}", "index", s->block,
                                                      "content_block", "type", "text", "text", "")))
            return -1;
    }
    json_t *t = json_stringn(text, len);
    return event(j, "content_block_delta", json_pack("{s:i, s:{s:s, s:o}}", "index", s->block, "delta",
                                                     "type", "text_delta", "text",
                                                     t ? t : mast_json_string_lossy(text)));
}

static int a_tool_call(gen_job *j, size_t index, const char *id, const char *name, const char *args)
{
    (void)index;
    a_state *s = j->family;
    if (close_block(j))
        return -1;
    s->block = s->n_blocks++;
    char tid[48];
    snprintf(tid, sizeof tid, "toolu_%s", id + 5);   /* "call_…" -> "toolu_…" */
    if (event(j, "content_block_start", json_pack("{s:i, s:{s:s, s:s, s:s, s:{}}}", "index", s->block,
                                                  "content_block", "type", "tool_use", "id", tid,
                                                  "name", name, "input")))
        return -1;
    return event(j, "content_block_delta", json_pack("{s:i, s:{s:s, s:s}}", "index", s->block,
                                                     "delta", "type", "input_json_delta",
                                                     "partial_json", args));
}

static void a_finish(gen_job *j)
{
    if (close_block(j))
        return;
    event(j, "message_delta", json_pack("{s:{s:s, s:o}, s:{s:i}}", "delta", "stop_reason",
                                        stop_reason(j), "stop_sequence", stop_sequence(j), "usage",
                                        "output_tokens", j->res.completion_tokens));
    event(j, "message_stop", json_object());
}

static void a_stream_error(gen_job *j, const char *message)
{
    event(j, "error", json_pack("{s:{s:s, s:s}}", "error", "type", "api_error", "message", message));
}

static http_reply a_reply(gen_job *j)
{
    json_t *content = json_array();
    if (j->content.len) {
        json_t *t = json_stringn(j->content.data, j->content.len);
        json_array_append_new(content, json_pack("{s:s, s:o}", "type", "text", "text",
                                                 t ? t : mast_json_string_lossy(j->content.data)));
    }
    size_t i;
    json_t *c;
    json_array_foreach(j->calls, i, c) {
        char tid[48];
        snprintf(tid, sizeof tid, "toolu_%s", json_string_value(json_object_get(c, "id")) + 5);
        json_t *input = json_loads(json_string_value(json_object_get(c, "arguments")), 0, NULL);
        json_array_append_new(content, json_pack("{s:s, s:s, s:O, s:o}", "type", "tool_use", "id", tid,
                                                 "name", json_object_get(c, "name"), "input",
                                                 input ? input : json_object()));
    }
    return http_ok(200, json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:o}", "id", j->id, "type",
                                  "message", "role", "assistant", "model", j->model->id, "content",
                                  content, "stop_reason", stop_reason(j), "stop_sequence",
                                  stop_sequence(j), "usage", usage(j)));
}

static const gen_format MESSAGES = {a_start, a_content, a_tool_call, a_finish, a_stream_error,
                                    a_reply, a_error};

/* ---- the request ---- */

/* A block list's (or string's) text; tool_use and tool_result blocks are
** rendered as the tool-call convention writes them. */
static mast_status blocks_text(const json_t *content, const char *where, bool tools, mast_buf *out)
{
    if (json_is_string(content))
        return mast_buf_puts(out, json_string_value(content));
    if (!json_is_array(content))
        return mast_fail(MAST_ERR_INVALID, "%s must be a string or an array of content blocks", where);
    size_t i;
    json_t *b;
    json_array_foreach(content, i, b) {
        const char *type = mast_json_get_str(b, "type", "");
        if (out->len && out->data[out->len - 1] != '\n' && strcmp(type, "text"))
            MAST_TRY(mast_buf_putc(out, '\n'));
        if (!strcmp(type, "text")) {
            const char *t = mast_json_get_str(b, "text", NULL);
            if (!t)
                return mast_fail(MAST_ERR_INVALID, "%s[%zu]: a text block needs \"text\"", where, i);
            MAST_TRY(mast_buf_puts(out, t));
        } else if (!strcmp(type, "tool_use")) {
            const char *name = mast_json_get_str(b, "name", NULL);
            if (!name)
                return mast_fail(MAST_ERR_INVALID, "%s[%zu]: a tool_use block needs \"name\"", where, i);
            char *args = json_dumps(json_object_get(b, "input") ? json_object_get(b, "input")
                                                                : json_object(), JSON_COMPACT);
            mast_status st = mast_tools_render_call(name, args, out);
            free(args);
            MAST_TRY(st);
        } else if (!strcmp(type, "tool_result")) {
            if (!mast_json_get_str(b, "tool_use_id", NULL))
                return mast_fail(MAST_ERR_INVALID, "%s[%zu]: a tool_result block needs "
                                 "\"tool_use_id\"", where, i);
            mast_buf inner = {0};
            const json_t *c = json_object_get(b, "content");
            char sub[64];
            snprintf(sub, sizeof sub, "%s[%zu].content", where, i);
            mast_status st = c ? blocks_text(c, sub, tools, &inner) : MAST_OK;
            if (st == MAST_OK && json_is_true(json_object_get(b, "is_error")))
                st = mast_buf_puts(&inner, " (the tool reported an error)");
            if (st == MAST_OK)
                st = tools ? mast_tools_render_result(mast_buf_cstr(&inner), out)
                           : mast_buf_puts(out, mast_buf_cstr(&inner));
            mast_buf_free(&inner);
            MAST_TRY(st);
        } else if (!strcmp(type, "image") || !strcmp(type, "document") || !strcmp(type, "thinking") ||
                   !strcmp(type, "redacted_thinking")) {
            return mast_fail(MAST_ERR_INVALID, "%s[%zu]: '%s' blocks are not supported by mast",
                             where, i, type);
        } else {
            return mast_fail(MAST_ERR_INVALID, "%s[%zu]: unknown block type '%s'", where, i, type);
        }
    }
    return MAST_OK;
}

static mast_status read_messages(gen_job *j, const json_t *body, bool tools)
{
    const json_t *sys = json_object_get(body, "system");
    mast_buf b = {0};
    if (sys && !json_is_null(sys)) {
        MAST_TRY(blocks_text(sys, "system", false, &b));
        MAST_TRY(gen_push_msg(j, "system", b.data ? mast_buf_detach(&b) : strdup("")));
    }
    const json_t *msgs = json_object_get(body, "messages");
    if (!json_is_array(msgs) || !json_array_size(msgs))
        return mast_fail(MAST_ERR_INVALID, "\"messages\" must be a non-empty array");
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        static const char *const fields[] = {"role", "content", NULL};
        char where[48];
        snprintf(where, sizeof where, "messages[%zu]", i);
        if (!json_is_object(m))
            return mast_fail(MAST_ERR_INVALID, "%s must be an object", where);
        MAST_TRY(mast_json_check_fields(m, fields, where));
        const char *role = mast_json_get_str(m, "role", "");
        if (strcmp(role, "user") && strcmp(role, "assistant"))
            return mast_fail(MAST_ERR_INVALID, "%s.role must be user or assistant (got '%s'; the "
                             "system prompt is the top-level \"system\")", where, role);
        snprintf(where, sizeof where, "messages[%zu].content", i);
        mast_buf t = {0};
        mast_status st = blocks_text(json_object_get(m, "content"), where, tools, &t);
        if (st == MAST_OK)
            st = gen_push_msg(j, role, t.data ? mast_buf_detach(&t) : strdup(""));
        mast_buf_free(&t);
        MAST_TRY(st);
    }
    return MAST_OK;
}

/* The same conversation as a template takes it (OpenAI's shape): tool_use
** blocks are the assistant's tool_calls, tool_result blocks tool messages.
** The blocks were checked by read_messages. */
static mast_status chat_messages(gen_job *j, const json_t *body)
{
    const json_t *sys = json_object_get(body, "system");
    mast_status st = MAST_OK;
    if (sys && !json_is_null(sys)) {
        mast_buf b = {0};
        st = blocks_text(sys, "system", false, &b);
        if (st == MAST_OK)
            st = gen_chat_push(j, json_pack("{s:s, s:o}", "role", "system", "content",
                                            mast_json_string_lossy(mast_buf_cstr(&b))));
        mast_buf_free(&b);
    }
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(body, "messages"), i, m) {
        const char *role = mast_json_get_str(m, "role", "");
        const json_t *content = json_object_get(m, "content");
        mast_buf text = {0};
        json_t *calls = json_array();
        bool results = false;
        size_t k;
        json_t *b;
        if (json_is_string(content))
            st = mast_buf_puts(&text, json_string_value(content));
        json_array_foreach(json_is_array(content) ? content : NULL, k, b) {
            const char *type = mast_json_get_str(b, "type", "");
            if (st != MAST_OK)
                break;
            if (!strcmp(type, "text")) {
                st = mast_buf_puts(&text, mast_json_get_str(b, "text", ""));
            } else if (!strcmp(type, "tool_use")) {
                const json_t *input = json_object_get(b, "input");
                char *args = input ? json_dumps(input, JSON_COMPACT) : strdup("{}");
                json_array_append_new(calls, json_pack("{s:s, s:s, s:s}", "id",
                                                       mast_json_get_str(b, "id", ""), "name",
                                                       mast_json_get_str(b, "name", ""), "arguments",
                                                       args ? args : "{}"));
                free(args);
            } else if (!strcmp(type, "tool_result")) {
                mast_buf inner = {0};
                const json_t *c = json_object_get(b, "content");
                st = c ? blocks_text(c, "tool_result", false, &inner) : MAST_OK;
                if (st == MAST_OK && json_is_true(json_object_get(b, "is_error")))
                    st = mast_buf_puts(&inner, " (the tool reported an error)");
                if (st == MAST_OK)
                    st = gen_chat_push(j, json_pack("{s:s, s:s, s:o}", "role", "tool", "tool_call_id",
                                                    mast_json_get_str(b, "tool_use_id", ""), "content",
                                                    mast_json_string_lossy(mast_buf_cstr(&inner))));
                mast_buf_free(&inner);
                results = true;
            }
        }
        if (st == MAST_OK && !strcmp(role, "assistant"))
            st = gen_chat_push(j, gen_chat_assistant(text.len || !json_array_size(calls)
                                                     ? mast_buf_cstr(&text) : NULL, calls));
        else if (st == MAST_OK && (text.len || !results))
            st = gen_chat_push(j, json_pack("{s:s, s:o}", "role", "user", "content",
                                            mast_json_string_lossy(mast_buf_cstr(&text))));
        mast_buf_free(&text);
        json_decref(calls);
        if (st != MAST_OK)
            return st;
    }
    return st;
}

/* Anthropic tools [{name, description, input_schema}] as the OpenAI shape
** the renderer, the grammar and the parser take. */
static mast_status read_tools(const json_t *tools, json_t **out)
{
    *out = NULL;
    if (!tools || json_is_null(tools))
        return MAST_OK;
    if (!json_is_array(tools))
        return mast_fail(MAST_ERR_INVALID, "\"tools\" must be an array");
    json_t *o = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        static const char *const fields[] = {"name", "description", "input_schema", "type",
                                             "cache_control", NULL};
        char where[32];
        snprintf(where, sizeof where, "tools[%zu]", i);
        mast_status st = json_is_object(t) ? mast_json_check_fields(t, fields, where)
                                           : mast_fail(MAST_ERR_INVALID, "%s must be an object", where);
        const char *name = mast_json_get_str(t, "name", NULL);
        const char *type = mast_json_get_str(t, "type", "custom");
        if (st == MAST_OK && strcmp(type, "custom"))
            st = mast_fail(MAST_ERR_INVALID, "%s: server tools ('%s') are not supported by mast", where, type);
        if (st == MAST_OK && (!name || !*name))
            st = mast_fail(MAST_ERR_INVALID, "%s.name is required", where);
        const json_t *schema = json_object_get(t, "input_schema");
        if (st == MAST_OK && !json_is_object(schema))
            st = mast_fail(MAST_ERR_INVALID, "%s.input_schema (a JSON Schema object) is required", where);
        if (st != MAST_OK) {
            json_decref(o);
            return st;
        }
        json_t *fn = json_pack("{s:s, s:O}", "name", name, "parameters", schema);
        if (json_object_get(t, "description"))
            json_object_set(fn, "description", json_object_get(t, "description"));
        json_array_append_new(o, json_pack("{s:s, s:o}", "type", "function", "function", fn));
    }
    *out = o;
    return MAST_OK;
}

static const char *const FIELDS[] = {"model", "max_tokens", "messages", "system", "stop_sequences",
                                     "temperature", "top_p", "top_k", "tools", "tool_choice",
                                     "stream", "metadata", "keep_alive", NULL};

/* Everything but the sampling: messages, system, tools and tool_choice. */
static mast_status read_prompt(gen_job *j, const json_t *body)
{
    json_t *tools;
    MAST_TRY(read_tools(json_object_get(body, "tools"), &tools));
    static const char *const tc_fields[] = {"type", "name", "disable_parallel_tool_use", NULL};
    const json_t *tc = json_object_get(body, "tool_choice");
    const char *mode = tc ? mast_json_get_str(tc, "type", NULL) : "auto";
    mast_status st = tc && json_is_object(tc) ? mast_json_check_fields(tc, tc_fields, "tool_choice")
                                              : MAST_OK;
    if (st == MAST_OK && (!mode || (strcmp(mode, "auto") && strcmp(mode, "any") &&
                                    strcmp(mode, "tool") && strcmp(mode, "none"))))
        st = mast_fail(MAST_ERR_INVALID, "\"tool_choice\".type must be auto, any, tool or none");
    bool use = st == MAST_OK && tools && json_array_size(tools) && strcmp(mode, "none");
    if (st == MAST_OK && !use && strcmp(mode, "auto") && strcmp(mode, "none"))
        st = mast_fail(MAST_ERR_INVALID, "\"tool_choice\" is '%s' but there are no \"tools\"", mode);
    if (st == MAST_OK)
        st = read_messages(j, body, use);
    if (st == MAST_OK)
        st = chat_messages(j, body);
    if (st != MAST_OK || !use) {
        json_decref(tools);
        return st;
    }
    st = gen_use_tools(j, tools);
    if (st == MAST_OK && strcmp(mode, "auto")) {
        const char *name = !strcmp(mode, "tool") ? mast_json_get_str(tc, "name", NULL) : NULL;
        if (!strcmp(mode, "tool") && !name)
            return mast_fail(MAST_ERR_INVALID, "\"tool_choice\": type tool needs \"name\"");
        st = gen_tool_grammar(j, tools, name,
                              !json_is_true(json_object_get(tc, "disable_parallel_tool_use")) && !name);
    }
    return st;
}

static gen_job *open_job(http_ctx *c, const http_request *req, const char *const *fields,
                         http_reply *err)
{
    gen_job *j = gen_job_open(c, req, fields, &MESSAGES, false, sizeof(a_state), err);
    if (j) {
        ((a_state *)j->family)->block = -1;
        gen_random_id("msg_", j->id, sizeof j->id);
    }
    return j;
}

static http_reply messages(http_ctx *c, const http_request *req)
{
    http_reply err;
    gen_job *j = open_job(c, req, FIELDS, &err);
    if (!j)
        return err;
    json_t *body = j->body;
    mast_status st = MAST_OK;
    const json_t *mt = json_object_get(body, "max_tokens");
    if (!json_is_integer(mt) || json_integer_value(mt) < 1)
        st = mast_fail(MAST_ERR_INVALID, "\"max_tokens\" (an integer of at least 1) is required");
    else
        j->req.params.max_tokens = (int)json_integer_value(mt);
    const json_t *temp = json_object_get(body, "temperature");
    if (st == MAST_OK && temp && (!json_is_number(temp) || json_number_value(temp) < 0 ||
                                  json_number_value(temp) > 1))
        st = mast_fail(MAST_ERR_INVALID, "\"temperature\" must be between 0 and 1");
    if (st == MAST_OK)
        st = gen_read_sampling(j, body);
    if (st == MAST_OK)
        st = gen_read_stop(j, json_object_get(body, "stop_sequences"), "stop_sequences");
    const json_t *stream = json_object_get(body, "stream");
    if (st == MAST_OK && stream && !json_is_boolean(stream))
        st = mast_fail(MAST_ERR_INVALID, "\"stream\" must be true or false");
    j->streaming = json_is_true(stream);
    const json_t *meta = json_object_get(body, "metadata");
    if (st == MAST_OK && meta && mast_json_get_str(meta, "user_id", NULL))
        mast_trace_attr_str(req->trace, "user.id", mast_json_get_str(meta, "user_id", NULL));
    if (st == MAST_OK)
        st = read_prompt(j, body);
    if (st != MAST_OK) {
        http_reply r = gen_status_reply(&MESSAGES, st);
        gen_job_free(j);
        return r;
    }
    gen_job_request(j);
    return gen_job_submit(j, req);
}

static http_reply count_tokens(http_ctx *c, const http_request *req)
{
    static const char *const fields[] = {"model", "messages", "system", "tools", "tool_choice", NULL};
    http_reply err;
    gen_job *j = open_job(c, req, fields, &err);
    if (!j)
        return err;
    mast_status st = read_prompt(j, j->body);
    int n = 0;
    gen_job_request(j);
    if (st == MAST_OK)   /* the tokenizer is read-only: no need to queue behind generations */
        st = mast_gen_count_tokens(j->model->gen, &j->req, &n);
    http_reply r = st == MAST_OK ? http_ok(200, json_pack("{s:i}", "input_tokens", n)) : gen_status_reply(&MESSAGES, st);
    gen_job_free(j);
    return r;
}

http_reply mast_anthropic_api(http_ctx *c, const http_request *req, int *matched)
{
    *matched = 1;
    const char *allow = "POST, OPTIONS";
    if (!strcmp(req->path, "/v1/messages") || !strcmp(req->path, "/v1/messages/count_tokens")) {
        if (strcmp(req->method, "POST")) {
            char msg[200];
            snprintf(msg, sizeof msg, "method %s is not allowed on %s (allowed: POST)", req->method,
                     req->path);
            http_reply r = a_error(405, NULL, msg);
            r.allow = allow;
            return r;
        }
        return req->path[12] ? count_tokens(c, req) : messages(c, req);
    }
    *matched = 0;
    return (http_reply){.status = 404};
}
