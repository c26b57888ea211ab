/*
** model/jinja_eval.c — rendering a parsed template: scopes, expressions
** and statements with Jinja2's semantics.
**
** Scopes: the variables passed are the global scope; a for loop's body
** and a macro's call get their own scope (a set inside them does not
** leak out, which is why templates use namespace()); if does not. A macro
** sees the scope it was defined in, as it is when the macro runs.
** Undefined values are values (they print as "", are false, iterate as
** nothing) until an operation needs them: then the render fails with the
** message Jinja2 gives ("'x' is undefined", "'dict object' has no
** attribute 'y'"). Errors unwind with longjmp to mast_jinja_render; all
** memory of a render is one arena, freed there.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "base/utf8.h"
#include "model/jinja_impl.h"

#define MAX_STEPS 20000000u
#define MAX_ALLOC ((size_t)64 << 20)
#define MAX_MACRO_DEPTH 100

/* ---- failure, memory, text ---- */

_Noreturn void jfail(jctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    longjmp(c->fail, 1);
}

void *jalloc(jctx *c, size_t size)
{
    if (size > c->max_alloc - c->allocated)
        jfail(c, "the template used more than %zu MiB of memory", c->max_alloc >> 20);
    c->allocated += size;
    void *p = mast_arena_alloc(&c->arena, size ? size : 1);
    if (!p)
        jfail(c, "out of memory");
    return p;
}

void jgrow2(jctx *c, void **a, size_t ea, void **b, size_t eb, size_t n, size_t *cap)
{
    if (n < *cap)
        return;
    size_t nc = *cap ? *cap * 2 : 8;
    void *na = jalloc(c, nc * ea), *nb = jalloc(c, nc * eb);
    if (n) {
        memcpy(na, *a, n * ea);
        memcpy(nb, *b, n * eb);
    }
    *a = na;
    *b = nb;
    *cap = nc;
}

