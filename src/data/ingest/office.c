/*
** data/ingest/office.c — zip-packaged documents: DOCX, ODT, EPUB and PPTX,
** and the entry point for all of them (spreadsheets are in sheet.c; the zip
** and XML helpers they share in office_xml.c).
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
#include "data/ingest/office_xml.h"

/* ---- DOCX ---- */

typedef struct docx_style {
    char *id;
    int level;      /* 1-9 a heading, -1 the title, -2 title-page metadata, 0 text */
    int code;
} docx_style;

static void docx_styles(const mast_parts *p, docx_style **out, size_t *n, mast_status *st)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    xmlDocPtr d = mast_part_xml(p, "word/styles.xml", st);
    if (!d)
        return;
    mast_buf s = {0};
    for (xmlNode *c = xmlDocGetRootElement(d)->children; c; c = c->next) {
        if (!mast_xml_is(c, "style") || strcmp(mast_xml_attr(c, "type", &s), "paragraph"))
            continue;
        char *id = strdup(mast_xml_attr(c, "styleId", &s));
        xmlNode *name = mast_xml_first(c, "name"), *outline = mast_xml_first(c, "outlineLvl");
        const char *nm = name ? mast_xml_attr(name, "val", &s) : "";
        int level = 0, code = 0;
        if (!strncasecmp(nm, "heading ", 8) && nm[8] >= '1' && nm[8] <= '9')
            level = nm[8] - '0';
        else if (!strcasecmp(nm, "title"))
            level = -1;
        else if (!strcasecmp(nm, "subtitle") || !strcasecmp(nm, "author") ||
                 !strcasecmp(nm, "date"))
            level = -2;   /* the title page's metadata, not text */
        else if (outline)
            level = atoi(mast_xml_attr(outline, "val", &s)) + 1;
        code = strstr(nm, "Code") || strstr(nm, "code") || strstr(nm, "Preformatted");
        if (id && mast_grow_array((void **)out, &cap, *n + 1, sizeof **out))
            (*out)[(*n)++] = (docx_style){id, level > 9 ? 0 : level, code};
        else
            free(id);
    }
    mast_buf_free(&s);
    xmlFreeDoc(d);
}

static mast_status docx_body(mast_office_builder *b, xmlNode *body, const docx_style *styles, size_t n_styles)
{
    mast_status st = MAST_OK;
    for (xmlNode *c = body->children; c && st == MAST_OK; c = c->next) {
        if (mast_xml_is(c, "sdt")) {   /* a content control: its content */
            xmlNode *content = mast_xml_first(c, "sdtContent");
            if (content)
                st = docx_body(b, content, styles, n_styles);
            continue;
        }
        if (mast_xml_is(c, "tbl")) {
            st = mast_office_table(b, c, "tr", "tc", "t");
            continue;
        }
        if (!mast_xml_is(c, "p"))
            continue;
        xmlNode *ppr = mast_xml_first(c, "pPr");
        xmlNode *pstyle = ppr ? mast_xml_first(ppr, "pStyle") : NULL;
        const char *sid = pstyle ? mast_xml_attr(pstyle, "val", &b->scratch) : "";
        int level = 0, code = 0;
        for (size_t i = 0; i < n_styles; i++)
            if (strcmp(styles[i].id, sid) == 0) {
                level = styles[i].level;
                code = styles[i].code;
            }
        xmlNode *outline = ppr ? mast_xml_first(ppr, "outlineLvl") : NULL;
        if (outline && level == 0)
            level = atoi(mast_xml_attr(outline, "val", &b->scratch)) + 1;
        mast_buf_clear(&b->text);
        if (ppr && mast_xml_first(ppr, "numPr"))
            mast_buf_puts(&b->text, "- ");
        mast_xml_text(c, "t", "footnoteReference endnoteReference delText instrText", 0, &b->text);
        const char *t = b->text.data ? b->text.data : "";
        if (level == -1 && !b->title)
            b->title = mast_arena_strdup(&b->doc->arena, t);
        else if (level > 0 && level <= 9)
            st = mast_office_heading(b, level, t);
        else if (level == 0)
            st = mast_office_add(b, code ? MAST_BLOCK_CODE : MAST_BLOCK_PARA, t, b->text.len);
    }
    return st;
}

