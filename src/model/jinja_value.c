/*
** model/jinja_value.c — the Jinja interpreter's values.
**
** Values behave as their Python counterparts do in Jinja2: str() and
** repr() as Python prints them ("None", "True", "['a', 1]", "1.0"),
** equality across int/float/bool, ordering only where Python orders.
** tojson is json.dumps(x, ensure_ascii=False) as transformers defines it
** (separators ", " and ": ", or "," and ": " with indent).
**
** The filters, tests and globals are in jinja_filters.c, the methods in
** jinja_methods.c.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/utf8.h"
#include "model/jinja_impl.h"

/* ---- constructors ---- */

jv jv_undef(jctx *c, const char *fmt, ...)
{
    char tmp[300];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1;
    char *p = jalloc(c, len + 1);
    memcpy(p, tmp, len);
    p[len] = 0;
    jv v = {.k = JV_UNDEF};
    v.u.s.p = p;
    v.u.s.n = len;
    return v;
}

jv jv_none(void) { return (jv){.k = JV_NONE}; }
jv jv_bool(bool b) { jv v = {.k = JV_BOOL}; v.u.b = b; return v; }
jv jv_int(int64_t i) { jv v = {.k = JV_INT}; v.u.i = i; return v; }
jv jv_float(double f) { jv v = {.k = JV_FLOAT}; v.u.f = f; return v; }

jv jv_str(const char *p, size_t n)
{
    jv v = {.k = JV_STR};
    v.u.s.p = p;
    v.u.s.n = n;
    return v;
}

jv jv_strdup(jctx *c, const char *p, size_t n)
{
    char *s = jalloc(c, n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    return jv_str(s, n);
}

jv jv_sb(const sbuf *b) { return jv_str(b->p ? b->p : "", b->n); }

jv jv_list(jctx *c)
{
    jv v = {.k = JV_LIST};
    v.u.l = jalloc(c, sizeof *v.u.l);
    memset(v.u.l, 0, sizeof *v.u.l);
    return v;
}

jv jv_dict(jctx *c)
{
    jv v = {.k = JV_DICT};
    v.u.d = jalloc(c, sizeof *v.u.d);
    memset(v.u.d, 0, sizeof *v.u.d);
    return v;
}

void jl_push(jctx *c, jlist *l, jv v)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        jv *nv = jalloc(c, cap * sizeof *nv);
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
}

jv *jd_get(const jdict *d, const char *key, size_t n)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->key[i].k == JV_STR && d->key[i].u.s.n == n && memcmp(d->key[i].u.s.p, key, n) == 0)
            return &d->val[i];
    return NULL;
}

jv *jd_find(const jdict *d, jv key)
{
    if (key.k == JV_STR)
        return jd_get(d, key.u.s.p, key.u.s.n);
    for (size_t i = 0; i < d->n; i++)
        if (jv_equal(d->key[i], key))
            return &d->val[i];
    return NULL;
}

void jd_set(jctx *c, jdict *d, jv key, jv val)
{
    jv *old = jd_find(d, key);
    if (old) {
        *old = val;
        return;
    }
    jgrow2(c, (void **)&d->key, sizeof *d->key, (void **)&d->val, sizeof *d->val, d->n, &d->cap);
    d->key[d->n] = key;
    d->val[d->n++] = val;
}

/* ---- Python semantics ---- */

const char *jv_type_name(jv v)
{
    switch (v.k) {
    case JV_UNDEF: return "Undefined";
    case JV_NONE: return "NoneType";
    case JV_BOOL: return "bool";
    case JV_INT: return "int";
    case JV_FLOAT: return "float";
    case JV_STR: return "str";
    case JV_LIST: return v.tuple ? "tuple" : "list";
    case JV_DICT: return "dict";
    case JV_NS: return "Namespace";
    case JV_MACRO: return "Macro";
    default: return "function";
    }
}

