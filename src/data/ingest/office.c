/*
** data/ingest/office.c — zip-packaged documents: DOCX, ODT, EPUB and PPTX.
**
** Their parts come out of the zip through the archive walker (decode.c,
** with its limits) and their XML through libxml2, with the network and
** external entities off and libxml2's own limits on depth and entity
** expansion. Elements are matched by local name, whatever the prefix.
**  - DOCX: word/document.xml in order; paragraph styles (word/styles.xml)
**    named "heading N" or with an outline level are headings, "Title" the
**    title, code styles verbatim; numbered paragraphs are list items;
**    tables a line per row with cells named by the header row; footnotes
**    (word/footnotes.xml) at the end; title and author from docProps/core.xml.
**  - ODT: content.xml's text:h (outline level), text:p, lists, tables;
**    notes at the end; title and author from meta.xml.
**  - EPUB: the spine's XHTML documents in order, each through the HTML
**    loader; title and author from the package document.
**  - PPTX: one section per slide (its title, else "Slide N"), the slide's
**    text, then its notes.
*/
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/status.h"
#include "base/utf8.h"
#include "data/ingest/doc.h"
#include "data/ingest/ingest_impl.h"

/* ---- the zip's parts ---- */

typedef struct part {
    char *name, *data;
    size_t len;
} part;

typedef struct parts {
    part *items;
    size_t n, cap;
} parts;

static mast_status keep_part(void *ctx, const char *name, const char *data, size_t len)
{
    parts *p = ctx;
    if (!mast_grow_array((void **)&p->items, &p->cap, p->n + 1, sizeof *p->items))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    part *x = &p->items[p->n];
    x->name = strdup(name);
    x->data = malloc(len + 1);
    if (!x->name || !x->data) {
        free(x->name);
        free(x->data);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    memcpy(x->data, data, len);
    x->data[len] = '\0';
    x->len = len;
    p->n++;
    return MAST_OK;
}

static void parts_free(parts *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].name);
        free(p->items[i].data);
    }
    free(p->items);
}

static const part *find(const parts *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].name, name) == 0)
            return &p->items[i];
    return NULL;
}

/* A part as an XML tree, or NULL (*st says why when the part exists). */
static xmlDocPtr xml_part(const parts *p, const char *name, mast_status *st)
{
    const part *x = find(p, name);
    if (!x)
        return NULL;
    xmlDocPtr d = xmlReadMemory(x->data, (int)(x->len < 0x7fffffff ? x->len : 0x7fffffff), name,
                                NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!d)
        *st = mast_fail(MAST_ERR_FORMAT, "%s is not well-formed XML", name);
    return d;
}

/* ---- XML helpers ---- */

static int is(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* The first descendant element named `name` (depth-first), or NULL. */
static xmlNode *first(xmlNode *n, const char *name)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next) {
        if (is(c, name))
            return c;
        xmlNode *d = first(c, name);
        if (d)
            return d;
    }
    return NULL;
}

/* An attribute by local name, whatever its namespace ("" when absent). */
static const char *attr(const xmlNode *n, const char *name, mast_buf *scratch)
{
    mast_buf_clear(scratch);
    for (xmlAttr *a = n ? n->properties : NULL; a; a = a->next)
        if (strcmp((const char *)a->name, name) == 0 && a->children && a->children->content) {
            mast_buf_puts(scratch, (const char *)a->children->content);
            break;
        }
    return scratch->data ? scratch->data : "";
}

/* Appends the text of n's subtree: text nodes under elements named `t`
** (DOCX, PPTX) or every text node (t == NULL: ODT, OPF); tab and line
** break elements as white space; elements named `skip` left out. */
static void text_of(const xmlNode *n, const char *t, const char *skip, int inside, mast_buf *out)
{
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            if ((inside || !t) && c->content)
                mast_buf_puts(out, (const char *)c->content);
        } else if (c->type == XML_ELEMENT_NODE) {
            if (skip && strstr(skip, (const char *)c->name) &&
                strlen((const char *)c->name) > 1)
                continue;
            if (is(c, "tab"))
                mast_buf_putc(out, '\t');
            else if (is(c, "br") || is(c, "cr") || is(c, "line-break"))
                mast_buf_putc(out, '\n');
            else if (is(c, "s"))   /* ODT's run of spaces */
                mast_buf_putc(out, ' ');
            else
                text_of(c, t, skip, inside || (t && is(c, t)), out);
        }
    }
}

