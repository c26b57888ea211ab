/*
** observe/trace.c — spans and traces (see trace.h).
*/
#include "observe/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/json.h"
#include "base/log.h"
#include "base/random.h"

/* 16 bytes: the milliseconds since 1970 (6 bytes, big-endian), then 10
** random ones. Ids made later sort later, so the store appends each trace
** to its indexes instead of writing a random page of them (a random id cost
** the trace writer ~7 page writes per request). */
static void new_trace_id(char out[33])
{
    unsigned char bytes[16];
    uint64_t ms = (uint64_t)mast_now_us() / 1000;
    for (int i = 0; i < 6; i++)
        bytes[i] = (unsigned char)(ms >> (8 * (5 - i)));
    mast_random_fast(bytes + 6, 10);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

static mast_span *open_span(mast_trace *t, const char *name)
{
    if (t->depth >= MAST_TRACE_MAX_DEPTH)
        return NULL;
    if (t->n_spans == t->cap_spans) {
        size_t cap = t->cap_spans ? t->cap_spans * 2 : 8;
        mast_span *p = realloc(t->spans, cap * sizeof *p);
        if (!p)
            return NULL;
        t->spans = p;
        t->cap_spans = cap;
    }
    mast_span *s = &t->spans[t->n_spans];
    memset(s, 0, sizeof *s);
    s->id = (int)t->n_spans;
    s->parent = t->depth ? t->stack[t->depth - 1] : -1;
    snprintf(s->name, sizeof s->name, "%s", name);
    s->start_us = mast_now_us();
    s->mono_start_us = mast_mono_us();
    s->duration_us = -1;
    s->attributes = json_object();
    t->stack[t->depth++] = s->id;
    t->n_spans++;
    return s;
}

mast_trace *mast_trace_begin(const char *name)
{
    mast_trace *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    new_trace_id(t->id);
    if (!open_span(t, name)) {
        free(t);
        return NULL;
    }
    return t;
}

void mast_trace_span_begin(mast_trace *t, const char *name)
{
    if (t && !open_span(t, name))
        mast_debug("trace %s: span '%s' dropped (too deep or out of memory)", t->id, name);
}

static void close_top(mast_trace *t, mast_status status)
{
    mast_span *s = &t->spans[t->stack[--t->depth]];
    s->duration_us = mast_mono_us() - s->mono_start_us;
    s->status = status;
}

void mast_trace_span_end(mast_trace *t, mast_status status)
{
    if (t && t->depth > 1)
        close_top(t, status);
}

static json_t *current_attrs(mast_trace *t)
{
    if (!t || t->depth == 0)
        return NULL;
    return t->spans[t->stack[t->depth - 1]].attributes;
}

void mast_trace_attr_str(mast_trace *t, const char *key, const char *value)
{
    json_t *a = current_attrs(t);
    if (a)
        json_object_set_new(a, key, mast_json_string_lossy(value));
}

void mast_trace_attr_int(mast_trace *t, const char *key, int64_t value)
{
    json_t *a = current_attrs(t);
    if (a)
        json_object_set_new(a, key, json_integer((json_int_t)value));
}

void mast_trace_attr_double(mast_trace *t, const char *key, double value)
{
    json_t *a = current_attrs(t);
    if (a)
        json_object_set_new(a, key, json_real(value));
}

void mast_trace_end(mast_trace *t, mast_status status)
{
    if (!t)
        return;
    while (t->depth > 0)
        close_top(t, status);
}

void mast_trace_free(mast_trace *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_spans; i++)
        json_decref(t->spans[i].attributes);
    free(t->spans);
    free(t);
}
