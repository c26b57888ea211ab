/*
** deploy/prompts.h — prompt management: named prompts in the store, each
** change a new immutable version, labels (production, staging, any name;
** "latest" kept by mast) that move between versions, so deploying and
** rolling back are label moves.
**
** A prompt is text or chat (fixed at creation). Its template holds
** {{variables}}: a text prompt is a string, a chat prompt a JSON array of
** messages whose contents hold them. Its config carries request defaults:
** model, temperature, max_tokens, response_format. Rendering substitutes
** every variable; a missing one is an error naming it (a 400 on the API).
*/
#ifndef MAST_DEPLOY_PROMPTS_H
#define MAST_DEPLOY_PROMPTS_H

#include <jansson.h>

#include "data/store.h"

/* The names of the {{variables}} of a template (text or chat), in order,
** each once. MAST_ERR_INVALID for a malformed {{ }}. */
mast_status mast_prompt_variables(const char *type, const json_t *tmpl, json_t **names);

/* Creates a prompt (version 1, labels "latest" and, when given, label). */
mast_status mast_prompt_create(mast_store *store, const char *name, const char *type,
                               const json_t *tmpl, const json_t *config, const char *label,
                               json_t **out);
/* A new version of name (its type's template; config NULL: the latest
** version's); "latest" moves to it, and label too when given. */
mast_status mast_prompt_update(mast_store *store, const char *name, const json_t *tmpl,
                               const json_t *config, const char *label, json_t **out);
/* Moves (or sets) a label to a version. MAST_ERR_NOT_FOUND for either. */
mast_status mast_prompt_label(mast_store *store, const char *name, const char *label, int version);
/* One version: by label (NULL: "latest") or version (> 0). *out is {name,
** type, version, labels, template, config, variables, created_at}. */
mast_status mast_prompt_get(mast_store *store, const char *name, const char *label, int version,
                            json_t **out);
/* Every prompt with its latest version and labels. */
mast_status mast_prompt_list(mast_store *store, json_t **out);
/* Every version of a prompt, newest first. */
mast_status mast_prompt_history(mast_store *store, const char *name, json_t **out);

/* The prompt's template with variables (an object) substituted: a string
** for text, an array of messages for chat. MAST_ERR_INVALID "prompt P
** version V: variable 'x' is missing" and the like. */
mast_status mast_prompt_render(const json_t *prompt, const json_t *variables, json_t **out);

#endif
