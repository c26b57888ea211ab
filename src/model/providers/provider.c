/*
** model/providers/provider.c — one request to a model provider (see
** provider.h).
*/
#include "model/providers/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/json_scan.h"
#include "base/status.h"

const char *mast_provider_name(mast_provider_kind k)
{
    static const char *const names[] = {"openai", "openai-compatible", "anthropic", "local"};
    return (unsigned)k < 4 ? names[k] : "?";
}

struct mast_provider_state {
    mast_provider_call *call;
    mast_sse sse;
    mast_anthropic_stream astream;
    mast_buf body;               /* a non-streamed reply */
    bool done, failed;
    char url[1024], hdr[5][600];
    const char *headers[6];
    mast_buf payload;
};
typedef struct mast_provider_state call_state;

static void protocol_error(call_state *s, const char *msg)
{
    if (!s->failed)
        snprintf(s->call->error, sizeof s->call->error, "%s", msg);
    s->failed = true;
}

/* Whether the first non-space byte of data[0..n) starts "[]" (an empty array). */
static bool empty_array(const char *p, size_t n)
{
    size_t i = 1;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return n && p[0] == '[' && i < n && p[i] == ']';
}

/* An OpenAI chunk passed on as its bytes (on_raw), when the scanner can
** vouch for it; its usage read. False: parse it instead. */
static bool raw_event(mast_provider_call *c, const char *data, size_t len, int *rc)
{
    static const char *const keys[] = {"model", "usage", "error", "choices"};
    mast_json_span sp[4];
    bool escaped;
    if (!mast_json_scan_object(data, len, keys, 4, sp, &escaped) || escaped || sp[0].count != 1 ||
        data[sp[0].at] != '"' || sp[1].count > 1 || sp[2].count || sp[3].count > 1)
        return false;
    bool usage = sp[1].count && data[sp[1].at] == '{';
    if (usage) {
        json_t *u = json_loadb(data + sp[1].at, sp[1].len, JSON_DECODE_ANY, NULL);
        c->usage = mast_usage_from_openai(u);
        json_decref(u);
    }
    bool choices = sp[3].count && !empty_array(data + sp[3].at, sp[3].len);
    *rc = choices || !usage ? c->on_raw(c->ctx, data, len, sp[0].at, sp[0].len) : 0;
    return true;
}

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
    call_state *s = ctx;
    mast_provider_call *c = s->call;
    (void)event;
    if (c->kind != MAST_PROVIDER_ANTHROPIC && len == 6 && !memcmp(data, "[DONE]", 6)) {
        s->done = true;
        return 0;
    }
    int rc;
    if (c->kind != MAST_PROVIDER_ANTHROPIC && c->on_raw && raw_event(c, data, len, &rc))
        return rc;
    json_t *ev = json_loadb(data, len, 0, NULL);
    if (!json_is_object(ev)) {
        json_decref(ev);
        protocol_error(s, "the provider sent an event that is not JSON");
        return 1;
    }
    rc = 0;
    if (c->kind == MAST_PROVIDER_ANTHROPIC) {
        rc = mast_anthropic_stream_event(&s->astream, ev, c->on_chunk, c->ctx);
        if (rc == -2)
            protocol_error(s, s->astream.error);
        if (s->astream.done)
            s->done = true;
        c->usage = s->astream.usage;
    } else if (json_object_get(ev, "error")) {
        protocol_error(s, mast_json_get_str(json_object_get(ev, "error"), "message",
                                            "the provider reported an error"));
        rc = 1;
    } else {
        const json_t *u = json_object_get(ev, "usage");
        if (json_is_object(u))
            c->usage = mast_usage_from_openai(u);
        if (json_array_size(json_object_get(ev, "choices")) || !json_is_object(u))
            rc = c->on_chunk(c->ctx, json_incref(ev));
    }
    json_decref(ev);
    return rc;
}

static int on_stream_data(void *ctx, const char *data, size_t n)
{
    call_state *s = ctx;
    return mast_sse_feed(&s->sse, data, n, on_event, s);
}

