/*
** model/jinja_parse.c — Jinja tokens (jinja_lex.c) → tree.
**
** Recursive descent with Jinja2's precedence: conditional expression, or,
** and, not, comparisons (chained, in, not in), + -, ~, * / // %, **, unary
** - +, then postfix (.attr, [item], [a:b:c], call), filters (|f) and tests
** (is [not] t). Statements: if/elif/else, for, set, macro, filter,
** generation, break, continue; anything else is refused by name.
*/
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "model/jinja_impl.h"

#define MAX_DEPTH 200

/* ---- parser helpers ---- */

static tok *cur(parser *p) { return &p->toks[p->i]; }
static tok *peek(parser *p, size_t k) { return &p->toks[p->i + k < p->n ? p->i + k : p->n - 1]; }

static bool is_op(const tok *t, const char *op)
{
    return t->k == T_OP && t->n == strlen(op) && memcmp(t->p, op, t->n) == 0;
}

static bool is_name(const tok *t, const char *name)
{
    return t->k == T_NAME && t->n == strlen(name) && memcmp(t->p, name, t->n) == 0;
}

static const char *describe(const tok *t, char *buf, size_t cap)
{
    switch (t->k) {
    case T_EOF: return "end of template";
    case T_VEND: return "'}}'";
    case T_BEND: return "'%}'";
    case T_TEXT: return "text";
    case T_STR: return "a string";
    default: snprintf(buf, cap, "'%.*s'", (int)(t->n > 40 ? 40 : t->n), t->p); return buf;
    }
}

static _Noreturn void unexpected(parser *p, const char *wanted)
{
    char b[64];
    pfail(p, cur(p)->off, "expected %s, found %s", wanted, describe(cur(p), b, sizeof b));
}

static void expect_op(parser *p, const char *op)
{
    if (!is_op(cur(p), op)) {
        char w[16];
        snprintf(w, sizeof w, "'%s'", op);
        unexpected(p, w);
    }
    p->i++;
}

static void expect_bend(parser *p)
{
    if (cur(p)->k != T_BEND)
        unexpected(p, "'%}'");
    p->i++;
}

static const char *take_name(parser *p)
{
    tok *t = cur(p);
    if (t->k != T_NAME)
        unexpected(p, "a name");
    p->i++;
    char *s = mast_arena_strndup(&p->t->arena, t->p, t->n);
    if (!s)
        pfail(p, t->off, "out of memory");
    return s;
}

static node *new_node(parser *p, node_kind k, size_t off)
{
    node *n = palloc(p, sizeof *n);
    n->kind = (uint8_t)k;
    n->line = (int)off;   /* the source offset */
    return n;
}

static void push(parser *p, nlist *l, node *n)
{
    node **v = palloc(p, (l->n + 1) * sizeof *v);
    if (l->n)
        memcpy(v, l->v, l->n * sizeof *v);
    v[l->n++] = n;
    l->v = v;
}

static void push_name(parser *p, node *n, const char *name)
{
    const char **v = palloc(p, (n->n_names + 1) * sizeof *v);
    if (n->n_names)
        memcpy(v, n->kwnames, n->n_names * sizeof *v);
    v[n->n_names++] = name;
    n->kwnames = v;
}

/* ---- expressions ---- */

static node *parse_expr(parser *p);
static node *parse_or(parser *p);
static node *parse_unary(parser *p, bool with_filter);

static void enter(parser *p)
{
    if (++p->depth > MAX_DEPTH)
        pfail(p, cur(p)->off, "expression nested deeper than %d", MAX_DEPTH);
}

static void parse_call_args(parser *p, node *n)
{
    expect_op(p, "(");
    while (!is_op(cur(p), ")")) {
        if (cur(p)->k == T_NAME && is_op(peek(p, 1), "=")) {
            push_name(p, n, take_name(p));
            p->i++;
            push(p, &n->kwvals, parse_expr(p));
        } else {
            if (n->n_names)
                pfail(p, cur(p)->off, "a positional argument follows keyword arguments");
            push(p, &n->args, parse_expr(p));
        }
        if (!is_op(cur(p), ","))
            break;
        p->i++;
    }
    expect_op(p, ")");
}