void sb_put(jctx *c, sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = jalloc(c, cap);
        if (b->n)
            memcpy(p, b->p, b->n);
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void sb_puts(jctx *c, sbuf *b, const char *s)
{
    sb_put(c, b, s, strlen(s));
}

void sb_printf(jctx *c, sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_put(c, b, tmp, n < 0 ? 0 : (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void step(jctx *c)
{
    if (++c->steps > c->max_steps)
        jfail(c, "the template ran for more than %llu steps", (unsigned long long)c->max_steps);
}

/* ---- scopes ---- */

static scope *scope_new(jctx *c, scope *parent)
{
    scope *s = jalloc(c, sizeof *s);
    memset(s, 0, sizeof *s);
    s->parent = parent;
    return s;
}

static void scope_set(jctx *c, scope *s, const char *name, jv v)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0) {
            s->vals[i] = v;
            return;
        }
    jgrow2(c, (void **)&s->names, sizeof *s->names, (void **)&s->vals, sizeof *s->vals, s->n, &s->cap);
    s->names[s->n] = name;
    s->vals[s->n++] = v;
}

static jv *scope_get(scope *s, const char *name)
{
    for (; s; s = s->parent)
        for (size_t i = s->n; i-- > 0;)
            if (strcmp(s->names[i], name) == 0)
                return &s->vals[i];
    return NULL;
}

/* ---- access ---- */

static jv method_value(jctx *c, jv self, const char *name)
{
    jmethod *m = jalloc(c, sizeof *m);
    m->self = self;
    m->name = name;
    jv v = {.k = JV_METHOD};
    v.u.meth = m;
    return v;
}

static jv no_attribute(jctx *c, jv obj, const char *name, size_t n)
{
    if (obj.k == JV_NONE)
        return jv_undef(c, "'None' has no attribute '%.*s'", (int)n, name);
    return jv_undef(c, "'%s object' has no attribute '%.*s'", jv_type_name(obj), (int)n, name);
}

jv jv_getattr(jctx *c, jv obj, const char *name, size_t n)
{
    if (obj.k == JV_UNDEF)
        jv_raise_undef(c, obj);
    if (obj.k == JV_NS || obj.k == JV_DICT) {
        if (obj.k == JV_DICT && jlib_has_method(obj, name))
            return method_value(c, obj, name);
        jv *v = jd_get(obj.u.d, name, n);
        if (v)
            return *v;
        return no_attribute(c, obj, name, n);
    }
    if ((obj.k == JV_STR || obj.k == JV_LIST) && jlib_has_method(obj, name))
        return method_value(c, obj, name);
    return no_attribute(c, obj, name, n);
}

/* Python's index into a sequence of n: negatives count from the end. */
static bool seq_index(jv key, size_t n, size_t *at)
{
    if (key.k != JV_INT && key.k != JV_BOOL)
        return false;
    int64_t i = key.k == JV_INT ? key.u.i : key.u.b;
    if (i < 0)
        i += (int64_t)n;
    if (i < 0 || (uint64_t)i >= n)
        return false;
    *at = (size_t)i;
    return true;
}

/* Byte offsets of the code points of a string: out[i] for i in 0..n (n+1 entries). */
static size_t *cp_offsets(jctx *c, jv s, size_t *n)
{
    size_t *off = jalloc(c, (s.u.s.n + 1) * sizeof *off);
    size_t k = 0, i = 0;
    while (i < s.u.s.n) {
        off[k++] = i;
        int32_t cp;
        i += mast_utf8_decode(s.u.s.p + i, s.u.s.n - i, &cp);
    }
    off[k] = s.u.s.n;
    *n = k;
    return off;
}

jv jv_getitem(jctx *c, jv obj, jv key)
{
    if (obj.k == JV_UNDEF)
        jv_raise_undef(c, obj);
    if (key.k == JV_UNDEF && obj.k != JV_DICT)
        jv_raise_undef(c, key);
    size_t at;
    if (obj.k == JV_DICT || obj.k == JV_NS) {
        jv *v = jd_find(obj.u.d, key);
        if (v)
            return *v;
        if (key.k == JV_STR)
            return jv_getattr(c, obj, key.u.s.p, key.u.s.n);
    } else if (obj.k == JV_LIST) {
        if (seq_index(key, obj.u.l->n, &at))
            return obj.u.l->v[at];
        if (key.k == JV_STR)
            return jv_getattr(c, obj, key.u.s.p, key.u.s.n);
    } else if (obj.k == JV_STR) {
        size_t n, *off = cp_offsets(c, obj, &n);
        if (seq_index(key, n, &at))
            return jv_str(obj.u.s.p + off[at], off[at + 1] - off[at]);
        if (key.k == JV_STR)
            return jv_getattr(c, obj, key.u.s.p, key.u.s.n);
    } else if (key.k == JV_STR) {
        return no_attribute(c, obj, key.u.s.p, key.u.s.n);
    }
    sbuf b = {0};
    jv_repr_to(c, &b, key);
    return jv_undef(c, "%s object has no element %s", obj.k == JV_NONE ? "None" : jv_type_name(obj),
                    b.p);
}

static int64_t slice_arg(jctx *c, jv v, int64_t dflt)
{
    if (v.k == JV_NONE)
        return dflt;
    if (v.k == JV_INT)
        return v.u.i;
    if (v.k == JV_BOOL)
        return v.u.b;
    if (v.k == JV_UNDEF)
        jv_raise_undef(c, v);
    jfail(c, "slice indices must be integers or None");
}

static jv slice(jctx *c, jv obj, jv start, jv stop, jv stepv)
{
    if (obj.k == JV_UNDEF)
        jv_raise_undef(c, obj);
    if (obj.k != JV_LIST && obj.k != JV_STR)
        jfail(c, "'%s' object is not subscriptable", jv_type_name(obj));
    size_t n_cp = 0, *off = NULL;
    int64_t n;
    if (obj.k == JV_STR) {
        off = cp_offsets(c, obj, &n_cp);
        n = (int64_t)n_cp;
    } else {
        n = (int64_t)obj.u.l->n;
    }
    int64_t st = slice_arg(c, stepv, 1);
    if (st == 0)
        jfail(c, "slice step cannot be zero");
    int64_t lo = slice_arg(c, start, st > 0 ? 0 : n - 1);
    int64_t hi = slice_arg(c, stop, st > 0 ? n : -n - 1);
    /* Python's slice.indices */
    if (start.k != JV_NONE) {
        if (lo < 0)
            lo += n;
        if (lo < 0)
            lo = st > 0 ? 0 : -1;
        if (lo >= n)
            lo = st > 0 ? n : n - 1;
    }
    if (stop.k != JV_NONE || st < 0) {
        if (stop.k != JV_NONE && hi < 0)
            hi += n;
        if (hi < 0)
            hi = st > 0 ? 0 : -1;
        if (hi >= n)
            hi = st > 0 ? n : n - 1;
    }
    if (obj.k == JV_STR) {
        if (st == 1)
            return lo < hi ? jv_str(obj.u.s.p + off[lo], off[hi] - off[lo]) : jv_str("", 0);
        sbuf b = {0};
        sb_put(c, &b, "", 0);
        for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st)
            sb_put(c, &b, obj.u.s.p + off[i], off[i + 1] - off[i]);
        return jv_sb(&b);
    }
    jv out = jv_list(c);
    for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st)
        jl_push(c, out.u.l, obj.u.l->v[i]);
    return out;
}

