/*
** base/json_scan.h — a JSON text checked and its top-level members located
** without building any value.
**
** The gateway passes an OpenAI-shaped reply on to its client as the bytes
** the provider sent, with only the model's name replaced, and reads only
** the usage out of it: parsing ~1 KB with jansson and serialising it again
** cost more than everything else the gateway does for a request. The
** scanner accepts exactly what jansson's json_loadb (flags 0) accepts for
** an object — RFC 8259 with valid UTF-8, no \u0000, paired surrogates,
** integers within int64, finite reals, at most 2048 levels — which a
** differential fuzz target (tests/fuzz/fuzz_json_scan.c) checks. (jansson
** also skips a NUL byte that ends a number or literal; the scanner refuses
** it, as RFC 8259 does.)
*/
#ifndef MAST_BASE_JSON_SCAN_H
#define MAST_BASE_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct mast_json_span {
    size_t at, len;               /* the member's value in the text */
    int count;                    /* how many times its key occurs (0: absent) */
} mast_json_span;

/* Whether text[0..len) is one JSON object (whitespace around allowed). For
** each of the n keys, spans[i] is where its value is. A key written with
** escapes is not matched against keys, and sets *escaped_key (when not
** NULL): a caller that must not miss a key then parses the text instead. */
bool mast_json_scan_object(const char *text, size_t len, const char *const *keys, size_t n,
                           mast_json_span *spans, bool *escaped_key);

#endif
