/*
** helpers/mast_pdf.c — `mast-pdf`: a PDF's text layer as structured blocks,
** in a process of its own.
**
** mast never links a PDF parser into its address space: it runs this
** program with CPU, memory and wall-clock limits (data/ingest/pdf.c), gives
** it the PDF on standard input and reads JSON Lines from its standard
** output:
**
**   {"p": 3, "k": "h", "l": 1, "t": "2 Definitions"}   a heading (level l)
**   {"p": 3, "k": "p", "t": "These definitions..."}     a paragraph
**   {"p": 4, "k": "c", "t": "ls -l\ncd /tmp"}           verbatim (monospaced)
**   {"p": 5, "k": "t", "t": "Part: bolt; Count: 12\n..."} a table, a line per row
**   {"end": true, "pages": 196, "title": "...", "author": "...", "no_text": [12, 13]}
**
** The last line is written only when the whole document was read: a parent
** that does not see it knows the child died. What it does with the text
** layer (MuPDF's structured text):
**  - reading order: MuPDF's blocks, re-ordered column by column on pages
**    laid out in two columns (full-width blocks separate the runs);
**  - headings: lines larger than the body text (the most common size,
**    weighted by characters), their sizes ranked into levels; short bold
**    lines at the body size are the lowest level;
**  - running headers and footers: lines near the top or bottom edge whose
**    text (digits aside) recurs on many pages, and bare page numbers there,
**    are dropped;
**  - lines are joined into paragraphs, words hyphenated at a line's end
**    re-joined, monospaced runs kept line by line as code;
**  - tables: text placed in columns (pdf_table.c), a line per row, cells
**    named by a header row;
**  - pages without any text (scanned) are listed in "no_text".
**
** Usage: mast-pdf < file.pdf   (exit 0 after the end line; 1 on an error,
** reported as {"error": "..."}).
*/
#include <ctype.h>
#include <math.h>
#include <mupdf/fitz.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mast_pdf.h"

typedef mast_pdf_line line;

typedef struct page_info {
    float width, height;
    int n_chars, n_images;
} page_info;

static line *lines;
static size_t n_lines, cap_lines;
static page_info *pages;

static void die(const char *msg)
{
    printf("{\"error\": \"");
    for (const char *p = msg; *p; p++)
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if ((unsigned char)*p >= 0x20)
            putchar(*p);
    printf("\"}\n");
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p)
        die("out of memory");
    return p;
}

/* ---- JSON output ---- */

/* The length of the valid UTF-8 sequence at p, or 0. */
static int utf8_len(const unsigned char *p)
{
    int n = p[0] < 0x80 ? 1 : p[0] >= 0xC2 && p[0] < 0xE0 ? 2 : p[0] >= 0xE0 && p[0] < 0xF0 ? 3
          : p[0] >= 0xF0 && p[0] < 0xF5 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((n == 3 && p[0] == 0xE0 && p[1] < 0xA0) || (n == 3 && p[0] == 0xED && p[1] >= 0xA0) ||
        (n == 4 && p[0] == 0xF0 && p[1] < 0x90) || (n == 4 && p[0] == 0xF4 && p[1] >= 0x90))
        return 0;
    return n;
}

/* A JSON string; invalid UTF-8 (in metadata) becomes U+FFFD. */
static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = utf8_len(p);
        if (n == 0) {
            fputs("\\ufffd", stdout);
            p++;
        } else if (n > 1) {
            fwrite(p, 1, (size_t)n, stdout);
            p += n;
        } else {
            if (*p == '"' || *p == '\\')
                printf("\\%c", *p);
            else if (*p == '\n')
                fputs("\\n", stdout);
            else if (*p < 0x20)
                printf("\\u%04x", *p);
            else
                putchar(*p);
            p++;
        }
    }
    putchar('"');
}

/* ---- reading the text layer ---- */

