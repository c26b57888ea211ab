/*
** tests/fuzz/fuzz_template.c — the Jinja interpreter on arbitrary templates:
** each input is parsed and, when it parses, rendered with a conversation that
** has a system message, tools, parallel tool calls with object arguments, tool
** results and non-ASCII text (the variables a chat template sees). Rendering
** must end, within its step and memory budgets, with text or an error.
*/
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "model/jinja.h"

static const char VARS[] =
    "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"add_generation_prompt\": true,"
    " \"messages\": ["
    "  {\"role\": \"system\", \"content\": \"You can call tools.\"},"
    "  {\"role\": \"user\", \"content\": \"\\u00c9cris \\u00ab bonjour \\u00bb \\ud83d\\ude42\"},"
    "  {\"role\": \"assistant\", \"content\": null, \"tool_calls\": ["
    "    {\"id\": \"call1abcd\", \"type\": \"function\", \"function\": {\"name\": \"get_weather\","
    "     \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}},"
    "    {\"id\": \"call2abcd\", \"type\": \"function\", \"function\": {\"name\": \"get_time\","
    "     \"arguments\": {\"tz\": \"Europe/Paris\"}}}]},"
    "  {\"role\": \"tool\", \"tool_call_id\": \"call1abcd\", \"content\": \"{\\\"t\\\": 21.5}\"},"
    "  {\"role\": \"tool\", \"tool_call_id\": \"call2abcd\", \"content\": \"09:30\"},"
    "  {\"role\": \"assistant\", \"content\": \"21.5 \\u00b0C at 09:30.\"}],"
    " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\","
    "   \"description\": \"Weather\", \"parameters\": {\"type\": \"object\", \"properties\":"
    "   {\"city\": {\"type\": \"string\"}, \"unit\": {\"enum\": [\"celsius\", \"fahrenheit\"]}},"
    "   \"required\": [\"city\"]}}}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *vars;
    if (!vars)
        vars = json_loads(VARS, 0, NULL);
    mast_jinja *t = NULL;
    if (mast_jinja_parse((const char *)data, size, "fuzz", &t) != MAST_OK)
        return 0;
    static const struct tm now = {.tm_year = 126, .tm_mday = 15, .tm_hour = 9, .tm_min = 30};
    mast_jinja_opts o = {&now};
    mast_buf out = {0};
    mast_jinja_render(t, vars, &o, &out);
    mast_buf_free(&out);
    mast_jinja_free(t);
    return 0;
}
