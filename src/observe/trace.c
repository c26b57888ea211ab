/*
** observe/trace.c — spans and traces (see trace.h).
*/
#include "observe/trace.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/json.h"
#include "base/log.h"
#include "base/random.h"
#include "base/status.h"

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

static mast_span *current(mast_trace *t)
{
    if (!t || t->depth == 0)
        return NULL;
    return &t->spans[t->stack[t->depth - 1]];
}

/* Sets key to the JSON text value (replacing an earlier value of key). */
static void set_attr(mast_trace *t, const char *key, const char *value, size_t len)
{
    mast_span *s = current(t);
    if (!s)
        return;
    mast_buf member = {0};
    if (mast_json_escape(&member, key, strlen(key)) != MAST_OK || mast_buf_putc(&member, ':') != MAST_OK)
        goto done;
    for (int i = 0; i < s->n_attrs; i++) {
        uint32_t at = s->attr_at[i];
        if (s->attrs.len - at >= member.len && !memcmp(s->attrs.data + at, member.data, member.len)) {
            uint32_t end = i + 1 < s->n_attrs ? s->attr_at[i + 1] : (uint32_t)s->attrs.len;
            memmove(s->attrs.data + at, s->attrs.data + end, s->attrs.len - end);
            s->attrs.len -= end - at;
            for (int k = i + 1; k < s->n_attrs; k++)
                s->attr_at[k - 1] = s->attr_at[k] - (end - at);
            s->n_attrs--;
            break;
        }
    }
    if (s->n_attrs == MAST_SPAN_MAX_ATTRS) {
        mast_debug("trace %s: attribute '%s' dropped (at most %d a span)", t->id, key, MAST_SPAN_MAX_ATTRS);
        goto done;
    }
    uint32_t at = (uint32_t)s->attrs.len;
    if (mast_buf_append(&s->attrs, member.data, member.len) != MAST_OK ||
        mast_buf_append(&s->attrs, value, len) != MAST_OK || mast_buf_putc(&s->attrs, ',') != MAST_OK) {
        s->attrs.len = at;   /* out of memory: the attribute is lost, the text stays whole */
        goto done;
    }
    s->attr_at[s->n_attrs++] = at;
done:
    mast_buf_free(&member);
}

void mast_trace_attr_str(mast_trace *t, const char *key, const char *value)
{
    if (!current(t))
        return;
    mast_buf v = {0};
    if (mast_json_escape(&v, value ? value : "", value ? strlen(value) : 0) == MAST_OK)
        set_attr(t, key, v.data, v.len);
    mast_buf_free(&v);
}

void mast_trace_attr_int(mast_trace *t, const char *key, int64_t value)
{
    char v[32];
    int n = snprintf(v, sizeof v, "%lld", (long long)value);
    set_attr(t, key, v, (size_t)n);
}

void mast_trace_attr_double(mast_trace *t, const char *key, double value)
{
    char v[40];
    int n;
    if (!isfinite(value)) {
        n = snprintf(v, sizeof v, "null");   /* JSON has no infinity or NaN */
    } else {
        n = snprintf(v, sizeof v, "%.10g", value);
        if (!strpbrk(v, ".e"))   /* still a real when read back */
            n += snprintf(v + n, sizeof v - (size_t)n, ".0");
    }
    set_attr(t, key, v, (size_t)n);
}

mast_status mast_span_attributes(const mast_span *s, mast_buf *out)
{
    MAST_TRY(mast_buf_putc(out, '{'));
    if (s->attrs.len)
        MAST_TRY(mast_buf_append(out, s->attrs.data, s->attrs.len - 1));   /* the last comma */
    return mast_buf_putc(out, '}');
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
        mast_buf_free(&t->spans[i].attrs);
    free(t->spans);
    free(t);
}
