/*
** base/utf8.c — UTF-8 helpers (see utf8.h).
*/
#include "base/utf8.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* NFC of a run with non-ASCII characters, appended to b. */
static mast_status nfc_append(mast_buf *b, const char *s, size_t len)
{
    utf8proc_uint8_t *res = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &res,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (n < 0)
        return mast_fail(MAST_ERR_FORMAT, "cannot normalize text: %s", utf8proc_errmsg(n));
    mast_status st = mast_buf_append(b, (const char *)res, (size_t)n);
    free(res);
    return st;
}

/* ASCII is its own NFC, and no ASCII character composes with what comes
** before it: text splits before any ASCII character into pieces that
** normalize alone. So only the runs around non-ASCII characters (with the
** ASCII letter before, which a combining mark may join) go through utf8proc;
** the rest is copied. */
mast_status mast_utf8_nfc(const char *s, size_t len, char **out, size_t *out_len)
{
    mast_buf b = {0};
    MAST_TRY(mast_buf_reserve(&b, len + 1));
    mast_status st = MAST_OK;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len && st == MAST_OK) {
        size_t j = i;
        while (j < len && u[j] < 0x80)
            j++;
        size_t start = j < len && j > i ? j - 1 : j;   /* the possible base */
        st = mast_buf_append(&b, s + i, start - i);
        if (j == len || st != MAST_OK)
            break;
        size_t k = j;   /* the run ends before an ASCII character that ASCII follows */
        while (k < len && (u[k] >= 0x80 || (k + 1 < len && u[k + 1] >= 0x80)))
            k++;
        st = nfc_append(&b, s + start, k - start);
        i = k;
    }
    if (st != MAST_OK) {
        mast_buf_free(&b);
        return st;
    }
    *out_len = b.len;
    if (!b.len)
        mast_buf_free(&b);   /* reserved, never written: not terminated */
    *out = b.len ? mast_buf_detach(&b) : strdup("");
    return *out ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
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

static int preview_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

mast_status mast_utf8_preview(const char *text, size_t len, size_t max_chars, mast_buf *out)
{
    mast_buf_clear(out);
    MAST_TRY(mast_buf_reserve(out, 1));
    out->data[0] = '\0';   /* an empty preview is "" */
    size_t chars = 0, i = 0;
    size_t space_len = 0, space_chars = 0;   /* out->len and chars before the last space */
    int pending_space = 0, cut = 0;
    while (i < len) {
        unsigned char c = (unsigned char)text[i];
        if (preview_space(c)) {
            pending_space = out->len > 0;
            i++;
            continue;
        }
        int32_t cp = 0;
        size_t n = c < 0x80 ? 1 : mast_utf8_decode(text + i, len - i, &cp);
        if (chars + (size_t)pending_space + 1 > max_chars) {
            cut = 1;
            break;
        }
        if (pending_space) {
            space_len = out->len;
            space_chars = chars;
            MAST_TRY(mast_buf_putc(out, ' '));
            chars++;
            pending_space = 0;
        }
        if (c >= 0x80 && cp < 0)   /* an invalid byte shows as U+FFFD: the preview is valid UTF-8 */
            MAST_TRY(mast_buf_append(out, "\xef\xbf\xbd", 3));
        else
            MAST_TRY(mast_buf_append(out, text + i, n));
        chars++;
        i += n;
    }
    if (!cut)
        return MAST_OK;
    if (max_chars < 4) {   /* no room for a mark */
        out->data[out->len] = '\0';
        return MAST_OK;
    }
    if (space_len > 0 && space_chars + 3 <= max_chars && space_chars * 3 >= chars * 2) {
        out->len = space_len;   /* a word boundary that keeps most of the text */
    } else {
        for (size_t drop = chars + 3 > max_chars ? chars + 3 - max_chars : 0;
             drop > 0 && out->len > 0; drop--) {
            do
                out->len--;
            while (out->len > 0 && ((unsigned char)out->data[out->len] & 0xC0) == 0x80);
        }
        while (out->len > 0 && out->data[out->len - 1] == ' ')
            out->len--;
    }
    out->data[out->len] = '\0';
    return mast_buf_puts(out, "...");
}

size_t mast_utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static const uint16_t CP1252_HIGH[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

mast_status mast_cp1252_to_utf8(const char *s, size_t len, char **out, size_t *out_len)
{
    char *o = malloc(len * 3 + 1);
    if (!o)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp = c >= 0x80 && c < 0xA0 ? CP1252_HIGH[c - 0x80] : c;
        n += mast_utf8_encode(cp, o + n);
    }
    o[n] = 0;
    *out = o;
    *out_len = n;
    return MAST_OK;
}

mast_status mast_utf16_to_utf8(const char *s, size_t len, bool big_endian, char **out,
                               size_t *out_len, size_t *n_replaced)
{
    /* each 2-byte unit becomes at most 3 bytes (a surrogate pair 4 for 4) */
    char *o = malloc(len / 2 * 3 + 4);
    if (!o)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    size_t n = 0, bad = 0, i = 0;
    const unsigned char *u = (const unsigned char *)s;
#define UNIT(k) (big_endian ? (uint32_t)(u[k] << 8 | u[(k) + 1]) : (uint32_t)(u[(k) + 1] << 8 | u[k]))
    while (i + 1 < len) {
        uint32_t cp = UNIT(i);
        i += 2;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < len && UNIT(i) >= 0xDC00 && UNIT(i) < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (UNIT(i) - 0xDC00);
            i += 2;
        } else if ((cp >= 0xD800 && cp < 0xE000) || cp == 0) {
            cp = 0xFFFD;   /* a lone surrogate, or NUL */
            bad++;
        }
        n += mast_utf8_encode(cp, o + n);
    }
#undef UNIT
    if (i < len) {   /* an odd byte at the end */
        n += mast_utf8_encode(0xFFFD, o + n);
        bad++;
    }
    o[n] = 0;
    *out = o;
    *out_len = n;
    if (n_replaced)
        *n_replaced = bad;
    return MAST_OK;
}

bool mast_cp1252_label(const char *label, size_t len)
{
    static const char *const labels[] = {"windows-1252", "cp1252", "x-cp1252", "iso-8859-1",
                                         "iso8859-1", "iso88591", "iso_8859-1", "iso_8859-1:1987",
                                         "latin1", "l1", "iso-ir-100", "csisolatin1", "ibm819",
                                         "cp819", "us-ascii", "ascii", "ansi_x3.4-1968", NULL};
    for (const char *const *l = labels; *l; l++)
        if (strlen(*l) == len && !strncasecmp(*l, label, len))
            return true;
    return false;
}
