/*
** tests/fuzz/fuzz_gateway.c — what the gateway reads from others: a
** configuration file (mast.yaml), and a provider's replies. The first byte
** picks: 0 a mast.yaml; 1 an SSE stream (cut where the second byte says)
** whose events go through the Anthropic stream translation; 2 an Anthropic
** reply translated to OpenAI's; 3 an OpenAI request translated to
** Anthropic's. Nothing may crash, hang or leak.
*/
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "deploy/config.h"
#include "deploy/router.h"
#include "model/providers/http_client.h"
#include "model/providers/translate.h"

static int drop(void *ctx, json_t *chunk)
{
    (void)ctx;
    json_decref(chunk);
    return 0;
}

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
    (void)event;
    json_t *ev = json_loadb(data, len, 0, NULL);
    if (ev) {
        mast_anthropic_stream_event(ctx, ev, drop, NULL);
        mast_usage_from_openai(json_object_get(ev, "usage"));
        json_decref(ev);
    }
    return 0;
}

static mast_err_class answer(void *ctx, const mast_gw_model *m, const mast_deployment *d, int n,
                             double *retry_after, double *ttft)
{
    (void)ctx, (void)m, (void)d, (void)n;
    *retry_after = -1;
    *ttft = 0.001;
    return MAST_CLASS_OK;   /* a failure would back off: sleep */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const char *text = (const char *)data + 2;
    size_t len = size - 2;
    switch (data[0] % 4) {
    case 0: {
        mast_config *c = NULL;
        mast_router *r;
        if (mast_config_parse(text, len, "fuzz.yaml", &c) == MAST_OK) {
            json_decref(mast_config_describe(c));
            if (mast_router_new(c, &r) == MAST_OK) {   /* its rules, on a request of every kind */
                const mast_config *rc = mast_router_config(r);
                for (int k = 0; k < 4; k++) {
                    mast_route_req q = {.prompt_tokens = (int)len * k, .tools = k & 1,
                                        .response_format = k & 2 ? "json_schema" : NULL,
                                        .tags = k ? "eu, beta" : NULL};
                    mast_router_run(r, &rc->models[0], &q, answer, NULL, NULL);
                }
                mast_router_release(r);
            }
        }
        break;
    }
    case 1: {
        mast_sse s = {0};
        mast_anthropic_stream st;
        mast_anthropic_stream_init(&st, "m");
        size_t cut = len ? data[1] % (len + 1) : 0;
        mast_sse_feed(&s, text, cut, on_event, &st);
        mast_sse_feed(&s, text + cut, len - cut, on_event, &st);
        mast_sse_free(&s);
        break;
    }
    case 2: {
        json_t *r = json_loadb(text, len, 0, NULL);
        if (r) {
            json_decref(mast_anthropic_to_openai(r, "m"));
            json_decref(r);
        }
        break;
    }
    default: {
        json_t *r = json_loadb(text, len, 0, NULL), *out = NULL;
        if (r && mast_openai_to_anthropic(r, "m", &out) == MAST_OK)
            json_decref(out);
        json_decref(r);
        break;
    }
    }
    return 0;
}
