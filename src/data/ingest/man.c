/*
** data/ingest/man.c — man pages: a reader of the roff that man(7) and
** mdoc(7) pages are written in, enough for their text and structure.
**
** It is not a typesetter: requests that only lay out (.sp, .in, .ad, .ft,
** .PD, ...) end a paragraph or are ignored, macro definitions (.de) and
** ignored blocks (.ig) are skipped, conditionals are skipped with their
** \{ ... \} bodies. What it keeps: .SH/.SS (.Sh/.Ss) as the heading path,
** paragraphs (.PP/.LP/.P/.Pp and blank lines), list items (.TP/.IP/.It:
** the tag, then its text, in one paragraph), .nf/.fi and .EX/.EE (.Bd
** -literal/.Ed) verbatim as code blocks, font macros (.B, .BR, ...) as
** their text, and the escapes: fonts and sizes dropped, special characters
** (\(em, \[u2014], ...) and strings (\*(lq, \*R) decoded.
*/
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/status.h"
#include "base/utf8.h"
#include "data/ingest/doc.h"

typedef struct reader {
    mast_doc *doc;
    mast_headings h;
    mast_buf para;         /* the paragraph being built */
    mast_buf line;         /* scratch: the current line's text */
    int verbatim;          /* inside .nf/.EX/.Bd */
    const char *th_title;  /* .TH name(section) */
    int in_name;           /* inside the NAME section: its text becomes the title */
    mast_buf name;
    int pending_tag;       /* .TP: the next text line is the item's tag */
    const char *nm;        /* mdoc's .Nm name */
} reader;

/* ---- escapes ---- */

static const struct { const char *name; const char *utf8; } specials[] = {
    {"em", "\xe2\x80\x94"}, {"en", "\xe2\x80\x93"}, {"hy", "-"}, {"bu", "\xe2\x80\xa2"},
    {"aq", "'"}, {"dq", "\""}, {"lq", "\xe2\x80\x9c"}, {"rq", "\xe2\x80\x9d"},
    {"oq", "\xe2\x80\x98"}, {"cq", "\xe2\x80\x99"}, {"co", "\xc2\xa9"}, {"rg", "\xc2\xae"},
    {"tm", "\xe2\x84\xa2"}, {"mu", "\xc3\x97"}, {"di", "\xc3\xb7"}, {"+-", "\xc2\xb1"},
    {"<=", "\xe2\x89\xa4"}, {">=", "\xe2\x89\xa5"}, {"!=", "\xe2\x89\xa0"},
    {"->", "\xe2\x86\x92"}, {"<-", "\xe2\x86\x90"}, {"ga", "`"}, {"aa", "\xc2\xb4"},
    {"ti", "~"}, {"ha", "^"}, {"sl", "/"}, {"rs", "\\"}, {"ba", "|"}, {"br", "|"},
    {"ul", "_"}, {"de", "\xc2\xb0"}, {"fm", "\xe2\x80\xb2"}, {"sc", "\xc2\xa7"},
    {"ps", "\xc2\xb6"}, {"Fo", "\xc2\xab"}, {"Fc", "\xc2\xbb"}, {"ua", "\xe2\x86\x91"},
    {"da", "\xe2\x86\x93"}, {"pc", "\xc2\xb7"}, {"R", "\xc2\xae"}, {"Tm", "\xe2\x84\xa2"},
    {"Aq", "'"}, {"Dq", "\""}, {"Lq", "\xe2\x80\x9c"}, {"Rq", "\xe2\x80\x9d"},
};

static void put_special(mast_buf *out, const char *name, size_t n)
{
    if (n == 5 && name[0] == 'u') {   /* [uXXXX]: a code point */
        char hex[5] = {name[1], name[2], name[3], name[4], 0};
        char *end;
        long cp = strtol(hex, &end, 16);
        if (*end == '\0' && cp > 0 && (cp < 0xD800 || cp > 0xDFFF)) {
            char u[4];
            mast_buf_append(out, u, mast_utf8_encode((uint32_t)cp, u));
        }
        return;
    }
    for (size_t i = 0; i < sizeof specials / sizeof *specials; i++)
        if (strlen(specials[i].name) == n && memcmp(specials[i].name, name, n) == 0) {
            mast_buf_puts(out, specials[i].utf8);
            return;
        }
}