bool jv_truthy(jv v)
{
    switch (v.k) {
    case JV_UNDEF:
    case JV_NONE: return false;
    case JV_BOOL: return v.u.b;
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0;
    case JV_STR: return v.u.s.n > 0;
    case JV_LIST: return v.u.l->n > 0;
    case JV_DICT: return v.u.d->n > 0;
    default: return true;
    }
}

static bool is_num(jv v) { return v.k == JV_INT || v.k == JV_FLOAT || v.k == JV_BOOL; }

static double as_double(jv v)
{
    return v.k == JV_INT ? (double)v.u.i : v.k == JV_FLOAT ? v.u.f : v.u.b;
}

bool jv_equal(jv a, jv b)
{
    if (is_num(a) && is_num(b)) {
        if (a.k != JV_FLOAT && b.k != JV_FLOAT)
            return (a.k == JV_INT ? a.u.i : a.u.b) == (b.k == JV_INT ? b.u.i : b.u.b);
        return as_double(a) == as_double(b);
    }
    if (a.k != b.k)
        return false;
    switch (a.k) {
    case JV_UNDEF:
    case JV_NONE: return true;
    case JV_STR: return a.u.s.n == b.u.s.n && memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
    case JV_LIST:
        if (a.u.l->n != b.u.l->n || a.tuple != b.tuple)
            return false;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!jv_equal(a.u.l->v[i], b.u.l->v[i]))
                return false;
        return true;
    case JV_DICT:
        if (a.u.d->n != b.u.d->n)
            return false;
        for (size_t i = 0; i < a.u.d->n; i++) {
            jv *o = jd_find(b.u.d, a.u.d->key[i]);
            if (!o || !jv_equal(a.u.d->val[i], *o))
                return false;
        }
        return true;
    default: return a.u.d == b.u.d;
    }
}

int jv_compare(jctx *c, jv a, jv b, const char *op)
{
    if (a.k == JV_UNDEF)
        jv_raise_undef(c, a);
    if (b.k == JV_UNDEF)
        jv_raise_undef(c, b);
    if (is_num(a) && is_num(b)) {
        double x = as_double(a), y = as_double(b);
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.k == JV_STR && b.k == JV_STR) {
        size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        int r = memcmp(a.u.s.p, b.u.s.p, n);
        return r ? r : a.u.s.n < b.u.s.n ? -1 : a.u.s.n > b.u.s.n ? 1 : 0;
    }
    if (a.k == JV_LIST && b.k == JV_LIST) {
        for (size_t i = 0; i < a.u.l->n && i < b.u.l->n; i++)
            if (!jv_equal(a.u.l->v[i], b.u.l->v[i]))
                return jv_compare(c, a.u.l->v[i], b.u.l->v[i], op);
        return a.u.l->n < b.u.l->n ? -1 : a.u.l->n > b.u.l->n ? 1 : 0;
    }
    jfail(c, "'%s' not supported between instances of '%s' and '%s'", op, jv_type_name(a),
          jv_type_name(b));
}

_Noreturn void jv_raise_undef(jctx *c, jv v)
{
    jfail(c, "%.*s", (int)v.u.s.n, v.u.s.p);
}

void fmt_float(char *out, size_t cap, double f)
{
    if (isnan(f)) {
        snprintf(out, cap, "nan");
        return;
    }
    if (isinf(f)) {
        snprintf(out, cap, f < 0 ? "-inf" : "inf");
        return;
    }
    char e[40];
    int p = 1;
    for (; p < 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, f);
        if (strtod(e, NULL) == f)
            break;
    }
    snprintf(e, sizeof e, "%.*e", p - 1, f);
    /* e: [-]d.ddde±XX → digits and exponent */
    char digits[24];
    size_t nd = 0;
    const char *s = e;
    bool neg = *s == '-';
    if (neg)
        s++;
    for (; *s && *s != 'e'; s++)
        if (*s != '.')
            digits[nd++] = *s;
    digits[nd] = 0;
    int exp = atoi(s + 1);
    char *o = out;
    size_t left = cap;
