/*
** data/ingest/office_xml.h — what the loaders of zip-packaged documents
** share (office_xml.c): the zip's parts, XML helpers over libxml2 trees,
** and a builder of the document's blocks under a heading path.
*/
#ifndef MAST_DATA_INGEST_OFFICE_XML_H
#define MAST_DATA_INGEST_OFFICE_XML_H

#include <libxml/tree.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/status.h"
#include "data/ingest/doc.h"

/* The zip's regular files, NUL-terminated copies. */
typedef struct mast_part {
    char *name, *data;
    size_t len;
} mast_part;

typedef struct mast_parts {
    mast_part *items;
    size_t n, cap;
} mast_parts;

/* A mast_archive_fn keeping each entry in the mast_parts ctx. */
mast_status mast_parts_keep(void *ctx, const char *name, const char *data, size_t len);
void mast_parts_free(mast_parts *p);
const mast_part *mast_part_find(const mast_parts *p, const char *name);
/* A part as an XML tree, or NULL: the part is absent (*st untouched) or not
** well-formed (*st an error naming it). */
xmlDocPtr mast_part_xml(const mast_parts *p, const char *name, mast_status *st);

/* An element whose local name is `name`. */
int mast_xml_is(const xmlNode *n, const char *name);
/* The first descendant element named `name` (depth-first), or NULL. */
xmlNode *mast_xml_first(xmlNode *n, const char *name);
/* An attribute by local name ("" when absent), copied into scratch. */
const char *mast_xml_attr(const xmlNode *n, const char *name, mast_buf *scratch);
/* Appends the text of n's subtree: text under elements named `t` (DOCX,
** PPTX, XLSX) or all of it (t NULL: ODF, OPF); tabs and line breaks as white
** space; elements whose names are words of `skip` left out. */
void mast_xml_text(const xmlNode *n, const char *t, const char *skip, int inside, mast_buf *out);

/* The document being built. */
typedef struct mast_office_builder {
    mast_doc *doc;
    mast_headings h;
    mast_buf text, scratch;
    const char *title;       /* from the body (a Title paragraph), or NULL */
    const char *what;        /* the document, for warnings */
} mast_office_builder;

/* A block of s[0, n) trimmed, in NFC, under the current heading path
** (nothing when it is blank). */
mast_status mast_office_add(mast_office_builder *b, mast_block_kind kind, const char *s, size_t n);
mast_status mast_office_heading(mast_office_builder *b, int level, const char *s);
/* A table (elements `row` with `cell`s, ODF's row groups too) as one block:
** a line per row, each cell named by the first row's cell. */
mast_status mast_office_table(mast_office_builder *b, const xmlNode *tbl, const char *row,
                              const char *cell, const char *t);
/* Title and author of Dublin Core metadata under root. */
void mast_office_dublin_core(mast_office_builder *b, xmlNode *root);
/* ... from a metadata part (docProps/core.xml, meta.xml), if it is there. */
void mast_office_properties(mast_office_builder *b, const mast_parts *p, const char *name,
                            mast_status *st);
/* The directory of `path` joined with `href` (its #fragment dropped). */
void mast_office_join_path(const char *path, const char *href, mast_buf *out);

/* Spreadsheets (sheet.c): a section per sheet, a block per row. */
mast_status mast_load_xlsx(mast_office_builder *b, const mast_parts *p);
mast_status mast_load_ods(mast_office_builder *b, const mast_parts *p);

#endif
