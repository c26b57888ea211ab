/*
** model/jinja_impl.h — the Jinja interpreter's insides, shared by
** jinja_lex.c (text → tokens), jinja_parse.c (tokens → tree), jinja_eval.c
** (tree → text), jinja_value.c (values), jinja_methods.c (str/list/dict
** methods) and jinja_filters.c (filters, tests, globals).
*/
#ifndef MAST_MODEL_JINJA_IMPL_H
#define MAST_MODEL_JINJA_IMPL_H

#include <setjmp.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"
#include "model/jinja.h"

/* ---- values (all memory in the render's arena) ---- */

typedef enum {
    JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT, JV_NS,
    JV_MACRO, JV_FUNC, JV_METHOD,
} jv_kind;

typedef struct jlist jlist;
typedef struct jdict jdict;
typedef struct jmacro jmacro;
typedef struct jmethod jmethod;

typedef struct jv {
    uint8_t k;
    bool tuple;                 /* a list that prints as (a, b) */
    bool safe;                  /* a string marked safe (Markup): + escapes the other side */
    union {
        bool b;
        int64_t i;
        double f;
        struct { const char *p; size_t n; } s;   /* JV_STR; JV_UNDEF: the message it raises */
        jlist *l;
        jdict *d;               /* JV_DICT, JV_NS */
        jmacro *m;
        int fn;                 /* JV_FUNC: a global */
        jmethod *meth;
    } u;
} jv;

struct jlist { jv *v; size_t n, cap; };
struct jdict { jv *key, *val; size_t n, cap; };

/* ---- the tree ---- */

typedef enum {
    /* statements */
    S_TEXT, S_OUT, S_IF, S_FOR, S_SET, S_SETBLOCK, S_MACRO, S_FILTER, S_BLOCK, S_BREAK, S_CONTINUE,
    /* expressions */
    E_LIT, E_NAME, E_ATTR, E_ITEM, E_SLICE, E_CALL, E_FILTER, E_TEST, E_NOT, E_NEG, E_POS,
    E_BIN, E_AND, E_OR, E_CMP, E_COND, E_LIST, E_TUPLE, E_DICT,
} node_kind;

/* binary and comparison operators */
enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_CONCAT,
       OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOTIN };

typedef struct node node;
typedef struct nlist { node **v; size_t n; } nlist;

struct node {
    uint8_t kind;
    bool negate;               /* E_TEST: is not */
    int op;
    int line;
    const char *s;             /* S_TEXT text; names (E_NAME, E_ATTR, filter/test/macro) */
    size_t n;
    jv lit;                    /* E_LIT */
    node *a, *b, *c;           /* operands; S_IF cond/-/-; S_FOR iter/filter; E_SLICE start/stop/step */
    nlist args;                /* call arguments, list items, dict keys, E_CMP operands */
    nlist kwvals;              /* keyword argument values, dict values, macro defaults */
    const char **kwnames;      /* keyword argument names; macro and for/set target names */
    size_t n_names;
    int *cmp_ops;              /* E_CMP: args.n - 1 operators */
    nlist body, orelse;        /* statements */
};

struct mast_jinja {
    mast_arena arena;
    char *name;
    nlist body;
};

/* ---- rendering ---- */

typedef struct scope scope;
struct scope {
    scope *parent;
    const char **names;
    jv *vals;
    size_t n, cap;
};

struct jmacro { const node *def; scope *closure; };
struct jmethod { jv self; const char *name; };

typedef struct sbuf { char *p; size_t n, cap; } sbuf;

typedef struct jctx {
    mast_arena arena;
    size_t allocated, max_alloc;
    uint64_t steps, max_steps;
    int depth;
    int jump;                  /* 1 break, 2 continue */
    scope *globals;
    const mast_jinja_opts *opts;
    jmp_buf fail;
    char msg[512];
} jctx;

