/*
** model/tools.h — tool calling: the tool definitions and earlier calls and
** results as prompt text, and the model's tool-call output parsed back.
**
** Prompt side (the fallback for models whose own template mast does not
** render): the definitions go into the system message with the
** instructions of the Hermes/Qwen convention, an assistant's earlier calls
** become <tool_call>{"name", "arguments"}</tool_call> blocks in its turn, and
** a tool's result becomes a user turn holding
** <tool_response>…</tool_response>.
**
** Output side, three formats:
**   hermes   <tool_call>{"name": "f", "arguments": {…}}</tool_call>, any number,
**            anywhere in the text (Hermes, Qwen 2.5/3, and mast's own prompt)
**   mistral  [TOOL_CALLS] [{"name": "f", "arguments": {…}}, …] to the end
**   json     the whole output one {"name": "f", "parameters"|"arguments": {…}}
**            naming a defined tool (Llama 3.x)
** The parser is incremental: text that may begin a call is held back, so
** markup never reaches the content; a call that does not parse is dropped
** and counted (mast_tool_parser.malformed), never passed on as content.
*/
#ifndef MAST_MODEL_TOOLS_H
#define MAST_MODEL_TOOLS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "mast.h"

/* The instructions and definitions for a system message; tools is an
** array of {"type":"function","function":{"name","description","parameters"}}. */
mast_status mast_tools_render_definitions(const json_t *tools, mast_buf *out);
/* One earlier call as the assistant wrote it (arguments: a JSON text). */
mast_status mast_tools_render_call(const char *name, const char *arguments, mast_buf *out);
/* One tool result as the user turn that carries it. */
mast_status mast_tools_render_result(const char *content, mast_buf *out);

typedef struct mast_tool_parser_cb {
    void *ctx;
    /* text that is content (never markup) */
    int (*content)(void *ctx, const char *text, size_t len);
    /* a complete call: arguments is compact JSON text */
    int (*call)(void *ctx, const char *name, const char *arguments);
} mast_tool_parser_cb;

typedef struct mast_tool_parser {
    const json_t *tools;       /* the defined tools (names are checked); NULL: no tools */
    mast_buf held;             /* text not decided yet */
    int mode;                  /* internal */
    bool any_content;          /* content was passed on */
    int calls, malformed;
    char error[160];           /* why the last malformed call was dropped */
} mast_tool_parser;

void mast_tool_parser_init(mast_tool_parser *p, const json_t *tools);
/* Feeds generated text; non-zero when a callback asked to stop. */
int mast_tool_parser_feed(mast_tool_parser *p, const char *text, size_t len,
                          const mast_tool_parser_cb *cb);
/* The output ended: passes on what was held. */
int mast_tool_parser_finish(mast_tool_parser *p, const mast_tool_parser_cb *cb);
void mast_tool_parser_free(mast_tool_parser *p);

#endif