#define PUT(...) do { int k_ = snprintf(o, left, __VA_ARGS__); if (k_ > 0 && (size_t)k_ < left) { o += k_; left -= (size_t)k_; } } while (0)
    if (neg)
        PUT("-");
    if (exp < -4 || exp >= 16) {
        PUT("%c", digits[0]);
        if (nd > 1)
            PUT(".%s", digits + 1);
        PUT("e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        PUT("0.");
        for (int i = -1; i > exp; i--)
            PUT("0");
        PUT("%s", digits);
    } else {
        for (int i = 0; i <= exp; i++)
            PUT("%c", (size_t)i < nd ? digits[i] : '0');
        PUT(".");
        if ((size_t)exp + 1 < nd)
            PUT("%s", digits + exp + 1);
        else
            PUT("0");
    }
#undef PUT
}

static void repr_str(jctx *c, sbuf *b, const char *p, size_t n)
{
    bool has_sq = memchr(p, '\'', n) != NULL, has_dq = memchr(p, '"', n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    sb_put(c, b, &q, 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\\' || ch == (unsigned char)q) {
            sb_put(c, b, "\\", 1);
            sb_put(c, b, p + i, 1);
        } else if (ch == '\n') {
            sb_puts(c, b, "\\n");
        } else if (ch == '\r') {
            sb_puts(c, b, "\\r");
        } else if (ch == '\t') {
            sb_puts(c, b, "\\t");
        } else if (ch < 0x20 || ch == 0x7f) {
            sb_printf(c, b, "\\x%02x", ch);
        } else {
            sb_put(c, b, p + i, 1);
        }
    }
    sb_put(c, b, &q, 1);
}

void jv_repr_to(jctx *c, sbuf *b, jv v)
{
    switch (v.k) {
    case JV_STR:
        repr_str(c, b, v.u.s.p, v.u.s.n);
        break;
    case JV_UNDEF:
        sb_puts(c, b, "Undefined");
        break;
    case JV_LIST:
        sb_puts(c, b, v.tuple ? "(" : "[");
        for (size_t i = 0; i < v.u.l->n; i++) {
            if (i)
                sb_puts(c, b, ", ");
            jv_repr_to(c, b, v.u.l->v[i]);
        }
        if (v.tuple && v.u.l->n == 1)
            sb_puts(c, b, ",");
        sb_puts(c, b, v.tuple ? ")" : "]");
        break;
    case JV_DICT:
    case JV_NS:
        if (v.k == JV_NS)
            sb_puts(c, b, "<Namespace ");
        sb_puts(c, b, "{");
        for (size_t i = 0; i < v.u.d->n; i++) {
            if (i)
                sb_puts(c, b, ", ");
            jv_repr_to(c, b, v.u.d->key[i]);
            sb_puts(c, b, ": ");
            jv_repr_to(c, b, v.u.d->val[i]);
        }
        sb_puts(c, b, v.k == JV_NS ? "}>" : "}");
        break;
    default:
        jv_str_to(c, b, v);
    }
}

void jv_str_to(jctx *c, sbuf *b, jv v)
{
    char num[40];
    switch (v.k) {
    case JV_UNDEF: break;
    case JV_NONE: sb_puts(c, b, "None"); break;
    case JV_BOOL: sb_puts(c, b, v.u.b ? "True" : "False"); break;
    case JV_INT: sb_printf(c, b, "%lld", (long long)v.u.i); break;
    case JV_FLOAT: fmt_float(num, sizeof num, v.u.f); sb_puts(c, b, num); break;
    case JV_STR: sb_put(c, b, v.u.s.p, v.u.s.n); break;
    case JV_MACRO: sb_printf(c, b, "<Macro '%s'>", v.u.m->def->s); break;
    case JV_FUNC:
    case JV_METHOD: sb_puts(c, b, "<built-in function>"); break;
    default: jv_repr_to(c, b, v);
    }
}

jv jv_to_str(jctx *c, jv v)
{
    if (v.k == JV_STR)
        return v;
    if (v.k == JV_UNDEF)
        return jv_str("", 0);
    sbuf b = {0};
    sb_put(c, &b, "", 0);
    jv_str_to(c, &b, v);
    return jv_sb(&b);
}