/* ---- expressions ---- */

static jv eval(jctx *c, scope *s, const node *n);
static void exec_body(jctx *c, scope *s, const nlist *body, sbuf *out);

static void eval_args(jctx *c, scope *s, const node *n, jargs *a)
{
    memset(a, 0, sizeof *a);
    a->n_pos = n->args.n;
    a->pos = jalloc(c, (n->args.n + 1) * sizeof *a->pos);
    for (size_t i = 0; i < n->args.n; i++)
        a->pos[i] = eval(c, s, n->args.v[i]);
    a->n_kw = n->n_names;
    a->kwnames = n->kwnames;
    a->kw = jalloc(c, (n->n_names + 1) * sizeof *a->kw);
    for (size_t i = 0; i < n->n_names; i++)
        a->kw[i] = eval(c, s, n->kwvals.v[i]);
}

static jv call_macro(jctx *c, const jmacro *m, const jargs *a)
{
    const node *def = m->def, *params = def->a;
    if (a->n_pos > params->n_names)
        jfail(c, "macro '%s' takes not more than %zu argument(s)", def->s, params->n_names);
    if (++c->depth > MAX_MACRO_DEPTH)
        jfail(c, "macros nested deeper than %d", MAX_MACRO_DEPTH);
    scope *ms = scope_new(c, m->closure);
    for (size_t k = 0; k < a->n_kw; k++) {
        size_t i = 0;
        while (i < params->n_names && strcmp(params->kwnames[i], a->kwnames[k]) != 0)
            i++;
        if (i == params->n_names)
            jfail(c, "macro '%s' takes no keyword argument '%s'", def->s, a->kwnames[k]);
        if (i < a->n_pos)
            jfail(c, "macro '%s' got multiple values for argument '%s'", def->s, a->kwnames[k]);
    }
    for (size_t i = 0; i < params->n_names; i++) {
        const char *pname = params->kwnames[i];
        jv v;
        bool given = false;
        if (i < a->n_pos) {
            v = a->pos[i];
            given = true;
        } else {
            for (size_t k = 0; k < a->n_kw; k++)
                if (strcmp(a->kwnames[k], pname) == 0) {
                    v = a->kw[k];
                    given = true;
                }
        }
        if (!given)
            v = params->kwvals.v[i] ? eval(c, ms, params->kwvals.v[i])
                                    : jv_undef(c, "parameter '%s' was not provided", pname);
        scope_set(c, ms, pname, v);
    }
    sbuf out = {0};
    sb_put(c, &out, "", 0);
    int jump = c->jump;
    exec_body(c, ms, &def->body, &out);
    c->jump = jump;
    c->depth--;
    return jv_sb(&out);
}

static jv call_value(jctx *c, jv f, const jargs *a)
{
    switch (f.k) {
    case JV_MACRO: return call_macro(c, f.u.m, a);
    case JV_FUNC: return jlib_call_global(c, f.u.fn, a);
    case JV_METHOD: return jlib_method(c, f.u.meth->self, f.u.meth->name, a);
    case JV_UNDEF: jv_raise_undef(c, f);
    default: jfail(c, "'%s' object is not callable", jv_type_name(f));
    }
}

