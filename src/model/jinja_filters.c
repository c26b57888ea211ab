/*
** model/jinja_filters.c — the Jinja interpreter's filters, tests and
** globals, each as Jinja2 3.1 defines it.
**
** Filters: abs capitalize count d default dictsort e escape first float
**   indent int items join last length list lower map max min reject
**   rejectattr replace reverse safe select selectattr sort string sum
**   title tojson trim unique upper wordcount
** Tests: boolean callable defined divisibleby eq equalto even false float
**   ge greaterthan gt in integer iterable le lessthan lower lt mapping ne
**   none number odd sameas sequence string true undefined upper, and
**   == != < <= > >=
** Globals: dict namespace raise_exception range strftime_now
** (The methods are in jinja_methods.c.)
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
        jv r = js_recase(c, v, IS("upper"));
        return jv_equal(r, v);
    }
    if (IS("odd") || IS("even") || IS("divisibleby")) {
        int64_t i = jarg_int(c, &v, name);
        if (IS("divisibleby")) {
            int64_t d = jarg_int(c, x, name);
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
            jv tn = jarg_str(c, testv, "select");
            r = jlib_test(c, jv_cstr(c, tn), v, &rest, &known);
            if (!known)
                jfail(c, "no test named '%s'", jv_cstr(c, tn));
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
    return v.k == JV_STR && !case_sensitive ? js_recase(c, v, 0) : v;
}

typedef struct sort_item { jv key, val; } sort_item;

static void sort_items(jctx *c, sort_item *items, size_t n, bool reverse)
{
    /* insertion sort: stable, no global state, and lists in templates are short */
    if (n > 4096)
        jfail(c, "sort: more than 4096 items");
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
    }
}

/* The items' values in their keys' order. */
static jv sorted(jctx *c, sort_item *items, size_t n, bool reverse)
{
    sort_items(c, items, n, reverse);
    jv out = jv_list(c);
    for (size_t i = 0; i < n; i++)
        jl_push(c, out.u.l, items[i].val);
    return out;
}

