/*
** tests/fuzz/fuzz_api.c — libFuzzer target: arbitrary bytes as a data API
** request body (deploy/api.c, the readers the HTTP routes use), and as text
** for the preview that the CLI prints.
**
** The bytes are parsed as JSON; an object goes through the search reader and
** the document reader, and its "documents" members through the document
** reader, as an upsert's would; the bytes as a keep_alive duration and as
** the OTEL_* variables' key=value lists too. Built only with clang (-DMAST_FUZZ=ON).
*/
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/utf8.h"
#include "deploy/api.h"
#include "deploy/models.h"
#include "observe/otlp.h"

static void read_document(const json_t *doc)
{
    mast_doc_input in;
    char *metadata;
    float *vector;
    if (mast_api_document_parse(doc, &in, &metadata, &vector) == MAST_OK) {
        free(metadata);
        free(vector);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mast_buf b = {0};
    mast_utf8_preview((const char *)data, size, size % 200, &b);
    mast_buf_free(&b);
    char *text = size < 4096 ? strndup((const char *)data, size) : NULL;   /* a keep_alive duration */
    int64_t ms;
    if (text) {
        mast_parse_keep_alive(text, &ms);   /* base/duration.c underneath */
        /* the OTEL_* lists ("k=v,k2=v%20w") as the environment gives them */
        setenv("OTEL_RESOURCE_ATTRIBUTES", text, 1);
        setenv("OTEL_EXPORTER_OTLP_HEADERS", text, 1);
        mast_otlp o;
        bool on;
        if (mast_otlp_from_env(&o, "http://127.0.0.1:1/v1/traces", NULL, &on) == MAST_OK)
            mast_otlp_free(&o);
    }
    free(text);
    json_t *body;
    if (mast_json_parse((const char *)data, size, "fuzz", &body) != MAST_OK)
        return 0;
    if (json_is_object(body)) {
        mast_api_search s;
        mast_api_search_parse(body, &s);
        mast_api_search_free(&s);
        read_document(body);
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(body, "documents"), i, d)
            read_document(d);
    }
    json_decref(body);
    return 0;
}
