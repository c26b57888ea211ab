/*
** base/buf.h — a growable byte buffer, always NUL-terminated.
**
** Zero-initialise (`mast_buf b = {0};`) to get an empty buffer; free with
** mast_buf_free(). Functions that grow the buffer return MAST_ERR_NOMEM when
** memory runs out and leave the old contents intact.
*/
#ifndef MAST_BASE_BUF_H
#define MAST_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "mast.h"

typedef struct mast_buf {
    char *data;    /* NULL until the first append; else NUL-terminated */
    size_t len;    /* bytes in use, excluding the NUL */
    size_t cap;    /* bytes allocated */
} mast_buf;

mast_status mast_buf_reserve(mast_buf *b, size_t extra);
mast_status mast_buf_append(mast_buf *b, const void *data, size_t len);
mast_status mast_buf_puts(mast_buf *b, const char *s);
mast_status mast_buf_putc(mast_buf *b, char c);
mast_status mast_buf_printf(mast_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
mast_status mast_buf_vprintf(mast_buf *b, const char *fmt, va_list ap);

/* The contents as a C string ("" for an empty buffer). */
const char *mast_buf_cstr(const mast_buf *b);

/* Hands the allocation to the caller (who frees it with free()) and empties b.
** Returns a valid empty string for an empty buffer; NULL only on OOM. */
char *mast_buf_detach(mast_buf *b);

void mast_buf_clear(mast_buf *b);
void mast_buf_free(mast_buf *b);

/* Grows a malloc'ed array *p of *cap elements of `elem` bytes to hold at
** least `need` (doubling, from 16). Returns 1 on success, 0 on OOM (then *p
** and *cap are unchanged). */
int mast_grow_array(void **p, size_t *cap, size_t need, size_t elem);

/* qsort / bsearch comparator of int64_t values, ascending. */
/* The length of the longest suffix of s[0..n) that is a proper prefix of
** tag: text to hold back while it may still become tag (a stop string, a
** tool-call tag). */
size_t mast_partial_suffix(const char *s, size_t n, const char *tag);

int mast_cmp_i64(const void *a, const void *b);

#endif