static int on_body_data(void *ctx, const char *data, size_t n)
{
    call_state *s = ctx;
    return mast_buf_append(&s->body, data, n) != MAST_OK;
}

/* The URL, headers and body. */
static mast_status build(const mast_provider_call *c, char *url, size_t cap, char hdr[5][600],
                         json_t **body)
{
    *body = NULL;
    int nh = 0;
    snprintf(hdr[nh++], 600, "Content-Type: application/json");
    if (c->kind == MAST_PROVIDER_ANTHROPIC) {
        snprintf(url, cap, "%s/v1/messages", c->base_url);
        snprintf(hdr[nh++], 600, "anthropic-version: 2023-06-01");
        if (c->api_key)
            snprintf(hdr[nh++], 600, "x-api-key: %s", c->api_key);
        MAST_TRY(mast_openai_to_anthropic(c->request, c->model, body));
        if (c->stream)
            json_object_set_new(*body, "stream", json_true());
        else
            json_object_del(*body, "stream");
    } else {
        snprintf(url, cap, "%s/chat/completions", c->base_url);
        if (c->api_key)
            snprintf(hdr[nh++], 600, "Authorization: Bearer %s", c->api_key);
        *body = json_deep_copy(c->request);
        if (!*body)
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        json_object_set_new(*body, "model", json_string(c->model));
        json_object_set_new(*body, "stream", json_boolean(c->stream));
        if (c->stream)
            json_object_set_new(*body, "stream_options", json_pack("{s:b}", "include_usage", 1));
        else
            json_object_del(*body, "stream_options");
    }
    hdr[nh][0] = 0;
    return MAST_OK;
}

/* With raw_reply, an OpenAI-shaped reply kept as bytes (taken from body):
** when it is one valid object with one "model" (a string) and at most one
** "usage", written without escapes in its keys. */
static bool keep_raw(mast_provider_call *c, mast_buf *body)
{
    static const char *const keys[] = {"model", "usage"};
    mast_json_span sp[2];
    bool escaped;
    if (!c->raw_reply || c->kind == MAST_PROVIDER_ANTHROPIC || !body->len ||
        !mast_json_scan_object(body->data, body->len, keys, 2, sp, &escaped) || escaped ||
        sp[0].count != 1 || body->data[sp[0].at] != '"' || sp[1].count > 1)
        return false;
    if (sp[1].count) {
        json_t *u = json_loadb(body->data + sp[1].at, sp[1].len, JSON_DECODE_ANY, NULL);
        c->usage = mast_usage_from_openai(u);
        json_decref(u);
    }
    c->model_at = sp[0].at;
    c->model_len = sp[0].len;
    c->raw = *body;
    *body = (mast_buf){0};
    return true;
}

/* The state between begin and end. */
static void state_free(mast_provider_call *c)
{
    call_state *s = c->state;
    if (!s)
        return;
    mast_sse_free(&s->sse);
    mast_buf_free(&s->body);
    mast_buf_free(&s->payload);
    free(s);
    c->state = NULL;
}

