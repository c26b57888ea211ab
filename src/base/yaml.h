/*
** base/yaml.h — YAML files (mast.yaml) as JSON values that remember their
** line, so that a check can say "mast.yaml:12: models[0].price.input:
** expected a number".
**
** Parsed with libyaml (YAML 1.1). Mappings become objects (a key twice is
** an error), sequences arrays, and scalars typed as YAML's core schema
** types them: quoted scalars are strings; plain ones are null (~, null,
** empty), booleans (true/false), integers, floats, else strings. Anchors,
** aliases and tags are refused (a configuration does not need them, and
** aliases make a file expand without bound).
*/
#ifndef MAST_BASE_YAML_H
#define MAST_BASE_YAML_H

#include <jansson.h>

#include "mast.h"

typedef struct mast_yaml mast_yaml;

/* Parses text[0..len); name is the file's name in messages. MAST_ERR_FORMAT
** "NAME:LINE: why" for text that is not YAML or uses what is refused. */
mast_status mast_yaml_parse(const char *text, size_t len, const char *name, mast_yaml **out);
mast_status mast_yaml_load(const char *path, mast_yaml **out);
void mast_yaml_free(mast_yaml *y);

/* The document (an object for a configuration; borrowed). */
json_t *mast_yaml_root(const mast_yaml *y);
/* The line a value (or any value inside the document) came from; 0 for
** a value not in it. */
int mast_yaml_line(const mast_yaml *y, const json_t *v);
const char *mast_yaml_name(const mast_yaml *y);

#endif
