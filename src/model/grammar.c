/*
** model/grammar.c — GBNF grammars and the matcher that checks generated
** bytes against one (see grammar.h).
**
** The compiled grammar is a flat array of symbols: each rule has
** alternatives, each alternative is a run of symbols ended by END. A symbol
** is a terminal (a set of bytes) or a reference to a rule. The matcher's
** state is a set of stacks of positions in that array; the top of every
** stack is a terminal (references are expanded as soon as they are
** reached), and an empty stack means the input can end there.
*/
#include "base/utf8.h"
#include "model/grammar.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"

#define SYM_END (-1)
#define IS_RULE(s) ((s) <= -2)
#define RULE_OF(s) (-(s) - 2)
#define RULE_SYM(r) (-(r) - 2)
#define MAX_DEPTH 256        /* stack depth of the matcher */
#define MAX_STACKS 1024      /* parse stacks alive at once (an ambiguous grammar) */
/* Work (expansion steps and stack comparisons) one byte may cost, and one
** walk of the vocabulary: a grammar sent in a request cannot hold a worker
** for long however ambiguous it is. Past it the step fails, which only ever
** refuses bytes (the stacks kept are a subset of the true ones). */
#define BYTE_BUDGET ((size_t)50000)
#define WALK_BUDGET ((size_t)20000000)
#define MAX_RULES 100000

typedef struct byteset {
    uint32_t w[8];
} byteset;

static inline bool set_has(const byteset *s, unsigned char c)
{
    return (s->w[c >> 5] >> (c & 31)) & 1;
}

static inline void set_add_range(byteset *s, unsigned lo, unsigned hi)
{
    for (unsigned c = lo; c <= hi && c < 256; c++)
        s->w[c >> 5] |= 1u << (c & 31);
}

typedef struct budget {
    size_t left;
    bool failed;             /* ran out, nested too deep, too many stacks, or out of memory */
} budget;

static inline bool spend(budget *b, size_t n)
{
    if (b->left < n) {
        b->left = 0;
        b->failed = true;
        return false;
    }
    b->left -= n;
    return true;
}

struct mast_grammar {
    int32_t *syms;
    size_t n_syms;
    byteset *sets;
    size_t n_sets;
    uint32_t *alt_off;       /* rule r's alternatives: alts[alt_off[r] .. alt_off[r+1]) */
    uint32_t *alts;          /* start positions in syms */
    size_t n_rules;
    int32_t root_pos;        /* a one-symbol alternative referring to root, then END */
};

/* ---- building ---- */

typedef struct seq {
    int32_t *s;
    size_t n, cap;
} seq;

typedef struct rule {
    char *name;              /* NULL for the rules the parser makes */
    seq *alts;
    size_t n_alts, cap_alts;
    int defined;
    size_t line;             /* where first used, for "not defined" */
} rule;

typedef struct builder {
    rule *rules;
    size_t n_rules, cap_rules;
    byteset *sets;
    size_t n_sets, cap_sets;
    const char *text, *p, *end;
    mast_status st;
} builder;

static mast_status nomem(builder *b)
{
    if (b->st == MAST_OK)
        b->st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    return b->st;
}

