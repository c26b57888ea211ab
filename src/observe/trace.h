/*
** observe/trace.h — request traces made of nested, timed spans.
**
** A trace is the record of one operation (a CLI command or an HTTP request):
** a root span named after it and child spans for each step, each with a start,
** a duration, a status and JSON attributes (query, k, n_results...). Spans
** nest as a stack: span_begin opens a child of the innermost open span.
**
** Every function accepts a NULL trace and then does nothing, so library code
** can record spans unconditionally. A trace belongs to one thread. Traces are
** persisted by the store (mast_store_trace_save in data/store_traces.c).
*/
#ifndef MAST_OBSERVE_TRACE_H
#define MAST_OBSERVE_TRACE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mast.h"

#define MAST_TRACE_MAX_DEPTH 32
#define MAST_SPAN_MAX_ATTRS 64

typedef struct mast_span {
    int id;                 /* 0 = the root span */
    int parent;             /* -1 for the root */
    char name[64];
    int64_t start_us;       /* wall clock, microseconds since the epoch */
    int64_t duration_us;    /* -1 while open */
    int64_t mono_start_us;
    mast_status status;
    /* The attributes as JSON text, each member followed by a comma
    ** ("key":value,...), built as they are set: a trace costs no JSON tree
    ** and no serialisation (mast_span_attributes makes the object). */
    mast_buf attrs;
    uint32_t attr_at[MAST_SPAN_MAX_ATTRS];   /* where each member begins */
    int n_attrs;
} mast_span;

typedef struct mast_trace {
    char id[33];            /* 32 lowercase hex digits (128 bits, as OpenTelemetry): this record's */
    char trace_id[33];      /* the W3C trace it belongs to: the caller's (traceparent), else id */
    char parent_span_id[17];/* the caller's span (16 hex digits), "" when it has none */
    mast_span *spans;
    size_t n_spans, cap_spans;
    int stack[MAST_TRACE_MAX_DEPTH];
    int depth;
} mast_trace;

/* Starts a trace whose root span is `name`. NULL when out of memory. */
mast_trace *mast_trace_begin(const char *name);

/* Continues the caller's trace: a W3C traceparent header
** ("00-<32 hex trace id>-<16 hex span id>-<flags>") sets trace_id and
** parent_span_id. false (nothing changed) when it is not a valid one: the
** trace then starts afresh, as the W3C Trace Context says. */
bool mast_trace_continue(mast_trace *t, const char *traceparent);
/* A span's id as OpenTelemetry has it: 16 hex digits, derived from the
** record's id and the span's index (never all zeros). */
void mast_trace_span_hex_id(const mast_trace *t, int span, char out[17]);
/* The same from a stored record's id (data/store_traces.h). */
void mast_span_hex_id(const char *record_id, int span, char out[17]);
/* The traceparent to send downstream from a span ("00-…-…-01"). */
void mast_trace_traceparent(const mast_trace *t, int span, char out[56]);

/* Opens a child span of the innermost open span. */
void mast_trace_span_begin(mast_trace *t, const char *name);
/* Closes the innermost open span (never the root) with a status. */
void mast_trace_span_end(mast_trace *t, mast_status status);

/* The same for a step timed elsewhere: a span that began at mono_start_us
** (mast_mono_us's clock), and its end at mono_end_us. */
void mast_trace_span_begin_at(mast_trace *t, const char *name, int64_t mono_start_us);
void mast_trace_span_end_at(mast_trace *t, mast_status status, int64_t mono_end_us);

/* Attributes on the innermost open span. */
void mast_trace_attr_str(mast_trace *t, const char *key, const char *value);
void mast_trace_attr_int(mast_trace *t, const char *key, int64_t value);
void mast_trace_attr_double(mast_trace *t, const char *key, double value);

/* Closes every open span, the root last, with `status`. */
void mast_trace_end(mast_trace *t, mast_status status);

void mast_trace_free(mast_trace *t);

/* A string attribute of the root span into out (cap bytes, cut to fit):
** false when it has none (out then ""). */
bool mast_trace_root_str(const mast_trace *t, const char *key, char *out, size_t cap);

/* The span's attributes as a JSON object's text ("{...}") into out. */
mast_status mast_span_attributes(const mast_span *s, mast_buf *out);

#endif