/* ---- the document being built ---- */

typedef struct builder {
    mast_doc *doc;
    mast_headings h;
    mast_buf text, scratch;
    const char *title;       /* from the body (a Title paragraph), or NULL */
} builder;

static mast_status add(builder *b, mast_block_kind kind, const char *s, size_t n)
{
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t'))
        n--;
    while (n && (*s == ' ' || *s == '\n' || *s == '\t')) {
        s++;
        n--;
    }
    if (!n)
        return MAST_OK;
    char *nfc;
    size_t len;
    MAST_TRY(mast_utf8_nfc(s, n, &nfc, &len));
    char *copy = mast_arena_strndup(&b->doc->arena, nfc, len);
    free(nfc);
    if (!copy)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    return mast_doc_add_block(b->doc, kind, copy, len, b->h.path);
}

static mast_status heading(builder *b, int level, const char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n'))
        n--;
    return n ? mast_headings_set(b->doc, &b->h, level, s, n) : MAST_OK;
}

/* A table: a line per row, each cell named by the first row's cell. */
typedef struct table {
    char **header;
    size_t n_header;
    mast_buf out;
} table;

static mast_status table_row(table *t, char **cells, size_t n)
{
    if (!t->header) {
        t->header = cells;
        t->n_header = n;
        return MAST_OK;
    }
    if (t->out.len)
        MAST_TRY(mast_buf_putc(&t->out, '\n'));
    for (size_t i = 0; i < n; i++) {
        if (i)
            MAST_TRY(mast_buf_puts(&t->out, "; "));
        if (i < t->n_header && *t->header[i])
            MAST_TRY(mast_buf_printf(&t->out, "%s: ", t->header[i]));
        MAST_TRY(mast_buf_puts(&t->out, cells[i]));
    }
    for (size_t i = 0; i < n; i++)
        free(cells[i]);
    free(cells);
    return MAST_OK;
}

static mast_status table_end(builder *b, table *t)
{
    mast_status st = MAST_OK;
    if (t->out.len)
        st = add(b, MAST_BLOCK_PARA, t->out.data, t->out.len);
    else if (t->header) {   /* one row: its cells */
        mast_buf one = {0};
        for (size_t i = 0; i < t->n_header; i++)
            mast_buf_printf(&one, "%s%s", i ? "; " : "", t->header[i]);
        st = add(b, MAST_BLOCK_PARA, one.data ? one.data : "", one.len);
        mast_buf_free(&one);
    }
    for (size_t i = 0; i < t->n_header; i++)
        free(t->header[i]);
    free(t->header);
    mast_buf_free(&t->out);
    return st;
}

/* The cells of a table row (elements `cell` under `row`), their text. */
static mast_status row_cells(const xmlNode *row, const char *cell, const char *t, char ***out,
                             size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    for (const xmlNode *c = row->children; c; c = c->next) {
        if (!is(c, cell))
            continue;
        mast_buf b = {0};
        text_of(c, t, NULL, 0, &b);
        /* white space collapsed: cells hold pretty-printed XML's indentation */
        size_t k = 0;
        for (size_t i = 0; i < b.len; i++) {
            int space = b.data[i] == ' ' || b.data[i] == '\n' || b.data[i] == '\t' ||
                        b.data[i] == '\r';
            if (space && (k == 0 || b.data[k - 1] == ' '))
                continue;
            b.data[k++] = space ? ' ' : b.data[i];
        }
        while (k && b.data[k - 1] == ' ')
            k--;
        if (b.data) {
            b.data[k] = '\0';
            b.len = k;
        }
        if (!mast_grow_array((void **)out, &cap, *n + 1, sizeof **out)) {
            mast_buf_free(&b);
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        }
        (*out)[(*n)++] = b.data ? mast_buf_detach(&b) : strdup("");
    }
    return MAST_OK;
}