jv jv_escape(jctx *c, jv v)
{
    jv s = jv_to_str(c, v);
    sbuf b = {0};
    sb_put(c, &b, "", 0);
    for (size_t i = 0; i < s.u.s.n; i++) {
        char ch = s.u.s.p[i];
        const char *e = ch == '&' ? "&amp;" : ch == '<' ? "&lt;" : ch == '>' ? "&gt;"
                      : ch == '"' ? "&#34;" : ch == '\'' ? "&#39;" : NULL;
        if (e)
            sb_puts(c, &b, e);
        else
            sb_put(c, &b, &ch, 1);
    }
    jv out = jv_sb(&b);
    out.safe = true;
    return out;
}

static size_t cp_count(const char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)p[i] & 0xC0) != 0x80;
    return k;
}

size_t jv_len(jctx *c, jv v)
{
    switch (v.k) {
    case JV_UNDEF: return 0;
    case JV_STR: return cp_count(v.u.s.p, v.u.s.n);
    case JV_LIST: return v.u.l->n;
    case JV_DICT:
    case JV_NS: return v.u.d->n;
    default: jfail(c, "object of type '%s' has no len()", jv_type_name(v));
    }
}

jlist *jv_iter(jctx *c, jv v)
{
    if (v.k == JV_LIST)
        return v.u.l;
    jv out = jv_list(c);
    if (v.k == JV_DICT) {
        for (size_t i = 0; i < v.u.d->n; i++)
            jl_push(c, out.u.l, v.u.d->key[i]);
    } else if (v.k == JV_STR) {
        for (size_t i = 0; i < v.u.s.n;) {
            int32_t cp;
            size_t k = mast_utf8_decode(v.u.s.p + i, v.u.s.n - i, &cp);
            jl_push(c, out.u.l, jv_str(v.u.s.p + i, k));
            i += k;
        }
    } else if (v.k != JV_UNDEF) {
        jfail(c, "'%s' object is not iterable", jv_type_name(v));
    }
    return out.u.l;
}

jv jv_from_json(jctx *c, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        jv d = jv_dict(c);
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)j, key, v)
            jd_set(c, d.u.d, jv_str(key, strlen(key)), jv_from_json(c, v));
        return d;
    }
    case JSON_ARRAY: {
        jv l = jv_list(c);
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
            jl_push(c, l.u.l, jv_from_json(c, v));
        return l;
    }
    case JSON_STRING: return jv_str(json_string_value(j), json_string_length(j));
    case JSON_INTEGER: return jv_int(json_integer_value(j));
    case JSON_REAL: return jv_float(json_real_value(j));
    case JSON_TRUE: return jv_bool(true);
    case JSON_FALSE: return jv_bool(false);
    default: return jv_none();
    }
}

static void json_str(jctx *c, sbuf *b, const char *p, size_t n, bool ascii)
{
    sb_put(c, b, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char ch = (unsigned char)p[i];
        const char *esc = ch == '"' ? "\\\"" : ch == '\\' ? "\\\\" : ch == '\n' ? "\\n"
                        : ch == '\r' ? "\\r" : ch == '\t' ? "\\t" : ch == '\b' ? "\\b"
                        : ch == '\f' ? "\\f" : NULL;
        if (esc) {
            sb_puts(c, b, esc);
            i++;
        } else if (ch < 0x20 || (ascii && ch == 0x7f)) {
            sb_printf(c, b, "\\u%04x", ch);
            i++;
        } else if (ch >= 0x80 && ascii) {
            int32_t cp;
            i += mast_utf8_decode(p + i, n - i, &cp);
            if (cp < 0)
                cp = 0xFFFD;
            if (cp >= 0x10000)
                sb_printf(c, b, "\\u%04x\\u%04x", 0xD800 + ((cp - 0x10000) >> 10),
                          0xDC00 + ((cp - 0x10000) & 0x3FF));
            else
                sb_printf(c, b, "\\u%04x", cp);
        } else {
            sb_put(c, b, p + i, 1);
            i++;
        }
    }
    sb_put(c, b, "\"", 1);
}