static mast_status load_docx(mast_office_builder *b, const mast_parts *p)
{
    mast_status st = MAST_OK;
    xmlDocPtr d = mast_part_xml(p, "word/document.xml", &st);
    if (!d)
        return st != MAST_OK ? st : mast_fail(MAST_ERR_FORMAT, "no word/document.xml: not a "
                                              "Word document, or a part is missing");
    docx_style *styles;
    size_t n_styles;
    mast_status style_st = MAST_OK;
    docx_styles(p, &styles, &n_styles, &style_st);   /* without styles: no headings */
    xmlNode *body = mast_xml_first(xmlDocGetRootElement(d), "body");
    if (body)
        st = docx_body(b, body, styles, n_styles);
    xmlFreeDoc(d);
    for (size_t i = 0; i < n_styles; i++)
        free(styles[i].id);
    free(styles);
    /* footnotes and endnotes, at the end */
    static const char *const notes[] = {"word/footnotes.xml", "word/endnotes.xml"};
    for (size_t k = 0; k < 2 && st == MAST_OK; k++) {
        xmlDocPtr nd = mast_part_xml(p, notes[k], &st);
        if (!nd)
            continue;
        int first_note = 1;
        for (xmlNode *n = xmlDocGetRootElement(nd)->children; n && st == MAST_OK; n = n->next) {
            if (!mast_xml_is(n, "footnote") && !mast_xml_is(n, "endnote"))
                continue;
            if (atoi(mast_xml_attr(n, "id", &b->scratch)) <= 0)
                continue;   /* the separators */
            if (first_note) {
                st = mast_office_heading(b, 1, k ? "Endnotes" : "Footnotes");
                first_note = 0;
            }
            mast_buf_clear(&b->text);
            mast_xml_text(n, "t", NULL, 0, &b->text);
            if (st == MAST_OK)
                st = mast_office_add(b, MAST_BLOCK_PARA, b->text.data ? b->text.data : "", b->text.len);
        }
        xmlFreeDoc(nd);
    }
    mast_office_properties(b, p, "docProps/core.xml", &st);
    return st;
}

/* ---- ODT ---- */

static mast_status odt_text(mast_office_builder *b, xmlNode *n, mast_buf *notes, int depth)
{
    mast_status st = MAST_OK;
    if (depth > 64)
        return MAST_OK;
    for (xmlNode *c = n->children; c && st == MAST_OK; c = c->next) {
        if (mast_xml_is(c, "h")) {
            mast_buf_clear(&b->text);
            mast_xml_text(c, NULL, "note", 0, &b->text);
            const char *lv = mast_xml_attr(c, "outline-level", &b->scratch);
            st = mast_office_heading(b, *lv ? atoi(lv) : 1, b->text.data ? b->text.data : "");
        } else if (mast_xml_is(c, "p")) {
            /* notes are collected for the end, not read in the sentence */
            for (xmlNode *note = mast_xml_first(c, "note-body"); note; note = NULL) {
                mast_buf_putc(notes, '\x1f');
                mast_xml_text(note, NULL, NULL, 0, notes);
            }
            mast_buf_clear(&b->text);
            if (mast_xml_is(c->parent, "list-item"))
                mast_buf_puts(&b->text, "- ");
            mast_xml_text(c, NULL, "note", 0, &b->text);
            const char *style = mast_xml_attr(c, "style-name", &b->scratch);
            if (!strcmp(style, "Title") && !b->title) {
                b->title = mast_arena_strdup(&b->doc->arena, b->text.data ? b->text.data : "");
                continue;
            }
            if (!strcmp(style, "Title") || !strcmp(style, "Subtitle") ||
                !strcmp(style, "Author") || !strcmp(style, "Date"))
                continue;   /* the title page's metadata */
            st = mast_office_add(b, strstr(style, "Code") || strstr(style, "Preformatted") ? MAST_BLOCK_CODE
                                                                               : MAST_BLOCK_PARA,
                     b->text.data ? b->text.data : "", b->text.len);
        } else if (mast_xml_is(c, "table")) {
            st = mast_office_table(b, c, "table-row", "table-cell", NULL);
        } else if (mast_xml_is(c, "list") || mast_xml_is(c, "list-item") || mast_xml_is(c, "section") ||
                   mast_xml_is(c, "list-header")) {
            st = odt_text(b, c, notes, depth + 1);
        }
    }
    return st;
}

