/*
** model/providers/translate.c — OpenAI ⇄ Anthropic shapes and usage (see
** translate.h).
*/
#include "model/providers/translate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/status.h"

static long int_at(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (long)json_integer_value(v) : 0;
}

mast_usage mast_usage_from_openai(const json_t *u)
{
    mast_usage r = {0};
    if (!json_is_object(u))
        return r;
    r.known = true;
    r.input = int_at(u, "prompt_tokens");
    r.output = int_at(u, "completion_tokens");
    r.cache_read = int_at(json_object_get(u, "prompt_tokens_details"), "cached_tokens");
    r.reasoning = int_at(json_object_get(u, "completion_tokens_details"), "reasoning_tokens");
    if (r.cache_read > r.input)
        r.cache_read = r.input;
    if (r.reasoning > r.output)
        r.reasoning = r.output;
    return r;
}

mast_usage mast_usage_from_anthropic(const json_t *u)
{
    mast_usage r = {0};
    if (!json_is_object(u))
        return r;
    r.known = true;
    r.cache_read = int_at(u, "cache_read_input_tokens");
    r.cache_write = int_at(u, "cache_creation_input_tokens");
    r.input = int_at(u, "input_tokens") + r.cache_read + r.cache_write;
    r.output = int_at(u, "output_tokens");
    return r;
}

json_t *mast_usage_to_openai(const mast_usage *u)
{
    return json_pack("{s:I, s:I, s:I, s:{s:I}, s:{s:I}}", "prompt_tokens", (json_int_t)u->input,
                     "completion_tokens", (json_int_t)u->output, "total_tokens",
                     (json_int_t)(u->input + u->output), "prompt_tokens_details", "cached_tokens",
                     (json_int_t)u->cache_read, "completion_tokens_details", "reasoning_tokens",
                     (json_int_t)u->reasoning);
}

double mast_usage_cost(const mast_usage *u, double input, double cached_input, double cache_write,
                       double output)
{
    long uncached = u->input - u->cache_read - u->cache_write;
    if (uncached < 0)
        uncached = 0;
    return ((double)uncached * input + (double)u->cache_read * cached_input +
            (double)u->cache_write * cache_write + (double)u->output * output) / 1e6;
}

/* ---- OpenAI request → Anthropic ---- */

mast_status mast_openai_content_text(const json_t *c, size_t i, const char *why_text, mast_buf *out)
{
    if (!c || json_is_null(c))
        return MAST_OK;
    if (json_is_string(c))
        return mast_buf_puts(out, json_string_value(c));
    if (!json_is_array(c))
        return mast_fail(MAST_ERR_INVALID, "messages[%zu].content must be a string or an array of "
                         "parts", i);
    size_t k;
    json_t *p;
    json_array_foreach(c, k, p) {
        const char *type = mast_json_get_str(p, "type", NULL);
        if (!type || strcmp(type, "text") || !json_is_string(json_object_get(p, "text"))) {
            if (type && (!strcmp(type, "image_url") || !strcmp(type, "input_audio") || !strcmp(type, "file")))
                return mast_fail(MAST_ERR_INVALID, "messages[%zu].content[%zu]: '%s' parts are not "
                                 "supported (%s)", i, k, type, why_text);
            return mast_fail(MAST_ERR_INVALID, "messages[%zu].content[%zu] must be {\"type\": "
                             "\"text\", \"text\": \"...\"}", i, k);
        }
        MAST_TRY(mast_buf_puts(out, json_string_value(json_object_get(p, "text"))));
    }
    return MAST_OK;
}

/* Appends a block to the last message when it has role, else a new message. */
static void add_block(json_t *msgs, const char *role, json_t *block)
{
    json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
    if (json_array_size(msgs) && !strcmp(mast_json_get_str(last, "role", ""), role)) {
        json_array_append_new(json_object_get(last, "content"), block);
        return;
    }
    json_array_append_new(msgs, json_pack("{s:s, s:[o]}", "role", role, "content", block));
}

