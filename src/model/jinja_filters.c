/*
** model/jinja_filters.c — the Jinja interpreter's filters, tests, methods
** and globals, each as Jinja2 3.1 and Python 3 define it.
**
** Filters: abs capitalize count d default dictsort e escape first float
**   indent int items join last length list lower map max min reject
**   rejectattr replace reverse safe select selectattr sort string sum
**   title tojson trim unique upper wordcount
** Tests: boolean callable defined divisibleby eq equalto even false float
**   ge greaterthan gt in integer iterable le lessthan lower lt mapping ne
**   none number odd sameas sequence string true undefined upper, and
**   == != < <= > >=
** Methods: str: capitalize count endswith find join lower lstrip replace
**   rsplit rstrip split splitlines startswith strip title upper;
**   list: append count extend index insert pop;
**   dict: copy get items keys pop setdefault update values
** Globals: dict namespace raise_exception range strftime_now
*/
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/utf8.h"
#include "model/jinja_impl.h"

#define MAX_RANGE 1000000

const jv *jarg(const jargs *a, size_t index, const char *name)
{
    if (index < a->n_pos)
        return &a->pos[index];
    for (size_t i = 0; name && i < a->n_kw; i++)
        if (strcmp(a->kwnames[i], name) == 0)
            return &a->kw[i];
    return NULL;
}

static double as_number(jv v)
{
    return v.k == JV_INT ? (double)v.u.i : v.k == JV_FLOAT ? v.u.f : v.k == JV_BOOL ? v.u.b : 0;
}

/* A NUL-terminated copy (slices of other strings are not terminated). */
static const char *cstr(jctx *c, jv s)
{
    return jv_strdup(c, s.u.s.p, s.u.s.n).u.s.p;
}

static bool arg_bool(const jargs *a, size_t i, const char *name, bool dflt)
{
    const jv *v = jarg(a, i, name);
    return v ? jv_truthy(*v) : dflt;
}

static jv need_str(jctx *c, const jv *v, const char *what)
{
    if (!v)
        jfail(c, "%s: missing argument", what);
    if (v->k == JV_UNDEF)
        jv_raise_undef(c, *v);
    if (v->k != JV_STR)
        jfail(c, "%s: expected a string, got %s", what, jv_type_name(*v));
    return *v;
}

static int64_t need_int(jctx *c, const jv *v, const char *what)
{
    if (!v)
        jfail(c, "%s: missing argument", what);
    if (v->k == JV_INT)
        return v->u.i;
    if (v->k == JV_BOOL)
        return v->u.b;
    if (v->k == JV_UNDEF)
        jv_raise_undef(c, *v);
    jfail(c, "%s: expected an integer, got %s", what, jv_type_name(*v));
}

/* ---- strings ---- */

/* The code point at p[i..n) and its length; Python's str.isspace. */
static size_t space_at(const char *p, size_t n, size_t i)
{
    unsigned char ch = (unsigned char)p[i];
    if (ch < 0x80)
        return (ch == ' ' || (ch >= 0x09 && ch <= 0x0d) || (ch >= 0x1c && ch <= 0x1f)) ? 1 : 0;
    int32_t cp;
    size_t k = mast_utf8_decode(p + i, n - i, &cp);
    bool sp = cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
              cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
    return sp ? k : 0;
}

static size_t cp_count_prefix(const char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)p[i] & 0xC0) != 0x80;
    return k;
}

static size_t char_len(const char *p, size_t n, size_t i)
{
    int32_t cp;
    return mast_utf8_decode(p + i, n - i, &cp);
}

static bool in_chars(const char *p, size_t i, size_t k, jv chars)
{
    for (size_t j = 0; j < chars.u.s.n;) {
        size_t l = char_len(chars.u.s.p, chars.u.s.n, j);
        if (l == k && memcmp(chars.u.s.p + j, p + i, k) == 0)
            return true;
        j += l;
    }
    return false;
}

/* Python's str.strip/lstrip/rstrip: which 1 left, 2 right, 3 both. */
static jv strip(jctx *c, jv s, const jv *chars, int which)
{
    const char *p = s.u.s.p;
    size_t n = s.u.s.n, lo = 0, hi = n;
    bool custom = chars && chars->k != JV_NONE;
    if (custom)
        need_str(c, chars, "strip");
    if (which & 1)
        while (lo < hi) {
            size_t k = custom ? (in_chars(p, lo, char_len(p, n, lo), *chars)
                                     ? char_len(p, n, lo) : 0)
                              : space_at(p, n, lo);
            if (!k)
                break;
            lo += k;
        }
    if (which & 2)
        while (hi > lo) {
            size_t b = hi - 1;
            while (b > lo && ((unsigned char)p[b] & 0xC0) == 0x80)
                b--;
            size_t k = custom ? (in_chars(p, b, hi - b, *chars) ? hi - b : 0)
                              : (space_at(p, n, b) == hi - b ? hi - b : 0);
            if (!k)
                break;
            hi = b;
        }
    return jv_str(p + lo, hi - lo);
}