mast_status mast_provider_begin(mast_provider_call *c, mast_http_call *h)
{
    c->outcome = MAST_CALL_OK;
    c->status = 0;
    c->retry_after = -1;
    c->t_first_byte = 0;
    c->usage = (mast_usage){0};
    c->reply = NULL;
    mast_buf_free(&c->raw);
    c->error[0] = 0;
    mast_buf_free(&c->error_body);
    call_state *s = calloc(1, sizeof *s);
    if (!s)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    s->call = c;
    c->state = s;
    json_t *body;
    mast_status st = build(c, s->url, sizeof s->url, s->hdr, &body);
    if (st != MAST_OK) {
        snprintf(c->error, sizeof c->error, "%s", mast_errmsg());
        mast_provider_call_free(c);
        return st;
    }
    int nh = 0;
    while (nh < 4 && s->hdr[nh][0]) {
        s->headers[nh] = s->hdr[nh];
        nh++;
    }
    if (c->traceparent && strlen(c->traceparent) < 100) {   /* the trace goes on at the provider */
        snprintf(s->hdr[nh], sizeof s->hdr[nh], "traceparent: %s", c->traceparent);
        s->headers[nh] = s->hdr[nh];
    }
    st = mast_json_dump(body, 0, &s->payload);
    json_decref(body);
    if (st != MAST_OK) {
        mast_provider_call_free(c);
        return st;
    }
    mast_anthropic_stream_init(&s->astream, c->model);
    *h = (mast_http_call){
        .url = s->url, .headers = s->headers, .body = s->payload.data, .body_len = s->payload.len,
        .connect_timeout = c->connect_timeout, .first_byte_timeout = c->first_byte_timeout,
        .total_timeout = c->total_timeout, .on_data = c->stream ? on_stream_data : on_body_data,
        .ctx = s,
    };
    return MAST_OK;
}

void mast_provider_end(mast_provider_call *c, mast_http_call *h, mast_status st)
{
    call_state *s = c->state;
    c->http_fail = h->fail;
    c->status = h->status;
    c->retry_after = h->retry_after;
    c->t_first_byte = h->t_first_byte;
    c->error_body = h->error_body;
    h->error_body = (mast_buf){0};
    if (st != MAST_OK) {
        c->outcome = MAST_CALL_TRANSPORT;
        snprintf(c->error, sizeof c->error, "%s", mast_errmsg());
    } else if (h->fail == MAST_HTTP_ABORTED && !s->failed) {
        c->outcome = MAST_CALL_STOPPED;
        snprintf(c->error, sizeof c->error, "stopped");
    } else if (h->fail != MAST_HTTP_OK && h->fail != MAST_HTTP_ABORTED) {
        c->outcome = MAST_CALL_TRANSPORT;
        snprintf(c->error, sizeof c->error, "%s", h->error);
    } else if (h->status < 200 || h->status >= 300) {
        c->outcome = MAST_CALL_STATUS;
        json_t *e = json_loadb(c->error_body.data ? c->error_body.data : "", c->error_body.len, 0, NULL);
        const char *msg = mast_json_get_str(json_object_get(e, "error"), "message", NULL);
        snprintf(c->error, sizeof c->error, "answered %ld: %s", h->status, msg ? msg : "(no message)");
        json_decref(e);
    } else if (c->stream) {
        if (s->failed || !s->done) {
            c->outcome = MAST_CALL_PROTOCOL;
            if (!s->failed)
                snprintf(c->error, sizeof c->error, "the stream ended before its end");
        }
    } else if (!keep_raw(c, &s->body)) {
        json_t *resp = json_loadb(s->body.data ? s->body.data : "", s->body.len, 0, NULL);
        if (!json_is_object(resp)) {
            c->outcome = MAST_CALL_PROTOCOL;
            snprintf(c->error, sizeof c->error, "the reply is not JSON");
        } else if (c->kind == MAST_PROVIDER_ANTHROPIC) {
            c->usage = mast_usage_from_anthropic(json_object_get(resp, "usage"));
            c->reply = mast_anthropic_to_openai(resp, c->model);
        } else {
            c->usage = mast_usage_from_openai(json_object_get(resp, "usage"));
            c->reply = json_incref(resp);
        }
        json_decref(resp);
    }
    state_free(c);
}

mast_status mast_provider_perform(mast_http_client *client, mast_provider_call *c)
{
    mast_http_call h;
    MAST_TRY(mast_provider_begin(c, &h));
    mast_status st = mast_http_perform(client, &h);
    mast_provider_end(c, &h, st);
    return MAST_OK;
}

void mast_provider_call_free(mast_provider_call *c)
{
    state_free(c);
    json_decref(c->reply);
    c->reply = NULL;
    mast_buf_free(&c->raw);
    mast_buf_free(&c->error_body);
}