static mast_status translate_messages(const json_t *msgs, mast_buf *system, json_t *out)
{
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *role = mast_json_get_str(m, "role", "");
        mast_buf text = {0};
        mast_status st = mast_openai_content_text(json_object_get(m, "content"), i,
                                                  "mast sends text to Anthropic deployments", &text);
        if (st == MAST_OK && (!strcmp(role, "system") || !strcmp(role, "developer"))) {
            if (system->len)
                mast_buf_puts(system, "\n\n");
            mast_buf_append(system, mast_buf_cstr(&text), text.len);
        } else if (st == MAST_OK && !strcmp(role, "user")) {
            add_block(out, "user", json_pack("{s:s, s:s}", "type", "text", "text", mast_buf_cstr(&text)));
        } else if (st == MAST_OK && !strcmp(role, "assistant")) {
            if (text.len)
                add_block(out, "assistant", json_pack("{s:s, s:s}", "type", "text", "text",
                                                      mast_buf_cstr(&text)));
            size_t k;
            json_t *c;
            json_array_foreach(json_object_get(m, "tool_calls"), k, c) {
                const json_t *fn = json_object_get(c, "function");
                const char *args = mast_json_get_str(fn, "arguments", "{}");
                json_t *input = json_loads(args, 0, NULL);
                if (!json_is_object(input)) {
                    json_decref(input);
                    st = mast_fail(MAST_ERR_INVALID, "messages[%zu].tool_calls[%zu].function.arguments "
                                   "is not a JSON object", i, k);
                    break;
                }
                add_block(out, "assistant", json_pack("{s:s, s:s, s:s, s:o}", "type", "tool_use", "id",
                                                      mast_json_get_str(c, "id", ""), "name",
                                                      mast_json_get_str(fn, "name", ""), "input", input));
            }
        } else if (st == MAST_OK && !strcmp(role, "tool")) {
            add_block(out, "user", json_pack("{s:s, s:s, s:s}", "type", "tool_result", "tool_use_id",
                                             mast_json_get_str(m, "tool_call_id", ""), "content",
                                             mast_buf_cstr(&text)));
        } else if (st == MAST_OK) {
            st = mast_fail(MAST_ERR_INVALID, "messages[%zu].role '%s' has no Anthropic equivalent", i, role);
        }
        mast_buf_free(&text);
        if (st != MAST_OK)
            return st;
    }
    return MAST_OK;
}

mast_status mast_openai_to_anthropic(const json_t *req, const char *model, json_t **out)
{
    *out = NULL;
    json_t *r = json_pack("{s:s}", "model", model);
    json_t *msgs = json_array();
    mast_buf system = {0};
    mast_status st = translate_messages(json_object_get(req, "messages"), &system, msgs);
    const json_t *rf = json_object_get(req, "response_format");
    const char *rft = mast_json_get_str(rf, "type", "text");
    if (st == MAST_OK && strcmp(rft, "text")) {   /* no JSON mode: say it */
        if (system.len)
            mast_buf_puts(&system, "\n\n");
        mast_buf_puts(&system, "Respond with a JSON value only");
        const json_t *schema = json_object_get(json_object_get(rf, "json_schema"), "schema");
        if (schema) {
            mast_buf_puts(&system, ", matching this JSON Schema:\n");
            mast_json_dump(schema, 0, &system);
        } else {
            mast_buf_puts(&system, ".");
        }
    }
    json_object_set_new(r, "messages", msgs);
    if (system.len)
        json_object_set_new(r, "system", mast_json_string_lossy(mast_buf_cstr(&system)));
    mast_buf_free(&system);
    const json_t *mt = json_object_get(req, "max_completion_tokens");
    if (!json_is_integer(mt))
        mt = json_object_get(req, "max_tokens");
    json_object_set_new(r, "max_tokens", json_integer(json_is_integer(mt) ? json_integer_value(mt) : 4096));
    static const char *const same[] = {"temperature", "top_p", "top_k", "stream", NULL};
    for (int i = 0; same[i]; i++)
        if (json_object_get(req, same[i]) && !json_is_null(json_object_get(req, same[i])))
            json_object_set(r, same[i], json_object_get(req, same[i]));
    const json_t *stop = json_object_get(req, "stop");
    if (json_is_string(stop))
        json_object_set_new(r, "stop_sequences", json_pack("[O]", stop));
    else if (json_is_array(stop))
        json_object_set(r, "stop_sequences", (json_t *)stop);
    const json_t *tools = json_object_get(req, "tools");
    if (st == MAST_OK && json_array_size(tools)) {
        json_t *at = json_array();
        size_t i;
        json_t *t;
        json_array_foreach(tools, i, t) {
            const json_t *fn = json_object_get(t, "function");
            json_t *o = json_pack("{s:s}", "name", mast_json_get_str(fn, "name", ""));
            if (json_is_string(json_object_get(fn, "description")))
                json_object_set(o, "description", json_object_get(fn, "description"));
            const json_t *params = json_object_get(fn, "parameters");
            json_object_set_new(o, "input_schema", params ? json_incref((json_t *)params)
                                                          : json_pack("{s:s}", "type", "object"));
            json_array_append_new(at, o);
        }
        json_object_set_new(r, "tools", at);
        const json_t *tc = json_object_get(req, "tool_choice");
        json_t *choice = NULL;
        if (json_is_string(tc))
            choice = json_pack("{s:s}", "type", !strcmp(json_string_value(tc), "required") ? "any"
                                               : !strcmp(json_string_value(tc), "none") ? "none" : "auto");
        else if (json_is_object(tc))
            choice = json_pack("{s:s, s:s}", "type", "tool", "name",
                               mast_json_get_str(json_object_get(tc, "function"), "name", ""));
        if (choice && json_is_false(json_object_get(req, "parallel_tool_calls")))
            json_object_set_new(choice, "disable_parallel_tool_use", json_true());
        if (choice)
            json_object_set_new(r, "tool_choice", choice);
    }
    if (st != MAST_OK) {
        json_decref(r);
        return st;
    }
    *out = r;
    return MAST_OK;
}

