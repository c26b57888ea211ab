/*
** model/providers/translate.h — the OpenAI Chat Completions and Anthropic
** Messages shapes translated into each other, and their usage normalized.
**
** The gateway's own shape is OpenAI's: a request for an Anthropic
** deployment is translated to Anthropic's (system messages → "system",
** tool calls → tool_use blocks, tool results → tool_result blocks in a user
** turn, tools → input_schema, tool_choice auto/required/named/none →
** auto/any/tool/none, stop → stop_sequences, max_tokens defaulted to 4096
** since Anthropic requires it, response_format → an instruction in the
** system prompt, as Anthropic has no JSON mode), and the reply, or the
** stream's events, back to OpenAI's (text blocks → content, tool_use →
** tool_calls with arguments as JSON text, input_json_delta → argument
** fragments under the call's index, stop reasons end_turn/stop_sequence →
** stop, max_tokens → length, tool_use → tool_calls).
**
** Usage, one record for both (PROTOCOLS.md section 6): input counts every
** prompt token, cached or not (OpenAI's prompt_tokens already includes
** cached_tokens; Anthropic's input_tokens does not include its cache reads
** and writes, which are added); reasoning is a part of output.
*/
#ifndef MAST_MODEL_PROVIDERS_TRANSLATE_H
#define MAST_MODEL_PROVIDERS_TRANSLATE_H

#include <jansson.h>
#include <stdbool.h>

#include "base/buf.h"
#include "mast.h"

typedef struct mast_usage {
    long input;           /* all prompt tokens */
    long cache_read;      /* of which read from a prompt cache */
    long cache_write;     /* of which written to one */
    long output;          /* all generated tokens */
    long reasoning;       /* of which reasoning */
    bool known;           /* the provider reported usage */
} mast_usage;

mast_usage mast_usage_from_openai(const json_t *usage);
mast_usage mast_usage_from_anthropic(const json_t *usage);
/* OpenAI's usage object for u. */
json_t *mast_usage_to_openai(const mast_usage *u);

/* USD for u at prices per million tokens: uncached input at input, cache
** reads at cached_input, cache writes at cache_write, output at output. */
double mast_usage_cost(const mast_usage *u, double input, double cached_input, double cache_write,
                       double output);

/* An OpenAI message's content as text (a string, or its text parts
** joined) appended to out; why_text ends the refusal of an image, audio or
** file part ("mast's models read text"). Errors name messages[i]. */
mast_status mast_openai_content_text(const json_t *content, size_t i, const char *why_text,
                                     mast_buf *out);

/* An OpenAI chat request as Anthropic's, for model. MAST_ERR_INVALID names
** what cannot be translated. */
mast_status mast_openai_to_anthropic(const json_t *req, const char *model, json_t **out);
/* An Anthropic reply as OpenAI's chat.completion (model: the name to show). */
json_t *mast_anthropic_to_openai(const json_t *resp, const char *model);
const char *mast_anthropic_finish_reason(const char *stop_reason);

/* An Anthropic event stream as OpenAI chunks: feed each event's data (the
** JSON of message_start, content_block_start/delta/stop, message_delta,
** message_stop, error); each chunk goes to emit (taken). */
typedef struct mast_anthropic_stream {
    char id[64];
    const char *model;
    long created;
    int block_call[64];          /* a content block's tool-call index, or -1 */
    int n_calls;
    mast_usage usage;
    bool done;
    char error[512];             /* an error event's message */
} mast_anthropic_stream;

void mast_anthropic_stream_init(mast_anthropic_stream *s, const char *model);
/* Non-zero when emit asked to stop; -2 on an error event (s->error set). */
int mast_anthropic_stream_event(mast_anthropic_stream *s, const json_t *event,
                                int (*emit)(void *ctx, json_t *chunk), void *ctx);

/* ---- the other way: an Anthropic client in front of any deployment ---- */

/* An Anthropic Messages request as an OpenAI chat request (model kept). */
mast_status mast_anthropic_request_to_openai(const json_t *req, json_t **out);
/* An OpenAI chat.completion as an Anthropic message. */
json_t *mast_openai_reply_to_anthropic(const json_t *resp, const char *model);

/* OpenAI chunks as Anthropic's event stream: each chunk fed gives zero or
** more (event name, data) to emit (data taken); finish ends it with
** message_delta (stop reason, usage) and message_stop. */
typedef struct mast_openai_stream {
    const char *model;
    bool started, text_open;
    int block;                   /* the open content block, -1: none */
    int n_blocks;
    int call_block[64];          /* a tool call's (by index) block, -1 */
    const char *stop_reason;
    mast_usage usage;
} mast_openai_stream;

typedef int (*mast_event_fn)(void *ctx, const char *event, json_t *data);
void mast_openai_stream_init(mast_openai_stream *s, const char *model);
int mast_openai_stream_chunk(mast_openai_stream *s, const json_t *chunk, mast_event_fn emit, void *ctx);
int mast_openai_stream_finish(mast_openai_stream *s, mast_event_fn emit, void *ctx);

#endif