/* Items separated by commas: one expression, or a tuple. */
static node *parse_tuple(parser *p, bool condexpr, bool explicit_parens)
{
    size_t off = cur(p)->off;
    node *t = new_node(p, E_TUPLE, off);
    bool comma = false;
    for (;;) {
        tok *c = cur(p);
        if (c->k == T_BEND || c->k == T_VEND || is_op(c, ")") || (is_name(c, "if") && !condexpr) ||
            (is_op(c, "=")))
            break;
        push(p, &t->args, condexpr ? parse_expr(p) : parse_or(p));
        if (!is_op(cur(p), ","))
            break;
        comma = true;
        p->i++;
    }
    if (t->args.n == 0 && !explicit_parens)
        unexpected(p, "an expression");
    if (t->args.n == 1 && !comma)
        return t->args.v[0];
    return t;
}

static node *parse_primary(parser *p)
{
    tok *t = cur(p);
    node *n;
    enter(p);
    if (t->k == T_NAME) {
        p->i++;
        n = new_node(p, E_LIT, t->off);
        if (is_name(t, "true") || is_name(t, "True"))
            n->lit = jv_bool(true);
        else if (is_name(t, "false") || is_name(t, "False"))
            n->lit = jv_bool(false);
        else if (is_name(t, "none") || is_name(t, "None"))
            n->lit = jv_none();
        else {
            n->kind = E_NAME;
            n->s = mast_arena_strndup(&p->t->arena, t->p, t->n);
            n->n = t->n;
        }
    } else if (t->k == T_STR) {
        n = new_node(p, E_LIT, t->off);
        mast_buf b = {0};
        while (cur(p)->k == T_STR) {
            mast_buf_append(&b, cur(p)->p, cur(p)->n);
            p->i++;
        }
        char *s = mast_arena_strndup(&p->t->arena, mast_buf_cstr(&b), b.len);
        n->lit = jv_str(s, b.len);
        mast_buf_free(&b);
        if (!s)
            pfail(p, t->off, "out of memory");
    } else if (t->k == T_INT || t->k == T_FLOAT) {
        p->i++;
        n = new_node(p, E_LIT, t->off);
        n->lit = t->k == T_INT ? jv_int(t->i) : jv_float(t->f);
    } else if (is_op(t, "(")) {
        p->i++;
        n = parse_tuple(p, true, true);
        expect_op(p, ")");
    } else if (is_op(t, "[")) {
        p->i++;
        n = new_node(p, E_LIST, t->off);
        while (!is_op(cur(p), "]")) {
            push(p, &n->args, parse_expr(p));
            if (!is_op(cur(p), ","))
                break;
            p->i++;
        }
        expect_op(p, "]");
    } else if (is_op(t, "{")) {
        p->i++;
        n = new_node(p, E_DICT, t->off);
        while (!is_op(cur(p), "}")) {
            push(p, &n->args, parse_expr(p));
            expect_op(p, ":");
            push(p, &n->kwvals, parse_expr(p));
            if (!is_op(cur(p), ","))
                break;
            p->i++;
        }
        expect_op(p, "}");
    } else {
        unexpected(p, "an expression");
    }
    p->depth--;
    return n;
}

/* A node of kind over n named by the next name (.attr, |filter, is test). */
static node *named(parser *p, node_kind kind, node *n)
{
    node *x = new_node(p, kind, cur(p)->off);
    x->a = n;
    x->s = take_name(p);
    x->n = strlen(x->s);
    return x;
}

/* callee(args) */
static node *call_node(parser *p, node *callee, size_t off)
{
    node *c = new_node(p, E_CALL, off);
    c->a = callee;
    parse_call_args(p, c);
    return c;
}

