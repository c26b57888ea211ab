/*
** model/tools.c — tool definitions into the prompt, tool calls out of the
** output (see tools.h).
*/
#include "model/tools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/status.h"

static const char OPEN[] = "<tool_call>", CLOSE[] = "</tool_call>", MISTRAL[] = "[TOOL_CALLS]";

enum { TEXT, IN_CALL, MISTRAL_CALLS, WHOLE_JSON };

mast_status mast_tools_render_definitions(const json_t *tools, mast_buf *out)
{
    MAST_TRY(mast_buf_puts(out, "# Tools\n\nYou may call one or more functions to assist with "
                                "the user query.\n\nYou are provided with function signatures "
                                "within <tools></tools> XML tags:\n<tools>"));
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        MAST_TRY(mast_buf_putc(out, '\n'));
        MAST_TRY(mast_json_dump(t, 0, out));
    }
    return mast_buf_puts(out, "\n</tools>\n\nFor each function call, return a json object with "
                              "function name and arguments within <tool_call></tool_call> XML "
                              "tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
                              "<args-json-object>}\n</tool_call>");
}

mast_status mast_tools_render_call(const char *name, const char *arguments, mast_buf *out)
{
    json_t *args = NULL;
    if (arguments)
        args = json_loads(arguments, JSON_DECODE_ANY, NULL);
    json_t *call = json_pack("{s:s, s:o}", "name", name ? name : "",
                             "arguments", args ? args : json_object());
    mast_status st = mast_buf_puts(out, "<tool_call>\n");
    if (st == MAST_OK)
        st = mast_json_dump(call, 0, out);
    json_decref(call);
    return st == MAST_OK ? mast_buf_puts(out, "\n</tool_call>") : st;
}

mast_status mast_tools_render_result(const char *content, mast_buf *out)
{
    return mast_buf_printf(out, "<tool_response>\n%s\n</tool_response>", content ? content : "");
}

void mast_tool_parser_init(mast_tool_parser *p, const json_t *tools)
{
    memset(p, 0, sizeof *p);
    p->tools = tools && json_array_size(tools) ? tools : NULL;
}

void mast_tool_parser_free(mast_tool_parser *p)
{
    mast_buf_free(&p->held);
}