/* ---- Anthropic reply → OpenAI ---- */

const char *mast_anthropic_finish_reason(const char *stop_reason)
{
    if (!stop_reason)
        return NULL;
    if (!strcmp(stop_reason, "max_tokens"))
        return "length";
    if (!strcmp(stop_reason, "tool_use"))
        return "tool_calls";
    if (!strcmp(stop_reason, "refusal"))
        return "content_filter";
    return "stop";
}

json_t *mast_anthropic_to_openai(const json_t *resp, const char *model)
{
    mast_buf text = {0};
    json_t *calls = json_array();
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(resp, "content"), i, b) {
        const char *type = mast_json_get_str(b, "type", "");
        if (!strcmp(type, "text")) {
            mast_buf_puts(&text, mast_json_get_str(b, "text", ""));
        } else if (!strcmp(type, "tool_use")) {
            const json_t *input = json_object_get(b, "input");
            char *args = input ? json_dumps(input, JSON_COMPACT) : strdup("{}");
            json_array_append_new(calls, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id",
                                                   mast_json_get_str(b, "id", ""), "type", "function",
                                                   "function", "name", mast_json_get_str(b, "name", ""),
                                                   "arguments", args ? args : "{}"));
            free(args);
        }
    }
    json_t *msg = json_pack("{s:s, s:o}", "role", "assistant", "content",
                            text.len || !json_array_size(calls) ? mast_json_string_lossy(mast_buf_cstr(&text))
                                                                : json_null());
    mast_buf_free(&text);
    if (json_array_size(calls))
        json_object_set_new(msg, "tool_calls", calls);
    else
        json_decref(calls);
    const char *finish = mast_anthropic_finish_reason(mast_json_get_str(resp, "stop_reason", "end_turn"));
    mast_usage u = mast_usage_from_anthropic(json_object_get(resp, "usage"));
    char id[96];
    snprintf(id, sizeof id, "chatcmpl-%s", mast_json_get_str(resp, "id", "anthropic"));
    return json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:n, s:s}], s:o}", "id", id, "object",
                     "chat.completion", "created", (json_int_t)time(NULL), "model", model, "choices",
                     "index", 0, "message", msg, "logprobs", "finish_reason", finish, "usage",
                     mast_usage_to_openai(&u));
}