/* The name after an escape that takes one: "(xx", "[name]" or one
** character. Returns the bytes consumed; name and n get the name. */
static size_t escape_name(const char *s, size_t len, const char **name, size_t *n)
{
    if (len == 0) {
        *name = s;
        *n = 0;
        return 0;
    }
    if (s[0] == '(' && len >= 3) {
        *name = s + 1;
        *n = 2;
        return 3;
    }
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        size_t end = close ? (size_t)(close - s) : len;
        *name = s + 1;
        *n = end > 0 ? end - 1 : 0;
        return close ? end + 1 : len;
    }
    *name = s;
    *n = 1;
    return 1;
}

/* A delimited argument ('...', or any delimiter character): bytes consumed. */
static size_t delimited(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    const char *close = memchr(s + 1, s[0], len - 1);
    return close ? (size_t)(close - s) + 1 : len;
}

/* Appends s[0..len) with its escapes decoded. Returns 1 when the line ended
** in \c (the next line continues this one without a space). */
static int decode(mast_buf *out, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        const char *bs = memchr(s + i, '\\', len - i);
        size_t run = bs ? (size_t)(bs - (s + i)) : len - i;
        mast_buf_append(out, s + i, run);
        i += run;
        if (i >= len)
            break;
        i++;   /* the backslash */
        if (i >= len)
            break;
        char c = s[i++];
        const char *name;
        size_t n;
        switch (c) {
        case '"':
        case '#':
            return 0;   /* a comment to the end of the line */
        case 'f': case 'F': case 'k': case 'g': case 'm': case 'M': case 'n': case 'V': case 'Y':
            if (c == 'n' && i < len && (s[i] == '+' || s[i] == '-'))
                i++;
            i += escape_name(s + i, len - i, &name, &n);   /* fonts, registers: dropped */
            break;
        case '(':
        case '[':
            i--;
            i += escape_name(s + i, len - i, &name, &n);
            put_special(out, name, n);
            break;
        case 'C':
            i += delimited(s + i, len - i);
            break;
        case '*':
            i += escape_name(s + i, len - i, &name, &n);
            put_special(out, name, n);
            break;
        case 's':   /* \s+2, \s(12, \s[12], \s'12' */
            if (i < len && (s[i] == '+' || s[i] == '-'))
                i++;
            if (i < len && (s[i] == '(' || s[i] == '[' || s[i] == '\''))
                i += s[i] == '\'' ? delimited(s + i, len - i) : escape_name(s + i, len - i, &name, &n);
            else
                while (i < len && isdigit((unsigned char)s[i]))
                    i++;
            break;
        case 'N': {   /* \N'65': a character by number */
            size_t d = delimited(s + i, len - i);
            long cp = d > 2 ? strtol(s + i + 1, NULL, 10) : 0;
            if (cp > 31 && cp < 0x110000 && (cp < 0xD800 || cp > 0xDFFF)) {
                char u[4];
                mast_buf_append(out, u, mast_utf8_encode((uint32_t)cp, u));
            }
            i += d;
            break;
        }
        case 'h': case 'v': case 'w': case 'o': case 'X': case 'l': case 'L': case 'D':
        case 'Z': case 'b': case 'x': case 'R': case 'A': case 'B':
            i += delimited(s + i, len - i);   /* motions, drawing, device controls */
            break;
        case 'c':
            if (i >= len)
                return 1;
            break;
        case '-': mast_buf_putc(out, '-'); break;
        case 'e': case '\\': mast_buf_putc(out, '\\'); break;
        case ' ': case '~': case '0': mast_buf_putc(out, ' '); break;
        case '\'': mast_buf_puts(out, "\xc2\xb4"); break;
        case '`': mast_buf_putc(out, '`'); break;
        case '&': case '|': case '^': case ')': case ',': case '/': case '%': case ':': case '{':
        case '}': case 'd': case 'u': case 'p': case 'z': case 'a': case 't':
            break;
        default:
            mast_buf_putc(out, c);   /* \. \$ and others: the character */
        }
    }
    return 0;
}

/* ---- requests ---- */

