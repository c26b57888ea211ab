/*
** base/utf8.c — UTF-8 helpers (see utf8.h).
*/
#include "base/utf8.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/buf.h"
#include "base/status.h"

size_t mast_utf8_decode(const char *str, size_t len, int32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    int32_t v, min;
    if ((c & 0xE0) == 0xC0) { n = 2; v = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { n = 3; v = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { n = 4; v = c & 0x07; min = 0x10000; }
    else { *cp = -1; return 1; }
    if (len < n) { *cp = -1; return 1; }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) { *cp = -1; return 1; }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = -1;
        return 1;
    }
    *cp = v;
    return n;
}

bool mast_utf8_valid(const char *s, size_t len, size_t *bad_offset)
{
    size_t i = 0;
    while (i < len) {
        if ((unsigned char)s[i] < 0x80) { i++; continue; }
        int32_t cp;
        size_t n = mast_utf8_decode(s + i, len - i, &cp);
        if (cp < 0) {
            if (bad_offset)
                *bad_offset = i;
            return false;
        }
        i += n;
    }
    return true;
}

mast_status mast_utf8_repair(const char *s, size_t len, char **out, size_t *out_len,
                             size_t *n_replaced)
{
    mast_buf b = {0};
    size_t replaced = 0, i = 0;
    MAST_TRY(mast_buf_reserve(&b, len));
    while (i < len) {
        int32_t cp;
        size_t n = mast_utf8_decode(s + i, len - i, &cp);
        mast_status st;
        if (cp <= 0) {
            st = mast_buf_append(&b, "\xEF\xBF\xBD", 3);
            replaced++;
        } else {
            st = mast_buf_append(&b, s + i, n);
        }
        if (st != MAST_OK) {
            mast_buf_free(&b);
            return st;
        }
        i += n;
    }
    *out_len = b.len;
    *out = mast_buf_detach(&b);
    if (n_replaced)
        *n_replaced = replaced;
    return *out ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
}

mast_status mast_utf8_nfc(const char *s, size_t len, char **out, size_t *out_len)
{
    utf8proc_uint8_t *res = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &res,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (n < 0)
        return mast_fail(MAST_ERR_FORMAT, "cannot normalize text: %s", utf8proc_errmsg(n));
    *out = (char *)res;
    *out_len = (size_t)n;
    return MAST_OK;
}

size_t mast_utf8_truncate(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}