static jv split(jctx *c, jv s, const jv *sepv, const jv *maxv, bool right)
{
    jv out = jv_list(c);
    int64_t max = maxv && maxv->k != JV_NONE ? need_int(c, maxv, "split") : -1;
    const char *p = s.u.s.p;
    size_t n = s.u.s.n;
    if (!sepv || sepv->k == JV_NONE) {   /* runs of white space; none at the ends */
        size_t i = 0;
        int64_t done = 0;
        (void)right;
        while (i < n) {
            size_t k;
            while (i < n && (k = space_at(p, n, i)))
                i += k;
            if (i >= n)
                break;
            size_t start = i;
            if (max >= 0 && done == max) {
                jv rest = strip(c, jv_str(p + start, n - start), NULL, 2);
                jl_push(c, out.u.l, rest);
                break;
            }
            while (i < n && !space_at(p, n, i))
                i += char_len(p, n, i);
            jl_push(c, out.u.l, jv_str(p + start, i - start));
            done++;
        }
        return out;
    }
    jv sep = need_str(c, sepv, "split");
    if (sep.u.s.n == 0)
        jfail(c, "empty separator");
    if (right && max >= 0) {   /* rsplit with a limit: split from the end */
        jv parts = jv_list(c);
        size_t hi = n;
        int64_t done = 0;
        for (size_t i = n; i >= sep.u.s.n && done < max;) {
            if (memcmp(p + i - sep.u.s.n, sep.u.s.p, sep.u.s.n) == 0) {
                jl_push(c, parts.u.l, jv_str(p + i, hi - i));
                i -= sep.u.s.n;
                hi = i;
                done++;
            } else {
                i--;
            }
        }
        jl_push(c, parts.u.l, jv_str(p, hi));
        for (size_t i = parts.u.l->n; i-- > 0;)
            jl_push(c, out.u.l, parts.u.l->v[i]);
        return out;
    }
    size_t start = 0;
    int64_t done = 0;
    for (size_t i = 0; i + sep.u.s.n <= n;) {
        if ((max < 0 || done < max) && memcmp(p + i, sep.u.s.p, sep.u.s.n) == 0) {
            jl_push(c, out.u.l, jv_str(p + start, i - start));
            i += sep.u.s.n;
            start = i;
            done++;
        } else {
            i++;
        }
    }
    jl_push(c, out.u.l, jv_str(p + start, n - start));
    return out;
}

static jv replace(jctx *c, jv s, jv old, jv new_, int64_t count)
{
    sbuf b = {0};
    sb_put(c, &b, "", 0);
    const char *p = s.u.s.p;
    size_t n = s.u.s.n;
    int64_t done = 0;
    if (old.u.s.n == 0) {   /* Python inserts new between every character */
        for (size_t i = 0; i <= n;) {
            if (count < 0 || done < count) {
                sb_put(c, &b, new_.u.s.p, new_.u.s.n);
                done++;
            }
            if (i == n)
                break;
            size_t k = char_len(p, n, i);
            sb_put(c, &b, p + i, k);
            i += k;
        }
        return jv_sb(&b);
    }
    size_t i = 0;
    while (i < n) {
        if (i + old.u.s.n <= n && (count < 0 || done < count) &&
            memcmp(p + i, old.u.s.p, old.u.s.n) == 0) {
            sb_put(c, &b, new_.u.s.p, new_.u.s.n);
            i += old.u.s.n;
            done++;
        } else {
            sb_put(c, &b, p + i, 1);
            i++;
        }
    }
    return jv_sb(&b);
}

/* lower 0, upper 1, title 2, capitalize 3 (ASCII letters; others kept) */
static jv recase(jctx *c, jv s, int how)
{
    char *o = jalloc(c, s.u.s.n + 1);
    bool word_start = true;
    for (size_t i = 0; i < s.u.s.n; i++) {
        unsigned char ch = (unsigned char)s.u.s.p[i];
        bool up = how == 1 || ((how == 2 || how == 3) && word_start);
        o[i] = (char)(isalpha(ch) ? (up ? toupper(ch) : tolower(ch)) : ch);
        if (how == 2)
            word_start = !isalpha(ch) && ch < 0x80;
        else if (how == 3)
            word_start = false;
    }
    o[s.u.s.n] = 0;
    return jv_str(o, s.u.s.n);
}

static bool affix(jctx *c, jv s, const jv *arg, bool end)
{
    if (arg && arg->k == JV_LIST) {
        for (size_t i = 0; i < arg->u.l->n; i++)
            if (affix(c, s, &arg->u.l->v[i], end))
                return true;
        return false;
    }
    jv a = need_str(c, arg, end ? "endswith" : "startswith");
    if (a.u.s.n > s.u.s.n)
        return false;
    return memcmp(s.u.s.p + (end ? s.u.s.n - a.u.s.n : 0), a.u.s.p, a.u.s.n) == 0;
}

static jv join(jctx *c, jv seq, jv sep, const jv *attr)
{
    jlist *items = jv_iter(c, seq);
    sbuf b = {0};
    sb_put(c, &b, "", 0);
    for (size_t i = 0; i < items->n; i++) {
        if (i)
            sb_put(c, &b, sep.u.s.p, sep.u.s.n);
        jv v = items->v[i];
        if (attr)
            v = jv_getitem(c, v, *attr);
        jv_str_to(c, &b, v);
    }
    return jv_sb(&b);
}

/* ---- methods ---- */

