/*
** model/jinja_lex.c — Jinja template text → tokens.
**
** Text runs and tags, with the whitespace rules Jinja2 applies with
** trim_blocks and lstrip_blocks: the first newline after a block or
** comment tag goes; spaces and tabs from the start of a line up to a block
** or comment tag go ("{%+" keeps them); "-" strips all whitespace on its
** side ("{%-", "-%}", "{{-", "-}}"). Inside a tag: names, numbers, strings
** (Python's escapes) and operators; a tag ends at its closing delimiter
** outside brackets, so "{{ {'a': {}} }}" is one expression.
*/
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "model/jinja_impl.h"

_Noreturn void pfail(parser *p, size_t off, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof p->msg, fmt, ap);
    va_end(ap);
    p->err_off = off;
    longjmp(p->fail, 1);
}

void *palloc(parser *p, size_t size)
{
    void *m = mast_arena_alloc(&p->t->arena, size);
    if (!m)
        pfail(p, 0, "out of memory");
    memset(m, 0, size);
    return m;
}

/* ---- lexer ---- */

static void emit(parser *p, tkind k, size_t off, const char *s, size_t n)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        tok *v = realloc(p->toks, cap * sizeof *v);
        if (!v)
            pfail(p, off, "out of memory");
        p->toks = v;
        p->cap = cap;
    }
    tok *t = &p->toks[p->n++];
    memset(t, 0, sizeof *t);
    t->k = (uint8_t)k;
    t->off = off;
    t->p = s;
    t->n = n;
}

static bool is_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static bool at(const parser *p, size_t pos, const char *s)
{
    size_t n = strlen(s);
    return pos + n <= p->len && memcmp(p->src + pos, s, n) == 0;
}

/* A string literal at pos (quote included) decoded with Python's escapes;
** returns the position after it. */
static size_t lex_string(parser *p, size_t pos)
{
    char q = p->src[pos];
    mast_buf b = {0};
    size_t i = pos + 1;
    for (;; i++) {
        if (i >= p->len) {
            mast_buf_free(&b);
            pfail(p, pos, "unterminated string");
        }
        char ch = p->src[i];
        if (ch == q)
            break;
        if (ch != '\\' || i + 1 >= p->len) {
            mast_buf_putc(&b, ch);
            continue;
        }
        char e = p->src[++i];
        int hex = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
        if (hex) {
            uint32_t cp = 0;
            int d = 0;
            for (; d < hex && i + 1 < p->len && isxdigit((unsigned char)p->src[i + 1]); d++) {
                char h = p->src[++i];
                cp = cp * 16 + (uint32_t)(isdigit((unsigned char)h) ? h - '0' : (h | 32) - 'a' + 10);
            }
            if (d < hex || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) {
                mast_buf_free(&b);
                pfail(p, pos, "bad \\%c escape in a string", e);
            }
            char u[4];
            mast_buf_append(&b, u, mast_utf8_encode(cp, u));
            continue;
        }
        const char *from = "nrt\\'\"0abfv\n", *to = "\n\r\t\\'\"\0\a\b\f\v";
        const char *at_ = strchr(from, e);
        if (at_ && e) {
            if (e != '\n')   /* a backslash-newline continues the line */
                mast_buf_putc(&b, to[at_ - from]);
        } else {
            mast_buf_putc(&b, '\\');
            mast_buf_putc(&b, e);
        }
    }
    char *s = mast_arena_strndup(&p->t->arena, mast_buf_cstr(&b), b.len);
    size_t n = b.len;
    mast_buf_free(&b);
    if (!s)
        pfail(p, pos, "out of memory");
    emit(p, T_STR, pos, s, n);
    return i + 1;
}

