/*
** base/json.c — jansson helpers (see json.h).
*/
#include "base/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "base/utf8.h"

mast_status mast_json_parse(const char *text, size_t len, const char *what, json_t **out)
{
    json_error_t err;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!v)
        return mast_fail(MAST_ERR_FORMAT, "%s: invalid JSON at line %d, column %d: %s",
                         what, err.line, err.column, err.text);
    *out = v;
    return MAST_OK;
}

const char *mast_json_get_str(const json_t *obj, const char *key, const char *dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

int64_t mast_json_get_int(const json_t *obj, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static int dump_cb(const char *data, size_t size, void *ctx)
{
    return mast_buf_append(ctx, data, size) == MAST_OK ? 0 : -1;
}

mast_status mast_json_dump(const json_t *value, int pretty, mast_buf *b)
{
    /* 10 significant digits: a score or a duration, not a round trip of the double */
    size_t flags = JSON_ENCODE_ANY | JSON_REAL_PRECISION(10) | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
    if (json_dump_callback(value, dump_cb, b, flags) != 0)
        return mast_fail(MAST_ERR_NOMEM, "cannot serialise JSON");
    return MAST_OK;
}

mast_status mast_json_escape(mast_buf *b, const char *s, size_t n)
{
    char *fixed = NULL;
    size_t fixed_len;
    if (!mast_utf8_valid(s, n, NULL)) {
        MAST_TRY(mast_utf8_repair(s, n, &fixed, &fixed_len, NULL));
        s = fixed;
        n = fixed_len;
    }
    mast_status st = mast_buf_putc(b, '"');
    size_t run = 0;   /* bytes copied as they are, up to i */
    for (size_t i = 0; i < n && st == MAST_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        st = mast_buf_append(b, s + run, i - run);
        char esc[8];
        int k = c == '"' ? snprintf(esc, sizeof esc, "\\\"") : c == '\\' ? snprintf(esc, sizeof esc, "\\\\")
              : c == '\n' ? snprintf(esc, sizeof esc, "\\n") : c == '\t' ? snprintf(esc, sizeof esc, "\\t")
              : c == '\r' ? snprintf(esc, sizeof esc, "\\r")
              : c == 0 ? snprintf(esc, sizeof esc, "\\ufffd")   /* jansson refuses \u0000 */
              : snprintf(esc, sizeof esc, "\\u%04x", c);
        if (st == MAST_OK)
            st = mast_buf_append(b, esc, (size_t)k);
        run = i + 1;
    }
    if (st == MAST_OK)
        st = mast_buf_append(b, s + run, n - run);
    if (st == MAST_OK)
        st = mast_buf_putc(b, '"');
    free(fixed);
    return st;
}

json_t *mast_json_string_lossy(const char *s)
{
    if (!s)
        return json_string("");
    size_t len = strlen(s);
    if (mast_utf8_valid(s, len, NULL))
        return json_stringn(s, len);
    char *fixed;
    size_t fixed_len;
    if (mast_utf8_repair(s, len, &fixed, &fixed_len, NULL) != MAST_OK)
        return json_string("");
    json_t *v = json_stringn(fixed, fixed_len);
    free(fixed);
    return v;
}

mast_status mast_json_check_fields(const json_t *obj, const char *const *allowed, const char *what)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
        (void)value;
        int known = 0;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (known)
            continue;
        mast_buf list = {0};
        for (size_t i = 0; allowed[i]; i++)
            mast_buf_printf(&list, "%s%s", i ? ", " : "", allowed[i]);
        mast_status st = mast_fail(MAST_ERR_INVALID, "%s: unknown field \"%s\" (known: %s)", what,
                                   key, list.data ? list.data : "none");
        mast_buf_free(&list);
        return st;
    }
    return MAST_OK;
}

mast_status mast_json_vector(const json_t *v, const char *what, size_t max, float **out,
                             size_t *dim)
{
    *out = NULL;
    *dim = 0;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return mast_fail(MAST_ERR_INVALID, "\"%s\" must be a non-empty array of numbers", what);
    size_t n = json_array_size(v);
    if (n > max)
        return mast_fail(MAST_ERR_INVALID, "\"%s\" has %zu numbers, more than the limit of %zu",
                         what, n, max);
    float *f = malloc(n * sizeof *f);
    if (!f)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(v, i);
        double d = json_is_number(x) ? json_number_value(x) : NAN;
        if (!isfinite(d) || fabs(d) > 3.4e38) {   /* a float's range */
            free(f);
            return mast_fail(MAST_ERR_INVALID, "\"%s\"[%zu] is not a finite number", what, i);
        }
        f[i] = (float)d;
    }
    double norm2 = 0;   /* a metric must be computable: no overflow to infinity */
    for (size_t i = 0; i < n; i++)
        norm2 += (double)f[i] * f[i];
    if (!isfinite(norm2) || norm2 > 3.4e38) {
        free(f);
        return mast_fail(MAST_ERR_INVALID, "\"%s\" is too large in magnitude (its squared "
                         "length overflows a float)", what);
    }
    *out = f;
    *dim = n;
    return MAST_OK;
}