static const char *const str_methods[] = {
    "capitalize", "count", "endswith", "find", "join", "lower", "lstrip", "replace", "rsplit",
    "rstrip", "split", "splitlines", "startswith", "strip", "title", "upper", NULL};
static const char *const list_methods[] = {"append", "count", "extend", "index", "insert", "pop",
                                           NULL};
static const char *const dict_methods[] = {"copy", "get", "items", "keys", "pop", "setdefault",
                                           "update", "values", NULL};

static bool listed(const char *const *names, const char *name)
{
    for (; *names; names++)
        if (strcmp(*names, name) == 0)
            return true;
    return false;
}

bool jlib_has_method(jv self, const char *name)
{
    return self.k == JV_STR ? listed(str_methods, name)
         : self.k == JV_LIST ? listed(list_methods, name)
         : self.k == JV_DICT ? listed(dict_methods, name) : false;
}

static jv dict_items(jctx *c, jv d)
{
    jv out = jv_list(c);
    for (size_t i = 0; i < d.u.d->n; i++) {
        jv pair = jv_list(c);
        pair.tuple = true;
        jl_push(c, pair.u.l, d.u.d->key[i]);
        jl_push(c, pair.u.l, d.u.d->val[i]);
        jl_push(c, out.u.l, pair);
    }
    return out;
}

static jv str_method(jctx *c, jv s, const char *name, const jargs *a)
{
    if (strcmp(name, "strip") == 0)
        return strip(c, s, jarg(a, 0, "chars"), 3);
    if (strcmp(name, "lstrip") == 0)
        return strip(c, s, jarg(a, 0, "chars"), 1);
    if (strcmp(name, "rstrip") == 0)
        return strip(c, s, jarg(a, 0, "chars"), 2);
    if (strcmp(name, "split") == 0 || strcmp(name, "rsplit") == 0)
        return split(c, s, jarg(a, 0, "sep"), jarg(a, 1, "maxsplit"), name[0] == 'r');
    if (strcmp(name, "startswith") == 0 || strcmp(name, "endswith") == 0)
        return jv_bool(affix(c, s, jarg(a, 0, NULL), name[0] == 'e'));
    if (strcmp(name, "replace") == 0) {
        const jv *cnt = jarg(a, 2, "count");
        return replace(c, s, need_str(c, jarg(a, 0, NULL), "replace"),
                       need_str(c, jarg(a, 1, NULL), "replace"), cnt ? need_int(c, cnt, "replace") : -1);
    }
    if (strcmp(name, "lower") == 0)
        return recase(c, s, 0);
    if (strcmp(name, "upper") == 0)
        return recase(c, s, 1);
    if (strcmp(name, "title") == 0)
        return recase(c, s, 2);
    if (strcmp(name, "capitalize") == 0)
        return recase(c, recase(c, s, 0), 3);
    if (strcmp(name, "join") == 0)
        return join(c, *jarg(a, 0, NULL) , s, NULL);
    if (strcmp(name, "find") == 0 || strcmp(name, "count") == 0) {
        jv sub = need_str(c, jarg(a, 0, NULL), name);
        int64_t found = -1, count = 0;
        for (size_t i = 0; i + sub.u.s.n <= s.u.s.n; i++)
            if (memcmp(s.u.s.p + i, sub.u.s.p, sub.u.s.n) == 0) {
                if (found < 0)
                    found = (int64_t)cp_count_prefix(s.u.s.p, i);
                count++;
                if (sub.u.s.n)
                    i += sub.u.s.n - 1;
            }
        return jv_int(name[0] == 'f' ? found : count);
    }
    if (strcmp(name, "splitlines") == 0) {
        jv out = jv_list(c);
        size_t start = 0, i = 0, n = s.u.s.n;
        while (i < n) {
            char ch = s.u.s.p[i];
            if (ch == '\n' || ch == '\r') {
                jl_push(c, out.u.l, jv_str(s.u.s.p + start, i - start));
                i += (ch == '\r' && i + 1 < n && s.u.s.p[i + 1] == '\n') ? 2 : 1;
                start = i;
            } else {
                i++;
            }
        }
        if (start < n)
            jl_push(c, out.u.l, jv_str(s.u.s.p + start, n - start));
        return out;
    }
    jfail(c, "'str' object has no attribute '%s'", name);
}

