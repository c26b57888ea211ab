/*
** base/buf.c — growable byte buffer (see buf.h).
*/
#include "base/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"

mast_status mast_buf_reserve(mast_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return MAST_OK;
    size_t need = b->len + extra + 1;
    if (need < extra)
        return mast_fail(MAST_ERR_NOMEM, "buffer size overflow");
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return mast_fail(MAST_ERR_NOMEM, "out of memory growing a buffer to %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return MAST_OK;
}

mast_status mast_buf_append(mast_buf *b, const void *data, size_t len)
{
    MAST_TRY(mast_buf_reserve(b, len));
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return MAST_OK;
}

mast_status mast_buf_puts(mast_buf *b, const char *s)
{
    return mast_buf_append(b, s, strlen(s));
}

mast_status mast_buf_putc(mast_buf *b, char c)
{
    return mast_buf_append(b, &c, 1);
}

mast_status mast_buf_vprintf(mast_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return mast_fail(MAST_ERR_INTERNAL, "bad format string");
    MAST_TRY(mast_buf_reserve(b, (size_t)n));
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return MAST_OK;
}

mast_status mast_buf_printf(mast_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mast_status st = mast_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return st;
}

const char *mast_buf_cstr(const mast_buf *b)
{
    return b->data ? b->data : "";
}

char *mast_buf_detach(mast_buf *b)
{
    char *p = b->data ? b->data : strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void mast_buf_clear(mast_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void mast_buf_free(mast_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int mast_grow_array(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 1;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    if (c > SIZE_MAX / elem)
        return 0;
    void *q = realloc(*p, c * elem);
    if (!q)
        return 0;
    *p = q;
    *cap = c;
    return 1;
}

int mast_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

size_t mast_partial_suffix(const char *s, size_t n, const char *tag)
{
    size_t t = strlen(tag);
    for (size_t k = t - 1 < n ? t - 1 : n; t && k > 0; k--)
        if (memcmp(s + n - k, tag, k) == 0)
            return k;
    return 0;
}