static mast_status table_of(builder *b, const xmlNode *tbl, const char *row, const char *cell,
                            const char *t)
{
    table tb = {0};
    mast_status st = MAST_OK;
    for (const xmlNode *r = tbl->children; r && st == MAST_OK; r = r->next) {
        if (is(r, "table-header-rows") || is(r, "table-rows")) {   /* ODT groups rows */
            for (const xmlNode *rr = r->children; rr && st == MAST_OK; rr = rr->next)
                if (is(rr, row)) {
                    char **cells;
                    size_t n;
                    st = row_cells(rr, cell, t, &cells, &n);
                    if (st == MAST_OK)
                        st = table_row(&tb, cells, n);
                }
            continue;
        }
        if (!is(r, row))
            continue;
        char **cells;
        size_t n;
        st = row_cells(r, cell, t, &cells, &n);
        if (st == MAST_OK)
            st = table_row(&tb, cells, n);
    }
    mast_status end = table_end(b, &tb);
    return st != MAST_OK ? st : end;
}

/* The title and author of Dublin Core metadata (docProps/core.xml, meta.xml, OPF). */
static void dublin_core(builder *b, xmlNode *root)
{
    xmlNode *title = first(root, "title"), *creator = first(root, "creator");
    if (!creator)
        creator = first(root, "initial-creator");
    mast_buf s = {0};
    if (title) {
        text_of(title, NULL, NULL, 0, &s);
        if (s.len)
            b->doc->title = mast_arena_strdup(&b->doc->arena, s.data);
    }
    mast_buf_clear(&s);
    if (creator) {
        text_of(creator, NULL, NULL, 0, &s);
        if (s.len)
            b->doc->author = mast_arena_strdup(&b->doc->arena, s.data);
    }
    mast_buf_free(&s);
}

/* Title and author from a metadata part (docProps/core.xml, meta.xml), if it is there. */
static void read_properties(builder *b, const parts *p, const char *name, mast_status *st)
{
    xmlDocPtr d = *st == MAST_OK ? xml_part(p, name, st) : NULL;
    if (d) {
        dublin_core(b, xmlDocGetRootElement(d));
        xmlFreeDoc(d);
    }
}

/* ---- DOCX ---- */

typedef struct docx_style {
    char *id;
    int level;      /* 1-9 a heading, -1 the title, -2 title-page metadata, 0 text */
    int code;
} docx_style;

static void docx_styles(const parts *p, docx_style **out, size_t *n, mast_status *st)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    xmlDocPtr d = xml_part(p, "word/styles.xml", st);
    if (!d)
        return;
    mast_buf s = {0};
    for (xmlNode *c = xmlDocGetRootElement(d)->children; c; c = c->next) {
        if (!is(c, "style") || strcmp(attr(c, "type", &s), "paragraph"))
            continue;
        char *id = strdup(attr(c, "styleId", &s));
        xmlNode *name = first(c, "name"), *outline = first(c, "outlineLvl");
        const char *nm = name ? attr(name, "val", &s) : "";
        int level = 0, code = 0;
        if (!strncasecmp(nm, "heading ", 8) && nm[8] >= '1' && nm[8] <= '9')
            level = nm[8] - '0';
        else if (!strcasecmp(nm, "title"))
            level = -1;
        else if (!strcasecmp(nm, "subtitle") || !strcasecmp(nm, "author") ||
                 !strcasecmp(nm, "date"))
            level = -2;   /* the title page's metadata, not text */
        else if (outline)
            level = atoi(attr(outline, "val", &s)) + 1;
        code = strstr(nm, "Code") || strstr(nm, "code") || strstr(nm, "Preformatted");
        if (id && mast_grow_array((void **)out, &cap, *n + 1, sizeof **out))
            (*out)[(*n)++] = (docx_style){id, level > 9 ? 0 : level, code};
        else
            free(id);
    }
    mast_buf_free(&s);
    xmlFreeDoc(d);
}