static mast_status load_odt(mast_office_builder *b, const mast_parts *p)
{
    mast_status st = MAST_OK;
    xmlDocPtr d = mast_part_xml(p, "content.xml", &st);
    if (!d)
        return st != MAST_OK ? st : mast_fail(MAST_ERR_FORMAT, "no content.xml: not an "
                                              "OpenDocument text, or a part is missing");
    xmlNode *text = mast_xml_first(xmlDocGetRootElement(d), "text");
    mast_buf notes = {0};
    if (text)
        st = odt_text(b, text, &notes, 0);
    xmlFreeDoc(d);
    if (st == MAST_OK && notes.len) {
        st = mast_office_heading(b, 1, "Notes");
        for (char *s = notes.data, *e; st == MAST_OK && s && *s; s = e) {
            s++;   /* the separator */
            e = strchr(s, '\x1f');
            st = mast_office_add(b, MAST_BLOCK_PARA, s, e ? (size_t)(e - s) : strlen(s));
        }
    }
    mast_buf_free(&notes);
    mast_office_properties(b, p, "meta.xml", &st);
    return st;
}

/* ---- EPUB ---- */

static mast_status load_epub(mast_office_builder *b, const mast_parts *p)
{
    mast_status st = MAST_OK;
    xmlDocPtr c = mast_part_xml(p, "META-INF/container.xml", &st);
    xmlNode *rootfile = c ? mast_xml_first(xmlDocGetRootElement(c), "rootfile") : NULL;
    char *opf_path = rootfile ? strdup(mast_xml_attr(rootfile, "full-path", &b->scratch)) : NULL;
    if (c)
        xmlFreeDoc(c);
    if (!opf_path)
        return st != MAST_OK ? st : mast_fail(MAST_ERR_FORMAT, "no META-INF/container.xml "
                                              "naming its package: not an EPUB, or a part is "
                                              "missing");
    xmlDocPtr opf = mast_part_xml(p, opf_path, &st);
    if (!opf) {
        st = st != MAST_OK ? st : mast_fail(MAST_ERR_FORMAT, "its package %s is missing", opf_path);
        free(opf_path);
        return st;
    }
    xmlNode *root = xmlDocGetRootElement(opf);
    xmlNode *metadata = mast_xml_first(root, "metadata"), *manifest = mast_xml_first(root, "manifest"),
            *spine = mast_xml_first(root, "spine");
    if (metadata)
        mast_office_dublin_core(b, metadata);
    mast_buf id = {0}, href = {0}, path = {0};
    size_t chapters = 0;
    for (xmlNode *ref = spine ? spine->children : NULL; ref && st == MAST_OK; ref = ref->next) {
        if (!mast_xml_is(ref, "itemref"))
            continue;
        mast_xml_attr(ref, "idref", &id);
        const mast_part *x = NULL;
        for (xmlNode *item = manifest ? manifest->children : NULL; item && !x; item = item->next)
            if (mast_xml_is(item, "item") && id.data && !strcmp(mast_xml_attr(item, "id", &b->scratch), id.data)) {
                mast_office_join_path(opf_path, mast_xml_attr(item, "href", &href), &path);
                x = mast_part_find(p, path.data ? path.data : "");
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
        if (mast_xml_is(c, "sp")) {
            xmlNode *ph = mast_xml_first(c, "ph");
            mast_buf s = {0};
            const char *type = ph ? mast_xml_attr(ph, "type", &s) : "";
            int t = !strcmp(type, "title") || !strcmp(type, "ctrTitle");
            mast_buf_free(&s);
            slide_text(c, title, body, t);
        } else if (mast_xml_is(c, "p")) {
            mast_buf *out = in_title ? title : body;
            size_t before = out->len;
            if (out->len)
                mast_buf_putc(out, in_title ? ' ' : '\n');
            size_t mark = out->len;
            mast_xml_text(c, "t", NULL, 0, out);
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

static mast_status load_pptx(mast_office_builder *b, const mast_parts *p)
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
        xmlDocPtr d = mast_part_xml(p, name.data, &st);
        if (!d)
            continue;
        mast_buf_clear(&title);
        mast_buf_clear(&body);
        slide_text(xmlDocGetRootElement(d), &title, &body, 0);
        xmlFreeDoc(d);
        char fallback[32];
        snprintf(fallback, sizeof fallback, "Slide %d", numbers[i]);
        st = mast_office_heading(b, 1, title.len ? title.data : fallback);
        if (st == MAST_OK)
            st = mast_office_add(b, MAST_BLOCK_PARA, body.data ? body.data : "", body.len);
        /* its notes: the notes slide its relationships name */
        mast_buf_clear(&rels);
        mast_buf_printf(&rels, "ppt/slides/_rels/slide%d.xml.rels", numbers[i]);
        xmlDocPtr r = st == MAST_OK ? mast_part_xml(p, rels.data, &st) : NULL;
        for (xmlNode *rel = r ? xmlDocGetRootElement(r)->children : NULL; rel && st == MAST_OK;
             rel = rel->next) {
            if (!mast_xml_is(rel, "Relationship") ||
                !strstr(mast_xml_attr(rel, "Type", &b->scratch), "/notesSlide"))
                continue;
            mast_office_join_path("ppt/slides/x", mast_xml_attr(rel, "Target", &b->scratch), &name);
            /* "../notesSlides/notesSlide1.xml" relative to ppt/slides/ */
            const char *target = strstr(name.data ? name.data : "", "../");
            mast_buf resolved = {0};
            mast_buf_printf(&resolved, "ppt/%s", target ? target + 3 : "");
            xmlDocPtr nd = mast_part_xml(p, resolved.data, &st);
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
                st = mast_office_add(b, MAST_BLOCK_PARA, notes.data, notes.len);
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
    mast_office_properties(b, p, "docProps/core.xml", &st);
    return st;
}

/* ---- entry point ---- */

const char *mast_office_kind(const char *name)
{
    static const char *const kinds[] = {".docx", "docx", ".odt", "odt", ".epub", "epub",
                                        ".pptx", "pptx", ".xlsx", "xlsx", ".xlsm", "xlsx",
                                        ".ods", "ods", NULL};
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
    mast_parts p = {0};
    mast_status st = mast_archive_walk(NULL, data, len, budget, mast_parts_keep, &p);
    mast_office_builder b = {.doc = doc, .what = fallback_title ? fallback_title : "a document"};
    if (st == MAST_OK)
        st = !strcmp(kind, "docx") ? load_docx(&b, &p)
           : !strcmp(kind, "odt")  ? load_odt(&b, &p)
           : !strcmp(kind, "epub") ? load_epub(&b, &p)
           : !strcmp(kind, "pptx") ? load_pptx(&b, &p)
           : !strcmp(kind, "xlsx") ? mast_load_xlsx(&b, &p)
                                   : mast_load_ods(&b, &p);
    mast_parts_free(&p);
    mast_buf_free(&b.text);
    mast_buf_free(&b.scratch);
    if (st == MAST_OK && (!doc->title || !*doc->title))
        doc->title = b.title && *b.title ? b.title
                   : mast_arena_strdup(&doc->arena, fallback_title ? fallback_title : "");
    if (st == MAST_OK && !doc->title)
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    return st;
}