static double num(jctx *c, jv v, const char *op, jv other)
{
    if (v.k == JV_INT)
        return (double)v.u.i;
    if (v.k == JV_FLOAT)
        return v.u.f;
    if (v.k == JV_BOOL)
        return v.u.b;
    if (v.k == JV_UNDEF)
        jv_raise_undef(c, v);
    jfail(c, "unsupported operand type(s) for %s: '%s' and '%s'", op, jv_type_name(v),
          jv_type_name(other));
}

static bool is_intlike(jv v) { return v.k == JV_INT || v.k == JV_BOOL; }
static int64_t ival(jv v) { return v.k == JV_INT ? v.u.i : v.u.b; }

static jv binop(jctx *c, int op, jv a, jv b)
{
    static const char *const names[] = {"+", "-", "*", "/", "//", "%", "**", "~"};
    if (op == OP_CONCAT) {
        sbuf o = {0};
        sb_put(c, &o, "", 0);
        jv_str_to(c, &o, a);
        jv_str_to(c, &o, b);
        return jv_sb(&o);
    }
    if (a.k == JV_UNDEF)
        jv_raise_undef(c, a);
    if (b.k == JV_UNDEF)
        jv_raise_undef(c, b);
    const char *name = names[op];
    if (op == OP_ADD && a.k == JV_STR && b.k == JV_STR) {
        bool safe = a.safe || b.safe;   /* Markup + str escapes the str */
        if (safe) {
            a = a.safe ? a : jv_escape(c, a);
            b = b.safe ? b : jv_escape(c, b);
        }
        sbuf o = {0};
        sb_put(c, &o, a.u.s.p, a.u.s.n);
        sb_put(c, &o, b.u.s.p, b.u.s.n);
        jv r = jv_sb(&o);
        r.safe = safe;
        return r;
    }
    if (op == OP_ADD && a.k == JV_LIST && b.k == JV_LIST) {
        jv o = jv_list(c);
        for (size_t i = 0; i < a.u.l->n; i++)
            jl_push(c, o.u.l, a.u.l->v[i]);
        for (size_t i = 0; i < b.u.l->n; i++)
            jl_push(c, o.u.l, b.u.l->v[i]);
        o.tuple = a.tuple;
        return o;
    }
    if (op == OP_MUL && ((a.k == JV_STR && is_intlike(b)) || (b.k == JV_STR && is_intlike(a)))) {
        jv str = a.k == JV_STR ? a : b;
        int64_t times = a.k == JV_STR ? ival(b) : ival(a);
        if (times <= 0 || str.u.s.n == 0)
            return jv_str("", 0);
        if ((uint64_t)times > (c->max_alloc - c->allocated) / str.u.s.n)
            jfail(c, "the template used more than %zu MiB of memory", c->max_alloc >> 20);
        char *p = jalloc(c, str.u.s.n * (size_t)times + 1);
        for (int64_t i = 0; i < times; i++)
            memcpy(p + (size_t)i * str.u.s.n, str.u.s.p, str.u.s.n);
        p[str.u.s.n * (size_t)times] = 0;
        return jv_str(p, str.u.s.n * (size_t)times);
    }
    if (a.k == JV_STR || b.k == JV_STR || a.k == JV_LIST || b.k == JV_LIST) {
        if (op == OP_ADD && a.k == JV_STR)
            jfail(c, "can only concatenate str (not \"%s\") to str", jv_type_name(b));
        jfail(c, "unsupported operand type(s) for %s: '%s' and '%s'", name, jv_type_name(a),
              jv_type_name(b));
    }
    if (is_intlike(a) && is_intlike(b) && op != OP_DIV) {
        int64_t x = ival(a), y = ival(b), r;
        switch (op) {
        case OP_ADD: if (!__builtin_add_overflow(x, y, &r)) return jv_int(r); break;
        case OP_SUB: if (!__builtin_sub_overflow(x, y, &r)) return jv_int(r); break;
        case OP_MUL: if (!__builtin_mul_overflow(x, y, &r)) return jv_int(r); break;
        case OP_FLOORDIV:
        case OP_MOD:
            if (y == 0)
                jfail(c, "integer division or modulo by zero");
            if (x == INT64_MIN && y == -1)
                break;
            r = x / y;
            if ((x % y != 0) && ((x < 0) != (y < 0)))
                r--;
            return jv_int(op == OP_FLOORDIV ? r : x - r * y);
        case OP_POW:
            if (y >= 0) {
                int64_t acc = 1;
                bool over = false;
                for (int64_t i = 0; i < y && !over; i++) {
                    over = __builtin_mul_overflow(acc, x, &acc);
                    if (acc == 0 || acc == 1)
                        break;
                }
                if (!over)
                    return jv_int(acc);
            }
            break;
        }
    }
    double x = num(c, a, name, b), y = num(c, b, name, a);
    switch (op) {
    case OP_ADD: return jv_float(x + y);
    case OP_SUB: return jv_float(x - y);
    case OP_MUL: return jv_float(x * y);
    case OP_DIV:
        if (y == 0)
            jfail(c, "division by zero");
        return jv_float(x / y);
    case OP_FLOORDIV:
        if (y == 0)
            jfail(c, "float floor division by zero");
        return jv_float(floor(x / y));
    case OP_MOD:
        if (y == 0)
            jfail(c, "float modulo");
        return jv_float(x - floor(x / y) * y);
    default: return jv_float(pow(x, y));
    }
}

