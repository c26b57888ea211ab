/*
** tests/model/test_providers.c — what the gateway's providers rely on: the
** SSE parser under every split of the bytes, OpenAI ⇄ Anthropic translation
** (requests, replies, streams with tool calls) and usage priced by hand.
*/
#include <jansson.h>

#include "base/buf.h"
#include "model/providers/http_client.h"
#include "model/providers/translate.h"
#include "test.h"

static int collect(void *ctx, const char *event, const char *data, size_t len)
{
    mast_buf *b = ctx;
    mast_buf_printf(b, "[%s|%.*s]", event, (int)len, data);
    return 0;
}

static void test_sse_any_split(void)
{
    const char *text = ": comment\r\nevent: message_start\r\ndata: {\"a\":1}\r\n\r\n"
                       "data: line1\ndata: line2\n\n"
                       "data:nospace\r\rdata: [DONE]\n\n";
    const char *want = "[message_start|{\"a\":1}][message|line1\nline2][message|nospace][message|[DONE]]";
    size_t n = strlen(text);
    for (size_t cut1 = 0; cut1 <= n; cut1++)
        for (size_t cut2 = cut1; cut2 <= n; cut2 += 7) {
            mast_sse s = {0};
            mast_buf got = {0};
            mast_sse_feed(&s, text, cut1, collect, &got);
            mast_sse_feed(&s, text + cut1, cut2 - cut1, collect, &got);
            mast_sse_feed(&s, text + cut2, n - cut2, collect, &got);
            if (strcmp(mast_buf_cstr(&got), want)) {
                CHECK_EQ_STR(mast_buf_cstr(&got), want);
                mast_buf_free(&got);
                mast_sse_free(&s);
                return;
            }
            mast_buf_free(&got);
            mast_sse_free(&s);
        }
}

static void test_usage_and_cost(void)
{
    json_t *ou = json_loads("{\"prompt_tokens\":1000,\"completion_tokens\":300,"
                            "\"prompt_tokens_details\":{\"cached_tokens\":400},"
                            "\"completion_tokens_details\":{\"reasoning_tokens\":120}}", 0, NULL);
    mast_usage u = mast_usage_from_openai(ou);
    CHECK_EQ_INT(u.input, 1000);   /* prompt_tokens already includes the cached ones */
    CHECK_EQ_INT(u.cache_read, 400);
    CHECK_EQ_INT(u.reasoning, 120);
    /* 600 × 2.5 + 400 × 1.25 + 300 × 10 (reasoning is part of output, not added) */
    CHECK_NEAR(mast_usage_cost(&u, 2.5, 1.25, 0, 10), (600 * 2.5 + 400 * 1.25 + 300 * 10) / 1e6, 1e-12);
    json_t *au = json_loads("{\"input_tokens\":50,\"cache_read_input_tokens\":1000,"
                            "\"cache_creation_input_tokens\":200,\"output_tokens\":80}", 0, NULL);
    u = mast_usage_from_anthropic(au);
    CHECK_EQ_INT(u.input, 1250);   /* Anthropic's input_tokens excludes its cache */
    CHECK_NEAR(mast_usage_cost(&u, 3, 0.3, 3.75, 15), (50 * 3 + 1000 * 0.3 + 200 * 3.75 + 80 * 15) / 1e6, 1e-12);
    json_decref(ou);
    json_decref(au);
}

