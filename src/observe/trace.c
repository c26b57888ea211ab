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
    memcpy(t->trace_id, t->id, sizeof t->trace_id);
    if (!open_span(t, name)) {
        free(t);
        return NULL;
    }
    return t;
}

static bool lower_hex(const char *p, size_t n)
{
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
        nonzero |= p[i] != '0';
    }
    return nonzero;   /* all zeros is invalid for both ids */
}

bool mast_trace_continue(mast_trace *t, const char *tp)
{
    if (!t || !tp)
        return false;
    size_t n = strlen(tp);
    /* version-traceid-parentid-flags: 2-32-16-2 hex; version ff is invalid; version 00 is
    ** exactly 55 characters, a later one may add fields after a '-' */
    if (n < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-')
        return false;
    if (!(lower_hex(tp, 2) || !strncmp(tp, "00", 2)) || !strncmp(tp, "ff", 2))
        return false;
    if (!lower_hex(tp + 3, 32) || !lower_hex(tp + 36, 16))
        return false;
    char f[3] = {tp[53], tp[54], 0};
    if (strspn(f, "0123456789abcdef") != 2)
        return false;
    if ((!strncmp(tp, "00", 2) && n != 55) || (n > 55 && tp[55] != '-'))
        return false;
    memcpy(t->trace_id, tp + 3, 32);
    t->trace_id[32] = '\0';
    memcpy(t->parent_span_id, tp + 36, 16);
    t->parent_span_id[16] = '\0';
    return true;
}

void mast_trace_span_hex_id(const mast_trace *t, int span, char out[17])
{
    mast_span_hex_id(t->id, span, out);
}

void mast_span_hex_id(const char *record_id, int span, char out[17])
{
    char key[80];
    int n = snprintf(key, sizeof key, "%.40s/%d", record_id, span);
    uint64_t h = mast_hash64(key, (size_t)n);
    snprintf(out, 17, "%016llx", (unsigned long long)(h ? h : 1));
}

void mast_trace_traceparent(const mast_trace *t, int span, char out[56])
{
    char sid[17];
    mast_trace_span_hex_id(t, span, sid);
    snprintf(out, 56, "00-%s-%s-01", t->trace_id, sid);
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

void mast_trace_span_begin_at(mast_trace *t, const char *name, int64_t mono_start_us)
{
    size_t n = t ? t->n_spans : 0;
    mast_trace_span_begin(t, name);
    if (!t || t->n_spans != n + 1)
        return;
    mast_span *s = &t->spans[t->stack[t->depth - 1]];
    s->start_us -= s->mono_start_us - mono_start_us;   /* the wall clock then */
    s->mono_start_us = mono_start_us;
}

void mast_trace_span_end_at(mast_trace *t, mast_status status, int64_t mono_end_us)
{
    if (!t || t->depth <= 1)
        return;
    mast_span *s = &t->spans[t->stack[--t->depth]];
    s->duration_us = mono_end_us > s->mono_start_us ? mono_end_us - s->mono_start_us : 0;
    s->status = status;
}

bool mast_trace_root_str(const mast_trace *t, const char *key, char *out, size_t cap)
{
    if (cap)
        out[0] = '\0';
    if (!t || !t->n_spans || !cap)
        return false;
    const mast_span *s = &t->spans[0];
    size_t klen = strlen(key);
    for (int i = 0; i < s->n_attrs; i++) {
        const char *a = s->attrs.data + s->attr_at[i];   /* "key":value, */
        if (a[0] != '"' || strncmp(a + 1, key, klen) || strncmp(a + 1 + klen, "\":\"", 3))
            continue;
        const char *p = a + klen + 4;
        size_t n = 0;
        while (*p && *p != '"' && n + 1 < cap) {
            if (*p == '\\' && p[1])   /* an escape: its character as written (no decoding needed here) */
                p++;
            out[n++] = *p++;
        }
        out[n] = '\0';
        return true;
    }
    return false;
}

static mast_span *current(mast_trace *t)
{
    if (!t || t->depth == 0)
        return NULL;
    return &t->spans[t->stack[t->depth - 1]];
}

/* Starts key's member at the end of the current span's attribute text,
** removing an earlier member of the same key: the member's offset, with
** *sp its span; -1 when there is no span, the span is full or memory ran
** out. The caller appends the value, then calls end_attr. */
static long begin_attr(mast_trace *t, const char *key, mast_span **sp)
{
    mast_span *s = current(t);
    if (!s)
        return -1;
    size_t at = s->attrs.len;
    if (mast_json_escape(&s->attrs, key, strlen(key)) != MAST_OK || mast_buf_putc(&s->attrs, ':') != MAST_OK) {
        s->attrs.len = at;
        return -1;
    }
    size_t klen = s->attrs.len - at;   /* "key": */
    for (int i = 0; i < s->n_attrs; i++) {
        size_t old = s->attr_at[i];
        if (old + klen > at || memcmp(s->attrs.data + old, s->attrs.data + at, klen))
            continue;
        size_t end = i + 1 < s->n_attrs ? s->attr_at[i + 1] : at, gone = end - old;
        memmove(s->attrs.data + old, s->attrs.data + end, s->attrs.len - end);
        s->attrs.len -= gone;
        at -= gone;
        for (int k = i + 1; k < s->n_attrs; k++)
            s->attr_at[k - 1] = (uint32_t)(s->attr_at[k] - gone);
        s->n_attrs--;
        break;
    }
    if (s->n_attrs == MAST_SPAN_MAX_ATTRS) {
        mast_debug("trace %s: attribute '%s' dropped (at most %d a span)", t->id, key, MAST_SPAN_MAX_ATTRS);
        s->attrs.len = at;
        return -1;
    }
    *sp = s;
    return (long)at;
}

/* Ends the member begun at `at` (ok: its value was appended whole). */
static void end_attr(mast_span *s, long at, bool ok)
{
    if (!ok || mast_buf_putc(&s->attrs, ',') != MAST_OK) {
        s->attrs.len = (size_t)at;   /* the attribute is lost, the text stays whole */
        return;
    }
    s->attr_at[s->n_attrs++] = (uint32_t)at;
}

void mast_trace_attr_str(mast_trace *t, const char *key, const char *value)
{
    mast_span *s;
    long at = begin_attr(t, key, &s);
    if (at >= 0)
        end_attr(s, at, mast_json_escape(&s->attrs, value ? value : "", value ? strlen(value) : 0) == MAST_OK);
}

void mast_trace_attr_int(mast_trace *t, const char *key, int64_t value)
{
    mast_span *s;
    long at = begin_attr(t, key, &s);
    if (at >= 0)
        end_attr(s, at, mast_buf_printf(&s->attrs, "%lld", (long long)value) == MAST_OK);
}

void mast_trace_attr_double(mast_trace *t, const char *key, double value)
{
    char v[40];
    if (!isfinite(value)) {
        snprintf(v, sizeof v, "null");   /* JSON has no infinity or NaN */
    } else {
        int n = snprintf(v, sizeof v, "%.10g", value);
        if (!strpbrk(v, ".e"))   /* still a real when read back */
            snprintf(v + n, sizeof v - (size_t)n, ".0");
    }
    mast_span *s;
    long at = begin_attr(t, key, &s);
    if (at >= 0)
        end_attr(s, at, mast_buf_puts(&s->attrs, v) == MAST_OK);
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
