/*
** data/ingest/html.c — HTML and XHTML documents (see doc.h), parsed by
** gumbo (an HTML5-conformant parser: what a browser would build, entities
** decoded, broken markup repaired).
**
** The main content is kept, the page's furniture dropped:
** - the root is <main> (or role="main"), else the only <article>, else <body>;
** - navigation, headers and footers outside the root's article, sidebars,
**   forms, scripts, styles, hidden elements and the usual cookie-banner,
**   menu, breadcrumb and share-bar classes are skipped;
** - a list, table or division that is mostly link text (over 60% of its
**   characters in <a>, under 2,000 characters) is navigation too.
** Headings h1–h6 build the heading path; paragraphs, list items (prefixed
** "- " or "1. "), definition terms and quotes are blocks; <pre> is a code
** block kept verbatim; a table is one block, a line per row, each cell
** named by its column's header when the table has one ("Name: Ada; Year:
** 1843"). Metadata: <title>, <html lang>, the meta description and the
** canonical link.
*/
#include <gumbo.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/status.h"
#include "data/ingest/doc.h"

#define MAX_DEPTH 256        /* deeper content is dropped (browsers stop laying out at 512) */
#define MAX_LEVEL 6
#define DENSITY_NODES 2000   /* a subtree measured for link density is this small or kept */

typedef struct walk {
    mast_doc *doc;
    mast_buf para;           /* the block being built */
    mast_buf scratch;
    const char *levels[MAX_LEVEL];
    const char *path;        /* the current heading path, in the arena */
    const char *first_h1;
    const GumboNode *root;
    mast_status st;
} walk;

static const GumboVector *children(const GumboNode *n)
{
    return n->type == GUMBO_NODE_ELEMENT || n->type == GUMBO_NODE_TEMPLATE ? &n->v.element.children
         : n->type == GUMBO_NODE_DOCUMENT ? &n->v.document.children : NULL;
}

static const char *attr(const GumboNode *n, const char *name)
{
    if (n->type != GUMBO_NODE_ELEMENT)
        return NULL;
    const GumboAttribute *a = gumbo_get_attribute(&n->v.element.attributes, name);
    return a ? a->value : NULL;
}

static bool is_el(const GumboNode *n, GumboTag t)
{
    return n->type == GUMBO_NODE_ELEMENT && n->v.element.tag == t;
}

/* Appends text with runs of white space collapsed to one space. */
static void put_collapsed(mast_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
            if (b->len && b->data[b->len - 1] != ' ' && b->data[b->len - 1] != '\n')
                mast_buf_putc(b, ' ');
        } else {
            mast_buf_putc(b, (char)c);
        }
    }
}

/* The text of a subtree (white space collapsed) appended to b. */
static void text_of(const GumboNode *n, mast_buf *b, int depth)
{
    if (depth > MAX_DEPTH)
        return;
    if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE || n->type == GUMBO_NODE_CDATA) {
        put_collapsed(b, n->v.text.text);
        return;
    }
    if (is_el(n, GUMBO_TAG_SCRIPT) || is_el(n, GUMBO_TAG_STYLE) || is_el(n, GUMBO_TAG_TEMPLATE))
        return;
    const GumboVector *c = children(n);
    for (unsigned i = 0; c && i < c->length; i++)
        text_of(c->data[i], b, depth + 1);
}

/* The raw text of a subtree (for <pre>: white space kept). */
static void raw_text_of(const GumboNode *n, mast_buf *b, int depth)
{
    if (depth > MAX_DEPTH)
        return;
    if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE || n->type == GUMBO_NODE_CDATA) {
        mast_buf_puts(b, n->v.text.text);
        return;
    }
    if (is_el(n, GUMBO_TAG_BR))
        mast_buf_putc(b, '\n');
    const GumboVector *c = children(n);
    for (unsigned i = 0; c && i < c->length; i++)
        raw_text_of(c->data[i], b, depth + 1);
}