static bool defined(const mast_tool_parser *p, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(p->tools, i, t) {
        const char *n = json_string_value(json_object_get(json_object_get(t, "function"), "name"));
        if (n && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

static void malformed(mast_tool_parser *p, const char *why)
{
    p->malformed++;
    snprintf(p->error, sizeof p->error, "%s", why);
}

/* One call object {"name", "arguments"|"parameters"}: passed on, or counted
** as malformed. */
static int emit_call(mast_tool_parser *p, json_t *obj, const mast_tool_parser_cb *cb)
{
    const char *name = json_string_value(json_object_get(obj, "name"));
    json_t *args = json_object_get(obj, "arguments");
    if (!args)
        args = json_object_get(obj, "parameters");
    if (json_is_string(args)) {   /* some models write the arguments as a JSON string */
        json_t *inner = json_loads(json_string_value(args), 0, NULL);
        if (json_is_object(inner)) {
            json_object_set_new(obj, "arguments", inner);
            args = inner;
        } else {
            json_decref(inner);
        }
    }
    if (!json_is_object(obj) || !name) {
        malformed(p, "a tool call without a \"name\"");
        return 0;
    }
    if (!defined(p, name)) {
        char why[160];
        snprintf(why, sizeof why, "a call of '%.100s', which is not a defined tool", name);
        malformed(p, why);
        return 0;
    }
    if (args && !json_is_object(args)) {
        malformed(p, "a tool call whose arguments are not a JSON object");
        return 0;
    }
    char *text = json_dumps(args ? args : json_object(), JSON_COMPACT);
    if (!text)
        return 0;
    p->calls++;
    int r = cb->call ? cb->call(cb->ctx, name, text) : 0;
    free(text);
    return r;
}

static int emit_content(mast_tool_parser *p, const char *s, size_t n, const mast_tool_parser_cb *cb)
{
    if (!n)
        return 0;
    p->any_content = true;
    return cb->content ? cb->content(cb->ctx, s, n) : 0;
}

static void drop_front(mast_buf *b, size_t k)
{
    memmove(b->data, b->data + k, b->len - k);
    b->len -= k;
    b->data[b->len] = '\0';
}

static int is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Works through what is held: content, calls, and what must wait. */
static int process(mast_tool_parser *p, const mast_tool_parser_cb *cb)
{
    mast_buf *h = &p->held;
    for (;;) {
        if (p->mode == MISTRAL_CALLS || p->mode == WHOLE_JSON)
            return 0;   /* decided at the end */
        if (p->mode == IN_CALL) {
            const char *end = memmem(h->data, h->len, CLOSE, strlen(CLOSE));
            if (!end)
                return 0;
            size_t n = (size_t)(end - h->data);
            json_t *obj = json_loadb(h->data, n, 0, NULL);
            int r = 0;
            if (obj)
                r = emit_call(p, obj, cb);
            else
                malformed(p, "a <tool_call> block that is not valid JSON");
            json_decref(obj);
            drop_front(h, n + strlen(CLOSE));
            p->mode = TEXT;
            if (r)
                return r;
            continue;
        }
        if (!p->tools) {   /* no tools: everything is content */
            int r = emit_content(p, h->data, h->len, cb);
            h->len = 0;
            return r;
        }
        /* TEXT: the first output decides the JSON-only and Mistral formats */
        if (!p->any_content && !p->calls) {
            size_t i = 0;
            while (i < h->len && is_space(h->data[i]))
                i++;
            if (i == h->len)
                return 0;
            if (h->data[i] == '{') {
                p->mode = WHOLE_JSON;
                return 0;
            }
            size_t m = strlen(MISTRAL), rest = h->len - i;
            if (memcmp(h->data + i, MISTRAL, rest < m ? rest : m) == 0) {
                if (rest < m)
                    return 0;
                p->mode = MISTRAL_CALLS;
                drop_front(h, i + m);
                return 0;
            }
        }
        const char *open = memmem(h->data, h->len, OPEN, strlen(OPEN));
        if (open) {
            size_t n = (size_t)(open - h->data);
            while (n && is_space(h->data[n - 1]) && p->calls)
                n--;   /* the space between calls is not content */
            int r = emit_content(p, h->data, n, cb);
            drop_front(h, (size_t)(open - h->data) + strlen(OPEN));
            p->mode = IN_CALL;
            if (r)
                return r;
            continue;
        }
        size_t keep = mast_partial_suffix(h->data, h->len, OPEN);
        size_t n = h->len - keep;
        if (p->calls)   /* after a call, spaces wait: another call may follow */
            while (n && is_space(h->data[n - 1]))
                n--;
        int r = emit_content(p, h->data, n, cb);
        drop_front(h, n);
        return r;
    }
}

int mast_tool_parser_feed(mast_tool_parser *p, const char *text, size_t len,
                          const mast_tool_parser_cb *cb)
{
    if (mast_buf_append(&p->held, text, len) != MAST_OK)
        return -1;
    return process(p, cb);
}

int mast_tool_parser_finish(mast_tool_parser *p, const mast_tool_parser_cb *cb)
{
    mast_buf *h = &p->held;
    int r = 0;
    if (p->mode == IN_CALL) {
        malformed(p, "the output ended inside a <tool_call> block");
    } else if (p->mode == MISTRAL_CALLS) {
        json_t *arr = json_loadb(h->data ? h->data : "", h->len, JSON_DISABLE_EOF_CHECK, NULL);
        size_t i;
        json_t *c;
        if (!json_is_array(arr))
            malformed(p, "[TOOL_CALLS] not followed by a JSON array of calls");
        json_array_foreach(arr, i, c) {
            if (!r)
                r = emit_call(p, c, cb);
        }
        json_decref(arr);
    } else if (p->mode == WHOLE_JSON) {
        json_t *obj = json_loadb(h->data, h->len, 0, NULL);
        const char *name = json_string_value(json_object_get(obj, "name"));
        if (obj && name && defined(p, name) &&
            (json_object_get(obj, "parameters") || json_object_get(obj, "arguments")))
            r = emit_call(p, obj, cb);
        else   /* JSON, but not a call: it is the answer */
            r = emit_content(p, h->data, h->len, cb);
        json_decref(obj);
    } else if (h->len) {
        size_t n = h->len;
        if (p->calls)
            while (n && is_space(h->data[n - 1]))
                n--;
        r = emit_content(p, h->data, n, cb);
    }
    h->len = 0;
    return r;
}
