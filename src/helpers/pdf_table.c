/*
** helpers/pdf_table.c — tables in a PDF's text layer, for mast-pdf.
**
** A PDF has no tables, only text placed on a page; a table is text placed
** in columns. The text layer's lines are split into segments where a gap
** between characters is wider than a font size (mast_pdf.c), and lines on
** one baseline are taken together: a visual row. A table is a run of visual
** rows of two or more segments whose segments fall into the same columns
** (each overlaps exactly one column's horizontal extent, left to right),
** with the rows close together. A row of one segment just under a row, in
** one column, is that cell's wrapped line.
**
** What looks like a table but is not: a definition list (a term beside a
** long description that wraps) and two-column prose (two long segments on a
** baseline). So two columns are a table only when every cell is short (at
** most a quarter of the page), none wraps and there are three rows or
** more; three columns or more are a table from two rows. A justified line
** stretched until its spaces are that wide (single words, evenly apart) is
** no row. No cell may be
** wider than 45% of the page, and the two columns of a two-column page are
** looked at apart. A row with a line no table takes (monospaced, larger
** than the body, a table of contents' leaders) is in no table, so a table
** never takes part of a row and leaves the rest.
*/
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mast_pdf.h"

static void *xalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        abort();   /* mast-pdf: the parent reports a child that died */
    return p;
}

typedef struct item {
    size_t line;
    float y;
    int other;   /* a line no table takes: monospaced, a heading's size, a leader */
} item;

static const mast_pdf_line *g_lines;

static int cmp_item(const void *a, const void *b)
{
    const item *x = a, *y = b;
    int cx = g_lines[x->line].column, cy = g_lines[y->line].column;
    if (cx != cy)
        return cx - cy;
    if (x->y != y->y)
        return (x->y > y->y) - (x->y < y->y);
    return (g_lines[x->line].x0 > g_lines[y->line].x0) - (g_lines[x->line].x0 < g_lines[y->line].x0);
}

/* A visual row: its items[first, first + n), its segments sorted by x. */
typedef struct vrow {
    size_t first, n;
    int column;
    float y, size;
    mast_pdf_seg **segs;
    int n_segs;
    int other;   /* it has a line no table takes: it is in none */
} vrow;

static int cmp_seg(const void *a, const void *b)
{
    const mast_pdf_seg *x = *(mast_pdf_seg *const *)a, *y = *(mast_pdf_seg *const *)b;
    return (x->x0 > y->x0) - (x->x0 < y->x0);
}

typedef struct range {
    float x0, x1;
} range;

/* The column of the segment: the one range it overlaps, or -1. */
static int column_of(const range *cols, int n_cols, const mast_pdf_seg *s)
{
    int hit = -1;
    for (int c = 0; c < n_cols; c++)
        if (s->x0 < cols[c].x1 && s->x1 > cols[c].x0) {
            if (hit >= 0)
                return -1;   /* across two columns */
            hit = c;
        }
    return hit;
}

/* A justified line stretched so far that every space is wider than the
** font size: single words, evenly apart. Not a table's row. */
static int justified(const vrow *r)
{
    if (r->n_segs < 3)
        return 0;
    float lo = INFINITY, hi = 0;
    for (int k = 0; k < r->n_segs; k++) {
        if (strchr(r->segs[k]->text, ' '))
            return 0;
        if (k) {
            float gap = r->segs[k]->x0 - r->segs[k - 1]->x1;
            lo = fminf(lo, gap);
            hi = fmaxf(hi, gap);
        }
    }
    return hi < lo * 1.3f;
}

/* Maps row r's segments to columns (strictly left to right) into out; 0 when
** one does not fit. */
static int fits(const vrow *r, const range *cols, int n_cols, float wide, int *out)
{
    int last = -1;
    for (int k = 0; k < r->n_segs; k++) {
        const mast_pdf_seg *s = r->segs[k];
        int c = s->x1 - s->x0 > wide ? -1 : column_of(cols, n_cols, s);
        if (c <= last)
            return 0;
        out[k] = last = c;
    }
    return 1;
}