static node *parse_postfix(parser *p, node *n)
{
    for (;;) {
        tok *t = cur(p);
        if (is_op(t, ".")) {
            p->i++;
            tok *a = cur(p);
            if (a->k == T_INT) {
                node *it = new_node(p, E_ITEM, a->off);
                it->a = n;
                it->b = new_node(p, E_LIT, a->off);
                it->b->lit = jv_int(a->i);
                p->i++;
                n = it;
                continue;
            }
            n = named(p, E_ATTR, n);
        } else if (is_op(t, "[")) {
            p->i++;
            node *parts[3] = {NULL, NULL, NULL};
            int k = 0;
            bool slice = false;
            for (;;) {
                if (is_op(cur(p), ":")) {
                    slice = true;
                    if (++k > 2)
                        unexpected(p, "']'");
                    p->i++;
                    continue;
                }
                if (is_op(cur(p), "]"))
                    break;
                if (parts[k])
                    unexpected(p, "':' or ']'");
                parts[k] = parse_expr(p);
            }
            expect_op(p, "]");
            node *it = new_node(p, slice ? E_SLICE : E_ITEM, t->off);
            it->a = n;
            if (slice) {
                it->b = parts[0];
                it->c = parts[1];
                push(p, &it->args, parts[2]);
            } else {
                if (!parts[0])
                    unexpected(p, "a subscript");
                it->b = parts[0];
            }
            n = it;
        } else if (is_op(t, "(")) {
            n = call_node(p, n, t->off);
        } else {
            return n;
        }
    }
}

static node *parse_filter_expr(parser *p, node *n)
{
    for (;;) {
        tok *t = cur(p);
        if (is_op(t, "|")) {
            p->i++;
            node *f = named(p, E_FILTER, n);
            if (is_op(cur(p), "("))
                parse_call_args(p, f);
            n = f;
        } else if (is_name(t, "is")) {
            p->i++;
            bool negate = is_name(cur(p), "not");
            if (negate)
                p->i++;
            node *f = named(p, E_TEST, n);
            f->negate = negate;
            tok *c = cur(p);
            if (is_op(c, "(")) {
                parse_call_args(p, f);
            } else if ((c->k == T_NAME || c->k == T_STR || c->k == T_INT || c->k == T_FLOAT ||
                        is_op(c, "[") || is_op(c, "{")) &&
                       !is_name(c, "else") && !is_name(c, "or") && !is_name(c, "and") &&
                       !is_name(c, "if") && !is_name(c, "is") && !is_name(c, "in") &&
                       !is_name(c, "not")) {
                push(p, &f->args, parse_postfix(p, parse_primary(p)));
            }
            n = f;
        } else if (is_op(t, "(")) {
            n = call_node(p, n, t->off);
        } else {
            return n;
        }
    }
}

static node *parse_unary(parser *p, bool with_filter)
{
    tok *t = cur(p);
    node *n;
    enter(p);
    if (is_op(t, "-") || is_op(t, "+")) {
        p->i++;
        n = new_node(p, is_op(t, "-") ? E_NEG : E_POS, t->off);
        n->a = parse_unary(p, false);
    } else {
        n = parse_primary(p);
    }
    n = parse_postfix(p, n);
    if (with_filter)
        n = parse_filter_expr(p, n);
    p->depth--;
    return n;
}

static node *binary(parser *p, int op, node *a, node *b, size_t off)
{
    node *n = new_node(p, E_BIN, off);
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}

/* The binary operator levels, loosest first; each is left-associative. */
static const struct level {
    const char *ops[4];
    int codes[4];
} LEVELS[] = {
    {{"+", "-"}, {OP_ADD, OP_SUB}},
    {{"~"}, {OP_CONCAT}},
    {{"*", "/", "//", "%"}, {OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD}},
    {{"**"}, {OP_POW}},
};