/* ---- Anthropic stream → OpenAI chunks ---- */

void mast_anthropic_stream_init(mast_anthropic_stream *s, const char *model)
{
    memset(s, 0, sizeof *s);
    s->model = model;
    s->created = (long)time(NULL);
    snprintf(s->id, sizeof s->id, "chatcmpl-anthropic");
    for (int i = 0; i < 64; i++)
        s->block_call[i] = -1;
}

static json_t *chunk(const mast_anthropic_stream *s, json_t *delta, const char *finish)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:s?}]}", "id", s->id, "object",
                     "chat.completion.chunk", "created", (json_int_t)s->created, "model", s->model,
                     "choices", "index", 0, "delta", delta, "finish_reason", finish);
}

int mast_anthropic_stream_event(mast_anthropic_stream *s, const json_t *ev,
                                int (*emit)(void *ctx, json_t *chunk), void *ctx)
{
    const char *type = mast_json_get_str(ev, "type", "");
    if (!strcmp(type, "message_start")) {
        const json_t *m = json_object_get(ev, "message");
        const char *id = mast_json_get_str(m, "id", NULL);
        if (id)
            snprintf(s->id, sizeof s->id, "chatcmpl-%s", id);
        s->usage = mast_usage_from_anthropic(json_object_get(m, "usage"));
        return emit(ctx, chunk(s, json_pack("{s:s, s:s}", "role", "assistant", "content", ""), NULL));
    }
    if (!strcmp(type, "content_block_start")) {
        json_int_t idx = json_integer_value(json_object_get(ev, "index"));
        const json_t *b = json_object_get(ev, "content_block");
        if (strcmp(mast_json_get_str(b, "type", ""), "tool_use") || idx < 0 || idx >= 64)
            return 0;
        int call = s->n_calls++;
        s->block_call[idx] = call;
        return emit(ctx, chunk(s, json_pack("{s:[{s:i, s:s, s:s, s:{s:s, s:s}}]}", "tool_calls", "index",
                                            call, "id", mast_json_get_str(b, "id", ""), "type", "function",
                                            "function", "name", mast_json_get_str(b, "name", ""),
                                            "arguments", ""), NULL));
    }
    if (!strcmp(type, "content_block_delta")) {
        json_int_t idx = json_integer_value(json_object_get(ev, "index"));
        const json_t *d = json_object_get(ev, "delta");
        const char *dt = mast_json_get_str(d, "type", "");
        if (!strcmp(dt, "text_delta"))
            return emit(ctx, chunk(s, json_pack("{s:s}", "content", mast_json_get_str(d, "text", "")), NULL));
        if (!strcmp(dt, "input_json_delta") && idx >= 0 && idx < 64 && s->block_call[idx] >= 0)
            return emit(ctx, chunk(s, json_pack("{s:[{s:i, s:{s:s}}]}", "tool_calls", "index",
                                                s->block_call[idx], "function", "arguments",
                                                mast_json_get_str(d, "partial_json", "")), NULL));
        return 0;
    }
    if (!strcmp(type, "message_delta")) {
        const json_t *u = json_object_get(ev, "usage");
        if (json_is_object(u)) {   /* output_tokens is cumulative; the cache counts came first */
            long out = int_at(u, "output_tokens");
            if (out)
                s->usage.output = out;
            s->usage.known = true;
        }
        const char *fr = mast_anthropic_finish_reason(
            mast_json_get_str(json_object_get(ev, "delta"), "stop_reason", NULL));
        return fr ? emit(ctx, chunk(s, json_object(), fr)) : 0;
    }
    if (!strcmp(type, "message_stop")) {
        s->done = true;
        return 0;
    }
    if (!strcmp(type, "error")) {
        snprintf(s->error, sizeof s->error, "%s: %s",
                 mast_json_get_str(json_object_get(ev, "error"), "type", "error"),
                 mast_json_get_str(json_object_get(ev, "error"), "message", ""));
        return -2;
    }
    return 0;   /* ping, content_block_stop, thinking deltas */
}

/* ---- Anthropic request → OpenAI ---- */