void mast_pdf_find_tables(mast_pdf_line *lines, size_t from, size_t to, float page_width,
                          float body, int *n_tables)
{
    g_lines = lines;
    item *items = xalloc((to - from) * sizeof *items);
    size_t n = 0;
    for (size_t i = from; i < to; i++) {
        const mast_pdf_line *l = &lines[i];
        if (l->drop || !l->n_segs)
            continue;
        int other = l->mono || l->size > body * 1.3f || strstr(l->text, ". . .") ||
                    strstr(l->text, "....");
        items[n++] = (item){i, (l->y0 + l->y1) / 2, other};
    }
    if (n > 5000) {   /* no page of a document has so many lines: no tables (and no n^2) */
        free(items);
        return;
    }
    qsort(items, n, sizeof *items, cmp_item);
    /* visual rows: lines of one column on one baseline */
    vrow *rows = xalloc(n * sizeof *rows);
    size_t n_rows = 0;
    for (size_t i = 0; i < n;) {
        const mast_pdf_line *l = &lines[items[i].line];
        size_t j = i + 1;
        while (j < n && lines[items[j].line].column == l->column &&
               fabsf(items[j].y - items[i].y) < 0.5f * l->size)
            j++;
        vrow *r = &rows[n_rows++];
        *r = (vrow){i, j - i, l->column, items[i].y, l->size, NULL, 0, 0};
        for (size_t k = i; k < j; k++) {
            r->n_segs += lines[items[k].line].n_segs;
            r->other |= items[k].other;
        }
        r->segs = xalloc((size_t)r->n_segs * sizeof *r->segs);
        int m = 0;
        for (size_t k = i; k < j; k++)
            for (int s = 0; s < lines[items[k].line].n_segs; s++)
                r->segs[m++] = &lines[items[k].line].segs[s];
        qsort(r->segs, (size_t)m, sizeof *r->segs, cmp_seg);
        i = j;
    }
    float wide = page_width * 0.45f, narrow = page_width * 0.25f;
    int *map = xalloc(64 * sizeof *map);
    int map_cap = 64;
    for (size_t i = 0; i < n_rows;) {
        vrow *start = &rows[i];
        int n_cols = start->n_segs;
        if (n_cols < 2 || n_cols > 64 || start->other || justified(start)) {
            i++;
            continue;
        }
        range *cols = xalloc((size_t)n_cols * sizeof *cols);
        int ok = 1, all_short = 1;
        for (int c = 0; c < n_cols; c++) {
            start->segs[c]->col = c;
            cols[c] = (range){start->segs[c]->x0, start->segs[c]->x1};
            ok &= cols[c].x1 - cols[c].x0 <= wide && (c == 0 || cols[c].x0 > cols[c - 1].x1);
            all_short &= cols[c].x1 - cols[c].x0 <= narrow;
        }
        /* rows i..j-1 are the table's; row_of[k] its table row, -1 not in it */
        size_t j = i + 1;
        int table_rows = 1, wrapped = 0;
        float last_y = start->y;
        while (ok && j < n_rows && rows[j].column == start->column) {
            vrow *r = &rows[j];
            float dy = r->y - last_y;
            if (r->n_segs > map_cap || r->other)
                break;
            if (r->n_segs >= 2) {
                if (dy > 2.6f * r->size || justified(r) || !fits(r, cols, n_cols, wide, map))
                    break;
                table_rows++;
            } else {
                if (dy > 1.7f * r->size || !fits(r, cols, n_cols, wide, map))
                    break;
                wrapped = 1;
            }
            /* the columns grown by the row's cells must stay apart */
            range grown[64];
            memcpy(grown, cols, (size_t)n_cols * sizeof *cols);
            for (int k = 0; k < r->n_segs; k++) {
                range *c = &grown[map[k]];
                c->x0 = fminf(c->x0, r->segs[k]->x0);
                c->x1 = fmaxf(c->x1, r->segs[k]->x1);
            }
            int apart = 1;
            for (int c = 1; c < n_cols; c++)
                apart &= grown[c].x0 > grown[c - 1].x1;
            if (!apart)
                break;
            memcpy(cols, grown, (size_t)n_cols * sizeof *cols);
            for (int k = 0; k < r->n_segs; k++) {
                all_short &= r->segs[k]->x1 - r->segs[k]->x0 <= narrow;
                r->segs[k]->col = map[k];   /* kept if the run is a table */
            }
            last_y = r->y;
            j++;
        }
        int table = ok && table_rows >= 2 &&
                    (n_cols >= 3 || (table_rows >= 3 && !wrapped && all_short));
        if (table) {
            int t = ++*n_tables, row = -1;
            for (size_t k = i; k < j; k++) {
                vrow *r = &rows[k];
                row += r->n_segs >= 2;
                for (size_t m = r->first; m < r->first + r->n; m++) {
                    lines[items[m].line].table = t;
                    lines[items[m].line].row = row;
                }
            }
        }
        free(cols);
        i = table ? j : i + 1;
    }
    for (size_t i = 0; i < n_rows; i++)
        free(rows[i].segs);
    free(rows);
    free(items);
    free(map);
}