static mast_status docx_body(builder *b, xmlNode *body, const docx_style *styles, size_t n_styles)
{
    mast_status st = MAST_OK;
    for (xmlNode *c = body->children; c && st == MAST_OK; c = c->next) {
        if (is(c, "sdt")) {   /* a content control: its content */
            xmlNode *content = first(c, "sdtContent");
            if (content)
                st = docx_body(b, content, styles, n_styles);
            continue;
        }
        if (is(c, "tbl")) {
            st = table_of(b, c, "tr", "tc", "t");
            continue;
        }
        if (!is(c, "p"))
            continue;
        xmlNode *ppr = first(c, "pPr");
        xmlNode *pstyle = ppr ? first(ppr, "pStyle") : NULL;
        const char *sid = pstyle ? attr(pstyle, "val", &b->scratch) : "";
        int level = 0, code = 0;
        for (size_t i = 0; i < n_styles; i++)
            if (strcmp(styles[i].id, sid) == 0) {
                level = styles[i].level;
                code = styles[i].code;
            }
        xmlNode *outline = ppr ? first(ppr, "outlineLvl") : NULL;
        if (outline && level == 0)
            level = atoi(attr(outline, "val", &b->scratch)) + 1;
        mast_buf_clear(&b->text);
        if (ppr && first(ppr, "numPr"))
            mast_buf_puts(&b->text, "- ");
        text_of(c, "t", "footnoteReference endnoteReference delText instrText", 0, &b->text);
        const char *t = b->text.data ? b->text.data : "";
        if (level == -1 && !b->title)
            b->title = mast_arena_strdup(&b->doc->arena, t);
        else if (level > 0 && level <= 9)
            st = heading(b, level, t);
        else if (level == 0)
            st = add(b, code ? MAST_BLOCK_CODE : MAST_BLOCK_PARA, t, b->text.len);
    }
    return st;
}

static mast_status load_docx(builder *b, const parts *p)
{
    mast_status st = MAST_OK;
    xmlDocPtr d = xml_part(p, "word/document.xml", &st);
    if (!d)
        return st != MAST_OK ? st : mast_fail(MAST_ERR_FORMAT, "no word/document.xml: not a "
                                              "Word document, or a part is missing");
    docx_style *styles;
    size_t n_styles;
    mast_status style_st = MAST_OK;
    docx_styles(p, &styles, &n_styles, &style_st);   /* without styles: no headings */
    xmlNode *body = first(xmlDocGetRootElement(d), "body");
    if (body)
        st = docx_body(b, body, styles, n_styles);
    xmlFreeDoc(d);
    for (size_t i = 0; i < n_styles; i++)
        free(styles[i].id);
    free(styles);
    /* footnotes and endnotes, at the end */
    static const char *const notes[] = {"word/footnotes.xml", "word/endnotes.xml"};
    for (size_t k = 0; k < 2 && st == MAST_OK; k++) {
        xmlDocPtr nd = xml_part(p, notes[k], &st);
        if (!nd)
            continue;
        int first_note = 1;
        for (xmlNode *n = xmlDocGetRootElement(nd)->children; n && st == MAST_OK; n = n->next) {
            if (!is(n, "footnote") && !is(n, "endnote"))
                continue;
            if (atoi(attr(n, "id", &b->scratch)) <= 0)
                continue;   /* the separators */
            if (first_note) {
                st = heading(b, 1, k ? "Endnotes" : "Footnotes");
                first_note = 0;
            }
            mast_buf_clear(&b->text);
            text_of(n, "t", NULL, 0, &b->text);
            if (st == MAST_OK)
                st = add(b, MAST_BLOCK_PARA, b->text.data ? b->text.data : "", b->text.len);
        }
        xmlFreeDoc(nd);
    }
    read_properties(b, p, "docProps/core.xml", &st);
    return st;
}

/* ---- ODT ---- */