/* A block list's (or string's) text; tool_result blocks become tool messages
** appended to msgs before the text's user message. */
static mast_status blocks(const json_t *content, const char *role, json_t *msgs, mast_buf *text,
                          json_t *calls)
{
    if (json_is_string(content))
        return mast_buf_puts(text, json_string_value(content));
    size_t i;
    json_t *b;
    json_array_foreach(content, i, b) {
        const char *type = mast_json_get_str(b, "type", "");
        if (!strcmp(type, "text")) {
            MAST_TRY(mast_buf_puts(text, mast_json_get_str(b, "text", "")));
        } else if (!strcmp(type, "tool_use") && !strcmp(role, "assistant")) {
            const json_t *input = json_object_get(b, "input");
            char *args = json_dumps(input ? input : json_object(), JSON_COMPACT);
            json_array_append_new(calls, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", mast_json_get_str(b, "id", ""),
                                                   "type", "function", "function", "name",
                                                   mast_json_get_str(b, "name", ""), "arguments", args ? args : "{}"));
            free(args);
        } else if (!strcmp(type, "tool_result")) {
            mast_buf inner = {0};
            const json_t *c = json_object_get(b, "content");
            json_t *none = json_array();
            mast_status st = c ? blocks(c, "user", msgs, &inner, none) : MAST_OK;
            json_decref(none);
            if (st == MAST_OK)
                json_array_append_new(msgs, json_pack("{s:s, s:s, s:o}", "role", "tool", "tool_call_id",
                                                      mast_json_get_str(b, "tool_use_id", ""), "content",
                                                      mast_json_string_lossy(mast_buf_cstr(&inner))));
            mast_buf_free(&inner);
            MAST_TRY(st);
        } else {
            return mast_fail(MAST_ERR_INVALID, "'%s' blocks are not supported by the gateway", type);
        }
    }
    return MAST_OK;
}

mast_status mast_anthropic_request_to_openai(const json_t *req, json_t **out)
{
    *out = NULL;
    json_t *r = json_object(), *msgs = json_array();
    mast_status st = MAST_OK;
    const json_t *sys = json_object_get(req, "system");
    if (sys && !json_is_null(sys)) {
        mast_buf t = {0};
        json_t *none = json_array();
        st = blocks(sys, "system", msgs, &t, none);
        json_decref(none);
        json_array_append_new(msgs, json_pack("{s:s, s:o}", "role", "system", "content",
                                              mast_json_string_lossy(mast_buf_cstr(&t))));
        mast_buf_free(&t);
    }
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(req, "messages"), i, m) {
        if (st != MAST_OK)
            break;
        const char *role = mast_json_get_str(m, "role", "");
        if (strcmp(role, "user") && strcmp(role, "assistant")) {
            st = mast_fail(MAST_ERR_INVALID, "messages[%zu].role must be user or assistant", i);
            break;
        }
        mast_buf text = {0};
        json_t *calls = json_array();
        st = blocks(json_object_get(m, "content"), role, msgs, &text, calls);
        if (st == MAST_OK && !strcmp(role, "assistant")) {
            json_t *am = json_pack("{s:s, s:o}", "role", "assistant", "content",
                                   text.len || !json_array_size(calls) ? mast_json_string_lossy(mast_buf_cstr(&text))
                                                                      : json_null());
            if (json_array_size(calls))
                json_object_set(am, "tool_calls", calls);
            json_array_append_new(msgs, am);
        } else if (st == MAST_OK && (text.len || !json_is_array(json_object_get(m, "content")))) {
            json_array_append_new(msgs, json_pack("{s:s, s:o}", "role", "user", "content",
                                                  mast_json_string_lossy(mast_buf_cstr(&text))));
        }
        json_decref(calls);
        mast_buf_free(&text);
    }
    json_object_set_new(r, "messages", msgs);
    static const char *const same[] = {"model", "max_tokens", "temperature", "top_p", "top_k", "stream", NULL};
    for (int k = 0; same[k]; k++)
        if (json_object_get(req, same[k]))
            json_object_set(r, same[k], json_object_get(req, same[k]));
    if (json_is_array(json_object_get(req, "stop_sequences")))
        json_object_set(r, "stop", json_object_get(req, "stop_sequences"));
    const json_t *tools = json_object_get(req, "tools");
    if (st == MAST_OK && json_array_size(tools)) {
        json_t *ot = json_array();
        json_t *t;
        json_array_foreach(tools, i, t) {
            json_t *fn = json_pack("{s:s}", "name", mast_json_get_str(t, "name", ""));
            if (json_object_get(t, "description"))
                json_object_set(fn, "description", json_object_get(t, "description"));
            if (json_object_get(t, "input_schema"))
                json_object_set(fn, "parameters", json_object_get(t, "input_schema"));
            json_array_append_new(ot, json_pack("{s:s, s:o}", "type", "function", "function", fn));
        }
        json_object_set_new(r, "tools", ot);
        const json_t *tc = json_object_get(req, "tool_choice");
        const char *type = mast_json_get_str(tc, "type", NULL);
        if (type && !strcmp(type, "any"))
            json_object_set_new(r, "tool_choice", json_string("required"));
        else if (type && !strcmp(type, "none"))
            json_object_set_new(r, "tool_choice", json_string("none"));
        else if (type && !strcmp(type, "tool"))
            json_object_set_new(r, "tool_choice", json_pack("{s:s, s:{s:s}}", "type", "function", "function",
                                                            "name", mast_json_get_str(tc, "name", "")));
        if (json_is_true(json_object_get(tc, "disable_parallel_tool_use")))
            json_object_set_new(r, "parallel_tool_calls", json_false());
    }
    if (st != MAST_OK) {
        json_decref(r);
        return st;
    }
    *out = r;
    return MAST_OK;
}