static jv list_method(jctx *c, jv l, const char *name, const jargs *a)
{
    jlist *v = l.u.l;
    if (strcmp(name, "append") == 0) {
        const jv *x = jarg(a, 0, NULL);
        if (!x)
            jfail(c, "append() takes exactly one argument (0 given)");
        jl_push(c, v, *x);
        return jv_none();
    }
    if (strcmp(name, "extend") == 0) {
        const jv *x = jarg(a, 0, NULL);
        if (!x)
            jfail(c, "extend() takes exactly one argument (0 given)");
        jlist *items = jv_iter(c, *x);
        size_t n = items->n;
        for (size_t i = 0; i < n; i++)
            jl_push(c, v, items->v[i]);
        return jv_none();
    }
    if (strcmp(name, "pop") == 0) {
        if (v->n == 0)
            jfail(c, "pop from empty list");
        const jv *iv = jarg(a, 0, NULL);
        int64_t i = iv ? need_int(c, iv, "pop") : -1;
        if (i < 0)
            i += (int64_t)v->n;
        if (i < 0 || (size_t)i >= v->n)
            jfail(c, "pop index out of range");
        jv out = v->v[i];
        memmove(v->v + i, v->v + i + 1, (v->n - (size_t)i - 1) * sizeof *v->v);
        v->n--;
        return out;
    }
    if (strcmp(name, "insert") == 0) {
        int64_t i = need_int(c, jarg(a, 0, NULL), "insert");
        const jv *x = jarg(a, 1, NULL);
        if (!x)
            jfail(c, "insert expected 2 arguments");
        if (i < 0)
            i += (int64_t)v->n;
        if (i < 0)
            i = 0;
        if ((size_t)i > v->n)
            i = (int64_t)v->n;
        jl_push(c, v, *x);
        memmove(v->v + i + 1, v->v + i, (v->n - (size_t)i - 1) * sizeof *v->v);
        v->v[i] = *x;
        return jv_none();
    }
    const jv *x = jarg(a, 0, NULL);
    if (!x)
        jfail(c, "%s() takes exactly one argument (0 given)", name);
    int64_t count = 0, first = -1;
    for (size_t i = 0; i < v->n; i++)
        if (jv_equal(v->v[i], *x)) {
            if (first < 0)
                first = (int64_t)i;
            count++;
        }
    if (strcmp(name, "count") == 0)
        return jv_int(count);
    if (first < 0)
        jfail(c, "value is not in list");
    return jv_int(first);
}

static jv dict_method(jctx *c, jv d, const char *name, const jargs *a)
{
    if (strcmp(name, "items") == 0)
        return dict_items(c, d);
    if (strcmp(name, "keys") == 0 || strcmp(name, "values") == 0) {
        jv out = jv_list(c);
        for (size_t i = 0; i < d.u.d->n; i++)
            jl_push(c, out.u.l, name[0] == 'k' ? d.u.d->key[i] : d.u.d->val[i]);
        return out;
    }
    if (strcmp(name, "copy") == 0) {
        jv out = jv_dict(c);
        for (size_t i = 0; i < d.u.d->n; i++)
            jd_set(c, out.u.d, d.u.d->key[i], d.u.d->val[i]);
        return out;
    }
    if (strcmp(name, "update") == 0) {
        const jv *o = jarg(a, 0, NULL);
        if (o && o->k == JV_DICT)
            for (size_t i = 0; i < o->u.d->n; i++)
                jd_set(c, d.u.d, o->u.d->key[i], o->u.d->val[i]);
        for (size_t i = 0; i < a->n_kw; i++)
            jd_set(c, d.u.d, jv_str(a->kwnames[i], strlen(a->kwnames[i])), a->kw[i]);
        return jv_none();
    }
    const jv *key = jarg(a, 0, NULL);
    if (!key)
        jfail(c, "%s expected at least 1 argument, got 0", name);
    const jv *dflt = jarg(a, 1, NULL);
    jv *v = jd_find(d.u.d, *key);
    if (strcmp(name, "get") == 0)
        return v ? *v : dflt ? *dflt : jv_none();
    if (strcmp(name, "setdefault") == 0) {
        if (v)
            return *v;
        jd_set(c, d.u.d, *key, dflt ? *dflt : jv_none());
        return dflt ? *dflt : jv_none();
    }
    /* pop */
    if (!v) {
        if (dflt)
            return *dflt;
        sbuf b = {0};
        jv_repr_to(c, &b, *key);
        jfail(c, "KeyError: %s", b.p);
    }
    jv out = *v;
    size_t i = (size_t)(v - d.u.d->val);
    memmove(d.u.d->key + i, d.u.d->key + i + 1, (d.u.d->n - i - 1) * sizeof *d.u.d->key);
    memmove(d.u.d->val + i, d.u.d->val + i + 1, (d.u.d->n - i - 1) * sizeof *d.u.d->val);
    d.u.d->n--;
    return out;
}

jv jlib_method(jctx *c, jv self, const char *name, const jargs *a)
{
    if (self.k == JV_STR)
        return str_method(c, self, name, a);
    if (self.k == JV_LIST)
        return list_method(c, self, name, a);
    if (self.k == JV_DICT)
        return dict_method(c, self, name, a);
    jfail(c, "'%s' object has no attribute '%s'", jv_type_name(self), name);
}

/* ---- tests ---- */

