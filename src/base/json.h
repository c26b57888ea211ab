/*
** base/json.h — helpers on jansson: parsing with a clear error, typed field
** access with defaults, and serialising into a mast_buf.
*/
#ifndef MAST_BASE_JSON_H
#define MAST_BASE_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "base/buf.h"

/* Parses text[0..len). On error returns MAST_ERR_FORMAT with the message
** "<what>: invalid JSON at line L, column C: <reason>". The caller owns *out
** (json_decref). */
mast_status mast_json_parse(const char *text, size_t len, const char *what, json_t **out);

/* Field accessors: the value when present with the right type, else dflt. */
const char *mast_json_get_str(const json_t *obj, const char *key, const char *dflt);
int64_t mast_json_get_int(const json_t *obj, const char *key, int64_t dflt);

/* MAST_ERR_INVALID "<what>: unknown field \"x\" (known: a, b)" for the first
** member of obj not in `allowed` (NULL-terminated). */
mast_status mast_json_check_fields(const json_t *obj, const char *const *allowed, const char *what);

/* A JSON array of 1..max finite numbers as floats (*out malloc'ed, *dim
** numbers); MAST_ERR_INVALID names `what` and the first bad element. */
mast_status mast_json_vector(const json_t *v, const char *what, size_t max, float **out,
                             size_t *dim);

/* Serialises compactly (or indented when `pretty`) and appends to b. */
mast_status mast_json_dump(const json_t *value, int pretty, mast_buf *b);

/* s[0..n) as a JSON string, quotes included, appended to b: ", \ and
** control characters escaped, invalid UTF-8 repaired (U+FFFD), as
** mast_json_string_lossy would give it. */
mast_status mast_json_escape(mast_buf *b, const char *s, size_t n);

/* json_string() of an arbitrary byte string: invalid UTF-8 is repaired. */
json_t *mast_json_string_lossy(const char *s);

#endif