static int utf8_put(char *out, int c)
{
    if (c < 0 || c > 0x10FFFF || (c >= 0xD800 && c < 0xE000))
        c = 0xFFFD;
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | c >> 6);
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | c >> 12);
        out[1] = (char)(0x80 | (c >> 6 & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | c >> 18);
    out[1] = (char)(0x80 | (c >> 12 & 0x3F));
    out[2] = (char)(0x80 | (c >> 6 & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Ends the segment being read (a blank one is dropped). */
static void end_seg(mast_pdf_seg **segs, int *n, int *cap, char *text, size_t *len, float x0,
                    float x1)
{
    while (*len && text[*len - 1] == ' ')
        (*len)--;
    text[*len] = '\0';
    size_t lead = strspn(text, " ");
    if (lead < *len) {
        if (*n == *cap)
            *segs = xrealloc(*segs, (size_t)(*cap = *cap ? *cap * 2 : 4) * sizeof **segs);
        char *copy = xrealloc(NULL, *len - lead + 1);
        memcpy(copy, text + lead, *len - lead + 1);
        (*segs)[(*n)++] = (mast_pdf_seg){x0, x1, copy, 0};
    }
    *len = 0;
}

/* A line of MuPDF's, with its segments: where the gap between two characters
** is wider than the font size, a new one starts (a table's next cell). */
static void read_line(fz_context *ctx, fz_stext_line *ln, int page, int block, int column)
{
    size_t n = 0, cap = 64, chars = 0, bold = 0, mono = 0, seg_len = 0;
    char *text = xrealloc(NULL, cap), *seg = xrealloc(NULL, cap);
    float size = 0, seg_x0 = 0, seg_x1 = 0;
    mast_pdf_seg *segs = NULL;
    int n_segs = 0, cap_segs = 0;
    for (fz_stext_char *ch = ln->first_char; ch; ch = ch->next) {
        if (n + 5 > cap) {
            cap *= 2;
            text = xrealloc(text, cap);
            seg = xrealloc(seg, cap);
        }
        if (ch->c == 0 || (ch->c < 0x20 && ch->c != '\t'))
            continue;
        int c = ch->c == '\t' ? ' ' : ch->c;
        float x0 = fminf(ch->quad.ll.x, ch->quad.ul.x), x1 = fmaxf(ch->quad.lr.x, ch->quad.ur.x);
        if (c != ' ') {
            if (seg_len && x0 - seg_x1 > ch->size)
                end_seg(&segs, &n_segs, &cap_segs, seg, &seg_len, seg_x0, seg_x1);
            if (!seg_len)
                seg_x0 = x0;
            seg_x1 = x1;
        }
        n += (size_t)utf8_put(text + n, c);
        seg_len += (size_t)utf8_put(seg + seg_len, c);
        if (c == ' ')
            continue;
        chars++;
        size = ch->size > size ? ch->size : size;
        if (ch->font) {
            bold += fz_font_is_bold(ctx, ch->font) ||
                    strstr(fz_font_name(ctx, ch->font), "Bold") != NULL;
            mono += fz_font_is_monospaced(ctx, ch->font) ||
                    strstr(fz_font_name(ctx, ch->font), "Mono") != NULL ||
                    strstr(fz_font_name(ctx, ch->font), "Courier") != NULL ||
                    strstr(fz_font_name(ctx, ch->font), "CMTT") != NULL;
        }
    }
    end_seg(&segs, &n_segs, &cap_segs, seg, &seg_len, seg_x0, seg_x1);
    free(seg);
    /* trim */
    while (n && text[n - 1] == ' ')
        n--;
    text[n] = '\0';
    size_t lead = 0;
    while (text[lead] == ' ')
        lead++;
    if (lead)
        memmove(text, text + lead, n - lead + 1);
    if (!chars) {
        free(text);
        for (int i = 0; i < n_segs; i++)
            free(segs[i].text);
        free(segs);
        return;
    }
    pages[page - 1].n_chars += (int)chars;
    if (n_lines == cap_lines)
        lines = xrealloc(lines, (cap_lines = cap_lines ? cap_lines * 2 : 1024) * sizeof *lines);
    lines[n_lines++] = (line){page, block, column, ln->bbox.x0, ln->bbox.y0, ln->bbox.x1,
                              ln->bbox.y1, size, bold * 2 > chars, mono * 2 > chars, 0, 0, 0,
                              text, segs, n_segs};
}

/* A page's blocks in reading order: MuPDF's, unless the page is laid out
** in two columns, when each run of blocks between full-width ones is read
** left column first. */
typedef struct blk {
    fz_stext_block *b;
    int column;               /* 0 full width, 1 left, 2 right */
} blk;

static int cmp_y(const void *a, const void *b)
{
    float ya = ((const blk *)a)->b->bbox.y0, yb = ((const blk *)b)->b->bbox.y0;
    return (ya > yb) - (ya < yb);
}

static void read_page(fz_context *ctx, fz_stext_page *sp, int page, float width)
{
    size_t n = 0, cap = 0, left = 0, right = 0;
    blk *bs = NULL;
    float mid = width / 2;
    for (fz_stext_block *b = sp->first_block; b; b = b->next) {
        if (b->type == FZ_STEXT_BLOCK_IMAGE) {
            pages[page - 1].n_images++;
            continue;
        }
        if (n == cap)
            bs = xrealloc(bs, (cap = cap ? cap * 2 : 64) * sizeof *bs);
        int column = 0;
        if (b->bbox.x1 <= mid + width * 0.02f && b->bbox.x1 - b->bbox.x0 < width * 0.48f)
            column = 1;
        else if (b->bbox.x0 >= mid - width * 0.02f)
            column = 2;
        left += column == 1;
        right += column == 2;
        bs[n++] = (blk){b, column};
    }
    if (left >= 2 && right >= 2) {   /* two columns */
        qsort(bs, n, sizeof *bs, cmp_y);
        blk *out = xrealloc(NULL, (n ? n : 1) * sizeof *out);
        size_t k = 0, start = 0;
        for (size_t i = 0; i <= n; i++) {
            if (i < n && bs[i].column != 0)
                continue;
            for (int col = 1; col <= 2; col++)
                for (size_t j = start; j < i; j++)
                    if (bs[j].column == col)
                        out[k++] = bs[j];
            if (i < n)
                out[k++] = bs[i];
            start = i + 1;
        }
        free(bs);
        bs = out;
    }
    int two = left >= 2 && right >= 2;
    for (size_t i = 0; i < n; i++)
        for (fz_stext_line *ln = bs[i].b->u.t.first_line; ln; ln = ln->next)
            read_line(ctx, ln, page, (int)i, two ? bs[i].column : 0);
    free(bs);
}

/* ---- the document's typography ---- */

static int is_page_number(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 12)
        return 0;
    int digits = 1, roman = 1;
    for (const char *p = s; *p; p++) {
        digits &= isdigit((unsigned char)*p) != 0;
        roman &= strchr("ivxlcdm", tolower((unsigned char)*p)) != NULL;
    }
    return digits || (roman && n <= 6);
}

/* The text with digits folded, to recognise "Page 3" and "Page 4" as one. */
static char *fold_digits(const char *s)
{
    char *k = strdup(s);
    if (!k)
        die("out of memory");
    for (char *p = k; *p; p++)
        if (isdigit((unsigned char)*p))
            *p = '#';
    return k;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Marks running headers and footers and page numbers near the edges. */
static void drop_furniture(int n_pages)
{
    size_t n_edge = 0;
    char **keys = xrealloc(NULL, (n_lines ? n_lines : 1) * sizeof *keys);
    for (size_t i = 0; i < n_lines; i++) {
        line *l = &lines[i];
        page_info *p = &pages[l->page - 1];
        int edge = l->y1 < p->height * 0.09f || l->y0 > p->height * 0.91f;
        if (!edge)
            continue;
        if (is_page_number(l->text)) {
            l->drop = 1;
            continue;
        }
        keys[n_edge++] = fold_digits(l->text);
    }
    qsort(keys, n_edge, sizeof *keys, cmp_str);
    /* on three pages or more: chapters' running heads change with the chapter */
    int min_pages = n_pages < 3 ? 1 << 30 : 3;
    for (size_t i = 0; i < n_lines; i++) {
        line *l = &lines[i];
        page_info *p = &pages[l->page - 1];
        if (l->drop || !(l->y1 < p->height * 0.09f || l->y0 > p->height * 0.91f))
            continue;
        char *k = fold_digits(l->text);
        char **hit = bsearch(&k, keys, n_edge, sizeof *keys, cmp_str);
        if (hit) {
            size_t lo = (size_t)(hit - keys), hi = lo;
            while (lo > 0 && strcmp(keys[lo - 1], k) == 0)
                lo--;
            while (hi + 1 < n_edge && strcmp(keys[hi + 1], k) == 0)
                hi++;
            l->drop = (int)(hi - lo + 1) >= min_pages;
        }
        free(k);
    }
    for (size_t i = 0; i < n_edge; i++)
        free(keys[i]);
    free(keys);
}

/* The body size: the size (to half a point) most characters have. */
static float body_size(void)
{
    double weight[512] = {0};
    for (size_t i = 0; i < n_lines; i++) {
        int k = (int)lrintf(lines[i].size * 2);
        if (k > 0 && k < 512 && !lines[i].drop)
            weight[k] += (double)strlen(lines[i].text);
    }
    int best = 20;
    for (int k = 1; k < 512; k++)
        if (weight[k] > weight[best])
            best = k;
    return (float)best / 2;
}

/* ---- output ---- */

static float heading_sizes[8];
static int n_heading_sizes;

/* A table of contents' entry: dot leaders ("Quoting . . . . 6"). */
static int has_leaders(const char *s)
{
    return strstr(s, ". . .") || strstr(s, "....") || strstr(s, "\xe2\x80\xa6\xe2\x80\xa6");
}

static int has_letter(const char *s)
{
    for (; *s; s++)
        if (isalpha((unsigned char)*s) || (unsigned char)*s >= 0x80)
            return 1;
    return 0;
}

static int level_of(const line *l, float body)
{
    if (strlen(l->text) > 160 || l->mono || has_leaders(l->text) || !has_letter(l->text))
        return 0;
    if (l->size >= body * 1.12f) {
        for (int i = 0; i < n_heading_sizes; i++)
            if (fabsf(heading_sizes[i] - l->size) < 0.25f)
                return i + 1;
        return n_heading_sizes ? n_heading_sizes : 1;
    }
    if (l->bold && fabsf(l->size - body) < 0.5f && strlen(l->text) < 80 &&
        !strchr(".,;:", l->text[strlen(l->text) - 1]))
        return n_heading_sizes + 1;
    return 0;
}

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* The distinct heading sizes, largest first (at most 5, each used by at
** least one short line). */
static void rank_heading_sizes(float body)
{
    float seen[64];
    int n = 0;
    for (size_t i = 0; i < n_lines && n < 64; i++) {
        const line *l = &lines[i];
        if (l->drop || l->size < body * 1.12f || strlen(l->text) > 160 || l->mono ||
            has_leaders(l->text))
            continue;
        int dup = 0;
        for (int k = 0; k < n && !dup; k++)
            dup = fabsf(seen[k] - l->size) < 0.25f;
        if (!dup)
            seen[n++] = l->size;
    }
    qsort(seen, (size_t)n, sizeof *seen, cmp_desc);
    n_heading_sizes = n < 5 ? n : 5;
    memcpy(heading_sizes, seen, (size_t)n_heading_sizes * sizeof *seen);
}

static char *para;
static size_t para_len, para_cap;
static int para_page, para_kind;   /* 'p' or 'c' */

static void para_put(const char *s, size_t n)
{
    if (para_len + n + 2 > para_cap)
        para = xrealloc(para, para_cap = (para_len + n + 2) * 2);
    memcpy(para + para_len, s, n);
    para_len += n;
    para[para_len] = '\0';
}

static void flush(void)
{
    if (para_len) {
        printf("{\"p\": %d, \"k\": \"%c\", \"t\": ", para_page, para_kind);
        json_str(para);
        printf("}\n");
    }
    para_len = 0;
}

/* A word cut in two at the end of a paragraph that must end there (its
** block, kind or page changes): the part before the hyphen, carried over to
** the next paragraph. */
static char carry[256];
static size_t carry_len;

/* Ends the paragraph before line l; when it ends in a letter and a hyphen and
** l starts in a lower-case letter, its last word goes on with l instead. */
static void flush_before(const line *l)
{
    carry_len = 0;
    if (para_len >= 2 && para[para_len - 1] == '-' && isalpha((unsigned char)para[para_len - 2]) &&
        islower((unsigned char)l->text[0])) {
        size_t start = para_len - 1;
        while (start > 0 && para[start - 1] != ' ' && para[start - 1] != '\n')
            start--;
        size_t n = para_len - 1 - start;
        if (n < sizeof carry) {
            memcpy(carry, para + start, n);
            carry_len = n;
            para_len = start;
            while (para_len && (para[para_len - 1] == ' ' || para[para_len - 1] == '\n'))
                para_len--;
            para[para_len] = '\0';
        }
    }
    flush();
}

/* Appends a line to the paragraph: a hyphen at the end of the previous line
** before a lower-case letter is a word cut in two; code keeps its lines. */
static void join_line(const line *l, int kind)
{
    if (para_len && (kind != para_kind || l->page != para_page))
        flush_before(l);
    para_kind = kind;
    para_page = l->page;
    if (carry_len) {   /* the first part of this line's first word */
        para_put(carry, carry_len);
        carry_len = 0;
        para_put(l->text, strlen(l->text));
        return;
    }
    if (para_len) {
        if (kind == 'c')
            para_put("\n", 1);
        else if (para_len >= 2 && para[para_len - 1] == '-' &&
                 isalpha((unsigned char)para[para_len - 2]) && islower((unsigned char)l->text[0]))
            para[--para_len] = '\0';
        else
            para_put(" ", 1);
    }
    para_put(l->text, strlen(l->text));
}

/* Opens the document (its errors are fatal). */
static fz_document *open_pdf(fz_context *ctx, unsigned char *data, size_t len, int *n_pages,
                             char *title, char *author, size_t meta_cap)
{
    fz_document *doc = NULL;
    fz_var(doc);
    fz_try(ctx)
    {
        fz_register_document_handlers(ctx);
        fz_buffer *buf = fz_new_buffer_from_shared_data(ctx, data, len);
        fz_stream *stm = fz_open_buffer(ctx, buf);
        doc = fz_open_document_with_stream(ctx, "application/pdf", stm);
        if (fz_needs_password(ctx, doc))
            fz_throw(ctx, FZ_ERROR_GENERIC, "the PDF is encrypted with a password");
        *n_pages = fz_count_pages(ctx, doc);
        fz_lookup_metadata(ctx, doc, FZ_META_INFO_TITLE, title, (int)meta_cap);
        fz_lookup_metadata(ctx, doc, FZ_META_INFO_AUTHOR, author, (int)meta_cap);
    }
    fz_catch(ctx)
    {
        die(fz_caught_message(ctx));
    }
    return doc;
}

/* Reads page i (0-based); a damaged page is skipped, running out of memory is fatal. */
static void load_page(fz_context *ctx, fz_document *doc, int i)
{
    fz_page *page = NULL;
    fz_stext_page *sp = NULL;
    fz_var(page);
    fz_var(sp);
    fz_try(ctx)
    {
        page = fz_load_page(ctx, doc, i);
        fz_rect r = fz_bound_page(ctx, page);
        pages[i].width = r.x1 - r.x0;
        pages[i].height = r.y1 - r.y0;
        fz_stext_options opts = {FZ_STEXT_PRESERVE_IMAGES | FZ_STEXT_MEDIABOX_CLIP, 0};
        sp = fz_new_stext_page_from_page(ctx, page, &opts);
        read_page(ctx, sp, i + 1, pages[i].width);
    }
    fz_always(ctx)
    {
        fz_drop_stext_page(ctx, sp);
        fz_drop_page(ctx, page);
    }
    fz_catch(ctx)
    {
        if (fz_caught(ctx) == FZ_ERROR_MEMORY)
            die("out of memory");
    }
}

int main(void)
{
    /* the whole input: a PDF needs random access */
    size_t len = 0, cap = 1 << 20;
    unsigned char *data = xrealloc(NULL, cap);
    size_t got;
    while ((got = fread(data + len, 1, cap - len, stdin)) > 0)
        if ((len += got) == cap)
            data = xrealloc(data, cap *= 2);
    fz_context *ctx = fz_new_context(NULL, NULL, 64 << 20);
    if (!ctx)
        die("out of memory");
    fz_set_warning_callback(ctx, NULL, NULL);   /* MuPDF's notes are not ours to print */
    fz_set_error_callback(ctx, NULL, NULL);
    int n_pages = 0;
    char title[512] = "", author[512] = "";
    fz_document *doc = open_pdf(ctx, data, len, &n_pages, title, author, sizeof title);
    pages = xrealloc(NULL, (size_t)(n_pages > 0 ? n_pages : 1) * sizeof *pages);
    memset(pages, 0, (size_t)(n_pages > 0 ? n_pages : 1) * sizeof *pages);
    for (int i = 0; i < n_pages; i++)
        load_page(ctx, doc, i);
    drop_furniture(n_pages);
    float body = body_size();
    rank_heading_sizes(body);
    int n_tables = 0;
    for (size_t from = 0, to; from < n_lines; from = to) {
        for (to = from + 1; to < n_lines && lines[to].page == lines[from].page; to++)
            ;
        mast_pdf_find_tables(lines, from, to, pages[lines[from].page - 1].width, body, &n_tables);
    }
    char *done = xrealloc(NULL, (size_t)n_tables + 1);
    memset(done, 0, (size_t)n_tables + 1);
    size_t page_from = 0;
    for (size_t i = 0; i < n_lines; i++) {
        const line *l = &lines[i];
        if (i && l->page != lines[i - 1].page)
            page_from = i;
        if (l->drop)
            continue;
        if (l->table) {   /* the whole table where its first line is read */
            if (!done[l->table]) {
                done[l->table] = 1;
                flush();
                size_t page_to = i;
                while (page_to < n_lines && lines[page_to].page == l->page)
                    page_to++;
                char *t = mast_pdf_table_text(lines, page_from, page_to, l->table);
                printf("{\"p\": %d, \"k\": \"t\", \"t\": ", l->page);
                json_str(t);
                printf("}\n");
                free(t);
            }
            continue;
        }
        int level = level_of(l, body);
        if (level) {
            flush();
            /* a heading's continuation lines: the same level, the same block */
            para_put(l->text, strlen(l->text));
            while (i + 1 < n_lines && lines[i + 1].page == l->page &&
                   lines[i + 1].block == l->block && !lines[i + 1].drop &&
                   level_of(&lines[i + 1], body) == level) {
                l = &lines[++i];
                para_put(" ", 1);
                para_put(l->text, strlen(l->text));
            }
            printf("{\"p\": %d, \"k\": \"h\", \"l\": %d, \"t\": ", l->page, level);
            json_str(para);
            printf("}\n");
            para_len = 0;
            continue;
        }
        if (i > 0 && para_len && (lines[i - 1].block != l->block || lines[i - 1].page != l->page))
            flush_before(l);
        join_line(l, l->mono ? 'c' : 'p');
    }
    flush();
    free(done);
    printf("{\"end\": true, \"pages\": %d, \"title\": ", n_pages);
    json_str(title);
    printf(", \"author\": ");
    json_str(author);
    printf(", \"no_text\": [");
    int first = 1;
    for (int i = 0; i < n_pages; i++)
        if (pages[i].n_chars == 0) {
            printf("%s%d", first ? "" : ", ", i + 1);
            first = 0;
        }
    printf("]}\n");
    fflush(stdout);
    return ferror(stdout) ? 1 : 0;
}
