/*
** tests/model/test_tools.c — tool-call output parsing, one table row per
** format and per kind of malformed output (model/tools.h).
*/
#include <jansson.h>

#include "base/buf.h"
#include "model/tools.h"
#include "test.h"

typedef struct seen {
    mast_buf content, calls;
} seen;

static int on_content(void *ctx, const char *t, size_t n)
{
    return mast_buf_append(&((seen *)ctx)->content, t, n) != MAST_OK;
}

static int on_call(void *ctx, const char *name, const char *args)
{
    return mast_buf_printf(&((seen *)ctx)->calls, "%s%s", name, args) != MAST_OK ||
           mast_buf_putc(&((seen *)ctx)->calls, ';') != MAST_OK;
}

/* Feeds out in pieces of `step` bytes (markup split anywhere). */
static void parse(const char *out, size_t step, seen *s, int *malformed)
{
    json_t *tools = json_loads("[{\"type\":\"function\",\"function\":{\"name\":\"f\"}},"
                               "{\"type\":\"function\",\"function\":{\"name\":\"g\"}}]", 0, NULL);
    mast_tool_parser p;
    mast_tool_parser_init(&p, tools);
    mast_tool_parser_cb cb = {s, on_content, on_call};
    size_t n = strlen(out);
    for (size_t i = 0; i < n; i += step)
        mast_tool_parser_feed(&p, out + i, n - i < step ? n - i : step, &cb);
    mast_tool_parser_finish(&p, &cb);
    *malformed = p.malformed;
    mast_tool_parser_free(&p);
    json_decref(tools);
}

static void test_formats(void)
{
    static const struct {
        const char *out, *content, *calls;
        int malformed;
    } rows[] = {
        {"Hello there.", "Hello there.", "", 0},
        {"<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>", "", "f{\"a\":1};", 0},
        {"Let me check. <tool_call>{\"name\":\"f\",\"arguments\":{}}</tool_call>\n<tool_call>"
         "{\"name\":\"g\",\"arguments\":{\"z\":\"\\u00e9\"}}</tool_call>", "Let me check. ",
         "f{};g{\"z\":\"é\"};", 0},
        {"[TOOL_CALLS] [{\"name\": \"g\", \"arguments\": {\"x\": [1, 2]}}]", "", "g{\"x\":[1,2]};", 0},
        {"{\"name\": \"f\", \"parameters\": {\"q\": \"paris\"}}", "", "f{\"q\":\"paris\"};", 0},
        {"{\"answer\": 42}", "{\"answer\": 42}", "", 0},   /* JSON that is not a call is content */
        {"a < b and <tool_ but not a call", "a < b and <tool_ but not a call", "", 0},
        /* malformed: half a call, bad JSON, an unknown tool, arguments not an object */
        {"Sure. <tool_call>{\"name\": \"f\", \"argu", "Sure. ", "", 1},
        {"<tool_call>{name: f}</tool_call> done", " done", "", 1},
        {"<tool_call>{\"name\":\"nope\",\"arguments\":{}}</tool_call>", "", "", 1},
        {"<tool_call>{\"name\":\"f\",\"arguments\":[1]}</tool_call>", "", "", 1},
        {"[TOOL_CALLS] not json", "", "", 1},
    };
    for (size_t r = 0; r < sizeof rows / sizeof *rows; r++)
        for (size_t step = 1; step <= 64; step *= 4) {
            seen s = {{0}, {0}};
            int malformed;
            parse(rows[r].out, step, &s, &malformed);
            if (strcmp(mast_buf_cstr(&s.content), rows[r].content) ||
                strcmp(mast_buf_cstr(&s.calls), rows[r].calls) || malformed != rows[r].malformed)
                fprintf(stderr, "  row %zu step %zu: content '%s' calls '%s' malformed %d\n", r, step,
                        mast_buf_cstr(&s.content), mast_buf_cstr(&s.calls), malformed);
            CHECK_EQ_STR(mast_buf_cstr(&s.content), rows[r].content);
            CHECK_EQ_STR(mast_buf_cstr(&s.calls), rows[r].calls);
            CHECK_EQ_INT(malformed, rows[r].malformed);
            mast_buf_free(&s.content);
            mast_buf_free(&s.calls);
        }
}

static void test_no_tools_is_all_content(void)
{
    mast_tool_parser p;
    mast_tool_parser_init(&p, NULL);
    seen s = {{0}, {0}};
    mast_tool_parser_cb cb = {&s, on_content, on_call};
    mast_tool_parser_feed(&p, "<tool_call>{}</tool_call>", 25, &cb);
    mast_tool_parser_finish(&p, &cb);
    CHECK_EQ_STR(mast_buf_cstr(&s.content), "<tool_call>{}</tool_call>");
    CHECK_EQ_INT(p.calls, 0);
    mast_tool_parser_free(&p);
    mast_buf_free(&s.content);
}

int main(void)
{
    RUN(test_formats);
    RUN(test_no_tools_is_all_content);
    return test_summary();
}