static bool contains(jctx *c, jv item, jv box)
{
    switch (box.k) {
    case JV_STR:
        if (item.k == JV_UNDEF)
            jv_raise_undef(c, item);
        if (item.k != JV_STR)
            jfail(c, "'in <string>' requires string as left operand, not %s", jv_type_name(item));
        if (item.u.s.n == 0)
            return true;
        for (size_t i = 0; i + item.u.s.n <= box.u.s.n; i++)
            if (memcmp(box.u.s.p + i, item.u.s.p, item.u.s.n) == 0)
                return true;
        return false;
    case JV_LIST:
        for (size_t i = 0; i < box.u.l->n; i++)
            if (jv_equal(item, box.u.l->v[i]))
                return true;
        return false;
    case JV_DICT:
    case JV_NS:
        return jd_find(box.u.d, item) != NULL;
    case JV_UNDEF:
        return false;
    default:
        jfail(c, "argument of type '%s' is not iterable", jv_type_name(box));
    }
}

static bool compare(jctx *c, int op, jv a, jv b)
{
    static const char *const names[] = {"==", "!=", "<", "<=", ">", ">="};
    switch (op) {
    case OP_EQ: return jv_equal(a, b);
    case OP_NE: return !jv_equal(a, b);
    case OP_IN: return contains(c, a, b);
    case OP_NOTIN: return !contains(c, a, b);
    default: {
        int r = jv_compare(c, a, b, names[op - OP_EQ]);
        return op == OP_LT ? r < 0 : op == OP_LE ? r <= 0 : op == OP_GT ? r > 0 : r >= 0;
    }
    }
}

