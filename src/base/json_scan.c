/*
** base/json_scan.c — JSON checked and top-level members located (see
** json_scan.h).
*/
#include "base/json_scan.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

#define MAX_DEPTH 2048

typedef struct scanner {
    const char *p, *end;
    int depth;
} scanner;

static void skip_ws(scanner *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A string at s->p (the opening quote); *escaped: it has a backslash. */
static bool scan_string(scanner *s, bool *escaped)
{
    const char *p = s->p + 1;
    *escaped = false;
    for (;;) {
        if (p >= s->end)
            return false;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c < 0x20)
            return false;
        if (c >= 0x80) {   /* the UTF-8 run up to the next ASCII byte */
            const char *q = p;
            while (q < s->end && (unsigned char)*q >= 0x80)
                q++;
            if (!mast_utf8_valid(p, (size_t)(q - p), NULL))
                return false;
            p = q;
            continue;
        }
        if (c == '\\') {
            *escaped = true;
            if (p + 1 >= s->end)
                return false;
            char e = p[1];
            if (e == 'u') {
                if (s->end - p < 6)
                    return false;
                int u = hex4(p + 2);
                if (u <= 0)   /* not hex, or \u0000 (jansson refuses it) */
                    return false;
                p += 6;
                if (u >= 0xDC00 && u <= 0xDFFF)
                    return false;   /* a lone low surrogate */
                if (u >= 0xD800 && u <= 0xDBFF) {   /* a high one needs its low one */
                    if (s->end - p < 6 || p[0] != '\\' || p[1] != 'u')
                        return false;
                    int l = hex4(p + 2);
                    if (l < 0xDC00 || l > 0xDFFF)
                        return false;
                    p += 6;
                }
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || !e)
                return false;
            p += 2;
            continue;
        }
        p++;
    }
    s->p = p + 1;
    return true;
}

static bool scan_number(scanner *s)
{
    const char *p = s->p, *start = p;
    bool real = false;
    if (p < s->end && *p == '-')
        p++;
    if (p >= s->end)
        return false;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    else
        return false;
    if (p < s->end && *p == '.') {
        real = true;
        p++;
        if (p >= s->end || *p < '0' || *p > '9')
            return false;
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < s->end && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        if (p < s->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= s->end || *p < '0' || *p > '9')
            return false;
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    }
    char buf[64];
    size_t n = (size_t)(p - start);
    s->p = p;
    if (!real) {   /* jansson: an integer beyond int64 is an error */
        if (n < 19)
            return true;
        if (n >= sizeof buf)
            return false;
        memcpy(buf, start, n);
        buf[n] = 0;
        errno = 0;
        (void)strtoll(buf, NULL, 10);
        return errno != ERANGE;
    }
    /* jansson: a real that overflows is an error (one that underflows is 0) */
    char *copy = n < sizeof buf ? buf : malloc(n + 1);
    if (!copy)
        return false;
    memcpy(copy, start, n);
    copy[n] = 0;
    double d = strtod(copy, NULL);
    if (copy != buf)
        free(copy);
    return isfinite(d);
}

static bool scan_value(scanner *s);

static bool scan_literal(scanner *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n))
        return false;
    s->p += n;
    return true;
}

static bool scan_container(scanner *s, char close)
{
    if (++s->depth > MAX_DEPTH)
        return false;
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return true;
    }
    for (;;) {
        if (close == '}') {
            bool esc;
            if (s->p >= s->end || *s->p != '"' || !scan_string(s, &esc))
                return false;
            skip_ws(s);
            if (s->p >= s->end || *s->p != ':')
                return false;
            s->p++;
        }
        if (!scan_value(s))
            return false;
        skip_ws(s);
        if (s->p >= s->end)
            return false;
        if (*s->p == close) {
            s->p++;
            s->depth--;
            return true;
        }
        if (*s->p != ',')
            return false;
        s->p++;
        skip_ws(s);
    }
}

static bool scan_value(scanner *s)
{
    skip_ws(s);
    if (s->p >= s->end)
        return false;
    bool esc;
    switch (*s->p) {
    case '{': return scan_container(s, '}');
    case '[': return scan_container(s, ']');
    case '"': return scan_string(s, &esc);
    case 't': return scan_literal(s, "true", 4);
    case 'f': return scan_literal(s, "false", 5);
    case 'n': return scan_literal(s, "null", 4);
    default: return scan_number(s);
    }
}

bool mast_json_scan_object(const char *text, size_t len, const char *const *keys, size_t n,
                           mast_json_span *spans, bool *escaped_key)
{
    scanner s = {text, text + len, 1};
    for (size_t i = 0; i < n; i++)
        spans[i] = (mast_json_span){0, 0, 0};
    if (escaped_key)
        *escaped_key = false;
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{')
        return false;
    s.p++;
    skip_ws(&s);
    if (s.p < s.end && *s.p == '}') {
        s.p++;
    } else {
        for (;;) {
            bool esc;
            const char *key = s.p + 1;
            if (s.p >= s.end || *s.p != '"' || !scan_string(&s, &esc))
                return false;
            size_t key_len = (size_t)(s.p - 1 - key);
            if (esc && escaped_key)
                *escaped_key = true;
            skip_ws(&s);
            if (s.p >= s.end || *s.p != ':')
                return false;
            s.p++;
            skip_ws(&s);
            const char *value = s.p;
            if (!scan_value(&s))
                return false;
            for (size_t i = 0; i < n && !esc; i++)
                if (strlen(keys[i]) == key_len && !memcmp(keys[i], key, key_len)) {
                    spans[i].at = (size_t)(value - text);
                    spans[i].len = (size_t)(s.p - value);
                    spans[i].count++;
                }
            skip_ws(&s);
            if (s.p >= s.end)
                return false;
            if (*s.p == '}') {
                s.p++;
                break;
            }
            if (*s.p != ',')
                return false;
            s.p++;
            skip_ws(&s);
        }
    }
    skip_ws(&s);
    return s.p == s.end;
}
