/*
** data/ingest/doc.h — a loaded document, the loaders' common output.
**
** A loader turns a file's bytes (valid, NFC-normalized UTF-8) into a title
** and a list of blocks (paragraphs and code blocks, each with its heading
** path) that the chunker consumes. Block texts and headings point into the
** document's arena or into the loader's input, which must outlive the doc.
*/
#ifndef MAST_DATA_INGEST_DOC_H
#define MAST_DATA_INGEST_DOC_H

#include <stdbool.h>

#include "base/arena.h"
#include "base/buf.h"
#include "data/chunk.h"

typedef struct mast_doc {
    const char *title;
    const char *lang, *description, *url;   /* what the source says of itself, or NULL */
    const char *author;                      /* or NULL */
    const char *to, *cc, *date, *message_id; /* an e-mail's, or NULL */
    int pages;                               /* a paged source's page count, else 0 */
    mast_block *blocks;
    size_t n_blocks, cap_blocks;
    mast_arena arena;
} mast_doc;

void mast_doc_init(mast_doc *doc);
void mast_doc_free(mast_doc *doc);
mast_status mast_doc_add_block(mast_doc *doc, mast_block_kind kind, const char *text, size_t len,
                               const char *heading);

/* Appends from's blocks to doc, their texts and headings copied into doc's arena. */
mast_status mast_doc_append(mast_doc *doc, const mast_doc *from);

/* Sets the page of the block just added (1-based; 0 = none). */
static inline void mast_doc_set_page(mast_doc *doc, int page)
{
    if (doc->n_blocks)
        doc->blocks[doc->n_blocks - 1].page = page;
}

/* A heading path being built: the heading text per level (1–6). */
#define MAST_HEADING_LEVELS 6
typedef struct mast_headings {
    const char *levels[MAST_HEADING_LEVELS];
    const char *path;              /* "A > B", in the doc's arena; NULL before any */
} mast_headings;
/* Sets the heading at level (clamped to 1–6), copying text[0..len) into the
** document's arena; deeper levels are cut and the path rebuilt. */
mast_status mast_headings_set(mast_doc *doc, mast_headings *h, int level, const char *text,
                              size_t len);

/* Plain text: paragraphs separated by blank lines; title = `fallback_title`. */
mast_status mast_load_text(mast_doc *doc, const char *text, size_t len, const char *fallback_title);

/* Markdown: ATX and setext headings build the heading path, fenced code
** blocks (``` or ~~~) are kept whole, YAML front matter is skipped; title =
** the first level-1 heading, else `fallback_title`. */
mast_status mast_load_markdown(mast_doc *doc, const char *text, size_t len,
                               const char *fallback_title);

/* HTML or XHTML (data/ingest/html.c): the main content without the page's
** furniture, headings → heading path, <pre> verbatim, tables a line per
** row; title = <title>, else the first <h1>, else `fallback_title`; lang,
** description and url from <html lang>, the meta description and the
** canonical link. */
mast_status mast_load_html(mast_doc *doc, const char *text, size_t len, const char *fallback_title);

/* A man page (roff, man or mdoc macros; data/ingest/man.c): sections and
** subsections → heading path, .TP/.IP items, .nf/.EX blocks verbatim,
** escapes and special characters decoded; title = the NAME line
** ("ls - list directory contents"), else .TH's name(section). */
mast_status mast_load_man(mast_doc *doc, const char *text, size_t len, const char *fallback_title);
/* PDF (data/ingest/pdf.c): the text layer read by the mast-pdf program in a
** child process under these limits; headings (by font size and weight) →
** heading path, every block with its page, running headers, footers and
** page numbers dropped; title = the document's Title, else its first
** level-1 heading; author and page count as metadata. A PDF the reader
** cannot finish within the limits is an error naming the limit. */
#define MAST_PDF_SECONDS 60
#define MAST_PDF_MEMORY ((size_t)2 << 30)
typedef struct mast_pdf_limits {
    int cpu_seconds, wall_seconds;
    size_t memory_bytes;
} mast_pdf_limits;
bool mast_is_pdf(const char *data, size_t len);   /* "%PDF-" in its first 1 KB */
mast_status mast_load_pdf(mast_doc *doc, const char *what, const char *data, size_t len,
                          const mast_pdf_limits *limits, const char *fallback_title);
/* The second half of it: the reader's output (JSON Lines) into doc. */
mast_status mast_pdf_read_output(mast_doc *doc, const char *what, const char *out, size_t len,
                                 const mast_pdf_limits *limits, const char *fallback_title);

/* CSV/TSV (data/ingest/csv.c, RFC 4180). Rows of fields in the parse's
** arena; rows[0] is the header. A quote that never closes is an error
** naming the line it opened on. */
typedef struct mast_csv_row {
    const char **fields;
    size_t n;
    size_t line;               /* where the record starts, 1-based */
} mast_csv_row;
typedef struct mast_csv {
    mast_csv_row *rows;
    size_t n_rows;
    mast_arena arena;
} mast_csv;
mast_status mast_csv_parse(const char *text, size_t len, char delim, mast_csv *csv);
void mast_csv_free(mast_csv *csv);
/* The index of the header's column `name`, or -1. */
int mast_csv_column(const mast_csv *csv, const char *name);
/* Row r as text: "column: value; ..." over `columns` (NULL: all), empty cells left out. */
mast_status mast_csv_row_text(const mast_csv *csv, size_t r, const int *columns, size_t n_columns,
                              mast_buf *out);
/* The file as one table: a block per row, each cell named by its column. */
mast_status mast_load_csv(mast_doc *doc, const char *text, size_t len, char delim,
                          const char *fallback_title);

/* E-mail (data/ingest/email.c): one RFC 5322/MIME message. Subject → title,
** From → author, To/Cc/Date/Message-ID as metadata; the text part (plain
** preferred, else HTML's main content); each attachment handed to `attach`
** (may be NULL) with its file name and decoded bytes. */
typedef mast_status (*mast_email_attachment_fn)(void *ctx, const char *name, const char *data,
                                                size_t len);
mast_status mast_load_email(mast_doc *doc, const char *text, size_t len,
                            const char *fallback_title, mast_email_attachment_fn attach,
                            void *ctx);
/* True when text starts with message headers (From: and Date:, Subject: or
** Message-ID:), after an mbox "From " line if there is one. */
bool mast_looks_like_email(const char *text, size_t len);
/* An mbox: where the message after the one at pos starts (len at the end). */
size_t mast_mbox_next(const char *text, size_t len, size_t pos);
/* A message of an mbox with its mboxrd quoting undone: a line ">From ",
** ">>From "... loses one ">" (written into out). */
mast_status mast_mbox_unquote(const char *text, size_t len, mast_buf *out);

/* True when text looks like roff source (.TH/.Dd/.SH within its first lines). */
bool mast_looks_like_roff(const char *text, size_t len);

#endif