static const char *anthropic_stop(const char *finish)
{
    if (!finish)
        return "end_turn";
    if (!strcmp(finish, "length"))
        return "max_tokens";
    if (!strcmp(finish, "tool_calls"))
        return "tool_use";
    if (!strcmp(finish, "content_filter"))
        return "refusal";
    return "end_turn";
}

static json_t *anthropic_usage(const mast_usage *u)
{
    return json_pack("{s:I, s:I, s:I, s:I}", "input_tokens", (json_int_t)(u->input - u->cache_read - u->cache_write),
                     "cache_read_input_tokens", (json_int_t)u->cache_read, "cache_creation_input_tokens",
                     (json_int_t)u->cache_write, "output_tokens", (json_int_t)u->output);
}

json_t *mast_openai_reply_to_anthropic(const json_t *resp, const char *model)
{
    const json_t *choice = json_array_get(json_object_get(resp, "choices"), 0);
    const json_t *msg = json_object_get(choice, "message");
    json_t *content = json_array();
    const char *text = mast_json_get_str(msg, "content", NULL);
    if (text && *text)
        json_array_append_new(content, json_pack("{s:s, s:s}", "type", "text", "text", text));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(msg, "tool_calls"), i, c) {
        const json_t *fn = json_object_get(c, "function");
        json_t *input = json_loads(mast_json_get_str(fn, "arguments", "{}"), 0, NULL);
        json_array_append_new(content, json_pack("{s:s, s:s, s:s, s:o}", "type", "tool_use", "id",
                                                 mast_json_get_str(c, "id", ""), "name",
                                                 mast_json_get_str(fn, "name", ""), "input",
                                                 json_is_object(input) ? input : json_object()));
        if (!json_is_object(input))
            json_decref(input);
    }
    mast_usage u = mast_usage_from_openai(json_object_get(resp, "usage"));
    char id[96];
    snprintf(id, sizeof id, "msg_%s", mast_json_get_str(resp, "id", "gateway"));
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:n, s:o}", "id", id, "type", "message", "role",
                     "assistant", "model", model, "content", content, "stop_reason",
                     anthropic_stop(mast_json_get_str(choice, "finish_reason", NULL)), "stop_sequence",
                     "usage", anthropic_usage(&u));
}

void mast_openai_stream_init(mast_openai_stream *s, const char *model)
{
    memset(s, 0, sizeof *s);
    s->model = model;
    s->block = -1;
    for (int i = 0; i < 64; i++)
        s->call_block[i] = -1;
}