/* ---- the table as text ---- */

typedef struct text {
    char *s;
    size_t n, cap;
} text;

static void put(text *t, const char *s)
{
    size_t n = strlen(s);
    if (t->n + n + 1 > t->cap) {
        t->cap = (t->n + n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        if (!t->s)
            abort();
    }
    memcpy(t->s + t->n, s, n + 1);
    t->n += n;
}

static int has_digit(const char *s)
{
    for (; s && *s; s++)
        if (isdigit((unsigned char)*s))
            return 1;
    return 0;
}

static int is_number(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s) && !strchr(" .,%+-$", *s))
            return 0;
    return 1;
}

char *mast_pdf_table_text(const mast_pdf_line *lines, size_t from, size_t to, int t)
{
    g_lines = lines;
    item *items = xalloc((to - from) * sizeof *items);
    size_t n = 0;
    int n_rows = 0, n_cols = 0;
    for (size_t i = from; i < to; i++)
        if (lines[i].table == t) {
            items[n++] = (item){i, (lines[i].y0 + lines[i].y1) / 2, 0};
            n_rows = lines[i].row + 1 > n_rows ? lines[i].row + 1 : n_rows;
            for (int s = 0; s < lines[i].n_segs; s++)
                n_cols = lines[i].segs[s].col + 1 > n_cols ? lines[i].segs[s].col + 1 : n_cols;
        }
    qsort(items, n, sizeof *items, cmp_item);   /* top to bottom, left to right */
    text *cells = xalloc((size_t)n_rows * (size_t)n_cols * sizeof *cells);
    int *bold = xalloc((size_t)n_rows * sizeof *bold), *plain = xalloc((size_t)n_rows * sizeof *plain);
    for (size_t k = 0; k < n; k++) {
        const mast_pdf_line *l = &lines[items[k].line];
        (l->bold ? bold : plain)[l->row]++;
        for (int s = 0; s < l->n_segs; s++) {
            if (l->segs[s].col < 0 || l->row < 0)
                continue;
            text *c = &cells[l->row * n_cols + l->segs[s].col];
            if (c->n)
                put(c, " ");
            put(c, l->segs[s].text);
        }
    }
    /* a header: a first row of words (no digits, no empty cell), bold over
    ** rows that are not, or over a column of numbers */
    int words = n_rows >= 2, numeric_column = 0;
    for (int c = 0; c < n_cols; c++)
        words &= cells[c].n > 0 && !has_digit(cells[c].s);
    int header = words && bold[0] && !plain[0] && plain[1];
    if (!header && words) {
        for (int c = 0; c < n_cols; c++) {
            int all = 1;
            for (int r = 1; r < n_rows; r++)
                all &= is_number(cells[r * n_cols + c].s);
            numeric_column |= all;
        }
        header = words && numeric_column;
    }
    text out = {0};
    put(&out, "");
    for (int r = header; r < n_rows; r++) {
        if (out.n)
            put(&out, "\n");
        int first = 1;
        for (int c = 0; c < n_cols; c++) {
            const text *cell = &cells[r * n_cols + c];
            if (!cell->n)
                continue;
            if (!first)
                put(&out, "; ");
            first = 0;
            if (header && cells[c].n) {
                put(&out, cells[c].s);
                put(&out, ": ");
            }
            put(&out, cell->s);
        }
    }
    for (int i = 0; i < n_rows * n_cols; i++)
        free(cells[i].s);
    free(cells);
    free(bold);
    free(plain);
    free(items);
    return out.s;
}