/* Fails the render: longjmp to mast_jinja_render with the message. */
_Noreturn void jfail(jctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void *jalloc(jctx *c, size_t size);
/* Doubles two parallel arrays (*a of ea-byte, *b of eb-byte elements, n in
** use) in the arena when they are full. */
void jgrow2(jctx *c, void **a, size_t ea, void **b, size_t eb, size_t n, size_t *cap);

void sb_put(jctx *c, sbuf *b, const char *s, size_t n);
void sb_puts(jctx *c, sbuf *b, const char *s);
void sb_printf(jctx *c, sbuf *b, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* value constructors and helpers (jinja_value.c) */
jv jv_undef(jctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
jv jv_none(void);
jv jv_bool(bool b);
jv jv_int(int64_t i);
jv jv_float(double f);
jv jv_str(const char *p, size_t n);
jv jv_strdup(jctx *c, const char *p, size_t n);
jv jv_sb(const sbuf *b);
jv jv_list(jctx *c);
jv jv_dict(jctx *c);
void jl_push(jctx *c, jlist *l, jv v);
void jd_set(jctx *c, jdict *d, jv key, jv val);
/* The value of a string key; NULL when absent. */
jv *jd_get(const jdict *d, const char *key, size_t n);
jv *jd_find(const jdict *d, jv key);

const char *jv_type_name(jv v);
bool jv_truthy(jv v);
bool jv_equal(jv a, jv b);
/* <0, 0, >0; fails the render for types Python cannot order. */
int jv_compare(jctx *c, jv a, jv b, const char *op);
/* Fails with the undefined value's message. */
_Noreturn void jv_raise_undef(jctx *c, jv v);
/* str(v) and repr(v) appended to b. */
void jv_str_to(jctx *c, sbuf *b, jv v);
void jv_repr_to(jctx *c, sbuf *b, jv v);
jv jv_to_str(jctx *c, jv v);
/* Markup.escape: & < > " ' as HTML entities; the result is safe. */
jv jv_escape(jctx *c, jv v);
/* len(v); fails for values without one. */
size_t jv_len(jctx *c, jv v);
/* The items a for loop visits: a list's, a dict's keys, a string's characters. */
jlist *jv_iter(jctx *c, jv v);
jv jv_from_json(jctx *c, const json_t *j);
void jv_tojson(jctx *c, sbuf *b, jv v, int indent, const char *item_sep, const char *key_sep,
               bool sort_keys, bool ascii, int level);
/* Python's repr of a float. */
void fmt_float(char *out, size_t cap, double f);

/* the library (jinja_filters.c, jinja_methods.c): arguments already evaluated */
typedef struct jargs {
    jv *pos;
    size_t n_pos;
    const char **kwnames;
    jv *kw;
    size_t n_kw;
} jargs;

jv jlib_filter(jctx *c, const char *name, jv v, const jargs *a);
bool jlib_test(jctx *c, const char *name, jv v, const jargs *a, bool *known);
jv jlib_method(jctx *c, jv self, const char *name, const jargs *a);
/* Whether `name` is a method of self's type (attribute lookup prefers it). */
bool jlib_has_method(jv self, const char *name);
/* The global functions: their ids and calls. */
int jlib_global_id(const char *name);
jv jlib_call_global(jctx *c, int id, const jargs *a);
/* The named or index-th argument, or NULL. */
const jv *jarg(const jargs *a, size_t index, const char *name);
/* An argument as a string, an integer, a truth value (failing the render
** with what for a missing or mistyped one). */
jv jarg_str(jctx *c, const jv *v, const char *what);
int64_t jarg_int(jctx *c, const jv *v, const char *what);
bool jarg_bool(const jargs *a, size_t i, const char *name, bool dflt);
double jv_number(jv v);
/* A NUL-terminated copy (slices of other strings are not terminated). */
const char *jv_cstr(jctx *c, jv s);

/* string operations (jinja_methods.c), Python's: which 1 lstrip, 2 rstrip,
** 3 strip; recase 0 lower, 1 upper, 2 title, 3 capitalize (ASCII letters) */
jv js_strip(jctx *c, jv s, const jv *chars, int which);
jv js_split(jctx *c, jv s, const jv *sep, const jv *maxsplit, bool right);
jv js_replace(jctx *c, jv s, jv old, jv new_, int64_t count);
jv js_recase(jctx *c, jv s, int how);
jv js_join(jctx *c, jv seq, jv sep, const jv *attr);
/* A dict's (key, value) tuples. */
jv js_dict_items(jctx *c, jv d);

/* attribute and item access (jinja_eval.c, used by the filters) */
jv jv_getattr(jctx *c, jv obj, const char *name, size_t n);
jv jv_getitem(jctx *c, jv obj, jv key);

/* ---- parsing (jinja_lex.c cuts the text into tokens, jinja_parse.c builds the tree) ---- */

typedef enum { T_TEXT, T_VBEGIN, T_BBEGIN, T_VEND, T_BEND, T_NAME, T_INT, T_FLOAT, T_STR, T_OP,
               T_EOF } tkind;

typedef struct tok {
    uint8_t k;
    size_t off;          /* where it starts in the source */
    const char *p;       /* text, name, decoded string or operator */
    size_t n;
    int64_t i;
    double f;
} tok;

typedef struct parser {
    mast_jinja *t;
    const char *src;
    size_t len;
    tok *toks;
    size_t n, cap, i;
    int depth;
    jmp_buf fail;
    char msg[256];
    size_t err_off;
} parser;

/* Fails the parse: longjmp to mast_jinja_parse_tree with the message and the offset. */
_Noreturn void pfail(parser *p, size_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Zeroed memory in the template's arena. */
void *palloc(parser *p, size_t size);
/* p->toks from p->src, whitespace control applied, ending with T_EOF. */
void jinja_lex(parser *p);

mast_status mast_jinja_parse_tree(mast_jinja *t, const char *src, size_t len);

#endif