static int close_block(mast_openai_stream *s, mast_event_fn emit, void *ctx)
{
    if (s->block < 0)
        return 0;
    int rc = emit(ctx, "content_block_stop", json_pack("{s:s, s:i}", "type", "content_block_stop", "index", s->block));
    s->block = -1;
    s->text_open = false;
    return rc;
}

int mast_openai_stream_chunk(mast_openai_stream *s, const json_t *chunk, mast_event_fn emit, void *ctx)
{
    int rc = 0;
    if (!s->started) {
        s->started = true;
        rc = emit(ctx, "message_start", json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:[], s:n, s:n, s:{s:i, s:i}}}",
                                                  "type", "message_start", "message", "id", "msg_gateway", "type",
                                                  "message", "role", "assistant", "model", s->model, "content",
                                                  "stop_reason", "stop_sequence", "usage", "input_tokens", 0,
                                                  "output_tokens", 0));
        if (rc)
            return rc;
    }
    const json_t *u = json_object_get(chunk, "usage");
    if (json_is_object(u))
        s->usage = mast_usage_from_openai(u);
    const json_t *choice = json_array_get(json_object_get(chunk, "choices"), 0);
    const json_t *d = json_object_get(choice, "delta");
    const char *text = mast_json_get_str(d, "content", NULL);
    if (text && *text) {
        if (!s->text_open) {
            if ((rc = close_block(s, emit, ctx)))
                return rc;
            s->block = s->n_blocks++;
            s->text_open = true;
            if ((rc = emit(ctx, "content_block_start", json_pack("{s:s, s:i, s:{s:s, s:s}}", "type",
                                                                 "content_block_start", "index", s->block,
                                                                 "content_block", "type", "text", "text", ""))))
                return rc;
        }
        if ((rc = emit(ctx, "content_block_delta", json_pack("{s:s, s:i, s:{s:s, s:s}}", "type", "content_block_delta",
                                                             "index", s->block, "delta", "type", "text_delta",
                                                             "text", text))))
            return rc;
    }
    size_t i;
    json_t *tc;
    json_array_foreach(json_object_get(d, "tool_calls"), i, tc) {
        json_int_t idx = json_integer_value(json_object_get(tc, "index"));
        if (idx < 0 || idx >= 64)
            continue;
        const json_t *fn = json_object_get(tc, "function");
        if (s->call_block[idx] < 0) {
            if ((rc = close_block(s, emit, ctx)))
                return rc;
            s->block = s->call_block[idx] = s->n_blocks++;
            if ((rc = emit(ctx, "content_block_start", json_pack("{s:s, s:i, s:{s:s, s:s, s:s, s:{}}}", "type",
                                                                 "content_block_start", "index", s->block,
                                                                 "content_block", "type", "tool_use", "id",
                                                                 mast_json_get_str(tc, "id", ""), "name",
                                                                 mast_json_get_str(fn, "name", ""), "input"))))
                return rc;
        }
        const char *args = mast_json_get_str(fn, "arguments", NULL);
        if (args && *args &&
            (rc = emit(ctx, "content_block_delta", json_pack("{s:s, s:i, s:{s:s, s:s}}", "type",
                                                             "content_block_delta", "index", s->call_block[idx],
                                                             "delta", "type", "input_json_delta", "partial_json",
                                                             args))))
            return rc;
    }
    const char *finish = mast_json_get_str(choice, "finish_reason", NULL);
    if (finish)
        s->stop_reason = anthropic_stop(finish);
    return 0;
}

int mast_openai_stream_finish(mast_openai_stream *s, mast_event_fn emit, void *ctx)
{
    int rc = close_block(s, emit, ctx);
    if (!rc)
        rc = emit(ctx, "message_delta", json_pack("{s:s, s:{s:s, s:n}, s:o}", "type", "message_delta", "delta",
                                                  "stop_reason", s->stop_reason ? s->stop_reason : "end_turn",
                                                  "stop_sequence", "usage", anthropic_usage(&s->usage)));
    if (!rc)
        rc = emit(ctx, "message_stop", json_pack("{s:s}", "type", "message_stop"));
    return rc;
}
