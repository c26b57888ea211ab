/*
** data/ingest/office.c, office_xml.c — zip-packaged documents: DOCX, ODT,
** EPUB, PPTX (office.c) and XLSX, ODS (sheet.c) share the zip's parts, the
** XML helpers and the document builder here.
**
** Parts come out of the zip through the archive walker (decode.c, with
** its limits) and their XML through libxml2, with the network and external
** entities off and libxml2's own limits on depth and entity expansion.
** Elements and attributes are matched by local name, whatever the prefix.
*/
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/status.h"
#include "base/utf8.h"
#include "data/ingest/doc.h"
#include "data/ingest/office_xml.h"

/* ---- the zip's parts ---- */

mast_status mast_parts_keep(void *ctx, const char *name, const char *data, size_t len)
{
    mast_parts *p = ctx;
    if (!mast_grow_array((void **)&p->items, &p->cap, p->n + 1, sizeof *p->items))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_part *x = &p->items[p->n];
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

void mast_parts_free(mast_parts *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].name);
        free(p->items[i].data);
    }
    free(p->items);
}

const mast_part *mast_part_find(const mast_parts *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].name, name) == 0)
            return &p->items[i];
    return NULL;
}

/* A part as an XML tree, or NULL (*st says why when the part exists). */
xmlDocPtr mast_part_xml(const mast_parts *p, const char *name, mast_status *st)
{
    const mast_part *x = mast_part_find(p, name);
    if (!x)
        return NULL;
    xmlDocPtr d = xmlReadMemory(x->data, (int)(x->len < 0x7fffffff ? x->len : 0x7fffffff), name,
                                NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!d)
        *st = mast_fail(MAST_ERR_FORMAT, "%s is not well-formed XML", name);
    return d;
}

/* ---- XML helpers ---- */

int mast_xml_is(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* The first descendant element named `name` (depth-first), or NULL. */
xmlNode *mast_xml_first(xmlNode *n, const char *name)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next) {
        if (mast_xml_is(c, name))
            return c;
        xmlNode *d = mast_xml_first(c, name);
        if (d)
            return d;
    }
    return NULL;
}

/* An attribute by local name, whatever its namespace ("" when absent). */
const char *mast_xml_attr(const xmlNode *n, const char *name, mast_buf *scratch)
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
void mast_xml_text(const xmlNode *n, const char *t, const char *skip, int inside, mast_buf *out)
{
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            if ((inside || !t) && c->content)
                mast_buf_puts(out, (const char *)c->content);
        } else if (c->type == XML_ELEMENT_NODE) {
            if (skip && strstr(skip, (const char *)c->name) &&
                strlen((const char *)c->name) > 1)
                continue;
            if (mast_xml_is(c, "tab"))
                mast_buf_putc(out, '\t');
            else if (mast_xml_is(c, "br") || mast_xml_is(c, "cr") || mast_xml_is(c, "line-break"))
                mast_buf_putc(out, '\n');
            else if (mast_xml_is(c, "s"))   /* ODT's run of spaces */
                mast_buf_putc(out, ' ');
            else
                mast_xml_text(c, t, skip, inside || (t && mast_xml_is(c, t)), out);
        }
    }
}

/* ---- the document being built ---- */

mast_status mast_office_add(mast_office_builder *b, mast_block_kind kind, const char *s, size_t n)
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

mast_status mast_office_heading(mast_office_builder *b, int level, const char *s)
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

static mast_status table_end(mast_office_builder *b, table *t)
{
    mast_status st = MAST_OK;
    if (t->out.len)
        st = mast_office_add(b, MAST_BLOCK_PARA, t->out.data, t->out.len);
    else if (t->header) {   /* one row: its cells */
        mast_buf one = {0};
        for (size_t i = 0; i < t->n_header; i++)
            mast_buf_printf(&one, "%s%s", i ? "; " : "", t->header[i]);
        st = mast_office_add(b, MAST_BLOCK_PARA, one.data ? one.data : "", one.len);
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
        if (!mast_xml_is(c, cell))
            continue;
        mast_buf b = {0};
        mast_xml_text(c, t, NULL, 0, &b);
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

mast_status mast_office_table(mast_office_builder *b, const xmlNode *tbl, const char *row, const char *cell,
                            const char *t)
{
    table tb = {0};
    mast_status st = MAST_OK;
    for (const xmlNode *r = tbl->children; r && st == MAST_OK; r = r->next) {
        if (mast_xml_is(r, "table-header-rows") || mast_xml_is(r, "table-rows")) {   /* ODT groups rows */
            for (const xmlNode *rr = r->children; rr && st == MAST_OK; rr = rr->next)
                if (mast_xml_is(rr, row)) {
                    char **cells;
                    size_t n;
                    st = row_cells(rr, cell, t, &cells, &n);
                    if (st == MAST_OK)
                        st = table_row(&tb, cells, n);
                }
            continue;
        }
        if (!mast_xml_is(r, row))
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
void mast_office_dublin_core(mast_office_builder *b, xmlNode *root)
{
    xmlNode *title = mast_xml_first(root, "title"), *creator = mast_xml_first(root, "creator");
    if (!creator)
        creator = mast_xml_first(root, "initial-creator");
    mast_buf s = {0};
    if (title) {
        mast_xml_text(title, NULL, NULL, 0, &s);
        if (s.len)
            b->doc->title = mast_arena_strdup(&b->doc->arena, s.data);
    }
    mast_buf_clear(&s);
    if (creator) {
        mast_xml_text(creator, NULL, NULL, 0, &s);
        if (s.len)
            b->doc->author = mast_arena_strdup(&b->doc->arena, s.data);
    }
    mast_buf_free(&s);
}

/* Title and author from a metadata part (docProps/core.xml, meta.xml), if it is there. */
void mast_office_properties(mast_office_builder *b, const mast_parts *p, const char *name, mast_status *st)
{
    xmlDocPtr d = *st == MAST_OK ? mast_part_xml(p, name, st) : NULL;
    if (d) {
        mast_office_dublin_core(b, xmlDocGetRootElement(d));
        xmlFreeDoc(d);
    }
}

/* dir of `path` joined with `href` (no ".." resolution beyond one level's strip). */
void mast_office_join_path(const char *path, const char *href, mast_buf *out)
{
    mast_buf_clear(out);
    const char *slash = strrchr(path, '/');
    if (slash)
        mast_buf_append(out, path, (size_t)(slash - path) + 1);
    const char *hash = strchr(href, '#');
    mast_buf_append(out, href, hash ? (size_t)(hash - href) : strlen(href));
}

