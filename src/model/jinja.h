/*
** model/jinja.h — chat templates as models ship them: a Jinja subset
** interpreter.
**
** A GGUF's tokenizer.chat_template is a Jinja2 template written for Hugging
** Face transformers' apply_chat_template. mast parses it once and renders it
** per request with the variables transformers passes (messages, tools,
** add_generation_prompt, bos_token, eos_token, …), configured as
** transformers configures Jinja2: trim_blocks, lstrip_blocks, loop controls,
** a {% generation %} block that renders its body, tojson as json.dumps with
** ensure_ascii=False, and the globals raise_exception and strftime_now.
**
** Supported: text, {{ }}, {# #}, whitespace control (- and +); statements
** if/elif/else, for (tuple targets, inline if, else, loop.*), set (names,
** tuples, namespace attributes, blocks), macro (defaults, keyword
** arguments), filter blocks, generation, break, continue; expressions with
** Python semantics (str/repr, code-point slicing, chained comparisons,
** conditional expressions, list/dict/tuple literals); the filters, tests,
** methods and globals listed in jinja_filters.c and jinja_methods.c. Not supported (a parse error,
** so the caller falls back): include/import/extends, raw, call blocks,
** recursive loops.
**
** Rendering is bounded: a template that runs longer than a step budget,
** allocates more than a memory budget, nests macros too deep or writes too
** much fails with a clear error instead of holding the caller.
*/
#ifndef MAST_MODEL_JINJA_H
#define MAST_MODEL_JINJA_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "base/buf.h"
#include "mast.h"

typedef struct mast_jinja mast_jinja;

/* Parses a template. MAST_ERR_FORMAT "template NAME, line L: …" for text
** the interpreter does not accept (a syntax error or an unsupported tag). */
mast_status mast_jinja_parse(const char *src, size_t len, const char *name, mast_jinja **out);
void mast_jinja_free(mast_jinja *t);

typedef struct mast_jinja_opts {
    const struct tm *now;   /* strftime_now's time; NULL: the local time */
} mast_jinja_opts;

/* Renders with the members of vars (a JSON object) as the template's
** variables and appends the text to out. MAST_ERR_INVALID with the
** template's own message when it raises (raise_exception), or the
** reference engine's wording for an undefined value it needed ("'x' is
** undefined", "'dict object' has no attribute 'y'") or a type error; out
** is then unchanged. opts may be NULL. Thread-safe: one parsed template may
** render on many threads. */
mast_status mast_jinja_render(const mast_jinja *t, const json_t *vars, const mast_jinja_opts *opts,
                              mast_buf *out);

#endif