static void test_request_to_anthropic(void)
{
    json_t *req = json_loads(
        "{\"model\":\"x\",\"messages\":[{\"role\":\"system\",\"content\":\"S1\"},"
        "{\"role\":\"developer\",\"content\":\"S2\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Q\"}]},"
        "{\"role\":\"assistant\",\"content\":\"Let me look.\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
        "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}},{\"id\":\"c2\",\"type\":\"function\","
        "\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"r1\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":\"r2\"}],\"stop\":\"END\",\"temperature\":0.5,"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"description\":\"d\",\"parameters\":"
        "{\"type\":\"object\"}}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}},"
        "\"parallel_tool_calls\":false}", 0, NULL);
    json_t *out = NULL;
    REQUIRE(mast_openai_to_anthropic(req, "claude-x", &out) == MAST_OK);
    char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_EQ_STR(s, "{\"max_tokens\":4096,\"messages\":[{\"content\":[{\"text\":\"Q\",\"type\":\"text\"}],\"role\":\"user\"},"
                    "{\"content\":[{\"text\":\"Let me look.\",\"type\":\"text\"},{\"id\":\"c1\",\"input\":{\"a\":1},"
                    "\"name\":\"f\",\"type\":\"tool_use\"},{\"id\":\"c2\",\"input\":{},\"name\":\"g\",\"type\":\"tool_use\"}],"
                    "\"role\":\"assistant\"},{\"content\":[{\"content\":\"r1\",\"tool_use_id\":\"c1\",\"type\":\"tool_result\"},"
                    "{\"content\":\"r2\",\"tool_use_id\":\"c2\",\"type\":\"tool_result\"}],\"role\":\"user\"}],"
                    "\"model\":\"claude-x\",\"stop_sequences\":[\"END\"],\"system\":\"S1\\n\\nS2\",\"temperature\":0.5,"
                    "\"tool_choice\":{\"disable_parallel_tool_use\":true,\"name\":\"f\",\"type\":\"tool\"},"
                    "\"tools\":[{\"description\":\"d\",\"input_schema\":{\"type\":\"object\"},\"name\":\"f\"}]}");
    free(s);
    json_decref(out);
    json_decref(req);
    /* arguments that are not a JSON object cannot become an input */
    req = json_loads("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"function\":"
                     "{\"name\":\"f\",\"arguments\":\"[1]\"}}]}]}", 0, NULL);
    CHECK_EQ_INT(mast_openai_to_anthropic(req, "m", &out), MAST_ERR_INVALID);
    CHECK(strstr(mast_errmsg(), "messages[0].tool_calls[0].function.arguments is not a JSON object") != NULL);
    json_decref(req);
    /* only text reaches an Anthropic deployment */
    req = json_loads("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":"
                     "{\"url\":\"http://x\"}}]}]}", 0, NULL);
    CHECK_EQ_INT(mast_openai_to_anthropic(req, "m", &out), MAST_ERR_INVALID);
    CHECK_EQ_STR(mast_errmsg(), "messages[0].content[0]: 'image_url' parts are not supported (mast sends "
                 "text to Anthropic deployments)");
    json_decref(req);
}

static void test_reply_from_anthropic(void)
{
    json_t *resp = json_loads("{\"id\":\"msg_1\",\"content\":[{\"type\":\"text\",\"text\":\"A\"},{\"type\":\"tool_use\","
                              "\"id\":\"t1\",\"name\":\"f\",\"input\":{\"x\":[1,2]}}],\"stop_reason\":\"tool_use\","
                              "\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}", 0, NULL);
    json_t *o = mast_anthropic_to_openai(resp, "pub");
    json_t *msg = json_object_get(json_array_get(json_object_get(o, "choices"), 0), "message");
    CHECK_EQ_STR(json_string_value(json_object_get(msg, "content")), "A");
    json_t *call = json_array_get(json_object_get(msg, "tool_calls"), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(call, "function"), "arguments")), "{\"x\":[1,2]}");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(o, "choices"), 0), "finish_reason")),
                 "tool_calls");
    CHECK_EQ_STR(json_string_value(json_object_get(o, "model")), "pub");
    json_decref(o);
    json_decref(resp);
}

typedef struct chunks { mast_buf text, args; int n_first, finishes; char finish[32]; } chunks;

