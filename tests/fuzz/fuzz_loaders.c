/*
** tests/fuzz/fuzz_loaders.c — the in-process readers of issue 17's formats
** on arbitrary bytes; the first byte picks one:
**   0  the man page reader (data/ingest/man.c)
**   1  the reading of mast-pdf's output (a child's output is untrusted too)
**   2  archive walking with its budget (zip, tar, 7z through libarchive)
**   3  decompression and the character-set detection of decode.c, then the
**      quality statistics, language guess and MinHash of the text
**   4  the CSV parser and its rows as text (data/ingest/csv.c)
**   5  DOCX, ODT, EPUB, PPTX, XLSX and ODS as zips (data/ingest/office.c,
**      sheet.c; the next byte picks one)
**   6  e-mail (data/ingest/email.c): MIME parts, encodings, attachments
**   7  the spreadsheet readers on the XML itself, past the zip: the bytes as
**      an XLSX worksheet, shared strings and styles beside a fixed workbook,
**      and as an ODS content.xml
** Each must end with a document or an error, within its limits.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/dedup.h"
#include "data/ingest/doc.h"
#include "data/quality.h"
#include "data/textindex/analyzer.h"
#include "data/ingest/ingest_impl.h"
#include "data/ingest/office_xml.h"

static mast_status visit(void *ctx, const char *name, const char *data, size_t len)
{
    (void)name;
    (void)data;
    *(size_t *)ctx += len;
    return MAST_OK;
}

static void sheet_xml(mast_doc *doc, const char *in, size_t n)
{
    static char book[] = "<workbook xmlns:r=\"r\"><workbookPr date1904=\"1\"/><sheets>"
                         "<sheet name=\"S\" r:id=\"rId1\"/><sheet name=\"T\" r:id=\"rId1\"/>"
                         "</sheets></workbook>";
    static char rels[] = "<Relationships><Relationship Id=\"rId1\" Target=\"s.xml\"/>"
                         "<Relationship Id=\"rId2\" Type=\"x/sharedStrings\" Target=\"s.xml\"/>"
                         "<Relationship Id=\"rId3\" Type=\"x/styles\" Target=\"/xl/s.xml\"/>"
                         "</Relationships>";
    char *copy = malloc(n + 1);
    if (!copy)
        return;
    memcpy(copy, in, n);
    copy[n] = '\0';
    mast_part items[] = {{"xl/workbook.xml", book, sizeof book - 1},
                         {"xl/_rels/workbook.xml.rels", rels, sizeof rels - 1},
                         {"xl/s.xml", copy, n},
                         {"content.xml", copy, n}};
    mast_parts parts = {items, 4, 4};
    mast_office_builder b = {.doc = doc, .what = "fuzz"};
    mast_load_xlsx(&b, &parts);
    mast_load_ods(&b, &parts);
    mast_buf_free(&b.text);
    mast_buf_free(&b.scratch);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    mast_doc doc;
    mast_doc_init(&doc);
    char *out = NULL;
    size_t out_len = 0;
    switch (data[0] % 8) {
    case 0:
        mast_load_man(&doc, in, n, "fuzz");
        break;
    case 1:
        mast_pdf_read_output(&doc, "fuzz.pdf", in, n, NULL, "fuzz");
        break;
    case 2: {
        size_t total = 0;
        mast_archive_budget b = {.packed = n, .max_bytes = 1 << 24, .max_entry_bytes = 1 << 22,
                                 .max_entries = 1000};
        if (mast_is_archive(in, n))
            mast_archive_walk("fuzz", in, n, &b, visit, &total);
        break;
    }
    case 4: {
        mast_csv csv;
        if (mast_csv_parse(in, n, n && in[0] == '\t' ? '\t' : ',', &csv) == MAST_OK) {
            mast_buf b = {0};
            for (size_t r = 1; r < csv.n_rows; r++)
                mast_csv_row_text(&csv, r, NULL, 0, &b);
            mast_buf_free(&b);
            mast_csv_free(&csv);
        }
        mast_load_csv(&doc, in, n, ',', "fuzz");
        break;
    }
    case 5: {
        static const char *const kinds[] = {"docx", "odt", "epub", "pptx", "xlsx", "ods"};
        mast_archive_budget b = {.packed = n, .max_bytes = 1 << 24, .max_entry_bytes = 1 << 22,
                                 .max_entries = 1000};
        if (n > 1)
            mast_load_office(&doc, kinds[(unsigned char)in[0] % 6], in + 1, n - 1, &b, "fuzz");
        break;
    }
    case 6: {
        size_t total = 0;
        mast_load_email(&doc, in, n, "fuzz", visit, &total);
        mast_looks_like_email(in, n);
        for (size_t pos = 0; pos < n;)
            pos = mast_mbox_next(in, n, pos);
        mast_buf msg = {0};
        mast_mbox_unquote(in, n, &msg);
        mast_buf_free(&msg);
        break;
    }
    case 7:
        sheet_xml(&doc, in, n);
        break;
    case 3:
        if (mast_compression_of(in, n) && mast_decompress("fuzz", in, n, 1 << 22, &out, &out_len) == MAST_OK) {
            free(out);
            out = NULL;
        }
        if (mast_decode_text("fuzz", in, n, true, &out, &out_len, NULL) == MAST_OK) {
            /* what runs over every stored text: quality statistics, the language
            ** guess, the MinHash signature; and over the raw bytes too */
            mast_quality_doc q = {0};
            mast_quality_text(out, out_len, &q);
            mast_guess_language(out, out_len);
            mast_minhash m;
            mast_minhash_begin(&m);
            mast_minhash_add(&m, out, out_len);
            mast_minhash_add(&m, in, n);
            mast_minhash_end(&m);
        }
        break;
    }
    free(out);
    mast_doc_free(&doc);
    return 0;
}
