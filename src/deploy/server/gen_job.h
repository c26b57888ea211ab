/*
** deploy/server/gen_job.h — one generation request on a model's worker,
** shared by the API families that generate (openai.c, anthropic.c).
**
** The API file parses its request into a gen_job (messages, parameters,
** tools) and submits it; the worker generates, splits the output into
** content and tool calls (model/tools.h), and calls the family's gen_format
** to write what its clients expect: the stream's events as text arrives, or
** one reply at the end. Errors before anything was sent are HTTP errors in
** the family's shape; after a stream started, the family's error event.
*/
#ifndef MAST_DEPLOY_SERVER_GEN_JOB_H
#define MAST_DEPLOY_SERVER_GEN_JOB_H

#include <jansson.h>

#include "deploy/models.h"
#include "deploy/server/http.h"
#include "model/generate.h"
#include "model/grammar.h"
#include "model/tools.h"

typedef struct gen_job gen_job;

typedef struct gen_format {
    /* stream: the events before the first delta */
    int (*start)(gen_job *j);
    /* stream: a piece of content (whole UTF-8 characters) */
    int (*content)(gen_job *j, const char *text, size_t len);
    /* stream: a complete tool call, the index-th */
    int (*tool_call)(gen_job *j, size_t index, const char *id, const char *name, const char *args);
    /* stream: the closing events (j->finish_reason is set) */
    void (*finish)(gen_job *j);
    /* stream: a failure after it started */
    void (*stream_error)(gen_job *j, const char *message);
    /* not streaming: the whole reply */
    http_reply (*reply)(gen_job *j);
    /* nothing sent yet: the error reply */
    http_reply (*error)(unsigned status, const char *code, const char *message);
} gen_format;

struct gen_job {
    const gen_format *fmt;
    mast_model *model;
    http_pending *pending;
    http_stream *stream;         /* once the stream started */
    mast_trace *trace;
    bool streaming, include_usage;
    const char *operation;       /* gen_ai.operation.name: "chat" or "text_completion" */
    /* the request */
    json_t *body;                /* kept alive: the messages point into it */
    mast_gen_request req;
    mast_chat_message *msgs;
    size_t n_msgs;
    char **owned;                /* texts built for the messages (freed with the job) */
    size_t n_owned;
    char **stops;
    size_t n_stops;
    int32_t *bias_ids;
    float *bias;
    json_t *tools;               /* [{"type":"function","function":{…}}] (owned); NULL: none */
    json_t *chat;                /* the messages as a template takes them (owned) */
    mast_grammar *grammar;       /* response_format or a required tool call; NULL: free */
    mast_grammar_matcher *matcher;
    mast_gen_constraint constraint;
    bool json_output;            /* response_format asks for JSON: a call is not parsed out */
    /* the answer */
    char id[48];
    int64_t created;
    mast_buf content;            /* everything that was content */
    json_t *calls;               /* [{"id", "name", "arguments"}] */
    mast_tool_parser parser;
    mast_buf partial;            /* an unfinished UTF-8 character */
    mast_gen_result res;
    const char *finish_reason;   /* "stop", "length" or "tool_calls" */
    double t_pick, t_submit, t_start, t_first;   /* mast_mono_us's clock, in seconds */
    bool pinned;                 /* it holds its model (released when freed) */
    bool capture;                /* --trace-content: the trace records messages and output */
    int64_t keep_alive_ms;       /* the request's keep_alive (MAST_KEEP_ALIVE_DEFAULT: none) */
    mast_model_use use;          /* whether it waited for its model to load, and how long */
    void *family;                /* the family's own state (zeroed; freed with the job) */
};

/* A job for req: reads its body (members in fields; NULL: the caller
** checks), finds the chat model it names (when model_optional, the first
** chat model if it names none) and allocates family_size bytes of family
** state. The job pins the model (loading it first if need be, waiting up
** to 5 minutes: a cold start answers its first request) until it is freed;
** the body's "keep_alive" then says how long it stays. NULL with *err set
** to the reply in fmt's shape: the body's error, 404 for an unknown model,
** 503 when it failed to load. */
gen_job *gen_job_open(http_ctx *c, const http_request *req, const char *const *fields,
                      const gen_format *fmt, bool model_optional, size_t family_size,
                      http_reply *err);
/* The model of kind that body's "model" names (optional: the first of the
** kind when it names none), pinned (mast_model_release unpins it); use
** (may be NULL) says whether it was loaded for it. NULL with *err set. */
mast_model *gen_pick_model(http_ctx *c, const json_t *body, mast_model_kind kind, bool optional,
                           const gen_format *fmt, mast_model_use *use, http_reply *err);
/* The body's "keep_alive" (seconds or a duration; MAST_KEEP_ALIVE_DEFAULT
** when absent); MAST_ERR_INVALID names the problem. */
mast_status gen_read_keep_alive(const json_t *body, int64_t *ms);
/* A failed library call as fmt's error reply (400, 404, 413 or 500). */
http_reply gen_status_reply(const gen_format *fmt, mast_status st);
/* A tool or schema name: 1 to 64 of a-z, A-Z, 0-9, _ and -. */
bool gen_valid_name(const char *name);
/* Keeps a string for the job's lifetime; NULL when out of memory. */
const char *gen_job_keep(gen_job *j, char *owned);
/* Submits the job and returns the pending reply; or frees it and returns
** the error reply (429 when the queue is full). */
http_reply gen_job_submit(gen_job *j, const http_request *req);
void gen_job_free(gen_job *j);

/* Shared request readers: 400 replies name the field. */
mast_status gen_read_stop(gen_job *j, const json_t *stop, const char *field);
mast_status gen_read_sampling(gen_job *j, const json_t *body);

/* The messages the job renders: a turn added (text is kept by the job), or
** text joined to the last turn when it has the role and join is set. */
mast_status gen_push_msg(gen_job *j, const char *role, char *text);
mast_status gen_push_or_join(gen_job *j, const char *role, bool join, const char *text);
/* The message as a Jinja template takes it (OpenAI's shape; taken). The
** API file records each message twice: this way, and as the fallback's
** text turns above. */
mast_status gen_chat_push(gen_job *j, json_t *msg);
/* An assistant turn of the chat: content (NULL: none) and tool calls
** [{"id", "name", "arguments" (JSON text)}] as {"tool_calls": [{"id",
** "type": "function", "function": {"name", "arguments": object}}]}. */
json_t *gen_chat_assistant(const char *content, const json_t *calls);
/* Adds text to the system message (made first when there is none), in
** both forms. */
mast_status gen_add_system(gen_job *j, const char *text);
/* The request's messages, chat and tools set from the job's. */
void gen_job_request(gen_job *j);
/* The tools (taken: the job owns the reference) are the job's: their
** definitions go into the system message and its output is parsed for calls. */
mast_status gen_use_tools(gen_job *j, json_t *tools);
mast_status gen_compile_grammar(gen_job *j, const char *gbnf, size_t len);
/* The grammar of one call (or up to 8 with parallel) of the tools
** ([{"type":"function","function":{…}}]; only: just that one), each
** <tool_call>{"name":"f","arguments":ARGS}</tool_call> with ARGS from the
** tool's parameters schema. */
mast_status gen_tool_grammar(gen_job *j, const json_t *tools, const char *only, bool parallel);

/* "call_" and 24 hex digits, "chatcmpl-…": random ids. */
void gen_random_id(const char *prefix, char *out, size_t cap);

#endif
