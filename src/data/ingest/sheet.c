/*
** data/ingest/sheet.c — spreadsheets: XLSX (SpreadsheetML) and ODS
** (OpenDocument). Each sheet is a section headed by its name; each row is a
** block whose cells are named by the header row ("Name: Ada; Year: 1843"),
** as CSV's are, so a chunk of rows stays readable on its own.
**
** The header is the first non-empty row when all its cells are text; a lone
** cell above a wider row is the sheet's caption (a paragraph), and the row
** under it the header. Without a header, cells are joined as they are.
**
** Worksheets (and XLSX's shared strings) are read with libxml2's streaming
** reader one row at a time, so a large sheet never becomes a tree in
** memory. Cells are what the user sees where the file says it: XLSX numbers
** with a date, time or percent format become ISO dates, times and
** percentages (the 1900 and 1904 date systems); ODS cells are the text the
** application wrote. Repeated rows and cells (ODS's number-*-repeated) are
** expanded up to a budget of cells per document; past it the rest is left
** out with a warning.
*/
#include <libxml/xmlreader.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/status.h"
#include "data/ingest/doc.h"
#include "data/ingest/office_xml.h"

enum { MAX_COLUMNS = 16384, MAX_CELLS = 2000000 };

/* ---- rows into blocks ---- */

typedef struct cell {
    int col;
    char *text;
    int is_text;   /* a string, not a number, date or boolean */
} cell;

typedef struct row {
    cell *c;
    size_t n, cap;
} row;

static void row_clear(row *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->c[i].text);
    r->n = 0;
}

static void row_free(row *r)
{
    row_clear(r);
    free(r->c);
    memset(r, 0, sizeof *r);
}