static mast_status odt_text(builder *b, xmlNode *n, mast_buf *notes, int depth)
{
    mast_status st = MAST_OK;
    if (depth > 64)
        return MAST_OK;
    for (xmlNode *c = n->children; c && st == MAST_OK; c = c->next) {
        if (is(c, "h")) {
            mast_buf_clear(&b->text);
            text_of(c, NULL, "note", 0, &b->text);
            const char *lv = attr(c, "outline-level", &b->scratch);
            st = heading(b, *lv ? atoi(lv) : 1, b->text.data ? b->text.data : "");
        } else if (is(c, "p")) {
            /* notes are collected for the end, not read in the sentence */
            for (xmlNode *note = first(c, "note-body"); note; note = NULL) {
                mast_buf_putc(notes, '\x1f');
                text_of(note, NULL, NULL, 0, notes);
            }
            mast_buf_clear(&b->text);
            if (is(c->parent, "list-item"))
                mast_buf_puts(&b->text, "- ");
            text_of(c, NULL, "note", 0, &b->text);
            const char *style = attr(c, "style-name", &b->scratch);
            if (!strcmp(style, "Title") && !b->title) {
                b->title = mast_arena_strdup(&b->doc->arena, b->text.data ? b->text.data : "");
                continue;
            }
            if (!strcmp(style, "Title") || !strcmp(style, "Subtitle") ||
                !strcmp(style, "Author") || !strcmp(style, "Date"))
                continue;   /* the title page's metadata */
            st = add(b, strstr(style, "Code") || strstr(style, "Preformatted") ? MAST_BLOCK_CODE
                                                                               : MAST_BLOCK_PARA,
                     b->text.data ? b->text.data : "", b->text.len);
        } else if (is(c, "table")) {
            st = table_of(b, c, "table-row", "table-cell", NULL);
        } else if (is(c, "list") || is(c, "list-item") || is(c, "section") ||
                   is(c, "list-header")) {
            st = odt_text(b, c, notes, depth + 1);
        }
    }
    return st;
}

static mast_status load_odt(builder *b, const parts *p)
{
    mast_status st = MAST_OK;
    xmlDocPtr d = xml_part(p, "content.xml", &st);
    if (!d)
        return st != MAST_OK ? st : mast_fail(MAST_ERR_FORMAT, "no content.xml: not an "
                                              "OpenDocument text, or a part is missing");
    xmlNode *text = first(xmlDocGetRootElement(d), "text");
    mast_buf notes = {0};
    if (text)
        st = odt_text(b, text, &notes, 0);
    xmlFreeDoc(d);
    if (st == MAST_OK && notes.len) {
        st = heading(b, 1, "Notes");
        for (char *s = notes.data, *e; st == MAST_OK && s && *s; s = e) {
            s++;   /* the separator */
            e = strchr(s, '\x1f');
            st = add(b, MAST_BLOCK_PARA, s, e ? (size_t)(e - s) : strlen(s));
        }
    }
    mast_buf_free(&notes);
    read_properties(b, p, "meta.xml", &st);
    return st;
}

/* ---- EPUB ---- */

/* dir of `path` joined with `href` (no ".." resolution beyond one level's strip). */
static void join_path(const char *path, const char *href, mast_buf *out)
{
    mast_buf_clear(out);
    const char *slash = strrchr(path, '/');
    if (slash)
        mast_buf_append(out, path, (size_t)(slash - path) + 1);
    const char *hash = strchr(href, '#');
    mast_buf_append(out, href, hash ? (size_t)(hash - href) : strlen(href));
}