static jv eval(jctx *c, scope *s, const node *n)
{
    step(c);
    switch (n->kind) {
    case E_LIT:
        return n->lit;
    case E_NAME: {
        jv *v = scope_get(s, n->s);
        if (v)
            return *v;
        int id = jlib_global_id(n->s);
        if (id >= 0) {
            jv f = {.k = JV_FUNC};
            f.u.fn = id;
            return f;
        }
        return jv_undef(c, "'%s' is undefined", n->s);
    }
    case E_ATTR:
        return jv_getattr(c, eval(c, s, n->a), n->s, n->n);
    case E_ITEM: {
        jv obj = eval(c, s, n->a);
        return jv_getitem(c, obj, eval(c, s, n->b));
    }
    case E_SLICE: {
        jv obj = eval(c, s, n->a);
        jv none = jv_none();
        jv lo = n->b ? eval(c, s, n->b) : none, hi = n->c ? eval(c, s, n->c) : none;
        jv st = n->args.v[0] ? eval(c, s, n->args.v[0]) : none;
        return slice(c, obj, lo, hi, st);
    }
    case E_CALL: {
        jargs a;
        if (n->a->kind == E_ATTR) {   /* obj.method(…): no bound method value */
            jv obj = eval(c, s, n->a->a);
            if (obj.k != JV_UNDEF && obj.k != JV_NS && jlib_has_method(obj, n->a->s)) {
                eval_args(c, s, n, &a);
                return jlib_method(c, obj, n->a->s, &a);
            }
            jv f = jv_getattr(c, obj, n->a->s, n->a->n);
            eval_args(c, s, n, &a);
            return call_value(c, f, &a);
        }
        jv f = eval(c, s, n->a);
        eval_args(c, s, n, &a);
        return call_value(c, f, &a);
    }
    case E_FILTER: {
        jv v = eval(c, s, n->a);
        jargs a;
        eval_args(c, s, n, &a);
        return jlib_filter(c, n->s, v, &a);
    }
    case E_TEST: {
        jv v = eval(c, s, n->a);
        jargs a;
        eval_args(c, s, n, &a);
        bool known;
        bool r = jlib_test(c, n->s, v, &a, &known);
        if (!known)
            jfail(c, "no test named '%s'", n->s);
        return jv_bool(r != n->negate);
    }
    case E_NOT:
        return jv_bool(!jv_truthy(eval(c, s, n->a)));
    case E_NEG:
    case E_POS: {
        jv v = eval(c, s, n->a);
        if (v.k == JV_UNDEF)
            jv_raise_undef(c, v);
        if (v.k == JV_INT || v.k == JV_BOOL) {
            int64_t i = ival(v);
            return jv_int(n->kind == E_NEG && i != INT64_MIN ? -i : i);
        }
        if (v.k == JV_FLOAT)
            return jv_float(n->kind == E_NEG ? -v.u.f : v.u.f);
        jfail(c, "bad operand type for unary %c: '%s'", n->kind == E_NEG ? '-' : '+',
              jv_type_name(v));
    }
    case E_BIN: {
        jv a = eval(c, s, n->a);
        return binop(c, n->op, a, eval(c, s, n->b));
    }
    case E_AND: {
        jv a = eval(c, s, n->a);
        return jv_truthy(a) ? eval(c, s, n->b) : a;
    }
    case E_OR: {
        jv a = eval(c, s, n->a);
        return jv_truthy(a) ? a : eval(c, s, n->b);
    }
    case E_CMP: {
        jv a = eval(c, s, n->args.v[0]);
        for (size_t i = 1; i < n->args.n; i++) {
            jv b = eval(c, s, n->args.v[i]);
            if (!compare(c, n->cmp_ops[i - 1], a, b))
                return jv_bool(false);
            a = b;
        }
        return jv_bool(true);
    }
    case E_COND:
        if (jv_truthy(eval(c, s, n->a)))
            return eval(c, s, n->b);
        return n->c ? eval(c, s, n->c)
                    : jv_undef(c, "the inline if-expression evaluated to false and no else section "
                                  "was defined.");
    case E_LIST:
    case E_TUPLE: {
        jv l = jv_list(c);
        for (size_t i = 0; i < n->args.n; i++)
            jl_push(c, l.u.l, eval(c, s, n->args.v[i]));
        l.tuple = n->kind == E_TUPLE;
        return l;
    }
    case E_DICT: {
        jv d = jv_dict(c);
        for (size_t i = 0; i < n->args.n; i++) {
            jv k = eval(c, s, n->args.v[i]);
            jd_set(c, d.u.d, k, eval(c, s, n->kwvals.v[i]));
        }
        return d;
    }
    default:
        jfail(c, "internal error: node %d is not an expression", n->kind);
    }
}

/* ---- statements ---- */

static void assign(jctx *c, scope *s, const node *n, jv v)
{
    if (n->n_names == 1) {
        scope_set(c, s, n->kwnames[0], v);
        return;
    }
    if (v.k == JV_UNDEF)
        jv_raise_undef(c, v);
    jlist *items = jv_iter(c, v);
    if (items->n != n->n_names)
        jfail(c, "%s values to unpack (expected %zu, got %zu)",
              items->n < n->n_names ? "not enough" : "too many", n->n_names, items->n);
    for (size_t i = 0; i < n->n_names; i++)
        scope_set(c, s, n->kwnames[i], items->v[i]);
}

static jv render_filtered(jctx *c, scope *s, const node *n)
{
    sbuf body = {0};
    sb_put(c, &body, "", 0);
    exec_body(c, s, &n->body, &body);
    scope *fs = scope_new(c, s);
    scope_set(c, fs, "\x01", jv_sb(&body));
    return eval(c, fs, n->b);
}

