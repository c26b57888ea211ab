/*
** model/jinja_methods.c — Python's str, list and dict methods as Jinja
** templates call them (message.content.strip(), tools.items(), …), the
** string operations the filters share, and the argument helpers.
**   str: capitalize count endswith find join lower lstrip replace rsplit
**        rstrip split splitlines startswith strip title upper
**   list: append count extend index insert pop
**   dict: copy get items keys pop setdefault update values
**
** Strings are UTF-8; strip, split and isspace know Unicode white space;
** find and slicing count code points, as Python does.
*/
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "model/jinja_impl.h"

const jv *jarg(const jargs *a, size_t index, const char *name)
{
    if (index < a->n_pos)
        return &a->pos[index];
    for (size_t i = 0; name && i < a->n_kw; i++)
        if (strcmp(a->kwnames[i], name) == 0)
            return &a->kw[i];
    return NULL;
}

double jv_number(jv v)
{
    return v.k == JV_INT ? (double)v.u.i : v.k == JV_FLOAT ? v.u.f : v.k == JV_BOOL ? v.u.b : 0;
}

/* A NUL-terminated copy (slices of other strings are not terminated). */
const char *jv_cstr(jctx *c, jv s)
{
    return jv_strdup(c, s.u.s.p, s.u.s.n).u.s.p;
}

bool jarg_bool(const jargs *a, size_t i, const char *name, bool dflt)
{
    const jv *v = jarg(a, i, name);
    return v ? jv_truthy(*v) : dflt;
}

jv jarg_str(jctx *c, const jv *v, const char *what)
{
    if (!v)
        jfail(c, "%s: missing argument", what);
    if (v->k == JV_UNDEF)
        jv_raise_undef(c, *v);
    if (v->k != JV_STR)
        jfail(c, "%s: expected a string, got %s", what, jv_type_name(*v));
    return *v;
}

int64_t jarg_int(jctx *c, const jv *v, const char *what)
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
jv js_strip(jctx *c, jv s, const jv *chars, int which)
{
    const char *p = s.u.s.p;
    size_t n = s.u.s.n, lo = 0, hi = n;
    bool custom = chars && chars->k != JV_NONE;
    if (custom)
        jarg_str(c, chars, "strip");
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

jv js_split(jctx *c, jv s, const jv *sepv, const jv *maxv, bool right)
{
    jv out = jv_list(c);
    int64_t max = maxv && maxv->k != JV_NONE ? jarg_int(c, maxv, "split") : -1;
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
                jv rest = js_strip(c, jv_str(p + start, n - start), NULL, 2);
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
    jv sep = jarg_str(c, sepv, "split");
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

jv js_replace(jctx *c, jv s, jv old, jv new_, int64_t count)
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
jv js_recase(jctx *c, jv s, int how)
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
    jv a = jarg_str(c, arg, end ? "endswith" : "startswith");
    if (a.u.s.n > s.u.s.n)
        return false;
    return memcmp(s.u.s.p + (end ? s.u.s.n - a.u.s.n : 0), a.u.s.p, a.u.s.n) == 0;
}

jv js_join(jctx *c, jv seq, jv sep, const jv *attr)
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

jv js_dict_items(jctx *c, jv d)
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
        return js_strip(c, s, jarg(a, 0, "chars"), 3);
    if (strcmp(name, "lstrip") == 0)
        return js_strip(c, s, jarg(a, 0, "chars"), 1);
    if (strcmp(name, "rstrip") == 0)
        return js_strip(c, s, jarg(a, 0, "chars"), 2);
    if (strcmp(name, "split") == 0 || strcmp(name, "rsplit") == 0)
        return js_split(c, s, jarg(a, 0, "sep"), jarg(a, 1, "maxsplit"), name[0] == 'r');
    if (strcmp(name, "startswith") == 0 || strcmp(name, "endswith") == 0)
        return jv_bool(affix(c, s, jarg(a, 0, NULL), name[0] == 'e'));
    if (strcmp(name, "replace") == 0) {
        const jv *cnt = jarg(a, 2, "count");
        return js_replace(c, s, jarg_str(c, jarg(a, 0, NULL), "replace"),
                       jarg_str(c, jarg(a, 1, NULL), "replace"), cnt ? jarg_int(c, cnt, "replace") : -1);
    }
    if (strcmp(name, "lower") == 0)
        return js_recase(c, s, 0);
    if (strcmp(name, "upper") == 0)
        return js_recase(c, s, 1);
    if (strcmp(name, "title") == 0)
        return js_recase(c, s, 2);
    if (strcmp(name, "capitalize") == 0)
        return js_recase(c, js_recase(c, s, 0), 3);
    if (strcmp(name, "join") == 0)
        return js_join(c, *jarg(a, 0, NULL) , s, NULL);
    if (strcmp(name, "find") == 0 || strcmp(name, "count") == 0) {
        jv sub = jarg_str(c, jarg(a, 0, NULL), name);
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
        int64_t i = iv ? jarg_int(c, iv, "pop") : -1;
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
        int64_t i = jarg_int(c, jarg(a, 0, NULL), "insert");
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
        return js_dict_items(c, d);
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