static mast_status load_epub(builder *b, const parts *p)
{
    mast_status st = MAST_OK;
    xmlDocPtr c = xml_part(p, "META-INF/container.xml", &st);
    xmlNode *rootfile = c ? first(xmlDocGetRootElement(c), "rootfile") : NULL;
    char *opf_path = rootfile ? strdup(attr(rootfile, "full-path", &b->scratch)) : NULL;
    if (c)
        xmlFreeDoc(c);
    if (!opf_path)
        return st != MAST_OK ? st : mast_fail(MAST_ERR_FORMAT, "no META-INF/container.xml "
                                              "naming its package: not an EPUB, or a part is "
                                              "missing");
    xmlDocPtr opf = xml_part(p, opf_path, &st);
    if (!opf) {
        st = st != MAST_OK ? st : mast_fail(MAST_ERR_FORMAT, "its package %s is missing", opf_path);
        free(opf_path);
        return st;
    }
    xmlNode *root = xmlDocGetRootElement(opf);
    xmlNode *metadata = first(root, "metadata"), *manifest = first(root, "manifest"),
            *spine = first(root, "spine");
    if (metadata)
        dublin_core(b, metadata);
    mast_buf id = {0}, href = {0}, path = {0};
    size_t chapters = 0;
    for (xmlNode *ref = spine ? spine->children : NULL; ref && st == MAST_OK; ref = ref->next) {
        if (!is(ref, "itemref"))
            continue;
        attr(ref, "idref", &id);
        const part *x = NULL;
        for (xmlNode *item = manifest ? manifest->children : NULL; item && !x; item = item->next)
            if (is(item, "item") && id.data && !strcmp(attr(item, "id", &b->scratch), id.data)) {
                join_path(opf_path, attr(item, "href", &href), &path);
                x = find(p, path.data ? path.data : "");
            }
        if (!x)
            continue;
        char *nfc;
        size_t n;
        mast_doc chapter;
        mast_doc_init(&chapter);
        st = mast_utf8_nfc(x->data, x->len, &nfc, &n);
        if (st == MAST_OK) {
            st = mast_load_html(&chapter, nfc, n, "");
            free(nfc);
        }
        if (st == MAST_OK)
            st = mast_doc_append(b->doc, &chapter);
        mast_doc_free(&chapter);
        chapters++;
    }
    mast_buf_free(&id);
    mast_buf_free(&href);
    mast_buf_free(&path);
    xmlFreeDoc(opf);
    free(opf_path);
    if (st == MAST_OK && !chapters)
        st = mast_fail(MAST_ERR_FORMAT, "its spine names no document the package has");
    return st;
}

/* ---- PPTX ---- */

static int slide_number(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) || !strstr(name + n, ".xml") || strchr(name + n, '/'))
        return 0;
    return atoi(name + n);
}