/* The items a loop visits: a list's, or a range's computed one by one (a
** loop over range(n) allocates nothing per item). */
typedef struct items {
    jlist *list;
    int64_t lo, step;
    size_t n;
} items;

static jv item_at(const items *it, size_t i)
{
    return it->list ? it->list->v[i] : jv_int(it->lo + (int64_t)i * it->step);
}

static items loop_items(jctx *c, scope *s, const node *iter)
{
    items it = {0};
    if (iter->kind == E_CALL && iter->a->kind == E_NAME && strcmp(iter->a->s, "range") == 0 &&
        !scope_get(s, "range") && iter->n_names == 0 && iter->args.n >= 1 && iter->args.n <= 3) {
        int64_t v[3] = {0, 0, 1};
        for (size_t i = 0; i < iter->args.n; i++) {
            jv x = eval(c, s, iter->args.v[i]);
            if (x.k != JV_INT && x.k != JV_BOOL)
                jfail(c, "range: '%s' object cannot be interpreted as an integer", jv_type_name(x));
            v[iter->args.n == 1 ? 1 : i] = ival(x);
        }
        if (v[2] == 0)
            jfail(c, "range() arg 3 must not be zero");
        it.lo = v[0];
        it.step = v[2];
        if (v[2] > 0 && v[1] > v[0])
            it.n = (size_t)(((uint64_t)v[1] - (uint64_t)v[0] - 1) / (uint64_t)v[2] + 1);
        else if (v[2] < 0 && v[1] < v[0])
            it.n = (size_t)(((uint64_t)v[0] - (uint64_t)v[1] - 1) / (uint64_t)(-(v[2] + 1) + 1) + 1);
        return it;
    }
    jv seq = eval(c, s, iter);
    if (seq.k != JV_UNDEF && seq.k != JV_LIST && seq.k != JV_DICT && seq.k != JV_STR)
        jfail(c, "'%s' object is not iterable", jv_type_name(seq));
    it.list = jv_iter(c, seq);
    it.n = it.list->n;
    return it;
}

static void exec_for(jctx *c, scope *s, const node *n, sbuf *out)
{
    items it = loop_items(c, s, n->a);
    scope *ls = scope_new(c, s);   /* one scope and one loop object, reset per item */
    if (n->b) {   /* {% for x in xs if cond %}: the loop sees the kept items only */
        jlist *kept = jv_list(c).u.l;
        for (size_t i = 0; i < it.n; i++) {
            step(c);
            ls->n = 0;
            assign(c, ls, n, item_at(&it, i));
            if (jv_truthy(eval(c, ls, n->b)))
                jl_push(c, kept, item_at(&it, i));
        }
        it = (items){.list = kept, .n = kept->n};
    }
    jv loop = jv_dict(c);
    static const char *const fields[] = {"index", "index0", "revindex", "revindex0", "first",
                                         "last", "length", "depth", "depth0", "previtem",
                                         "nextitem"};
    for (size_t f = 0; f < sizeof fields / sizeof *fields; f++)
        jd_set(c, loop.u.d, jv_str(fields[f], strlen(fields[f])), jv_none());
    jv *val = loop.u.d->val;
    jv no_prev = jv_undef(c, "there is no previous item"), no_next = jv_undef(c, "there is no next item");
    size_t len = it.n;
    for (size_t i = 0; i < len; i++) {
        step(c);
        val[0] = jv_int((int64_t)i + 1);
        val[1] = jv_int((int64_t)i);
        val[2] = jv_int((int64_t)(len - i));
        val[3] = jv_int((int64_t)(len - i - 1));
        val[4] = jv_bool(i == 0);
        val[5] = jv_bool(i + 1 == len);
        val[6] = jv_int((int64_t)len);
        val[7] = jv_int(1);
        val[8] = jv_int(0);
        val[9] = i > 0 ? item_at(&it, i - 1) : no_prev;
        val[10] = i + 1 < len ? item_at(&it, i + 1) : no_next;
        ls->n = 0;
        scope_set(c, ls, "loop", loop);
        assign(c, ls, n, item_at(&it, i));
        exec_body(c, ls, &n->body, out);
        int jump = c->jump;
        c->jump = 0;
        if (jump == 1)
            break;
    }
    if (len == 0)
        exec_body(c, s, &n->orelse, out);
}

