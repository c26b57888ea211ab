/*
** bench/ingest/bench_html.c — HTML main-content extraction alone, in process:
** the bytes decoded to NFC UTF-8 and loaded as a document (data/ingest/html.c),
** for each file given, best of 3 passes. Prints "pages N seconds S" for
** bench/ingest/html_main.py.
**   build/bench/bench_html FILE...
*/
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/mmap.h"
#include "base/status.h"
#include "data/ingest/doc.h"
#include "data/ingest/ingest_impl.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("usage: bench_html FILE...\n", stderr);
        return 2;
    }
    mast_log_set_level(MAST_LOG_ERROR);
    int n = argc - 1;
    char **data = calloc((size_t)n, sizeof *data);
    size_t *len = calloc((size_t)n, sizeof *len);
    for (int i = 0; i < n; i++)
        if (mast_read_file(argv[i + 1], (size_t)1 << 28, &data[i], &len[i]) != MAST_OK) {
            fprintf(stderr, "bench_html: %s\n", mast_errmsg());
            return 1;
        }
    double best = 1e30;
    size_t blocks = 0;
    for (int pass = 0; pass < 3; pass++) {
        int64_t t0 = mast_mono_us();
        blocks = 0;
        for (int i = 0; i < n; i++) {
            char *text;
            size_t text_len;
            if (mast_decode_text(argv[i + 1], data[i], len[i], true, &text, &text_len, NULL) !=
                MAST_OK)
                return 1;
            mast_doc doc;
            mast_doc_init(&doc);
            if (mast_load_html(&doc, text, text_len, "page") != MAST_OK)
                return 1;
            blocks += doc.n_blocks;
            mast_doc_free(&doc);
            free(text);
        }
        double s = (double)(mast_mono_us() - t0) / 1e6;
        best = s < best ? s : best;
    }
    printf("pages %d seconds %.6f blocks %zu\n", n, best, blocks);
    for (int i = 0; i < n; i++)
        free(data[i]);
    free(data);
    free(len);
    return 0;
}
