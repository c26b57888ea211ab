/*
** data/ingest/csv.c — CSV and TSV (RFC 4180): fields separated by commas
** (tabs for TSV), quoted with double quotes ("" is a quote inside), records
** ended by CRLF or LF, quoted fields spanning lines. The first record names
** the columns. A file is one table (a block per row, each cell named by its
** column: "Name: Ada; Year: 1843"), or, with an id column, a document per
** row (ingest.c). See doc.h.
*/
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/status.h"
#include "data/ingest/doc.h"

void mast_csv_free(mast_csv *csv)
{
    for (size_t i = 0; i < csv->n_rows; i++)
        free(csv->rows[i].fields);
    free(csv->rows);
    mast_arena_free(&csv->arena);
    memset(csv, 0, sizeof *csv);
}

/* One field from s[*pos): unquoted up to the delimiter or the line's end,
** or quoted with "" as a quote; *last is set when the record ends after it. */
static mast_status field(mast_csv *csv, const char *s, size_t len, size_t *pos, char delim,
                         size_t *line, mast_buf *scratch, const char **out, int *last)
{
    size_t i = *pos;
    mast_buf_clear(scratch);
    if (i < len && s[i] == '"') {
        size_t opened = *line;
        i++;
        for (;;) {
            if (i >= len)
                return mast_fail(MAST_ERR_FORMAT, "line %zu: a quoted field never closes "
                                 "(an unbalanced quote)", opened);
            if (s[i] == '"') {
                if (i + 1 < len && s[i + 1] == '"') {
                    MAST_TRY(mast_buf_putc(scratch, '"'));
                    i += 2;
                    continue;
                }
                i++;
                break;
            }
            *line += s[i] == '\n';
            MAST_TRY(mast_buf_putc(scratch, s[i]));
            i++;
        }
        /* after the closing quote: the delimiter, the line's end, or junk kept as text */
        while (i < len && s[i] != delim && s[i] != '\n' && s[i] != '\r')
            MAST_TRY(mast_buf_putc(scratch, s[i++]));
    } else {
        size_t start = i;
        while (i < len && s[i] != delim && s[i] != '\n' && s[i] != '\r')
            i++;
        MAST_TRY(mast_buf_append(scratch, s + start, i - start));
    }
    *last = i >= len || s[i] != delim;
    if (i < len && s[i] == delim)
        i++;
    else {
        if (i < len && s[i] == '\r')
            i++;
        if (i < len && s[i] == '\n')
            i++;
        (*line)++;
    }
    *pos = i;
    *out = mast_arena_strndup(&csv->arena, scratch->data ? scratch->data : "", scratch->len);
    return *out ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
}

mast_status mast_csv_parse(const char *text, size_t len, char delim, mast_csv *csv)
{
    memset(csv, 0, sizeof *csv);
    mast_arena_init(&csv->arena, 0);
    mast_buf scratch = {0};
    size_t pos = 0, line = 1, cap = 0;
    mast_status st = MAST_OK;
    while (pos < len && st == MAST_OK) {
        size_t row_line = line;
        /* a blank line is no record */
        if (text[pos] == '\n' || (text[pos] == '\r' && pos + 1 < len && text[pos + 1] == '\n')) {
            pos += text[pos] == '\r' ? 2 : 1;
            line++;
            continue;
        }
        mast_csv_row row = {NULL, 0, row_line};
        size_t fcap = 0;
        int last = 0;
        while (!last && st == MAST_OK) {
            const char *f;
            st = field(csv, text, len, &pos, delim, &line, &scratch, &f, &last);
            if (st == MAST_OK && !mast_grow_array((void **)&row.fields, &fcap, row.n + 1,
                                                  sizeof *row.fields))
                st = mast_fail(MAST_ERR_NOMEM, "out of memory");
            if (st == MAST_OK)
                row.fields[row.n++] = f;
        }
        if (st == MAST_OK && !mast_grow_array((void **)&csv->rows, &cap, csv->n_rows + 1,
                                              sizeof *csv->rows))
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
        if (st == MAST_OK)
            csv->rows[csv->n_rows++] = row;
        else
            free(row.fields);
    }
    mast_buf_free(&scratch);
    if (st == MAST_OK && csv->n_rows == 0)
        st = mast_fail(MAST_ERR_FORMAT, "no header row");
    if (st != MAST_OK)
        mast_csv_free(csv);
    return st;
}

int mast_csv_column(const mast_csv *csv, const char *name)
{
    for (size_t i = 0; i < csv->rows[0].n; i++)
        if (strcmp(csv->rows[0].fields[i], name) == 0)
            return (int)i;
    return -1;
}

mast_status mast_csv_row_text(const mast_csv *csv, size_t r, const int *columns, size_t n_columns,
                              mast_buf *out)
{
    const mast_csv_row *header = &csv->rows[0], *row = &csv->rows[r];
    mast_buf_clear(out);
    size_t n = columns ? n_columns : header->n;
    for (size_t k = 0; k < n; k++) {
        size_t c = columns ? (size_t)columns[k] : k;
        const char *v = c < row->n ? row->fields[c] : "";
        if (!*v)
            continue;
        if (out->len)
            MAST_TRY(mast_buf_puts(out, "; "));
        const char *name = c < header->n && *header->fields[c] ? header->fields[c] : NULL;
        if (name)
            MAST_TRY(mast_buf_printf(out, "%s: %s", name, v));
        else
            MAST_TRY(mast_buf_puts(out, v));
    }
    return MAST_OK;
}

mast_status mast_load_csv(mast_doc *doc, const char *text, size_t len, char delim,
                          const char *fallback_title)
{
    mast_csv csv;
    MAST_TRY(mast_csv_parse(text, len, delim, &csv));
    mast_buf b = {0};
    mast_status st = MAST_OK;
    for (size_t r = 1; r < csv.n_rows && st == MAST_OK; r++) {
        st = mast_csv_row_text(&csv, r, NULL, 0, &b);
        if (st == MAST_OK && b.len) {
            const char *copy = mast_arena_strndup(&doc->arena, b.data, b.len);
            st = copy ? mast_doc_add_block(doc, MAST_BLOCK_PARA, copy, b.len, NULL)
                      : mast_fail(MAST_ERR_NOMEM, "out of memory");
        }
    }
    mast_buf_free(&b);
    mast_csv_free(&csv);
    doc->title = mast_arena_strdup(&doc->arena, fallback_title ? fallback_title : "");
    return st == MAST_OK && !doc->title ? mast_fail(MAST_ERR_NOMEM, "out of memory") : st;
}