/* Characters of text, and of text inside links, in a subtree; false when
** it has more than *budget nodes (then it is not navigation). */
static bool measure(const GumboNode *n, bool in_link, size_t *text, size_t *link, int *budget, int depth)
{
    if (--*budget < 0 || depth > MAX_DEPTH)
        return false;
    if (n->type == GUMBO_NODE_TEXT) {
        size_t k = 0;
        for (const char *s = n->v.text.text; *s; s++)
            k += !(*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r');
        *text += k;
        if (in_link)
            *link += k;
        return true;
    }
    const GumboVector *c = children(n);
    bool a = in_link || is_el(n, GUMBO_TAG_A);
    for (unsigned i = 0; c && i < c->length; i++)
        if (!measure(c->data[i], a, text, link, budget, depth + 1))
            return false;
    return true;
}

/* A class or id naming page furniture: a token (split at space, '-' and
** '_') among these. */
static bool furniture_name(const char *v)
{
    static const char *const words[] = {"nav", "navbar", "navigation", "menu", "breadcrumb",
                                        "breadcrumbs", "sidebar", "footer", "cookie", "cookies",
                                        "consent", "gdpr", "banner", "share", "social", "advert",
                                        "ads", "skip", "toc-sidebar", "masthead", NULL};
    if (!v)
        return false;
    for (const char *p = v; *p;) {
        while (*p == ' ' || *p == '-' || *p == '_')
            p++;
        const char *e = p;
        while (*e && *e != ' ' && *e != '-' && *e != '_')
            e++;
        for (const char *const *w = words; *w; w++)
            if ((size_t)(e - p) == strlen(*w) && !strncasecmp(p, *w, (size_t)(e - p)))
                return true;
        p = e;
    }
    return false;
}

/* Whether an element is the page's furniture, not its content. */
static bool skipped(const walk *w, const GumboNode *n, bool in_article)
{
    switch (n->v.element.tag) {
    case GUMBO_TAG_SCRIPT: case GUMBO_TAG_STYLE: case GUMBO_TAG_NOSCRIPT: case GUMBO_TAG_TEMPLATE:
    case GUMBO_TAG_NAV: case GUMBO_TAG_ASIDE: case GUMBO_TAG_FORM: case GUMBO_TAG_BUTTON:
    case GUMBO_TAG_SELECT: case GUMBO_TAG_INPUT: case GUMBO_TAG_TEXTAREA: case GUMBO_TAG_IFRAME:
    case GUMBO_TAG_SVG: case GUMBO_TAG_MATH: case GUMBO_TAG_CANVAS: case GUMBO_TAG_OBJECT:
    case GUMBO_TAG_EMBED: case GUMBO_TAG_MENU: case GUMBO_TAG_HEAD:
        return true;
    case GUMBO_TAG_HEADER:
    case GUMBO_TAG_FOOTER:
        return !in_article && n != w->root;   /* an article's own header holds its title */
    default:
        break;
    }
    const char *role = attr(n, "role");
    static const char *const roles[] = {"navigation", "banner", "contentinfo", "complementary",
                                        "search", "menu", "menubar", "dialog", "alertdialog", NULL};
    for (const char *const *r = roles; role && *r; r++)
        if (!strcasecmp(role, *r))
            return true;
    const char *hidden = attr(n, "aria-hidden"), *style = attr(n, "style");
    if (attr(n, "hidden") || (hidden && !strcasecmp(hidden, "true")) ||
        (style && (strstr(style, "display:none") || strstr(style, "display: none"))))
        return true;
    return n != w->root && (furniture_name(attr(n, "class")) || furniture_name(attr(n, "id")));
}

/* b's text without the spaces and newlines around it; its length in *len. */
static const char *trimmed(const mast_buf *b, size_t *len)
{
    const char *s = b->data ? b->data : "";
    size_t n = b->len;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n'))
        n--;
    while (n && (*s == ' ' || *s == '\n')) {
        s++;
        n--;
    }
    *len = n;
    return s;
}

/* s[0..len) copied into the document's arena, NUL-terminated; NULL (and
** w->st set) when out of memory. */
static char *keep(walk *w, const char *s, size_t len)
{
    char *copy = mast_arena_alloc(&w->doc->arena, len + 1);
    if (!copy) {
        w->st = mast_fail(MAST_ERR_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(copy, s, len);
    copy[len] = 0;
    return copy;
}

/* b's text, trimmed, as a block (none when it is blank). */
static void add_block(walk *w, mast_block_kind kind, const mast_buf *b)
{
    size_t len;
    const char *text = trimmed(b, &len);
    if (!len || w->st != MAST_OK)
        return;
    char *copy = keep(w, text, len);
    if (copy)
        w->st = mast_doc_add_block(w->doc, kind, copy, len, w->path);
}

static void flush(walk *w)
{
    add_block(w, MAST_BLOCK_PARA, &w->para);
    mast_buf_clear(&w->para);
}

/* h (in the arena) is the heading of level 1-6: the path below it is cut. */
static void set_heading(walk *w, int level, const char *h)
{
    w->levels[level - 1] = h;
    for (int i = level; i < MAX_LEVEL; i++)
        w->levels[i] = NULL;
    mast_buf_clear(&w->scratch);
    for (int i = 0; i < MAX_LEVEL; i++)
        if (w->levels[i]) {
            if (w->scratch.len)
                mast_buf_puts(&w->scratch, " > ");
            mast_buf_puts(&w->scratch, w->levels[i]);
        }
    w->path = mast_arena_strdup(&w->doc->arena, w->scratch.data ? w->scratch.data : "");
    if (level == 1 && !w->first_h1)
        w->first_h1 = h;
}

/* A table as one block: a line per row, cells named by the header row when
** there is one. */
static void add_table(walk *w, const GumboNode *table)
{
    /* rows in document order: table > (thead|tbody|tfoot) > tr, or table > tr */
    const GumboNode *rows[4096];
    size_t n_rows = 0;
    const GumboVector *c = children(table);
    for (unsigned i = 0; c && i < c->length && n_rows < 4096; i++) {
        const GumboNode *k = c->data[i];
        if (is_el(k, GUMBO_TAG_TR)) {
            rows[n_rows++] = k;
        } else if (is_el(k, GUMBO_TAG_THEAD) || is_el(k, GUMBO_TAG_TBODY) || is_el(k, GUMBO_TAG_TFOOT)) {
            const GumboVector *g = children(k);
            for (unsigned j = 0; j < g->length && n_rows < 4096; j++)
                if (is_el(g->data[j], GUMBO_TAG_TR))
                    rows[n_rows++] = g->data[j];
        }
    }
    mast_buf out = {0}, cell = {0};
    const char *header[64];
    size_t n_header = 0;
    for (size_t r = 0; r < n_rows; r++) {
        const GumboVector *cells = children(rows[r]);
        bool all_th = cells->length > 0;
        for (unsigned i = 0; i < cells->length; i++)
            if (is_el(cells->data[i], GUMBO_TAG_TD))
                all_th = false;
        if (r == 0 && all_th) {   /* the header row names the columns */
            for (unsigned i = 0; i < cells->length && n_header < 64; i++) {
                if (!is_el(cells->data[i], GUMBO_TAG_TH))
                    continue;
                mast_buf_clear(&cell);
                text_of(cells->data[i], &cell, 0);
                size_t len;
                const char *h = trimmed(&cell, &len);
                header[n_header++] = keep(w, h, len);
            }
            continue;
        }
        size_t col = 0;
        bool any = false;
        for (unsigned i = 0; i < cells->length; i++) {
            const GumboNode *td = cells->data[i];
            if (!is_el(td, GUMBO_TAG_TD) && !is_el(td, GUMBO_TAG_TH))
                continue;
            mast_buf_clear(&cell);
            text_of(td, &cell, 0);
            size_t len;
            const char *s = trimmed(&cell, &len);
            if (len) {
                if (any)
                    mast_buf_puts(&out, n_header ? "; " : " | ");
                if (col < n_header && header[col] && *header[col])
                    mast_buf_printf(&out, "%s: ", header[col]);
                mast_buf_append(&out, s, len);
                any = true;
            }
            col++;
        }
        if (any)
            mast_buf_putc(&out, '\n');
    }
    add_block(w, MAST_BLOCK_PARA, &out);
    mast_buf_free(&out);
    mast_buf_free(&cell);
}

static bool is_block(GumboTag t)
{
    switch (t) {
    case GUMBO_TAG_P: case GUMBO_TAG_DIV: case GUMBO_TAG_SECTION: case GUMBO_TAG_ARTICLE:
    case GUMBO_TAG_MAIN: case GUMBO_TAG_LI: case GUMBO_TAG_UL: case GUMBO_TAG_OL: case GUMBO_TAG_DL:
    case GUMBO_TAG_DT: case GUMBO_TAG_DD: case GUMBO_TAG_BLOCKQUOTE: case GUMBO_TAG_FIGURE:
    case GUMBO_TAG_FIGCAPTION: case GUMBO_TAG_HR: case GUMBO_TAG_ADDRESS: case GUMBO_TAG_BODY:
    case GUMBO_TAG_HEADER: case GUMBO_TAG_FOOTER: case GUMBO_TAG_DETAILS: case GUMBO_TAG_SUMMARY:
    case GUMBO_TAG_CAPTION:
        return true;
    default:
        return false;
    }
}

static void visit(walk *w, const GumboNode *n, int depth, bool in_article, int list_index)
{
    if (depth > MAX_DEPTH || w->st != MAST_OK)
        return;
    if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE || n->type == GUMBO_NODE_CDATA) {
        put_collapsed(&w->para, n->v.text.text);
        return;
    }
    if (n->type != GUMBO_NODE_ELEMENT)
        return;
    GumboTag t = n->v.element.tag;
    if (skipped(w, n, in_article))
        return;
    if (t == GUMBO_TAG_UL || t == GUMBO_TAG_OL || t == GUMBO_TAG_DL || t == GUMBO_TAG_TABLE ||
        t == GUMBO_TAG_DIV || t == GUMBO_TAG_SECTION) {
        size_t text = 0, link = 0;
        int budget = DENSITY_NODES;
        if (n != w->root && measure(n, false, &text, &link, &budget, 0) && text && link * 10 > text * 6)
            return;   /* mostly links: navigation */
    }
    if (t >= GUMBO_TAG_H1 && t <= GUMBO_TAG_H6) {
        flush(w);
        mast_buf_clear(&w->scratch);
        text_of(n, &w->scratch, 0);
        size_t len;
        const char *s = trimmed(&w->scratch, &len);
        char *h = len ? keep(w, s, len) : NULL;
        if (h)
            set_heading(w, (int)(t - GUMBO_TAG_H1) + 1, h);
        return;
    }
    if (t == GUMBO_TAG_PRE) {
        flush(w);
        mast_buf b = {0};
        raw_text_of(n, &b, 0);
        add_block(w, MAST_BLOCK_CODE, &b);
        mast_buf_free(&b);
        return;
    }
    if (t == GUMBO_TAG_TABLE) {
        flush(w);
        add_table(w, n);
        return;
    }
    if (t == GUMBO_TAG_BR) {
        mast_buf_putc(&w->para, '\n');
        return;
    }
    bool block = is_block(t);
    if (block)
        flush(w);
    if (t == GUMBO_TAG_LI)
        mast_buf_printf(&w->para, list_index > 0 ? "%d. " : "- ", list_index);
    bool article = in_article || t == GUMBO_TAG_ARTICLE || t == GUMBO_TAG_MAIN;
    const GumboVector *c = children(n);
    int item = 0;
    for (unsigned i = 0; c && i < c->length; i++) {
        const GumboNode *k = c->data[i];
        int index = 0;
        if (is_el(k, GUMBO_TAG_LI))
            index = t == GUMBO_TAG_OL ? ++item : -1;
        visit(w, k, depth + 1, article, index);
    }
    if (block)
        flush(w);
}

/* Candidates for the content's root, in one pass: the first <main>, the
** first role="main", the first <article> and how many there are. */
typedef struct roots {
    const GumboNode *main, *role_main, *article;
    int n_articles;
} roots;

static void find_roots(const GumboNode *n, roots *r, int depth)
{
    if (depth > MAX_DEPTH)
        return;
    if (n->type == GUMBO_NODE_ELEMENT) {
        const char *role = attr(n, "role");
        if (n->v.element.tag == GUMBO_TAG_MAIN && !r->main)
            r->main = n;
        if (role && !strcasecmp(role, "main") && !r->role_main)
            r->role_main = n;
        if (n->v.element.tag == GUMBO_TAG_ARTICLE && !r->n_articles++)
            r->article = n;
    }
    const GumboVector *c = children(n);
    for (unsigned i = 0; c && i < c->length; i++)
        find_roots(c->data[i], r, depth + 1);
}

/* html's child element with tag t (gumbo always makes <head> and <body>). */
static const GumboNode *child(const GumboNode *html, GumboTag t)
{
    const GumboVector *c = children(html);
    for (unsigned i = 0; c && i < c->length; i++)
        if (is_el(c->data[i], t))
            return c->data[i];
    return NULL;
}

/* <title>, <html lang>, <meta name=description>, <link rel=canonical>. */
static void read_head(walk *w, const GumboNode *html)
{
    mast_doc *d = w->doc;
    const char *lang = attr(html, "lang");
    if (lang && *lang)
        d->lang = mast_arena_strdup(&d->arena, lang);
    const GumboNode *head = child(html, GUMBO_TAG_HEAD);
    const GumboVector *c = head ? children(head) : NULL;
    for (unsigned i = 0; c && i < c->length; i++) {
        const GumboNode *k = c->data[i];
        if (is_el(k, GUMBO_TAG_TITLE)) {
            mast_buf_clear(&w->scratch);
            text_of(k, &w->scratch, 0);
            size_t len;
            const char *s = trimmed(&w->scratch, &len);
            if (len && !d->title)
                d->title = keep(w, s, len);
        } else if (is_el(k, GUMBO_TAG_META)) {
            const char *name = attr(k, "name"), *content = attr(k, "content");
            if (name && content && !strcasecmp(name, "description") && !d->description)
                d->description = mast_arena_strdup(&d->arena, content);
        } else if (is_el(k, GUMBO_TAG_LINK)) {
            const char *rel = attr(k, "rel"), *href = attr(k, "href");
            if (rel && href && !strcasecmp(rel, "canonical") && !d->url)
                d->url = mast_arena_strdup(&d->arena, href);
        }
    }
}

mast_status mast_load_html(mast_doc *doc, const char *text, size_t len, const char *fallback_title)
{
    GumboOptions opts = kGumboDefaultOptions;
    opts.max_errors = 0;   /* errors are repaired as a browser would; none is kept */
    GumboOutput *out = gumbo_parse_with_options(&opts, text, len);
    if (!out)
        return mast_fail(MAST_ERR_NOMEM, "out of memory parsing HTML");
    walk w = {.doc = doc};
    doc->title = NULL;   /* <title>, else the first <h1>, else the fallback */
    read_head(&w, out->root);
    roots r = {0};
    find_roots(out->root, &r, 0);
    const GumboNode *root = r.main ? r.main : r.role_main ? r.role_main
                          : r.n_articles == 1 ? r.article : child(out->root, GUMBO_TAG_BODY);
    w.root = root ? root : out->root;
    visit(&w, w.root, 0, root && (is_el(root, GUMBO_TAG_MAIN) || is_el(root, GUMBO_TAG_ARTICLE)), 0);
    flush(&w);
    if (!doc->title)
        doc->title = w.first_h1 ? w.first_h1
                   : mast_arena_strdup(&doc->arena, fallback_title ? fallback_title : "");
    mast_buf_free(&w.para);
    mast_buf_free(&w.scratch);
    gumbo_destroy_output(&opts, out);
    if (w.st == MAST_OK && !doc->title)
        w.st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    return w.st;
}