static void newline_indent(jctx *c, sbuf *b, int indent, int level)
{
    sb_put(c, b, "\n", 1);
    for (int i = 0; i < indent * level; i++)
        sb_put(c, b, " ", 1);
}

static int key_order(const void *x, const void *y)
{
    const jv *a = *(const jv *const *)x, *b = *(const jv *const *)y;
    size_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
    int r = memcmp(a->u.s.p, b->u.s.p, n);
    return r ? r : (a->u.s.n > b->u.s.n) - (a->u.s.n < b->u.s.n);
}

void jv_tojson(jctx *c, sbuf *b, jv v, int indent, const char *item_sep, const char *key_sep,
               bool sort_keys, bool ascii, int level)
{
    char num[40];
    if (level > 200)
        jfail(c, "tojson: nested deeper than 200");
    switch (v.k) {
    case JV_NONE: sb_puts(c, b, "null"); return;
    case JV_BOOL: sb_puts(c, b, v.u.b ? "true" : "false"); return;
    case JV_INT: sb_printf(c, b, "%lld", (long long)v.u.i); return;
    case JV_FLOAT:
        if (isnan(v.u.f))
            sb_puts(c, b, "NaN");
        else if (isinf(v.u.f))
            sb_puts(c, b, v.u.f < 0 ? "-Infinity" : "Infinity");
        else {
            fmt_float(num, sizeof num, v.u.f);
            sb_puts(c, b, num);
        }
        return;
    case JV_STR: json_str(c, b, v.u.s.p, v.u.s.n, ascii); return;
    case JV_LIST:
        if (v.u.l->n == 0) {
            sb_puts(c, b, "[]");
            return;
        }
        sb_puts(c, b, "[");
        for (size_t i = 0; i < v.u.l->n; i++) {
            if (i)
                sb_puts(c, b, item_sep);
            if (indent >= 0)
                newline_indent(c, b, indent, level + 1);
            jv_tojson(c, b, v.u.l->v[i], indent, item_sep, key_sep, sort_keys, ascii, level + 1);
        }
        if (indent >= 0)
            newline_indent(c, b, indent, level);
        sb_puts(c, b, "]");
        return;
    case JV_DICT: {
        size_t n = v.u.d->n;
        if (n == 0) {
            sb_puts(c, b, "{}");
            return;
        }
        jv *keys = jalloc(c, n * sizeof *keys);
        for (size_t i = 0; i < n; i++) {
            jv k = v.u.d->key[i];
            if (k.k == JV_BOOL)
                k = jv_str(k.u.b ? "true" : "false", k.u.b ? 4 : 5);
            else if (k.k == JV_NONE)
                k = jv_str("null", 4);
            else if (k.k == JV_INT || k.k == JV_FLOAT)
                k = jv_to_str(c, k);
            else if (k.k != JV_STR)
                jfail(c, "keys must be str, int, float, bool or None, not %s", jv_type_name(k));
            keys[i] = k;
        }
        const jv **order = jalloc(c, n * sizeof *order);
        for (size_t i = 0; i < n; i++)
            order[i] = &keys[i];
        if (sort_keys)
            qsort(order, n, sizeof *order, key_order);
        sb_puts(c, b, "{");
        for (size_t i = 0; i < n; i++) {
            size_t at = (size_t)(order[i] - keys);
            if (i)
                sb_puts(c, b, item_sep);
            if (indent >= 0)
                newline_indent(c, b, indent, level + 1);
            json_str(c, b, keys[at].u.s.p, keys[at].u.s.n, ascii);
            sb_puts(c, b, key_sep);
            jv_tojson(c, b, v.u.d->val[at], indent, item_sep, key_sep, sort_keys, ascii, level + 1);
        }
        if (indent >= 0)
            newline_indent(c, b, indent, level);
        sb_puts(c, b, "}");
        return;
    }
    default:
        jfail(c, "Object of type %s is not JSON serializable", jv_type_name(v));
    }
}