static int take(void *ctx, json_t *chunk)
{
    chunks *c = ctx;
    json_t *ch = json_array_get(json_object_get(chunk, "choices"), 0);
    json_t *d = json_object_get(ch, "delta");
    if (json_is_string(json_object_get(d, "content")))
        mast_buf_puts(&c->text, json_string_value(json_object_get(d, "content")));
    json_t *tc = json_array_get(json_object_get(d, "tool_calls"), 0);
    if (tc) {
        if (json_object_get(tc, "id"))
            c->n_first++;
        mast_buf_puts(&c->args, json_string_value(json_object_get(json_object_get(tc, "function"), "arguments")));
    }
    if (json_is_string(json_object_get(ch, "finish_reason"))) {
        c->finishes++;
        snprintf(c->finish, sizeof c->finish, "%s", json_string_value(json_object_get(ch, "finish_reason")));
    }
    json_decref(chunk);
    return 0;
}

static void test_stream_from_anthropic(void)
{
    const char *events[] = {
        "{\"type\":\"message_start\",\"message\":{\"id\":\"m1\",\"usage\":{\"input_tokens\":5,\"cache_read_input_tokens\":2,\"output_tokens\":1}}}",
        "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi \"}}",
        "{\"type\":\"ping\"}",
        "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}}}",
        "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"q\\\":\"}}",
        "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"1}\"}}",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":9}}",
        "{\"type\":\"message_stop\"}", NULL};
    mast_anthropic_stream s;
    mast_anthropic_stream_init(&s, "pub");
    chunks c = {0};
    for (int i = 0; events[i]; i++) {
        json_t *ev = json_loads(events[i], 0, NULL);
        CHECK_EQ_INT(mast_anthropic_stream_event(&s, ev, take, &c), 0);
        json_decref(ev);
    }
    CHECK_EQ_STR(mast_buf_cstr(&c.text), "Hi ");
    CHECK_EQ_STR(mast_buf_cstr(&c.args), "{\"q\":1}");
    CHECK_EQ_INT(c.n_first, 1);
    CHECK_EQ_INT(c.finishes, 1);
    CHECK_EQ_STR(c.finish, "tool_calls");
    CHECK(s.done);
    CHECK_EQ_INT(s.usage.input, 7);
    CHECK_EQ_INT(s.usage.output, 9);
    json_t *err = json_loads("{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\"}}", 0, NULL);
    CHECK_EQ_INT(mast_anthropic_stream_event(&s, err, take, &c), -2);
    CHECK_EQ_STR(s.error, "overloaded_error: busy");
    json_decref(err);
    mast_buf_free(&c.text);
    mast_buf_free(&c.args);
}

static int take_event(void *ctx, const char *event, json_t *data)
{
    mast_buf *b = ctx;
    mast_buf_printf(b, "%s;", event);
    const json_t *d = json_object_get(data, "delta");
    if (json_is_string(json_object_get(d, "text")))
        mast_buf_printf(b, "text=%s;", json_string_value(json_object_get(d, "text")));
    if (json_is_string(json_object_get(d, "partial_json")))
        mast_buf_printf(b, "json=%s;", json_string_value(json_object_get(d, "partial_json")));
    if (json_is_string(json_object_get(d, "stop_reason")))
        mast_buf_printf(b, "stop=%s;", json_string_value(json_object_get(d, "stop_reason")));
    json_decref(data);
    return 0;
}