/* Adds a cell (white space collapsed; a blank one is no cell). */
static mast_status row_put(row *r, int col, const char *s, size_t len, int is_text)
{
    mast_buf b = {0};
    for (size_t i = 0; i < len; i++) {
        int space = s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r';
        if (space && (b.len == 0 || b.data[b.len - 1] == ' '))
            continue;
        MAST_TRY(mast_buf_putc(&b, space ? ' ' : s[i]));
    }
    while (b.len && b.data[b.len - 1] == ' ')
        b.data[--b.len] = '\0';
    if (!b.len) {
        mast_buf_free(&b);
        return MAST_OK;
    }
    if (!mast_grow_array((void **)&r->c, &r->cap, r->n + 1, sizeof *r->c)) {
        mast_buf_free(&b);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    r->c[r->n++] = (cell){col, mast_buf_detach(&b), is_text};
    return MAST_OK;
}

static void row_move(row *to, row *from)
{
    row_free(to);
    *to = *from;
    memset(from, 0, sizeof *from);
}

typedef struct sheet {
    mast_office_builder *b;
    const char *name;
    int started;       /* its heading is out */
    int state;         /* 0 no row yet, 1 the first row pending, 2 rows flowing */
    int captioned;
    row first, header;
    size_t cells;      /* of the whole document, against MAX_CELLS */
    int full;          /* the budget is spent */
    mast_buf line;
} sheet;

static mast_status block(sheet *s, const char *text, size_t len)
{
    if (!s->started) {
        s->started = 1;
        MAST_TRY(mast_office_heading(s->b, 1, s->name && *s->name ? s->name : "Sheet"));
    }
    return mast_office_add(s->b, MAST_BLOCK_PARA, text, len);
}

static const char *column_name(const sheet *s, int col)
{
    for (size_t i = 0; i < s->header.n; i++)
        if (s->header.c[i].col == col)
            return s->header.c[i].text;
    return NULL;
}

static mast_status emit(sheet *s, const row *r)
{
    mast_buf_clear(&s->line);
    for (size_t i = 0; i < r->n; i++) {
        if (i)
            MAST_TRY(mast_buf_puts(&s->line, "; "));
        const char *name = column_name(s, r->c[i].col);
        if (name)
            MAST_TRY(mast_buf_printf(&s->line, "%s: ", name));
        MAST_TRY(mast_buf_puts(&s->line, r->c[i].text));
    }
    return block(s, s->line.data ? s->line.data : "", s->line.len);
}

static int all_text(const row *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (!r->c[i].is_text)
            return 0;
    return 1;
}

/* The next non-empty row of the sheet, `repeat` times (ODS). Takes r's cells. */
static mast_status sheet_row(sheet *s, row *r, size_t repeat)
{
    if (!r->n || s->full)
        return MAST_OK;
    mast_status st = MAST_OK;
    for (size_t k = 0; k < repeat && st == MAST_OK; k++) {
        if (s->cells + r->n > MAX_CELLS) {
            s->full = 1;
            break;
        }
        s->cells += r->n;
        if (s->state == 0) {
            row_clear(&s->first);
            for (size_t i = 0; i < r->n && st == MAST_OK; i++)
                st = row_put(&s->first, r->c[i].col, r->c[i].text, strlen(r->c[i].text),
                             r->c[i].is_text);
            s->state = 1;
        } else if (s->state == 1) {
            if (s->first.n == 1 && r->n >= 2 && !s->captioned) {
                /* a caption above the table: the wider row may be the header */
                st = block(s, s->first.c[0].text, strlen(s->first.c[0].text));
                s->captioned = 1;
                row_clear(&s->first);
                for (size_t i = 0; i < r->n && st == MAST_OK; i++)
                    st = row_put(&s->first, r->c[i].col, r->c[i].text, strlen(r->c[i].text),
                                 r->c[i].is_text);
                continue;
            }
            if (all_text(&s->first))
                row_move(&s->header, &s->first);
            else
                st = emit(s, &s->first);
            s->state = 2;
            if (st == MAST_OK)
                st = emit(s, r);
        } else {
            st = emit(s, r);
        }
    }
    row_clear(r);
    return st;
}

/* The sheet's end: a lone first row is data. */
static mast_status sheet_end(sheet *s)
{
    mast_status st = MAST_OK;
    if (s->state == 1)
        st = emit(s, &s->first);
    row_free(&s->first);
    row_free(&s->header);
    s->state = 0;
    s->started = 0;
    s->captioned = 0;
    return st;
}

/* ---- streaming a part ---- */

typedef mast_status (*element_fn)(void *ctx, xmlTextReaderPtr rd, xmlNode *n);

/* Calls fn with each element named `want` (its subtree expanded), and
** on_other with other elements' starts and ends (n NULL), in document order. */
static mast_status stream(const mast_part *x, const char *want, element_fn fn, element_fn on_other,
                          void *ctx)
{
    xmlTextReaderPtr rd = xmlReaderForMemory(
        x->data, (int)(x->len < 0x7fffffff ? x->len : 0x7fffffff), x->name, NULL,
        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!rd)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_status st = MAST_OK;
    int ret = xmlTextReaderRead(rd);
    while (ret == 1 && st == MAST_OK) {
        int type = xmlTextReaderNodeType(rd);
        const char *local = (const char *)xmlTextReaderConstLocalName(rd);
        if (type == XML_READER_TYPE_ELEMENT && local && !strcmp(local, want)) {
            xmlNode *n = xmlTextReaderExpand(rd);
            if (!n)
                break;   /* not well-formed: ret stays 1, reported below */
            st = fn(ctx, rd, n);
            ret = xmlTextReaderNext(rd);
            continue;
        }
        if (on_other && (type == XML_READER_TYPE_ELEMENT || type == XML_READER_TYPE_END_ELEMENT))
            st = on_other(ctx, rd, NULL);
        ret = xmlTextReaderRead(rd);
    }
    xmlFreeTextReader(rd);
    if (st == MAST_OK && ret != 0)
        st = mast_fail(MAST_ERR_FORMAT, "%s is not well-formed XML", x->name);
    return st;
}

/* ---- XLSX ---- */

enum { NUM_PLAIN, NUM_DATE, NUM_TIME, NUM_DATETIME, NUM_PERCENT };

typedef struct xlsx {
    sheet s;
    char **strings;
    size_t n_strings, cap_strings;
    unsigned char *xf;   /* per cell style (the cell's s=): NUM_* */
    size_t n_xf;
    int date1904;
    row r;
    mast_buf scratch, text;
} xlsx;

static mast_status keep_string(void *ctx, xmlTextReaderPtr rd, xmlNode *n)
{
    (void)rd;
    xlsx *x = ctx;
    mast_buf_clear(&x->text);
    mast_xml_text(n, "t", "rPh", 0, &x->text);   /* phonetic runs are not the text */
    if (!mast_grow_array((void **)&x->strings, &x->cap_strings, x->n_strings + 1,
                         sizeof *x->strings))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    char *copy = strdup(x->text.data ? x->text.data : "");
    if (!copy)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    x->strings[x->n_strings++] = copy;
    return MAST_OK;
}

/* What a number format shows: built-in ids (ECMA-376 part 1, 18.8.30) or
** the format code's letters outside quotes, escapes and [colour] brackets. */
static int format_kind(int id, const char *code)
{
    if (id == 9 || id == 10)
        return NUM_PERCENT;
    if ((id >= 14 && id <= 17) || (id >= 27 && id <= 31) || (id >= 34 && id <= 36) ||
        (id >= 50 && id <= 58))
        return NUM_DATE;
    if ((id >= 18 && id <= 21) || (id >= 32 && id <= 33) || (id >= 45 && id <= 47))
        return NUM_TIME;
    if (id == 22)
        return NUM_DATETIME;
    if (!code)
        return NUM_PLAIN;
    int date = 0, time = 0, month = 0, percent = 0;
    for (const char *c = code; *c; c++) {
        if (*c == '"') {
            while (c[1] && c[1] != '"')
                c++;
            if (c[1])
                c++;
        } else if (*c == '\\' || *c == '_' || *c == '*') {
            if (c[1])
                c++;
        } else if (*c == '[') {
            /* [h], [mm], [ss]: elapsed time; anything else a colour or locale */
            if (c[1] == 'h' || c[1] == 'H' || c[1] == 'm' || c[1] == 's')
                time = 1;
            while (c[1] && c[1] != ']')
                c++;
            if (c[1])
                c++;
        } else if (*c == ';') {
            break;   /* the first section decides */
        } else {
            char l = (char)(*c | 0x20);
            date |= l == 'y' || l == 'd';
            time |= l == 'h' || l == 's';
            month |= l == 'm';
            percent |= *c == '%';
        }
    }
    if (date || (month && !time))
        return time ? NUM_DATETIME : NUM_DATE;
    if (time)
        return NUM_TIME;
    return percent ? NUM_PERCENT : NUM_PLAIN;
}

static void read_styles(xlsx *x, const mast_parts *p, const char *path, mast_status *st)
{
    xmlDocPtr d = mast_part_xml(p, path, st);
    if (!d)
        return;
    xmlNode *root = xmlDocGetRootElement(d);
    xmlNode *fmts = mast_xml_first(root, "numFmts"), *xfs = mast_xml_first(root, "cellXfs");
    size_t cap = 0;
    for (xmlNode *xf = xfs ? xfs->children : NULL; xf; xf = xf->next) {
        if (!mast_xml_is(xf, "xf"))
            continue;
        int id = atoi(mast_xml_attr(xf, "numFmtId", &x->scratch));
        const char *code = NULL;
        mast_buf want = {0};
        for (xmlNode *f = fmts ? fmts->children : NULL; f && !code; f = f->next)
            if (mast_xml_is(f, "numFmt") && atoi(mast_xml_attr(f, "numFmtId", &want)) == id)
                code = mast_xml_attr(f, "formatCode", &x->scratch);
        int kind = format_kind(id, code);
        mast_buf_free(&want);
        if (!mast_grow_array((void **)&x->xf, &cap, x->n_xf + 1, 1)) {
            *st = mast_fail(MAST_ERR_NOMEM, "out of memory");
            break;
        }
        x->xf[x->n_xf++] = (unsigned char)kind;
    }
    xmlFreeDoc(d);
}

/* Days since 1970-01-01 to a civil date (the proleptic Gregorian calendar). */
static void civil_date(long z, long *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* A number as the format shows it, into out. */
static void format_number(const xlsx *x, const char *v, int kind, mast_buf *out)
{
    char *end;
    double f = strtod(v, &end);
    mast_buf_clear(out);
    if (end == v || *end || !isfinite(f)) {
        mast_buf_puts(out, v);
        return;
    }
    if (kind == NUM_PERCENT) {
        mast_buf_printf(out, "%.15g%%", f * 100);
        return;
    }
    if (kind == NUM_PLAIN || f < -693593 || f >= 2958466) {   /* out of years 1-9999 */
        mast_buf_printf(out, "%.15g", f);
        return;
    }
    long days = (long)floor(f);
    long secs = lround((f - (double)days) * 86400.0);
    if (secs >= 86400) {
        days++;
        secs -= 86400;
    }
    if (kind != NUM_TIME) {
        if (!x->date1904 && days == 60) {
            mast_buf_puts(out, "1900-02-29");   /* the 1900 system's leap day that was not */
        } else {
            long y;
            int m, d;
            /* serial 0 is 1899-12-30 (1904-01-01 in the 1904 system), except that
            ** the 1900 system counts the 29th of February 1900 it never had: its
            ** days 1-59 are one later. Before 0: as LibreOffice and openpyxl count. */
            civil_date(x->date1904 ? days - 24107 : days - (days >= 1 && days < 60 ? 25568 : 25569),
                       &y, &m, &d);
            mast_buf_printf(out, "%04ld-%02d-%02d", y, m, d);
        }
    }
    if (kind == NUM_TIME || kind == NUM_DATETIME) {
        if (kind == NUM_DATETIME)
            mast_buf_putc(out, ' ');
        mast_buf_printf(out, "%02ld:%02ld", secs / 3600, secs / 60 % 60);
        if (secs % 60)
            mast_buf_printf(out, ":%02ld", secs % 60);
    }
}

/* "BC12" -> 54 (0-based); -1 when it names no column. */
static int column_of(const char *ref)
{
    long c = 0;
    int letters = 0;
    for (; (*ref >= 'A' && *ref <= 'Z') || (*ref >= 'a' && *ref <= 'z'); ref++) {
        c = c * 26 + ((*ref | 0x20) - 'a' + 1);
        if (++letters > 3)
            return -1;
    }
    return letters && c <= MAX_COLUMNS ? (int)c - 1 : -1;
}

static mast_status xlsx_row(void *ctx, xmlTextReaderPtr rd, xmlNode *n)
{
    (void)rd;
    xlsx *x = ctx;
    int col = -1;
    mast_status st = MAST_OK;
    mast_buf v = {0}, shown = {0};
    for (xmlNode *c = n->children; c && st == MAST_OK; c = c->next) {
        if (!mast_xml_is(c, "c"))
            continue;
        int at = column_of(mast_xml_attr(c, "r", &x->scratch));
        col = at >= 0 ? at : col + 1;
        if (col >= MAX_COLUMNS)
            break;
        char type[16];
        snprintf(type, sizeof type, "%s", mast_xml_attr(c, "t", &x->scratch));
        long style = atol(mast_xml_attr(c, "s", &x->scratch));
        xmlNode *val = mast_xml_first(c, "v");
        mast_buf_clear(&v);
        if (!strcmp(type, "inlineStr")) {
            xmlNode *is = mast_xml_first(c, "is");
            if (is)
                mast_xml_text(is, "t", "rPh", 0, &v);
        } else if (val) {
            mast_xml_text(val, NULL, NULL, 0, &v);
        }
        const char *s = v.data ? v.data : "";
        int is_text = 0;
        if (!strcmp(type, "s")) {
            char *end;
            unsigned long i = strtoul(s, &end, 10);
            s = end != s && !*end && i < x->n_strings ? x->strings[i] : "";
            is_text = 1;
        } else if (!strcmp(type, "inlineStr") || !strcmp(type, "str")) {
            is_text = 1;
        } else if (!strcmp(type, "b")) {
            s = !*s ? "" : strcmp(s, "0") ? "TRUE" : "FALSE";
        } else if (!strcmp(type, "e") || !strcmp(type, "d")) {
            /* an error value (#N/A) or an ISO 8601 date: as written */
        } else if (*s) {
            format_number(x, s, style >= 0 && (size_t)style < x->n_xf ? x->xf[style] : NUM_PLAIN,
                          &shown);
            s = shown.data ? shown.data : "";
        }
        st = row_put(&x->r, col, s, strlen(s), is_text);
    }
    mast_buf_free(&v);
    mast_buf_free(&shown);
    return st == MAST_OK ? sheet_row(&x->s, &x->r, 1) : st;
}

/* The part a relationship of `from` points at: "/xl/a.xml" or relative to from's folder. */
static void rel_target(const char *from, const char *target, mast_buf *out)
{
    if (*target == '/') {
        mast_buf_clear(out);
        mast_buf_puts(out, target + 1);
    } else {
        mast_office_join_path(from, target, out);
    }
}

/* The target of the relationship with Id `id` (or of the first of type
** suffix `type` when id is NULL) in rels part `rels`, resolved from `from`. */
static int find_rel(const mast_parts *p, const char *rels, const char *from, const char *id,
                    const char *type, mast_buf *out, mast_status *st)
{
    xmlDocPtr d = mast_part_xml(p, rels, st);
    int found = 0;
    mast_buf a = {0};
    for (xmlNode *r = d ? xmlDocGetRootElement(d)->children : NULL; r && !found; r = r->next) {
        if (!mast_xml_is(r, "Relationship"))
            continue;
        if (id ? !strcmp(mast_xml_attr(r, "Id", &a), id)
               : (strlen(mast_xml_attr(r, "Type", &a)) >= strlen(type) &&
                  !strcmp(a.data + a.len - strlen(type), type))) {
            rel_target(from, mast_xml_attr(r, "Target", &a), out);
            found = 1;
        }
    }
    mast_buf_free(&a);
    if (d)
        xmlFreeDoc(d);
    return found;
}

/* "xl/workbook.xml" -> "xl/_rels/workbook.xml.rels" */
static void rels_of(const char *part, mast_buf *out)
{
    const char *slash = strrchr(part, '/');
    mast_buf_clear(out);
    if (slash)
        mast_buf_append(out, part, (size_t)(slash - part) + 1);
    mast_buf_printf(out, "_rels/%s.rels", slash ? slash + 1 : part);
}

/* The workbook's sheets in order, through x; *book names the workbook part. */
static mast_status xlsx_book(xlsx *x, const mast_parts *p, mast_buf *book)
{
    mast_status st = MAST_OK;
    if (!find_rel(p, "_rels/.rels", "", NULL, "/officeDocument", book, &st) || !book->len) {
        mast_buf_clear(book);
        mast_buf_puts(book, "xl/workbook.xml");
    }
    xmlDocPtr wb = st == MAST_OK ? mast_part_xml(p, book->data, &st) : NULL;
    if (!wb)
        return st != MAST_OK ? st : mast_fail(MAST_ERR_FORMAT, "no %s: not an Excel workbook, "
                                              "or a part is missing", book->data);
    xmlNode *root = xmlDocGetRootElement(wb);
    xmlNode *pr = mast_xml_first(root, "workbookPr");
    const char *d1904 = pr ? mast_xml_attr(pr, "date1904", &x->scratch) : "";
    x->date1904 = !strcmp(d1904, "1") || !strcmp(d1904, "true");
    mast_buf rels = {0}, target = {0}, name = {0}, id = {0};
    rels_of(book->data, &rels);
    if (find_rel(p, rels.data, book->data, NULL, "/sharedStrings", &target, &st)) {
        const mast_part *sst = mast_part_find(p, target.data);
        if (sst)
            st = stream(sst, "si", keep_string, NULL, x);
    }
    if (st == MAST_OK && find_rel(p, rels.data, book->data, NULL, "/styles", &target, &st))
        read_styles(x, p, target.data, &st);
    xmlNode *sheets = mast_xml_first(root, "sheets");
    size_t n_sheets = 0;
    for (xmlNode *sh = sheets ? sheets->children : NULL; sh && st == MAST_OK && !x->s.full;
         sh = sh->next) {
        if (!mast_xml_is(sh, "sheet"))
            continue;
        mast_xml_attr(sh, "name", &name);
        mast_xml_attr(sh, "id", &id);   /* r:id */
        const mast_part *ws =
            find_rel(p, rels.data, book->data, id.data ? id.data : "", NULL, &target, &st)
                ? mast_part_find(p, target.data) : NULL;
        if (!ws)
            continue;   /* a chart sheet, or a sheet the package lacks */
        n_sheets++;
        x->s.name = name.data;
        st = stream(ws, "row", xlsx_row, NULL, x);
        mast_status end = sheet_end(&x->s);
        st = st != MAST_OK ? st : end;
    }
    xmlFreeDoc(wb);
    mast_buf_free(&rels);
    mast_buf_free(&target);
    mast_buf_free(&name);
    mast_buf_free(&id);
    if (st == MAST_OK && !n_sheets)
        st = mast_fail(MAST_ERR_FORMAT, "%s names no worksheet the package has", book->data);
    return st;
}

mast_status mast_load_xlsx(mast_office_builder *b, const mast_parts *p)
{
    xlsx x = {.s = {.b = b}};
    mast_buf book = {0};
    mast_status st = xlsx_book(&x, p, &book);
    if (x.s.full)
        mast_warn("%s: stopped after %d cells; the rest is left out", b->what, MAX_CELLS);
    mast_office_properties(b, p, "docProps/core.xml", &st);
    for (size_t i = 0; i < x.n_strings; i++)
        free(x.strings[i]);
    free(x.strings);
    free(x.xf);
    row_free(&x.r);
    sheet_end(&x.s);
    mast_buf_free(&x.s.line);
    mast_buf_free(&x.scratch);
    mast_buf_free(&x.text);
    mast_buf_free(&book);
    return st;
}

/* ---- ODS ---- */

typedef struct ods {
    sheet s;
    size_t n_sheets;
    row r;
    mast_buf name, scratch, text;
} ods;

static long repeated(const xmlNode *n, const char *attr, mast_buf *scratch)
{
    const char *v = mast_xml_attr(n, attr, scratch);
    long k = *v ? atol(v) : 1;
    return k < 1 ? 1 : k;
}

static mast_status ods_row(void *ctx, xmlTextReaderPtr rd, xmlNode *n)
{
    (void)rd;
    ods *o = ctx;
    long col = 0;
    mast_status st = MAST_OK;
    for (xmlNode *c = n->children; c && st == MAST_OK && col < MAX_COLUMNS; c = c->next) {
        if (!mast_xml_is(c, "table-cell") && !mast_xml_is(c, "covered-table-cell"))
            continue;
        long times = repeated(c, "number-columns-repeated", &o->scratch);
        mast_buf_clear(&o->text);
        for (xmlNode *para = c->children; para; para = para->next)
            if (mast_xml_is(para, "p") || mast_xml_is(para, "h")) {
                if (o->text.len)
                    mast_buf_putc(&o->text, '\n');
                mast_xml_text(para, NULL, "annotation", 0, &o->text);
            }
        const char *type = mast_xml_attr(c, "value-type", &o->scratch);
        int is_text = !*type || !strcmp(type, "string");
        if (!o->text.len) {   /* no text written: the value itself */
            static const char *const values[] = {"value", "date-value", "time-value",
                                                 "boolean-value", "string-value"};
            for (size_t i = 0; i < 5 && !o->text.len; i++)
                mast_buf_puts(&o->text, mast_xml_attr(c, values[i], &o->scratch));
        }
        if (!o->text.len) {   /* empty cells: just the columns they span */
            col += times < MAX_COLUMNS ? times : MAX_COLUMNS;
            continue;
        }
        for (long k = 0; k < times && col < MAX_COLUMNS && st == MAST_OK; k++, col++)
            if (o->s.cells + o->r.n < MAX_CELLS)
                st = row_put(&o->r, (int)col, o->text.data, o->text.len, is_text);
    }
    long rows = repeated(n, "number-rows-repeated", &o->scratch);
    return st == MAST_OK ? sheet_row(&o->s, &o->r, (size_t)rows) : st;
}

/* A table:table's start (its name) and end (the sheet is done). */
static mast_status ods_other(void *ctx, xmlTextReaderPtr rd, xmlNode *n)
{
    (void)n;
    ods *o = ctx;
    const char *local = (const char *)xmlTextReaderConstLocalName(rd);
    if (!local || strcmp(local, "table"))
        return MAST_OK;
    int type = xmlTextReaderNodeType(rd);
    if (type == XML_READER_TYPE_ELEMENT) {
        xmlChar *name = xmlTextReaderGetAttributeNs(
            rd, (const xmlChar *)"name",
            (const xmlChar *)"urn:oasis:names:tc:opendocument:xmlns:table:1.0");
        mast_buf_clear(&o->name);
        mast_buf_puts(&o->name, name ? (const char *)name : "");
        xmlFree(name);
        o->s.name = o->name.data;
        o->n_sheets++;
        if (!xmlTextReaderIsEmptyElement(rd))
            return MAST_OK;
    }
    return sheet_end(&o->s);
}

mast_status mast_load_ods(mast_office_builder *b, const mast_parts *p)
{
    const mast_part *content = mast_part_find(p, "content.xml");
    if (!content)
        return mast_fail(MAST_ERR_FORMAT, "no content.xml: not an OpenDocument spreadsheet, "
                         "or a part is missing");
    ods o = {.s = {.b = b}};
    mast_status st = stream(content, "table-row", ods_row, ods_other, &o);
    mast_status end = sheet_end(&o.s);
    st = st != MAST_OK ? st : end;
    if (st == MAST_OK && !o.n_sheets)
        st = mast_fail(MAST_ERR_FORMAT, "content.xml holds no table: not an OpenDocument "
                       "spreadsheet");
    if (o.s.full)
        mast_warn("%s: stopped after %d cells; the rest is left out", b->what, MAX_CELLS);
    mast_office_properties(b, p, "meta.xml", &st);
    row_free(&o.r);
    mast_buf_free(&o.s.line);
    mast_buf_free(&o.name);
    mast_buf_free(&o.scratch);
    mast_buf_free(&o.text);
    return st;
}