static void exec_stmt(jctx *c, scope *s, const node *n, sbuf *out)
{
    step(c);
    switch (n->kind) {
    case S_TEXT:
        sb_put(c, out, n->s, n->n);
        break;
    case S_OUT:
        jv_str_to(c, out, eval(c, s, n->a));
        break;
    case S_IF:
        exec_body(c, s, jv_truthy(eval(c, s, n->a)) ? &n->body : &n->orelse, out);
        break;
    case S_FOR:
        exec_for(c, s, n, out);
        break;
    case S_SET:
        if (n->a) {   /* ns.attr = value */
            jv ns = eval(c, s, n->a);
            if (ns.k != JV_NS)
                jfail(c, "cannot assign attribute on non-namespace object");
            jd_set(c, ns.u.d, jv_str(n->s, strlen(n->s)), eval(c, s, n->b));
        } else {
            assign(c, s, n, eval(c, s, n->b));
        }
        break;
    case S_SETBLOCK:
        assign(c, s, n, render_filtered(c, s, n));
        break;
    case S_MACRO: {
        jmacro *m = jalloc(c, sizeof *m);
        m->def = n;
        m->closure = s;
        jv v = {.k = JV_MACRO};
        v.u.m = m;
        scope_set(c, s, n->s, v);
        break;
    }
    case S_FILTER:
        jv_str_to(c, out, render_filtered(c, s, n));
        break;
    case S_BLOCK:
        exec_body(c, s, &n->body, out);
        break;
    case S_BREAK:
        c->jump = 1;
        break;
    case S_CONTINUE:
        c->jump = 2;
        break;
    default:
        jfail(c, "internal error: node %d is not a statement", n->kind);
    }
}

static void exec_body(jctx *c, scope *s, const nlist *body, sbuf *out)
{
    for (size_t i = 0; i < body->n && !c->jump; i++)
        exec_stmt(c, s, body->v[i], out);
}

/* ---- entry points ---- */

mast_status mast_jinja_parse(const char *src, size_t len, const char *name, mast_jinja **out)
{
    *out = NULL;
    mast_jinja *t = calloc(1, sizeof *t);
    if (!t)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_arena_init(&t->arena, 0);
    t->name = mast_arena_strdup(&t->arena, name ? name : "(template)");
    char *copy = mast_arena_strndup(&t->arena, src, len);   /* text nodes point into it */
    if (!t->name || !copy) {
        mast_jinja_free(t);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    mast_status st = mast_jinja_parse_tree(t, copy, len);
    if (st != MAST_OK) {
        mast_jinja_free(t);
        return st;
    }
    *out = t;
    return MAST_OK;
}

void mast_jinja_free(mast_jinja *t)
{
    if (!t)
        return;
    mast_arena_free(&t->arena);
    free(t);
}

static void render(jctx *c, const mast_jinja *t, const json_t *vars, sbuf *o)
{
    c->globals = scope_new(c, NULL);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)vars, key, v) {
        char *name = jalloc(c, strlen(key) + 1);
        strcpy(name, key);
        scope_set(c, c->globals, name, jv_from_json(c, v));
    }
    sb_put(c, o, "", 0);
    exec_body(c, c->globals, &t->body, o);
}

mast_status mast_jinja_render(const mast_jinja *t, const json_t *vars, const mast_jinja_opts *opts,
                              mast_buf *out)
{
    if (!json_is_object(vars))
        return mast_fail(MAST_ERR_INVALID, "template variables must be a JSON object");
    jctx *c = calloc(1, sizeof *c);
    if (!c)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_arena_init(&c->arena, 0);
    c->max_alloc = MAX_ALLOC;
    c->max_steps = MAX_STEPS;
    c->opts = opts;
    sbuf o = {0};
    mast_status st = MAST_OK;
    if (setjmp(c->fail) == 0) {
        render(c, t, vars, &o);
        st = mast_buf_append(out, o.p, o.n);
    } else {
        st = mast_fail(MAST_ERR_INVALID, "%s", c->msg);
    }
    mast_arena_free(&c->arena);
    free(c);
    return st;
}