static node *parse_binary(parser *p, size_t level)
{
    if (level == sizeof LEVELS / sizeof *LEVELS)
        return parse_unary(p, true);
    node *n = parse_binary(p, level + 1);
    for (;;) {
        tok *t = cur(p);
        int op = -1;
        for (int k = 0; k < 4 && LEVELS[level].ops[k]; k++)
            if (is_op(t, LEVELS[level].ops[k]))
                op = LEVELS[level].codes[k];
        if (op < 0)
            return n;
        p->i++;
        n = binary(p, op, n, parse_binary(p, level + 1), t->off);
    }
}

static node *parse_math1(parser *p)
{
    return parse_binary(p, 0);
}

static node *parse_compare(parser *p)
{
    size_t off = cur(p)->off;
    node *first = parse_math1(p);
    node *cmp = NULL;
    int ops[64];
    size_t n_ops = 0;
    for (;;) {
        tok *t = cur(p);
        int op = is_op(t, "==") ? OP_EQ : is_op(t, "!=") ? OP_NE : is_op(t, "<") ? OP_LT
               : is_op(t, "<=") ? OP_LE : is_op(t, ">") ? OP_GT : is_op(t, ">=") ? OP_GE
               : is_name(t, "in") ? OP_IN : -1;
        if (op < 0 && is_name(t, "not") && is_name(peek(p, 1), "in")) {
            op = OP_NOTIN;
            p->i++;
        }
        if (op < 0)
            break;
        p->i++;
        if (!cmp) {
            cmp = new_node(p, E_CMP, off);
            push(p, &cmp->args, first);
        }
        if (n_ops == 64)
            pfail(p, t->off, "more than 64 chained comparisons");
        ops[n_ops++] = op;
        push(p, &cmp->args, parse_math1(p));
    }
    if (!cmp)
        return first;
    cmp->cmp_ops = palloc(p, n_ops * sizeof *cmp->cmp_ops);
    memcpy(cmp->cmp_ops, ops, n_ops * sizeof *ops);
    return cmp;
}

static node *parse_not(parser *p)
{
    if (is_name(cur(p), "not")) {
        node *n = new_node(p, E_NOT, cur(p)->off);
        p->i++;
        enter(p);
        n->a = parse_not(p);
        p->depth--;
        return n;
    }
    return parse_compare(p);
}

/* "and" over nots, or "or" over ands. */
static node *parse_logic(parser *p, bool is_or)
{
    node *n = is_or ? parse_logic(p, false) : parse_not(p);
    while (is_name(cur(p), is_or ? "or" : "and")) {
        node *o = new_node(p, is_or ? E_OR : E_AND, cur(p)->off);
        p->i++;
        o->a = n;
        o->b = is_or ? parse_logic(p, false) : parse_not(p);
        n = o;
    }
    return n;
}

static node *parse_or(parser *p)
{
    return parse_logic(p, true);
}

static node *parse_expr(parser *p)
{
    enter(p);
    node *n = parse_or(p);
    while (is_name(cur(p), "if")) {
        node *c = new_node(p, E_COND, cur(p)->off);
        p->i++;
        c->b = n;
        c->a = parse_or(p);
        if (is_name(cur(p), "else")) {
            p->i++;
            c->c = parse_expr(p);
        }
        n = c;
    }
    p->depth--;
    return n;
}

/* ---- statements ---- */

static nlist parse_body(parser *p, const char *const *stops, const char **stopped);

static bool in_list(const tok *t, const char *const *names)
{
    for (; names && *names; names++)
        if (is_name(t, *names))
            return true;
    return false;
}

/* Consumes "{% name" of an end or middle tag the body stopped at. */
static void take_tag(parser *p)
{
    p->i += 2;
}