static mast_status flush(reader *r)
{
    size_t n = r->para.len;
    const char *p = r->para.data;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\n'))
        n--;
    size_t lead = 0;
    while (!r->verbatim && lead < n && (p[lead] == ' ' || p[lead] == '\n'))
        lead++;
    if (n > lead) {
        const char *copy = mast_arena_strndup(&r->doc->arena, p + lead, n - lead);
        if (!copy)
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        MAST_TRY(mast_doc_add_block(r->doc, r->verbatim ? MAST_BLOCK_CODE : MAST_BLOCK_PARA,
                                    copy, n - lead, r->h.path));
        if (r->in_name && !r->name.len)
            mast_buf_append(&r->name, copy, n - lead);
    }
    mast_buf_clear(&r->para);
    return MAST_OK;
}

/* Splits a request's arguments (after its name) the way roff does: blanks
** separate, double quotes group ("" inside is a quote). Up to max args. */
static size_t split_args(const char *s, size_t len, const char **args, size_t *lens, size_t max)
{
    size_t n = 0, i = 0;
    while (i < len && n < max) {
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i >= len)
            break;
        if (s[i] == '"') {
            size_t start = ++i;
            while (i < len && !(s[i] == '"' && (i + 1 >= len || s[i + 1] != '"')))
                i += s[i] == '"' ? 2 : 1;
            args[n] = s + start;
            lens[n++] = (i < len ? i : len) - start;
            i++;
        } else {
            size_t start = i;
            while (i < len && s[i] != ' ' && s[i] != '\t')
                i++;
            args[n] = s + start;
            lens[n++] = i - start;
        }
    }
    return n;
}

/* The text of a font macro's arguments: .B/.I joined by spaces, the
** alternating ones (.BR, .IR, ...) joined without. */
static void font_macro(reader *r, const char *args, size_t len, int alternating)
{
    const char *a[16];
    size_t l[16];
    size_t n = split_args(args, len, a, l, 16);
    for (size_t k = 0; k < n; k++) {
        if (k && !alternating)
            mast_buf_putc(&r->line, ' ');
        decode(&r->line, a[k], l[k]);
    }
}

/* mdoc's inline macros, whose names are dropped from a line's text. */
static int mdoc_callable(const char *w, size_t n)
{
    static const char *const names[] = {
        "Ar", "Cm", "Dv", "Em", "Er", "Ev", "Fa", "Fn", "Ft", "Ic", "Li", "Ms", "Nm", "No", "Ns",
        "Oo", "Oc", "Op", "Pa", "Pq", "Ql", "Sq", "Dq", "Bq", "Brq", "Sy", "Va", "Xr", "Aq", "Cd",
        "Lk", "Mt", "Ad", "An", "Ta", "Xo", "Xc", "Qq", "Eo", "Ec", "Fl", "Dl", "Sx", "Vt", "St",
        NULL};
    for (const char *const *p = names; *p; p++)
        if (strlen(*p) == n && memcmp(*p, w, n) == 0)
            return 1;
    return 0;
}

static void mdoc_line(reader *r, const char *args, size_t len)
{
    const char *a[32];
    size_t l[32];
    size_t n = split_args(args, len, a, l, 32);
    int dash = 0, glue = 0;
    for (size_t k = 0; k < n; k++) {
        if (mdoc_callable(a[k], l[k])) {
            dash = l[k] == 2 && a[k][0] == 'F' && a[k][1] == 'l';
            glue = (l[k] == 2 && a[k][0] == 'N' && a[k][1] == 's');
            if (dash) {
                if (r->line.len && !glue)
                    mast_buf_putc(&r->line, ' ');
                mast_buf_putc(&r->line, '-');
                glue = 1;
            }
            continue;
        }
        if (r->line.len && !glue)
            mast_buf_putc(&r->line, ' ');
        decode(&r->line, a[k], l[k]);
        glue = 0;
    }
}

static int is_req(const char *name, size_t n, const char *what)
{
    return strlen(what) == n && memcmp(name, what, n) == 0;
}

static mast_status heading(reader *r, int level, const char *args, size_t len)
{
    MAST_TRY(flush(r));
    r->verbatim = 0;
    r->pending_tag = 0;
    mast_buf_clear(&r->line);
    const char *a[16];
    size_t l[16];
    size_t n = split_args(args, len, a, l, 16);
    for (size_t k = 0; k < n; k++) {
        if (k)
            mast_buf_putc(&r->line, ' ');
        decode(&r->line, a[k], l[k]);
    }
    if (level == 1)
        r->in_name = r->line.len == 4 && memcmp(r->line.data, "NAME", 4) == 0;
    MAST_TRY(mast_headings_set(r->doc, &r->h, level, r->line.data ? r->line.data : "",
                               r->line.len));
    mast_buf_clear(&r->line);
    return MAST_OK;
}

