/*
** model/providers/provider.h — one request to a model provider: an OpenAI
** Chat Completions request sent to OpenAI, Anthropic or any
** OpenAI-compatible endpoint, streamed or not, and its answer back in
** OpenAI's shape with the usage normalized (translate.h).
**
** This is the whole of "calling a provider": the gateway (deploy/server/
** gateway.c) and the routed generator behind the CLI (deploy/remote.c)
** both use it, each with its own callback for the stream's chunks.
*/
#ifndef MAST_MODEL_PROVIDERS_PROVIDER_H
#define MAST_MODEL_PROVIDERS_PROVIDER_H

#include <jansson.h>
#include <stdbool.h>

#include "model/providers/http_client.h"
#include "model/providers/translate.h"

typedef enum mast_provider_kind {
    MAST_PROVIDER_OPENAI,
    MAST_PROVIDER_OPENAI_COMPAT,
    MAST_PROVIDER_ANTHROPIC,
    MAST_PROVIDER_LOCAL,          /* a GGUF model of this process (not called over HTTP here) */
} mast_provider_kind;

/* "openai", "openai-compatible", "anthropic", "local". */
const char *mast_provider_name(mast_provider_kind k);

typedef enum mast_call_outcome {
    MAST_CALL_OK,                 /* a 2xx answer, read to its end */
    MAST_CALL_TRANSPORT,          /* no answer: see http_fail (connect, timeouts, broken) */
    MAST_CALL_STATUS,             /* a non-2xx status: status and error_body */
    MAST_CALL_PROTOCOL,           /* not what the API sends: a body or event that is not
                                  ** JSON, an error event, a stream that ended before its end */
    MAST_CALL_STOPPED,            /* on_chunk asked to stop */
} mast_call_outcome;

typedef struct mast_provider_call {
    /* the request */
    mast_provider_kind kind;      /* OPENAI, OPENAI_COMPAT or ANTHROPIC */
    const char *base_url;         /* OpenAI-shaped: ".../v1"; Anthropic: without "/v1" */
    const char *model;            /* the provider's model id (replaces the request's) */
    const char *api_key;          /* NULL: none */
    const json_t *request;        /* an OpenAI chat request (not changed) */
    bool stream;
    double connect_timeout, first_byte_timeout, total_timeout;   /* seconds; 0 = none */
    const char *traceparent;      /* sent on as the W3C traceparent header (NULL: none) */
    /* A streamed answer's chunks in OpenAI's shape, as they come (taken);
    ** usage-only chunks are not passed: the usage is in .usage. Non-zero
    ** stops the call (MAST_CALL_STOPPED). */
    int (*on_chunk)(void *ctx, json_t *chunk);
    /* When set (it may be set or cleared between chunks), an OpenAI-shaped
    ** chunk the scanner vouches for (base/json_scan.h: one object, one
    ** "model" string, no "error") comes here as its bytes, the model's value
    ** at data[model_at..+model_len), instead of parsed to on_chunk. */
    int (*on_raw)(void *ctx, const char *data, size_t len, size_t model_at, size_t model_len);
    void *ctx;
    /* Not streamed, from an OpenAI-shaped provider: keep the reply's bytes
    ** (raw, with the model's value at model_span) rather than parse it all;
    ** only its usage is read. A reply the scanner cannot vouch for (base/
    ** json_scan.h) is parsed into reply as usual. */
    bool raw_reply;
    /* the result */
    mast_call_outcome outcome;
    mast_http_fail http_fail;
    long status;
    double retry_after;           /* seconds from Retry-After; -1: none */
    double t_first_byte;
    mast_usage usage;
    json_t *reply;                /* not streamed: the chat.completion (OpenAI's shape) */
    mast_buf raw;                 /* or, with raw_reply, its bytes (valid JSON) */
    size_t model_at, model_len;   /* where raw has the model's value (a JSON string) */
    mast_buf error_body;          /* a non-2xx answer's body */
    char error[512];              /* what went wrong, for a message */
    struct mast_provider_state *state;   /* between begin and end */
} mast_provider_call;

/* Performs call on the client. MAST_OK whenever call->outcome says what
** happened (MAST_ERR_INVALID: the request cannot be translated for the
** provider, call->error says why; MAST_ERR_NOMEM). */
mast_status mast_provider_perform(mast_http_client *c, mast_provider_call *call);

/* The same in two halves around an HTTP call the caller performs (on a
** loop, http_client.h): begin fills h (valid until end); end reads what
** the call returned (st: mast_http_perform's status) into call. */
mast_status mast_provider_begin(mast_provider_call *call, mast_http_call *h);
void mast_provider_end(mast_provider_call *call, mast_http_call *h, mast_status st);
/* The reply, raw reply and error body. */
void mast_provider_call_free(mast_provider_call *call);

#endif