bool jlib_test(jctx *c, const char *name, jv v, const jargs *a, bool *known)
{
    *known = true;
    const jv *x = jarg(a, 0, NULL);
#define IS(s) (strcmp(name, s) == 0)
    if (IS("defined"))
        return v.k != JV_UNDEF;
    if (IS("undefined"))
        return v.k == JV_UNDEF;
    if (IS("none"))
        return v.k == JV_NONE;
    if (IS("string"))
        return v.k == JV_STR;
    if (IS("mapping"))
        return v.k == JV_DICT;
    if (IS("iterable"))
        return v.k == JV_STR || v.k == JV_LIST || v.k == JV_DICT || v.k == JV_UNDEF;
    if (IS("sequence"))
        return v.k == JV_STR || v.k == JV_LIST || v.k == JV_DICT || v.k == JV_UNDEF;
    if (IS("boolean"))
        return v.k == JV_BOOL;
    if (IS("number"))
        return v.k == JV_INT || v.k == JV_FLOAT || v.k == JV_BOOL;
    if (IS("integer"))
        return v.k == JV_INT;
    if (IS("float"))
        return v.k == JV_FLOAT;
    if (IS("true"))
        return v.k == JV_BOOL && v.u.b;
    if (IS("false"))
        return v.k == JV_BOOL && !v.u.b;
    if (IS("callable"))
        return v.k == JV_MACRO || v.k == JV_FUNC || v.k == JV_METHOD;
    if (IS("lower") || IS("upper")) {
        if (v.k != JV_STR)
            return false;
        jv r = recase(c, v, IS("upper"));
        return jv_equal(r, v);
    }
    if (IS("odd") || IS("even") || IS("divisibleby")) {
        int64_t i = need_int(c, &v, name);
        if (IS("divisibleby")) {
            int64_t d = need_int(c, x, name);
            if (d == 0)
                jfail(c, "integer division or modulo by zero");
            return i % d == 0;
        }
        return (i % 2 != 0) == IS("odd");
    }
    if (!x && (IS("eq") || IS("equalto") || IS("==") || IS("ne") || IS("!=") || IS("in") ||
               IS("lt") || IS("le") || IS("gt") || IS("ge") || IS("sameas")))
        jfail(c, "test '%s' needs an argument", name);
    if (IS("eq") || IS("equalto") || IS("=="))
        return jv_equal(v, *x);
    if (IS("ne") || IS("!="))
        return !jv_equal(v, *x);
    if (IS("sameas"))
        return jv_equal(v, *x) && v.k == x->k;
    if (IS("lt") || IS("lessthan") || IS("<"))
        return jv_compare(c, v, *x, "<") < 0;
    if (IS("le") || IS("<="))
        return jv_compare(c, v, *x, "<=") <= 0;
    if (IS("gt") || IS("greaterthan") || IS(">"))
        return jv_compare(c, v, *x, ">") > 0;
    if (IS("ge") || IS(">="))
        return jv_compare(c, v, *x, ">=") >= 0;
    if (IS("in")) {
        if (x->k == JV_LIST) {
            for (size_t i = 0; i < x->u.l->n; i++)
                if (jv_equal(v, x->u.l->v[i]))
                    return true;
            return false;
        }
        if (x->k == JV_DICT)
            return jd_find(x->u.d, v) != NULL;
        if (x->k == JV_STR && v.k == JV_STR)
            return v.u.s.n == 0 || memmem(x->u.s.p, x->u.s.n, v.u.s.p, v.u.s.n) != NULL;
        return false;
    }
#undef IS
    *known = false;
    return false;
}

/* ---- filters ---- */

static jv attr_path(jctx *c, jv v, jv attr)
{
    if (attr.k != JV_STR)
        return jv_getitem(c, v, attr);
    const char *p = attr.u.s.p, *end = p + attr.u.s.n;
    while (p <= end) {   /* "a.b.0": items, then attributes */
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
        char *digits_end;
        jv key = jv_str(p, n);
        long long idx = strtoll(p, &digits_end, 10);
        if (n && digits_end == p + n)
            key = jv_int(idx);
        v = jv_getitem(c, v, key);
        if (!dot)
            break;
        p = dot + 1;
    }
    return v;
}

/* select/reject/selectattr/rejectattr */
static jv select_items(jctx *c, jv seq, const jargs *a, bool attr, bool keep)
{
    jv out = jv_list(c);
    if (!jv_truthy(seq))   /* Jinja2: "if value:" — none selects nothing */
        return out;
    jlist *items = jv_iter(c, seq);
    size_t first = attr ? 1 : 0;
    const jv *attrv = attr ? jarg(a, 0, NULL) : NULL;
    if (attr && !attrv)
        jfail(c, "selectattr: missing the attribute");
    const jv *testv = jarg(a, first, NULL);
    jargs rest = {a->pos + first + 1, a->n_pos > first + 1 ? a->n_pos - first - 1 : 0, NULL, NULL, 0};
    for (size_t i = 0; i < items->n; i++) {
        jv v = attr ? attr_path(c, items->v[i], *attrv) : items->v[i];
        bool r;
        if (testv) {
            bool known;
            jv tn = need_str(c, testv, "select");
            r = jlib_test(c, cstr(c, tn), v, &rest, &known);
            if (!known)
                jfail(c, "no test named '%s'", cstr(c, tn));
        } else {
            r = jv_truthy(v);
        }
        if (r == keep)
            jl_push(c, out.u.l, items->v[i]);
    }
    return out;
}

static jv sort_key(jctx *c, jv v, bool case_sensitive)
{
    return v.k == JV_STR && !case_sensitive ? recase(c, v, 0) : v;
}

typedef struct sort_item { jv key, val; size_t at; } sort_item;

static void sort_items(jctx *c, sort_item *items, size_t n, bool reverse)
{
    /* insertion sort: stable, no global state, and lists in templates are short */
    for (size_t i = 1; i < n; i++) {
        sort_item x = items[i];
        size_t j = i;
        while (j > 0) {
            int r = jv_compare(c, items[j - 1].key, x.key, "<");
            if (reverse ? r >= 0 : r <= 0)
                break;
            items[j] = items[j - 1];
            j--;
        }
        items[j] = x;
        if (i % 64 == 0 && n > 4096)
            jfail(c, "sort: more than 4096 items");
    }
}