static void parse_targets(parser *p, node *n)
{
    bool paren = is_op(cur(p), "(");
    if (paren)
        p->i++;
    do {
        if (is_op(cur(p), ","))
            p->i++;
        push_name(p, n, take_name(p));
    } while (is_op(cur(p), ","));
    if (paren)
        expect_op(p, ")");
}

static node *parse_if(parser *p, size_t off)
{
    static const char *const stops[] = {"elif", "else", "endif", NULL};
    node *n = new_node(p, S_IF, off);
    n->a = parse_expr(p);
    expect_bend(p);
    const char *stopped;
    n->body = parse_body(p, stops, &stopped);
    size_t toff = cur(p)->off;
    take_tag(p);
    if (strcmp(stopped, "elif") == 0) {
        push(p, &n->orelse, parse_if(p, toff));
        return n;
    }
    if (strcmp(stopped, "else") == 0) {
        static const char *const end[] = {"endif", NULL};
        expect_bend(p);
        n->orelse = parse_body(p, end, &stopped);
        take_tag(p);
    }
    expect_bend(p);
    return n;
}

/* "%}", the statements up to {% end %}, and that tag. */
static nlist block_body(parser *p, const char *end)
{
    const char *const stops[] = {end, NULL};
    const char *stopped;
    expect_bend(p);
    nlist body = parse_body(p, stops, &stopped);
    take_tag(p);
    if (strcmp(end, "endmacro") == 0 && cur(p)->k == T_NAME)
        p->i++;   /* {% endmacro name %} */
    expect_bend(p);
    return body;
}

/* The name a filter chain of a set or filter block starts from: the body's text. */
static node *body_holder(parser *p)
{
    node *holder = new_node(p, E_NAME, cur(p)->off);
    holder->s = "\x01";
    holder->n = 1;
    return holder;
}

static node *parse_statement(parser *p)
{
    size_t off = cur(p)->off;
    p->i++;   /* {% */
    tok *t = cur(p);
    if (t->k != T_NAME)
        unexpected(p, "a statement name");
    const char *stopped;
    enter(p);
    node *n;
    if (is_name(t, "if")) {
        p->i++;
        n = parse_if(p, off);
    } else if (is_name(t, "for")) {
        static const char *const stops[] = {"else", "endfor", NULL};
        p->i++;
        n = new_node(p, S_FOR, off);
        parse_targets(p, n);
        if (!is_name(cur(p), "in"))
            unexpected(p, "'in'");
        p->i++;
        n->a = parse_tuple(p, false, false);
        if (is_name(cur(p), "if")) {
            p->i++;
            n->b = parse_expr(p);
        }
        if (is_name(cur(p), "recursive"))
            pfail(p, cur(p)->off, "recursive loops are not supported");
        expect_bend(p);
        n->body = parse_body(p, stops, &stopped);
        take_tag(p);
        if (strcmp(stopped, "else") == 0) {
            static const char *const end[] = {"endfor", NULL};
            expect_bend(p);
            n->orelse = parse_body(p, end, &stopped);
            take_tag(p);
        }
        expect_bend(p);
    } else if (is_name(t, "set")) {
        p->i++;
        n = new_node(p, S_SET, off);
        if (cur(p)->k == T_NAME && is_op(peek(p, 1), ".")) {
            n->a = new_node(p, E_NAME, cur(p)->off);
            n->a->s = take_name(p);
            n->a->n = strlen(n->a->s);
            p->i++;
            n->s = take_name(p);   /* namespace attribute */
        } else {
            parse_targets(p, n);
        }
        if (is_op(cur(p), "=")) {
            p->i++;
            n->b = parse_tuple(p, true, false);
            expect_bend(p);
        } else {
            if (n->n_names != 1 || n->a)
                unexpected(p, "'='");
            n->kind = S_SETBLOCK;
            n->b = parse_filter_expr(p, body_holder(p));
            n->body = block_body(p, "endset");
        }
    } else if (is_name(t, "macro")) {
        p->i++;
        n = new_node(p, S_MACRO, off);
        n->s = take_name(p);
        n->n = strlen(n->s);
        n->a = new_node(p, E_TUPLE, off);   /* the parameters: names, defaults */
        expect_op(p, "(");
        while (!is_op(cur(p), ")")) {
            push_name(p, n->a, take_name(p));
            node *dflt = NULL;
            if (is_op(cur(p), "=")) {
                p->i++;
                dflt = parse_expr(p);
            }
            push(p, &n->a->kwvals, dflt);
            if (!is_op(cur(p), ","))
                break;
            p->i++;
        }
        expect_op(p, ")");
        n->body = block_body(p, "endmacro");
    } else if (is_name(t, "filter")) {
        n = new_node(p, S_FILTER, off);
        node *holder = body_holder(p);
        cur(p)->k = T_OP;   /* parse_filter_expr wants a '|': the tag's name stands for it */
        cur(p)->p = "|";
        cur(p)->n = 1;
        n->b = parse_filter_expr(p, holder);
        n->body = block_body(p, "endfilter");
    } else if (is_name(t, "generation")) {
        p->i++;
        n = new_node(p, S_BLOCK, off);
        n->body = block_body(p, "endgeneration");
    } else if (is_name(t, "break") || is_name(t, "continue")) {
        n = new_node(p, is_name(t, "break") ? S_BREAK : S_CONTINUE, off);
        p->i++;
        expect_bend(p);
    } else {
        pfail(p, t->off, "unsupported tag '%.*s'", (int)(t->n > 40 ? 40 : t->n), t->p);
    }
    p->depth--;
    return n;
}