static jv indent(jctx *c, jv v, const jargs *a)
{
    jv s = jv_to_str(c, v);
    const jv *w = jarg(a, 0, "width");
    jv pad;
    if (w && w->k == JV_STR) {
        pad = *w;
    } else {
        int64_t n = w ? jarg_int(c, w, "indent") : 4;
        if (n < 0 || n > 1000)
            jfail(c, "indent: width %lld out of range", (long long)n);
        char *p = jalloc(c, (size_t)n + 1);
        memset(p, ' ', (size_t)n);
        p[n] = 0;
        pad = jv_str(p, (size_t)n);
    }
    bool first = jarg_bool(a, 1, "first", false), blank = jarg_bool(a, 2, "blank", false);
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
        bool boolean = jarg_bool(a, 1, "boolean", false);
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
        jv s = js_strip(c, jv_to_str(c, v), jarg(a, 0, "chars"), 3);
        s.safe = v.k == JV_STR && v.safe;
        return s;
    }
    if (IS("lower"))
        return js_recase(c, jv_to_str(c, v), 0);
    if (IS("upper"))
        return js_recase(c, jv_to_str(c, v), 1);
    if (IS("title"))
        return js_recase(c, jv_to_str(c, v), 2);
    if (IS("capitalize"))
        return js_recase(c, js_recase(c, jv_to_str(c, v), 0), 3);
    if (IS("e") || IS("escape"))
        return v.k == JV_STR && v.safe ? v : jv_escape(c, v);
    if (IS("replace")) {
        const jv *cnt = jarg(a, 2, "count");
        return js_replace(c, jv_to_str(c, v), jarg_str(c, jarg(a, 0, "old"), "replace"),
                       jarg_str(c, jarg(a, 1, "new"), "replace"),
                       cnt && cnt->k != JV_NONE ? jarg_int(c, cnt, "replace") : -1);
    }
    if (IS("join")) {
        const jv *sep = jarg(a, 0, "d");
        return js_join(c, v, sep ? jv_to_str(c, *sep) : jv_str("", 0), jarg(a, 1, "attribute"));
    }
    if (IS("items")) {
        if (v.k == JV_UNDEF)
            return jv_list(c);
        if (v.k != JV_DICT)
            jfail(c, "can only get item pairs from a mapping.");
        return js_dict_items(c, v);
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
        int in = ind && ind->k != JV_NONE ? (int)jarg_int(c, ind, "tojson indent") : -1;
        if (in > 100)
            jfail(c, "tojson: indent %d out of range", in);
        const char *item_sep = in >= 0 ? "," : ", ", *key_sep = ": ";
        if (seps && seps->k == JV_LIST && seps->u.l->n == 2) {
            item_sep = jv_cstr(c, jarg_str(c, &seps->u.l->v[0], "tojson separators"));
            key_sep = jv_cstr(c, jarg_str(c, &seps->u.l->v[1], "tojson separators"));
        }
        sbuf b = {0};
        sb_put(c, &b, "", 0);
        jv_tojson(c, &b, v, in, item_sep, key_sep, sk && jv_truthy(*sk), ascii && jv_truthy(*ascii), 0);
        return jv_sb(&b);
    }
    if (IS("dictsort")) {
        if (v.k != JV_DICT)
            jfail(c, "dictsort: expected a mapping, got %s", jv_type_name(v));
        bool cs = jarg_bool(a, 0, "case_sensitive", false), rev = jarg_bool(a, 2, "reverse", false);
        const jv *by = jarg(a, 1, "by");
        bool by_value = by && by->k == JV_STR && strcmp(by->u.s.p, "value") == 0;
        jv pairs = js_dict_items(c, v);
        size_t n = pairs.u.l->n;
        sort_item *it = jalloc(c, (n + 1) * sizeof *it);
        for (size_t i = 0; i < n; i++) {
            jv pair = pairs.u.l->v[i];
            it[i] = (sort_item){sort_key(c, pair.u.l->v[by_value], cs), pair};
        }
        return sorted(c, it, n, rev);
    }
    if (IS("sort")) {
        bool rev = jarg_bool(a, 0, "reverse", false), cs = jarg_bool(a, 1, "case_sensitive", false);
        const jv *attr = jarg(a, 2, "attribute");
        jlist *items = jv_iter(c, v);
        size_t n = items->n;
        sort_item *it = jalloc(c, (n + 1) * sizeof *it);
        for (size_t i = 0; i < n; i++)
            it[i] = (sort_item){sort_key(c, attr ? attr_path(c, items->v[i], *attr) : items->v[i], cs),
                                items->v[i]};
        return sorted(c, it, n, rev);
    }
    if (IS("unique")) {
        bool cs = jarg_bool(a, 0, "case_sensitive", false);
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
                jv fname = jarg_str(c, jarg(a, 0, NULL), "map");
                jargs rest = {a->pos + 1, a->n_pos - 1, a->kwnames, a->kw, a->n_kw};
                x = jlib_filter(c, jv_cstr(c, fname), x, &rest);
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
            jv t = js_strip(c, v, NULL, 3);
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
            return jv_float(jv_number(v));
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
                sf += jv_number(x);
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
        jv words = js_split(c, jv_to_str(c, v), NULL, NULL, false);
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
            hi = jarg_int(c, &a->pos[0], "range");
        } else if (a->n_pos == 2 || a->n_pos == 3) {
            lo = jarg_int(c, &a->pos[0], "range");
            hi = jarg_int(c, &a->pos[1], "range");
            if (a->n_pos == 3)
                st = jarg_int(c, &a->pos[2], "range");
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
        jv f = jarg_str(c, jarg(a, 0, NULL), "strftime_now");
        struct tm tm;
        if (c->opts && c->opts->now) {
            tm = *c->opts->now;
        } else {
            time_t t = time(NULL);
            localtime_r(&t, &tm);
        }
        char out[256];
        size_t n = f.u.s.n ? strftime(out, sizeof out, jv_cstr(c, f), &tm) : 0;
        return jv_strdup(c, out, n);
    }
    default:
        jfail(c, "internal error: global %d", id);
    }
}