/* The tokens of one tag after its opening; returns the position after it. */
static size_t lex_tag(parser *p, size_t pos, bool block, bool *strip_after, bool *keep_newline)
{
    int depth = 0;
    size_t open = pos;
    for (;;) {
        while (pos < p->len && is_ws(p->src[pos]))
            pos++;
        if (pos >= p->len)
            pfail(p, open, "unterminated %s", block ? "tag ('%}' missing)" : "expression ('}}' missing)");
        if (depth == 0) {
            const char *end = block ? "%}" : "}}";
            if ((p->src[pos] == '-' || (block && p->src[pos] == '+')) && at(p, pos + 1, end)) {
                *strip_after = p->src[pos] == '-';
                *keep_newline = p->src[pos] == '+';
                emit(p, block ? T_BEND : T_VEND, pos, NULL, 0);
                return pos + 3;
            }
            if (at(p, pos, end)) {
                emit(p, block ? T_BEND : T_VEND, pos, NULL, 0);
                return pos + 2;
            }
        }
        char ch = p->src[pos];
        if (isalpha((unsigned char)ch) || ch == '_') {
            size_t s = pos;
            while (pos < p->len && (isalnum((unsigned char)p->src[pos]) || p->src[pos] == '_'))
                pos++;
            emit(p, T_NAME, s, p->src + s, pos - s);
        } else if (isdigit((unsigned char)ch)) {
            size_t s = pos;
            bool fl = false;
            while (pos < p->len && (isdigit((unsigned char)p->src[pos]) || p->src[pos] == '_'))
                pos++;
            if (pos + 1 < p->len && p->src[pos] == '.' && isdigit((unsigned char)p->src[pos + 1])) {
                fl = true;
                for (pos++; pos < p->len && isdigit((unsigned char)p->src[pos]); pos++)
                    ;
            }
            if (pos < p->len && (p->src[pos] == 'e' || p->src[pos] == 'E')) {
                size_t e = pos + 1;
                if (e < p->len && (p->src[e] == '+' || p->src[e] == '-'))
                    e++;
                if (e < p->len && isdigit((unsigned char)p->src[e])) {
                    fl = true;
                    for (pos = e; pos < p->len && isdigit((unsigned char)p->src[pos]); pos++)
                        ;
                }
            }
            char num[64];
            size_t k = 0;
            for (size_t j = s; j < pos && k + 1 < sizeof num; j++)
                if (p->src[j] != '_')
                    num[k++] = p->src[j];
            num[k] = 0;
            emit(p, fl ? T_FLOAT : T_INT, s, p->src + s, pos - s);
            if (fl)
                p->toks[p->n - 1].f = strtod(num, NULL);
            else
                p->toks[p->n - 1].i = strtoll(num, NULL, 10);
        } else if (ch == '\'' || ch == '"') {
            pos = lex_string(p, pos);
        } else {
            static const char *const two[] = {"//", "**", "==", "!=", "<=", ">=", NULL};
            size_t n = 1;
            for (int k = 0; two[k]; k++)
                if (at(p, pos, two[k]))
                    n = 2;
            if (n == 1 && !strchr("+-*/%~<>=()[]{},.:|", ch))
                pfail(p, pos, "unexpected character '%c'", ch);
            if (ch == '(' || ch == '[' || ch == '{')
                depth++;
            else if ((ch == ')' || ch == ']' || ch == '}') && depth > 0)
                depth--;
            emit(p, T_OP, pos, p->src + pos, n);
            pos += n;
        }
    }
}

void jinja_lex(parser *p)
{
    size_t pos = 0;
    bool line_starting = true;
    while (pos <= p->len) {
        size_t q = pos;
        while (q + 1 < p->len && !(p->src[q] == '{' && strchr("{%#", p->src[q + 1])))
            q++;
        if (q + 1 >= p->len)
            q = p->len;
        size_t tlen = q - pos;
        char kind = q < p->len ? p->src[q + 1] : 0;
        char sign = q + 2 < p->len && (p->src[q + 2] == '-' || p->src[q + 2] == '+') ? p->src[q + 2] : 0;
        if (kind && sign == '-') {
            while (tlen && is_ws(p->src[pos + tlen - 1]))
                tlen--;
        } else if (kind && kind != '{' && sign != '+') {
            size_t l = tlen;
            while (l && p->src[pos + l - 1] != '\n')
                l--;
            if (l > 0 || line_starting) {
                bool all_ws = l < tlen;
                for (size_t j = l; j < tlen; j++)
                    if (!is_ws(p->src[pos + j]))
                        all_ws = false;
                if (all_ws)
                    tlen = l;
            }
        }
        if (tlen)
            emit(p, T_TEXT, pos, p->src + pos, tlen);
        if (!kind)
            break;
        size_t start = q + 2 + (sign == '-' || (sign == '+' && kind != '{'));
        bool strip = false, keep = false;
        if (kind == '#') {
            size_t e = start;
            while (e + 1 < p->len && !(p->src[e] == '#' && p->src[e + 1] == '}'))
                e++;
            if (e + 1 >= p->len)
                pfail(p, q, "unterminated comment ('#}' missing)");
            strip = e > start && p->src[e - 1] == '-';
            keep = e > start && p->src[e - 1] == '+';
            pos = e + 2;
        } else {
            emit(p, kind == '{' ? T_VBEGIN : T_BBEGIN, q, NULL, 0);
            pos = lex_tag(p, start, kind == '%', &strip, &keep);
        }
        if (strip) {
            while (pos < p->len && is_ws(p->src[pos]))
                pos++;
        } else if (kind != '{' && !keep && pos < p->len && p->src[pos] == '\n') {
            pos++;
        }
        line_starting = pos > 0 && p->src[pos - 1] == '\n';
    }
    emit(p, T_EOF, p->len, NULL, 0);
}