static jv indent(jctx *c, jv v, const jargs *a)
{
    jv s = jv_to_str(c, v);
    const jv *w = jarg(a, 0, "width");
    jv pad;
    if (w && w->k == JV_STR) {
        pad = *w;
    } else {
        int64_t n = w ? need_int(c, w, "indent") : 4;
        if (n < 0 || n > 1000)
            jfail(c, "indent: width %lld out of range", (long long)n);
        char *p = jalloc(c, (size_t)n + 1);
        memset(p, ' ', (size_t)n);
        p[n] = 0;
        pad = jv_str(p, (size_t)n);
    }
    bool first = arg_bool(a, 1, "first", false), blank = arg_bool(a, 2, "blank", false);
    sbuf b = {0};
    sb_put(c, &b, "", 0);
    if (first)
        sb_put(c, &b, pad.u.s.p, pad.u.s.n);
    /* s + "\n", split into lines; every line after the first indented (blank ones when asked) */
    size_t i = 0, n = s.u.s.n;
    bool line0 = true;
    while (i < n) {
        size_t e = i;
        while (e < n && s.u.s.p[e] != '\n' && s.u.s.p[e] != '\r')
            e++;
        if (!line0) {
            sb_put(c, &b, "\n", 1);
            if (e > i || blank)
                sb_put(c, &b, pad.u.s.p, pad.u.s.n);
        }
        sb_put(c, &b, s.u.s.p + i, e - i);
        line0 = false;
        i = e;
        if (i < n)
            i += (s.u.s.p[i] == '\r' && i + 1 < n && s.u.s.p[i + 1] == '\n') ? 2 : 1;
    }
    return jv_sb(&b);
}