/* The text of a slide's shapes: the title placeholder's, and the rest's. */
static void slide_text(xmlNode *n, mast_buf *title, mast_buf *body, int in_title)
{
    for (xmlNode *c = n->children; c; c = c->next) {
        if (!c || c->type != XML_ELEMENT_NODE)
            continue;
        if (is(c, "sp")) {
            xmlNode *ph = first(c, "ph");
            mast_buf s = {0};
            const char *type = ph ? attr(ph, "type", &s) : "";
            int t = !strcmp(type, "title") || !strcmp(type, "ctrTitle");
            mast_buf_free(&s);
            slide_text(c, title, body, t);
        } else if (is(c, "p")) {
            mast_buf *out = in_title ? title : body;
            size_t before = out->len;
            if (out->len)
                mast_buf_putc(out, in_title ? ' ' : '\n');
            size_t mark = out->len;
            text_of(c, "t", NULL, 0, out);
            if (out->len == mark) {   /* an empty paragraph */
                out->len = before;
                if (out->data)
                    out->data[before] = '\0';
            }
        } else {
            slide_text(c, title, body, in_title);
        }
    }
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static mast_status load_pptx(builder *b, const parts *p)
{
    int *numbers = calloc(p->n ? p->n : 1, sizeof *numbers);
    if (!numbers)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        int k = slide_number(p->items[i].name, "ppt/slides/slide");
        if (k > 0)
            numbers[n++] = k;
    }
    qsort(numbers, n, sizeof *numbers, cmp_int);
    mast_status st = n ? MAST_OK : mast_fail(MAST_ERR_FORMAT, "no ppt/slides/slideN.xml: not a "
                                             "PowerPoint file, or its slides are missing");
    mast_buf title = {0}, body = {0}, name = {0}, rels = {0};
    for (size_t i = 0; i < n && st == MAST_OK; i++) {
        mast_buf_clear(&name);
        mast_buf_printf(&name, "ppt/slides/slide%d.xml", numbers[i]);
        xmlDocPtr d = xml_part(p, name.data, &st);
        if (!d)
            continue;
        mast_buf_clear(&title);
        mast_buf_clear(&body);
        slide_text(xmlDocGetRootElement(d), &title, &body, 0);
        xmlFreeDoc(d);
        char fallback[32];
        snprintf(fallback, sizeof fallback, "Slide %d", numbers[i]);
        st = heading(b, 1, title.len ? title.data : fallback);
        if (st == MAST_OK)
            st = add(b, MAST_BLOCK_PARA, body.data ? body.data : "", body.len);
        /* its notes: the notes slide its relationships name */
        mast_buf_clear(&rels);
        mast_buf_printf(&rels, "ppt/slides/_rels/slide%d.xml.rels", numbers[i]);
        xmlDocPtr r = st == MAST_OK ? xml_part(p, rels.data, &st) : NULL;
        for (xmlNode *rel = r ? xmlDocGetRootElement(r)->children : NULL; rel && st == MAST_OK;
             rel = rel->next) {
            if (!is(rel, "Relationship") ||
                !strstr(attr(rel, "Type", &b->scratch), "/notesSlide"))
                continue;
            join_path("ppt/slides/x", attr(rel, "Target", &b->scratch), &name);
            /* "../notesSlides/notesSlide1.xml" relative to ppt/slides/ */
            const char *target = strstr(name.data ? name.data : "", "../");
            mast_buf resolved = {0};
            mast_buf_printf(&resolved, "ppt/%s", target ? target + 3 : "");
            xmlDocPtr nd = xml_part(p, resolved.data, &st);
            mast_buf_free(&resolved);
            if (!nd)
                continue;
            mast_buf ntitle = {0}, nbody = {0};
            slide_text(xmlDocGetRootElement(nd), &ntitle, &nbody, 0);
            xmlFreeDoc(nd);
            /* a notes page repeats the slide number: digits alone are not notes */
            if (nbody.len && strspn(nbody.data, "0123456789\n ") < nbody.len) {
                mast_buf notes = {0};
                mast_buf_printf(&notes, "Notes: %s", nbody.data);
                st = add(b, MAST_BLOCK_PARA, notes.data, notes.len);
                mast_buf_free(&notes);
            }
            mast_buf_free(&ntitle);
            mast_buf_free(&nbody);
        }
        if (r)
            xmlFreeDoc(r);
    }
    mast_buf_free(&title);
    mast_buf_free(&body);
    mast_buf_free(&name);
    mast_buf_free(&rels);
    free(numbers);
    read_properties(b, p, "docProps/core.xml", &st);
    return st;
}

/* ---- entry point ---- */

const char *mast_office_kind(const char *name)
{
    static const char *const kinds[] = {".docx", "docx", ".odt", "odt", ".epub", "epub",
                                        ".pptx", "pptx", NULL};
    size_t n = strlen(name);
    for (const char *const *k = kinds; *k; k += 2) {
        size_t m = strlen(k[0]);
        if (n >= m && strcasecmp(name + n - m, k[0]) == 0)
            return k[1];
    }
    return NULL;
}

mast_status mast_load_office(mast_doc *doc, const char *kind, const char *data, size_t len,
                             mast_archive_budget *budget, const char *fallback_title)
{
    parts p = {0};
    mast_status st = mast_archive_walk(NULL, data, len, budget, keep_part, &p);
    builder b = {.doc = doc};
    if (st == MAST_OK)
        st = !strcmp(kind, "docx") ? load_docx(&b, &p)
           : !strcmp(kind, "odt")  ? load_odt(&b, &p)
           : !strcmp(kind, "epub") ? load_epub(&b, &p)
                                   : load_pptx(&b, &p);
    parts_free(&p);
    mast_buf_free(&b.text);
    mast_buf_free(&b.scratch);
    if (st == MAST_OK && (!doc->title || !*doc->title))
        doc->title = b.title && *b.title ? b.title
                   : mast_arena_strdup(&doc->arena, fallback_title ? fallback_title : "");
    if (st == MAST_OK && !doc->title)
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    return st;
}
