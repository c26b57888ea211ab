/*
** helpers/mast_pdf.h — what mast-pdf's files share: its lines of text
** (mast_pdf.c reads them from MuPDF) and the table finder (pdf_table.c).
** mast-pdf is a program of its own; nothing here is in libmast.
*/
#ifndef MAST_HELPERS_PDF_H
#define MAST_HELPERS_PDF_H

#include <stddef.h>

/* A run of a line's characters with no wide gap in it: a table's cell, or
** the whole line. */
typedef struct mast_pdf_seg {
    float x0, x1;
    char *text;               /* UTF-8, trimmed */
    int col;                  /* its column when its line is in a table */
} mast_pdf_seg;

typedef struct mast_pdf_line {
    int page, block;          /* the page (1-based) and the block's order on it */
    int column;               /* 0, or 1/2 for the left/right column of a two-column page */
    float x0, y0, x1, y1;
    float size;               /* the largest character size */
    int bold, mono;           /* most characters bold / monospaced */
    int drop;                 /* a running header or footer, a page number */
    int table, row;           /* table > 0: its number, and the row the line is in */
    char *text;               /* UTF-8 */
    mast_pdf_seg *segs;       /* at least one */
    int n_segs;
} mast_pdf_line;

/* Finds the tables among lines[from, to) (one page's): rows of two or more
** cells whose cells fall in the same columns (three columns or more; or two
** of short cells, unwrapped, in three rows or more), a cell's wrapped lines
** included. Marks their lines (table numbers from *n_tables + 1 on). */
void mast_pdf_find_tables(mast_pdf_line *lines, size_t from, size_t to, float page_width,
                          float body, int *n_tables);

/* Table t's text: a line per row, cells named by the header row's when the
** first row looks like one ("Part: bolt; Count: 12"), else joined by "; ".
** The caller frees it. */
char *mast_pdf_table_text(const mast_pdf_line *lines, size_t from, size_t to, int t);

#endif