static nlist parse_body(parser *p, const char *const *stops, const char **stopped)
{
    nlist body = {0};
    for (;;) {
        tok *t = cur(p);
        if (t->k == T_EOF) {
            if (stops)
                pfail(p, t->off, "unexpected end of template: '{%% %s %%}' missing",
                      stops[1] ? stops[stops[2] ? 2 : 1] : stops[0]);
            return body;
        }
        if (t->k == T_TEXT) {
            node *n = new_node(p, S_TEXT, t->off);
            n->s = t->p;
            n->n = t->n;
            push(p, &body, n);
            p->i++;
        } else if (t->k == T_VBEGIN) {
            node *n = new_node(p, S_OUT, t->off);
            p->i++;
            n->a = parse_tuple(p, true, false);
            if (cur(p)->k != T_VEND)
                unexpected(p, "'}}'");
            p->i++;
            push(p, &body, n);
        } else if (t->k == T_BBEGIN) {
            tok *name = peek(p, 1);
            if (in_list(name, stops)) {
                for (; *stops; stops++)
                    if (is_name(name, *stops))
                        *stopped = *stops;
                return body;
            }
            if (name->k == T_NAME && ((name->n > 3 && memcmp(name->p, "end", 3) == 0) ||
                                      is_name(name, "else") || is_name(name, "elif")))
                pfail(p, name->off, "unexpected '{%% %.*s %%}'", (int)(name->n > 40 ? 40 : name->n),
                      name->p);
            push(p, &body, parse_statement(p));
        } else {
            unexpected(p, "text or a tag");
        }
    }
}

mast_status mast_jinja_parse_tree(mast_jinja *t, const char *src, size_t len)
{
    parser *p = calloc(1, sizeof *p);
    if (!p)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    p->t = t;
    p->src = src;
    p->len = len;
    mast_status st = MAST_OK;
    if (setjmp(p->fail) == 0) {
        jinja_lex(p);
        t->body = parse_body(p, NULL, NULL);
    } else {
        int line = 1;
        for (size_t i = 0; i < p->err_off && i < len; i++)
            line += src[i] == '\n';
        st = mast_fail(MAST_ERR_FORMAT, "template %s, line %d: %s", t->name, line, p->msg);
    }
    free(p->toks);
    free(p);
    return st;
}