bool mast_looks_like_roff(const char *text, size_t len)
{
    size_t pos = 0;
    for (int lines = 0; lines < 40 && pos < len; lines++) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (end - pos >= 4 && text[pos] == '.' &&
            (!memcmp(text + pos, ".TH ", 4) || !memcmp(text + pos, ".Dd ", 4) ||
             !memcmp(text + pos, ".SH ", 4) || !memcmp(text + pos, ".Dt ", 4)))
            return true;
        pos = end + 1;
    }
    return false;
}

mast_status mast_load_man(mast_doc *doc, const char *text, size_t len, const char *fallback_title)
{
    reader r = {.doc = doc};
    mast_status st = MAST_OK;
    size_t pos = 0;
    int skip_until_dots = 0, skip_braces = 0, joined = 0;
    while (pos < len && st == MAST_OK) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        const char *s = text + pos;
        size_t n = end - pos;
        pos = end + 1;
        if (n && s[n - 1] == '\r')
            n--;
        if (skip_until_dots) {   /* inside .de or .ig */
            skip_until_dots = !(n >= 2 && s[0] == '.' && s[1] == '.');
            continue;
        }
        if (skip_braces) {   /* inside a conditional's \{ ... \} */
            skip_braces = memmem(s, n, "\\}", 2) == NULL;
            continue;
        }
        if (n && (s[0] == '.' || s[0] == '\'')) {
            size_t i = 1;
            while (i < n && (s[i] == ' ' || s[i] == '\t'))
                i++;
            size_t name_start = i;
            while (i < n && s[i] != ' ' && s[i] != '\t')
                i++;
            const char *name = s + name_start;
            size_t nn = i - name_start;
            const char *args = s + i;
            size_t al = n - i;
            if (nn == 0 || (nn >= 2 && name[0] == '\\' && name[1] == '"'))
                continue;   /* an empty request or a comment */
            mast_buf_clear(&r.line);
            if (is_req(name, nn, "SH") || is_req(name, nn, "Sh")) {
                st = heading(&r, 1, args, al);
            } else if (is_req(name, nn, "SS") || is_req(name, nn, "Ss")) {
                st = heading(&r, 2, args, al);
            } else if (is_req(name, nn, "TH") || is_req(name, nn, "Dt")) {
                const char *a[3];
                size_t l[3];
                size_t k = split_args(args, al, a, l, 3);
                if (k >= 1) {
                    mast_buf t = {0};
                    decode(&t, a[0], l[0]);
                    if (k >= 2) {
                        mast_buf_putc(&t, '(');
                        decode(&t, a[1], l[1]);
                        mast_buf_putc(&t, ')');
                    }
                    r.th_title = mast_arena_strndup(&doc->arena, t.data ? t.data : "", t.len);
                    mast_buf_free(&t);
                }
            } else if (is_req(name, nn, "nf") || is_req(name, nn, "EX") ||
                       (is_req(name, nn, "Bd") && memmem(args, al, "-literal", 8)) ||
                       is_req(name, nn, "Dl")) {
                st = flush(&r);
                r.verbatim = 1;
                if (is_req(name, nn, "Dl")) {   /* one literal line */
                    mdoc_line(&r, args, al);
                    mast_buf_append(&r.para, r.line.data, r.line.len);
                    mast_buf_clear(&r.line);
                    st = st == MAST_OK ? flush(&r) : st;
                    r.verbatim = 0;
                }
            } else if (is_req(name, nn, "fi") || is_req(name, nn, "EE") || is_req(name, nn, "Ed")) {
                st = flush(&r);
                r.verbatim = 0;
            } else if (is_req(name, nn, "PP") || is_req(name, nn, "LP") || is_req(name, nn, "P") ||
                       is_req(name, nn, "Pp") || is_req(name, nn, "sp") || is_req(name, nn, "HP") ||
                       is_req(name, nn, "Bl") || is_req(name, nn, "El") || is_req(name, nn, "RS") ||
                       is_req(name, nn, "RE")) {
                if (!r.verbatim)
                    st = flush(&r);
            } else if (is_req(name, nn, "TP") || is_req(name, nn, "TQ")) {
                if (!is_req(name, nn, "TQ"))
                    st = flush(&r);
                r.pending_tag = 1;
            } else if (is_req(name, nn, "IP") || is_req(name, nn, "It")) {
                st = flush(&r);
                if (is_req(name, nn, "It"))
                    mdoc_line(&r, args, al);
                else {
                    const char *a[1];
                    size_t l[1];
                    if (split_args(args, al, a, l, 1))
                        decode(&r.line, a[0], l[0]);
                }
                if (r.line.len) {
                    mast_buf_append(&r.para, r.line.data, r.line.len);
                    mast_buf_putc(&r.para, '\n');
                    mast_buf_clear(&r.line);
                }
            } else if (is_req(name, nn, "br")) {
                if (r.para.len)
                    mast_buf_putc(&r.para, '\n');
            } else if (is_req(name, nn, "B") || is_req(name, nn, "I") || is_req(name, nn, "SM") ||
                       is_req(name, nn, "SB")) {
                font_macro(&r, args, al, 0);
            } else if (nn == 2 && strchr("BIR", name[0]) && strchr("BIR", name[1]) &&
                       name[0] != name[1]) {
                font_macro(&r, args, al, 1);
            } else if (is_req(name, nn, "de") || is_req(name, nn, "de1") || is_req(name, nn, "ig") ||
                       is_req(name, nn, "am")) {
                skip_until_dots = 1;
            } else if (is_req(name, nn, "if") || is_req(name, nn, "ie") || is_req(name, nn, "el")) {
                skip_braces = memmem(args, al, "\\{", 2) && !memmem(args, al, "\\}", 2);
            } else if (is_req(name, nn, "Nd")) {
                mast_buf_putc(&r.line, '-');
                mdoc_line(&r, args, al);
            } else if (is_req(name, nn, "Nm")) {   /* the page's name, given once */
                const char *a[1];
                size_t l[1];
                if (split_args(args, al, a, l, 1) && !r.nm)
                    r.nm = mast_arena_strndup(&doc->arena, a[0], l[0]);
                if (r.nm && !split_args(args, al, a, l, 1))
                    mast_buf_puts(&r.line, r.nm);
                else
                    mdoc_line(&r, args, al);
            } else if (is_req(name, nn, "Dd") || is_req(name, nn, "Os") || is_req(name, nn, "Sm") ||
                       is_req(name, nn, "Bk") || is_req(name, nn, "Ek")) {
                /* dates, systems, spacing, keeps: no text */
            } else if (isupper((unsigned char)name[0]) && nn >= 2 && nn <= 3 &&
                       islower((unsigned char)name[1])) {
                mdoc_line(&r, args, al);   /* other mdoc macros: their text */
            }
            /* anything else only lays out: ignored */
            if (st == MAST_OK && r.line.len) {
                if (r.para.len && !r.verbatim && !joined && r.para.data[r.para.len - 1] != '\n')
                    mast_buf_putc(&r.para, ' ');
                mast_buf_append(&r.para, r.line.data, r.line.len);
                if (r.verbatim)
                    mast_buf_putc(&r.para, '\n');
                if (r.pending_tag) {
                    mast_buf_putc(&r.para, '\n');
                    r.pending_tag = 0;
                }
                joined = 0;
            }
            continue;
        }
        /* a text line */
        if (!r.verbatim && n == 0) {
            st = flush(&r);
            continue;
        }
        mast_buf_clear(&r.line);
        int cont = decode(&r.line, s, n);
        if (r.para.len && !r.verbatim && !joined && r.para.data[r.para.len - 1] != '\n')
            mast_buf_putc(&r.para, ' ');
        if (r.line.len)
            mast_buf_append(&r.para, r.line.data, r.line.len);
        if (r.verbatim)
            mast_buf_putc(&r.para, '\n');
        else if (r.pending_tag) {
            mast_buf_putc(&r.para, '\n');
            r.pending_tag = 0;
        }
        joined = cont;
    }
    if (st == MAST_OK)
        st = flush(&r);
    if (st == MAST_OK) {
        /* "ls \- list directory contents" as the title; else ls(1) */
        const char *title = r.name.len ? mast_arena_strndup(&doc->arena, r.name.data, r.name.len)
                          : r.th_title ? r.th_title
                                       : mast_arena_strdup(&doc->arena, fallback_title ? fallback_title : "");
        doc->title = title;
        if (!title)
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    mast_buf_free(&r.para);
    mast_buf_free(&r.line);
    mast_buf_free(&r.name);
    return st;
}