/* An Anthropic client in front of an OpenAI deployment: the request one way,
** the reply and the stream the other, and back again. */
static void test_anthropic_clients(void)
{
    json_t *areq = json_loads(
        "{\"model\":\"m\",\"max_tokens\":9,\"system\":[{\"type\":\"text\",\"text\":\"S\"}],"
        "\"messages\":[{\"role\":\"user\",\"content\":\"Q\"},{\"role\":\"assistant\",\"content\":["
        "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"f\",\"input\":{\"a\":1}}]},{\"role\":\"user\","
        "\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"content\":\"r\"}]}],"
        "\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\"}}],\"tool_choice\":{\"type\":\"any\"},"
        "\"stop_sequences\":[\"X\"]}", 0, NULL);
    json_t *oreq = NULL;
    REQUIRE(mast_anthropic_request_to_openai(areq, &oreq) == MAST_OK);
    char *s = json_dumps(oreq, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_EQ_STR(s, "{\"max_tokens\":9,\"messages\":[{\"content\":\"S\",\"role\":\"system\"},{\"content\":\"Q\","
                    "\"role\":\"user\"},{\"content\":null,\"role\":\"assistant\",\"tool_calls\":[{\"function\":"
                    "{\"arguments\":\"{\\\"a\\\":1}\",\"name\":\"f\"},\"id\":\"t1\",\"type\":\"function\"}]},"
                    "{\"content\":\"r\",\"role\":\"tool\",\"tool_call_id\":\"t1\"}],\"model\":\"m\",\"stop\":[\"X\"],"
                    "\"tool_choice\":\"required\",\"tools\":[{\"function\":{\"name\":\"f\",\"parameters\":"
                    "{\"type\":\"object\"}},\"type\":\"function\"}]}");
    free(s);
    /* and back to Anthropic's shape: the same conversation */
    json_t *again = NULL;
    REQUIRE(mast_openai_to_anthropic(oreq, "m", &again) == MAST_OK);
    json_t *back = json_object_get(again, "messages");
    CHECK_EQ_INT(json_array_size(back), 3);
    CHECK(json_equal(json_array_get(json_object_get(json_array_get(back, 1), "content"), 0),
                     json_array_get(json_object_get(json_array_get(json_object_get(areq, "messages"), 1), "content"), 0)));
    CHECK(json_equal(json_array_get(json_object_get(json_array_get(back, 2), "content"), 0),
                     json_array_get(json_object_get(json_array_get(json_object_get(areq, "messages"), 2), "content"), 0)));
    CHECK_EQ_STR(json_string_value(json_object_get(again, "system")), "S");
    json_decref(again);
    json_decref(oreq);
    json_decref(areq);
    /* a reply */
    json_t *oresp = json_loads("{\"id\":\"c\",\"choices\":[{\"message\":{\"content\":\"Hi\",\"tool_calls\":[{\"id\":"
                               "\"k\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\":2}\"}}]},"
                               "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":3,"
                               "\"prompt_tokens_details\":{\"cached_tokens\":6}}}", 0, NULL);
    json_t *am = mast_openai_reply_to_anthropic(oresp, "pub");
    CHECK_EQ_STR(json_string_value(json_object_get(am, "stop_reason")), "tool_use");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(am, "usage"), "input_tokens")), 4);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(am, "usage"), "cache_read_input_tokens")), 6);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(json_array_get(json_object_get(am, "content"), 1),
                                                                    "input"), "x")), 2);
    json_decref(am);
    json_decref(oresp);
    /* a stream: text, then a tool call in two fragments, then the finish */
    const char *chunks[] = {
        "{\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"A\"}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"k\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{}\"}}]}}]}",
        "{\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}]}", NULL};
    mast_openai_stream st;
    mast_openai_stream_init(&st, "pub");
    mast_buf got = {0};
    for (int i = 0; chunks[i]; i++) {
        json_t *c = json_loads(chunks[i], 0, NULL);
        mast_openai_stream_chunk(&st, c, take_event, &got);
        json_decref(c);
    }
    mast_openai_stream_finish(&st, take_event, &got);
    CHECK_EQ_STR(mast_buf_cstr(&got), "message_start;content_block_start;content_block_delta;text=A;"
                 "content_block_stop;content_block_start;content_block_delta;json={};content_block_stop;"
                 "message_delta;stop=tool_use;message_stop;");
    mast_buf_free(&got);
}

int main(void)
{
    RUN(test_anthropic_clients);
    RUN(test_sse_any_split);
    RUN(test_usage_and_cost);
    RUN(test_request_to_anthropic);
    RUN(test_reply_from_anthropic);
    RUN(test_stream_from_anthropic);
    return test_summary();
}