jv jlib_filter(jctx *c, const char *name, jv v, const jargs *a)
{
#define IS(s) (strcmp(name, s) == 0)
    if (IS("default") || IS("d")) {
        const jv *d = jarg(a, 0, "default_value");
        bool boolean = arg_bool(a, 1, "boolean", false);
        if (v.k == JV_UNDEF || (boolean && !jv_truthy(v)))
            return d ? *d : jv_str("", 0);
        return v;
    }
    if (IS("safe")) {
        jv s = jv_to_str(c, v);
        s.safe = true;
        return s;
    }
    if (IS("length") || IS("count"))
        return jv_int((int64_t)jv_len(c, v));
    if (IS("string"))
        return jv_to_str(c, v);
    if (IS("trim")) {
        jv s = strip(c, jv_to_str(c, v), jarg(a, 0, "chars"), 3);
        s.safe = v.k == JV_STR && v.safe;
        return s;
    }
    if (IS("lower"))
        return recase(c, jv_to_str(c, v), 0);
    if (IS("upper"))
        return recase(c, jv_to_str(c, v), 1);
    if (IS("title"))
        return recase(c, jv_to_str(c, v), 2);
    if (IS("capitalize"))
        return recase(c, recase(c, jv_to_str(c, v), 0), 3);
    if (IS("e") || IS("escape"))
        return v.k == JV_STR && v.safe ? v : jv_escape(c, v);
    if (IS("replace")) {
        const jv *cnt = jarg(a, 2, "count");
        return replace(c, jv_to_str(c, v), need_str(c, jarg(a, 0, "old"), "replace"),
                       need_str(c, jarg(a, 1, "new"), "replace"),
                       cnt && cnt->k != JV_NONE ? need_int(c, cnt, "replace") : -1);
    }
    if (IS("join")) {
        const jv *sep = jarg(a, 0, "d");
        return join(c, v, sep ? jv_to_str(c, *sep) : jv_str("", 0), jarg(a, 1, "attribute"));
    }
    if (IS("items")) {
        if (v.k == JV_UNDEF)
            return jv_list(c);
        if (v.k != JV_DICT)
            jfail(c, "can only get item pairs from a mapping.");
        return dict_items(c, v);
    }
    if (IS("list")) {
        jlist *items = jv_iter(c, v);
        jv out = jv_list(c);
        for (size_t i = 0; i < items->n; i++)
            jl_push(c, out.u.l, items->v[i]);
        return out;
    }
    if (IS("first") || IS("last")) {
        jlist *items = jv_iter(c, v);
        if (items->n == 0)
            return jv_undef(c, "No %s item, sequence was empty.", name);
        return items->v[IS("first") ? 0 : items->n - 1];
    }
    if (IS("reverse")) {
        if (v.k == JV_STR) {
            jlist *chars = jv_iter(c, v);
            sbuf b = {0};
            sb_put(c, &b, "", 0);
            for (size_t i = chars->n; i-- > 0;)
                sb_put(c, &b, chars->v[i].u.s.p, chars->v[i].u.s.n);
            return jv_sb(&b);
        }
        jlist *items = jv_iter(c, v);
        jv out = jv_list(c);
        for (size_t i = items->n; i-- > 0;)
            jl_push(c, out.u.l, items->v[i]);
        return out;
    }
    if (IS("tojson")) {
        const jv *ascii = jarg(a, 0, "ensure_ascii"), *ind = jarg(a, 1, "indent");
        const jv *seps = jarg(a, 2, "separators"), *sk = jarg(a, 3, "sort_keys");
        int in = ind && ind->k != JV_NONE ? (int)need_int(c, ind, "tojson indent") : -1;
        if (in > 100)
            jfail(c, "tojson: indent %d out of range", in);
        const char *item_sep = in >= 0 ? "," : ", ", *key_sep = ": ";
        if (seps && seps->k == JV_LIST && seps->u.l->n == 2) {
            item_sep = cstr(c, need_str(c, &seps->u.l->v[0], "tojson separators"));
            key_sep = cstr(c, need_str(c, &seps->u.l->v[1], "tojson separators"));
        }
        sbuf b = {0};
        sb_put(c, &b, "", 0);
        jv_tojson(c, &b, v, in, item_sep, key_sep, sk && jv_truthy(*sk), ascii && jv_truthy(*ascii), 0);
        return jv_sb(&b);
    }
    if (IS("dictsort")) {
        if (v.k != JV_DICT)
            jfail(c, "dictsort: expected a mapping, got %s", jv_type_name(v));
        bool cs = arg_bool(a, 0, "case_sensitive", false), rev = arg_bool(a, 2, "reverse", false);
        const jv *by = jarg(a, 1, "by");
        bool by_value = by && by->k == JV_STR && strcmp(by->u.s.p, "value") == 0;
        jv pairs = dict_items(c, v);
        size_t n = pairs.u.l->n;
        sort_item *it = jalloc(c, (n + 1) * sizeof *it);
        for (size_t i = 0; i < n; i++) {
            jv pair = pairs.u.l->v[i];
            it[i] = (sort_item){sort_key(c, pair.u.l->v[by_value], cs), pair, i};
        }
        sort_items(c, it, n, rev);
        jv out = jv_list(c);
        for (size_t i = 0; i < n; i++)
            jl_push(c, out.u.l, it[i].val);
        return out;
    }
    if (IS("sort")) {
        bool rev = arg_bool(a, 0, "reverse", false), cs = arg_bool(a, 1, "case_sensitive", false);
        const jv *attr = jarg(a, 2, "attribute");
        jlist *items = jv_iter(c, v);
        size_t n = items->n;
        sort_item *it = jalloc(c, (n + 1) * sizeof *it);
        for (size_t i = 0; i < n; i++)
            it[i] = (sort_item){sort_key(c, attr ? attr_path(c, items->v[i], *attr) : items->v[i], cs),
                                items->v[i], i};
        sort_items(c, it, n, rev);
        jv out = jv_list(c);
        for (size_t i = 0; i < n; i++)
            jl_push(c, out.u.l, it[i].val);
        return out;
    }
    if (IS("unique")) {
        bool cs = arg_bool(a, 0, "case_sensitive", false);
        const jv *attr = jarg(a, 1, "attribute");
        jlist *items = jv_iter(c, v);
        jv out = jv_list(c), seen = jv_list(c);
        for (size_t i = 0; i < items->n; i++) {
            jv k = sort_key(c, attr ? attr_path(c, items->v[i], *attr) : items->v[i], cs);
            bool dup = false;
            for (size_t j = 0; j < seen.u.l->n && !dup; j++)
                dup = jv_equal(seen.u.l->v[j], k);
            if (!dup) {
                jl_push(c, seen.u.l, k);
                jl_push(c, out.u.l, items->v[i]);
            }
        }
        return out;
    }
    if (IS("select") || IS("reject"))
        return select_items(c, v, a, false, IS("select"));
    if (IS("selectattr") || IS("rejectattr"))
        return select_items(c, v, a, true, IS("selectattr"));
    if (IS("map")) {
        jv out = jv_list(c);
        if (!jv_truthy(v))
            return out;
        jlist *items = jv_iter(c, v);
        const jv *attr = jarg(a, SIZE_MAX, "attribute");
        const jv *dflt = jarg(a, SIZE_MAX, "default");
        for (size_t i = 0; i < items->n; i++) {
            jv x = items->v[i];
            if (attr) {
                x = attr_path(c, x, *attr);
                if (x.k == JV_UNDEF && dflt)
                    x = *dflt;
            } else {
                jv fname = need_str(c, jarg(a, 0, NULL), "map");
                jargs rest = {a->pos + 1, a->n_pos - 1, a->kwnames, a->kw, a->n_kw};
                x = jlib_filter(c, cstr(c, fname), x, &rest);
            }
            jl_push(c, out.u.l, x);
        }
        return out;
    }
    if (IS("indent"))
        return indent(c, v, a);
    if (IS("int")) {
        const jv *d = jarg(a, 0, "default");
        if (v.k == JV_INT)
            return v;
        if (v.k == JV_BOOL)
            return jv_int(v.u.b);
        if (v.k == JV_FLOAT && isfinite(v.u.f))
            return jv_int((int64_t)v.u.f);
        if (v.k == JV_STR) {
            char *end;
            jv t = strip(c, v, NULL, 3);
            jv z = jv_strdup(c, t.u.s.p, t.u.s.n);
            long long i = strtoll(z.u.s.p, &end, 10);
            if (z.u.s.n && *end == 0)
                return jv_int(i);
            double f = strtod(z.u.s.p, &end);
            if (z.u.s.n && *end == 0 && isfinite(f))
                return jv_int((int64_t)f);
        }
        return d ? *d : jv_int(0);
    }
    if (IS("float")) {
        const jv *d = jarg(a, 0, "default");
        if (v.k == JV_INT || v.k == JV_BOOL || v.k == JV_FLOAT)
            return jv_float(as_number(v));
        if (v.k == JV_STR) {
            char *end;
            jv z = jv_strdup(c, v.u.s.p, v.u.s.n);
            double f = strtod(z.u.s.p, &end);
            if (z.u.s.n && *end == 0)
                return jv_float(f);
        }
        return d ? *d : jv_float(0);
    }
    if (IS("abs")) {
        if (v.k == JV_INT)
            return jv_int(v.u.i < 0 && v.u.i != INT64_MIN ? -v.u.i : v.u.i);
        if (v.k == JV_FLOAT)
            return jv_float(fabs(v.u.f));
        jfail(c, "bad operand type for abs(): '%s'", jv_type_name(v));
    }
    if (IS("sum") || IS("min") || IS("max")) {
        jlist *items = jv_iter(c, v);
        if (IS("sum")) {
            int64_t si = 0;
            double sf = 0;
            bool fl = false;
            for (size_t i = 0; i < items->n; i++) {
                jv x = items->v[i];
                if (x.k == JV_FLOAT)
                    fl = true;
                else if (x.k != JV_INT && x.k != JV_BOOL)
                    jfail(c, "unsupported operand type(s) for +: 'int' and '%s'", jv_type_name(x));
                sf += as_number(x);
                si += x.k == JV_INT ? x.u.i : x.k == JV_BOOL ? x.u.b : 0;
            }
            return fl ? jv_float(sf) : jv_int(si);
        }
        if (items->n == 0)
            return jv_undef(c, "No aggregated item, sequence was empty.");
        jv best = items->v[0];
        for (size_t i = 1; i < items->n; i++) {
            int r = jv_compare(c, items->v[i], best, "<");
            if (IS("min") ? r < 0 : r > 0)
                best = items->v[i];
        }
        return best;
    }
    if (IS("wordcount")) {
        jv words = split(c, jv_to_str(c, v), NULL, NULL, false);
        return jv_int((int64_t)words.u.l->n);
    }
#undef IS
    jfail(c, "No filter named '%s'.", name);
}