static void where(const builder *b, const char *at, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (const char *q = b->text; q < at && q < b->end; q++) {
        if (*q == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static mast_status syntax(builder *b, const char *at, const char *what)
{
    if (b->st != MAST_OK)
        return b->st;
    size_t line, col;
    where(b, at, &line, &col);
    return b->st = mast_fail(MAST_ERR_FORMAT, "grammar: line %zu, column %zu: %s", line, col, what);
}

static int seq_push(seq *q, int32_t sym)
{
    if (!mast_grow_array((void **)&q->s, &q->cap, q->n + 1, sizeof *q->s))
        return 0;
    q->s[q->n++] = sym;
    return 1;
}

static int new_rule(builder *b, const char *name, size_t len)
{
    if (b->n_rules >= MAX_RULES) {
        b->st = mast_fail(MAST_ERR_LIMIT, "grammar: more than %d rules", MAX_RULES);
        return -1;
    }
    if (!mast_grow_array((void **)&b->rules, &b->cap_rules, b->n_rules + 1, sizeof *b->rules)) {
        nomem(b);
        return -1;
    }
    rule *r = &b->rules[b->n_rules];
    memset(r, 0, sizeof *r);
    if (name && !(r->name = strndup(name, len))) {
        nomem(b);
        return -1;
    }
    return (int)b->n_rules++;
}

static int rule_named(builder *b, const char *name, size_t len)
{
    for (size_t i = 0; i < b->n_rules; i++)
        if (b->rules[i].name && strlen(b->rules[i].name) == len && !memcmp(b->rules[i].name, name, len))
            return (int)i;
    return new_rule(b, name, len);
}

static seq *add_alt(builder *b, int r)
{
    rule *ru = &b->rules[r];
    if (!mast_grow_array((void **)&ru->alts, &ru->cap_alts, ru->n_alts + 1, sizeof *ru->alts)) {
        nomem(b);
        return NULL;
    }
    seq *q = &ru->alts[ru->n_alts++];
    memset(q, 0, sizeof *q);
    return q;
}

static int32_t add_set(builder *b, const byteset *s)
{
    for (size_t i = 0; i < b->n_sets; i++)
        if (!memcmp(&b->sets[i], s, sizeof *s))
            return (int32_t)i;
    if (!mast_grow_array((void **)&b->sets, &b->cap_sets, b->n_sets + 1, sizeof *b->sets)) {
        nomem(b);
        return 0;
    }
    b->sets[b->n_sets] = *s;
    return (int32_t)b->n_sets++;
}

static int32_t byte_sym(builder *b, unsigned char c)
{
    byteset s = {{0}};
    set_add_range(&s, c, c);
    return add_set(b, &s);
}

/* ---- code point classes as UTF-8 byte sequences ---- */

typedef struct cprange {
    uint32_t lo, hi;
} cprange;

static int utf8_encode(uint32_t cp, unsigned char *out)
{
    return (int)mast_utf8_encode(cp, (char *)out);
}

/* Adds to rule r the alternatives of byte-range sequences for code points
** lo..hi (no surrogates; lo and hi of one encoded length at the top call). */
static void utf8_range(builder *b, int r, uint32_t lo, uint32_t hi)
{
    static const uint32_t bounds[] = {0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
    for (int i = 0; i < 3; i++)
        if (lo <= bounds[i] && hi > bounds[i]) {
            utf8_range(b, r, lo, bounds[i]);
            utf8_range(b, r, bounds[i] + 1, hi);
            return;
        }
    unsigned char a[4], z[4];
    int n = utf8_encode(lo, a);
    utf8_encode(hi, z);
    /* split until every byte position is an independent range */
    for (int m = 1; m < n; m++) {
        uint32_t mask = (1u << (6 * m)) - 1;
        if ((lo & ~mask) != (hi & ~mask)) {
            if ((lo & mask) != 0) {
                utf8_range(b, r, lo, lo | mask);
                utf8_range(b, r, (lo | mask) + 1, hi);
                return;
            }
            if ((hi & mask) != mask) {
                utf8_range(b, r, lo, (hi & ~mask) - 1);
                utf8_range(b, r, hi & ~mask, hi);
                return;
            }
        }
    }
    seq *q = add_alt(b, r);
    for (int i = 0; q && i < n; i++) {
        byteset s = {{0}};
        set_add_range(&s, a[i], z[i]);
        if (!seq_push(q, add_set(b, &s)))
            nomem(b);
    }
}

static int cmp_range(const void *x, const void *y)
{
    const cprange *a = x, *b = y;
    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* The symbol matching one code point of the (sorted, merged here) ranges,
** or of their complement. */
static int32_t class_sym(builder *b, cprange *rs, size_t n, bool negate)
{
    qsort(rs, n, sizeof *rs, cmp_range);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && rs[i].lo <= rs[m - 1].hi + 1) {
            if (rs[i].hi > rs[m - 1].hi)
                rs[m - 1].hi = rs[i].hi;
        } else {
            rs[m++] = rs[i];
        }
    }
    n = m;
    cprange out[512];
    size_t k = 0;
    if (negate) {
        uint32_t next = 0;
        for (size_t i = 0; i < n && k < 511; i++) {
            if (rs[i].lo > next)
                out[k++] = (cprange){next, rs[i].lo - 1};
            next = rs[i].hi + 1;
        }
        if (next <= 0x10FFFF)
            out[k++] = (cprange){next, 0x10FFFF};
    } else {
        for (size_t i = 0; i < n && k < 512; i++)
            out[k++] = rs[i];
    }
    /* no surrogates */
    cprange fin[1024];
    size_t f = 0;
    for (size_t i = 0; i < k; i++) {
        uint32_t lo = out[i].lo, hi = out[i].hi > 0x10FFFF ? 0x10FFFF : out[i].hi;
        if (lo <= 0xDFFF && hi >= 0xD800) {
            if (lo < 0xD800)
                fin[f++] = (cprange){lo, 0xD7FF};
            if (hi > 0xDFFF)
                fin[f++] = (cprange){0xE000, hi};
        } else if (lo <= hi) {
            fin[f++] = (cprange){lo, hi};
        }
    }
    byteset ascii = {{0}};
    bool any_ascii = false, any_wide = false;
    for (size_t i = 0; i < f; i++) {
        if (fin[i].lo < 0x80) {
            set_add_range(&ascii, fin[i].lo, fin[i].hi < 0x7F ? fin[i].hi : 0x7F);
            any_ascii = true;
        }
        if (fin[i].hi >= 0x80)
            any_wide = true;
    }
    if (!any_wide) {
        if (!any_ascii)
            return syntax(b, b->p, "a character class that matches nothing"), 0;
        return add_set(b, &ascii);
    }
    int r = new_rule(b, NULL, 0);
    if (r < 0)
        return 0;
    if (any_ascii) {
        seq *q = add_alt(b, r);
        if (q && !seq_push(q, add_set(b, &ascii)))
            nomem(b);
    }
    for (size_t i = 0; i < f; i++)
        if (fin[i].hi >= 0x80)
            utf8_range(b, r, fin[i].lo < 0x80 ? 0x80 : fin[i].lo, fin[i].hi);
    b->rules[r].defined = 1;
    return RULE_SYM(r);
}

/* ---- the GBNF parser ---- */

static bool is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static void skip_space(builder *b, bool newlines)
{
    while (b->p < b->end) {
        char c = *b->p;
        if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n'))
            b->p++;
        else if (c == '#')
            while (b->p < b->end && *b->p != '\n')
                b->p++;
        else
            break;
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* One character of a literal or class: a UTF-8 code point or an escape. */
static bool read_char(builder *b, uint32_t *cp)
{
    const char *at = b->p;
    if (b->p >= b->end)
        return syntax(b, at, "unexpected end of the grammar"), false;
    unsigned char c = (unsigned char)*b->p;
    if (c == '\\') {
        b->p++;
        if (b->p >= b->end)
            return syntax(b, at, "an escape at the end of the grammar"), false;
        char e = *b->p++;
        int digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
        if (digits) {
            uint32_t v = 0;
            for (int i = 0; i < digits; i++) {
                int h = b->p < b->end ? hexval(*b->p) : -1;
                if (h < 0)
                    return syntax(b, at, "a \\x, \\u or \\U escape needs hexadecimal digits"), false;
                v = v * 16 + (uint32_t)h;
                b->p++;
            }
            if (v > 0x10FFFF)
                return syntax(b, at, "an escape beyond U+10FFFF"), false;
            *cp = v;
            return true;
        }
        switch (e) {
        case 'n': *cp = '\n'; return true;
        case 'r': *cp = '\r'; return true;
        case 't': *cp = '\t'; return true;
        case '\\': case '"': case '[': case ']': case '-': case '^': *cp = (uint32_t)e; return true;
        default: return syntax(b, at, "an unknown escape"), false;
        }
    }
    /* a UTF-8 sequence as written */
    int n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (!n || b->p + n > b->end)
        return syntax(b, at, "invalid UTF-8"), false;
    uint32_t v = n == 1 ? c : c & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        unsigned char k = (unsigned char)b->p[i];
        if ((k & 0xC0) != 0x80)
            return syntax(b, at, "invalid UTF-8"), false;
        v = (v << 6) | (k & 0x3F);
    }
    b->p += n;
    *cp = v;
    return true;
}

static void parse_alternatives(builder *b, int r, bool nested, int depth);

/* Wraps q->s[from..) into a rule of its own and leaves one reference. */
static int32_t wrap(builder *b, seq *q, size_t from)
{
    if (q->n - from == 1) {
        q->n = from;
        return q->s[from];
    }
    int r = new_rule(b, NULL, 0);
    if (r < 0)
        return 0;
    seq *a = add_alt(b, r);
    for (size_t i = from; a && i < q->n; i++)
        if (!seq_push(a, q->s[i]))
            nomem(b);
    b->rules[r].defined = 1;
    q->n = from;
    return RULE_SYM(r);
}

/* x repeated min..max times (max < 0: unbounded) appended to q. */
static void repeat(builder *b, seq *q, int32_t x, long min, long max)
{
    for (long i = 0; i < min; i++)
        if (!seq_push(q, x))
            nomem(b);
    if (max >= 0 && max == min)
        return;
    if (max < 0) {   /* R ::= x R | ε */
        int r = new_rule(b, NULL, 0);
        if (r < 0)
            return;
        seq *a = add_alt(b, r);
        if (a && (!seq_push(a, x) || !seq_push(a, RULE_SYM(r))))
            nomem(b);
        add_alt(b, r);
        b->rules[r].defined = 1;
        if (!seq_push(q, RULE_SYM(r)))
            nomem(b);
        return;
    }
    /* O_1 ::= x | ε;  O_k ::= x O_{k-1} | ε */
    int32_t prev = 0;
    for (long k = 1; k <= max - min && b->st == MAST_OK; k++) {
        int r = new_rule(b, NULL, 0);
        if (r < 0)
            return;
        seq *a = add_alt(b, r);
        if (a && (!seq_push(a, x) || (k > 1 && !seq_push(a, prev))))
            nomem(b);
        add_alt(b, r);
        b->rules[r].defined = 1;
        prev = RULE_SYM(r);
    }
    if (!seq_push(q, prev))
        nomem(b);
}

static long read_count(builder *b)
{
    long v = 0;
    const char *at = b->p;
    if (b->p >= b->end || *b->p < '0' || *b->p > '9')
        return syntax(b, at, "a repetition count must be a number"), -1;
    while (b->p < b->end && *b->p >= '0' && *b->p <= '9') {
        v = v * 10 + (*b->p++ - '0');
        if (v > 100000)
            return syntax(b, at, "a repetition count above 100000"), -1;
    }
    return v;
}

static void parse_sequence(builder *b, seq *q, bool nested, int depth)
{
    size_t last = (size_t)-1;   /* where the last element's symbols start */
    while (b->p < b->end && b->st == MAST_OK) {
        const char *at = b->p;
        char c = *b->p;
        if (c == '"') {
            b->p++;
            last = q->n;
            while (b->p < b->end && *b->p != '"' && b->st == MAST_OK) {
                uint32_t cp;
                if (!read_char(b, &cp))
                    return;
                unsigned char u[4];
                int n = utf8_encode(cp, u);
                for (int i = 0; i < n; i++)
                    if (!seq_push(q, byte_sym(b, u[i])))
                        nomem(b);
            }
            if (b->p >= b->end)
                return (void)syntax(b, at, "a literal without its closing quote");
            b->p++;
            if (last == q->n)
                last = (size_t)-1;   /* "" matches the empty string */
        } else if (c == '[') {
            b->p++;
            bool negate = b->p < b->end && *b->p == '^';
            if (negate)
                b->p++;
            cprange rs[256];
            size_t n = 0;
            while (b->p < b->end && *b->p != ']' && b->st == MAST_OK) {
                uint32_t lo, hi;
                if (!read_char(b, &lo))
                    return;
                hi = lo;
                if (b->p + 1 < b->end && *b->p == '-' && b->p[1] != ']') {
                    b->p++;
                    if (!read_char(b, &hi))
                        return;
                    if (hi < lo)
                        return (void)syntax(b, at, "a character range whose end is before its start");
                }
                if (n == 256)
                    return (void)syntax(b, at, "a character class of more than 256 items");
                rs[n++] = (cprange){lo, hi};
            }
            if (b->p >= b->end)
                return (void)syntax(b, at, "a character class without its closing ]");
            b->p++;
            last = q->n;
            if (!seq_push(q, class_sym(b, rs, n, negate)))
                nomem(b);
        } else if (c == '.') {
            b->p++;
            cprange none[1];
            last = q->n;
            if (!seq_push(q, class_sym(b, none, 0, true)))
                nomem(b);
        } else if (c == '(') {
            if (depth > 64)
                return (void)syntax(b, at, "groups nested more than 64 deep");
            b->p++;
            int r = new_rule(b, NULL, 0);
            if (r < 0)
                return;
            skip_space(b, true);
            parse_alternatives(b, r, true, depth + 1);
            if (b->st != MAST_OK)
                return;
            b->rules[r].defined = 1;
            if (b->p >= b->end || *b->p != ')')
                return (void)syntax(b, at, "a group without its closing )");
            b->p++;
            last = q->n;
            if (!seq_push(q, RULE_SYM(r)))
                nomem(b);
        } else if (is_word(c)) {
            const char *s = b->p;
            while (b->p < b->end && is_word(*b->p))
                b->p++;
            /* a rule name followed by ::= starts the next rule */
            const char *save = b->p;
            skip_space(b, true);
            if (b->end - b->p >= 3 && !memcmp(b->p, "::=", 3)) {
                b->p = s;
                return;
            }
            b->p = save;
            int r = rule_named(b, s, (size_t)(save - s));
            if (r < 0)
                return;
            if (!b->rules[r].line)
                where(b, s, &b->rules[r].line, &(size_t){0});
            last = q->n;
            if (!seq_push(q, RULE_SYM(r)))
                nomem(b);
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            if (last == (size_t)-1)
                return (void)syntax(b, at, "a repetition with nothing before it");
            b->p++;
            long min = c == '+' ? 1 : 0, max = c == '?' ? 1 : -1;
            if (c == '{') {
                skip_space(b, false);
                min = read_count(b);
                skip_space(b, false);
                max = min;
                if (b->p < b->end && *b->p == ',') {
                    b->p++;
                    skip_space(b, false);
                    max = b->p < b->end && *b->p == '}' ? -1 : read_count(b);
                    skip_space(b, false);
                }
                if (b->st != MAST_OK)
                    return;
                if (b->p >= b->end || *b->p != '}')
                    return (void)syntax(b, at, "a {m,n} repetition without its closing }");
                b->p++;
                if (max >= 0 && max < min)
                    return (void)syntax(b, at, "a {m,n} repetition with n below m");
            }
            int32_t x = wrap(b, q, last);
            repeat(b, q, x, min, max);
            last = (size_t)-1;
        } else {
            return;   /* | ) or a newline: the caller decides */
        }
        skip_space(b, nested);
    }
}

static void parse_alternatives(builder *b, int r, bool nested, int depth)
{
    for (;;) {
        seq *q = add_alt(b, r);
        if (!q)
            return;
        parse_sequence(b, q, nested, depth);
        if (b->st != MAST_OK)
            return;
        if (b->p < b->end && *b->p == '|') {
            b->p++;
            skip_space(b, true);
            continue;
        }
        return;
    }
}

/* ---- checks: everything defined, nothing left-recursive ---- */

static bool alt_nullable(const seq *q, const bool *nullable)
{
    for (size_t i = 0; i < q->n; i++)
        if (!IS_RULE(q->s[i]) || !nullable[RULE_OF(q->s[i])])
            return false;
    return true;
}

/* 0 unvisited, 1 on the path, 2 done */
static bool left_cycle(const builder *b, int r, const bool *nullable, uint8_t *mark, int depth)
{
    if (mark[r] == 1)
        return true;
    if (mark[r] == 2 || depth > 10000)
        return false;
    mark[r] = 1;
    const rule *ru = &b->rules[r];
    for (size_t a = 0; a < ru->n_alts; a++)
        for (size_t i = 0; i < ru->alts[a].n; i++) {
            int32_t s = ru->alts[a].s[i];
            if (!IS_RULE(s))
                break;
            if (left_cycle(b, RULE_OF(s), nullable, mark, depth + 1))
                return true;
            if (!nullable[RULE_OF(s)])
                break;
        }
    mark[r] = 2;
    return false;
}

static mast_status check(builder *b)
{
    for (size_t r = 0; r < b->n_rules; r++)
        if (!b->rules[r].defined)
            return mast_fail(MAST_ERR_FORMAT, "grammar: line %zu: rule '%s' is used but not defined",
                             b->rules[r].line, b->rules[r].name);
    bool *nullable = calloc(b->n_rules, sizeof *nullable);
    uint8_t *mark = calloc(b->n_rules, 1);
    if (!nullable || !mark) {
        free(nullable);
        free(mark);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t r = 0; r < b->n_rules; r++)
            for (size_t a = 0; !nullable[r] && a < b->rules[r].n_alts; a++)
                if (alt_nullable(&b->rules[r].alts[a], nullable))
                    nullable[r] = changed = true;
    }
    mast_status st = MAST_OK;
    for (size_t r = 0; r < b->n_rules && st == MAST_OK; r++)
        if (left_cycle(b, (int)r, nullable, mark, 0)) {
            const char *name = NULL;
            for (size_t k = 0; k < b->n_rules && !name; k++)
                if (mark[k] == 1 && b->rules[k].name)
                    name = b->rules[k].name;
            st = mast_fail(MAST_ERR_FORMAT, "grammar: rule '%s' is left-recursive (it can reach "
                           "itself before matching a character); rewrite it with repetition",
                           name ? name : "(a group)");
        }
    free(nullable);
    free(mark);
    return st;
}

static void free_builder(builder *b)
{
    for (size_t r = 0; r < b->n_rules; r++) {
        for (size_t a = 0; a < b->rules[r].n_alts; a++)
            free(b->rules[r].alts[a].s);
        free(b->rules[r].alts);
        free(b->rules[r].name);
    }
    free(b->rules);
    free(b->sets);
}

static mast_status flatten(builder *b, int root, mast_grammar **out)
{
    mast_grammar *g = calloc(1, sizeof *g);
    size_t n_syms = 3, n_alts = 0;
    for (size_t r = 0; r < b->n_rules; r++)
        for (size_t a = 0; a < b->rules[r].n_alts; a++) {
            n_syms += b->rules[r].alts[a].n + 1;
            n_alts++;
        }
    if (!g || !(g->syms = malloc(n_syms * sizeof *g->syms)) ||
        !(g->alts = malloc((n_alts + 1) * sizeof *g->alts)) ||
        !(g->alt_off = malloc((b->n_rules + 1) * sizeof *g->alt_off))) {
        mast_grammar_free(g);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    size_t k = 0, na = 0;
    for (size_t r = 0; r < b->n_rules; r++) {
        g->alt_off[r] = (uint32_t)na;
        for (size_t a = 0; a < b->rules[r].n_alts; a++) {
            g->alts[na++] = (uint32_t)k;
            if (b->rules[r].alts[a].n)
                memcpy(g->syms + k, b->rules[r].alts[a].s, b->rules[r].alts[a].n * sizeof *g->syms);
            k += b->rules[r].alts[a].n;
            g->syms[k++] = SYM_END;
        }
    }
    g->alt_off[b->n_rules] = (uint32_t)na;
    g->root_pos = (int32_t)k;
    g->syms[k++] = RULE_SYM(root);
    g->syms[k++] = SYM_END;
    g->n_syms = k;
    g->n_rules = b->n_rules;
    g->sets = b->sets;
    g->n_sets = b->n_sets;
    b->sets = NULL;
    *out = g;
    return MAST_OK;
}

mast_status mast_grammar_parse(const char *text, size_t len, mast_grammar **out)
{
    *out = NULL;
    builder b = {0};
    b.text = b.p = text;
    b.end = text + len;
    b.st = MAST_OK;
    for (;;) {
        skip_space(&b, true);
        if (b.p >= b.end || b.st != MAST_OK)
            break;
        const char *at = b.p, *s = b.p;
        while (b.p < b.end && is_word(*b.p))
            b.p++;
        if (b.p == s) {
            syntax(&b, at, "expected a rule name");
            break;
        }
        size_t n = (size_t)(b.p - s);
        skip_space(&b, true);
        if (b.end - b.p < 3 || memcmp(b.p, "::=", 3)) {
            syntax(&b, b.p, "expected ::= after the rule name");
            break;
        }
        b.p += 3;
        int r = rule_named(&b, s, n);
        if (r < 0)
            break;
        if (b.rules[r].defined) {
            syntax(&b, at, "a rule defined twice");
            break;
        }
        b.rules[r].defined = 1;
        skip_space(&b, true);
        parse_alternatives(&b, r, false, 0);
        if (b.st != MAST_OK)
            break;
        if (b.p < b.end && *b.p != '\n') {
            syntax(&b, b.p, *b.p == ')' ? "a ) without its (" : "unexpected character");
            break;
        }
    }
    mast_status st = b.st;
    int root = -1;
    for (size_t r = 0; st == MAST_OK && r < b.n_rules; r++)
        if (b.rules[r].name && strcmp(b.rules[r].name, "root") == 0)
            root = (int)r;
    if (st == MAST_OK && root < 0)
        st = mast_fail(MAST_ERR_FORMAT, "grammar: no 'root' rule (the rule output starts from)");
    if (st == MAST_OK)
        st = check(&b);
    if (st == MAST_OK)
        st = flatten(&b, root, out);
    free_builder(&b);
    return st;
}

void mast_grammar_free(mast_grammar *g)
{
    if (!g)
        return;
    free(g->syms);
    free(g->sets);
    free(g->alts);
    free(g->alt_off);
    free(g);
}

/* ---- the matcher ---- */

typedef struct stackset {
    int32_t *pool;           /* the stacks' positions, one after another */
    size_t n_pool, cap_pool;
    uint32_t *off, *len;
    size_t n, cap, cap_len;
} stackset;

/* One thread's part of the vocabulary mask: the stacks after d bytes of the
** piece it is walking. */
typedef struct walker {
    stackset *depth;
    size_t n_depth;
    budget b;                /* its share of WALK_BUDGET */
} walker;

struct mast_grammar_matcher {
    const mast_grammar *g;
    const mast_tokenizer *tok;
    stackset cur, tmp[2];
    byteset first;           /* the bytes that can come next (cur's tops) */
    walker *walkers;         /* the mask's walk, one per thread of the pool */
    int n_walkers;
    uint8_t *allowed;        /* the mask's verdicts, per token id */
    size_t n_allowed;
};

static bool ss_add(stackset *s, const int32_t *st, size_t n, budget *b)
{
    if (!spend(b, s->n + 1))
        return false;
    for (size_t i = 0; i < s->n; i++)
        if (s->len[i] == n && (!n || (s->pool[s->off[i] + n - 1] == st[n - 1] &&
                                       !memcmp(s->pool + s->off[i], st, n * sizeof *st))))
            return true;
    if (s->n >= MAX_STACKS) {
        b->failed = true;
        return false;
    }
    if (!mast_grow_array((void **)&s->pool, &s->cap_pool, s->n_pool + n, sizeof *s->pool) ||
        !mast_grow_array((void **)&s->off, &s->cap, s->n + 1, sizeof *s->off) ||
        !mast_grow_array((void **)&s->len, &s->cap_len, s->n + 1, sizeof *s->len)) {
        b->failed = true;
        return false;
    }
    if (n)
        memcpy(s->pool + s->n_pool, st, n * sizeof *st);
    s->off[s->n] = (uint32_t)s->n_pool;
    s->len[s->n] = (uint32_t)n;
    s->n_pool += n;
    s->n++;
    return true;
}

static void ss_clear(stackset *s)
{
    s->n = s->n_pool = 0;
}

static void ss_free(stackset *s)
{
    free(s->pool);
    free(s->off);
    free(s->len);
}

/* Adds every stack that st[0..n) expands to (tops resolved to terminals).
** Each alternative works on its own copy, as the expansion of one may pop
** into and change positions the others still need. */
static void expand(const mast_grammar *g, const int32_t *st, size_t n, stackset *out, budget *b)
{
    if (!spend(b, 1))
        return;
    int32_t w[MAX_DEPTH + 1];
    memcpy(w, st, n * sizeof *w);
    while (n) {
        int32_t pos = w[n - 1], sym = g->syms[pos];
        if (sym == SYM_END) {   /* the rule is done: return to the caller's position */
            n--;
            continue;
        }
        if (IS_RULE(sym)) {
            /* a call in tail position replaces its caller's frame, which has
            ** nothing left to match: repetition (x* is right-recursive) and
            ** long strings do not deepen the stack */
            size_t base = g->syms[pos + 1] == SYM_END ? n - 1 : n;
            if (base >= MAX_DEPTH) {
                b->failed = true;
                return;
            }
            int r = RULE_OF(sym);
            w[n - 1] = pos + 1;
            for (uint32_t a = g->alt_off[r]; a < g->alt_off[r + 1]; a++) {
                w[base] = (int32_t)g->alts[a];
                expand(g, w, base + 1, out, b);
            }
            return;
        }
        ss_add(out, w, n, b);   /* a terminal on top */
        return;
    }
    ss_add(out, w, 0, b);   /* empty: the input may end here */
}

/* out = the stacks of in after byte c. */
static void advance(const mast_grammar *g, const stackset *in, unsigned char c, stackset *out,
                    budget *b)
{
    ss_clear(out);
    for (size_t i = 0; i < in->n; i++) {
        uint32_t n = in->len[i];
        if (!n)
            continue;
        const int32_t *st = in->pool + in->off[i];
        int32_t top = st[n - 1];
        if (!set_has(&g->sets[g->syms[top]], c))
            continue;
        int32_t w[MAX_DEPTH + 1];
        memcpy(w, st, n * sizeof *st);
        w[n - 1] = top + 1;
        expand(g, w, n, out, b);
    }
}

/* m->first: the union of the byte sets on top of cur's stacks. */
static void first_bytes(mast_grammar_matcher *m)
{
    const mast_grammar *g = m->g;
    memset(&m->first, 0, sizeof m->first);
    for (size_t i = 0; i < m->cur.n; i++)
        if (m->cur.len[i]) {
            const byteset *s = &g->sets[g->syms[m->cur.pool[m->cur.off[i] + m->cur.len[i] - 1]]];
            for (int w = 0; w < 8; w++)
                m->first.w[w] |= s->w[w];
        }
}

mast_status mast_grammar_matcher_new(const mast_grammar *g, const mast_tokenizer *tok,
                                     mast_grammar_matcher **out)
{
    mast_grammar_matcher *m = calloc(1, sizeof *m);
    if (!m)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    m->g = g;
    m->tok = tok;
    budget b = {BYTE_BUDGET, false};
    expand(g, &g->root_pos, 1, &m->cur, &b);
    first_bytes(m);
    if (b.failed || !m->cur.n) {
        mast_grammar_matcher_free(m);
        return mast_fail(MAST_ERR_LIMIT, "grammar: nested more than %d deep or more than %d ways "
                         "ambiguous at its start", MAX_DEPTH, MAX_STACKS);
    }
    *out = m;
    return MAST_OK;
}

void mast_grammar_matcher_free(mast_grammar_matcher *m)
{
    if (!m)
        return;
    ss_free(&m->cur);
    ss_free(&m->tmp[0]);
    ss_free(&m->tmp[1]);
    for (int w = 0; w < m->n_walkers; w++) {
        for (size_t d = 0; d < m->walkers[w].n_depth; d++)
            ss_free(&m->walkers[w].depth[d]);
        free(m->walkers[w].depth);
    }
    free(m->walkers);
    free(m->allowed);
    free(m);
}

bool mast_grammar_matcher_allows(mast_grammar_matcher *m, const char *s, size_t n)
{
    if (n && !set_has(&m->first, (unsigned char)s[0]))
        return false;   /* most refusals, without a step */
    const stackset *in = &m->cur;
    for (size_t i = 0; i < n; i++) {
        stackset *out = &m->tmp[i & 1];
        budget b = {BYTE_BUDGET, false};
        advance(m->g, in, (unsigned char)s[i], out, &b);
        if (!out->n || b.failed)
            return false;
        in = out;
    }
    return in->n > 0;
}

mast_status mast_grammar_matcher_accept(mast_grammar_matcher *m, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        budget b = {BYTE_BUDGET, false};
        advance(m->g, &m->cur, (unsigned char)s[i], &m->tmp[0], &b);
        if (b.failed)
            return mast_fail(MAST_ERR_LIMIT, "grammar: too ambiguous to follow at byte %zu of the "
                             "text (more than %d parse stacks, %d deep, or %zu steps)", i,
                             MAX_STACKS, MAX_DEPTH, BYTE_BUDGET);
        if (!m->tmp[0].n)
            return mast_fail(MAST_ERR_INVALID, "grammar: byte %zu of the text (0x%02x) does not "
                             "match", i, (unsigned char)s[i]);
        stackset t = m->cur;
        m->cur = m->tmp[0];
        m->tmp[0] = t;
    }
    first_bytes(m);
    return MAST_OK;
}

bool mast_grammar_matcher_can_end(const mast_grammar_matcher *m)
{
    for (size_t i = 0; i < m->cur.n; i++)
        if (!m->cur.len[i])
            return true;
    return false;
}

bool mast_grammar_matcher_complete(const mast_grammar_matcher *m)
{
    for (size_t i = 0; i < m->cur.n; i++)
        if (m->cur.len[i])
            return false;
    return m->cur.n > 0;
}

typedef struct walk {
    mast_grammar_matcher *m;
    const mast_sorted_vocab *v;
} walk;

/* Which pieces of sorted positions [begin, end) may come next: a piece
** starts from the stacks its common prefix with the one before already
** reached, every piece that begins with a prefix that matched nothing is
** refused without a step, and a first byte that cannot come skips its whole
** run. Verdicts go to m->allowed. */
static void walk_range(void *ctx, size_t begin, size_t end, int worker)
{
    const walk *wk = ctx;
    mast_grammar_matcher *m = wk->m;
    const mast_sorted_vocab *v = wk->v;
    walker *w = &m->walkers[worker];
    size_t valid = 0;            /* w->depth[1..valid] hold the previous piece's prefixes */
    size_t dead = SIZE_MAX;      /* the previous piece's first `dead` bytes match nothing */
    for (size_t k = begin; k < end;) {
        size_t len, c = k == begin ? 0 : v->lcp[k];
        const char *p = mast_tokenizer_piece(m->tok, v->ids[k], &len);
        unsigned char b = (unsigned char)p[0];
        if (!set_has(&m->first, b)) {   /* the run of pieces beginning with b */
            k = v->first[b + 1];
            valid = 0;
            dead = SIZE_MAX;
            continue;
        }
        if (dead != SIZE_MAX && c >= dead) {
            k++;                 /* it begins with the dead prefix too */
            continue;
        }
        dead = SIZE_MAX;
        if (len + 1 > w->n_depth) {
            stackset *grown = realloc(w->depth, (len + 1) * sizeof *grown);
            if (!grown)
                return;   /* the pieces left are refused: never more than the grammar allows */
            memset(grown + w->n_depth, 0, (len + 1 - w->n_depth) * sizeof *grown);
            w->depth = grown;
            w->n_depth = len + 1;
        }
        size_t d = c < valid ? c : valid;
        for (; d < len; d++) {
            advance(m->g, d ? &w->depth[d] : &m->cur, (unsigned char)p[d], &w->depth[d + 1], &w->b);
            if (!w->depth[d + 1].n) {
                dead = d + 1;
                break;
            }
        }
        if (w->b.failed)
            return;   /* out of budget: refuse the rest (what was kept is a subset) */
        valid = d;
        if (d == len)
            m->allowed[v->ids[k]] = 1;
        k++;
    }
}

/* The whole vocabulary's verdicts into m->allowed, over the pool's threads
** (pool NULL: this one). Out of memory or of budget, a walker refuses the
** pieces it has left. */
static bool walk_vocabulary(mast_grammar_matcher *m, const mast_sorted_vocab *v, mast_pool *pool)
{
    int threads = pool ? mast_pool_size(pool) : 1;
    if (threads > m->n_walkers) {
        walker *grown = realloc(m->walkers, (size_t)threads * sizeof *grown);
        if (!grown)
            return false;
        memset(grown + m->n_walkers, 0, (size_t)(threads - m->n_walkers) * sizeof *grown);
        m->walkers = grown;
        m->n_walkers = threads;
    }
    for (int i = 0; i < threads; i++)
        m->walkers[i].b = (budget){WALK_BUDGET / (size_t)threads, false};
    walk wk = {m, v};
    if (pool)
        mast_pool_for(pool, v->n, walk_range, &wk);
    else
        walk_range(&wk, 0, v->n, 0);
    return true;
}

size_t mast_grammar_matcher_allowed(mast_grammar_matcher *m, int n_vocab, mast_pool *pool, int32_t *ids)
{
    const mast_sorted_vocab *v = mast_tokenizer_sorted(m->tok);
    if (v && (size_t)n_vocab > m->n_allowed) {
        uint8_t *a = realloc(m->allowed, (size_t)n_vocab);
        if (a) {
            m->allowed = a;
            m->n_allowed = (size_t)n_vocab;
        }
    }
    if (!v || (size_t)n_vocab > m->n_allowed)
        return 0;   /* out of memory: nothing is allowed, which the generation reports */
    memset(m->allowed, 0, (size_t)n_vocab);
    if (!walk_vocabulary(m, v, pool))
        return 0;
    bool can_end = mast_grammar_matcher_can_end(m);
    for (size_t i = 0; i < v->n_eog; i++)
        if (v->eog[i] < n_vocab)
            m->allowed[v->eog[i]] = can_end;
    size_t n = 0;
    for (int id = 0; id < n_vocab; id++)
        if (m->allowed[id])
            ids[n++] = id;
    return n;
}

static bool hook_allows(void *ctx, int32_t id, const char *piece, size_t len)
{
    (void)id;
    mast_grammar_matcher *m = ctx;
    if (!piece)
        return mast_grammar_matcher_can_end(m);
    return len && mast_grammar_matcher_allows(m, piece, len);
}

static size_t hook_allowed(void *ctx, int n_vocab, mast_pool *pool, int32_t *ids)
{
    return mast_grammar_matcher_allowed(ctx, n_vocab, pool, ids);
}

static mast_status hook_accept(void *ctx, int32_t id, const char *piece, size_t len)
{
    (void)id;
    return mast_grammar_matcher_accept(ctx, piece, len);
}

static bool hook_complete(void *ctx)
{
    return mast_grammar_matcher_complete(ctx);
}

mast_gen_constraint mast_grammar_matcher_constraint(mast_grammar_matcher *m)
{
    return (mast_gen_constraint){m, hook_allows, hook_allowed, hook_accept, hook_complete};
}