/* ---- globals ---- */

static const char *const globals[] = {"range", "namespace", "raise_exception", "strftime_now",
                                      "dict", NULL};

int jlib_global_id(const char *name)
{
    for (int i = 0; globals[i]; i++)
        if (strcmp(globals[i], name) == 0)
            return i;
    return -1;
}

jv jlib_call_global(jctx *c, int id, const jargs *a)
{
    switch (id) {
    case 0: {   /* range */
        int64_t lo = 0, hi, st = 1;
        if (a->n_pos == 1) {
            hi = need_int(c, &a->pos[0], "range");
        } else if (a->n_pos == 2 || a->n_pos == 3) {
            lo = need_int(c, &a->pos[0], "range");
            hi = need_int(c, &a->pos[1], "range");
            if (a->n_pos == 3)
                st = need_int(c, &a->pos[2], "range");
        } else {
            jfail(c, "range expected 1 to 3 arguments, got %zu", a->n_pos);
        }
        if (st == 0)
            jfail(c, "range() arg 3 must not be zero");
        jv out = jv_list(c);
        for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) {
            if (out.u.l->n >= MAX_RANGE)
                jfail(c, "range: more than %d items", MAX_RANGE);
            jl_push(c, out.u.l, jv_int(i));
        }
        return out;
    }
    case 1:     /* namespace */
    case 4: {   /* dict */
        jv d = jv_dict(c);
        const jv *init = jarg(a, 0, NULL);
        if (init && init->k == JV_DICT)
            for (size_t i = 0; i < init->u.d->n; i++)
                jd_set(c, d.u.d, init->u.d->key[i], init->u.d->val[i]);
        for (size_t i = 0; i < a->n_kw; i++)
            jd_set(c, d.u.d, jv_str(a->kwnames[i], strlen(a->kwnames[i])), a->kw[i]);
        if (id == 1)
            d.k = JV_NS;
        return d;
    }
    case 2: {   /* raise_exception */
        const jv *m = jarg(a, 0, "message");
        jv s = m ? jv_to_str(c, *m) : jv_str("", 0);
        jfail(c, "%.*s", (int)s.u.s.n, s.u.s.p);
    }
    case 3: {   /* strftime_now */
        jv f = need_str(c, jarg(a, 0, NULL), "strftime_now");
        struct tm tm;
        if (c->opts && c->opts->now) {
            tm = *c->opts->now;
        } else {
            time_t t = time(NULL);
            localtime_r(&t, &tm);
        }
        char out[256];
        size_t n = f.u.s.n ? strftime(out, sizeof out, cstr(c, f), &tm) : 0;
        return jv_strdup(c, out, n);
    }
    default:
        jfail(c, "internal error: global %d", id);
    }
}
